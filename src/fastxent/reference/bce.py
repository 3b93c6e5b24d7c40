"""Twins of :func:`fastxent.binary_cross_entropy_with_logits` and
:func:`fastxent.binary_cross_entropy`."""
import numpy as np

from ._common import (
    broadcast_weight,
    check_fraction,
    as_numpy,
    check_grad_out,
    check_num_threads,
    check_reduction,
    finish_grad,
    first_position,
    float_input,
    mul0,
    reduce,
)

_BCE_LOG_CLAMP = -100.0  # torch clamps each log of binary_cross_entropy here
# torch's EPSILON for the denominator of the BCE gradient is the *float* 1e-12,
# i.e. 9.999999960041972e-13 even for float64 inputs.
_BCE_GRAD_EPS = float(np.float32(1e-12))


def _softplus(z):
    """log(1 + exp(z)), exact at +-inf and without cancellation."""
    with np.errstate(over="ignore"):
        return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid(z):
    """1 / (1 + exp(-z)) evaluated without overflow."""
    e = np.exp(-np.abs(z))
    with np.errstate(invalid="ignore"):
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _inputs(first, target, first_name, reduction, num_threads):
    """Common checks: ``(x, y, result dtype)`` in float64."""
    check_reduction(reduction)
    check_num_threads(num_threads)
    x, dtype = float_input(first, first_name)
    t = as_numpy(target)
    if t.shape != x.shape:
        raise ValueError(f"target: expected the {first_name}' shape {x.shape}, got {t.shape}")
    y, _ = float_input(t, "target")
    return x, y, dtype


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None,
                                     label_smoothing=0.0, reduction="mean",
                                     num_threads=None, return_grad=False, grad_out=None):
    """Sigmoid binary cross-entropy from logits, exact for extreme logits.

    Parameters
    ----------
    logits : array_like
    target : array_like
        Same shape as `logits`, values usually in [0, 1].
    weight : array_like, optional
        Element weights, broadcast to the logits' shape.
    pos_weight : array_like, optional
        Weight of the positive term, broadcast along the last axis.
    label_smoothing : float, optional
        a in [0, 1]: ``y -> y (1 - a) + a / 2``.
    reduction : {"mean", "sum", "none"}, optional
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).
    return_grad : bool, optional
        Also return d(loss)/d(logits).
    grad_out : ndarray, optional
        Receives the gradient (implies `return_grad`) and is returned.

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray, only with `return_grad` or `grad_out`

    Notes
    -----
    Computed as ``w (1 - y) softplus(x) + w pw y softplus(-x)`` with a stable
    softplus; a term with a zero coefficient is exactly 0, so x = +-inf gives
    the limit (0 or inf) instead of torch's NaN, and an element with weight 0
    contributes 0 whatever its logit. ``"mean"`` of an empty input is NaN.

    Examples
    --------
    >>> binary_cross_entropy_with_logits([np.inf, -np.inf], [1.0, 0.0])
    np.float64(0.0)
    """
    alpha = check_fraction(label_smoothing, "label_smoothing")
    x, y, dtype = _inputs(logits, target, "logits", reduction, num_threads)
    w = broadcast_weight(weight, "weight", x.shape)
    pw = broadcast_weight(pos_weight, "pos_weight", x.shape)
    if grad_out is not None:
        check_grad_out(grad_out, x.shape, dtype,
                       (("logits", logits), ("target", target), ("weight", weight),
                        ("pos_weight", pos_weight)))
    if alpha > 0:
        y = y * (1.0 - alpha) + alpha / 2.0
    neg_coef = 1.0 - y
    pos_coef = y if pw is None else pw * y
    if w is not None:
        neg_coef = w * neg_coef
        pos_coef = w * pos_coef
    loss = mul0(neg_coef, _softplus(x)) + mul0(pos_coef, _softplus(-x))
    out = reduce(loss, reduction, x.size, dtype)
    if not (return_grad or grad_out is not None):
        return out
    grad = mul0(neg_coef, _sigmoid(x)) - mul0(pos_coef, _sigmoid(-x))
    return out, finish_grad(grad, reduction, x.size, dtype, grad_out)


def _check_unit_interval(p, y):
    """The first element (C order) where `p` or `y` is outside [0, 1] or NaN
    is named, `p` first where both are bad there."""
    bad_p = ~((p >= 0) & (p <= 1))  # NaN is bad too
    bad = bad_p | ~((y >= 0) & (y <= 1))
    if bad.any():
        pos = first_position(bad)
        name, a = ("probs", p) if bad_p[pos] else ("target", y)
        raise ValueError(f"{name}: expected values in [0, 1], got {a[pos]} at index {pos}")


def binary_cross_entropy(probs, target, *, weight=None, reduction="mean",
                         num_threads=None, return_grad=False, grad_out=None):
    """Binary cross-entropy on probabilities, as torch (each log clamped at -100).

    Parameters
    ----------
    probs : array_like
        Probabilities in [0, 1].
    target : array_like
        Same shape as `probs`, values in [0, 1].
    weight : array_like, optional
        Element weights, broadcast to the input shape.
    reduction : {"mean", "sum", "none"}, optional
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).
    return_grad : bool, optional
        Also return d(loss)/d(probs) with torch's formula
        ``w (p - y) / max(p (1 - p), eps)``, ``eps = float32(1e-12)``
        (torch's constant), which ignores the -100 clamp.
    grad_out : ndarray, optional
        Receives the gradient (implies `return_grad`) and is returned.

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray, only with `return_grad` or `grad_out`

    Raises
    ------
    ValueError
        If `probs` or `target` has a value outside [0, 1] or NaN; the message
        names the first one's index (`probs` first where both are bad there).

    Examples
    --------
    >>> binary_cross_entropy([0.0, 1.0], [1.0, 1.0], reduction="sum")
    np.float64(100.0)
    """
    p, y, dtype = _inputs(probs, target, "probs", reduction, num_threads)
    w = broadcast_weight(weight, "weight", p.shape)
    if grad_out is not None:
        check_grad_out(grad_out, p.shape, dtype,
                       (("probs", probs), ("target", target), ("weight", weight)))
    _check_unit_interval(p, y)
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), _BCE_LOG_CLAMP)
        log_q = np.maximum(np.log1p(-p), _BCE_LOG_CLAMP)
    loss = -(y * log_p + (1.0 - y) * log_q)
    if w is not None:
        loss = w * loss
    out = reduce(loss, reduction, p.size, dtype)
    if not (return_grad or grad_out is not None):
        return out
    grad = (p - y) / np.maximum((1.0 - p) * p, _BCE_GRAD_EPS)
    if w is not None:
        grad = w * grad
    return out, finish_grad(grad, reduction, p.size, dtype, grad_out)
