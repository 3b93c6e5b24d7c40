"""Shared fixtures of the pytest-benchmark suites.

The cases, their data and the peer calls (PyTorch, SciPy, scikit-learn) are
those of ``python -m fastxent bench`` (:mod:`fastxent._bench`), so both time
the same thing. Each test is one implementation at one thread count;
``benchmark.group`` is the function and shape, so pytest-benchmark lists the
implementations side by side.

    python -m pytest benchmarks --benchmark-only        # time
    python -m pytest benchmarks --benchmark-disable -q  # run each call once (CI)
"""
import numpy as np
import pytest

import fastxent
from fastxent import _bench


@pytest.fixture(scope="module")
def data():
    """Deterministic arrays, the same as the CLI's, shared within a module."""
    cache = _bench._DataCache()
    yield cache
    cache.clear()


# --benchmark-disable runs each call once to check the suite still works (CI);
# a few rows of each shape do that as well as thousands, at any class count.
_DISABLED_ROWS = 16


@pytest.fixture
def bench_case(benchmark, data):
    """Time `impl` at `threads` threads on ``make_case(*shape, **kw)``.

    ``make_case`` is one of the case constructors of :mod:`fastxent._bench`;
    with --benchmark-disable the shape keeps only a few rows.
    """
    def run(make_case, shape, impl, threads, **kw):
        if benchmark.disabled:
            shape = (min(shape[0], _DISABLED_ROWS),) + tuple(shape[1:])
        case = make_case(*shape, **kw)
        if getattr(fastxent, case.func, None) is None:
            pytest.skip(f"fastxent.{case.func} does not exist yet")
        impls = {i.name: i for i in case.impls}
        if impl not in impls:
            pytest.skip(f"{impl} has no counterpart of {case.func}")
        call = impls[impl].build(case.make(data), threads)
        options = case.options.replace("index targets", "").strip(", ")
        benchmark.group = f"{case.func} {case.dtype} {case.shape} {options}".rstrip()
        benchmark.extra_info.update(case=case.id, impl=impl, threads=threads,
                                    elements=case.elements, bytes=case.bytes)
        with _bench.thread_setting(threads, use_torch=impl == "torch"):
            try:
                result = benchmark(call)
            except NotImplementedError as e:
                if impl != "fastxent":
                    raise
                pytest.skip(f"fastxent: {e}")
        for a in _bench.as_arrays(result):
            assert a.size and np.isfinite(a).all(), f"{impl}: non-finite result"
        return result
    return run
