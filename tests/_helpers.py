"""Helpers shared by the test modules: dtypes and tolerances, comparisons,
input snapshots, memory layouts, subprocesses, and the private names of the
package that some tests need.

Tolerances (unless a test says otherwise): float64 results within 1e-11 of
the float64 oracle, float32 (and float16 inputs, computed in float32) within
2e-5 relative, with an absolute floor of rtol * max|oracle| for arrays whose
values cross zero (gradients).
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np

try:  # NumPy >= 1.25; the public functions raise this very class
    from numpy.exceptions import AxisError
except ImportError:  # pragma: no cover - NumPy < 1.25
    AxisError = np.AxisError

# --------------------------------------------------------------------------
# Private names of the package. This is the ONE place the tests import
# private modules: a module renamed inside fastxent is fixed here. Guarded so
# that the reference tests still run while the extension is broken.
try:
    from fastxent import _config as fx_config          # set_isa, ISA, config()
    from fastxent import _kernels as fx_kernels        # build_info, math_eval
    from fastxent._threads import usable_cpus
    IMPORT_ERROR = None
except ImportError as exc:  # the extension is not built or broken
    fx_config = fx_kernels = usable_cpus = None
    IMPORT_ERROR = exc

INF = np.inf
NAN = np.nan
REDUCTIONS = ("mean", "sum", "none")
FLOAT_DTYPES = (np.float16, np.float32, np.float64)
LABEL_DTYPES = (np.int8, np.int16, np.int32, np.int64,
                np.uint8, np.uint16, np.uint32, np.uint64)
F16, F32, F64 = np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64)


# --------------------------------------------------------------------------
# dtypes and tolerances


def result_dtype(*dtypes):
    """The compute (and result) dtype: float64 if any input is, else float32."""
    return F64 if any(np.dtype(d) == F64 for d in dtypes) else F32


def rtol_for(dtype):
    return 1e-11 if result_dtype(dtype) == F64 else 2e-5


def f64(a):
    return None if a is None else np.asarray(a, dtype=np.float64)


# --------------------------------------------------------------------------
# comparisons


def assert_close(got, expected, rtol, *, scalar_atol=0.0):
    """Finite values within rtol (atol = rtol * max|expected| for arrays);
    NaN and infinities exactly where the expectation has them."""
    g = np.asarray(got, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert g.shape == e.shape, (g.shape, e.shape)
    np.testing.assert_array_equal(np.isnan(g), np.isnan(e))
    inf = np.isinf(e)
    np.testing.assert_array_equal(g[inf], e[inf])
    fin = np.isfinite(e)
    assert np.isfinite(g[fin]).all(), (g[fin], e[fin])
    if not fin.any():
        return
    atol = rtol * np.abs(e[fin]).max() if e.ndim else scalar_atol
    if rtol > 1e-9:   # float32 results: nothing is relative below the normal range
        atol = max(atol, float(np.finfo(np.float32).tiny))
    np.testing.assert_allclose(g[fin], e[fin], rtol=rtol, atol=atol)


def assert_near(actual, expected, rtol=1e-10, atol=1e-13):
    """Plain allclose in float64, NaN equal to NaN (the reference's own tests)."""
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64),
                               np.asarray(expected, dtype=np.float64),
                               rtol=rtol, atol=atol, equal_nan=True)


def assert_oracle(got, want, cdt, what="loss", rtol=None):
    """got (fastxent, dtype cdt) against want (oracle, float64).

    Losses: relative. Gradients (`what` names a grad): absolute, as a
    fraction of the largest |grad|. NaN and inf must sit at the same places.
    """
    got_a = np.asarray(got)
    want = np.asarray(want, dtype=np.float64)
    assert got_a.dtype == cdt, f"{what}: dtype {got_a.dtype}, expected {cdt}"
    assert got_a.shape == want.shape, f"{what}: shape {got_a.shape} vs {want.shape}"
    rtol = rtol_for(cdt) if rtol is None else rtol
    atol = 0.0
    if "grad" in what:
        finite = np.isfinite(want)
        atol = rtol * float(np.max(np.abs(want[finite]), initial=0.0))
    np.testing.assert_allclose(got_a.astype(np.float64), want, rtol=rtol, atol=atol,
                               equal_nan=True, err_msg=what)


def assert_result_kind(value, reduction, shape, dtype):
    """An ndarray of `shape` and `dtype` for reduction "none", else a NumPy
    scalar of `dtype`."""
    dtype = np.dtype(dtype)
    if reduction == "none":
        assert isinstance(value, np.ndarray), type(value)
        assert value.shape == tuple(shape) and value.dtype == dtype, (value.shape, value.dtype)
    else:
        assert type(value) is dtype.type, type(value)


class Unchanged:
    """Snapshot of the arrays among `arrays` (bytes, dtype, shape, writeable
    flag) to check that a call modified none of them."""

    def __init__(self, *arrays):
        self.items = [(a, a.copy(), a.tobytes(), a.flags.writeable)
                      for a in arrays if isinstance(a, np.ndarray)]

    def check(self):
        for a, copy, raw, writeable in self.items:
            assert a.flags.writeable == writeable, "an input's writeable flag changed"
            assert a.dtype == copy.dtype and a.shape == copy.shape
            assert a.tobytes() == raw, "an input was modified"


# --------------------------------------------------------------------------
# memory layouts: the same values, stored differently

LAYOUTS = ["strided", "transposed", "fortran", "reversed", "byteswapped", "readonly",
           "misaligned"]


def relayout(a, how):
    """The same values as `a` (ndim >= 1) in the memory layout `how`.

    strided: every element of the last axis 3 apart; sliced: every axis
    strided and offset; reversed: negative strides on every axis.
    """
    if how == "contiguous":
        return a
    if how == "strided":
        big = np.zeros(a.shape[:-1] + (a.shape[-1] * 3,), dtype=a.dtype)
        big[..., ::3] = a
        return big[..., ::3]
    if how == "sliced":
        big = np.zeros(tuple(3 * n + 1 for n in a.shape), dtype=a.dtype)
        view = big[tuple(slice(1, None, 3) for _ in a.shape)]
        view[...] = a
        return view
    if how == "transposed":
        return np.ascontiguousarray(a.T).T
    if how == "fortran":
        return np.asfortranarray(a)
    if how == "reversed":
        rev = (slice(None, None, -1),) * a.ndim
        return np.ascontiguousarray(a[rev])[rev]
    if how == "byteswapped":
        return a.astype(a.dtype.newbyteorder("S"))
    if how == "readonly":
        b = a.copy()
        b.flags.writeable = False
        return b
    if how == "misaligned":
        raw = np.zeros(a.nbytes + 1, dtype=np.uint8)
        b = raw[1:].view(a.dtype).reshape(a.shape)
        b[...] = a
        assert not b.flags.aligned or a.itemsize == 1 or a.size == 0
        return b
    raise AssertionError(how)


# --------------------------------------------------------------------------
# PyTorch as a peer (float64 tensors from NumPy arrays)


def torch_cross_entropy(torch, logits, target, reduction, axis=-1, weight=None, **kw):
    """PyTorch's loss and d(loss, or sum of losses)/d(logits), class axis moved to 1."""
    axis %= logits.ndim
    move = logits.ndim > 1
    x = torch.tensor(np.moveaxis(logits, axis, 1) if move else logits, requires_grad=True)
    if target.dtype.kind == "f":
        t = torch.tensor(np.moveaxis(target, axis, 1) if move else target)
    else:
        t = torch.tensor(target.astype(np.int64))
    if weight is not None:
        kw["weight"] = torch.tensor(weight)
    loss = torch.nn.functional.cross_entropy(x, t, reduction=reduction, **kw)
    loss.sum().backward()
    grad = x.grad.numpy()
    return loss.detach().numpy(), (np.moveaxis(grad, 1, axis) if move else grad)


def torch_bce_logits(torch, x, y, reduction, weight=None, pos_weight=None):
    xt = torch.tensor(x, requires_grad=True)
    kw = {}
    if weight is not None:
        kw["weight"] = torch.tensor(weight)
    if pos_weight is not None:
        kw["pos_weight"] = torch.tensor(pos_weight)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(
        xt, torch.tensor(y), reduction=reduction, **kw)
    loss.sum().backward()
    return loss.detach().numpy(), xt.grad.numpy()


# --------------------------------------------------------------------------
# subprocesses


def run_python(code, **env_changes):
    """Run `code` in a fresh interpreter with the environment changed (a value
    of None removes the variable); return the CompletedProcess."""
    env = dict(os.environ)
    for key, value in env_changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=60)


def run_python_json(code, **env_changes):
    """:func:`run_python`, asserting success; its last stdout line as JSON."""
    proc = run_python(code, **env_changes)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])
