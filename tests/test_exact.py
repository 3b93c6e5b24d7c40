"""The exact superaccumulator against exact rational arithmetic."""
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastxent import _exact

finite = st.floats(allow_nan=False, allow_infinity=False)


def exact_sum(values) -> float:
    """The correctly rounded sum, from Fractions (float(Fraction) rounds
    correctly; too large gives an OverflowError, meaning an infinity)."""
    total = sum((Fraction(float(v)) for v in values), Fraction(0))
    try:
        return float(total)
    except OverflowError:
        return math.inf if total > 0 else -math.inf


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@settings(max_examples=400, deadline=None)
@given(st.lists(finite, max_size=40))
def test_any_finite_values(values):
    assert same(_exact.fsum(values), exact_sum(values))


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_order_does_not_matter(values, rnd):
    shuffled = list(values)
    rnd.shuffle(shuffled)
    a = _exact.fsum(values)
    b = _exact.fsum(shuffled)
    assert np.float64(a).tobytes() == np.float64(b).tobytes() or (a == 0 and b == 0)


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, max_size=30), st.integers(0, 30))
def test_merge_of_two_parts(values, cut):
    a, b = _exact.zeros(1), _exact.zeros(1)
    _exact.add(a[0], values[:cut])
    _exact.add(b[0], values[cut:])
    _exact.merge(a, b)
    assert same(float(_exact.round_sums(a)[0]), exact_sum(values))


@pytest.mark.parametrize("values", [
    [1e308, 1e308, -1e308],                       # fsum overflows in between
    [1e308, 1.0, 5e-324, -1e308, -1.0],           # only the subnormal is left
    [2.0 ** 1023, 2.0 ** 1023],                   # the true sum overflows
    [-(2.0 ** 1023), -(2.0 ** 1023), 2.0 ** 970],
    [1.0, 2.0 ** -53],                            # a tie: rounds to even (1.0)
    [1.0, 2.0 ** -53, 2.0 ** -1074],              # just above the tie
    [1.0 + 2.0 ** -52, 2.0 ** -53],               # tie rounds up to even
    [5e-324, 5e-324, -5e-324],
    [2.2250738585072014e-308, -5e-324],           # normal minus subnormal
    [0.1] * 10,
    [1e16, 1.0, -1e16],
    [3.0, -3.0],
    [],
])
def test_adversarial(values):
    assert same(_exact.fsum(values), exact_sum(values))


def test_huge_cancellation_random():
    rng = np.random.default_rng(1)
    big = rng.standard_normal(1000) * 10.0 ** rng.integers(-300, 300, 1000)
    small = np.ldexp(rng.standard_normal(50), rng.integers(-1074, -1000, 50))
    values = rng.permutation(np.concatenate([big, -big, small]))
    assert _exact.fsum(values) == exact_sum(values)
    assert _exact.fsum(values) == math.fsum(small)


@pytest.mark.parametrize("values, expected", [
    ([math.inf, 1.0], math.inf),
    ([-math.inf, 1e308, 1e308], -math.inf),
    ([math.inf, -math.inf], math.nan),
    ([math.nan, 1.0], math.nan),
    ([math.inf, math.nan], math.nan),
])
def test_specials(values, expected):
    assert same(_exact.fsum(values), expected)


def test_many_additions_carry():
    # past the point where the chunks must be normalised (2**28 additions
    # would take long; many large equal values exercise the carries)
    values = np.full(200_000, 1.7976931348623157e308 / 2 ** 20)
    assert _exact.fsum(values) == exact_sum([values[0]]) * 200_000
    values = np.full(100_000, -(2.0 ** 1000) - 2.0 ** 948)
    assert _exact.fsum(values) == exact_sum(values[:1]) * 100_000


def test_normalised_state_is_the_same_sum():
    rng = np.random.default_rng(2)
    v = rng.standard_normal(100) * 1e10
    a = _exact.zeros(1)
    _exact.add(a[0], v)
    before = _exact.round_sums(a)
    from fastxent import _kernels
    _kernels.exact_normalize(a)
    assert _exact.round_sums(a)[0] == before[0] == exact_sum(v)
    assert np.all((a[0, :67] >= 0) & (a[0, :67] < 2 ** 32))


@pytest.mark.parametrize("limit", [None, 1, 50])
def test_window_sums_are_each_items_correctly_rounded_sum(monkeypatch, limit):
    # WindowSums (per-class and per-segment sums) against math.fsum per item,
    # over values of every magnitude, signs, zeros, subnormals, infinities,
    # NaN, repeated items and several add calls, then a merge; with a small
    # limit the lazy carries are propagated between and inside the calls
    import math
    from fastxent._exact import WindowSums
    if limit is not None:
        monkeypatch.setattr(WindowSums, "_LIMIT", limit)
    rng = np.random.default_rng(5)
    n = 7
    got, want = WindowSums(n), [[] for _ in range(n)]
    other = WindowSums(n)
    for call in range(6):
        k = int(rng.integers(1, 300))
        v = rng.standard_normal(k) * 10.0 ** rng.integers(-320, 300, k)
        v[rng.random(k) < 0.05] = 0.0
        v[rng.random(k) < 0.02] = 5e-324
        idx = rng.integers(0, n, k)
        if call == 4:
            v[3] = np.inf
            idx[3] = 2
            v[4] = np.nan
            idx[4] = 5
        (got if call % 2 else other).add(idx, v)
        for i, x in zip(idx, v):
            want[i].append(float(x))
    state = WindowSums.from_state(other.state()).round()
    assert np.array_equal(state, other.round(), equal_nan=True)
    got.merge(other)
    rounded = got.round()
    for i in range(n):
        vals = want[i]
        if any(math.isnan(x) for x in vals):
            assert math.isnan(rounded[i])
        elif any(math.isinf(x) for x in vals):
            assert rounded[i] == math.fsum([x for x in vals if math.isinf(x)])
        else:
            assert rounded[i] == math.fsum(vals), i


def test_window_sums_of_few_items_among_many():
    # 128k items, a few hundred touched over several calls, growing
    # (segments), merged through an index that sends two items to one, and
    # a state round trip; each item's sum is math.fsum of its values, every
    # untouched item exactly 0
    import math
    from fastxent._exact import WindowSums
    rng = np.random.default_rng(9)
    n = 128_000
    a, b = WindowSums(n), WindowSums(n)
    want = {}
    for call in range(5):
        k = 200
        idx = rng.integers(0, n, k)
        v = rng.standard_normal(k) * 10.0 ** rng.integers(-30, 30, k)
        v[::17] = 0.0
        (a if call % 2 else b).add(idx, v)
        for i, x in zip(idx, v):
            want.setdefault(int(i), []).append(float(x))
    b.resize(n + 10)
    b.add(np.array([n + 3]), np.array([2.5]))
    want.setdefault(n + 3, []).append(2.5)
    c = WindowSums(n + 10)
    c.merge(a)
    c.merge(WindowSums.from_state(b.state()))
    got = c.round()
    assert got.shape == (n + 10,)
    touched = np.array(sorted(want))
    assert np.all(np.delete(got, touched) == 0.0)
    for i, vals in want.items():
        assert got[i] == math.fsum(vals), i
    # two of d's items (0 and 1) land on item 5 of e
    d = WindowSums(3)
    d.add(np.array([0, 1, 2]), np.array([0.1, 0.2, 0.3]))
    e = WindowSums(6)
    e.merge(d, np.array([5, 5, 0]))
    assert e.round().tolist() == [0.3, 0, 0, 0, 0, math.fsum([0.1, 0.2])]
    with pytest.raises(IndexError, match="item 6 of 6"):
        e.add(np.array([1, 6]), np.array([1.0, 2.0]))
