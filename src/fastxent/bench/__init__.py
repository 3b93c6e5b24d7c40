"""fastxent against its peers on the same data: ``python -m fastxent bench``.

Times, in one process and on the very same arrays, fastxent, the pure-NumPy
twin (:mod:`fastxent.reference`) and whichever of PyTorch, SciPy and
scikit-learn are importable, over a standard set of cases, at 1 thread and at all
threads; jitted JAX, where installed, in a process of its own pinned to as
many CPUs as fastxent's threads (:mod:`~fastxent.bench.jaxpeer`). Every
peer's result is checked against fastxent's, and every time is set against a
floor the suite measures on this machine itself.

The modules, in the order a run uses them:

* :mod:`~fastxent.bench.cases`: the cases, their peers and input data;
* :mod:`~fastxent.bench.timing`: timing one call; thread settings;
* :mod:`~fastxent.bench.floors`: this machine's compute and memory floors;
* :mod:`~fastxent.bench.jaxpeer`: the JAX peer and its pinned child process;
* :mod:`~fastxent.bench.check`: results checked against fastxent's;
* :mod:`~fastxent.bench.runner`: the suite run into one JSON-ready report;
* :mod:`~fastxent.bench.report`, :mod:`~fastxent.bench.plot`: its table,
  JSON and plot; :mod:`~fastxent.bench.cli`: the command line.

The names below are the case API the pytest-benchmark suites in
``benchmarks/`` build on, so both time the same thing::

    from fastxent.bench import DataCache, make_case, thread_setting
    case = make_case("cross_entropy", 8192, 1000, grad=True)
    call = case.impl("fastxent").build(case.make(DataCache()), 1)
    with thread_setting(1, use_torch=False):
        call()

Importing :mod:`fastxent` does not import this package; matplotlib and the
peers are imported only when a case or plot needs them.
"""
from .cases import (CASE_MAKERS, IMPL_ORDER, Case, DataCache, Impl, get_case, make_case,
                    select_cases, standard_cases)
from .check import as_arrays, compare
from .machine import usable_cpus
from .report import format_report
from .runner import run_case, run_suite
from .timing import Settings, measure, thread_setting

__all__ = [
    "CASE_MAKERS", "IMPL_ORDER", "Case", "DataCache", "Impl", "Settings", "as_arrays",
    "compare", "format_report", "get_case", "make_case", "measure", "run_case", "run_suite",
    "select_cases", "standard_cases", "thread_setting", "usable_cpus",
]
