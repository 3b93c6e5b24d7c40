"""Evaluate a logits file larger than a Dask worker's memory, on a LocalCluster.

Writes ``logits.npy`` (rows x classes float32, by default 1.5 times one
worker's ``memory_limit``) and ``labels.npy`` chunk by chunk (never whole in
memory), starts a LocalCluster of 2 worker processes with that limit, and
evaluates the file with ``fastxent.dask.evaluate``: each task memory-maps its
own rows by path (``fastxent.dask.from_npy``), so the graph holds no data and
no worker holds more than a few chunks. The result is the in-memory
``fastxent.evaluate`` of the same file, bit for bit. Prints one JSON line.

    python examples/dask_evaluate.py [--dir DIR] [--memory-limit 512MiB]
        [--classes 32000] [--rows N] [--chunk-rows 256]
"""
import argparse
import json
import os
import tempfile
import time

import numpy as np
from dask.utils import parse_bytes
from distributed import Client, LocalCluster

import fastxent.dask


def write_dataset(directory, rows, classes, chunk_rows, seed=0):
    """logits.npy and labels.npy in `directory`, written a chunk at a time."""
    rng = np.random.default_rng(seed)
    x_path, y_path = (os.path.join(directory, n) for n in ("logits.npy", "labels.npy"))
    logits = np.lib.format.open_memmap(x_path, mode="w+", dtype=np.float32,
                                       shape=(rows, classes))
    labels = np.empty(rows, np.int64)
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        y = rng.integers(0, classes, stop - start)
        x = rng.standard_normal((stop - start, classes), dtype=np.float32)
        x[np.arange(stop - start), y] += 3.0   # a model that is often right
        logits[start:stop] = x
        labels[start:stop] = y
    logits.flush()
    del logits
    np.save(y_path, labels)
    return x_path, y_path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", help="where to write the files (default: a temporary directory)")
    ap.add_argument("--memory-limit", default="512MiB", help="per worker (default 512MiB)")
    ap.add_argument("--classes", type=int, default=32000)
    ap.add_argument("--rows", type=int, help="default: 1.5 x memory-limit of logits")
    ap.add_argument("--chunk-rows", type=int, default=256)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    limit = parse_bytes(args.memory_limit)
    rows = args.rows or int(1.5 * limit) // (4 * args.classes) + 1
    directory = args.dir or tempfile.mkdtemp(prefix="fastxent-dask-")
    x_path, y_path = write_dataset(directory, rows, args.classes, args.chunk_rows)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      memory_limit=limit, dashboard_address=":0") as cluster, \
            Client(cluster):
        t0 = time.perf_counter()
        logits = fastxent.dask.from_npy(x_path, chunks=args.chunk_rows)
        labels = fastxent.dask.from_npy(y_path, chunks=args.chunk_rows, axis=None)
        res = fastxent.dask.evaluate(logits, labels, topk=(1, 5))
        seconds = time.perf_counter() - t0
    print(res)
    print(json.dumps({"logits": x_path, "labels": y_path, "file_bytes": os.path.getsize(x_path),
                      "memory_limit_bytes": limit, "seconds": seconds,
                      "result": res.to_dict()}, allow_nan=False))


if __name__ == "__main__":
    main()
