"""The report as text: the table, its header and footnotes, the thread
scaling table (plain or Markdown), and as strict JSON."""
from __future__ import annotations

import json
import math
import textwrap
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np


def format_time(s: Optional[float]) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= scale or unit == "ns":
            v = s / scale
            return f"{v:#.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return "-"


def _fmt_floor(f: Optional[float]) -> str:
    if f is None:
        return "-"
    return f"{100 * f:.0f}%" + ("!" if f > 1.0 else "")


def _fmt_ratio(v: Optional[float]) -> str:
    if not v:
        return ""
    return f"{v:.2f}x" if v < 10 else f"{v:.1f}x" if v < 100 else f"{v:.0f}x"


def _fmt_rate(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def _check_cell(r: Dict[str, Any]) -> str:
    c = r.get("check", "")
    if c == "MISMATCH":
        return f"MISMATCH {r['max_err']:.1e}"
    if c == "bits differ":
        return f"bits differ ({r['max_err']:.0e})"
    if c == "error":
        return "ERROR: " + r.get("error", "")[:60]
    return c


COLUMNS = ("case", "thr", "impl", "median", "min", "IQR", "Gelem/s", "floor", "bound",
           "%floor", "fastxent speed-up", "check")
_RIGHT = {"thr", "median", "min", "IQR", "Gelem/s", "floor", "%floor", "fastxent speed-up"}


def table_rows(report: Dict[str, Any]) -> List[List[str]]:
    out = []
    last_case = None
    for r in report["results"]:
        new_case = r["case"] != last_case
        thr = str(r["threads"]) if r["threads_used"] == r["threads"] else f"{r['threads_used']}*"
        fx = r["impl"] == "fastxent"
        med = r.get("median_s")
        out.append([
            r["case"] if new_case else "",
            thr,
            _impl_cell(r),
            format_time(med),
            format_time(r.get("min_s")),
            f"{100 * r['iqr_s'] / med:.1f}%" if med else "-",
            _fmt_rate(r["gelem_per_s"]) if med else "-",
            format_time(r["floor_s"]) if fx else "",
            r["floor_bound"] if fx else "",
            _fmt_floor(r.get("floor_fraction")),
            _fmt_ratio(r.get("speedup")),
            _check_cell(r),
        ])
        last_case = r["case"]
    return out


def _impl_cell(r: Dict[str, Any]) -> str:
    """The impl's name; a peer timed in its own pinned process says on how many CPUs."""
    cpus = r.get("cpus")
    if "pinning" not in r:
        return r["impl"]
    if cpus is None:
        return f"{r['impl']} (unpinned)"
    return f"{r['impl']} ({len(cpus)} CPU{'s' if len(cpus) > 1 else ''})"


def _pinning_notes(report: Dict[str, Any]) -> List[str]:
    """How each peer timed in its own process was pinned, from its rows."""
    pins: Dict[str, Dict[int, str]] = {}
    for r in report["results"]:
        if "pinning" in r:
            pins.setdefault(r["impl"], {})[r["threads"]] = r["pinning"]
    return [f"{impl}: jitted, in its own process pinned with os.sched_setaffinity to as many "
            f"CPUs as the row's thread count ("
            + "; ".join(f"{t} thr: {p}" for t, p in sorted(by.items()))
            + "; XLA sizes its thread pool from the affinity); compiled and warmed up before "
            "timing, block_until_ready on every result; labels as int32 (JAX without x64), "
            "float64 cases with x64."
            for impl, by in pins.items()]


def scaling_rows(report: Dict[str, Any]) -> Tuple[List[str], List[List[str]]]:
    threads = report["settings"]["threads"]
    if len(threads) < 2:
        return [], []
    base = threads[0]
    by = {(r["case"], r["threads"]): r.get("median_s")
          for r in report["results"] if r["impl"] == "fastxent"}
    head = (["case"] + [f"{t} thr" for t in threads]
            + [f"{t}/{base} thr speed-up" for t in threads[1:]])
    rows = []
    for case in dict.fromkeys(r["case"] for r in report["results"]):
        ts = [by.get((case, t)) for t in threads]
        rows.append([case] + [format_time(t) for t in ts]
                    + [_fmt_ratio(ts[0] / t) if (t and ts[0]) else "-" for t in ts[1:]])
    return head, rows


# the project's targets for evaluate's median over cross_entropy's on the
# same logits (dtype and shape), at every thread count, measured in one run
EVAL_TARGETS = {"evaluate": 1.25, "evaluate-per_class": 1.35, "evaluate-ref": 2.3}


def evaluate_rows(report: Dict[str, Any]) -> Tuple[List[str], List[List[str]]]:
    """evaluate vs cross_entropy alone: one row per evaluate case whose
    cross_entropy anchor (xent-<dtype>-<shape>) ran too."""
    threads = report["settings"]["threads"]
    by = {(r["case"], r["threads"]): r.get("median_s")
          for r in report["results"] if r["impl"] == "fastxent"}
    head = ["case", "vs"] + [f"{t} thr" for t in threads] + ["target"]
    rows = []
    for case in dict.fromkeys(r["case"] for r in report["results"]):
        parts = case.split("-")
        tag = "-".join(parts[:-2])
        if tag not in EVAL_TARGETS:
            continue
        anchor = "xent-" + "-".join(parts[-2:])
        ratios = [(by.get((case, t)), by.get((anchor, t))) for t in threads]
        if not any(a for _, a in ratios):
            continue
        rows.append([case, anchor] + [f"{e / a:.2f}x" if (e and a) else "-" for e, a in ratios]
                    + [f"<= {EVAL_TARGETS[tag]:.2f}x"])
    return head, rows


def _render_text(head: Sequence[str], rows: List[List[str]], right=frozenset()) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]

    def line(cells):
        return "  ".join(c.rjust(w) if h in right else c.ljust(w)
                         for c, w, h in zip(cells, widths, head)).rstrip()
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep] + [line(r) for r in rows])


def _render_markdown(head: Sequence[str], rows: List[List[str]], right=frozenset()) -> str:
    def esc(c):
        return c.replace("|", "\\|")
    align = ["---:" if h in right else ":---" for h in head]
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _header_lines(report: Dict[str, Any]) -> List[str]:
    m, f, s = report["machine"], report["floors"], report["settings"]
    cfg = m["fastxent_config"]
    v = m["versions"]
    peers = ", ".join(f"{k} {v[k]}" for k in ("torch", "jax", "optax", "scipy", "scikit-learn")
                      if v.get(k))
    rates = ", ".join(f"{k.replace('/float', ' f')} {r / 1e9:.2f}"
                      for k, r in f["rates_per_core"].items())
    bws: Dict[int, List[float]] = {}
    for e in f["read_bytes_per_s"]:
        bws.setdefault(e["threads"], []).append(e["bytes_per_s"] / 1e9)
    bw = ", ".join(f"{min(b):.0f}-{max(b):.0f} GB/s ({t} thr)" if len(b) > 1
                   else f"{b[0]:.0f} GB/s ({t} thr)" for t, b in bws.items())
    load = report.get("load_average", {}).get("start")
    return [
        f"fastxent {report['fastxent_version']} bench{' --quick' if s['quick'] else ''} "
        f"on {m['cpu']}: "
        f"{m['usable_cpus']} usable CPUs, ISA {cfg['isa']}, {cfg['compiler']}, "
        f"OpenMP {'yes' if cfg['openmp'] else 'no'}",
        f"peers: numpy {v.get('numpy')}" + (f", {peers}" if peers else "")
        + (f"; load average at start {load:.2f}" if load is not None else ""),
        f"floors: vector math {rates} Gelem/s per core; read {bw} over buffers of each case's size",
    ]


def _footnotes(report: Dict[str, Any]) -> List[str]:
    notes = [
        "median, min: of the samples (seconds per call); IQR = interquartile range / median; "
        "Gelem/s = N*C elements per second at the median.",
        "floor = max(transcendentals / (per-core rate x threads), bytes moved / read bandwidth), "
        "bound = what sets it; %floor = floor / median (100% = at the machine's limit; "
        "'!' = above 100%: the floor was measured while the machine was busier, "
        "rerun on a quiet one).",
        "fastxent speed-up = that impl's median / fastxent's at the same thread count "
        "(> 1: fastxent is faster).",
        "thr N* = single-threaded library: measured once at N threads and repeated in each "
        "thread group.",
        "check: result vs fastxent's (rtol 1e-3 float32 / 1e-6 float64, atol = rtol * max|value|); "
        "fastxent rows: 'same bits' = identical to its result at the first thread count.",
    ]
    load, cpus = report.get("load_average", {}).get("start"), report["machine"]["usable_cpus"]
    if load is not None and load > 0.25 * cpus:
        notes.append(f"load average {load:.2f} on {cpus} CPUs at the start: other processes "
                     f"compete for the CPUs, so times are noisy, most of all at {cpus} threads.")
    notes.extend(_pinning_notes(report))
    for case, why in report["skipped"].items():
        notes.append(f"skipped {case}: {why}")
    for impl, why in report["unavailable"].items():
        notes.append(f"not timed: {impl}: {why}")
    return notes


_EVAL_TITLE = ("fastxent evaluate / cross_entropy alone on the same logits (medians of this "
               "run, same threads):")


def format_report(report: Dict[str, Any], markdown: bool = False) -> str:
    head, rows = list(COLUMNS), table_rows(report)
    shead, srows = scaling_rows(report)
    ehead, erows = evaluate_rows(report)
    parts: List[str] = []
    if markdown:
        parts.append("  \n".join(_header_lines(report)))
        parts.append(_render_markdown(head, rows, _RIGHT) if rows else "(no results)")
        parts.append("\n".join("* " + n for n in _footnotes(report)))
        if srows:
            parts.append("fastxent thread scaling:")
            parts.append(_render_markdown(shead, srows, set(shead[1:])))
        if erows:
            parts.append(_EVAL_TITLE)
            parts.append(_render_markdown(ehead, erows, set(ehead[2:])))
    else:
        parts.append("\n".join(_header_lines(report)))
        parts.append(_render_text(head, rows, _RIGHT) if rows else "(no results)")
        parts.append("\n".join(textwrap.fill(n, 100, initial_indent="  ", subsequent_indent="    ")
                                for n in _footnotes(report)))
        if srows:
            parts.append("fastxent thread scaling:\n" + _render_text(shead, srows, set(shead[1:])))
        if erows:
            parts.append(_EVAL_TITLE + "\n" + _render_text(ehead, erows, set(ehead[2:])))
    return "\n\n".join(parts) + "\n"


def write_json(report: Dict[str, Any], path: str) -> None:
    """Write `report` to `path` as strict JSON (inf/NaN as null)."""
    with open(path, "w") as f:
        json.dump(jsonable(report), f, indent=1, allow_nan=False)


def jsonable(o):
    """`o` with NumPy scalars as Python numbers and inf/NaN as null (strict JSON)."""
    if isinstance(o, dict):
        return {str(k): jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(v) for v in o]
    if isinstance(o, (np.floating, np.integer, np.bool_)):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o
