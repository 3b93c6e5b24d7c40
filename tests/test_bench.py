"""`python -m fastxent bench`: the command line, its JSON, and the honesty of
its table (mismatches and missing functions are shown, never hidden)."""
import json
import math
import subprocess
import sys
import types

import numpy as np
import pytest

import fastxent
from fastxent import _bench
from fastxent.__main__ import main

SMALL_CASE = "xent-f32-64x10"
TINY = _bench.Settings(target=0.002, min_repeats=3, max_repeats=5, min_sample=1e-4, quick=True)


def _quiet(*args, **kwargs):
    pass


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """One real run of the command line on one small case (shared by the tests)."""
    path = tmp_path_factory.mktemp("bench") / "out.json"
    proc = subprocess.run(
        [sys.executable, "-m", "fastxent", "bench", "--quick", "--cases", SMALL_CASE,
         "--json", str(path), "--markdown"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(path.read_text())


def test_json_structure(cli_run):
    _, report = cli_run
    for key in ("fastxent_version", "settings", "machine", "floors", "cases", "results",
                "skipped", "unavailable"):
        assert key in report
    assert report["settings"]["quick"] is True
    threads = report["settings"]["threads"]
    assert threads[0] == 1 and threads == sorted(set(threads))
    machine = report["machine"]
    assert machine["cpu"] and machine["usable_cpus"] >= 1
    assert machine["fastxent_config"]["isa"] in ("baseline", "avx2", "avx512")
    assert report["floors"]["rates_per_core"]["exp/float32"] > 0
    assert all(e["bytes_per_s"] > 0 for e in report["floors"]["read_bytes_per_s"])
    assert [c["id"] for c in report["cases"]] == [SMALL_CASE]


def test_json_results_have_positive_times(cli_run):
    _, report = cli_run
    rows = report["results"]
    assert rows
    threads = report["settings"]["threads"]
    fx = [r for r in rows if r["impl"] == "fastxent"]
    assert [r["threads"] for r in fx] == threads
    assert fx[0]["check"] == "anchor"
    for r in rows:
        assert r["case"] == SMALL_CASE
        assert r["median_s"] > 0 and r["min_s"] > 0 and r["iqr_s"] >= 0
        assert r["min_s"] <= r["median_s"]
        assert len(r["times_s"]) == r["repeats"] >= 3 and min(r["times_s"]) > 0
        assert r["gelem_per_s"] == pytest.approx(64 * 10 / r["median_s"] / 1e9)
        assert r["floor_s"] > 0 and r["floor_fraction"] > 0
        assert r["check"] in ("anchor", "same bits", "ok"), r
        if r["impl"] != "fastxent":
            assert r["speedup"] > 0
    assert any(r["impl"] == "reference" for r in rows)


def test_markdown_table_and_progress(cli_run):
    proc, _ = cli_run
    lines = proc.stdout.splitlines()
    head = [i for i, line in enumerate(lines) if line.startswith("| case |")]
    assert len(head) == 2  # the results, then fastxent's thread scaling
    table = lines[head[0]:]
    end = [i for i, line in enumerate(table) if not line.startswith("|")]
    table = table[:end[0] if end else len(table)]
    assert set(table[1].replace("|", "").split()) <= {":---", "---:"}
    assert len(table) >= 4  # header, alignment, fastxent at 1 thread, reference
    ncols = table[0].count("|")
    assert all(line.count("|") == ncols for line in table)
    assert SMALL_CASE in table[2] and "fastxent" in table[2]
    assert "[1/" in proc.stderr  # progress goes to stderr, not into the table


def test_config_command(capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "fastxent" in out and "isa" in out


def test_select_cases():
    cases = _bench.standard_cases()
    ids = [c.id for c in cases]
    assert len(ids) == len(set(ids))
    assert [c.id for c in _bench.select_cases(cases, SMALL_CASE)] == [SMALL_CASE]
    some = _bench.select_cases(cases, "8192x1000, log_loss")
    assert len(some) > 2 and all("8192x1000" in c.id or "log_loss" in c.id for c in some)
    assert _bench.select_cases(cases, "no-such-case") == []
    assert any(c.quick for c in cases)


def test_compare():
    a = (np.array([1.0, 2.0, np.nan]),)
    assert _bench.compare(a, a, 1e-3) == (True, 0.0)
    ok, err = _bench.compare((np.array([1.0, 2.1, np.nan]),), a, 1e-3)
    assert not ok and err == pytest.approx(0.05)
    assert not _bench.compare((np.float32(1.0),), (np.float32(1.0), np.zeros(2)), 1e-3)[0]
    assert not _bench.compare((np.zeros(3),), (np.zeros(4),), 1e-3)[0]


def test_format_time():
    assert _bench.format_time(2e-3) == "2.00 ms"
    assert _bench.format_time(1.234e-5) == "12.3 us"
    assert _bench.format_time(175.2e-3) == "175 ms"
    assert _bench.format_time(None) == "-"


def _tiny_case(func="cross_entropy", impls=None):
    def make(D):
        return {"x": _bench.logits(D, (8, 5)), "t": _bench.labels(D, 8, 5)}
    if impls is None:
        impls = (_bench._fx(func, "x", "t"), _bench._ref("cross_entropy", "x", "t"))
    return _bench.Case(f"tiny-{func}", func, (8, 5), "float32", make, impls,
                       {"exp": 40}, 8 * 5 * 4 + 64)


def test_mismatch_is_marked_not_hidden():
    wrong = _bench.Impl("reference", False, lambda d, t: (lambda: np.float32(99.0)),
                        "wrong on purpose")
    case = _tiny_case(impls=(_bench._fx("cross_entropy", "x", "t"), wrong))
    report = _bench.run_suite([case], [1], TINY, impls=["reference"], progress=_quiet)
    peer = [r for r in report["results"] if r["impl"] == "reference"]
    assert peer and peer[0]["check"] == "MISMATCH"
    assert "MISMATCH" in _bench.format_report(report)


def test_missing_function_is_skipped_with_a_note():
    case = _tiny_case(func="no_such_function")
    report = _bench.run_suite([case], [1], TINY, impls=["reference"], progress=_quiet)
    assert report["results"] == []
    assert "does not exist yet" in report["skipped"][case.id]
    assert "skipped tiny-no_such_function" in _bench.format_report(report)


def test_not_implemented_is_skipped_with_a_note():
    def build(d, t):
        def call():
            raise NotImplementedError("lands later")
        return call
    case = _tiny_case(impls=(_bench.Impl("fastxent", True, build, "raises"),))
    report = _bench.run_suite([case], [1], TINY, progress=_quiet)
    assert report["results"] == []
    assert "lands later" in report["skipped"][case.id]


def test_failing_peer_is_reported():
    def build(d, t):
        def call():
            raise RuntimeError("peer broke")
        return call
    case = _tiny_case(impls=(_bench._fx("cross_entropy", "x", "t"),
                             _bench.Impl("reference", False, build, "raises")))
    report = _bench.run_suite([case], [1], TINY, progress=_quiet)
    peer = [r for r in report["results"] if r["impl"] == "reference"][0]
    assert peer["check"] == "error" and "peer broke" in peer["error"]
    text = _bench.format_report(report)
    assert "ERROR: RuntimeError: peer broke" in text
    json.dumps(_bench.jsonable(report), allow_nan=False)


def test_thread_groups_and_scaling_table():
    case = _tiny_case()
    report = _bench.run_suite([case], [1, 2], TINY, impls=["reference"], progress=_quiet)
    rows = report["results"]
    assert [(r["impl"], r["threads"], r["threads_used"], r["reused"]) for r in rows] == [
        ("fastxent", 1, 1, False), ("reference", 1, 1, False),
        ("fastxent", 2, 2, False), ("reference", 2, 1, True)]
    assert rows[2]["check"] == "same bits"
    text = _bench.format_report(report)
    assert "1*" in text and "thread scaling" in text
    assert fastxent.get_num_threads() >= 1  # thread setting restored


def test_plot_without_matplotlib(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    args = types.SimpleNamespace(plot="x.png")
    assert _bench.main(args) == 2
    assert "needs matplotlib" in capsys.readouterr().err


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    report = _bench.run_suite([_tiny_case()], [1, 2], TINY, impls=["reference"], progress=_quiet)
    path = tmp_path / "bench.png"
    _bench.plot_report(report, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_floor_formula():
    case = _tiny_case()
    floors = _bench.Floors({"exp/float32": 1e9}, {(case.bytes, 1): 1e12, (case.bytes, 2): 1e12}, 2)
    t1, bound = floors.of(case, 1)
    assert bound == "exp" and t1 == pytest.approx(40 / 1e9)
    assert floors.of(case, 2)[0] == pytest.approx(t1 / 2)
    slow_memory = _bench.Floors({"exp/float32": 1e9}, {(case.bytes, 1): 1e6}, 2)
    t, bound = slow_memory.of(case, 1)
    assert bound == "read" and t == pytest.approx(case.bytes / 1e6)
    assert math.isfinite(t)
