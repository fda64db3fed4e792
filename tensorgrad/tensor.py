"""The Tensor: an array (NumPy or CuPy) plus what autodiff needs to know about it.

A tensor made by an op remembers that op as its ``_creator``; the ops remember
their inputs. That chain is the computation graph ``backward()`` walks.

Where PyTorch has a name for a method, it has PyTorch's meaning here: ``dim=``
and ``keepdim=`` (``axis=`` and ``keepdims=`` are accepted as aliases),
``transpose(d0, d1)`` swaps two dims, ``max(dim)`` returns (values, indices),
``==`` is elementwise, Python ints make int64 tensors, in-place ops bump a
version counter that backward checks.
"""

import collections
import math
import numbers

import numpy

from . import backend

DEFAULT_FLOAT = numpy.float32

_new = object.__new__

# What x.max(dim) and x.min(dim) return, as torch.return_types.max / .min do.
MaxResult = collections.namedtuple("max", ["values", "indices"])
MinResult = collections.namedtuple("min", ["values", "indices"])
TopkResult = collections.namedtuple("topk", ["values", "indices"])
SortResult = collections.namedtuple("sort", ["values", "indices"])


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    data          the NumPy or CuPy array
    grad          d(loss)/d(this tensor) after backward(), same shape and device, or None
    requires_grad whether ops on this tensor are recorded for backward()
    """

    __slots__ = ("data", "grad", "_requires_grad", "_creator", "_index", "_retains_grad", "_vbox",
                 "__weakref__")
    __array_priority__ = 1000  # make numpy_array + tensor call Tensor.__radd__
    __hash__ = object.__hash__  # == is elementwise, so hashing stays by identity (as in torch)

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.data = as_array(data, dtype=dtype, device=device)
        self.grad = None
        self._requires_grad = False
        self._creator = None
        self._index = 0
        self._retains_grad = False
        self._vbox = [0, 0]
        if requires_grad:
            self.requires_grad_()

    @classmethod
    def _from_op(cls, data, creator, index):
        """A tensor made by an op (or a plain result when ``creator`` is None): no checks, no copies."""
        t = _new(cls)  # object.__new__ directly: cls.__new__ is a slower lookup of the same
        if isinstance(data, numpy.generic):  # NumPy turns 0-d results into scalars
            data = numpy.asarray(data)
        t.data = data
        t.grad = None
        t._requires_grad = creator is not None
        t._creator = creator
        t._index = index
        t._retains_grad = False
        t._vbox = [0, 0]
        return t

    def _bump_version(self):
        """Record an in-place change: one more version, stamped with the new global count (see autograd)."""
        count = autograd.inplace_ops
        count[0] += 1
        box = self._vbox
        box[0] += 1
        box[1] = count[0]

    def _view(self, out):
        """Mark ``out`` as sharing this tensor's memory: in-place writes to either bump one version."""
        out._vbox = self._vbox
        return out

    # ------------------------------------------------------------------ facts
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def ndim(self):
        return self.data.ndim

    def dim(self):
        """The number of dimensions (as ``ndim``)."""
        return self.data.ndim

    def size(self, dim=None):
        """The shape as a tuple, or the size of one ``dim``."""
        if dim is None:
            return self.shape
        return self.data.shape[_dim(dim, self.ndim, "size")]

    def numel(self):
        """The number of elements."""
        return int(self.data.size)

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def is_leaf(self):
        """True when no recorded op made this tensor (its .grad is kept by backward)."""
        return self._creator is None

    @property
    def grad_fn(self):
        """The op that made this tensor, or None for a leaf."""
        return self._creator

    @property
    def _version(self):
        """How many in-place ops have modified this tensor's memory (shared with its views)."""
        return self._vbox[0]

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        """Iterate over dim 0 (one op for all the slices, as ``unbind(0)``)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __format__(self, spec):
        """f"{loss:.4f}" formats a 0-d tensor's value, as in PyTorch (other tensors take no format spec)."""
        if self.data.ndim == 0 and spec:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __repr__(self):
        body = numpy.array2string(backend.to_numpy(self.data), separator=", ", precision=4,
                                  threshold=20, edgeitems=2, prefix="tensor(")
        extra = ""
        if self._creator is not None:
            extra = f", grad_fn={type(self._creator).__name__}"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self.grad is not None:
            extra += ", grad=set"
        return f"tensor({body}, shape={self.shape}, dtype={self.dtype}, device={self.device}{extra})"

    # --------------------------------------------------------------- autodiff
    def requires_grad_(self, flag=True):
        """Turn gradient recording for this leaf on or off (in place); returns self."""
        if flag and self.data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require gradients, this one is "
                            f"{self.dtype}; create it with dtype=np.float32 or np.float64")
        if self._creator is not None and not flag:
            raise RuntimeError("requires_grad can only be switched off on a leaf tensor; this one was made "
                               "by an op (as in torch): use y.detach() for a copy outside the graph")
        self._requires_grad = bool(flag)
        return self

    @property
    def requires_grad(self):
        """Whether ops on this tensor are recorded for backward(); assigning it checks as requires_grad_."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def retain_grad(self):
        """Keep .grad for this intermediate (non-leaf) tensor after backward(); returns self."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad: no gradient "
                               "will ever reach it. Create it with requires_grad=True (or compute it "
                               "from tensors that have it)")
        self._retains_grad = True
        return self

    def backward(self, gradient=None, retain_graph=False, *, grad=None):
        """Backpropagate from this tensor; gradients accumulate in the leaves' ``.grad``.

        gradient: d(loss)/d(self), needed unless this tensor holds a single element
        (torch's name; ``grad=`` is accepted too).
        retain_graph: keep the graph so backward() can run through it again.
        """
        if grad is not None:
            if gradient is not None:
                raise TypeError("backward() got both gradient= and grad=; pass one (they are the same)")
            gradient = grad
        autograd.backward(self, gradient, retain_graph)

    def detach(self):
        """The same data as a new leaf that records nothing: the graph is cut here."""
        return self._view(Tensor._from_op(self.data, None, 0))

    def clone(self):
        """A copy with its own memory; gradients flow back unchanged."""
        return ops.Clone.apply(self)

    def zero_grad(self):
        self.grad = None

    # ------------------------------------------------------------- conversion
    @property
    def array(self):
        """The raw NumPy or CuPy array this tensor holds (Chainer's name): no copy, outside the graph."""
        return self.data

    @array.setter
    def array(self, value):
        self.data = value

    def numpy(self):
        """The data as a NumPy array (shares memory on the CPU, copied off a GPU)."""
        return backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        """np.asarray(t): the data as a NumPy array of its own dtype (never an object array)."""
        array = backend.to_numpy(self.data)
        if copy is False and (array is not self.data or (dtype is not None and array.dtype != dtype)):
            raise ValueError("np.asarray(tensor, copy=False): this tensor cannot be converted without "
                             "a copy (it is on a GPU, or the dtype differs)")
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self):
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def __bool__(self):
        n = self.data.size
        if n != 1:
            what = "no values" if n == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {what} is ambiguous; reduce it "
                               "first, e.g. (a == b).all() or (x > 0).any()")
        return bool(self.data.item())

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.data.item())

    def _scalar(self, name):
        if self.data.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars; "
                             f"{name}() got a tensor of shape {self.shape}")
        return self.data.item()

    def to(self, *args, dtype=None, device=None):
        """This tensor on another device and/or with another dtype: ``to("cuda")``,
        ``to(np.float64)``, ``to("cpu", np.float32)``, ``to(other_tensor)``.

        Gradients flow back across the move and the cast.
        """
        for arg in args:
            if backend.is_device(arg):  # "cuda", tg.device("cuda") or a torch.device
                device = arg
            elif isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            else:
                dtype = arg
        out = self
        if device is not None:
            device = backend.device_name(device)
            backend.module_for(device)  # validates the name, and that a GPU is usable
            if device != self.device:
                out = ops.ToDevice.apply(self, device=device)
        return out if dtype is None else out.astype(dtype)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    def float(self):
        return self.astype(numpy.float32)

    def double(self):
        return self.astype(numpy.float64)

    def long(self):
        return self.astype(numpy.int64)

    def int(self):
        return self.astype(numpy.int32)

    def bool(self):
        return self.astype(numpy.bool_)

    def type_as(self, other):
        """This tensor with ``other``'s dtype."""
        return self.astype(other.dtype)

    def astype(self, dtype):
        """A copy with another dtype; gradients flow back (cast to the original dtype) between floats.

        A cast to an integer or boolean dtype records nothing: no gradient flows through it.
        """
        dtype = numpy.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind != "f":
            return Tensor._from_op(self.data.astype(dtype), None, 0)
        return ops.Cast.apply(self, dtype=dtype)

    # ----------------------------------------------------------- arithmetic
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
            if self.data.dtype.kind in "iub":  # as torch: int ** int stays int, int ** float is float32
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
        if isinstance(other, Tensor):
            other = other.data
        elif not (isinstance(other, (numbers.Number, numpy.ndarray, numpy.generic))
                  or backend.is_gpu_array(other)):
            return NotImplemented  # e.g. t == None is False, as in torch
        return Tensor._from_op(op(self.data, other), None, 0)

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
        if self.data.dtype.kind not in "biu":
            raise TypeError(f"~ needs a boolean or integer tensor, got {self.dtype}")
        return Tensor._from_op(~self.data, None, 0)

    def logical_not(self):
        return Tensor._from_op(self.data == 0, None, 0)

    def _logical(self, other, op, symbol):
        raw = _raw(other)
        kinds = (self.data.dtype.kind, getattr(raw, "dtype", numpy.dtype(type(raw))).kind)
        if any(k not in "biu" for k in kinds):
            raise TypeError(f"{symbol} needs boolean or integer tensors, got {self.dtype} and "
                            f"{getattr(raw, 'dtype', type(raw).__name__)}")
        return Tensor._from_op(op(self.data, raw), None, 0)

    def all(self, dim=None, keepdim=False):
        return Tensor._from_op(self.data.all(axis=_axes(dim, self.ndim, "all"), keepdims=keepdim), None, 0)

    def any(self, dim=None, keepdim=False):
        return Tensor._from_op(self.data.any(axis=_axes(dim, self.ndim, "any"), keepdims=keepdim), None, 0)

    # ---------------------------------------------------------------- in place
    # y += x and friends change this tensor's memory. Under grad mode that is
    # refused when the tensor is part of a graph (see _check_inplace); inside
    # no_grad() it is allowed and bumps the version counter backward checks.
    def _check_inplace(self, name, other=None):
        if not autograd.is_grad_enabled():
            return
        if self.requires_grad:
            if self._creator is None:
                raise RuntimeError(
                    f"{name}: a leaf tensor that requires grad is used in an in-place operation; "
                    "do it inside tg.no_grad() (as an optimizer step does), or write w = w - lr * g")
            raise RuntimeError(
                f"{name}: in-place operation on a tensor computed by {type(self._creator).__name__} "
                "that requires grad. tensorgrad does not rebase the graph in place as PyTorch does: "
                "write y = y + x instead of y += x")
        if isinstance(other, Tensor) and other.requires_grad:
            raise RuntimeError(
                f"{name}: the result would need a gradient (the other operand requires grad), but "
                "an in-place op cannot record one here: write y = y + x instead of y += x")

    def _inplace(self, name, ufunc, other, alpha=1):
        self._check_inplace(name, other)
        raw = _raw(other) if alpha == 1 else _raw(other) * alpha
        try:
            ufunc(self.data, raw, out=self.data, casting="same_kind")
        except TypeError:
            result = numpy.result_type(self.data.dtype, getattr(raw, "dtype", raw))
            if ufunc is numpy.true_divide and result.kind in "iub":
                result = numpy.dtype(DEFAULT_FLOAT)
            raise RuntimeError(f"{name}: result type {result} can't be cast to the desired output "
                               f"type {self.dtype}; convert first, e.g. x = x.float()") from None
        except ValueError as err:
            other_shape = tuple(getattr(raw, "shape", ()))
            raise RuntimeError(f"{name}: output with shape {self.shape} cannot hold the result "
                               f"(other operand of shape {other_shape}): {err}") from None
        self._bump_version()
        return self

    def add_(self, other, alpha=1):
        """self += alpha * other, in place; returns self."""
        return self._inplace("add_", _ufunc("add", self), other, alpha)

    def sub_(self, other, alpha=1):
        """self -= alpha * other, in place; returns self."""
        return self._inplace("sub_", _ufunc("subtract", self), other, alpha)

    def mul_(self, other):
        return self._inplace("mul_", _ufunc("multiply", self), other)

    def div_(self, other):
        return self._inplace("div_", _ufunc("true_divide", self), other)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def fill_(self, value):
        """Set every element to ``value``, in place; returns self."""
        self._check_inplace("fill_", value)
        self.data[...] = _raw(value)
        self._bump_version()
        return self

    def zero_(self):
        return self.fill_(0)

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor; returns self."""
        self._check_inplace("copy_", src)
        raw = _raw(src)
        if hasattr(raw, "shape") and backend.device_of(raw) != self.device:
            raw = backend.to_device(raw, self.device)
        try:
            self.data[...] = raw
        except ValueError as err:
            raise RuntimeError(f"copy_: cannot copy shape {tuple(getattr(raw, 'shape', ()))} into "
                               f"shape {self.shape}: {err}") from None
        self._bump_version()
        return self

    def clamp_(self, min=None, max=None):
        """Clamp every element into [min, max], in place; returns self."""
        self._check_inplace("clamp_")
        _check_clamp_bounds(min, max)
        backend.get_array_module(self.data).clip(self.data, _raw(min), _raw(max), out=self.data)
        self._bump_version()
        return self

    clip_ = clamp_

    def __setitem__(self, index, value):
        """x[index] = value, in place (value broadcast and cast to x's dtype)."""
        self._check_inplace("x[index] = value", value)
        try:
            self.data[ops.index_on(backend.get_array_module(self.data), _raw_index(index))] = _raw(value)
        except (ValueError, IndexError) as err:
            raise type(err)(f"x[index] = value on a tensor of shape {self.shape}: {err}") from None
        self._bump_version()

    # ------------------------------------------------------------ elementwise
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
        if self.data.dtype.kind == "b":
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
        _check_clamp_bounds(min, max)
        return ops.Clamp.apply(self, low=_raw(min), high=_raw(max))

    clip = clamp

    def softmax(self, dim):
        """torch's x.softmax(dim): e^x / sum e^x along ``dim`` (see tg.functional.softmax)."""
        return functional.softmax(self, dim)

    def log_softmax(self, dim):
        """torch's x.log_softmax(dim) (see tg.functional.log_softmax)."""
        return functional.log_softmax(self, dim)

    def masked_fill(self, mask, value):
        """A copy with ``value`` where the boolean ``mask`` (broadcast to this shape) is true; the
        gradient reaches only the elements kept. An attention score's mask: s.masked_fill(~allowed, -inf)."""
        raw = _raw(mask)
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
        if isinstance(value, Tensor) and value.ndim != 0:
            raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape {value.shape}")
        fill = lift(value, self)
        if fill.dtype != self.dtype:  # as torch: the value takes this tensor's dtype
            fill = Tensor._from_op(fill.data.astype(self.dtype), None, 0)
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
        xp = backend.get_array_module(self.data)
        keep = getattr(xp, name)(xp.ones(self.data.shape[-2:], dtype=bool), int(diagonal))
        return self.masked_fill(~keep, 0)

    def maximum(self, other):
        return ops.Maximum.apply(self, lift(other, self))

    def minimum(self, other):
        return ops.Minimum.apply(self, lift(other, self))

    # ------------------------------------------------------------- reductions
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dim_args("sum", self.ndim, dim, keepdim, axis, keepdims)
        return ops.Sum.apply(self, axis=dim, keepdims=keepdim)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        _require_float(self, "mean(): could not infer output dtype. Input dtype must be a floating "
                             "point dtype")
        dim, keepdim = _dim_args("mean", self.ndim, dim, keepdim, axis, keepdims)
        return ops.Mean.apply(self, axis=dim, keepdims=keepdim)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """max(): the largest element (0-d); max(dim): (values, indices) along dim; max(other): maximum."""
        return self._extreme("max", dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """min(): the smallest element (0-d); min(dim): (values, indices) along dim; min(other): minimum."""
        return self._extreme("min", dim, keepdim, axis, keepdims)

    def _extreme(self, name, dim, keepdim, axis, keepdims):
        if isinstance(dim, Tensor):
            return self.maximum(dim) if name == "max" else self.minimum(dim)
        op = ops.Max if name == "max" else ops.Min
        dims, keepdim = _dim_args(name, self.ndim, dim, keepdim, axis, keepdims)
        if dims is None:
            return op.apply(self, axis=None, keepdims=False)
        if len(dims) != 1:
            raise TypeError(f"{name}(dim) takes one int dim and returns (values, indices); "
                            f"for several dims use a{name}(dim={tuple(dims)})")
        d = dims[0]
        if self.data.shape[d] == 0:
            raise IndexError(f"{name}(): dim {d} of a tensor of shape {self.shape} is empty")
        xp = backend.get_array_module(self.data)
        pick = self.data.argmax if name == "max" else self.data.argmin
        index = xp.expand_dims(pick(axis=d), d)
        values = ops.Gather.apply(self, dim=d, index=index)
        if not keepdim:
            values, index = values.squeeze(d), index.squeeze(d)
        result = MaxResult if name == "max" else MinResult
        return result(values, Tensor._from_op(index, None, 0))

    def amax(self, dim=None, keepdim=False):
        """The largest value over ``dim`` (an int, a tuple, or None for all); ties share the gradient."""
        dim, keepdim = _dim_args("amax", self.ndim, dim, keepdim, None, None)
        return ops.Max.apply(self, axis=dim, keepdims=keepdim)

    def amin(self, dim=None, keepdim=False):
        """The smallest value over ``dim`` (an int, a tuple, or None for all); ties share the gradient."""
        dim, keepdim = _dim_args("amin", self.ndim, dim, keepdim, None, None)
        return ops.Min.apply(self, axis=dim, keepdims=keepdim)

    def argmax(self, dim=None, keepdim=False):
        """Index of the largest value (of the flattened tensor when dim is None), int64."""
        return self._arg("argmax", dim, keepdim)

    def argmin(self, dim=None, keepdim=False):
        """Index of the smallest value (of the flattened tensor when dim is None), int64."""
        return self._arg("argmin", dim, keepdim)

    def _arg(self, name, dim, keepdim):
        xp = backend.get_array_module(self.data)
        if dim is None:
            out = getattr(self.data.reshape(-1), name)()
            if keepdim:
                out = xp.asarray(out).reshape((1,) * self.ndim)
        else:
            d = _dim(dim, self.ndim, name)
            out = getattr(self.data, name)(axis=d)
            if keepdim:
                out = xp.expand_dims(out, d)
        return Tensor._from_op(xp.asarray(out).astype(numpy.int64, copy=False), None, 0)

    def gather(self, dim, index):
        """out[i][j][k] = x[i][index[i][j][k]][k] for dim=1 (index has x's number of dims)."""
        raw = _raw(index)
        if raw.dtype.kind not in "iu" or raw.ndim != self.ndim:
            raise TypeError(f"gather: index must be an integer tensor with {self.ndim} dims, got "
                            f"{raw.dtype} with {raw.ndim}")
        dim = _dim(dim, self.ndim, "gather")
        bad = _out_of_range(raw, self.data.shape[dim])
        if bad is not None:
            n = self.data.shape[dim]
            raise IndexError(f"gather: index {bad} is out of range for dim {dim} of size {n} (indices must "
                             f"be in [0, {n - 1}]; as in torch, a negative one does not count from the end)")
        return ops.Gather.apply(self, dim=dim, index=raw)

    def var(self, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
        """Variance over ``dim``, divided by n - correction (default correction=1, as in torch)."""
        if isinstance(dim, bool):  # var(False): the old var(unbiased) form
            dim, unbiased = None, dim
        if correction is None:
            correction = 0 if unbiased is False else 1
        dims, keepdim = _dim_args("var", self.ndim, dim, keepdim, axis, keepdims)
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
        dims, _ = _dim_args("logsumexp", self.ndim, dim, keepdim, None, None)
        shift = self.amax(dim=dims, keepdim=True).detach()  # a constant shift: the gradient is unchanged
        xp = backend.get_array_module(shift.data)
        shift.data = xp.where(xp.isfinite(shift.data), shift.data, 0)
        out = (self - shift).exp().sum(dim=dims, keepdim=True).log() + shift
        return out if keepdim else out.squeeze(dims)

    def prod(self, dim=None, keepdim=False):
        """The product over one ``dim`` (or all elements when None)."""
        d = None if dim is None else _dim(dim, self.ndim, "prod")
        return ops.Prod.apply(self, axis=d, keepdims=keepdim)

    def norm(self, p=2, dim=None, keepdim=False):
        """The p-norm over ``dim`` (all elements when None): p = 2 ("fro"), 1, inf, or any number > 0."""
        if p == "fro":
            p = 2
        if not isinstance(p, numbers.Real) or p <= 0:
            raise ValueError(f"norm: p must be a positive number, inf or 'fro', got {p!r}")
        _require_float(self, "norm: expected a floating point tensor")
        if p == math.inf:
            return self.abs().amax(dim=dim, keepdim=keepdim)
        if p == 1:
            return self.abs().sum(dim=dim, keepdim=keepdim)
        dims, keepdim = _dim_args("norm", self.ndim, dim, keepdim, None, None)
        return ops.Norm.apply(self, p=float(p), axis=dims, keepdims=keepdim)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        """The same elements in another shape (one size may be -1)."""
        return self._view(ops.Reshape.apply(self, shape=_shape_args(shape)))

    def view(self, *shape):
        """As reshape (tensorgrad never needs contiguous memory)."""
        return self.reshape(*shape)

    def contiguous(self):
        return self

    def flatten(self, start_dim=0, end_dim=-1):
        """Dims start_dim..end_dim merged into one."""
        if self.ndim == 0:
            return self.reshape(1)
        s, e = _dim(start_dim, self.ndim, "flatten"), _dim(end_dim, self.ndim, "flatten")
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape
        return self.reshape(shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])

    def unsqueeze(self, dim):
        """A size-1 dim inserted at ``dim``."""
        d = _dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        """Size-1 dims removed: all of them, or only ``dim`` (an int or tuple) where its size is 1."""
        dims = range(self.ndim) if dim is None else _axes(dim, self.ndim, "squeeze")
        drop = {d for d in dims if self.data.shape[d] == 1}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in drop))

    def expand(self, *sizes):
        """This tensor broadcast to ``sizes`` (-1 keeps a size; new dims go in front); no copy."""
        sizes = _shape_args(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {sizes} has fewer dims than the tensor's shape {self.shape}")
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        return self._view(ops.Expand.apply(self, shape=shape))

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *sizes):
        """This tensor tiled ``sizes[i]`` times along each dim (as torch.Tensor.repeat)."""
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor with {self.ndim} dims; "
                             "give at least one per dim")
        return ops.Repeat.apply(self, reps=sizes)

    def transpose(self, *dims):
        """Swap two dims: x.transpose(0, 1). (For a full reordering use permute.)"""
        if len(dims) != 2:
            raise TypeError(f"transpose(dim0, dim1) swaps two dims, got {len(dims)} arguments; "
                            "to reorder all dims use x.permute(...), to reverse a matrix's use x.T")
        d0, d1 = (_dim(d, self.ndim, "transpose") for d in dims)
        order = list(range(self.ndim))
        order[d0], order[d1] = d1, d0
        return self._view(ops.Transpose.apply(self, axes=tuple(order)))

    swapaxes = transpose

    def t(self):
        """torch's x.t(): a matrix transposed (a 0-d or 1-D tensor as it is); more dims raise, as in torch."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with at most 2 dims, got shape {self.shape}; "
                             "use transpose(dim0, dim1) or permute(...)")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def sort(self, dim=-1, descending=False):
        """(values, indices) along ``dim``, ascending unless descending=True; values carry gradient."""
        d = _dim(dim, self.ndim, "sort")
        indices = self.argsort(d, descending)
        return SortResult(self.gather(d, indices), indices)

    def argsort(self, dim=-1, descending=False):
        """The indices that sort ``dim`` (ties in their order, a stable sort)."""
        d = _dim(dim, self.ndim, "argsort")
        xp = backend.get_array_module(self.data)
        keys = self.data.astype(numpy.int64) if self.data.dtype.kind in "bu" else self.data  # no -x wrap
        order = xp.argsort(-keys if descending else keys, axis=d, kind="stable")
        return Tensor._from_op(order.astype(numpy.int64), None, 0)

    def topk(self, k, dim=-1, largest=True, sorted=True):  # noqa: A002 (torch's argument name)
        """(values, indices) of the k largest (smallest if not largest) along ``dim``, in order; values carry
        gradient."""
        d = _dim(dim, self.ndim, "topk")
        if not isinstance(k, numbers.Integral) or not 0 <= k <= self.data.shape[d]:
            raise ValueError(f"topk: k must be an int in [0, {self.data.shape[d]}] for dim {d} of shape "
                             f"{self.shape}, got {k!r}")
        indices = self.argsort(d, descending=largest)
        xp = backend.get_array_module(self.data)
        indices = Tensor._from_op(xp.take(indices.data, xp.arange(k), axis=d), None, 0)
        return TopkResult(self.gather(d, indices), indices)

    def cumsum(self, dim):
        """Running sums along ``dim`` (as torch.cumsum; integers and bools sum as int64)."""
        d = _dim(dim, self.ndim, "cumsum")
        x = self if self.data.dtype.kind in "fc" or self.data.dtype == numpy.int64 else self.long()
        return ops.Cumsum.apply(x, axis=d)

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
        return Tensor._from_op(backend.get_array_module(self.data).isnan(self.data), None, 0)

    def isfinite(self):
        """A boolean tensor: True where an element is neither infinite nor NaN."""
        return Tensor._from_op(backend.get_array_module(self.data).isfinite(self.data), None, 0)

    def permute(self, *dims):
        """The dims reordered: x.permute(1, 0, 2)[i, j, k] = x[j, i, k]."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        axes = tuple(_dim(d, self.ndim, "permute") for d in dims)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of the {self.ndim} dims "
                             f"of a tensor of shape {self.shape}")
        return self._view(ops.Transpose.apply(self, axes=axes))

    @property
    def T(self):
        """A matrix transposed; for other dims, their order reversed (0-d and 1-d unchanged)."""
        if self.ndim < 2:
            return self
        return self._view(ops.Transpose.apply(self, axes=tuple(reversed(range(self.ndim)))))

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices transposed)."""
        return self.transpose(-2, -1)

    def unbind(self, dim=0):
        """The slices along ``dim`` as a tuple of tensors (one op; its backward is one buffer)."""
        d = _dim(dim, self.ndim, "unbind")
        return tuple(self._view(t) for t in _as_tuple(ops.Unbind.apply(self, axis=d)))

    def split(self, split_size_or_sections, dim=0):
        """Pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the listed sizes."""
        d = _dim(dim, self.ndim, "split")
        n = self.data.shape[d]
        if isinstance(split_size_or_sections, numbers.Integral):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError(f"split: split_size must be positive, got {step}")
            sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
        else:
            sizes = [int(k) for k in split_size_or_sections]
            if sum(sizes) != n or any(k < 0 for k in sizes):
                raise ValueError(f"split: sizes {sizes} must be non-negative and add up to {n}, "
                                 f"the size of dim {d} of shape {self.shape}")
        ends = numpy.cumsum(sizes)[:-1].tolist()
        return tuple(self._view(t) for t in _as_tuple(ops.Split.apply(self, axis=d, ends=ends)))

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` pieces along ``dim``, each of ceil(size / chunks) (the last may be smaller)."""
        if not isinstance(chunks, numbers.Integral) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
        n = self.data.shape[_dim(dim, self.ndim, "chunk")]
        return self.split(max(-(-n // chunks), 1), dim)

    def __getitem__(self, index):
        raw = _raw_index(index)
        out = ops.GetItem.apply(self, index=raw)
        return out if ops.is_advanced(raw) else self._view(out)

    # ---- torch vocabulary added for issue 18 (vocab branch)
    # (new_tensors and matrix_ops import this module, so they are imported where used)
    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        """Zeros of shape ``size`` with this tensor's dtype and device (unless given), as torch."""
        from . import new_tensors
        return new_tensors.new_full(self, size, 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        """Ones of shape ``size`` with this tensor's dtype and device (unless given)."""
        from . import new_tensors
        return new_tensors.new_full(self, size, 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        """A tensor of shape ``size`` to be written before read (zeros here), with this dtype and device."""
        from . import new_tensors
        return new_tensors.new_full(self, size, 0, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        """``fill_value`` in shape ``size``, with this tensor's dtype and device (unless given)."""
        from . import new_tensors
        return new_tensors.new_full(self, (size,), fill_value, dtype, device, requires_grad)

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        """A copy of ``data`` with this tensor's dtype and device (unless given), as torch."""
        from . import new_tensors
        return new_tensors.new_tensor(self, data, dtype, device, requires_grad)

    def narrow(self, dim, start, length):
        """The ``length`` elements from ``start`` along ``dim`` (a view: x.narrow(1, 2, 3) is x[:, 2:5])."""
        dim = _dim(dim, self.ndim, "narrow")
        n = self.shape[dim]
        start = int(start)
        if not -n <= start <= n:
            raise IndexError(f"narrow: start out of range (expected to be in range of [{-n}, {n}], "
                             f"but got {start})")
        if start < 0:
            start += n
        if not isinstance(length, numbers.Integral) or length < 0 or start + length > n:
            raise RuntimeError(f"narrow: start ({start}) + length ({length}) exceeds dimension size ({n}).")
        return self[(slice(None),) * dim + (slice(start, start + int(length)),)]

    def type(self, dtype=None):
        """With no argument, the type name ("torch.FloatTensor", as torch prints it); with a dtype,
        a typed class (tg.LongTensor) or its name ("torch.LongTensor"), this tensor cast to it."""
        from . import new_tensors
        if dtype is None:
            return new_tensors.type_name(self)
        return new_tensors.type_cast(self, dtype)

    def equal(self, other):
        """True when ``other`` has the same shape and equal values, as torch.equal (dtypes may
        differ: compared after promotion; NaN is not equal to itself)."""
        if not isinstance(other, Tensor):
            raise TypeError(f"equal: other must be a Tensor, got {type(other).__name__}")
        return self.shape == other.shape and bool((self == other).all())

    def diag(self, diagonal=0):
        """As tg.diag: a vector's diagonal matrix, or a matrix's diagonal."""
        from . import matrix_ops
        return matrix_ops.diag(self, diagonal)


def _as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


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


def _ufunc(name, t):
    return getattr(backend.get_array_module(t.data), name)


def _check_clamp_bounds(low, high):
    if low is None and high is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")


def _raw(value):
    return value.data if isinstance(value, Tensor) else value


def _raw_index(index):
    """Tensors inside an index become their arrays; lists become arrays."""
    if isinstance(index, tuple):
        return tuple(_raw_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return numpy.asarray(index)
    return index


def _shape_args(shape):
    """f(2, 3) and f((2, 3)) alike: the shape as a tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _dim(dim, ndim, name):
    """One dim index, checked and made non-negative."""
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected one in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
    return int(dim) % max(ndim, 1)


def _dim_args(name, ndim, dim, keepdim, axis, keepdims):
    """(dim, keepdim) from torch's names or NumPy's aliases axis= / keepdims=."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: give dim= or its alias axis=, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return _axes(dim, ndim, name), bool(keepdim)


def _axes(axis, ndim, name):
    """Normalise a dim argument to None or a tuple of non-negative ints."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise IndexError(f"{name}: dim {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(a % max(ndim, 1) for a in axes))


def as_array(data, dtype=None, device=None):
    """``data`` as a backend array, with torch's dtype rules.

    Arrays keep their dtype; Python data becomes int64 (ints), bool (bools) or
    float32 (floats, or ints and floats mixed).
    """
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_gpu_array(data):
        backend._load_cupy()
    if isinstance(data, numpy.ndarray) or backend.is_gpu_array(data):
        array = data
    elif isinstance(data, numpy.generic):
        array = numpy.asarray(data)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
            data = [backend.to_numpy(d.data) if isinstance(d, Tensor) else d for d in data]
        try:
            array = numpy.asarray(data)
        except ValueError as err:
            raise ValueError(f"cannot make a tensor from this {type(data).__name__}: {err} "
                             "(nested lists must be rectangular)") from None
        if array.dtype == object:
            raise TypeError(f"cannot make a tensor from {type(data).__name__}; pass numbers, "
                            "(nested) lists of numbers, or an array")
        if dtype is None and array.dtype.kind in "iuf":
            array = array.astype(DEFAULT_FLOAT if array.dtype.kind == "f" else numpy.int64)
    if array.dtype.kind in "cOSUV":
        raise TypeError(f"tensors hold real numbers or booleans, not {array.dtype}")
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    if device is None:  # GPU arrays stay put; everything else goes to the default device
        device = "cuda" if backend.is_gpu_array(array) else backend.default_device()
    backend.module_for(device)  # validates the name, and that a GPU is usable
    return backend.to_device(array, device)


def _out_of_range(ids, n):
    """An id of ``ids`` outside [0, n), or None when all are inside (negative ids do not count from
    the end: torch refuses them in embedding, gather, one_hot and class targets)."""
    if ids.size == 0:
        return None
    low, high = int(ids.min()), int(ids.max())
    return low if low < 0 else high if high >= n else None


def _require_float(t, message):
    """Raise, as torch does, where an op is only defined on floats and ``t`` holds integers or bools."""
    if t.data.dtype.kind != "f":
        raise RuntimeError(f"{message}, got {t.dtype}; convert first with .float()")


def lift(value, like):
    """``value`` as a Tensor to combine with ``like``: a Python number takes like's dtype.

    As in torch, a Python float with an integer or boolean tensor gives float32.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, numpy.ndarray):
        xp = backend.get_array_module(like.data)
        kind = like.data.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(value, numbers.Integral)):
            return Tensor._from_op(xp.asarray(value, dtype=like.data.dtype), None, 0)
        if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
            return Tensor._from_op(xp.asarray(value, dtype=DEFAULT_FLOAT), None, 0)
        return Tensor._from_op(xp.asarray(value), None, 0)
    if isinstance(value, numpy.ndarray) or backend.is_gpu_array(value):
        return Tensor._from_op(value, None, 0)
    raise TypeError(f"cannot combine a Tensor with {type(value).__name__}; use a Tensor, an array "
                    "or a Python number")


def tensor(data, requires_grad=False, dtype=None, device=None):
    """A new leaf tensor holding a copy of ``data`` (as torch.tensor: in-place ops on it never
    change the array it came from). Arrays keep their dtype; Python ints become int64, floats
    float32, bools bool.

    device: "cpu" or "cuda" (default: arrays stay where they are, other data
    goes to the default device set by ``set_backend``).
    """
    if isinstance(data, Tensor):
        data = data.data
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
    shape = _shape_args(shape)
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


from . import autograd, functional, ops  # noqa: E402  (ops needs Tensor defined; Tensor's methods need ops)
