"""fastxent on Dask arrays (the optional extra ``fastxent[dask]``).

Every function works block by block with the in-memory kernels on blocks of
whole rows (a class axis split into chunks is rechunked, with a warning when
that moves much data). Reductions and :func:`evaluate` add the blocks'
results exactly (the superaccumulator of the evaluation engine), merge them
in a tree of `split_every` and round once: the same bits as the in-memory
call on the same data, for every chunking, scheduler and number of workers.

Threads: a task's kernels use `num_threads` if given, else the thread count
of the distributed worker that runs it (``threads_per_worker``; outside a
worker, :func:`fastxent.get_num_threads`) shared among the fastxent tasks
running there at once, so a worker never runs more kernel threads than it
has threads. For a few fat tasks per machine, start workers with
``threads_per_worker=1`` and pass ``num_threads=`` the cores per worker.

``import fastxent`` never imports this module (nor dask).
"""
try:
    import dask.array  # noqa: F401
except ImportError:  # pragma: no cover - the original error is chained
    raise ImportError("fastxent.dask needs dask: pip install 'fastxent[dask]' "
                      "(dask[array] and distributed)")

from ._evaluate import evaluate
from ._io import from_npy
from ._losses import (binary_cross_entropy_with_logits, cross_entropy, log_softmax, logsumexp,
                      softmax)

__all__ = ["evaluate", "cross_entropy", "binary_cross_entropy_with_logits", "log_softmax",
           "softmax", "logsumexp", "from_npy"]
