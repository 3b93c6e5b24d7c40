"""Build and run-time configuration: ISA level selection and show_config()."""
from __future__ import annotations

import os
import sys

import numpy as np

from . import _kernels
from ._threads import get_num_threads, usable_cpus

ISA_LEVELS = ("baseline", "avx2", "avx512")


def _select_isa_from_env() -> str:
    """Apply FASTXENT_ISA (a ceiling: baseline, avx2 or avx512) once at import."""
    want = os.environ.get("FASTXENT_ISA", "").strip().lower()
    if want and want not in ISA_LEVELS:
        raise ImportError(
            f"FASTXENT_ISA: expected one of {ISA_LEVELS}, got {want!r}")
    level = ISA_LEVELS.index(want) if want else -1
    return ISA_LEVELS[_kernels.select_isa(level)]


ISA = _select_isa_from_env()


def set_isa(level: str) -> str:
    """Switch the ISA level at run time (min of `level` and what the CPU has).

    For tests and benchmarks that compare levels in one process; not
    thread-safe against kernels running concurrently. Returns the level now
    in use.
    """
    global ISA
    if level not in ISA_LEVELS:
        raise ValueError(f"level: expected one of {ISA_LEVELS}, got {level!r}")
    ISA = ISA_LEVELS[_kernels.select_isa(ISA_LEVELS.index(level))]
    return ISA


def supported_isa_levels() -> tuple:
    """The ISA levels this CPU can run, lowest first."""
    best = _kernels.build_info()["isa_supported"]
    return ISA_LEVELS[: ISA_LEVELS.index(best) + 1]


def config() -> dict:
    """The configuration show_config() prints, as a dict."""
    from . import __version__
    info = _kernels.build_info()
    return {
        "fastxent": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "compiler": info["compiler"],
        "openmp": info["openmp"],
        "openmp_version": info["openmp_version"],
        "isa": info["isa"],
        "isa_supported": info["isa_supported"],
        "isa_forced": os.environ.get("FASTXENT_ISA") or None,
        "num_threads": get_num_threads(),
        "thread_runner": info["thread_runner"],
        "serial_after_fork": info["forked_serial"],
        "usable_cpus": usable_cpus(),
    }


def show_config(file=None) -> None:
    """Print version, compiler, OpenMP, ISA level and thread count.

    Examples
    --------
    >>> import fastxent
    >>> fastxent.show_config()  # doctest: +SKIP
    fastxent 0.1.0 ...
    """
    cfg = config()
    out = file if file is not None else sys.stdout
    for key, value in cfg.items():
        print(f"{key:>14}: {value}", file=out)
