"""Information measures: entropy and KL divergence along an axis."""
from __future__ import annotations

import math
import warnings

import numpy as np

from . import _kernels
from ._threads import resolve as _resolve_threads
from ._args import normalize_axis
from . import _half
from ._arrays import NO_STRIDES, as_float_array, compute_dtype, layout_of
from ._outputs import raise_status


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


def _normalised(arrays, ax, normalize):
    """The arrays divided by their sums along `ax` for normalize=True (none
    negative: else the kernel names the negative value), else as given."""
    if normalize is not True or any(bool((a < 0).any()) for _, a in arrays):
        return arrays
    with np.errstate(divide="ignore", invalid="ignore"):
        return tuple((name, a / a.sum(axis=ax, keepdims=True)) for name, a in arrays)


def _warn_unnormalised(arrays, ax, normalize):
    """normalize=None: warn for rows not summing to 1 (scikit-learn's
    log_loss tolerance, rtol sqrt(eps) of the dtype, atol 1e-8)."""
    if normalize is not None:
        return
    for name, a in arrays:
        if a.size == 0 or a.shape[ax] == 0:
            continue
        rtol = math.sqrt(float(np.finfo(a.dtype).eps))
        if not np.isclose(a.sum(axis=ax), 1.0, rtol=rtol, atol=1e-8).all():
            warnings.warn(
                f"{name}: rows along axis {ax} do not sum to 1; pass normalize=True to "
                "normalise each row (as scipy.stats.entropy) or normalize=False to use "
                "them as given", UserWarning, stacklevel=3)


def _check_normalize(normalize):
    if normalize is not None and not isinstance(normalize, (bool, np.bool_)):
        raise ValueError(f"normalize: expected True, False or None, got {normalize!r}")
    return None if normalize is None else bool(normalize)


def _rows(arrays, ax, scale, num_threads):
    nthreads = _resolve_threads(num_threads)
    p = arrays[0][1]
    p, lay = layout_of(p, ax)
    out = np.empty(p.shape[:ax] + p.shape[ax + 1:], dtype=compute_dtype(p.dtype))
    q, qs = None, NO_STRIDES
    if len(arrays) > 1:
        q, qlay = layout_of(arrays[1][1], ax)
        qs = qlay.strides
    if out.dtype is not p.dtype and (lay.s_class != 1 or (q is not None and qs[1] != 1)):
        # the half kernels' bits are float32's on unit class strides (fx_rows_tmpl.h)
        p, lay = layout_of(_half.widen(p), ax)
        if q is not None:
            q, qlay = layout_of(_half.widen(q), ax)
            qs = qlay.strides
    if out.size and lay.C:
        raise_status(_kernels.info(p, lay.shape, lay.strides, q, qs, out, scale, nthreads),
                     arrays, axis=ax)
    elif out.size:
        out.fill(0)
    return out[()] if out.ndim == 0 else out


def entropy(p, axis=-1, *, base=None, normalize=None, num_threads=None):
    """Shannon entropy ``-sum p log p`` along `axis` (0 log 0 = 0).

    Parameters
    ----------
    p : array_like, non-negative
        Used as given unless `normalize` is True: this is
        ``scipy.special.entr(p).sum(axis)``.
    axis : int, default -1
        scipy.stats.entropy's default is 0 (torch's and this one's: -1).
    base : float, optional
        Logarithm base; natural log by default.
    normalize : bool or None, default None
        True divides each row by its sum first (``scipy.stats.entropy``);
        False uses the rows as given; None (the default) uses them as given
        and warns (UserWarning naming `p`) when a row does not sum to 1
        within ``sqrt(eps)`` relative (the check of scikit-learn's
        ``log_loss``; one more read of `p`).
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
    # halves are read as stored where Python does no arithmetic on them
    a = as_float_array(p, "p", keep_half=normalize is False)
    ax = normalize_axis(axis, a.ndim)
    norm = _check_normalize(normalize)
    arrays = (("p", a),)
    res = _rows(_normalised(arrays, ax, norm), ax, _log_base_scale(base), num_threads)
    _warn_unnormalised(arrays, ax, norm)
    return res


def kl_divergence(p, q, axis=-1, *, base=None, normalize=None, num_threads=None):
    """Kullback-Leibler divergence ``sum p log(p / q)`` along `axis`.

    Parameters
    ----------
    p, q : array_like, non-negative, broadcastable against each other
        Used as given unless `normalize` is True:
        ``scipy.special.rel_entr(p, q).sum(axis)``.
    axis : int, default -1
        Axis of the broadcast shape (scipy.stats.entropy's default is 0).
    base : float, optional
        Logarithm base; natural log by default.
    normalize : bool or None, default None
        True divides each row of `p` and of `q` by its sum first
        (``scipy.stats.entropy(p, q)``); False uses them as given; None uses
        them as given and warns (UserWarning naming `p` or `q`) when a row
        does not sum to 1 within ``sqrt(eps)`` relative.
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
    keep = normalize is False   # as entropy
    a = as_float_array(p, "p", keep_half=keep)
    b = as_float_array(q, "q", keep_half=keep)
    if not (a.dtype == b.dtype and _half.half_kind(a.dtype)):
        a, b = _half.shown(a), _half.shown(b)   # one storage dtype: halves of one kind only
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
    norm = _check_normalize(normalize)
    arrays = (("p", a), ("q", b))
    res = _rows(_normalised(arrays, ax, norm), ax, _log_base_scale(base), num_threads)
    _warn_unnormalised(arrays, ax, norm)
    return res
