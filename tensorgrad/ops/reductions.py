"""Reductions (sum, mean, max, norm, prod), running sums and the matrix product.

``_unreduce`` puts a reduced gradient back into the input's shape: the one
helper every reduction's backward shares.
"""

import numpy

from ..autograd import Function, ShapeError
from ..backend import get_array_module
from .elementwise import _fmt, read_for_the_other, sum_to


class MatMul(Function, trusted=True):
    """f = a @ b (1-D, 2-D or batched, as NumPy);  dL/da = g @ b^T,  dL/db = a^T @ g."""

    @property
    def saved_inputs(self):  # as torch saves them: b only for dL/da, a only for dL/db
        return read_for_the_other(self.needs_grad)

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: operands must have at least 1 dimension, got shapes "
                             f"{_fmt(a.shape)} and {_fmt(b.shape)}; use * to scale by a scalar")
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        if a.ndim == 2 and b.ndim == 2:  # the common case, with no axes to restore or sum over
            return (g @ b.T if self.needs_grad[0] else None,
                    a.T @ g if self.needs_grad[1] else None)
        # A 1-D operand acts as a row (left) or column (right) vector; its axis
        # is missing from g, so put it back before the 2-D rules apply.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if self.needs_grad[0]:
            ga = sum_to(g @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if self.needs_grad[1]:
            gb = sum_to(a2.swapaxes(-1, -2) @ g, b2.shape).reshape(b.shape)
        return ga, gb

    def explain_error(self, err, arrays, params):
        a, b = arrays
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            return ShapeError(
                f"matmul: shapes {_fmt(a.shape)} @ {_fmt(b.shape)} do not line up: the last size "
                f"of the left operand ({a.shape[-1]}) must equal the "
                f"{'size' if b.ndim == 1 else 'second-to-last size'} of the right one ({inner_b}); "
                "transpose one of them (x.T) or check which weight you meant")
        return ShapeError(f"matmul: the batch axes of shapes {_fmt(a.shape)} and {_fmt(b.shape)} "
                          "cannot be broadcast together")


def _repeat_view(g, shape):
    """numpy.broadcast_to(g, shape) for a one-element NumPy ``g``: a read-only view, no copy, built
    directly (broadcast_to's argument handling takes 2 us, more than a small op's whole backward)."""
    view = numpy.ndarray(shape, g.dtype, g, 0, (0,) * len(shape))
    view.flags.writeable = False
    return view


def _unreduce(g, in_shape, axis, keepdims):
    """Broadcast a reduction's gradient back over the axes it reduced."""
    if axis is None and type(g) is numpy.ndarray:  # all of x was reduced: g holds one number
        return _repeat_view(g, in_shape)
    xp = get_array_module(g)
    if axis is None:
        axis = tuple(range(len(in_shape)))
    if not keepdims:
        g = g.reshape([1 if i in axis else n for i, n in enumerate(in_shape)])
    return xp.broadcast_to(g, in_shape)


class Sum(Function, trusted=True):
    """f = sum of x over ``axis``;  dL/dx = g copied back over the summed axes."""

    saved_inputs = ()

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        return (_unreduce(g, self.shape, self.axis, self.keepdims),)


class Mean(Function, trusted=True):
    """f = mean of x over ``axis`` (n elements each);  dL/dx = g / n copied back."""

    saved_inputs = ()

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        out = x.mean(axis=axis, keepdims=keepdims)
        self.n = x.size // max(out.size, 1) if x.size else 1
        return out

    def backward(self, g):
        return (_unreduce(g / self.n, self.shape, self.axis, self.keepdims),)


class Max(Function, trusted=True):
    """f = max of x over ``axis``;  dL/dx = g at the maximum (shared equally among ties), else 0."""

    saved_inputs = ()  # the mask of maxima is taken at forward time
    pick = "max"

    def forward(self, x, axis, keepdims):
        if x.size == 0:
            raise ValueError(f"{self.pick} of an empty tensor is undefined")
        m = getattr(x, self.pick)(axis=axis, keepdims=True)
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        self.at_max = x == m
        return m if keepdims else m.reshape([n for i, n in enumerate(m.shape)
                                             if axis is not None and i not in axis])

    def backward(self, g):
        count = self.at_max.sum(axis=self.axis, keepdims=True).astype(g.dtype)
        share = _unreduce(g, self.shape, self.axis, self.keepdims)
        return (share * self.at_max / count,)


class Min(Max, trusted=True):
    """f = min of x over ``axis``;  dL/dx = g at the minimum (shared equally among ties), else 0."""

    pick = "min"


class Norm(Function, trusted=True):
    """f = (sum |x|^p)^(1/p) over ``axis``;  dL/dx = g * sign(x) |x|^(p-1) / f^(p-1), and 0 where f = 0."""

    saved_inputs = (0,)
    saves_output = True

    def forward(self, x, p, axis, keepdims):
        xp = get_array_module(x)
        self.x, self.p, self.axis, self.keepdims = x, p, axis, keepdims
        if p == 2:
            self.y = xp.sqrt((x * x).sum(axis=axis, keepdims=keepdims))
        else:
            self.y = (xp.abs(x) ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)
        return self.y

    def backward(self, g):
        xp = get_array_module(g)
        x, p = self.x, self.p
        y = _unreduce(self.y, x.shape, self.axis, self.keepdims)
        g = _unreduce(g, x.shape, self.axis, self.keepdims)
        zero = y == 0
        safe = xp.where(zero, 1, y)  # the norm of zeros has gradient 0 (as torch), not 0/0
        if p == 2:
            scale = x / safe
        else:
            scale = xp.sign(x) * xp.abs(x) ** (p - 1) / safe ** (p - 1)
        return (xp.where(zero, 0, g * scale),)


class Prod(Function, trusted=True):
    """f = prod of x over ``axis`` (one axis or all);  dL/dx_i = g * prod_{j != i} x_j."""

    saved_inputs = (0,)

    def forward(self, x, axis, keepdims):
        self.x, self.axis, self.keepdims = x, axis, keepdims
        return x.prod(axis=axis, keepdims=keepdims)

    def backward(self, g):
        xp = get_array_module(g)
        x, axis = self.x, self.axis
        # prod of the others = (prod of those before) * (prod of those after): no division, so zeros work
        xm = x.reshape(-1) if axis is None else xp.moveaxis(x, axis, -1)
        ones = xp.ones(xm.shape[:-1] + (1,), dtype=x.dtype)
        before = xp.concatenate([ones, xp.cumprod(xm[..., :-1], axis=-1)], axis=-1)
        after = xp.flip(xp.concatenate([ones, xp.cumprod(xp.flip(xm, -1)[..., :-1], axis=-1)], axis=-1), -1)
        others = before * after
        if axis is None:
            return ((others * g.reshape(())).reshape(x.shape),)
        gm = g if self.keepdims else xp.expand_dims(g, axis)
        return (xp.moveaxis(others * xp.moveaxis(gm, axis, -1), -1, axis),)


class Cumsum(Function, trusted=True):
    """f_i = x_0 + ... + x_i along ``axis``;  dL/dx_i = g_i + ... + g_last (a cumulative sum from the end)."""

    saved_inputs = ()

    def forward(self, x, axis):
        self.axis = axis
        return get_array_module(x).cumsum(x, axis=axis)

    def backward(self, g):
        xp = get_array_module(g)
        return (xp.flip(xp.cumsum(xp.flip(g, self.axis), axis=self.axis), self.axis),)
