"""NumPy twin of :func:`fastxent.evaluate`: float64, row by row as vector
NumPy over an (N, C) copy, every sum by ``math.fsum``.

Same signature and result type as the public function; the finishing of
the rounded sums into metrics (:mod:`fastxent._eval_result`) is shared, the
per-row maths and the sums are written independently of the C kernel. The
one module of this package importing fastxent itself: for that result type
(absolutely, so the package still loads on its own where fastxent is
installed).
"""
from __future__ import annotations

import math

import numpy as np

from fastxent._eval_result import EvalResult, finish, frozen_per_row
from ._common import as_numpy, bfloat16_to_float64, is_bfloat16

_TIES = ("first", "last")
_NONFINITE = ("propagate", "skip", "raise")


def _position(flat, shape):
    return tuple(int(i) for i in np.unravel_index(flat, shape)) if shape else ()


def _rows(a, ax):
    a = np.asarray(a, dtype=np.float64)
    return np.moveaxis(a, ax, -1).reshape(-1, a.shape[ax])


def _softmax_stats(z):
    """log-sum-exp and probabilities of the rows of z (finite rows)."""
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    return (m + np.log(s))[:, 0], e / s


def _argmax(z, last):
    if not last:
        return np.argmax(z, axis=1)
    return z.shape[1] - 1 - np.argmax(z[:, ::-1], axis=1)


def _check_options(topk, n_bins, ties, nonfinite):
    topk = (topk,) if isinstance(topk, (int, np.integer)) else tuple(int(k) for k in topk)
    if any(k < 1 for k in topk) or len(set(topk)) != len(topk):
        raise ValueError(f"topk: expected distinct positive integers, got {topk!r}")
    if int(n_bins) < 1:
        raise ValueError(f"n_bins: expected at least 1, got {n_bins!r}")
    if ties not in _TIES:
        raise ValueError(f"ties: expected one of {_TIES}, got {ties!r}")
    if nonfinite not in _NONFINITE:
        raise ValueError(f"nonfinite: expected one of {_NONFINITE}, got {nonfinite!r}")
    return topk, int(n_bins)


def _fsum(values):
    """math.fsum, rounded to +-inf where the exact sum of finite values is
    beyond the float64 range (fsum raises there): its sign is the sign of
    the sum scaled by 2^-60, exact for every value that can decide it."""
    v = np.asarray(values, dtype=np.float64)
    try:
        return math.fsum(v)
    except OverflowError:
        return math.copysign(math.inf, math.fsum(np.ldexp(v, -60)))


def _wsum(w, v):
    """fsum of w * v over the rows, 0 * anything = 0 (zero weights add nothing)."""
    return _fsum((w * v)[w > 0])


def evaluate(logits, labels, *, axis=-1, ignore_index=-100, topk=(1, 5), n_bins=15,
             ties="first", sample_weight=None, segment_ids=None, per_class=False,
             confusion_matrix=False, reference_logits=None, nonfinite="propagate",
             return_per_row=False, num_threads=None) -> EvalResult:
    """The twin of :func:`fastxent.evaluate` (``num_threads`` is ignored):
    the same metrics from float64 rows and ``math.fsum`` sums.

    Examples
    --------
    Equal logits over 4 classes: every row's NLL is log 4, and with ties
    going to the first class only the rows labelled 0 are top-1 hits.

    >>> import numpy as np
    >>> from fastxent import reference
    >>> r = reference.evaluate(np.zeros((4, 4)), np.array([0, 1, 2, 3]))
    >>> bool(np.isclose(r.nll_mean, np.log(4))), r.topk_accuracy[1]
    (True, 0.25)
    """
    topk, n_bins = _check_options(topk, n_bins, ties, nonfinite)
    x = as_numpy(logits)
    if is_bfloat16(x.dtype):
        x = bfloat16_to_float64(x)
    if x.ndim == 0:
        raise ValueError("logits: expected at least 1 dimension (the class axis), got a scalar")
    ax = axis % x.ndim
    C = x.shape[ax]
    row_shape = x.shape[:ax] + x.shape[ax + 1:]
    z = _rows(x, ax)
    n = z.shape[0]
    lab = np.asarray(labels)
    if lab.dtype.kind not in "iu" or lab.shape != row_shape:
        raise ValueError(f"labels: expected integer class indices of shape {row_shape}")
    lab = lab.reshape(-1).astype(np.int64)
    ignored = lab == ignore_index
    badl = ~ignored & ((lab < 0) | (lab >= C))
    if badl.any():
        j = int(np.argmax(badl))
        raise IndexError(f"labels: class index {lab[j]} at position {_position(j, row_shape)} "
                         f"is outside [0, {C}) and is not ignore_index ({ignore_index})")
    w = np.ones(n) if sample_weight is None else \
        np.asarray(sample_weight, dtype=np.float64).reshape(-1)
    if w.shape != (n,) or not np.all(np.isfinite(w) & (w >= 0)):
        raise ValueError("sample_weight: expected finite values >= 0 of the rows' shape")
    zr = None
    if reference_logits is not None:
        if np.shape(reference_logits) != x.shape:
            raise ValueError(f"reference_logits: expected the logits' shape {x.shape}")
        zr = _rows(reference_logits, ax)

    def undefined(a):
        return np.isnan(a).any(1) | (a == np.inf).any(1) | (a == -np.inf).all(1)

    bad = ~ignored & (undefined(z) | (zr is not None and undefined(zr)))
    if nonfinite == "raise" and bad.any():
        j = int(np.argmax(bad))
        raise ValueError(f"logits: row {_position(j, row_shape)} has NaN or +inf logits "
                         f"(or every logit is -inf) and nonfinite='raise'")
    ok = ~ignored & ~bad
    t = np.where(ok, lab, 0)
    zs = np.where(ok[:, None], z, 0.0)
    lse, p = _softmax_stats(zs)
    idx = np.arange(n)
    zt = zs[idx, t]
    nll = lse - zt
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    onehot = np.zeros_like(p)
    onehot[idx, t] = 1.0
    brier = np.sum((p - onehot) ** 2, axis=1)
    conf = p.max(axis=1)
    last = ties == "last"
    cols = np.arange(C)[None, :]
    side = cols > t[:, None] if last else cols < t[:, None]
    rank = np.sum(zs > zt[:, None], axis=1) + np.sum((zs == zt[:, None]) & side, axis=1)
    argmax = _argmax(zs, last)
    kl = same = dp = None
    if zr is not None:
        zrs = np.where(ok[:, None], zr, 0.0)
        _, pr = _softmax_stats(zrs)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(pr > 0, pr * (np.log(pr) - np.log(p)), 0.0)
        kl = np.maximum(np.sum(terms, axis=1), 0.0)
        same = (argmax == _argmax(zrs, last)).astype(np.float64)
        dp = p[idx, t] - pr[idx, t]

    use = ok | (bad & (nonfinite == "propagate"))
    use &= w > 0
    def wsum(v):
        return _wsum(w[use], np.where(bad, np.nan, v)[use])

    def in_bin(b, v):
        m = use & (bidx == b)
        return _wsum(w[m], np.where(bad, np.nan, v)[m])

    bidx = np.minimum(np.floor(conf * n_bins), n_bins - 1).astype(np.int64)
    bidx = np.where(bad, n_bins - 1, bidx)
    correct = (rank == 0).astype(np.float64)
    sums = {"count": _fsum(w[use]), "nll": wsum(nll), "nll2": wsum(nll * nll),
            "entropy": wsum(entropy), "brier": wsum(brier), "mrr": wsum(1.0 / (rank + 1)),
            "topk": [wsum((rank < k).astype(np.float64)) for k in topk],
            "bin_count": [_fsum(w[use & (bidx == b)]) for b in range(n_bins)],
            "bin_conf": [in_bin(b, conf) for b in range(n_bins)],
            "bin_correct": [in_bin(b, correct) for b in range(n_bins)]}
    kl_max = -math.inf
    if kl is not None:
        sums.update(kl=wsum(kl), same_top=wsum(same), delta_p=wsum(dp))
        ks = np.where(bad, np.nan, kl)[use]
        kl_max = float(np.max(ks)) if ks.size else -math.inf
    pc = None
    if per_class:
        pc = [np.array([_fsum(w[use & (lab == c)]) for c in range(C)]),
              np.array([_wsum(w[use & (lab == c) & ((rank == 0) | bad)],
                              np.where(bad, np.nan, 1.0)[use & (lab == c) & ((rank == 0) | bad)])
                        for c in range(C)]),
              np.array([_fsum(w[use & ~bad & (argmax == c)]) for c in range(C)]),
              np.array([_wsum(w[use & (lab == c)], np.where(bad, np.nan, nll)[use & (lab == c)])
                        for c in range(C)])]
    cm = None
    if confusion_matrix:
        if C > 1024:
            raise ValueError(f"confusion_matrix: only for C <= 1024, got C = {C}")
        cm = np.zeros((C, C))
        pred = use & ~bad
        for t_, p_ in set(zip(lab[pred].tolist(), argmax[pred].tolist())):
            cm[t_, p_] = _fsum(w[pred & (lab == t_) & (argmax == p_)])
    seg = None
    if segment_ids is not None:
        s = np.asarray(segment_ids, dtype=np.int64).reshape(-1)
        if s.shape != (n,) or np.any(np.diff(s) < 0):
            raise ValueError("segment_ids: expected non-decreasing ids of the rows' shape")
        ids = np.unique(s)
        greedy = [bool(np.all((argmax == lab)[use & (s == i)])) for i in ids]
        seg = (ids, np.array([_fsum(w[use & (s == i)]) for i in ids]),
               np.array([_wsum(w[use & (s == i)], np.where(bad, np.nan, nll)[use & (s == i)])
                         for i in ids]), np.array(greedy, dtype=bool))
    rows = None
    if return_per_row:
        keep = ok

        def shaped(v, fill):
            return np.where(keep, v, fill).reshape(row_shape)

        rows = frozen_per_row(shaped(nll, np.nan), shaped(rank, -1).astype(np.int64),
                              shaped(argmax, -1).astype(np.int64), shaped(conf, np.nan),
                              shaped(entropy, np.nan),
                              None if kl is None else shaped(kl, np.nan))
    return finish(sums, topk, n_bins, n_rows=n, n_ignored=int(ignored.sum()),
                  n_nonfinite=int(bad.sum()), kl_max=kl_max, reference=zr is not None,
                  per_class=pc, segments=seg, per_row=rows, confusion=cm)
