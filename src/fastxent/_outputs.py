"""Outputs shared by the public functions (the last part of the call
skeleton): check or allocate out= / grad_out=, a temporary when the caller's
strides do not fit a kernel, delivery into the caller's buffer, the
finishing of a reduction, and the one translation of a C status into the
positioned error.
"""
from __future__ import annotations

import numpy as np

from ._arrays import as_outer_class_inner

# enum fx_code (csrc/fx_api.h)
OK, NO_MEMORY, BAD_LABEL, OUT_OF_RANGE, NEGATIVE, NONFINITE = 0, 1, 2, 3, 4, 5


def check_out(out, shape, dtype, inputs=(), name="grad_out", aligned=True) -> np.ndarray:
    """Check a caller-provided output buffer: an ndarray of `shape` and
    `dtype`, writeable, aligned (unless `aligned` is false: a misaligned one
    is then filled through a temporary) and not overlapping `inputs`
    ((name, array) pairs)."""
    if not isinstance(out, np.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {out.shape}")
    if out.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {dtype}, got {out.dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name}: the array is read-only")
    if aligned and not out.flags.aligned:
        raise ValueError(f"{name}: the array is not aligned")
    for other_name, other in inputs:
        if isinstance(other, np.ndarray) and np.may_share_memory(out, other):
            raise ValueError(f"{name}: overlaps the memory of {other_name}")
    return out


def strided_buffer(out, like: np.ndarray, axis: int, dtype=None):
    """(buffer, Layout) for an (outer, C, inner) output: `out` itself (or a
    new array in `like`'s memory order, of `dtype`, default like's) when a
    kernel can walk it, else a C-ordered temporary that deliver() copies
    back."""
    dtype = like.dtype if dtype is None else dtype
    buf = out if out is not None else np.empty_like(like, dtype=dtype)
    lay = as_outer_class_inner(buf, axis) if buf.flags.aligned else None
    if lay is None:
        buf = np.empty(like.shape, dtype=dtype)
        lay = as_outer_class_inner(buf, axis)
    return buf, lay


def contiguous_buffer(out, like: np.ndarray, dtype=None) -> np.ndarray:
    """`out` if C-contiguous and aligned, else a C-ordered array of
    `like`'s shape (and of `dtype`, default like's)."""
    if out is not None and out.flags.c_contiguous and out.flags.aligned:
        return out
    return np.empty(like.shape, dtype=like.dtype if dtype is None else dtype)


def deliver(buf: np.ndarray, out):
    """The result in the caller's buffer `out` (copied from a temporary)."""
    if out is not None and buf is not out:
        np.copyto(out, buf)
        return out
    return buf


def finish(reduction: str, total: float, denom: float, loss_out, dtype: np.dtype):
    """The loss of a reduction: the per-row array for "none", else a scalar
    of the compute dtype (a mean over nothing is NaN)."""
    if reduction == "none":
        return loss_out
    if reduction == "sum":
        return dtype.type(total)
    return dtype.type(total / denom) if denom != 0 else dtype.type("nan")


def _position(index: int, shape) -> tuple:
    return tuple(int(i) for i in np.unravel_index(index, shape)) if len(shape) else ()


def raise_status(status, inputs, *, axis=None, C=None, ignore_index=None) -> None:
    """Raise the error a C status (code, arg, index) stands for, naming the
    argument inputs[arg] (a (name, array) pair), the bad value and its
    position. OK raises nothing."""
    code, arg, index = status
    if code == OK:
        return
    if code == NO_MEMORY:
        raise MemoryError("fastxent: could not allocate the per-block results")
    if code == BAD_LABEL:
        name, t = inputs[arg]
        raise IndexError(
            f"{name}: class index {t.reshape(-1)[index]} at position "
            f"{_position(index, t.shape)} is outside [0, {C}) and is not ignore_index "
            f"({ignore_index})")
    if code == OUT_OF_RANGE:
        name, a = inputs[arg]
        raise ValueError(
            f"{name}: expected values in [0, 1], got {a.reshape(-1)[index]} at index "
            f"{_position(index, a.shape)}")
    if code == NEGATIVE:
        _raise_negative(inputs, axis, index)
    if code == NONFINITE:
        name, a = inputs[arg]
        raise ValueError(
            f"{name}: row {_position(index, a.shape[:axis] + a.shape[axis + 1:])} has NaN or "
            f"+inf logits (or every logit is -inf) and nonfinite='raise'")
    raise AssertionError(f"fastxent: unknown kernel status {status}")  # pragma: no cover


def _raise_negative(inputs, ax, row):
    """Name the first negative value of row `row` (flat index over the other axes)."""
    for name, a in inputs:
        moved = np.moveaxis(a, ax, -1)
        r = moved.reshape(-1, moved.shape[-1])[row] if moved.size else moved
        neg = np.flatnonzero(r < 0)
        if neg.size:
            rest = ([int(i) for i in np.unravel_index(row, moved.shape[:-1])]
                    if moved.ndim > 1 else [])
            pos = list(rest)
            pos.insert(ax, int(neg[0]))
            raise ValueError(
                f"{name}: expected non-negative values, got {r[neg[0]]} at index {tuple(pos)}")
