"""log_softmax, softmax and logsumexp along an axis."""
from __future__ import annotations

import math

import numpy as np

from . import _kernels
from ._threads import resolve as _resolve_threads
from ._args import normalize_axes
from . import _half
from ._arrays import F32, F64, as_float_array, compute_dtype, layout_of
from ._outputs import check_out, deliver, raise_status, strided_buffer

_LOGSUMEXP, _LOG_SOFTMAX, _SOFTMAX = 1, 2, 3   # enum fx_softmax_op


def _check_dtype(dtype):
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dt != F32 and dt != F64:
        raise ValueError(f"dtype: expected float32 or float64, got {dt}")
    return dt


def _prepare(x, axis, num_threads, dtype=None):
    a = as_float_array(x, "x", _check_dtype(dtype), keep_half=True)
    axes = normalize_axes(axis, a.ndim)
    nthreads = _resolve_threads(num_threads)
    return a, axes, nthreads


def _merged(a, axes):
    """`a` with `axes` moved to the end and merged into one last axis (a
    view where the strides allow, else one copy), and the moved shape."""
    k = len(axes)
    moved = np.moveaxis(a, axes, tuple(range(a.ndim - k, a.ndim)))
    lead = moved.shape[:a.ndim - k]
    return moved.reshape(lead + (math.prod(moved.shape[a.ndim - k:]),)), moved.shape


def _normalise(x, axis, out, num_threads, op, dtype):
    a, axes, nthreads = _prepare(x, axis, num_threads, dtype)
    dt = compute_dtype(a.dtype)
    half_out = None
    if dt is not a.dtype:   # a half out= of the input's dtype gets the result rounded once
        out, half_out = _half.check_half_out(out, a.dtype, "out")
        if half_out is not None:
            check_out(half_out, a.shape, half_out.dtype, name="out", aligned=False)
    if out is not None:   # a misaligned out is filled through a temporary
        check_out(out, a.shape, dt, name="out", aligned=False)
    if len(axes) != 1:    # None, a tuple or 0-d: one merged class axis
        merged, moved_shape = _merged(a, axes)
        res = _along(merged, merged.ndim - 1, None, nthreads, op)
        k = len(axes)
        res = np.moveaxis(res.reshape(moved_shape), tuple(range(a.ndim - k, a.ndim)), axes)
    else:
        res = _along(a, axes[0], out, nthreads, op)
    if half_out is not None:
        return _half.round_into(half_out, res)
    return deliver(res, out)


def _along(a, ax, out, nthreads, op):
    buf, olay = strided_buffer(out, a, ax, compute_dtype(a.dtype))
    if np.may_share_memory(buf, a) and not (
            buf.__array_interface__["data"][0] == a.__array_interface__["data"][0]
            and buf.strides == a.strides):
        a = a.copy()  # partial overlap: read from a copy (exact aliasing is fine)
    a, lay = layout_of(a, ax)
    if a.dtype is not buf.dtype and (lay.s_class != 1 or olay.s_class != 1):
        a, lay = layout_of(_half.widen(a), ax)   # unit class strides only, as _xent
    if a.size:
        status = _kernels.softmax(a, lay.shape, lay.strides, None, buf, olay.strides, op,
                                  nthreads)
        if status[0]:
            raise_status(status, ())
    return deliver(buf, out)


def log_softmax(x, axis=-1, *, out=None, dtype=None, num_threads=None):
    """Logarithm of the softmax along `axis`: ``x - logsumexp(x)``.

    Parameters
    ----------
    x : array_like, float16/float32/float64 (float16 computed in float32)
    axis : int, tuple of ints or None, default -1
        The axes normalised together (None: the whole array; a 0-d `x` has
        one implicit axis). The default is torch's; SciPy's is None.
    out : ndarray, optional
        Receives the result (shape of `x`, compute dtype; for half `x` also
        its own half dtype, rounded once) and is returned; ``out=x`` works in
        place.
    dtype : float32 or float64, optional
        `x` is cast to it and the result computed and returned in it (as
        torch's ``dtype=``; float16 is not accepted).
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
    return _normalise(x, axis, out, num_threads, _LOG_SOFTMAX, dtype)


def softmax(x, axis=-1, *, out=None, dtype=None, num_threads=None):
    """Softmax along `axis`, ``exp(x - logsumexp(x))``.

    Parameters
    ----------
    x : array_like, float16/float32/float64 (float16 computed in float32)
    axis : int, tuple of ints or None, default -1
        The axes normalised together (None: the whole array; a 0-d `x` has
        one implicit axis). The default is torch's; SciPy's is None.
    out : ndarray, optional
        Receives the result and is returned; ``out=x`` works in place.
    dtype : float32 or float64, optional
        `x` is cast to it and the result computed and returned in it (as
        torch's ``dtype=``; float16 is not accepted).
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
    return _normalise(x, axis, out, num_threads, _SOFTMAX, dtype)


def _lse_kernel(a, axes, nthreads):
    """logsumexp of float32/64 `a` over `axes`: the other axes remain."""
    a, _ = _merged(a, axes)
    ax = a.ndim - 1
    a, lay = layout_of(a, ax)
    res = np.empty(a.shape[:ax], dtype=compute_dtype(a.dtype))
    if res.dtype is not a.dtype and lay.s_class != 1:
        a, lay = layout_of(_half.widen(a), ax)   # unit class strides only, as _xent
    if lay.C == 0:
        res.fill(-np.inf)       # the sum of no exps is 0
    elif res.size:
        status = _kernels.softmax(a, lay.shape, lay.strides, res, None, (0, 0, 0), _LOGSUMEXP,
                                  nthreads)
        if status[0]:
            raise_status(status, ())
    return res


def _lse_weighted(a, b, axes, nthreads):
    """(log|s|, sign(s)) for s = sum(b * exp(a)) over `axes`, through the
    kernel: logsumexp of a + log|b| over the positive and the negative
    weights, then log|exp(p) - exp(n)| = max + log1p(-exp(-|p - n|))."""
    bb = as_float_array(b, "b")
    if a.dtype.itemsize == 2:
        a = _half.widen(a)
    try:
        a, bb = np.broadcast_arrays(a, bb)
    except ValueError:
        raise ValueError(f"b: expected a shape that broadcasts with x's {a.shape}, "
                         f"got {bb.shape}") from None
    dt = np.result_type(a.dtype, bb.dtype)
    a = a.astype(dt, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_b = np.log(np.abs(bb)).astype(dt, copy=False)
        pos = _lse_kernel(np.where(bb > 0, a + log_b, -np.inf).astype(dt), axes, nthreads)
        if not (bb < 0).any():
            sign = np.where(np.isnan(pos), np.nan, np.where(pos == -np.inf, 0.0, 1.0))
            return pos, sign.astype(dt)
        neg = _lse_kernel(np.where(bb < 0, a + log_b, -np.inf).astype(dt), axes, nthreads)
        hi = np.maximum(pos, neg)
        gap = np.where(hi == -np.inf, np.inf, np.abs(pos - neg))
        res = hi + np.log1p(-np.exp(-gap))
        res = np.where(np.isnan(pos) | np.isnan(neg), np.nan, res)
        sign = np.sign(pos - neg)
        sign = np.where(hi == -np.inf, 0.0, np.where(pos == neg, 0.0, sign))
        sign = np.where(np.isnan(res), np.nan, sign)
    return res.astype(dt, copy=False), sign.astype(dt, copy=False)


def logsumexp(x, axis=-1, b=None, keepdims=False, return_sign=False, *, num_threads=None):
    """``log(sum(b * exp(x)))`` over `axis` without overflow, reading each row
    once (blocked online maximum; no exp(x) is stored).

    Parameters
    ----------
    x : array_like, float16/float32/float64 (float16 computed in float32)
    axis : int, tuple of ints or None, default -1
        The axes summed over; None sums the whole array. The default is
        torch's (the last axis); SciPy's ``logsumexp`` defaults to None.
        A 0-d `x` has one implicit axis of length 1 (-1, 0, None or ()).
    b : array_like, optional
        Weights broadcast against `x`, as in ``scipy.special.logsumexp``
        (zero weights drop their terms, negative ones subtract). Computed
        through the kernel as the logsumexp of ``x + log|b|`` over the
        positive and the negative weights (an ``x``-sized temporary each);
        the result dtype is that of ``x`` and ``b`` promoted.
    keepdims : bool, default False
        Keep the summed axes with length 1.
    return_sign : bool, default False
        Also return the sign of the sum (1, -1, 0 for an empty or zero sum,
        NaN for NaN); without it, a negative sum gives NaN (as SciPy).
    num_threads : int, optional

    Returns
    -------
    numpy scalar or ndarray, or a pair of them with `return_sign`
        `axis` removed (unless `keepdims`); a NumPy scalar when nothing remains.

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
    a, axes, nthreads = _prepare(x, axis, num_threads)
    if b is None:
        res = _lse_kernel(a, axes, nthreads)
        sign = None
        if return_sign:
            sign = np.where(np.isnan(res), np.nan, np.where(res == -np.inf, 0.0, 1.0))
            sign = sign.astype(res.dtype)
    else:
        res, sign = _lse_weighted(a, b, axes, nthreads)
        if not return_sign:
            res = np.where(sign < 0, np.nan, res).astype(res.dtype)
    if keepdims:
        kept = tuple(1 if i in axes else n for i, n in enumerate(a.shape))
        res = res.reshape(kept)
        sign = None if sign is None else sign.reshape(kept)
    res = res[()] if res.ndim == 0 else res
    if not return_sign:
        return res
    return res, (sign[()] if sign.ndim == 0 else sign)
