"""fastxent.dask.evaluate: one Evaluator state per block of whole rows,
merged in a tree; the sums are exact, so the result is the in-memory
evaluate's to the bit for any chunking, tree and number of workers."""
from __future__ import annotations

import dask
import dask.array as da
import numpy as np
from dask.base import tokenize

from .._evaluate import Evaluator
from ._graph import (as_dask, block_delayed, check_split_every, class_axis, first_of,
                     flat_runs, globalise, indices, row_starts, rows_like, task_threads, tree)


def _block_state(x, t, w, s, r, start, *, num_classes, options, num_threads, row_shape):
    """One block's Evaluator state; with segments also the runs of rows it
    holds that follow each other in C order (flat start, length, first id,
    last id) and the first decrease inside them (flat position, id, id
    before), for the check across blocks that gives in-memory's message."""
    start = first_of(start)
    runs, bad, broken = None, [], False
    if s is not None:
        runs, bad = _runs(s, start, row_shape)
        flat = s.reshape(-1)
        broken = bool(np.any(flat[1:] < flat[:-1]))   # found again from `bad` and `runs`
        if broken:   # still raise on bad labels or weights first, as in memory
            s = np.maximum.accumulate(flat).reshape(s.shape)
    with task_threads(num_threads) as n:
        ev = Evaluator(num_classes, num_threads=n, **options)
        try:
            ev.update(x, t, sample_weight=w, segment_ids=s, reference_logits=r)
        except (IndexError, ValueError) as e:
            raise globalise(e, start, t.shape, row_shape) from None
    return {"state": None if broken else ev.state_dict(), "runs": runs, "bad": bad}


def _runs(s, start, row_shape):
    runs = flat_runs(start, s.shape, row_shape)
    ids = s.reshape(-1)
    ends = np.cumsum(runs[:, 1])
    begins = ends - runs[:, 1]
    runs = np.concatenate([runs, ids[begins, None], ids[ends - 1, None]], 1)
    dec = np.flatnonzero(ids[1:] < ids[:-1]) + 1
    dec = dec[~np.isin(dec, begins)]
    if not dec.size:
        return runs, []
    j = int(dec[0])
    r = int(np.searchsorted(ends, j, side="right"))
    return runs, [(int(runs[r, 0] + j - begins[r]), int(ids[j]), int(ids[j - 1]))]


def _compact(runs, bad):
    """Runs that follow each other joined into one (a decrease where they
    meet goes to `bad`): a merged subtree of adjacent blocks keeps one run."""
    if runs is None or len(runs) < 2:
        return runs, bad
    runs = runs[np.argsort(runs[:, 0], kind="stable")]
    out, bad = [runs[0].copy()], list(bad)
    for r in runs[1:]:
        last = out[-1]
        if r[0] != last[0] + last[1]:
            out.append(r.copy())
            continue
        if r[2] < last[3]:
            bad.append((int(r[0]), int(r[2]), int(last[3])))
        last[1] += r[1]
        last[3] = r[3]
    return np.array(out), bad


def _merge_states(*parts) -> dict:
    runs = [p["runs"] for p in parts if p["runs"] is not None]
    runs, bad = _compact(np.concatenate(runs) if runs else None,
                         [b for p in parts for b in p["bad"]])
    out: dict = {"state": None, "runs": runs, "bad": bad}
    if not bad and all(p["state"] is not None for p in parts):
        ev = Evaluator.from_state_dict(parts[0]["state"], num_threads=1)
        for p in parts[1:]:
            ev.merge(Evaluator.from_state_dict(p["state"], num_threads=1))
        out["state"] = ev.state_dict()
    return out


def _first_decrease(part):
    """The message of the first decrease of the ids in C order, or None."""
    _, bad = _compact(part["runs"], part["bad"])
    if not bad:
        return None
    pos, got, before = min(bad)
    return (f"segment_ids: expected non-decreasing ids, got {got} after {before} at flat "
            f"position {pos}")


def evaluate(logits, labels, *, axis=-1, ignore_index=-100, topk=(1, 5), n_bins=15,
             ties="first", sample_weight=None, segment_ids=None, per_class=False,
             confusion_matrix=False, reference_logits=None, nonfinite="propagate",
             return_per_row=False, num_threads=None, split_every=None, compute=True):
    """:func:`fastxent.evaluate` on dask arrays, equal to it bit for bit.

    Each block of whole rows becomes an :class:`fastxent.Evaluator` state
    (a few KiB, plus C items with `per_class` and one per segment), the
    states are merged `split_every` at a time, and the merged state is
    rounded once. Its sums are exact, so the result is the in-memory
    ``fastxent.evaluate`` of the same data for every chunking, merge tree,
    scheduler and number of workers.

    Parameters
    ----------
    logits : dask.array.Array (or array-like)
        Scores with the classes along `axis`. A class axis split into
        several chunks is rechunked to whole rows (a PerformanceWarning
        when that moves more than 64 MiB).
    labels, sample_weight, segment_ids : dask.array.Array or array-like
        One value per row (the logits' shape without `axis`); rechunked
        to the logits' row chunks. `segment_ids` may cross chunk borders.
    reference_logits : dask.array.Array, optional
        Of the logits' shape.
    axis, ignore_index, topk, n_bins, ties, per_class, confusion_matrix, nonfinite
        As in :func:`fastxent.evaluate`.
    return_per_row : False
        Per-row arrays are not collected; use
        ``fastxent.dask.cross_entropy(..., reduction="none")`` for lazy
        per-row losses.
    num_threads : int, optional
        Kernel threads per task. Default: inside a distributed worker, the
        worker's thread count (``threads_per_worker``) shared among the
        fastxent tasks running there, else :func:`fastxent.get_num_threads`
        shared the same way.
    split_every : int >= 2, default 8
        States merged per task of the tree.
    compute : bool, default True
        False returns a ``dask.delayed`` object whose value is the result.

    Returns
    -------
    EvalResult (or a Delayed of it)

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastxent, fastxent.dask
    >>> x = np.random.default_rng(0).normal(size=(100, 7)).astype(np.float32)
    >>> y = np.arange(100) % 7
    >>> d = fastxent.dask.evaluate(da.from_array(x, chunks=(13, 7)), y)
    >>> d.nll_mean == fastxent.evaluate(x, y).nll_mean
    True
    """
    if not (return_per_row is False or return_per_row is np.False_):
        raise ValueError("return_per_row: expected False (per-row values of a dask array stay "
                         "lazy: use fastxent.dask.cross_entropy(..., reduction='none')), got "
                         f"{return_per_row!r}")
    x, ax = class_axis(as_dask(logits, "logits"), axis)
    options = dict(axis=ax, ignore_index=ignore_index, topk=topk, n_bins=n_bins, ties=ties,
                   per_class=per_class, confusion_matrix=confusion_matrix, nonfinite=nonfinite,
                   reference=reference_logits is not None, segments=segment_ids is not None)
    Evaluator(x.shape[ax], num_threads=num_threads, **options)   # checks every option now
    t = rows_like(labels, x, ax, "labels")
    if t.dtype.kind not in "iu":
        raise ValueError(f"labels: expected integer class indices, got dtype {t.dtype}")
    w = None if sample_weight is None else rows_like(sample_weight, x, ax, "sample_weight")
    s = None if segment_ids is None else rows_like(segment_ids, x, ax, "segment_ids")
    if s is not None and s.dtype.kind not in "iu":
        raise ValueError(f"segment_ids: expected integers, got dtype {s.dtype}")
    r = None
    if reference_logits is not None:
        r = as_dask(reference_logits, "reference_logits")
        if r.shape != x.shape:
            raise ValueError(f"reference_logits: expected the logits' shape {x.shape}, "
                             f"got {r.shape}")
        r = r.rechunk(x.chunks)
    k = check_split_every(split_every)
    full, rows = indices(x.ndim, ax)
    args = [x, full, t, rows]
    for a, ind in ((w, rows), (s, rows), (r, full)):
        args += [a, ind if a is not None else None]
    args += row_starts(x, ax)
    # output index `full` (the class axis is one chunk): with a contraction
    # Dask would not fuse the loading of each block (from_npy) into its state
    states = da.blockwise(_block_state, full, *args, dtype=object, align_arrays=False,
                          meta=np.empty((0,) * x.ndim, object),
                          num_classes=x.shape[ax], options=options, num_threads=num_threads,
                          row_shape=t.shape)
    parts = block_delayed(states)
    name = "fastxent-evaluate-" + tokenize(states.name, k)
    final = tree(parts, _merge_states, k, name)
    result = dask.delayed(_finish, pure=True)(final, dask_key_name=name + "-result")
    return result.compute() if compute else result


def _finish(part):
    message = _first_decrease(part)
    if message is not None:
        raise ValueError(message)
    return Evaluator.from_state_dict(part["state"], num_threads=1).result()
