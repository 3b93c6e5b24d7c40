"""Progress of a long evaluation: a caller's callable, tqdm when installed,
or a minimal bar of our own; bars are drawn on stderr only when it is a
terminal.
"""
from __future__ import annotations

import os
import sys
import time
from typing import Callable, Optional, TextIO


def _duration(s: float) -> str:
    if not s == s or s == float("inf"):
        return "?"
    s = int(s + 0.5)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def _count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


class TextBar:
    """`rows/total |####    | pct, rows/s, GB/s, ETA` redrawn in place on
    `stream` (at most ten times a second, and once at the end)."""

    WIDTH = 24

    def __init__(self, total: int, bytes_per_row: float, stream: TextIO,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.bytes_per_row = total, bytes_per_row
        self.stream, self.clock = stream, clock
        self.start = self.last = clock()
        self.done = 0

    def line(self, done: int, now: float) -> str:
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        frac = done / self.total if self.total else 1.0
        fill = int(frac * self.WIDTH)
        eta = (self.total - done) / rate if rate > 0 else float("nan")
        return (f"{frac:4.0%} |{'#' * fill}{' ' * (self.WIDTH - fill)}| {done}/{self.total} rows"
                f"  {_count(rate)} rows/s  {rate * self.bytes_per_row / 1e9:.2f} GB/s"
                f"  ETA {_duration(eta)}")

    def __call__(self, done: int) -> None:
        now = self.clock()
        self.done = done
        if now - self.last >= 0.1 or done >= self.total:
            self.last = now
            self.stream.write("\r" + self.line(done, now) + "\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        self.stream.write("\r" + self.line(self.done, self.clock()) + "\x1b[K\n")
        self.stream.flush()


class TqdmBar:
    """The same through tqdm (its own rate and ETA, GB/s as a postfix)."""

    def __init__(self, tqdm, total: int, bytes_per_row: float, stream: TextIO):
        try:
            known = os.get_terminal_size(stream.fileno()).columns > 0
        except (AttributeError, OSError, ValueError):
            known = False
        # a terminal of unknown size (0 x 0) makes tqdm draw nothing: give it one
        size = {} if known else {"ncols": 100, "nrows": 24}
        self.bar = tqdm(total=total, unit="rows", unit_scale=True, file=stream,
                        dynamic_ncols=known, mininterval=0.1, **size)
        self.bytes_per_row = bytes_per_row
        self.done, self.start = 0, time.monotonic()

    def __call__(self, done: int) -> None:
        elapsed = time.monotonic() - self.start
        if done and elapsed > 0:
            gbs = done * self.bytes_per_row / elapsed / 1e9
            self.bar.set_postfix_str(f"{gbs:.2f} GB/s", refresh=False)
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        self.bar.close()


class Report:
    """`progress` of evaluate_file as one object: report(rows_done), close()."""

    def __init__(self, fn: Optional[Callable[[int], None]], bar=None):
        self.fn, self.bar = fn, bar

    def __call__(self, done: int) -> None:
        if self.fn is not None:
            self.fn(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def make(progress, total: int, bytes_per_row: float,
         stream: Optional[TextIO] = None) -> Report:
    """A Report for `progress`: False (nothing), True (a bar on `stream`,
    stderr by default, when it is a terminal) or a callable taking
    (rows_done, rows_total)."""
    if progress is False or progress is None:
        return Report(None)
    if progress is True:
        stream = sys.stderr if stream is None else stream
        isatty = getattr(stream, "isatty", None)
        if stream is None or isatty is None or not isatty():
            return Report(None)
        bar: "TextBar | TqdmBar"
        try:
            from tqdm import tqdm
        except ImportError:
            bar = TextBar(total, bytes_per_row, stream)
        else:
            bar = TqdmBar(tqdm, total, bytes_per_row, stream)
        return Report(bar, bar)
    if callable(progress):
        return Report(lambda done: progress(done, total))
    raise ValueError(f"progress: expected True, False or a callable (rows_done, rows_total), "
                     f"got {progress!r}")
