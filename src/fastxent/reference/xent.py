"""Twin of :func:`fastxent.cross_entropy`."""
import numpy as np

from ._common import (
    as_numpy,
    bfloat16_to_float64,
    check_fraction,
    check_grad_out,
    check_int,
    check_num_threads,
    check_reduction,
    finish_grad,
    first_position,
    float_input,
    is_bfloat16,
    mul0,
    normalize_axis,
    reduce,
)
from .softmax import log_softmax_last

_I64 = np.iinfo(np.int64)


def _class_indices(target, n_classes, ignore_index):
    """Validate integer targets; return ``(int64 labels, ignored-row mask)``."""
    if target.dtype.kind == "u" and target.dtype.itemsize == 8:
        # uint64 labels above the int64 range can only be out of range.
        too_big = target > np.uint64(_I64.max)
        labels = np.where(too_big, 0, target).astype(np.int64)
    else:
        too_big = np.zeros(target.shape, dtype=bool)
        labels = target.astype(np.int64)
    if _I64.min <= ignore_index <= _I64.max:
        ignored = (labels == ignore_index) & ~too_big
    elif target.dtype.kind == "u" and _I64.max < ignore_index <= np.iinfo(target.dtype).max:
        # a uint64 label above the int64 range equal to ignore_index is ignored
        ignored = target == np.uint64(ignore_index)
        too_big = too_big & ~ignored
    else:
        ignored = np.zeros(target.shape, dtype=bool)
    bad = too_big | (~ignored & ((labels < 0) | (labels >= n_classes)))
    if bad.any():
        pos = first_position(bad)
        raise IndexError(
            f"target: class index {int(target[pos])} at position {pos} is outside "
            f"[0, {n_classes}) and is not ignore_index ({ignore_index})")
    return labels, ignored


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", num_threads=None,
                  return_grad=False, grad_out=None):
    """Softmax cross-entropy from logits, as ``torch.nn.functional.cross_entropy``.

    Parameters
    ----------
    logits : array_like
        Unnormalised scores; classes along `axis`.
    target : array_like
        Integer class indices of shape ``logits.shape`` without `axis`, or
        floating class probabilities of shape ``logits.shape``.
    axis : int, optional
        Class axis (torch's is 1).
    weight : array_like of shape (C,), optional
        Per-class weights.
    ignore_index : int, optional
        Class-index rows with this label contribute 0 and are not counted.
        Must stay -100 with class-probability targets (ValueError, as torch).
    label_smoothing : float, optional
        eps in [0, 1]; torch's formula, normalised like the NLL term.
    reduction : {"mean", "sum", "none"}, optional
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).
    return_grad : bool, optional
        Also return d(loss)/d(logits) (for ``"none"``: of the sum of losses).
    grad_out : ndarray, optional
        Receives the gradient (``logits.shape``, result dtype; implies
        `return_grad`) and is returned.

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray, only with `return_grad` or `grad_out`

    Notes
    -----
    Index targets with ``"mean"`` divide by the sum of ``weight[y]`` over the
    non-ignored rows; soft targets by the row count. A zero denominator (all
    rows ignored, empty batch, zero weights) gives a NaN loss; the gradient
    is zeros when every row is ignored (as torch) and NaN otherwise (zero
    weights: 0/0); ``"sum"`` gives 0 and a zero gradient. Ignored rows are masked,
    so NaN or inf in their logits never leaks. A row whose logits contain
    NaN or +inf, or are all -inf, has a NaN loss (as torch); -inf at the
    target with finite others gives +inf. Terms with a zero coefficient
    (zero soft-target probability or zero class weight) are exactly 0 where
    torch would compute ``0 * -inf = NaN``.

    Examples
    --------
    >>> cross_entropy([[2.0, 0.0, -1.0]], [0])
    np.float64(0.16984...)
    """
    z, dtype = float_input(logits, "logits")
    if z.ndim == 0:
        raise ValueError("logits: expected at least 1 dimension (the class axis), got a scalar")
    axis = normalize_axis(axis, z.ndim)
    n_classes = z.shape[axis]
    if n_classes == 0:
        raise ValueError(f"logits: the class axis {axis} has length 0; "
                         "expected at least 1 class")
    check_reduction(reduction)
    eps = check_fraction(label_smoothing, "label_smoothing")
    ignore_index = check_int(ignore_index, "ignore_index")
    check_num_threads(num_threads)
    logits_shape = z.shape
    z = np.moveaxis(z, axis, -1)
    row_shape = z.shape[:-1]
    t = as_numpy(target)
    if is_bfloat16(t.dtype):
        t = bfloat16_to_float64(t).astype(np.float32)
    if t.dtype.kind in "iu":
        if t.shape != row_shape:
            raise ValueError(
                f"target: class indices must have the logits' shape without axis {axis}, "
                f"{row_shape}, got {t.shape}")
    elif t.dtype.kind == "f":
        if ignore_index != -100:
            raise ValueError("ignore_index: not supported with floating (soft) targets, "
                             f"got {ignore_index}")
        if t.shape != logits_shape:
            raise ValueError(f"target: class probabilities must have the logits' shape "
                             f"{logits_shape}, got {t.shape}")
    else:
        raise ValueError("target: expected integer class indices or floating probabilities, "
                         f"got dtype {t.dtype}")
    w = None
    if weight is not None:
        w, _ = float_input(weight, "weight")
        if w.shape != (n_classes,):
            raise ValueError(f"weight: expected shape ({n_classes},) (one per class), "
                             f"got {w.shape}")
    if grad_out is not None:
        check_grad_out(grad_out, logits_shape, dtype,
                       (("logits", logits), ("target", target), ("weight", weight)))
    if t.dtype.kind == "f":
        y = np.moveaxis(t.astype(np.float64), axis, -1)
        loss, grad, count = _xent_probs(z, y, w, eps, n_classes)
    else:
        labels, ignored = _class_indices(t, n_classes, ignore_index)
        loss, grad, count = _xent_indices(z, labels, ignored, w, eps, n_classes)
    out = reduce(loss, reduction, count, dtype)
    if not (return_grad or grad_out is not None):
        return out
    grad_reduction = reduction
    if reduction == "mean" and count == 0 and t.dtype.kind != "f" and np.all(ignored):
        grad_reduction = "sum"   # every row ignored: the masked gradient is all 0
    return out, finish_grad(np.moveaxis(grad, -1, axis), grad_reduction, count, dtype, grad_out)


def _xent_indices(z, labels, ignored, w, eps, n_classes):
    """Per-row loss, gradient of the summed loss, and the mean's denominator."""
    logp = log_softmax_last(z)
    kept = ~ignored
    safe = np.where(kept, labels, 0)
    logp_y = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    w_y = w[safe] if w is not None else np.ones(safe.shape)
    w_y = np.where(kept, w_y, 0.0)
    w_c = w if w is not None else np.ones(n_classes)

    nll_coef = (1.0 - eps) * w_y
    loss = mul0(nll_coef, -logp_y)
    with np.errstate(invalid="ignore"):
        p = np.exp(logp)
    onehot = np.zeros(z.shape)
    np.put_along_axis(onehot, safe[..., None], 1.0, axis=-1)
    grad = mul0(nll_coef[..., None], p - onehot)
    if eps > 0:
        smooth_coef = (eps / n_classes) * w_c
        smooth = np.sum(mul0(smooth_coef, -logp), axis=-1)
        loss = loss + np.where(kept, smooth, 0.0)
        # d/dz_j sum_c b_c (-log p_c) = (sum_c b_c) p_j - b_j
        smooth_grad = mul0(np.sum(smooth_coef), p) - smooth_coef
        grad = grad + np.where(kept[..., None], smooth_grad, 0.0)
    return loss, grad, np.sum(w_y)


def _xent_probs(z, y, w, eps, n_classes):
    """Soft-target version of :func:`_xent_indices`."""
    logp = log_softmax_last(z)
    if eps > 0:
        y = y * (1.0 - eps) + eps / n_classes
    coef = y * w if w is not None else y
    loss = np.sum(mul0(coef, -logp), axis=-1)
    with np.errstate(invalid="ignore"):
        p = np.exp(logp)
    grad = mul0(np.sum(coef, axis=-1, keepdims=True), p) - coef
    return loss, grad, loss.size
