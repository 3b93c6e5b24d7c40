"""Twins of :func:`fastxent.log_softmax`, :func:`fastxent.softmax` and
:func:`fastxent.logsumexp`."""
import numpy as np

from ._common import check_int, check_num_threads, check_out, float_input, scalar_or_array

from numpy.lib.array_utils import normalize_axis_tuple   # NumPy >= 2.0


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


def _axes(axis, ndim):
    """Sorted axes; a 0-d array has one implicit axis (axis -1, 0, None or ())."""
    if ndim == 0:
        if axis is None or axis == ():
            return ()
        if isinstance(axis, tuple) or check_int(axis, "axis") not in (-1, 0):
            normalize_axis_tuple(axis, 0, "axis")   # raises AxisError
        return ()
    if axis is None:
        return tuple(range(ndim))
    if not isinstance(axis, tuple):
        axis = (axis,)
    if not all(isinstance(a, (int, np.integer)) for a in axis):
        raise ValueError(f"axis: expected an integer, got {axis!r}")
    return tuple(sorted(normalize_axis_tuple(axis, ndim, "axis")))


def _to_last(a, axes):
    """``a`` with ``axes`` flattened into one last axis, and a function that
    undoes it for an array of that shape."""
    k = len(axes)
    ends = tuple(range(a.ndim - k, a.ndim))
    moved = np.moveaxis(a, axes, ends)
    lead = moved.shape[:a.ndim - k]
    flat = moved.reshape(lead + (int(np.prod(moved.shape[a.ndim - k:])),))
    return flat, lambda r: np.moveaxis(r.reshape(moved.shape), ends, axes)


def _result_dtype(dtype, default):
    if dtype is None:
        return default
    dt = np.dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype: expected float32 or float64, got {dt}")
    return dt


def _along_axis(x, axis, out, num_threads, func, dtype=None):
    """Apply a last-axis ``func`` over ``axis`` (int, tuple or None); honour ``out``."""
    try:
        want = None if dtype is None else np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    a, default = float_input(x, "x")
    dtype = _result_dtype(want, default)
    if want is not None:    # computed in that dtype, as torch's dtype=
        a = np.asarray(x).astype(want).astype(np.float64)
    axes = _axes(axis, a.ndim)
    check_num_threads(num_threads)
    if out is not None:
        check_out(out, a.shape, dtype, "out")
    flat, back = _to_last(a, axes)
    result = back(func(flat)).astype(dtype)
    if out is None:
        return result
    out[...] = result  # result is a fresh array: out may alias x
    return out


def log_softmax(x, axis=-1, *, out=None, dtype=None, num_threads=None):
    """Logarithm of the softmax along `axis`.

    Parameters
    ----------
    x : array_like
    axis : int, tuple of ints or None, optional
        None: the whole array (SciPy's default; this one's is -1).
    out : ndarray, optional
        Written and returned; must have ``x``'s shape and the result dtype
        (``out=x`` works in place).
    dtype : float32 or float64, optional
        ``x`` is cast to it first; the result has it.
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
    return _along_axis(x, axis, out, num_threads, log_softmax_last, dtype)


def softmax(x, axis=-1, *, out=None, dtype=None, num_threads=None):
    """Softmax along `axis`.

    Parameters
    ----------
    x : array_like
    axis : int, tuple of ints or None, optional
        None: the whole array (SciPy's default; this one's is -1).
    out : ndarray, optional
        Written and returned; must have ``x``'s shape and the result dtype
        (``out=x`` works in place).
    dtype : float32 or float64, optional
        ``x`` is cast to it first; the result has it.
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
    return _along_axis(x, axis, out, num_threads, _softmax_last, dtype)


def _weighted_last(z, w):
    """(log|s|, sign s) for s = sum(w * exp(z)) over the last axis, directly:
    shift by the largest z with a nonzero weight, sum, take the log."""
    z = np.where(w == 0, -np.inf, z)
    if z.shape[-1] == 0:
        empty = np.full(z.shape[:-1], -np.inf)
        return empty, np.zeros_like(empty)
    m = np.max(z, axis=-1, keepdims=True)
    shift = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        s = np.sum(w * np.exp(z - shift), axis=-1)
        return np.log(np.abs(s)) + shift[..., 0], np.sign(s)


def logsumexp(x, axis=-1, b=None, keepdims=False, return_sign=False, *, num_threads=None):
    """``log(sum(b * exp(x)))`` over `axis`, without overflow.

    Parameters
    ----------
    x : array_like
    axis : int, tuple of ints or None, optional
        None: the whole array (SciPy's default; this one's is -1).
    b : array_like, optional
        Weights broadcast against `x` (as scipy.special.logsumexp).
    keepdims : bool, optional
    return_sign : bool, optional
        Also return the sign of the sum (0 for a zero or empty sum); without
        it a negative sum gives NaN.
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

    Returns
    -------
    scalar or ndarray, or a pair of them
        `axis` removed unless `keepdims`; a NumPy scalar when nothing remains.

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
    axes = _axes(axis, a.ndim)
    check_num_threads(num_threads)
    if b is None:
        res = logsumexp_last(_to_last(a, axes)[0])
        with np.errstate(invalid="ignore"):
            sign = np.where(np.isnan(res), np.nan, (res > -np.inf).astype(np.float64))
    else:
        w, wdt = float_input(b, "b")
        try:
            a, w = np.broadcast_arrays(a, w)
        except ValueError:
            raise ValueError(f"b: expected a shape that broadcasts with x's {a.shape}, "
                             f"got {w.shape}") from None
        dtype = np.result_type(dtype, wdt)
        res, sign = _weighted_last(_to_last(a, axes)[0], _to_last(w, axes)[0])
        if not return_sign:
            res = np.where(sign < 0, np.nan, res)
    if keepdims:
        kept = tuple(1 if i in axes else n for i, n in enumerate(a.shape))
        res, sign = res.reshape(kept), sign.reshape(kept)
    if return_sign:
        return scalar_or_array(res, dtype), scalar_or_array(sign, dtype)
    return scalar_or_array(res, dtype)
