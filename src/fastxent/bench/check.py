"""Checking results: every peer's result against fastxent's, and fastxent's
at each thread count against its own at the first."""
from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

RTOL = {"float32": 1e-3, "float64": 1e-6}  # per computation dtype


def as_arrays(result) -> Tuple[np.ndarray, ...]:
    """A result (scalar, array, tensor, or tuple of them) as NumPy arrays."""
    if isinstance(result, (tuple, list)):
        return tuple(a for r in result for a in as_arrays(r))
    if hasattr(result, "detach"):  # torch.Tensor
        result = result.detach().cpu().numpy()
    return (np.asarray(result),)


def compare(got: Sequence[np.ndarray], want: Sequence[np.ndarray],
            rtol: float) -> Tuple[bool, float]:
    """(agrees, error): error = max |got - want| / max |want| over finite values.

    Agreement is ``allclose(rtol, atol=rtol * max|want|)`` with NaN equal to
    NaN, per returned array; different shapes or counts never agree.
    """
    if len(got) != len(want):
        return False, math.inf
    ok, worst = True, 0.0
    for g, w in zip(got, want):
        g = np.asarray(g, dtype=np.float64)
        w = np.asarray(w, dtype=np.float64)
        if g.size != w.size or (g.shape != w.shape and g.size != 1):
            return False, math.inf
        g, w = g.reshape(-1), w.reshape(-1)
        finite = np.isfinite(w)
        scale = float(np.max(np.abs(w[finite]))) if finite.any() else 1.0
        scale = scale or 1.0
        ok &= bool(np.allclose(g, w, rtol=rtol, atol=rtol * scale, equal_nan=True))
        both = finite & np.isfinite(g)
        if both.any():
            worst = max(worst, float(np.max(np.abs(g[both] - w[both]))) / scale)
        if not np.array_equal(np.isfinite(g), finite):
            worst = math.inf
    return ok, worst


def same_bits(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    """Same count, shapes, dtypes and bytes."""
    return len(a) == len(b) and all(
        x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()
        for x, y in zip(a, b))


def check_fastxent(out: Sequence[np.ndarray], anchor: Optional[Sequence[np.ndarray]],
                   rtol: float) -> Dict[str, Any]:
    """The check fields of a fastxent row; `anchor` is its result at the first
    thread count (None: this is that result)."""
    if anchor is None:
        return {"check": "anchor"}
    return {"check": "same bits" if same_bits(out, anchor) else "bits differ",
            "max_err": compare(out, anchor, rtol)[1]}


def check_peer(out: Sequence[np.ndarray], want: Optional[Sequence[np.ndarray]],
               rtol: float) -> Dict[str, Any]:
    """The check fields of a peer's row against fastxent's result `want`."""
    if want is None:
        return {"check": "no fastxent result"}
    ok, err = compare(out, want, rtol)
    return {"check": "ok" if ok else "MISMATCH", "max_err": err}
