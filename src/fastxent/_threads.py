"""Thread-count policy: per call, then set_num_threads, then OMP_NUM_THREADS
(and threadpoolctl's OpenMP limit), then the CPUs this process may use."""
from __future__ import annotations

import os
import operator
from typing import Optional

from . import _kernels

_global_threads: Optional[int] = None
# More threads than this is a mistake, not a configuration: libgomp aborts
# the process when it cannot create them (e.g. under an address-space limit),
# and the C interface takes an int.
MAX_THREADS = 1024


def usable_cpus() -> int:
    """CPUs this process may run on (honours the CPU affinity mask)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


_USABLE_CPUS = usable_cpus()
_kernels.set_cpu_cap(_USABLE_CPUS)


def _check(n, name: str) -> int:
    try:
        v = operator.index(n)
    except TypeError:
        raise ValueError(f"{name}: expected a positive integer, got {n!r}") from None
    if v < 1:
        raise ValueError(f"{name}: expected a positive integer, got {v}")
    if v > MAX_THREADS:
        raise ValueError(f"{name}: expected at most {MAX_THREADS} threads, got {v}")
    return v


def set_num_threads(n: Optional[int]) -> None:
    """Set the default number of threads of every kernel.

    Parameters
    ----------
    n : int or None
        Number of threads (>= 1); None restores the default (OMP_NUM_THREADS
        or threadpoolctl's limit if set, else the usable CPU count).

    Examples
    --------
    >>> import fastxent
    >>> fastxent.set_num_threads(1)
    >>> fastxent.get_num_threads()
    1
    >>> fastxent.set_num_threads(None)
    """
    global _global_threads
    _global_threads = None if n is None else _check(n, "n")


def get_num_threads() -> int:
    """Number of threads a kernel call uses when `num_threads` is None.

    Examples
    --------
    >>> import fastxent
    >>> fastxent.get_num_threads() >= 1
    True
    """
    if _global_threads is not None:
        return _global_threads
    # omp_get_max_threads reflects OMP_NUM_THREADS and threadpoolctl limits
    return max(1, min(_USABLE_CPUS, _kernels.omp_max_threads()))


def resolve(num_threads) -> int:
    """The thread count handed to a kernel; 0 lets the kernel apply the
    default policy of get_num_threads() (it runs on every call: kept short)."""
    if num_threads is None:
        return _global_threads or 0
    return _check(num_threads, "num_threads")
