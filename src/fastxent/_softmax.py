"""log_softmax, softmax and logsumexp along an axis."""
from __future__ import annotations

import numpy as np

from . import _kernels
from ._threads import resolve as _resolve_threads
from ._args import normalize_axis
from ._arrays import as_float_array, layout_of
from ._outputs import check_out, deliver, raise_status, strided_buffer

_LOGSUMEXP, _LOG_SOFTMAX, _SOFTMAX = 1, 2, 3   # enum fx_softmax_op


def _prepare(x, axis, num_threads):
    a = as_float_array(x, "x")
    ax = normalize_axis(axis, a.ndim)
    nthreads = _resolve_threads(num_threads)
    return a, ax, nthreads


def _normalise(x, axis, out, num_threads, op):
    a, ax, nthreads = _prepare(x, axis, num_threads)
    if out is not None:   # a misaligned out is filled through a temporary
        check_out(out, a.shape, a.dtype, name="out", aligned=False)
    buf, olay = strided_buffer(out, a, ax)
    if np.may_share_memory(buf, a) and not (
            buf.__array_interface__["data"][0] == a.__array_interface__["data"][0]
            and buf.strides == a.strides):
        a = a.copy()  # partial overlap: read from a copy (exact aliasing is fine)
    a, lay = layout_of(a, ax)
    if a.size:
        status = _kernels.softmax(a, lay.shape, lay.strides, None, buf, olay.strides, op,
                                  nthreads)
        if status[0]:
            raise_status(status, ())
    return deliver(buf, out)


def log_softmax(x, axis=-1, *, out=None, num_threads=None):
    """Logarithm of the softmax along `axis`: ``x - logsumexp(x)``.

    Parameters
    ----------
    x : array_like, float16/float32/float64 (float16 computed in float32)
    axis : int, default -1
    out : ndarray, optional
        Receives the result (shape of `x`, compute dtype) and is returned;
        ``out=x`` works in place.
    num_threads : int, optional

    Returns
    -------
    ndarray

    Notes
    -----
    A slice that contains NaN or +inf, or is all -inf, is NaN throughout
    (as PyTorch; SciPy gives ``[nan, -inf]`` for ``[inf, 0]``).

    Examples
    --------
    >>> import fastxent
    >>> fastxent.log_softmax([0.0, 0.0])
    array([-0.69314718, -0.69314718])
    """
    return _normalise(x, axis, out, num_threads, _LOG_SOFTMAX)


def softmax(x, axis=-1, *, out=None, num_threads=None):
    """Softmax along `axis`, ``exp(x - logsumexp(x))``.

    Parameters
    ----------
    x : array_like, float16/float32/float64 (float16 computed in float32)
    axis : int, default -1
    out : ndarray, optional
        Receives the result and is returned; ``out=x`` works in place.
    num_threads : int, optional

    Returns
    -------
    ndarray

    Notes
    -----
    A slice that contains NaN or +inf, or is all -inf, is NaN throughout
    (as PyTorch and SciPy).

    Examples
    --------
    >>> import fastxent
    >>> fastxent.softmax([0.0, 0.0])
    array([0.5, 0.5])
    """
    return _normalise(x, axis, out, num_threads, _SOFTMAX)


def logsumexp(x, axis=-1, *, num_threads=None):
    """``log(sum(exp(x)))`` along `axis` without overflow, reading each row
    once (blocked online maximum; no exp(x) is stored).

    Parameters
    ----------
    x : array_like, float16/float32/float64 (float16 computed in float32)
    axis : int, default -1
    num_threads : int, optional

    Returns
    -------
    numpy scalar or ndarray
        `axis` removed; a NumPy scalar for 1-D input.

    Notes
    -----
    A NaN in a slice gives NaN, else a +inf gives +inf; an all -inf or empty
    slice gives -inf (as SciPy).

    Examples
    --------
    >>> import fastxent
    >>> float(fastxent.logsumexp([0.0, 0.0]))  # doctest: +ELLIPSIS
    0.6931...
    """
    a, ax, nthreads = _prepare(x, axis, num_threads)
    a, lay = layout_of(a, ax)
    res = np.empty(a.shape[:ax] + a.shape[ax + 1:], dtype=a.dtype)
    if lay.C == 0:
        res.fill(-np.inf)       # the sum of no exps is 0
    elif res.size:
        status = _kernels.softmax(a, lay.shape, lay.strides, res, None, (0, 0, 0), _LOGSUMEXP,
                                  nthreads)
        if status[0]:
            raise_status(status, ())
    return res[()] if res.ndim == 0 else res
