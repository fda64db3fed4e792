"""Tensor methods: arithmetic operators, comparisons, logical ops and elementwise functions.

Each records one op (tensorgrad.ops) or composes a few; comparisons and logical
ops give boolean tensors that record nothing (for masks and tg.where).
"""

import numbers

import numpy

from . import backend, ops
from .tensor import array_of, from_op, is_tensor, lift
from .tensor_args import check_clamp_bounds


class MathMethods:
    """Methods of Tensor (tensor.py), which inherits them: see the module docstring."""

    __slots__ = ()  # Tensor keeps its fixed slots: a mixin adds no instance dict

    def __add__(self, other):
        return ops.Add.apply(self, lift(other, self))

    def __radd__(self, other):
        return ops.Add.apply(lift(other, self), self)

    def __sub__(self, other):
        return ops.Sub.apply(self, lift(other, self))

    def __rsub__(self, other):
        return ops.Sub.apply(lift(other, self), self)

    def __mul__(self, other):
        return ops.Mul.apply(self, lift(other, self))

    def __rmul__(self, other):
        return ops.Mul.apply(lift(other, self), self)

    def __truediv__(self, other):
        return ops.Div.apply(self, lift(other, self))

    def __rtruediv__(self, other):
        return ops.Div.apply(lift(other, self), self)

    def __floordiv__(self, other):
        return ops.FloorDivide.apply(self, lift(other, self))

    def __rfloordiv__(self, other):
        return ops.FloorDivide.apply(lift(other, self), self)

    def __mod__(self, other):
        return ops.Remainder.apply(self, lift(other, self))

    def __rmod__(self, other):
        return ops.Remainder.apply(lift(other, self), self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, numbers.Real) and not isinstance(exponent, (bool, numpy.ndarray)):
            if self.array.dtype.kind in "iub":  # as torch: int ** int stays int, int ** float is float32
                if not isinstance(exponent, numbers.Integral):
                    return ops.Pow.apply(self.float(), exponent=float(exponent))
                return ops.Pow.apply(self, exponent=int(exponent))
            return ops.Pow.apply(self, exponent=float(exponent))
        return ops.PowTensor.apply(self, lift(exponent, self))

    def __rpow__(self, base):
        return ops.PowTensor.apply(lift(base, self), self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, lift(other, self))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(lift(other, self), self)

    def __abs__(self):
        return ops.Abs.apply(self)

    def add(self, other, alpha=1):
        return self + (other * alpha if alpha != 1 else other)

    def sub(self, other, alpha=1):
        return self - (other * alpha if alpha != 1 else other)

    def mul(self, other):
        return self * other

    def div(self, other):
        return self / other

    def neg(self):
        return -self

    def pow(self, exponent):
        return self ** exponent

    def matmul(self, other):
        return self @ other

    # Comparisons are elementwise and give boolean tensors that record nothing
    # (for masks and tg.where).
    def _compare(self, other, op):
        if is_tensor(other):
            other = other.array
        elif not (isinstance(other, (numbers.Number, numpy.ndarray, numpy.generic))
                  or backend.is_gpu_array(other)):
            return NotImplemented  # e.g. t == None is False, as in torch
        return from_op(op(self.array, other), None, 0)

    def __eq__(self, other):
        return self._compare(other, _eq)

    def __ne__(self, other):
        return self._compare(other, _ne)

    def __lt__(self, other):
        return self._compare(other, _lt)

    def __le__(self, other):
        return self._compare(other, _le)

    def __gt__(self, other):
        return self._compare(other, _gt)

    def __ge__(self, other):
        return self._compare(other, _ge)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    # Logical ops on boolean (or integer) tensors, for combining masks.
    def __and__(self, other):
        return self._logical(other, lambda a, b: a & b, "&")

    def __or__(self, other):
        return self._logical(other, lambda a, b: a | b, "|")

    def __xor__(self, other):
        return self._logical(other, lambda a, b: a ^ b, "^")

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__

    def __invert__(self):
        if self.array.dtype.kind not in "biu":
            raise TypeError(f"~ needs a boolean or integer tensor, got {self.dtype}")
        return from_op(~self.array, None, 0)

    def logical_not(self):
        return from_op(self.array == 0, None, 0)

    def _logical(self, other, op, symbol):
        raw = array_of(other)
        kinds = (self.array.dtype.kind, getattr(raw, "dtype", numpy.dtype(type(raw))).kind)
        if any(k not in "biu" for k in kinds):
            raise TypeError(f"{symbol} needs boolean or integer tensors, got {self.dtype} and "
                            f"{getattr(raw, 'dtype', type(raw).__name__)}")
        return from_op(op(self.array, raw), None, 0)

    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def log1p(self):
        return ops.Log1p.apply(self)

    def expm1(self):
        return ops.Expm1.apply(self)

    def tanh(self):
        return ops.Tanh.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(self)

    def relu(self):
        if self.array.dtype.kind == "b":
            raise RuntimeError("relu: boolean inputs are not supported (as in torch); convert with .float()")
        return ops.Relu.apply(self)

    def sqrt(self):
        return ops.Sqrt.apply(self)

    def abs(self):
        return ops.Abs.apply(self)

    def sign(self):
        return ops.Sign.apply(self)

    def clamp(self, min=None, max=None):
        """Each element clamped into [min, max] (either bound may be None)."""
        check_clamp_bounds(min, max)
        return ops.Clamp.apply(self, low=array_of(min), high=array_of(max))

    clip = clamp

    def softmax(self, dim):
        """torch's x.softmax(dim): e^x / sum e^x along ``dim`` (see tg.functional.softmax)."""
        from . import functional  # imported here: functional needs Tensor, which needs this module
        return functional.softmax(self, dim)

    def log_softmax(self, dim):
        """torch's x.log_softmax(dim) (see tg.functional.log_softmax)."""
        from . import functional  # imported here: functional needs Tensor, which needs this module
        return functional.log_softmax(self, dim)

    def masked_fill(self, mask, value):
        """A copy with ``value`` where the boolean ``mask`` (broadcast to this shape) is true; the
        gradient reaches only the elements kept. An attention score's mask: s.masked_fill(~allowed, -inf)."""
        raw = array_of(mask)
        if getattr(raw, "dtype", None) is None or raw.dtype.kind != "b":
            raise TypeError(f"masked_fill: mask must be a boolean tensor, got "
                            f"{getattr(raw, 'dtype', type(raw).__name__)} (compare, e.g. x > 0)")
        try:
            fits = numpy.broadcast_shapes(tuple(raw.shape), self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"masked_fill: a mask of shape {tuple(raw.shape)} does not broadcast to the "
                             f"tensor's shape {self.shape}")
        if is_tensor(value) and value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        fill = lift(value, self)
        if fill.dtype != self.dtype:  # as torch: the value takes this tensor's dtype
            fill = from_op(fill.array.astype(self.dtype), None, 0)
        return ops.Where.apply(fill, self, cond=raw)

    def tril(self, diagonal=0):
        """The lower triangle of the last two dims (zeros above ``diagonal``), as torch.tril."""
        return self._triangle("tril", diagonal)

    def triu(self, diagonal=0):
        """The upper triangle of the last two dims (zeros below ``diagonal``), as torch.triu."""
        return self._triangle("triu", diagonal)

    def _triangle(self, name, diagonal):
        if self.ndim < 2:
            raise ValueError(f"{name}: needs a tensor with at least 2 dims, got shape {self.shape}")
        xp = backend.get_array_module(self.array)
        keep = getattr(xp, name)(xp.ones(self.array.shape[-2:], dtype=bool), int(diagonal))
        return self.masked_fill(~keep, 0)

    def maximum(self, other):
        return ops.Maximum.apply(self, lift(other, self))

    def minimum(self, other):
        return ops.Minimum.apply(self, lift(other, self))

    def round(self):
        """Each element rounded to the nearest integer, halves to even (as torch.round); gradient 0."""
        return ops.Rounding.apply(self, how="round")

    def floor(self):
        return ops.Rounding.apply(self, how="floor")

    def ceil(self):
        return ops.Rounding.apply(self, how="ceil")

    def mm(self, other):
        """A matrix product of two 2-D tensors (as torch.mm; @ broadcasts, mm refuses other shapes)."""
        return self._checked_matmul("mm", other, 2)

    def bmm(self, other):
        """Batched matrix products of two 3-D tensors (B, n, m) @ (B, m, p) (as torch.bmm)."""
        return self._checked_matmul("bmm", other, 3)

    def _checked_matmul(self, name, other, ndim):
        other = lift(other, self)
        if self.ndim != ndim or other.ndim != ndim or (ndim == 3 and self.shape[0] != other.shape[0]):
            what = "2-D tensors" if ndim == 2 else "3-D tensors with the same batch size"
            raise ValueError(f"{name}: expects two {what}, got shapes {self.shape} and {other.shape}; "
                             "@ (matmul) broadcasts batch dims")
        return ops.MatMul.apply(self, other)

    def isnan(self):
        """A boolean tensor: True where an element is NaN."""
        return from_op(backend.get_array_module(self.array).isnan(self.array), None, 0)

    def isfinite(self):
        """A boolean tensor: True where an element is neither infinite nor NaN."""
        return from_op(backend.get_array_module(self.array).isfinite(self.array), None, 0)


def _eq(a, b):
    return a == b


def _ne(a, b):
    return a != b


def _lt(a, b):
    return a < b


def _le(a, b):
    return a <= b


def _gt(a, b):
    return a > b


def _ge(a, b):
    return a >= b
