"""Creation functions, as torch's: tensor, zeros, ones, full, arange, linspace, eye and the *_like forms.

Python ints make int64 tensors, floats float32, bools bool; ``device`` is "cpu" or
"cuda" (default: the device set by ``tg.set_backend``).
"""

import numbers

import numpy

from . import backend
from .tensor import DEFAULT_FLOAT, Tensor
from .tensor_args import shape_args


def tensor(data, requires_grad=False, dtype=None, device=None):
    """A new leaf tensor holding a copy of ``data`` (as torch.tensor: in-place ops on it never
    change the array it came from). Arrays keep their dtype; Python ints become int64, floats
    float32, bools bool.

    device: "cpu" or "cuda" (default: arrays stay where they are, other data
    goes to the default device set by ``set_backend``).
    """
    if isinstance(data, Tensor):
        data = data.array
    if isinstance(data, numpy.ndarray) or backend.is_gpu_array(data):
        data = data.copy()
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def as_tensor(data, dtype=None, device=None):
    """A tensor sharing memory with the array ``data`` where it can (same dtype and device), else a copy."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return Tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A tensor sharing memory with the NumPy array: writes to one show in the other."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy expects a NumPy array, got {type(array).__name__}")
    return Tensor(array, device="cpu")


def creation_shape(shape):
    """``zeros(2, 3)`` and ``zeros((2, 3))`` alike: the shape as a tuple of non-negative ints."""
    shape = shape_args(shape)
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in shape):
        raise ValueError(f"a shape is non-negative ints, got {shape}")
    return tuple(int(n) for n in shape)


def zeros(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of zeros, float32 unless dtype says otherwise."""
    xp = backend.module_for(device)
    return Tensor(xp.zeros(creation_shape(shape), dtype=dtype or DEFAULT_FLOAT),
                  requires_grad=requires_grad, device=device)


def ones(*shape, dtype=None, device=None, requires_grad=False):
    """A tensor of ones, float32 unless dtype says otherwise."""
    xp = backend.module_for(device)
    return Tensor(xp.ones(creation_shape(shape), dtype=dtype or DEFAULT_FLOAT),
                  requires_grad=requires_grad, device=device)


def _fill_dtype(value):
    """torch's dtype for a Python fill value: bool, int64 or float32."""
    if isinstance(value, (bool, numpy.bool_)):
        return numpy.bool_
    return numpy.int64 if isinstance(value, numbers.Integral) else DEFAULT_FLOAT


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype from the value, as in torch)."""
    xp = backend.module_for(device)
    data = xp.full(creation_shape((size,)), fill_value, dtype=dtype or _fill_dtype(fill_value))
    return Tensor(data, requires_grad=requires_grad, device=device)


def zeros_like(t, dtype=None, device=None, requires_grad=False):
    """Zeros with ``t``'s shape, dtype and device (unless given)."""
    return full_like(t, 0, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(t, dtype=None, device=None, requires_grad=False):
    """Ones with ``t``'s shape, dtype and device (unless given)."""
    return full_like(t, 1, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, device=None, requires_grad=False):
    """``fill_value`` everywhere, with ``t``'s shape, dtype and device (unless given)."""
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """start, start + step, ... up to but excluding end: int64 for int arguments, else float32."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = numpy.int64 if ints else DEFAULT_FLOAT
    xp = backend.module_for(device)
    return Tensor(xp.arange(start, end, step).astype(dtype), requires_grad=requires_grad, device=device)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from start to end inclusive, float32 unless dtype says otherwise."""
    xp = backend.module_for(device)
    return Tensor(xp.linspace(start, end, steps).astype(dtype or DEFAULT_FLOAT),
                  requires_grad=requires_grad, device=device)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """The n x m identity matrix (m defaults to n), float32 unless dtype says otherwise."""
    xp = backend.module_for(device)
    return Tensor(xp.eye(n, m, dtype=dtype or DEFAULT_FLOAT), requires_grad=requires_grad, device=device)
