"""Issue 16, porting gap 5: nll_loss and kl_div against
torch.nn.functional (and the twins)."""
import warnings

import numpy as np
import pytest

import fastxent
from fastxent import reference as R
from _helpers import assert_close

FUNCS = ("fastxent", "reference")


def _fn(which, name):
    return getattr(fastxent if which == "fastxent" else R, name)


@pytest.mark.parametrize("which", FUNCS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,axis", [((7, 5), -1), ((3, 5, 4), 1), ((5,), 0)])
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(rng, torch, which, dtype, shape, axis, weighted):
    x = np.log(rng.dirichlet(np.ones(5), size=int(np.prod(shape)) // 5)).reshape(
        np.moveaxis(np.empty(shape), axis, -1).shape)
    x = np.moveaxis(x, -1, axis).astype(dtype)
    tshape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    t = rng.integers(0, 5, size=tshape)
    if t.size > 1:
        t.reshape(-1)[1] = -100
    w = rng.uniform(0.5, 2.0, size=5).astype(dtype) if weighted else None
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    for red in ("mean", "sum", "none"):
        kw = {} if w is None else {"weight": torch.tensor(w)}
        want = torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(t), reduction=red,
                                            **kw).numpy()
        got = _fn(which, "nll_loss")(x, t, axis=axis, weight=w, reduction=red)
        assert np.shape(got) == want.shape and got.dtype == want.dtype
        assert_close(got, want, rtol)


@pytest.mark.parametrize("which", FUNCS)
def test_nll_loss_edges_like_torch(torch, which):
    fn = _fn(which, "nll_loss")
    x = np.log(np.full((3, 4), 0.25))
    t = np.full(3, -100)
    want = torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor(t))
    assert np.isnan(fn(x, t)) and np.isnan(want.item())
    assert fn(x, t, reduction="sum") == 0
    # custom ignore_index, a NaN in an ignored row does not leak
    x[0] = np.nan
    assert_close(fn(x, np.array([7, 1, 2]), ignore_index=7),
                 torch.nn.functional.nll_loss(torch.tensor(x), torch.tensor([7, 1, 2]),
                                              ignore_index=7).item(), 1e-12)
    with pytest.raises(IndexError, match="target"):
        fn(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="target"):
        fn(x, np.array([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="target"):
        fn(x, np.array([0, 1]))
    with pytest.raises(ValueError, match="weight"):
        fn(x, np.array([0, 1, 1]), weight=np.ones(3))
    with pytest.raises(ValueError, match="reduction"):
        fn(x, np.array([0, 1, 1]), reduction="batchmean")


def test_cross_entropy_is_nll_of_log_softmax(rng):
    logits = rng.normal(size=(9, 6))
    t = rng.integers(0, 6, size=9)
    assert_close(fastxent.nll_loss(fastxent.log_softmax(logits), t),
                 fastxent.cross_entropy(logits, t), 1e-12)


@pytest.mark.parametrize("which", FUNCS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(6, 5), (2, 3, 4), (5,), ()])
def test_kl_div_matches_torch(rng, torch, which, dtype, log_target, shape):
    x = np.log(rng.uniform(0.05, 1.0, size=shape)).astype(dtype)
    y = rng.uniform(0.0, 1.0, size=shape)
    if y.size > 2:
        y.reshape(-1)[:2] = [0.0, 1.0]              # xlogy(0, 0) = 0
    y = (np.log(y) if log_target else y).astype(dtype)
    rtol = 2e-6 if dtype == np.float32 else 1e-12
    for red in ("mean", "batchmean", "sum", "none"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")         # torch's warning about "mean"
            want = torch.nn.functional.kl_div(torch.tensor(x), torch.tensor(y), reduction=red,
                                              log_target=log_target).numpy()
        got = _fn(which, "kl_div")(x, y, reduction=red, log_target=log_target)
        assert np.shape(got) == want.shape and got.dtype == want.dtype
        assert_close(got, want, rtol)


@pytest.mark.parametrize("which", FUNCS)
def test_kl_div_special_values_and_broadcasting_like_torch(torch, which):
    fn = _fn(which, "kl_div")
    x = np.array([[-np.inf, 0.0, -1.0], [-0.5, -np.inf, -2.0]])
    y = np.array([[0.0, 0.5, -0.1], [0.25, 0.5, np.inf]])
    for lt in (False, True):
        want = torch.nn.functional.kl_div(torch.tensor(x), torch.tensor(y), reduction="none",
                                          log_target=lt).numpy()
        np.testing.assert_allclose(fn(x, y, reduction="none", log_target=lt), want,
                                   rtol=1e-12, equal_nan=True)
    xb, yb = np.log(np.full((4, 1), 0.5)), np.array([0.2, 0.8])
    want = torch.nn.functional.kl_div(torch.tensor(xb), torch.tensor(yb), reduction="sum")
    assert_close(fn(xb, yb, reduction="sum"), want.item(), 1e-12)
    with pytest.raises(ValueError, match="reduction"):
        fn(x, y, reduction="max")
    with pytest.raises(ValueError, match="target"):
        fn(x, np.ones(4))
    with pytest.raises(ValueError, match="log_target"):
        fn(x, y, log_target="yes")
