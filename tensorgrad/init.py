"""Weight initialisation in place, as torch.nn.init (importable as ``tensorgrad.nn.init``).

Each function fills a tensor's memory with new values, outside any graph (as
torch's run under no_grad), bumps its version (a graph that saved it refuses a
later backward) and returns the tensor. Random draws come from the generator
``tg.manual_seed`` seeds, on the tensor's device; they are not torch's stream.

    for name, p in lstm.named_parameters():
        if name.startswith("weight_hh"):
            tg.nn.init.orthogonal_(p)
"""

import math

import numpy

from . import backend
from .random import generator
from .tensor import Tensor

_GAINS = {"linear": 1.0, "identity": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "sigmoid": 1.0,
          "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4}


def calculate_gain(nonlinearity, param=None):
    """The gain torch recommends for ``nonlinearity``: tanh 5/3, relu sqrt 2, leaky_relu
    sqrt(2 / (1 + slope^2)) (slope ``param``, default 0.01), selu 3/4, linear and sigmoid 1."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        if isinstance(slope, bool) or not isinstance(slope, (int, float)):
            raise ValueError(f"calculate_gain: negative_slope {slope!r} is not a number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; one of "
                         f"{', '.join(sorted([*_GAINS, 'leaky_relu']))}")
    return _GAINS[nonlinearity]


def _fans(t, name):
    if t.ndim < 2:
        raise ValueError(f"{name}: fan in and fan out need a tensor with at least 2 dims, got shape "
                         f"{t.shape}")
    receptive = math.prod(t.shape[2:])
    return t.shape[1] * receptive, t.shape[0] * receptive


def _fill(t, values, name):
    """Write ``values`` (an array of t's shape, or a number) into t's memory; bump its version; return t."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expects a Tensor (a Parameter), got {type(t).__name__}")
    t.array[...] = values
    t._bump_version()
    return t


def _draws(t, name, how):
    """Float64 draws of t's shape from the seeded generator of t's device: U[0, 1) or N(0, 1)."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expects a Tensor (a Parameter), got {type(t).__name__}")
    if t.dtype.kind != "f":
        raise TypeError(f"{name}: fills float tensors with random values, got {t.dtype}")
    rng = generator(t.device)
    return rng.random(t.shape) if how == "uniform" else rng.standard_normal(t.shape)


def _uniform(t, low, high, name):
    return _fill(t, (_draws(t, name, "uniform") * (high - low) + low).astype(t.dtype), name)


def _normal(t, mean, std, name):
    return _fill(t, (_draws(t, name, "normal") * std + mean).astype(t.dtype), name)


def uniform_(tensor, a=0.0, b=1.0):
    """Values from U(a, b)."""
    return _uniform(tensor, a, b, "uniform_")


def normal_(tensor, mean=0.0, std=1.0):
    """Values from N(mean, std^2)."""
    return _normal(tensor, mean, std, "normal_")


def constant_(tensor, val):
    """Every element ``val``."""
    return _fill(tensor, val, "constant_")


def zeros_(tensor):
    return _fill(tensor, 0, "zeros_")


def ones_(tensor):
    return _fill(tensor, 1, "ones_")


def eye_(tensor):
    """The identity matrix (a 2-D tensor; rectangular ones get ones on the diagonal)."""
    if tensor.ndim != 2:
        raise ValueError(f"eye_: expects a 2-D tensor, got shape {tensor.shape}")
    xp = backend.get_array_module(tensor.array)
    return _fill(tensor, xp.eye(*tensor.shape, dtype=tensor.dtype), "eye_")


def xavier_uniform_(tensor, gain=1.0):
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot and Bengio, 2010)."""
    fan_in, fan_out = _fans(tensor, "xavier_uniform_")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return _uniform(tensor, -bound, bound, "xavier_uniform_")


def xavier_normal_(tensor, gain=1.0):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor, "xavier_normal_")
    return _normal(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), "xavier_normal_")


def _kaiming_std(tensor, a, mode, nonlinearity, name):
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{name}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = _fans(tensor, name)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan_in if mode == "fan_in" else fan_out)


def kaiming_uniform_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """U(-b, b) with b = sqrt(3) * gain / sqrt(fan) (He et al., 2015)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return _uniform(tensor, -bound, bound, "kaiming_uniform_")


def kaiming_normal_(tensor, a=0, mode="fan_in", nonlinearity="leaky_relu"):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return _normal(tensor, 0.0, std, "kaiming_normal_")


def orthogonal_(tensor, gain=1.0):
    """A (semi-)orthogonal matrix times ``gain``, as torch: the Q of a Gaussian matrix's QR, signs fixed by
    R's diagonal (Saxe et al., 2013). Dims after the first are flattened. The usual init of W_hh."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs a tensor with at least 2 dims, got shape {tensor.shape}")
    rows, cols = tensor.shape[0], math.prod(tensor.shape[1:])
    flat = backend.to_numpy(_draws(tensor, "orthogonal_", "normal")).reshape(rows, cols)
    if rows < cols:
        flat = flat.T
    q, r = numpy.linalg.qr(flat)  # on the host: an init runs once
    q = q * numpy.sign(numpy.diagonal(r))
    if rows < cols:
        q = q.T
    values = (gain * q).reshape(tensor.shape).astype(tensor.dtype)
    return _fill(tensor, backend.to_device(values, tensor.device), "orthogonal_")
