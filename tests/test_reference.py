"""Tests of the pure-NumPy reference against torch, SciPy and scikit-learn.

The reference package is loaded from its directory so that these tests run
while the rest of the package (``fastxent/__init__.py``, the extension) is
being built or is broken.
"""

import importlib.util
import pathlib
import sys
import warnings
import zlib

import numpy as np
import pytest

from _helpers import INF, assert_near as assert_close, torch_bce_logits, torch_cross_entropy

RTOL = 1e-10
REFERENCE_DIR = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastxent" / "reference"


@pytest.fixture(scope="module")
def ref():
    name = "fastxent_reference_under_test"
    spec = importlib.util.spec_from_file_location(
        name, REFERENCE_DIR / "__init__.py", submodule_search_locations=[str(REFERENCE_DIR)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module     # its modules import each other relatively
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


# --------------------------------------------------------------------------
# cross_entropy against torch

# layout name -> (logits shape, class axis)
LAYOUTS = {"nc": ((7, 5), -1), "ncd1d2": ((3, 4, 2, 3), 1), "ntc": ((2, 3, 6), 2)}


def make_case(rng, layout, soft, ignore):
    shape, axis = LAYOUTS[layout]
    axis %= len(shape)
    logits = rng.normal(scale=2.0, size=shape)
    n_classes = shape[axis]
    row_shape = shape[:axis] + shape[axis + 1:]
    if soft:
        target = rng.dirichlet(np.ones(n_classes), size=row_shape)
        target = np.moveaxis(target, -1, axis)
    else:
        target = rng.integers(0, n_classes, size=row_shape)
        if ignore == -100:
            flat = target.reshape(-1)
            flat[::3] = -100
    return logits, target, axis, n_classes


# (soft targets, ignore_index): torch rejects a non-default ignore_index with soft targets
TARGET_KINDS = {"index": (False, None), "index-ignore-100": (False, -100),
                "index-ignore1": (False, 1), "soft": (True, None)}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("target_kind", list(TARGET_KINDS))
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_torch(ref, torch, layout, target_kind, weighted, smoothing,
                                     reduction):
    soft, ignore = TARGET_KINDS[target_kind]
    rng = np.random.default_rng(zlib.crc32(repr((layout, soft, weighted, ignore, smoothing)).encode()))
    logits, target, axis, n_classes = make_case(rng, layout, soft, ignore)
    kwargs = {"label_smoothing": smoothing}
    if weighted:
        kwargs["weight"] = rng.uniform(0.2, 2.0, size=n_classes)
    if ignore is not None:
        kwargs["ignore_index"] = ignore
    expected, expected_grad = torch_cross_entropy(torch, logits, target, reduction, axis,
                                                  **kwargs)
    loss, grad = ref.cross_entropy(logits, target, axis=axis, reduction=reduction,
                                   return_grad=True, **kwargs)
    assert_close(loss, expected)
    assert_close(grad, expected_grad)
    assert grad.shape == logits.shape and grad.dtype == np.float64
    if reduction == "none":
        assert isinstance(loss, np.ndarray) and loss.shape == expected.shape
    else:
        assert isinstance(loss, np.float64)
    assert_close(ref.cross_entropy(logits, target, axis=axis, reduction=reduction, **kwargs),
                 loss, rtol=0, atol=0)


def test_cross_entropy_soft_targets_reject_ignore_index_like_torch(ref, torch):
    rng = np.random.default_rng(1)
    logits, target, axis, _ = make_case(rng, "nc", True, None)
    with pytest.raises(RuntimeError, match="ignore_index"):
        torch_cross_entropy(torch, logits, target, "mean", axis, ignore_index=0)
    with pytest.raises(ValueError, match="ignore_index"):
        ref.cross_entropy(logits, target, ignore_index=0)
    expected, _ = torch_cross_entropy(torch, logits, target, "mean", axis, ignore_index=-100)
    assert_close(ref.cross_entropy(logits, target, ignore_index=-100), expected)


def test_cross_entropy_unbatched_matches_torch(ref, torch):
    logits = np.array([0.5, -1.0, 2.0])
    expected, expected_grad = torch_cross_entropy(torch, logits, np.array(2), "mean", 0)
    loss, grad = ref.cross_entropy(logits, np.array(2), return_grad=True)
    assert_close(loss, expected)
    assert_close(grad, expected_grad)


def test_cross_entropy_hard_equals_one_hot_soft(ref):
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(6, 4))
    labels = rng.integers(0, 4, size=6)
    one_hot = np.eye(4)[labels]
    weight = rng.uniform(0.5, 1.5, size=4)
    for reduction in ("sum", "none"):
        hard = ref.cross_entropy(logits, labels, weight=weight, reduction=reduction,
                                 return_grad=True)
        soft = ref.cross_entropy(logits, one_hot, weight=weight, reduction=reduction,
                                 return_grad=True)
        assert_close(hard[0], soft[0])
        assert_close(hard[1], soft[1])


@pytest.mark.parametrize("label_dtype", [np.int8, np.int32, np.uint8, np.uint64])
def test_cross_entropy_any_integer_label_dtype(ref, label_dtype):
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(5, 3))
    labels = rng.integers(0, 3, size=5)
    assert_close(ref.cross_entropy(logits, labels.astype(label_dtype)),
                 ref.cross_entropy(logits, labels), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_cross_entropy_low_precision_returns_float32(ref, dtype):
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(6, 5)).astype(dtype)
    labels = rng.integers(0, 5, size=6)
    loss, grad = ref.cross_entropy(logits, labels, return_grad=True)
    exact, exact_grad = ref.cross_entropy(logits.astype(np.float64), labels, return_grad=True)
    assert isinstance(loss, np.float32) and grad.dtype == np.float32
    assert loss == np.float32(exact)
    np.testing.assert_array_equal(grad, exact_grad.astype(np.float32))


def test_cross_entropy_integer_logits_compute_in_float64(ref):
    loss = ref.cross_entropy(np.array([[1, 2, 3]]), np.array([2]))
    assert isinstance(loss, np.float64)
    assert_close(loss, np.log(np.exp([1, 2, 3]).sum()) - 3)


@pytest.mark.parametrize("smoothing", [0.0, 0.4])
def test_cross_entropy_all_ignored(ref, smoothing):
    logits = np.random.default_rng(5).normal(size=(3, 4))
    target = np.full(3, -100)
    loss, grad = ref.cross_entropy(logits, target, label_smoothing=smoothing, return_grad=True)
    assert np.isnan(loss)
    assert np.isnan(grad).all()
    loss, grad = ref.cross_entropy(logits, target, label_smoothing=smoothing,
                                   reduction="sum", return_grad=True)
    assert loss == 0 and not grad.any()
    none = ref.cross_entropy(logits, target, reduction="none")
    np.testing.assert_array_equal(none, np.zeros(3))


def test_cross_entropy_zero_total_weight_mean_is_nan(ref, torch):
    logits = np.random.default_rng(6).normal(size=(2, 3))
    target = np.array([1, 1])
    weight = np.array([1.0, 0.0, 1.0])
    expected, _ = torch_cross_entropy(torch, logits, target, "mean", -1, weight=weight)
    assert np.isnan(expected) and np.isnan(ref.cross_entropy(logits, target, weight=weight))


def test_cross_entropy_empty_batch(ref, torch):
    for target in (np.zeros(0, dtype=np.int64), np.zeros((0, 4))):
        logits = np.zeros((0, 4))
        expected, _ = torch_cross_entropy(torch, logits, target, "mean", -1)
        loss, grad = ref.cross_entropy(logits, target, return_grad=True)
        assert np.isnan(expected) and np.isnan(loss) and grad.shape == (0, 4)
        assert ref.cross_entropy(logits, target, reduction="sum") == 0
        assert ref.cross_entropy(logits, target, reduction="none").shape == (0,)


@pytest.mark.parametrize("bad", [np.nan, INF, -INF])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_non_finite_in_ignored_row_does_not_leak(ref, bad, smoothing):
    logits = np.random.default_rng(7).normal(size=(3, 4))
    logits[1] = bad
    target = np.array([0, -100, 3])
    weight = np.array([1.0, 2.0, 0.5, 1.5])
    loss, grad = ref.cross_entropy(logits, target, weight=weight, label_smoothing=smoothing,
                                   return_grad=True)
    clean, clean_grad = ref.cross_entropy(logits[[0, 2]], target[[0, 2]], weight=weight,
                                          label_smoothing=smoothing, return_grad=True)
    assert np.isfinite(loss) and loss == clean
    assert np.isfinite(grad).all() and not grad[1].any()
    np.testing.assert_array_equal(grad[[0, 2]], clean_grad)


def test_cross_entropy_neg_inf_at_target_is_inf(ref, torch):
    logits = np.array([[-INF, 0.0, 1.0], [0.0, 1.0, 2.0]])
    target = np.array([0, 2])
    expected, expected_grad = torch_cross_entropy(torch, logits, target, "none", -1)
    loss, grad = ref.cross_entropy(logits, target, reduction="none", return_grad=True)
    assert loss[0] == INF and np.isfinite(loss[1])
    assert_close(loss, expected)
    assert_close(grad, expected_grad)
    # -inf at a non-target class is harmless (probability exactly 0)
    assert np.isfinite(ref.cross_entropy(logits, np.array([1, 2])))


def test_cross_entropy_nan_or_pos_inf_row_is_nan(ref, torch):
    logits = np.array([[INF, 0.0, 1.0], [np.nan, 1.0, 2.0], [-INF, -INF, -INF], [0.0, 1.0, 2.0]])
    target = np.array([0, 1, 2, 0])
    expected, _ = torch_cross_entropy(torch, logits, target, "none", -1)
    loss = ref.cross_entropy(logits, target, reduction="none")
    assert np.isnan(loss[:3]).all() and np.isnan(expected[:3]).all()
    assert_close(loss[3], expected[3])


def test_cross_entropy_zero_probability_soft_target_term_is_zero(ref):
    # torch gives 0 * -inf = NaN here; the reference treats 0 log 0 as 0.
    logits = np.array([[-INF, 0.0, 1.0]])
    target = np.array([[0.0, 0.5, 0.5]])
    loss, grad = ref.cross_entropy(logits, target, return_grad=True)
    assert_close(loss, ref.cross_entropy(logits[:, 1:], target[:, 1:]))
    assert grad[0, 0] == 0 and np.isfinite(grad).all()
    assert ref.cross_entropy(logits, target, label_smoothing=0.1) == INF


def test_cross_entropy_single_class(ref, torch):
    logits = np.array([[3.0], [-2.0]])
    target = np.array([0, 0])
    expected, expected_grad = torch_cross_entropy(torch, logits, target, "mean", -1,
                                                  label_smoothing=0.5)
    loss, grad = ref.cross_entropy(logits, target, label_smoothing=0.5, return_grad=True)
    assert loss == 0 and expected == 0
    assert_close(grad, expected_grad)


def test_cross_entropy_ignore_index_inside_class_range(ref):
    logits = np.random.default_rng(8).normal(size=(4, 3))
    target = np.array([0, 1, 0, 2])
    loss = ref.cross_entropy(logits, target, ignore_index=0, reduction="none")
    assert loss[0] == 0 and loss[2] == 0 and (loss[[1, 3]] > 0).all()


def test_cross_entropy_does_not_modify_inputs(ref):
    rng = np.random.default_rng(9)
    logits = rng.normal(size=(4, 3))
    target = np.array([0, -100, 2, 1])
    weight = rng.uniform(size=3)
    copies = [a.copy() for a in (logits, target, weight)]
    ref.cross_entropy(logits, target, weight=weight, label_smoothing=0.1, return_grad=True)
    for original, copy in zip((logits, target, weight), copies):
        np.testing.assert_array_equal(original, copy)


# --------------------------------------------------------------------------
# binary_cross_entropy_with_logits against torch


@pytest.mark.parametrize("weight_shape", [None, (5, 4), (4,), (5, 1)])
@pytest.mark.parametrize("pos_weight_shape", [None, (4,), (1,)])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_matches_torch(ref, torch, weight_shape, pos_weight_shape, smoothing,
                                       reduction):
    rng = np.random.default_rng(10)
    logits = rng.normal(scale=3.0, size=(5, 4))
    target = rng.uniform(size=(5, 4))
    target[0] = [0.0, 1.0, 0.0, 1.0]
    weight = None if weight_shape is None else rng.uniform(0.1, 2.0, size=weight_shape)
    pos_weight = None if pos_weight_shape is None else rng.uniform(0.5, 3.0, size=pos_weight_shape)
    smoothed = target * (1 - smoothing) + smoothing / 2
    expected, expected_grad = torch_bce_logits(torch, logits, smoothed, reduction, weight,
                                               pos_weight)
    loss, grad = ref.binary_cross_entropy_with_logits(
        logits, target, weight=weight, pos_weight=pos_weight, label_smoothing=smoothing,
        reduction=reduction, return_grad=True)
    assert_close(loss, expected)
    assert_close(grad, expected_grad)
    assert grad.shape == logits.shape


def test_bce_with_logits_infinite_logits_give_limits(ref):
    logits = np.array([INF, -INF, INF, -INF, INF, -INF])
    target = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5])
    loss, grad = ref.binary_cross_entropy_with_logits(logits, target, reduction="none",
                                                      return_grad=True)
    np.testing.assert_array_equal(loss, [0, 0, INF, INF, INF, INF])
    np.testing.assert_array_equal(grad, [0, 0, 1, -1, 0.5, -0.5])
    # zero positive weight removes the positive term exactly
    assert ref.binary_cross_entropy_with_logits(
        [-INF], [1.0], pos_weight=[0.0], reduction="sum") == 0
    # label smoothing keeps both terms alive: the limit is +inf
    assert ref.binary_cross_entropy_with_logits([INF], [1.0], label_smoothing=0.1) == INF


def test_bce_with_logits_tiny_float32_loss_not_flushed(ref):
    loss = ref.binary_cross_entropy_with_logits(np.float32([-20.0]), np.float32([0.0]),
                                                reduction="none")
    assert loss.dtype == np.float32
    assert_close(loss, np.log1p(np.exp(-20.0)), rtol=1e-6)
    assert 2.0e-9 < loss[0] < 2.1e-9


def test_bce_with_logits_large_logits_match_float64_limit(ref, torch):
    logits = np.array([-1e20, -1000.0, -37.0, 37.0, 1000.0, 1e20])
    target = np.array([0.3, 1.0, 0.0, 1.0, 0.0, 0.7])
    expected, expected_grad = torch_bce_logits(torch, logits, target, "none")
    loss, grad = ref.binary_cross_entropy_with_logits(logits, target, reduction="none",
                                                      return_grad=True)
    # torch computes x - x + log1p(exp(-37)) and loses the 8.5e-17 of [-37, y=0]
    assert_close(loss, expected, rtol=1e-15, atol=1e-15)
    assert_close(grad, expected_grad, rtol=1e-15, atol=1e-15)  # torch: sigmoid(37) - 1 = 0
    exact = (1 - target) * np.logaddexp(0, logits) + target * np.logaddexp(0, -logits)
    exact_grad = ((1 - target) * np.exp(-np.logaddexp(0, -logits))
                  - target * np.exp(-np.logaddexp(0, logits)))
    assert_close(loss, exact, rtol=1e-15, atol=0)
    assert_close(grad, exact_grad, rtol=1e-15, atol=0)
    assert loss[2] > 8e-17 and grad[3] < -8e-17


def test_bce_with_logits_gradient_central_differences(ref):
    rng = np.random.default_rng(11)
    logits = rng.normal(size=(3, 2))
    target = rng.uniform(size=(3, 2))
    kwargs = dict(weight=rng.uniform(size=2), pos_weight=np.array([2.0, 0.5]),
                  label_smoothing=0.1)
    _, grad = ref.binary_cross_entropy_with_logits(logits, target, return_grad=True, **kwargs)
    h = 1e-5
    numeric = np.zeros_like(logits)
    for i in np.ndindex(logits.shape):
        step = np.zeros_like(logits)
        step[i] = h
        numeric[i] = (ref.binary_cross_entropy_with_logits(logits + step, target, **kwargs)
                      - ref.binary_cross_entropy_with_logits(logits - step, target, **kwargs)
                      ) / (2 * h)
    assert_close(grad, numeric, rtol=1e-7, atol=1e-10)


def test_bce_with_logits_empty_and_dtype(ref):
    assert np.isnan(ref.binary_cross_entropy_with_logits(np.zeros(0), np.zeros(0)))
    assert ref.binary_cross_entropy_with_logits(np.zeros(0), np.zeros(0), reduction="sum") == 0
    loss = ref.binary_cross_entropy_with_logits(np.float16([0.0]), np.float16([1.0]))
    assert isinstance(loss, np.float32) and loss == np.float32(np.log(2.0))


# --------------------------------------------------------------------------
# binary_cross_entropy (probabilities) against torch


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_matches_torch(ref, torch, weighted, reduction):
    rng = np.random.default_rng(12)
    probs = rng.uniform(size=(4, 3))
    probs[0] = [0.0, 1.0, 1e-50]  # exercise the -100 clamp and the 1e-12 grad floor
    target = rng.uniform(size=(4, 3))
    target[0] = [1.0, 0.0, 1.0]
    weight = rng.uniform(0.5, 2.0, size=3) if weighted else None
    p = torch.tensor(probs, requires_grad=True)
    expected = torch.nn.functional.binary_cross_entropy(
        p, torch.tensor(target), weight=None if weight is None else torch.tensor(weight),
        reduction=reduction)
    expected.sum().backward()
    loss, grad = ref.binary_cross_entropy(probs, target, weight=weight, reduction=reduction,
                                          return_grad=True)
    assert_close(loss, expected.detach().numpy())
    assert_close(grad, p.grad.numpy())


def test_bce_clamps_log_at_minus_100(ref):
    loss = ref.binary_cross_entropy([0.0, 1.0], [1.0, 0.0], reduction="none")
    np.testing.assert_array_equal(loss, [100.0, 100.0])
    assert ref.binary_cross_entropy([0.0, 1.0], [0.0, 1.0], reduction="sum") == 0


# --------------------------------------------------------------------------
# softmax family against scipy.special


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_softmax_family_matches_scipy(ref, special, axis, dtype):
    x = np.random.default_rng(13).normal(scale=10.0, size=(3, 4, 5)).astype(dtype)
    x64 = x.astype(np.float64)
    result_dtype = np.float64 if dtype == np.float64 else np.float32
    for name, expected in [("log_softmax", special.log_softmax(x64, axis=axis)),
                           ("softmax", special.softmax(x64, axis=axis)),
                           ("logsumexp", special.logsumexp(x64, axis=axis))]:
        got = getattr(ref, name)(x, axis=axis)
        assert got.dtype == result_dtype
        assert got.shape == expected.shape
        tol = RTOL if dtype == np.float64 else 2e-7
        assert_close(got, expected, rtol=tol, atol=tol * 1e-3)


def test_softmax_family_extreme_values(ref, special):
    x = np.array([[1000.0, -1000.0, 0.0], [-INF, 0.0, 1.0], [-INF, -INF, -INF],
                  [INF, 0.0, 1.0], [np.nan, 0.0, 1.0], [INF, -INF, 0.0]])
    lse = ref.logsumexp(x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert_close(lse, special.logsumexp(x, axis=-1))
    assert_close(lse, [1000.0, np.log(1 + np.e), -INF, INF, np.nan, INF])
    ls = ref.log_softmax(x)
    sm = ref.softmax(x)
    assert_close(ls[:2], special.log_softmax(x[:2], axis=-1))
    assert_close(sm[:2], special.softmax(x[:2], axis=-1))
    assert ls[1, 0] == -INF and sm[1, 0] == 0
    assert np.isnan(ls[2:]).all() and np.isnan(sm[2:]).all()


def test_softmax_family_out_and_scalars(ref):
    x = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
    out = np.empty((2, 2), dtype=np.float32)
    assert ref.softmax(x, out=out) is out
    assert_close(out.sum(axis=-1), [1.0, 1.0], rtol=1e-6)
    assert ref.log_softmax(x, axis=0, out=out) is out
    assert_close(out, ref.log_softmax(x, axis=0), rtol=0, atol=0)
    scalar = ref.logsumexp(np.array([0.0, 0.0], dtype=np.float32))
    assert isinstance(scalar, np.float32) and scalar == np.float32(np.log(2.0))
    assert ref.logsumexp(np.zeros((2, 0))).tolist() == [-INF, -INF]


# --------------------------------------------------------------------------
# entropy and kl_divergence against scipy.special.entr / rel_entr


@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("base", [None, 2, 10.0])
def test_entropy_and_kl_match_scipy(ref, special, axis, base):
    rng = np.random.default_rng(14)
    p = rng.uniform(size=(4, 6))
    q = rng.uniform(size=(4, 6))
    p[0, :2] = 0.0
    q[1, 0] = 0.0
    q[0, 1] = 0.0  # p = q = 0: term 0
    scale = 1.0 if base is None else np.log(base)
    assert_close(ref.entropy(p, axis, base=base), special.entr(p).sum(axis=axis) / scale)
    assert_close(ref.kl_divergence(p, q, axis, base=base),
                 special.rel_entr(p, q).sum(axis=axis) / scale)
    kl = ref.kl_divergence(p, q, -1)
    assert kl[1] == INF and np.isfinite(kl[[0, 2, 3]]).all()


def test_entropy_does_not_normalise_unlike_scipy_stats(ref):
    stats = pytest.importorskip("scipy.stats")
    p = np.array([1.0, 3.0])
    assert_close(ref.entropy(p / p.sum()), stats.entropy(p))
    assert not np.isclose(ref.entropy(p), stats.entropy(p))
    assert_close(ref.kl_divergence(p / 4, np.array([0.5, 0.5])),
                 stats.entropy(p, np.array([1.0, 1.0])))


def test_kl_extreme_ratios_and_broadcast(ref, special):
    p = np.array([1e-300, 1e300, 0.5])
    q = np.array([1e300, 1e-300, 0.5])
    terms = ref.kl_divergence(p[:, None], q[:, None])
    assert_close(terms, p * (np.log(p) - np.log(q)))
    p2 = np.array([[0.2, 0.8], [0.5, 0.5]])
    q1 = np.array([0.4, 0.6])
    assert_close(ref.kl_divergence(p2, q1), special.rel_entr(p2, q1).sum(axis=-1))
    scalar = ref.entropy(np.float32([0.5, 0.5]), base=2)
    assert isinstance(scalar, np.float32) and scalar == 1


# --------------------------------------------------------------------------
# log_loss against scikit-learn


def both_log_loss(ref, sk_log_loss, *args, **kwargs):
    return ref.log_loss(*args, **kwargs), sk_log_loss(*args, **kwargs)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("normalize", [True, False])
def test_log_loss_multiclass_matches_sklearn(ref, sk_log_loss, weighted, normalize):
    rng = np.random.default_rng(15)
    y_prob = rng.dirichlet(np.ones(4), size=20)
    y_prob[0] = [1.0, 0.0, 0.0, 0.0]  # exercises the eps clipping
    y_true = rng.integers(0, 4, size=20)
    y_true[0] = 1
    weight = rng.uniform(size=20) if weighted else None
    ours, theirs = both_log_loss(ref, sk_log_loss, y_true, y_prob, sample_weight=weight,
                                 normalize=normalize)
    assert isinstance(ours, np.float64)
    assert_close(ours, theirs)


def test_log_loss_string_labels_binary_and_labels_arg(ref, sk_log_loss):
    y_true = ["spam", "ham", "ham", "spam"]
    y_prob = [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]]
    assert_close(*both_log_loss(ref, sk_log_loss, y_true, y_prob))
    # 1-D y_prob: probability of the larger label
    assert_close(*both_log_loss(ref, sk_log_loss, [3, 7, 7, 3], [0.2, 0.6, 0.9, 0.5]))
    assert_close(*both_log_loss(ref, sk_log_loss, [1, 1, 1], [0.2, 0.6, 0.9], labels=[0, 1]))
    # y_true lacks class 2, given through labels
    y_prob3 = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    assert_close(*both_log_loss(ref, sk_log_loss, [0, 1], y_prob3, labels=[0, 1, 2]))
    assert_close(*both_log_loss(ref, sk_log_loss, [1, 1], y_prob3, sample_weight=[2.0, -1.0],
                                labels=[0, 1, 2]))


def test_log_loss_float32_uses_float32_eps(ref, sk_log_loss):
    y_prob = np.array([[1.0, 0.0], [0.3, 0.7]], dtype=np.float32)
    ours, theirs = both_log_loss(ref, sk_log_loss, [1, 1], y_prob, labels=[0, 1])
    assert isinstance(ours, np.float32)
    assert_close(ours, theirs, rtol=1e-6)
    assert ours > 7  # -log(float32 eps) / 2: clipped at float32 eps, not float64 eps


@pytest.mark.parametrize("args, kwargs", [
    (([0, 0, 0], [[0.5, 0.5]] * 3), {}),  # one label, labels=None
    (([0, 1, 2], [[0.5, 0.5]] * 3), {}),  # 3 labels, 2 columns
    (([0, 1], [[0.2, 0.3, 0.5]] * 2), {"labels": [0, 1]}),  # labels vs columns
    (([0, 1], [[0.5, 0.5]] * 2), {"labels": [0]}),  # labels has one class
    (([0, 5], [[0.5, 0.5]] * 2), {"labels": [0, 1]}),  # y_true not in labels
    (([0, 1], [[1.5, -0.5]] * 2), {}),  # probability above 1
    (([0, 1], [[-0.1, 0.5]] * 2), {}),  # probability below 0
    (([0, 1], [[np.nan, 0.5]] * 2), {}),  # NaN probability
    (([0, 1, 0], [[0.5, 0.5]] * 2), {}),  # length mismatch
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [1.0, 2.0, 3.0]}),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": [0.0, 0.0]}),
    (([0, 1], [[0.5, 0.5]] * 2), {"sample_weight": 2.0}),  # scalar: not array-like
    (([0.5, 1.5], [[0.5, 0.5]] * 2), {}),  # continuous y_true
])
def test_log_loss_errors_mirror_sklearn(ref, sk_log_loss, args, kwargs):
    with pytest.raises(ValueError):
        sk_log_loss(*args, **kwargs)
    with pytest.raises(ValueError):
        ref.log_loss(*args, **kwargs)


def test_log_loss_warns_when_rows_do_not_sum_to_one(ref, sk_log_loss):
    y_prob = [[0.2, 0.2], [0.5, 0.5]]
    with pytest.warns(UserWarning, match="sum to one"):
        theirs = sk_log_loss([0, 1], y_prob)
    with pytest.warns(UserWarning, match="sum to one"):
        ours = ref.log_loss([0, 1], y_prob)
    assert_close(ours, theirs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ref.log_loss([0, 1], [[0.3, 0.7], [0.5, 0.5]])


# --------------------------------------------------------------------------
# error paths: exception type and a message naming the argument


ERRORS = [
    ("cross_entropy", ([[0.0, 1.0]], [2]), {}, IndexError,
     r"target: class index 2 at position \(0,\)"),
    ("cross_entropy", ([[0.0, 1.0]] * 3, [0, 1, -1]), {}, IndexError, r"-1 at position \(2,\)"),
    ("cross_entropy", (np.zeros((2, 3, 4)), np.array([[0, 1, 2, 0], [0, 9, 0, 0]])),
     {"axis": 1}, IndexError, r"9 at position \(1, 1\)"),
    ("cross_entropy", (np.zeros((2, 3)), np.array([0, 1], dtype=np.uint64) + np.uint64(2**63)),
     {}, IndexError, "target: class index"),
    ("cross_entropy", ([[0.0, 1.0]], [0, 1]), {}, ValueError, "target"),
    ("cross_entropy", ([[0.0, 1.0]], [[0.5, 0.25, 0.25]]), {}, ValueError, "target"),
    ("cross_entropy", ([[0.0, 1.0]], [[True, False]]), {}, ValueError, "target"),
    ("cross_entropy", ([[0.0, 1.0]], [0]), {"reduction": "avg"}, ValueError, "reduction"),
    ("cross_entropy", ([[0.0, 1.0]], [0]), {"label_smoothing": 1.5}, ValueError,
     "label_smoothing"),
    ("cross_entropy", ([[0.0, 1.0]], [0]), {"label_smoothing": -0.1}, ValueError,
     "label_smoothing"),
    ("cross_entropy", ([[0.0, 1.0]], [0]), {"label_smoothing": "x"}, ValueError,
     "label_smoothing"),
    ("cross_entropy", ([[0.0, 1.0]], [0]), {"weight": [1.0, 2.0, 3.0]}, ValueError, "weight"),
    ("cross_entropy", ([[0.0, 1.0]], [0]), {"axis": 2}, ValueError, "axis"),
    ("cross_entropy", ([["a", "b"]], [0]), {}, ValueError, "logits"),
    ("cross_entropy", (np.zeros((2, 0)), [0, 0]), {}, ValueError, "class"),
    ("binary_cross_entropy_with_logits", ([0.0, 1.0], [0.0]), {}, ValueError, "target"),
    ("binary_cross_entropy_with_logits", ([[0.0, 1.0]], [[0.0, 1.0]]), {"weight": [1, 2, 3]},
     ValueError, "weight"),
    ("binary_cross_entropy_with_logits", ([[0.0, 1.0]], [[0.0, 1.0]]),
     {"pos_weight": [1, 2, 3]}, ValueError, "pos_weight"),
    ("binary_cross_entropy_with_logits", ([0.0], [0.0]), {"label_smoothing": 2},
     ValueError, "label_smoothing"),
    ("binary_cross_entropy_with_logits", ([0.0], [0.0]), {"reduction": None},
     ValueError, "reduction"),
    ("binary_cross_entropy_with_logits", ([0.0], ["x"]), {}, ValueError, "target"),
    ("binary_cross_entropy", ([[0.5, 1.5]], [[0.0, 1.0]]), {}, ValueError,
     r"probs: .* 1.5 at index \(0, 1\)"),
    ("binary_cross_entropy", ([0.5, np.nan], [0.0, 1.0]), {}, ValueError,
     r"probs: .* at index \(1,\)"),
    ("binary_cross_entropy", ([0.5, 0.5], [0.0, -1.0]), {}, ValueError,
     r"target: .* at index \(1,\)"),
    ("binary_cross_entropy", ([0.5, 0.5], [0.0]), {}, ValueError, "target"),
    ("binary_cross_entropy", ([0.5], [0.0]), {"reduction": "max"}, ValueError, "reduction"),
    ("log_softmax", ([0.0, 1.0],), {"out": np.empty(3)}, ValueError, "out"),
    ("softmax", (np.float32([0.0, 1.0]),), {"out": np.empty(2)}, ValueError, "out"),
    ("softmax", ([0.0, 1.0],), {"axis": 1}, ValueError, "axis"),
    ("logsumexp", ([0.0, 1.0],), {"axis": -2}, ValueError, "axis"),
    ("logsumexp", ("abc",), {}, ValueError, "x"),
    ("entropy", ([0.5, -0.5],), {}, ValueError, r"p: .* at index \(1,\)"),
    ("entropy", ([0.5, 0.5],), {"base": 1}, ValueError, "base"),
    ("kl_divergence", ([0.5, 0.5], [0.5, -0.5]), {}, ValueError, r"q: .* at index \(1,\)"),
    ("kl_divergence", ([-0.5, 0.5], [0.5, 0.5]), {}, ValueError, r"p: .* at index \(0,\)"),
    ("kl_divergence", ([0.5, 0.5], [0.2, 0.3, 0.5]), {}, ValueError, "broadcast"),
]


@pytest.mark.parametrize("name, args, kwargs, exc, match", ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors(ref, name, args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        getattr(ref, name)(*args, **kwargs)


def test_errors_agree_with_torch_on_bad_labels(ref, torch):
    logits = np.zeros((2, 3))
    for labels in ([0, 3], [-1, 0]):
        with pytest.raises((IndexError, RuntimeError)):
            torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels))
        with pytest.raises(IndexError):
            ref.cross_entropy(logits, np.array(labels))


# --------------------------------------------------------------------------
# the arguments the public functions have and NumPy has no use for


LOSSES = {"cross_entropy": (np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 3.0]]), np.array([0, 2])),
          "binary_cross_entropy_with_logits": (np.array([[2.0, -1.0]]), np.array([[1.0, 0.0]])),
          "binary_cross_entropy": (np.array([[0.9, 0.2]]), np.array([[1.0, 0.0]]))}


@pytest.mark.parametrize("name", list(LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_grad_out_is_written_and_returned(ref, name, reduction):
    x, y = LOSSES[name]
    fn = getattr(ref, name)
    want_loss, want_grad = fn(x, y, reduction=reduction, return_grad=True)
    for layout in (np.full(x.shape, 7.0), np.asfortranarray(np.full(x.shape, 7.0))):
        loss, grad = fn(x, y, reduction=reduction, grad_out=layout)   # implies return_grad
        assert grad is layout
        assert_close(grad, want_grad, rtol=0, atol=0)
        assert_close(loss, want_loss, rtol=0, atol=0)


@pytest.mark.parametrize("name", list(LOSSES))
def test_grad_out_is_checked(ref, name):
    x, y = LOSSES[name]
    fn = getattr(ref, name)
    ro = np.zeros(x.shape)
    ro.flags.writeable = False
    for bad, match in ((np.zeros(x.shape, np.float32), "dtype"), (np.zeros((9,)), "shape"),
                       (ro, "read-only"), ([[0.0] * x.shape[1]], "ndarray"), (x, "overlaps")):
        with pytest.raises(ValueError, match=f"grad_out: .*{match}"):
            fn(x, y, grad_out=bad)


@pytest.mark.parametrize("name", ["log_softmax", "softmax"])
def test_out_is_written_and_returned_in_place_too(ref, name):
    x = np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 5.0]])
    want = getattr(ref, name)(x)
    out = np.empty_like(x)
    assert getattr(ref, name)(x, out=out) is out
    assert_close(out, want, rtol=0, atol=0)
    a = x.copy()
    assert getattr(ref, name)(a, out=a) is a
    assert_close(a, want, rtol=0, atol=0)
    with pytest.raises(ValueError, match="out: .*dtype"):
        getattr(ref, name)(x, out=np.empty(x.shape, np.float32))


@pytest.mark.parametrize("n", [0, -1, 1.5, "2"])
def test_num_threads_is_validated_then_ignored(ref, n):
    x, y = LOSSES["cross_entropy"]
    assert ref.cross_entropy(x, y, num_threads=2) == ref.cross_entropy(x, y)
    for call in (lambda: ref.cross_entropy(x, y, num_threads=n),
                 lambda: ref.softmax(x, num_threads=n),
                 lambda: ref.entropy(np.abs(x), num_threads=n),
                 lambda: ref.log_loss(y, ref.softmax(x), num_threads=n)):
        with pytest.raises(ValueError, match="num_threads"):
            call()
