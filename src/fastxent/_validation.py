"""Argument checks and dtype/layout normalisation shared by the public API.

Every check runs once, in Python, before any kernel; messages name the
argument, what was expected and what was given.
"""
from __future__ import annotations

import operator
from typing import Optional, Tuple

import numpy as np

try:  # NumPy >= 1.25
    from numpy.exceptions import AxisError
except ImportError:  # pragma: no cover - older NumPy
    AxisError = np.AxisError  # type: ignore[attr-defined,misc]

REDUCTIONS = ("mean", "sum", "none")
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def as_float_array(a, name: str, dtype: Optional[np.dtype] = None) -> np.ndarray:
    """Return `a` as a native-endian, aligned float32/float64 array.

    float16 becomes float32; integers and booleans become float64 (or
    `dtype` when given). The input is never modified: a conversion copies.
    """
    arr = as_array(a, name)
    if arr.dtype.kind == "O":  # e.g. Decimal or mixed Python numbers, as the reference
        none = np.flatnonzero(np.fromiter((v is None for v in arr.flat), bool, arr.size))
        if none.size:
            pos = tuple(int(i) for i in np.unravel_index(none[0], arr.shape))
            raise ValueError(f"{name}: expected a real numeric array, got None at "
                             f"position {pos}")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a real numeric array, got dtype object "
                             f"with non-numeric elements") from None
    dt = arr.dtype
    if dtype is None:
        if dt == _F32 or dt == _F64:
            target = dt
        elif dt.kind == "f" and dt.itemsize == 2:
            target = _F32
        elif dt.kind == "f" and dt.itemsize <= 4:
            target = _F32
        elif dt.kind in "fiub":
            target = _F64
        else:
            raise ValueError(f"{name}: expected a real numeric array, got dtype {dt}")
    else:
        if dt.kind not in "fiub":
            raise ValueError(f"{name}: expected a real numeric array, got dtype {dt}")
        target = dtype
    if dt != target or not arr.flags.aligned or not dt.isnative:
        arr = arr.astype(target.newbyteorder("="), copy=True)
    return arr


def as_array(a, name: str) -> np.ndarray:
    """np.asarray(a), with NumPy's complaint about ragged nested sequences
    naming the argument."""
    try:
        return np.asarray(a)
    except ValueError as exc:
        raise ValueError(f"{name}: cannot be made an array ({exc})") from None


def c_contiguous(a: np.ndarray) -> np.ndarray:
    """`a` itself if C-contiguous, else a C-ordered copy (0-d stays 0-d,
    unlike np.ascontiguousarray)."""
    return a if a.flags.c_contiguous else a.copy(order="C")


def check_reduction(reduction) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def check_fraction(value, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}") from None
    if not 0.0 <= v <= 1.0:
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return v


def normalize_axis(axis, ndim: int, name: str = "axis") -> int:
    try:
        ax = operator.index(axis)
    except TypeError:
        raise ValueError(f"{name}: expected an integer, got {axis!r}") from None
    if not -ndim <= ax < ndim:
        raise AxisError(f"{name}: {axis} is out of bounds for an array of dimension {ndim}")
    return ax % ndim


def check_int(value, name: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name}: expected an integer, got {value!r}") from None


def _merge(shape, strides) -> Optional[Tuple[int, int]]:
    """(size, stride) of dims that can be walked as one, or None."""
    size, stride = 1, 0
    for n, s in zip(reversed(shape), reversed(strides)):
        if n == 1:
            continue
        if size == 1:
            size, stride = n, s
        elif s == stride * size:
            size *= n
        else:
            return None
    return size, stride


def as_outer_class_inner(arr: np.ndarray, axis: int):
    """View `arr` as (outer, C, inner) with strides in elements, or None.

    None means the dims before or after `axis` cannot be walked with a single
    stride; the caller then copies to a contiguous array.
    """
    shp = arr.shape
    if arr.size == 0:  # nothing to walk: any strides do (NumPy's may not merge)
        return int(np.prod(shp[:axis])), shp[axis], int(np.prod(shp[axis + 1:])), 0, 0, 0
    isz = arr.itemsize
    if any(s % isz for s in arr.strides):
        return None
    st = [s // isz for s in arr.strides]
    outer = _merge(shp[:axis], st[:axis])
    inner = _merge(shp[axis + 1:], st[axis + 1:])
    if outer is None or inner is None:
        return None
    return outer[0], shp[axis], inner[0], outer[1], st[axis], inner[1]


def layout_of(arr: np.ndarray, axis: int):
    """(array, layout) where array is `arr` or a contiguous copy of it."""
    lay = as_outer_class_inner(arr, axis)
    if lay is None:
        arr = np.ascontiguousarray(arr)
        lay = as_outer_class_inner(arr, axis)
    return arr, lay


def check_grad_out(grad_out, shape, dtype, inputs, name: str = "grad_out") -> np.ndarray:
    """Check a caller-provided gradient buffer."""
    if not isinstance(grad_out, np.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(grad_out).__name__}")
    if grad_out.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {grad_out.shape}")
    if grad_out.dtype != dtype:
        raise ValueError(f"{name}: expected dtype {dtype}, got {grad_out.dtype}")
    if not grad_out.flags.writeable:
        raise ValueError(f"{name}: the array is read-only")
    for other_name, other in inputs:
        if isinstance(other, np.ndarray) and np.may_share_memory(grad_out, other):
            raise ValueError(f"{name}: overlaps the memory of {other_name}")
    return grad_out


def merged_broadcast(a, name: str, shape, dtype):
    """`a` broadcast to `shape`, viewed as (rows, last axis) with strides.

    Returns (array or None, row stride, column stride) in elements. The
    broadcast is a view (zero strides) unless its leading dims cannot be
    walked with one stride, in which case it is materialised.
    """
    if a is None:
        return None, 0, 0
    arr = as_float_array(a, name, dtype)
    try:
        b = np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(
            f"{name}: shape {arr.shape} does not broadcast to the input shape "
            f"{tuple(shape)}") from None
    if b.ndim == 0 or b.size == 0:
        return b, 0, 0
    isz = b.itemsize
    rows = _merge(b.shape[:-1], b.strides[:-1])
    if rows is None or any(s % isz for s in b.strides):
        b = np.ascontiguousarray(b)
        rows = _merge(b.shape[:-1], b.strides[:-1])
    assert rows is not None  # a C-contiguous array always merges
    col = b.strides[-1] // isz if b.shape[-1] != 1 else 0
    return b, rows[1] // isz, col
