"""fastxent.cross_entropy against its NumPy twin (fastxent.reference), PyTorch
(float64, when installed) and finite differences, on every ISA level.

Tolerances: float32 within 2e-5 relative of the float64 oracle, float64
within 1e-11; gradients, which cross zero, within that fraction of the
largest gradient magnitude. The oracle runs in float64 on exactly the values
fastxent computes with (float16 -> float32, weights and soft targets rounded
to the compute dtype).
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastxent
from _helpers import (F16, F32, F64, LABEL_DTYPES, REDUCTIONS, AxisError, Unchanged,
                      assert_oracle, assert_result_kind, fx_kernels, relayout, result_dtype,
                      torch_cross_entropy)
from fastxent import reference

try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # only the property test needs it
    given = settings = st = None

DTYPES = [F16, F32, F64]
SMOOTHINGS = (0.0, 0.1, 1.0)

fx = fastxent.cross_entropy


# --------------------------------------------------------------------------
# helpers


def oracle(logits, target, **kw):
    """The reference in float64 on the values fastxent computes with."""
    x = np.asarray(logits)
    cdt = result_dtype(x.dtype) if x.dtype.kind == "f" else F64
    t = np.asarray(target)
    if t.dtype.kind == "f":
        t = t.astype(cdt).astype(np.float64)
    if kw.get("weight") is not None:
        kw["weight"] = np.asarray(kw["weight"]).astype(cdt).astype(np.float64)
    kw.pop("num_threads", None)
    return reference.cross_entropy(x.astype(cdt).astype(np.float64), t, **kw)


# layout name -> (logits shape, class axis)
LAYOUTS = {
    "nc": ((11, 7), -1),
    "ncd1d2": ((3, 6, 4, 2), 1),     # PyTorch's (N, C, d1, d2) with axis=1
    "cn": ((9, 8), 0),
    "c": ((6,), 0),                  # one row, a 0-d label
}
# target kind -> (soft, ignore_index)
KINDS = {"index": (False, -100), "index-ignore2": (False, 2), "soft": (True, -100)}


def make_case(rng, shape, axis, dtype, kind, weighted=False, smoothing=0.0):
    """(logits, target, kwargs) of one problem."""
    soft, ignore = KINDS[kind]
    axis %= len(shape)
    C = shape[axis]
    row_shape = shape[:axis] + shape[axis + 1:]
    logits = rng.normal(scale=2.0, size=shape).astype(dtype)
    if soft:
        target = np.moveaxis(rng.dirichlet(np.ones(C), size=row_shape), -1, axis)
        target = target.astype(result_dtype(dtype))
    else:
        target = rng.integers(0, C, size=row_shape)
        if target.ndim:
            flat = target.reshape(-1)
            flat[1::4] = ignore            # some rows ignored
    kw = {"label_smoothing": smoothing}
    if weighted:
        kw["weight"] = rng.uniform(0.2, 2.0, size=C).astype(result_dtype(dtype))
    if ignore != -100:
        kw["ignore_index"] = ignore
    if axis != len(shape) - 1:
        kw["axis"] = axis
    return logits, np.asarray(target), kw


def check_against_oracle(logits, target, reductions=REDUCTIONS, check_plain=True, **kw):
    """fastxent == oracle for every reduction, with and without the gradient."""
    x = np.asarray(logits)
    cdt = result_dtype(x.dtype)
    axis = kw.get("axis", -1) % x.ndim
    row_shape = x.shape[:axis] + x.shape[axis + 1:]
    keep = Unchanged(logits, target, kw.get("weight"))
    for reduction in reductions:
        want, want_grad = oracle(logits, target, reduction=reduction, return_grad=True, **kw)
        if check_plain:
            loss = fx(logits, target, reduction=reduction, **kw)
            assert_oracle(loss, want, cdt, f"loss {reduction}")
            assert_result_kind(loss, reduction, row_shape, cdt)
        loss, grad = fx(logits, target, reduction=reduction, return_grad=True, **kw)
        assert_oracle(loss, want, cdt, f"loss {reduction} (with grad)")
        assert_result_kind(loss, reduction, row_shape, cdt)
        assert_oracle(grad, want_grad, cdt, "grad")
    keep.check()


# --------------------------------------------------------------------------
# parity with the reference over every option combination


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_matches_reference(isa, rng, dtype, layout, kind, weighted, smoothing):
    shape, axis = LAYOUTS[layout]
    logits, target, kw = make_case(rng, shape, axis, dtype, kind, weighted, smoothing)
    check_against_oracle(logits, target, **kw)


# Row lengths around the vector width (1 to 16 lanes) and the limit of the
# transposed short-row path (FX_SMALL_C = 128), with row counts around its
# tiles (64 rows in float32, 32 in float64): every block and overlap case of
# the tile transposition, for the loss and the gradient.
@pytest.mark.parametrize("kind", ["index", "soft"])
@pytest.mark.parametrize("C", [2, 3, 4, 5, 8, 9, 16, 17, 33, 64, 100, 128, 129])
@pytest.mark.parametrize("N", [1, 5, 31, 33, 65, 150])
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_row_lengths_and_tile_edges(isa, rng, dtype, N, C, kind):
    logits, target, kw = make_case(rng, (N, C), -1, dtype, kind, weighted=True, smoothing=0.1)
    check_against_oracle(logits, target, reductions=("none",), **kw)


# The common call (2-D logits, int64 labels, defaults but the reduction and
# num_threads) runs through one C call (_kernels.xent_plain); an integer
# label_smoothing=0 takes the general path, which must give the same bits and
# the same errors.
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(64, 10), (0, 5), (3, 1), (300, 200), (5000, 40)])
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_plain_call_matches_the_general_path(isa, rng, dtype, shape, reduction):
    logits = rng.normal(scale=3.0, size=shape).astype(dtype)
    labels = rng.integers(0, shape[1], size=shape[0])
    labels[::7] = -100
    keep = Unchanged(logits, labels)
    got = fx(logits, labels, reduction=reduction)
    want = fx(logits, labels, reduction=reduction, label_smoothing=0)
    assert type(got) is type(want) and got.dtype == dtype
    np.testing.assert_array_equal(got, want, strict=True)
    assert_oracle(got, oracle(logits, labels, reduction=reduction), dtype)
    keep.check()
    if shape[0]:
        labels[shape[0] // 2] = shape[1]
        with pytest.raises(IndexError) as plain:
            fx(logits, labels, reduction=reduction)
        with pytest.raises(IndexError) as general:
            fx(logits, labels, reduction=reduction, label_smoothing=0)
        assert str(plain.value) == str(general.value)
        assert f"class index {shape[1]} at position ({shape[0] // 2},)" in str(plain.value)


def test_plain_call_declines_other_arrays(rng):
    """Inputs that the plain path does not take give the general path's results."""
    x = rng.normal(size=(20, 6)).astype(np.float32)
    labels = rng.integers(0, 6, size=20)
    want = fx(x, labels, label_smoothing=0)
    others = [
        (np.asfortranarray(x), labels),
        (x.astype(x.dtype.newbyteorder()), labels),
        (x, labels.astype(np.int32)),
        (x, labels.astype(labels.dtype.newbyteorder())),
        (x.view(np.ndarray).view(type("Sub", (np.ndarray,), {})), labels),
        (x.tolist(), labels),
    ]
    for xa, la in others:
        assert fx_kernels.xent_plain(xa, la, True, 0) is None
        # a list of floats computes in float64
        cdt = F64 if isinstance(xa, list) else F32
        assert_oracle(fx(xa, la), want.astype(np.float64), cdt, rtol=2e-6)
    with pytest.raises(ValueError, match=r"target: class indices must have"):
        fx(x, labels[:-1])
    with pytest.raises(ValueError, match=r"logits: the class axis 1 has length 0"):
        fx(np.zeros((3, 0), np.float32), np.zeros(3, np.int64))


@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_matches_torch_float64(isa, torch, rng, layout, kind, weighted, smoothing):
    shape, axis = LAYOUTS[layout]
    logits, target, kw = make_case(rng, shape, axis, F64, kind, weighted, smoothing)
    for reduction in REDUCTIONS:
        want, want_grad = torch_cross_entropy(torch, logits, target, reduction, **kw)
        loss, grad = fx(logits, target, reduction=reduction, return_grad=True, **kw)
        assert_oracle(loss, want, F64, f"loss {reduction}")
        if reduction == "mean" and np.isnan(want):
            # nothing counted: all ignored gives zeros, zero weights 0/0 (as torch)
            np.testing.assert_array_equal(grad, want_grad)
            continue
        assert_oracle(grad, want_grad, F64, "grad", rtol=1e-10)


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_float32_and_float16_agree_with_torch_float64(torch, rng, dtype):
    """The float32 kernels against PyTorch's float64 (the issue's oracle)."""
    logits, target, kw = make_case(rng, (64, 33), -1, dtype, "index", True, 0.1)
    want, want_grad = torch_cross_entropy(torch, logits.astype(np.float64), target, "none",
                                          **{**kw, "weight": kw["weight"].astype(np.float64)})
    loss, grad = fx(logits, target, reduction="none", return_grad=True, **kw)
    assert_oracle(loss, want, result_dtype(dtype))
    assert_oracle(grad, want_grad, result_dtype(dtype), "grad")


# --------------------------------------------------------------------------
# memory layouts and dtypes of the inputs


VARIANTS = ["sliced", "reversed", "transposed", "fortran", "byteswapped", "readonly", "misaligned"]


@pytest.mark.parametrize("how", VARIANTS)
@pytest.mark.parametrize("kind", ["index", "soft"])
@pytest.mark.parametrize("layout", ["nc", "ncd1d2", "cn"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_memory_layouts(isa, rng, dtype, layout, kind, how):
    shape, axis = LAYOUTS[layout]
    logits, target, kw = make_case(rng, shape, axis, dtype, kind, True, 0.1)
    x = relayout(logits, how)
    t = relayout(target, how) if target.dtype.kind == "f" or how != "byteswapped" else target
    kw_v = dict(kw, weight=relayout(kw["weight"], how))
    np.testing.assert_array_equal(x, logits)
    keep = Unchanged(x, t, kw_v["weight"])
    cdt = result_dtype(dtype)
    for reduction in REDUCTIONS:
        want, want_grad = oracle(logits, target, reduction=reduction, return_grad=True, **kw)
        loss, grad = fx(x, t, reduction=reduction, return_grad=True, **kw_v)
        assert_oracle(loss, want, cdt, f"loss {reduction}")
        assert_oracle(grad, want_grad, cdt, "grad")
        assert grad.flags.writeable
    keep.check()


@pytest.mark.parametrize("how", ["sliced", "reversed", "transposed", "fortran"])
def test_mixed_layouts_of_logits_target_and_grad_out(isa, rng, how):
    """Logits, soft target and grad_out each in a different layout."""
    logits, target, kw = make_case(rng, (10, 12), -1, F32, "soft", True, 0.1)
    x = relayout(logits, how)
    t = relayout(target, "fortran" if how != "fortran" else "sliced")
    g = relayout(np.zeros_like(logits), "reversed" if how != "reversed" else "transposed")
    want, want_grad = oracle(logits, target, return_grad=True, **kw)
    loss, grad = fx(x, t, grad_out=g, **kw)
    assert grad is g
    assert_oracle(loss, want, F32)
    assert_oracle(grad, want_grad, F32, "grad")


def test_logits_of_other_numeric_dtypes_compute_in_float64(rng):
    target = rng.integers(0, 5, size=4)
    for logits in (rng.integers(-3, 4, size=(4, 5)), rng.integers(0, 2, size=(4, 5)).astype(bool),
                   [[1, 2, 3, 4, 5]] * 4):
        loss, grad = fx(logits, target, return_grad=True)
        want, want_grad = reference.cross_entropy(logits, target, return_grad=True)
        assert_oracle(loss, want, F64)
        assert_oracle(grad, want_grad, F64, "grad")


def test_object_arrays_of_numbers_are_accepted_like_the_reference():
    from decimal import Decimal
    logits = np.array([[1, 2.5, Decimal("0.5")], [0.0, -1, 3]], dtype=object)
    weight = np.array([1, 0.5, 2.0], dtype=object)
    t = np.array([0, 2])
    for kw in ({}, {"weight": weight}):
        loss, grad = fx(logits, t, return_grad=True, **kw)
        want, want_grad = reference.cross_entropy(logits, t, return_grad=True, **kw)
        assert_oracle(loss, want, F64)
        assert_oracle(grad, want_grad, F64, "grad")
    for bad in (np.array([[1.0, "a", 2.0]], dtype=object),
                np.array([[1.0, 1j, 2.0]], dtype=object)):
        for fn in (fx, reference.cross_entropy):
            with pytest.raises(ValueError):
                fn(bad, np.array([0]))


@pytest.mark.parametrize("label_dtype", LABEL_DTYPES, ids=lambda d: np.dtype(d).name)
def test_label_dtypes(isa, rng, label_dtype):
    logits = rng.normal(size=(40, 7)).astype(np.float32)
    labels = rng.integers(0, 7, size=40)
    labels[::5] = 3
    t = labels.astype(label_dtype)
    base = fx(logits, labels, ignore_index=3, reduction="none")
    got = fx(logits, t, ignore_index=3, reduction="none")
    np.testing.assert_array_equal(got, base, strict=True)
    assert_oracle(got, oracle(logits, t, ignore_index=3, reduction="none"), F32)
    assert_oracle(fx(logits, t), oracle(logits, t), F32)
    # the default ignore_index -100 is not representable in unsigned labels
    assert_oracle(fx(logits, t, reduction="sum"), oracle(logits, t, reduction="sum"), F32)


# --------------------------------------------------------------------------
# edge cases


def test_one_class(isa):
    for dtype in (F32, F64):
        logits = np.array([[3.0], [-2.0], [np.inf], [np.nan]], dtype=dtype)
        t = np.array([0, 0, 0, -100])
        loss, grad = fx(logits[:2], t[:2], reduction="none", return_grad=True)
        assert (loss == 0).all() and (grad == 0).all()
        loss, grad = fx(logits, t, reduction="none", return_grad=True)
        want, want_grad = oracle(logits, t, reduction="none", return_grad=True)
        assert_oracle(loss, want, dtype)
        assert_oracle(grad, want_grad, dtype, "grad")
        assert fx(logits[:2], t[:2]) == 0
        soft = fx(logits[:2], np.ones((2, 1), dtype=dtype), reduction="none")
        assert (soft == 0).all()


@pytest.mark.parametrize("shape,axis", [((0, 5), -1), ((0, 5, 3), 1), ((5, 0), 0),
                                        ((2, 4, 0), 1)])
@pytest.mark.parametrize("soft", [False, True])
def test_empty_batch(isa, shape, axis, soft):
    logits = np.zeros(shape, dtype=np.float32)
    axis %= len(shape)
    row_shape = shape[:axis] + shape[axis + 1:]
    target = np.zeros(shape, np.float32) if soft else np.zeros(row_shape, np.int64)
    for reduction in REDUCTIONS:
        loss, grad = fx(logits, target, axis=axis, reduction=reduction, return_grad=True)
        want, want_grad = oracle(logits, target, axis=axis, reduction=reduction,
                                 return_grad=True)
        assert grad.shape == shape and grad.dtype == F32
        if reduction == "mean":
            assert np.isnan(loss) and np.isnan(want)
        elif reduction == "sum":
            assert loss == 0 and want == 0
        else:
            assert loss.shape == row_shape
        assert_oracle(loss, want, F32)


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@pytest.mark.parametrize("layout", ["nc", "ncd1d2", "cn"])
def test_all_rows_ignored(isa, dtype, layout):
    shape, axis = LAYOUTS[layout]
    rng = np.random.default_rng(3)
    logits, target, kw = make_case(rng, shape, axis, dtype, "index-ignore2", True, 0.1)
    target[...] = 2
    logits.reshape(-1)[::5] = np.nan          # must not leak from ignored rows
    for reduction in REDUCTIONS:
        loss, grad = fx(logits, target, reduction=reduction, return_grad=True, **kw)
        want, want_grad = oracle(logits, target, reduction=reduction, return_grad=True, **kw)
        if reduction == "mean":
            # NaN loss, zero gradient (an all-padding batch, as torch)
            assert np.isnan(loss) and (grad == 0).all()
        elif reduction == "sum":
            assert loss == 0 and (grad == 0).all()
        else:
            assert (loss == 0).all() and (grad == 0).all()
        assert_oracle(loss, want, dtype)
        assert_oracle(grad, want_grad, dtype, "grad")


def test_zero_weights_give_nan_mean_like_all_ignored(isa):
    logits = np.array([[1.0, 2.0, 3.0], [0.0, -np.inf, 1.0]])
    weight = np.array([0.0, 0.0, 1.0])
    t = np.array([0, 1])
    loss, grad = fx(logits, t, weight=weight, return_grad=True)
    assert np.isnan(loss) and np.isnan(grad).all()
    loss, grad = fx(logits, t, weight=weight, reduction="sum", return_grad=True)
    assert loss == 0 and (grad == 0).all()


@pytest.mark.parametrize("layout", ["nc", "ncd1d2", "cn"])
@pytest.mark.parametrize("dtype", [F16, F32, F64], ids=str)
def test_nan_in_ignored_row_does_not_leak(isa, rng, dtype, layout):
    shape, axis = LAYOUTS[layout]
    logits, target, kw = make_case(rng, shape, axis, dtype, "index", True, 0.1)
    ignored = np.asarray(target) == -100
    assert ignored.any() and not ignored.all()
    x = np.moveaxis(logits.copy(), axis, -1)
    x[ignored] = np.nan
    x[ignored, 0] = np.inf
    logits = np.moveaxis(x, -1, axis)
    for reduction in REDUCTIONS:
        loss, grad = fx(logits, target, reduction=reduction, return_grad=True, **kw)
        assert np.isfinite(loss).all() and np.isfinite(grad).all()
        assert (np.moveaxis(grad, axis, -1)[ignored] == 0).all()
    check_against_oracle(logits, target, **kw)


@pytest.mark.parametrize("layout", ["nc", "ncd1d2", "cn"])
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_extreme_logits(isa, dtype, layout):
    """+-1e30, -inf away from and at the target, all -inf, +inf, NaN rows."""
    rows = np.array([
        [1e30, -1e30, 0.0, 1.0, -np.inf],        # target 0: loss 0
        [1e30, -1e30, 0.0, 1.0, -np.inf],        # target 1: loss 2e30
        [0.5, -np.inf, 2.0, -np.inf, -1.0],      # target 2: finite
        [0.5, -np.inf, 2.0, -np.inf, -1.0],      # target 1: -inf at the target -> +inf
        [-np.inf] * 5,                           # all -inf -> NaN
        [0.0, np.inf, 1.0, 2.0, 3.0],            # +inf -> NaN
        [0.0, np.nan, 1.0, 2.0, 3.0],            # NaN -> NaN, only this row
        [-1e30, -1e30, -1e30, -1e30, -1e30],     # uniform: log 5
        [3.0, 1.0, 0.2, -0.3, 2.0],              # ordinary
    ], dtype=dtype)
    t = np.array([0, 1, 2, 1, 0, 2, 3, 4, 4])
    shape, axis = LAYOUTS[layout]
    if layout == "ncd1d2":        # (9, 5) -> (9, 5, 1, 1), classes on axis 1
        logits, target = rows[:, :, None, None], t[:, None, None]
    elif layout == "cn":
        logits, target = np.ascontiguousarray(rows.T), t
    else:
        logits, target = rows, t
    loss, grad = fx(logits, target, axis=axis, reduction="none", return_grad=True)
    loss = loss.reshape(-1)
    assert loss[0] == 0 and loss[1] == dtype.type(2e30) and np.isfinite(loss[2])
    assert loss[3] == np.inf
    assert np.isnan(loss[4:7]).all() and not np.isnan(loss[[0, 1, 2, 3, 7, 8]]).any()
    assert_oracle(loss[7], np.log(5.0), dtype)
    g = np.moveaxis(grad, axis, -1).reshape(9, 5)
    assert np.isnan(g[4:7]).all() and np.isfinite(g[[0, 1, 2, 3, 7, 8]]).all()
    np.testing.assert_array_equal(g[0], [0, 0, 0, 0, 0])
    np.testing.assert_array_equal(g[1], [1, -1, 0, 0, 0])
    # row 7 is left out: the reference loses log 5 next to 1e30 (see
    # test_many_equal_huge_maxima)
    keep = np.array([0, 1, 2, 3, 4, 5, 6, 8])
    if layout == "cn":
        check_against_oracle(logits[:, keep], target[keep], axis=axis)
    else:
        check_against_oracle(logits[keep], target[keep], axis=axis)
    # smoothing and soft targets put weight on -inf logits: +inf, never NaN
    loss = fx(rows[:4], t[:4], label_smoothing=0.1, reduction="none")
    assert (loss[[1, 3]] == np.inf).all() and np.isinf(loss).sum() == 4
    check_against_oracle(rows[[0, 1, 2, 3, 8]], t[[0, 1, 2, 3, 8]], label_smoothing=0.1)


@pytest.mark.parametrize("offset", [-3e4, 1e3, 1e4, 3e4])
@pytest.mark.parametrize("shape,axis", [((40, 7), -1), ((20, 300), -1), ((7, 40), 0),
                                        ((5, 9, 6), 1)], ids=["short", "long", "cn", "ncd"])
def test_logits_far_from_zero(isa, rng, shape, axis, offset):
    """float32 logits around +-1e4: the gradient must not inherit the
    rounding of logsumexp to float32 (|lse| ulps)."""
    for kind in ("index", "soft"):
        logits, target, kw = make_case(rng, shape, axis, F32, kind, True, 0.1)
        logits = (logits + np.float32(offset)).astype(np.float32)
        check_against_oracle(logits, target, reductions=["none", "mean"], check_plain=False,
                             **kw)


def test_nan_logit_makes_only_its_row_nan(isa, rng):
    for shape, axis in (((50, 9), -1), ((4, 9, 6), 1), ((9, 40), 0)):
        logits = rng.normal(size=shape)
        row_shape = tuple(n for i, n in enumerate(shape) if i != axis % len(shape))
        target = rng.integers(0, 9, size=row_shape)
        x = np.moveaxis(logits, axis, -1)          # a view: writes go to logits
        x[np.unravel_index(7, row_shape) + (4,)] = np.nan
        for kw in ({}, {"label_smoothing": 0.2}):
            loss, grad = fx(logits, target, axis=axis, reduction="none", return_grad=True, **kw)
            bad = np.isnan(loss).reshape(-1)
            assert bad.sum() == 1 and bad[7]
            gbad = np.isnan(np.moveaxis(grad, axis, -1).reshape(-1, 9))
            assert gbad[7].all() and gbad.sum() == 9
            assert np.isnan(fx(logits, target, axis=axis, **kw))


@pytest.mark.parametrize("soft", [False, True])
def test_float16_rows_wider_than_float16_max(isa, soft):
    C = 70_000
    logits = np.zeros((3, C), dtype=np.float16)
    logits[1] = np.float16(8.0)
    logits[2, ::7] = np.float16(65504.0)
    target = np.full((3, C), 1.0 / C, np.float32) if soft else np.array([5, 6, 7])
    loss = fx(logits, target, reduction="none")
    assert loss.dtype == F32 and np.isfinite(loss).all()
    assert_oracle(loss[:2], [np.log(C), np.log(C)], F32)
    check_against_oracle(logits, target)


def long_rows(C, rng):
    """Rows of length C that stress the chunked online maximum."""
    chunks = fx_kernels.build_info()["row_chunk"]
    chunk = chunks["float64"]          # the smaller one; float32's is twice that
    n_inf = min(2 * chunks["float32"] + 5, C - 10)
    rows = {
        "normal": rng.normal(size=C),
        "max-first": np.concatenate([[40.0], rng.normal(size=C - 1)]),
        "max-last": np.concatenate([rng.normal(size=C - 1), [40.0]]),
        "increasing": np.linspace(-30.0, 30.0, C),
        "decreasing": np.linspace(30.0, -30.0, C),
        "max-each-chunk": np.repeat(np.arange(-(-C // chunk), dtype=float), chunk)[:C] * 5.0
                          + rng.normal(size=C),
        "-inf-chunks-first": np.concatenate([np.full(n_inf, -np.inf), rng.normal(size=C - n_inf)]),
        "-inf-then-very-negative": np.concatenate(
            [np.full(n_inf, -np.inf), -1000.0 + rng.normal(size=C - n_inf)]),
        "-inf-then-very-positive": np.concatenate(
            [np.full(n_inf, -np.inf), 1000.0 + rng.normal(size=C - n_inf)]),
        "huge": np.where(np.arange(C) == 5, 1e30, -1e30),
    }
    return rows


@pytest.mark.parametrize("C", [7, 5000, 70_000])
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_many_equal_huge_maxima(isa, dtype, C):
    """k maxima of 1e30 among -1e30: loss log k at a maximum, gradient 1/k there.

    Checked analytically: the reference computes z - (m + log s) and loses
    log s next to 1e30, so it gives 0 here.
    """
    x = np.full((2, C), -1e30, dtype=dtype)
    x[:, 1::3] = 1e30
    k = len(range(1, C, 3))
    t = np.array([1, 0])
    loss, grad = fx(x, t, reduction="none", return_grad=True)
    assert_oracle(loss[0], np.log(k), dtype)
    assert loss[1] == dtype.type(2e30)
    want = np.where(x[0] > 0, 1.0 / k, 0.0)
    assert_oracle(grad[0], want - (np.arange(C) == 1), dtype, "grad")
    assert_oracle(grad[1], want - (np.arange(C) == 0), dtype, "grad")
    for axis_layout in (np.ascontiguousarray(x.T),):
        loss_t, grad_t = fx(axis_layout, t, axis=0, reduction="none", return_grad=True)
        assert_oracle(loss_t, loss.astype(np.float64), dtype)
        assert_oracle(grad_t.T, grad.astype(np.float64), dtype, "grad")


@pytest.mark.parametrize("C", [5000, 70_000])
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_long_rows(isa, rng, dtype, C):
    rows = long_rows(C, rng)
    names = list(rows)
    logits = np.stack([rows[k] for k in names]).astype(dtype)
    target = np.full(len(names), C - 3)
    for kw in ({}, {"label_smoothing": 0.1}, {"weight": rng.uniform(0.5, 2.0, C)}):
        kw = dict(kw)
        if "weight" in kw:
            kw["weight"] = kw["weight"].astype(dtype)
        loss, grad = fx(logits, target, reduction="none", return_grad=True, **kw)
        want, want_grad = oracle(logits, target, reduction="none", return_grad=True, **kw)
        for i, name in enumerate(names):
            assert_oracle(loss[i], want[i], dtype, f"loss of row {name!r} {kw.keys()}")
            assert_oracle(grad[i], want_grad[i], dtype, f"grad of row {name!r} {kw.keys()}")
    # soft targets, zero where the logits are -inf
    y = rng.dirichlet(np.ones(C), size=len(names))
    y[~np.isfinite(logits)] = 0.0
    y = (y / y.sum(axis=1, keepdims=True)).astype(dtype)
    loss, grad = fx(logits, y, reduction="none", return_grad=True)
    want, want_grad = oracle(logits, y, reduction="none", return_grad=True)
    for i, name in enumerate(names):
        assert_oracle(loss[i], want[i], dtype, f"soft loss of row {name!r}")
        assert_oracle(grad[i], want_grad[i], dtype, f"soft grad of row {name!r}")


@pytest.mark.parametrize("shape,axis", [((5000, 10), 0), ((2, 5000, 5), 1)])
def test_long_rows_along_a_strided_axis(isa, rng, shape, axis):
    rows = np.stack(list(long_rows(5000, rng).values()))[:np.prod(shape) // 5000]
    x = np.moveaxis(rows.reshape(shape[:axis] + shape[axis + 1:] + (5000,)), -1, axis)
    x = x.astype(np.float32)
    t = rng.integers(0, 5000, size=shape[:axis] + shape[axis + 1:])
    check_against_oracle(x, t, axis=axis, reductions=["none", "mean"], check_plain=False)
    check_against_oracle(x, t, axis=axis, reductions=["sum"], label_smoothing=0.3,
                         check_plain=False)


# --------------------------------------------------------------------------
# bad inputs: the exact exception, from fastxent and from the reference


def _bad_label_cases():
    logits = np.zeros((2, 3, 4), dtype=np.float32)     # axis=1: C = 3, rows (2, 4)
    for value in (3, -1, 100, -101):
        t = np.zeros((2, 4), dtype=np.int64)
        t[1, 2] = value
        yield f"value{value}", logits, t, value, (1, 2)
    t = np.zeros((2, 4), dtype=np.uint64)
    t[0, 3] = np.uint64(2 ** 64 - 1)
    yield "uint64-max", logits, t, 2 ** 64 - 1, (0, 3)
    t = np.zeros((2, 4), dtype=np.uint8)
    t[1, 0] = 200
    yield "uint8", logits, t, 200, (1, 0)


@pytest.mark.parametrize("case", list(_bad_label_cases()), ids=lambda c: c[0])
def test_bad_label_raises_index_error_naming_value_and_position(case):
    _, logits, target, value, pos = case
    for fn in (fx, reference.cross_entropy):
        with pytest.raises(IndexError) as info:
            fn(logits, target, axis=1)
        msg = str(info.value)
        assert str(value) in msg, msg
        assert str(pos) in msg, msg


@pytest.mark.parametrize("n", [5, 20000])
def test_bad_label_computes_nothing(n):
    logits = np.zeros((n, 3))
    target = np.zeros(n, dtype=np.int64)
    target[-2] = 7
    g = np.full((n, 3), 42.0)
    with pytest.raises(IndexError, match=rf"7 at position \({n - 2},\)"):
        fx(logits, target, grad_out=g, num_threads=2)
    assert (g == 42.0).all()


def test_ignore_index_outside_int64():
    """Such an ignore_index matches no label; the smallest int64 label is
    still out of range."""
    logits = np.zeros((3, 4))
    for ignore in (2 ** 70, -(2 ** 70)):
        t = np.array([0, 3, 1])
        assert_oracle(fx(logits, t, ignore_index=ignore, reduction="none"), np.log([4, 4, 4]), F64)
        t = np.array([0, np.iinfo(np.int64).min, 1])
        for fn in (fx, reference.cross_entropy):
            with pytest.raises(IndexError, match=str(np.iinfo(np.int64).min)):
                fn(logits, t, ignore_index=ignore)


X = np.zeros((4, 3))
T = np.array([0, 1, 2, 0])
P = np.full((4, 3), 1 / 3)
BAD_INPUTS = {
    "target-shape": ((X, np.array([0, 1, 2])), {}, ValueError),
    "target-2d-shape": ((X, np.zeros((4, 1), int)), {}, ValueError),
    "soft-target-shape": ((X, np.full((4, 2), 0.5)), {}, ValueError),
    "soft-target-transposed": ((X, P.T.copy()), {}, ValueError),
    "reduction": ((X, T), {"reduction": "avg"}, ValueError),
    "reduction-none-object": ((X, T), {"reduction": None}, ValueError),
    "smoothing-negative": ((X, T), {"label_smoothing": -0.1}, ValueError),
    "smoothing-above-1": ((X, T), {"label_smoothing": 1.5}, ValueError),
    "smoothing-nan": ((X, T), {"label_smoothing": float("nan")}, ValueError),
    "smoothing-text": ((X, T), {"label_smoothing": "a"}, ValueError),
    "weight-length": ((X, T), {"weight": np.ones(4)}, ValueError),
    "weight-2d": ((X, T), {"weight": np.ones((1, 3))}, ValueError),
    "weight-text": ((X, T), {"weight": np.array(["a", "b", "c"])}, ValueError),
    "logits-text": ((np.array([["a", "b"]]), np.array([0])), {}, ValueError),
    "logits-complex": ((X.astype(complex), T), {}, ValueError),
    "logits-0d": ((np.float64(1.0), np.int64(0)), {}, ValueError),
    "logits-no-class": ((np.zeros((4, 0)), T), {}, ValueError),
    "target-text": ((X, np.array(["a", "b", "c", "d"])), {}, ValueError),
    "target-bool": ((X, np.array([True, False, True, False])), {}, ValueError),
    "soft-with-ignore-index": ((X, P), {"ignore_index": 1}, ValueError),
    "axis-out-of-range": ((X, T), {"axis": 2}, AxisError),
    "axis-negative-out-of-range": ((X, T), {"axis": -3}, AxisError),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_inputs_raise_like_the_reference(name):
    args, kwargs, exc = BAD_INPUTS[name]
    keep = Unchanged(*args)
    with pytest.raises(exc) as got:
        fx(*args, **kwargs)
    with pytest.raises(exc) as want:
        reference.cross_entropy(*args, **kwargs)
    assert type(got.value) is exc and type(want.value) is exc, (got.value, want.value)
    assert str(got.value)
    keep.check()


def test_axis_error_is_a_value_error():
    with pytest.raises(ValueError):
        fx(X, T, axis=5)


@pytest.mark.parametrize("n", [0, -1, 1.5, "2", -5])
def test_bad_num_threads(n):
    with pytest.raises(ValueError):
        fx(X, T, num_threads=n)


# --------------------------------------------------------------------------
# determinism across thread counts


THREAD_CASES = {
    "4096x100": ((4096, 100), -1),
    "64x3000": ((64, 3000), -1),
    "64x100x40-axis1": ((64, 100, 40), 1),
    "300x200-axis0": ((300, 200), 0),
}


@pytest.mark.parametrize("kind", ["index", "soft"])
@pytest.mark.parametrize("case", list(THREAD_CASES))
@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
def test_bitwise_identical_for_any_thread_count(isa, rng, dtype, case, kind):
    shape, axis = THREAD_CASES[case]
    assert np.prod(shape) > 32768             # large enough to be threaded
    logits, target, kw = make_case(rng, shape, axis, dtype, kind, True, 0.1)
    results = {}
    for nt in (1, 2, 3, 4):
        out = []
        for reduction in REDUCTIONS:
            out.append(fx(logits, target, reduction=reduction, num_threads=nt, **kw))
            loss, grad = fx(logits, target, reduction=reduction, num_threads=nt,
                            return_grad=True, **kw)
            out += [loss, grad]
        results[nt] = out
    for nt in (2, 3, 4):
        for a, b in zip(results[1], results[nt]):
            a, b = np.asarray(a), np.asarray(b)
            assert a.dtype == b.dtype and a.shape == b.shape
            assert a.tobytes() == b.tobytes(), f"{nt} threads differ from 1"
    # and they are right
    assert_oracle(results[1][0], oracle(logits, target, **kw), result_dtype(dtype))


def test_global_thread_setting_is_used_and_gives_identical_bits(rng):
    logits, target, kw = make_case(rng, (2048, 64), -1, F32, "index")
    ref = fx(logits, target, reduction="sum", num_threads=1)
    try:
        for n in (1, 2, 3):
            fastxent.set_num_threads(n)
            assert fx(logits, target, reduction="sum").tobytes() == ref.tobytes()
    finally:
        fastxent.set_num_threads(None)


# --------------------------------------------------------------------------
# grad_out


@pytest.mark.parametrize("how", ["contiguous", "fortran", "sliced", "reversed"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_grad_out_is_written_and_returned(isa, rng, dtype, how):
    logits, target, kw = make_case(rng, (6, 5, 3), 1, dtype, "index", True, 0.1)
    cdt = result_dtype(dtype)
    for reduction in REDUCTIONS:
        g = relayout(np.full(logits.shape, 7.0, dtype=cdt), how)
        want, want_grad = oracle(logits, target, reduction=reduction, return_grad=True, **kw)
        loss, grad = fx(logits, target, reduction=reduction, grad_out=g, **kw)
        assert grad is g
        assert_oracle(loss, want, cdt)
        assert_oracle(g, want_grad, cdt, "grad")
        # return_grad=True with grad_out gives the same
        g2 = np.empty(logits.shape, dtype=cdt)
        loss2, grad2 = fx(logits, target, reduction=reduction, grad_out=g2,
                          return_grad=True, **kw)
        assert grad2 is g2
        np.testing.assert_array_equal(g2, g)


def test_grad_out_errors(rng):
    logits = rng.normal(size=(4, 3)).astype(np.float32)
    t = np.array([0, 1, 2, 0])
    ro = np.zeros((4, 3), np.float32)
    ro.flags.writeable = False
    bad = {
        "shape": np.zeros((3, 4), np.float32),
        "shape-1d": np.zeros(12, np.float32),
        "dtype": np.zeros((4, 3), np.float64),
        "readonly": ro,
        "list": [[0.0] * 3] * 4,
        "logits-itself": logits,
        "view-of-logits": logits[:, :],
    }
    for name, g in bad.items():
        with pytest.raises(ValueError):
            fx(logits, t, grad_out=g)
    # float16 logits: the gradient is float32, or rounded into a float16
    # grad_out (test_half.py); no other dtype
    with pytest.raises(ValueError):
        fx(logits.astype(np.float16), t, grad_out=np.zeros((4, 3), np.float64))
    fx(logits.astype(np.float16), t, grad_out=np.zeros((4, 3), np.float32))
    # overlap with the soft target or the weight
    soft = np.zeros((2, 4, 3), np.float32)
    soft[0] = 1 / 3
    with pytest.raises(ValueError):
        fx(logits, soft[0], grad_out=soft[0])
    with pytest.raises(ValueError):
        both = np.zeros((5, 3), np.float32)
        fx(logits, t, weight=both[3], grad_out=both[:4])
    np.testing.assert_array_equal(ro, 0)


def test_return_grad_false_with_grad_out_still_returns_the_pair(rng):
    logits = rng.normal(size=(4, 3))
    out = fx(logits, np.array([0, 1, 2, 0]), grad_out=np.empty((4, 3)), return_grad=False)
    assert isinstance(out, tuple) and len(out) == 2


# --------------------------------------------------------------------------
# gradients against 4th-order central differences (float64)


def numeric_grad(f, x, h=1e-3):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        def at(d):
            y = x.copy()
            y[i] += d
            return float(np.sum(f(y)))
        g[i] = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)
    return g


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", SMOOTHINGS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("shape,axis", [((3, 4), -1), ((2, 3, 2), 1), ((4, 3), 0)],
                         ids=["nc", "ncd", "cn"])
def test_gradient_matches_central_differences(rng, shape, axis, kind, weighted, smoothing,
                                              reduction):
    logits, target, kw = make_case(rng, shape, axis, F64, kind, weighted, smoothing)
    _, grad = fx(logits, target, reduction=reduction, return_grad=True, **kw)
    num = numeric_grad(lambda z: fx(z, target, reduction=reduction, **kw), logits)
    if reduction == "mean" and np.issubdtype(np.asarray(target).dtype, np.integer) \
            and (np.asarray(target) == kw.get("ignore_index", -100)).all():
        num = np.zeros_like(num)   # the mean over nothing: a constant NaN, zero gradient
    np.testing.assert_allclose(grad, num, rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------
# property test against the reference


if st is not None:
    @st.composite
    def problems(draw):
        ndim = draw(st.integers(1, 3))
        shape = tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
        axis = draw(st.integers(-ndim, ndim - 1))
        C = draw(st.integers(1, 40))
        shape = shape[:axis % ndim] + (C,) + shape[axis % ndim + 1:]
        dtype = draw(st.sampled_from([F32, F64]))
        kind = draw(st.sampled_from(list(KINDS)))
        weighted = draw(st.booleans())
        smoothing = draw(st.sampled_from([0.0, 1.0]) | st.floats(0.0, 1.0))
        reduction = draw(st.sampled_from(REDUCTIONS))
        layout = draw(st.sampled_from(["contiguous", "fortran", "reversed", "sliced"]))
        seed = draw(st.integers(0, 2 ** 32 - 1))
        return shape, axis, dtype, kind, weighted, smoothing, reduction, layout, seed

    @settings(max_examples=60, deadline=None, derandomize=True)
    @given(problems())
    def test_property_matches_reference(problem):
        shape, axis, dtype, kind, weighted, smoothing, reduction, layout, seed = problem
        rng = np.random.default_rng(seed)
        logits, target, kw = make_case(rng, shape, axis, dtype, kind, weighted, smoothing)
        kw["axis"] = axis
        x = relayout(logits, layout)
        want, want_grad = oracle(logits, target, reduction=reduction, return_grad=True, **kw)
        loss, grad = fx(x, target, reduction=reduction, return_grad=True, **kw)
        assert_oracle(loss, want, dtype)
        assert_oracle(grad, want_grad, dtype, "grad")
else:
    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_property_matches_reference():
        pass


# --------------------------------------------------------------------------
# peak memory (issue 2 and issue 4 "Done when")


MEMORY_SCRIPT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    import fastxent
    N, C = 16384, 2000
    mode = sys.argv[1]
    t = np.arange(N, dtype=np.int64) % C
    fastxent.cross_entropy(np.zeros((64, C), np.float32), t[:64], return_grad=True)  # warm up
    x = np.empty((N, C), dtype=np.float32)
    x[...] = np.linspace(-3.0, 3.0, C, dtype=np.float32)   # touch every page
    g = np.zeros_like(x) if mode == "grad_out" else None     # allocated and touched first
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if mode == "mean":
        out = fastxent.cross_entropy(x, t, reduction="mean", num_threads=2)
    elif mode == "grad":
        out = fastxent.cross_entropy(x, t, reduction="mean", return_grad=True, num_threads=2)
    else:
        out = fastxent.cross_entropy(x, t, reduction="mean", grad_out=g, num_threads=2)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print((after - before) * 1024, x.nbytes)
""")


@pytest.mark.parametrize("mode", ["mean", "grad", "grad_out"])
def test_peak_memory(mode):
    proc = subprocess.run([sys.executable, "-c", MEMORY_SCRIPT, mode], capture_output=True,
                          text=True, timeout=120,
                          env=dict(os.environ, OMP_NUM_THREADS="2"))
    assert proc.returncode == 0, proc.stderr
    growth, nbytes = map(int, proc.stdout.split())
    limit = 0.02 * nbytes + (nbytes if mode == "grad" else 0)
    assert growth < limit, f"{mode}: peak RSS grew {growth / 2**20:.1f} MiB, " \
                           f"limit {limit / 2**20:.1f} MiB (logits {nbytes / 2**20:.0f} MiB)"


# --------------------------------------------------------------------------
# short rows: tiles transposed (vector blocks of a whole, half or quarter
# vector, a prefetch spread over the transposition) against the same rows
# read in place, strided, with the same arithmetic


@pytest.mark.parametrize("dtype", [F32, F64], ids=str)
@pytest.mark.parametrize("kind", ["index", "soft"])
def test_short_rows_transposed_equal_the_rows_read_in_place(isa, rng, dtype, kind):
    """Row by row, a C-ordered or row-sliced short-row array (transposed in
    tiles) gives the bits of the Fortran-ordered one (read in place, no
    transposition): losses and gradients, with ignored rows and weights."""
    for C in list(range(1, 21)) + [31, 33, 40, 100, 128]:
        for N in (1, 5, 63, 64, 65, 300):
            x = (rng.standard_normal((N, C)) * 4).astype(dtype)
            kw = dict(weight=rng.uniform(0.5, 2.0, C).astype(dtype), reduction="none",
                      return_grad=True)
            if kind == "index":
                t = rng.integers(0, C, N)
                t[rng.random(N) < 0.2] = -100
            else:
                t = rng.dirichlet(np.ones(C), N).astype(dtype)
            wide = np.zeros((N, C + 3), dtype)
            wide[:, 1:C + 1] = x
            want, want_g = fx(np.asfortranarray(x), np.asfortranarray(t) if kind == "soft" else t,
                              **kw)
            for name, xv in (("C-order", x), ("row-sliced", wide[:, 1:C + 1])):
                loss, grad = fx(xv, t, **kw)
                np.testing.assert_array_equal(loss, want, err_msg=f"{name} loss C={C} N={N}")
                np.testing.assert_array_equal(grad, want_g, err_msg=f"{name} grad C={C} N={N}")
