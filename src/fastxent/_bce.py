"""Binary cross-entropy, from logits and from probabilities."""
from __future__ import annotations

import numpy as np

from . import _half, _kernels
from ._threads import resolve as _resolve_threads
from ._args import check_fraction, check_reduction
from ._arrays import (as_array, as_float_array, c_contiguous, compute_dtype, merged_broadcast,
                      same_storage)
from ._outputs import check_out, contiguous_buffer, deliver, finish, raise_status


def _prepare(first, target, first_name, weight, pos_weight, grad_out):
    """Common checks: (x, y, L, weight Broadcast, pos_weight Broadcast,
    compute dtype, grad_out, half grad_out). Half x and y are read as
    stored; weights are in the compute dtype."""
    x = as_float_array(first, first_name, keep_half=True)
    dt = compute_dtype(x.dtype)
    t = as_array(target, "target")
    if t.shape != x.shape:
        raise ValueError(
            f"target: expected the {first_name}' shape {x.shape}, got {t.shape}")
    y, x = same_storage(t, x, dt)
    x, y = c_contiguous(x), c_contiguous(y)
    L = x.shape[-1] if x.ndim else 1
    wv = merged_broadcast(weight, "weight", x.shape, dt)
    pwv = merged_broadcast(pos_weight, "pos_weight", x.shape, dt)
    half_out = None
    if dt is not x.dtype:
        grad_out, half_out = _half.check_half_out(grad_out, x.dtype, "grad_out")
    inputs = ((first_name, first), ("target", target), ("weight", weight),
              ("pos_weight", pos_weight))
    if half_out is not None:
        check_out(half_out, x.shape, half_out.dtype, inputs, aligned=False)
    if grad_out is not None:
        # a misaligned grad_out is filled through a temporary
        check_out(grad_out, x.shape, dt, inputs, aligned=False)
    return x, y, L, wv, pwv, dt, grad_out, half_out


def _delivered(grad, grad_out, half_out):
    if half_out is not None:
        return _half.round_into(half_out, grad)
    return deliver(grad, grad_out)


def binary_cross_entropy_with_logits(logits, target, *, weight=None, pos_weight=None,
                                     label_smoothing=0.0, reduction="mean",
                                     num_threads=None, return_grad=False, grad_out=None):
    """Binary cross-entropy from logits, element-wise over any shape.

    ``l = w [(1 - y) softplus(x) + pw y softplus(-x)]``, algebraically
    PyTorch's ``(1 - y) x + (1 + (pw - 1) y) softplus(-x)`` but exact for
    extreme inputs: x = +-inf gives the limit (0 or +inf, never NaN, also with
    `pos_weight`), and tiny losses are not flushed (x = -20, y = 0 gives
    2.06e-9 in float32, where PyTorch's float32 gives 0 from x = -17 on).

    Parameters
    ----------
    logits : array_like, float16/float32/float64
    target : array_like of the same shape
        Targets in [0, 1] (n-hot labels or probabilities; not checked).
    weight : array_like, optional
        Broadcast to the input's shape.
    pos_weight : array_like, optional
        Weight of the positive term, broadcast along the last axis (one per
        class), as in PyTorch.
    label_smoothing : float in [0, 1], default 0
        a: targets become ``y (1 - a) + a / 2`` (Keras' convention).
    reduction : {"mean", "sum", "none"}
        "mean" divides by the number of elements (NaN for an empty input).
    num_threads : int, optional
    return_grad : bool, default False
        Also return d(loss)/d(logits) from the same pass (for "none": the
        gradient of the sum of the losses).
    grad_out : ndarray, optional
        Preallocated gradient buffer (shape of `logits`, compute dtype).

    Returns
    -------
    loss : numpy scalar or ndarray of the logits' shape
    grad : ndarray, only with `return_grad` or `grad_out`

    Examples
    --------
    >>> import numpy as np, fastxent
    >>> x = np.array([[np.inf, -np.inf, -20.0]], dtype=np.float32)
    >>> y = np.array([[1.0, 0.0, 0.0]], dtype=np.float32)
    >>> fastxent.binary_cross_entropy_with_logits(x, y, reduction="none")
    array([[0.0000000e+00, 0.0000000e+00, 2.0611537e-09]], dtype=float32)
    """
    red = check_reduction(reduction)
    a = check_fraction(label_smoothing, "label_smoothing")
    nthreads = _resolve_threads(num_threads)
    want_grad = bool(return_grad) or grad_out is not None
    x, y, L, wv, pwv, dt, grad_out, half_out = _prepare(logits, target, "logits", weight,
                                                       pos_weight, grad_out)
    n = x.size
    loss_out = np.empty(x.shape, dtype=dt) if red == "none" else None
    grad = contiguous_buffer(grad_out, x, dt) if want_grad else None
    scale = 1.0 / n if (red == "mean" and n) else 1.0
    status, total = _kernels.bce(x, y, L, *wv, *pwv, a, loss_out, grad, scale, False, nthreads)
    raise_status(status, ())
    loss = finish(red, total, n, loss_out, dt)
    if not want_grad:
        return loss
    return loss, _delivered(grad, grad_out, half_out)


def binary_cross_entropy(probs, target, *, weight=None, reduction="mean",
                         num_threads=None, return_grad=False, grad_out=None):
    """Binary cross-entropy from probabilities, with PyTorch's semantics.

    ``l = -w [y max(log p, -100) + (1 - y) max(log(1 - p), -100)]``.

    Parameters
    ----------
    probs : array_like, float16/float32/float64, values in [0, 1]
    target : array_like of the same shape, values in [0, 1]
    weight : array_like, optional
        Broadcast to the input's shape.
    reduction : {"mean", "sum", "none"}
    num_threads : int, optional
    return_grad : bool, default False
        Also return d(loss)/d(probs), PyTorch's
        ``w (p - y) / max(p (1 - p), 1e-12)``. The gradient is written by a
        second pass over the inputs once they are known to be valid.
    grad_out : ndarray, optional
        Preallocated gradient buffer.

    Raises
    ------
    ValueError
        A probability or target outside [0, 1] or NaN; the message names the
        first bad value and its index. Nothing is returned or written then.

    Examples
    --------
    >>> import numpy as np, fastxent
    >>> p = np.array([0.9, 0.2, 0.0])
    >>> y = np.array([1.0, 0.0, 1.0])
    >>> fastxent.binary_cross_entropy(p, y, reduction="none")
    array([  0.10536052,   0.22314355, 100.        ])
    """
    red = check_reduction(reduction)
    nthreads = _resolve_threads(num_threads)
    want_grad = bool(return_grad) or grad_out is not None
    x, y, L, wv, _, dt, grad_out, half_out = _prepare(probs, target, "probs", weight, None,
                                                     grad_out)
    n = x.size
    loss_out = np.empty(x.shape, dtype=dt) if red == "none" else None
    status, total = _kernels.bce(x, y, L, *wv, None, (0, 0, 0), 0.0, loss_out, None, 1.0,
                                 True, nthreads)
    if status[0]:
        raise_status(status, (("probs", _half.shown(x)), ("target", _half.shown(y))))
    loss = finish(red, total, n, loss_out, dt)
    if not want_grad:
        return loss
    grad = contiguous_buffer(grad_out, x, dt)
    scale = 1.0 / n if (red == "mean" and n) else 1.0
    raise_status(_kernels.bce(x, y, L, *wv, None, (0, 0, 0), 0.0, None, grad, scale, True,
                              nthreads)[0], ())
    return loss, _delivered(grad, grad_out, half_out)
