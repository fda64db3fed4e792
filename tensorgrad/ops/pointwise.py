"""Ops on one tensor, element by element (exp, tanh, relu, clamp, ...), and the copies
(clone, cast, move to a device).

A float op on integers or bools computes in float32, as torch (``floating``).
"""

import math

import numpy

from ..autograd import Function
from ..backend import device_of, get_array_module, to_device
from ..tensor import DEFAULT_FLOAT
from .elementwise import floating


class Neg(Function, trusted=True):
    """f = -x;  dL/dx = -g."""

    saved_inputs = ()

    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


class Pow(Function, trusted=True):
    """f = x ** p for a constant p;  dL/dx = g * p * x ** (p - 1)."""

    saved_inputs = (0,)

    def forward(self, x, exponent):
        self.x, self.p = x, exponent
        return x ** exponent

    def backward(self, g):
        if self.p == 0:  # x ** 0 is 1 everywhere: gradient 0, also at x = 0 (not 0 * 0 ** -1 = nan), as torch
            return (get_array_module(g).zeros_like(g),)
        return (g * self.p * self.x ** (self.p - 1),)


class Exp(Function, trusted=True):
    """f = e^x;  dL/dx = g * e^x."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x):
        self.y = get_array_module(x).exp(floating(x))
        return self.y

    def backward(self, g):
        return (g * self.y,)


class Log(Function, trusted=True):
    """f = ln x;  dL/dx = g / x."""

    saved_inputs = (0,)

    def forward(self, x):
        self.x = x = floating(x)
        return get_array_module(x).log(x)

    def backward(self, g):
        return (g / self.x,)


class Log1p(Function, trusted=True):
    """f = ln(1 + x);  dL/dx = g / (1 + x)."""

    saved_inputs = (0,)

    def forward(self, x):
        self.x = x = floating(x)
        return get_array_module(x).log1p(x)

    def backward(self, g):
        return (g / (1 + self.x),)


class Expm1(Function, trusted=True):
    """f = e^x - 1;  dL/dx = g * (f + 1)."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x):
        self.y = get_array_module(x).expm1(floating(x))
        return self.y

    def backward(self, g):
        return (g * (self.y + 1),)


class Sqrt(Function, trusted=True):
    """f = sqrt x;  dL/dx = g / (2 f)."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x):
        self.y = get_array_module(x).sqrt(floating(x))
        return self.y

    def backward(self, g):
        return (g / (2 * self.y),)


class StdSqrt(Sqrt, trusted=True):
    """std = sqrt(var): as torch, the gradient is 0 where the std is 0 (constant data), not g / 0."""

    def backward(self, g):
        xp = get_array_module(g)
        zero = self.y == 0
        return (xp.where(zero, 0, g / (2 * xp.where(zero, 1, self.y))),)


class Abs(Function, trusted=True):
    """f = |x|;  dL/dx = g * sign(x) (0 at x = 0, as torch)."""

    saved_inputs = (0,)

    def forward(self, x):
        self.x = x
        return get_array_module(x).abs(x)

    def backward(self, g):
        return (g * get_array_module(g).sign(self.x),)


class Sign(Function, trusted=True):
    """f = sign x (-1, 0 or 1);  dL/dx = 0 (f is flat wherever it has a derivative)."""

    saved_inputs = ()

    def forward(self, x):
        return get_array_module(x).sign(x)

    def backward(self, g):
        return (get_array_module(g).zeros_like(g),)


class Clamp(Function, trusted=True):
    """f = min(max(x, low), high);  dL/dx = g where low <= x <= high, else 0."""

    saved_inputs = ()

    def forward(self, x, low, high):
        xp = get_array_module(x)
        if x.dtype.kind in "biu" and any(_is_float(v) for v in (low, high)):
            x = x.astype(DEFAULT_FLOAT)  # an int tensor clamped to a float bound is float32, as torch
        inside = xp.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        self.inside = inside
        return xp.clip(x, low, high)

    def backward(self, g):
        return (g * self.inside,)


def _is_float(bound):
    return isinstance(bound, float) or getattr(bound, "dtype", numpy.dtype(bool)).kind == "f"


class Tanh(Function, trusted=True):
    """f = tanh x;  dL/dx = g * (1 - f^2)."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x):
        self.y = get_array_module(x).tanh(floating(x))
        return self.y

    def backward(self, g):
        return (g * (1 - self.y * self.y),)


def sigmoid_array(x):
    """1 / (1 + e^-x) computed without overflow: only e^-|x|, which is at most 1, is formed."""
    xp = get_array_module(x)
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + z), z / (1 + z))


class Sigmoid(Function, trusted=True):
    """f = 1 / (1 + e^-x);  dL/dx = g * f * (1 - f)."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x):
        self.y = sigmoid_array(floating(x))
        return self.y

    def backward(self, g):
        y = self.y
        return (g * y * (1 - y),)


class Relu(Function, trusted=True):
    """f = max(x, 0);  dL/dx = g where x > 0, else 0."""

    saved_inputs = ()  # the mask is taken at forward time

    def forward(self, x):
        self.positive = x > 0
        return x * self.positive

    def backward(self, g):
        return (g * self.positive,)


class Rounding(Function, trusted=True):
    """f = round / floor / ceil of x (``how``);  dL/dx = 0 (f is flat wherever it has a derivative)."""

    saved_inputs = ()

    def forward(self, x, how):
        xp = get_array_module(x)
        return {"round": xp.round, "floor": xp.floor, "ceil": xp.ceil}[how](x)

    def backward(self, g):
        return (get_array_module(g).zeros_like(g),)


def softplus_array(x):
    """log(1 + e^x) without overflow: max(x, 0) + log(1 + e^-|x|)."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class Softplus(Function, trusted=True):
    """f = log(1 + e^(beta x)) / beta (x where beta x > threshold);  dL/dx = g sigmoid(beta x) (g there)."""

    def forward(self, x, beta, threshold):
        xp = get_array_module(x)
        bx = x * x.dtype.type(beta)
        self.linear = bx > threshold
        self.slope = sigmoid_array(bx)
        return xp.where(self.linear, x, softplus_array(bx) / x.dtype.type(beta))

    def backward(self, g):
        return (g * get_array_module(g).where(self.linear, 1, self.slope).astype(g.dtype),)


_erf_scalar = numpy.frompyfunc(math.erf, 1, 1)


def erf_array(x):
    """The error function elementwise, to the float's precision (NumPy has none of its own)."""
    xp = get_array_module(x)
    if xp is numpy:
        return _erf_scalar(x).astype(x.dtype)  # math.erf element by element: exact, not fast
    from cupyx.scipy.special import erf
    return erf(x)


class Gelu(Function, trusted=True):
    """f = x Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2;  dL/dx = g (Phi(x) + x phi(x)).

    phi(x) = e^(-x^2 / 2) / sqrt(2 pi) is the standard normal density.
    """

    def forward(self, x):
        self.x = x
        self.cdf = (1 + erf_array(x * x.dtype.type(1 / math.sqrt(2)))) / 2
        return x * self.cdf

    def backward(self, g):
        xp = get_array_module(g)
        x = self.x
        pdf = xp.exp(-x * x / 2) * x.dtype.type(1 / math.sqrt(2 * math.pi))
        return (g * (self.cdf + x * pdf),)


class Cast(Function, trusted=True):
    """f = x converted to another dtype;  dL/dx = g converted back."""

    saved_inputs = ()

    def forward(self, x, dtype):
        self.source = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return (g.astype(self.source),)


class ToDevice(Function, trusted=True):
    """f = x copied to another device;  dL/dx = g copied back."""

    saved_inputs = ()

    def forward(self, x, device):
        self.source = device_of(x)
        return to_device(x, device)

    def backward(self, g):
        return (to_device(g, self.source),)


class Clone(Function, trusted=True):
    """f = a copy of x;  dL/dx = g."""

    saved_inputs = ()

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return (g,)
