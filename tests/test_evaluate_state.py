"""Evaluator: updates, merges and state_dict round trips give evaluate()'s
result bit for bit; bad calls change nothing."""
import pickle

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastxent

OPTS = dict(topk=(1, 3), n_bins=7, per_class=True, confusion_matrix=True)


def make(n, C, seed, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, C)) * rng.choice([0.1, 3.0, 30.0])).astype(dtype)
    y = rng.integers(0, C, n)
    y[rng.random(n) < 0.1] = -100
    w = rng.random(n) * rng.choice([0.0, 1.0, 1e-300, 1e300], n, p=[0.1, 0.7, 0.1, 0.1])
    xr = (x + rng.standard_normal((n, C))).astype(dtype)
    seg = np.sort(rng.integers(0, max(n // 4, 1), n))
    return x, y, w, xr, seg


def bits(r):
    """Every number of a result, NaN-safe, as comparable bytes."""
    d = r.to_dict()
    return repr(d), r.nll_sum.hex() if r.nll_sum == r.nll_sum else "nan"


def full(x, y, w, xr, seg, **kw):
    return fastxent.evaluate(x, y, sample_weight=w, reference_logits=xr, segment_ids=seg,
                             **OPTS, **kw)


def evaluator(C, threads=None):
    return fastxent.Evaluator(C, reference=True, segments=True, num_threads=threads, **OPTS)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 120), st.integers(1, 12), st.integers(0, 2 ** 31),
       st.lists(st.integers(0, 120), max_size=6), st.sampled_from([np.float32, np.float64]),
       st.randoms(use_true_random=False))
def test_any_split_merge_tree_and_threads(n, C, seed, cuts, dtype, rnd):
    x, y, w, xr, seg = make(n, C, seed, dtype)
    want = bits(full(x, y, w, xr, seg))
    bounds = sorted({0, n, *[c % (n + 1) for c in cuts]})
    parts = []
    for a, b in zip(bounds, bounds[1:]):
        ev = evaluator(C, threads=rnd.choice([1, 2]))
        ev.update(x[a:b], y[a:b], sample_weight=w[a:b], reference_logits=xr[a:b],
                  segment_ids=seg[a:b])
        if rnd.random() < 0.5:   # a state_dict / pickle round trip on the way
            ev = fastxent.Evaluator.from_state_dict(pickle.loads(pickle.dumps(ev.state_dict())))
        parts.append(ev)
    while len(parts) > 1:    # a random merge tree, in random order
        i = rnd.randrange(len(parts) - 1)
        a, b = parts[i], parts.pop(i + 1)
        if rnd.random() < 0.5:
            a, b = b, a
        a.merge(b)
        parts[i] = a
    assert bits(parts[0].result()) == want


@settings(max_examples=6, deadline=None)
@given(st.lists(st.integers(0, 3000), max_size=4), st.randoms(use_true_random=False))
def test_threaded_blocks_any_split(cuts, rnd):
    # large enough for several blocks on 2 threads in the one-call result
    x, y, w, xr, seg = make(3000, 60, 7, np.float32)
    want = bits(full(x, y, w, xr, seg, num_threads=2))
    assert bits(full(x, y, w, xr, seg, num_threads=1)) == want
    bounds = sorted({0, 3000, *cuts})
    ev = evaluator(60, threads=rnd.choice([1, 2]))
    for a, b in zip(bounds, bounds[1:]):
        part = evaluator(60, threads=rnd.choice([1, 2]))
        part.update(x[a:b], y[a:b], sample_weight=w[a:b], reference_logits=xr[a:b],
                    segment_ids=seg[a:b])
        ev.merge(part)
    assert bits(ev.result()) == want


def test_sequential_updates_equal_one_call():
    x, y, w, xr, seg = make(500, 40, 1, np.float32)
    ev = evaluator(40)
    for a in range(0, 500, 37):
        ev.update(x[a:a + 37], y[a:a + 37], sample_weight=w[a:a + 37],
                  reference_logits=xr[a:a + 37], segment_ids=seg[a:a + 37])
    assert bits(ev.result()) == bits(full(x, y, w, xr, seg))


def test_segment_spanning_updates_and_merges():
    x, y, w, xr, _ = make(30, 5, 2)
    seg = np.array([3] * 12 + [5] * 18)
    want = full(x, y, w, xr, seg).segments
    a, b = evaluator(5), evaluator(5)
    a.update(x[:7], y[:7], sample_weight=w[:7], reference_logits=xr[:7], segment_ids=seg[:7])
    a.update(x[7:20], y[7:20], sample_weight=w[7:20], reference_logits=xr[7:20],
             segment_ids=seg[7:20])
    b.update(x[20:], y[20:], sample_weight=w[20:], reference_logits=xr[20:], segment_ids=seg[20:])
    b.merge(a)    # b holds the later part: merging puts the parts together
    got = b.result().segments
    assert got.id.tolist() == [3, 5]
    for f in ("count", "nll_sum", "all_greedy"):
        assert np.array_equal(getattr(got, f), getattr(want, f))
    with pytest.raises(ValueError, match="segment_ids"):
        b.update(x[:1], y[:1], sample_weight=w[:1], reference_logits=xr[:1],
                 segment_ids=np.array([4]))


def test_state_is_small_and_versioned():
    ev = fastxent.Evaluator(128000, per_class=True)
    st_ = ev.state_dict()
    assert st_["version"] == 1
    x = np.random.default_rng(3).standard_normal((4, 128000)).astype(np.float32)
    ev.update(x, np.array([1, 5, 7, -100]))
    size = len(pickle.dumps(ev.state_dict()))
    # the state lists the touched classes only: 56 global sums of 576 bytes,
    # 3 rows x 3 per-class sums of a few chunks
    assert size < 56 * 576 + 20_000
    x[0, 0] = np.inf
    ev.update(x[:1], np.array([1]))            # a special in the per-class sums
    again = fastxent.Evaluator.from_state_dict(pickle.loads(pickle.dumps(ev.state_dict())))
    assert repr(again.result().to_dict()) == repr(ev.result().to_dict())
    st_ = ev.state_dict()
    st_["version"] = 99
    with pytest.raises(ValueError, match="version"):
        fastxent.Evaluator.from_state_dict(st_)


def snapshot(ev):
    return pickle.dumps(ev.state_dict())


@pytest.mark.parametrize("call, match", [
    (lambda ev, x, y: ev.update(x[:, :3], y), "logits"),
    (lambda ev, x, y: ev.update(x, y, sample_weight=-np.ones(len(y))), "sample_weight"),
    (lambda ev, x, y: ev.update(x, y, sample_weight=np.full(len(y), np.nan)), "sample_weight"),
    (lambda ev, x, y: ev.update(x, y, reference_logits=x[:-1]), "reference_logits"),
    (lambda ev, x, y: ev.update(x, y, segment_ids=np.arange(len(y))), "segment_ids"),
    (lambda ev, x, y: ev.update(x, np.where(y > 0, 99, y)), None),
    (lambda ev, x, y: ev.merge(fastxent.Evaluator(4, topk=(1, 2))), "other"),
    (lambda ev, x, y: ev.merge(fastxent.Evaluator(5)), "other"),
    (lambda ev, x, y: ev.update(np.where(np.arange(4) == 1, np.nan, x), y), "row"),
])
def test_bad_calls_change_nothing(call, match):
    x, y, *_ = make(20, 4, 4)
    ev = fastxent.Evaluator(4, topk=(1,), nonfinite="raise")
    ev.update(x, y)
    before = snapshot(ev)
    with pytest.raises((ValueError, IndexError), match=match):
        call(ev, x, y)
    assert snapshot(ev) == before


@pytest.mark.parametrize("kw, match", [
    (dict(num_classes=0), "num_classes"), (dict(topk=(0, 1)), "topk"), (dict(n_bins=0), "n_bins"),
    (dict(ties="any"), "ties"), (dict(nonfinite="drop"), "nonfinite"),
    (dict(reference=1), "reference"),
])
def test_bad_config(kw, match):
    args = dict(num_classes=4) | kw
    with pytest.raises(ValueError, match=match):
        fastxent.Evaluator(args.pop("num_classes"), **args)


def test_malformed_state_dict():
    ev = fastxent.Evaluator(4)
    st_ = ev.state_dict()
    st_["sums"] = st_["sums"][:3]
    with pytest.raises(ValueError, match="state"):
        fastxent.Evaluator.from_state_dict(st_)
    with pytest.raises(ValueError, match="state"):
        fastxent.Evaluator.from_state_dict({"version": 1})


@pytest.mark.parametrize("C", [1, 3, 10, 17, 100, 128, 129])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["C", "F"])
def test_row_values_do_not_depend_on_where_the_row_sits(isa, C, dtype, layout):
    # short rows run in tiles of rows, vectorised across the rows: a row's
    # values must not depend on its lane (vector body or remainder) or tile
    x, y, w, xr, seg = make(150, C, C, dtype)
    if layout == "F":
        x, xr = np.asfortranarray(x), np.asfortranarray(xr)
    whole = fastxent.evaluate(x, y, reference_logits=xr, return_per_row=True)
    for k in (1, 5, 13, 64, 65, 149):
        part = fastxent.evaluate(x[k:], y[k:], reference_logits=xr[k:], return_per_row=True)
        for f in ("nll", "rank", "argmax", "max_prob", "entropy", "kl"):
            a, b = getattr(whole.per_row, f)[k:], getattr(part.per_row, f)
            assert a.tobytes() == b.tobytes(), (f, k)
    # and the layout does not change them either
    other = np.asfortranarray(x) if layout == "C" else np.ascontiguousarray(x)
    other_r = np.asfortranarray(xr) if layout == "C" else np.ascontiguousarray(xr)
    again = fastxent.evaluate(other, y, reference_logits=other_r, return_per_row=True)
    assert repr(again.to_dict()) == repr(whole.to_dict())


@pytest.mark.parametrize("kw", [{}, dict(per_class=True, topk=(1, 2))])
def test_evaluator_pickles_and_copies(kw):
    import copy
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((40, 6)).astype(np.float32), rng.integers(0, 6, 40)
    y[::7] = -100
    ev = fastxent.Evaluator(6, num_threads=1, **kw)
    ev.update(x[:20], y[:20])
    for other in (pickle.loads(pickle.dumps(ev)), copy.deepcopy(ev), copy.copy(ev)):
        other.update(x[20:], y[20:])   # each continues on its own
        assert other.result().to_dict() == fastxent.evaluate(x, y, **kw).to_dict()
    assert ev.result().n_rows == 20   # the original is unchanged
