"""binary_cross_entropy_with_logits and binary_cross_entropy over 1e7 elements."""
import pytest

from bench_params import impl_params

SHAPE = (10000, 1000)


@pytest.mark.parametrize("impl,threads", impl_params("fastxent", "reference", "torch"))
def test_binary_cross_entropy_with_logits_f32(bench_case, impl, threads):
    bench_case("binary_cross_entropy_with_logits", SHAPE, impl, threads)


@pytest.mark.parametrize("impl,threads", impl_params("fastxent", "reference", "torch"))
def test_binary_cross_entropy_f32(bench_case, impl, threads):
    bench_case("binary_cross_entropy", SHAPE, impl, threads)
