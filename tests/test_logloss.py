"""Tests of log_loss against the NumPy reference and sklearn.metrics.log_loss:
values for every ISA level, label kind and layout of y_prob, the dtype's eps
for clipping, errors and warnings in scikit-learn's order.

Tolerances: float64 within 1e-11 of the reference, float32 within 2e-5
relative; against scikit-learn, 1e-11 / 1e-5 (it computes in its own order).
"""
import warnings

import numpy as np
import pytest

import fastxent
from _helpers import INF, NAN, assert_close, relayout, rtol_for
from fastxent import reference as R


LOG_LOSS_CASES = {
    "multiclass": lambda rng: (rng.integers(0, 4, 30), rng.dirichlet(np.ones(4), 30), {}),
    "weighted": lambda rng: (rng.integers(0, 4, 30), rng.dirichlet(np.ones(4), 30),
                             {"sample_weight": rng.uniform(size=30)}),
    "sum": lambda rng: (rng.integers(0, 3, 30), rng.dirichlet(np.ones(3), 30),
                        {"normalize": False}),
    "weighted-sum": lambda rng: (rng.integers(0, 3, 30), rng.dirichlet(np.ones(3), 30),
                                 {"normalize": False, "sample_weight": rng.uniform(size=30)}),
    "negative-weights": lambda rng: (np.array([0, 1, 1, 2]), rng.dirichlet(np.ones(3), 4),
                                     {"sample_weight": [2.0, -0.5, 1.0, 0.25]}),
    "binary-1d": lambda rng: (rng.integers(3, 5, 25) * 2 + 1, rng.uniform(size=25), {}),
    "binary-1col": lambda rng: (np.arange(10) % 2, rng.uniform(size=(10, 1)), {}),
    "strings": lambda rng: (np.array(["spam", "ham", "ham", "spam", "eggs"]),
                            rng.dirichlet(np.ones(3), 5), {}),
    "float-labels": lambda rng: (np.array([0.0, 2.0, 1.0, 2.0]), rng.dirichlet(np.ones(3), 4),
                                 {}),
    "labels-arg": lambda rng: (np.array([0, 2, 2, 0]), rng.dirichlet(np.ones(4), 4),
                               {"labels": [0, 1, 2, 3]}),
    "labels-one-class": lambda rng: (np.array([1, 1, 1]), rng.uniform(size=3),
                                     {"labels": [0, 1]}),
    "clipped": lambda rng: (np.array([0, 1, 2, 1]),
                            np.array([[1.0, 0, 0], [1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]]), {}),
    "clipped-1d": lambda rng: (np.array([0, 1, 1, 0]), np.array([0.0, 1.0, 0.0, 1.0]), {}),
}


@pytest.mark.parametrize("case", list(LOG_LOSS_CASES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_loss_matches_sklearn_and_reference(isa, rng, case, dtype, sk_log_loss):
    y_true, y_prob, kwargs = LOG_LOSS_CASES[case](rng)
    y_prob = np.asarray(y_prob).astype(dtype)
    before = (y_true.tobytes(), y_prob.tobytes())
    got = fastxent.log_loss(y_true, y_prob, **kwargs)
    assert type(got) is np.dtype(dtype).type
    assert_close(got, R.log_loss(y_true, y_prob, **kwargs), rtol_for(dtype))
    assert_close(got, sk_log_loss(y_true, y_prob, **kwargs), 1e-11 if dtype == np.float64 else 1e-5)
    # any layout of y_prob
    if y_prob.ndim == 2:
        for layout in ("fortran", "strided", "reversed", "byteswapped", "misaligned"):
            lp = relayout(y_prob, layout)
            np.testing.assert_array_equal(lp, y_prob)
            assert_close(fastxent.log_loss(y_true, lp, **kwargs), got,
                         1e-6 if dtype == np.float32 else 1e-14)
    assert (y_true.tobytes(), y_prob.tobytes()) == before


def test_log_loss_float16_and_lists(isa):
    y_prob = np.float16([[0.25, 0.75], [0.5, 0.5]])
    got = fastxent.log_loss([1, 0], y_prob)
    assert type(got) is np.float32
    assert_close(got, R.log_loss([1, 0], y_prob), 2e-5)
    assert_close(fastxent.log_loss(["a", "b"], [[0.9, 0.1], [0.2, 0.8]]),
                 -np.mean(np.log([0.9, 0.8])), 1e-15)


def test_log_loss_uses_the_dtype_eps_for_clipping(isa, sk_log_loss):
    for dtype in (np.float32, np.float64):
        y_prob = np.array([[1.0, 0.0], [0.3, 0.7]], dtype=dtype)
        got = fastxent.log_loss([1, 1], y_prob, labels=[0, 1])
        eps = np.finfo(dtype).eps
        assert_close(got, (-np.log(eps) - np.log(0.7)) / 2, 1e-6)
        assert_close(got, sk_log_loss([1, 1], y_prob, labels=[0, 1]), 1e-6)


LOG_LOSS_ERRORS = [
    (([0, 0, 0], [[0.5, 0.5]] * 3), {}),                      # one label, labels=None
    (([0, 1, 2], [[0.5, 0.5]] * 3), {}),                      # 3 labels, 2 columns
    (([0, 1, 2], [0.2, 0.3, 0.4]), {}),                       # 3 labels, 1-D y_prob
    (([0, 1], [[0.2, 0.3, 0.5]] * 2), {"labels": [0, 1]}),    # labels vs columns
    (([0, 1], [[0.5, 0.5]] * 2), {"labels": [0, 1, 2]}),
    (([0, 1], [[0.5, 0.5]] * 2), {"labels": [0]}),            # labels has one class
    (([0, 5], [[0.5, 0.5]] * 2), {"labels": [0, 1]}),         # y_true not in labels
    (([0, 1], [[1.5, -0.5]] * 2), {}),                        # probability above 1
    (([0, 1], [[-0.1, 0.5]] * 2), {}),                        # probability below 0
    (([0, 1], [[NAN, 0.5]] * 2), {}),                         # NaN probability
    (([0, 1], [0.5, INF]), {}),                               # infinite probability
    (([0, 1, 0], [[0.5, 0.5]] * 2), {}),                      # length mismatch
    (([0, 1], [[0.5, 0.5]] * 3), {}),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [1.0, 2.0, 3.0]}),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [[1.0, 2.0]]}),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [0.0, 0.0]}),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": 2.0}),     # scalar: not array-like
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [NAN, 1.0]}),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [INF, 1.0]}),
    (([0.5, 1.5], [[0.5, 0.5]] * 2), {}),                     # continuous y_true
    (([], []), {}),                                           # no samples
    (([0, 1], np.full((2, 2, 1), 0.5)), {}),                  # 3-D y_prob
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [-1.0, 1.0]}),   # weights sum to 0
]


@pytest.mark.parametrize("args, kwargs", LOG_LOSS_ERRORS,
                         ids=[str(i) for i in range(len(LOG_LOSS_ERRORS))])
def test_log_loss_errors_mirror_sklearn(isa, args, kwargs, sk_log_loss):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as theirs:
            sk_log_loss(*args, **kwargs)
        # scikit-learn's own classes (InvalidParameterError) derive from the
        # builtin ones: compare the first builtin class
        expected = next(t for t in theirs.type.__mro__ if t.__module__ == "builtins")
        with pytest.raises(expected):
            fastxent.log_loss(*args, **kwargs)


def test_log_loss_error_order_follows_sklearn(isa, sk_log_loss):
    # several problems at once: the same one is reported first
    args = ([0, 1, 2], [[1.5, 0.5]] * 2)      # value > 1, and a length mismatch
    with pytest.raises(ValueError, match="greater than 1"):
        sk_log_loss(*args)
    with pytest.raises(ValueError, match="greater than 1"):
        fastxent.log_loss(*args)
    args = ([0, 1], [[2.0, -1.0]] * 2)        # > 1 is checked before < 0
    with pytest.raises(ValueError, match="greater than 1"):
        sk_log_loss(*args)
    with pytest.raises(ValueError, match="greater than 1"):
        fastxent.log_loss(*args)


def test_log_loss_warns_when_rows_do_not_sum_to_one(isa, sk_log_loss):
    y_prob = [[0.2, 0.2], [0.5, 0.5]]
    with pytest.warns(UserWarning, match="sum to one"):
        theirs = sk_log_loss([0, 1], y_prob)
    with pytest.warns(UserWarning, match="sum to one"):
        ours = fastxent.log_loss([0, 1], y_prob)
    assert_close(ours, theirs, 1e-12)
    # within sqrt(eps) of 1: no warning, in either
    for dtype, off in ((np.float64, 1e-9), (np.float32, 1e-4)):
        near = np.array([[0.3, 0.7 + off], [0.5, 0.5]], dtype=dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sk_log_loss([0, 1], near)
            fastxent.log_loss([0, 1], near)
    # clearly off in float32 too
    with pytest.warns(UserWarning, match="sum to one"):
        fastxent.log_loss([0, 1], np.float32([[0.3, 0.8], [0.5, 0.5]]))
    with pytest.warns(UserWarning, match="sum to one"):
        sk_log_loss([0, 1], np.float32([[0.3, 0.8], [0.5, 0.5]]))


def test_log_loss_unsorted_labels_warn_like_sklearn(isa, sk_log_loss):
    y_prob = [[0.2, 0.8], [0.6, 0.4]]   # columns in sorted label order
    # all three warn that the columns follow the sorted labels
    with pytest.warns(UserWarning, match="ordered"):
        want = sk_log_loss([0, 1], y_prob, labels=[1, 0])
    with pytest.warns(UserWarning, match="sorted"):
        got = fastxent.log_loss([0, 1], y_prob, labels=[1, 0])
    with pytest.warns(UserWarning, match="sorted"):
        R.log_loss([0, 1], y_prob, labels=[1, 0])
    assert_close(got, want, 1e-12)
