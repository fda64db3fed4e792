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


class device(str):  # noqa: N801  (torch's name)
    """A device, as torch.device: ``tg.device("cpu")``, ``tg.device("cuda")``; ``.type`` names it.

    It is the string "cpu" or "cuda" (a str subclass), so ``x.device == "cpu"``, dict keys and
    every ``device=`` argument accept it as they accept the plain name. Only the one CPU and the
    one GPU exist: an index other than 0 on "cuda" (``"cuda:1"``) and other device types raise.
    """

    def __new__(cls, type, index=None):  # noqa: A002  (torch's argument name)
        if isinstance(type, device) and index is None:
            return type
        name = device_name(type)
        if index not in (None, 0) or (index == 0 and name != "cuda"):
            raise ValueError(f"tg.device({type!r}, {index!r}): only 'cpu' and 'cuda' (index 0) exist")
        return _DEVICES[name]

    @property
    def type(self):
        """"cpu" or "cuda" (as torch.device.type)."""
        return str(self)

    @property
    def index(self):
        """None, as torch's device("cpu").index and device("cuda").index."""
        return None

    def __reduce__(self):  # pickles as the plain name's device
        return (device, (str(self),))


_DEVICES = {name: str.__new__(device, name) for name in ("cpu", "cuda")}
CPU, CUDA = _DEVICES["cpu"], _DEVICES["cuda"]


def device_name(dev):
    """The device ``dev`` names, as a tg.device: from "cpu", "cuda", "cuda:0", a tg.device or a
    torch.device (anything with torch's ``.type`` and ``.index``); None means the default device.
    Raises ValueError for anything else, naming the two devices that exist."""
    if dev is None:
        return default_device()
    name, index = dev, None
    if not isinstance(dev, str):
        name, index = getattr(dev, "type", None), getattr(dev, "index", None)
    elif ":" in dev:
        name, _, index = dev.partition(":")
        index = int(index) if index.isdigit() else index
    if name in _DEVICES and (index is None or (name == "cuda" and index == 0)):
        return _DEVICES[name]
    raise ValueError(f"unknown device {dev!r}; use 'cpu' or 'cuda'")


def is_device(obj):
    """True for what ``.to(obj)`` should read as a device: a name string, a tg.device or a torch.device."""
    return isinstance(obj, str) or (hasattr(obj, "type") and hasattr(obj, "index")
                                    and isinstance(obj.type, str))


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
    """The device new tensors are created on: "cpu" or "cuda" (a tg.device)."""
    return CUDA if _default == "cupy" else CPU


def set_default_device(dev):
    """Create new tensors on ``dev`` from now on ("cpu" or "cuda"), as torch.set_default_device;
    the same switch as ``set_backend("numpy" | "cupy")``."""
    set_backend("cupy" if device_name(dev) == "cuda" else "numpy")


def get_default_device():
    """The device new tensors are created on, as torch.get_default_device: a tg.device."""
    return default_device()


def module_for(dev):
    """The array module for a device ("cpu" or "cuda", a tg.device or torch.device; None: the default)."""
    if dev is None or dev == "cpu":
        dev = default_device() if dev is None else CPU
    if dev == "cpu":
        return numpy
    if dev == "cuda":
        return _load_cupy()
    return module_for(device_name(dev))  # "cuda:0", a torch.device, or a name that raises


def device_of(array):
    """device("cpu") for a NumPy array, device("cuda") for a CuPy array."""
    return CPU if isinstance(array, numpy.ndarray) else CUDA


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


def to_device(array, dev):
    """``array`` moved to ``dev`` (a no-op when it is already there)."""
    if device_of(array) == dev:
        return array
    xp = module_for(dev)
    if xp is numpy:
        return to_numpy(array)
    return xp.asarray(array)
