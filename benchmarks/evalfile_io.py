"""evaluate_file against evaluate in memory, and against the storage.

    python benchmarks/evalfile_io.py --rows 16384 --classes 32000 --dir /tmp

Two figures of issue 14, printed as a table:

* page cache: the .npy file in the page cache, ``evaluate_file`` of its
  path (preadv into reused buffers) and of ``np.load(path, mmap_mode="r")``
  (views of the mapping, pages faulted in by the reader thread) vs
  ``evaluate`` on the same rows already in memory, at each thread count
  (min over rounds, the three alternating in one process); the target is a
  ratio >= 0.85.
* cold file: the file dropped from the page cache with
  ``posix_fadvise(DONTNEED)`` before each run; ``evaluate_file``'s rate vs
  the storage's sequential read rate measured here the same way (64 MiB
  ``preadv`` reads of the same file); the target is >= 0.90.

Not a pytest suite (no ``test_`` prefix): it writes a file of rows x classes
x 4 bytes and holds it in memory once, so it needs about twice that free.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import fastxent


def make_file(path: str, rows: int, classes: int) -> np.ndarray:
    rng = np.random.default_rng(14)
    y = rng.integers(0, classes, rows)
    if not (os.path.exists(path) and np.load(path, mmap_mode="r").shape == (rows, classes)):
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (rows, classes)})
            for a in range(0, rows, 1024):
                f.write(rng.standard_normal((min(1024, rows - a), classes),
                                            dtype=np.float32).tobytes())
            f.flush()
            os.fsync(f.fileno())
    return y


def drop_cache(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def read_rate(path: str, chunk: int = 64 << 20) -> float:
    """Seconds to read the whole file sequentially into one reused buffer."""
    buf = bytearray(chunk)
    fd = os.open(path, os.O_RDONLY)
    try:
        t = time.perf_counter()
        off = 0
        while True:
            n = os.preadv(fd, [buf], off)
            if n == 0:
                break
            off += n
        return time.perf_counter() - t
    finally:
        os.close(fd)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=16384)
    p.add_argument("--classes", type=int, default=32000)
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--cold-rounds", type=int, default=3)
    p.add_argument("--dir", default="/tmp")
    a = p.parse_args()
    path = os.path.join(a.dir, f"fastxent-bench-{a.rows}x{a.classes}.npy")
    y = make_file(path, a.rows, a.classes)
    gb = a.rows * a.classes * 4 / 1e9
    print(f"# {path}: ({a.rows}, {a.classes}) float32, {gb:.2f} GB; load {os.getloadavg()}")
    x = np.load(path)
    read_rate(path)                                   # the file into the page cache
    mm = np.load(path, mmap_mode="r")
    print("| threads | evaluate in memory | evaluate_file(path), page cache | ratio "
          "| evaluate_file(np.memmap), page cache | ratio |")
    print("|---|---|---|---|---|---|")
    for t in map(int, a.threads.split(",")):
        mem, fil, mmt = [], [], []
        for _ in range(a.rounds):                     # alternating A/B/C
            mem.append(timed(lambda: fastxent.evaluate(x, y, num_threads=t)))
            fil.append(timed(lambda: fastxent.evaluate_file(path, y, num_threads=t)))
            mmt.append(timed(lambda: fastxent.evaluate_file(mm, y, num_threads=t)))
        m = min(mem)
        print(f"| {t} | {m:.3f} s ({gb / m:.2f} GB/s) | {min(fil):.3f} s "
              f"({gb / min(fil):.2f} GB/s) | {m / min(fil):.3f} | {min(mmt):.3f} s "
              f"({gb / min(mmt):.2f} GB/s) | {m / min(mmt):.3f} |")
    del x, mm
    print(f"\n# cold file (posix_fadvise DONTNEED before each run); load {os.getloadavg()}")
    print("| threads | storage read | evaluate_file, cold | ratio |")
    print("|---|---|---|---|")
    for t in map(int, a.threads.split(",")):
        rd, fil = [], []
        for _ in range(a.cold_rounds):
            drop_cache(path)
            rd.append(read_rate(path))
            drop_cache(path)
            fil.append(timed(lambda: fastxent.evaluate_file(path, y, num_threads=t)))
        print(f"| {t} | {min(rd):.3f} s ({gb / min(rd):.2f} GB/s) | {min(fil):.3f} s "
              f"({gb / min(fil):.2f} GB/s) | {min(rd) / min(fil):.3f} |")
    print(f"# load at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
