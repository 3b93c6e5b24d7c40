"""fastxent.bench.jaxpeer: jitted JAX as a peer. Its rows appear, pinned to
as many CPUs as the row's threads and agreeing with fastxent, when jax is
installed; without jax the bench runs as before and never imports it."""
import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from fastxent.bench import DataCache, Settings, format_report, make_case, run_suite
from fastxent.bench.jaxpeer import affinity_cpus, jax_impl

TINY = Settings(target=0.002, min_repeats=3, max_repeats=5, min_sample=1e-4, quick=True)


def _quiet(*args, **kwargs):
    pass


def test_without_jax_the_bench_runs_as_before(monkeypatch):
    monkeypatch.setitem(sys.modules, "jax", None)    # as if not installed: import fails
    monkeypatch.setitem(sys.modules, "optax", None)
    case = make_case("cross_entropy", 8, 5)
    assert case.impl("jax") is not None
    report = run_suite([case], [1], TINY, impls=["reference", "jax"], progress=_quiet)
    assert [r["impl"] for r in report["results"]] == ["fastxent", "reference"]
    assert "jax not installed" in report["unavailable"]["jax"]
    assert "not timed: jax: jax not installed" in format_report(report)


def test_building_the_cases_imports_no_jax():
    code = ("import sys, fastxent.bench as b; b.standard_cases(); "
            "b.make_case('cross_entropy', 8, 5, grad=True); "
            "print(sorted(m for m in ('jax', 'jaxlib', 'optax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"


# --------------------------------------------------------------------------
# with jax installed

@pytest.fixture
def jax():
    jax = pytest.importorskip("jax")
    yield jax
    jax.config.update("jax_enable_x64", False)  # float64 cases turn it on in this process


def test_jax_rows_are_pinned_and_agree(jax):
    """The real child process at 1 and 2 threads: one CPU each thread."""
    report = run_suite([make_case("cross_entropy", 64, 10)], [1, 2], TINY, impls=["jax"],
                       progress=_quiet)
    rows = {(r["impl"], r["threads"]): r for r in report["results"]}
    usable = sorted(os.sched_getaffinity(0))
    for t in (1, 2):
        r = rows[("jax", t)]
        assert r["check"] == "ok" and r["max_err"] < 1e-6, r
        assert r["cpus"] == usable[:t] == affinity_cpus(t)
        n = len(r["cpus"])
        assert r["pinning"] == f"own process, affinity {n} CPU{'s' if n > 1 else ''}"
        assert r["median_s"] > 0 and r["speedup"] > 0 and r["jax_version"] == jax.__version__
    assert report["settings"]["impls"] == ["fastxent", "jax"]
    text = format_report(report)
    assert "jax (1 CPU)" in text and "1 thr: own process, affinity 1 CPU" in text


def test_a_failing_jax_child_is_reported(jax):
    case = make_case("cross_entropy", 8, 5)
    broken = jax_impl("no_such_function", "x", call_jax="nothing")
    case = dataclasses.replace(case, impls=(case.impl("fastxent"), broken))
    report = run_suite([case], [1], TINY, impls=["jax"], progress=_quiet)
    row = [r for r in report["results"] if r["impl"] == "jax"][0]
    assert row["check"] == "error" and "jax child process failed" in row["error"]
    assert "no_such_function" in row["error"]


JAX_CASES = [
    ("cross_entropy", {}), ("cross_entropy", {"soft": True}),
    ("cross_entropy", {"label_smoothing": 0.1}),
    ("cross_entropy", {"soft": True, "label_smoothing": 0.2}),
    ("cross_entropy", {"grad": True}), ("cross_entropy", {"grad": True, "label_smoothing": 0.1}),
    ("cross_entropy", {"dtype": "float64"}), ("cross_entropy", {"dtype": "bfloat16"}),
    ("cross_entropy", {"dtype": "float16"}),
    ("log_softmax", {}), ("softmax", {}), ("logsumexp", {}), ("entropy", {}),
    ("kl_divergence", {}), ("binary_cross_entropy_with_logits", {}),
]


@pytest.mark.parametrize("with_optax", [True, False], ids=["optax", "jax.nn"])
@pytest.mark.parametrize("func,options", JAX_CASES)
def test_every_jax_expression_matches_the_reference(jax, monkeypatch, func, options,
                                                    with_optax):
    """Each case's JAX call (optax's, and the jax.nn one without optax) in
    this process against the NumPy twin and fastxent."""
    if with_optax:
        pytest.importorskip("optax")
    else:
        monkeypatch.setitem(sys.modules, "optax", None)
    if options.get("dtype") == "bfloat16":
        pytest.importorskip("ml_dtypes")
    case = make_case(func, 24, 7, **options)
    data = case.make(DataCache())
    got = case.impl("jax").build(data, 1)()
    rtol = 1e-12 if case.dtype == "float64" else 2e-6
    for want in (case.impl("reference").build(data, 1)(), case.impl("fastxent").build(data, 1)()):
        got_t, want_t = (got, want) if isinstance(want, tuple) else ((got,), (want,))
        assert len(got_t) == len(want_t)
        for g, w in zip(got_t, want_t):
            g = np.asarray(g)
            assert g.dtype == np.dtype(case.dtype) and g.shape == np.shape(w)
            np.testing.assert_allclose(g.astype(np.float64), np.asarray(w, dtype=np.float64),
                                       rtol=rtol, atol=rtol)
    uses_optax = with_optax and func in ("cross_entropy", "binary_cross_entropy_with_logits")
    assert ("optax." in case.impl("jax").call) == uses_optax
