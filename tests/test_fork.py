"""Kernels called in a child forked after the parent ran threaded kernels.

GNU libgomp hangs there; fastxent detects the fork and runs serially in the
child. Each child runs with a deadline so a regression fails instead of
hanging the suite.
"""
import multiprocessing as mp
import os
import sys

import numpy as np
import pytest

import fastxent
from _helpers import fx_config
from fastxent import reference

pytestmark = pytest.mark.skipif(
    not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork()")


def _child(conn, x, y):
    try:
        loss = fastxent.cross_entropy(x, y, num_threads=2)
        grad = fastxent.cross_entropy(x, y, reduction="sum", return_grad=True, num_threads=2)[1]
        bce = fastxent.binary_cross_entropy_with_logits(x, (x > 0).astype(x.dtype), num_threads=2)
        conn.send((loss, grad, bce, fx_config.config()["serial_after_fork"],
                   fastxent.get_num_threads()))
    finally:
        conn.close()


def test_forked_child_after_threaded_parent_finishes_and_is_correct():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2048, 500))  # 1M elements: threaded in the parent
    y = rng.integers(0, 500, 2048)
    parent_loss = fastxent.cross_entropy(x, y, num_threads=2)
    parent_grad = fastxent.cross_entropy(x, y, reduction="sum", return_grad=True, num_threads=2)[1]
    parent_bce = fastxent.binary_cross_entropy_with_logits(x, (x > 0).astype(x.dtype), num_threads=2)

    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, x, y))
    proc.start()
    send.close()
    ready = recv.poll(60)
    if not ready:
        proc.kill()
        proc.join()
        pytest.fail("the forked child did not finish within 60 s (OpenMP hang after fork)")
    loss, grad, bce, serial, nthreads = recv.recv()
    proc.join(10)
    assert proc.exitcode == 0
    # serial in the child, and bitwise the same as the threaded parent
    assert serial is True
    assert nthreads == 1
    assert loss == parent_loss
    np.testing.assert_array_equal(grad, parent_grad)
    assert bce == parent_bce
    np.testing.assert_allclose(loss, reference.cross_entropy(x, y), rtol=1e-11)
