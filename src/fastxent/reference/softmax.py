"""Twins of :func:`fastxent.log_softmax`, :func:`fastxent.softmax` and
:func:`fastxent.logsumexp`."""
import numpy as np

from ._common import check_num_threads, check_out, float_input, normalize_axis, scalar_or_array


def _log_sum_shifted(z):
    """``(shift, log s)`` per last-axis row: ``logsumexp = shift + log s``.

    The maxima contribute exactly 1 each, so log(s) is taken as
    log1p((ties - 1) + sum of the other terms): log(1 + small) would round
    most of a small logsumexp away.
    """
    m = np.max(z, axis=-1, keepdims=True)
    shift = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        top = z == shift
        ties = np.sum(top, axis=-1, keepdims=True)
        small = np.sum(np.where(top, 0.0, np.exp(z - shift)), axis=-1, keepdims=True)
        return m, shift, np.log1p((ties - 1.0) + small)


def logsumexp_last(z, keepdims=False):
    """logsumexp over the last axis of a float64 array.

    NaN in a row gives NaN, any +inf gives +inf, an all -inf (or empty) row
    gives -inf.
    """
    if z.shape[-1] == 0:
        out = np.full(z.shape[:-1] + (1,), -np.inf)
        return out if keepdims else out[..., 0]
    m, shift, log_s = _log_sum_shifted(z)
    out = np.where(m == np.inf, np.inf, shift + log_s)
    out = np.where(np.isnan(z).any(axis=-1, keepdims=True), np.nan, out)
    return out if keepdims else out[..., 0]


def log_softmax_last(z):
    """log-softmax over the last axis; rows whose logsumexp is not finite are NaN.

    Computed as ``(z - m) - log(s)``, never ``z - (m + log s)``: next to a
    huge m, m + log s rounds log s away (five tied -1e30 would give 0, not
    -log 5).
    """
    if z.shape[-1] == 0:
        return z.copy()
    lse = logsumexp_last(z, keepdims=True)
    _, shift, log_s = _log_sum_shifted(z)
    with np.errstate(over="ignore", invalid="ignore"):  # -max - max is -inf: right
        return np.where(np.isfinite(lse), (z - shift) - log_s, np.nan)


def _softmax_last(z):
    with np.errstate(invalid="ignore"):
        return np.exp(log_softmax_last(z))


def _along_axis(x, axis, out, num_threads, func):
    """Apply a last-axis ``func`` along ``axis``; honour ``out``."""
    a, dtype = float_input(x, "x")
    ax = normalize_axis(axis, a.ndim)
    check_num_threads(num_threads)
    if out is not None:
        check_out(out, a.shape, dtype, "out")
    result = np.moveaxis(func(np.moveaxis(a, ax, -1)), -1, ax).astype(dtype)
    if out is None:
        return result
    out[...] = result  # result is a fresh array: out may alias x
    return out


def log_softmax(x, axis=-1, *, out=None, num_threads=None):
    """Logarithm of the softmax along `axis`.

    Parameters
    ----------
    x : array_like
    axis : int, optional
    out : ndarray, optional
        Written and returned; must have ``x``'s shape and the result dtype
        (``out=x`` works in place).
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

    Returns
    -------
    ndarray

    Notes
    -----
    A slice containing NaN or +inf, or all -inf, is NaN throughout (as
    torch; scipy.special.log_softmax gives ``[nan, -inf]`` for ``[inf, 0]``).

    Examples
    --------
    >>> log_softmax([0.0, 0.0])
    array([-0.69314718, -0.69314718])
    """
    return _along_axis(x, axis, out, num_threads, log_softmax_last)


def softmax(x, axis=-1, *, out=None, num_threads=None):
    """Softmax along `axis`.

    Parameters
    ----------
    x : array_like
    axis : int, optional
    out : ndarray, optional
        Written and returned; must have ``x``'s shape and the result dtype
        (``out=x`` works in place).
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

    Returns
    -------
    ndarray

    Notes
    -----
    A slice containing NaN or +inf, or all -inf, is NaN throughout (as torch
    and scipy.special.softmax).

    Examples
    --------
    >>> softmax([0.0, 0.0])
    array([0.5, 0.5])
    """
    return _along_axis(x, axis, out, num_threads, _softmax_last)


def logsumexp(x, axis=-1, *, num_threads=None):
    """``log(sum(exp(x)))`` along `axis`, without overflow.

    Parameters
    ----------
    x : array_like
    axis : int, optional
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

    Returns
    -------
    scalar or ndarray
        `axis` removed; a NumPy scalar for 1-D input.

    Notes
    -----
    NaN in a slice gives NaN, else any +inf gives +inf, and an all -inf or
    empty slice gives -inf (as scipy.special.logsumexp).

    Examples
    --------
    >>> logsumexp([0.0, 0.0])
    np.float64(0.693147...)
    """
    a, dtype = float_input(x, "x")
    ax = normalize_axis(axis, a.ndim)
    check_num_threads(num_threads)
    return scalar_or_array(logsumexp_last(np.moveaxis(a, ax, -1)), dtype)
