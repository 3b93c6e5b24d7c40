"""Property tests: every public function against its NumPy twin
(fastxent.reference), on every ISA level.

Inputs vary in shape (empty and 1-element axes included), axis, memory layout
(strided, transposed, reversed, Fortran, byte-swapped, misaligned), dtype
(float16/32/64, integer labels of every width) and values (normal, huge,
tiny, +-inf, NaN, all -inf rows); softmax/log_softmax also run in place.
Where the reference raises, fastxent must raise the same exception type.

Examples per test and ISA level: FASTXENT_HYPOTHESIS_PROFILE selects a
profile, else CI=true selects "ci", else "dev":
    dev 10, ci 60, sanitize 5 (.ci/sanitize).
"""
import os

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import fastxent  # noqa: E402
from fastxent import reference  # noqa: E402

from _helpers import relayout as _relayout  # noqa: E402


def relayout(a, how):
    """_helpers.relayout, but an empty array cannot be misaligned."""
    return a if (a.size == 0 and how == "misaligned") else _relayout(a, how)

_PROFILE_EXAMPLES = {"dev": 10, "ci": 60, "sanitize": 5}
_PROFILE = os.environ.get("FASTXENT_HYPOTHESIS_PROFILE") or (
    "ci" if os.environ.get("CI", "").lower() == "true" else "dev")
SETTINGS = settings(max_examples=_PROFILE_EXAMPLES[_PROFILE], deadline=None,
                    derandomize=_PROFILE != "dev", database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow,
                                           HealthCheck.data_too_large])

FLOATS = [np.float16, np.float32, np.float64]
LAYOUTS = ["contiguous", "strided", "transposed", "fortran", "reversed", "byteswapped",
           "misaligned"]


def _values(dtype, special=True, lo=-30.0, hi=30.0):
    """Elements: mostly moderate, sometimes extreme or non-finite."""
    width = np.dtype(dtype).itemsize * 8
    big = {16: 6e4, 32: 1e30, 64: 1e200}[width]
    parts = [st.floats(lo, hi, width=width)]
    if special:
        parts += [st.sampled_from([np.inf, -np.inf, np.nan, big, -big, 0.0, -0.0])]
    return st.one_of(*parts)


@st.composite
def arrays(draw, dtype=None, min_dims=1, max_dims=3, shape=None, elements=None, **kw):
    dtype = dtype or draw(st.sampled_from(FLOATS))
    if shape is None:
        shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=max_dims,
                                      min_side=0, max_side=40))
        if draw(st.booleans()) and shape:        # sometimes one long axis
            ax = draw(st.integers(0, len(shape) - 1))
            shape = shape[:ax] + (draw(st.sampled_from([127, 129, 300, 4097, 4100])),) \
                + shape[ax + 1:]
            if np.prod(shape) > 60000:
                shape = shape[:ax] + (shape[ax],) + tuple(1 for _ in shape[ax + 1:])
    a = draw(hnp.arrays(dtype, shape, elements=elements if elements is not None else _values(dtype, **kw)))
    return relayout(a, draw(st.sampled_from(LAYOUTS))) if a.ndim else a


def _tol(dtype):
    return {np.float16: 3e-3, np.float32: 2e-4, np.float64: 1e-9}[np.dtype(dtype).type]


def _assert_same(got, want, dtype, atol_scale=1.0):
    g, w = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert np.asarray(got).dtype == np.asarray(want).dtype
    assert g.shape == w.shape
    rtol = _tol(dtype)
    np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * atol_scale, equal_nan=True)


def _scale(x):
    """The largest finite |x| (at least 1): the absolute error scale of a loss."""
    return max(1.0, float(np.nanmax(np.abs(np.where(np.isfinite(x), x, 0)), initial=1)))


def _assert_loss(res, x, with_grad):
    got, want = res
    dt = np.asarray(want[0] if with_grad else want).dtype
    if with_grad:
        _assert_same(got[0], want[0], dt, atol_scale=_scale(x))
        _assert_same(got[1], want[1], dt, atol_scale=1e-2)
    else:
        _assert_same(got, want, dt, atol_scale=_scale(x))


def _both(fn_name, *args, **kwargs):
    """(fastxent's result, the reference's) or both raise the same type."""
    try:
        want = getattr(reference, fn_name)(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the type is compared
        with pytest.raises(type(exc)):
            getattr(fastxent, fn_name)(*args, **kwargs)
        return None
    return getattr(fastxent, fn_name)(*args, **kwargs), want


def _axis(draw, ndim):
    return draw(st.integers(-ndim, ndim - 1)) if ndim else -1


@pytest.mark.parametrize("fn_name", ["softmax", "log_softmax", "logsumexp"])
@SETTINGS
@hypothesis.given(data=st.data())
def test_row_functions_match_reference(isa, fn_name, data):
    x = data.draw(arrays())
    axis = _axis(data.draw, x.ndim)
    res = _both(fn_name, x, axis=axis)
    if res is None:
        return
    got, want = res
    dt = np.asarray(want).dtype
    _assert_same(got, want, dt, atol_scale=1e-3 if fn_name == "softmax" else _scale(x))
    if fn_name != "logsumexp" and x.dtype == dt and x.flags.writeable:
        inplace = np.array(x)        # aligned, native copy of the same values
        out = getattr(fastxent, fn_name)(inplace, axis=axis, out=inplace)
        assert out is inplace
        np.testing.assert_array_equal(out, getattr(fastxent, fn_name)(np.array(x), axis=axis))


@st.composite
def xent_problems(draw):
    dt = draw(st.sampled_from(FLOATS))
    ndim = draw(st.integers(1, 3))
    shape = draw(hnp.array_shapes(min_dims=ndim, max_dims=ndim, min_side=1, max_side=20))
    if draw(st.booleans()):
        shape = shape[:-1] + (draw(st.sampled_from([1, 3, 33, 130, 2049])),)
        if np.prod(shape) > 40000:
            shape = (2, shape[-1])
    ndim = len(shape)
    axis = draw(st.integers(-ndim, ndim - 1)) if ndim > 1 else -1
    C = shape[axis]
    x = draw(arrays(dtype=dt, shape=shape))
    kw = {"axis": axis, "reduction": draw(st.sampled_from(["mean", "sum", "none"]))}
    row_shape = shape[:axis % ndim] + shape[axis % ndim + 1:]
    if draw(st.booleans()):
        ldt = draw(st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8,
                                    np.uint32, np.uint64])) if C < 127 else np.int64
        target = draw(hnp.arrays(ldt, row_shape, elements=st.integers(0, C - 1)))
        if draw(st.booleans()) and target.size:
            ign = int(target.reshape(-1)[0])
            kw["ignore_index"] = ign
        target = relayout(target, draw(st.sampled_from(["contiguous", "misaligned",
                                                        "reversed"]))) if target.ndim else target
    else:
        t = draw(hnp.arrays(np.float64, shape, elements=st.floats(0, 1)))
        target = relayout(t.astype(dt), draw(st.sampled_from(LAYOUTS)))
    if draw(st.booleans()):
        kw["weight"] = draw(hnp.arrays(dt, (C,), elements=st.floats(0, 3, width=32)))
    if draw(st.booleans()):
        kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.5, 1.0]))
    kw["return_grad"] = draw(st.booleans())
    return x, target, kw


@SETTINGS
@hypothesis.given(problem=xent_problems())
def test_cross_entropy_matches_reference(isa, problem):
    x, target, kw = problem
    res = _both("cross_entropy", x, target, **kw)
    if res is None:
        return
    _assert_loss(res, x, kw["return_grad"])


@st.composite
def bce_problems(draw, probs):
    dt = draw(st.sampled_from(FLOATS))
    elements = st.floats(0, 1, width=np.dtype(dt).itemsize * 8) if probs else None
    x = draw(arrays(dtype=dt, min_dims=1, max_dims=3, elements=elements))
    t = draw(hnp.arrays(dt, x.shape, elements=st.floats(0, 1, width=np.dtype(dt).itemsize * 8)))
    kw = {"reduction": draw(st.sampled_from(["mean", "sum", "none"])),
          "return_grad": draw(st.booleans())}
    if draw(st.booleans()):
        wshape = draw(st.sampled_from([x.shape, x.shape[-1:], (1,) * x.ndim]))
        kw["weight"] = draw(hnp.arrays(dt, wshape, elements=st.floats(0, 3, width=16)))
    if not probs:
        if draw(st.booleans()):
            kw["pos_weight"] = draw(hnp.arrays(dt, x.shape[-1:], elements=st.floats(0, 3, width=16)))
        if draw(st.booleans()):
            kw["label_smoothing"] = draw(st.sampled_from([0.1, 0.5]))
    return x, relayout(t, draw(st.sampled_from(LAYOUTS))), kw


@pytest.mark.parametrize("fn_name", ["binary_cross_entropy_with_logits",
                                     "binary_cross_entropy"])
@SETTINGS
@hypothesis.given(data=st.data())
def test_binary_functions_match_reference(isa, fn_name, data):
    x, t, kw = data.draw(bce_problems(fn_name == "binary_cross_entropy"))
    res = _both(fn_name, x, t, **kw)
    if res is None:
        return
    _assert_loss(res, x, kw["return_grad"])


@pytest.mark.parametrize("fn_name", ["entropy", "kl_divergence"])
@SETTINGS
@hypothesis.given(data=st.data())
def test_information_functions_match_reference(isa, fn_name, data):
    dt = data.draw(st.sampled_from(FLOATS))
    width = np.dtype(dt).itemsize * 8
    probs = st.one_of(st.floats(0, 1, width=width), st.sampled_from([0.0, 1e-30, -0.5, np.nan]))
    p = data.draw(arrays(dtype=dt, elements=probs))
    axis = _axis(data.draw, p.ndim)
    base = data.draw(st.sampled_from([None, 2, 10.0]))
    if fn_name == "entropy":
        res = _both(fn_name, p, axis=axis, base=base)
    else:
        q = relayout(data.draw(hnp.arrays(dt, p.shape, elements=probs)),
                     data.draw(st.sampled_from(LAYOUTS)))
        res = _both(fn_name, p, q, axis=axis, base=base)
    if res is not None:
        _assert_same(res[0], res[1], np.asarray(res[1]).dtype, atol_scale=1e-3)


@SETTINGS
@hypothesis.given(data=st.data())
def test_log_loss_matches_reference(isa, data):
    dt = data.draw(st.sampled_from(FLOATS))
    n = data.draw(st.integers(1, 50))
    K = data.draw(st.integers(2, 6))
    p = data.draw(hnp.arrays(np.float64, (n, K), elements=st.floats(1e-3, 1)))
    p = (p / p.sum(axis=1, keepdims=True)).astype(dt)
    ldt = data.draw(st.sampled_from([np.int8, np.int16, np.int64, np.uint8, np.uint64]))
    info = np.iinfo(ldt)
    classes = np.array(sorted(data.draw(st.sets(st.integers(int(info.min), int(info.max)),
                                                min_size=K, max_size=K))), dtype=ldt)
    y = classes[data.draw(hnp.arrays(np.intp, (n,), elements=st.integers(0, K - 1)))]
    kw = {"labels": classes} if data.draw(st.booleans()) else {}
    if data.draw(st.booleans()):
        kw["sample_weight"] = data.draw(hnp.arrays(dt, (n,), elements=st.floats(0.5, 2, width=16)))
    kw["normalize"] = data.draw(st.booleans())
    prob = relayout(p, data.draw(st.sampled_from(LAYOUTS)))
    if K == 2 and data.draw(st.booleans()):
        prob = np.ascontiguousarray(prob[:, 1])
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = _both("log_loss", y, prob, **kw)
    if res is not None:
        # log_loss returns a Python float (as scikit-learn): the tolerance is
        # that of its compute dtype (float16 and float32 inputs in float32)
        _assert_same(res[0], res[1], np.result_type(dt, np.float32))
