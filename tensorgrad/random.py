"""Random tensors for parameter init and dropout, reproducible through ``manual_seed``.

One generator per device, all started from the same seed, so a seeded run
gives the same weights and dropout masks every time on that device.
"""

import numbers

import numpy

from . import backend
from .tensor import DEFAULT_FLOAT, Tensor, creation_shape

_seed = None
_generators = {}  # device name -> the backend's Generator


def manual_seed(seed):
    """Seed parameter init and dropout on every device (a non-negative int)."""
    global _seed
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"manual_seed needs a non-negative int, got {seed!r}")
    _seed = int(seed)
    _generators.clear()


def generator(device=None):
    """The random Generator for ``device`` (default: the default device)."""
    device = device or backend.default_device()
    if device not in _generators:
        _generators[device] = backend.module_for(device).random.default_rng(_seed)
    return _generators[device]


def _float_dtype(dtype):
    dtype = numpy.dtype(dtype or DEFAULT_FLOAT)
    if dtype not in (numpy.float32, numpy.float64):
        raise TypeError(f"random tensors are float32 or float64, not {dtype}")
    return dtype


def randn(*shape, dtype=None, device=None, requires_grad=False):
    """Samples of the standard normal N(0, 1), float32 unless dtype says otherwise."""
    data = generator(device).standard_normal(creation_shape(shape), dtype=_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad, device=device)


def rand(*shape, dtype=None, device=None, requires_grad=False):
    """Samples of the uniform distribution on [0, 1)."""
    data = generator(device).random(creation_shape(shape), dtype=_float_dtype(dtype))
    return Tensor(data, requires_grad=requires_grad, device=device)


def uniform(low, high, shape, dtype=None, device=None):
    """A raw array of samples from U(low, high): the init of Linear and the RNN layers."""
    data = generator(device).random(creation_shape((shape,)), dtype=_float_dtype(dtype))
    return data * (high - low) + low
