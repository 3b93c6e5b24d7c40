"""This machine's floors: how fast any implementation could run a case.

* compute floor: fastxent's own vectorised exp / log / log1p
  (``_kernels.math_eval``) over an L1-resident 4096-element buffer, in
  elements per second per core;
* memory floor: ``np.add.reduce`` re-reading a buffer of the case's byte
  count (so from the same cache level as the timed calls, which re-read the
  same arrays), in bytes per second, split across as many Python threads as
  the case uses.

``floor(case, T) = max(sum of transcendentals / (rate * T), bytes / read_bw(bytes, T))``
where bytes counts every input read and every N x C output written once.
"""
from __future__ import annotations

import itertools
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Dict, Sequence, Tuple

import numpy as np

from fastxent import _kernels

from .cases import Case
from .machine import usable_cpus

_MATH_FN = {"exp": 0, "log": 1, "log1p": 2}  # codes of _kernels.math_eval

HOW = ("rates: best batch of fastxent._kernels.math_eval over a 4096-element "
       "buffer, per core; read: best run of np.add.reduce re-reading a buffer "
       "of each case's byte count (at least 1 MiB), split across threads; "
       "each the best of a measurement before and after the cases")


@dataclass
class Floors:
    rates: Dict[str, float]                   # "exp/float32" -> elements/s per core
    read_bw: Dict[Tuple[int, int], float]     # (bytes, threads) -> bytes/s
    usable_cpus: int

    def best(self, other: "Floors") -> "Floors":
        """The faster of two measurements of each rate and bandwidth."""
        return Floors({k: max(v, other.rates.get(k, 0.0)) for k, v in self.rates.items()},
                      {k: max(v, other.read_bw.get(k, 0.0)) for k, v in self.read_bw.items()},
                      self.usable_cpus)

    def of(self, case: Case, threads: int) -> Tuple[float, str]:
        """(seconds, what bounds it) for `case` at `threads` threads."""
        cores = max(1, min(threads, self.usable_cpus))
        compute = sum(n / self.rates[f"{op}/{case.dtype}"] for op, n in case.ops.items()) / cores
        memory = case.bytes / self.read_bw[(case.bytes, threads)]
        if compute >= memory:
            return compute, "+".join(case.ops)
        return memory, "read"

    def as_json(self) -> Dict[str, Any]:
        return {"rates_per_core": self.rates,
                "read_bytes_per_s": [{"bytes": b, "threads": t, "bytes_per_s": v}
                                     for (b, t), v in sorted(self.read_bw.items())],
                "how": HOW}


def _math_input(op: str, dtype: str) -> np.ndarray:
    rng = np.random.default_rng(1)
    if op == "exp":  # what softmax feeds exp: x - max(x) <= 0
        a = rng.uniform(-30.0, 0.0, 4096)
    elif op == "log":
        a = rng.uniform(1e-6, 1.0, 4096)
    else:  # log1p(exp(-|x|)) of softplus
        a = rng.uniform(0.0, 1.0, 4096)
    return a.astype(dtype)


def math_rate(op: str, dtype: str, quick: bool) -> float:
    """Elements per second of fastxent's vector `op` on one core (best batch).

    The 4096-element buffer (in and out) stays in L1, so this is the
    arithmetic limit of the kernels' own math, not of memory.
    """
    inp = _math_input(op, dtype)
    out = np.empty_like(inp)
    fn = _MATH_FN[op]
    _kernels.math_eval(fn, inp, out)
    t0 = time.perf_counter()
    _kernels.math_eval(fn, inp, out)
    k = max(1, int((1e-3 if quick else 4e-3) / max(time.perf_counter() - t0, 1e-8)))
    best = math.inf
    for _ in range(7 if quick else 25):
        t0 = time.perf_counter()
        for _ in itertools.repeat(None, k):
            _kernels.math_eval(fn, inp, out)
        best = min(best, time.perf_counter() - t0)
    return inp.size * k / best


def read_bandwidth(nbytes: int, threads: Sequence[int], quick: bool,
                   pool: ThreadPoolExecutor, usable: int) -> Dict[int, float]:
    """Bytes per second of np.add.reduce re-reading a buffer of `nbytes`.

    The timed calls re-read the same arrays over and over, so the buffer has
    the case's size and is read repeatedly too: the bandwidth is that of the
    cache level (or memory) where the case's data live. At least 1 MiB, so
    the call overhead of a reduction does not pose as bandwidth. Threads
    read disjoint parts (ufunc reductions release the GIL).
    """
    buf = np.ones(max(nbytes, 1 << 20) // 8, dtype=np.float64)  # written: no page faults later
    out = {}
    try:
        for T in threads:
            parts = np.array_split(buf, max(1, min(T, usable)))
            t0 = time.perf_counter()
            np.add.reduce(parts[0])
            k = max(1, int((5e-3 if quick else 2e-2) / max(time.perf_counter() - t0, 1e-8)))

            def work(part, k=k):
                for _ in itertools.repeat(None, k):
                    np.add.reduce(part)
            best = math.inf
            for _ in range(3 if quick else 6):
                t0 = time.perf_counter()
                if len(parts) == 1:
                    work(buf)
                else:
                    list(pool.map(work, parts))
                best = min(best, time.perf_counter() - t0)
            out[T] = buf.nbytes * k / best
    finally:
        del buf
    return out


def measure_floors(cases: Sequence[Case], threads: Sequence[int], quick: bool) -> Floors:
    """This machine's per-core math rates and the read bandwidth per case size."""
    rates = {f"{op}/{dtype}": math_rate(op, dtype, quick)
             for op, dtype in sorted({(op, c.dtype) for c in cases for op in c.ops})}
    usable = usable_cpus()
    threads = sorted(set(threads) | {1})  # single-threaded peers are floored at 1 thread
    read_bw = {}
    with ThreadPoolExecutor(max(1, min(max(threads), usable))) as pool:
        for nbytes in sorted({c.bytes for c in cases}):
            for T, bw in read_bandwidth(nbytes, threads, quick, pool, usable).items():
                read_bw[(nbytes, T)] = bw
    return Floors(rates, read_bw, usable)
