"""Twin of :func:`fastxent.log_loss` (scikit-learn's ``log_loss``)."""
import math
import warnings

import numpy as np

from ._common import check_num_threads, float_input


def _check_prob(prob):
    if prob.ndim not in (1, 2):
        raise ValueError(f"y_prob: expected 1-D or 2-D, got {prob.ndim}-D")
    if prob.shape[0] == 0:
        raise ValueError("y_prob: has 0 samples; at least one is required")


def _check_values(prob):
    if not np.all(np.isfinite(prob)):
        raise ValueError("y_prob: contains NaN or infinity")
    if prob.max() > 1:
        raise ValueError(f"y_prob: contains values greater than 1: {prob.max()}")
    if prob.min() < 0:
        raise ValueError(f"y_prob: contains values lower than 0: {prob.min()}")


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
            f"the columns of y_prob must follow {classes.tolist()}",
            UserWarning, stacklevel=3)
    if not np.all(np.isin(truth, classes)):
        missing = sorted(set(truth.tolist()) - set(classes.tolist()))
        raise ValueError(f"y_true: contains values {missing} not in labels {labels}")
    if classes.size < 2:
        raise ValueError(f"labels: must contain at least two labels, got {classes.tolist()}")
    return classes


def log_loss(y_true, y_prob, *, sample_weight=None, normalize=True, labels=None,
             num_threads=None):
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
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

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
    prob, dtype = float_input(y_prob, "y_prob")
    _check_prob(prob)
    n = prob.shape[0]
    eps = float(np.finfo(dtype).eps)
    check_num_threads(num_threads)
    truth = np.asarray(y_true)
    if truth.ndim != 1:
        raise ValueError(f"y_true: expected 1-D class labels, got shape {truth.shape}")
    # scikit-learn's order of checks
    _check_values(prob)
    if truth.shape[0] != n:
        raise ValueError(f"y_true: has {truth.shape[0]} samples but y_prob has {n}")
    sw = _check_weight(sample_weight, n)
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
                f"y_true and y_prob contain different numbers of classes: "
                f"{classes.size} vs {n_cols}; pass the labels argument. "
                f"Classes in y_true: {classes.tolist()}")
        raise ValueError(f"labels: has {classes.size} classes but y_prob has {n_cols} columns")
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
    return dtype.type(total)
