"""Backends: NumPy by default, CuPy only when asked for and usable, never mixed silently."""

import subprocess
import sys

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import backend


@pytest.fixture
def no_cupy(monkeypatch):
    """Pretend CuPy is not installed (whatever this machine has)."""
    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError


def test_importing_tensorgrad_does_not_import_cupy():
    code = "import sys, tensorgrad as tg; tg.tensor([1.0]) + 1; print('cupy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_default_backend_is_numpy_on_the_cpu():
    assert tg.get_backend() == "numpy" and tg.default_device() == "cpu"
    assert tg.tensor([1.0]).device == "cpu"


def test_asking_for_cuda_without_a_gpu_gives_one_clear_error(no_cupy):
    assert not tg.cuda_available()
    for attempt in (lambda: tg.set_backend("cupy"), lambda: tg.tensor([1.0], device="cuda"),
                    lambda: tg.tensor([1.0]).to("cuda"), lambda: tg.zeros(2, device="cuda")):
        with pytest.raises(tg.DeviceError, match="device 'cuda' needs CuPy.*device='cpu'"):
            attempt()
    assert tg.get_backend() == "numpy"


def test_cupy_without_a_working_gpu_is_reported(monkeypatch):
    class BrokenRuntime:
        @staticmethod
        def getDeviceCount():
            raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    class FakeCupy:
        class cuda:
            runtime = BrokenRuntime

    monkeypatch.setattr(backend, "_cupy", None)
    monkeypatch.setitem(sys.modules, "cupy", FakeCupy)
    with pytest.raises(tg.DeviceError, match="no usable GPU.*no CUDA-capable device"):
        tg.set_backend("cupy")


def test_unknown_backend_and_device_names_are_rejected():
    with pytest.raises(ValueError, match="unknown backend 'torch'"):
        tg.set_backend("torch")
    with pytest.raises(ValueError, match="unknown device 'gpu'"):
        tg.tensor([1.0], device="gpu")


class _FakeGpuArray:
    """Stands in for a CuPy array so the mixed-device check can be tested on any machine."""

    shape, ndim, dtype = (2,), 1, np.dtype(np.float32)


def test_mixing_devices_in_one_op_names_both(monkeypatch):
    monkeypatch.setattr(backend, "_cupy", object())  # as if a GPU had been used
    cpu = tg.tensor([1.0, 2.0])
    gpu = tg.Tensor._from_op(_FakeGpuArray(), None, 0)
    with pytest.raises(tg.DeviceError, match="Add: tensors on different devices.*'cpu'.*'cuda'.*\\.to"):
        cpu + gpu


@pytest.mark.skipif(not tg.cuda_available(), reason="needs CuPy and a usable GPU")
def test_real_gpu_round_trip_keeps_values_and_gradients():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cuda")
    assert y.device == "cuda"
    (y * y).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    with pytest.raises(tg.DeviceError, match="different devices"):
        x + y
    tg.set_backend("cupy")
    assert tg.zeros(2).device == "cuda" and tg.default_device() == "cuda"


def test_to_same_device_is_a_no_op(device):
    x = tg.tensor([1.0], device=device)
    assert x.to(device) is x
