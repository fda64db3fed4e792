"""Shared fixtures: every backend-parametrized test runs on NumPy, and on CuPy where a GPU is usable."""

import pytest
from hypothesis import HealthCheck, settings

import tensorgrad as tg

# Reproducible property tests: the same examples on every run, no wall-clock deadline (CI is noisy).
settings.register_profile("tensorgrad", deadline=None, derandomize=True, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tensorgrad")

_gpu = pytest.mark.skipif(not tg.cuda_available(), reason="CuPy backend needs CuPy and a usable GPU")


@pytest.fixture(scope="session", params=["cpu", pytest.param("cuda", marks=_gpu)])
def device(request):
    """The device name a test should create its tensors on."""
    return request.param


@pytest.fixture(autouse=True)
def _restore_backend():
    yield
    tg.set_backend("numpy")
