"""fastxent.bench.report: the table, its notes and the strict JSON."""
import dataclasses
import json
import math

import numpy as np
import pytest

from fastxent.bench import Impl, Settings, format_report, make_case, run_suite
from fastxent.bench.report import COLUMNS, format_time, jsonable, write_json

TINY = Settings(target=0.002, min_repeats=3, max_repeats=5, min_sample=1e-4, quick=True)


def _run(impls_of=None, func="cross_entropy", threads=(1,)):
    case = make_case("cross_entropy", 8, 5)
    impls = case.impls[:2] if impls_of is None else impls_of(case)
    case = dataclasses.replace(case, id=f"tiny-{func}", func=func, impls=impls)
    return run_suite([case], list(threads), TINY, impls=["reference"],
                     progress=lambda *a, **k: None)


def test_format_time():
    assert format_time(2e-3) == "2.00 ms"
    assert format_time(1.234e-5) == "12.3 us"
    assert format_time(175.2e-3) == "175 ms"
    assert format_time(3e-10) == "0.300 ns"
    assert format_time(None) == "-" and format_time(math.inf) == "-"


def test_text_table_has_every_column_and_row():
    report = _run()
    lines = format_report(report).splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("case "))
    assert lines[head].split("  ")[0] == "case" and "fastxent speed-up" in lines[head]
    assert set(lines[head + 1].replace(" ", "")) == {"-"}
    assert lines[head + 2].startswith("tiny-cross_entropy") and "anchor" in lines[head + 2]
    assert "reference" in lines[head + 3] and lines[head + 3].endswith("ok")
    assert "thread scaling" not in "\n".join(lines)  # one thread count
    md = format_report(report, markdown=True)
    assert "| " + " | ".join(COLUMNS) + " |" in md


def test_mismatch_error_and_skip_are_shown():
    wrong = _run(lambda c: (c.impls[0], Impl("reference", False,
                                             lambda d, t: (lambda: np.float32(99.0)), "wrong")))
    assert "MISMATCH" in format_report(wrong)

    def broken(d, t):
        def call():
            raise RuntimeError("peer broke")
        return call
    failing = _run(lambda c: (c.impls[0], Impl("reference", False, broken, "raises")))
    assert "ERROR: RuntimeError: peer broke" in format_report(failing)
    skipped = _run(func="no_such_function")
    assert "skipped tiny-no_such_function" in format_report(skipped)
    assert "(no results)" in format_report(skipped)


def test_scaling_table_and_reused_rows():
    text = format_report(_run(threads=(1, 2)))
    assert "1*" in text and "fastxent thread scaling:" in text
    assert "2/1 thr speed-up" in text


def test_json_is_strict(tmp_path):
    report = _run()
    report["results"][0]["max_err"] = math.inf
    report["extra"] = {"n": np.int64(3), "x": np.float32(0.5), "nan": float("nan")}
    path = tmp_path / "r.json"
    write_json(report, str(path))
    back = json.loads(path.read_text())
    assert back["results"][0]["max_err"] is None
    assert back["extra"] == {"n": 3, "x": 0.5, "nan": None}
    assert jsonable((1, np.bool_(True))) == [1, True]
    with pytest.raises(ValueError):
        json.dumps(report, allow_nan=False)  # what jsonable exists for


def test_evaluate_over_cross_entropy_table():
    from fastxent.bench.report import evaluate_rows

    def res(case, t, med):
        return {"case": case, "impl": "fastxent", "threads": t, "median_s": med}
    report = {"settings": {"threads": [1, 2]},
              "results": [res("xent-f32-8x5", 1, 2e-3), res("xent-f32-8x5", 2, 1e-3),
                          res("evaluate-f32-8x5", 1, 3e-3), res("evaluate-f32-8x5", 2, 1.1e-3),
                          res("evaluate-ref-f32-8x5", 1, 5e-3),
                          res("evaluate-per_class-f32-9x9", 1, 1e-3),   # no anchor: left out
                          res("evaluator-update-f32-8x5", 1, 1e-6)]}
    head, rows = evaluate_rows(report)
    assert head == ["case", "vs", "1 thr", "2 thr", "target"]
    assert rows == [["evaluate-f32-8x5", "xent-f32-8x5", "1.50x", "1.10x", "<= 1.25x"],
                    ["evaluate-ref-f32-8x5", "xent-f32-8x5", "2.50x", "-", "<= 2.30x"]]
