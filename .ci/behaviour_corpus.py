"""Behaviour corpus for fastxent issue 9 (no behaviour change).

Runs every public function over its options, dtypes, layouts, ISA levels and
thread counts {1, 2}, plus bad inputs, and records every output (dtype, shape,
bytes) and every exception (type, message) and warning.

    PYTHONPATH=<tree>/src python .ci/behaviour_corpus.py save  OUT.pkl
    PYTHONPATH=<tree>/src python .ci/behaviour_corpus.py check BASE.pkl

For a change that must not change behaviour (a restructure, a speed-up that
claims the same bits): save with the build before the change, check with the
build after it. Issue 9's restructure was checked with it: 41,676 cases,
0 outputs differing bitwise, exception types identical.

`check` recomputes and compares: outputs bitwise, exception types exactly;
message differences are listed separately (reported, not failures).
"""
import itertools
import pickle
import sys
import warnings
import zlib

import numpy as np

import fastxent as fx
from fastxent import _config

F16, F32, F64 = np.float16, np.float32, np.float64


def rng_for(key):
    return np.random.default_rng(zlib.crc32(key.encode()))


def relayout(a, how):
    """The same values as `a` in memory layout `how` (tests/_layouts.py + more)."""
    if how == "contig" or a.ndim == 0:
        return a
    if how == "strided":
        big = np.zeros(a.shape[:-1] + (a.shape[-1] * 3,), dtype=a.dtype)
        big[..., ::3] = a
        return big[..., ::3]
    if how == "transposed":
        return np.ascontiguousarray(a.T).T
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "reversed":
        rev = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[rev])[rev]
    if how == "byteswapped":
        return a.astype(a.dtype.newbyteorder("S"))
    if how == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if how == "misaligned":
        raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
        b = raw[1:].view(a.dtype).reshape(a.shape)
        b[...] = a
        return b
    if how == "outerstrided":   # rows not adjacent: strides that do not merge
        big = np.zeros((a.shape[0] * 2,) + a.shape[1:], dtype=a.dtype)
        big[::2] = a
        return big[::2]
    raise AssertionError(how)


LAYOUTS = ["contig", "strided", "transposed", "fortran", "reversed", "byteswapped",
           "readonly", "misaligned", "outerstrided"]


def encode(v):
    """A comparable record of a result."""
    if isinstance(v, tuple):
        return ("tuple",) + tuple(encode(e) for e in v)
    if isinstance(v, (np.ndarray, np.generic)):
        a = np.asarray(v)
        return ("arr", type(v).__name__, a.dtype.str, a.shape,
                np.ascontiguousarray(a).tobytes())
    return ("py", type(v).__name__, repr(v))


def run_one(thunk):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            res = ("ok", encode(thunk()))
        except Exception as exc:  # noqa: BLE001 - recorded
            res = ("err", type(exc).__name__, str(exc))
    return res + (tuple(sorted((type(x.message).__name__, str(x.message)) for x in w)),)


# ---------------------------------------------------------------- the cases
def logits_data(key, shape, dt, special=None):
    r = rng_for(key)
    x = (r.standard_normal(shape) * 3).astype(dt)
    if special and x.size:
        f = x.reshape(-1)
        if special == "nan":
            f[:: max(1, f.size // 7)] = np.nan
        elif special == "inf":
            f[1:: max(1, f.size // 5)] = np.inf
        elif special == "ninf":
            f[:: 3] = -np.inf
        elif special == "big":
            f[:: 2] = 1e30 if dt != F16 else 6e4
    return x


def labels_for(key, shape, C, ldt, ignore=None):
    r = rng_for(key + "L")
    t = r.integers(0, C, size=shape)
    if ignore is not None and t.size:
        t.reshape(-1)[:: 4] = ignore
    return t.astype(ldt)


def soft_for(key, shape, dt):
    r = rng_for(key + "S")
    p = r.random(shape) + 0.01
    return (p / p.sum(axis=-1, keepdims=True)).astype(dt)


def xent_cases(threads):
    shapes = [((64, 10), -1), ((37, 5), -1), ((300, 130), -1), ((3, 5000), -1),
              ((4, 3, 7), 1), ((2, 6, 3, 4), 1), ((5, 4, 3), 0), ((7,), -1),
              ((0, 5), -1), ((40, 1), -1), ((9, 33), 0)]
    for (shape, axis), dt in itertools.product(shapes, [F16, F32, F64]):
        C = shape[axis]
        rshape = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
        for red, kind in itertools.product(["mean", "sum", "none"], ["idx", "soft"]):
            for opt in ["plain", "weight", "smooth", "ignore", "ignore3", "wsmooth"]:
                if kind == "soft" and opt in ("ignore", "ignore3"):
                    continue
                for grad in [False, True, "out", "outF"]:
                    if grad and opt not in ("plain", "wsmooth", "ignore"):
                        continue
                    key = f"xent {shape} ax{axis} {np.dtype(dt)} {red} {kind} {opt} g{grad} t{threads}"

                    def thunk(shape=shape, axis=axis, dt=dt, red=red, kind=kind, opt=opt,
                              grad=grad, key=key, C=C, rshape=rshape):
                        x = logits_data(key, shape, dt)
                        kw = dict(axis=axis, reduction=red, num_threads=threads)
                        ign = {"ignore": -100, "ignore3": 3}.get(opt)
                        t = (labels_for(key, rshape, C, np.int64, ign) if kind == "idx"
                             else np.moveaxis(soft_for(key, np.moveaxis(x, axis, -1).shape, dt), -1, axis))
                        if opt == "ignore3":
                            kw["ignore_index"] = 3
                        if opt in ("weight", "wsmooth"):
                            kw["weight"] = rng_for(key + "W").random(C).astype(dt)
                        if opt in ("smooth", "wsmooth"):
                            kw["label_smoothing"] = 0.1
                        if grad is True:
                            kw["return_grad"] = True
                        elif grad:
                            cd = np.float32 if dt == F16 else dt
                            kw["grad_out"] = (np.empty(shape, cd) if grad == "out"
                                              else np.empty(shape, cd, order="F"))
                        return fx.cross_entropy(x, t, **kw)
                    yield key, thunk
    # layouts x label dtypes on two shapes
    for shape, axis in [((50, 12), -1), ((6, 200), -1), ((4, 5, 6), 1)]:
        C = shape[axis]
        rshape = tuple(s for i, s in enumerate(shape) if i != axis % len(shape))
        for lay, ldt, dt in itertools.product(LAYOUTS, [np.int8, np.int32, np.uint8, np.uint64,
                                                         np.int64], [F32, F64, F16]):
            for red, grad in [("mean", False), ("none", False), ("mean", True), ("sum", "outS")]:
                key = f"xentlay {shape} {lay} {np.dtype(ldt)} {np.dtype(dt)} {red} g{grad} t{threads}"

                def thunk(shape=shape, axis=axis, lay=lay, ldt=ldt, dt=dt, red=red, grad=grad,
                          key=key, C=C, rshape=rshape):
                    x = relayout(logits_data(key, shape, dt), lay)
                    t = relayout(labels_for(key, rshape, C, ldt), lay)
                    kw = dict(axis=axis, reduction=red, num_threads=threads)
                    if grad is True:
                        kw["return_grad"] = True
                    elif grad == "outS":
                        cd = np.float32 if dt == F16 else dt
                        kw["grad_out"] = relayout(np.zeros(shape, cd), "strided")
                    return fx.cross_entropy(x, t, **kw)
                yield key, thunk
        for lay in LAYOUTS:
            key = f"xentsoftlay {shape} {lay} t{threads}"

            def thunk(shape=shape, axis=axis, lay=lay, key=key):
                x = relayout(logits_data(key, shape, F32), lay)
                t = np.moveaxis(soft_for(key, np.moveaxis(x, axis, -1).shape, F32), -1, axis)
                return fx.cross_entropy(x, relayout(np.ascontiguousarray(t), lay), axis=axis,
                                        num_threads=threads, return_grad=True, reduction="none")
            yield key, thunk
    # special values
    for special, dt, shape in itertools.product(["nan", "inf", "ninf", "big"], [F32, F64],
                                                 [(20, 7), (8, 300), (3, 9000)]):
        for red, grad, opt in [("none", True, "plain"), ("mean", True, "smooth"),
                               ("sum", False, "ignore")]:
            key = f"xentspecial {special} {np.dtype(dt)} {shape} {red} {grad} {opt} t{threads}"

            def thunk(special=special, dt=dt, shape=shape, red=red, grad=grad, opt=opt, key=key):
                x = logits_data(key, shape, dt, special)
                t = labels_for(key, shape[:1], shape[1], np.int64, -100 if opt == "ignore" else None)
                kw = {"label_smoothing": 0.2} if opt == "smooth" else {}
                return fx.cross_entropy(x, t, reduction=red, return_grad=grad,
                                        num_threads=threads, **kw)
            yield key, thunk
            key2 = "soft" + key

            def thunk2(special=special, dt=dt, shape=shape, red=red, grad=grad, key=key2):
                x = logits_data(key, shape, dt, special)
                t = soft_for(key, shape, dt)
                return fx.cross_entropy(x, t, reduction=red, return_grad=grad, num_threads=threads)
            yield key2, thunk2
    # all ignored / python lists / ints
    yield f"xent allignored t{threads}", lambda: fx.cross_entropy(
        np.ones((4, 3)), np.full(4, -100), return_grad=True, num_threads=threads)
    yield f"xent lists t{threads}", lambda: fx.cross_entropy(
        [[1.0, 2.0], [3.0, 0.5]], [0, 1], num_threads=threads)
    yield f"xent intlogits t{threads}", lambda: fx.cross_entropy(
        np.arange(12).reshape(3, 4), np.array([0, 1, 3]), num_threads=threads)
    yield f"xent 1d t{threads}", lambda: fx.cross_entropy(
        np.array([1.0, 2.0, 0.5]), np.array(2), reduction="none", num_threads=threads)
    yield f"xent bigignore t{threads}", lambda: fx.cross_entropy(
        np.ones((3, 4)), np.array([0, 1, 2]), ignore_index=2**70, num_threads=threads)
    yield f"xent uint64big t{threads}", lambda: fx.cross_entropy(
        np.ones((3, 4)), np.array([0, 2**63 + 5, 2], dtype=np.uint64), num_threads=threads)


def xent_bad(threads):
    x = np.zeros((4, 3), np.float32)
    t = np.array([0, 1, 2, 1])
    bad = {
        "label_high": lambda: fx.cross_entropy(x, np.array([0, 3, 1, 1])),
        "label_high_plain": lambda: fx.cross_entropy(x, np.array([0, 1, 7, 1]), reduction="sum"),
        "label_neg": lambda: fx.cross_entropy(x, np.array([0, -1, 1, 1]), reduction="none"),
        "label_3d": lambda: fx.cross_entropy(np.zeros((2, 3, 4)), np.array([[0, 9, 1, 0], [0, 0, 0, 0]]), axis=1),
        "label_grad": lambda: fx.cross_entropy(x, np.array([0, 5, 1, 1]), return_grad=True),
        "weight_shape": lambda: fx.cross_entropy(x, t, weight=np.ones(4)),
        "weight_str": lambda: fx.cross_entropy(x, t, weight=["a", "b", "c"]),
        "smooth_high": lambda: fx.cross_entropy(x, t, label_smoothing=1.5),
        "smooth_str": lambda: fx.cross_entropy(x, t, label_smoothing="x"),
        "reduction": lambda: fx.cross_entropy(x, t, reduction="avg"),
        "reduction_none_obj": lambda: fx.cross_entropy(x, t, reduction=None),
        "axis_oob": lambda: fx.cross_entropy(x, t, axis=5),
        "axis_float": lambda: fx.cross_entropy(x, t, axis=1.0),
        "scalar": lambda: fx.cross_entropy(np.float32(1), np.int64(0)),
        "C0": lambda: fx.cross_entropy(np.zeros((3, 0)), np.zeros(3, int)),
        "target_shape": lambda: fx.cross_entropy(x, np.array([0, 1])),
        "soft_shape": lambda: fx.cross_entropy(x, np.zeros((4, 2))),
        "soft_ignore": lambda: fx.cross_entropy(x, np.zeros((4, 3)), ignore_index=1),
        "target_str": lambda: fx.cross_entropy(x, np.array(["a"] * 4)),
        "target_bool": lambda: fx.cross_entropy(x, np.array([True] * 4)),
        "logits_str": lambda: fx.cross_entropy(np.array([["a", "b"]]), np.array([0])),
        "logits_obj": lambda: fx.cross_entropy(np.array([[1, "b"]], dtype=object), np.array([0])),
        "logits_complex": lambda: fx.cross_entropy(np.ones((2, 2), complex), np.array([0, 1])),
        "ignore_float": lambda: fx.cross_entropy(x, t, ignore_index=1.5),
        "threads0": lambda: fx.cross_entropy(x, t, num_threads=0),
        "threads_str": lambda: fx.cross_entropy(x, t, num_threads="2"),
        "gout_shape": lambda: fx.cross_entropy(x, t, grad_out=np.empty((4, 4), np.float32)),
        "gout_dtype": lambda: fx.cross_entropy(x, t, grad_out=np.empty((4, 3))),
        "gout_list": lambda: fx.cross_entropy(x, t, grad_out=[[0] * 3] * 4),
        "gout_ro": lambda: fx.cross_entropy(x, t, grad_out=relayout(np.empty((4, 3), np.float32), "readonly")),
        "gout_misaligned": lambda: fx.cross_entropy(x, t, grad_out=relayout(np.empty((4, 3), np.float32), "misaligned")),
        "gout_overlap": lambda: fx.cross_entropy(x, t, grad_out=x),
    }
    for name, th in bad.items():
        yield f"xentbad {name} t{threads}", th


def bce_cases(threads):
    shapes = [(64, 10), (1000, 37), (33,), (), (0, 4), (5, 4, 3), (40000,)]
    for shape, dt, red in itertools.product(shapes, [F16, F32, F64], ["mean", "sum", "none"]):
        for opt in ["plain", "weight", "pos", "smooth", "all"]:
            for grad in [False, True, "out"]:
                if grad and opt not in ("plain", "all"):
                    continue
                for fn in ["logits", "probs"]:
                    if fn == "probs" and opt in ("pos", "smooth"):
                        continue
                    key = f"bce {fn} {shape} {np.dtype(dt)} {red} {opt} g{grad} t{threads}"

                    def thunk(shape=shape, dt=dt, red=red, opt=opt, grad=grad, fn=fn, key=key):
                        r = rng_for(key)
                        y = r.random(shape).astype(dt)
                        kw = dict(reduction=red, num_threads=threads)
                        if opt in ("weight", "all"):
                            kw["weight"] = r.random(shape[-1:] if shape else ()).astype(dt)
                        if grad is True:
                            kw["return_grad"] = True
                        elif grad:
                            kw["grad_out"] = np.empty(shape, np.float32 if dt == F16 else dt)
                        if fn == "probs":
                            return fx.binary_cross_entropy(r.random(shape).astype(dt), y, **kw)
                        if opt in ("pos", "all"):
                            kw["pos_weight"] = (r.random(shape[-1:]) * 3).astype(dt) if shape else 2.0
                        if opt in ("smooth", "all"):
                            kw["label_smoothing"] = 0.1
                        return fx.binary_cross_entropy_with_logits(
                            (r.standard_normal(shape) * 4).astype(dt), y, **kw)
                    yield key, thunk
    for lay, dt, fn in itertools.product(LAYOUTS, [F32, F64], ["logits", "probs"]):
        for grad in [False, True, "outS"]:
            key = f"bcelay {fn} {lay} {np.dtype(dt)} g{grad} t{threads}"

            def thunk(lay=lay, dt=dt, fn=fn, grad=grad, key=key):
                r = rng_for(key)
                shape = (30, 17)
                x = relayout(r.random(shape).astype(dt), lay)
                y = relayout(r.random(shape).astype(dt), lay)
                w = relayout(r.random((30, 1)).astype(dt), lay)
                kw = dict(reduction="none" if grad is False else "mean", num_threads=threads, weight=w)
                if grad is True:
                    kw["return_grad"] = True
                elif grad:
                    kw["grad_out"] = relayout(np.zeros(shape, dt), "strided")
                if fn == "probs":
                    return fx.binary_cross_entropy(x, y, **kw)
                return fx.binary_cross_entropy_with_logits(x * 8 - 4, y, pos_weight=np.arange(17.0), **kw)
            yield key, thunk
    ext = np.array([-np.inf, np.inf, -1e30, 1e30, -50, 50, -20, 0, np.nan, 1e-3])
    for dt in [F32, F64]:
        for yv in [0.0, 0.5, 1.0]:
            yield f"bceext {np.dtype(dt)} {yv} t{threads}", (
                lambda dt=dt, yv=yv: fx.binary_cross_entropy_with_logits(
                    ext.astype(dt), np.full(ext.shape, yv, dt), reduction="none",
                    return_grad=True, num_threads=threads))
        pv = np.array([0.0, 1.0, 1e-30, 1 - 1e-7, 0.5, 1e-45])
        yield f"bceprobext {np.dtype(dt)} t{threads}", (
            lambda dt=dt: fx.binary_cross_entropy(pv.astype(dt), np.array([0, 1, 1, 0, .5, 1], dt),
                                                  reduction="none", return_grad=True, num_threads=threads))
    x = np.full((3, 4), 0.5)
    bad = {
        "prob_high": lambda: fx.binary_cross_entropy(np.array([0.2, 1.5, 0.1]), np.zeros(3)),
        "prob_nan": lambda: fx.binary_cross_entropy(np.array([[0.2, 0.3], [np.nan, 0.1]]), np.zeros((2, 2))),
        "target_high": lambda: fx.binary_cross_entropy(np.full(5, .5), np.array([0, 0, 0, 2.0, 0])),
        "prob_neg_grad": lambda: fx.binary_cross_entropy(np.array([-0.1, 0.5]), np.zeros(2), return_grad=True),
        "shape": lambda: fx.binary_cross_entropy_with_logits(x, np.zeros((3, 3))),
        "pshape": lambda: fx.binary_cross_entropy(x, np.zeros((4, 3))),
        "weight_bcast": lambda: fx.binary_cross_entropy_with_logits(x, x, weight=np.ones(3)),
        "pos_bcast": lambda: fx.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(5)),
        "smooth": lambda: fx.binary_cross_entropy_with_logits(x, x, label_smoothing=-0.1),
        "reduction": lambda: fx.binary_cross_entropy_with_logits(x, x, reduction="max"),
        "preduction": lambda: fx.binary_cross_entropy(x, x, reduction="max"),
        "threads": lambda: fx.binary_cross_entropy(x, x, num_threads=-1),
        "gout_shape": lambda: fx.binary_cross_entropy_with_logits(x, x, grad_out=np.empty(3)),
        "gout_dtype": lambda: fx.binary_cross_entropy(x, x, grad_out=np.empty((3, 4), np.float32)),
        "gout_overlap": lambda: fx.binary_cross_entropy_with_logits(x, x.copy(), grad_out=x),
        "gout_ro": lambda: fx.binary_cross_entropy(x, x, grad_out=relayout(np.empty((3, 4)), "readonly")),
        "str": lambda: fx.binary_cross_entropy_with_logits(np.array(["a"]), np.array([1.0])),
        "target_str": lambda: fx.binary_cross_entropy(np.array([.5]), np.array(["a"])),
    }
    for name, th in bad.items():
        yield f"bcebad {name} t{threads}", th


def softmax_cases(threads):
    shapes = [((64, 10), -1), ((300, 130), -1), ((3, 5000), -1), ((4, 3, 7), 1), ((5, 4, 3), 0),
              ((7,), -1), ((0, 5), -1), ((5, 0), -1), ((40, 1), -1), ((9, 33), 0), ((), -1)]
    for (shape, axis), dt, fn in itertools.product(shapes, [F16, F32, F64],
                                                   ["log_softmax", "softmax", "logsumexp"]):
        for special in [None, "nan", "inf", "ninf", "big"]:
            for out in ([None, "out", "outF", "inplace", "outS"] if fn != "logsumexp" else [None]):
                if special and out not in (None,):
                    continue
                key = f"sm {fn} {shape} ax{axis} {np.dtype(dt)} {special} {out} t{threads}"

                def thunk(shape=shape, axis=axis, dt=dt, fn=fn, special=special, out=out, key=key):
                    x = logits_data(key, shape, dt, special)
                    f = getattr(fx, fn)
                    if out is None:
                        return f(x, axis, num_threads=threads)
                    cd = np.float32 if dt == F16 else dt
                    if out == "inplace":
                        x = x.astype(cd)
                        o = x
                    elif out == "outS":
                        o = relayout(np.zeros(shape, cd), "strided") if shape else np.zeros(shape, cd)
                    else:
                        o = np.empty(shape, cd, order="F" if out == "outF" else "C")
                    r = f(x, axis, out=o, num_threads=threads)
                    return (r, np.asarray(r is o))
                yield key, thunk
    for lay, dt, fn in itertools.product(LAYOUTS, [F32, F64, F16], ["log_softmax", "softmax", "logsumexp"]):
        for axis in [-1, 0]:
            key = f"smlay {fn} {lay} {np.dtype(dt)} ax{axis} t{threads}"

            def thunk(lay=lay, dt=dt, fn=fn, axis=axis, key=key):
                x = relayout(logits_data(key, (20, 40), dt), lay)
                return getattr(fx, fn)(x, axis=axis, num_threads=threads)
            yield key, thunk
    x = np.zeros((3, 4))
    bad = {
        "axis": lambda: fx.softmax(x, 2),
        "axis_str": lambda: fx.log_softmax(x, "a"),
        "lse_axis": lambda: fx.logsumexp(x, -3),
        "out_shape": lambda: fx.softmax(x, out=np.empty((3, 3))),
        "out_dtype": lambda: fx.log_softmax(x, out=np.empty((3, 4), np.float32)),
        "out_ro": lambda: fx.softmax(x, out=relayout(np.empty((3, 4)), "readonly")),
        "out_list": lambda: fx.softmax(x, out=[0]),
        "out_misaligned": lambda: fx.softmax(x, out=relayout(np.empty((3, 4)), "misaligned")),
        "out_overlap": lambda: (lambda b: (fx.softmax(b[:, :4], out=b[:, 1:5]), b))(np.arange(15.0).reshape(3, 5)),
        "str": lambda: fx.logsumexp(np.array(["x"])),
        "threads": lambda: fx.softmax(x, num_threads=0),
        "scalar_ax": lambda: fx.logsumexp(np.float64(2.0)),
    }
    for name, th in bad.items():
        yield f"smbad {name} t{threads}", th


def info_cases(threads):
    shapes = [((64, 10), -1), ((300, 130), -1), ((3, 5000), -1), ((4, 3, 7), 1), ((5, 4, 3), 0),
              ((7,), -1), ((0, 5), -1), ((5, 0), -1), ((9, 33), 0)]
    for (shape, axis), dt, fn, base in itertools.product(shapes, [F16, F32, F64],
                                                         ["entropy", "kl"], [None, 2, 10.0]):
        for zeros in [False, True]:
            key = f"info {fn} {shape} ax{axis} {np.dtype(dt)} b{base} z{zeros} t{threads}"

            def thunk(shape=shape, axis=axis, dt=dt, fn=fn, base=base, zeros=zeros, key=key):
                r = rng_for(key)
                p = r.random(shape).astype(dt)
                q = r.random(shape).astype(dt)
                if zeros and p.size:
                    p.reshape(-1)[::3] = 0
                    q.reshape(-1)[1::4] = 0
                if fn == "entropy":
                    return fx.entropy(p, axis, base=base, num_threads=threads)
                return fx.kl_divergence(p, q, axis, base=base, num_threads=threads)
            yield key, thunk
    for lay, dt, fn in itertools.product(LAYOUTS, [F32, F64], ["entropy", "kl", "klb"]):
        key = f"infolay {fn} {lay} {np.dtype(dt)} t{threads}"

        def thunk(lay=lay, dt=dt, fn=fn, key=key):
            r = rng_for(key)
            p = relayout(r.random((25, 19)).astype(dt), lay)
            if fn == "entropy":
                return fx.entropy(p, num_threads=threads)
            if fn == "klb":
                return fx.kl_divergence(p, relayout(r.random((1, 19)).astype(dt), lay), 0, num_threads=threads)
            return fx.kl_divergence(p, relayout(r.random((25, 19)).astype(dt), lay), num_threads=threads)
        yield key, thunk
    p = np.full((3, 4), .25)
    bad = {
        "neg": lambda: fx.entropy(np.array([[0.5, 0.5], [0.2, -0.1]])),
        "neg_ax0": lambda: fx.entropy(np.array([[0.5, 0.5, 0.1], [0.2, 0.1, -0.1]]), axis=0),
        "kl_negq": lambda: fx.kl_divergence(p, -p),
        "kl_negp": lambda: fx.kl_divergence(-p, p, axis=0),
        "kl_bcast": lambda: fx.kl_divergence(p, np.ones((2, 4))),
        "base1": lambda: fx.entropy(p, base=1),
        "base_neg": lambda: fx.entropy(p, base=-2),
        "base_str": lambda: fx.kl_divergence(p, p, base="e"),
        "axis": lambda: fx.entropy(p, axis=3),
        "str": lambda: fx.entropy(np.array(["a"])),
        "nan": lambda: fx.entropy(np.array([np.nan, 0.5, np.inf])),
        "threads": lambda: fx.entropy(p, num_threads=0),
    }
    for name, th in bad.items():
        yield f"infobad {name} t{threads}", th


def logloss_cases(threads):
    for n, K, dt, norm, sw, lab, binary in itertools.product(
            [50, 3000], [2, 5], [F32, F64], [True, False], [False, True], ["none", "given", "str"],
            [False, True]):
        if binary and K != 2:
            continue
        key = f"ll {n} {K} {np.dtype(dt)} {norm} {sw} {lab} {binary} t{threads}"

        def thunk(n=n, K=K, dt=dt, norm=norm, sw=sw, lab=lab, binary=binary, key=key):
            r = rng_for(key)
            p = r.random((n, K)) + 0.05
            p = (p / p.sum(1, keepdims=True)).astype(dt)
            y = r.integers(0, K, n)
            kw = dict(normalize=norm, num_threads=threads)
            if lab == "str":
                names = np.array(["ant", "bee", "cat", "dog", "eel"][:K])
                y = names[y]
            elif lab == "given":
                kw["labels"] = list(range(K))
            if sw:
                kw["sample_weight"] = r.random(n).astype(dt)
            if binary:
                p = p[:, 1].copy()
            return fx.log_loss(y, p, **kw)
        yield key, thunk
    for lay in LAYOUTS:
        key = f"lllay {lay} t{threads}"

        def thunk(lay=lay, key=key):
            r = rng_for(key)
            p = r.random((40, 3)) + 0.1
            p = relayout(p / p.sum(1, keepdims=True), lay)
            return fx.log_loss(relayout(r.integers(0, 3, 40), lay), p, num_threads=threads)
        yield key, thunk
    p2 = np.array([[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    bad = {
        "notsum": lambda: fx.log_loss([0, 1, 1], np.array([[0.2, 0.7], [0.6, 0.4], [0.5, 0.5]])),
        "gt1": lambda: fx.log_loss([0, 1, 1], p2 * 1.5),
        "lt0": lambda: fx.log_loss([0, 1, 1], p2 - 0.3),
        "nan": lambda: fx.log_loss([0, 1, 1], np.where(p2 > 0.7, np.nan, p2)),
        "len": lambda: fx.log_loss([0, 1], p2),
        "one_class": lambda: fx.log_loss([1, 1, 1], p2),
        "cols": lambda: fx.log_loss([0, 1, 2], p2),
        "labels_missing": lambda: fx.log_loss([0, 1, 5], p2, labels=[0, 1]),
        "labels_one": lambda: fx.log_loss([0, 0, 0], p2[:, :1], labels=[0]),
        "labels_unsorted": lambda: fx.log_loss([0, 1, 1], p2, labels=[1, 0]),
        "labels_cols": lambda: fx.log_loss([0, 1, 1], p2, labels=[0, 1, 2]),
        "sw_shape": lambda: fx.log_loss([0, 1, 1], p2, sample_weight=[1, 2]),
        "sw_nan": lambda: fx.log_loss([0, 1, 1], p2, sample_weight=[1, np.nan, 2]),
        "sw_zero": lambda: fx.log_loss([0, 1, 1], p2, sample_weight=[0, 0, 0]),
        "continuous": lambda: fx.log_loss([0, 1.5, 1], p2),
        "ytrue2d": lambda: fx.log_loss([[0], [1], [1]], p2),
        "prob3d": lambda: fx.log_loss([0, 1], np.ones((2, 2, 2))),
        "empty": lambda: fx.log_loss([], np.ones((0, 2))),
        "threads": lambda: fx.log_loss([0, 1, 1], p2, num_threads=0),
    }
    for name, th in bad.items():
        yield f"llbad {name} t{threads}", th


def kernel_hooks():
    from fastxent import _kernels
    for fn, dt in itertools.product(range(5), [F32, F64]):
        r = np.random.default_rng(fn)
        x = np.concatenate([np.linspace(-800, 800, 4001), r.standard_normal(500) * 50,
                            [0, -0.0, np.inf, -np.inf, np.nan, 1e-300, 1e-40]]).astype(dt)
        if fn in (1,):
            x = np.abs(x)
        if fn == 3:
            x = -np.abs(x)
        if fn == 4:
            x = np.clip(np.abs(x) / 800, 0, 1).astype(dt)

        def thunk(fn=fn, x=x):
            o = np.empty_like(x)
            with np.errstate(all="ignore"):
                _kernels.math_eval(fn, x, o)
            return o
        yield f"math {fn} {np.dtype(dt)}", thunk


FAMILIES = [xent_cases, xent_bad, bce_cases, softmax_cases, info_cases, logloss_cases]


def compute():
    out = {}
    levels = _config.supported_isa_levels()
    before = _config.ISA
    try:
        for isa in levels:
            assert _config.set_isa(isa) == isa
            for key, th in kernel_hooks():
                out[f"[{isa}] {key}"] = run_one(th)
            for threads in (1, 2):
                for fam in FAMILIES:
                    for key, th in fam(threads):
                        k = f"[{isa}] {key}"
                        assert k not in out, k
                        out[k] = run_one(th)
    finally:
        _config.set_isa(before)
    return out


def main():
    mode, path = sys.argv[1], sys.argv[2]
    print("fastxent from", fx.__file__)
    res = compute()
    if mode == "save":
        with open(path, "wb") as f:
            pickle.dump(res, f, protocol=4)
        nerr = sum(r[0] == "err" for r in res.values())
        print(f"saved {len(res)} cases ({nerr} raising) to {path}")
        return 0
    with open(path, "rb") as f:
        base = pickle.load(f)
    missing = sorted(set(base) - set(res))
    extra = sorted(set(res) - set(base))
    diff, msg = [], []
    for k in sorted(set(base) & set(res)):
        a, b = base[k], res[k]
        if a == b:
            continue
        if a[0] == b[0] == "err" and a[1] == b[1] and a[3] == b[3]:
            msg.append((k, a[2], b[2]))
        else:
            diff.append(k)
    print(f"{len(res)} cases; {len(diff)} differ; {len(msg)} message-only diffs; "
          f"{len(missing)} missing; {len(extra)} extra")
    for k in diff[:30]:
        a, b = base[k], res[k]
        print("DIFF", k, "\n   base:", str(a)[:300], "\n   now: ", str(b)[:300])
    for k, a, b in msg[:30]:
        print("MSG", k, "\n   base:", a, "\n   now: ", b)
    for k in missing[:10]:
        print("MISSING", k)
    return 1 if (diff or missing) else 0


if __name__ == "__main__":
    sys.exit(main())
