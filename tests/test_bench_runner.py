"""fastxent.bench.runner: the honesty of a run (mismatches, missing functions
and failing peers are reported, never hidden) and its thread groups."""
import dataclasses

import numpy as np

import fastxent
from fastxent.bench import Impl, Settings, make_case, run_suite
from fastxent.bench.cases import fastxent_impl, reference_impl

TINY = Settings(target=0.002, min_repeats=3, max_repeats=5, min_sample=1e-4, quick=True)


def _quiet(*args, **kwargs):
    pass


def tiny_case(func="cross_entropy", impls=None):
    """cross_entropy on (8, 5), its impls and function name replaceable."""
    if impls is None:
        impls = (fastxent_impl(func, "x", "t"), reference_impl("cross_entropy", "x", "t"))
    return dataclasses.replace(make_case("cross_entropy", 8, 5), id=f"tiny-{func}", func=func,
                               impls=impls)


def _raises(exc):
    def build(d, t):
        def call():
            raise exc
        return call
    return build


def test_mismatch_is_marked_not_hidden():
    wrong = Impl("reference", False, lambda d, t: (lambda: np.float32(99.0)), "wrong on purpose")
    case = tiny_case(impls=(fastxent_impl("cross_entropy", "x", "t"), wrong))
    report = run_suite([case], [1], TINY, impls=["reference"], progress=_quiet)
    peer = [r for r in report["results"] if r["impl"] == "reference"]
    assert peer and peer[0]["check"] == "MISMATCH" and peer[0]["max_err"] > 1


def test_missing_function_is_skipped_with_a_note():
    case = tiny_case(func="no_such_function")
    report = run_suite([case], [1], TINY, impls=["reference"], progress=_quiet)
    assert report["results"] == []
    assert "does not exist yet" in report["skipped"][case.id]
    assert report["cases"][0]["skipped"] == report["skipped"][case.id]


def test_not_implemented_is_skipped_with_a_note():
    case = tiny_case(impls=(Impl("fastxent", True, _raises(NotImplementedError("lands later")),
                                 "raises"),))
    report = run_suite([case], [1], TINY, progress=_quiet)
    assert report["results"] == []
    assert "lands later" in report["skipped"][case.id]


def test_failing_peer_is_reported():
    case = tiny_case(impls=(fastxent_impl("cross_entropy", "x", "t"),
                            Impl("reference", False, _raises(RuntimeError("peer broke")),
                                 "raises")))
    report = run_suite([case], [1], TINY, progress=_quiet)
    peer = [r for r in report["results"] if r["impl"] == "reference"][0]
    assert peer["check"] == "error" and "peer broke" in peer["error"]
    assert "median_s" not in peer and "speedup" not in peer


def test_thread_groups():
    fastxent.set_num_threads(None)
    default = fastxent.get_num_threads()
    report = run_suite([tiny_case()], [1, 2], TINY, impls=["reference"], progress=_quiet)
    rows = report["results"]
    assert [(r["impl"], r["threads"], r["threads_used"], r["reused"]) for r in rows] == [
        ("fastxent", 1, 1, False), ("reference", 1, 1, False),
        ("fastxent", 2, 2, False), ("reference", 2, 1, True)]
    assert rows[0]["check"] == "anchor" and rows[2]["check"] == "same bits"
    assert rows[3]["times_s"] == rows[1]["times_s"]  # measured once, repeated
    assert rows[3]["speedup"] == rows[1]["median_s"] / rows[2]["median_s"]
    assert all(r["floor_s"] > 0 and r["floor_fraction"] > 0 for r in rows)
    assert report["settings"]["threads"] == [1, 2]
    assert fastxent.get_num_threads() == default  # thread setting restored


def test_unavailable_impls_are_named():
    case = tiny_case(impls=(fastxent_impl("cross_entropy", "x", "t"),
                            Impl("sklearn", False, lambda d, t: (lambda: 0.0), "no import")))
    report = run_suite([case], [1], TINY, impls=["reference"], progress=_quiet)
    assert [r["impl"] for r in report["results"]] == ["fastxent"]  # sklearn not wanted
    assert report["settings"]["impls"] == ["fastxent"]
