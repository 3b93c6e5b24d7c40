"""Issue 16, porting gaps 1 and 6: SciPy's axes (None, tuples, keepdims, b=,
return_sign=, 0-d input) and torch's dtype= on softmax / log_softmax,
against scipy.special and torch."""
import numpy as np
import pytest

import fastxent
from fastxent import reference as R
from _helpers import assert_close

AXES = (None, (0, 2), (2, 0), (1,), (), -1, 0, (0, 1, 2))


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axes_match_scipy(isa, rng, special, axis, dtype):
    x = rng.normal(scale=3.0, size=(3, 4, 5)).astype(dtype)
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    for kd in (False, True):
        want = special.logsumexp(x, axis=axis, keepdims=kd)
        got = fastxent.logsumexp(x, axis=axis, keepdims=kd)
        assert np.shape(got) == np.shape(want) and got.dtype == want.dtype
        assert_close(got, want, rtol)
        assert_close(R.logsumexp(x, axis=axis, keepdims=kd), want, rtol)
    for name in ("softmax", "log_softmax"):
        want = getattr(special, name)(x, axis=axis)
        got = getattr(fastxent, name)(x, axis=axis)
        assert got.shape == want.shape and got.dtype == want.dtype
        assert_close(got, want, rtol)


def test_axes_on_strided_input_and_out(isa, rng, special):
    x = rng.normal(size=(6, 5, 8))[::2, :, ::-3]     # merged axes need a copy
    out = np.empty(x.shape)
    assert fastxent.softmax(x, axis=(0, 2), out=out) is out
    assert_close(out, special.softmax(x, axis=(0, 2)), 1e-12)
    y = x.copy()
    fastxent.log_softmax(y, axis=None, out=y)         # in place
    assert_close(y, special.log_softmax(x, axis=None), 1e-12)


@pytest.mark.parametrize("axis", [None, (0, 2), -1, ()])
def test_weights_and_sign_match_scipy(isa, rng, special, axis):
    x = rng.normal(scale=2.0, size=(3, 4, 5))
    for b in (rng.normal(size=x.shape), rng.uniform(size=(1, 4, 1)),
              np.where(rng.uniform(size=x.shape) < 0.3, 0.0, rng.normal(size=x.shape)), -1.0):
        for kd in (False, True):
            want = special.logsumexp(x, axis=axis, b=b, keepdims=kd, return_sign=True)
            for fn in (fastxent.logsumexp, R.logsumexp):
                got = fn(x, axis, b, kd, True)
                assert np.shape(got[0]) == np.shape(want[0])
                assert_close(got[0], want[0], 1e-9)
                np.testing.assert_array_equal(got[1], want[1])
                with np.errstate(invalid="ignore"):
                    assert_close(fn(x, axis=axis, b=b, keepdims=kd),
                                 special.logsumexp(x, axis=axis, b=b, keepdims=kd), 1e-9)


def test_weight_special_values_match_scipy(isa, special):
    for x, b in (([np.inf, 1.0], [0.0, 1.0]), ([1.0, 1.0], [1.0, -1.0]),
                 ([1.0, 2.0], [1.0, -1.0]), ([-np.inf, -np.inf], [1.0, -1.0]),
                 ([np.nan, 1.0], [1.0, 1.0]), ([np.inf, 1.0], [1.0, -1.0])):
        want = special.logsumexp(x, b=b, return_sign=True)
        for fn in (fastxent.logsumexp, R.logsumexp):
            got = fn(x, b=b, return_sign=True)
            np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=str((x, b)))
    # the float32 / float64 promotion of x and b, as SciPy
    x32 = np.float32([1.0, 2.0])
    assert fastxent.logsumexp(x32, b=np.float64([1, 1])).dtype == np.float64
    assert fastxent.logsumexp(x32, b=np.float32([1, 1])).dtype == np.float32


def test_return_sign_without_weights(isa, special):
    x = np.array([[0.0, 1.0], [-np.inf, -np.inf], [np.nan, 0.0], [np.inf, 0.0]])
    want = special.logsumexp(x, axis=1, return_sign=True)
    got = fastxent.logsumexp(x, axis=1, return_sign=True)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    np.testing.assert_allclose(R.logsumexp(x, axis=1, return_sign=True), want, rtol=1e-12)


@pytest.mark.parametrize("axis", [-1, 0, None, ()])
def test_zero_d_input_like_torch_and_scipy(isa, torch, special, axis):
    for v in (np.float64(2.5), np.float32(-1.0), 3):
        want = special.logsumexp(v, axis=axis)
        got = fastxent.logsumexp(v, axis=axis)
        assert np.ndim(got) == 0 and got == want
        assert got == torch.logsumexp(torch.tensor(float(v)), dim=0).item()
        assert fastxent.softmax(v, axis=axis) == special.softmax(v, axis=axis) == 1.0
        assert fastxent.log_softmax(v, axis=axis) == 0.0
        assert np.asarray(fastxent.softmax(v, axis=axis)).shape == ()


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("want_dt", [np.float32, np.float64])
def test_dtype_like_torch(isa, rng, torch, name, want_dt):
    x = rng.normal(scale=4.0, size=(7, 9))
    for src in (np.float16, np.float32, np.float64):
        xs = x.astype(src)
        got = getattr(fastxent, name)(xs, axis=1, dtype=want_dt)
        tdt = {np.float32: torch.float32, np.float64: torch.float64}[want_dt]
        want = getattr(torch.nn.functional, name)(torch.from_numpy(xs.astype(np.float32)
                                                                   if src == np.float16 else xs),
                                                  dim=1, dtype=tdt).numpy()
        assert got.dtype == want.dtype == want_dt
        assert_close(got, want, 2e-6 if want_dt == np.float32 else 1e-12)
        assert_close(getattr(R, name)(xs, axis=1, dtype=want_dt), want,
                     2e-6 if want_dt == np.float32 else 1e-12)


def test_dtype_errors():
    for bad in (np.int32, "float16", "nonsense"):
        for fn in (fastxent.softmax, R.softmax):
            with pytest.raises(ValueError, match="dtype"):
                fn([0.0, 1.0], dtype=bad)
