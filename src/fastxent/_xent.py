"""Softmax cross-entropy from logits (integer labels and soft targets)."""
from __future__ import annotations

import math

import numpy as np

from . import _kernels
from ._threads import resolve as _resolve_threads
from ._validation import (
    as_array,
    as_float_array,
    as_outer_class_inner,
    check_fraction,
    check_grad_out,
    check_int,
    check_reduction,
    layout_of,
    normalize_axis,
)

_INT64 = np.dtype(np.int64)
_I64_MAX = int(np.iinfo(np.int64).max)
_I64_MIN = -_I64_MAX - 1
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)   # NumPy's singletons
_REDUCTIONS = ("mean", "sum", "none")
_prod = math.prod


def _labels_as_int64(t: np.ndarray, ignore: int) -> np.ndarray:
    """Class labels as an aligned, contiguous int64 array (a copy unless
    already so: the kernels read them as int64_t, which must be aligned)."""
    if t.dtype.kind == "u" and t.dtype.itemsize == 8 and t.size and t.max() > _I64_MAX:
        big = t > _I64_MAX
        bad = big & (t != ignore) if ignore > _I64_MAX else big
        if bad.any():
            flat = int(np.argmax(bad.reshape(-1)))
            raise IndexError(
                f"target: class index {t.reshape(-1)[flat]} at position "
                f"{tuple(int(i) for i in np.unravel_index(flat, t.shape))} is out of range")
        # they equal ignore_index, which cross_entropy replaces by this stand-in
        labels = np.where(big, _I64_MIN, t.astype(_INT64))
        return np.require(labels, _INT64, ["C_CONTIGUOUS", "ALIGNED"])
    return np.require(t, _INT64, ["C_CONTIGUOUS", "ALIGNED"])


def _raise_bad_label(t: np.ndarray, bad: int, C: int, ignore_index) -> None:
    pos = tuple(int(i) for i in np.unravel_index(bad, t.shape)) if t.ndim else ()
    raise IndexError(
        f"target: class index {t.reshape(-1)[bad]} at position {pos} is outside "
        f"[0, {C}) and is not ignore_index ({ignore_index})")


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", num_threads=None,
                  return_grad=False, grad_out=None):
    """Softmax cross-entropy between logits and class labels or probabilities.

    Follows ``torch.nn.functional.cross_entropy`` with the class axis given by
    `axis` (PyTorch's is 1), computed in one fused pass per row without any
    temporary of the logits' size.

    Parameters
    ----------
    logits : array_like, float16/float32/float64
        Unnormalised scores with the classes along `axis`. float16 is computed
        in float32; integers are computed in float64.
    target : array_like
        Either integer class indices of ``logits.shape`` without `axis` (any
        integer dtype), or floating class probabilities of ``logits.shape``
        (soft targets).
    axis : int, default -1
        The class axis of `logits`.
    weight : array_like of shape (C,), optional
        Per-class rescaling weight.
    ignore_index : int, default -100
        Index targets equal to this contribute nothing and are not counted in
        the mean (and a NaN in their logits does not leak). Not used for soft
        targets.
    label_smoothing : float in [0, 1], default 0
        eps: the loss is (1-eps) * NLL + (eps/C) * sum_c w_c (-log p_c), with
        both terms normalised like the NLL (PyTorch's formula).
    reduction : {"mean", "sum", "none"}
        "mean" divides by the sum of w[target] over counted rows (index
        targets) or by the number of rows (soft targets); all rows ignored or
        no rows gives NaN for "mean" and 0 for "sum".
    num_threads : int, optional
        Threads for this call; default :func:`get_num_threads`.
    return_grad : bool, default False
        Also return d(loss)/d(logits) computed in the same pass. For
        ``reduction="none"`` this is the gradient of the sum of the returned
        losses. With "mean" and nothing counted the gradient is NaN like the
        loss (PyTorch returns zeros with its NaN loss).
    grad_out : ndarray, optional
        Preallocated array of ``logits.shape`` and the compute dtype that
        receives the gradient (implies `return_grad`).

    Returns
    -------
    loss : numpy scalar or ndarray
        A scalar of the compute dtype for "mean"/"sum"; for "none" an array of
        the target's shape (index targets) or ``logits.shape`` without `axis`.
    grad : ndarray
        Only with `return_grad`: same shape as `logits`, compute dtype.

    Raises
    ------
    IndexError
        A label outside [0, C) that is not `ignore_index` (the message names
        the value and its position). Nothing is computed in that case.
    ValueError
        Mismatched shapes, bad `reduction`, `label_smoothing` outside [0, 1],
        `weight` of the wrong length, non-numeric input, `num_threads` < 1.

    Notes
    -----
    Differences from PyTorch, on purpose: integer labels of any dtype
    (int8...uint64) are accepted; negative `label_smoothing` is an error;
    float16 input does not overflow (sums are float64). A row that contains
    +inf or is entirely -inf has a NaN loss, as in PyTorch.

    Examples
    --------
    >>> import numpy as np, fastxent
    >>> logits = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], dtype=np.float32)
    >>> float(fastxent.cross_entropy(logits, np.array([0, 2])))  # doctest: +ELLIPSIS
    0.1...
    >>> fastxent.cross_entropy(logits, np.array([0, 2]), reduction="none").shape
    (2,)
    """
    # The common case (2-D logits, int64 labels, defaults but the reduction)
    # is checked and run in one C call; anything else returns None from it
    # and takes the general path below.
    if (weight is None and grad_out is None and return_grad is False
            and type(axis) is int and axis == -1
            and type(ignore_index) is int and ignore_index == -100
            and type(label_smoothing) is float and label_smoothing == 0.0
            and type(reduction) is str and (reduction == "mean" or reduction == "sum")):
        r = _kernels.xent_plain(logits, target, reduction == "mean", _resolve_threads(num_threads))
        if r is not None:
            if type(r) is int:
                _raise_bad_label(target, r, logits.shape[1], ignore_index)
            return r
    # Fast paths keep a small call cheap; every check still runs.
    x = logits
    if type(x) is not np.ndarray or not (x.dtype is _F32 or x.dtype is _F64) \
            or not x.flags.aligned:
        x = as_float_array(logits, "logits")
    ndim = x.ndim
    if ndim == 0:
        raise ValueError("logits: expected at least 1 dimension (the class axis), got a scalar")
    ax = ndim - 1 if (type(axis) is int and axis == -1) else normalize_axis(axis, ndim)
    dt = x.dtype
    shape = x.shape
    C = shape[ax]
    if C == 0:
        raise ValueError(f"logits: the class axis {ax} has length 0; expected at least 1 class")
    if reduction not in _REDUCTIONS:
        check_reduction(reduction)
    red = reduction
    eps = 0.0 if (type(label_smoothing) in (float, int) and label_smoothing == 0) \
        else check_fraction(label_smoothing, "label_smoothing")
    ignore = ignore_index if type(ignore_index) is int else check_int(ignore_index, "ignore_index")
    nthreads = _resolve_threads(num_threads)

    t = target if type(target) is np.ndarray else as_array(target, "target")
    row_shape = shape[:ax] + shape[ax + 1:]
    kind = t.dtype.kind
    if kind in "iu":
        soft = False
        if t.shape != row_shape:
            raise ValueError(
                f"target: class indices must have the logits' shape without axis {ax}, "
                f"{row_shape}, got {t.shape}")
    elif kind == "f":
        soft = True
        if ignore != -100:
            raise ValueError(
                f"ignore_index: not supported with floating (soft) targets, got {ignore_index}")
        if t.shape != shape:
            raise ValueError(
                f"target: class probabilities must have the logits' shape {shape}, "
                f"got {t.shape}")
    else:
        raise ValueError(
            f"target: expected integer class indices or floating probabilities, "
            f"got dtype {t.dtype}")

    w = None
    if weight is not None:
        w = np.ascontiguousarray(as_float_array(weight, "weight", dt))
        if w.shape != (C,):
            raise ValueError(f"weight: expected shape ({C},) (one per class), got {w.shape}")

    want_grad = bool(return_grad) or grad_out is not None
    if x.flags.c_contiguous:
        if ndim == 2 and ax == 1:
            outer, inner = shape[0], 1
        else:
            inner = _prod(shape[ax + 1:])
            outer = _prod(shape[:ax])
        xso, xsc, xsi = C * inner, inner, 1
    else:
        x, (outer, _, inner, xso, xsc, xsi) = layout_of(x, ax)

    y = labels = None
    ys = (0, 0, 0)
    if soft:
        y = as_float_array(t, "target", dt)
        y, lay = layout_of(y, ax)
        ys = lay[3:]
    else:
        labels = (t if (t.dtype == _INT64 and t.flags.c_contiguous and t.flags.aligned)
                  else _labels_as_int64(t, ignore))
        if ignore != -100 and (ignore > _I64_MAX or ignore < -_I64_MAX - 1):
            # cannot equal any int64 label; any stand-in outside [0, C) works
            # as long as no label takes its value
            ignore = _I64_MIN
            hit = np.flatnonzero(t.reshape(-1) == ignore) if t.dtype.kind == "i" else ()
            if len(hit):
                _raise_bad_label(t, int(hit[0]), C, ignore_index)

    loss_out = np.empty(row_shape, dtype=dt) if red == "none" else None
    grad = None
    gs = (0, 0, 0)
    if want_grad:
        if grad_out is not None:
            check_grad_out(grad_out, shape, dt,
                           (("logits", logits), ("target", target), ("weight", weight)))
        grad = grad_out if grad_out is not None else np.empty_like(x)
        lay = as_outer_class_inner(grad, ax) if grad.flags.aligned else None
        # the kernel is chosen by the class strides: a gradient whose class
        # stride is not 1 where the inputs' is would change the loss's bits
        if lay is not None and lay[4] != 1 and xsc == 1 and (y is None or ys[1] == 1):
            lay = None
        if lay is None:  # a temporary laid out like x, copied at the end
            grad = np.empty_like(x)
            lay = as_outer_class_inner(grad, ax)
        gs = lay[3:]

    total, denom, bad = _kernels.xent(x, outer, C, inner, xso, xsc, xsi,
                                      y, ys[0], ys[1], ys[2],
                                      labels, ignore, w, eps,
                                      loss_out, grad, gs[0], gs[1], gs[2],
                                      red == "mean", nthreads)
    if bad >= 0:
        _raise_bad_label(t, bad, C, ignore_index)

    if red == "none":
        loss = loss_out
    elif red == "sum":
        loss = dt.type(total)
    else:
        loss = dt.type(total / denom) if denom != 0 else dt.type("nan")

    if not want_grad:
        return loss
    if red == "mean" and denom == 0:
        grad.fill(np.nan)
    if grad_out is not None and grad is not grad_out:
        np.copyto(grad_out, grad)
        grad = grad_out
    return loss, grad
