"""Command line: ``python -m fastxent {bench,config,evaluate}``."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

from . import _evalcli
from .bench import cli as bench_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m fastxent",
        description="fastxent: fused C kernels for cross-entropy losses over NumPy arrays.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    sub.add_parser("config", help="print version, compiler, OpenMP, ISA level and thread count",
                   description="Print fastxent's build and run-time configuration.")
    bench = sub.add_parser(
        "bench", help="time fastxent against NumPy, PyTorch, SciPy and scikit-learn",
        description="Time fastxent, its NumPy reference and the installed peers (PyTorch, "
                    "SciPy, scikit-learn) on the same data, at 1 thread and at all threads, "
                    "and print time, throughput, speed-ups and the fraction of this machine's "
                    "measured floor. Progress goes to stderr, the table to stdout.",
        epilog="FASTXENT_ISA=baseline|avx2|avx512 times a lower ISA level.")
    bench_cli.add_arguments(bench)
    evaluate = sub.add_parser(
        "evaluate", help="every metric of a logits file bigger than memory",
        description="Evaluate the logits in a file (.npy, .safetensors, HDF5, zarr) against class "
                    "labels, reading it by chunks in bounded memory: loss, perplexity, top-k "
                    "accuracy, calibration. The table goes to stdout, a progress bar to "
                    "stderr when it is a terminal. Exit status 2 on bad input, 130 when "
                    "interrupted (the partial result is printed).")
    _evalcli.add_arguments(evaluate)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "config":
            import fastxent
            fastxent.show_config()
            return 0
        if args.command == "evaluate":
            return _evalcli.main(args)
        return bench_cli.main(args)
    except BrokenPipeError:  # output piped into `head` and the like
        # keep Python's flush at exit from raising again (the documented recipe)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
