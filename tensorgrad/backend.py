"""Array backends: NumPy on the CPU, CuPy on an NVIDIA GPU.

Every op finds its array module from its inputs (``xp = get_array_module(x)``),
so one code path serves both devices. The global default set by
``set_backend`` only decides where *new* tensors are created.

CuPy is optional: it is imported the first time a GPU is asked for, never
when tensorgrad is imported.
"""

import numpy

# The GPU's array module: cupy, once a GPU has been asked for and found usable, or
# tensorgrad.testing's simulated GPU while its simulated_device() block runs.
_cupy = None
_default = "numpy"

BACKENDS = ("numpy", "cupy")
DEVICES = ("cpu", "cuda")


class DeviceError(RuntimeError):
    """A GPU was asked for but cannot be used, or tensors on different devices were mixed."""


def _load_cupy():
    """Import CuPy and check that a GPU answers; raise one clear error if not."""
    global _cupy
    if _cupy is not None:
        return _cupy
    hint = ("use device='cpu' (the default), or install the GPU extra "
            "(pip install 'tensorgrad-rnn[gpu]') on a machine with an NVIDIA GPU")
    try:
        import cupy
    except ImportError as err:
        raise DeviceError(f"device 'cuda' needs CuPy, which is not installed ({err}); {hint}") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as err:  # CuPy raises its own CUDARuntimeError subclasses here
        raise DeviceError(f"device 'cuda': CuPy is installed but no usable GPU was found ({err}); "
                          f"{hint}") from None
    if count == 0:
        raise DeviceError(f"device 'cuda': CuPy found no GPU; {hint}")
    _cupy = cupy
    return cupy


def cuda_available():
    """True when CuPy is installed and can see at least one GPU."""
    try:
        _load_cupy()
    except DeviceError:
        return False
    return True


def set_backend(name):
    """Choose where new tensors are created: "numpy" (CPU) or "cupy" (GPU)."""
    global _default
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
    if name == "cupy":
        _load_cupy()
    _default = name


def get_backend():
    """The backend new tensors are created on: "numpy" or "cupy"."""
    return _default


def default_device():
    """The device new tensors are created on: "cpu" or "cuda"."""
    return "cuda" if _default == "cupy" else "cpu"


def module_for(device):
    """The array module for a device name ("cpu" or "cuda"; None means the default)."""
    if device is None:
        device = default_device()
    if device == "cpu":
        return numpy
    if device == "cuda":
        return _load_cupy()
    raise ValueError(f"unknown device {device!r}; use 'cpu' or 'cuda'")


def device_of(array):
    """'cpu' for a NumPy array, 'cuda' for a CuPy array."""
    return "cpu" if isinstance(array, numpy.ndarray) else "cuda"


def get_array_module(*arrays):
    """numpy or cupy: the module that holds ``arrays`` (they must all be on one device)."""
    if _cupy is None:  # no GPU was ever asked for, so every array is a NumPy array
        return numpy
    return _cupy.get_array_module(*arrays)


def to_numpy(array):
    """A NumPy array with the contents of ``array`` (copied off the GPU if needed)."""
    if isinstance(array, numpy.ndarray):
        return array
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy.asnumpy(array)
    return numpy.asarray(array)


def is_gpu_array(obj):
    """True for a CuPy array (or a simulated one), without importing CuPy when it is not loaded."""
    module = type(obj).__module__ or ""
    return module.startswith("cupy") or isinstance(obj, getattr(_cupy, "ndarray", ()))


def to_device(array, device):
    """``array`` moved to ``device`` (a no-op when it is already there)."""
    if device_of(array) == device:
        return array
    xp = module_for(device)
    if xp is numpy:
        return to_numpy(array)
    return xp.asarray(array)
