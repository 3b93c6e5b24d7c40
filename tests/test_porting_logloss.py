"""Issue 16, porting gap 3: log_loss as scikit-learn 1.9 spells it (y_proba,
the deprecated y_pred, a Python float, 2-D y_true, float16's eps)."""
import inspect
import warnings

import numpy as np
import pytest

import fastxent
from fastxent import reference as R
from _helpers import assert_close

FUNCS = (fastxent.log_loss, R.log_loss)


def test_signature_follows_sklearn(sk_log_loss):
    theirs = inspect.signature(sk_log_loss).parameters
    ours = inspect.signature(fastxent.log_loss).parameters
    assert list(ours)[:len(theirs)] == list(theirs)
    for name, p in theirs.items():
        assert ours[name].kind == p.kind and ours[name].default == p.default, name


def test_y_proba_keyword_and_float_result(rng, sk_log_loss):
    y = rng.integers(0, 3, size=40)
    y[:3] = [0, 1, 2]
    p = rng.dirichlet(np.ones(3), size=40)
    want = sk_log_loss(y, y_proba=p)
    for fn in FUNCS:
        got = fn(y, y_proba=p)
        assert type(got) is float and type(want) is float
        assert_close(got, want, 1e-12)


def test_y_pred_is_deprecated_as_in_sklearn(sk_log_loss):
    y, p = [0, 1, 1], [0.2, 0.7, 0.9]
    with pytest.warns(FutureWarning, match="y_proba"):
        want = sk_log_loss(y, y_pred=p)
    for fn in FUNCS:
        with pytest.warns(FutureWarning, match="y_proba"):
            assert_close(fn(y, y_pred=p), want, 1e-12)
    with pytest.raises(ValueError):
        sk_log_loss(y, p, y_pred=p)
    for fn in FUNCS:
        with pytest.raises(ValueError, match="y_pred"):
            fn(y, p, y_pred=p)
        with pytest.raises(ValueError, match="y_proba"):
            fn(y)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_vector_y_true(rng, sk_log_loss, dtype):
    y = rng.integers(0, 2, size=(30, 1))
    y[:2, 0] = [0, 1]
    for p in (rng.uniform(size=30), rng.dirichlet([1, 1], size=30)):
        p = p.astype(dtype)
        want = sk_log_loss(y, p)
        for fn in FUNCS:
            assert_close(fn(y, p), want, 1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("k", [2, 3, 5])
def test_multilabel_indicator_y_true(rng, sk_log_loss, k):
    y = (rng.uniform(size=(25, k)) < 0.4).astype(int)
    p = rng.dirichlet(np.ones(k), size=25)
    p[0] = 0.0
    p[0, 0] = 1.0                       # exercises the clip
    sw = rng.uniform(size=25)
    for kw in ({}, {"normalize": False}, {"sample_weight": sw},
               {"sample_weight": sw, "normalize": False}):
        want = sk_log_loss(y, p, **kw)
        for fn in FUNCS:
            got = fn(y, p, **kw)
            assert type(got) is float
            assert_close(got, want, 1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bad = y[:, :1].repeat(k + 1, axis=1)       # a column count mismatch
        with pytest.raises(ValueError):
            sk_log_loss(bad, p)
        for fn in FUNCS:
            with pytest.raises(ValueError, match="classes"):
                fn(bad, p)
            # not 0/1: rejected here (scikit-learn accepts some such matrices)
            with pytest.raises(ValueError, match="indicator"):
                fn(np.full((25, k), 2), p)
    with pytest.warns(UserWarning, match="sum to one"):
        sk_log_loss(y, p * 0.5)
    for fn in FUNCS:
        with pytest.warns(UserWarning, match="sum to one"):
            fn(y, p * 0.5)


def test_float16_clips_with_float16_eps(sk_log_loss):
    y = [0, 1]
    p = np.float16([[0.0, 1.0], [1.0, 0.0]])      # both wrong with certainty
    want = sk_log_loss(y, p)                       # -log(eps16) = 6.93
    assert abs(want - 6.93) < 0.01
    for fn in FUNCS:
        got = fn(y, p)
        assert_close(got, -np.log(float(np.finfo(np.float16).eps)), 1e-6)
        assert_close(got, want, 1e-3)              # theirs: the log in float16
