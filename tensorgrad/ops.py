"""The primitive ops. Each is one Function: forward on raw arrays beside its backward.

Notation in the docstrings: g is the gradient arriving at the output,
dL/dx what backward returns for input x. Broadcasting is undone in one place,
``sum_to``, never per op.
"""

import math

import numpy

from .autograd import Function, IndexedGrad, ShapeError
from .backend import device_of, get_array_module, to_device
from .tensor import DEFAULT_FLOAT


def sum_to(grad, shape):
    """Sum ``grad`` over the axes broadcasting added or stretched, giving ``shape``.

    If y = broadcast(x) then dL/dx = sum_to(dL/dy, x.shape): every copy of an
    element that broadcasting made sends its gradient back to that element.
    """
    if grad.shape == shape:  # the common case, checked before any work
        return grad
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


# ----------------------------------------------------- torch's type promotion
#
# NumPy and torch agree on the result dtype of most mixed operations, but not on
# two rules, and a student who typed torch would silently get float64 arrays:
# - a higher kind wins whole: int64 with float32 is float32 (NumPy: float64), and
#   a float op on integers (exp, sqrt, tanh, true division) gives float32;
# - a 0-d tensor decides the dtype only when it is of a higher kind than every
#   tensor with dimensions: float32 plus a float64 scalar tensor is float32.
# Python numbers are made into 0-d arrays of the right dtype by tensor.lift().

_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promote_two(a, b):
    ra, rb = _KIND_RANK[a.kind], _KIND_RANK[b.kind]
    if ra != rb:
        return a if ra > rb else b
    return numpy.promote_types(a, b)  # same kind: the wider one, as torch


def _promote_all(dtypes):
    result = dtypes[0]
    for d in dtypes[1:]:
        result = _promote_two(result, d)
    return result


def result_type(*arrays):
    """The dtype torch gives an elementwise op on these arrays (see the rules above)."""
    with_dims = [a.dtype for a in arrays if a.ndim]
    zero_dim = [a.dtype for a in arrays if not a.ndim]
    if not with_dims or not zero_dim:
        return _promote_all(with_dims or zero_dim)
    result, scalars = _promote_all(with_dims), _promote_all(zero_dim)
    return _promote_two(result, scalars) if _KIND_RANK[scalars.kind] > _KIND_RANK[result.kind] else result


def same_dtype(*arrays):
    """The arrays cast to their torch result dtype (no copy for those already of it)."""
    dtype = result_type(*arrays)
    return tuple(a if a.dtype == dtype else a.astype(dtype) for a in arrays)


def floating(x):
    """``x`` itself if it holds floats, else ``x`` as float32: a float op's input, as torch."""
    return x if x.dtype.kind in "fc" else x.astype(DEFAULT_FLOAT)


def _fmt(shape):
    return str(tuple(int(n) for n in shape))


class _Elementwise(Function):
    """Shared error message for the ops that broadcast two operands."""

    def explain_error(self, err, arrays, params):
        a, b = (_fmt(x.shape) for x in arrays[:2])
        return ShapeError(
            f"{type(self).__name__.lower()}: shapes {a} and {b} cannot be broadcast together. "
            "Compared from the last axis, each pair of sizes must be equal or one of them 1; "
            "reshape one operand (e.g. x.reshape(...) to add a size-1 axis) so they line up")


class Add(_Elementwise):
    """f = a + b;  dL/da = g,  dL/db = g."""

    saved_inputs = ()

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        if a.dtype is not b.dtype:
            a, b = same_dtype(a, b)
        return a + b

    def backward(self, g):
        sa, sb = self.shapes
        return (sum_to(g, sa) if self.needs_grad[0] else None,
                sum_to(g, sb) if self.needs_grad[1] else None)


class Sub(_Elementwise):
    """f = a - b;  dL/da = g,  dL/db = -g."""

    saved_inputs = ()

    def forward(self, a, b):
        self.shapes = a.shape, b.shape
        if a.dtype is not b.dtype:
            a, b = same_dtype(a, b)
        return a - b

    def backward(self, g):
        sa, sb = self.shapes
        return (sum_to(g, sa) if self.needs_grad[0] else None,
                sum_to(-g, sb) if self.needs_grad[1] else None)


class Mul(_Elementwise):
    """f = a * b;  dL/da = g * b,  dL/db = g * a."""

    saved_inputs = (0, 1)

    def forward(self, a, b):
        if a.dtype is not b.dtype:
            a, b = same_dtype(a, b)
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        a, b = self.a, self.b
        return (sum_to(g * b, a.shape) if self.needs_grad[0] else None,
                sum_to(g * a, b.shape) if self.needs_grad[1] else None)


class Div(_Elementwise):
    """f = a / b;  dL/da = g / b,  dL/db = -g * a / b^2."""

    saved_inputs = (0, 1)

    def forward(self, a, b):
        if a.dtype is not b.dtype:
            a, b = same_dtype(a, b)
        if a.dtype.kind not in "fc":  # int / int is float32, as torch (a and b share a dtype now)
            a, b = floating(a), floating(b)
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        a, b = self.a, self.b
        g_over_b = g / b
        return (sum_to(g_over_b, a.shape) if self.needs_grad[0] else None,
                sum_to(-g_over_b * a / b, b.shape) if self.needs_grad[1] else None)


def _refuse_integer_zero(b, op):
    """Integer // and % by zero raise, as in torch (NumPy would return 0 with a warning)."""
    if b.dtype.kind in "iub" and (b == 0).any():
        raise RuntimeError(f"ZeroDivisionError: integer {op} by zero (torch raises too); divide by "
                           "non-zero values, or use floats, where x // 0 gives inf")


class FloorDivide(_Elementwise):
    """f = floor(a / b) (Python's //);  no derivative: backward raises, as torch's does."""

    saved_inputs = ()

    def forward(self, a, b):
        if a.dtype is not b.dtype:
            a, b = same_dtype(a, b)
        _refuse_integer_zero(b, "//")
        return get_array_module(a, b).floor_divide(a, b)

    def backward(self, g):
        raise RuntimeError("// (floor division) has no derivative (as in torch); compute it on detached "
                           "tensors (a.detach() // b), or use / where a gradient must flow")


class Remainder(_Elementwise):
    """f = a - b * floor(a / b) (Python's %, the sign of b);  dL/da = g,  dL/db = -g * floor(a / b)."""

    saved_inputs = (0, 1)

    def forward(self, a, b):
        if a.dtype is not b.dtype:
            a, b = same_dtype(a, b)
        _refuse_integer_zero(b, "%")
        self.a, self.b = a, b
        return get_array_module(a, b).remainder(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        return (sum_to(g, a.shape) if self.needs_grad[0] else None,
                sum_to(-g * get_array_module(g).floor_divide(a, b), b.shape) if self.needs_grad[1] else None)


class Cumsum(Function):
    """f_i = x_0 + ... + x_i along ``axis``;  dL/dx_i = g_i + ... + g_last (a cumulative sum from the end)."""

    saved_inputs = ()

    def forward(self, x, axis):
        self.axis = axis
        return get_array_module(x).cumsum(x, axis=axis)

    def backward(self, g):
        xp = get_array_module(g)
        return (xp.flip(xp.cumsum(xp.flip(g, self.axis), axis=self.axis), self.axis),)


class Rounding(Function):
    """f = round / floor / ceil of x (``how``);  dL/dx = 0 (f is flat wherever it has a derivative)."""

    saved_inputs = ()

    def forward(self, x, how):
        xp = get_array_module(x)
        return {"round": xp.round, "floor": xp.floor, "ceil": xp.ceil}[how](x)

    def backward(self, g):
        return (get_array_module(g).zeros_like(g),)


class Neg(Function):
    """f = -x;  dL/dx = -g."""

    saved_inputs = ()

    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


class Pow(Function):
    """f = x ** p for a constant p;  dL/dx = g * p * x ** (p - 1)."""

    saved_inputs = (0,)

    def forward(self, x, exponent):
        self.x, self.p = x, exponent
        return x ** exponent

    def backward(self, g):
        if self.p == 0:  # x ** 0 is 1 everywhere: gradient 0, also at x = 0 (not 0 * 0 ** -1 = nan), as torch
            return (get_array_module(g).zeros_like(g),)
        return (g * self.p * self.x ** (self.p - 1),)


class PowTensor(_Elementwise):
    """f = a ** b;  dL/da = g * b * a ** (b - 1),  dL/db = g * f * ln a (0 where a = 0)."""

    saved_inputs = (0, 1)
    saves_output = True

    def forward(self, a, b):
        if a.dtype is not b.dtype:
            a, b = same_dtype(a, b)
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, g):
        xp = get_array_module(g)
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_grad[0]:  # 0 where b = 0, also at a = 0 (as torch), not 0 * 0 ** -1 = nan
            ga = sum_to(g * b * a ** (xp.where(b == 0, 1, b) - 1), a.shape)
        if self.needs_grad[1]:
            at_zero = a == 0
            gb = sum_to(xp.where(at_zero, 0, g * self.y * xp.log(xp.where(at_zero, 1, a))), b.shape)
        return ga, gb


class Exp(Function):
    """f = e^x;  dL/dx = g * e^x."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x):
        self.y = get_array_module(x).exp(floating(x))
        return self.y

    def backward(self, g):
        return (g * self.y,)


class Log(Function):
    """f = ln x;  dL/dx = g / x."""

    saved_inputs = (0,)

    def forward(self, x):
        self.x = x = floating(x)
        return get_array_module(x).log(x)

    def backward(self, g):
        return (g / self.x,)


class Log1p(Function):
    """f = ln(1 + x);  dL/dx = g / (1 + x)."""

    saved_inputs = (0,)

    def forward(self, x):
        self.x = x = floating(x)
        return get_array_module(x).log1p(x)

    def backward(self, g):
        return (g / (1 + self.x),)


class Expm1(Function):
    """f = e^x - 1;  dL/dx = g * (f + 1)."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x):
        self.y = get_array_module(x).expm1(floating(x))
        return self.y

    def backward(self, g):
        return (g * (self.y + 1),)


class Sqrt(Function):
    """f = sqrt x;  dL/dx = g / (2 f)."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x):
        self.y = get_array_module(x).sqrt(floating(x))
        return self.y

    def backward(self, g):
        return (g / (2 * self.y),)


class StdSqrt(Sqrt):
    """std = sqrt(var): as torch, the gradient is 0 where the std is 0 (constant data), not g / 0."""

    def backward(self, g):
        xp = get_array_module(g)
        zero = self.y == 0
        return (xp.where(zero, 0, g / (2 * xp.where(zero, 1, self.y))),)


class Abs(Function):
    """f = |x|;  dL/dx = g * sign(x) (0 at x = 0, as torch)."""

    saved_inputs = (0,)

    def forward(self, x):
        self.x = x
        return get_array_module(x).abs(x)

    def backward(self, g):
        return (g * get_array_module(g).sign(self.x),)


class Sign(Function):
    """f = sign x (-1, 0 or 1);  dL/dx = 0 (f is flat wherever it has a derivative)."""

    saved_inputs = ()

    def forward(self, x):
        return get_array_module(x).sign(x)

    def backward(self, g):
        return (get_array_module(g).zeros_like(g),)


class Clamp(Function):
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


class Maximum(_Elementwise):
    """f = max(a, b) elementwise;  dL/da = g where a > b (g/2 at ties), dL/db likewise."""

    saved_inputs = ()
    pick = "maximum"

    def forward(self, a, b):
        xp = get_array_module(a, b)
        if a.dtype is not b.dtype:
            a, b = same_dtype(a, b)
        out = getattr(xp, self.pick)(a, b)
        self.shapes = a.shape, b.shape
        wins = a > b if self.pick == "maximum" else a < b
        self.share_a = wins + 0.5 * (a == b)  # a's share of g: 1, 1/2 at a tie, else 0
        return out

    def backward(self, g):
        sa, sb = self.shapes
        share = self.share_a.astype(g.dtype)
        return (sum_to(g * share, sa) if self.needs_grad[0] else None,
                sum_to(g * (1 - share), sb) if self.needs_grad[1] else None)


class Minimum(Maximum):
    """f = min(a, b) elementwise;  dL/da = g where a < b (g/2 at ties), dL/db likewise."""

    pick = "minimum"


class Tanh(Function):
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


class Sigmoid(Function):
    """f = 1 / (1 + e^-x);  dL/dx = g * f * (1 - f)."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x):
        self.y = sigmoid_array(floating(x))
        return self.y

    def backward(self, g):
        y = self.y
        return (g * y * (1 - y),)


class Relu(Function):
    """f = max(x, 0);  dL/dx = g where x > 0, else 0."""

    saved_inputs = ()  # the mask is taken at forward time

    def forward(self, x):
        self.positive = x > 0
        return x * self.positive

    def backward(self, g):
        return (g * self.positive,)


class MatMul(Function):
    """f = a @ b (1-D, 2-D or batched, as NumPy);  dL/da = g @ b^T,  dL/db = a^T @ g."""

    saved_inputs = (0, 1)

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


def _unreduce(g, in_shape, axis, keepdims):
    """Broadcast a reduction's gradient back over the axes it reduced."""
    xp = get_array_module(g)
    if axis is None:
        axis = tuple(range(len(in_shape)))
    if not keepdims:
        g = g.reshape([1 if i in axis else n for i, n in enumerate(in_shape)])
    return xp.broadcast_to(g, in_shape)


class Sum(Function):
    """f = sum of x over ``axis``;  dL/dx = g copied back over the summed axes."""

    saved_inputs = ()

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, g):
        return (_unreduce(g, self.shape, self.axis, self.keepdims),)


class Mean(Function):
    """f = mean of x over ``axis`` (n elements each);  dL/dx = g / n copied back."""

    saved_inputs = ()

    def forward(self, x, axis, keepdims):
        self.shape, self.axis, self.keepdims = x.shape, axis, keepdims
        out = x.mean(axis=axis, keepdims=keepdims)
        self.n = x.size // max(out.size, 1) if x.size else 1
        return out

    def backward(self, g):
        return (_unreduce(g / self.n, self.shape, self.axis, self.keepdims),)


class Max(Function):
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


class Min(Max):
    """f = min of x over ``axis``;  dL/dx = g at the minimum (shared equally among ties), else 0."""

    pick = "min"


class Norm(Function):
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


class Prod(Function):
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


class Gather(Function):
    """f = x values picked along ``dim`` by integer ``index`` (take_along_axis);
    dL/dx = zeros with g added at the picked places (repeats accumulate)."""

    saved_inputs = ()

    def forward(self, x, dim, index):
        xp = get_array_module(x)
        index = xp.asarray(index)
        self.dim, self.index, self.shape = dim, index, x.shape
        return xp.take_along_axis(x, index, axis=dim)

    def backward(self, g):
        xp = get_array_module(g)
        # the full index of every picked element: index along dim, arange along the others
        grids = [xp.arange(n).reshape([-1 if i == k else 1 for i in range(g.ndim)])
                 for k, n in enumerate(self.index.shape)]
        grids[self.dim] = self.index
        return (IndexedGrad(tuple(grids), g, advanced=True),)


class Reshape(Function):
    """f = x viewed with another shape;  dL/dx = g reshaped back."""

    saved_inputs = ()

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.shape),)

    def explain_error(self, err, arrays, params):
        x = arrays[0]
        return ShapeError(f"reshape: cannot view a tensor of shape {_fmt(x.shape)} ({x.size} elements) "
                          f"as shape {tuple(params['shape'])}; the sizes must multiply to {x.size} "
                          "(one size may be -1)")


class Transpose(Function):
    """f = x with axes permuted;  dL/dx = g with the inverse permutation."""

    saved_inputs = ()

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g):
        return (g.transpose(numpy.argsort(self.axes)),)


class Expand(Function):
    """f = x broadcast to ``shape`` (no copy);  dL/dx = sum_to(g, x.shape)."""

    saved_inputs = ()

    def forward(self, x, shape):
        self.shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, g):
        return (sum_to(g, self.shape),)

    def explain_error(self, err, arrays, params):
        return ShapeError(f"expand: cannot expand shape {_fmt(arrays[0].shape)} to {tuple(params['shape'])}; "
                          "only size-1 dims can grow (-1 keeps a size)")


class Repeat(Function):
    """f = x tiled reps[i] times along dim i;  dL/dx = the sum of g over the copies."""

    saved_inputs = ()

    def forward(self, x, reps):
        self.shape, self.reps = x.shape, reps
        return get_array_module(x).tile(x, reps)

    def backward(self, g):
        padded = (1,) * (len(self.reps) - len(self.shape)) + tuple(self.shape)
        # split every dim into (copy, element) and sum over the copies
        g = g.reshape([n for pair in zip(self.reps, padded, strict=True) for n in pair])
        return (g.sum(axis=tuple(range(0, g.ndim, 2))).reshape(self.shape),)


class Unbind(Function):
    """f = the slices of x along ``axis``, as separate outputs;  dL/dx = the g_i stacked back."""

    saved_inputs = ()

    def forward(self, x, axis):
        self.shape, self.axis = x.shape, axis
        return tuple(get_array_module(x).moveaxis(x, axis, 0))

    def backward(self, *grads):
        g = next(g for g in grads if g is not None)
        xp = get_array_module(g)
        full = xp.zeros(self.shape, dtype=g.dtype)
        moved = xp.moveaxis(full, self.axis, 0)  # a view: writing into it fills full
        for i, gi in enumerate(grads):
            if gi is not None:
                moved[i] = gi
        return (full,)


class Split(Function):
    """f = pieces of x along ``axis``, cut at ``ends``;  dL/dx = the g_i joined (zeros for unused pieces)."""

    saved_inputs = ()

    def forward(self, x, axis, ends):
        self.shape, self.axis, self.ends = x.shape, axis, ends
        return tuple(get_array_module(x).split(x, ends, axis=axis))

    def backward(self, *grads):
        g = next(g for g in grads if g is not None)
        xp = get_array_module(g)
        full = xp.zeros(self.shape, dtype=g.dtype)
        starts = [0] + self.ends
        for start, gi in zip(starts, grads, strict=True):
            if gi is not None:
                index = (slice(None),) * self.axis + (slice(start, start + gi.shape[self.axis]),)
                full[index] = gi
        return (full,)


class Clone(Function):
    """f = a copy of x;  dL/dx = g."""

    saved_inputs = ()

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return (g,)


def index_on(xp, index):
    """``index`` with its NumPy arrays moved to ``xp``'s device: index arrays must live where x lives."""
    if xp is numpy:
        return index
    parts = [xp.asarray(i) if isinstance(i, numpy.ndarray) else i
             for i in (index if isinstance(index, tuple) else (index,))]
    return tuple(parts) if isinstance(index, tuple) else parts[0]


def is_advanced(index):
    """True when an index holds an integer or boolean array: the result is a copy, not a view."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.ndim > 0 for p in parts)


def _is_advanced(index):
    """True when an index holds an integer array, where a position may repeat."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.dtype.kind in "iu" and p.ndim > 0 for p in parts)


class GetItem(Function):
    """f = x[index];  dL/dx = zeros with g added at the indexed places (repeats accumulate).

    The gradient goes back as an IndexedGrad, so the backward walk adds the
    slices of many x[t] into one buffer instead of one full-size array each.
    """

    saved_inputs = ()

    def forward(self, x, index):
        index = index_on(get_array_module(x), index)
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g):
        # x[[0, 0]] sends two gradients to x[0]: integer indices add with add.at
        return (IndexedGrad(self.index, g, _is_advanced(self.index)),)

    def explain_error(self, err, arrays, params):
        return IndexError(f"indexing a tensor of shape {_fmt(arrays[0].shape)}: {err}")


class Concat(Function):
    """f = the inputs joined along ``axis``;  dL/dx_i = the slice of g that x_i filled."""

    saved_inputs = ()

    def forward(self, *xs, axis):
        xp = get_array_module(*xs)
        self.axis = axis
        self.ends = numpy.cumsum([x.shape[axis] for x in xs])[:-1].tolist()
        return xp.concatenate(same_dtype(*xs), axis=axis)

    def backward(self, g):
        return tuple(get_array_module(g).split(g, self.ends, axis=self.axis))

    def explain_error(self, err, arrays, params):
        shapes = ", ".join(_fmt(x.shape) for x in arrays)
        return ShapeError(f"concat along axis {params['axis']}: shapes {shapes} must match on every "
                          f"other axis ({err})")


class Stack(Function):
    """f = the inputs stacked along a new ``axis``;  dL/dx_i = g[..., i, ...]."""

    saved_inputs = ()

    def forward(self, *xs, axis):
        self.axis = axis
        return get_array_module(*xs).stack(same_dtype(*xs), axis=axis)

    def backward(self, g):
        moved = get_array_module(g).moveaxis(g, self.axis, 0)
        return tuple(moved)

    def explain_error(self, err, arrays, params):
        shapes = ", ".join(_fmt(x.shape) for x in arrays)
        return ShapeError(f"stack: every tensor must have the same shape, got {shapes}")


class Where(_Elementwise):
    """f = a where cond else b;  dL/da = g where cond,  dL/db = g where not cond."""

    saved_inputs = ()

    def forward(self, a, b, cond):
        xp = get_array_module(a, b)
        self.cond, self.shapes = cond, (a.shape, b.shape)
        return xp.where(cond, *same_dtype(a, b))

    def backward(self, g):
        xp = get_array_module(g)
        sa, sb = self.shapes
        zero = xp.zeros((), dtype=g.dtype)
        return (sum_to(xp.where(self.cond, g, zero), sa) if self.needs_grad[0] else None,
                sum_to(xp.where(self.cond, zero, g), sb) if self.needs_grad[1] else None)

    def explain_error(self, err, arrays, params):
        a, b = (_fmt(x.shape) for x in arrays)
        return ShapeError(f"where: condition {_fmt(numpy.shape(params['cond']))}, a {a} and b {b} "
                          "cannot be broadcast together")


class Softmax(Function):
    """y = e^x / sum e^x over ``axis``;  dL/dx = y * (g - sum(g * y))."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x, axis):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=axis, keepdims=True))  # the shift keeps exp from overflowing
        self.y, self.axis = e / e.sum(axis=axis, keepdims=True), axis
        return self.y

    def backward(self, g):
        y = self.y
        return (y * (g - (g * y).sum(axis=self.axis, keepdims=True)),)


def log_softmax_array(x, axis):
    """x - log(sum e^x) over ``axis``, shifted by the max so nothing overflows."""
    xp = get_array_module(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - log(sum e^x) over ``axis``;  dL/dx = g - e^y * sum(g)."""

    saved_inputs = ()
    saves_output = True

    def forward(self, x, axis):
        self.y, self.axis = log_softmax_array(x, axis), axis
        return self.y

    def backward(self, g):
        xp = get_array_module(g)
        return (g - xp.exp(self.y) * g.sum(axis=self.axis, keepdims=True),)


def _classes_last(x):
    """(N, C, d1, ...) -> (N*d1*..., C): one row of class scores per prediction (a view when 2-D)."""
    if x.ndim == 2:
        return x
    return get_array_module(x).moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _classes_back(rows, shape):
    """Undo ``_classes_last``: (M, C) rows -> ``shape`` (N, C, d1, ...)."""
    if len(shape) == 2:
        return rows
    moved = rows.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return get_array_module(rows).moveaxis(moved, -1, 1)


class NLLLoss(Function):
    """L_n = -w_n logp[n, t_n];  "mean": sum L_n / sum w_n, "sum": sum L_n, "none": L (N, d1, ...).

    dL/dlogp[n, t_n] = -g w_n (divided by sum w_n for "mean"); 0 for the other classes.
    logp: (N, C) or (N, C, d1, ...) with the class axis 1; targets: ints (N, d1, ...);
    weights: per-target weights, same shape as targets, or None (all ones).
    """

    def forward(self, logp, targets, weights, reduction):
        xp = get_array_module(logp)
        rows = _classes_last(logp)
        t = targets.reshape(-1)
        self.shape, self.rows, self.t = logp.shape, xp.arange(rows.shape[0]), t
        losses = -rows[self.rows, t]
        if weights is not None:
            self.w = weights.reshape(-1)
            losses = losses * self.w
        else:
            self.w = xp.ones((), dtype=logp.dtype)
        self.reduction = reduction
        if reduction == "none":
            return losses.reshape(targets.shape)
        if reduction == "sum":
            return losses.sum()
        self.total = rows.shape[0] if weights is None else self.w.sum()
        return losses.sum() / self.total

    def _coefficients(self, g):
        """dL/dL_n for every target n: the weight times the incoming gradient (and 1/sum w)."""
        if self.reduction == "none":
            return g.reshape(-1) * self.w
        c = g * self.w
        return c / self.total if self.reduction == "mean" else c

    def backward(self, g):
        xp = get_array_module(g)
        grad = xp.zeros((self.t.shape[0], self.shape[1]), dtype=g.dtype)
        grad[self.rows, self.t] = -self._coefficients(g)  # one entry per row: no repeats
        return (_classes_back(grad, self.shape),)


class CrossEntropy(NLLLoss):
    """L = NLLLoss(log_softmax(x) over the class axis 1);  dL/dx_n = c_n (softmax(x_n) - onehot(t_n)).

    c_n is dL/dL_n as in NLLLoss (weight, incoming gradient, 1/sum w for "mean").
    Fused so the backward forms softmax - onehot directly instead of going through log_softmax.
    """

    def forward(self, x, targets, weights, reduction):
        self.logp = log_softmax_array(x, axis=1)
        return super().forward(self.logp, targets, weights, reduction)

    def backward(self, g):
        xp = get_array_module(g)
        c = self._coefficients(g)
        grad = xp.exp(_classes_last(self.logp))
        grad *= c[:, None] if c.ndim else c
        grad[self.rows, self.t] -= c
        return (_classes_back(grad, self.shape),)


def softplus_array(x):
    """log(1 + e^x) without overflow: max(x, 0) + log(1 + e^-|x|)."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class Softplus(Function):
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


class Gelu(Function):
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


class Pad(Function):
    """f = x cropped where a pad is negative, then surrounded by ``value``;  dL/dx = the matching slice of g.

    widths: one (before, after) pair per axis of x, first axis first.
    """

    def forward(self, x, widths, value):
        xp = get_array_module(x)
        self.shape = x.shape
        self.crop = tuple(slice(max(-b, 0), n - max(-a, 0))
                          for n, (b, a) in zip(x.shape, widths, strict=True))
        kept = x[self.crop]
        self.inner = tuple(slice(max(b, 0), max(b, 0) + m)
                           for m, (b, _) in zip(kept.shape, widths, strict=True))
        return xp.pad(kept, [(max(b, 0), max(a, 0)) for b, a in widths], constant_values=value)

    def backward(self, g):
        xp = get_array_module(g)
        full = xp.zeros(self.shape, dtype=g.dtype)
        full[self.crop] = g[self.inner]
        return (full,)


class ToDevice(Function):
    """f = x copied to another device;  dL/dx = g copied back."""

    saved_inputs = ()

    def forward(self, x, device):
        self.source = device_of(x)
        return to_device(x, device)

    def backward(self, g):
        return (to_device(g, self.source),)


class Cast(Function):
    """f = x converted to another dtype;  dL/dx = g converted back."""

    saved_inputs = ()

    def forward(self, x, dtype):
        self.source = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return (g.astype(self.source),)
