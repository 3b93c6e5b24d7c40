"""The thread pool that runs a call's blocks (csrc/fx_pool.c, issue 13).

Blocks are claimed dynamically by the calling thread and the pool's
workers, so which thread runs a block changes from call to call; results
must not: every call, at any thread count and with any runner, gives the
bits of the 1-thread call, and that call agrees with the NumPy reference.
Calls from several Python threads at once (the GIL is released) each get
their own answer. No timing is asserted here (benchmarks/contention.py).
"""
import multiprocessing as mp
import os
import sys
import threading

import numpy as np
import pytest

import fastxent as fx
from _helpers import fx_kernels, run_python_json
from fastxent import reference as ref

THREADS = (1, 2, 3, 4)
openmp = pytest.mark.skipif(not fx_kernels.build_info()["openmp"],
                            reason="fastxent was built without OpenMP (serial kernels)")


def _data(shape, seed, C=None):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32) * 3
    y = rng.integers(0, shape[1] if C is None else C, shape[0])
    return x, y


def _calls(x, y):
    """Kernels of every driver path, each returning something comparable."""
    soft = np.abs(x) / np.abs(x).sum(axis=1, keepdims=True)
    return {
        "xent_mean": lambda nt: fx.cross_entropy(x, y, num_threads=nt),
        "xent_none": lambda nt: fx.cross_entropy(x, y, reduction="none", num_threads=nt),
        "xent_grad": lambda nt: fx.cross_entropy(x, y, reduction="sum", return_grad=True,
                                                 num_threads=nt),
        "bce": lambda nt: fx.binary_cross_entropy_with_logits(x, (x > 0).astype(x.dtype),
                                                              num_threads=nt),
        "logsumexp": lambda nt: fx.logsumexp(x, num_threads=nt),
        "softmax": lambda nt: fx.softmax(x, num_threads=nt),
        "entropy": lambda nt: fx.entropy(soft),   # the default thread count
        "evaluate": lambda nt: _eval_sums(fx.evaluate(x, y, num_threads=nt)),
    }


def _eval_sums(r):
    return (r.nll_sum, r.brier, r.ece, r.mrr, r.topk_accuracy[1])


def _bits(v):
    if isinstance(v, tuple):
        return tuple(_bits(e) for e in v)
    a = np.asarray(v)
    return a.dtype.str, a.shape, a.tobytes()


def _reference_checks(x, y, calls):
    np.testing.assert_allclose(calls["xent_mean"](1), ref.cross_entropy(x, y), rtol=2e-5)
    np.testing.assert_allclose(calls["xent_none"](1), ref.cross_entropy(x, y, reduction="none"),
                               rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(calls["logsumexp"](1), ref.logsumexp(x), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(calls["evaluate"](1)[0], ref.cross_entropy(x, y, reduction="sum"),
                               rtol=2e-5)


@openmp
@pytest.mark.parametrize("shape", [(65536, 10), (8192, 200), (64, 20000)])
def test_repeated_calls_at_every_thread_count_give_the_same_bits(shape):
    x, y = _data(shape, sum(shape))
    calls = _calls(x, y)
    _reference_checks(x, y, calls)
    for name, call in calls.items():
        want = _bits(call(1))
        for i in range(24):
            nt = THREADS[i % len(THREADS)]
            assert _bits(call(nt)) == want, (name, nt, i)


@openmp
def test_a_range_of_more_blocks_than_one_pool_job_takes():
    # (outer, C, inner) = (150000, 2, 2), classes on axis 1: a block per
    # outer index, 150000 blocks of 4 elements in one range, more than the
    # 65535 indices of one pool generation
    rng = np.random.default_rng(5)
    x = rng.standard_normal((150000, 2, 2)).astype(np.float32)
    y = rng.integers(0, 2, (150000, 2))
    want = fx.cross_entropy(x, y, axis=1, reduction="sum", num_threads=1)
    np.testing.assert_allclose(want, ref.cross_entropy(x, y, axis=1, reduction="sum"),
                               rtol=2e-5)
    for nt in (2, 3, 2, 4):
        assert fx.cross_entropy(x, y, axis=1, reduction="sum", num_threads=nt) == want


@openmp
def test_concurrent_calls_from_python_threads_each_get_their_own_answer():
    inputs = [_data(shape, seed) for seed, shape in
              enumerate([(65536, 10), (8192, 300), (4096, 700), (32768, 33)])]
    wants = []
    for x, y in inputs:
        calls = _calls(x, y)
        wants.append({name: _bits(call(1)) for name, call in calls.items()})
    errors = []
    start = threading.Barrier(len(inputs))

    def worker(k):
        x, y = inputs[k]
        calls = _calls(x, y)
        try:
            start.wait()
            for i in range(12):
                for name, call in calls.items():
                    got = _bits(call(THREADS[(i + k) % len(THREADS)]))
                    if got != wants[k][name]:
                        errors.append((k, name, i))
        except Exception as exc:  # noqa: BLE001 - reported by the assert below
            errors.append((k, repr(exc)))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a concurrent call did not finish"
    assert errors == []


@pytest.mark.parametrize("shape", [(0, 5), (1, 1), (3, 7), (5, 0), (40, 1000), (1, 40000)])
@pytest.mark.parametrize("nt", [1, 2, 4])
def test_tiny_and_empty_inputs(shape, nt):
    rng = np.random.default_rng(shape[0] + 3 * shape[1])
    x = rng.standard_normal(shape).astype(np.float32)
    if shape[1] == 0:
        # no classes: the per-row losses are the empty logsumexp (-inf)
        np.testing.assert_array_equal(fx.logsumexp(x, num_threads=nt), ref.logsumexp(x))
        return
    y = rng.integers(0, shape[1], shape[0])
    for red in ("mean", "sum", "none"):
        got = fx.cross_entropy(x, y, reduction=red, num_threads=nt)
        np.testing.assert_allclose(got, ref.cross_entropy(x, y, reduction=red), rtol=2e-5,
                                   atol=1e-6)
        assert _bits(got) == _bits(fx.cross_entropy(x, y, reduction=red, num_threads=1))


@openmp
@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs /proc (Linux)")
def test_the_pool_starts_only_the_threads_a_call_asks_for():
    got = run_python_json("""
        import json, os
        import numpy as np
        import fastxent as fx
        def threads():
            return len(os.listdir("/proc/self/task"))
        x = np.random.default_rng(0).standard_normal((8192, 500)).astype(np.float32)
        y = np.zeros(8192, dtype=np.int64)
        counts = [threads()]
        for nt in (1, 2, 2, 3, 2):
            fx.cross_entropy(x, y, num_threads=nt)
            counts.append(threads())
        print(json.dumps(counts))
    """, FASTXENT_THREAD_RUNNER=None)
    base = got[0]
    # 1 thread: none; 2: one worker; 3: a second; fewer later: none more
    assert [c - base for c in got] == [0, 0, 1, 1, 2, 2]


@openmp
@pytest.mark.parametrize("runner, env", [
    ("pool", {}), ("pool", {"OMP_WAIT_POLICY": "passive"}),
    ("pool", {"FASTXENT_POOL_SPIN_US": "0"}), ("omp-dynamic", {}), ("omp-static", {})])
def test_every_runner_gives_the_same_bits(runner, env):
    got = run_python_json("""
        import json
        import numpy as np
        import fastxent as fx
        rng = np.random.default_rng(7)
        x = rng.standard_normal((20000, 300)).astype(np.float32)
        y = rng.integers(0, 300, 20000)
        out = [float(fx.cross_entropy(x, y, num_threads=nt)).hex() for nt in (1, 2, 3)]
        out += [float(fx.evaluate(x, y, num_threads=nt).nll_sum).hex() for nt in (1, 2)]
        print(json.dumps(out))
    """, FASTXENT_THREAD_RUNNER=runner, **env)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((20000, 300)).astype(np.float32)
    y = rng.integers(0, 300, 20000)
    want = float(fx.cross_entropy(x, y, num_threads=1)).hex()
    assert got[:3] == [want] * 3
    assert got[3:] == [float(fx.evaluate(x, y, num_threads=1).nll_sum).hex()] * 2


def _forked_child(conn, x, y):
    try:
        conn.send((float(fx.cross_entropy(x, y, num_threads=2)),
                   float(fx.evaluate(x, y, num_threads=2).nll_sum)))
    finally:
        conn.close()


@openmp
@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork()")
def test_fork_while_another_thread_runs_pool_jobs():
    """The child may inherit the pool mid-job (its lock held, workers
    absent): it must run serially without touching it, and be right."""
    x, y = _data((8192, 500), 11)
    want = (float(fx.cross_entropy(x, y, num_threads=1)),
            float(fx.evaluate(x, y, num_threads=1).nll_sum))
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            fx.cross_entropy(x, y, num_threads=2)

    t = threading.Thread(target=busy)
    t.start()
    try:
        ctx = mp.get_context("fork")
        for _ in range(3):
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_forked_child, args=(send, x, y))
            proc.start()
            send.close()
            if not recv.poll(60):
                proc.kill()
                proc.join()
                pytest.fail("the forked child did not finish within 60 s")
            assert recv.recv() == want
            proc.join(10)
            assert proc.exitcode == 0
    finally:
        stop.set()
        t.join()
