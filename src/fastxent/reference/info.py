"""Twins of :func:`fastxent.entropy` and :func:`fastxent.kl_divergence`."""
import math

import numpy as np

from ._common import check_num_threads, first_position, float_input, normalize_axis, \
    scalar_or_array


def _check_non_negative(a, name):
    neg = a < 0
    if neg.any():
        pos = first_position(neg)
        raise ValueError(f"{name}: expected non-negative values, got {a[pos]} at index {pos}")


def _log_base(base):
    if base is None:
        return 1.0
    try:
        b = float(base)
    except (TypeError, ValueError):
        raise ValueError(f"base: expected a positive number other than 1, got {base!r}") from None
    if not (b > 0 and b != 1 and math.isfinite(b)):
        raise ValueError(f"base: expected a positive finite number other than 1, got {base!r}")
    return math.log(b)


def entropy(p, axis=-1, *, base=None, num_threads=None):
    """Shannon entropy ``-sum p log p`` along `axis` (``0 log 0 = 0``).

    Parameters
    ----------
    p : array_like
        Non-negative values; **not** normalised (unlike
        ``scipy.stats.entropy``); equals ``scipy.special.entr(p).sum(axis)``.
    axis : int, optional
    base : float, optional
        Logarithm base; natural log by default.
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

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
    a, dtype = float_input(p, "p")
    ax = normalize_axis(axis, a.ndim)
    log_base = _log_base(base)
    check_num_threads(num_threads)
    _check_non_negative(a, "p")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(a == 0, 0.0, -a * np.log(a))
    return scalar_or_array(np.sum(terms, axis=ax) / log_base, dtype)


def kl_divergence(p, q, axis=-1, *, base=None, num_threads=None):
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
    num_threads : int, optional
        Validated as by the public function, then ignored (NumPy).

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
    a, dtype_p = float_input(p, "p")
    b, dtype_q = float_input(q, "q")
    dtype = np.result_type(dtype_p, dtype_q)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"q: shape {b.shape} does not broadcast against p's shape {a.shape}") from None
    a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
    ax = normalize_axis(axis, len(shape))
    log_base = _log_base(base)
    check_num_threads(num_threads)
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
    return scalar_or_array(np.sum(terms, axis=ax) / log_base, dtype)
