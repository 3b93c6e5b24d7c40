"""fastxent.bench.timing: measure() and thread_setting()."""
import pytest

import fastxent
from fastxent.bench.timing import Settings, measure, thread_setting

TINY = Settings(target=0.002, min_repeats=3, max_repeats=5, min_sample=1e-4, quick=True)


def test_measure_returns_the_first_result_and_samples():
    calls = []

    def call():
        calls.append(None)
        return len(calls)
    result, timing = measure(call, TINY)
    assert result == 1
    assert TINY.min_repeats <= len(timing.times) <= TINY.max_repeats
    assert timing.number > 1  # a call far below min_sample runs in batches
    assert len(calls) >= 2 + timing.number * len(timing.times)
    assert 0 < timing.min <= timing.q25 <= timing.median <= timing.q75


def test_settings_for_mode():
    assert Settings.for_mode(False) == Settings()
    quick = Settings.for_mode(True)
    assert quick.quick and quick.target < Settings().target
    assert Settings.for_mode(True, 0.5).target == 0.5


@pytest.mark.parametrize("before", [None, 1, 3])
def test_thread_setting_sets_then_restores(before):
    fastxent.set_num_threads(before)
    want = fastxent.get_num_threads()
    try:
        with thread_setting(2, use_torch=False):
            assert fastxent.get_num_threads() == 2
        assert fastxent.get_num_threads() == want
    finally:
        fastxent.set_num_threads(None)


def test_thread_setting_restores_torch():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    with thread_setting(1, use_torch=True):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
