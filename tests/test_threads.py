"""Thread-count policy: set_num_threads / get_num_threads, per-call
num_threads, OMP_NUM_THREADS, CPU affinity and threadpoolctl's limits.

Environment-dependent checks run in a fresh interpreter, because OpenMP reads
OMP_NUM_THREADS once, when the runtime starts.
"""
import os

import numpy as np
import pytest

import fastxent
from _helpers import fx_kernels, run_python_json as run_python, usable_cpus



@pytest.fixture
def restore_threads():
    yield
    fastxent.set_num_threads(None)


def test_default_is_the_usable_cpu_count(restore_threads):
    got = run_python("""
        import json, os, fastxent
        print(json.dumps([fastxent.get_num_threads(), len(os.sched_getaffinity(0))]))
    """, OMP_NUM_THREADS=None)
    assert got[0] == got[1] >= 1


def test_set_and_get(restore_threads):
    for n in (1, 2, 3, 7):
        assert fastxent.set_num_threads(n) is None
        assert fastxent.get_num_threads() == n
        assert isinstance(fastxent.get_num_threads(), int)
    fastxent.set_num_threads(np.int64(2))            # any integer type
    assert fastxent.get_num_threads() == 2
    fastxent.set_num_threads(None)
    assert fastxent.get_num_threads() == min(usable_cpus(),
                                             fx_kernels.omp_max_threads())


@pytest.mark.parametrize("n", [0, -1, 1.5, "2", [2], float("nan")])
def test_set_num_threads_rejects(restore_threads, n):
    fastxent.set_num_threads(3)
    with pytest.raises(ValueError):
        fastxent.set_num_threads(n)
    assert fastxent.get_num_threads() == 3            # unchanged by the bad call


@pytest.mark.parametrize("n", [0, -1, 1.5, "2", [2]])
def test_per_call_num_threads_is_validated(n):
    x = np.zeros((4, 3))
    t = np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError):
        fastxent.cross_entropy(x, t, num_threads=n)


def test_per_call_num_threads_does_not_change_the_global_setting(restore_threads):
    fastxent.set_num_threads(1)
    x = np.random.default_rng(0).normal(size=(4096, 16))
    t = np.zeros(4096, dtype=np.int64)
    a = fastxent.cross_entropy(x, t, num_threads=2)
    assert fastxent.get_num_threads() == 1
    assert a == fastxent.cross_entropy(x, t)


@pytest.mark.parametrize("omp", ["1", "2"])
def test_omp_num_threads_is_honoured(omp):
    if int(omp) > usable_cpus():
        pytest.skip(f"needs {omp} usable CPUs")
    got = run_python("""
        import json, fastxent
        before = fastxent.get_num_threads()
        fastxent.set_num_threads(2)          # an explicit setting wins
        explicit = fastxent.get_num_threads()
        fastxent.set_num_threads(None)
        print(json.dumps([before, explicit, fastxent.get_num_threads()]))
    """, OMP_NUM_THREADS=omp)
    assert got == [int(omp), 2, int(omp)]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no sched_setaffinity")
def test_respects_cpu_affinity():
    """A process bound to one CPU before the import defaults to one thread."""
    got = run_python("""
        import json, os
        cpu = sorted(os.sched_getaffinity(0))[0]
        os.sched_setaffinity(0, {cpu})
        import fastxent
        import numpy as np
        x = np.random.default_rng(1).normal(size=(2048, 64))
        t = np.zeros(2048, dtype=np.int64)
        loss = float(fastxent.cross_entropy(x, t))
        print(json.dumps([fastxent.get_num_threads(), loss]))
    """, OMP_NUM_THREADS=None)
    assert got[0] == 1
    x = np.random.default_rng(1).normal(size=(2048, 64))
    t = np.zeros(2048, dtype=np.int64)
    assert got[1] == float(fastxent.cross_entropy(x, t))    # same bits, any thread count


def test_threadpoolctl_openmp_limit(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    info = [d for d in threadpoolctl.threadpool_info() if d.get("user_api") == "openmp"]
    if not fx_kernels.build_info()["openmp"]:
        pytest.skip("fastxent was built without OpenMP")
    if not info:
        pytest.skip("threadpoolctl does not find the OpenMP runtime fastxent links")
    fastxent.set_num_threads(None)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastxent.get_num_threads() == 1
        x = np.zeros((4096, 16))
        # each row within 2 ulp of log(16), plus the rounding of the sum
        np.testing.assert_allclose(fastxent.cross_entropy(x, np.zeros(4096, dtype=np.int64)),
                                   np.log(16), rtol=1e-13, atol=0)
    assert fastxent.get_num_threads() == min(usable_cpus(),
                                             fx_kernels.omp_max_threads())
    # an explicit setting is not overridden by the limit
    fastxent.set_num_threads(2)
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert fastxent.get_num_threads() == 2
