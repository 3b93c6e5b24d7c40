"""``python -m fastxent evaluate LOGITS LABELS``: evaluate_file from the
command line. The result goes to stdout as a table (and to --json,
--per-class, --plot files, each written whole or not at all), progress to
stderr. Exit status: 0 done, 2 bad input (the message, no traceback),
130 interrupted (the partial result printed and written with --json).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from typing import Callable

from ._evalfile import EvaluationInterrupted, evaluate_file

EXIT_BAD_INPUT, EXIT_INTERRUPTED = 2, 130


def _ints(text: str):
    try:
        ks = tuple(int(k) for k in text.split(",") if k.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got "
                                         f"{text!r}") from None
    if not ks:
        raise argparse.ArgumentTypeError(f"expected at least one integer, got {text!r}")
    return ks


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("logits", help="logits: a .npy, .safetensors or HDF5 file, or a zarr store")
    p.add_argument("labels", help="class indices: the same kinds")
    p.add_argument("--key", help="tensor / dataset of the logits in a file holding several")
    p.add_argument("--labels-key", help="tensor / dataset of the labels in a file holding "
                                        "several")
    p.add_argument("--axis", type=int, default=-1, help="the class axis (default -1)")
    p.add_argument("--topk", type=_ints, default=(1, 5), help="k of the top-k accuracies, "
                                                             "e.g. 1,5 (the default)")
    p.add_argument("--bins", type=int, default=15, help="calibration bins (default 15)")
    p.add_argument("--ignore-index", type=int, default=-100,
                   help="label of rows to leave out (default -100)")
    p.add_argument("--threads", type=int, default=None, help="threads (default: all)")
    p.add_argument("--batch-rows", type=int, default=None,
                   help="rows per chunk (default: about 64 MiB of logits)")
    p.add_argument("--json", metavar="FILE", help="write EvalResult.to_dict() as JSON")
    p.add_argument("--per-class", metavar="FILE.csv",
                   help="write per-class support, correct, predicted and NLL sum as CSV")
    p.add_argument("--plot", metavar="FILE.png", help="draw a reliability diagram (matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="draw no progress bar")


_NESTED = ("bins", "per_class", "segments", "per_row", "confusion_matrix")


def table(d: dict) -> str:
    """The metrics of `d` (EvalResult.to_dict(), maybe with partial and
    rows_done) as two columns; the arrays go to files, not here."""
    rows = []
    for k, v in d.items():
        if k == "topk_accuracy":
            rows += [(f"top{j}_accuracy", a) for j, a in v.items()]
        elif k == "reference":
            rows += [] if v is None else [(f"reference.{j}", a) for j, a in v.items()]
        elif k not in _NESTED:
            rows.append((k, v))
    width = max(len(k) for k, _ in rows)

    def fmt(v):
        return "nan" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)
    return "\n".join(f"{k:<{width}}  {fmt(v)}" for k, v in rows)


def _atomic_write(path: str, write: Callable) -> None:
    """Writes `path` whole or not at all (a temporary file beside it, renamed)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".fastxent-", suffix=".tmp")
    try:
        umask = os.umask(0o022)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)   # mkstemp's 0600 is for secrets, not results
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _check_outputs(args) -> None:
    for opt in ("json", "per_class", "plot"):
        path = getattr(args, opt)
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
            raise ValueError(f"--{opt.replace('_', '-')}: cannot write {path} (no writable "
                             f"folder {folder})")
        if os.path.isdir(path):
            raise ValueError(f"--{opt.replace('_', '-')}: {path} is a folder")
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise ValueError("--plot: needs matplotlib (pip install fastxent[plot])") from None


def _write_json(path: str, d: dict) -> None:
    text = json.dumps(d, allow_nan=False, indent=1) + "\n"
    _atomic_write(path, lambda f: f.write(text.encode()))


def _write_csv(path: str, per_class: dict) -> None:
    cols = ("support", "correct", "predicted", "nll_sum")
    lines = ["class," + ",".join(cols)]
    lines += [",".join([str(c)] + ["nan" if v is None else repr(v) for v in vals])
              for c, vals in enumerate(zip(*(per_class[k] for k in cols)))]
    text = "\n".join(lines) + "\n"
    _atomic_write(path, lambda f: f.write(text.encode()))


def _write_plot(path: str, res) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    b = res.bins
    with np.errstate(invalid="ignore", divide="ignore"):
        acc, conf = b.correct_sum / b.count, b.confidence_sum / b.count
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    width = np.diff(b.edges)
    ax.bar(b.edges[:-1], np.nan_to_num(acc), width=width, align="edge", edgecolor="k",
           label="accuracy")
    ax.plot(conf, acc, "o", color="C1", label="mean confidence")
    ax.plot([0, 1], [0, 1], "--", color="gray")
    ax.set(xlabel="confidence", ylabel="accuracy", xlim=(0, 1), ylim=(0, 1),
           title=f"ECE {res.ece:.4f}")
    ax.legend(loc="upper left")
    _atomic_write(path, lambda f: fig.savefig(f, format=os.path.splitext(path)[1][1:] or "png"))
    plt.close(fig)


def main(args: argparse.Namespace, stderr=None) -> int:
    stderr = sys.stderr if stderr is None else stderr
    try:
        _check_outputs(args)
        res = evaluate_file(args.logits, args.labels, key=args.key, labels_key=args.labels_key,
                            axis=args.axis, topk=args.topk, n_bins=args.bins,
                            ignore_index=args.ignore_index, num_threads=args.threads,
                            batch_rows=args.batch_rows, per_class=args.per_class is not None,
                            progress=not args.no_progress)
    except (FileNotFoundError, KeyError, ValueError, IndexError, OSError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"fastxent evaluate: error: {msg}", file=stderr)
        return EXIT_BAD_INPUT
    except EvaluationInterrupted as stop:
        d = dict(stop.result.to_dict(), partial=True, rows_done=stop.rows_done)
        print(table(d))
        sys.stdout.flush()
        note = f" (written to {args.json})" if args.json else ""
        if args.per_class or args.plot:
            note += "; --per-class and --plot are written only for a whole run"
        if args.json:
            _write_json(args.json, d)
        print(f"fastxent evaluate: interrupted after {stop.rows_done} of {stop.rows_total} "
              f"rows: the result above is over those rows only{note}", file=stderr)
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:
        print("fastxent evaluate: interrupted before the first row", file=stderr)
        return EXIT_INTERRUPTED
    d = res.to_dict()
    print(table(d))
    if args.json:
        _write_json(args.json, d)
    if args.per_class:
        _write_csv(args.per_class, d["per_class"])
    if args.plot:
        _write_plot(args.plot, res)
    return 0
