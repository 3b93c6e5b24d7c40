"""The losses and the row functions on dask arrays.

``reduction="none"`` and the row functions are lazy arrays computed block by
block with the in-memory kernels (a row's value does not depend on its
block). ``"sum"`` adds each block's per-row losses exactly (the
superaccumulator of fastxent._exact), merges the blocks' sums in a tree and
rounds once; ``"mean"`` divides that correctly rounded sum by the count (the
exact sum of the class weights of the counted rows, the number of rows for
soft targets, of elements for BCE), as in-memory ``cross_entropy`` finishes
a reduction. The result does not depend on the chunking.
"""
from __future__ import annotations

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize

from .. import _exact
from .._args import check_reduction
from .._bce import binary_cross_entropy_with_logits as _bce_np
from .._outputs import finish
from .._softmax import log_softmax as _log_softmax_np, logsumexp as _lse_np, softmax as _softmax_np
from .._xent import cross_entropy as _xent_np
from ._graph import (as_dask, block_delayed, check_split_every, class_axis, first_of,
                     globalise, indices, kernel_dtype, merge_sums, row_starts, rows_like,
                     task_threads, tree)


def _sums(losses: np.ndarray, denom_values: np.ndarray) -> np.ndarray:
    """Exact sums of a block: [sum of its losses, sum of its denominator values]."""
    acc = _exact.zeros(2)
    _exact.add(acc[0], losses)
    _exact.add(acc[1], denom_values)
    return acc


def _reduce(blocks, reduction: str, dtype: np.dtype, split_every, name: str):
    """A 0-d dask array: the blocks' exact sums merged and finished."""
    k = check_split_every(split_every)
    name = f"{name}-{tokenize(blocks.name, k, reduction)}"
    total = tree(block_delayed(blocks), merge_sums, k, name)
    value = dask.delayed(_finish_sums, pure=True)(total, reduction, dtype,
                                                  dask_key_name=name + "-finish")
    return da.from_delayed(value, shape=(), dtype=dtype, name=name + "-scalar")


def _finish_sums(acc: np.ndarray, reduction: str, dtype: np.dtype):
    total, denom = _exact.round_sums(acc)
    return finish(reduction, float(total), float(denom), None, dtype)


# ------------------------------------------------------------ cross_entropy
def _xent_block(x, t, start, *, ax, soft, weight, ignore_index, label_smoothing, sums, wdtype,
                num_threads, row_shape):
    with task_threads(num_threads) as n:
        try:
            losses = _xent_np(x, t, axis=ax, weight=weight, ignore_index=ignore_index,
                              label_smoothing=label_smoothing, reduction="none", num_threads=n)
        except IndexError as e:
            raise globalise(e, first_of(start), x.shape[:ax] + x.shape[ax + 1:],
                            row_shape) from None
    if not sums:
        return np.expand_dims(losses, ax)   # the class axis kept, of length 1
    if soft:
        denom = np.array([float(losses.size)])
    else:
        counted = t[t != ignore_index]
        denom = (np.array([float(counted.size)]) if weight is None
                 else np.asarray(weight, wdtype)[counted].astype(np.float64))
    return _sums(losses, denom)


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", num_threads=None, split_every=None):
    """:func:`fastxent.cross_entropy` on dask arrays.

    Parameters
    ----------
    logits : dask.array.Array (or array-like)
        The class axis is rechunked to one chunk if it is split.
    target : dask.array.Array or array-like
        Integer class indices of the logits' shape without `axis`, or
        floating probabilities of the logits' shape (soft targets).
    axis, weight, ignore_index, label_smoothing
        As in :func:`fastxent.cross_entropy` (`weight` a NumPy array).
    reduction : {"mean", "sum", "none"}
        "none": a lazy array of per-row losses. "sum": a 0-d dask array, the
        correctly rounded sum of those losses; "mean": that sum divided by
        the count (sum of ``weight[target]`` over counted rows; the number
        of rows for soft targets) in float64, then in the compute dtype.
        The same bits for every chunking.
    num_threads : int, optional
        Kernel threads per task (default as in :func:`fastxent.dask.evaluate`).
    split_every : int >= 2, default 8
        Block sums merged per task.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastxent.dask
    >>> x = da.from_array(np.zeros((10, 4), np.float32), chunks=(3, 4))
    >>> t = np.arange(10) % 4
    >>> float(fastxent.dask.cross_entropy(x, t).compute())   # doctest: +ELLIPSIS
    1.386...
    """
    red = check_reduction(reduction)
    x, ax = class_axis(as_dask(logits, "logits"), axis)
    tt = as_dask(target, "target")
    soft = tt.dtype.kind == "f"
    if soft:
        if tt.shape != x.shape:
            raise ValueError(f"target: class probabilities must have the logits' shape "
                             f"{x.shape}, got {tt.shape}")
        tt = tt.rechunk(x.chunks)
    elif tt.dtype.kind in "iu":
        tt = rows_like(tt, x, ax, "target", "class indices")
    else:
        raise ValueError(f"target: expected integer class indices or floating probabilities, "
                         f"got dtype {tt.dtype}")
    dt = kernel_dtype(x.dtype)
    w = None if weight is None else np.asarray(weight)
    if w is not None and w.shape != (x.shape[ax],):
        raise ValueError(f"weight: expected shape ({x.shape[ax]},) (one per class), "
                         f"got {w.shape}")
    full, rows = indices(x.ndim, ax)
    kw = dict(ax=ax, soft=soft, weight=w, ignore_index=ignore_index,
              label_smoothing=label_smoothing, wdtype=dt, num_threads=num_threads)
    probe = np.zeros((1, x.shape[ax]), x.dtype)   # the options checked now, as in memory
    _xent_np(probe, probe.astype(tt.dtype) if soft else np.zeros(1, np.int64), weight=w,
             ignore_index=ignore_index, label_smoothing=label_smoothing)
    # the output keeps the class axis (one chunk of length 1): a contraction
    # would stop Dask from fusing the loading of each block (from_npy) into it
    out = da.blockwise(_xent_block, full, x, full, tt, full if soft else rows,
                       *row_starts(x, ax), row_shape=x.shape[:ax] + x.shape[ax + 1:],
                       align_arrays=False, adjust_chunks={full[ax]: 1},
                       dtype=dt if red == "none" else object,
                       meta=np.empty((0,) * x.ndim, dt if red == "none" else object),
                       sums=red != "none", **kw)
    if red == "none":
        return da.squeeze(out, axis=ax)
    return _reduce(out, red, dt, split_every, "fastxent-xent")


# ------------------------------------------------------------ BCE
def _bce_block(x, y, w, pw, *, label_smoothing, sums, num_threads):
    with task_threads(num_threads) as n:
        losses = _bce_np(x, y, weight=w, pos_weight=pw, label_smoothing=label_smoothing,
                         reduction="none", num_threads=n)
    return _sums(losses, np.array([float(losses.size)])) if sums else losses


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None,
                                     label_smoothing=0.0, reduction="mean", num_threads=None,
                                     split_every=None):
    """:func:`fastxent.binary_cross_entropy_with_logits` on dask arrays.

    `weight` and `pos_weight` broadcast to the logits' shape (as in
    memory). "none" is a lazy array; "sum" the correctly rounded sum of the
    element losses and "mean" that sum over the number of elements, as
    0-d dask arrays, the same bits for every chunking.

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastxent.dask
    >>> x = da.zeros((6, 3), chunks=(4, 2))
    >>> float(fastxent.dask.binary_cross_entropy_with_logits(x, x).compute())  # doctest: +ELLIPSIS
    0.693...
    """
    red = check_reduction(reduction)
    x = as_dask(logits, "logits")
    y = as_dask(target, "target")
    if y.shape != x.shape:
        raise ValueError(f"target: expected the logits' shape {x.shape}, got {y.shape}")
    extra = []
    for a, name in ((weight, "weight"), (pos_weight, "pos_weight")):
        if a is None:
            extra += [None, None]
            continue
        a = as_dask(a, name)
        try:
            a = da.broadcast_to(a, x.shape)
        except ValueError:
            raise ValueError(f"{name}: expected a shape that broadcasts to {x.shape}, "
                             f"got {a.shape}") from None
        extra += [a.rechunk(x.chunks), indices(x.ndim)[0]]
    dt = kernel_dtype(x.dtype)
    full = indices(x.ndim)[0]
    _bce_np(np.zeros(1, x.dtype), np.zeros(1, x.dtype), label_smoothing=label_smoothing)
    out = da.blockwise(_bce_block, full, x, full, y.rechunk(x.chunks), full, *extra,
                       dtype=dt if red == "none" else object,
                       meta=np.empty((0,) * x.ndim, dt if red == "none" else object),
                       label_smoothing=label_smoothing, sums=red != "none",
                       num_threads=num_threads)
    return out if red == "none" else _reduce(out, red, dt, split_every, "fastxent-bce")


# ------------------------------------------------------------ row functions
def _row_block(x, *, fn, ax, num_threads, drop, **kw):
    with task_threads(num_threads) as n:
        out = fn(x, axis=ax, num_threads=n, **kw)
    return np.expand_dims(out, ax) if drop else out


def _rows(fn, x, axis, num_threads, drop: bool, name: str, **kw):
    x, ax = class_axis(as_dask(x, "x"), axis, "x")
    dt = kernel_dtype(x.dtype)
    full, _ = indices(x.ndim, ax)
    out = da.blockwise(_row_block, full, x, full, dtype=dt, meta=np.empty((0,) * x.ndim, dt),
                       adjust_chunks={full[ax]: 1} if drop else None, fn=fn, ax=ax, drop=drop,
                       num_threads=num_threads, name=f"{name}-{tokenize(x.name, ax, kw)}",
                       **kw)
    return da.squeeze(out, axis=ax) if drop else out   # kept as length 1: see cross_entropy


def log_softmax(x, axis=-1, *, num_threads=None):
    """:func:`fastxent.log_softmax` on a dask array, block by block (lazy).

    Examples
    --------
    >>> import dask.array as da, fastxent.dask
    >>> y = fastxent.dask.log_softmax(da.zeros((4, 2), chunks=2))
    >>> float(y.compute()[0, 0])  # doctest: +ELLIPSIS
    -0.693...
    """
    return _rows(_log_softmax_np, x, axis, num_threads, False, "fastxent-log_softmax")


def softmax(x, axis=-1, *, num_threads=None):
    """:func:`fastxent.softmax` on a dask array, block by block (lazy).

    Examples
    --------
    >>> import dask.array as da, fastxent.dask
    >>> float(fastxent.dask.softmax(da.zeros((4, 2), chunks=2)).compute()[0, 0])
    0.5
    """
    return _rows(_softmax_np, x, axis, num_threads, False, "fastxent-softmax")


def logsumexp(x, axis=-1, *, num_threads=None):
    """:func:`fastxent.logsumexp` over one axis of a dask array (lazy; the
    axis is made one chunk, the other axes keep theirs).

    Examples
    --------
    >>> import dask.array as da, fastxent.dask
    >>> fastxent.dask.logsumexp(da.zeros((4, 2), chunks=2)).compute().shape
    (4,)
    """
    return _rows(_lse_np, x, axis, num_threads, True, "fastxent-logsumexp")
