"""fastxent.bench.check: results compared with fastxent's."""
import math

import numpy as np
import pytest

from fastxent.bench.check import as_arrays, check_fastxent, check_peer, compare, same_bits


def test_compare():
    a = (np.array([1.0, 2.0, np.nan]),)
    assert compare(a, a, 1e-3) == (True, 0.0)
    ok, err = compare((np.array([1.0, 2.1, np.nan]),), a, 1e-3)
    assert not ok and err == pytest.approx(0.05)
    assert not compare((np.float32(1.0),), (np.float32(1.0), np.zeros(2)), 1e-3)[0]
    assert not compare((np.zeros(3),), (np.zeros(4),), 1e-3)[0]
    ok, err = compare((np.array([1.0, np.inf]),), (np.array([1.0, 2.0]),), 1e-3)
    assert not ok and err == math.inf


def test_as_arrays_flattens_tuples():
    out = as_arrays((np.float32(1.0), [np.zeros(2), 3.0]))
    assert [a.shape for a in out] == [(), (2,), ()]
    torch = pytest.importorskip("torch")
    (t,) = as_arrays(torch.ones(3, requires_grad=True))
    assert isinstance(t, np.ndarray) and t.tolist() == [1.0, 1.0, 1.0]


def test_same_bits_and_check_fields():
    x = (np.array([1.0, 2.0], dtype=np.float32),)
    y = (np.array([1.0, 2.0000002], dtype=np.float32),)
    assert same_bits(x, x) and not same_bits(x, y)
    assert not same_bits(x, (x[0].astype(np.float64),))
    assert check_fastxent(x, None, 1e-3) == {"check": "anchor"}
    assert check_fastxent(x, x, 1e-3) == {"check": "same bits", "max_err": 0.0}
    assert check_fastxent(y, x, 1e-3)["check"] == "bits differ"
    assert check_peer(y, x, 1e-3)["check"] == "ok"
    assert check_peer((np.array([9.0, 2.0]),), x, 1e-3)["check"] == "MISMATCH"
    assert check_peer(x, None, 1e-3) == {"check": "no fastxent result"}
