"""The evaluation engine: every metric of a classifier or language model in
one read of the logits, in a state whose floating sums are exact.

The C kernel (csrc/fx_eval_tmpl.h) reads each row once and adds its terms
to exact superaccumulators (csrc/fx_exact.h); the state holds only those
accumulators and integer counts, so the result does not depend on how the
rows were split into `update` calls, merged, or threaded.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Tuple

import numpy as np

from . import _exact, _kernels
from ._eval_result import EvalResult, finish, frozen_per_row
from ._threads import resolve as _resolve_threads
from ._args import check_int, kernel_labels, normalize_axis
from . import _half
from ._arrays import INT64, as_array, as_float_array, layout_of
from ._outputs import raise_status

STATE_VERSION = 1
MAX_CONFUSION_CLASSES = 1024
_TIES = ("first", "last")
_NONFINITE = ("propagate", "skip", "raise")
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)   # NumPy's singletons
# indices of the sums in the state (enum fx_eval_sum of fx_api.h)
_COUNT, _NLL, _NLL2, _ENTROPY, _BRIER, _MRR, _KL, _SAME, _DP, _TOPK = range(10)
_COUNTED, _IGNORED, _NONFINITE_ROW = 0, 1, 2


def _check_bool(v, name: str) -> bool:
    if not isinstance(v, (bool, np.bool_)):
        raise ValueError(f"{name}: expected True or False, got {v!r}")
    return bool(v)


def _check_choice(v, name: str, choices) -> str:
    if not isinstance(v, str) or v not in choices:
        raise ValueError(f"{name}: expected one of {choices}, got {v!r}")
    return v


def _nan_max(a: float, b: float) -> float:
    """max(a, b), NaN if either is (a NaN, once seen, stays)."""
    return a if a != a or b <= a else b


def _per_row(a, name: str, kinds: str, what: str, row_shape, dtype) -> np.ndarray:
    """`a`, one value per row, as a flat, contiguous and aligned array of
    `dtype` (the kernel reads it as double / int64_t: a misaligned view,
    which np.ascontiguousarray keeps, would be undefined behaviour)."""
    arr = np.asarray(a)
    if arr.dtype.kind not in kinds:
        raise ValueError(f"{name}: expected {what}, got dtype {arr.dtype}")
    if arr.shape != row_shape:
        raise ValueError(f"{name}: expected the rows' shape {row_shape}, got {arr.shape}")
    return np.require(arr, dtype, ["C_CONTIGUOUS", "ALIGNED"]).reshape(-1)


@dataclass(frozen=True)
class _Config:
    """What must match for update and merge (every option but the threads)."""
    num_classes: int
    axis: int
    ignore_index: int
    topk: Tuple[int, ...]
    n_bins: int
    ties: str
    per_class: bool
    nonfinite: str
    reference: bool
    segments: bool
    confusion_matrix: bool = False

    @classmethod
    def make(cls, num_classes, axis, ignore_index, topk, n_bins, ties, per_class,
             nonfinite, reference, segments, confusion_matrix=False) -> "_Config":
        c = check_int(num_classes, "num_classes")
        if c < 1:
            raise ValueError(f"num_classes: expected at least 1, got {num_classes!r}")
        if isinstance(topk, (int, np.integer)):
            topk = (topk,)
        try:
            ks = tuple(check_int(k, "topk") for k in topk)
        except TypeError:
            raise ValueError(f"topk: expected a sequence of positive integers, got {topk!r}") from None
        if any(k < 1 for k in ks) or len(set(ks)) != len(ks):
            raise ValueError(f"topk: expected distinct positive integers, got {topk!r}")
        cm = _check_bool(confusion_matrix, "confusion_matrix")
        if cm and c > MAX_CONFUSION_CLASSES:
            raise ValueError(f"confusion_matrix: a C x C matrix is kept only for C <= "
                             f"{MAX_CONFUSION_CLASSES} classes, got C = {c} (per_class=True "
                             f"keeps length-C sums at any C)")
        nb = check_int(n_bins, "n_bins")
        if nb < 1:
            raise ValueError(f"n_bins: expected at least 1, got {n_bins!r}")
        return cls(c, check_int(axis, "axis"), check_int(ignore_index, "ignore_index"), ks, nb,
                   _check_choice(ties, "ties", _TIES), _check_bool(per_class, "per_class"),
                   _check_choice(nonfinite, "nonfinite", _NONFINITE),
                   _check_bool(reference, "reference"), _check_bool(segments, "segments"), cm)

    @property
    def nacc(self) -> int:
        return _TOPK + len(self.topk) + 3 * self.n_bins


class Evaluator:
    """Accumulates evaluation metrics over any number of `update` calls.

    Parameters
    ----------
    num_classes : int
        C, the length of the class axis of every update's logits.
    axis, ignore_index, topk, n_bins, ties, per_class, confusion_matrix, nonfinite
        As in :func:`fastxent.evaluate`.
    reference : bool, default False
        Every update gives `reference_logits` (required, and only then).
    segments : bool, default False
        Every update gives `segment_ids` (required, and only then).
    num_threads : int, optional
        Threads for the updates (not part of the configuration).

    The state (:meth:`state_dict`) holds exact sums and integer counts
    only: its size is fixed by the configuration (per-class sums: C items
    of a few chunks each), segments aside (O(number of segments)).

    Examples
    --------
    >>> import numpy as np, fastxent
    >>> x = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]])
    >>> a, b = fastxent.Evaluator(3, topk=(1,)), fastxent.Evaluator(3, topk=(1,))
    >>> a.update(x[:1], np.array([0])); b.update(x[1:], np.array([1]))
    >>> a.merge(b)
    >>> a.result().nll_mean == fastxent.evaluate(x, np.array([0, 1]), topk=(1,)).nll_mean
    True
    """

    def __init__(self, num_classes, *, axis=-1, ignore_index=-100, topk=(1, 5), n_bins=15,
                 ties="first", per_class=False, confusion_matrix=False, nonfinite="propagate",
                 reference=False, segments=False, num_threads=None):
        self._config = _Config.make(num_classes, axis, ignore_index, topk, n_bins, ties,
                                    per_class, nonfinite, reference, segments, confusion_matrix)
        self._num_threads = num_threads
        self._threads = _resolve_threads(num_threads)
        self._topk = np.array(self._config.topk, dtype=np.int64)
        self._nonfinite = _NONFINITE.index(self._config.nonfinite)
        cfg = self._config
        # update()'s fast path: C for a plain configuration (nothing per
        # class, per segment or against a reference; classes last), else 0
        self._acc = _exact.zeros(self._config.nacc)
        self._counts = _kernels.EvalCounts()   # n_rows, n_ignored, n_nonfinite
        # update()'s fast path (one C call that checks the arrays itself) for
        # a plain configuration: nothing per class, per segment or against
        # a reference, classes last
        self._fast = _kernels.PlainEval(
            cfg.num_classes, cfg.ignore_index, cfg.ties == "last", self._nonfinite, self._topk,
            cfg.n_bins, self._threads, self._counts) if (
            cfg.axis in (-1, 1)
            and not (cfg.per_class or cfg.segments or cfg.reference or cfg.confusion_matrix)
            and -2**63 <= cfg.ignore_index < 2**63) else None
        self._kl_max = -math.inf
        C = self._config.num_classes
        self._class = [_exact.WindowSums(C) for _ in range(4)] if self._config.per_class else None
        # (true class, predicted class) -> weighted count, item t * C + p
        self._confusion = _exact.WindowSums(C * C) if cfg.confusion_matrix else None
        if self._config.segments:
            self._seg_id = np.zeros(0, np.int64)
            self._seg = [_exact.WindowSums(0), _exact.WindowSums(0)]
            self._seg_greedy = np.zeros(0, bool)

    # ------------------------------------------------------------ update
    def update(self, logits, labels, *, sample_weight=None, segment_ids=None,
               reference_logits=None):
        """Adds rows. Raises (and changes nothing) on any bad argument."""
        if (self._fast is not None and sample_weight is None and segment_ids is None
                and reference_logits is None):
            r = self._fast.run(logits, labels, self._acc)
            if r is None:
                return
            if r is not False:
                raise_status(r, (("logits", logits), ("labels", labels)), axis=1,
                             C=self._config.num_classes, ignore_index=self._config.ignore_index)
        self._update(logits, labels, sample_weight, segment_ids, reference_logits, False)

    def __reduce__(self):
        # pickle and copy through the state (the fast path's C object is rebuilt)
        return _restore, (self.state_dict(), self._num_threads)

    def _update(self, logits, labels, sample_weight, segment_ids, reference_logits, per_row):
        cfg = self._config
        x = logits
        if type(x) is not np.ndarray or not (x.dtype is _F32 or x.dtype is _F64) \
                or not x.flags.aligned:
            x = as_float_array(logits, "logits", keep_half=True)   # halves read as stored
        if x.ndim == 0:
            raise ValueError("logits: expected at least 1 dimension (the class axis), got a scalar")
        ax = normalize_axis(cfg.axis, x.ndim)
        C = x.shape[ax]
        if C != cfg.num_classes:
            raise ValueError(f"logits: expected {cfg.num_classes} classes along axis {ax}, got {C}")
        row_shape = x.shape[:ax] + x.shape[ax + 1:]
        xr = None
        if (reference_logits is not None) != cfg.reference:
            raise ValueError("reference_logits: " + (
                "required: the evaluator was made with reference=True" if cfg.reference
                else "not expected: make the evaluator with reference=True"))
        if cfg.reference:
            xr = as_float_array(reference_logits, "reference_logits", keep_half=True)
            if xr.shape != x.shape:
                raise ValueError(f"reference_logits: expected the logits' shape {x.shape}, "
                                 f"got {xr.shape}")
            if x.dtype != xr.dtype:   # one storage dtype: halves of one kind only
                x, xr = _half.shown(x), _half.shown(xr)
                dt = np.promote_types(x.dtype, xr.dtype)
                x, xr = x.astype(dt, copy=False), xr.astype(dt, copy=False)
        t = labels if type(labels) is np.ndarray else np.asarray(labels)
        if t.dtype.kind not in "iu":
            raise ValueError(f"labels: expected integer class indices, got dtype {t.dtype}")
        if t.shape != row_shape:
            raise ValueError(f"labels: expected the logits' shape without axis {ax}, "
                             f"{row_shape}, got {t.shape}")
        lab, ignore = kernel_labels(t, C, cfg.ignore_index, cfg.ignore_index, "labels")
        w = self._weights(sample_weight, row_shape)
        seg = self._segment_ids(segment_ids, row_shape)
        x, lay = layout_of(x, ax)
        rs = (0, 0, 0)
        if xr is not None:
            xr, rlay = layout_of(xr, ax)
            rs = rlay.strides
        n = lay.outer * lay.inner
        need_rows = per_row or cfg.per_class or cfg.segments or cfg.confusion_matrix
        rows = [np.empty(n, np.float64) if need_rows else None for _ in range(3)]
        kl_row = np.empty(n, np.float64) if (per_row and xr is not None) else None
        rank, argmax = (np.empty(n, np.int64) if need_rows else None for _ in range(2))
        status = np.empty(n, np.int8) if need_rows else None
        st, ign, nonfin, kl_max = _kernels.eval_rows(
            x, lay.shape, lay.strides, xr, rs, lab, ignore, w,
            cfg.ties == "last", _NONFINITE.index(cfg.nonfinite), self._topk, cfg.n_bins,
            self._acc, rows[0], rows[1], rows[2], kl_row, rank, argmax, status, self._threads)
        raise_status(st, (("logits", x), ("labels", t)), axis=ax, C=C,
                     ignore_index=cfg.ignore_index)
        counts = self._counts
        counts.n_rows += n
        counts.n_ignored += ign
        counts.n_nonfinite += nonfin
        self._kl_max = _nan_max(self._kl_max, kl_max)
        if cfg.per_class or cfg.segments or cfg.confusion_matrix:
            self._add_items(lab.reshape(-1), w, seg, rows[0], rank, argmax, status)
        if per_row:
            return frozen_per_row(*(a.reshape(row_shape) for a in
                                    (rows[0], rank, argmax, rows[1], rows[2])),
                                  None if kl_row is None else kl_row.reshape(row_shape))
        return None

    def _weights(self, sample_weight, row_shape):
        if sample_weight is None:
            return None
        w = _per_row(sample_weight, "sample_weight", "fiub", "real numbers", row_shape, np.float64)
        bad = ~(np.isfinite(w) & (w >= 0))
        if bad.any():
            j = int(np.argmax(bad))
            pos = tuple(int(i) for i in np.unravel_index(j, row_shape))
            raise ValueError(f"sample_weight: expected finite values >= 0, got {w[j]} at "
                             f"position {pos}")
        return w

    def _segment_ids(self, segment_ids, row_shape):
        if (segment_ids is not None) != self._config.segments:
            raise ValueError("segment_ids: " + (
                "required: the evaluator was made with segments=True" if self._config.segments
                else "not expected: make the evaluator with segments=True"))
        if segment_ids is None:
            return None
        s = _per_row(segment_ids, "segment_ids", "iu", "integers", row_shape, np.int64)
        if s.size and np.any(s[1:] < s[:-1]):
            j = int(np.argmax(s[1:] < s[:-1])) + 1
            raise ValueError(f"segment_ids: expected non-decreasing ids, got {s[j]} after "
                             f"{s[j - 1]} at flat position {j}")
        if s.size and self._seg_id.size and s[0] < self._seg_id[-1]:
            raise ValueError(f"segment_ids: expected ids >= {self._seg_id[-1]} (the last one "
                             f"seen), got {s[0]}")
        return s

    def _add_items(self, lab, w, seg, nll, rank, argmax, status):
        """Per-class and per-segment sums of the rows just evaluated."""
        cfg = self._config
        propagate = cfg.nonfinite == "propagate"
        used = (status == _COUNTED) | ((status == _NONFINITE_ROW) & propagate)
        wv = np.ones(lab.size) if w is None else w
        used &= wv > 0
        bad = status == _NONFINITE_ROW
        if cfg.per_class:
            support, correct, predicted, nll_sum = self._class
            support.add(lab[used], wv[used])
            hit = used & ((rank == 0) | bad)
            correct.add(lab[hit], np.where(bad[hit], np.nan, wv[hit]))
            pred = used & ~bad
            predicted.add(argmax[pred], wv[pred])
            nll_sum.add(lab[used], (wv * nll)[used])
        if cfg.confusion_matrix:
            pred = used & ~bad
            self._confusion.add(lab[pred] * cfg.num_classes + argmax[pred], wv[pred])
        if cfg.segments and seg.size:
            ids, first = np.unique(seg, return_index=True)
            pos = np.searchsorted(ids, seg)
            greedy = np.ones(ids.size, bool)
            np.logical_and.at(greedy, pos[used], (argmax == lab)[used])
            self._extend_segments(ids, greedy)
            base = self._seg_id.size - ids.size
            self._seg[0].add(base + pos[used], wv[used])
            self._seg[1].add(base + pos[used], (wv * nll)[used])

    def _extend_segments(self, ids, greedy):
        """Appends segments (the first may continue the last one held)."""
        if self._seg_id.size and ids[0] == self._seg_id[-1]:
            self._seg_greedy[-1] &= greedy[0]
            ids, greedy = ids[1:], greedy[1:]
        self._seg_id = np.concatenate([self._seg_id, ids])
        self._seg_greedy = np.concatenate([self._seg_greedy, greedy])
        for s in self._seg:
            s.resize(self._seg_id.size)

    # ------------------------------------------------------------ merge
    def merge(self, other: "Evaluator") -> None:
        """Adds the state of `other` (same configuration) to this one."""
        if not isinstance(other, Evaluator):
            raise ValueError(f"other: expected an Evaluator, got {type(other).__name__}")
        if other._config != self._config:
            diff = [k for k, v in asdict(self._config).items()
                    if asdict(other._config)[k] != v]
            raise ValueError(f"other: configured differently ({', '.join(diff)})")
        _exact.merge(self._acc, other._acc)
        mine, theirs = self._counts, other._counts
        mine.n_rows += theirs.n_rows
        mine.n_ignored += theirs.n_ignored
        mine.n_nonfinite += theirs.n_nonfinite
        self._kl_max = _nan_max(self._kl_max, other._kl_max)
        if self._class is not None:
            for a, b in zip(self._class, other._class):
                a.merge(b)
        if self._confusion is not None:
            self._confusion.merge(other._confusion)
        if self._config.segments and other._seg_id.size:
            ids = np.union1d(self._seg_id, other._seg_id)
            mine, theirs = np.searchsorted(ids, self._seg_id), np.searchsorted(ids, other._seg_id)
            greedy = np.ones(ids.size, bool)
            greedy[mine] &= self._seg_greedy
            greedy[theirs] &= other._seg_greedy
            new = [_exact.WindowSums(ids.size) for _ in range(2)]
            for n, a, b in zip(new, self._seg, other._seg):
                n.merge(a, mine)
                n.merge(b, theirs)
            self._seg_id, self._seg_greedy, self._seg = ids, greedy, new

    # ------------------------------------------------------------ result
    def result(self) -> EvalResult:
        """The metrics of every row seen, each sum rounded once."""
        return self._result(None)

    def _result(self, per_row) -> EvalResult:
        cfg = self._config
        s = _exact.round_sums(self._acc)
        k, nb = len(cfg.topk), cfg.n_bins
        b0 = _TOPK + k
        sums = {"count": s[_COUNT], "nll": s[_NLL], "nll2": s[_NLL2], "entropy": s[_ENTROPY],
                "brier": s[_BRIER], "mrr": s[_MRR], "kl": s[_KL], "same_top": s[_SAME],
                "delta_p": s[_DP], "topk": s[_TOPK:b0], "bin_count": s[b0:b0 + nb],
                "bin_conf": s[b0 + nb:b0 + 2 * nb], "bin_correct": s[b0 + 2 * nb:b0 + 3 * nb]}
        per_class = None if self._class is None else [a.round() for a in self._class]
        C = cfg.num_classes
        confusion = (None if self._confusion is None
                     else self._confusion.round().reshape(C, C))
        segments = None
        if cfg.segments:
            segments = (self._seg_id, self._seg[0].round(), self._seg[1].round(),
                        self._seg_greedy)
        c = self._counts
        return finish(sums, cfg.topk, nb, n_rows=c.n_rows, n_ignored=c.n_ignored,
                      n_nonfinite=c.n_nonfinite, kl_max=self._kl_max,
                      reference=cfg.reference, per_class=per_class, segments=segments,
                      confusion=confusion,
                      per_row=per_row)

    # ------------------------------------------------------------ state
    def state_dict(self) -> dict:
        """The whole state as plain data and int64 arrays (picklable), with
        a version number."""
        st = {"version": STATE_VERSION, "config": asdict(self._config),
              "sums": self._acc.copy(), "n_rows": self._counts.n_rows,
              "n_ignored": self._counts.n_ignored, "n_nonfinite": self._counts.n_nonfinite,
              "kl_max": float(self._kl_max)}
        st["config"]["topk"] = list(self._config.topk)
        if self._class is not None:
            st["per_class"] = [a.state() for a in self._class]
        if self._confusion is not None:
            st["confusion"] = self._confusion.state()
        if self._config.segments:
            st["segments"] = {"id": self._seg_id.copy(), "greedy": self._seg_greedy.copy(),
                              "count": self._seg[0].state(), "nll_sum": self._seg[1].state()}
        return st

    @classmethod
    def from_state_dict(cls, state, *, num_threads=None) -> "Evaluator":
        """An evaluator holding `state` (from :meth:`state_dict`)."""
        if not isinstance(state, dict) or "version" not in state:
            raise ValueError("state: expected a dict from Evaluator.state_dict()")
        if state["version"] != STATE_VERSION:
            raise ValueError(f"state: version {state['version']!r} is not supported "
                             f"(expected {STATE_VERSION})")
        try:
            cfg = dict(state["config"])
            ev = cls(cfg.pop("num_classes"), num_threads=num_threads, **cfg)
            sums = np.array(state["sums"], dtype=np.int64, order="C")
            if sums.shape != ev._acc.shape or not _exact.is_valid(sums):
                raise ValueError("malformed sums")
            ev._acc = sums
            counts = [int(state[k]) for k in ("n_rows", "n_ignored", "n_nonfinite")]
            if not all(0 <= c < 2**63 for c in counts):
                raise ValueError("malformed row counts")
            ev._counts.n_rows, ev._counts.n_ignored, ev._counts.n_nonfinite = counts
            ev._kl_max = float(state["kl_max"])
            if ev._class is not None:
                ev._class = [_exact.WindowSums.from_state(s) for s in state["per_class"]]
                if any(a.n != ev._config.num_classes for a in ev._class):
                    raise ValueError("malformed per-class sums")
            if ev._confusion is not None:
                ev._confusion = _exact.WindowSums.from_state(state["confusion"])
                if ev._confusion.n != ev._config.num_classes ** 2:
                    raise ValueError("malformed confusion matrix")
            if ev._config.segments:
                seg = state["segments"]
                ev._seg_id = np.array(seg["id"], dtype=np.int64)
                ev._seg_greedy = np.array(seg["greedy"], dtype=bool)
                ev._seg = [_exact.WindowSums.from_state(seg[k]) for k in ("count", "nll_sum")]
                if any(a.n != ev._seg_id.size for a in ev._seg) \
                        or ev._seg_greedy.shape != ev._seg_id.shape:
                    raise ValueError("malformed segments")
        except (KeyError, TypeError, IndexError) as e:
            raise ValueError(f"state: malformed ({e!r})") from None
        except ValueError as e:
            raise ValueError(f"state: {e}") from None
        return ev


def evaluate(logits, labels, *, axis=-1, ignore_index=-100, topk=(1, 5), n_bins=15,
             ties="first", sample_weight=None, segment_ids=None, per_class=False,
             confusion_matrix=False, reference_logits=None, nonfinite="propagate",
             return_per_row=False, num_threads=None) -> EvalResult:
    """Every metric of classifier / language-model logits in one read.

    One pass per row computes logsumexp, the argmax, the target's rank
    (classes ahead of it; `ties` decides equal logits: "first" = a lower
    index wins, like ``torch.argmax``; "last" = a higher one, like
    scikit-learn's ``top_k_accuracy_score``), entropy, Brier terms and the
    top-1 confidence, and with `reference_logits` KL(P_ref || P). Every sum
    is exact and rounded once: the result equals, bit for bit, any split of
    the rows into :class:`Evaluator` updates merged in any order.

    Parameters
    ----------
    logits : array_like, float
        Scores with the classes along `axis`.
    labels : array_like of int
        Class indices of ``logits.shape`` without `axis`; `ignore_index`
        marks rows that enter no metric.
    topk : sequence of int, default (1, 5)
        The k of ``topk_accuracy`` (rank < k).
    n_bins : int, default 15
        Equal-width confidence bins of ECE / MCE / RMSCE.
    sample_weight : array_like, optional
        Non-negative finite weight per row: every count becomes a sum of
        weights and every sum a weighted sum.
    segment_ids : array_like of int, optional
        Non-decreasing ids of the rows' shape (sequences / documents):
        per-segment token count, NLL sum and ``all_greedy``.
    per_class : bool, default False
        Per-class support, correct, predicted and NLL sum (length C).
    confusion_matrix : bool, default False
        The C x C matrix of weighted counts, row = true class, column =
        predicted (argmax, by `ties`); rows with non-finite logits have no
        prediction and are left out. Only for C <= 1024.
    reference_logits : array_like, optional
        Logits of the same shape: KL(P_ref || P) mean and max, agreement of
        the argmax, mean p_target - p_ref_target.
    nonfinite : {"propagate", "skip", "raise"}
        For counted rows with NaN or +inf logits (or all -inf): add NaN to
        the sums, exclude the row, or raise ValueError naming the row.
    return_per_row : bool, default False
        Also per-row nll, rank, argmax, max_prob, entropy (and kl).
    num_threads : int, optional
        Threads; the result does not depend on it.

    Returns
    -------
    EvalResult

    Examples
    --------
    >>> import numpy as np, fastxent
    >>> x = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 3.0]], dtype=np.float32)
    >>> r = fastxent.evaluate(x, np.array([0, 1]), topk=(1, 2))
    >>> r.topk_accuracy
    {1: 0.5, 2: 1.0}
    >>> round(r.nll_mean, 4)
    1.5755
    """
    x = logits if isinstance(logits, np.ndarray) else as_array(logits, "logits")
    if x.ndim == 0:
        raise ValueError("logits: expected at least 1 dimension (the class axis), got a scalar")
    C = x.shape[normalize_axis(axis, x.ndim)]
    if C == 0:
        raise ValueError("logits: the class axis has length 0; expected at least 1 class")
    per_row = _check_bool(return_per_row, "return_per_row")
    ev = Evaluator(C, axis=axis, ignore_index=ignore_index, topk=topk, n_bins=n_bins, ties=ties,
                   per_class=per_class, confusion_matrix=confusion_matrix, nonfinite=nonfinite,
                   reference=reference_logits is not None, segments=segment_ids is not None,
                   num_threads=num_threads)
    rows = ev._update(x, labels, sample_weight, segment_ids, reference_logits, per_row)
    return ev._result(rows)


def _restore(state, num_threads):
    """Unpickles an Evaluator (Evaluator.__reduce__)."""
    return Evaluator.from_state_dict(state, num_threads=num_threads)
