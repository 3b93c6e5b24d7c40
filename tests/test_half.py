"""float16 and bfloat16 inputs (issue 12).

The must-hold property: every public function of the parity registry
(tests/test_parity.py) on a half input returns the bits of the same call on
that input widened to float32, on every ISA variant, with 1 and 2 threads
(log_loss excepted: it clips with the input dtype's epsilon, as
scikit-learn). Then the ways halves come in (ml_dtypes arrays, torch
tensors zero-copy, never a uint16 array), half out= buffers rounded once,
and the memory a half cross-entropy takes.
"""
import tracemalloc
import zlib

import ml_dtypes
import numpy as np
import pytest

import fastxent
from fastxent import reference as R
from _helpers import relayout, run_python_json
from test_parity import CASES, ENTRY, _call

BF16 = np.dtype(ml_dtypes.bfloat16)
F16 = np.dtype(np.float16)
HALVES = {"float16": F16, "bfloat16": BF16}
# clips at the input dtype's eps: compared with the twin in test_log_loss_half
NOT_BITWISE = {"log_loss", "log_loss-weighted-sum"}


def _is_half(a):
    return isinstance(a, np.ndarray) and a.dtype in (F16, BF16)


def _to(a, dtype):
    """float arrays of the maker's output in `dtype` (exact from float16 /
    float32 to float32; bfloat16 rounds float32 once)."""
    if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.dtype != np.float64:
        return a.astype(dtype)
    return a


def _widen(a):
    return a.astype(np.float32) if _is_half(a) else a


def _bits_equal(got, want, what):
    if isinstance(want, fastxent.EvalResult):
        g, w = got.to_dict(), want.to_dict()
        assert repr(g) == repr(w), what
        return
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), what
        for i, (g, w) in enumerate(zip(got, want)):
            _bits_equal(g, w, f"{what}[{i}]")
        return
    assert type(got) is type(want), (what, type(got), type(want))
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype and g.shape == w.shape, (what, g.dtype, w.dtype)
    # NaN == NaN; -0.0 != 0.0
    same = (g == w) & (np.signbit(g) == np.signbit(w)) | (np.isnan(g) & np.isnan(w))
    assert same.all(), (what, g[~same][:5], w[~same][:5])


def _half_params():
    return [pytest.param(key, h, case, id=f"{key}-{h}-{case}")
            for key in ENTRY if key not in NOT_BITWISE for h in HALVES for case in CASES]


@pytest.mark.parametrize("key, half, case", _half_params())
def test_half_equals_widened_call(isa, key, half, case):
    name, make, _ = ENTRY[key]
    rng = np.random.default_rng(zlib.crc32(f"half-{key}-{half}-{case}".encode()))
    maker_dtype = np.float16 if half == "float16" else np.float32
    args, kwargs = make(rng, np.dtype(maker_dtype), None, case)
    args = tuple(_to(a, HALVES[half]) for a in args)
    kwargs = {k: _to(v, HALVES[half]) for k, v in kwargs.items()}
    wide_args = tuple(_widen(a) for a in args)
    wide_kwargs = {k: _widen(v) for k, v in kwargs.items()}
    fn = getattr(fastxent, name)
    layouts = ("contiguous",) if case in ("0d", "large") else ("contiguous", "strided")
    for how in layouts:
        def lay(a):
            return relayout(a, how) if isinstance(a, np.ndarray) and a.ndim >= 1 else a
        largs = tuple(lay(a) for a in args)
        lkw = {k: lay(v) for k, v in kwargs.items()}
        for threads in (1, 2):
            want, want_exc, _ = _call(fn, wide_args, {**wide_kwargs, "num_threads": threads})
            got, got_exc, _ = _call(fn, largs, {**lkw, "num_threads": threads})
            what = f"{key} {half} {case} {how} threads={threads}"
            assert type(got_exc) is type(want_exc), (what, got_exc, want_exc)
            if want_exc is None:
                _bits_equal(got, want, what)


@pytest.mark.parametrize("half", HALVES)
def test_twin_accepts_halves(half):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 7)).astype(HALVES[half])
    t = rng.integers(0, 7, size=5)
    assert R.cross_entropy(x, t) == R.cross_entropy(x.astype(np.float32), t)
    assert R.log_softmax(x).dtype == np.float32


def test_uint16_is_never_bfloat16():
    x = np.array([[1, 2, 3], [40000, 5, 6]], dtype=np.uint16)
    t = np.array([0, 2])
    np.testing.assert_array_equal(fastxent.log_softmax(x),
                                  fastxent.log_softmax(x.astype(np.float64)))
    assert fastxent.cross_entropy(x, t) == fastxent.cross_entropy(x.astype(np.float64), t)


def test_bfloat16_without_ml_dtypes_imported():
    """Importing fastxent and running a float16 call imports neither
    ml_dtypes nor torch."""
    out = run_python_json(
        "import json, sys, numpy as np, fastxent\n"
        "fastxent.cross_entropy(np.zeros((2, 3), np.float16), np.array([0, 1]))\n"
        "print(json.dumps(sorted(m for m in ('ml_dtypes', 'torch') if m in sys.modules)))")
    assert out == []


@pytest.mark.parametrize("half", HALVES)
def test_half_out_rounded_once(half):
    dt = HALVES[half]
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(9, 300)) * 4).astype(dt)
    x[0, 3] = np.nan
    for fn in (fastxent.log_softmax, fastxent.softmax):
        out = np.empty(x.shape, dt)
        res = fn(x, out=out)
        assert res is out
        want = fn(x.astype(np.float32)).astype(dt)   # NumPy's / ml_dtypes' RNE cast
        np.testing.assert_array_equal(out.view(np.uint16)[1:], want.view(np.uint16)[1:])
        assert np.isnan(out[0].astype(np.float32)).all()
        f32 = np.empty(x.shape, np.float32)   # float32 out= works too
        np.testing.assert_array_equal(fn(x, out=f32), fn(x.astype(np.float32)))
    t = rng.integers(0, 300, size=9)
    g = np.empty(x.shape, dt)
    loss, grad = fastxent.cross_entropy(x, t, grad_out=g)
    assert grad is g
    want = fastxent.cross_entropy(x.astype(np.float32), t, return_grad=True)[1].astype(dt)
    np.testing.assert_array_equal(g.view(np.uint16), want.view(np.uint16))


def test_half_out_of_the_other_half_is_an_error():
    x = np.zeros((2, 3), np.float16)
    with pytest.raises(ValueError, match="out: expected dtype float32 or the input's float16"):
        fastxent.softmax(x, out=np.empty((2, 3), BF16))
    with pytest.raises(ValueError, match="grad_out: expected dtype float32 or the input's"):
        fastxent.cross_entropy(x.astype(BF16), np.array([0, 1]),
                               grad_out=np.empty((2, 3), np.float16))
    with pytest.raises(ValueError, match="out: expected dtype float32"):
        fastxent.softmax(x.astype(np.float32), out=np.empty((2, 3), np.float16))


@pytest.mark.parametrize("half", HALVES)
def test_half_cross_entropy_memory(half):
    """No widened copy: the peak of NumPy allocations stays under 2% of the
    input (tracemalloc sees NumPy's allocations)."""
    x = np.ones((64, 32000), HALVES[half])
    t = np.arange(64) % 32000
    fastxent.cross_entropy(x, t)   # warm up
    tracemalloc.start()
    try:
        fastxent.cross_entropy(x, t)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.02 * x.nbytes, (peak, x.nbytes)


@pytest.mark.parametrize("tdtype", ["bfloat16", "float16"])
def test_torch_half_tensors_zero_copy(torch, tdtype):
    from fastxent import _arrays
    t = (torch.randn(6, 50) * 3).to(getattr(torch, tdtype))
    a = _arrays.as_array(t, "logits")
    assert a.__array_interface__["data"][0] == t.data_ptr()
    labels = torch.randint(0, 50, (6,))
    got = fastxent.cross_entropy(t, labels.numpy(), return_grad=True)
    want = fastxent.cross_entropy(t.float().numpy(), labels.numpy(), return_grad=True)
    _bits_equal(got, want, tdtype)
    ref = torch.nn.functional.cross_entropy(t.float(), labels)
    np.testing.assert_allclose(got[0], ref.item(), rtol=1e-6)
    assert R.cross_entropy(t, labels.numpy()) == R.cross_entropy(t.float().numpy(),
                                                                 labels.numpy())


@pytest.mark.parametrize("half", HALVES)
def test_info_half_read_as_stored(isa, half):
    """entropy / KL with normalize=False read halves in the kernel (other
    settings sum rows in NumPy first): float32's bits, any layout."""
    rng = np.random.default_rng(3)
    p = rng.uniform(size=(40, 1500)).astype(HALVES[half])
    p[:, ::7] = 0
    q = rng.uniform(0.01, 1.0, size=p.shape).astype(HALVES[half])
    for axis, how in ((-1, "contiguous"), (0, "contiguous"), (-1, "strided")):
        pl, ql = relayout(p, how), relayout(q, how)
        for threads in (1, 2):
            _bits_equal(fastxent.entropy(pl, axis=axis, normalize=False, num_threads=threads),
                        fastxent.entropy(_widen(p), axis=axis, normalize=False), half)
            _bits_equal(
                fastxent.kl_divergence(pl, ql, axis=axis, normalize=False, num_threads=threads),
                fastxent.kl_divergence(_widen(p), _widen(q), axis=axis, normalize=False), half)


@pytest.mark.parametrize("half", HALVES)
def test_log_loss_half(half):
    """Clipped with the input dtype's eps (scikit-learn's rule), as the twin."""
    rng = np.random.default_rng(4)
    prob = rng.dirichlet(np.ones(4), size=200).astype(HALVES[half])
    prob[0] = [1, 0, 0, 0]          # clipped at eps of the half dtype
    y = rng.integers(0, 4, size=200)
    y[0] = 1
    got, want = fastxent.log_loss(y, prob), R.log_loss(y, prob)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    eps = float(ml_dtypes.finfo(HALVES[half]).eps)
    assert abs(got * 200 - R.log_loss(y, prob, normalize=False)) < 1e-3
    assert -np.log(eps) / 200 < got   # the clipped row alone


def test_half_kernels_take_no_widened_copy():
    """bce, entropy and evaluate on a half input allocate no input-sized
    array (the kernels read it as stored)."""
    x = np.ones((64, 16000), F16)
    y = np.zeros_like(x)
    labels = np.zeros(64, np.int64)
    calls = [lambda: fastxent.binary_cross_entropy_with_logits(x, y),
             lambda: fastxent.entropy(x, normalize=False),
             lambda: fastxent.evaluate(x, labels, topk=(1,))]
    for call in calls:
        call()
        tracemalloc.start()
        try:
            call()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 0.02 * x.nbytes, peak


@pytest.mark.parametrize("half", HALVES)
def test_strided_half_kernel_path(isa, half):
    """The kernels' own strided reading of halves (the Python layer widens
    such layouts instead, for float32's bits; C callers may pass them): the
    float32 results to rounding, gradients included."""
    from fastxent import _half, _kernels
    rng = np.random.default_rng(5)
    x32 = (rng.normal(size=(70, 300)) * 3).astype(np.float32)
    xh = _half.as_stored(x32.astype(HALVES[half]))
    xw = _half.widen(xh)
    labels = rng.integers(0, 300, size=70).astype(np.int64)
    res = []
    for x in (xh, xw):
        big = np.zeros((70, 600), x.dtype)   # classes 2 elements apart
        big[:, ::2] = x
        grad = np.zeros((70, 300), np.float32)
        st, total, denom = _kernels.xent(big, (70, 300, 1), (600, 2, 1), None, (0, 0, 0), labels,
                                         -100, None, 0.1, None, grad, (300, 1, 1), True, 2)
        assert st[0] == 0
        res.append((total / denom, grad))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-6)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("half", HALVES)
@pytest.mark.parametrize("C", [7, 300])
def test_evaluate_half_rows(isa, half, C):
    """Short rows (tiles) and long rows, with reference logits and per-row
    outputs, contiguous and with classes along axis 0: float32's bits."""
    rng = np.random.default_rng(6)
    x = (rng.normal(size=(90, C)) * 3).astype(HALVES[half])
    xr = (x.astype(np.float32) + rng.normal(size=x.shape).astype(np.float32)).astype(x.dtype)
    t = rng.integers(0, C, size=90)
    kw = dict(topk=(1, 3), per_class=True, return_per_row=True)
    for axis, (a, ar) in ((-1, (x, xr)), (0, (x.T, xr.T))):
        for threads in (1, 2):
            got = fastxent.evaluate(a, t, axis=axis, reference_logits=ar, num_threads=threads, **kw)
            want = fastxent.evaluate(_widen(a), t, axis=axis, reference_logits=_widen(ar), **kw)
            _bits_equal(got, want, f"{half} C={C} axis={axis}")
            for name in ("nll", "rank", "argmax", "kl"):
                np.testing.assert_array_equal(getattr(got.per_row, name),
                                              getattr(want.per_row, name))
