"""Softmax cross-entropy from logits (integer labels and soft targets)."""
from __future__ import annotations

import math

import numpy as np

from . import _kernels
from ._args import (REDUCTIONS, check_fraction, check_int, check_reduction, kernel_labels,
                    normalize_axis)
from . import _half
from ._arrays import (F32, F64, INT64, NO_STRIDES, as_array, as_float_array, compute_dtype,
                      layout_of, same_storage)
from ._outputs import check_out, deliver, finish, raise_status, strided_buffer
from ._threads import resolve as _resolve_threads

_prod = math.prod


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", num_threads=None,
                  return_grad=False, grad_out=None):
    """Softmax cross-entropy between logits and class labels or probabilities.

    Follows ``torch.nn.functional.cross_entropy`` with the class axis given by
    `axis` (PyTorch's is 1), computed in one fused pass per row without any
    temporary of the logits' size.

    Parameters
    ----------
    logits : array_like, float16/bfloat16/float32/float64
        Unnormalised scores with the classes along `axis`. float16 and
        bfloat16 (``ml_dtypes.bfloat16`` arrays, torch tensors) are read as
        stored and computed in float32, with the bits of the float32 call on
        the widened input; integers are computed in float64.
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
        losses. With "mean" and every row ignored (an all-padding batch) the
        loss is NaN but the gradient is zeros, as PyTorch: nothing
        contributes, and training through such a batch changes nothing. With
        counted rows whose weights sum to 0 the gradient is NaN (0/0, as
        PyTorch).
    grad_out : ndarray, optional
        Preallocated array of ``logits.shape`` and the compute dtype that
        receives the gradient (implies `return_grad`); for half logits also
        one of their own half dtype, which receives it rounded once (round
        to nearest even).

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
            if type(r) is tuple:
                raise_status(r, (("logits", logits), ("target", target)),
                             C=logits.shape[1], ignore_index=ignore_index)
            return r
    x, ax = _logits(logits, axis)
    shape, dt = x.shape, compute_dtype(x.dtype)
    C = shape[ax]
    red = reduction if reduction in REDUCTIONS else check_reduction(reduction)
    eps = 0.0 if (type(label_smoothing) in (float, int) and label_smoothing == 0) \
        else check_fraction(label_smoothing, "label_smoothing")
    ignore = ignore_index if type(ignore_index) is int else check_int(ignore_index, "ignore_index")
    nthreads = _resolve_threads(num_threads)
    t, soft = _target(target, shape, ax, ignore, ignore_index)
    w = None if weight is None else _weight(weight, C, dt)
    want_grad = bool(return_grad) or grad_out is not None
    half_out = None
    if dt is not x.dtype:
        grad_out, half_out = _half.check_half_out(grad_out, x.dtype, "grad_out")
        if half_out is not None:
            check_out(half_out, shape, half_out.dtype,
                      (("logits", logits), ("target", target), ("weight", weight)),
                      aligned=False)
    if soft:
        y, x = same_storage(t, x, dt)
        y, ylay = layout_of(y, ax)
        ys, labels = ylay.strides, None
    x, xshape, xs = _logits_view(x, ax)
    if dt is not x.dtype and (xs[1] != 1 or (soft and ys[1] != 1)):
        # the half kernels read unit class strides only (fx_rows_tmpl.h):
        # other layouts are computed from float32 copies, with the same bits
        x, xshape, xs = _logits_view(_half.widen(x), ax)
        if soft:
            y, ylay = layout_of(_half.widen(y), ax)
            ys = ylay.strides
    if not soft:
        y, ys = None, NO_STRIDES
        if ignore == -100 and t.dtype is INT64 and t.flags.c_contiguous and t.flags.aligned:
            labels = t   # the common case, without a call
        else:
            labels, ignore = kernel_labels(t, C, ignore, ignore_index)
    loss_out = np.empty(shape[:ax] + shape[ax + 1:], dtype=dt) if red == "none" else None
    grad, gs = None, NO_STRIDES
    if want_grad:
        if grad_out is not None:
            # a misaligned grad_out is filled through a temporary
            check_out(grad_out, shape, dt,
                      (("logits", logits), ("target", target), ("weight", weight)),
                      aligned=False)
        grad, glay = strided_buffer(grad_out, x, ax, dt)
        # the kernel is chosen by the class strides: a gradient whose class
        # stride is not 1 where the inputs' is would change the loss's bits
        if glay.s_class != 1 and xs[1] == 1 and (y is None or ys[1] == 1):
            grad, glay = layout_of(np.empty_like(x, dtype=dt), ax)   # copied at the end
        gs = glay.strides
    status, total, denom = _kernels.xent(x, xshape, xs, y, ys, labels, ignore, w, eps,
                                         loss_out, grad, gs, red == "mean", nthreads)
    if status[0]:
        raise_status(status, (("logits", logits), ("target", t)), C=C,
                     ignore_index=ignore_index)
    loss = loss_out if red == "none" else finish(red, total, denom, loss_out, dt)
    if not want_grad:
        return loss
    if red == "mean" and denom == 0:
        # every row ignored: nothing contributes, zeros (as torch); counted
        # rows of total weight 0: 0/0
        all_ignored = labels is not None and bool(np.all(labels == ignore))
        grad.fill(0.0 if all_ignored else np.nan)
    if half_out is not None:
        return loss, _half.round_into(half_out, grad)
    return loss, deliver(grad, grad_out)


def _logits(logits, axis):
    """The logits as a float32/float64 array with at least one class, and the
    class axis. Fast paths keep a small call cheap; every check still runs."""
    x = logits
    if type(x) is not np.ndarray or not (x.dtype is F32 or x.dtype is F64) \
            or not x.flags.aligned:
        x = as_float_array(logits, "logits", keep_half=True)
    ndim = x.ndim
    if ndim == 0:
        raise ValueError("logits: expected at least 1 dimension (the class axis), got a scalar")
    ax = ndim - 1 if (type(axis) is int and axis == -1) else normalize_axis(axis, ndim)
    if x.shape[ax] == 0:
        raise ValueError(f"logits: the class axis {ax} has length 0; expected at least 1 class")
    return x, ax


def _logits_view(x, ax):
    """(x or a copy, (outer, C, inner), strides): no Layout built for the
    common C-ordered case."""
    shape = x.shape
    if x.flags.c_contiguous:
        C = shape[ax]
        if len(shape) == 2 and ax == 1:
            outer, inner = shape[0], 1
        else:
            inner = _prod(shape[ax + 1:])
            outer = _prod(shape[:ax])
        return x, (outer, C, inner), (C * inner, inner, 1)
    x, lay = layout_of(x, ax)
    return x, lay.shape, lay.strides


def _target(target, shape, ax, ignore, ignore_index):
    """(target as an array, soft): class indices of the logits' shape without
    `ax`, or probabilities of the logits' shape."""
    t = target if type(target) is np.ndarray else as_array(target, "target")
    kind = "f" if _half.half_kind(t.dtype) is not None else t.dtype.kind
    if kind in "iu":
        row_shape = shape[:ax] + shape[ax + 1:]
        if t.shape != row_shape:
            raise ValueError(
                f"target: class indices must have the logits' shape without axis {ax}, "
                f"{row_shape}, got {t.shape}")
        return t, False
    if kind == "f":
        if ignore != -100:
            raise ValueError(
                f"ignore_index: not supported with floating (soft) targets, got {ignore_index}")
        if t.shape != shape:
            raise ValueError(
                f"target: class probabilities must have the logits' shape {shape}, "
                f"got {t.shape}")
        return t, True
    raise ValueError(
        f"target: expected integer class indices or floating probabilities, "
        f"got dtype {t.dtype}")


def _weight(weight, C, dt):
    w = np.ascontiguousarray(as_float_array(weight, "weight", dt))
    if w.shape != (C,):
        raise ValueError(f"weight: expected shape ({C},) (one per class), got {w.shape}")
    return w
