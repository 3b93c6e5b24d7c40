"""EvalResult: the metrics of an evaluation, immutable, from rounded sums.

The finishing (means, calibration errors, standard error) is written once
here and used by :func:`fastxent.evaluate`, :class:`fastxent.Evaluator` and
the NumPy twin :func:`fastxent.reference.evaluate`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Dict, Mapping, Optional

import numpy as np

_LN2 = math.log(2.0)


def _frozen(a, dtype=None, copy=True) -> np.ndarray:
    """a as a read-only array; copy=False for a new array nobody else holds
    (a rounded per-class sum: C values, not worth copying)."""
    arr = np.array(a, dtype=dtype) if copy else np.asarray(a, dtype=dtype)
    arr.setflags(write=False)
    return arr


def _plain(v: Any) -> Any:
    """v as plain Python data; NaN and infinities become None."""
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {(int(k) if isinstance(k, (int, np.integer)) else str(k)): _plain(x)
                for k, x in v.items()}
    if hasattr(v, "to_dict"):
        return v.to_dict()
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v


class _Record:
    """to_dict for the frozen dataclasses below."""

    def to_dict(self) -> Dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]


@dataclass(frozen=True, repr=False)
class Bins(_Record):
    """Equal-width confidence bins: bin b holds max_prob in [b/n, (b+1)/n)
    (the last one also 1.0); sums are weighted."""
    edges: np.ndarray
    count: np.ndarray
    confidence_sum: np.ndarray
    correct_sum: np.ndarray

    def __repr__(self) -> str:
        return f"Bins(n_bins={self.count.size})"


@dataclass(frozen=True, repr=False)
class PerClass(_Record):
    """Per class (length C): weighted support (rows labelled c), correct
    top-1 predictions, rows predicted as c, NLL sum."""
    support: np.ndarray
    correct: np.ndarray
    predicted: np.ndarray
    nll_sum: np.ndarray

    def __repr__(self) -> str:
        return f"PerClass(num_classes={self.support.size})"


@dataclass(frozen=True, repr=False)
class Segments(_Record):
    """Per segment id: weighted token count, NLL sum, and whether every
    counted token was the argmax."""
    id: np.ndarray
    count: np.ndarray
    nll_sum: np.ndarray
    all_greedy: np.ndarray

    def __repr__(self) -> str:
        return f"Segments(n={self.id.size})"


@dataclass(frozen=True)
class Reference(_Record):
    """Against reference logits: mean and max KL(P_ref || P), the fraction of
    rows whose argmax agrees, the mean of p_target - p_ref_target."""
    kl_mean: float
    kl_max: float
    same_top: float
    delta_p_mean: float


@dataclass(frozen=True, repr=False)
class PerRow(_Record):
    """Arrays of the rows' shape (NaN / -1 for ignored and non-finite rows)."""
    nll: np.ndarray
    rank: np.ndarray
    argmax: np.ndarray
    max_prob: np.ndarray
    entropy: np.ndarray
    kl: Optional[np.ndarray] = None

    def __repr__(self) -> str:
        return f"PerRow(shape={self.nll.shape})"


@dataclass(frozen=True, repr=False)
class EvalResult(_Record):
    """Every metric of an evaluation (see :func:`fastxent.evaluate`).

    Immutable: fields cannot be assigned and arrays are read-only.
    ``to_dict()`` gives plain Python data with NaN and infinities as None.

    Examples
    --------
    >>> import json, numpy as np, fastxent
    >>> r = fastxent.evaluate(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 0]))
    >>> r.topk_accuracy[1], r.n_rows
    (0.5, 2)
    >>> json.dumps(r.to_dict(), allow_nan=False)[:15]
    '{"n_rows": 2, "'
    """
    n_rows: int
    n_ignored: int
    n_nonfinite: int
    count: float
    nll_sum: float
    nll_mean: float
    nll_stderr: float
    perplexity: float
    bits_per_token: float
    topk_accuracy: Mapping[int, float]
    mrr: float
    entropy_mean: float
    brier: float
    ece: float
    mce: float
    rmsce: float
    bins: Bins
    per_class: Optional[PerClass] = None
    segments: Optional[Segments] = None
    reference: Optional[Reference] = None
    per_row: Optional[PerRow] = None
    confusion_matrix: Optional[np.ndarray] = None

    def __repr__(self) -> str:
        rows = [("rows", f"{self.n_rows} ({self.n_ignored} ignored, "
                         f"{self.n_nonfinite} non-finite)"),
                ("count", f"{self.count:.6g}"),
                ("nll_mean", f"{self.nll_mean:.6g} +- {self.nll_stderr:.2g}"),
                ("perplexity", f"{self.perplexity:.6g}"),
                ("bits_per_token", f"{self.bits_per_token:.6g}")]
        rows += [(f"top{k}_accuracy", f"{v:.6g}") for k, v in self.topk_accuracy.items()]
        rows += [("mrr", f"{self.mrr:.6g}"), ("entropy_mean", f"{self.entropy_mean:.6g}"),
                 ("brier", f"{self.brier:.6g}"),
                 ("ece / mce / rmsce", f"{self.ece:.4g} / {self.mce:.4g} / {self.rmsce:.4g}")]
        if self.reference is not None:
            r = self.reference
            rows += [("kl_mean / kl_max", f"{r.kl_mean:.6g} / {r.kl_max:.6g}"),
                     ("same_top", f"{r.same_top:.6g}"),
                     ("delta_p_mean", f"{r.delta_p_mean:.6g}")]
        for name in ("per_class", "segments", "per_row"):
            if getattr(self, name) is not None:
                rows.append((name, repr(getattr(self, name))))
        if self.confusion_matrix is not None:
            C = self.confusion_matrix.shape[0]
            rows.append(("confusion_matrix", f"({C} x {C}: true class x predicted)"))
        width = max(len(k) for k, _ in rows)
        return "EvalResult(\n" + "".join(f"  {k:<{width}}  {v}\n" for k, v in rows) + ")"


def _div(a: float, n: float) -> float:
    return a / n if n != 0 else math.nan


def calibration(count, conf, correct):
    """ECE, MCE and RMSCE from the bins' weighted count, confidence and
    correct sums (NaN without any weight)."""
    n = math.fsum(count)
    if not n > 0:
        return math.nan, math.nan, math.nan
    full = count > 0
    gap = np.abs(correct[full] - conf[full])
    ece = math.fsum(gap) / n
    mce = float(np.max(gap / count[full]))
    rms = math.sqrt(math.fsum(gap / count[full] * gap) / n)   # no overflow of gap^2
    if np.isnan(conf).any() or np.isnan(correct).any():
        return math.nan, math.nan, math.nan
    return ece, mce, rms


def finish(sums: Mapping[str, Any], topk, n_bins: int, *, n_rows: int, n_ignored: int,
           n_nonfinite: int, kl_max: float, reference: bool, per_class=None,
           segments=None, per_row=None, confusion=None) -> EvalResult:
    """The result from rounded sums: `sums` maps count, nll, nll2, entropy,
    brier, mrr, kl, same_top, delta_p to floats, topk to a sequence and
    bin_count, bin_conf, bin_correct to arrays."""
    sums = {k: (float(v) if np.ndim(v) == 0 else v) for k, v in sums.items()}
    n = sums["count"]
    mean = _div(sums["nll"], n)
    if n > 1:
        var = sums["nll2"] / n - mean * mean
        stderr = math.sqrt(max(var, 0.0) / (n - 1)) if var == var else math.nan
    else:
        stderr = math.nan
    bc, bconf, bcor = (np.asarray(sums[k], dtype=np.float64)
                       for k in ("bin_count", "bin_conf", "bin_correct"))
    ece, mce, rms = calibration(bc, bconf, bcor)
    bins = Bins(_frozen(np.linspace(0.0, 1.0, n_bins + 1)), _frozen(bc), _frozen(bconf),
                _frozen(bcor))
    ref = None
    if reference:
        ref = Reference(_div(sums["kl"], n), float(kl_max) if n > 0 else math.nan,
                        _div(sums["same_top"], n), _div(sums["delta_p"], n))
    return EvalResult(
        n_rows=int(n_rows), n_ignored=int(n_ignored), n_nonfinite=int(n_nonfinite),
        count=float(n), nll_sum=float(sums["nll"]), nll_mean=mean, nll_stderr=stderr,
        perplexity=math.exp(mean) if mean == mean and mean < 709.78 else
        (math.inf if mean == mean else math.nan),
        bits_per_token=mean / _LN2,
        topk_accuracy={int(k): _div(float(v), n) for k, v in zip(topk, sums["topk"])},
        mrr=_div(sums["mrr"], n), entropy_mean=_div(sums["entropy"], n),
        brier=_div(sums["brier"], n), ece=ece, mce=mce, rmsce=rms, bins=bins,
        per_class=None if per_class is None else PerClass(*(_frozen(a, copy=False)
                                                             for a in per_class)),
        segments=None if segments is None else Segments(
            _frozen(segments[0], np.int64), _frozen(segments[1]), _frozen(segments[2]),
            _frozen(segments[3], bool)),
        reference=ref, per_row=per_row,
        confusion_matrix=None if confusion is None else _frozen(confusion, copy=False))


def frozen_per_row(nll, rank, argmax, max_prob, entropy, kl=None) -> PerRow:
    return PerRow(_frozen(nll), _frozen(rank), _frozen(argmax), _frozen(max_prob),
                  _frozen(entropy), None if kl is None else _frozen(kl))
