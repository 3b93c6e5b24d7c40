"""scikit-learn's log loss, with its checks in its order, over one kernel pass."""
from __future__ import annotations

import math
import warnings

import numpy as np

from . import _kernels
from . import _half
from ._arrays import INT64, as_array, as_float_array, compute_dtype
from ._outputs import raise_status
from ._threads import resolve as _resolve_threads

_LUT_MAX = 1 << 20


def _label_columns(truth, labels, n):
    """(sorted classes, column of each sample's class or -1, found mask).

    Integer labels spanning a modest range use a lookup table (linear time);
    anything else sorts (np.unique + searchsorted), as scikit-learn does.
    """
    if truth.shape[0] != n or truth.size == 0:
        classes = np.unique(labels) if labels is not None else truth[:0]
        return classes, np.full(n, -1, dtype=INT64), np.zeros(n, dtype=bool)
    ints = truth.dtype.kind in "iu" and (labels is None or labels.dtype.kind in "iu")
    if ints:
        lo, hi = int(truth.min()), int(truth.max())
        if labels is not None and labels.size:
            lo, hi = min(lo, int(labels.min())), max(hi, int(labels.max()))
        # one dtype that holds every value exactly (int8 - lo wraps, uint8 -
        # (-1) overflows, uint64 and int64 together promote to float64)
        wide = (INT64 if -2**63 <= lo and hi < 2**63
                else np.dtype(np.uint64) if lo >= 0 else np.dtype(object))
        truth = truth.astype(wide, copy=False)
        if labels is not None:
            labels = labels.astype(wide, copy=False)
        if wide == INT64 and hi - lo < _LUT_MAX:
            shifted = (truth - lo).astype(np.intp, copy=False)
            if labels is None:
                present = np.bincount(shifted, minlength=hi - lo + 1) > 0
            else:
                present = np.zeros(hi - lo + 1, dtype=bool)
                present[(labels.reshape(-1) - lo).astype(np.intp)] = True
            classes = np.flatnonzero(present).astype(INT64) + lo
            lut = np.cumsum(present, dtype=INT64) - 1
            lut[~present] = -1
            col = lut[shifted]
            return classes, col, col >= 0
    classes = np.unique(labels) if labels is not None else np.unique(truth)
    if not classes.size:
        return classes, np.full(n, -1, dtype=INT64), np.zeros(n, dtype=bool)
    col = np.searchsorted(classes, truth).astype(INT64)
    col[col >= classes.size] = -1
    found = col >= 0
    found[found] = classes[col[found]] == truth[found]
    col[~found] = -1
    return classes, col, found


def log_loss(y_true, y_proba=None, *, normalize=True, sample_weight=None, labels=None,
             y_pred="deprecated", num_threads=None):
    """Log loss (logistic loss) with ``sklearn.metrics.log_loss`` semantics.

    Computed without a one-hot matrix: the true class's probability is
    gathered once per row, in the same read that checks the row.

    Parameters
    ----------
    y_true : array_like of shape (n_samples,), (n_samples, 1) or (n_samples, n_classes)
        True labels (any sortable type), a column of them, or a multilabel
        indicator matrix of 0/1 (as scikit-learn; that one is computed in
        NumPy with an n_samples x n_classes temporary, not by the kernel).
    y_proba : array_like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in sorted label order; 1-D means the
        probability of the larger label. Clipped to ``[eps, 1 - eps]`` with
        eps the machine epsilon of its dtype (float16's for float16 input,
        whose logs are then taken in float32: scikit-learn's in float16).
    normalize : bool, default True
        Weighted mean if True, weighted sum otherwise.
    sample_weight : array_like of shape (n_samples,), optional
    labels : array_like, optional
        All class labels, when `y_true` lacks some.
    y_pred : array_like, deprecated
        scikit-learn's name before 1.9: accepted with its FutureWarning;
        passing both is a ValueError.
    num_threads : int, optional

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As scikit-learn: values outside [0, 1] or not finite, length
        mismatches, fewer than two classes, labels missing from `labels`, a
        column count that does not match the classes. Rows that do not sum
        to 1 warn (UserWarning).

    Examples
    --------
    >>> import fastxent
    >>> round(fastxent.log_loss(["spam", "ham", "ham", "spam"],
    ...       [[.1, .9], [.9, .1], [.8, .2], [.35, .65]]), 5)
    0.21616
    """
    if not (isinstance(y_pred, str) and y_pred == "deprecated"):
        if y_proba is not None:
            raise ValueError("y_pred: cannot be used with y_proba; y_pred is deprecated "
                             "(scikit-learn 1.9), use y_proba")
        warnings.warn("`y_pred` was renamed to `y_proba` in scikit-learn 1.9; use `y_proba`",
                      FutureWarning, stacklevel=2)
        y_proba = y_pred
    if y_proba is None:
        raise ValueError("y_proba: expected an array of probabilities, got None")
    src = as_array(y_proba, "y_proba")
    # clipped at the eps of the input's own dtype (scikit-learn's
    # np.finfo(y_proba.dtype).eps), halves included
    eps = _HALF_EPS.get(_half.half_kind(src.dtype))
    truth = np.asarray(y_true)
    if truth.ndim == 2 and truth.shape[1] == 1:
        truth = truth[:, 0]                  # a column of labels
    elif truth.ndim == 2:
        return _multilabel(truth, src, eps, sample_weight, normalize, labels)
    return float(_log_loss(truth, src, sample_weight, normalize, labels, num_threads, eps))


def _multilabel(truth, src, eps, sample_weight, normalize, labels):
    """log loss of a multilabel indicator y_true: -sum_j T_ij log p_ij per row."""
    if labels is not None:
        raise ValueError("labels: not supported with a multilabel indicator y_true")
    prob = as_float_array(src, "y_proba")
    if prob.ndim == 1:
        prob = prob[:, None]
    if prob.ndim != 2 or prob.shape[0] == 0:
        raise ValueError(f"y_proba: expected a non-empty 1-D or 2-D array, got shape {prob.shape}")
    if prob.shape[1] == 1:
        prob = np.concatenate([1 - prob, prob], axis=1)
    eps = float(np.finfo(prob.dtype).eps) if eps is None else eps
    if not np.isfinite(prob).all():
        raise ValueError("y_proba: contains NaN or infinity")
    if prob.max() > 1:
        raise ValueError(f"y_proba: contains values greater than 1: {prob.max()}")
    if prob.min() < 0:
        raise ValueError(f"y_proba: contains values lower than 0: {prob.min()}")
    n = prob.shape[0]
    if truth.shape[0] != n:
        raise ValueError(f"y_true: has {truth.shape[0]} samples but y_proba has {n}")
    if not np.isin(truth, (0, 1)).all():
        raise ValueError("y_true: a 2-D y_true must be a multilabel indicator of 0/1, "
                         f"got values {np.unique(truth)[:5].tolist()}")
    sw = None
    if sample_weight is not None:
        sw = as_float_array(sample_weight, "sample_weight", prob.dtype)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight: expected shape ({n},), got {sw.shape}")
    if not np.isclose(prob.sum(axis=1), 1, rtol=math.sqrt(eps)).all():
        warnings.warn(
            "The y_prob values do not sum to one. Make sure to pass probabilities.",
            UserWarning, stacklevel=3)
    if prob.shape[1] != truth.shape[1]:
        raise ValueError(f"y_true and y_proba contain different numbers of classes: "
                         f"{truth.shape[1]} vs {prob.shape[1]}")
    loss = -np.sum(truth * np.log(np.clip(prob, eps, 1 - eps)), axis=1, dtype=np.float64)
    if sw is None:
        return float(loss.mean() if normalize else loss.sum())
    return float(np.average(loss, weights=sw) if normalize else np.dot(loss, sw))


_HALF_EPS = {"float16": float(np.finfo(np.float16).eps), "bfloat16": 2.0 ** -7}


def _log_loss(y_true, y_prob, sample_weight, normalize, labels, num_threads, eps):
    prob = as_float_array(y_prob, "y_proba", keep_half=True)
    if prob.ndim not in (1, 2):
        raise ValueError(f"y_proba: expected 1-D or 2-D, got {prob.ndim}-D")
    n = prob.shape[0]
    if n == 0:
        raise ValueError("y_proba: has 0 samples; at least one is required")
    dt = compute_dtype(prob.dtype)
    eps = float(np.finfo(dt).eps) if eps is None else eps
    nthreads = _resolve_threads(num_threads)

    truth = y_true
    if truth.ndim != 1:
        raise ValueError(f"y_true: expected 1-D class labels, got shape {truth.shape}")
    # classes and the column of each sample's class (before the range checks,
    # which read y_prob in the same kernel pass)
    lab = np.asarray(labels) if labels is not None else None
    classes, col, found = _label_columns(truth, lab, n)

    sw = None
    if sample_weight is not None:
        sw = np.ascontiguousarray(as_float_array(sample_weight, "sample_weight", dt))

    p2 = prob if prob.ndim == 2 else prob.reshape(n, 1)
    if p2.shape[1] > 1:
        col[col >= p2.shape[1]] = -1   # a column count error is raised below
    isz = p2.itemsize
    status, total, lo, hi, not_close = _kernels.logloss(
        p2, n, p2.shape[1], (p2.strides[0] // isz, p2.strides[1] // isz, 0), col,
        sw if (sw is not None and sw.shape == (n,)) else None,
        eps, math.sqrt(eps), 1e-8, nthreads)
    raise_status(status, ())

    # scikit-learn's order of checks
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("y_proba: contains NaN or infinity")
    if hi > 1:
        raise ValueError(f"y_proba: contains values greater than 1: {hi}")
    if lo < 0:
        raise ValueError(f"y_proba: contains values lower than 0: {lo}")
    if truth.shape[0] != n:
        raise ValueError(f"y_true: has {truth.shape[0]} samples but y_proba has {n}")
    if sw is not None:
        if sw.shape != (n,):
            raise ValueError(f"sample_weight: expected shape ({n},), got {sw.shape}")
        if not np.isfinite(sw).all():   # scikit-learn's check_array rejects them too
            raise ValueError("sample_weight: contains NaN or infinity")
        if not np.any(sw):
            raise ValueError("sample_weight: must contain at least one non-zero number")
    if truth.dtype.kind == "f" and np.any(truth != np.round(truth)):
        raise ValueError("y_true: expected class labels, got continuous values")
    if labels is not None:
        if not np.array_equal(classes, lab):
            warnings.warn(
                f"labels passed were {labels} but log_loss assumes they are sorted; "
                f"the columns of y_proba must follow {classes.tolist()}",
                UserWarning, stacklevel=3)
        if not found.all():
            missing = sorted(set(truth[~found].tolist()))
            raise ValueError(f"y_true: contains values {missing} not in labels {labels}")
        if classes.size < 2:
            raise ValueError(
                f"labels: must contain at least two labels, got {classes.tolist()}")
    elif classes.size < 2:
        raise ValueError(
            f"y_true: contains only one label ({classes[0]}); pass all expected "
            "class labels through the labels argument")
    n_cols = 2 if p2.shape[1] == 1 else p2.shape[1]
    if not_close:
        warnings.warn(
            "The y_prob values do not sum to one. Make sure to pass probabilities.",
            UserWarning, stacklevel=3)
    if n_cols != classes.size:
        if labels is None:
            raise ValueError(
                f"y_true and y_proba contain different numbers of classes: "
                f"{classes.size} vs {n_cols}; pass the labels argument. "
                f"Classes in y_true: {classes.tolist()}")
        raise ValueError(
            f"labels: has {classes.size} classes but y_proba has {n_cols} columns")
    if sw is None:
        res = total / n if normalize else total
    elif normalize:
        res = total / float(np.sum(sw, dtype=np.float64))
    else:
        res = total
    return dt.type(res)
