"""Pure-NumPy reference twins of the fastxent public functions.

The test oracle and the benchmark baseline of the C kernels: one module per
public family (:mod:`.xent`, :mod:`.softmax`, :mod:`.bce`, :mod:`.info`,
:mod:`.logloss`), each function with exactly the public signature
(``inspect.signature`` equal; a test checks it). The twins favour clarity
and exactness over speed: vectorised NumPy, N x C temporaries allowed, all
arithmetic in float64, nothing shared with the compiled kernels.

Conventions shared by every function
------------------------------------
* Floating inputs are converted to float64 for the computation and the
  result is cast back to the *result dtype*: float32 for float16 and float32
  inputs, float64 for float64 inputs, and float64 for integer, bool and
  long-double inputs. The result dtype is taken from the first argument
  (``logits``, ``probs``, ``x``, ``p``; ``kl_divergence`` combines ``p`` and
  ``q``; ``log_loss`` uses ``y_prob``). Auxiliary inputs (targets, weights)
  stay float64.
* Reductions return NumPy scalars of the result dtype (``np.float32(...)``);
  ``reduction="none"`` always returns an ndarray, 0-d included.
* A term whose coefficient is exactly zero contributes exactly zero, even
  when the logarithm it multiplies is infinite or NaN (``0 * log 0 = 0``).
  This is what removes torch's NaN for infinite logits: a zero target
  probability, a zero class weight or a zero element weight never turns an
  infinite log-probability into NaN.
* ``num_threads`` is validated as by the public functions (None or an
  integer >= 1, else ValueError) and then ignored.
* ``out=`` and ``grad_out=`` are checked as by the public functions (shape,
  result dtype, writable; a gradient buffer also aligned and not overlapping
  an input), written and returned.
* Bad input raises the public function's exception type with a message of
  the same form: ``"name: expected ..., got ..."``.

This package must stay importable on its own: it imports nothing but NumPy
(and its own modules, relatively).
"""
from .bce import binary_cross_entropy, binary_cross_entropy_with_logits
from .info import entropy, kl_divergence
from .logloss import log_loss
from .softmax import log_softmax, logsumexp, softmax
from .xent import cross_entropy

__all__ = [
    "cross_entropy",
    "binary_cross_entropy_with_logits",
    "binary_cross_entropy",
    "log_softmax",
    "softmax",
    "logsumexp",
    "entropy",
    "kl_divergence",
    "log_loss",
]
