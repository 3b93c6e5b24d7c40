"""torch's other loss entry points: nll_loss on log-probabilities and
kl_div, in vectorised NumPy (neither is a row reduction the kernels do:
nll_loss reads one element per row, kl_div is elementwise)."""
from __future__ import annotations

import numpy as np

from ._args import check_int, normalize_axis
from ._arrays import as_float_array, labels_as_int64
from ._outputs import BAD_LABEL, raise_status
from ._threads import resolve as _resolve_threads

_KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")
_NLL_REDUCTIONS = ("mean", "sum", "none")


def _reduction(reduction, allowed):
    if reduction not in allowed:
        raise ValueError(f"reduction: expected one of {allowed}, got {reduction!r}")
    return reduction


def nll_loss(log_probs, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
             num_threads=None):
    """Negative log-likelihood ``-weight[t] * log_probs[..., t, ...]``, as
    ``torch.nn.functional.nll_loss``.

    Reads one element per row (a gather in NumPy, no N x C temporary):
    ``cross_entropy`` is this applied to ``log_softmax(logits)`` in one pass.

    Parameters
    ----------
    log_probs : array_like, float16/float32/float64 (float16 computed in float32)
        Log-probabilities with the class axis `axis`.
    target : array_like of integers
        Class indices, `log_probs`' shape without `axis`.
    axis : int, default -1
        The class axis. torch's is dimension 1 of an (N, C, d1, ...) input:
        pass ``axis=1`` for those.
    weight : array_like of shape (C,), optional
        Per-class rescaling weight.
    ignore_index : int, default -100
        Targets equal to it contribute 0 and are not counted in the mean.
    reduction : {"mean", "sum", "none"}
        "mean" divides by the sum of ``weight[target]`` over the counted
        rows; nothing counted gives NaN (as torch).
    num_threads : int, optional
        Validated as everywhere, then unused (one thread of NumPy).

    Returns
    -------
    numpy scalar, or an ndarray of `target`'s shape for "none"

    Examples
    --------
    >>> import numpy as np, fastxent
    >>> float(fastxent.nll_loss(np.log([[0.25, 0.75]]), [1]))  # doctest: +ELLIPSIS
    0.2876...
    """
    x = as_float_array(log_probs, "log_probs")
    if x.ndim == 0:
        raise ValueError("log_probs: expected at least 1 dimension (the class axis), got a scalar")
    ax = normalize_axis(axis, x.ndim)
    red = _reduction(reduction, _NLL_REDUCTIONS)
    _resolve_threads(num_threads)
    ignore = check_int(ignore_index, "ignore_index")
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        raise ValueError(f"target: expected integer class indices, got dtype {t.dtype}")
    rows_shape = x.shape[:ax] + x.shape[ax + 1:]
    if t.shape != rows_shape:
        raise ValueError(f"target: expected shape {rows_shape}, got {t.shape}")
    C = x.shape[ax]
    labels = labels_as_int64(t).reshape(t.shape)   # 0-d stays 0-d
    ignored = labels == ignore
    bad = np.flatnonzero(~ignored & ((labels < 0) | (labels >= C)))
    if bad.size:
        raise_status((BAD_LABEL, 0, int(bad[0])), (("target", t),), C=C, ignore_index=ignore)
    safe = np.where(ignored, 0, labels)
    picked = np.take_along_axis(x, np.expand_dims(safe, ax), axis=ax).squeeze(ax)
    if weight is None:
        w = np.where(ignored, 0.0, 1.0)
    else:
        wc = np.ascontiguousarray(as_float_array(weight, "weight", x.dtype))
        if wc.shape != (C,):
            raise ValueError(f"weight: expected shape ({C},) (one per class), got {wc.shape}")
        w = np.where(ignored, 0.0, wc[safe].astype(np.float64))
    with np.errstate(invalid="ignore"):
        loss = np.where(w == 0, 0.0, -w * picked)     # an ignored row never leaks NaN
    if red == "none":
        return loss.astype(x.dtype)
    total = float(np.sum(loss, dtype=np.float64))
    if red == "sum":
        return x.dtype.type(total)
    denom = float(np.sum(w, dtype=np.float64))
    return x.dtype.type(total / denom if denom != 0 else np.nan)


def kl_div(input, target, *, reduction="mean", log_target=False, num_threads=None):
    """``torch.nn.functional.kl_div``: pointwise ``target * (log(target) -
    input)`` with `input` log-probabilities (``exp(target) * (target -
    input)`` with `log_target`), then reduced.

    Elementwise in vectorised NumPy (float64 arithmetic, one temporary of
    the broadcast shape); ``kl_divergence(p, q)`` is the row kernel for
    probabilities.

    Parameters
    ----------
    input : array_like, float16/float32/float64 (float16 computed in float32)
        Log-probabilities.
    target : array_like, broadcastable against `input`
        Probabilities, or log-probabilities with `log_target`.
    reduction : {"mean", "batchmean", "sum", "none"}, default "mean"
        "mean" averages over every element (torch's default, which is not
        the KL divergence); "batchmean" divides the sum by the size of the
        first dimension (the mathematical KL divergence per sample).
    log_target : bool, default False
    num_threads : int, optional
        Validated as everywhere, then unused (one thread of NumPy).

    Returns
    -------
    numpy scalar, or an ndarray of the broadcast shape for "none"

    Notes
    -----
    torch's conventions exactly: a zero target contributes ``0 - 0 *
    input`` (NaN where `input` is -inf), a negative target gives NaN.

    Examples
    --------
    >>> import numpy as np, fastxent
    >>> float(fastxent.kl_div(np.log([[0.5, 0.5]]), [[0.25, 0.75]], reduction="batchmean"))
    ... # doctest: +ELLIPSIS
    0.1308...
    """
    x = as_float_array(input, "input")
    y = as_float_array(target, "target")
    red = _reduction(reduction, _KL_REDUCTIONS)
    _resolve_threads(num_threads)
    if not isinstance(log_target, (bool, np.bool_)):
        raise ValueError(f"log_target: expected a bool, got {log_target!r}")
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ValueError(f"target: shape {y.shape} does not broadcast against input's "
                         f"shape {x.shape}") from None
    dt = np.result_type(x.dtype, y.dtype)
    a, b = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if log_target:
            point = np.exp(b) * (b - a)
        else:   # torch's xlogy(t, t) - t * input: xlogy(0, 0) = 0
            point = np.where(b == 0, 0.0, b * np.log(b)) - b * a
    point = np.broadcast_to(point, shape)
    if red == "none":
        return point.astype(dt)
    total = float(np.sum(point, dtype=np.float64))
    if red == "sum" or (red == "batchmean" and len(shape) == 0):
        return dt.type(total)
    n = shape[0] if red == "batchmean" else point.size
    return dt.type(total / n if n else np.nan)
