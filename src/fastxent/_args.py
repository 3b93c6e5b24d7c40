"""Argument checks shared by the public functions (the first part of the
call skeleton; _arrays.py makes the array views, _outputs.py the outputs).

Every check runs once, in Python, before any kernel; messages name the
argument, what was expected and what was given.
"""
from __future__ import annotations

import operator

import numpy as np

from ._arrays import I64_MAX, I64_MIN, INT64, labels_as_int64
from ._outputs import BAD_LABEL, raise_status

try:  # NumPy >= 1.25
    from numpy.exceptions import AxisError
except ImportError:  # pragma: no cover - older NumPy
    AxisError = np.AxisError  # type: ignore[attr-defined,misc]

REDUCTIONS = ("mean", "sum", "none")


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


def kernel_labels(t: np.ndarray, C: int, ignore, ignore_index, name: str = "target"):
    """(contiguous, aligned int64 labels, ignore_index as the kernel compares
    it): an ignore_index outside int64 cannot equal any int64 label, so any
    stand-in outside [0, C) works as long as no label takes its value (uint64
    labels equal to a huge ignore_index are mapped to it by labels_as_int64)."""
    labels = (t if (t.dtype == INT64 and t.flags.c_contiguous and t.flags.aligned)
              else labels_as_int64(t, ignore, name))
    if ignore != -100 and (ignore > I64_MAX or ignore < I64_MIN):
        ignore = I64_MIN
        hit = (np.flatnonzero(t.reshape(-1) == ignore) if t.dtype.kind == "i"
               else np.empty(0, np.intp))
        if len(hit):
            raise_status((BAD_LABEL, 0, int(hit[0])), ((name, t),), C=C,
                         ignore_index=ignore_index)
    return labels, ignore


def normalize_axes(axis, ndim: int, name: str = "axis") -> tuple:
    """SciPy's axes: an int, a tuple of ints or None (every axis), as a
    sorted tuple of non-negative axes. A 0-d array has one implicit axis of
    length 1 (as torch and SciPy): -1, 0, None and () select it."""
    if ndim == 0 and (axis is None or axis == () or (
            not isinstance(axis, tuple) and check_int(axis, name) in (-1, 0))):
        return ()
    if axis is None:
        return tuple(range(ndim))
    if not isinstance(axis, tuple):
        return (normalize_axis(axis, ndim, name),)
    axes = tuple(normalize_axis(a, ndim, name) for a in axis)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name}: repeated axis in {axis!r}")
    return tuple(sorted(axes))
