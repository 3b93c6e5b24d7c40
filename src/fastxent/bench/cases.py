"""The benchmark cases: what is timed, on which data, against which peers.

A :class:`Case` is one fastxent function at one shape, dtype and option set,
with the calls that compute the same thing (:class:`Impl`: fastxent, its
NumPy twin, PyTorch, jitted JAX, SciPy, scikit-learn), the transcendentals
and bytes its floor is made of, and a maker of its inputs. The inputs come from a
:class:`DataCache`, so cases on the same arrays share them.

``make_case(func, n, c, **options)`` builds the case of any benchmarked
function (the registry is :data:`CASE_MAKERS`); :func:`standard_cases` is the
suite ``python -m fastxent bench`` runs, :func:`get_case` one of it by id.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

import fastxent
from fastxent import reference

from .jaxpeer import jax_impl

IMPL_ORDER = ("fastxent", "reference", "torch", "jax", "scipy", "sklearn")

Builder = Callable[[Mapping[str, np.ndarray], int], Callable[[], Any]]


@dataclass(frozen=True)
class Impl:
    """One way to compute a case: `build(data, threads)` returns the timed call."""
    name: str
    threaded: bool  # honours the thread count; False = measured once, at 1 thread
    build: Builder
    call: str       # what is called, for the JSON
    # timed elsewhere: `isolated(data, threads, settings)` -> (results, Timing, row fields)
    # (JAX, in its own pinned process); `build` then runs it here, unpinned
    isolated: Optional[Callable[..., Any]] = None


@dataclass(frozen=True)
class Case:
    """A function at one shape/dtype/option set, with its peers and its floor."""
    id: str
    func: str                    # the fastxent function being timed
    shape: Tuple[int, ...]
    dtype: str                   # computation dtype
    make: Callable[["DataCache"], Dict[str, np.ndarray]]
    impls: Tuple[Impl, ...]
    ops: Mapping[str, int]       # transcendental -> evaluations per call
    bytes: int                   # bytes read + N x C bytes written per call
    quick: bool = False
    options: str = ""            # the non-default arguments, for humans

    @property
    def elements(self) -> int:
        return int(np.prod(self.shape))

    storage: str = ""            # the inputs' dtype where it is not `dtype` (halves)

    @property
    def missing(self) -> Optional[str]:
        """Why the case cannot run in this fastxent, or None if it can."""
        if getattr(fastxent, self.func, None) is None:
            return f"fastxent.{self.func} does not exist yet"
        if self.storage == "bfloat16" and _bfloat16() is None:
            return "bfloat16 inputs need ml_dtypes (pip install ml_dtypes)"
        return None

    def impl(self, name: str) -> Optional[Impl]:
        """The implementation called `name`, or None if the case has none."""
        return next((i for i in self.impls if i.name == name), None)


# --------------------------------------------------------------------------
# implementations

def fastxent_impl(func: str, *keys: str, threads_kw: bool = True, **kw) -> Impl:
    """``fastxent.func(*data[keys], **kw)``, passing ``num_threads`` unless told not to."""
    def build(d, threads):
        f = getattr(fastxent, func)
        args = [d[k] for k in keys]
        if threads_kw:
            return lambda: f(*args, num_threads=threads, **kw)
        return lambda: f(*args, **kw)  # follows fastxent.set_num_threads
    return Impl("fastxent", True, build, f"fastxent.{func}({_signature(keys, kw)})")


def reference_impl(func: str, *keys: str, **kw) -> Impl:
    """``fastxent.reference.func(*data[keys], **kw)``, the NumPy twin."""
    def build(d, threads):
        f = getattr(reference, func)
        args = [d[k] for k in keys]
        return lambda: f(*args, **kw)
    return Impl("reference", False, build,
                f"fastxent.reference.{func}({_signature(keys, kw)})")


def _signature(keys, kw) -> str:
    return ", ".join(list(keys) + [f"{k}={v!r}" for k, v in kw.items()])


def torch_impl(call: str, make: Callable[[Any, Mapping[str, Any]], Callable[[], Any]]) -> Impl:
    """`make(torch, tensors)` returns the call; tensors share the NumPy data
    (bfloat16 arrays become bfloat16 tensors of the same memory)."""
    def build(d, threads):
        import torch
        tensors = {k: _tensor(torch, v) for k, v in d.items()}
        return make(torch, tensors)
    return Impl("torch", True, build, call)


def _tensor(torch, a: np.ndarray):
    if a.dtype.kind == "V" and a.dtype.name == "bfloat16":
        return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
    return torch.from_numpy(a)


def _bfloat16():
    """ml_dtypes' bfloat16 dtype, or None without ml_dtypes (a bench extra)."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    return np.dtype(ml_dtypes.bfloat16)


def _np_dtype(name: str) -> np.dtype:
    return _bfloat16() if name == "bfloat16" else np.dtype(name)


def scipy_impl(call: str,
               make: Callable[[Any, Mapping[str, np.ndarray]], Callable[[], Any]]) -> Impl:
    """`make(scipy.special, data)` returns the call."""
    def build(d, threads):
        import scipy.special
        return make(scipy.special, d)
    return Impl("scipy", False, build, call)


def sklearn_log_loss_impl() -> Impl:
    def build(d, threads):
        from sklearn.metrics import log_loss
        return lambda: log_loss(d["y"], d["p"])
    return Impl("sklearn", False, build, "sklearn.metrics.log_loss(y, p)")


# --------------------------------------------------------------------------
# input data

class DataCache:
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


def logits(D: DataCache, shape, dtype: str = "float32") -> np.ndarray:
    """Standard normal * 2 (float32 values, also for float64)."""
    x = D.get(f"logits{shape}",
              lambda rng: rng.standard_normal(shape, dtype=np.float32) * np.float32(2))
    if dtype == "float32":
        return x
    return D.get(f"logits{shape}{dtype}", lambda rng: x.astype(_np_dtype(dtype)))


def labels(D: DataCache, n: int, n_classes: int) -> np.ndarray:
    return D.get(f"labels{n},{n_classes}",
                 lambda rng: rng.integers(0, n_classes, n, dtype=np.int64))


def probabilities(D: DataCache, shape, dtype: str = "float32", which: int = 0) -> np.ndarray:
    """Rows of a softmax of normal logits: strictly positive, summing to 1."""
    def make(rng):
        z = rng.standard_normal(shape) * 2.0
        p = np.exp(z - z.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
        return p.astype(_np_dtype(dtype))
    return D.get(f"probs{shape}{dtype}#{which}", make)


def binary_data(D: DataCache, shape) -> Dict[str, np.ndarray]:
    x = D.get(f"bce-logits{shape}",
              lambda rng: rng.standard_normal(shape, dtype=np.float32) * np.float32(3))
    y = D.get(f"bce-targets{shape}", lambda rng: (rng.random(shape) < 0.5).astype(np.float32))
    return {"x": x, "y": y}


# --------------------------------------------------------------------------
# the cases of each function

def xent_case(n: int, c: int, dtype: str = "float32", *, quick=False, soft=False,
              label_smoothing: float = 0.0, grad=False) -> Case:
    """Cross-entropy at (n, c); `dtype` is the logits' (float16 and
    bfloat16 are read as stored and computed in float32: their floor is
    the half-width read)."""
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
    half = dtype in ("float16", "bfloat16")
    itemsize = 2 if half else np.dtype(dtype).itemsize

    def make(D):
        d = {"x": logits(D, (n, c), dtype)}
        d["t"] = probabilities(D, (n, c), dtype) if soft else labels(D, n, c)
        return d

    nbytes = n * c * itemsize + (n * c * itemsize if soft else n * 8)
    if grad:
        nbytes += n * c * (4 if half else itemsize)  # the gradient written (float32 for halves)
        impls = (fastxent_impl("cross_entropy", "x", "t", return_grad=True, **kw),
                 reference_impl("cross_entropy", "x", "t", return_grad=True, **kw),
                 torch_impl("torch.nn.functional.cross_entropy(x, t).backward()",
                            lambda torch, T: _torch_xent_backward(torch, T, kw)),
                 _jax_xent(dtype, soft, label_smoothing, grad=True))
    else:
        impls = (fastxent_impl("cross_entropy", "x", "t", **kw),
                 reference_impl("cross_entropy", "x", "t", **kw),
                 torch_impl(f"torch.nn.functional.cross_entropy({_signature(('x', 't'), kw)})"
                            + (".float()" if half else ""),
                            lambda torch, T: _torch_xent(torch, T, kw, half)),
                 _jax_xent(dtype, soft, label_smoothing))
    opts = ", ".join(filter(None, [
        "soft targets" if soft else "index targets",
        f"label_smoothing={label_smoothing:g}" if label_smoothing else "",
        "return_grad=True" if grad else "", f"{dtype} logits" if half else ""]))
    return Case(f"{tag}-{_short(dtype)}-{n}x{c}", "cross_entropy", (n, c),
                "float32" if half else dtype, make, impls, {"exp": n * c}, nbytes, quick, opts,
                dtype if half else "")


def _torch_xent(torch, T, kw, half: bool) -> Callable[[], Any]:
    """torch's loss on the case's tensors; of half tensors (computed by torch
    in their dtype) as float32, which NumPy can hold (bfloat16 it cannot)."""
    F = torch.nn.functional
    if half:
        return lambda: F.cross_entropy(T["x"], T["t"], **kw).float()
    return lambda: F.cross_entropy(T["x"], T["t"], **kw)


def _jax_xent(dtype: str, soft: bool, eps: float, grad: bool = False) -> Impl:
    """optax's loss (else jax.nn.log_softmax and a gather) of the case, mean."""
    up = ".astype(float32)" if dtype in ("float16", "bfloat16") else ""
    if soft:
        tt = f"optax.smooth_labels(t, {eps:g})" if eps else "t"
        call_optax = f"optax.softmax_cross_entropy(x{up}, {tt}).mean()"
        tt = f"((1-{eps:g}) t + {eps:g}/C)" if eps else "t"
        call_jax = f"-({tt} * jax.nn.log_softmax(x{up})).sum(-1).mean()"
    elif eps:
        call_optax = (f"optax.softmax_cross_entropy(x{up}, optax.smooth_labels("
                      f"jax.nn.one_hot(t, C), {eps:g})).mean()")
        call_jax = (f"((1-{eps:g}) * nll - {eps:g} * lp.mean(-1)).mean(), lp = "
                    f"jax.nn.log_softmax(x{up}), nll = -take_along_axis(lp, t)")
    else:
        call_optax = f"optax.softmax_cross_entropy_with_integer_labels(x{up}, t).mean()"
        call_jax = f"-take_along_axis(jax.nn.log_softmax(x{up}), t).mean()"
    if grad:
        call_optax, call_jax = (f"value_and_grad({c})" for c in (call_optax, call_jax))
    return jax_impl("cross_entropy", "x", "t", call_optax=call_optax, call_jax=call_jax,
                    soft=soft, label_smoothing=eps, grad=grad, upcast=bool(up),
                    x64=dtype == "float64")


def _torch_xent_backward(torch, T, kw) -> Callable[[], Any]:
    F = torch.nn.functional
    x, t = T["x"].requires_grad_(True), T["t"]  # a leaf sharing the NumPy logits

    def call():
        x.grad = None
        loss = F.cross_entropy(x, t, **kw)
        loss.backward()
        return loss.detach(), x.grad
    return call


def _short(dtype: str) -> str:
    return {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16"}[dtype]


def rowwise_case(func: str, n: int, c: int, *, quick=False) -> Case:
    """log_softmax / softmax / logsumexp along the last axis."""
    writes = func != "logsumexp"
    torch_fn = {"log_softmax": "torch.log_softmax", "softmax": "torch.softmax",
                "logsumexp": "torch.logsumexp"}[func]
    tfun = torch_fn.split(".")[1]

    def make(D):
        return {"x": logits(D, (n, c))}
    impls = (
        fastxent_impl(func, "x"),
        reference_impl(func, "x"),
        torch_impl(f"{torch_fn}(x, dim=-1)",
                   lambda torch, T: (lambda: getattr(torch, tfun)(T["x"], dim=-1))),
        jax_impl(func, "x",
                 call_jax=f"{'jax.nn' if writes else 'jax.scipy.special'}.{func}(x, axis=-1)"),
        scipy_impl(f"scipy.special.{func}(x, axis=-1)",
                   lambda sp, d: (lambda: getattr(sp, func)(d["x"], axis=-1))),
    )
    return Case(f"{func}-f32-{n}x{c}", func, (n, c), "float32", make, impls,
                {"exp": n * c}, n * c * 4 * (2 if writes else 1), quick)


def entropy_case(n: int, c: int) -> Case:
    def make(D):
        return {"p": probabilities(D, (n, c))}
    impls = (
        fastxent_impl("entropy", "p", threads_kw=False),
        reference_impl("entropy", "p"),
        torch_impl("torch.special.entr(p).sum(-1)",
                   lambda torch, T: (lambda: torch.special.entr(T["p"]).sum(-1))),
        jax_impl("entropy", "p", call_jax="jax.scipy.special.entr(p).sum(-1)"),
        scipy_impl("scipy.special.entr(p).sum(axis=-1)",
                   lambda sp, d: (lambda: sp.entr(d["p"]).sum(axis=-1))),
    )
    return Case(f"entropy-f32-{n}x{c}", "entropy", (n, c), "float32", make, impls,
                {"log": n * c}, n * c * 4)


def kl_case(n: int, c: int) -> Case:
    def make(D):
        return {"p": probabilities(D, (n, c)), "q": probabilities(D, (n, c), which=1)}
    impls = (
        fastxent_impl("kl_divergence", "p", "q", threads_kw=False),
        reference_impl("kl_divergence", "p", "q"),
        torch_impl("torch.nn.functional.kl_div(q.log(), p, reduction='none').sum(-1)",
                   lambda torch, T: (lambda: torch.nn.functional.kl_div(
                       T["q"].log(), T["p"], reduction="none").sum(-1))),
        jax_impl("kl_divergence", "p", "q", call_jax="jax.scipy.special.rel_entr(p, q).sum(-1)"),
        scipy_impl("scipy.special.rel_entr(p, q).sum(axis=-1)",
                   lambda sp, d: (lambda: sp.rel_entr(d["p"], d["q"]).sum(axis=-1))),
    )
    return Case(f"kl-f32-{n}x{c}", "kl_divergence", (n, c), "float32", make, impls,
                {"log": n * c}, 2 * n * c * 4)


def bce_logits_case(n: int, c: int, *, quick=False) -> Case:
    impls = (
        fastxent_impl("binary_cross_entropy_with_logits", "x", "y"),
        reference_impl("binary_cross_entropy_with_logits", "x", "y"),
        torch_impl("torch.nn.functional.binary_cross_entropy_with_logits(x, y)",
                   lambda torch, T: (lambda: torch.nn.functional
                                     .binary_cross_entropy_with_logits(T["x"], T["y"]))),
        jax_impl("binary_cross_entropy_with_logits", "x", "y",
                 call_optax="optax.sigmoid_binary_cross_entropy(x, y).mean()",
                 call_jax="(jax.nn.softplus(x) - x * y).mean()"),
    )
    return Case(f"bce-logits-f32-{n}x{c}", "binary_cross_entropy_with_logits", (n, c),
                "float32", lambda D: binary_data(D, (n, c)), impls,
                {"exp": n * c, "log1p": n * c}, 2 * n * c * 4, quick)


def bce_probs_case(n: int, c: int) -> Case:
    def make(D):
        d = binary_data(D, (n, c))
        def sigmoid(rng):
            return (1.0 / (1.0 + np.exp(-d["x"].astype(np.float64)))).astype(np.float32)
        p = D.get(f"bce-probs{(n, c)}", sigmoid)
        return {"p": p, "y": d["y"]}
    impls = (
        fastxent_impl("binary_cross_entropy", "p", "y"),
        reference_impl("binary_cross_entropy", "p", "y"),
        torch_impl("torch.nn.functional.binary_cross_entropy(p, y)",
                   lambda torch, T: (lambda: torch.nn.functional.binary_cross_entropy(
                       T["p"], T["y"]))),
    )
    return Case(f"bce-probs-f32-{n}x{c}", "binary_cross_entropy", (n, c), "float32", make,
                impls, {"log": 2 * n * c}, 2 * n * c * 4)


def log_loss_case(n: int, c: int) -> Case:
    def make(D):
        def every_class_once(rng):  # log_loss needs every column's label in y
            y = rng.integers(0, c, n, dtype=np.int64)
            y[:c] = np.arange(min(n, c))
            return y
        return {"y": D.get(f"log_loss-labels{n},{c}", every_class_once),
                "p": probabilities(D, (n, c), "float64")}
    impls = (
        fastxent_impl("log_loss", "y", "p", threads_kw=False),
        reference_impl("log_loss", "y", "p"),
        sklearn_log_loss_impl(),
    )
    # one log per row (the true class); the rest is reading and row checks
    return Case(f"log_loss-f64-{n}x{c}", "log_loss", (n, c), "float64", make, impls,
                {"log": n}, n * c * 8 + n * 8)


def _eval_numbers(r) -> Tuple[float, ...]:
    """The numbers every evaluate implementation is checked on."""
    return (r.nll_mean, r.topk_accuracy[1], r.topk_accuracy[5], r.entropy_mean, r.ece)


def _torch_eval(torch, T, n_bins: int = 15) -> Callable[[], Any]:
    """The same numbers with torch ops: cross_entropy + topk + softmax + bins."""
    F = torch.nn.functional

    def call():
        x, y = T["x"], T["t"]
        nll = F.cross_entropy(x, y)
        top = torch.topk(x, 5, dim=1).indices
        hit = top == y[:, None]
        p = torch.softmax(x, dim=1)
        ent = -(p * torch.log(p)).sum(1).mean()
        conf = p.max(1).values
        correct = hit[:, 0].to(p.dtype)
        b = torch.clamp((conf * n_bins).long(), max=n_bins - 1)
        cnt = torch.bincount(b, minlength=n_bins).to(p.dtype)
        gap = (torch.bincount(b, correct, n_bins) - torch.bincount(b, conf, n_bins)).abs()
        return (nll, hit[:, 0].to(p.dtype).mean(), hit.any(1).to(p.dtype).mean(), ent,
                gap.sum() / cnt.sum())
    return call


def evaluate_case(n: int, c: int, *, quick=False, per_class=False, reference_logits=False,
                  update=False) -> Case:
    """evaluate(topk=(1, 5), n_bins=15); `update`: Evaluator.update alone."""
    kw: Dict[str, Any] = {"per_class": True} if per_class else {}
    tag = "evaluate" + ("-per_class" if per_class else "") + ("-ref" if reference_logits else "")

    def make(D):
        d = {"x": logits(D, (n, c)), "t": labels(D, n, c)}
        if reference_logits:
            d["r"] = D.get(f"ref-logits{(n, c)}", lambda rng: d["x"] + rng.standard_normal(
                (n, c), dtype=np.float32) * np.float32(0.1))
        return d

    keys = ("x", "t")
    if update:
        def build(d, threads):
            ev = fastxent.Evaluator(c, num_threads=threads)
            return lambda: ev.update(d["x"], d["t"])
        impls: Tuple[Impl, ...] = (Impl("fastxent", True, build, "Evaluator.update(x, t)"),)
        return Case(f"evaluator-update-f32-{n}x{c}", "Evaluator", (n, c), "float32", make,
                    impls, {"exp": n * c}, n * c * 4 + n * 8, quick, "Evaluator.update")

    def fx_build(d, threads):
        ref = {"reference_logits": d["r"]} if reference_logits else {}
        return lambda: _eval_numbers(fastxent.evaluate(d["x"], d["t"], num_threads=threads,
                                                       **kw, **ref))

    def ref_build(d, threads):
        ref = {"reference_logits": d["r"]} if reference_logits else {}
        return lambda: _eval_numbers(reference.evaluate(d["x"], d["t"], **kw, **ref))

    impls = (Impl("fastxent", True, fx_build, f"fastxent.evaluate({_signature(keys, kw)})"),
             Impl("reference", False, ref_build, "fastxent.reference.evaluate(x, t)"),
             torch_impl("cross_entropy + topk + softmax + bincount (torch)", _torch_eval))
    nbytes = n * c * 4 * (2 if reference_logits else 1) + n * 8
    return Case(f"{tag}-f32-{n}x{c}", "evaluate", (n, c), "float32", make, impls,
                {"exp": n * c * (2 if reference_logits else 1)}, nbytes, quick,
                ", ".join(filter(None, ["topk=(1, 5), n_bins=15", "per_class=True" if per_class
                                        else "", "reference_logits" if reference_logits else ""])))


# --------------------------------------------------------------------------
# the registry

def _rowwise(func: str) -> Callable[..., Case]:
    def make(n: int, c: int, **options) -> Case:
        return rowwise_case(func, n, c, **options)
    return make


CASE_MAKERS: Mapping[str, Callable[..., Case]] = {
    "cross_entropy": xent_case,
    "log_softmax": _rowwise("log_softmax"),
    "softmax": _rowwise("softmax"),
    "logsumexp": _rowwise("logsumexp"),
    "entropy": entropy_case,
    "kl_divergence": kl_case,
    "binary_cross_entropy_with_logits": bce_logits_case,
    "binary_cross_entropy": bce_probs_case,
    "log_loss": log_loss_case,
    "evaluate": evaluate_case,
}
"""fastxent function name -> ``maker(n, c, **options)`` of its cases."""


def make_case(func: str, n: int, c: int, **options) -> Case:
    """The case of fastxent's `func` on (n, c) inputs, e.g.
    ``make_case("cross_entropy", 8192, 1000, grad=True)``."""
    try:
        maker = CASE_MAKERS[func]
    except KeyError:
        raise ValueError(f"func: expected one of {sorted(CASE_MAKERS)}, got {func!r}") from None
    return maker(n, c, **options)


MID_ROW_SWEEP = (32, 48, 64, 96, 128, 192, 256)
"""Class counts of the mid-size row sweep (65536 rows each), beside 65536x100."""


def standard_cases() -> List[Case]:
    """The standard suite, in table order (cases sharing data are adjacent)."""
    return [
        xent_case(64, 10, quick=True),
        xent_case(65536, 10, quick=True),
        xent_case(65536, 100),
        # the mid-size row sweep (tiles up to 128 classes, long rows above)
        *(xent_case(65536, c) for c in MID_ROW_SWEEP),
        xent_case(512, 32000),
        xent_case(256, 128000),
        xent_case(256, 128000, "bfloat16"),
        xent_case(256, 128000, "float16"),
        xent_case(8192, 1000, quick=True),
        xent_case(8192, 1000, "bfloat16"),
        xent_case(8192, 1000, "float16"),
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
        evaluate_case(8192, 1000, quick=True),
        evaluate_case(8192, 1000, per_class=True),
        evaluate_case(8192, 1000, reference_logits=True),
        evaluate_case(256, 128000),
        evaluate_case(256, 128000, per_class=True),
        evaluate_case(256, 128000, reference_logits=True),
        evaluate_case(64, 10, update=True, quick=True),
    ]


def get_case(case_id: str) -> Case:
    """The standard case called `case_id` (see ``python -m fastxent bench --list``)."""
    for case in standard_cases():
        if case.id == case_id:
            return case
    raise ValueError(f"case_id: expected the id of a standard case (see "
                     f"`python -m fastxent bench --list`), got {case_id!r}")


def select_cases(cases: Sequence[Case], patterns: Optional[str]) -> List[Case]:
    """Cases whose id contains any of the comma-separated substrings."""
    if not patterns:
        return list(cases)
    wanted = [p.strip().lower() for p in patterns.split(",") if p.strip()]
    return [c for c in cases if any(p in c.id.lower() for p in wanted)]
