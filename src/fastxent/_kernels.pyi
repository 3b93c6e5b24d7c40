"""Stub of the Cython binding fastxent._kernels (src/fastxent/_kernels.pyx).

Private: the Python layer hands over checked arrays of the compute dtype and
strides in elements. Parameter names and order follow the .pyx exactly, so
tests/test_stubs.py fails when either changes without the other.
"""
from typing import Any, Optional, Tuple, TypedDict

import numpy as np
from numpy.typing import NDArray

_Array = NDArray[Any]

# Cython's doctest dict (autotestdict); kept so the stub matches the module.
__test__: dict[str, str]

class _BuildInfo(TypedDict):
    isa: str
    isa_supported: str
    compiler: str
    openmp: bool
    openmp_version: int
    omp_max_threads: int
    forked_serial: bool
    row_chunk: dict[str, int]

def select_isa(requested: int) -> int: ...
def set_cpu_cap(n: int) -> None: ...
def omp_max_threads() -> int: ...
def build_info() -> _BuildInfo: ...
def xent(
    x: _Array,
    outer: int,
    C: int,
    inner: int,
    xs_outer: int,
    xs_class: int,
    xs_inner: int,
    y: Optional[_Array],
    ys_outer: int,
    ys_class: int,
    ys_inner: int,
    labels: Optional[NDArray[np.int64]],
    ignore_index: int,
    weight: Optional[_Array],
    smoothing: float,
    loss_out: Optional[_Array],
    grad: Optional[_Array],
    gs_outer: int,
    gs_class: int,
    gs_inner: int,
    grad_mean: bool,
    nthreads: int,
    mode: int = ...,
) -> Tuple[float, float, int]: ...
def xent_plain(
    logits: object, target: object, mean: bool, nthreads: int
) -> Optional[np.generic | int]: ...
def math_eval(fn: int, inp: _Array, out: _Array) -> None: ...
def bce(
    x: _Array,
    y: _Array,
    L: int,
    w: Optional[_Array],
    ws_row: int,
    ws_col: int,
    pw: Optional[_Array],
    pws_row: int,
    pws_col: int,
    smoothing: float,
    loss_out: Optional[_Array],
    grad: Optional[_Array],
    grad_scale: float,
    probs: bool,
    nthreads: int,
) -> Tuple[float, int]: ...
def info(
    pa: _Array,
    outer: int,
    C: int,
    inner: int,
    ps_outer: int,
    ps_class: int,
    ps_inner: int,
    qa: Optional[_Array],
    qs_outer: int,
    qs_class: int,
    qs_inner: int,
    out: _Array,
    scale: float,
    nthreads: int,
) -> int: ...
def logloss(
    prob: _Array,
    n: int,
    K: int,
    ps_row: int,
    ps_col: int,
    col: NDArray[np.int64],
    sw: Optional[_Array],
    eps: float,
    rtol: float,
    atol: float,
    nthreads: int,
) -> Tuple[float, float, float, float]: ...
def exact_add(acc: _Array, values: _Array) -> None: ...
def exact_words() -> int: ...
def exact_round(acc: _Array) -> _Array: ...
def exact_merge(dst: _Array, src: _Array) -> None: ...
def exact_normalize(acc: _Array) -> None: ...
def exact_round_window(chunks: _Array, lo: int, special: Optional[_Array]) -> _Array: ...
def eval_rows(
    x: _Array,
    outer: int,
    C: int,
    inner: int,
    xs_outer: int,
    xs_class: int,
    xs_inner: int,
    xr: Optional[_Array],
    rs_outer: int,
    rs_class: int,
    rs_inner: int,
    labels: _Array,
    ignore_index: int,
    sample_weight: Optional[_Array],
    ties_last: bool,
    nonfinite: int,
    topk: _Array,
    n_bins: int,
    acc: _Array,
    row_nll: Optional[_Array],
    row_max_prob: Optional[_Array],
    row_entropy: Optional[_Array],
    row_kl: Optional[_Array],
    row_rank: Optional[_Array],
    row_argmax: Optional[_Array],
    row_status: Optional[_Array],
    nthreads: int,
) -> Tuple[int, int, float, int, int]: ...
