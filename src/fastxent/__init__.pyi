from typing import Any, Callable, Dict, Literal, Mapping, Optional, Sequence, Tuple, Union, overload

import numpy as np
from _typeshed import SupportsWrite
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._eval_result import EvalResult as EvalResult

__version__: str

_Reduction = Literal["mean", "sum", "none"]
_FloatArray = NDArray[np.floating[Any]]
# a numpy scalar for reduction "mean"/"sum" (and 0-d results), else an array
_Result = Union[np.floating[Any], _FloatArray]
# an axis, a tuple of axes, or None for all of them (as SciPy)
_Axes = Union[int, Tuple[int, ...], None]

# The three losses return (loss, grad) when return_grad is true or grad_out
# is given, else loss alone.
@overload
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    axis: int = ...,
    weight: Optional[ArrayLike] = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: Literal[False] = ...,
    grad_out: None = ...,
) -> _Result: ...
@overload
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    axis: int = ...,
    weight: Optional[ArrayLike] = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: Literal[True],
    grad_out: Optional[_FloatArray] = ...,
) -> Tuple[_Result, _FloatArray]: ...
@overload
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    axis: int = ...,
    weight: Optional[ArrayLike] = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: bool = ...,
    grad_out: _FloatArray,
) -> Tuple[_Result, _FloatArray]: ...
@overload
def cross_entropy(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    axis: int = ...,
    weight: Optional[ArrayLike] = ...,
    ignore_index: int = ...,
    label_smoothing: float = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: bool = ...,
    grad_out: Optional[_FloatArray] = ...,
) -> Union[_Result, Tuple[_Result, _FloatArray]]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = ...,
    pos_weight: Optional[ArrayLike] = ...,
    label_smoothing: float = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: Literal[False] = ...,
    grad_out: None = ...,
) -> _Result: ...
@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = ...,
    pos_weight: Optional[ArrayLike] = ...,
    label_smoothing: float = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: Literal[True],
    grad_out: Optional[_FloatArray] = ...,
) -> Tuple[_Result, _FloatArray]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = ...,
    pos_weight: Optional[ArrayLike] = ...,
    label_smoothing: float = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: bool = ...,
    grad_out: _FloatArray,
) -> Tuple[_Result, _FloatArray]: ...
@overload
def binary_cross_entropy_with_logits(
    logits: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = ...,
    pos_weight: Optional[ArrayLike] = ...,
    label_smoothing: float = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: bool = ...,
    grad_out: Optional[_FloatArray] = ...,
) -> Union[_Result, Tuple[_Result, _FloatArray]]: ...
@overload
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: Literal[False] = ...,
    grad_out: None = ...,
) -> _Result: ...
@overload
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: Literal[True],
    grad_out: Optional[_FloatArray] = ...,
) -> Tuple[_Result, _FloatArray]: ...
@overload
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: bool = ...,
    grad_out: _FloatArray,
) -> Tuple[_Result, _FloatArray]: ...
@overload
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: bool = ...,
    grad_out: Optional[_FloatArray] = ...,
) -> Union[_Result, Tuple[_Result, _FloatArray]]: ...
def log_softmax(
    x: ArrayLike,
    axis: _Axes = ...,
    *,
    out: Optional[_FloatArray] = ...,
    dtype: Optional[DTypeLike] = ...,
    num_threads: Optional[int] = ...,
) -> _FloatArray: ...
def softmax(
    x: ArrayLike,
    axis: _Axes = ...,
    *,
    out: Optional[_FloatArray] = ...,
    dtype: Optional[DTypeLike] = ...,
    num_threads: Optional[int] = ...,
) -> _FloatArray: ...
# (result, sign) when return_sign is true
@overload
def logsumexp(
    x: ArrayLike,
    axis: _Axes = ...,
    b: Optional[ArrayLike] = ...,
    keepdims: bool = ...,
    return_sign: Literal[False] = ...,
    *,
    num_threads: Optional[int] = ...,
) -> _Result: ...
@overload
def logsumexp(
    x: ArrayLike,
    axis: _Axes,
    b: Optional[ArrayLike],
    keepdims: bool,
    return_sign: Literal[True],
    *,
    num_threads: Optional[int] = ...,
) -> Tuple[_Result, _Result]: ...
@overload
def logsumexp(
    x: ArrayLike,
    axis: _Axes = ...,
    b: Optional[ArrayLike] = ...,
    keepdims: bool = ...,
    *,
    return_sign: Literal[True],
    num_threads: Optional[int] = ...,
) -> Tuple[_Result, _Result]: ...
def entropy(
    p: ArrayLike,
    axis: int = ...,
    *,
    base: Optional[float] = ...,
    normalize: Optional[bool] = ...,
    num_threads: Optional[int] = ...,
) -> _Result: ...
def kl_divergence(
    p: ArrayLike,
    q: ArrayLike,
    axis: int = ...,
    *,
    base: Optional[float] = ...,
    normalize: Optional[bool] = ...,
    num_threads: Optional[int] = ...,
) -> _Result: ...
def log_loss(
    y_true: ArrayLike,
    y_proba: Optional[ArrayLike] = ...,
    *,
    normalize: bool = ...,
    sample_weight: Optional[ArrayLike] = ...,
    labels: Optional[ArrayLike] = ...,
    y_pred: Any = ...,
    num_threads: Optional[int] = ...,
) -> float: ...
def nll_loss(
    log_probs: ArrayLike,
    target: ArrayLike,
    *,
    axis: int = ...,
    weight: Optional[ArrayLike] = ...,
    ignore_index: int = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
) -> _Result: ...
def kl_div(
    input: ArrayLike,
    target: ArrayLike,
    *,
    reduction: Literal["mean", "batchmean", "sum", "none"] = ...,
    log_target: bool = ...,
    num_threads: Optional[int] = ...,
) -> _Result: ...
_Ties = Literal["first", "last"]
_Nonfinite = Literal["propagate", "skip", "raise"]

def evaluate(
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    axis: int = ...,
    ignore_index: int = ...,
    topk: Union[int, Sequence[int]] = ...,
    n_bins: int = ...,
    ties: _Ties = ...,
    sample_weight: Optional[ArrayLike] = ...,
    segment_ids: Optional[ArrayLike] = ...,
    per_class: bool = ...,
    confusion_matrix: bool = ...,
    reference_logits: Optional[ArrayLike] = ...,
    nonfinite: _Nonfinite = ...,
    return_per_row: bool = ...,
    num_threads: Optional[int] = ...,
) -> EvalResult: ...

def evaluate_file(
    logits: Any,
    labels: Any,
    *,
    batch_rows: Optional[int] = ...,
    progress: Union[bool, Callable[[int, int], Any]] = ...,
    key: Optional[str] = ...,
    labels_key: Optional[str] = ...,
    axis: int = ...,
    ignore_index: int = ...,
    topk: Union[int, Sequence[int]] = ...,
    n_bins: int = ...,
    ties: _Ties = ...,
    sample_weight: Optional[Any] = ...,
    segment_ids: Optional[Any] = ...,
    per_class: bool = ...,
    confusion_matrix: bool = ...,
    reference_logits: Optional[Any] = ...,
    nonfinite: _Nonfinite = ...,
    num_threads: Optional[int] = ...,
) -> EvalResult: ...

class EvaluationInterrupted(KeyboardInterrupt):
    result: EvalResult
    rows_done: int
    rows_total: int
    def __init__(self, result: EvalResult, rows_done: int, rows_total: int) -> None: ...

class Evaluator:
    def __init__(
        self,
        num_classes: int,
        *,
        axis: int = ...,
        ignore_index: int = ...,
        topk: Union[int, Sequence[int]] = ...,
        n_bins: int = ...,
        ties: _Ties = ...,
        per_class: bool = ...,
        confusion_matrix: bool = ...,
        nonfinite: _Nonfinite = ...,
        reference: bool = ...,
        segments: bool = ...,
        num_threads: Optional[int] = ...,
    ) -> None: ...
    def update(
        self,
        logits: ArrayLike,
        labels: ArrayLike,
        *,
        sample_weight: Optional[ArrayLike] = ...,
        segment_ids: Optional[ArrayLike] = ...,
        reference_logits: Optional[ArrayLike] = ...,
    ) -> None: ...
    def merge(self, other: Evaluator) -> None: ...
    def result(self) -> EvalResult: ...
    def state_dict(self) -> Dict[str, Any]: ...
    @classmethod
    def from_state_dict(
        cls, state: Dict[str, Any], *, num_threads: Optional[int] = ...
    ) -> Evaluator: ...
def set_num_threads(n: Optional[int]) -> None: ...
def get_num_threads() -> int: ...
def show_config(file: Optional[SupportsWrite[str]] = ...) -> None: ...

__all__ = [
    "__version__",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "entropy",
    "evaluate",
    "evaluate_file",
    "EvaluationInterrupted",
    "EvalResult",
    "Evaluator",
    "kl_divergence",
    "log_loss",
    "kl_div",
    "nll_loss",
    "log_softmax",
    "logsumexp",
    "softmax",
    "get_num_threads",
    "set_num_threads",
    "show_config",
]
