"""Regression tests of issue 10 (a hostile user's findings), one section per item.

Tests that can hang or crash the interpreter (fork, small stacks, signals)
run their case in a subprocess with a deadline, so a regression fails
instead of hanging or killing the suite.
"""
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastxent
from fastxent import reference

_POSIX_FORK = hasattr(os, "fork") and sys.platform != "darwin"


def _run_script(code, timeout=120, env=None):
    """Runs `code` in a fresh interpreter in its own process group; on a
    timeout the whole group (forked children included) is killed."""
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            env=dict(os.environ, **(env or {})))
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"the subprocess did not finish within {timeout} s")
    return proc.returncode, out, err


# --------------------------------------------------------------------------
# 1. fork after another library's OpenMP threads (torch's libgomp)

_FORK_AFTER_TORCH = """
import os, sys, numpy as np
if {torch_first}:
    import torch, fastxent
else:
    import fastxent, torch
from fastxent import reference
torch.set_num_threads(2)
torch.exp(torch.randn(4_000_000))     # libgomp starts its workers here
x = np.random.default_rng(0).standard_normal((600, 1000)).astype(np.float32)
y = np.arange(600, dtype=np.int64) % 1000
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    loss = fastxent.cross_entropy(x, y)
    os.write(w, repr(float(loss)).encode())
    os._exit(0)
os.close(w)
_, status = os.waitpid(pid, 0)
got = float(os.read(r, 100).decode())
want = float(reference.cross_entropy(x, y))
assert status == 0, status
assert abs(got - want) <= 1e-6 * abs(want), (got, want)
print("ok")
"""


@pytest.mark.skipif(not _POSIX_FORK, reason="needs fork()")
@pytest.mark.parametrize("torch_first", [True, False], ids=["torch-first", "fastxent-first"])
def test_fork_after_torch_openmp_finishes(torch, torch_first):
    rc, out, err = _run_script(_FORK_AFTER_TORCH.format(torch_first=torch_first), timeout=90)
    assert rc == 0 and out.strip() == "ok", err


# --------------------------------------------------------------------------
# 2. in-place softmax / log_softmax with a short last chunk


def _short_tail_widths(dtype):
    chunk = fastxent._kernels.build_info()["row_chunk"][np.dtype(dtype).name]
    vl = 64 // np.dtype(dtype).itemsize          # widest vector (AVX-512) in lanes
    return [chunk + 1, chunk + vl - 1, 2 * chunk + 3]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("func", [fastxent.softmax, fastxent.log_softmax])
def test_in_place_equals_out_of_place_with_short_last_chunk(isa, rng, func, dtype):
    for C in _short_tail_widths(dtype):
        for x in (np.full((2, C), -100.0, dtype),
                  (rng.standard_normal((3, C)) * 5).astype(dtype)):
            want = func(x.copy())
            inplace = x.copy()
            got = func(inplace, out=inplace)
            assert got is inplace
            np.testing.assert_array_equal(got, want, err_msg=f"C={C}")
            ref = getattr(reference, func.__name__)(x)
            np.testing.assert_allclose(got, ref, rtol=1e-5 if dtype == np.float32 else 1e-12,
                                       atol=1e-30)


# --------------------------------------------------------------------------
# 3. kernels on a small thread stack

_SMALL_STACK = """
import threading, numpy as np, fastxent
from fastxent import reference, _config
failures = []
def work():
    try:
        rng = np.random.default_rng(0)
        for isa in _config.supported_isa_levels():
            _config.set_isa(isa)
            for dt in (np.float32, np.float64, np.float16):   # halves: widening buffers
                x = rng.standard_normal((64, 100)).astype(dt)
                t = rng.dirichlet(np.ones(100), 64).astype(dt)
                lab = rng.integers(0, 100, 64)
                cases = [
                    (fastxent.cross_entropy(x, t, return_grad=True)[1],
                     reference.cross_entropy(x, t, return_grad=True)[1]),
                    (fastxent.cross_entropy(x, lab, return_grad=True)[1],
                     reference.cross_entropy(x, lab, return_grad=True)[1]),
                    (fastxent.softmax(x), reference.softmax(x)),
                    (fastxent.log_softmax(x), reference.log_softmax(x)),
                    (fastxent.logsumexp(x), reference.logsumexp(x)),
                    (fastxent.binary_cross_entropy_with_logits(x, t, return_grad=True)[1],
                     reference.binary_cross_entropy_with_logits(x, t, return_grad=True)[1]),
                    # broadcast weights: gathered into the kernel's buffers
                    (fastxent.binary_cross_entropy_with_logits(
                        x, t, weight=t[:, :1], pos_weight=t[0, ::-1], return_grad=True)[1],
                     reference.binary_cross_entropy_with_logits(
                        x, t, weight=t[:, :1], pos_weight=t[0, ::-1], return_grad=True)[1]),
                    (fastxent.entropy(t), reference.entropy(t)),
                    (fastxent.kl_divergence(t, t[::-1]), reference.kl_divergence(t, t[::-1])),
                    (fastxent.log_loss(lab, t, labels=np.arange(100)),
                     reference.log_loss(lab, t, labels=np.arange(100))),
                    (fastxent.evaluate(x, lab, reference_logits=x[::-1]).nll_mean,
                     reference.evaluate(x, lab, reference_logits=x[::-1]).nll_mean),
                    (fastxent.evaluate(x[:, :10], lab % 10).nll_mean,
                     reference.evaluate(x[:, :10], lab % 10).nll_mean),
                ]
                for got, want in cases:
                    np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-7)
    except BaseException as exc:
        failures.append(repr(exc))
threading.stack_size({size})
th = threading.Thread(target=work)
th.start()
th.join()
assert not failures, failures
print("ok")
"""


@pytest.mark.parametrize("kib", [32, 64])
def test_kernels_run_on_a_small_thread_stack(kib):
    rc, out, err = _run_script(_SMALL_STACK.format(size=kib * 1024))
    assert rc == 0 and out.strip() == "ok", f"exit status {rc}: {err[-2000:]}"


# --------------------------------------------------------------------------
# 4. log_loss with small and unsigned integer labels

_P4 = [[.7, .1, .1, .1], [.1, .1, .1, .7], [.1, .7, .1, .1]]
_LOG_LOSS_INT_CASES = [
    (np.array([-100, 100, 0], np.int8), _P4, [-100, 0, 45, 100]),
    (np.array([-100, 100, 0], np.int8), [[.7, .1, .2], [.1, .1, .8], [.1, .7, .2]], None),
    (np.array([-100, 100, -100], np.int8), [[.7, .3], [.1, .9], [.6, .4]], [-100, 100]),
    (np.array([-30000, 30000, 0], np.int16), [[.7, .1, .2], [.1, .1, .8], [.1, .7, .2]], None),
    (np.array([0, 1, 255], np.uint8), [[.7, .1, .1, .1], [.1, .7, .1, .1], [.1, .1, .1, .7]],
     [-1, 0, 1, 255]),
    (np.array([2**63, 2**64 - 1, 2**63], np.uint64), [[.7, .3], [.1, .9], [.6, .4]],
     np.array([2**63, 2**64 - 1], np.uint64)),
    (np.array([2**63, 2**64 - 1, 5], np.uint64), [[.7, .2, .1], [.1, .1, .8], [.1, .6, .3]], None),
    (np.array([2**63, 5, 5], np.uint64), [[.7, .2, .1], [.1, .1, .8], [.1, .6, .3]],
     [-3, 5, 2**63]),
]


@pytest.mark.parametrize("y_true, y_prob, labels", _LOG_LOSS_INT_CASES,
                         ids=[f"case{i}" for i in range(len(_LOG_LOSS_INT_CASES))])
def test_log_loss_small_and_unsigned_integer_labels(y_true, y_prob, labels):
    want = reference.log_loss(y_true, y_prob, labels=labels)
    got = fastxent.log_loss(y_true, y_prob, labels=labels)
    np.testing.assert_allclose(got, want, rtol=1e-12)


# --------------------------------------------------------------------------
# 5. a zero coefficient against non-finite logits contributes exactly 0


def _zero_weight_case(C, dtype, bad):
    rng = np.random.default_rng(C)
    x = rng.standard_normal((4, C)).astype(dtype)
    x[1] = bad            # the row whose class weight is 0
    x[3, 2] = bad         # a row with one bad logit, weight 0 too
    y = np.array([0, 1, 2, 1])
    w = np.ones(C, dtype)
    w[1] = 0.0
    return x, y, w


@pytest.mark.parametrize("C", [5, 200, 5000])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_zero_weight_against_non_finite_logits(isa, C, bad, layout):
    for dtype in (np.float32, np.float64):
        x, y, w = _zero_weight_case(C, dtype, bad)
        x[3, 2] = 0.0 if bad == -np.inf else x[3, 2]
        if layout == "columns":        # class axis 0, strided kernel
            xa, axis = np.ascontiguousarray(x.T), 0
        else:
            xa, axis = x, -1
        got = fastxent.cross_entropy(xa, y, axis=axis, weight=w, reduction="none",
                                     return_grad=True)
        want = reference.cross_entropy(xa, y, axis=axis, weight=w, reduction="none",
                                       return_grad=True)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-5, atol=1e-7)
        assert got[0][1] == 0 and np.all(np.take(got[1], 1, axis=1 - (axis % 2)) == 0)


@pytest.mark.parametrize("C", [5, 200])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_zero_soft_target_row_against_non_finite_logits(isa, C, bad):
    x = np.random.default_rng(1).standard_normal((3, C))
    t = np.random.default_rng(2).dirichlet(np.ones(C), 3)
    x[1] = bad
    t[1] = 0.0
    got = fastxent.cross_entropy(x, t, reduction="none", return_grad=True)
    want = reference.cross_entropy(x, t, reduction="none", return_grad=True)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=1e-15)
    assert got[0][1] == 0 and np.all(got[1][1] == 0)


def test_bce_zero_coefficients_against_nan_logits(isa):
    # y = 1 and pos_weight = 0: both coefficients of the element are 0
    for dtype in (np.float32, np.float64):
        x = np.array([[np.nan, 0.5, np.inf, -np.inf]], dtype)
        y = np.ones_like(x)
        pw = np.zeros(4, dtype)
        got = fastxent.binary_cross_entropy_with_logits(x, y, pos_weight=pw, reduction="sum",
                                                        return_grad=True)
        want = reference.binary_cross_entropy_with_logits(x, y, pos_weight=pw,
                                                          reduction="sum", return_grad=True)
        assert got[0] == want[0] == 0
        np.testing.assert_array_equal(got[1], want[1])


# --------------------------------------------------------------------------
# 6. float32 overflow near FLT_MAX: terms and sums in float64


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("C", [22, 300])
@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_label_smoothing_sums_do_not_overflow_in_float32(isa, C, layout):
    x = np.zeros((3, C), np.float32)
    x[:, 5] = 3e38
    y = np.array([5, 0, 1])
    xa, axis = (np.ascontiguousarray(x.T), 0) if layout == "columns" else (x, -1)
    for kw in ({"label_smoothing": 1.0}, {"label_smoothing": 0.5}):
        got = fastxent.cross_entropy(xa, y, axis=axis, reduction="none", **kw)
        want = reference.cross_entropy(xa, y, axis=axis, reduction="none", **kw)
        assert np.all(np.isfinite(want))
        np.testing.assert_allclose(got, want, rtol=1e-5)
    t = np.full((3, C), 1.0 / C, np.float32)
    got = fastxent.cross_entropy(xa, t.T.copy() if layout == "columns" else t, axis=axis,
                                 reduction="none")
    want = reference.cross_entropy(xa, t.T.copy() if layout == "columns" else t, axis=axis,
                                   reduction="none")
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_bce_weight_is_applied_without_intermediate_overflow(isa):
    x = np.array([-3e38, 3e38, -3e38], np.float32)
    y = np.array([1.0, 0.0, 0.5], np.float32)
    w = np.full(3, 0.36, np.float32)
    pw = np.full(3, 1.58, np.float32)
    for red in ("none", "sum"):
        got = fastxent.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                        reduction=red)
        want = reference.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                          reduction=red)
        np.testing.assert_allclose(got, want, rtol=1e-6)
    assert np.isfinite(fastxent.binary_cross_entropy_with_logits(x[:1], y[:1], weight=w[:1],
                                                                 pos_weight=pw[:1]))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("reduction", ["sum", "mean", "none"])
def test_bce_sums_near_flt_max_with_broadcast_weights(isa, reduction):
    """float32 terms that overflow only in float32, in some chunks of rows of
    3000 (three chunks each) with gathered (stride-0 and reversed) weights:
    those chunks are summed again in float64, the others are not affected."""
    rng = np.random.default_rng(6)
    x = rng.standard_normal((4, 3000)).astype(np.float32)
    x[1, 2500] = -3e38          # pw y sp(-x) = 1.58 * 3e38: inf in float32
    x[3, 10] = -2.5e38
    y = rng.random((4, 3000)).astype(np.float32)
    y[1, 2500] = y[3, 10] = 1.0
    w = np.array([[0.5], [0.36], [1.0], [0.4]], np.float32)
    pw = np.linspace(0.5, 1.58, 3000).astype(np.float32)[::-1]
    got = fastxent.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                    reduction=reduction)
    want = reference.binary_cross_entropy_with_logits(x, y, weight=w, pos_weight=pw,
                                                      reduction=reduction)
    assert np.all(np.isfinite(want))
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_kl_terms_of_both_signs_near_flt_max(isa, layout):
    C = 1000
    q = np.full(C, 3.4e38, np.float32)
    p = (q / np.e).astype(np.float32)       # each term about -q/e
    p[0], q[0] = 3e38, 1e-38                 # one term about +5e40
    p2, q2 = np.stack([p, p]), np.stack([q, q])
    if layout == "columns":
        p2, q2, axis = np.ascontiguousarray(p2.T), np.ascontiguousarray(q2.T), 0
    else:
        axis = -1
    got = fastxent.kl_divergence(p2, q2, axis=axis)
    want = reference.kl_divergence(p2, q2, axis=axis)
    assert np.all(want == -np.inf)
    np.testing.assert_array_equal(got, want)
    small = np.array([3e38, 1e30], np.float32), np.array([1e-38, 1e30], np.float32)
    np.testing.assert_allclose(fastxent.kl_divergence(*small), reference.kl_divergence(*small),
                               rtol=1e-6)


# --------------------------------------------------------------------------
# 9. undefined behaviour: misaligned labels, signed shifts in fx_math.h
# (the shifts are checked by .ci/sanitize, whose UBSan build reported them
# before the fix; here: NaN and negative inputs give NaN, unchanged)


def test_misaligned_int64_labels_reach_the_kernel_aligned(monkeypatch):
    x = np.random.default_rng(0).standard_normal((6, 7))
    raw = np.zeros(6 * 8 + 1, np.uint8)
    y = raw[1:].view(np.int64)
    y[:] = [0, 1, 2, 3, 4, 5]
    assert not y.flags.aligned
    seen = []
    real = fastxent._xent._kernels.xent

    def spy(*args, **kw):
        seen.append(args[5])           # the labels argument
        return real(*args, **kw)

    monkeypatch.setattr(fastxent._xent._kernels, "xent", spy)
    got = fastxent.cross_entropy(x, y, reduction="none")
    assert seen and seen[0] is not None and seen[0].flags.aligned
    np.testing.assert_array_equal(got, fastxent.cross_entropy(x, y.copy(), reduction="none"))
    np.testing.assert_allclose(got, reference.cross_entropy(x, y, reduction="none"), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_math_of_nan_and_negative_inputs(isa, dtype):
    bad = np.array([np.nan, -np.nan, -1.0, -np.inf, -3e38, np.inf, -1e-30], dtype)
    for fn, want in ((0, np.exp), (1, np.log), (2, np.log1p)):
        out = np.empty_like(bad)
        fastxent._kernels.math_eval(fn, bad, out)
        with np.errstate(all="ignore"):
            ref = want(bad)
        np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
        fin = np.isfinite(ref)
        np.testing.assert_allclose(out[fin], ref[fin], rtol=1e-6)



# --------------------------------------------------------------------------
# 10. unclear or inconsistent errors


def test_thread_counts_are_bounded_with_a_clear_error():
    x = np.zeros((4, 3))
    for n in (2000, 2**31, 2**64):
        with pytest.raises(ValueError, match="num_threads: expected at most"):
            fastxent.cross_entropy(x, np.zeros(4, np.int64), num_threads=n)
        with pytest.raises(ValueError, match="n: expected at most"):
            fastxent.set_num_threads(n)
    assert fastxent.softmax(x, num_threads=fastxent._threads.MAX_THREADS).shape == x.shape


def test_uint64_label_equal_to_a_huge_ignore_index_is_ignored():
    x = np.random.default_rng(0).standard_normal((3, 4))
    y = np.array([1, 2**64 - 1, 3], np.uint64)
    for red in ("mean", "sum", "none"):
        got = fastxent.cross_entropy(x, y, ignore_index=2**64 - 1, reduction=red)
        want = reference.cross_entropy(x, y, ignore_index=2**64 - 1, reduction=red)
        np.testing.assert_allclose(got, want, rtol=1e-12)
    with pytest.raises(IndexError, match="18446744073709551614"):
        fastxent.cross_entropy(x, np.array([1, 2**64 - 2, 3], np.uint64),
                               ignore_index=2**64 - 1)


def test_ragged_nested_lists_name_the_argument():
    with pytest.raises(ValueError, match="^x: "):
        fastxent.softmax([[1.0, 2.0], [3.0]])
    with pytest.raises(ValueError, match="^logits: "):
        fastxent.cross_entropy([[1.0, 2.0], [3.0]], [0, 1])
    with pytest.raises(ValueError, match="^target: "):
        fastxent.cross_entropy([[1.0, 2.0], [3.0, 4.0]], [[0.5, 0.5], [1.0]])
    with pytest.raises(ValueError, match="^target: "):
        fastxent.binary_cross_entropy_with_logits([[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [1.0]])


def test_float_axis_is_rejected_everywhere():
    x = np.zeros((2, 3))
    for call in (lambda: fastxent.cross_entropy(x, np.zeros(2, np.int64), axis=-1.0),
                 lambda: fastxent.softmax(x, axis=-1.0),
                 lambda: fastxent.logsumexp(x, axis=-1.0)):
        with pytest.raises(ValueError, match="axis: expected an integer"):
            call()


def _misaligned(shape, dtype):
    raw = np.zeros(int(np.prod(shape)) * np.dtype(dtype).itemsize + 1, np.uint8)
    a = raw[1:].view(dtype).reshape(shape)
    assert not a.flags.aligned
    return a


def test_misaligned_grad_out_is_taken_like_out():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7))
    y = rng.integers(0, 7, 5)
    g = _misaligned(x.shape, x.dtype)
    loss, grad = fastxent.cross_entropy(x, y, grad_out=g)
    assert grad is g
    want = fastxent.cross_entropy(x, y, return_grad=True)
    assert loss == want[0]
    np.testing.assert_array_equal(g, want[1])
    t = (x > 0).astype(x.dtype)
    g2 = _misaligned(x.shape, x.dtype)
    loss2, grad2 = fastxent.binary_cross_entropy_with_logits(x, t, grad_out=g2)
    assert grad2 is g2
    np.testing.assert_array_equal(g2, fastxent.binary_cross_entropy_with_logits(
        x, t, return_grad=True)[1])
    out = _misaligned(x.shape, x.dtype)
    np.testing.assert_array_equal(fastxent.softmax(x, out=out), fastxent.softmax(x))


def test_object_arrays_holding_none_are_an_error():
    with pytest.raises(ValueError, match=r"logits: .*None at position \(0, 1\)"):
        fastxent.cross_entropy(np.array([[1.0, None]], dtype=object), [0])
    with pytest.raises(ValueError, match="x: .*None"):
        fastxent.softmax(np.array([1.0, None, 2.0], dtype=object))
    with pytest.raises(ValueError, match="weight: .*None"):
        fastxent.cross_entropy(np.zeros((1, 2)), [0], weight=np.array([1.0, None], dtype=object))


@pytest.mark.parametrize("C", [5, 300])
def test_loss_does_not_depend_on_the_grad_out_layout(isa, C):
    rng = np.random.default_rng(C)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((64, C)).astype(dtype) * 4
        y = rng.integers(0, C, 64)
        for kw in ({}, {"label_smoothing": 0.1}):
            want = fastxent.cross_entropy(x, y, **kw)
            g = np.empty(x.shape, dtype, order="F")
            loss, grad = fastxent.cross_entropy(x, y, grad_out=g, **kw)
            assert loss == want, (dtype, kw)
            np.testing.assert_array_equal(grad, fastxent.cross_entropy(x, y, return_grad=True,
                                                                       **kw)[1])


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_bce_pos_weight_times_a_tiny_target_does_not_underflow(isa, reduction):
    # pos_weight * y underflows in float32 (0.5 * 1e-45 = 0), but y sp(-x)
    # does not: x = -inf must give inf (a nonzero coefficient), x = -1e38 a
    # loss near 7e-8, as the float64 twin says (found by hypothesis)
    x = np.array([-np.inf, -1e38, 0.5], np.float32)
    y = np.array([1e-45, 1e-45, 0.25], np.float32)
    pw = np.array([0.5, 0.5, 2.0], np.float32)
    for sl in (slice(0, 3), slice(1, 3)):
        got = fastxent.binary_cross_entropy_with_logits(x[sl], y[sl], pos_weight=pw[sl],
                                                        reduction=reduction)
        want = reference.binary_cross_entropy_with_logits(x[sl], y[sl], pos_weight=pw[sl],
                                                          reduction=reduction)
        np.testing.assert_allclose(got, want, rtol=1e-6)
