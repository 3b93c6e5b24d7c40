"""examples/reliability_diagram.py runs and draws what the bins say."""
import importlib.util
import pathlib

import numpy as np
import pytest

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "reliability_diagram.py"


def test_reliability_diagram(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    spec = importlib.util.spec_from_file_location("reliability_diagram", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "diagram.png"
    result = module.main(str(out))
    assert out.stat().st_size > 1000
    # the ECE the title shows is the bins' weighted gap, recomputed here
    b = result.bins
    full = b.count > 0
    ece = np.sum(np.abs(b.correct_sum[full] - b.confidence_sum[full])) / b.count.sum()
    assert result.ece == pytest.approx(ece, rel=1e-12)
    assert result.ece > 0.02        # the scaled model is visibly miscalibrated
    assert b.count.sum() == result.count == 597
