"""Stub of the Cython binding fastxent._kernels (src/fastxent/_kernels.pyx).

Private: the Python layer hands over checked arrays of the compute dtype and
strides in elements. Parameter names and order follow the .pyx exactly, so
tests/test_stubs.py fails when either changes without the other.
"""
from typing import Any, Optional, Tuple, TypedDict, Union

import numpy as np
from numpy.typing import NDArray
from typing_extensions import disjoint_base

_Array = NDArray[Any]

# Cython's doctest dict (autotestdict); kept so the stub matches the module.
__test__: dict[str, str]

class _BuildInfo(TypedDict):
    isa: str
    isa_supported: str
    compiler: str
    thread_runner: str
    openmp: bool
    openmp_version: int
    omp_max_threads: int
    forked_serial: bool
    row_chunk: dict[str, int]

def select_isa(requested: int) -> int: ...
def set_cpu_cap(n: int) -> None: ...
def omp_max_threads() -> int: ...
def build_info() -> _BuildInfo: ...
# (outer, C, inner) shapes and (s_outer, s_class, s_inner) strides in elements
_Triple = Tuple[int, int, int]
# the C status (code, arg, index): see csrc/fx_api.h and _outputs.raise_status
_Status = Tuple[int, int, int]

def xent(
    x: _Array,
    shape: _Triple,
    xs: _Triple,
    y: Optional[_Array],
    ys: _Triple,
    labels: Optional[NDArray[np.int64]],
    ignore_index: int,
    weight: Optional[_Array],
    smoothing: float,
    loss_out: Optional[_Array],
    grad: Optional[_Array],
    gs: _Triple,
    grad_mean: bool,
    nthreads: int,
) -> Tuple[_Status, float, float]: ...
def softmax(
    x: _Array,
    shape: _Triple,
    xs: _Triple,
    lse_out: Optional[_Array],
    out: Optional[_Array],
    os: _Triple,
    op: int,
    nthreads: int,
) -> _Status: ...
def xent_plain(
    logits: object, target: object, mean: bool, nthreads: int
) -> Optional[np.generic | _Status]: ...
def math_eval(fn: int, inp: _Array, out: _Array) -> None: ...
def bce(
    x: _Array,
    y: _Array,
    L: int,
    w: Optional[_Array],
    ws: _Triple,
    pw: Optional[_Array],
    pws: _Triple,
    smoothing: float,
    loss_out: Optional[_Array],
    grad: Optional[_Array],
    grad_scale: float,
    probs: bool,
    nthreads: int,
) -> Tuple[_Status, float]: ...
def info(
    pa: _Array,
    shape: _Triple,
    ps: _Triple,
    qa: Optional[_Array],
    qs: _Triple,
    out: _Array,
    scale: float,
    nthreads: int,
) -> _Status: ...
def logloss(
    prob: _Array,
    n: int,
    K: int,
    ps: _Triple,
    col: NDArray[np.int64],
    sw: Optional[_Array],
    eps: float,
    rtol: float,
    atol: float,
    nthreads: int,
) -> Tuple[_Status, float, float, float, float]: ...
def exact_add(acc: _Array, values: _Array) -> None: ...
def exact_words() -> int: ...
def exact_round(acc: _Array) -> _Array: ...
def exact_merge(dst: _Array, src: _Array) -> None: ...
def exact_normalize(acc: _Array) -> None: ...
@disjoint_base
class EvalCounts:
    n_rows: int
    n_ignored: int
    n_nonfinite: int

@disjoint_base
class PlainEval:
    def __init__(
        self,
        C: int,
        ignore_index: int,
        ties_last: bool,
        nonfinite: int,
        topk: _Array,
        n_bins: int,
        nthreads: int,
        counts: EvalCounts,
    ) -> None: ...
    def run(self, logits: object, labels: object, acc: _Array) -> Union[None, bool, _Status]: ...

def exact_round_window(chunks: _Array, lo: int, special: Optional[_Array]) -> _Array: ...
def exact_window_normalize(chunks: _Array) -> None: ...
def exact_span(values: _Array) -> Tuple[int, int, int]: ...
def exact_window_add(chunks: _Array, lo: int, index: _Array, values: _Array) -> int: ...
def eval_rows(
    x: _Array,
    shape: _Triple,
    xs: _Triple,
    xr: Optional[_Array],
    rs: _Triple,
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
) -> Tuple[_Status, int, int, float]: ...
