"""Twin of :func:`fastxent.log_loss` (scikit-learn's ``log_loss``)."""
import math
import warnings

import numpy as np

from ._common import as_numpy, check_num_threads, float_input, is_bfloat16


def _check_prob(prob):
    if prob.ndim not in (1, 2):
        raise ValueError(f"y_proba: expected 1-D or 2-D, got {prob.ndim}-D")
    if prob.shape[0] == 0:
        raise ValueError("y_proba: has 0 samples; at least one is required")


def _check_values(prob):
    if not np.all(np.isfinite(prob)):
        raise ValueError("y_proba: contains NaN or infinity")
    if prob.max() > 1:
        raise ValueError(f"y_proba: contains values greater than 1: {prob.max()}")
    if prob.min() < 0:
        raise ValueError(f"y_proba: contains values lower than 0: {prob.min()}")


def _check_weight(sample_weight, n):
    if sample_weight is None:
        return None
    sw, _ = float_input(sample_weight, "sample_weight")
    if sw.shape != (n,):
        raise ValueError(f"sample_weight: expected shape ({n},), got {sw.shape}")
    if not np.all(np.isfinite(sw)):
        raise ValueError("sample_weight: contains NaN or infinity")
    if np.all(sw == 0):
        raise ValueError("sample_weight: must contain at least one non-zero number")
    return sw


def _classes(truth, labels):
    """The sorted classes, from `labels` when given (checked as scikit-learn)."""
    if labels is None:
        classes = np.unique(truth)
        if classes.size < 2:
            raise ValueError(
                f"y_true: contains only one label ({classes[0]}); pass all expected "
                "class labels through the labels argument")
        return classes
    classes = np.unique(np.asarray(labels))
    if not np.array_equal(classes, np.asarray(labels)):
        warnings.warn(
            f"labels passed were {labels} but log_loss assumes they are sorted; "
            f"the columns of y_proba must follow {classes.tolist()}",
            UserWarning, stacklevel=3)
    if not np.all(np.isin(truth, classes)):
        missing = sorted(set(truth.tolist()) - set(classes.tolist()))
        raise ValueError(f"y_true: contains values {missing} not in labels {labels}")
    if classes.size < 2:
        raise ValueError(f"labels: must contain at least two labels, got {classes.tolist()}")
    return classes


def log_loss(y_true, y_proba=None, *, normalize=True, sample_weight=None, labels=None,
             y_pred="deprecated", num_threads=None):
    """Log loss of predicted probabilities, as ``sklearn.metrics.log_loss``.

    Parameters
    ----------
    y_true : array_like of shape (n_samples,), (n_samples, 1) or (n_samples, n_classes)
        True labels (any sortable type), a column of them, or a 0/1
        multilabel indicator matrix.
    y_proba : array_like of shape (n_samples, n_classes) or (n_samples,)
        Probabilities, columns in sorted label order; 1-D means the
        probability of the larger label. Clipped to ``[eps, 1 - eps]`` with
        ``eps = np.finfo(dtype).eps`` of its own float dtype (float16's too).
    sample_weight : array_like of shape (n_samples,), optional
    normalize : bool, optional
        Weighted mean if True, weighted sum otherwise.
    labels : array_like, optional
        All class labels, when `y_true` lacks some.
    y_pred : array_like, deprecated
        scikit-learn's old name: accepted with a FutureWarning.
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As scikit-learn: bad probabilities, length mismatches, fewer than two
        classes, labels missing from `labels`, or a column count that does
        not match the number of classes. Rows not summing to 1 warn
        (UserWarning).

    Examples
    --------
    >>> log_loss(["spam", "ham", "ham", "spam"],
    ...          [[.1, .9], [.9, .1], [.8, .2], [.35, .65]])
    0.21616...
    """
    if not (isinstance(y_pred, str) and y_pred == "deprecated"):
        if y_proba is not None:
            raise ValueError("y_pred: cannot be used with y_proba (deprecated)")
        warnings.warn("`y_pred` was renamed to `y_proba`", FutureWarning, stacklevel=2)
        y_proba = y_pred
    if y_proba is None:
        raise ValueError("y_proba: expected an array of probabilities, got None")
    prob, dtype = float_input(y_proba, "y_proba")
    _check_prob(prob)
    n = prob.shape[0]
    src_dtype = as_numpy(y_proba).dtype
    eps = (2.0 ** -7 if is_bfloat16(src_dtype)   # bfloat16's eps: 7 fraction bits
           else float(np.finfo(np.float16 if src_dtype == np.float16 else dtype).eps))
    check_num_threads(num_threads)
    truth = np.asarray(y_true)
    if truth.ndim == 2 and truth.shape[1] == 1:
        truth = truth.reshape(-1)
    elif truth.ndim == 2:
        if labels is not None:
            raise ValueError("labels: not supported with a multilabel indicator y_true")
        indicator = truth
        truth = None
    elif truth.ndim != 1:
        raise ValueError(f"y_true: expected 1-D class labels, got shape {truth.shape}")
    # scikit-learn's order of checks
    _check_values(prob)
    m = (indicator if truth is None else truth).shape[0]
    if m != n:
        raise ValueError(f"y_true: has {m} samples but y_proba has {n}")
    sw = _check_weight(sample_weight, n)
    if truth is None:
        return _indicator_loss(indicator, prob, eps, sw, normalize)
    if truth.dtype.kind == "f" and np.any(truth != np.round(truth)):
        raise ValueError("y_true: expected class labels, got continuous values")
    classes = _classes(truth, labels)

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
                f"y_true and y_proba contain different numbers of classes: "
                f"{classes.size} vs {n_cols}; pass the labels argument. "
                f"Classes in y_true: {classes.tolist()}")
        raise ValueError(f"labels: has {classes.size} classes but y_proba has {n_cols} columns")
    if picked is None:
        picked = prob[np.arange(n), col]
    loss = -np.log(np.clip(picked, eps, 1.0 - eps))
    if sw is None:
        total = np.mean(loss) if normalize else np.sum(loss)
    elif normalize:
        scale = np.sum(sw)
        if scale == 0:  # weights of both signs (as the public function)
            raise ZeroDivisionError("sample_weight sums to zero, can't be normalized")
        total = np.dot(loss, sw) / scale
    else:
        total = np.dot(loss, sw)
    return float(total)


def _indicator_loss(t, prob, eps, sw, normalize):
    """Multilabel indicator y_true, as scikit-learn: one-hot rows of any count."""
    if not np.all((t == 0) | (t == 1)):
        raise ValueError("y_true: a 2-D y_true must be a multilabel indicator of 0/1")
    if prob.ndim == 1 or prob.shape[1] == 1:
        pos = prob.reshape(-1, 1)
        prob = np.hstack([1.0 - pos, pos])
    if not np.all(np.isclose(prob.sum(axis=1), 1.0, rtol=math.sqrt(eps), atol=1e-8)):
        warnings.warn(
            "The y_prob values do not sum to one. Make sure to pass probabilities.",
            UserWarning, stacklevel=3)
    if prob.shape[1] != t.shape[1]:
        raise ValueError(f"y_true and y_proba contain different numbers of classes: "
                         f"{t.shape[1]} vs {prob.shape[1]}")
    loss = np.zeros(prob.shape[0])
    for j in range(t.shape[1]):      # column by column: no logs of unused entries kept
        loss -= np.where(t[:, j] == 1, np.log(np.clip(prob[:, j], eps, 1.0 - eps)), 0.0)
    if sw is None:
        return float(np.mean(loss) if normalize else np.sum(loss))
    return float(np.dot(loss, sw) / np.sum(sw) if normalize else np.dot(loss, sw))
