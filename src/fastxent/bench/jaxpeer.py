"""JAX as a peer: jitted JAX (optax where it has the loss) on the case's data,
timed in a process of its own pinned to as many CPUs as fastxent's threads.

XLA's CPU thread pool follows no simple flag, so the count is pinned by
what XLA cannot exceed: the child process restricts itself with
``os.sched_setaffinity`` to the first T of the parent's usable CPUs before
it imports jax (XLA sizes its pool from that affinity), with
``JAX_PLATFORMS=cpu``. It loads the very arrays the other peers get (saved
as .npy), compiles and warms the call up, then times it with the bench's own
:func:`~fastxent.bench.timing.measure`, blocking until every result is
ready. Labels go to JAX as int32, its default without x64 (float64 cases
turn x64 on); half logits are read as stored and upcast to float32 in the
jitted function, as fastxent computes them.

The parent never imports jax: whether it is installed is asked of the import
system, and everything else happens in the child
(``python -m fastxent.bench._jaxchild DIR``).
"""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .timing import Settings, Timing

__all__ = ["jax_installed", "optax_installed", "jax_impl", "build_jax_call",
           "measure_in_child", "affinity_cpus"]

_CHILD_TIMEOUT_S = 600


def jax_installed() -> bool:
    """Whether jax can be found, without importing it."""
    return importlib.util.find_spec("jax") is not None


def optax_installed() -> bool:
    return importlib.util.find_spec("optax") is not None


# --------------------------------------------------------------------------
# the expressions: spec -> function of the case's arrays (run in the child)

def _xent(jax, optax, spec):
    jnp = jax.numpy
    eps, soft = spec.get("label_smoothing", 0.0), spec.get("soft", False)

    def loss(x, t):
        if spec.get("upcast"):
            x = x.astype(jnp.float32)
        c = x.shape[-1]
        if optax is not None:
            if soft:
                t = t.astype(x.dtype)
                tt = optax.smooth_labels(t, eps) if eps else t
                return optax.softmax_cross_entropy(x, tt).mean()
            if eps:
                tt = optax.smooth_labels(jax.nn.one_hot(t, c, dtype=x.dtype), eps)
                return optax.softmax_cross_entropy(x, tt).mean()
            return optax.softmax_cross_entropy_with_integer_labels(x, t).mean()
        lp = jax.nn.log_softmax(x, axis=-1)
        if soft:
            tt = t.astype(x.dtype) * (1 - eps) + eps / c
            return -(tt * lp).sum(-1).mean()
        nll = -jnp.take_along_axis(lp, t[:, None], axis=-1)[:, 0]
        if eps:
            nll = (1 - eps) * nll - eps * lp.mean(-1)
        return nll.mean()
    return jax.value_and_grad(loss) if spec.get("grad") else loss


def _bce_logits(jax, optax, spec):
    if optax is not None:
        return lambda x, y: optax.sigmoid_binary_cross_entropy(x, y).mean()
    return lambda x, y: (jax.nn.softplus(x) - x * y).mean()


_EXPRESSIONS: Mapping[str, Callable[[Any, Any, Mapping[str, Any]], Callable[..., Any]]] = {
    "cross_entropy": _xent,
    "log_softmax": lambda jax, optax, spec: (lambda x: jax.nn.log_softmax(x, axis=-1)),
    "softmax": lambda jax, optax, spec: (lambda x: jax.nn.softmax(x, axis=-1)),
    "logsumexp": lambda jax, optax, spec: (
        lambda x: jax.scipy.special.logsumexp(x, axis=-1)),
    "entropy": lambda jax, optax, spec: (lambda p: jax.scipy.special.entr(p).sum(-1)),
    "kl_divergence": lambda jax, optax, spec: (
        lambda p, q: jax.scipy.special.rel_entr(p, q).sum(-1)),
    "binary_cross_entropy_with_logits": _bce_logits,
}


_OPTAX_FUNCS = ("cross_entropy", "binary_cross_entropy_with_logits")


def _optax_or_none(spec):
    if spec["func"] not in _OPTAX_FUNCS:
        return None
    try:
        return importlib.import_module("optax")
    except ImportError:
        return None


def build_jax_call(spec: Mapping[str, Any], data: Mapping[str, np.ndarray]) -> Callable[[], Any]:
    """The jitted call of `spec` on `data` (its arrays already on JAX's
    device), returning the results ready (``block_until_ready``). Imports jax:
    in this process, unpinned (the bench itself calls it in the child)."""
    jax = _jax()
    if spec.get("x64"):
        jax.config.update("jax_enable_x64", True)
    f = jax.jit(_EXPRESSIONS[spec["func"]](jax, _optax_or_none(spec), spec))
    args = [jax.device_put(_for_jax(data[k], spec)) for k in spec["keys"]]
    return lambda: jax.block_until_ready(f(*args))


def _jax():
    """jax, imported only here and in the child (by name: no stubs needed)."""
    return importlib.import_module("jax")


def _for_jax(a: np.ndarray, spec) -> np.ndarray:
    if a.dtype.kind in "iu" and not spec.get("x64"):
        return a.astype(np.int32)  # JAX's integers without x64
    return a


def expression_used(spec: Mapping[str, Any], optax: Optional[bool] = None) -> str:
    """What `spec` calls: with optax if `optax` (None: where it is installed)."""
    if optax is None:
        optax = spec["func"] in _OPTAX_FUNCS and optax_installed()
    return "jax.jit(" + spec["call_optax" if optax else "call_jax"] + ")"


# --------------------------------------------------------------------------
# the case's side: the Impl, and timing in the child

def jax_impl(func: str, *keys: str, call_optax: str = "", call_jax: str, **spec) -> Any:
    """The jax Impl of a case of `func` on data[keys]: timed in its own
    pinned process by the runner (:func:`measure_in_child`); its `build`
    runs the same call in this process, unpinned (for the case API)."""
    from .cases import Impl
    s = dict(spec, func=func, keys=list(keys), call_jax=call_jax,
             call_optax=call_optax or call_jax)

    def build(d, threads):
        return build_jax_call(s, d)

    def isolated(d, threads, settings):
        return measure_in_child(s, d, threads, settings)
    return Impl("jax", True, build, expression_used(s), isolated)


def affinity_cpus(threads: int) -> Optional[List[int]]:
    """The first `threads` CPUs this process may run on (all of them if
    fewer), or None where the OS has no CPU affinity."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))[:max(1, threads)]


def measure_in_child(spec: Mapping[str, Any], data: Mapping[str, np.ndarray], threads: int,
                     settings: Settings) -> Tuple[Tuple[np.ndarray, ...], Timing, Dict[str, Any]]:
    """(results, timing, row fields) of `spec` on `data`, timed in a child
    process restricted to :func:`affinity_cpus` (`threads`)."""
    cpus = affinity_cpus(threads)
    with tempfile.TemporaryDirectory(prefix="fastxent-jax-") as work:
        dtypes = {}
        for k in spec["keys"]:
            a = np.ascontiguousarray(data[k])
            dtypes[k] = a.dtype.name
            if a.dtype.kind == "V":  # bfloat16: saved as its bits
                a = a.view(np.uint16)
            np.save(os.path.join(work, k + ".npy"), a)
        job = {"spec": dict(spec), "dtypes": dtypes, "cpus": cpus, "settings": asdict(settings)}
        with open(os.path.join(work, "job.json"), "w") as f:
            json.dump(job, f)
        proc = subprocess.run([sys.executable, "-m", "fastxent.bench._jaxchild", work],
                              env=_child_env(), capture_output=True, text=True,
                              timeout=_CHILD_TIMEOUT_S)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            raise RuntimeError(f"jax child process failed: {last}")
        with open(os.path.join(work, "info.json")) as f:
            info = json.load(f)
        with np.load(os.path.join(work, "out.npz")) as z:
            outs = tuple(z[f"out{i}"] for i in range(info["outputs"]))
            timing = Timing([float(t) for t in z["times"]], int(z["number"]))
    fields = {"pinning": info["pinning"], "cpus": info["cpus"], "call": info["call"],
              "jax_version": info["jax_version"]}
    return outs, timing, fields


def _child_env() -> Dict[str, str]:
    """The parent's environment, CPU only, and this fastxent first on the path."""
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH")) if p)
    return env


def pinning_note(cpus: Optional[Sequence[int]]) -> str:
    if cpus is None:
        return "own process, not pinned (no CPU affinity on this OS)"
    return f"own process, affinity {len(cpus)} CPU{'s' if len(cpus) > 1 else ''}"


# --------------------------------------------------------------------------
# the child

def child_main(work: str) -> int:
    """The child's work on the job in `work` (job.json and the arrays): writes
    the results and samples (out.npz) and what it ran on (info.json)."""
    with open(os.path.join(work, "job.json")) as f:
        job = json.load(f)
    cpus = job["cpus"]
    if cpus is not None:
        os.sched_setaffinity(0, cpus)   # before jax is imported: XLA sizes its pool from it
    spec = job["spec"]
    data = {k: _load(os.path.join(work, k + ".npy"), job["dtypes"][k]) for k in spec["keys"]}
    from .check import as_arrays
    from .timing import measure
    call = build_jax_call(spec, data)
    call()  # compile
    call()  # and warm up
    result, timing = measure(call, Settings(**job["settings"]))
    outs = as_arrays(result)
    arrays: Dict[str, Any] = {f"out{i}": a for i, a in enumerate(outs)}
    np.savez(os.path.join(work, "out.npz"), times=np.asarray(timing.times),
             number=np.asarray(timing.number), **arrays)
    jax = _jax()
    now = sorted(os.sched_getaffinity(0)) if cpus is not None else None
    info = {"outputs": len(outs), "cpus": now, "pinning": pinning_note(now),
            "call": expression_used(spec, _optax_or_none(spec) is not None),
            "jax_version": jax.__version__}
    with open(os.path.join(work, "info.json"), "w") as f:
        json.dump(info, f)
    return 0


def _load(path: str, dtype: str) -> np.ndarray:
    a = np.load(path)
    if dtype == "bfloat16":  # ml_dtypes: a dependency of jax
        return a.view(importlib.import_module("ml_dtypes").bfloat16)
    return a

