"""Parameters shared by the benchmark modules (kept out of conftest.py, which
is not meant to be imported)."""
import importlib.util

import pytest

from fastxent.bench import usable_cpus

ALL_THREADS = usable_cpus()
THREADS = sorted({1, ALL_THREADS})
_THREADED = {"fastxent", "torch"}
_MODULE = {"torch": "torch", "scipy": "scipy", "sklearn": "sklearn"}


def _installed(impl):
    mod = _MODULE.get(impl)
    return mod is None or importlib.util.find_spec(mod) is not None


def impl_params(*impls):
    """(impl, threads) parameters: threaded impls at 1 and all threads, others at 1."""
    params = []
    for impl in impls:
        for t in (THREADS if impl in _THREADED else [1]):
            marks = ([] if _installed(impl)
                     else [pytest.mark.skip(reason=f"{impl} is not installed")])
            params.append(pytest.param(impl, t, id=f"{impl}-{t}thr", marks=marks))
    return params


def shape_id(shape):
    return "x".join(map(str, shape))
