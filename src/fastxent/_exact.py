"""The Python side of the exact superaccumulator (csrc/fx_exact.h).

An accumulator is a row of ``WORDS`` int64: 68 chunks of 32 bits holding
the sum as an integer multiple of 2**-1074, then the count of additions
since the carries were last propagated, then the +inf, -inf and NaN counts.
Sums are exact, so adding in any order or grouping gives the same bits
once rounded (by :func:`round_sums`, to nearest even, once).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from . import _kernels

WORDS = _kernels.exact_words()


def zeros(k: int) -> np.ndarray:
    """k empty accumulators, shape (k, WORDS)."""
    return np.zeros((k, WORDS), dtype=np.int64)


def add(acc: np.ndarray, values) -> None:
    """Adds every value of `values` (as float64) to the one accumulator `acc`."""
    v = np.ascontiguousarray(values, dtype=np.float64).reshape(-1)
    _kernels.exact_add(acc, v)


def merge(dst: np.ndarray, src: np.ndarray) -> None:
    """dst += src, accumulator by accumulator (both of shape (k, WORDS))."""
    if dst.shape != src.shape:
        raise ValueError(f"exact sums of shapes {dst.shape} and {src.shape} cannot be merged")
    _kernels.exact_merge(dst, np.ascontiguousarray(src))


def round_sums(acc: np.ndarray) -> np.ndarray:
    """The correctly rounded float64 sum of each accumulator."""
    return _kernels.exact_round(np.ascontiguousarray(acc))


def fsum(values) -> float:
    """The correctly rounded sum of `values` (math.fsum without its
    intermediate overflow: 1e308 + 1e308 - 1e308 is 1e308)."""
    acc = zeros(1)
    add(acc[0], values)
    return float(round_sums(acc)[0])


def is_valid(acc: np.ndarray) -> bool:
    """Whether `acc` can be an accumulator: int64 (k, WORDS), non-negative
    counts (used to check a state_dict)."""
    return (isinstance(acc, np.ndarray) and acc.dtype == np.int64 and acc.ndim == 2
            and acc.shape[1] == WORDS and bool(np.all(acc[:, 68:] >= 0))
            and bool(np.all(acc[:, 68] < 1 << 28)))


_MASK32 = np.uint64(0xFFFFFFFF)
_NCHUNKS = 68


class WindowSums:
    """Exact sums of many items (classes, segments) in little memory.

    Every item's sum is an accumulator restricted to the chunks actually
    used by any value added so far (a window [lo, lo + width) shared by
    the items, grown when a value needs it), plus its +inf/-inf/NaN counts
    (allocated at the first of them): an item costs 8 * width bytes in
    memory. Values between 2**-20 and 2**20 use a window of 4 chunks, the
    widest (2**-1074 to 2**1024) 68. The state lists the nonzero items only.

    Carries are propagated lazily: a value adds pieces below 2**32 to
    three chunks, so the chunks are normalised once ``_LIMIT`` values have
    been added since the last time (far below int64's 2**31 pieces), and
    before the state is listed or merged.

    The items ever touched are marked (``used``), and every pass over the
    items (rounding, carries, widening, merging, the state) visits those
    only: a per-class sum of 128k classes fed a few hundred rows costs a
    few hundred items' work, not 128k (nor the page faults of reading the
    untouched zero pages).
    """

    _LIMIT = 1 << 28

    def __init__(self, n: int = 0):
        self.lo = 0
        self.chunks = np.zeros((n, 0), dtype=np.int64)
        self.special: Optional[np.ndarray] = None
        self.used = np.zeros(n, dtype=bool)   # items that may be nonzero
        self._pending = 0   # values added since the chunks were normalised

    @property
    def n(self) -> int:
        return self.chunks.shape[0]

    def resize(self, n: int) -> None:
        """Grows to n items (new ones are 0)."""
        extra = n - self.n
        if extra > 0:
            self.chunks = np.concatenate(
                [self.chunks, np.zeros((extra, self.chunks.shape[1]), np.int64)])
            self.used = np.concatenate([self.used, np.zeros(extra, bool)])
            if self.special is not None:
                self.special = np.concatenate([self.special, np.zeros((extra, 3), np.int64)])

    def _widen(self, lo: int, hi: int) -> None:
        """Makes the window cover chunks [lo, hi) (hi exclusive)."""
        width = self.chunks.shape[1]
        if width == 0:
            self.lo = lo
            self.chunks = np.zeros((self.n, hi - lo), np.int64)
            return
        new_lo, new_hi = min(lo, self.lo), max(hi, self.lo + width)
        if new_lo == self.lo and new_hi == self.lo + width:
            return
        out = np.zeros((self.n, new_hi - new_lo), np.int64)
        rows = np.flatnonzero(self.used)
        out[rows, self.lo - new_lo:self.lo - new_lo + width] = self.chunks[rows]
        self.lo, self.chunks = new_lo, out

    def add(self, index: np.ndarray, values: np.ndarray) -> None:
        """Adds values[j] to item index[j], exactly."""
        v = np.require(np.asarray(values, dtype=np.float64).reshape(-1), None,
                       ["C_CONTIGUOUS", "ALIGNED"])
        index = np.require(np.asarray(index, dtype=np.int64).reshape(-1), None,
                           ["C_CONTIGUOUS", "ALIGNED"])
        if index.size == 0:
            return
        if index.size > self._LIMIT:
            for k in range(0, index.size, self._LIMIT):
                self.add(index[k:k + self._LIMIT], v[k:k + self._LIMIT])
            return
        nspecial, lo, hi = _kernels.exact_span(v)
        if nspecial:
            bits = v.view(np.uint64)
            special = ((bits >> np.uint64(52)) & np.uint64(0x7FF)) == 0x7FF
            neg = (bits >> np.uint64(63)).astype(bool)
            nan = special & ((bits & np.uint64((1 << 52) - 1)) != 0)
            col = np.where(nan, 2, np.where(neg, 1, 0))
            if self.special is None:
                self.special = np.zeros((self.n, 3), np.int64)
            np.add.at(self.special, (index[special], col[special]), 1)
            self.used[index[special]] = True
        if lo > hi:   # nothing finite and nonzero
            return
        # one chunk of headroom above the highest piece, for the carries
        self._widen(lo, hi + 4)
        if self._pending + index.size > self._LIMIT:
            self.normalize()
        # the kernel skips the specials and zeros and adds the rest
        bad = _kernels.exact_window_add(self.chunks, self.lo, index, v)
        self._pending += index.size
        self.used[index[:bad] if bad >= 0 else index] = True
        if bad >= 0:
            raise IndexError(f"exact sums: item {index[bad]} of {self.n} (value {v[bad]!r})")

    def normalize(self) -> None:
        """Carries propagated upwards (every chunk but the top in [0, 2**32))."""
        rows = np.flatnonzero(self.used)
        if rows.size == self.n:
            _kernels.exact_window_normalize(self.chunks)
        elif rows.size:
            c = np.ascontiguousarray(self.chunks[rows])
            _kernels.exact_window_normalize(c)
            self.chunks[rows] = c
        self._pending = 0

    def merge(self, other: "WindowSums", index=None) -> None:
        """Adds other's item j to item index[j] (default: j)."""
        if index is None:
            index = np.arange(other.n)
        rows = np.flatnonzero(other.used)   # other's items that may be nonzero
        to = index[rows]
        if other.chunks.shape[1]:
            self._widen(other.lo, other.lo + other.chunks.shape[1])
            s = other.lo - self.lo
            cols = np.arange(s, s + other.chunks.shape[1])
            np.add.at(self.chunks, (to[:, None], cols[None, :]), other.chunks[rows])
        if other.special is not None:
            if self.special is None:
                self.special = np.zeros((self.n, 3), np.int64)
            np.add.at(self.special, to, other.special[rows])
        self.used[to] = True
        self.normalize()

    def round(self) -> np.ndarray:
        """The correctly rounded sum of every item."""
        rows = np.flatnonzero(self.used)
        if rows.size == self.n:
            return _kernels.exact_round_window(self.chunks, self.lo, self.special)
        out = np.zeros(self.n)
        out[rows] = _kernels.exact_round_window(
            np.ascontiguousarray(self.chunks[rows]), self.lo,
            None if self.special is None else np.ascontiguousarray(self.special[rows]))
        return out

    def state(self) -> dict:
        """The nonzero items only: their indices, chunks and specials."""
        self.normalize()
        rows = np.flatnonzero(self.used)
        rows = rows[self.chunks[rows].any(axis=1)]
        st = {"n": self.n, "lo": int(self.lo), "width": self.chunks.shape[1], "rows": rows,
              "chunks": self.chunks[rows], "special_rows": None, "special": None}
        if self.special is not None:
            srows = np.flatnonzero(self.used)
            srows = srows[self.special[srows].any(axis=1)]
            st.update(special_rows=srows, special=self.special[srows])
        return st

    @classmethod
    def from_state(cls, state) -> "WindowSums":
        n, lo, width = (int(state[k]) for k in ("n", "lo", "width"))
        if n < 0 or lo < 0 or width < 0 or lo + width > _NCHUNKS:
            raise ValueError("state_dict: malformed exact sums")
        w = cls(n)
        w.lo = lo
        w.chunks = np.zeros((n, width), np.int64)
        rows = np.asarray(state["rows"], dtype=np.intp)
        w.chunks[rows] = np.asarray(state["chunks"], np.int64)
        w.used[rows] = True
        if state["special"] is not None:
            w.special = np.zeros((n, 3), np.int64)
            srows = np.asarray(state["special_rows"], dtype=np.intp)
            w.special[srows] = np.asarray(state["special"], np.int64)
            w.used[srows] = True
        return w
