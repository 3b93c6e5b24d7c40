"""Running the suite: every case, every implementation, every thread count.

All inputs are made first, the floors are measured before and after the
cases (the best is kept: on a shared machine other processes slow the floor
measurement as they slow the cases, and a floor must not be too slow), and
the result is one JSON-ready report. Cases whose fastxent function does not
exist yet (or raises NotImplementedError) are skipped with a note.
"""
from __future__ import annotations

import importlib
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import fastxent

from .cases import IMPL_ORDER, Case, DataCache, Impl
from .check import RTOL, as_arrays, check_fastxent, check_peer
from .floors import measure_floors
from .jaxpeer import jax_installed
from .machine import load_average, machine_info
from .report import format_time
from .timing import Settings, measure, thread_setting

_LIB_OF = {"torch": "torch", "scipy": "scipy.special", "sklearn": "sklearn.metrics"}

Row = Dict[str, Any]


def available_impls(cases: Sequence[Case],
                    wanted: Optional[Sequence[str]]) -> Tuple[List[str], Dict[str, str]]:
    """Importable impls among those the cases use: (names, {missing: why})."""
    used = {i.name for c in cases for i in c.impls}
    names, missing = [], {}
    for name in IMPL_ORDER:
        if name not in used or (wanted is not None and name not in wanted and name != "fastxent"):
            continue
        lib = _LIB_OF.get(name)
        if name == "jax":  # timed in a child process: the parent never imports it
            if not jax_installed():
                missing[name] = "jax not installed (pip install jax optax)"
                continue
        elif lib is not None:
            try:
                importlib.import_module(lib)
            except ImportError as e:  # not installed, or broken
                missing[name] = f"{lib} not importable ({e})"
                continue
        names.append(name)
    return names, missing


def _default_progress(msg: str, end: str = "\n") -> None:
    print(msg, end=end, file=sys.stderr, flush=True)


def run_suite(cases: Sequence[Case], threads: Sequence[int], settings: Settings,
              impls: Optional[Sequence[str]] = None,
              progress: Callable[..., None] = _default_progress) -> Dict[str, Any]:
    """Run `cases` at each thread count; returns the report (JSON-ready)."""
    started = time.time()
    threads = list(dict.fromkeys(int(t) for t in threads))
    names, missing = available_impls(cases, impls)
    skipped = {c.id: r for c in cases if (r := c.missing)}
    runnable = [c for c in cases if c.id not in skipped]

    progress("measuring the machine's floors (vector exp/log rates, read bandwidths) ...")
    load = load_average()
    floors = measure_floors(runnable, threads, settings.quick)

    plan = sum(1 for c in runnable for T in threads for i in c.impls
               if i.name in names and (i.threaded or T == threads[0]))
    counter = Progress(plan, progress)
    rows: List[Row] = []
    data = DataCache()
    try:
        # All inputs are made before anything is timed: arrays allocated
        # after other cases' large temporaries came and went were measured
        # up to 2x slower to stream on this VM (fresh memory gets huge pages,
        # fragmented memory does not), which skewed whichever cases ran last.
        inputs = {case.id: case.make(data) for case in runnable}
        for case in runnable:
            try:
                rows.extend(run_case(case, inputs[case.id], threads, names, settings, counter))
            except NotImplementedYet as e:
                skipped[case.id] = str(e)
    finally:
        data.clear()

    if runnable:
        progress("measuring the floors again ...")
        floors = floors.best(measure_floors(runnable, threads, settings.quick))
    by_id = {c.id: c for c in runnable}
    for row in rows:
        floor, bound = floors.of(by_id[row["case"]], row["threads_used"])
        row["floor_s"], row["floor_bound"] = floor, bound
        if "median_s" in row:
            row["floor_fraction"] = floor / row["median_s"]

    return {
        "fastxent_version": fastxent.__version__,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
        "duration_s": time.time() - started,
        "settings": {"quick": settings.quick, "threads": threads, "target_s": settings.target,
                     "min_repeats": settings.min_repeats, "max_repeats": settings.max_repeats,
                     "min_sample_s": settings.min_sample, "impls": names,
                     "rtol": RTOL, "argv": sys.argv[1:]},
        "machine": machine_info(),
        "load_average": {"start": load, "end": load_average()},
        "floors": floors.as_json(),
        "cases": [_case_info(c, skipped.get(c.id)) for c in cases],
        "unavailable": missing,
        "skipped": skipped,
        "results": rows,
    }


class NotImplementedYet(Exception):
    """fastxent raised NotImplementedError for a case: skip it with a note."""


class Progress:
    """``[step/total] case  threads  impl  time`` lines, one per measurement."""

    def __init__(self, total: int, emit: Callable[..., None]) -> None:
        self.total, self.step, self.emit = total, 0, emit

    def start(self, case: Case, threads: int, impl: str) -> None:
        self.step += 1
        w = len(str(self.total))
        self.emit(f"[{self.step:>{w}}/{self.total}] {case.id}  {threads} thr  {impl:<9}", end="")

    def done(self, row: Row) -> None:
        if "median_s" in row:
            self.emit("  " + format_time(row["median_s"]))
        else:
            self.emit("  error: " + row["error"])


def run_case(case: Case, d, threads: Sequence[int], names: Sequence[str],
             settings: Settings, progress: Progress) -> List[Row]:
    """Rows of one case on inputs `d`: every impl in `names` at every thread count.

    Single-threaded peers are measured once and their row repeated in each
    thread group; raises NotImplementedYet if fastxent raises NotImplementedError.
    """
    rtol = RTOL[case.dtype]
    anchor = None                            # fastxent's result at the first thread count
    once: Dict[str, Row] = {}                # single-threaded peers, measured once
    rows = []
    for T in threads:
        fx_out = fx_time = None
        with thread_setting(T, "torch" in names):
            for impl in case.impls:
                if impl.name not in names:
                    continue
                if not impl.threaded and impl.name in once:
                    rows.append(dict(once[impl.name], threads=T, reused=True,
                                     speedup=_ratio(once[impl.name].get("median_s"), fx_time)))
                    continue
                progress.start(case, T, impl.name)
                row, out, exc = measure_row(case, impl, d, T if impl.threaded else 1, settings)
                progress.done(row)
                row["threads"] = T
                if impl.name == "fastxent":
                    if isinstance(exc, NotImplementedError):
                        raise NotImplementedYet(f"fastxent raised {row['error']}")
                    if exc is not None:
                        row["check"] = "error"
                    else:
                        row.update(check_fastxent(out, anchor, rtol))
                        anchor = out if anchor is None else anchor
                    fx_out, fx_time = out, row.get("median_s")
                elif exc is not None:
                    row["check"] = "error"
                else:
                    row.update(check_peer(out, fx_out if fx_out is not None else anchor, rtol))
                    row["speedup"] = _ratio(row.get("median_s"), fx_time)
                if not impl.threaded:
                    once[impl.name] = row
                rows.append(row)
    return rows


def _ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return a / b if a and b else None


def measure_row(case: Case, impl: Impl, d, threads: int, settings: Settings):
    """(row, result as arrays, exception): one impl timed at `threads` threads."""
    row: Row = {"case": case.id, "func": case.func, "impl": impl.name,
                "threads_used": threads, "reused": False,
                "elements": case.elements, "bytes": case.bytes}
    try:
        if impl.isolated is not None:
            result, timing, fields = impl.isolated(d, threads, settings)
            row.update(fields)
        else:
            result, timing = measure(impl.build(d, threads), settings)
        out = as_arrays(result)
    except Exception as e:  # a peer that cannot do this case is reported, not fatal
        row["error"] = f"{type(e).__name__}: {e}".splitlines()[0][:200]
        return row, None, e
    row.update(times_s=timing.times, number=timing.number, repeats=len(timing.times),
               median_s=timing.median, q25_s=timing.q25, q75_s=timing.q75,
               iqr_s=timing.q75 - timing.q25, min_s=timing.min,
               gelem_per_s=case.elements / timing.median / 1e9)
    return row, out, None


def _case_info(c: Case, skipped: Optional[str]) -> Dict[str, Any]:
    return {"id": c.id, "func": c.func, "shape": list(c.shape), "dtype": c.dtype,
            "options": c.options, "elements": c.elements, "bytes": c.bytes,
            "ops": dict(c.ops), "impls": {i.name: i.call for i in c.impls},
            "skipped": skipped}
