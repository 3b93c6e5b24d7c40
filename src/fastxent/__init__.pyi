from typing import IO, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str

_Reduction = Literal["mean", "sum", "none"]
_Result = Union[np.floating, NDArray[np.floating]]

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
    grad_out: Optional[NDArray[np.floating]] = ...,
) -> Union[_Result, Tuple[_Result, NDArray[np.floating]]]: ...
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
    grad_out: Optional[NDArray[np.floating]] = ...,
) -> Union[_Result, Tuple[_Result, NDArray[np.floating]]]: ...
def binary_cross_entropy(
    probs: ArrayLike,
    target: ArrayLike,
    *,
    weight: Optional[ArrayLike] = ...,
    reduction: _Reduction = ...,
    num_threads: Optional[int] = ...,
    return_grad: bool = ...,
    grad_out: Optional[NDArray[np.floating]] = ...,
) -> Union[_Result, Tuple[_Result, NDArray[np.floating]]]: ...
def log_softmax(
    x: ArrayLike,
    axis: int = ...,
    *,
    out: Optional[NDArray[np.floating]] = ...,
    num_threads: Optional[int] = ...,
) -> NDArray[np.floating]: ...
def softmax(
    x: ArrayLike,
    axis: int = ...,
    *,
    out: Optional[NDArray[np.floating]] = ...,
    num_threads: Optional[int] = ...,
) -> NDArray[np.floating]: ...
def logsumexp(x: ArrayLike, axis: int = ..., *, num_threads: Optional[int] = ...) -> _Result: ...
def entropy(
    p: ArrayLike, axis: int = ..., *, base: Optional[float] = ..., num_threads: Optional[int] = ...
) -> _Result: ...
def kl_divergence(
    p: ArrayLike,
    q: ArrayLike,
    axis: int = ...,
    *,
    base: Optional[float] = ...,
    num_threads: Optional[int] = ...,
) -> _Result: ...
def log_loss(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    sample_weight: Optional[ArrayLike] = ...,
    normalize: bool = ...,
    labels: Optional[ArrayLike] = ...,
    num_threads: Optional[int] = ...,
) -> np.floating: ...
def set_num_threads(n: Optional[int]) -> None: ...
def get_num_threads() -> int: ...
def show_config(file: Optional[IO[str]] = ...) -> None: ...

__all__: list[str]
