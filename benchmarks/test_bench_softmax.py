"""log_softmax, softmax and logsumexp along the last axis."""
import pytest

from bench_params import impl_params, shape_id

SHAPES = [(8192, 1000), (512, 32000)]
IMPLS = impl_params("fastxent", "reference", "torch", "scipy")


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("impl,threads", IMPLS)
@pytest.mark.parametrize("func", ["log_softmax", "softmax", "logsumexp"])
def test_rowwise_f32(bench_case, func, impl, threads, shape):
    bench_case(func, shape, impl, threads)
