"""`python -m fastxent bench`: fastxent against its peers on the same data.

Times, in one process and on the very same arrays, fastxent, the pure-NumPy
twin (:mod:`fastxent.reference`) and whichever of PyTorch, SciPy and
scikit-learn are importable, over a standard set of cases, at 1 thread and at
all threads. Every peer's result is checked against fastxent's, and every
time is set against a floor the suite measures on this machine itself:

* compute floor: fastxent's own vectorised exp / log / log1p
  (``_kernels.math_eval``) over an L1-resident 4096-element buffer, in
  elements per second per core;
* memory floor: ``np.add.reduce`` re-reading a buffer of the case's byte
  count (so from the same cache level as the timed calls, which re-read the
  same arrays), in bytes per second, split across as many Python threads as
  the case uses.

``floor(case, T) = max(sum of transcendentals / (rate * T), bytes / read_bw(bytes, T))``
where bytes counts every input read and every N x C output written once.
Both are measured before and after the cases and the best is kept: on a
shared machine other processes slow the floor measurement as they slow the
cases, and a floor must not be too slow.

Cases whose fastxent function does not exist yet are skipped with a note, so
they appear by themselves when the function lands.
"""
from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.metadata
import itertools
import json
import math
import os
import platform
import sys
import textwrap
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

import fastxent
from fastxent import reference
from fastxent import _kernels, _threads

IMPL_ORDER = ("fastxent", "reference", "torch", "scipy", "sklearn")
_LIB_OF = {"torch": "torch", "scipy": "scipy.special", "sklearn": "sklearn.metrics"}
_MATH_FN = {"exp": 0, "log": 1, "log1p": 2}  # codes of _kernels.math_eval
_RTOL = {"float32": 1e-3, "float64": 1e-6}


# --------------------------------------------------------------------------
# implementations and cases

Builder = Callable[[Mapping[str, np.ndarray], int], Callable[[], Any]]


@dataclass(frozen=True)
class Impl:
    """One way to compute a case: `build(data, threads)` returns the timed call."""
    name: str
    threaded: bool  # honours the thread count; False = measured once, at 1 thread
    build: Builder
    call: str       # what is called, for the JSON


@dataclass(frozen=True)
class Case:
    """A function at one shape/dtype/option set, with its peers and its floor."""
    id: str
    func: str                    # the fastxent function being timed
    shape: Tuple[int, ...]
    dtype: str                   # computation dtype
    make: Callable[["_DataCache"], Dict[str, np.ndarray]]
    impls: Tuple[Impl, ...]
    ops: Mapping[str, int]       # transcendental -> evaluations per call
    bytes: int                   # bytes read + N x C bytes written per call
    quick: bool = False
    options: str = ""            # the non-default arguments, for humans

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape))


def _fx(func: str, *keys: str, threads_kw: bool = True, **kw) -> Impl:
    def build(d, threads):
        f = getattr(fastxent, func)
        args = [d[k] for k in keys]
        if threads_kw:
            return lambda: f(*args, num_threads=threads, **kw)
        return lambda: f(*args, **kw)  # follows fastxent.set_num_threads
    return Impl("fastxent", True, build, f"fastxent.{func}({_sig(keys, kw)})")


def _ref(func: str, *keys: str, **kw) -> Impl:
    def build(d, threads):
        f = getattr(reference, func)
        args = [d[k] for k in keys]
        return lambda: f(*args, **kw)
    return Impl("reference", False, build, f"fastxent.reference.{func}({_sig(keys, kw)})")


def _sig(keys, kw) -> str:
    return ", ".join(list(keys) + [f"{k}={v!r}" for k, v in kw.items()])


def _torch(call: str, make: Callable[[Any, Mapping[str, Any]], Callable[[], Any]]) -> Impl:
    """`make(torch, tensors)` returns the call; tensors share the NumPy data."""
    def build(d, threads):
        import torch
        tensors = {k: torch.from_numpy(v) for k, v in d.items()}
        return make(torch, tensors)
    return Impl("torch", True, build, call)


def _scipy(call: str, make: Callable[[Any, Mapping[str, np.ndarray]], Callable[[], Any]]) -> Impl:
    def build(d, threads):
        import scipy.special
        return make(scipy.special, d)
    return Impl("scipy", False, build, call)


def _sklearn_log_loss() -> Impl:
    def build(d, threads):
        from sklearn.metrics import log_loss
        return lambda: log_loss(d["y"], d["p"])
    return Impl("sklearn", False, build, "sklearn.metrics.log_loss(y, p)")


class _DataCache:
    """Deterministic input arrays, shared by consecutive cases.

    Each array comes from its own seed (derived from its key), so the data do
    not depend on which cases run or in which order. Arrays not requested by
    the current case are dropped when it ends, to bound memory.
    """

    def __init__(self) -> None:
        self._arrays: Dict[str, np.ndarray] = {}
        self._used: set = set()

    def get(self, key: str, make: Callable[[np.random.Generator], np.ndarray]) -> np.ndarray:
        self._used.add(key)
        if key not in self._arrays:
            rng = np.random.default_rng(zlib.crc32(key.encode()))
            self._arrays[key] = make(rng)
        return self._arrays[key]

    def end_case(self) -> None:
        for key in list(self._arrays):
            if key not in self._used:
                del self._arrays[key]
        self._used = set()

    def clear(self) -> None:
        self._arrays.clear()
        self._used = set()


def logits(D: _DataCache, shape, dtype: str = "float32") -> np.ndarray:
    """Standard normal * 2 (float32 values, also for float64)."""
    x = D.get(f"logits{shape}",
              lambda rng: rng.standard_normal(shape, dtype=np.float32) * np.float32(2))
    if dtype == "float32":
        return x
    return D.get(f"logits{shape}{dtype}", lambda rng: x.astype(dtype))


def labels(D: _DataCache, n: int, n_classes: int) -> np.ndarray:
    return D.get(f"labels{n},{n_classes}",
                 lambda rng: rng.integers(0, n_classes, n, dtype=np.int64))


def probabilities(D: _DataCache, shape, dtype: str = "float32", which: int = 0) -> np.ndarray:
    """Rows of a softmax of normal logits: strictly positive, summing to 1."""
    def make(rng):
        z = rng.standard_normal(shape) * 2.0
        p = np.exp(z - z.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        return p.astype(dtype)
    return D.get(f"probs{shape}{dtype}#{which}", make)


def binary_data(D: _DataCache, shape) -> Dict[str, np.ndarray]:
    x = D.get(f"bce-logits{shape}",
              lambda rng: rng.standard_normal(shape, dtype=np.float32) * np.float32(3))
    y = D.get(f"bce-targets{shape}", lambda rng: (rng.random(shape) < 0.5).astype(np.float32))
    return {"x": x, "y": y}


def xent_case(n: int, c: int, dtype: str = "float32", *, quick=False, soft=False,
              label_smoothing: float = 0.0, grad=False) -> Case:
    kw: Dict[str, Any] = {}
    if label_smoothing:
        kw["label_smoothing"] = label_smoothing
    tag = "xent"
    if soft:
        tag += "-soft"
    if label_smoothing:
        tag += f"-ls{label_smoothing:g}"
    if grad:
        tag += "-grad"
    itemsize = np.dtype(dtype).itemsize

    def make(D):
        d = {"x": logits(D, (n, c), dtype)}
        d["t"] = probabilities(D, (n, c), dtype) if soft else labels(D, n, c)
        return d

    nbytes = n * c * itemsize + (n * c * itemsize if soft else n * 8)
    if grad:
        nbytes += n * c * itemsize  # the gradient written
        fx = _fx("cross_entropy", "x", "t", return_grad=True, **kw)
        ref = _ref("cross_entropy", "x", "t", return_grad=True, **kw)

        def torch_grad(torch, T):
            F = torch.nn.functional
            x, t = T["x"].requires_grad_(True), T["t"]  # a leaf sharing the NumPy logits

            def call():
                x.grad = None
                loss = F.cross_entropy(x, t, **kw)
                loss.backward()
                return loss.detach(), x.grad
            return call
        tch = _torch("torch.nn.functional.cross_entropy(x, t).backward()", torch_grad)
    else:
        fx = _fx("cross_entropy", "x", "t", **kw)
        ref = _ref("cross_entropy", "x", "t", **kw)
        tch = _torch(f"torch.nn.functional.cross_entropy({_sig(('x', 't'), kw)})",
                     lambda torch, T: (lambda: torch.nn.functional.cross_entropy(
                         T["x"], T["t"], **kw)))
    opts = ", ".join(filter(None, [
        "soft targets" if soft else "index targets",
        f"label_smoothing={label_smoothing:g}" if label_smoothing else "",
        "return_grad=True" if grad else ""]))
    return Case(f"{tag}-{_dt(dtype)}-{n}x{c}", "cross_entropy", (n, c), dtype, make,
                (fx, ref, tch), {"exp": n * c}, nbytes, quick, opts)


def _dt(dtype: str) -> str:
    return {"float32": "f32", "float64": "f64"}[dtype]


def rowwise_case(func: str, n: int, c: int, *, quick=False) -> Case:
    """log_softmax / softmax / logsumexp along the last axis."""
    writes = func != "logsumexp"
    torch_fn = {"log_softmax": "torch.log_softmax", "softmax": "torch.softmax",
                "logsumexp": "torch.logsumexp"}[func]
    tfun = torch_fn.split(".")[1]

    def make(D):
        return {"x": logits(D, (n, c))}
    impls = (
        _fx(func, "x"),
        _ref(func, "x"),
        _torch(f"{torch_fn}(x, dim=-1)",
               lambda torch, T: (lambda: getattr(torch, tfun)(T["x"], dim=-1))),
        _scipy(f"scipy.special.{func}(x, axis=-1)",
               lambda sp, d: (lambda: getattr(sp, func)(d["x"], axis=-1))),
    )
    return Case(f"{func}-f32-{n}x{c}", func, (n, c), "float32", make, impls,
                {"exp": n * c}, n * c * 4 * (2 if writes else 1), quick)


def entropy_case(n: int, c: int) -> Case:
    def make(D):
        return {"p": probabilities(D, (n, c))}
    impls = (
        _fx("entropy", "p", threads_kw=False),
        _ref("entropy", "p"),
        _torch("torch.special.entr(p).sum(-1)",
               lambda torch, T: (lambda: torch.special.entr(T["p"]).sum(-1))),
        _scipy("scipy.special.entr(p).sum(axis=-1)",
               lambda sp, d: (lambda: sp.entr(d["p"]).sum(axis=-1))),
    )
    return Case(f"entropy-f32-{n}x{c}", "entropy", (n, c), "float32", make, impls,
                {"log": n * c}, n * c * 4)


def kl_case(n: int, c: int) -> Case:
    def make(D):
        return {"p": probabilities(D, (n, c)), "q": probabilities(D, (n, c), which=1)}
    impls = (
        _fx("kl_divergence", "p", "q", threads_kw=False),
        _ref("kl_divergence", "p", "q"),
        _torch("torch.nn.functional.kl_div(q.log(), p, reduction='none').sum(-1)",
               lambda torch, T: (lambda: torch.nn.functional.kl_div(
                   T["q"].log(), T["p"], reduction="none").sum(-1))),
        _scipy("scipy.special.rel_entr(p, q).sum(axis=-1)",
               lambda sp, d: (lambda: sp.rel_entr(d["p"], d["q"]).sum(axis=-1))),
    )
    return Case(f"kl-f32-{n}x{c}", "kl_divergence", (n, c), "float32", make, impls,
                {"log": n * c}, 2 * n * c * 4)


def bce_logits_case(n: int, c: int, *, quick=False) -> Case:
    impls = (
        _fx("binary_cross_entropy_with_logits", "x", "y"),
        _ref("binary_cross_entropy_with_logits", "x", "y"),
        _torch("torch.nn.functional.binary_cross_entropy_with_logits(x, y)",
               lambda torch, T: (lambda: torch.nn.functional.binary_cross_entropy_with_logits(
                   T["x"], T["y"]))),
    )
    return Case(f"bce-logits-f32-{n}x{c}", "binary_cross_entropy_with_logits", (n, c), "float32",
                lambda D: binary_data(D, (n, c)), impls,
                {"exp": n * c, "log1p": n * c}, 2 * n * c * 4, quick)


def bce_probs_case(n: int, c: int) -> Case:
    def make(D):
        d = binary_data(D, (n, c))
        def sigmoid(rng):
            return (1.0 / (1.0 + np.exp(-d["x"].astype(np.float64)))).astype(np.float32)
        p = D.get(f"bce-probs{(n, c)}", sigmoid)
        return {"p": p, "y": d["y"]}
    impls = (
        _fx("binary_cross_entropy", "p", "y"),
        _ref("binary_cross_entropy", "p", "y"),
        _torch("torch.nn.functional.binary_cross_entropy(p, y)",
               lambda torch, T: (lambda: torch.nn.functional.binary_cross_entropy(T["p"], T["y"]))),
    )
    return Case(f"bce-probs-f32-{n}x{c}", "binary_cross_entropy", (n, c), "float32", make, impls,
                {"log": 2 * n * c}, 2 * n * c * 4)


def log_loss_case(n: int, c: int) -> Case:
    def make(D):
        def every_class_once(rng):  # log_loss needs every column's label in y
            y = rng.integers(0, c, n, dtype=np.int64)
            y[:c] = np.arange(min(n, c))
            return y
        return {"y": D.get(f"log_loss-labels{n},{c}", every_class_once),
                "p": probabilities(D, (n, c), "float64")}
    impls = (
        _fx("log_loss", "y", "p", threads_kw=False),
        _ref("log_loss", "y", "p"),
        _sklearn_log_loss(),
    )
    # one log per row (the true class); the rest is reading and row checks
    return Case(f"log_loss-f64-{n}x{c}", "log_loss", (n, c), "float64", make, impls,
                {"log": n}, n * c * 8 + n * 8)


def standard_cases() -> List[Case]:
    """The standard suite, in table order (cases sharing data are adjacent)."""
    return [
        xent_case(64, 10, quick=True),
        xent_case(65536, 10, quick=True),
        xent_case(65536, 100),
        xent_case(512, 32000),
        xent_case(256, 128000),
        xent_case(8192, 1000, quick=True),
        xent_case(8192, 1000, "float64"),
        xent_case(8192, 1000, label_smoothing=0.1),
        xent_case(8192, 1000, grad=True, quick=True),
        rowwise_case("log_softmax", 8192, 1000, quick=True),
        rowwise_case("softmax", 8192, 1000),
        rowwise_case("logsumexp", 8192, 1000),
        xent_case(8192, 1000, soft=True),
        entropy_case(8192, 1000),
        kl_case(8192, 1000),
        bce_logits_case(10000, 1000, quick=True),
        bce_probs_case(10000, 1000),
        log_loss_case(100000, 10),
    ]


def select_cases(cases: Sequence[Case], patterns: Optional[str]) -> List[Case]:
    """Cases whose id contains any of the comma-separated substrings."""
    if not patterns:
        return list(cases)
    wanted = [p.strip().lower() for p in patterns.split(",") if p.strip()]
    return [c for c in cases if any(p in c.id.lower() for p in wanted)]


# --------------------------------------------------------------------------
# timing

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


# --------------------------------------------------------------------------
# floors

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
    usable = _threads.usable_cpus()
    threads = sorted(set(threads) | {1})  # single-threaded peers are floored at 1 thread
    read_bw = {}
    with ThreadPoolExecutor(max(1, min(max(threads), usable))) as pool:
        for nbytes in sorted({c.bytes for c in cases}):
            for T, bw in read_bandwidth(nbytes, threads, quick, pool, usable).items():
                read_bw[(nbytes, T)] = bw
    return Floors(rates, read_bw, usable)


# --------------------------------------------------------------------------
# checking results

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


def _same_bits(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()
        for x, y in zip(a, b))


# --------------------------------------------------------------------------
# running

def machine_info() -> Dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions: Dict[str, Optional[str]] = {}
    for dist in ("numpy", "torch", "scipy", "scikit-learn", "matplotlib"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    from ._config import config
    return {
        "cpu": cpu,
        "machine": platform.machine(),
        "system": platform.platform(),
        "python": platform.python_version(),
        "usable_cpus": _threads.usable_cpus(),
        "os_cpu_count": os.cpu_count(),
        "fastxent_config": config(),
        "versions": versions,
    }


def available_impls(cases: Sequence[Case],
                    wanted: Optional[Sequence[str]]) -> Tuple[List[str], Dict[str, str]]:
    """Importable impls among those the cases use: (names, {missing: why})."""
    used = {i.name for c in cases for i in c.impls}
    names, missing = [], {}
    for name in IMPL_ORDER:
        if name not in used or (wanted is not None and name not in wanted and name != "fastxent"):
            continue
        lib = _LIB_OF.get(name)
        if lib is not None:
            try:
                importlib.import_module(lib)
            except ImportError as e:  # not installed, or broken
                missing[name] = f"{lib} not importable ({e})"
                continue
        names.append(name)
    return names, missing


@contextlib.contextmanager
def thread_setting(threads: int, use_torch: bool):
    """Set fastxent's and torch's thread counts for a block, then restore them."""
    saved_fx = getattr(_threads, "_global_threads", None)
    torch = sys.modules.get("torch") if use_torch else None
    saved_torch = torch.get_num_threads() if torch is not None else None
    fastxent.set_num_threads(threads)
    if torch is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        fastxent.set_num_threads(saved_fx)
        if torch is not None:
            torch.set_num_threads(saved_torch)


def _missing_reason(case: Case) -> Optional[str]:
    if getattr(fastxent, case.func, None) is None:
        return f"fastxent.{case.func} does not exist yet"
    return None


def _loadavg() -> Optional[float]:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not on this OS
        return None


def _default_progress(msg: str, end: str = "\n") -> None:
    print(msg, end=end, file=sys.stderr, flush=True)


def run_suite(cases: Sequence[Case], threads: Sequence[int], settings: Settings,
              impls: Optional[Sequence[str]] = None,
              progress: Callable[..., None] = _default_progress) -> Dict[str, Any]:
    """Run `cases` at each thread count; returns the report (JSON-ready)."""
    started = time.time()
    threads = list(dict.fromkeys(int(t) for t in threads))
    names, missing = available_impls(cases, impls)
    skipped = {c.id: r for c in cases if (r := _missing_reason(c))}
    runnable = [c for c in cases if c.id not in skipped]

    progress("measuring the machine's floors (vector exp/log rates, read bandwidths) ...")
    load = _loadavg()
    floors = measure_floors(runnable, threads, settings.quick)

    plan = sum(1 for c in runnable for T in threads for i in c.impls
               if i.name in names and (i.threaded or T == threads[0]))
    counter = _Progress(plan, progress)
    rows: List[Dict[str, Any]] = []
    data = _DataCache()
    try:
        # All inputs are made before anything is timed: arrays allocated
        # after other cases' large temporaries came and went were measured
        # up to 2x slower to stream on this VM (fresh memory gets huge pages,
        # fragmented memory does not), which skewed whichever cases ran last.
        inputs = {case.id: case.make(data) for case in runnable}
        for case in runnable:
            try:
                rows.extend(_run_case(case, inputs[case.id], threads, names, settings, counter))
            except _NotImplementedYet as e:
                skipped[case.id] = str(e)
    finally:
        data.clear()

    # Other processes on the machine slow a floor measurement as they slow the
    # cases; the best of a measurement before and after is the floor used.
    if runnable:
        progress("measuring the floors again ...")
        floors = floors.best(measure_floors(runnable, threads, settings.quick))
    by_id = {c.id: c for c in runnable}
    for row in rows:
        floor, bound = floors.of(by_id[row["case"]], row["threads_used"])
        row["floor_s"], row["floor_bound"] = floor, bound
        if "median_s" in row:
            row["floor_fraction"] = floor / row["median_s"]

    return {
        "fastxent_version": fastxent.__version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": time.time() - started,
        "settings": {"quick": settings.quick, "threads": threads, "target_s": settings.target,
                     "min_repeats": settings.min_repeats, "max_repeats": settings.max_repeats,
                     "min_sample_s": settings.min_sample, "impls": names,
                     "rtol": _RTOL, "argv": sys.argv[1:]},
        "machine": machine_info(),
        "load_average": {"start": load, "end": _loadavg()},
        "floors": {"rates_per_core": floors.rates,
                   "read_bytes_per_s": [{"bytes": b, "threads": t, "bytes_per_s": v}
                                        for (b, t), v in sorted(floors.read_bw.items())],
                   "how": "rates: best batch of fastxent._kernels.math_eval over a 4096-element "
                          "buffer, per core; read: best run of np.add.reduce re-reading a buffer "
                          "of each case's byte count (at least 1 MiB), split across threads; "
                          "each the best of a measurement before and after the cases"},
        "cases": [_case_info(c, skipped.get(c.id)) for c in cases],
        "unavailable": missing,
        "skipped": skipped,
        "results": rows,
    }


class _NotImplementedYet(Exception):
    """fastxent raised NotImplementedError for a case: skip it with a note."""


class _Progress:
    def __init__(self, total: int, emit: Callable[..., None]) -> None:
        self.total, self.step, self.emit = total, 0, emit

    def start(self, case: Case, threads: int, impl: str) -> None:
        self.step += 1
        w = len(str(self.total))
        self.emit(f"[{self.step:>{w}}/{self.total}] {case.id}  {threads} thr  {impl:<9}", end="")

    def done(self, row: Dict[str, Any]) -> None:
        if "median_s" in row:
            self.emit("  " + format_time(row["median_s"]))
        else:
            self.emit("  error: " + row["error"])


def _run_case(case: Case, d, threads: Sequence[int], names: Sequence[str],
              settings: Settings, progress: _Progress) -> List[Dict[str, Any]]:
    """Rows of one case: every available impl at every thread count."""
    rtol = _RTOL[case.dtype]
    anchor = None                            # fastxent's result at the first thread count
    once: Dict[str, Dict[str, Any]] = {}     # single-threaded peers, measured once
    rows = []
    for T in threads:
        fx_out = fx_time = None
        with thread_setting(T, "torch" in names):
            for impl in case.impls:
                if impl.name not in names:
                    continue
                if not impl.threaded and impl.name in once:
                    rows.append(dict(once[impl.name], threads=T, reused=True,
                                     speedup=_ratio(once[impl.name].get("median_s"), fx_time)))
                    continue
                progress.start(case, T, impl.name)
                row, out, exc = _measure_row(case, impl, d, T if impl.threaded else 1, settings)
                progress.done(row)
                row["threads"] = T
                if impl.name == "fastxent":
                    if isinstance(exc, NotImplementedError):
                        raise _NotImplementedYet(f"fastxent raised {row['error']}")
                    if exc is not None:
                        row["check"] = "error"
                    elif anchor is None:
                        anchor, row["check"] = out, "anchor"
                    else:
                        row["check"] = "same bits" if _same_bits(out, anchor) else "bits differ"
                        row["max_err"] = compare(out, anchor, rtol)[1]
                    fx_out, fx_time = out, row.get("median_s")
                elif exc is not None:
                    row["check"] = "error"
                else:
                    want = fx_out if fx_out is not None else anchor
                    if want is None:
                        row["check"] = "no fastxent result"
                    else:
                        ok, err = compare(out, want, rtol)
                        row["check"], row["max_err"] = ("ok" if ok else "MISMATCH"), err
                    row["speedup"] = _ratio(row.get("median_s"), fx_time)
                if not impl.threaded:
                    once[impl.name] = row
                rows.append(row)
    return rows


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a and b else None


def _measure_row(case: Case, impl: Impl, d, threads: int, settings: Settings):
    """(row, result as arrays, exception): one impl timed at `threads` threads."""
    row: Dict[str, Any] = {"case": case.id, "func": case.func, "impl": impl.name,
                           "threads_used": threads, "reused": False,
                           "elements": case.elements, "bytes": case.bytes}
    try:
        call = impl.build(d, threads)
        result, timing = measure(call, settings)
        out = as_arrays(result)
    except Exception as e:  # a peer that cannot do this case is reported, not fatal
        row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        return row, None, e
    row.update(times_s=timing.times, number=timing.number, repeats=len(timing.times),
               median_s=timing.median, q25_s=timing.q25, q75_s=timing.q75,
               iqr_s=timing.q75 - timing.q25, min_s=timing.min,
               gelem_per_s=case.elements / timing.median / 1e9)
    return row, out, None


def _case_info(c: Case, skipped: Optional[str]) -> Dict[str, Any]:
    return {"id": c.id, "func": c.func, "shape": list(c.shape), "dtype": c.dtype,
            "options": c.options, "elements": c.elements, "bytes": c.bytes,
            "ops": dict(c.ops), "impls": {i.name: i.call for i in c.impls},
            "skipped": skipped}


# --------------------------------------------------------------------------
# output

def format_time(s: Optional[float]) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            v = s / scale
            return f"{v:#.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return "-"


def _fmt_floor(f: Optional[float]) -> str:
    if f is None:
        return "-"
    return f"{100 * f:.0f}%" + ("!" if f > 1.0 else "")


def _fmt_ratio(v: Optional[float]) -> str:
    if not v:
        return ""
    return f"{v:.2f}x" if v < 10 else f"{v:.1f}x" if v < 100 else f"{v:.0f}x"


def _fmt_rate(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def _check_cell(r: Dict[str, Any]) -> str:
    c = r.get("check", "")
    if c == "MISMATCH":
        return f"MISMATCH {r['max_err']:.1e}"
    if c == "bits differ":
        return f"bits differ ({r['max_err']:.0e})"
    if c == "error":
        return "ERROR: " + r.get("error", "")[:60]
    return c


COLUMNS = ("case", "thr", "impl", "median", "min", "IQR", "Gelem/s", "floor", "bound",
           "%floor", "fastxent speed-up", "check")
_RIGHT = {"thr", "median", "min", "IQR", "Gelem/s", "floor", "%floor", "fastxent speed-up"}


def table_rows(report: Dict[str, Any]) -> List[List[str]]:
    out = []
    last_case = None
    for r in report["results"]:
        new_case = r["case"] != last_case
        thr = str(r["threads"]) if r["threads_used"] == r["threads"] else f"{r['threads_used']}*"
        fx = r["impl"] == "fastxent"
        med = r.get("median_s")
        out.append([
            r["case"] if new_case else "",
            thr,
            r["impl"],
            format_time(med),
            format_time(r.get("min_s")),
            f"{100 * r['iqr_s'] / med:.1f}%" if med else "-",
            _fmt_rate(r["gelem_per_s"]) if med else "-",
            format_time(r["floor_s"]) if fx else "",
            r["floor_bound"] if fx else "",
            _fmt_floor(r.get("floor_fraction")),
            _fmt_ratio(r.get("speedup")),
            _check_cell(r),
        ])
        last_case = r["case"]
    return out


def scaling_rows(report: Dict[str, Any]) -> Tuple[List[str], List[List[str]]]:
    threads = report["settings"]["threads"]
    if len(threads) < 2:
        return [], []
    base = threads[0]
    by = {(r["case"], r["threads"]): r.get("median_s")
          for r in report["results"] if r["impl"] == "fastxent"}
    head = (["case"] + [f"{t} thr" for t in threads]
            + [f"{t}/{base} thr speed-up" for t in threads[1:]])
    rows = []
    for case in dict.fromkeys(r["case"] for r in report["results"]):
        ts = [by.get((case, t)) for t in threads]
        rows.append([case] + [format_time(t) for t in ts]
                    + [_fmt_ratio(ts[0] / t) if (t and ts[0]) else "-" for t in ts[1:]])
    return head, rows


def _render_text(head: Sequence[str], rows: List[List[str]], right=frozenset()) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]

    def line(cells):
        return "  ".join(c.rjust(w) if h in right else c.ljust(w)
                         for c, w, h in zip(cells, widths, head)).rstrip()
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep] + [line(r) for r in rows])


def _render_markdown(head: Sequence[str], rows: List[List[str]], right=frozenset()) -> str:
    def esc(c):
        return c.replace("|", "\\|")
    align = ["---:" if h in right else ":---" for h in head]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _header_lines(report: Dict[str, Any]) -> List[str]:
    m, f, s = report["machine"], report["floors"], report["settings"]
    cfg = m["fastxent_config"]
    v = m["versions"]
    peers = ", ".join(f"{k} {v[k]}" for k in ("torch", "scipy", "scikit-learn") if v.get(k))
    rates = ", ".join(f"{k.replace('/float', ' f')} {r / 1e9:.2f}"
                      for k, r in f["rates_per_core"].items())
    bws: Dict[int, List[float]] = {}
    for e in f["read_bytes_per_s"]:
        bws.setdefault(e["threads"], []).append(e["bytes_per_s"] / 1e9)
    bw = ", ".join(f"{min(b):.0f}-{max(b):.0f} GB/s ({t} thr)" if len(b) > 1
                   else f"{b[0]:.0f} GB/s ({t} thr)" for t, b in bws.items())
    load = report.get("load_average", {}).get("start")
    return [
        f"fastxent {report['fastxent_version']} bench{' --quick' if s['quick'] else ''} "
        f"on {m['cpu']}: "
        f"{m['usable_cpus']} usable CPUs, ISA {cfg['isa']}, {cfg['compiler']}, "
        f"OpenMP {'yes' if cfg['openmp'] else 'no'}",
        f"peers: numpy {v.get('numpy')}" + (f", {peers}" if peers else "")
        + (f"; load average at start {load:.2f}" if load is not None else ""),
        f"floors: vector math {rates} Gelem/s per core; read {bw} over buffers of each case's size",
    ]


def _footnotes(report: Dict[str, Any]) -> List[str]:
    notes = [
        "median, min: of the samples (seconds per call); IQR = interquartile range / median; "
        "Gelem/s = N*C elements per second at the median.",
        "floor = max(transcendentals / (per-core rate x threads), bytes moved / read bandwidth), "
        "bound = what sets it; %floor = floor / median (100% = at the machine's limit; "
        "'!' = above 100%: the floor was measured while the machine was busier, "
        "rerun on a quiet one).",
        "fastxent speed-up = that impl's median / fastxent's at the same thread count "
        "(> 1: fastxent is faster).",
        "thr N* = single-threaded library: measured once at N threads and repeated in each "
        "thread group.",
        "check: result vs fastxent's (rtol 1e-3 float32 / 1e-6 float64, atol = rtol * max|value|); "
        "fastxent rows: 'same bits' = identical to its result at the first thread count.",
    ]
    load, cpus = report.get("load_average", {}).get("start"), report["machine"]["usable_cpus"]
    if load is not None and load > 0.25 * cpus:
        notes.append(f"load average {load:.2f} on {cpus} CPUs at the start: other processes "
                     f"compete for the CPUs, so times are noisy, most of all at {cpus} threads.")
    for case, why in report["skipped"].items():
        notes.append(f"skipped {case}: {why}")
    for impl, why in report["unavailable"].items():
        notes.append(f"not timed: {impl}: {why}")
    return notes


def format_report(report: Dict[str, Any], markdown: bool = False) -> str:
    head, rows = list(COLUMNS), table_rows(report)
    shead, srows = scaling_rows(report)
    parts: List[str] = []
    if markdown:
        parts.append("  \n".join(_header_lines(report)))
        parts.append(_render_markdown(head, rows, _RIGHT) if rows else "(no results)")
        parts.append("\n".join("* " + n for n in _footnotes(report)))
        if srows:
            parts.append("fastxent thread scaling:")
            parts.append(_render_markdown(shead, srows, set(shead[1:])))
    else:
        parts.append("\n".join(_header_lines(report)))
        parts.append(_render_text(head, rows, _RIGHT) if rows else "(no results)")
        parts.append("\n".join(textwrap.fill(n, 100, initial_indent="  ", subsequent_indent="    ")
                                for n in _footnotes(report)))
        if srows:
            parts.append("fastxent thread scaling:\n" + _render_text(shead, srows, set(shead[1:])))
    return "\n\n".join(parts) + "\n"


def plot_report(report: Dict[str, Any], path: str) -> None:
    """Throughput per case and implementation, log scale, one panel per thread count."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    threads = report["settings"]["threads"]
    cases = list(dict.fromkeys(r["case"] for r in report["results"]))
    xs = {c: i for i, c in enumerate(cases)}
    # one panel per thread count, stacked so the case labels are written once
    size = (max(7.0, 0.5 * len(cases) + 3), 1.5 + 3.5 * len(threads))
    fig, axes = plt.subplots(len(threads), 1, figsize=size, sharex=True, sharey=True, squeeze=False)
    markers = dict(zip(IMPL_ORDER, "osD^v"))
    for ax, T in zip(axes[:, 0], threads):
        rows = [r for r in report["results"] if r["threads"] == T and "median_s" in r]
        for impl in IMPL_ORDER:
            pts = sorted((xs[r["case"]], r["gelem_per_s"]) for r in rows if r["impl"] == impl)
            if pts:
                ax.plot(*zip(*pts), marker=markers[impl], linestyle="none", label=impl)
        floor = sorted((xs[r["case"]], r["elements"] / r["floor_s"] / 1e9)
                       for r in rows if r["impl"] == "fastxent")
        if floor:
            ax.plot(*zip(*floor), color="black", marker="_", markersize=22, linestyle="none",
                    label="machine floor")
        ax.set_yscale("log")
        ax.set_title(f"{T} thread{'s' if T > 1 else ''}")
        ax.set_ylabel("Gelem/s (N*C / time)")
        ax.grid(True, which="both", axis="y", alpha=0.3)
    axes[-1, 0].set_xticks(range(len(cases)))
    axes[-1, 0].set_xticklabels(cases, rotation=60, ha="right", fontsize=8)
    axes[0, 0].legend(fontsize=8, loc="lower right")
    m = report["machine"]
    fig.suptitle(f"fastxent {report['fastxent_version']} on {m['cpu']} "
                 f"({m['usable_cpus']} CPUs, ISA {m['fastxent_config']['isa']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------
# command line

def add_arguments(p) -> None:
    p.add_argument("--quick", action="store_true",
                   help="a subset of the cases (unless --cases is given) and fewer repeats: "
                        "well under a minute")
    p.add_argument("--cases", metavar="SUBSTRINGS",
                   help="only cases whose id contains one of these comma-separated substrings "
                        "(e.g. 8192x1000 or xent-f32-64x10); see --list")
    p.add_argument("--threads", metavar="LIST",
                   help="comma-separated thread counts (default: 1 and all usable CPUs)")
    p.add_argument("--impls", metavar="LIST",
                   help=f"comma-separated implementations to time besides fastxent "
                        f"(default: all importable of {', '.join(IMPL_ORDER[1:])})")
    p.add_argument("--target-time", type=float, metavar="SECONDS",
                   help="time spent sampling each measurement (default 0.2, --quick 0.08)")
    p.add_argument("--json", metavar="FILE", help="write all raw results and machine info as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="draw throughput per case (needs matplotlib)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--list", action="store_true", help="list the cases and exit")


def _parse_threads(text: Optional[str]) -> List[int]:
    if not text:
        return sorted({1, _threads.usable_cpus()})
    try:
        ts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        ts = []
    if not ts or min(ts) < 1:
        raise ValueError(f"--threads: expected comma-separated positive integers, got {text!r}")
    return list(dict.fromkeys(ts))


def main(args) -> int:
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("fastxent bench: --plot needs matplotlib, which is not installed "
                  "(pip install matplotlib, or pip install 'fastxent[plot]')", file=sys.stderr)
            return 2
    cases = standard_cases()
    if args.list:
        for c in cases:
            why = _missing_reason(c)
            print(f"{c.id:<28} {'quick ' if c.quick else '      '}{c.options:<40} "
                  f"{'(skipped: ' + why + ')' if why else ''}".rstrip())
        return 0
    if args.quick and not args.cases:
        cases = [c for c in cases if c.quick]
    cases = select_cases(cases, args.cases)
    if not cases:
        print(f"fastxent bench: no case matches {args.cases!r}; see --list", file=sys.stderr)
        return 2
    impls = None
    if args.impls:
        impls = [s.strip() for s in args.impls.split(",") if s.strip()]
        unknown = set(impls) - set(IMPL_ORDER)
        if unknown:
            print(f"fastxent bench: unknown --impls {sorted(unknown)}; choose from {IMPL_ORDER}",
                  file=sys.stderr)
            return 2
    try:
        threads = _parse_threads(args.threads)
    except ValueError as e:
        print(f"fastxent bench: {e}", file=sys.stderr)
        return 2
    settings = Settings.for_mode(args.quick, args.target_time)
    report = run_suite(cases, threads, settings, impls)
    print(format_report(report, markdown=args.markdown), end="")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(jsonable(report), f, indent=1, allow_nan=False)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        plot_report(report, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0


def jsonable(o):
    """`o` with NumPy scalars as Python numbers and inf/NaN as null (strict JSON)."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o
