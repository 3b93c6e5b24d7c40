"""Issue 16, porting gap 2: entropy / kl_divergence of unnormalised rows,
against scipy.stats.entropy (normalize=True) and with the warning of
scikit-learn's log_loss (normalize=None, the default)."""
import warnings

import numpy as np
import pytest

import fastxent
from fastxent import reference as R
from _helpers import assert_close

stats = pytest.importorskip("scipy.stats")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_normalize_true_matches_scipy_stats(isa, rng, dtype, axis):
    p = rng.uniform(0, 5, size=(6, 7)).astype(dtype)
    q = rng.uniform(0.1, 5, size=(6, 7)).astype(dtype)
    p[0, 0] = 0.0
    rtol = 2e-5 if dtype == np.float32 else 1e-12
    for mod in (fastxent, R):
        with warnings.catch_warnings():
            warnings.simplefilter("error")          # no warning with normalize=True
            got = mod.entropy(p, axis=axis, normalize=True, base=2)
            kl = mod.kl_divergence(p, q, axis=axis, normalize=True)
        assert_close(got, stats.entropy(p, axis=axis, base=2), rtol)
        assert_close(kl, stats.entropy(p, q, axis=axis), rtol)


def test_the_issue_example(isa):
    assert_close(fastxent.entropy([0, 1, 2], normalize=True), stats.entropy([0, 1, 2]), 1e-15)
    with pytest.warns(UserWarning, match="p: .*sum to 1.*normalize"):
        unnormalised = fastxent.entropy([0, 1, 2])
    assert_close(unnormalised, -2 * np.log(2), 1e-15)    # entr(p).sum(): as documented


@pytest.mark.parametrize("mod", [fastxent, R], ids=["fastxent", "reference"])
def test_default_warns_for_rows_not_summing_to_one(isa, rng, mod):
    p = rng.dirichlet(np.ones(5), size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mod.entropy(p)                                 # normalised: unchanged, silent
        mod.kl_divergence(p, p[::-1])
        mod.entropy(p.T, axis=0)
        mod.entropy(p * 3, normalize=False)           # as given, on request
        mod.entropy(np.float32(p) * (1 + 1e-4))       # inside float32's sqrt(eps)
        mod.entropy(np.zeros((3, 0)))                 # empty rows: nothing to check
    with pytest.warns(UserWarning, match="p"):
        mod.entropy(p * 1.01)
    with pytest.warns(UserWarning, match="q"):
        mod.kl_divergence(p, p * 2)
    with pytest.raises(ValueError, match="normalize"):
        mod.entropy(p, normalize="yes")


@pytest.mark.parametrize("mod", [fastxent, R], ids=["fastxent", "reference"])
def test_negative_values_raise_before_normalising(isa, mod):
    for normalize in (True, None, False):
        with pytest.raises(ValueError, match="non-negative"):
            mod.entropy([-1.0, -1.0], normalize=normalize)
        with pytest.raises(ValueError, match="non-negative"):
            mod.kl_divergence([0.5, 0.5], [-1.0, -1.0], normalize=normalize)


def test_zero_row_normalised_is_nan_like_scipy(isa):
    p = np.array([[0.0, 0.0], [1.0, 3.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = stats.entropy(p, axis=1)
    for mod in (fastxent, R):
        with np.errstate(invalid="ignore"):
            assert_close(mod.entropy(p, normalize=True), want, 1e-12)
