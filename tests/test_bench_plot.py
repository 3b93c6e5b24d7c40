"""fastxent.bench.plot: the PNG of a run."""
import dataclasses

import pytest

from fastxent.bench import Settings, make_case, run_suite
from fastxent.bench.plot import plot_report

TINY = Settings(target=0.002, min_repeats=3, max_repeats=5, min_sample=1e-4, quick=True)


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    case = make_case("cross_entropy", 8, 5)
    case = dataclasses.replace(case, impls=case.impls[:2])
    report = run_suite([case], [1, 2], TINY, impls=["reference"], progress=lambda *a, **k: None)
    path = tmp_path / "bench.png"
    plot_report(report, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
