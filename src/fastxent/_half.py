"""Half-precision inputs: float16 and bfloat16 recognised, passed to the
kernels as they are stored, widened exactly where a family does not read
them yet, and outputs rounded once into a half out=.

bfloat16 arrives as an ``ml_dtypes.bfloat16`` array (recognised by its
dtype's name and size, without importing ml_dtypes) or a torch tensor; both
are handed to the kernels as a view of their 16-bit patterns with the
dtype BF16, a 2-byte structured dtype that nothing else produces, so that
no plain uint16 array is ever taken for bfloat16 and arithmetic on the tag
fails loudly instead of treating the bits as integers.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
U16 = np.dtype(np.uint16)
U32 = np.dtype(np.uint32)
BF16 = np.dtype([("bfloat16", U16)])


def is_bf16(dt: np.dtype) -> bool:
    """`dt` is bfloat16: the internal tag, or ml_dtypes' (a 2-byte
    user-defined dtype named 'bfloat16')."""
    return dt == BF16 or (dt.itemsize == 2 and dt.kind == "V" and dt.name == "bfloat16"
                          and dt.fields is None)


def half_kind(dt: np.dtype) -> Optional[str]:
    """'float16', 'bfloat16' or None."""
    if dt == F16:
        return "float16"
    if dt.itemsize == 2 and dt.kind == "V" and is_bf16(dt):
        return "bfloat16"
    return None


def as_stored(arr: np.ndarray) -> np.ndarray:
    """A half array as the kernels read it: native-endian and aligned
    (a copy otherwise), bfloat16 as the BF16 tag."""
    if is_bf16(arr.dtype):
        if arr.dtype != BF16:
            arr = arr.view(BF16)
        if not arr.flags.aligned:
            arr = arr.copy()
        return arr
    if not arr.dtype.isnative or not arr.flags.aligned:
        arr = arr.astype(F16.newbyteorder("="), copy=True)
    return arr


def bits_of(arr: np.ndarray) -> np.ndarray:
    """The 16-bit patterns of a bfloat16 array (tag or ml_dtypes), a view."""
    return arr.view(U16)


def widen(arr: np.ndarray) -> np.ndarray:
    """A half array as float32, exactly (a new array)."""
    if arr.dtype == F16 or arr.dtype == F16.newbyteorder():
        return arr.astype(F32)
    b = bits_of(arr).astype(U32)
    b <<= 16   # in place: a 0-d array stays an array
    return b.view(F32)


def shown(arr: np.ndarray) -> np.ndarray:
    """`arr` as its values (for an error message): halves widened."""
    return widen(arr) if half_kind(arr.dtype) is not None else arr


def round_into(out: np.ndarray, res: np.ndarray) -> np.ndarray:
    """Write float32 `res` into the half array `out`, rounded once to
    nearest even (overflow to inf; NaN stays NaN); returns `out`."""
    if out.dtype.kind == "f":
        np.copyto(out, res, casting="unsafe")   # NumPy's cast rounds to nearest even
        return out
    u = np.ascontiguousarray(res, dtype=F32).view(U32)
    lsb = (u >> 16) & 1
    rounded = ((u + (0x7FFF + lsb)) >> 16).astype(U16)
    nan = np.isnan(res)
    if nan.any():
        rounded[nan] = ((u[nan] >> 16) | 0x0040).astype(U16)   # quiet, sign kept
    np.copyto(bits_of(out), rounded)
    return out


def check_half_out(out, x_dtype: np.dtype, name: str):
    """For a half input: (out, None) when `out` is not a half array (the
    caller checks it as a float32 buffer), else (None, out) after checking
    that its half dtype is the input's (the result is then computed into a
    float32 temporary and rounded once into it)."""
    if not isinstance(out, np.ndarray):
        return out, None
    kind = half_kind(out.dtype)
    if kind is None:
        return out, None
    want = half_kind(x_dtype)
    if kind != want:
        raise ValueError(f"{name}: expected dtype float32 or the input's {want}, got {kind}")
    if not out.flags.writeable:
        raise ValueError(f"{name}: the array is read-only")
    return None, out


def from_torch(t) -> np.ndarray:
    """A torch tensor as a NumPy array without copying: bfloat16 as a view
    of its bits (tagged BF16), any other dtype through ``.numpy()``."""
    import torch   # only reached with a torch tensor in hand

    if t.device.type != "cpu":
        raise ValueError(f"expected a CPU tensor, got one on {t.device}")
    t = t.detach().resolve_conj().resolve_neg()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().view(BF16)
    return t.numpy()


def is_torch_tensor(a) -> bool:
    """`a` is a torch tensor; torch is imported only when the object's type
    comes from it."""
    mod = type(a).__module__
    if mod != "torch" and not mod.startswith("torch."):
        return False
    import torch
    return isinstance(a, torch.Tensor)
