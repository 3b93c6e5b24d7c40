"""fastxent.dask: every result equals the in-memory call bit for bit, for any
chunking, on a real distributed cluster (2 worker processes), the threaded
and the synchronous schedulers; a worker killed mid-computation changes
nothing. Skipped only where dask is not installed (CI installs it)."""
import math
import os
import pickle
import sys

import numpy as np
import pytest

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

import fastxent  # noqa: E402
import fastxent.dask as fxd  # noqa: E402
from _helpers import run_python_json  # noqa: E402

# the workers unpickle this module's functions by value, not by import
cloudpickle.register_pickle_by_value(sys.modules[__name__])

N, C = 61, 11
CHUNKINGS = {"uneven": (20, 3, 30, 8), "single-row": 1, "prime": 7, "many-small": 2}
OPTS = dict(topk=(1, 3), n_bins=7, per_class=True, confusion_matrix=True)


# Started once, for this module only: a cluster left running would allocate in
# its event-loop thread during later tests (tracemalloc-based tests count it).
@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster, set_as_default=False) as c:
        yield c


@pytest.fixture(params=["distributed", "threads", "sync"])
def scheduler(request):
    sched = request.getfixturevalue("client") if request.param == "distributed" \
        else request.param
    with dask.config.set(scheduler=sched):
        yield request.param


def bits(r):
    """Every number of an EvalResult, exactly (repr keeps every bit, -0.0 too)."""
    return repr(r.to_dict())


def data(dtype, n=N, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, C)) * 3).astype(dtype)
    y = rng.integers(0, C, n)
    y[rng.random(n) < 0.15] = -100
    w = rng.random(n) * rng.choice([0.0, 1.0, 1e-300, 1e300], n, p=[0.1, 0.7, 0.1, 0.1])
    seg = np.sort(rng.integers(0, n // 5, n))   # segments cross the chunk borders
    xr = (x + rng.standard_normal((n, C))).astype(dtype)
    return x, y, w, seg, xr


def chunked(a, rows):
    return da.from_array(a, chunks=(rows,) + a.shape[1:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunking", list(CHUNKINGS))
def test_evaluate_bitwise_any_chunking(scheduler, chunking, dtype):
    n = 29 if chunking == "single-row" else N   # one task per row: fewer rows
    x, y, w, seg, _ = data(dtype, n=n)
    want = fastxent.evaluate(x, y, sample_weight=w, segment_ids=seg, **OPTS)
    rows = CHUNKINGS[chunking]
    got = fxd.evaluate(chunked(x, rows), chunked(y, rows), sample_weight=w, segment_ids=seg,
                       **OPTS)
    assert bits(got) == bits(want)
    assert got.n_rows == n and got.segments.id.size == np.unique(seg).size


def test_evaluate_every_option_and_merge_tree(scheduler):
    x, y, w, seg, xr = data(np.float64, seed=1)
    y[y == -100] = 3
    x[5, 2] = np.nan   # a counted non-finite row, skipped
    y[5] = 1
    kw = dict(ties="last", nonfinite="skip", ignore_index=3, **OPTS)
    want = fastxent.evaluate(x, y, reference_logits=xr, sample_weight=w, **kw)
    for split_every in (2, 3, 64):
        got = fxd.evaluate(chunked(x, 6), y, reference_logits=chunked(xr, 9), sample_weight=w,
                           split_every=split_every, **kw)
        assert bits(got) == bits(want), split_every
    assert want.n_nonfinite == 1


def test_evaluate_nd_rows_class_axis_first_and_split_classes(scheduler):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 13, 9))
    y = rng.integers(0, 9, (5, 13))
    seg = np.arange(65).reshape(5, 13) // 4
    want = fastxent.evaluate(x, y, segment_ids=seg, **OPTS)
    got = fxd.evaluate(da.from_array(x, chunks=(2, 5, 4)), y, segment_ids=seg, **OPTS)
    assert bits(got) == bits(want)
    xt = np.moveaxis(x, -1, 0)
    want0 = fastxent.evaluate(xt, y, axis=0, **OPTS)
    assert bits(fxd.evaluate(da.from_array(xt, chunks=(9, 3, 4)), y, axis=0, **OPTS)) \
        == bits(want0)


def test_rechunking_a_large_class_axis_warns():
    x = da.zeros((4096, 8192), chunks=(1024, 2048), dtype=np.float32)   # 128 MiB, lazy
    with pytest.warns(da.core.PerformanceWarning, match="class axis 1 is split into 4"):
        out = fxd.log_softmax(x)
    assert out.chunks[1] == (8192,)
    small = da.zeros((64, 16), chunks=(8, 4))
    with dask.config.set(scheduler="sync"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = fxd.evaluate(small, np.zeros(64, np.int64))
    assert bits(got) == bits(fastxent.evaluate(np.zeros((64, 16)), np.zeros(64, np.int64)))


# ------------------------------------------------------------ losses
def _exact_reduction(none, denom, reduction, dtype):
    """The reference: math.fsum of the in-memory per-row losses (and of the
    denominator terms), divided in float64, then the compute dtype."""
    total = math.fsum(none.astype(np.float64).ravel())
    if reduction == "sum":
        return dtype.type(total)
    d = math.fsum(denom)
    return dtype.type(total / d) if d else dtype.type("nan")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["plain", "weighted", "smoothed", "soft"])
def test_cross_entropy_reductions_exact(scheduler, dtype, case):
    x, y, *_ = data(dtype, seed=3)
    dt = np.dtype(dtype)
    kw = {"weighted": dict(weight=np.linspace(0.2, 3.0, C)),
          "smoothed": dict(weight=np.linspace(0.2, 3.0, C), label_smoothing=0.1),
          "plain": {}, "soft": {}}[case]
    t = y
    if case == "soft":
        t = np.random.default_rng(4).dirichlet(np.ones(C), N).astype(dtype)
    none = fastxent.cross_entropy(x, t, reduction="none", **kw)
    lazy = fxd.cross_entropy(chunked(x, 7), t, reduction="none", **kw)
    assert isinstance(lazy, da.Array)
    chunkings = (1, 7, (40, 21)) if scheduler == "sync" else (7, (40, 21))
    reduced = {(red, rows): fxd.cross_entropy(chunked(x, rows), t, reduction=red, **kw)
               for red in ("sum", "mean") for rows in chunkings}
    got_none, got = dask.compute(lazy, reduced)   # one graph: one round trip
    assert got_none.dtype == none.dtype and got_none.tobytes() == none.tobytes()
    counted = y[y != -100]
    denom = ([1.0] * N if case == "soft" else [1.0] * counted.size if "weight" not in kw
             else list(kw["weight"].astype(dt)[counted].astype(np.float64)))
    for (red, rows), value in got.items():
        want = _exact_reduction(none, denom, red, dt)
        assert type(value) is type(want) and value.tobytes() == want.tobytes(), (red, rows)
        in_memory = fastxent.cross_entropy(x, t, reduction=red, **kw)
        np.testing.assert_allclose(value, in_memory,
                                   rtol=1e-15 if dtype == np.float64 else 1e-7)


def test_cross_entropy_all_ignored_and_empty():
    with dask.config.set(scheduler="sync"):
        x = np.ones((6, 3))
        t = np.full(6, -100)
        assert np.isnan(fxd.cross_entropy(chunked(x, 4), t).compute())
        assert fxd.cross_entropy(chunked(x, 4), t, reduction="sum").compute() == 0.0
        assert np.isnan(fxd.cross_entropy(da.zeros((0, 3)), np.zeros(0, int)).compute())


def test_bce_and_row_functions_bitwise(scheduler):
    x, *_ = data(np.float32, seed=5)
    y = (np.random.default_rng(6).random(x.shape) < 0.3).astype(np.float32)
    w, pw = np.linspace(0.5, 2.0, N)[:, None], np.linspace(1.0, 4.0, C)
    kw = dict(weight=w, pos_weight=pw, label_smoothing=0.05)
    dx = da.from_array(x, chunks=(9, 4))
    bce = {red: fxd.binary_cross_entropy_with_logits(dx, y, reduction=red, **kw)
           for red in ("none", "sum", "mean")}
    rows = {f: getattr(fxd, f)(dx) for f in ("log_softmax", "softmax", "logsumexp")}
    lse0 = fxd.logsumexp(dx, axis=0)
    bce, rows, lse0 = dask.compute(bce, rows, lse0)
    none = fastxent.binary_cross_entropy_with_logits(x, y, reduction="none", **kw)
    assert bce["none"].tobytes() == none.tobytes()
    for red in ("sum", "mean"):
        want = _exact_reduction(none, [1.0] * none.size, red, np.dtype(np.float32))
        assert bce[red].tobytes() == want.tobytes()
    for f, got in rows.items():
        assert got.tobytes() == getattr(fastxent, f)(x).tobytes(), f
    assert lse0.tobytes() == fastxent.logsumexp(x, axis=0).tobytes()


@pytest.mark.parametrize("half", ["float16", "bfloat16"])
def test_half_inputs_pass_straight_through(half):
    """Half logits go to the kernels as they are: the same bits as in memory."""
    dtype = pytest.importorskip("ml_dtypes").bfloat16 if half == "bfloat16" else np.float16
    x, y, *_ = data(np.float32, seed=10)
    xh = x.astype(dtype)
    dx = chunked(xh, 7)
    calls = {
        "evaluate": (lambda a: bits(fastxent.evaluate(a, y, **OPTS)),
                     lambda d: bits(fxd.evaluate(d, y, **OPTS))),
        "cross_entropy": (lambda a: fastxent.cross_entropy(a, y, reduction="none").tobytes(),
                          lambda d: fxd.cross_entropy(d, y, reduction="none").compute()
                          .tobytes()),
        "mean": (lambda a: _exact_reduction(fastxent.cross_entropy(a, y, reduction="none"),
                                            [1.0] * int((y != -100).sum()), "mean",
                                            np.dtype(np.float32)).tobytes(),
                 lambda d: fxd.cross_entropy(d, y).compute().tobytes()),
        "log_softmax": (lambda a: fastxent.log_softmax(a).tobytes(),
                        lambda d: fxd.log_softmax(d).compute().tobytes()),
    }
    with dask.config.set(scheduler="sync"):
        for name, (in_memory, on_dask) in calls.items():
            assert on_dask(dx) == in_memory(xh), name


# ------------------------------------------------------------ errors
def test_errors_name_the_argument_and_the_global_position():
    x, y, w, seg, _ = data(np.float64)
    dx = chunked(x, 7)
    with dask.config.set(scheduler="sync"):
        bad = y.copy()
        bad[40] = C
        for fn in (fastxent.evaluate, fxd.evaluate):
            with pytest.raises(IndexError, match=r"class index 11 at position \(40,\)"):
                fn(x if fn is fastxent.evaluate else dx, bad)
        with pytest.raises(IndexError, match=r"target: class index 11 at position \(40,\)"):
            fxd.cross_entropy(dx, bad).compute()
        for at in (30, 35):   # inside a block, and at a block border (35 = 5 * 7)
            s = seg.copy()
            s[at:] -= 100
            with pytest.raises(ValueError) as want:
                fastxent.evaluate(x, y, segment_ids=s)
            with pytest.raises(ValueError) as got:
                fxd.evaluate(dx, y, segment_ids=s)
            assert str(got.value) == str(want.value)
        x3 = np.random.default_rng(9).standard_normal((5, 13, 4))
        y3 = np.zeros((5, 13), np.int64)
        for at in (26, 31, 33):   # a row's start, a trailing chunk's start, inside one
            s3 = np.arange(65).reshape(5, 13)
            s3.flat[at:] -= 100
            with pytest.raises(ValueError) as want:
                fastxent.evaluate(x3, y3, segment_ids=s3)
            with pytest.raises(ValueError) as got:
                fxd.evaluate(da.from_array(x3, chunks=(2, 5, 4)), y3, segment_ids=s3)
            assert str(got.value) == str(want.value)
        neg = w.copy()
        neg[50] = -1.0
        with pytest.raises(ValueError, match=r"sample_weight: .* at position \(50,\)"):
            fxd.evaluate(dx, y, sample_weight=neg)
    with pytest.raises(ValueError, match="labels: expected one value per row"):
        fxd.evaluate(dx, y[:-1])
    with pytest.raises(ValueError, match="labels: expected integer class indices"):
        fxd.evaluate(dx, y.astype(float))
    with pytest.raises(ValueError, match="return_per_row"):
        fxd.evaluate(dx, y, return_per_row=True)
    with pytest.raises(ValueError, match="split_every"):
        fxd.evaluate(dx, y, split_every=1)
    with pytest.raises(ValueError, match="topk"):
        fxd.evaluate(dx, y, topk=(0,))
    with pytest.raises(ValueError, match="reference_logits: expected the logits' shape"):
        fxd.evaluate(dx, y, reference_logits=x[:, :3])
    with pytest.raises(ValueError, match=r"weight: expected shape \(11,\)"):
        fxd.cross_entropy(dx, y, weight=np.ones(3))
    with pytest.raises(ValueError, match="ignore_index: not supported with floating"):
        fxd.cross_entropy(dx, np.full(x.shape, 1.0 / C), ignore_index=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        fxd.cross_entropy(dx, y, label_smoothing=2.0)


# ------------------------------------------------------------ files
def test_from_npy_reads_by_path_and_the_graph_stays_small(tmp_path, scheduler):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2048, 512)).astype(np.float32)   # 4 MiB
    y = rng.integers(0, 512, 2048)
    path = tmp_path / "logits.npy"
    np.save(path, x)
    arr = fxd.from_npy(path, chunks=300)
    assert arr.chunks == ((300,) * 6 + (248,), (512,))
    assert fxd.from_npy(path, chunks=(1000, 512)).chunks[0] == (1000, 1000, 48)
    lazy = fxd.evaluate(arr, da.from_array(y, chunks=300), compute=False)
    graph = cloudpickle.dumps(dict(lazy.__dask_graph__()))
    assert len(graph) < 64 * 1024 + y.nbytes, len(graph)
    # the pitfall it avoids: a memmap wrapped by from_array travels in the graph
    mm = da.from_array(np.load(path, mmap_mode="r"), chunks=(300, 512))
    assert len(cloudpickle.dumps(dict(mm.__dask_graph__()))) > x.nbytes
    assert bits(lazy.compute()) == bits(fastxent.evaluate(x, y))


def test_from_npy_bad_chunks(tmp_path):
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((10, 4)))
    with pytest.raises(ValueError, match="chunks: expected the class axis 1 in one chunk"):
        fxd.from_npy(path, chunks=(5, 2))
    with pytest.raises(ValueError, match="chunks: expected a positive number of rows"):
        fxd.from_npy(path, chunks=0)
    assert fxd.from_npy(path, chunks=3, axis=0).chunks == ((10,), (3, 1))


# ------------------------------------------------------------ workers
def _die_once(block, marker, block_id=None):
    """Kills the worker process running block 3, the first time only."""
    if block_id[0] == 3 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return block


def test_a_killed_worker_changes_nothing(client, tmp_path):
    x, y, w, seg, _ = data(np.float64, n=400, seed=8)
    marker = str(tmp_path / "killed")
    dx = chunked(x, 40).map_blocks(_die_once, marker=marker, dtype=x.dtype)
    with dask.config.set(scheduler=client):
        got = fxd.evaluate(dx, y, sample_weight=w, segment_ids=seg, **OPTS)
    assert os.path.exists(marker)   # a worker did die, and its task was retried
    assert got.n_rows == 400
    assert bits(got) == bits(fastxent.evaluate(x, y, sample_weight=w, segment_ids=seg, **OPTS))


def _budget():
    from fastxent.dask import _graph
    with _graph.task_threads(None) as n:
        return _graph._thread_budget(), n


def test_tasks_use_the_workers_threads(client):
    assert client.submit(_budget, pure=False).result() == (1, 1)
    fastxent.set_num_threads(2)
    try:
        with dask.config.set(scheduler="sync"):
            assert dask.delayed(_budget)().compute() == (2, 2)
        from fastxent.dask._graph import task_threads
        fastxent.set_num_threads(4)
        with task_threads(None) as a, task_threads(None) as b, task_threads(3) as c:
            assert (a, b, c) == (4, 2, 3)   # a second task at once gets half; given: kept
        with task_threads(None) as a:
            assert a == 4
    finally:
        fastxent.set_num_threads(None)


@pytest.mark.parametrize("module", ["_evaluate", "_losses", "_io"])
def test_docstring_examples(module):
    import doctest
    import importlib
    mod = importlib.import_module(f"fastxent.dask.{module}")
    with dask.config.set(scheduler="sync"):
        result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_import_fastxent_does_not_import_dask():
    got = run_python_json("""
        import json, sys
        import fastxent
        fastxent.evaluate([[1.0, 2.0]], [1])
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("fastxent.dask")
                                or m.split(".")[0] in ("dask", "distributed"))))
    """)
    assert got == []
    assert pickle.loads(pickle.dumps(fxd.evaluate)) is fxd.evaluate
