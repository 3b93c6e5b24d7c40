"""Shared fixtures of the pytest-benchmark suites.

The cases, their data and the peer calls (PyTorch, SciPy, scikit-learn) are
those of ``python -m fastxent bench`` (:mod:`fastxent.bench`), so both time
the same thing. Each test is one implementation at one thread count;
``benchmark.group`` is the function and shape, so pytest-benchmark lists the
implementations side by side.

    python -m pytest benchmarks --benchmark-only        # time
    python -m pytest benchmarks --benchmark-disable -q  # run each call once (CI)
"""
import numpy as np
import pytest

from fastxent.bench import DataCache, as_arrays, make_case, thread_setting


@pytest.fixture(scope="module")
def data():
    """Deterministic arrays, the same as the CLI's, shared within a module."""
    cache = DataCache()
    yield cache
    cache.clear()


# --benchmark-disable runs each call once to check the suite still works (CI);
# a few rows of each shape do that as well as thousands, at any class count.
_DISABLED_ROWS = 16


@pytest.fixture
def bench_case(benchmark, data):
    """Time `impl` at `threads` threads on ``make_case(func, *shape, **options)``.

    `func` is a fastxent function (see ``fastxent.bench.CASE_MAKERS``); with
    --benchmark-disable the shape keeps only a few rows.
    """
    def run(func, shape, impl, threads, **options):
        if benchmark.disabled:
            shape = (min(shape[0], _DISABLED_ROWS),) + tuple(shape[1:])
        case = make_case(func, *shape, **options)
        if case.missing:
            pytest.skip(case.missing)
        chosen = case.impl(impl)
        if chosen is None:
            pytest.skip(f"{impl} has no counterpart of {case.func}")
        call = chosen.build(case.make(data), threads)
        label = case.options.replace("index targets", "").strip(", ")
        benchmark.group = f"{case.func} {case.dtype} {case.shape} {label}".rstrip()
        benchmark.extra_info.update(case=case.id, impl=impl, threads=threads,
                                    elements=case.elements, bytes=case.bytes)
        with thread_setting(threads, use_torch=impl == "torch"):
            try:
                result = benchmark(call)
            except NotImplementedError as e:
                if impl != "fastxent":
                    raise
                pytest.skip(f"fastxent: {e}")
        for a in as_arrays(result):
            assert a.size and np.isfinite(a).all(), f"{impl}: non-finite result"
        return result
    return run
