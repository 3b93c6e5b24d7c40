"""``python -m fastxent bench``: the arguments and what they run."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from .cases import IMPL_ORDER, select_cases, standard_cases
from .machine import usable_cpus
from .report import format_report, write_json
from .runner import run_suite
from .timing import Settings


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true",
                   help="a subset of the cases (unless --cases is given) and fewer repeats: "
                        "well under a minute")
    p.add_argument("--cases", metavar="SUBSTRINGS",
                   help="only cases whose id contains one of these comma-separated substrings "
                        "(e.g. 8192x1000 or xent-f32-64x10); see --list")
    p.add_argument("--threads", metavar="LIST",
                   help="comma-separated thread counts (default: 1 and all usable CPUs)")
    p.add_argument("--impls", metavar="LIST",
                   help=f"comma-separated implementations to time besides fastxent "
                        f"(default: all importable of {', '.join(IMPL_ORDER[1:])})")
    p.add_argument("--target-time", type=float, metavar="SECONDS",
                   help="time spent sampling each measurement (default 0.2, --quick 0.08)")
    p.add_argument("--json", metavar="FILE", help="write all raw results and machine info as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="draw throughput per case (needs matplotlib)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--list", action="store_true", help="list the cases and exit")


def parse_threads(text: Optional[str]) -> List[int]:
    """--threads: distinct positive counts in the given order (default 1 and all CPUs)."""
    if not text:
        return sorted({1, usable_cpus()})
    try:
        ts = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        ts = []
    if not ts or min(ts) < 1:
        raise ValueError(f"--threads: expected comma-separated positive integers, got {text!r}")
    return list(dict.fromkeys(ts))


def _fail(msg: str) -> int:
    print(f"fastxent bench: {msg}", file=sys.stderr)
    return 2


def main(args: argparse.Namespace) -> int:
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            return _fail("--plot needs matplotlib, which is not installed "
                         "(pip install matplotlib, or pip install 'fastxent[plot]')")
    cases = standard_cases()
    if args.list:
        for c in cases:
            why = c.missing
            print(f"{c.id:<28} {'quick ' if c.quick else '      '}{c.options:<40} "
                  f"{'(skipped: ' + why + ')' if why else ''}".rstrip())
        return 0
    if args.quick and not args.cases:
        cases = [c for c in cases if c.quick]
    cases = select_cases(cases, args.cases)
    if not cases:
        return _fail(f"no case matches {args.cases!r}; see --list")
    impls = None
    if args.impls:
        impls = [s.strip() for s in args.impls.split(",") if s.strip()]
        unknown = set(impls) - set(IMPL_ORDER)
        if unknown:
            return _fail(f"unknown --impls {sorted(unknown)}; choose from {IMPL_ORDER}")
    try:
        threads = parse_threads(args.threads)
    except ValueError as e:
        return _fail(str(e))
    settings = Settings.for_mode(args.quick, args.target_time)
    report = run_suite(cases, threads, settings, impls)
    print(format_report(report, markdown=args.markdown), end="")
    if args.json:
        write_json(report, args.json)
        print(f"wrote {args.json}", file=sys.stderr)
    if args.plot:
        from .plot import plot_report
        plot_report(report, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    return 0
