"""`python -m fastxent bench` (fastxent.bench.cli) and the package as a whole:
the command line, its JSON and Markdown, its errors, and that importing
fastxent stays free of the bench and its optional dependencies."""
import json
import subprocess
import sys
import types

import pytest

import fastxent.bench
from fastxent.__main__ import main
from fastxent.bench import cli

SMALL_CASE = "xent-f32-64x10"


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


def test_list_names_every_standard_case(capsys):
    assert main(["bench", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == [c.id for c in fastxent.bench.standard_cases()]


@pytest.mark.parametrize("argv,message", [
    (["--cases", "no-such-case"], "no case matches 'no-such-case'"),
    (["--impls", "torch,numba"], "unknown --impls ['numba']"),
    (["--threads", "0"], "--threads: expected comma-separated positive integers, got '0'"),
    (["--threads", "two"], "got 'two'"),
])
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys):
    assert main(["bench"] + argv) == 2
    assert message in capsys.readouterr().err


def test_parse_threads():
    assert cli.parse_threads("2,1,2") == [2, 1]
    assert cli.parse_threads(None) == sorted({1, fastxent.bench.usable_cpus()})


def test_plot_without_matplotlib(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    args = types.SimpleNamespace(plot="x.png")
    assert cli.main(args) == 2
    assert "needs matplotlib" in capsys.readouterr().err


def test_public_names_exist():
    for name in fastxent.bench.__all__:
        assert hasattr(fastxent.bench, name), name


@pytest.mark.parametrize("module,absent", [
    ("fastxent", ("fastxent.bench", "matplotlib", "torch", "jax", "optax", "scipy", "sklearn")),
    ("fastxent.bench.cli", ("matplotlib", "torch", "jax", "optax", "scipy", "sklearn")),
])
def test_imports_stay_lazy(module, absent):
    code = (f"import sys, {module}; "
            f"print(sorted(m for m in {absent!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
