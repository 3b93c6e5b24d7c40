"""What every function of fastxent.dask shares: the class axis made whole,
per-row arrays aligned with the logits' row chunks, the tree of merges, and
the threads a task's kernels use.
"""
from __future__ import annotations

import re
import string
import threading
import warnings
from contextlib import contextmanager

import dask
import dask.array as da
import numpy as np
from dask.array.core import PerformanceWarning
from dask.base import tokenize

from .. import _exact
from .._args import check_int, normalize_axis
from .._threads import get_num_threads

# Rechunking the class axis to one chunk copies the whole array between
# tasks (and workers): above this many bytes the user is warned.
RECHUNK_WARN_BYTES = 1 << 26
DEFAULT_SPLIT_EVERY = 8

_lock = threading.Lock()
_running = 0


def _thread_budget() -> int:
    """The threads this process gives to fastxent tasks: a distributed
    worker's thread count (threads_per_worker), else get_num_threads()."""
    try:
        from distributed import get_worker
        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return get_num_threads()


@contextmanager
def task_threads(num_threads):
    """The kernel threads of one task: `num_threads` if given, else the
    budget divided among the fastxent tasks running in this process when
    this one starts (1 each once every worker thread runs one), so a worker
    never runs more kernel threads than it has threads."""
    global _running
    if num_threads is not None:
        yield num_threads
        return
    with _lock:
        _running += 1
        share = max(1, _thread_budget() // _running)
    try:
        yield share
    finally:
        with _lock:
            _running -= 1


_KERNEL_DTYPES: dict = {}


def kernel_dtype(dtype: np.dtype) -> np.dtype:
    """The dtype the kernels compute and return for inputs of `dtype`
    (asked of the in-memory code, so new input dtypes pass straight through)."""
    if dtype not in _KERNEL_DTYPES:
        from .._softmax import log_softmax
        _KERNEL_DTYPES[dtype] = log_softmax(np.zeros((1, 1), dtype)).dtype
    return _KERNEL_DTYPES[dtype]


def as_dask(a, name: str):
    """`a` as a dask array (NumPy and array-likes are wrapped)."""
    if isinstance(a, da.Array):
        return a
    try:
        return da.asarray(a)
    except Exception as e:   # noqa: BLE001 - whatever the conversion raised
        raise ValueError(f"{name}: expected a dask or NumPy array, got "
                         f"{type(a).__name__} ({e})") from None


def class_axis(x, axis, name: str = "logits"):
    """(x with the class axis in one chunk, the normalised axis)."""
    if x.ndim == 0:
        raise ValueError(f"{name}: expected at least 1 dimension (the class axis), got a scalar")
    ax = normalize_axis(axis, x.ndim)
    if x.shape[ax] == 0:
        raise ValueError(f"{name}: the class axis {ax} has length 0; expected at least 1 class")
    if x.numblocks[ax] > 1:
        if x.nbytes >= RECHUNK_WARN_BYTES:
            warnings.warn(
                f"{name}: the class axis {ax} is split into {x.numblocks[ax]} chunks; "
                f"rechunking it to whole rows moves {x.nbytes / 2**20:.0f} MiB between tasks "
                f"(chunk the rows only, e.g. fastxent.dask.from_npy(path, chunks=rows))",
                PerformanceWarning, stacklevel=3)
        x = x.rechunk({ax: -1})
    return x, ax


def rows_like(a, x, ax: int, name: str, what: str = "one value per row"):
    """`a` (one value per row of x) as a dask array chunked like x's rows."""
    row_shape = x.shape[:ax] + x.shape[ax + 1:]
    row_chunks = x.chunks[:ax] + x.chunks[ax + 1:]
    if not isinstance(a, da.Array):
        a = np.asarray(a)
        if a.shape == row_shape:   # sliced straight into the row blocks
            return da.from_array(a, chunks=row_chunks)
    a = as_dask(a, name)
    if a.shape != row_shape:
        raise ValueError(f"{name}: expected {what}, the logits' shape without axis {ax}, "
                         f"{row_shape}, got {a.shape}")
    return a.rechunk(row_chunks)


def indices(ndim: int, ax=None):
    """blockwise indices of an ndim array and of its rows (ax removed)."""
    full = string.ascii_lowercase[:ndim]
    return full, (full if ax is None else full[:ax] + full[ax + 1:])


def row_starts(x, ax: int) -> list:
    """blockwise arguments giving each block of x's rows its first row (a
    tuple), one data node per block (the tasks' errors name global
    positions). The other arguments must already share x's row chunks:
    blockwise is then called with align_arrays=False."""
    row_chunks = x.chunks[:ax] + x.chunks[ax + 1:]
    starts = np.empty(tuple(len(c) for c in row_chunks), dtype=object)
    offsets = [np.cumsum((0,) + c[:-1]) for c in row_chunks]
    for idx in np.ndindex(starts.shape):
        starts[idx] = tuple(int(o[i]) for o, i in zip(offsets, idx))
    return [da.from_array(starts, chunks=1, name="fastxent-row-starts-" + tokenize(row_chunks)),
            indices(x.ndim, ax)[1]]


def globalise(e: Exception, start, block_shape, row_shape) -> Exception:
    """The error `e` of a block whose first row is `start`, its positions
    made global: "position (i, j)" / "row (i, j)" shifted by the start,
    "flat position k" re-counted over all rows."""
    def shift(m):
        local = [int(v) for v in m.group(2).split(",") if v.strip()]
        pos = tuple(v + s for v, s in zip(local, start)) if len(local) == len(start) else local
        return f"{m.group(1)} {tuple(pos)}"

    def flat(m):
        local = np.unravel_index(int(m.group(1)), block_shape)
        return "flat position " + str(int(np.ravel_multi_index(
            tuple(int(v) + s for v, s in zip(local, start)), row_shape)))

    msg = re.sub(r"(position|row) \(([\d, ]*)\)", shift, str(e))
    msg = re.sub(r"flat position (\d+)", flat, msg)
    return type(e)(msg)


def first_of(start_block) -> tuple:
    """The start tuple held by a block of row_starts()."""
    return start_block.reshape(-1)[0]


def flat_runs(start, block_shape, row_shape) -> np.ndarray:
    """(first flat row, length) of each run of rows of a block that follow
    each other in C order over all rows: one run unless a trailing row
    axis is split."""
    if 0 in block_shape:
        return np.zeros((0, 2), np.int64)
    if not block_shape:
        return np.array([[0, 1]], np.int64)
    lead = [np.arange(s, s + n) for s, n in zip(start[:-1], block_shape[:-1])]
    grid = [g.ravel() for g in np.meshgrid(*lead, indexing="ij")]
    n = grid[0].size if grid else 1
    firsts = np.ravel_multi_index(tuple(grid) + (np.full(n, start[-1]),), row_shape)
    length = block_shape[-1]
    joined = np.r_[True, firsts[1:] != firsts[:-1] + length]   # a new run starts here
    group = np.cumsum(joined) - 1
    return np.stack([firsts[joined], np.bincount(group) * length], -1).astype(np.int64)


def check_split_every(split_every) -> int:
    if split_every is None:
        return DEFAULT_SPLIT_EVERY
    k = check_int(split_every, "split_every")
    if k < 2:
        raise ValueError(f"split_every: expected an integer >= 2, got {split_every!r}")
    return k


def tree(parts: list, merge, split_every: int, name: str):
    """One Delayed: `parts` merged `split_every` at a time, level by level."""
    level = 0
    while len(parts) > 1:
        parts = [dask.delayed(merge, pure=True)(*parts[i:i + split_every],
                                               dask_key_name=f"{name}-merge-{level}-{i}")
                 for i in range(0, len(parts), split_every)]
        level += 1
    return parts[0]


def block_delayed(arr) -> list:
    """The blocks of an array as Delayed objects (its graph fused first)."""
    return list(arr.to_delayed().ravel())


def merge_sums(*accs: np.ndarray) -> np.ndarray:
    """The exact sums of several blocks added (any order gives the same bits)."""
    out = np.array(accs[0], copy=True)
    for a in accs[1:]:
        _exact.merge(out, a)
    return out
