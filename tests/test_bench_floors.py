"""fastxent.bench.floors: the floor formula and its measurement."""
import math

import pytest

from fastxent.bench import make_case
from fastxent.bench.floors import Floors, measure_floors

CASE = make_case("cross_entropy", 8, 5)  # 40 exp, 8*5*4 + 8*8 bytes


def test_floor_formula():
    assert dict(CASE.ops) == {"exp": 40} and CASE.bytes == 224
    floors = Floors({"exp/float32": 1e9}, {(CASE.bytes, 1): 1e12, (CASE.bytes, 2): 1e12}, 2)
    t1, bound = floors.of(CASE, 1)
    assert bound == "exp" and t1 == pytest.approx(40 / 1e9)
    assert floors.of(CASE, 2)[0] == pytest.approx(t1 / 2)
    slow_memory = Floors({"exp/float32": 1e9}, {(CASE.bytes, 1): 1e6}, 2)
    t, bound = slow_memory.of(CASE, 1)
    assert bound == "read" and t == pytest.approx(CASE.bytes / 1e6)
    assert math.isfinite(t)


def test_best_keeps_the_faster_of_two():
    a = Floors({"exp/float32": 1e9, "log/float32": 3e9}, {(1, 1): 5.0}, 2)
    b = Floors({"exp/float32": 2e9, "log/float32": 1e9}, {(1, 1): 4.0}, 2)
    best = a.best(b)
    assert best.rates == {"exp/float32": 2e9, "log/float32": 3e9}
    assert best.read_bw == {(1, 1): 5.0}


def test_measured_floors_cover_every_case_and_thread_count():
    cases = [CASE, make_case("binary_cross_entropy_with_logits", 8, 5)]
    floors = measure_floors(cases, [2], quick=True)
    assert set(floors.rates) == {"exp/float32", "log1p/float32"}
    assert set(floors.read_bw) == {(c.bytes, t) for c in cases for t in (1, 2)}
    assert all(v > 0 for v in list(floors.rates.values()) + list(floors.read_bw.values()))
    report = floors.as_json()
    assert [(e["bytes"], e["threads"]) for e in report["read_bytes_per_s"]] == [
        (224, 1), (224, 2), (320, 1), (320, 2)]
