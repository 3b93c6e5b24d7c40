"""Timing one call: warm-up, batching of short calls, samples; and the
thread counts a measurement runs at."""
from __future__ import annotations

import contextlib
import gc
import itertools
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Tuple

import numpy as np

import fastxent


@dataclass
class Timing:
    times: List[float]  # seconds per call, one per sample
    number: int         # calls per sample

    @property
    def median(self) -> float:
        return float(np.median(self.times))

    @property
    def q25(self) -> float:
        return float(np.percentile(self.times, 25))

    @property
    def q75(self) -> float:
        return float(np.percentile(self.times, 75))

    @property
    def min(self) -> float:
        return float(np.min(self.times))


@dataclass(frozen=True)
class Settings:
    target: float = 0.2        # seconds of samples per measurement
    min_repeats: int = 3
    max_repeats: int = 300
    min_sample: float = 1e-3   # calls shorter than this are batched per sample
    quick: bool = False

    @classmethod
    def for_mode(cls, quick: bool, target: Optional[float] = None) -> "Settings":
        if quick:
            return cls(target=0.08 if target is None else target, max_repeats=100,
                       min_sample=5e-4, quick=True)
        return cls(target=0.2 if target is None else target)


def measure(call: Callable[[], Any], s: Settings) -> Tuple[Any, Timing]:
    """Warm up, then time `call`: returns its first result and the samples.

    Calls shorter than `s.min_sample` run in batches so the clock's
    resolution and the loop do not dominate; the number of samples fills
    about `s.target` seconds, at least `s.min_repeats`.
    """
    clock = time.perf_counter
    gc.collect()
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        t0 = clock()
        result = call()  # first call: lazy initialisation, page faults
        est = clock() - t0
        if est < s.target:
            t0 = clock()
            call()
            est = min(est, clock() - t0)
        est = max(est, 1e-8)
        number = max(1, int(math.ceil(s.min_sample / est))) if est < s.min_sample else 1
        if number > 1:  # re-estimate on a batch: single tiny calls are noisy
            t0 = clock()
            for _ in itertools.repeat(None, number):
                call()
            est = max((clock() - t0) / number, 1e-9)
            number = max(1, int(math.ceil(s.min_sample / est)))
        repeats = int(s.target / (est * number))
        repeats = max(s.min_repeats, min(s.max_repeats, repeats))
        times = []
        for _ in range(repeats):
            t0 = clock()
            for _ in itertools.repeat(None, number):
                call()
            times.append((clock() - t0) / number)
    finally:
        if gc_was_on:
            gc.enable()
    return result, Timing(times, number)


@contextlib.contextmanager
def thread_setting(threads: int, use_torch: bool) -> Iterator[None]:
    """Set fastxent's and torch's thread counts for a block, then restore them.

    fastxent's count is restored through its public API: to the default
    (``set_num_threads(None)``) when that gives the count in force before,
    else to that count.
    """
    saved_fx = fastxent.get_num_threads()
    torch = sys.modules.get("torch") if use_torch else None
    saved_torch = torch.get_num_threads() if torch is not None else None
    fastxent.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        fastxent.set_num_threads(None)
        if fastxent.get_num_threads() != saved_fx:
            fastxent.set_num_threads(saved_fx)
        if torch is not None:
            torch.set_num_threads(saved_torch)
