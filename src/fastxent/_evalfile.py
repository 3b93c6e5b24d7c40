"""evaluate_file: the evaluation engine over arrays bigger than memory.

The logits (and labels, weights, segment ids, reference logits) are read by
chunks along one axis into two sets of reused buffers: a background thread
reads chunk k+1 while chunk k is evaluated. Each chunk is one
`Evaluator.update`, whose sums are exact, so the result equals `evaluate`
on the whole array in memory, bit for bit, whatever the chunk size.
"""
from __future__ import annotations

import math
import queue
import re
import signal
import threading
from typing import List, Optional, Sequence

import numpy as np

from . import _progress
from ._args import check_int, normalize_axis
from ._eval_result import EvalResult
from ._evaluate import Evaluator
from ._filesrc import ArraySource, Source, open_source

CHUNK_BYTES = 64 << 20   # the default chunk: about 64 MiB of logits
_F32 = np.dtype(np.float32)


class EvaluationInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`fastxent.evaluate_file`: a KeyboardInterrupt
    that carries the metrics of the rows evaluated before it.

    Attributes
    ----------
    result : EvalResult
        The metrics over the first `rows_done` rows.
    rows_done, rows_total : int

    Examples
    --------
    >>> import fastxent
    >>> issubclass(fastxent.EvaluationInterrupted, KeyboardInterrupt)
    True
    """

    def __init__(self, result: EvalResult, rows_done: int, rows_total: int):
        super().__init__(f"interrupted after {rows_done} of {rows_total} rows")
        self.result, self.rows_done, self.rows_total = result, rows_done, rows_total


def widen(chunk: np.ndarray, bfloat16: bool) -> np.ndarray:
    """A chunk as the kernels read it. bfloat16 (raw bits, or an ml_dtypes
    array) becomes float32 exactly (its bits are the float32's top half);
    float16 and byte-swapped floats become native float32 / float64.

    The one place to change once the kernels read halves directly."""
    if bfloat16 or chunk.dtype.name == "bfloat16":
        out = np.empty(chunk.shape, np.uint32)
        np.left_shift(chunk.view(np.uint16), 16, out=out, dtype=np.uint32)
        return out.view(_F32)
    if chunk.dtype.kind == "f" and chunk.dtype.itemsize == 2:
        return chunk.astype(_F32)
    if not chunk.dtype.isnative:
        return chunk.astype(chunk.dtype.newbyteorder("="))
    return chunk


class _DeferSigint:
    """Holds Ctrl-C back while an update runs (the evaluator's state is
    never half-updated), and raises it once the update is done. Only in the
    main thread with Python's default handler; elsewhere it does nothing."""

    def __enter__(self):
        self.hit, self._old = False, None
        if threading.current_thread() is threading.main_thread() \
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame):
        self.hit = True

    def __exit__(self, exc_type, exc, tb):
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        if self.hit and exc_type is None:
            raise KeyboardInterrupt
        return False


class _Reader:
    """Reads every source's chunks on a background thread into two sets of
    buffers: chunk k+1 is read while the caller evaluates chunk k, and
    chunk k+2 (into chunk k's buffers) waits until the caller asks for the
    chunk after k."""

    def __init__(self, sources: Sequence[Source], ranges, batch: int):
        self.sources, self.ranges = sources, ranges
        self._bufs = [[s.buffer(batch) for s in sources] for _ in range(2)]
        self._free = threading.Semaphore(2)
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fastxent-reader", daemon=True)

    def _run(self):
        try:
            for i, (a, b) in enumerate(self.ranges):
                while not self._free.acquire(timeout=0.1):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                bufs = self._bufs[i % 2]
                self._q.put((None, [s.read(a, b, buf) for s, buf in zip(self.sources, bufs)]))
        except BaseException as exc:   # handed to the caller's thread
            self._q.put((exc, None))

    def __iter__(self):
        self._thread.start()
        for _ in self.ranges:
            exc, chunks = self._q.get()
            if exc is not None:
                raise exc
            yield chunks
            self._free.release()

    def close(self):
        self._stop.set()
        self._free.release()
        if self._thread.is_alive():
            self._thread.join()


def _row_shaped(src: Optional[Source], row_shape, lcax: int, kinds: str, what: str):
    if src is None:
        return
    if src.shape != row_shape:
        raise ValueError(f"{src.name}: expected the logits' shape without the class axis, "
                         f"{row_shape}, got {src.shape}")
    if src.dtype.kind not in kinds:
        raise ValueError(f"{src.name}: expected {what}, got dtype {src.dtype}")
    _align(src, lcax)


def _align(src: Source, cax: int):
    """Read `src` along axis `cax` (a file only along its stored one)."""
    if isinstance(src, ArraySource):
        src.cax = cax
    elif src.cax != cax:
        raise ValueError(f"{src.name}: a Fortran-ordered file is read along its last axis and "
                         f"a C-ordered one along its first, but axis {cax} is needed here "
                         f"(store it in the other order)")


def _plan(lg: Source, axis, labels: Source, weights, segs, ref) -> int:
    """Checks every source against the logits before anything is read;
    returns the class axis."""
    nd = len(lg.shape)
    if nd < 2:
        raise ValueError(f"logits: expected at least 2 dimensions (rows and classes), got "
                         f"shape {lg.shape}")
    if not (lg.dtype.kind == "f" or lg.bfloat16 or lg.dtype.name == "bfloat16"):
        raise ValueError(f"logits: expected floating-point logits, got dtype {lg.dtype}")
    ax = normalize_axis(axis, nd)
    if isinstance(lg, ArraySource):
        lg.cax = 1 if ax == 0 else 0
    elif lg.cax == ax:
        order = "Fortran-ordered, its last axis" if lg.cax else "C-ordered, its first axis"
        raise ValueError(
            f"logits: the class axis {axis} of shape {lg.shape} is the axis the file is "
            f"stored along ({order}): each class is then a separate stretch of the file and "
            f"rows cannot be read by chunks; store it with the classes along the contiguous "
            f"axis (np.ascontiguousarray for axis=-1)")
    if lg.shape[ax] == 0:
        raise ValueError("logits: the class axis has length 0; expected at least 1 class")
    row_shape = lg.shape[:ax] + lg.shape[ax + 1:]
    lcax = lg.cax - (lg.cax > ax)
    _row_shaped(labels, row_shape, lcax, "iu", "integer class indices")
    _row_shaped(weights, row_shape, lcax, "fiub", "real numbers")
    _row_shaped(segs, row_shape, lcax, "iu", "integers")
    if ref is not None:
        if ref.shape != lg.shape:
            raise ValueError(f"reference_logits: expected the logits' shape {lg.shape}, "
                             f"got {ref.shape}")
        _align(ref, lg.cax)
    return ax


def _batch(batch_rows, lg: Source) -> int:
    if batch_rows is None:
        return max(1, CHUNK_BYTES // max(lg.slice_bytes, 1))
    b = check_int(batch_rows, "batch_rows")
    if b < 1:
        raise ValueError(f"batch_rows: expected a positive integer, got {batch_rows!r}")
    return b


def evaluate_file(logits, labels, *, batch_rows=None, progress=False, key=None,
                  labels_key=None, axis=-1, ignore_index=-100, topk=(1, 5), n_bins=15,
                  ties="first", sample_weight=None, segment_ids=None, per_class=False,
                  confusion_matrix=False, reference_logits=None, nonfinite="propagate",
                  num_threads=None) -> EvalResult:
    """:func:`fastxent.evaluate` over arrays read by chunks, in bounded memory.

    The logits are read along their stored axis in chunks of `batch_rows`
    slices, chunk k+1 on a background thread while chunk k is evaluated;
    memory stays a few chunks whatever the file's size. The result equals
    ``evaluate`` of the whole array in memory, bit for bit.

    Parameters
    ----------
    logits : path or array-like
        A ``.npy`` file (never loaded whole), a ``.safetensors`` file
        (tensor `key`; bfloat16 and float16 are read and widened to float32
        exactly), an HDF5 file (dataset `key`; needs h5py), or any object
        with ``shape``, ``dtype`` and slicing (``np.memmap``, an h5py
        dataset, a zarr array, an ndarray).
    labels : path or array-like
        The class indices, of the same kinds (`labels_key` in a file).
    batch_rows : int, optional
        Slices of the chunk axis (rows, for 2-d logits) per chunk; by
        default about 64 MiB of logits.
    progress : bool or callable, default False
        True draws a bar on stderr when it is a terminal (tqdm when
        installed); a callable is called with (rows_done, rows_total).
    key, labels_key : str, optional
        The tensor or dataset of a file holding several.
    axis, ignore_index, topk, n_bins, ties, per_class, confusion_matrix, nonfinite, num_threads
        As in :func:`fastxent.evaluate`.
    sample_weight, segment_ids, reference_logits : path or array-like, optional
        As in :func:`fastxent.evaluate`, read by chunks like the labels
        (reference logits like the logits). ``return_per_row`` is not
        offered: per-row arrays grow with the file (``Evaluator.update``
        returns nothing per row either; call ``evaluate`` per chunk).

    Returns
    -------
    EvalResult

    Raises
    ------
    FileNotFoundError
        A path does not exist.
    KeyError
        `key` / `labels_key` is not in the file.
    ValueError
        A file's contents are wrong (unknown format, corrupt or truncated
        header, a size that does not match, a file that shrinks while it is
        read) or do not fit together; raised before any work where it can be.
    EvaluationInterrupted
        On Ctrl-C (between chunks): a KeyboardInterrupt holding the result
        over the rows done.

    Examples
    --------
    >>> import os, tempfile, numpy as np, fastxent
    >>> x = np.random.default_rng(0).normal(size=(1000, 10)).astype(np.float32)
    >>> y = np.arange(1000) % 10
    >>> path = os.path.join(tempfile.mkdtemp(), "logits.npy")
    >>> np.save(path, x)
    >>> r = fastxent.evaluate_file(path, y, batch_rows=128)
    >>> r.nll_mean == fastxent.evaluate(x, y).nll_mean
    True
    """
    opened: List[Source] = []
    report = None
    try:
        def src(obj, name, k=None):
            if obj is None:
                return None
            s = open_source(name, obj, k)
            opened.append(s)
            return s
        lg = src(logits, "logits", key)
        sources = [lg, src(labels, "labels", labels_key), src(sample_weight, "sample_weight"),
                   src(segment_ids, "segment_ids"), src(reference_logits, "reference_logits")]
        ax = _plan(lg, axis, *sources[1:])
        batch = _batch(batch_rows, lg)
        ev = Evaluator(lg.shape[ax], axis=axis, ignore_index=ignore_index, topk=topk,
                       n_bins=n_bins, ties=ties, per_class=per_class,
                       confusion_matrix=confusion_matrix, nonfinite=nonfinite,
                       reference=sources[4] is not None, segments=sources[3] is not None,
                       num_threads=num_threads)
        n = lg.length
        rows_per_slice = math.prod(lg.slice_shape) // lg.shape[ax]
        total = n * rows_per_slice
        report = _progress.make(progress, total, lg.shape[ax] * lg.dtype.itemsize)
        lcax = lg.cax - (lg.cax > ax)
        return _run(ev, sources, [(a, min(a + batch, n)) for a in range(0, n, batch)], batch,
                    rows_per_slice, lcax, total, report)
    finally:
        if report is not None:
            report.close()
        for s in opened:
            s.close()


_POSITION = re.compile(r"(position|row) \(([0-9, ]*)\)")


def _in_file(msg: str, a: int, lcax: int) -> str:
    """The evaluator's message about a chunk starting at slice `a`, with the
    row position it names made a position in the whole array."""
    def shift(m):
        pos = [int(i) for i in m.group(2).split(",") if i.strip()]
        if lcax < len(pos):
            pos[lcax] += a
        return f"{m.group(1)} {tuple(pos)}"
    new, n = _POSITION.subn(shift, msg, count=1)
    return new if n else f"{msg} (in the chunk from row {a})"


def _run(ev: Evaluator, sources, ranges, batch, rows_per_slice, lcax, total,
         report) -> EvalResult:
    present = [s for s in sources if s is not None]
    reader = _Reader(present, ranges, batch)
    done = 0
    report(0)
    try:
        for (a, b), chunks in zip(ranges, reader):
            it = iter(chunks)
            x, t, w, seg, ref = (None if s is None else next(it) for s in sources)
            assert x is not None
            with _DeferSigint():
                try:
                    ev.update(widen(x, sources[0].bfloat16), t, sample_weight=w,
                              segment_ids=seg, reference_logits=None if ref is None
                              else widen(ref, sources[4].bfloat16))
                except (IndexError, ValueError) as exc:
                    raise type(exc)(_in_file(str(exc), a, lcax)) from None
                done += (b - a) * rows_per_slice
            report(done)
    except KeyboardInterrupt:
        raise EvaluationInterrupted(ev.result(), done, total) from None
    finally:
        reader.close()
    return ev.result()
