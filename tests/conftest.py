"""Shared fixtures of the fastxent test suite.

* ``isa``: every test that takes it runs once per ISA variant this CPU can
  execute (baseline/SSE2, avx2, avx512), switched in-process with
  ``set_isa`` of the package's config module (imported in tests/_helpers.py)
  and restored afterwards.
* ``torch``, ``special`` (scipy.special), ``sk_log_loss``
  (sklearn.metrics.log_loss): the peer library, or a clean skip when it is
  not installed.
* ``rng``: a NumPy Generator seeded from the test's id, so every test gets
  its own reproducible stream.

The package is imported lazily enough that ``tests/test_reference.py`` (which
loads the reference from its directory) still runs when the extension is broken.
Shared helpers (comparisons, layouts, the private names) live in
``tests/_helpers.py``.
"""
import zlib

import numpy as np
import pytest

from _helpers import IMPORT_ERROR as _IMPORT_ERROR, fx_config as _fx_config

ISA_LEVELS = tuple(_fx_config.supported_isa_levels()) if _fx_config else ("unavailable",)


@pytest.fixture(params=ISA_LEVELS)
def isa(request):
    """Run the test under one ISA level; restore the level in use afterwards."""
    if _fx_config is None:
        pytest.fail(f"fastxent cannot be imported: {_IMPORT_ERROR}")
    before = _fx_config.ISA
    now = _fx_config.set_isa(request.param)
    assert now == request.param, f"set_isa({request.param!r}) gave {now!r}"
    try:
        yield now
    finally:
        _fx_config.set_isa(before)


@pytest.fixture(scope="session")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture(scope="session")
def special():
    return pytest.importorskip("scipy.special")


@pytest.fixture(scope="session")
def sk_log_loss():
    return pytest.importorskip("sklearn.metrics").log_loss


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
