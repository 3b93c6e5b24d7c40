"""Kernel calls at 1 and 2 threads with and without another busy process.

On a shared machine another process often holds a CPU; a 2-thread call must
then not wait for a thread the scheduler has not run (issue 13, "Under
contention"). This times cross_entropy and evaluate on the bench's float32
cases at 1 and 2 threads, alternating the two call by call, once with one
busy process (a pure-Python spin loop, pinned to no CPU) and once without.

    python benchmarks/contention.py                  # this interpreter's fastxent
    python benchmarks/contention.py --compare /work/main .@omp-static .

--compare runs the measurement in alternating child processes, one per
build and round, each with PYTHONPATH=<tree>/src (a tree's build, built in
place); TREE@RUNNER also sets FASTXENT_THREAD_RUNNER (pool, omp-dynamic,
omp-static) for that child, TREE@NAME=VALUE,... any environment variable.
Samples of all rounds are pooled per build.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

CASES = [(65536, 10), (65536, 100), (8192, 1000), (256, 128000)]
FUNCS = ["cross_entropy", "evaluate"]
THREADS = (1, 2)
BUSY = "while True: pass"


def _calls(fx, shape):
    rng = np.random.default_rng(shape[0] * 7 + shape[1])
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.integers(0, shape[1], shape[0])
    return {"cross_entropy": lambda nt: fx.cross_entropy(x, y, num_threads=nt),
            "evaluate": lambda nt: fx.evaluate(x, y, num_threads=nt)}


def measure(calls, load):
    """{case/func/threads: [seconds, ...]} of this process's fastxent (for
    CASES and FUNCS)."""
    import fastxent as fx
    busy = subprocess.Popen([sys.executable, "-c", BUSY]) if load == "busy" else None
    try:
        if busy is not None:
            time.sleep(0.5)   # let it start spinning
        samples = {}
        for shape in CASES:
            fns = _calls(fx, shape)
            for name in FUNCS:
                fn = fns[name]
                keys = {nt: f"{shape[0]}x{shape[1]}/{name}/{nt}" for nt in THREADS}
                for nt in THREADS * 3:   # warm-up
                    fn(nt)
                for nt in THREADS:
                    samples[keys[nt]] = []
                for i in range(calls):
                    for nt in (THREADS if i % 2 == 0 else THREADS[::-1]):
                        t0 = time.perf_counter()
                        fn(nt)
                        samples[keys[nt]].append(time.perf_counter() - t0)
        return samples
    finally:
        if busy is not None:
            busy.kill()
            busy.wait()


def _stats(v):
    return float(np.median(v)), float(np.percentile(v, 90))


def _ms(s):
    return f"{s * 1e3:.3f}"


def report_one(samples, load):
    print(f"\n{load}: median / p90 ms of {len(next(iter(samples.values())))} calls each")
    print("| case | func | 1 thr | 2 thr | 2/1 median | 2/1 p90 |")
    print("| :--- | :--- | ---: | ---: | ---: | ---: |")
    for shape in CASES:
        for name in FUNCS:
            m1, p1 = _stats(samples[f"{shape[0]}x{shape[1]}/{name}/1"])
            m2, p2 = _stats(samples[f"{shape[0]}x{shape[1]}/{name}/2"])
            print(f"| {shape} | {name} | {_ms(m1)} / {_ms(p1)} | {_ms(m2)} / {_ms(p2)} "
                  f"| {m2 / m1:.2f}x | {p2 / p1:.2f}x |")


def _child(spec, calls, load):
    tree, _, extra = spec.partition("@")
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.abspath(tree), "src"))
    env.pop("FASTXENT_THREAD_RUNNER", None)
    for item in filter(None, extra.split(",")):
        key, eq, value = item.partition("=")
        env.update({key: value} if eq else {"FASTXENT_THREAD_RUNNER": item})
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        subprocess.run([sys.executable, os.path.abspath(__file__), "--calls", str(calls),
                        "--load", load, "--json", out.name,
                        "--cases", ",".join(f"{n}x{c}" for n, c in CASES),
                        "--funcs", ",".join(FUNCS)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        with open(out.name) as fh:
            return json.load(fh)[load]


def compare(specs, calls, loads, rounds):
    pooled = {(s, ld): {} for s in specs for ld in loads}
    for r in range(rounds):
        for ld in loads:
            for s in (specs if r % 2 == 0 else specs[::-1]):
                for k, v in _child(s, calls, ld).items():
                    pooled[s, ld].setdefault(k, []).extend(v)
    for ld in loads:
        print(f"\n{ld}: median / p90 ms, {rounds} alternating processes per build, "
              f"{calls} calls each; 2/1 = that build's 2-thread median / its 1-thread median")
        print("| case | func | thr | " + " | ".join(specs) + " | "
              + " | ".join(f"2/1 {s}" for s in specs) + " |")
        print("| :--- | :--- | ---: |" + " ---: |" * (2 * len(specs)))
        for shape in CASES:
            for name in FUNCS:
                for nt in THREADS:
                    key = f"{shape[0]}x{shape[1]}/{name}/{nt}"
                    cells = [" / ".join(map(_ms, _stats(pooled[s, ld][key]))) for s in specs]
                    ratios = []
                    for s in specs:
                        one = _stats(pooled[s, ld][f"{shape[0]}x{shape[1]}/{name}/1"])[0]
                        ratios.append(f"{_stats(pooled[s, ld][key])[0] / one:.2f}x"
                                      if nt == 2 else "")
                    print(f"| {shape} | {name} | {nt} | " + " | ".join(cells) + " | "
                          + " | ".join(ratios) + " |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100, help="calls per case, function and thread count")
    ap.add_argument("--load", choices=["busy", "quiet", "both"], default="both")
    ap.add_argument("--json", help="write the samples here (seconds) instead of a table")
    ap.add_argument("--compare", nargs="+", metavar="TREE[@RUNNER|@NAME=VALUE,...]",
                    help="builds to compare in alternating child processes")
    ap.add_argument("--rounds", type=int, default=3, help="child processes per build and load")
    ap.add_argument("--cases", help="e.g. 65536x10,8192x1000 (default: the four bench cases)")
    ap.add_argument("--funcs", help="cross_entropy, evaluate or both (default)")
    args = ap.parse_args(argv)
    if args.cases:
        CASES[:] = [tuple(int(v) for v in c.split("x")) for c in args.cases.split(",")]
    if args.funcs:
        FUNCS[:] = args.funcs.split(",")
    loads = ["busy", "quiet"] if args.load == "both" else [args.load]
    print(f"load average at start: {os.getloadavg()}", flush=True)
    if args.compare:
        compare(args.compare, args.calls, loads, args.rounds)
    else:
        results = {ld: measure(args.calls, ld) for ld in loads}
        if args.json:
            with open(args.json, "w") as fh:
                json.dump(results, fh)
        else:
            for ld in loads:
                report_one(results[ld], ld)
    print(f"\nload average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
