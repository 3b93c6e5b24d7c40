"""fastxent.evaluate against its NumPy twin, torch, scikit-learn and
torchmetrics; edge cases and bad input."""
import json
import math

import numpy as np
import pytest

import fastxent
from fastxent import reference

torch = pytest.importorskip("torch")
F = torch.nn.functional


def close(a, b, rtol, atol=0.0):
    """Recursive comparison of to_dict() trees (None = NaN/inf on both sides)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            close(a[k], b[k], rtol, atol)
    elif isinstance(a, list):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            close(u, v, rtol, atol)
    elif isinstance(a, float) and isinstance(b, float):
        assert a == pytest.approx(b, rel=rtol, abs=atol)
    else:
        assert a == b


def data(n=400, C=30, dtype=np.float64, seed=0, scale=3.0, ignore_every=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, C)) * scale).astype(dtype)
    y = rng.integers(0, C, n)
    if ignore_every:
        y[::ignore_every] = -100
    return x, y


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-11), (np.float32, 2e-5)])
@pytest.mark.parametrize("ties", ["first", "last"])
def test_matches_twin(dtype, rtol, ties):
    x, y = data(dtype=dtype, ignore_every=9)
    w = np.random.default_rng(3).random(len(y))
    seg = np.arange(len(y)) // 7
    kw = dict(topk=(1, 3, 10), n_bins=10, ties=ties, sample_weight=w, per_class=True,
              confusion_matrix=True, segment_ids=seg, reference_logits=x + np.float32(0.3) * np.roll(x, 1, axis=1),
              return_per_row=True)
    a = fastxent.evaluate(x, y, **kw).to_dict()
    b = reference.evaluate(x, y, **kw).to_dict()
    close(a, b, rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_axis_and_layouts(axis):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 9, 5))
    shape = list(x.shape)
    C = shape.pop(axis % 3)
    y = rng.integers(0, C, shape)
    ref = reference.evaluate(x, y, axis=axis, return_per_row=True).to_dict()
    for v in (x, np.asfortranarray(x), x[::-1][::-1].copy(), np.swapaxes(np.swapaxes(x, 0, 2).copy(), 0, 2)):
        close(fastxent.evaluate(v, y, axis=axis, return_per_row=True).to_dict(), ref, 1e-11, 1e-13)
    strided = np.repeat(x, 2, axis=axis % 3)
    sl = [slice(None)] * 3
    sl[axis % 3] = slice(None, None, 2)
    close(fastxent.evaluate(strided[tuple(sl)], y, axis=axis).to_dict(),
          reference.evaluate(x, y, axis=axis).to_dict(), 1e-11, 1e-13)


def test_against_torch():
    x, y = data(n=512, C=100, dtype=np.float32, seed=4, ignore_every=11)
    r = fastxent.evaluate(x, y, topk=(1, 5), return_per_row=True)
    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y)
    assert r.nll_mean == pytest.approx(float(F.cross_entropy(xt, yt)), rel=1e-5)
    assert r.nll_sum == pytest.approx(float(F.cross_entropy(xt, yt, reduction="sum")), rel=1e-5)
    keep = y != -100
    top5 = torch.topk(xt[keep], 5, dim=1).indices.numpy()
    assert r.topk_accuracy[5] == pytest.approx(np.mean(np.any(top5 == y[keep, None], 1)))
    p = torch.softmax(xt, 1).numpy()
    assert np.allclose(r.per_row.max_prob[keep], p[keep].max(1), rtol=1e-5)
    ent = -np.sum(p * np.log(p), 1)
    assert r.entropy_mean == pytest.approx(ent[keep].mean(), rel=1e-5)
    assert np.array_equal(r.per_row.argmax[keep], torch.argmax(xt[keep], 1).numpy())
    assert r.perplexity == pytest.approx(math.exp(float(F.cross_entropy(xt, yt))), rel=1e-5)
    assert r.bits_per_token == pytest.approx(r.nll_mean / math.log(2))


def test_against_sklearn():
    sk = pytest.importorskip("sklearn.metrics")
    x, y = data(n=300, C=8, seed=5)
    x = np.round(x)   # many ties: sklearn's top_k breaks them towards higher indices
    w = np.random.default_rng(6).random(300)
    r = fastxent.evaluate(x, y, topk=(1, 2, 3), ties="last", sample_weight=w)
    p = torch.softmax(torch.tensor(x), 1).numpy()
    labels = np.arange(8)
    for k in (2, 3):
        assert r.topk_accuracy[k] == pytest.approx(
            sk.top_k_accuracy_score(y, x, k=k, labels=labels, sample_weight=w), rel=1e-12)
    assert r.nll_mean == pytest.approx(sk.log_loss(y, p, labels=labels, sample_weight=w),
                                       rel=1e-9)
    onehot = np.eye(8)[y]
    brier = np.average(np.sum((p - onehot) ** 2, 1), weights=w)
    assert r.brier == pytest.approx(brier, rel=1e-9)
    if hasattr(sk, "brier_score_loss"):
        # binary case: sklearn's brier_score_loss is mean (p1 - y)^2, half of
        # the multiclass definition with two classes
        x2, y2 = data(n=200, C=2, seed=7)
        p2 = torch.softmax(torch.tensor(x2), 1).numpy()
        r2 = fastxent.evaluate(x2, y2, topk=(1,))
        assert r2.brier == pytest.approx(2 * sk.brier_score_loss(y2, p2[:, 1]), rel=1e-9)


def test_against_torchmetrics():
    tm = pytest.importorskip("torchmetrics.classification")
    tmt = pytest.importorskip("torchmetrics.text")
    x, y = data(n=600, C=10, dtype=np.float32, seed=8, scale=2.0)
    r = fastxent.evaluate(x, y, n_bins=15)
    probs = torch.softmax(torch.tensor(x), 1)
    for norm, ours in (("l1", r.ece), ("l2", r.rmsce), ("max", r.mce)):
        m = tm.MulticlassCalibrationError(num_classes=10, n_bins=15, norm=norm)
        assert ours == pytest.approx(float(m(probs, torch.tensor(y))), abs=2e-6)
    ppl = tmt.Perplexity()
    v = float(ppl(torch.tensor(x[None]), torch.tensor(y[None])))
    assert r.perplexity == pytest.approx(v, rel=1e-5)


def test_calibration_by_hand():
    # two rows in a bin of width 1/2: ECE = |acc - conf| weighted
    x = np.log(np.array([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]]))
    y = np.array([0, 0, 1])
    r = fastxent.evaluate(x, y, n_bins=2, topk=(1,))
    # confidences 0.9 (correct), 0.7 (wrong), 0.6 (wrong), all in bin 1
    assert r.bins.count.tolist() == [0.0, 3.0]
    assert r.ece == pytest.approx(abs(1 / 3 - (0.9 + 0.7 + 0.6) / 3))
    assert r.mce == pytest.approx(r.ece)
    assert r.rmsce == pytest.approx(r.ece)


def test_stderr_matches_numpy():
    x, y = data(n=200, C=5, seed=9)
    r = fastxent.evaluate(x, y, return_per_row=True)
    nll = r.per_row.nll
    assert r.nll_stderr == pytest.approx(
        math.sqrt((np.mean(nll ** 2) - np.mean(nll) ** 2) / (len(nll) - 1)), rel=1e-9)


# ------------------------------------------------------------------ edge cases
def test_empty_and_all_ignored():
    for x, y in ((np.zeros((0, 4)), np.zeros(0, int)),
                 (np.ones((3, 4)), np.full(3, -100))):
        r = fastxent.evaluate(x, y)
        assert r.count == 0 and math.isnan(r.nll_mean) and math.isnan(r.ece)
        assert r.nll_sum == 0.0 and r.n_rows == len(y) and r.n_ignored == int(np.sum(y == -100))
        json.dumps(r.to_dict(), allow_nan=False)


def test_one_class():
    r = fastxent.evaluate(np.array([[3.0], [-1.0]]), np.array([0, 0]))
    assert r.nll_sum == 0.0 and r.topk_accuracy[1] == 1.0 and r.brier == 0.0
    assert r.entropy_mean == 0.0 and r.ece == 0.0 and r.mrr == 1.0


@pytest.mark.parametrize("ties", ["first", "last"])
def test_ties_everywhere(ties):
    x = np.zeros((5, 4))
    y = np.array([0, 1, 2, 3, 1])
    r = fastxent.evaluate(x, y, ties=ties, topk=(1, 2), return_per_row=True)
    rank = y if ties == "first" else 3 - y
    assert r.per_row.rank.tolist() == rank.tolist()
    assert r.per_row.argmax.tolist() == [0 if ties == "first" else 3] * 5
    assert r.nll_mean == pytest.approx(math.log(4))
    assert r.topk_accuracy[1] == pytest.approx(np.mean(rank < 1))


def test_zero_weights_add_nothing():
    x, y = data(n=50, C=6, seed=10)
    x[3, y[3]] = -np.inf     # its nll is inf, times weight 0 adds nothing
    x[4, 0] = np.nan
    w = np.ones(50)
    w[[3, 4]] = 0.0
    r = fastxent.evaluate(x, y, sample_weight=w)
    keep = np.ones(50, bool)
    keep[[3, 4]] = False
    close(r.to_dict() | {"n_rows": 0, "n_nonfinite": 0},
          fastxent.evaluate(x[keep], y[keep]).to_dict() | {"n_rows": 0, "n_nonfinite": 0},
          1e-15)
    assert r.n_nonfinite == 1


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_policies(bad):
    x, y = data(n=20, C=5, seed=11)
    x[7, 2] = bad
    x[9] = -np.inf
    y[12] = -100
    x[12, 0] = np.nan         # ignored rows are never non-finite
    prop = fastxent.evaluate(x, y)
    assert prop.n_nonfinite == 2 and math.isnan(prop.nll_sum) and math.isnan(prop.ece)
    assert prop.count == 19
    skip = fastxent.evaluate(x, y, nonfinite="skip")
    keep = np.array([i not in (7, 9, 12) for i in range(20)])
    ref = fastxent.evaluate(x[keep], y[keep]).to_dict()
    got = skip.to_dict()
    assert got.pop("n_nonfinite") == 2 and got.pop("n_rows") == 20 and got.pop("n_ignored") == 1
    for k in ("n_nonfinite", "n_rows", "n_ignored"):
        ref.pop(k)
    assert got == ref
    with pytest.raises(ValueError, match=r"row \(7,\)"):
        fastxent.evaluate(x, y, nonfinite="raise")
    for policy in ("propagate", "skip", "raise"):
        close(fastxent.evaluate(x[keep], y[keep], nonfinite=policy).to_dict(), ref | {
            "n_nonfinite": 0, "n_rows": 17, "n_ignored": 0}, 0.0)


def test_nonfinite_twin():
    x, y = data(n=30, C=4, seed=12)
    x[5, 1] = np.nan
    x[6, 0] = np.inf
    r = reference.evaluate(x, y, nonfinite="skip", per_class=True, segment_ids=np.arange(30) // 4)
    close(fastxent.evaluate(x, y, nonfinite="skip", per_class=True,
                            segment_ids=np.arange(30) // 4).to_dict(), r.to_dict(), 1e-12, 1e-14)
    with pytest.raises(ValueError, match=r"row \(5,\)"):
        reference.evaluate(x, y, nonfinite="raise")


def test_result_is_immutable_and_json_safe():
    x, y = data(n=40, C=5, seed=13)
    r = fastxent.evaluate(x, y, per_class=True, return_per_row=True,
                          reference_logits=x, segment_ids=np.arange(40) // 8)
    with pytest.raises(AttributeError):
        r.nll_mean = 0.0
    for arr in (r.bins.count, r.per_class.support, r.per_row.nll, r.segments.nll_sum):
        with pytest.raises(ValueError):
            arr[0] = 1
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["topk_accuracy"] == {1: r.topk_accuracy[1], 5: r.topk_accuracy[5]}
    assert "perplexity" in repr(r) and "kl_mean" in repr(r)
    assert r.reference.kl_mean == pytest.approx(0.0, abs=1e-15)
    assert r.reference.same_top == 1.0


def test_inputs_unchanged():
    x, y = data(n=30, C=4, seed=14)
    xc, yc = x.copy(), y.copy()
    x.setflags(write=False)
    fastxent.evaluate(x, y, reference_logits=x, per_class=True)
    assert np.array_equal(x, xc) and np.array_equal(y, yc)


def test_thread_count_changes_no_bit():
    x, y = data(n=3000, C=300, dtype=np.float32, seed=15)
    a = fastxent.evaluate(x, y, num_threads=1, per_class=True).to_dict()
    b = fastxent.evaluate(x, y, num_threads=2, per_class=True).to_dict()
    assert a == b


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("kw, match", [
    (dict(sample_weight=-np.ones(10)), "sample_weight"),
    (dict(sample_weight=np.full(10, np.nan)), "sample_weight"),
    (dict(sample_weight=np.ones(9)), "sample_weight"),
    (dict(segment_ids=np.arange(10)[::-1]), "segment_ids"),
    (dict(reference_logits=np.zeros((10, 4))), "reference_logits"),
    (dict(topk=(0,)), "topk"),
    (dict(topk=(1, 1)), "topk"),
    (dict(n_bins=0), "n_bins"),
    (dict(ties="middle"), "ties"),
    (dict(nonfinite="ignore"), "nonfinite"),
    (dict(per_class="yes"), "per_class"),
    (dict(confusion_matrix=1), "confusion_matrix"),
])
def test_bad_arguments(kw, match):
    x, y = data(n=10, C=3, seed=16)
    with pytest.raises(ValueError, match=match):
        fastxent.evaluate(x, y, **kw)
    if match not in ("per_class", "confusion_matrix"):   # the twin does not check flags' types
        with pytest.raises(ValueError, match=match):
            reference.evaluate(x, y, **kw)


def test_bad_labels_like_cross_entropy():
    x = np.zeros((3, 4))
    with pytest.raises(IndexError, match=r"class index 7 at position \(1,\)"):
        fastxent.evaluate(x, np.array([0, 7, 1]))
    with pytest.raises(IndexError, match=r"class index 7 at position \(1,\)"):
        reference.evaluate(x, np.array([0, 7, 1]))
    with pytest.raises(ValueError, match="labels"):
        fastxent.evaluate(x, np.array([0.0, 1.0, 2.0]))


def test_docstring_examples():
    import doctest
    import importlib
    for name in ("fastxent._evaluate", "fastxent._eval_result"):
        res = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        assert res.failed == 0 and res.attempted > 0


def test_torchmetrics_extra_bin_at_confidence_one():
    tm = pytest.importorskip("torchmetrics.classification")
    # rows 0-2 have a confidence of exactly 1.0 (in float32), row 0 wrong
    x = np.array([[0, -200, -200], [0, -200, -200], [0, -200, -200],
                  [1.0, 0.5, 0.0], [0.2, 0.1, 0.0], [0.0, 0.3, 2.0]], dtype=np.float32)
    y = np.array([1, 0, 0, 0, 1, 2])
    r = fastxent.evaluate(x, y, n_bins=4, return_per_row=True, topk=(1,))
    conf, correct = r.per_row.max_prob, (r.per_row.rank == 0).astype(float)
    assert np.sum(conf == 1.0) == 3
    # our bins: min(floor(conf * 4), 3); torchmetrics': a fifth bin for conf == 1
    def ece(bins, k):
        return sum(abs(np.sum(correct[bins == b]) - np.sum(conf[bins == b])) for b in range(k)) / 6
    ours = np.minimum(np.floor(conf * 4), 3)
    theirs = np.floor(conf * 4)
    assert r.ece == pytest.approx(ece(ours, 4), rel=1e-9)
    m = tm.MulticlassCalibrationError(num_classes=3, n_bins=4, norm="l1")
    tmv = float(m(torch.softmax(torch.tensor(x), 1), torch.tensor(y)))
    assert tmv == pytest.approx(ece(theirs, 5), abs=1e-6)
    assert abs(tmv - r.ece) > 1e-3


@pytest.mark.parametrize("threads", [1, 2])
def test_torch_layout_many_blocks(threads):
    # (N, C, d) with axis=1: blocks of inner positions, several per outer index
    rng = np.random.default_rng(17)
    x = rng.standard_normal((40, 9, 300)).astype(np.float32)
    y = rng.integers(0, 9, (40, 300))
    got = fastxent.evaluate(x, y, axis=1, num_threads=threads)
    close(got.to_dict(), reference.evaluate(x, y, axis=1).to_dict(), 2e-5, 1e-7)
    assert got.count == 12000


def test_twin_has_the_public_signature():
    import inspect
    assert inspect.signature(reference.evaluate) == inspect.signature(fastxent.evaluate)


@pytest.mark.parametrize("ties", ["first", "last"])
@pytest.mark.parametrize("weighted", [False, True])
def test_confusion_matrix_against_sklearn(ties, weighted):
    sk = pytest.importorskip("sklearn.metrics")
    x, y = data(n=500, C=6, seed=21, ignore_every=11)
    x = np.round(x)                      # ties, so `ties` decides the prediction
    x[3, 2] = np.nan                     # no prediction: left out, like ignored rows
    w = np.random.default_rng(22).random(500) if weighted else None
    r = fastxent.evaluate(x, y, ties=ties, sample_weight=w, confusion_matrix=True,
                          nonfinite="propagate")
    keep = (y != -100) & np.isfinite(x).all(1)
    pred = np.argmax(x if ties == "first" else x[:, ::-1], 1)
    pred = pred if ties == "first" else 5 - pred
    want = sk.confusion_matrix(y[keep], pred[keep], labels=np.arange(6),
                               sample_weight=None if w is None else w[keep])
    cm = r.confusion_matrix
    assert cm.shape == (6, 6) and not cm.flags.writeable
    if weighted:
        np.testing.assert_allclose(cm, want, rtol=1e-12)
    else:
        np.testing.assert_array_equal(cm, want)
    assert r.to_dict()["confusion_matrix"] == cm.tolist()
    # rows are the support of the counted rows, columns the predictions
    pc = fastxent.evaluate(x, y, ties=ties, sample_weight=w, per_class=True,
                           nonfinite="skip")
    np.testing.assert_allclose(cm.sum(1), pc.per_class.support, rtol=1e-12)
    np.testing.assert_allclose(cm.sum(0), pc.per_class.predicted, rtol=1e-12)


def test_confusion_matrix_only_for_small_class_counts():
    x, y = data(n=4, C=1025, seed=23)
    with pytest.raises(ValueError, match=r"confusion_matrix: .*C <= 1024.*C = 1025"):
        fastxent.evaluate(x, y, confusion_matrix=True)
    with pytest.raises(ValueError, match="confusion_matrix"):
        fastxent.Evaluator(1025, confusion_matrix=True)
    assert fastxent.evaluate(x[:, :1024], y % 1024, confusion_matrix=True) \
        .confusion_matrix.shape == (1024, 1024)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("ties", ["first", "last"])
def test_long_rows_with_ties_match_twin(isa, dtype, ties):
    # rows of several chunks (4096 float32, 2048 float64 entries each) full of
    # ties: the rank is counted on both sides of the target in one compare,
    # the argmax found afterwards in the chunk that holds the max
    C = 9000
    rng = np.random.default_rng(7)
    x = rng.integers(-3, 3, (10, C)).astype(dtype)
    x[0, 8999] = x[1, 0] = x[2, 4096] = x[3, 4095] = 5.0   # one max, at a chunk edge
    x[4, [1, 2047, 2048, 6000, 8999]] = 4.0                 # tied maxima across chunks
    x[5] = 0.0                                              # every class ties
    y = np.array([8999, 0, 4096, 4095, 2048, 4500, 2047, 0, 8999, 4097])
    xr = np.roll(x, 2048, axis=1)
    for kw in (dict(return_per_row=True), dict(return_per_row=True, reference_logits=xr), {}):
        a = fastxent.evaluate(x, y, ties=ties, topk=(1, 5, 3000), **kw)
        b = reference.evaluate(x, y, ties=ties, topk=(1, 5, 3000), **kw)
        assert a.topk_accuracy == b.topk_accuracy and a.mrr == pytest.approx(b.mrr, rel=1e-12)
        if kw:
            assert a.per_row.rank.tolist() == b.per_row.rank.tolist()
            assert a.per_row.argmax.tolist() == b.per_row.argmax.tolist()
            np.testing.assert_allclose(a.per_row.nll, b.per_row.nll, rtol=1e-5)
            np.testing.assert_allclose(a.per_row.entropy, b.per_row.entropy, rtol=1e-5)
        if "reference_logits" in kw:
            assert a.reference.same_top == b.reference.same_top
            assert a.reference.kl_mean == pytest.approx(b.reference.kl_mean, rel=1e-5)


@pytest.mark.parametrize("dtype,C", [(np.float32, 4097), (np.float64, 2049),
                                     (np.float32, 131), (np.float64, 1000)])
@pytest.mark.parametrize("ties", ["first", "last"])
def test_long_row_tails_match_twin(isa, dtype, C, ties):
    # the last partial vector of a chunk is one vector ending at the chunk's
    # end whose lanes already seen are dropped; with 4097 (2049) classes the
    # row's last chunk holds one entry and that vector reaches back into the
    # previous chunk. Maxima, ties with the target, -inf and NaN in the tail
    rng = np.random.default_rng(31)
    x = rng.standard_normal((12, C)).round(1).astype(dtype)
    x[0, -1] = 9.0                     # the max in the tail
    x[1, [C - 2, 3]] = 9.0             # tied maxima, one in the tail
    x[2, -3:] = -np.inf                # -inf in the tail
    x[3, -1] = np.nan                  # NaN in the tail: a non-finite row
    x[4, -1] = x[4, 0]                 # the target ties with a tail entry
    x[5, C - 20:] = x[5, C - 20]       # ties across the vector the tail overlaps
    y = rng.integers(0, C, 12)
    y[0], y[1], y[4], y[5] = C - 1, 3, 0, C - 1
    xr = x[::-1].copy()
    for kw in (dict(return_per_row=True), dict(return_per_row=True, reference_logits=xr)):
        a = fastxent.evaluate(x, y, ties=ties, topk=(1, 5), **kw)
        b = reference.evaluate(x, y, ties=ties, topk=(1, 5), **kw)
        assert a.n_nonfinite == b.n_nonfinite >= 1
        assert a.per_row.rank.tolist() == b.per_row.rank.tolist()
        assert a.per_row.argmax.tolist() == b.per_row.argmax.tolist()
        for f in ("nll", "entropy", "max_prob") + (("kl",) if "reference_logits" in kw else ()):
            np.testing.assert_allclose(getattr(a.per_row, f), getattr(b.per_row, f),
                                       rtol=1e-5, atol=1e-6, err_msg=f)
        close(a.to_dict(), b.to_dict(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("C", [20, 300])
def test_kl_max_stays_nan_after_finite_rows(C):
    # a non-finite row under "propagate" makes kl_max NaN, as in the twin,
    # also when finite rows follow it in the block, a later update or a merge
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, C)).astype(np.float32)
    xr = x + 0.5 * rng.standard_normal((6, C)).astype(np.float32)
    xr[1, 3] = np.nan
    y = rng.integers(0, C, 6)
    assert math.isnan(fastxent.evaluate(x, y, reference_logits=xr).reference.kl_max)
    assert math.isnan(reference.evaluate(x, y, reference_logits=xr).reference.kl_max)
    a = fastxent.Evaluator(C, reference=True)
    a.update(x[:2], y[:2], reference_logits=xr[:2])
    a.update(x[2:], y[2:], reference_logits=xr[2:])
    assert math.isnan(a.result().reference.kl_max)
    b, c = fastxent.Evaluator(C, reference=True), fastxent.Evaluator(C, reference=True)
    b.update(x[:2], y[:2], reference_logits=xr[:2])
    c.update(x[2:], y[2:], reference_logits=xr[2:])
    c.merge(b)
    assert math.isnan(c.result().reference.kl_max)
    ok = fastxent.evaluate(x[2:], y[2:], reference_logits=xr[2:]).reference.kl_max
    assert ok == pytest.approx(reference.evaluate(x[2:], y[2:], reference_logits=xr[2:])
                               .reference.kl_max, rel=1e-5)
