"""show_config(), the FASTXENT_ISA switch and set_isa()."""
import io
import json
import re
import sys

import numpy as np
import pytest

import fastxent
from _helpers import fx_config as _config, fx_kernels, run_python


def parse(text):
    """show_config's 'key: value' lines as a dict."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def test_show_config_prints_the_facts(capsys):
    fastxent.show_config()
    printed = capsys.readouterr().out
    cfg = parse(printed)
    assert cfg["fastxent"] == fastxent.__version__
    assert re.match(r"(gcc|clang|msvc)", cfg["compiler"]), cfg["compiler"]
    assert cfg["openmp"] in ("True", "False")
    assert cfg["isa"] == _config.ISA and cfg["isa"] in _config.ISA_LEVELS
    assert cfg["isa_supported"] in _config.ISA_LEVELS
    assert int(cfg["num_threads"]) == fastxent.get_num_threads()
    assert cfg["numpy"] == np.__version__
    assert cfg["python"] == sys.version.split()[0]


def test_show_config_writes_to_a_file_and_follows_set_num_threads():
    try:
        fastxent.set_num_threads(3)
        buf = io.StringIO()
        fastxent.show_config(file=buf)
        assert parse(buf.getvalue())["num_threads"] == "3"
    finally:
        fastxent.set_num_threads(None)


def test_show_config_openmp_matches_the_build():
    info = fx_kernels.build_info()
    cfg = _config.config()
    assert cfg["openmp"] == info["openmp"]
    assert (cfg["openmp_version"] > 0) == info["openmp"]


@pytest.mark.parametrize("level", _config.ISA_LEVELS)
def test_fastxent_isa_environment_variable(level):
    proc = run_python("""
        import fastxent
        fastxent.show_config()
    """, FASTXENT_ISA=level)
    assert proc.returncode == 0, proc.stderr
    cfg = parse(proc.stdout)
    supported = _config.supported_isa_levels()
    want = level if level in supported else supported[-1]
    assert cfg["isa"] == want
    assert cfg["isa_forced"] == level


def test_fastxent_isa_is_case_and_space_insensitive():
    proc = run_python(f"import {_config.__name__} as c; print(c.ISA)", FASTXENT_ISA=" BaseLine ")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "baseline"


def test_fastxent_isa_bogus_raises_import_error():
    proc = run_python("""
        try:
            import fastxent
        except ImportError as exc:
            print("ImportError:", exc)
        else:
            print("imported")
    """, FASTXENT_ISA="bogus")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    assert out.startswith("ImportError:"), out
    assert "FASTXENT_ISA" in out and "bogus" in out
    for level in _config.ISA_LEVELS:
        assert level in out


def test_forced_baseline_gives_the_same_bits_as_set_isa():
    """FASTXENT_ISA=baseline in a fresh process and set_isa('baseline') here
    select the same kernels."""
    proc = run_python("""
        import json
        import numpy as np, fastxent
        x = np.random.default_rng(5).normal(size=(300, 77)).astype(np.float32)
        t = np.random.default_rng(6).integers(0, 77, size=300)
        loss, grad = fastxent.cross_entropy(x, t, reduction="sum", return_grad=True)
        print(json.dumps([loss.tobytes().hex(), grad.tobytes().hex()]))
    """, FASTXENT_ISA="baseline")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    x = np.random.default_rng(5).normal(size=(300, 77)).astype(np.float32)
    t = np.random.default_rng(6).integers(0, 77, size=300)
    before = _config.ISA
    try:
        assert _config.set_isa("baseline") == "baseline"
        loss, grad = fastxent.cross_entropy(x, t, reduction="sum", return_grad=True)
    finally:
        _config.set_isa(before)
    assert got == [loss.tobytes().hex(), grad.tobytes().hex()]


def test_set_isa():
    before = _config.ISA
    try:
        for level in _config.supported_isa_levels():
            assert _config.set_isa(level) == level
            assert _config.ISA == level
            assert _config.config()["isa"] == level
            assert fx_kernels.build_info()["isa"] == level
        # a level the CPU lacks gives the best supported one
        best = _config.supported_isa_levels()[-1]
        assert _config.set_isa("avx512") == best
        with pytest.raises(ValueError):
            _config.set_isa("sse9")
        assert _config.ISA == best
    finally:
        _config.set_isa(before)
    assert _config.ISA == before


def test_supported_levels_start_with_baseline():
    levels = _config.supported_isa_levels()
    assert levels[0] == "baseline"
    assert list(levels) == list(_config.ISA_LEVELS[:len(levels)])


@pytest.mark.parametrize("runner", [None, "omp-dynamic", "omp-static"])
def test_show_config_reports_the_thread_runner(runner):
    from _helpers import run_python_json
    got = run_python_json("import json, fastxent; print(json.dumps(fastxent._config.config()))",
                          FASTXENT_THREAD_RUNNER=runner)
    if not got["openmp"]:
        assert got["thread_runner"] == "serial"
    else:
        assert got["thread_runner"] == (runner or "pool")
