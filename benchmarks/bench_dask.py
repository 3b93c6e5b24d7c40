"""fastxent.dask.evaluate: 2 workers x 1 thread against 1 worker x 1 thread,
and the cost of one task (a script, not a pytest suite: it writes a large file).

    python benchmarks/bench_dask.py [--rows 65536] [--classes 32000]
        [--chunk-rows 1024] [--repeat 3] [--dir DIR] [--keep]

Writes a (rows, classes) float32 ``.npy`` (8 GiB at the defaults) in a new
temporary directory, or in --dir (reused if already there with that shape;
only a file this run wrote is removed), starts two LocalClusters of worker
processes (1 x 1 thread and 2 x 1 thread) and times
``fastxent.dask.evaluate(from_npy(path, chunks=chunk_rows), labels)`` on
them in alternation (A B A B ...), after one warm-up run each that also
brings the file into the page cache. Checks that both give the same bits.

Per-task overhead: the same evaluation over many tiny blocks (8 rows x 64
classes) on the 1-worker cluster, minus the in-memory time of that data,
per task that runs (block states and merges), beside what Dask alone costs
per task on the same blocks (a map_blocks + sum). Times are medians (min, max).
"""
import argparse
import os
import statistics
import tempfile
import time

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import fastxent
import fastxent.dask


def write_logits(path, rows, classes, chunk_rows) -> bool:
    """Writes the file unless it is there with this shape; whether it wrote it."""
    if os.path.exists(path):
        a = np.load(path, mmap_mode="r")
        if a.shape == (rows, classes) and a.dtype == np.float32:
            return False
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, classes))
    rng = np.random.default_rng(0)
    for s in range(0, rows, chunk_rows):
        out[s:s + chunk_rows] = rng.standard_normal((min(chunk_rows, rows - s), classes),
                                                    dtype=np.float32)
    out.flush()
    return True


def executed_tasks(delayed) -> int:
    """Nodes of the graph that run code (not the blocks of data of from_array)."""
    try:
        from dask._task_spec import DataNode
    except ImportError:   # older dask: every node counts
        return len(dict(delayed.__dask_graph__()))
    return sum(not isinstance(v, DataNode) for v in dict(delayed.__dask_graph__()).values())


def read_rate(path, block=1 << 27) -> float:
    """GB/s of one sequential read of the file (page cache as it is)."""
    buf = bytearray(block)
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.readinto(buf):
            pass
    return os.path.getsize(path) / (time.perf_counter() - t) / 1e9


def timed(fn, repeat):
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return ts


def fmt(ts):
    return f"{statistics.median(ts):8.3f} s ({min(ts):.3f}, {max(ts):.3f})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=65536)
    ap.add_argument("--classes", type=int, default=32000)
    ap.add_argument("--chunk-rows", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", help="default: a new temporary directory, removed at the end")
    ap.add_argument("--keep", action="store_true", help="keep a logits file this run wrote")
    args = ap.parse_args()
    directory = args.dir or tempfile.mkdtemp(prefix="fastxent-bench-dask-")
    path = os.path.join(directory, f"bench-dask-{args.rows}x{args.classes}.npy")
    t = time.perf_counter()
    wrote = write_logits(path, args.rows, args.classes, args.chunk_rows)
    print(f"logits {path}: {os.path.getsize(path) / 2**30:.2f} GiB, written or found in "
          f"{time.perf_counter() - t:.1f} s; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs")
    labels = np.random.default_rng(1).integers(0, args.classes, args.rows)
    x = fastxent.dask.from_npy(path, chunks=args.chunk_rows)
    y = da.from_array(labels, chunks=args.chunk_rows)
    ntasks = x.numblocks[0]
    kw = dict(processes=True, threads_per_worker=1, dashboard_address=":0")
    with LocalCluster(n_workers=1, **kw) as c1, LocalCluster(n_workers=2, **kw) as c2, \
            Client(c1, set_as_default=False) as one, Client(c2, set_as_default=False) as two:
        def run(client):
            with dask.config.set(scheduler=client):
                return fastxent.dask.evaluate(x, y)
        r1, r2 = run(one), run(two)   # warm-up: page cache, imports in the workers
        assert repr(r1.to_dict()) == repr(r2.to_dict()), "1 and 2 workers differ"
        t1, t2 = [], []
        for _ in range(args.repeat):
            t1 += timed(lambda: run(one), 1)
            t2 += timed(lambda: run(two), 1)
        # per-task overhead: tiny blocks, most of the time is the scheduling
        small = np.random.default_rng(2).standard_normal((8 * 512, 64), dtype=np.float32)
        small_y = np.zeros(small.shape[0], np.int64)
        xs, ys = da.from_array(small, chunks=(8, 64)), da.from_array(small_y, chunks=8)
        graph_tasks = executed_tasks(fastxent.dask.evaluate(xs, ys, compute=False))
        plain = xs.map_blocks(np.negative).sum()   # dask's own cost per task, for scale
        plain_tasks = executed_tasks(plain)
        with dask.config.set(scheduler=one):
            fastxent.dask.evaluate(xs, ys)
            tt = timed(lambda: fastxent.dask.evaluate(xs, ys), args.repeat)
            tp = timed(plain.compute, args.repeat)
        tm = timed(lambda: fastxent.evaluate(small, small_y, num_threads=1), args.repeat)
    block = np.load(path, mmap_mode="r")[:args.chunk_rows].copy()
    tb = timed(lambda: fastxent.evaluate(block, labels[:args.chunk_rows], num_threads=1),
               args.repeat)
    rate = read_rate(path)
    gelem = args.rows * args.classes / 1e9
    m1, m2 = statistics.median(t1), statistics.median(t2)
    print(f"evaluate (topk=(1, 5), n_bins=15), {ntasks} tasks of {args.chunk_rows} rows:")
    print(f"  1 worker  x 1 thread : {fmt(t1)}  {gelem / m1:.2f} Gelem/s")
    print(f"  2 workers x 1 thread : {fmt(t2)}  {gelem / m2:.2f} Gelem/s")
    print(f"  speed-up 2 vs 1 worker: {m1 / m2:.2f}x (same bits: yes)")
    floor = statistics.median(tb)
    print(f"  for scale: one block in memory, 1 thread: {floor * 1e3:.1f} ms = "
          f"{block.size / floor / 1e9:.2f} Gelem/s (the file: {floor * ntasks:.2f} s of compute); "
          f"reading the file once: {rate:.2f} GB/s = {os.path.getsize(path) / rate / 1e9:.1f} s")
    over = (statistics.median(tt) - statistics.median(tm)) / graph_tasks
    print(f"per-task overhead: {graph_tasks} tasks for 512 blocks of (8, 64) (states, merges): "
          f"dask {fmt(tt)}, in memory {statistics.median(tm) * 1e3:.2f} ms -> "
          f"{over * 1e3:.2f} ms per task")
    print(f"  for scale, dask alone: x.map_blocks(np.negative).sum(), {plain_tasks} tasks: "
          f"{fmt(tp)} -> {statistics.median(tp) / plain_tasks * 1e3:.2f} ms per task")
    if wrote and not args.keep:   # never a file this run did not write
        os.remove(path)
        if not args.dir:
            os.rmdir(directory)


if __name__ == "__main__":
    main()
