"""Pure-NumPy reference implementations of the fastxent public functions.

This module is the test oracle and the benchmark baseline of the C kernels.
It has the same signatures and semantics as the public API but favours
clarity and exactness over speed: it is vectorised NumPy, may allocate
N x C temporaries, and always computes in float64.

Conventions shared by every function
------------------------------------
* Floating inputs are converted to float64 for the computation and the
  result is cast back to the *result dtype*: float32 for float16 and float32
  inputs, float64 for float64 inputs, and float64 for integer, bool and
  long-double inputs. The result dtype is taken from the first argument
  (``logits``, ``probs``, ``x``, ``p``; ``kl_divergence`` combines ``p`` and
  ``q``; ``log_loss`` uses ``y_prob``).
* Reductions return NumPy scalars of the result dtype (``np.float32(...)``);
  ``reduction="none"`` always returns an ndarray, 0-d included.
* A term whose coefficient is exactly zero contributes exactly zero, even
  when the logarithm it multiplies is infinite or NaN (``0 * log 0 = 0``).
  This is what removes torch's NaN for infinite logits: a zero target
  probability, a zero class weight or a zero element weight never turns an
  infinite log-probability into NaN.
* ``num_threads`` is accepted and ignored.

This module must stay importable on its own: it imports nothing but NumPy.
"""

import math
import operator
import warnings

import numpy as np

__all__ = [
    "cross_entropy",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy",
    "log_softmax",
    "softmax",
    "logsumexp",
    "entropy",
    "kl_divergence",
    "log_loss",
]

_REDUCTIONS = ("mean", "sum", "none")
try:
    _AxisError = np.exceptions.AxisError
except AttributeError:  # NumPy < 1.25
    _AxisError = np.AxisError  # type: ignore[attr-defined,misc]
_BCE_LOG_CLAMP = -100.0  # torch clamps each log of binary_cross_entropy here
# torch's EPSILON for the denominator of the BCE gradient is the *float* 1e-12,
# i.e. 9.999999960041972e-13 even for float64 inputs.
_BCE_GRAD_EPS = float(np.float32(1e-12))


# --------------------------------------------------------------------------
# validation and conversion helpers


def _float_input(x, name):
    """Return ``(x as float64 ndarray, result dtype)``; reject non-numeric input."""
    a = np.asarray(x)
    kind = a.dtype.kind
    if kind == "f":
        result = np.dtype(np.float64) if a.dtype.itemsize >= 8 else np.dtype(np.float32)
    elif kind in "biu":
        result = np.dtype(np.float64)
    elif kind == "O":
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a real numeric array") from None
        result = np.dtype(np.float64)
    else:
        raise ValueError(f"{name} must be a real numeric array, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False), result


def _optional_float(x, name, shape):
    """Convert an optional weight-like argument and broadcast it to ``shape``."""
    if x is None:
        return None
    a, _ = _float_input(x, name)
    try:
        return np.broadcast_to(a, shape)
    except ValueError:
        raise ValueError(
            f"{name} of shape {a.shape} does not broadcast to the input shape {shape}"
        ) from None


def _check_reduction(reduction):
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_fraction(value, name):
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}") from None
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def _normalize_axis(axis, ndim, name="axis"):
    axis = operator.index(axis)
    if not -ndim <= axis < ndim:
        raise _AxisError(f"{name} {axis} is out of bounds for an array of dimension {ndim}")
    return axis % ndim


def _mul0(coef, value):
    """``coef * value`` with an exact zero wherever ``coef == 0``."""
    with np.errstate(invalid="ignore"):
        return np.where(coef == 0, 0.0, coef * value)


def _scalar_or_array(value, dtype):
    """Cast to ``dtype``; 0-d results become NumPy scalars."""
    out = np.asarray(value, dtype=np.float64).astype(dtype)
    return out[()] if out.ndim == 0 else out


def _reduce(per_element, reduction, count, dtype):
    """Apply ``reduction`` (``count`` is the mean's denominator)."""
    if reduction == "none":
        return np.asarray(per_element, dtype=np.float64).astype(dtype)
    total = np.sum(per_element, dtype=np.float64)
    if reduction == "sum":
        return dtype.type(total)
    with np.errstate(invalid="ignore", divide="ignore"):
        return dtype.type(total / count if count != 0 else np.nan)


def _softplus(z):
    """log(1 + exp(z)), exact at +-inf and without cancellation."""
    with np.errstate(over="ignore"):
        return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


def _sigmoid(z):
    """1 / (1 + exp(-z)) evaluated without overflow."""
    e = np.exp(-np.abs(z))
    with np.errstate(invalid="ignore"):
        return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _logsumexp_last(z, keepdims=False):
    """logsumexp over the last axis of a float64 array.

    NaN in a row gives NaN, any +inf gives +inf, an all -inf (or empty) row
    gives -inf. The maxima contribute exactly 1 each, so log(s) is taken as
    log1p((ties - 1) + sum of the other terms): log(1 + small) would round
    most of a small logsumexp away.
    """
    if z.shape[-1] == 0:
        out = np.full(z.shape[:-1] + (1,), -np.inf)
        return out if keepdims else out[..., 0]
    m = np.max(z, axis=-1, keepdims=True)
    shift = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        top = z == shift
        ties = np.sum(top, axis=-1, keepdims=True)
        small = np.sum(np.where(top, 0.0, np.exp(z - shift)), axis=-1, keepdims=True)
        out = shift + np.log1p((ties - 1.0) + small)
        out = np.where(m == np.inf, np.inf, out)
        out = np.where(np.isnan(z).any(axis=-1, keepdims=True), np.nan, out)
    return out if keepdims else out[..., 0]


def _log_softmax_last(z):
    """log-softmax over the last axis; rows whose logsumexp is not finite are NaN.

    Computed as ``(z - m) - log(s)``, never ``z - (m + log s)``: next to a
    huge m, m + log s rounds log s away (five tied -1e30 would give 0, not
    -log 5).
    """
    if z.shape[-1] == 0:
        return z.copy()
    lse = _logsumexp_last(z, keepdims=True)
    m = np.max(z, axis=-1, keepdims=True)
    shift = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        top = z == shift
        ties = np.sum(top, axis=-1, keepdims=True)
        small = np.sum(np.where(top, 0.0, np.exp(z - shift)), axis=-1, keepdims=True)
        log_s = np.log1p((ties - 1.0) + small)
        return np.where(np.isfinite(lse), (z - shift) - log_s, np.nan)


def _first_position(mask):
    return tuple(int(i) for i in np.argwhere(mask)[0])


# --------------------------------------------------------------------------
# softmax cross-entropy


def _class_indices(target, row_shape, n_classes, ignore_index):
    """Validate integer targets; return ``(int64 labels, ignored-row mask)``."""
    if target.shape != row_shape:
        raise ValueError(
            f"target of class indices must have shape {row_shape} (logits without "
            f"the class axis), got {target.shape}"
        )
    if target.dtype.kind == "u" and target.dtype.itemsize == 8:
        # uint64 labels above the int64 range can only be out of range.
        too_big = target > np.uint64(np.iinfo(np.int64).max)
        labels = np.where(too_big, 0, target).astype(np.int64)
    else:
        too_big = np.zeros(target.shape, dtype=bool)
        labels = target.astype(np.int64)
    info = np.iinfo(np.int64)
    if info.min <= ignore_index <= info.max:
        ignored = (labels == ignore_index) & ~too_big
    elif target.dtype.kind == "u" and info.max < ignore_index <= np.iinfo(target.dtype).max:
        # a uint64 label above the int64 range equal to ignore_index is ignored
        ignored = target == np.uint64(ignore_index)
        too_big = too_big & ~ignored
    else:
        ignored = np.zeros(target.shape, dtype=bool)
    bad = too_big | (~ignored & ((labels < 0) | (labels >= n_classes)))
    if bad.any():
        pos = _first_position(bad)
        raise IndexError(
            f"target value {int(target[pos])} at position {pos} is out of range "
            f"[0, {n_classes}) and is not ignore_index={ignore_index}"
        )
    return labels, ignored


def cross_entropy(logits, target, *, axis=-1, weight=None, ignore_index=-100,
                  label_smoothing=0.0, reduction="mean", num_threads=None,
                  return_grad=False):
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
        Ignored.
    return_grad : bool, optional
        Also return d(loss)/d(logits) (for ``"none"``: of the sum of losses).

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray, only with `return_grad`

    Notes
    -----
    Index targets with ``"mean"`` divide by the sum of ``weight[y]`` over the
    non-ignored rows; soft targets by the row count. A zero denominator (all
    rows ignored, empty batch, zero weights) gives a NaN loss and an all-NaN
    gradient; ``"sum"`` gives 0 and a zero gradient. Ignored rows are masked,
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
    z, dtype = _float_input(logits, "logits")
    _check_reduction(reduction)
    eps = _check_fraction(label_smoothing, "label_smoothing")
    ignore_index = operator.index(ignore_index)
    if z.ndim == 0:
        raise ValueError("logits must have at least one dimension (the class axis)")
    axis = _normalize_axis(axis, z.ndim)
    n_classes = z.shape[axis]
    if n_classes == 0:
        raise ValueError("logits must have at least one class along axis")
    logits_shape = z.shape
    z = np.moveaxis(z, axis, -1)
    row_shape = z.shape[:-1]
    w = None
    if weight is not None:
        w, _ = _float_input(weight, "weight")
        if w.shape != (n_classes,):
            raise ValueError(
                f"weight must have shape ({n_classes},) (one per class), got {w.shape}"
            )
    t = np.asarray(target)
    if t.dtype.kind in "iu":
        labels, ignored = _class_indices(t, row_shape, n_classes, ignore_index)
        loss, grad, count = _xent_indices(z, labels, ignored, w, eps, n_classes)
    elif t.dtype.kind == "f":
        if t.shape != logits_shape:
            raise ValueError(
                f"target of class probabilities must have the logits' shape "
                f"{logits_shape}, got {t.shape}"
            )
        if ignore_index != -100:
            raise ValueError("ignore_index is not supported with class-probability "
                             "targets (as torch); leave it at -100")
        y = np.moveaxis(t.astype(np.float64), axis, -1)
        loss, grad, count = _xent_probs(z, y, w, eps, n_classes)
    else:
        raise ValueError(
            "target must be integer class indices or floating class probabilities, "
            f"got dtype {t.dtype}"
        )
    out = _reduce(loss, reduction, count, dtype)
    if not return_grad:
        return out
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            grad = grad / count if count != 0 else np.full_like(grad, np.nan)
    return out, np.moveaxis(grad, -1, axis).astype(dtype)


def _xent_indices(z, labels, ignored, w, eps, n_classes):
    """Per-row loss, gradient of the summed loss, and the mean's denominator."""
    logp = _log_softmax_last(z)
    kept = ~ignored
    safe = np.where(kept, labels, 0)
    logp_y = np.take_along_axis(logp, safe[..., None], axis=-1)[..., 0]
    w_y = w[safe] if w is not None else np.ones(safe.shape)
    w_y = np.where(kept, w_y, 0.0)
    w_c = w if w is not None else np.ones(n_classes)

    nll_coef = (1.0 - eps) * w_y
    loss = _mul0(nll_coef, -logp_y)
    with np.errstate(invalid="ignore"):
        p = np.exp(logp)
    onehot = np.zeros(z.shape)
    np.put_along_axis(onehot, safe[..., None], 1.0, axis=-1)
    grad = _mul0(nll_coef[..., None], p - onehot)
    if eps > 0:
        smooth_coef = (eps / n_classes) * w_c
        smooth = np.sum(_mul0(smooth_coef, -logp), axis=-1)
        loss = loss + np.where(kept, smooth, 0.0)
        # d/dz_j sum_c b_c (-log p_c) = (sum_c b_c) p_j - b_j
        smooth_grad = _mul0(np.sum(smooth_coef), p) - smooth_coef
        grad = grad + np.where(kept[..., None], smooth_grad, 0.0)
    return loss, grad, np.sum(w_y)


def _xent_probs(z, y, w, eps, n_classes):
    """Soft-target version of :func:`_xent_indices`."""
    logp = _log_softmax_last(z)
    if eps > 0:
        y = y * (1.0 - eps) + eps / n_classes
    coef = y * w if w is not None else y
    loss = np.sum(_mul0(coef, -logp), axis=-1)
    with np.errstate(invalid="ignore"):
        p = np.exp(logp)
    grad = _mul0(np.sum(coef, axis=-1, keepdims=True), p) - coef
    return loss, grad, loss.size


# --------------------------------------------------------------------------
# binary cross-entropy


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None,
                                     label_smoothing=0.0, reduction="mean",
                                     num_threads=None, return_grad=False):
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
        Ignored.
    return_grad : bool, optional
        Also return d(loss)/d(logits).

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray, only with `return_grad`

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
    x, dtype = _float_input(logits, "logits")
    y, _ = _float_input(target, "target")
    _check_reduction(reduction)
    alpha = _check_fraction(label_smoothing, "label_smoothing")
    if y.shape != x.shape:
        raise ValueError(f"target shape {y.shape} must equal the logits shape {x.shape}")
    w = _optional_float(weight, "weight", x.shape)
    pw = _optional_float(pos_weight, "pos_weight", x.shape)
    if alpha > 0:
        y = y * (1.0 - alpha) + alpha / 2.0
    neg_coef = 1.0 - y
    pos_coef = y if pw is None else pw * y
    if w is not None:
        neg_coef = w * neg_coef
        pos_coef = w * pos_coef
    loss = _mul0(neg_coef, _softplus(x)) + _mul0(pos_coef, _softplus(-x))
    out = _reduce(loss, reduction, x.size, dtype)
    if not return_grad:
        return out
    grad = _mul0(neg_coef, _sigmoid(x)) - _mul0(pos_coef, _sigmoid(-x))
    if reduction == "mean":
        grad = grad / x.size if x.size else grad
    return out, grad.astype(dtype)


def _check_unit_interval(a, name):
    bad = ~((a >= 0) & (a <= 1))  # NaN is bad too
    if bad.any():
        pos = _first_position(bad)
        raise ValueError(f"{name} must be in [0, 1]; {name}{list(pos)} = {a[pos]}")


def binary_cross_entropy(probs, target, *, weight=None, reduction="mean",
                         num_threads=None, return_grad=False):
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
        Ignored.
    return_grad : bool, optional
        Also return d(loss)/d(probs) with torch's formula
        ``w (p - y) / max(p (1 - p), eps)``, ``eps = float32(1e-12)``
        (torch's constant), which ignores the -100 clamp.

    Returns
    -------
    loss : scalar or ndarray
    grad : ndarray, only with `return_grad`

    Raises
    ------
    ValueError
        If `probs` or `target` has a value outside [0, 1] or NaN; the message
        names the first one's index.

    Examples
    --------
    >>> binary_cross_entropy([0.0, 1.0], [1.0, 1.0], reduction="sum")
    np.float64(100.0)
    """
    p, dtype = _float_input(probs, "probs")
    y, _ = _float_input(target, "target")
    _check_reduction(reduction)
    if y.shape != p.shape:
        raise ValueError(f"target shape {y.shape} must equal the probs shape {p.shape}")
    w = _optional_float(weight, "weight", p.shape)
    _check_unit_interval(p, "probs")
    _check_unit_interval(y, "target")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), _BCE_LOG_CLAMP)
        log_q = np.maximum(np.log1p(-p), _BCE_LOG_CLAMP)
    loss = -(y * log_p + (1.0 - y) * log_q)
    if w is not None:
        loss = w * loss
    out = _reduce(loss, reduction, p.size, dtype)
    if not return_grad:
        return out
    grad = (p - y) / np.maximum((1.0 - p) * p, _BCE_GRAD_EPS)
    if w is not None:
        grad = w * grad
    if reduction == "mean" and p.size:
        grad = grad / p.size
    return out, grad.astype(dtype)


# --------------------------------------------------------------------------
# softmax family


def _check_out(out, shape, dtype):
    if not isinstance(out, np.ndarray):
        raise ValueError(f"out must be a numpy.ndarray, got {type(out).__name__}")
    if out.shape != shape or out.dtype != dtype:
        raise ValueError(
            f"out must have shape {shape} and dtype {dtype}, "
            f"got shape {out.shape} and dtype {out.dtype}"
        )


def _along_axis(x, axis, out, name, func):
    """Apply a last-axis ``func`` along ``axis``; honour ``out``."""
    a, dtype = _float_input(x, name)
    if out is not None:
        _check_out(out, a.shape, dtype)
    ax = _normalize_axis(axis, a.ndim)
    result = np.moveaxis(func(np.moveaxis(a, ax, -1)), -1, ax).astype(dtype)
    if out is None:
        return result
    out[...] = result
    return out


def log_softmax(x, axis=-1, *, out=None, num_threads=None):
    """Logarithm of the softmax along `axis`.

    Parameters
    ----------
    x : array_like
    axis : int, optional
    out : ndarray, optional
        Written and returned; must have ``x``'s shape and the result dtype.
    num_threads : int, optional
        Ignored.

    Returns
    -------
    ndarray

    Notes
    -----
    A slice containing NaN or +inf, or all -inf, is NaN throughout (as
    torch; scipy.special.log_softmax gives ``[nan, -inf]`` for ``[inf, 0]``).

    Examples
    --------
    >>> log_softmax([0.0, 0.0])
    array([-0.69314718, -0.69314718])
    """
    return _along_axis(x, axis, out, "x", _log_softmax_last)


def softmax(x, axis=-1, *, out=None, num_threads=None):
    """Softmax along `axis`.

    Parameters
    ----------
    x : array_like
    axis : int, optional
    out : ndarray, optional
        Written and returned; must have ``x``'s shape and the result dtype.
    num_threads : int, optional
        Ignored.

    Returns
    -------
    ndarray

    Notes
    -----
    A slice containing NaN or +inf, or all -inf, is NaN throughout (as torch
    and scipy.special.softmax).

    Examples
    --------
    >>> softmax([0.0, 0.0])
    array([0.5, 0.5])
    """
    def last(z):
        with np.errstate(invalid="ignore"):
            return np.exp(_log_softmax_last(z))

    return _along_axis(x, axis, out, "x", last)


def logsumexp(x, axis=-1, *, num_threads=None):
    """``log(sum(exp(x)))`` along `axis`, without overflow.

    Parameters
    ----------
    x : array_like
    axis : int, optional
    num_threads : int, optional
        Ignored.

    Returns
    -------
    scalar or ndarray
        `axis` removed; a NumPy scalar for 1-D input.

    Notes
    -----
    NaN in a slice gives NaN, else any +inf gives +inf, and an all -inf or
    empty slice gives -inf (as scipy.special.logsumexp).

    Examples
    --------
    >>> logsumexp([0.0, 0.0])
    np.float64(0.693147...)
    """
    a, dtype = _float_input(x, "x")
    ax = _normalize_axis(axis, a.ndim)
    return _scalar_or_array(_logsumexp_last(np.moveaxis(a, ax, -1)), dtype)


# --------------------------------------------------------------------------
# information measures


def _check_non_negative(a, name):
    neg = a < 0
    if neg.any():
        pos = _first_position(neg)
        raise ValueError(f"{name} must be non-negative; {name}{list(pos)} = {a[pos]}")


def _log_base(base):
    if base is None:
        return 1.0
    base = float(base)
    if not (base > 0 and base != 1 and math.isfinite(base)):
        raise ValueError(f"base must be positive, finite and not 1, got {base}")
    return math.log(base)


def entropy(p, axis=-1, *, base=None):
    """Shannon entropy ``-sum p log p`` along `axis` (``0 log 0 = 0``).

    Parameters
    ----------
    p : array_like
        Non-negative values; **not** normalised (unlike
        ``scipy.stats.entropy``); equals ``scipy.special.entr(p).sum(axis)``.
    axis : int, optional
    base : float, optional
        Logarithm base; natural log by default.

    Returns
    -------
    scalar or ndarray

    Raises
    ------
    ValueError
        If `p` has a negative value (NaN propagates).

    Examples
    --------
    >>> entropy([0.5, 0.5], base=2)
    np.float64(1.0)
    """
    a, dtype = _float_input(p, "p")
    log_base = _log_base(base)
    ax = _normalize_axis(axis, a.ndim)
    _check_non_negative(a, "p")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(a == 0, 0.0, -a * np.log(a))
    return _scalar_or_array(np.sum(terms, axis=ax) / log_base, dtype)


def kl_divergence(p, q, axis=-1, *, base=None):
    """Kullback-Leibler divergence ``sum p log(p / q)`` along `axis`.

    Parameters
    ----------
    p, q : array_like
        Non-negative values, broadcastable against each other; not
        normalised (equals ``scipy.special.rel_entr(p, q).sum(axis)``).
    axis : int, optional
        Axis of the broadcast shape.
    base : float, optional
        Logarithm base; natural log by default.

    Returns
    -------
    scalar or ndarray
        A term is 0 where p = 0 and +inf where q = 0 < p.

    Raises
    ------
    ValueError
        If `p` or `q` has a negative value or they do not broadcast.

    Examples
    --------
    >>> kl_divergence([0.5, 0.5], [0.25, 0.75], base=2)
    np.float64(0.2075...)
    """
    a, dtype_p = _float_input(p, "p")
    b, dtype_q = _float_input(q, "q")
    dtype = np.result_type(dtype_p, dtype_q)
    log_base = _log_base(base)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(f"p of shape {a.shape} and q of shape {b.shape} "
                         "do not broadcast") from None
    a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    ax = _normalize_axis(axis, len(shape))
    _check_non_negative(a, "p")
    _check_non_negative(b, "q")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        ratio = a / b
        # log(p/q) is the accurate form; fall back to log p - log q where
        # the ratio over- or underflows.
        usable = np.isfinite(ratio) & (ratio >= np.finfo(np.float64).tiny)
        log_ratio = np.where(usable, np.log(ratio), np.log(a) - np.log(b))
        terms = np.where(a == 0, np.where(b >= 0, 0.0, np.nan),
                         np.where((b == 0) & (a > 0), np.inf, a * log_ratio))
    return _scalar_or_array(np.sum(terms, axis=ax) / log_base, dtype)


# --------------------------------------------------------------------------
# scikit-learn's log_loss


def log_loss(y_true, y_prob, *, sample_weight=None, normalize=True, labels=None):
    """Log loss of predicted probabilities, as ``sklearn.metrics.log_loss``.

    Parameters
    ----------
    y_true : array_like of shape (n_samples,)
        True labels (any sortable type).
    y_prob : array_like of shape (n_samples, n_classes) or (n_samples,)
        Probabilities, columns in sorted label order; 1-D means the
        probability of the larger label. Clipped to ``[eps, 1 - eps]`` with
        ``eps = np.finfo(dtype).eps``.
    sample_weight : array_like of shape (n_samples,), optional
    normalize : bool, optional
        Weighted mean if True, weighted sum otherwise.
    labels : array_like, optional
        All class labels, when `y_true` lacks some.

    Returns
    -------
    scalar

    Raises
    ------
    ValueError
        As scikit-learn: bad probabilities, length mismatches, fewer than two
        classes, labels missing from `labels`, or a column count that does
        not match the number of classes. Rows not summing to 1 warn
        (UserWarning). Unlike scikit-learn, `y_true` must be 1-D labels
        (no indicator matrix).

    Examples
    --------
    >>> log_loss(["spam", "ham", "ham", "spam"],
    ...          [[.1, .9], [.9, .1], [.8, .2], [.35, .65]])
    np.float64(0.21616...)
    """
    prob, dtype = _float_input(y_prob, "y_prob")
    if prob.ndim not in (1, 2):
        raise ValueError(f"y_prob must be 1-D or 2-D, got {prob.ndim}-D")
    if prob.shape[0] == 0:
        raise ValueError("y_prob has 0 samples; at least one is required")
    if not np.all(np.isfinite(prob)):
        raise ValueError("y_prob contains NaN or infinity")
    if prob.max() > 1:
        raise ValueError(f"y_prob contains values greater than 1: {prob.max()}")
    if prob.min() < 0:
        raise ValueError(f"y_prob contains values lower than 0: {prob.min()}")
    eps = float(np.finfo(dtype).eps)

    truth = np.asarray(y_true)
    if truth.ndim != 1:
        raise ValueError(f"y_true must be 1-D class labels, got shape {truth.shape}")
    n = prob.shape[0]
    if truth.shape[0] != n:
        raise ValueError(f"y_true has {truth.shape[0]} samples but y_prob has {n}")
    sw = None
    if sample_weight is not None:
        sw, _ = _float_input(sample_weight, "sample_weight")
        if sw.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
        if np.all(sw == 0):
            raise ValueError("sample_weight must contain at least one non-zero number")
    if truth.dtype.kind == "f" and np.any(truth != np.round(truth)):
        raise ValueError("y_true must be class labels, got continuous values")

    if labels is not None:
        classes = np.unique(np.asarray(labels))
        if not np.array_equal(classes, np.asarray(labels)):
            warnings.warn(
                f"labels passed were {labels} but log_loss assumes they are sorted; "
                f"the columns of y_prob must follow {classes.tolist()}",
                UserWarning, stacklevel=2)
        if not np.all(np.isin(truth, classes)):
            missing = sorted(set(truth.tolist()) - set(classes.tolist()))
            raise ValueError(f"y_true contains values {missing} not in labels {labels}")
        if classes.size < 2:
            raise ValueError(
                f"labels must contain at least two labels, got {classes.tolist()}")
    else:
        classes = np.unique(truth)
        if classes.size < 2:
            raise ValueError(
                f"y_true contains only one label ({classes[0]}); pass all "
                "expected class labels through the labels argument")

    # Column index of each sample's true class: one gather, no one-hot.
    col = np.searchsorted(classes, truth)
    if prob.ndim == 1 or prob.shape[1] == 1:
        # One column: the probability of the larger label; [1 - p, p] sums to 1.
        pos = prob.reshape(-1)
        n_cols, sums_to_one = 2, True
        picked = np.where(col == 1, pos, 1.0 - pos)
    else:
        n_cols, picked = prob.shape[1], None
        sums_to_one = np.all(np.isclose(prob.sum(axis=1), 1.0,
                                        rtol=math.sqrt(eps), atol=1e-8))
    if not sums_to_one:
        warnings.warn(
            "The y_prob values do not sum to one. Make sure to pass probabilities.",
            UserWarning, stacklevel=2)
    if n_cols != classes.size:
        if labels is None:
            raise ValueError(
                f"y_true and y_prob contain different numbers of classes: "
                f"{classes.size} vs {n_cols}; pass the labels argument. "
                f"Classes in y_true: {classes.tolist()}")
        raise ValueError(
            f"labels has {classes.size} classes but y_prob has {n_cols} columns")
    if picked is None:
        picked = prob[np.arange(n), col]
    loss = -np.log(np.clip(picked, eps, 1.0 - eps))
    if sw is None:
        total = np.mean(loss) if normalize else np.sum(loss)
    elif normalize:
        scale = np.sum(sw)
        if scale == 0:
            raise ZeroDivisionError("sample_weight sums to zero, can't be normalized")
        total = np.dot(loss, sw) / scale
    else:
        total = np.dot(loss, sw)
    return dtype.type(total)
