"""cross_entropy: fastxent against the NumPy reference and PyTorch."""
import pytest

from bench_params import impl_params, shape_id

SHAPES = [(4096, 10), (8192, 1000), (512, 32000)]


@pytest.mark.parametrize("shape", SHAPES, ids=shape_id)
@pytest.mark.parametrize("impl,threads", impl_params("fastxent", "reference", "torch"))
def test_cross_entropy_f32(bench_case, impl, threads, shape):
    bench_case("cross_entropy", shape, impl, threads)


@pytest.mark.parametrize("impl,threads", impl_params("fastxent", "reference", "torch"))
def test_cross_entropy_f32_loss_and_grad(bench_case, impl, threads):
    bench_case("cross_entropy", (8192, 1000), impl, threads, grad=True)
