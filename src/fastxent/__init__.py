"""fastxent: fused, multithreaded C kernels for the cross-entropy family of
losses over NumPy arrays.

The public functions take array-likes, never modify their inputs, compute
float16 in float32, and have a pure-NumPy twin of the same signature in
:mod:`fastxent.reference`.
"""
__version__ = "0.1.0"

from ._bce import binary_cross_entropy, binary_cross_entropy_with_logits
from ._config import show_config
from ._eval_result import EvalResult
from ._evalfile import EvaluationInterrupted, evaluate_file
from ._evaluate import Evaluator, evaluate
from ._info import entropy, kl_divergence
from ._logloss import log_loss
from ._softmax import log_softmax, logsumexp, softmax
from ._threads import get_num_threads, set_num_threads
from ._torchloss import kl_div, nll_loss
from ._xent import cross_entropy

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
