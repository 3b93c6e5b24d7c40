"""Information measures: entropy, KL divergence and scikit-learn's log loss."""
from __future__ import annotations

import math
import warnings

import numpy as np

from . import _kernels
from ._threads import resolve as _resolve_threads
from ._validation import as_float_array, layout_of, normalize_axis


def _log_base_scale(base) -> float:
    if base is None:
        return 1.0
    try:
        b = float(base)
    except (TypeError, ValueError):
        raise ValueError(f"base: expected a positive number other than 1, got {base!r}") from None
    if not (b > 0 and b != 1 and math.isfinite(b)):
        raise ValueError(f"base: expected a positive finite number other than 1, got {base!r}")
    return 1.0 / math.log(b)


def _raise_negative(arrays, ax, row):
    """Name the first negative value of row `row` (flat index over the other axes)."""
    for name, a in arrays:
        moved = np.moveaxis(a, ax, -1)
        r = moved.reshape(-1, moved.shape[-1])[row] if moved.size else moved
        neg = np.flatnonzero(r < 0)
        if neg.size:
            rest = ([int(i) for i in np.unravel_index(row, moved.shape[:-1])]
                    if moved.ndim > 1 else [])
            pos = list(rest)
            pos.insert(ax, int(neg[0]))
            raise ValueError(
                f"{name}: expected non-negative values, got {r[neg[0]]} at index {tuple(pos)}")
    raise AssertionError("unreachable: the kernel reported a negative value")  # pragma: no cover


def _rows(arrays, ax, scale, num_threads):
    nthreads = _resolve_threads(num_threads)
    p = arrays[0][1]
    p, lay = layout_of(p, ax)
    out = np.empty(p.shape[:ax] + p.shape[ax + 1:], dtype=p.dtype)
    q, qlay = None, (0, 0, 0, 0, 0, 0)
    if len(arrays) > 1:
        q, qlay = layout_of(arrays[1][1], ax)
    if out.size and lay[1]:
        bad = _kernels.info(p, lay[0], lay[1], lay[2], lay[3], lay[4], lay[5],
                            q, qlay[3], qlay[4], qlay[5], out, scale, nthreads)
        if bad >= 0:
            _raise_negative(arrays, ax, bad)
    elif out.size:
        out.fill(0)
    return out[()] if out.ndim == 0 else out


def entropy(p, axis=-1, *, base=None, num_threads=None):
    """Shannon entropy ``-sum p log p`` along `axis` (0 log 0 = 0).

    Parameters
    ----------
    p : array_like, non-negative
        Not normalised (unlike ``scipy.stats.entropy``): this is
        ``scipy.special.entr(p).sum(axis)``.
    axis : int, default -1
    base : float, optional
        Logarithm base; natural log by default.
    num_threads : int, optional

    Returns
    -------
    numpy scalar or ndarray with `axis` removed

    Raises
    ------
    ValueError
        A negative value (the message gives its index).

    Notes
    -----
    Cross-entropy splits into entropy and KL divergence,
    ``H(p, q) = H(p) + KL(p || q)``, which is why minimising the
    cross-entropy to fixed targets p minimises the divergence:

    >>> import numpy as np, fastxent
    >>> p = np.array([0.7, 0.2, 0.1]); logits = np.array([1.0, 0.5, -1.0])
    >>> h_pq = fastxent.cross_entropy(logits, p)          # soft target
    >>> q = fastxent.softmax(logits)
    >>> bool(np.isclose(h_pq, fastxent.entropy(p) + fastxent.kl_divergence(p, q)))
    True

    Examples
    --------
    >>> float(fastxent.entropy([0.5, 0.5], base=2))
    1.0
    """
    a = as_float_array(p, "p")
    ax = normalize_axis(axis, a.ndim)
    return _rows((("p", a),), ax, _log_base_scale(base), num_threads)


def kl_divergence(p, q, axis=-1, *, base=None, num_threads=None):
    """Kullback-Leibler divergence ``sum p log(p / q)`` along `axis`.

    Parameters
    ----------
    p, q : array_like, non-negative, broadcastable against each other
        Not normalised: ``scipy.special.rel_entr(p, q).sum(axis)``.
    axis : int, default -1
        Axis of the broadcast shape.
    base : float, optional
        Logarithm base; natural log by default.
    num_threads : int, optional

    Returns
    -------
    numpy scalar or ndarray with `axis` removed
        A term is 0 where p = 0 and +inf where q = 0 < p.

    Raises
    ------
    ValueError
        A negative value in `p` or `q`, or shapes that do not broadcast.

    Examples
    --------
    >>> import fastxent
    >>> round(float(fastxent.kl_divergence([0.5, 0.5], [0.25, 0.75], base=2)), 4)
    0.2075
    """
    a = as_float_array(p, "p")
    b = as_float_array(q, "q")
    dt = np.result_type(a.dtype, b.dtype)
    a = as_float_array(a, "p", dt)
    b = as_float_array(b, "q", dt)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"q: shape {b.shape} does not broadcast against p's shape {a.shape}") from None
    a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    ax = normalize_axis(axis, len(shape))
    return _rows((("p", a), ("q", b)), ax, _log_base_scale(base), num_threads)


_INT64 = np.dtype(np.int64)
_LUT_MAX = 1 << 20


def _label_columns(truth, labels, n):
    """(sorted classes, column of each sample's class or -1, found mask).

    Integer labels spanning a modest range use a lookup table (linear time);
    anything else sorts (np.unique + searchsorted), as scikit-learn does.
    """
    if truth.shape[0] != n or truth.size == 0:
        classes = np.unique(labels) if labels is not None else truth[:0]
        return classes, np.full(n, -1, dtype=_INT64), np.zeros(n, dtype=bool)
    ints = truth.dtype.kind in "iu" and (labels is None or labels.dtype.kind in "iu")
    if ints:
        lo, hi = int(truth.min()), int(truth.max())
        if labels is not None and labels.size:
            lo, hi = min(lo, int(labels.min())), max(hi, int(labels.max()))
        # one dtype that holds every value exactly (int8 - lo wraps, uint8 -
        # (-1) overflows, uint64 and int64 together promote to float64)
        wide = (np.dtype(_INT64) if -2**63 <= lo and hi < 2**63
                else np.dtype(np.uint64) if lo >= 0 else np.dtype(object))
        truth = truth.astype(wide, copy=False)
        if labels is not None:
            labels = labels.astype(wide, copy=False)
        if wide == _INT64 and hi - lo < _LUT_MAX:
            shifted = (truth - lo).astype(np.intp, copy=False)
            if labels is None:
                present = np.bincount(shifted, minlength=hi - lo + 1) > 0
            else:
                present = np.zeros(hi - lo + 1, dtype=bool)
                present[(labels.reshape(-1) - lo).astype(np.intp)] = True
            classes = np.flatnonzero(present).astype(_INT64) + lo
            lut = np.cumsum(present, dtype=_INT64) - 1
            lut[~present] = -1
            col = lut[shifted]
            return classes, col, col >= 0
    classes = np.unique(labels) if labels is not None else np.unique(truth)
    if not classes.size:
        return classes, np.full(n, -1, dtype=_INT64), np.zeros(n, dtype=bool)
    col = np.searchsorted(classes, truth).astype(_INT64)
    col[col >= classes.size] = -1
    found = col >= 0
    found[found] = classes[col[found]] == truth[found]
    col[~found] = -1
    return classes, col, found


def log_loss(y_true, y_prob, *, sample_weight=None, normalize=True, labels=None,
             num_threads=None):
    """Log loss (logistic loss) with ``sklearn.metrics.log_loss`` semantics.

    Computed without a one-hot matrix: the true class's probability is
    gathered once per row, in the same read that checks the row.

    Parameters
    ----------
    y_true : array_like of shape (n_samples,)
        True labels (any sortable type).
    y_prob : array_like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, columns in sorted label order; 1-D means the
        probability of the larger label. Clipped to ``[eps, 1 - eps]`` with
        eps the machine epsilon of its dtype.
    sample_weight : array_like of shape (n_samples,), optional
    normalize : bool, default True
        Weighted mean if True, weighted sum otherwise.
    labels : array_like, optional
        All class labels, when `y_true` lacks some.
    num_threads : int, optional

    Returns
    -------
    numpy scalar

    Raises
    ------
    ValueError
        As scikit-learn: values outside [0, 1] or not finite, length
        mismatches, fewer than two classes, labels missing from `labels`, a
        column count that does not match the classes. Rows that do not sum
        to 1 warn (UserWarning). `y_true` must be 1-D labels.

    Examples
    --------
    >>> import fastxent
    >>> round(float(fastxent.log_loss(["spam", "ham", "ham", "spam"],
    ...       [[.1, .9], [.9, .1], [.8, .2], [.35, .65]])), 5)
    0.21616
    """
    prob = as_float_array(y_prob, "y_prob")
    if prob.ndim not in (1, 2):
        raise ValueError(f"y_prob: expected 1-D or 2-D, got {prob.ndim}-D")
    n = prob.shape[0]
    if n == 0:
        raise ValueError("y_prob: has 0 samples; at least one is required")
    dt = prob.dtype
    eps = float(np.finfo(dt).eps)
    nthreads = _resolve_threads(num_threads)

    truth = np.asarray(y_true)
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
    total, lo, hi, not_close = _kernels.logloss(
        p2, n, p2.shape[1], p2.strides[0] // isz, p2.strides[1] // isz, col,
        sw if (sw is not None and sw.shape == (n,)) else None,
        eps, math.sqrt(eps), 1e-8, nthreads)

    # scikit-learn's order of checks
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("y_prob: contains NaN or infinity")
    if hi > 1:
        raise ValueError(f"y_prob: contains values greater than 1: {hi}")
    if lo < 0:
        raise ValueError(f"y_prob: contains values lower than 0: {lo}")
    if truth.shape[0] != n:
        raise ValueError(f"y_true: has {truth.shape[0]} samples but y_prob has {n}")
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
                f"the columns of y_prob must follow {classes.tolist()}",
                UserWarning, stacklevel=2)
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
            UserWarning, stacklevel=2)
    if n_cols != classes.size:
        if labels is None:
            raise ValueError(
                f"y_true and y_prob contain different numbers of classes: "
                f"{classes.size} vs {n_cols}; pass the labels argument. "
                f"Classes in y_true: {classes.tolist()}")
        raise ValueError(
            f"labels: has {classes.size} classes but y_prob has {n_cols} columns")
    if sw is None:
        res = total / n if normalize else total
    elif normalize:
        res = total / float(np.sum(sw, dtype=np.float64))
    else:
        res = total
    return dt.type(res)
