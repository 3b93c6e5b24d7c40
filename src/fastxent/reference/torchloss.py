"""Twins of :func:`fastxent.nll_loss` and :func:`fastxent.kl_div`."""
import numpy as np

from ._common import check_int, check_num_threads, float_input, normalize_axis, scalar_or_array

_KL = ("mean", "batchmean", "sum", "none")


def nll_loss(log_probs, target, *, axis=-1, weight=None, ignore_index=-100, reduction="mean",
             num_threads=None):
    """``torch.nn.functional.nll_loss`` with the class axis `axis`: a one-hot
    mask (an N x C temporary) picks ``-weight[t] * log_probs[t]``.

    Parameters
    ----------
    log_probs : array_like
    target : array_like of integers
    axis : int, optional
    weight : array_like of shape (C,), optional
    ignore_index : int, optional
    reduction : {"mean", "sum", "none"}, optional
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

    Returns
    -------
    scalar or ndarray

    Examples
    --------
    >>> nll_loss(np.log([[0.25, 0.75]]), [1])
    np.float64(0.287682...)
    """
    x, dtype = float_input(log_probs, "log_probs")
    if x.ndim == 0:
        raise ValueError("log_probs: expected at least 1 dimension (the class axis), got a scalar")
    ax = normalize_axis(axis, x.ndim)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction: expected one of ('mean', 'sum', 'none'), got {reduction!r}")
    ignore = check_int(ignore_index, "ignore_index")
    check_num_threads(num_threads)
    t = np.asarray(target)
    if t.dtype.kind not in "iu":
        raise ValueError(f"target: expected integer class indices, got dtype {t.dtype}")
    z = np.moveaxis(x, ax, -1)
    if t.shape != z.shape[:-1]:
        raise ValueError(f"target: expected shape {z.shape[:-1]}, got {t.shape}")
    n_classes = z.shape[-1]
    keep = t != ignore
    if np.any(keep & ((t < 0) | (t >= n_classes))):
        raise IndexError("target: class index outside [0, C) and not ignore_index")
    onehot = (np.arange(n_classes) == np.where(keep, t, -1)[..., None])
    w = np.ones(n_classes) if weight is None else float_input(weight, "weight")[0]
    if w.shape != (n_classes,):
        raise ValueError(f"weight: expected shape ({n_classes},) (one per class), got {w.shape}")
    coef = onehot * w                      # weight of the picked class, else 0
    with np.errstate(invalid="ignore"):
        loss = -np.sum(np.where(coef == 0, 0.0, coef * z), axis=-1)
    if reduction == "none":
        return np.asarray(loss, dtype=np.float64).astype(dtype)
    if reduction == "sum":
        return scalar_or_array(np.sum(loss), dtype)
    count = np.sum(coef)
    return scalar_or_array(np.sum(loss) / count if count != 0 else np.nan, dtype)


def kl_div(input, target, *, reduction="mean", log_target=False, num_threads=None):
    """``torch.nn.functional.kl_div`` of log-probabilities `input`.

    Parameters
    ----------
    input : array_like
    target : array_like
    reduction : {"mean", "batchmean", "sum", "none"}, optional
    log_target : bool, optional
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

    Returns
    -------
    scalar or ndarray

    Examples
    --------
    >>> kl_div(np.log([[0.5, 0.5]]), [[0.25, 0.75]], reduction="batchmean")
    np.float64(0.130812...)
    """
    x, dx = float_input(input, "input")
    y, dy = float_input(target, "target")
    dtype = np.result_type(dx, dy)
    if reduction not in _KL:
        raise ValueError(f"reduction: expected one of {_KL}, got {reduction!r}")
    check_num_threads(num_threads)
    if not isinstance(log_target, (bool, np.bool_)):
        raise ValueError(f"log_target: expected a bool, got {log_target!r}")
    try:
        x, y = np.broadcast_arrays(x, y)
    except ValueError:
        raise ValueError(f"target: shape {y.shape} does not broadcast against input's "
                         f"shape {x.shape}") from None
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if log_target:
            p = np.exp(y)
            point = p * y - p * x
        else:
            # torch: t log t is 0 at t = 0, NaN below; minus t * input as is
            t_log_t = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0)),
                               np.where(y == 0, 0.0, np.nan))
            point = t_log_t - y * x
    if reduction == "none":
        return np.asarray(point).astype(dtype)
    if reduction == "sum" or (reduction == "batchmean" and point.ndim == 0):
        return scalar_or_array(np.sum(point), dtype)
    n = point.shape[0] if reduction == "batchmean" else point.size
    return scalar_or_array(np.sum(point) / n if n else np.nan, dtype)
