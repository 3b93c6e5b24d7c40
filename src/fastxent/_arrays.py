"""Array views shared by the public functions: dtype and shape
normalisation, (outer, C, inner) views with strides in elements, and the
copies made when strides do not fit a single walk.
"""
from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import numpy as np

from . import _half

# NumPy's dtype singletons, compared with `is` on the fast paths
F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)
INT64 = np.dtype(np.int64)
I64_MAX = int(np.iinfo(np.int64).max)
I64_MIN = -I64_MAX - 1
NO_STRIDES = (0, 0, 0)


class Layout(NamedTuple):
    """An array seen as (outer, C, inner) with strides in elements."""
    outer: int
    C: int
    inner: int
    s_outer: int
    s_class: int
    s_inner: int

    @property
    def shape(self) -> Tuple[int, int, int]:
        return (self.outer, self.C, self.inner)

    @property
    def strides(self) -> Tuple[int, int, int]:
        return (self.s_outer, self.s_class, self.s_inner)


class Broadcast(NamedTuple):
    """A broadcast operand viewed as (rows, last axis): the array (or None)
    and its strides in elements (row, column, 0)."""
    array: Optional[np.ndarray]
    strides: Tuple[int, int, int]


def as_float_array(a, name: str, dtype: Optional[np.dtype] = None,
                   keep_half: bool = False) -> np.ndarray:
    """Return `a` as a native-endian, aligned float32/float64 array.

    float16 and bfloat16 become float32 (exactly), or with `keep_half` stay
    as stored (bfloat16 as _half.BF16) for a kernel that reads them;
    integers and booleans become float64 (or `dtype` when given). The input
    is never modified: a conversion copies.
    """
    arr = as_array(a, name)
    if _half.half_kind(arr.dtype) is not None:
        if keep_half and dtype is None:
            return _half.as_stored(arr)
        arr = _half.widen(arr)
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
        if dt == F32 or dt == F64:
            target = dt
        elif dt.kind == "f" and dt.itemsize <= 4:
            target = F32
        elif dt.kind in "fiub":
            target = F64
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
    naming the argument; a torch tensor without copying (bfloat16 too)."""
    if type(a) is not np.ndarray and _half.is_torch_tensor(a):
        try:
            return _half.from_torch(a)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    try:
        return np.asarray(a)
    except ValueError as exc:
        raise ValueError(f"{name}: cannot be made an array ({exc})") from None


def c_contiguous(a: np.ndarray) -> np.ndarray:
    """`a` itself if C-contiguous, else a C-ordered copy (0-d stays 0-d,
    unlike np.ascontiguousarray)."""
    return a if a.flags.c_contiguous else a.copy(order="C")


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


def same_storage(t, x: np.ndarray, dt: np.dtype, name: str = "target"):
    """(t, x) as a kernel reads them together, in one storage dtype: `t` in
    the compute dtype `dt` of `x`; for half `x`, `t` of the same half dtype
    as stored, else both as float32 (`x` widened, exactly)."""
    if dt is x.dtype:
        return as_float_array(t, name, dt), x
    arr = as_array(t, name)
    if _half.half_kind(arr.dtype) == _half.half_kind(x.dtype):
        return _half.as_stored(arr), x
    return as_float_array(arr, name, F32), _half.widen(x)


def compute_dtype(dt: np.dtype) -> np.dtype:
    """The dtype a kernel computes and returns in: float32 for the halves."""
    return F32 if _half.half_kind(dt) is not None else dt


def as_outer_class_inner(arr: np.ndarray, axis: int):
    """View `arr` as (outer, C, inner) with strides in elements, or None.

    None means the dims before or after `axis` cannot be walked with a single
    stride; the caller then copies to a contiguous array.
    """
    shp = arr.shape
    if arr.size == 0:  # nothing to walk: any strides do (NumPy's may not merge)
        return Layout(int(np.prod(shp[:axis])), shp[axis], int(np.prod(shp[axis + 1:])), 0, 0, 0)
    isz = arr.itemsize
    if any(s % isz for s in arr.strides):
        return None
    st = [s // isz for s in arr.strides]
    outer = _merge(shp[:axis], st[:axis])
    inner = _merge(shp[axis + 1:], st[axis + 1:])
    if outer is None or inner is None:
        return None
    return Layout(outer[0], shp[axis], inner[0], outer[1], st[axis], inner[1])


def layout_of(arr: np.ndarray, axis: int):
    """(array, layout) where array is `arr` or a contiguous copy of it."""
    lay = as_outer_class_inner(arr, axis)
    if lay is None:
        arr = np.ascontiguousarray(arr)
        lay = as_outer_class_inner(arr, axis)
    return arr, lay


def merged_broadcast(a, name: str, shape, dtype):
    """`a` broadcast to `shape`, viewed as (rows, last axis) with strides.

    Returns a Broadcast (array or None, strides in elements). The
    broadcast is a view (zero strides) unless its leading dims cannot be
    walked with one stride, in which case it is materialised.
    """
    if a is None:
        return Broadcast(None, NO_STRIDES)
    arr = as_float_array(a, name, dtype)
    try:
        b = np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(
            f"{name}: shape {arr.shape} does not broadcast to the input shape "
            f"{tuple(shape)}") from None
    if b.ndim == 0 or b.size == 0:
        return Broadcast(b, NO_STRIDES)
    isz = b.itemsize
    rows = _merge(b.shape[:-1], b.strides[:-1])
    if rows is None or any(s % isz for s in b.strides):
        b = np.ascontiguousarray(b)
        rows = _merge(b.shape[:-1], b.strides[:-1])
    assert rows is not None  # a C-contiguous array always merges
    col = b.strides[-1] // isz if b.shape[-1] != 1 else 0
    return Broadcast(b, (rows[1] // isz, col, 0))


def labels_as_int64(t: np.ndarray, ignore=None, name: str = "target") -> np.ndarray:
    """Class labels as an aligned, contiguous int64 array (a copy unless
    already so: the kernels read them as int64_t, which must be aligned).

    A uint64 label above the int64 range raises IndexError here, unless it
    equals `ignore`: it then becomes I64_MIN, the stand-in cross_entropy
    compares against for an ignore_index outside the int64 range."""
    if t.dtype.kind == "u" and t.dtype.itemsize == 8 and t.size and t.max() > I64_MAX:
        big = t > I64_MAX
        bad = big & (t != ignore) if ignore is not None and ignore > I64_MAX else big
        if bad.any():
            flat = int(np.argmax(bad.reshape(-1)))
            raise IndexError(
                f"{name}: class index {t.reshape(-1)[flat]} at position "
                f"{tuple(int(i) for i in np.unravel_index(flat, t.shape))} is out of range")
        labels = np.where(big, I64_MIN, t.astype(INT64))
        return np.require(labels, INT64, ["C_CONTIGUOUS", "ALIGNED"])
    return np.require(t, INT64, ["C_CONTIGUOUS", "ALIGNED"])
