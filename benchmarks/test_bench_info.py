"""entropy, kl_divergence and log_loss."""
import pytest

from bench_params import impl_params

IMPLS = impl_params("fastxent", "reference", "torch", "scipy")


@pytest.mark.parametrize("impl,threads", IMPLS)
def test_entropy_f32(bench_case, impl, threads):
    bench_case("entropy", (8192, 1000), impl, threads)


@pytest.mark.parametrize("impl,threads", IMPLS)
def test_kl_divergence_f32(bench_case, impl, threads):
    bench_case("kl_divergence", (8192, 1000), impl, threads)


@pytest.mark.parametrize("impl,threads", impl_params("fastxent", "reference", "sklearn"))
def test_log_loss_f64(bench_case, impl, threads):
    bench_case("log_loss", (100000, 10), impl, threads)
