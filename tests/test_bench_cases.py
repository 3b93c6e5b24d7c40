"""fastxent.bench.cases: the registry, the standard suite and its data."""
import numpy as np
import pytest

import fastxent
from fastxent.bench import cases as bc


def test_standard_case_ids_are_unique_and_found():
    ids = [c.id for c in bc.standard_cases()]
    assert len(ids) == len(set(ids))
    assert "xent-f32-64x10" in ids
    assert all(bc.get_case(i).id == i for i in ids)
    with pytest.raises(ValueError, match="case_id: .*got 'no-such-case'"):
        bc.get_case("no-such-case")


def test_select_cases():
    cases = bc.standard_cases()
    assert [c.id for c in bc.select_cases(cases, "xent-f32-64x10")] == ["xent-f32-64x10"]
    some = bc.select_cases(cases, "8192x1000, log_loss")
    assert len(some) > 2 and all("8192x1000" in c.id or "log_loss" in c.id for c in some)
    assert bc.select_cases(cases, "no-such-case") == []
    assert bc.select_cases(cases, None) == cases
    assert any(c.quick for c in cases)


@pytest.mark.parametrize("func", sorted(bc.CASE_MAKERS))
def test_make_case_of_every_function(func):
    case = bc.make_case(func, 6, 4)
    assert case.func == func and case.shape == (6, 4) and case.missing is None
    assert case.impls[0].name == "fastxent" and case.impl("reference") is not None
    assert case.impl("no-such-impl") is None
    assert {i.name for i in case.impls} <= set(bc.IMPL_ORDER)
    data = case.make(bc.DataCache())
    got = case.impl("fastxent").build(data, 1)()
    want = case.impl("reference").build(data, 1)()
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64),
                               np.asarray(want, dtype=np.float64), rtol=1e-3, atol=1e-6)


def test_make_case_options_reach_the_case():
    case = bc.make_case("cross_entropy", 8, 5, grad=True, label_smoothing=0.1)
    assert case.id == "xent-ls0.1-grad-f32-8x5"
    assert "return_grad=True" in case.options and "label_smoothing=0.1" in case.options
    assert case.bytes == 2 * 8 * 5 * 4 + 8 * 8
    with pytest.raises(ValueError, match="func: expected one of .*got 'no_such'"):
        bc.make_case("no_such", 8, 5)


def test_missing_function_is_named():
    case = bc.make_case("cross_entropy", 8, 5)
    ghost = bc.Case("ghost", "no_such_function", case.shape, case.dtype, case.make,
                    case.impls, case.ops, case.bytes)
    assert ghost.missing == "fastxent.no_such_function does not exist yet"
    assert getattr(fastxent, "no_such_function", None) is None


def test_data_do_not_depend_on_order_and_unused_arrays_are_dropped():
    a, b = bc.DataCache(), bc.DataCache()
    x = bc.logits(a, (8, 5)).copy()
    bc.labels(b, 8, 5)
    assert np.array_equal(bc.logits(b, (8, 5)), x)
    p = bc.probabilities(a, (8, 5))
    assert (p > 0).all() and np.allclose(p.sum(axis=-1), 1.0, rtol=1e-6)
    a.end_case()  # both used in this case: kept
    assert bc.logits(a, (8, 5)) is bc.logits(a, (8, 5))
    a.end_case()  # probabilities not used since: dropped, remade the same
    assert np.array_equal(bc.probabilities(a, (8, 5)), p)


@pytest.mark.parametrize("dtype, short", [("bfloat16", "bf16"), ("float16", "f16")])
def test_half_cases_read_half_width(dtype, short):
    """Half logits: computed in float32, read 2 bytes per logit (the floor's
    bytes), and the torch peer gets tensors of the same half dtype."""
    pytest.importorskip("torch")
    case = bc.make_case("cross_entropy", 6, 4, dtype=dtype)
    assert case.id == f"xent-{short}-6x4" and case.dtype == "float32" and case.storage == dtype
    assert case.bytes == 6 * 4 * 2 + 6 * 8 and case.missing is None
    data = case.make(bc.DataCache())
    assert data["x"].itemsize == 2
    got = case.impl("fastxent").build(data, 1)()
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, case.impl("reference").build(data, 1)(), rtol=1e-6)
    peer = case.impl("torch").build(data, 1)()   # bfloat16 / float16 arithmetic in torch
    assert np.asarray(peer).dtype == np.float32   # what the bench's check reads
    np.testing.assert_allclose(float(peer), float(got), rtol=2e-2)
