"""Tests of the softmax family: log_softmax, softmax and logsumexp, against the
NumPy reference (the float64 oracle) and scipy.special, for every ISA level,
dtype, axis and memory layout, the row conventions for NaN / +-inf, and the
`out=` argument.

Tolerances: float64 within 1e-11 of the oracle, float32 (and float16 inputs,
computed in float32) within 2e-5 relative, with an absolute floor of
2e-5 * max|oracle| for arrays.
"""
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import fastxent
from _helpers import (FLOAT_DTYPES as DTYPES, INF, LAYOUTS, NAN, AxisError, assert_close,
                      fx_kernels, relayout, result_dtype, rtol_for)
from fastxent import reference as R

FUNCS = ("log_softmax", "softmax", "logsumexp")


def oracle(name, x, axis):
    return getattr(R, name)(np.asarray(x, dtype=np.float64), axis=axis)


def check_type(got, name, x, axis, dtype):
    rd = result_dtype(dtype)
    if name == "logsumexp":
        shape = x.shape[:axis % x.ndim] + x.shape[axis % x.ndim + 1:]
        if shape == ():
            assert type(got) is rd.type
            return
    else:
        shape = x.shape
    assert isinstance(got, np.ndarray) and got.shape == shape and got.dtype == rd


def make_x(rng, shape, axis, dtype):
    x = rng.normal(scale=3.0, size=shape)
    if x.ndim and x.shape[axis] >= 4096:
        # long rows: one rising (every chunk raises the running maximum, so the
        # blocked sum is rescaled each time), one falling, the rest random
        C = x.shape[axis]
        xm = np.moveaxis(x, axis, -1).reshape(-1, C)
        xm[0] = np.linspace(-40, 40, C) + rng.normal(scale=0.1, size=C)
        if xm.shape[0] > 1:
            xm[1] = np.linspace(40, -40, C)
        x = np.moveaxis(xm.reshape(np.moveaxis(x, axis, -1).shape), -1, axis)
    return np.ascontiguousarray(x).astype(dtype)


_CHUNK = fx_kernels.build_info()["row_chunk"]["float32"]

# (shape, axis)
CASES = [
    ((7, 5), -1), ((7, 5), 0), ((2, 3, 4), 1), ((2, 3, 4), 0), ((2, 3, 4), -1),
    ((6,), 0), ((4, 1), -1), ((1, 4), 0),
    ((3, 5000), -1),     # rows longer than one kernel chunk
    ((5000, 3), 0),      # a long class axis with a stride
    ((1, 65 * _CHUNK), -1),  # more than 64 chunks in a row
    ((40, 1000), -1),    # above the serial cutoff: threaded
    ((1000, 40), 0),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{s}-ax{a}".replace(" ", "") for s, a in CASES])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_matches_reference(isa, rng, dtype, case):
    shape, axis = case
    x = make_x(rng, shape, axis, dtype)
    before = x.tobytes()
    for name in FUNCS:
        got = getattr(fastxent, name)(x, axis=axis)
        check_type(got, name, x, axis, dtype)
        assert_close(got, oracle(name, x, axis), rtol_for(dtype))
    assert x.tobytes() == before


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_any_layout_matches_reference(isa, rng, dtype, layout):
    x = make_x(rng, (3, 4, 5), 0, dtype)
    x[0, 0, 0] = -INF
    lx = relayout(x, layout)
    np.testing.assert_array_equal(lx, x)
    before = lx.tobytes()
    for axis in (0, 1, 2):
        for name in FUNCS:
            got = getattr(fastxent, name)(lx, axis=axis)
            check_type(got, name, x, axis, dtype)
            assert_close(got, oracle(name, x, axis), rtol_for(dtype))
    assert lx.tobytes() == before


def test_float16_computes_in_float32(isa, rng):
    x = make_x(rng, (6, 7), -1, np.float16)
    for name in FUNCS:
        got = getattr(fastxent, name)(x)
        want = getattr(fastxent, name)(x.astype(np.float32))
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got, want)


def test_integer_and_list_inputs_compute_in_float64(isa):
    x = [[1, 2, 3], [0, 0, 5]]
    for name in FUNCS:
        got = getattr(fastxent, name)(x)
        assert got.dtype == np.float64
        assert_close(got, oracle(name, x, -1), 1e-11)
        assert_close(getattr(fastxent, name)(np.array(x, dtype=np.int8)), got, 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dominant_element_keeps_relative_accuracy(isa, dtype):
    # logsumexp([0, -d]) = log1p(exp(-d)) is small: the float32 sum 1 + exp(-d)
    # must not be rounded to float32 before its log is taken. (In float64 the
    # kernel, like the reference, takes log(1 + s) of a double sum: relative
    # error up to 1e-16 / s, hence rtol 1e-9 against the exact value for
    # float64, and the oracle's 1e-11.)
    rtol = 2e-5 if dtype == np.float32 else 1e-9
    for d in (3.0, 7.0, 12.0, 15.0):
        x = np.array([[0.0, -d], [-d, 0.0]], dtype=dtype)
        small = np.log1p(np.exp(-d))
        for xx, axis in ((x, -1), (np.ascontiguousarray(x.T), 0)):
            got = fastxent.logsumexp(xx, axis=axis)
            np.testing.assert_allclose(got, [small, small], rtol=rtol, atol=0)
            assert_close(got, oracle("logsumexp", xx, axis), rtol_for(dtype))
            assert abs(fastxent.logsumexp(xx[0] if axis == -1 else xx[:, 0]) - small) \
                <= rtol * small
            ls = fastxent.log_softmax(xx, axis=axis)
            ls = ls if axis == -1 else ls.T
            np.testing.assert_allclose(ls, [[-small, -d - small], [-d - small, -small]],
                                       rtol=rtol, atol=0)


def exact_log_softmax(x, axis):
    """(x - max) - log(sum(exp(x - max))) in long double: no rounding of a
    large logsumexp (the reference's x - logsumexp(x) has one)."""
    z = np.asarray(x, dtype=np.longdouble)
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_offsets_keep_relative_accuracy(isa, rng, dtype):
    # every output within rtol of its own value (no absolute floor): the low
    # digits of a large logsumexp must not leak into x - logsumexp(x)
    for offset in (1e3, 1e4, -1e4, 1e6):
        x = (offset + rng.normal(size=(64, 3))).astype(dtype)
        for axis, xx in ((-1, x), (0, np.ascontiguousarray(x.T))):
            want = exact_log_softmax(xx, axis)
            np.testing.assert_allclose(fastxent.log_softmax(xx, axis=axis),
                                       want.astype(np.float64), rtol=rtol_for(dtype), atol=0)
            np.testing.assert_allclose(fastxent.softmax(xx, axis=axis),
                                       np.exp(want).astype(np.float64),
                                       rtol=rtol_for(dtype), atol=0)


@pytest.mark.parametrize("transposed", [False, True], ids=["rows", "columns"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_equal_logits_are_uniform(isa, dtype, transposed):
    # log(C) is far below the spacing of 1e30: x - logsumexp(x) rounds to 0
    # and softmax to [1, 1, 1]; (x - max) - log(sum) does not
    x = np.array([[1e30] * 3, [-1e30] * 3, [1e30, 1e30, -1e30], [3e38, 3e38, 0]], dtype=dtype)
    axis = -1
    if transposed:
        x, axis = np.ascontiguousarray(x.T), 0
    ls = fastxent.log_softmax(x, axis=axis)
    sm = fastxent.softmax(x, axis=axis)
    if transposed:
        ls, sm = ls.T, sm.T
    rtol = rtol_for(dtype)
    want = np.array([[1 / 3] * 3, [1 / 3] * 3, [0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    assert_close(sm, want, rtol)
    assert_close(ls[:2], np.log(want[:2]), rtol)
    assert_close(ls[2:, :2], np.full((2, 2), -np.log(2)), rtol)
    assert ls[2, 2] == np.asarray(-2e30, dtype=dtype) and ls[3, 2] == np.asarray(-3e38, dtype)
    assert_close(fastxent.logsumexp(x, axis=axis), [1e30, -1e30, 1e30, 3e38], rtol)
    special = pytest.importorskip("scipy.special")
    ref_x = x.astype(np.float64)
    assert_close(sm if not transposed else sm.T, special.softmax(ref_x, axis=axis), rtol)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_property_against_reference(data):
    draw = data.draw
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=6))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    # |x| <= 1e3: the reference's x - logsumexp(x) is exact to 1e-13 there
    elements = st.floats(-1e3, 1e3, width=32) | st.sampled_from([INF, -INF, NAN])
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    if draw(st.booleans()) and x.ndim > 1:
        x = np.swapaxes(x, 0, -1)
        axis = draw(st.integers(-x.ndim, x.ndim - 1))
    for name in FUNCS:
        got = getattr(fastxent, name)(x, axis=axis)
        check_type(got, name, x, axis, dtype)
        assert_close(got, oracle(name, x, axis), rtol_for(dtype))


# --------------------------------------------------------------------------
# against scipy.special


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_matches_scipy(isa, rng, axis):
    special = pytest.importorskip("scipy.special")
    x = rng.normal(scale=10.0, size=(3, 4, 5))
    x[0, 0, 0] = -INF
    for name in FUNCS:
        assert_close(getattr(fastxent, name)(x, axis=axis),
                     getattr(special, name)(x, axis=axis), 1e-11)
    x32 = x.astype(np.float32)
    for name in FUNCS:
        assert_close(getattr(fastxent, name)(x32, axis=axis),
                     getattr(special, name)(x32.astype(np.float64), axis=axis), 2e-5)


# rows and what each function gives for them
EXTREME_ROWS = np.array([
    [1000.0, -1000.0, 0.0],
    [-INF, 0.0, 1.0],
    [-INF, -INF, -INF],
    [INF, 0.0, 1.0],
    [NAN, 0.0, 1.0],
    [INF, -INF, 0.0],
    [INF, NAN, 0.0],
    [INF, INF, 0.0],
    [1e30, 0.0, -1e30],
    [-1e30, -1e30, -1e30],
    [1e-310, -1e-310, 0.0],
    [0.0, 0.0, 0.0],
])
FINITE_LSE = [0, 1, 8, 9, 10, 11]   # rows with a finite logsumexp


@pytest.mark.parametrize("transposed", [False, True], ids=["rows", "columns"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_rows_follow_the_documented_conventions(isa, dtype, transposed):
    x = EXTREME_ROWS.astype(dtype)
    axis = -1
    if transposed:   # the class axis with a stride: the other kernel path
        x, axis = np.ascontiguousarray(x.T), 0
    lse = fastxent.logsumexp(x, axis=axis)
    ls = fastxent.log_softmax(x, axis=axis)
    sm = fastxent.softmax(x, axis=axis)
    if transposed:
        ls, sm = ls.T, sm.T
    rtol = rtol_for(dtype)
    # logsumexp: NaN wins, else +inf, else -inf for an all -inf row
    np.testing.assert_array_equal(lse[2:8], [-INF, INF, NAN, INF, NAN, INF])
    assert_close(lse, R.logsumexp(EXTREME_ROWS.astype(dtype).astype(np.float64)), rtol)
    assert_close(lse[[0, 1, 8, 9, 11]],
                 [1000.0, np.log1p(np.e), 1e30, -1e30 + np.log(3), np.log(3)], rtol)
    # log_softmax / softmax: NaN throughout a row whose logsumexp is not finite
    bad = [r for r in range(len(EXTREME_ROWS)) if r not in FINITE_LSE]
    assert np.isnan(ls[bad]).all() and np.isnan(sm[bad]).all()
    # -inf next to finite logits: log-probability -inf, probability exactly 0
    assert ls[1, 0] == -INF and sm[1, 0] == 0
    np.testing.assert_array_equal(sm[0], [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(ls[8], np.array([0.0, -1e30, -2e30], dtype=dtype))
    for r in (9, 10, 11):
        assert_close(ls[r], np.full(3, -np.log(3)), rtol)
        assert_close(sm[r], np.full(3, 1 / 3), rtol)
    # the reference computes x - logsumexp(x), which rounds to 0 in the row
    # of -1e30 (see test_huge_equal_logits_are_uniform): skip that row
    ref_x = EXTREME_ROWS.astype(dtype).astype(np.float64)
    keep = [r for r in range(len(EXTREME_ROWS)) if r != 9]
    assert_close(ls[keep], R.log_softmax(ref_x)[keep], rtol)
    assert_close(sm[keep], R.softmax(ref_x)[keep], rtol)


def test_extreme_rows_agree_with_scipy_where_scipy_defines_them(isa):
    special = pytest.importorskip("scipy.special")
    x = EXTREME_ROWS
    with np.errstate(all="ignore"):
        assert_close(fastxent.logsumexp(x), special.logsumexp(x, axis=-1), 1e-11)
        assert_close(fastxent.softmax(x), special.softmax(x, axis=-1), 1e-11)
        finite = x[FINITE_LSE]
        assert_close(fastxent.log_softmax(finite), special.log_softmax(finite, axis=-1), 1e-11)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_special_values_in_long_rows(isa, dtype):
    C = 5000   # several chunks: the conventions must survive the blocked sum
    rows = np.tile(np.linspace(-3, 3, C), (8, 1))
    rows[0] = -INF                       # all -inf
    rows[1, 4500] = NAN                  # NaN in a later chunk
    rows[2, 3000] = INF                  # +inf in a later chunk
    rows[3, 10], rows[3, 4999] = INF, NAN
    rows[4, 0] = NAN                     # NaN first, large values after it
    rows[4, 1:] = 200.0
    rows[5, :2100] = -INF                # a first chunk of -inf only
    rows[6, 2048] = NAN                  # NaN first in the second chunk
    rows[7, :] = 60.0                    # exp(60) overflows float32 unless shifted
    x = rows.astype(dtype)
    ref_x = x.astype(np.float64)
    for xx, axis in ((x, -1), (np.ascontiguousarray(x.T), 0)):
        lse = fastxent.logsumexp(xx, axis=axis)
        np.testing.assert_array_equal(np.isnan(lse), [False, True, False, True, True, False,
                                                      True, False])
        assert lse[0] == -INF and lse[2] == INF
        assert_close(lse, R.logsumexp(ref_x), rtol_for(dtype))
        for name in ("log_softmax", "softmax"):
            got = getattr(fastxent, name)(xx, axis=axis)
            got = got if axis == -1 else got.T
            assert_close(got, getattr(R, name)(ref_x), rtol_for(dtype))
            assert np.isnan(got[:5]).all() and np.isnan(got[6]).all()


def test_single_class_and_empty(isa):
    x = np.array([[3.0], [-INF], [INF], [NAN]])
    np.testing.assert_array_equal(fastxent.log_softmax(x), [[0.0], [NAN], [NAN], [NAN]])
    np.testing.assert_array_equal(fastxent.softmax(x), [[1.0], [NAN], [NAN], [NAN]])
    np.testing.assert_array_equal(fastxent.logsumexp(x), [3.0, -INF, INF, NAN])
    for shape, axis in (((0, 5), -1), ((5, 0), -1), ((5, 0), 0), ((0,), 0), ((2, 0, 3), 1)):
        x = np.zeros(shape, dtype=np.float32)
        for name in FUNCS:
            got = getattr(fastxent, name)(x, axis=axis)
            want = getattr(R, name)(x, axis=axis)
            check_type(got, name, x, axis, np.float32)
            np.testing.assert_array_equal(got, want)
    # an empty slice has logsumexp -inf (as scipy)
    np.testing.assert_array_equal(fastxent.logsumexp(np.zeros((5, 0))), np.full(5, -INF))
    assert fastxent.logsumexp(np.zeros(0)) == -INF
    assert type(fastxent.logsumexp(np.zeros(0, dtype=np.float32))) is np.float32


def test_logsumexp_scalar_results(isa):
    got = fastxent.logsumexp(np.float32([0.0, 0.0]))
    assert type(got) is np.float32 and abs(got - np.log(2)) < 1e-7
    got = fastxent.logsumexp([0.0, 0.0])
    assert type(got) is np.float64 and abs(got - np.log(2)) < 1e-15
    assert type(fastxent.logsumexp(np.float16([1.0]))) is np.float32


# --------------------------------------------------------------------------
# out=


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_is_written_and_returned(isa, rng, name, dtype):
    fn = getattr(fastxent, name)
    x = make_x(rng, (6, 7), -1, dtype)
    for axis in (0, -1):
        want = fn(x, axis=axis)
        out = np.full(x.shape, NAN, dtype=dtype)
        assert fn(x, axis=axis, out=out) is out
        np.testing.assert_array_equal(out, want)
        # any layout of out
        big = np.full((6, 21), NAN, dtype=dtype)
        view = big[:, ::3]
        assert fn(x, axis=axis, out=view) is view
        assert_close(view, want, rtol_for(dtype))
        assert np.isnan(big[:, 1::3]).all() and np.isnan(big[:, 2::3]).all()
        fort = np.asfortranarray(np.zeros(x.shape, dtype=dtype))
        assert fn(x, axis=axis, out=fort) is fort
        assert_close(fort, want, rtol_for(dtype))
        rev = np.zeros(x.shape, dtype=dtype)[::-1, ::-1]   # negative strides
        assert fn(x, axis=axis, out=rev) is rev
        assert_close(rev, want, rtol_for(dtype))
        mis = relayout(np.zeros(x.shape, dtype=dtype), "misaligned")
        assert fn(x, axis=axis, out=mis) is mis
        assert_close(mis, want, rtol_for(dtype))
    # float16 input: out has the compute dtype float32
    x16 = x.astype(np.float16)
    out = np.empty(x.shape, dtype=np.float32)
    assert fn(x16, out=out) is out
    np.testing.assert_array_equal(out, fn(x16))


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_in_place(isa, rng, name, dtype):
    fn = getattr(fastxent, name)
    for axis in (0, -1):
        for how in ("contiguous", "strided", "fortran"):
            x0 = make_x(rng, (5, 3000), -1, dtype)   # long rows: several chunks
            want = fn(x0, axis=axis)
            x = x0.copy() if how == "contiguous" else relayout(x0, how)
            assert fn(x, axis=axis, out=x) is x
            assert_close(x, want, rtol_for(dtype))
    # a special row in place
    x = np.array([[INF, 0.0], [-INF, 0.0]], dtype=dtype)
    fn(x, out=x)
    assert np.isnan(x[0]).all() and x[1, 1] == (0.0 if name == "log_softmax" else 1.0)


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
def test_out_partially_overlapping_the_input(isa, rng, name):
    fn = getattr(fastxent, name)
    buf = rng.normal(size=40)
    x, out = buf[:-4], buf[4:]
    want = fn(x.copy())
    assert fn(x, out=out) is out
    np.testing.assert_array_equal(out, want)

    buf = rng.normal(size=(8, 6))
    for axis in (0, -1):
        b = buf.copy()
        x, out = b[:6], b[2:]
        want = fn(x.copy(), axis=axis)
        fn(x, axis=axis, out=out)
        assert_close(b[2:], want, 1e-15)

    # same start, other strides: out = x.T
    x = rng.normal(size=(5, 5))
    want = fn(x.copy(), axis=1)
    fn(x, axis=1, out=x.T)
    assert_close(x.T, want, 1e-15)

    # interleaved: out and x on alternate elements of one buffer (no overlap)
    b = rng.normal(size=(4, 10))
    x, out = b[:, ::2], b[:, 1::2]
    want = fn(x.copy())
    fn(x, out=out)
    assert_close(b[:, 1::2], want, 1e-15)


def test_out_errors(isa):
    x = np.zeros((3, 4))
    readonly = np.zeros((3, 4))
    readonly.flags.writeable = False
    for name in ("log_softmax", "softmax"):
        fn = getattr(fastxent, name)
        for out, match in [
            (np.zeros((4, 3)), "shape"),
            (np.zeros((3, 4, 1)), "shape"),
            (np.zeros(12), "shape"),
            (np.zeros((3, 4), dtype=np.float32), "dtype"),
            (np.zeros((3, 4), dtype=np.int64), "dtype"),
            (readonly, "read-only"),
            ([[0.0] * 4] * 3, "ndarray"),
        ]:
            with pytest.raises(ValueError, match=match):
                fn(x, out=out)
        # float16 input: a float32 or float16 out (rounded once, test_half.py),
        # no other
        x16 = np.zeros((3, 4), dtype=np.float16)
        with pytest.raises(ValueError, match="dtype"):
            fn(x16, out=np.zeros((3, 4)))
        # in the reference too
        with pytest.raises(ValueError):
            getattr(R, name)(x, out=np.zeros((4, 3)))
        assert readonly.sum() == 0


# --------------------------------------------------------------------------
# axis errors (fastxent and the reference raise the same type)


@pytest.mark.parametrize("name", FUNCS)
def test_axis_errors(name):
    fn, ref = getattr(fastxent, name), getattr(R, name)
    for x, axis in (([0.0, 1.0], 1), ([0.0, 1.0], -2), (np.zeros((2, 3)), 2),
                    (np.float64(1.0), 1), (np.float64(1.0), -2), (np.zeros((2, 3)), (0, 2)),
                    (np.float64(1.0), (1,))):
        with pytest.raises(AxisError):
            ref(x, axis=axis)
        with pytest.raises(AxisError):
            fn(x, axis=axis)
    # AxisError is both a ValueError and an IndexError, as in NumPy
    with pytest.raises(ValueError, match="axis"):
        fn([0.0, 1.0], axis=3)
    with pytest.raises((ValueError, TypeError), match="axis|integer"):
        fn([0.0, 1.0], axis=0.5)
    for repeated in ((0, 0), (1, -1)):
        with pytest.raises(ValueError):
            ref(np.zeros((2, 3)), axis=repeated)
        with pytest.raises(ValueError, match="repeated"):
            fn(np.zeros((2, 3)), axis=repeated)
    for bad in ("abc", [["a", "b"]], np.array([1 + 2j])):
        with pytest.raises(ValueError):
            ref(bad)
        with pytest.raises(ValueError):
            fn(bad)
    with pytest.raises(ValueError, match="num_threads"):
        fn([0.0, 1.0], num_threads=0)


# --------------------------------------------------------------------------
# threads and memory


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bitwise_deterministic_across_thread_counts(isa, rng, dtype):
    x = make_x(rng, (300, 250), -1, dtype)   # 75 000 elements: threaded
    x[3, :] = -INF
    x[5, 7] = NAN
    results = {}
    for nt in (1, 2, 3, 4):
        results[nt] = [getattr(fastxent, name)(x, axis=axis, num_threads=nt).tobytes()
                       for name in FUNCS for axis in (0, -1)]
    for nt in (2, 3, 4):
        assert results[nt] == results[1], f"num_threads={nt} differs from 1"
    assert_close(fastxent.logsumexp(x, num_threads=3), R.logsumexp(x.astype(np.float64)),
                 rtol_for(dtype))


def test_no_temporaries_beyond_the_output(isa):
    # logsumexp must not materialise exp(x): the only NumPy allocation of a
    # contiguous float64 input is the (rows,) result; log_softmax / softmax
    # allocate the output only, nothing with out=.
    x = np.random.default_rng(0).normal(size=(1000, 500))
    fastxent.logsumexp(x)   # warm up
    tracemalloc.start()
    try:
        for name, kwargs, limit in (("logsumexp", {}, 8000 + 4096),
                                    ("log_softmax", {}, x.nbytes + 4096),
                                    ("softmax", {}, x.nbytes + 4096),
                                    ("softmax", {"out": np.empty_like(x)}, 4096),
                                    ("logsumexp", {"axis": 0}, 4000 + 4096)):
            out = kwargs.get("out")
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            res = getattr(fastxent, name)(x, **kwargs)
            peak = tracemalloc.get_traced_memory()[1] - base
            assert peak <= limit, (name, kwargs.keys(), peak)
            assert out is None or res is out
            del res, out
    finally:
        tracemalloc.stop()
