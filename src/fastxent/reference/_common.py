"""Validators and helpers shared by the reference twins.

The checks mirror the public functions' (same exception types, messages of
the form ``"name: expected ..., got ..."``) but are written independently of
them: the twin imports nothing from the compiled package.
"""
import operator

import numpy as np

REDUCTIONS = ("mean", "sum", "none")
try:
    AxisError = np.exceptions.AxisError
except AttributeError:  # NumPy < 1.25
    AxisError = np.AxisError  # type: ignore[attr-defined,misc]


def float_input(x, name):
    """``(x as a float64 ndarray, result dtype)``; reject non-numeric input.

    The result dtype is float32 for float16 and float32 input, float64 for
    float64, wider floats, integers, booleans and objects holding numbers.
    """
    a = as_numpy(x)
    kind = a.dtype.kind
    if is_bfloat16(a.dtype):
        return bfloat16_to_float64(a), np.dtype(np.float32)
    if kind == "f":
        result = np.dtype(np.float64) if a.dtype.itemsize >= 8 else np.dtype(np.float32)
    elif kind in "biu":
        result = np.dtype(np.float64)
    elif kind == "O":
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected a real numeric array, got dtype object "
                             "with non-numeric elements") from None
        result = np.dtype(np.float64)
    else:
        raise ValueError(f"{name}: expected a real numeric array, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False), result


def is_bfloat16(dt):
    """ml_dtypes' bfloat16 (by name and size, without importing ml_dtypes) or
    fastxent's internal 2-byte tag of it."""
    return dt.itemsize == 2 and dt.kind == "V" and (
        dt.name == "bfloat16" or (dt.names is not None and dt.names == ("bfloat16",)))


def bfloat16_to_float64(a):
    """The values of a bfloat16 array: its bits are the top half of a float32."""
    return (a.view(np.uint16).astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def as_numpy(x):
    """np.asarray(x); a torch tensor through .numpy() (bfloat16 as the float32
    of its values, which NumPy cannot hold)."""
    mod = type(x).__module__
    if mod == "torch" or mod.startswith("torch."):
        import torch
        if isinstance(x, torch.Tensor):
            t = x.detach().cpu()
            if t.dtype == torch.bfloat16:
                return bfloat16_tensor_bits(t)
            return t.numpy()
    return np.asarray(x)


def bfloat16_tensor_bits(t):
    """A torch bfloat16 tensor as a NumPy array of a 2-byte tag dtype named
    'bfloat16' (so float_input widens it)."""
    import torch
    return t.view(torch.int16).numpy().view(np.dtype([("bfloat16", np.uint16)]))


def broadcast_weight(x, name, shape):
    """An optional weight-like argument as float64, broadcast to ``shape``."""
    if x is None:
        return None
    a, _ = float_input(x, name)
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise ValueError(f"{name}: shape {a.shape} does not broadcast to the input shape "
                         f"{tuple(shape)}") from None


def check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    return reduction


def check_fraction(value, name):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}") from None
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise ValueError(f"{name}: expected a number in [0, 1], got {value!r}")
    return v


def check_int(value, name):
    try:
        return operator.index(value)
    except TypeError:
        raise ValueError(f"{name}: expected an integer, got {value!r}") from None


def normalize_axis(axis, ndim, name="axis"):
    ax = check_int(axis, name)
    if not -ndim <= ax < ndim:
        raise AxisError(f"{name}: {axis} is out of bounds for an array of dimension {ndim}")
    return ax % ndim


def check_num_threads(num_threads):
    """Validate `num_threads` like the public functions; NumPy then ignores it."""
    if num_threads is None:
        return None
    n = check_int(num_threads, "num_threads")
    if n < 1:
        raise ValueError(f"num_threads: expected a positive integer, got {n}")
    return n


def check_out(out, shape, dtype, name, inputs=()):
    """A caller's output buffer: an ndarray of `shape` and `dtype`, writable,
    and (for gradient buffers, which list their `inputs`) not overlapping them."""
    if not isinstance(out, np.ndarray):
        raise ValueError(f"{name}: expected a numpy.ndarray, got {type(out).__name__}")
    if out.shape != tuple(shape) or out.dtype != dtype:
        raise ValueError(f"{name}: expected shape {tuple(shape)} and dtype {dtype}, "
                         f"got shape {out.shape} and dtype {out.dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name}: the array is read-only")
    for other_name, other in inputs:
        if isinstance(other, np.ndarray) and np.may_share_memory(out, other):
            raise ValueError(f"{name}: overlaps the memory of {other_name}")
    return out


def check_grad_out(grad_out, shape, dtype, inputs):
    """Gradient buffers must also be aligned (the public kernels write them)."""
    check_out(grad_out, shape, dtype, "grad_out", inputs)
    if not grad_out.flags.aligned:
        raise ValueError("grad_out: the array is not aligned")
    return grad_out


def deliver(result, out):
    """``result`` cast into `out` (when given, and then returned)."""
    if out is None:
        return result
    out[...] = result
    return out


def mul0(coef, value):
    """``coef * value`` with an exact zero wherever ``coef == 0``."""
    with np.errstate(invalid="ignore"):
        return np.where(coef == 0, 0.0, coef * value)


def scalar_or_array(value, dtype):
    """Cast to ``dtype``; 0-d results become NumPy scalars."""
    out = np.asarray(value, dtype=np.float64).astype(dtype)
    return out[()] if out.ndim == 0 else out


def reduce(per_element, reduction, count, dtype):
    """Apply ``reduction`` (``count`` is the mean's denominator)."""
    if reduction == "none":
        return np.asarray(per_element, dtype=np.float64).astype(dtype)
    total = np.sum(per_element, dtype=np.float64)
    if reduction == "sum":
        return dtype.type(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return dtype.type(total / count if count != 0 else np.nan)


def finish_grad(grad, reduction, count, dtype, grad_out):
    """The gradient of the summed loss scaled for `reduction` ("mean" with a
    zero denominator is NaN), cast to `dtype`, delivered into `grad_out`."""
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            grad = grad / count if count != 0 else np.full_like(grad, np.nan)
    return deliver(np.asarray(grad).astype(dtype), grad_out)


def first_position(mask):
    return tuple(int(i) for i in np.argwhere(mask)[0])
