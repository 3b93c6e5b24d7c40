"""Tests of the information measures: entropy and kl_divergence, against the
NumPy reference (the float64 oracle) and scipy.special.entr / rel_entr,
for every ISA level, dtype, axis and layout; the
0 log 0 and q = 0 conventions, NaN propagation, negative-value errors, and
the identity H(p, q) = H(p) + KL(p || q) with cross_entropy's soft targets.

Tolerances: float64 within 1e-11 of the oracle, float32 (and float16 inputs,
computed in float32) within 2e-5 relative (absolute floor 2e-5 * max|oracle|
for arrays whose values cross zero).
"""
import numpy as np
import pytest

import fastxent
from _helpers import (FLOAT_DTYPES as DTYPES, INF, LAYOUTS, NAN, AxisError, assert_close, f64,
                      relayout, result_dtype, rtol_for)
from fastxent import reference as R

BASES = (None, 2, 10.0, np.e, 0.5)


def check_type(got, shape, axis, dtype):
    ax = axis % len(shape)
    out_shape = shape[:ax] + shape[ax + 1:]
    if out_shape == ():
        assert type(got) is np.dtype(dtype).type
    else:
        assert isinstance(got, np.ndarray) and got.shape == out_shape and got.dtype == dtype


def probabilities(rng, shape, dtype, zeros=True):
    p = rng.uniform(size=shape)
    if zeros and p.size > 3:
        p.reshape(-1)[::4] = 0.0
    return np.asarray(p).astype(dtype)


# (shape, axis)
CASES = [((7, 5), -1), ((7, 5), 0), ((2, 3, 4), 1), ((2, 3, 4), 0), ((6,), 0), ((4, 1), -1),
         ((3, 3000), -1), ((3000, 3), 0), ((40, 1000), -1), ((1000, 40), 0)]


@pytest.mark.parametrize("case", CASES, ids=[f"{s}-ax{a}".replace(" ", "") for s, a in CASES])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_entropy_and_kl_match_reference(isa, rng, dtype, case):
    shape, axis = case
    p = probabilities(rng, shape, dtype)
    q = probabilities(rng, shape, dtype)
    q.reshape(-1)[1::7] = 0.0     # q = 0 < p: +inf rows; q = p = 0: 0 terms
    before = (p.tobytes(), q.tobytes())
    rd = result_dtype(dtype)
    for base in BASES:
        got = fastxent.entropy(p, axis, base=base)
        check_type(got, shape, axis, rd)
        assert_close(got, R.entropy(f64(p), axis, base=base), rtol_for(rd))
        got = fastxent.kl_divergence(p, q, axis, base=base)
        check_type(got, shape, axis, rd)
        assert_close(got, R.kl_divergence(f64(p), f64(q), axis, base=base), rtol_for(rd))
    # the q = 0 < p terms make their rows +inf
    assert (p.tobytes(), q.tobytes()) == before


BROADCASTS = [((7, 5), (5,)), ((5,), (7, 5)), ((7, 1), (7, 5)), ((7, 5), (1, 5)),
              ((2, 1, 4), (3, 4)), ((), (3,)), ((7, 5), ())]


@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.float32, np.float32),
                                    (np.float32, np.float64), (np.float16, np.float32)],
                         ids=lambda d: "-".join(np.dtype(t).name for t in d))
def test_kl_broadcasting_and_mixed_dtypes(isa, rng, shapes, dtypes):
    p = probabilities(rng, shapes[0], dtypes[0], zeros=False)
    q = probabilities(rng, shapes[1], dtypes[1], zeros=False)
    rd = result_dtype(*dtypes)
    for axis in (-1, 0):
        got = fastxent.kl_divergence(p, q, axis)
        want = R.kl_divergence(f64(p), f64(q), axis)
        check_type(got, np.broadcast_shapes(p.shape, q.shape), axis, rd)
        assert_close(got, want, rtol_for(rd))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_any_layout_matches_reference(isa, rng, dtype, layout):
    p = probabilities(rng, (3, 4, 5), dtype)
    q = probabilities(rng, (3, 4, 5), dtype)
    q[0, 0, 1] = 0.0
    lp, lq = relayout(p, layout), relayout(q, layout)
    np.testing.assert_array_equal(lp, p)
    before = (lp.tobytes(), lq.tobytes())
    rd = result_dtype(dtype)
    for axis in (0, 1, 2):
        assert_close(fastxent.entropy(lp, axis), R.entropy(f64(p), axis), rtol_for(rd))
        assert_close(fastxent.kl_divergence(lp, lq, axis), R.kl_divergence(f64(p), f64(q), axis),
                     rtol_for(rd))
        # mixed layouts of p and q
        assert_close(fastxent.kl_divergence(p, lq, axis), R.kl_divergence(f64(p), f64(q), axis),
                     rtol_for(rd))
    assert (lp.tobytes(), lq.tobytes()) == before


# --------------------------------------------------------------------------
# against scipy.special


@pytest.mark.parametrize("base", [None, 2])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_match_scipy_entr_and_rel_entr(isa, rng, axis, base):
    special = pytest.importorskip("scipy.special")
    p = probabilities(rng, (4, 6, 5), np.float64)
    q = probabilities(rng, (4, 6, 5), np.float64)
    q[0, 0, 0] = 0.0
    q[1, 1, 1] = 0.0
    scale = 1.0 if base is None else np.log(base)
    for dtype in (np.float64, np.float32):
        pp, qq = p.astype(dtype), q.astype(dtype)
        assert_close(fastxent.entropy(pp, axis, base=base),
                     special.entr(f64(pp)).sum(axis=axis) / scale, rtol_for(dtype))
        assert_close(fastxent.kl_divergence(pp, qq, axis, base=base),
                     special.rel_entr(f64(pp), f64(qq)).sum(axis=axis) / scale, rtol_for(dtype))


def test_special_values_agree_with_scipy(isa):
    special = pytest.importorskip("scipy.special")
    vals = np.array([0.0, -0.0, 0.5, 1.0, 2.0, INF, NAN, 1e-310, 1e300])
    p, q = np.meshgrid(vals, vals, indexing="ij")
    p, q = p.reshape(-1, 1), q.reshape(-1, 1)   # one term per row
    with np.errstate(all="ignore"):
        want_kl = special.rel_entr(p, q)[:, 0]
        want_h = special.entr(p)[:, 0]
    got_kl = fastxent.kl_divergence(p, q)
    got_h = fastxent.entropy(p)
    # scipy computes x log(x / y), which overflows where x / y does; fastxent
    # (and the reference) fall back to x (log x - log y) there
    finite_ratio = ~((p[:, 0] == 1e300) & (q[:, 0] == 1e-310))
    assert_close(got_kl[finite_ratio], want_kl[finite_ratio], 1e-11)
    assert_close(got_h, want_h, 1e-11)
    assert_close(got_kl, R.kl_divergence(p, q), 1e-11)
    assert_close(got_h, R.entropy(p), 1e-11)


# --------------------------------------------------------------------------
# conventions


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_and_infinite_conventions(isa, dtype):
    d = np.dtype(dtype).type
    # 0 log 0 = 0
    assert fastxent.entropy(np.array([0.0, 1.0], dtype=dtype)) == 0
    assert fastxent.entropy(np.array([0.0, -0.0], dtype=dtype)) == 0
    # p = 0: term 0, whatever q >= 0 is (also q = 0)
    assert fastxent.kl_divergence(np.array([0.0, 1.0], dtype=dtype),
                                  np.array([0.0, 1.0], dtype=dtype)) == 0
    assert fastxent.kl_divergence(np.array([0.0, 1.0], dtype=dtype),
                                  np.array([0.7, 1.0], dtype=dtype)) == 0
    # q = 0 < p: +inf (natural log and any base)
    for base in (None, 2):
        got = fastxent.kl_divergence(np.array([0.5, 0.5], dtype=dtype),
                                     np.array([0.0, 1.0], dtype=dtype), base=base)
        assert got == INF and type(got) is d
    # NaN propagates, in p and in q, also next to the zero conventions
    p = np.array([[NAN, 0.5], [0.0, 0.5], [NAN, 0.5], [0.5, 0.5]], dtype=dtype)
    q = np.array([[0.5, 0.5], [NAN, 0.5], [0.0, 0.5], [0.5, NAN]], dtype=dtype)
    assert np.isnan(fastxent.kl_divergence(p, q)).all()
    assert np.isnan(fastxent.kl_divergence(p.T, q.T, axis=0)).all()   # strided path
    assert_close(fastxent.kl_divergence(p, q), R.kl_divergence(f64(p), f64(q)), 0)
    np.testing.assert_array_equal(np.isnan(fastxent.entropy(p)), [True, False, True, False])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kl_ratios_that_overflow_or_underflow(isa, dtype):
    big, small = (1e300, 1e-300) if dtype == np.float64 else (1e30, 1e-30)
    sub = 5e-324 if dtype == np.float64 else 1e-45
    p = np.array([big, small, 0.5, sub, 1.0, sub, 2 * sub], dtype=dtype)
    q = np.array([small, big, 0.5, 1.0, sub, sub, sub], dtype=dtype)
    pl, ql = p.astype(np.longdouble), q.astype(np.longdouble)
    exact = (pl * (np.log(pl) - np.log(ql))).astype(np.float64)
    for pp, qq, axis in ((p[:, None], q[:, None], -1), (p[None, :], q[None, :], 0)):
        got = fastxent.kl_divergence(pp, qq, axis)
        assert np.isfinite(got).all()
        assert_close(got, exact, 1e-6 if dtype == np.float32 else 1e-13)
        assert_close(got, R.kl_divergence(f64(pp), f64(qq), axis),
                     rtol_for(dtype) if dtype == np.float64 else 1e-6)
    # summed along a row (contiguous, with the careful recomputation of the chunk)
    row = fastxent.kl_divergence(p, q)
    assert_close(row, np.sum(exact), 1e-6 if dtype == np.float32 else 1e-13)


def test_subnormal_probabilities(isa):
    for dtype, tiny in ((np.float32, 1e-40), (np.float64, 1e-310)):
        p = np.array([tiny, 1.0 - tiny, tiny * 3], dtype=dtype)
        pl = p.astype(np.longdouble)
        exact = float(-(pl * np.log(pl)).sum())
        assert_close(fastxent.entropy(p), exact, 1e-6)
        assert_close(fastxent.kl_divergence(p, p[::-1].copy()),
                     float((pl * (np.log(pl) - np.log(pl[::-1]))).sum()), 1e-6)


@pytest.mark.parametrize("base", BASES)
def test_base_scales_the_natural_log(isa, rng, base):
    p = probabilities(rng, (5, 8), np.float64)
    q = probabilities(rng, (5, 8), np.float64, zeros=False)
    scale = 1.0 if base is None else np.log(base)
    assert_close(fastxent.entropy(p, base=base), fastxent.entropy(p) / scale, 1e-14)
    assert_close(fastxent.kl_divergence(p, q, base=base),
                 fastxent.kl_divergence(p, q) / scale, 1e-14)
    assert fastxent.entropy([0.5, 0.5], base=2) == 1.0
    assert fastxent.entropy(np.float32([0.25] * 4), base=2) == 2.0
    assert_close(fastxent.kl_divergence([0.5, 0.5], [0.25, 0.75], base=2),
                 0.5 * np.log2(2) + 0.5 * np.log2(2 / 3), 1e-15)


@pytest.mark.parametrize("base", [0, 1, 1.0, -2, INF, NAN, "x", [2]])
def test_bad_base_raises(base):
    for fn, args in ((fastxent.entropy, ([0.5, 0.5],)),
                     (fastxent.kl_divergence, ([0.5, 0.5], [0.5, 0.5]))):
        with pytest.raises(ValueError, match="base"):
            fn(*args, base=base)
        # the reference raises too (TypeError for a list: float([2]) fails)
        with pytest.raises((ValueError, TypeError)):
            getattr(R, fn.__name__)(*args, base=base)


# --------------------------------------------------------------------------
# negative values: ValueError naming the argument and the index


@pytest.mark.parametrize("axis", [-1, 0])
def test_negative_values_name_the_index(isa, axis):
    p = np.full((3, 4), 0.25)
    q = np.full((3, 4), 0.25)
    p[1, 2] = -0.5
    with pytest.raises(ValueError, match=r"p.*-0\.5.*index \(1, 2\)"):
        fastxent.entropy(p, axis)
    with pytest.raises(ValueError, match=r"p.*index \(1, 2\)"):
        fastxent.kl_divergence(p, q, axis)
    with pytest.raises(ValueError, match=r"q.*index \(1, 2\)"):
        fastxent.kl_divergence(q, p, axis)
    # the caller's index also for transposed and 3-D inputs
    with pytest.raises(ValueError, match=r"p.*index \(2, 1\)"):
        fastxent.entropy(p.T, axis)
    p3 = np.full((2, 3, 4), 0.25)
    p3[1, 0, 3] = -1e-300
    for ax in (0, 1, 2):
        with pytest.raises(ValueError, match=r"p.*index \(1, 0, 3\)"):
            fastxent.entropy(p3, ax)
    # the reference raises the same type
    with pytest.raises(ValueError):
        R.entropy(p, axis)
    with pytest.raises(ValueError):
        R.kl_divergence(q, p, axis)


def test_negative_values_far_into_a_threaded_array(isa):
    p = np.full((400, 200), 0.005)
    p[371, 198] = -1.0
    with pytest.raises(ValueError, match=r"index \(371, 198\)"):
        fastxent.entropy(p, num_threads=2)
    q = np.full((400, 200), 0.005)
    q[5, 0] = -INF
    with pytest.raises(ValueError, match=r"q.*index \(5, 0\)"):
        fastxent.kl_divergence(np.full((400, 200), 0.005), q, num_threads=3)
    # broadcast q: the index is in the broadcast shape
    with pytest.raises(ValueError, match=r"q.*index \(0, 1\)"):
        fastxent.kl_divergence(np.full((4, 3), 0.3), [0.3, -0.3, 0.4])
    # -0.0 and NaN are not negative
    assert fastxent.entropy([-0.0, 1.0]) == 0
    assert np.isnan(fastxent.entropy([NAN, 1.0]))


def test_shape_and_axis_errors():
    with pytest.raises(ValueError, match="broadcast"):
        fastxent.kl_divergence(np.ones((2, 3)), np.ones((2, 4)))
    with pytest.raises(ValueError):
        R.kl_divergence(np.ones((2, 3)), np.ones((2, 4)))
    for fn, args in ((fastxent.entropy, ([0.5, 0.5],)),
                     (fastxent.kl_divergence, ([0.5, 0.5], [0.5, 0.5]))):
        ref = getattr(R, fn.__name__)
        for axis in (1, -2):
            with pytest.raises(AxisError):
                ref(*args, axis=axis)
            with pytest.raises(AxisError):
                fn(*args, axis=axis)
    for fn, ref in ((fastxent.entropy, R.entropy),):
        with pytest.raises(AxisError):
            ref(np.float64(0.5))
        with pytest.raises(AxisError):
            fn(np.float64(0.5))
        with pytest.raises(ValueError):
            ref(["a", "b"])
        with pytest.raises(ValueError):
            fn(["a", "b"])


def test_empty_and_scalar_results(isa):
    for shape, axis, want in (((3, 0), -1, np.zeros(3)), ((0, 3), -1, np.zeros(0)),
                              ((0,), 0, 0.0), ((2, 0, 4), 1, np.zeros((2, 4)))):
        for dtype in (np.float32, np.float64):
            p = np.zeros(shape, dtype=dtype)
            for got, ref in ((fastxent.entropy(p, axis), R.entropy(p, axis)),
                             (fastxent.kl_divergence(p, p, axis), R.kl_divergence(p, p, axis))):
                check_type(got, shape, axis, np.dtype(dtype))
                np.testing.assert_array_equal(got, want)
                np.testing.assert_array_equal(got, ref)
    assert type(fastxent.entropy(np.float16([0.5, 0.5]))) is np.float32
    assert type(fastxent.entropy([1, 2])) is np.float64       # integers: float64
    assert_close(fastxent.entropy([1, 2]), -2 * np.log(2), 1e-15)


# --------------------------------------------------------------------------
# H(p, q) = H(p) + KL(p || q), with cross_entropy's soft targets


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_entropy_plus_kl(isa, rng, dtype):
    for shape, axis in (((12, 7), 1), ((3, 7, 4), 1)):
        logits = rng.normal(scale=2.0, size=shape).astype(dtype)
        p = rng.dirichlet(np.ones(shape[axis]), size=shape[:axis] + shape[axis + 1:])
        p = np.moveaxis(p, -1, axis).copy()
        p.reshape(-1)[::5] = 0.0    # zero target probabilities: 0 log 0 terms
        p = (p / p.sum(axis=axis, keepdims=True)).astype(dtype)
        h_pq = fastxent.cross_entropy(logits, p, axis=axis, reduction="none")
        q = fastxent.softmax(logits, axis=axis)
        h_p = fastxent.entropy(p, axis)
        kl = fastxent.kl_divergence(p, q, axis)
        assert_close(h_pq, h_p + kl, 1e-11 if dtype == np.float64 else 2e-5)
        assert (kl >= -1e-6).all() and (h_p >= 0).all()
        # and in the mean, as the docstring of entropy shows
        assert_close(fastxent.cross_entropy(logits, p, axis=axis),
                     np.mean(h_p + kl, dtype=np.float64), 1e-11 if dtype == np.float64 else 2e-5)


# --------------------------------------------------------------------------
# determinism


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_deterministic_across_thread_counts(isa, rng, dtype):
    p = probabilities(rng, (300, 250), dtype)
    q = probabilities(rng, (300, 250), dtype, zeros=False)
    y_prob = rng.dirichlet(np.ones(4), size=20000).astype(dtype)   # 80 000 values
    y_true = rng.integers(0, 4, size=20000)
    sw = rng.uniform(size=20000)
    results = {}
    for nt in (1, 2, 3, 4):
        res = [fastxent.entropy(p, ax, num_threads=nt) for ax in (0, 1)]
        res += [fastxent.kl_divergence(p, q, ax, num_threads=nt) for ax in (0, 1)]
        res += [fastxent.log_loss(y_true, y_prob, num_threads=nt),
                fastxent.log_loss(y_true, y_prob, sample_weight=sw, normalize=False,
                                  num_threads=nt)]
        results[nt] = [np.asarray(r).tobytes() for r in res]
    for nt in (2, 3, 4):
        assert results[nt] == results[1], f"num_threads={nt} differs from 1"
    assert_close(fastxent.log_loss(y_true, y_prob), R.log_loss(y_true, y_prob.astype(np.float64)
                                                               if dtype == np.float64 else y_prob),
                 rtol_for(dtype))
