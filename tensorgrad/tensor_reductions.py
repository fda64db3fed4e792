"""Tensor methods: reductions (sum, mean, max, var, norm, ...), sorting and running sums.

``max(dim)``/``min(dim)``/``sort``/``topk`` return (values, indices) as torch's
named tuples do; the values carry the gradient, the indices record nothing.
"""

import collections
import math
import numbers

import numpy

from . import backend, ops
from .tensor import array_of, from_op, is_tensor
from .tensor_args import (
    checked_axes,
    checked_dim,
    dim_args,
    out_of_range,
    require_float,
)

# What x.max(dim), x.min(dim), x.topk(k) and x.sort() return, as torch.return_types does.
MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])
TopkResult = collections.namedtuple("topk", ["values", "indices"])
SortResult = collections.namedtuple("sort", ["values", "indices"])


class ReductionMethods:
    """Methods of Tensor (tensor.py), which inherits them: see the module docstring."""

    __slots__ = ()  # Tensor keeps its fixed slots: a mixin adds no instance dict

    def all(self, dim=None, keepdim=False):
        return from_op(self.array.all(axis=checked_axes(dim, self.ndim, "all"), keepdims=keepdim), None, 0)

    def any(self, dim=None, keepdim=False):
        return from_op(self.array.any(axis=checked_axes(dim, self.ndim, "any"), keepdims=keepdim), None, 0)

    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = dim_args("sum", self.ndim, dim, keepdim, axis, keepdims)
        return ops.Sum.apply(self, axis=dim, keepdims=keepdim)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        require_float(self, "mean(): could not infer output dtype. Input dtype must be a floating "
                             "point dtype")
        dim, keepdim = dim_args("mean", self.ndim, dim, keepdim, axis, keepdims)
        return ops.Mean.apply(self, axis=dim, keepdims=keepdim)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """max(): the largest element (0-d); max(dim): (values, indices) along dim; max(other): maximum."""
        return self._extreme("max", dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """min(): the smallest element (0-d); min(dim): (values, indices) along dim; min(other): minimum."""
        return self._extreme("min", dim, keepdim, axis, keepdims)

    def _extreme(self, name, dim, keepdim, axis, keepdims):
        if is_tensor(dim):
            return self.maximum(dim) if name == "max" else self.minimum(dim)
        op = ops.Max if name == "max" else ops.Min
        dims, keepdim = dim_args(name, self.ndim, dim, keepdim, axis, keepdims)
        if dims is None:
            return op.apply(self, axis=None, keepdims=False)
        if len(dims) != 1:
            raise TypeError(f"{name}(dim) takes one int dim and returns (values, indices); "
                            f"for several dims use a{name}(dim={tuple(dims)})")
        d = dims[0]
        if self.array.shape[d] == 0:
            raise IndexError(f"{name}(): dim {d} of a tensor of shape {self.shape} is empty")
        xp = backend.get_array_module(self.array)
        pick = self.array.argmax if name == "max" else self.array.argmin
        index = xp.expand_dims(pick(axis=d), d)
        values = ops.Gather.apply(self, dim=d, index=index)
        if not keepdim:
            values, index = values.squeeze(d), index.squeeze(d)
        result = MaxResult if name == "max" else MinResult
        return result(values, from_op(index, None, 0))

    def amax(self, dim=None, keepdim=False):
        """The largest value over ``dim`` (an int, a tuple, or None for all); ties share the gradient."""
        dim, keepdim = dim_args("amax", self.ndim, dim, keepdim, None, None)
        return ops.Max.apply(self, axis=dim, keepdims=keepdim)

    def amin(self, dim=None, keepdim=False):
        """The smallest value over ``dim`` (an int, a tuple, or None for all); ties share the gradient."""
        dim, keepdim = dim_args("amin", self.ndim, dim, keepdim, None, None)
        return ops.Min.apply(self, axis=dim, keepdims=keepdim)

    def argmax(self, dim=None, keepdim=False):
        """Index of the largest value (of the flattened tensor when dim is None), int64."""
        return self._arg("argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """Index of the smallest value (of the flattened tensor when dim is None), int64."""
        return self._arg("argmin", dim, keepdim)

    def _arg(self, name, dim, keepdim):
        xp = backend.get_array_module(self.array)
        if dim is None:
            out = getattr(self.array.reshape(-1), name)()
            if keepdim:
                out = xp.asarray(out).reshape((1,) * self.ndim)
        else:
            d = checked_dim(dim, self.ndim, name)
            out = getattr(self.array, name)(axis=d)
            if keepdim:
                out = xp.expand_dims(out, d)
        return from_op(xp.asarray(out).astype(numpy.int64, copy=False), None, 0)

    def gather(self, dim, index):
        """out[i][j][k] = x[i][index[i][j][k]][k] for dim=1 (index has x's number of dims)."""
        raw = array_of(index)
        if raw.dtype.kind not in "iu" or raw.ndim != self.ndim:
            raise TypeError(f"gather: index must be an integer tensor with {self.ndim} dims, got "
                            f"{raw.dtype} with {raw.ndim}")
        dim = checked_dim(dim, self.ndim, "gather")
        bad = out_of_range(raw, self.array.shape[dim])
        if bad is not None:
            n = self.array.shape[dim]
            raise IndexError(f"gather: index {bad} is out of range for dim {dim} of size {n} (indices must "
                             f"be in [0, {n - 1}]; as in torch, a negative one does not count from the end)")
        return ops.Gather.apply(self, dim=dim, index=raw)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """Variance over ``dim``, divided by n - correction (default correction=1, as in torch)."""
        if isinstance(dim, bool):  # var(False): the old var(unbiased) form
            dim, unbiased = None, dim
        if correction is None:
            correction = 0 if unbiased is False else 1
        dims, keepdim = dim_args("var", self.ndim, dim, keepdim, axis, keepdims)
        n = math.prod(self.shape[d] for d in dims) if dims is not None else self.numel()
        diff = self - self.mean(dim=dims, keepdim=True)
        scale = 1.0 / (n - correction) if n > correction else math.nan
        return (diff * diff).sum(dim=dims, keepdim=keepdim) * scale

    def std(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """Standard deviation: the square root of var(...), same arguments (gradient 0 where it is 0)."""
        variance = self.var(dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims)
        return ops.StdSqrt.apply(variance)

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(x))) over ``dim``, shifted by the max so nothing overflows."""
        dims, _ = dim_args("logsumexp", self.ndim, dim, keepdim, None, None)
        shift = self.amax(dim=dims, keepdim=True).detach()  # a constant shift: the gradient is unchanged
        xp = backend.get_array_module(shift.array)
        shift.array = xp.where(xp.isfinite(shift.array), shift.array, 0)
        out = (self - shift).exp().sum(dim=dims, keepdim=True).log() + shift
        return out if keepdim else out.squeeze(dims)

    def prod(self, dim=None, keepdim=False):
        """The product over one ``dim`` (or all elements when None)."""
        d = None if dim is None else checked_dim(dim, self.ndim, "prod")
        return ops.Prod.apply(self, axis=d, keepdims=keepdim)

    def norm(self, p=2, dim=None, keepdim=False):
        """The p-norm over ``dim`` (all elements when None): p = 2 ("fro"), 1, inf, or any number > 0."""
        if p == "fro":
            p = 2
        if not isinstance(p, numbers.Real) or p <= 0:
            raise ValueError(f"norm: p must be a positive number, inf or 'fro', got {p!r}")
        require_float(self, "norm: expected a floating point tensor")
        if p == math.inf:
            return self.abs().amax(dim=dim, keepdim=keepdim)
        if p == 1:
            return self.abs().sum(dim=dim, keepdim=keepdim)
        dims, keepdim = dim_args("norm", self.ndim, dim, keepdim, None, None)
        return ops.Norm.apply(self, p=float(p), axis=dims, keepdims=keepdim)

    def sort(self, dim=-1, descending=False):
        """(values, indices) along ``dim``, ascending unless descending=True; values carry gradient."""
        d = checked_dim(dim, self.ndim, "sort")
        indices = self.argsort(d, descending)
        return SortResult(self.gather(d, indices), indices)

    def argsort(self, dim=-1, descending=False):
        """The indices that sort ``dim`` (ties in their order, a stable sort)."""
        d = checked_dim(dim, self.ndim, "argsort")
        xp = backend.get_array_module(self.array)
        keys = self.array.astype(numpy.int64) if self.array.dtype.kind in "bu" else self.array  # no -x wrap
        order = xp.argsort(-keys if descending else keys, axis=d, kind="stable")
        return from_op(order.astype(numpy.int64), None, 0)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 (torch's argument name)
        """(values, indices) of the k largest (smallest if not largest) along ``dim``, in order; values carry
        gradient."""
        d = checked_dim(dim, self.ndim, "topk")
        if not isinstance(k, numbers.Integral) or not 0 <= k <= self.array.shape[d]:
            raise ValueError(f"topk: k must be an int in [0, {self.array.shape[d]}] for dim {d} of shape "
                             f"{self.shape}, got {k!r}")
        indices = self.argsort(d, descending=largest)
        xp = backend.get_array_module(self.array)
        indices = from_op(xp.take(indices.array, xp.arange(k), axis=d), None, 0)
        return TopkResult(self.gather(d, indices), indices)

    def cumsum(self, dim):
        """Running sums along ``dim`` (as torch.cumsum; integers and bools sum as int64)."""
        d = checked_dim(dim, self.ndim, "cumsum")
        x = self if self.array.dtype.kind in "fc" or self.array.dtype == numpy.int64 else self.long()
        return ops.Cumsum.apply(x, axis=d)
