"""Issue 16, porting gap 4: training through an all-padding batch, against
torch (the loss is NaN, the gradient zeros; zero total weight stays 0/0)."""
import numpy as np
import pytest

import fastxent
from fastxent import reference as R


def _torch_grad(torch, x, t, **kw):
    xt = torch.tensor(x, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(xt, torch.tensor(t), **kw)
    loss.backward()
    return loss.item(), xt.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{}, {"label_smoothing": 0.1},
                                {"weight": np.array([1.0, 2.0, 0.5, 1.0])}])
def test_all_padding_batch_has_zero_gradient(isa, rng, torch, dtype, kw):
    x = rng.normal(size=(5, 4)).astype(dtype)
    t = np.full(5, -100)
    tkw = {k: torch.tensor(v.astype(dtype)) if isinstance(v, np.ndarray) else v
           for k, v in kw.items()}
    want_loss, want_grad = _torch_grad(torch, x, t, **tkw)
    for fn in (fastxent.cross_entropy, R.cross_entropy):
        loss, grad = fn(x, t, return_grad=True, **kw)
        assert np.isnan(loss) and np.isnan(want_loss)
        np.testing.assert_array_equal(grad, want_grad)
        assert grad.dtype == dtype and not grad.any()
    # the other axis and a caller's buffer too
    buf = np.full((4, 5), 7.0, dtype=dtype)
    fastxent.cross_entropy(x.T, t, axis=0, grad_out=buf, **kw)
    assert not buf.any()


def test_zero_total_weight_stays_nan_like_torch(isa, rng, torch):
    x = rng.normal(size=(3, 4))
    t = np.array([0, 0, 1])
    w = np.array([0.0, 0.0, 1.0, 1.0])
    _, want = _torch_grad(torch, x, t, weight=torch.tensor(w))
    assert np.isnan(want).all()
    for fn in (fastxent.cross_entropy, R.cross_entropy):
        _, grad = fn(x, t, weight=w, return_grad=True)
        assert np.isnan(grad).all()


def test_custom_ignore_index_all_ignored(isa, rng, torch):
    x = rng.normal(size=(2, 3, 4))        # class axis 1
    t = np.full((2, 4), 7)
    _, want = _torch_grad(torch, x, t, ignore_index=7)
    for fn in (fastxent.cross_entropy, R.cross_entropy):
        _, grad = fn(x, t, axis=1, ignore_index=7, return_grad=True)
        np.testing.assert_array_equal(grad, want)
