"""Tensor methods that change the tensor's memory: add_, mul_, copy_, x[index] = v, ...

Each bumps the version counter backward checks. Inside no_grad(), or when
nothing involved requires grad, that is all; otherwise the op is recorded in the
graph as torch records it (``_rebase``), and a leaf that requires grad refuses.
"""


import numpy

from . import autograd, backend, ops
from .tensor import DEFAULT_FLOAT, array_index, array_of, from_op, is_tensor, lift
from .tensor_args import check_clamp_bounds


class InPlaceMethods:
    """Methods of Tensor (tensor.py), which inherits them: see the module docstring."""

    __slots__ = ()  # Tensor keeps its fixed slots: a mixin adds no instance dict

    # y += x and friends change this tensor's memory and bump its version
    # counter (shared with its views), which backward checks. Inside no_grad(),
    # or when nothing involved requires grad, that is all. Otherwise the op is
    # recorded as torch records it (its rebase_history): see _rebase.
    def _records(self, name, other=None):
        """Whether in-place op ``name`` must be recorded in the graph: under grad mode, when this tensor
        or ``other`` requires grad. A leaf that requires grad is refused, as in torch."""
        if not autograd._state.enabled:
            return False
        if self._requires_grad:
            if self._creator is None:
                raise RuntimeError(
                    f"{name}: a leaf tensor that requires grad is used in an in-place operation (as "
                    "torch refuses); do it inside tg.no_grad() (as an optimizer step does), or write "
                    "w = w - lr * g")
            return True
        return is_tensor(other) and other._requires_grad

    def _rebase(self, name, compute, keeps_self=False):
        """Record in-place op ``name`` in the graph, as torch does, and run it; returns self.

        ``compute(old)`` records the out-of-place op on ``old``, a stand-in that
        holds this tensor's place in the graph before the op; its result is
        written into this tensor's memory and this tensor becomes that op's
        output. Ops recorded earlier still see ``old`` (autograd.as_recorded),
        and those that saved this tensor's values raise at backward, as the
        version counter says they changed. ``keeps_self``: the op's backward
        reads the old values (mul_, div_), so ``compute`` gets a copy of them.
        """
        if len(self._vbox) > 2:
            raise RuntimeError(
                f"{name}: in-place operation that needs a gradient on a tensor that shares memory with a "
                "view (x[i], reshape, transpose, unbind, ...). tensorgrad does not rewrite the views' "
                "history as torch does: write y = y + x, or .clone() before taking the view")
        self._bump_version()  # first: the ops recorded below come after it, the earlier ones before
        old = from_op(self.array, self._creator, self._index)
        old._requires_grad, old._vbox = self._requires_grad, self._vbox
        old._before = getattr(self, "_before", None)
        src = old
        if keeps_self:  # the same place in the graph, with the old values kept in memory of their own
            src = from_op(self.array.copy(), self._creator, self._index)
            src._requires_grad = self._requires_grad
        result = compute(src)
        if result.shape != self.shape:
            raise RuntimeError(f"{name}: output with shape {self.shape} cannot hold the result of shape "
                               f"{result.shape} (the other operand broadcasts to a larger shape)")
        if not numpy.can_cast(result.dtype, self.dtype, "same_kind"):
            raise RuntimeError(f"{name}: result type {result.dtype} can't be cast to the desired output "
                               f"type {self.dtype}; convert first, e.g. x = x.float()")
        backend.get_array_module(self.array).copyto(self.array, result.array, casting="same_kind")
        fn = result._creator
        self._before = (autograd.inplace_ops[0], old)
        self._creator, self._index, self._requires_grad = fn, result._index, True
        if fn.saves_output:
            fn.output_version = self._vbox
        return self

    def _inplace(self, name, ufunc, other, alpha=1, keeps_self=False):
        if self._records(name, other):
            op = name[:-1]  # add_ records add, ...
            return self._rebase(name, lambda old: getattr(old, op)(other) if alpha == 1
                                else getattr(old, op)(other, alpha), keeps_self)
        raw = array_of(other) if alpha == 1 else array_of(other) * alpha
        try:
            ufunc(self.array, raw, out=self.array, casting="same_kind")
        except TypeError:
            result = numpy.result_type(self.array.dtype, getattr(raw, "dtype", raw))
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
        """self *= other, in place; returns self."""
        return self._inplace("mul_", _ufunc("multiply", self), other, keeps_self=True)

    def div_(self, other):
        """self /= other, in place; returns self."""
        return self._inplace("div_", _ufunc("true_divide", self), other, keeps_self=True)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def _assign(self, name, index, value):
        """self[index] = value (broadcast, cast to this dtype), in place; returns self."""
        if self._records(name, value):
            if is_tensor(value) and value.device != self.device:
                value = value.to(self.device)
            return self._rebase(name, lambda old: ops.SetItem.apply(old, lift(value, old), index=index))
        raw = array_of(value)
        if hasattr(raw, "shape") and backend.device_of(raw) != self.device:
            raw = backend.to_device(raw, self.device)
        try:
            self.array[index] = raw
        except (ValueError, IndexError) as err:
            raise type(err)(f"{name} on a tensor of shape {self.shape}: cannot write shape "
                            f"{tuple(getattr(raw, 'shape', ()))} there: {err}") from None
        self._bump_version()
        return self

    def fill_(self, value):
        """Set every element to ``value``, in place; returns self."""
        return self._assign("fill_", ..., value)

    def zero_(self):
        return self.fill_(0)

    def uniform_(self, a=0.0, b=1.0):
        """Fill with draws from U(a, b), in place (seeded by tg.manual_seed); returns self."""
        from . import init  # imported here: init needs Tensor, which needs this module
        if self._records("uniform_"):
            return self.copy_(init.uniform_(self.detach().clone(), a, b))
        return init.uniform_(self, a, b)

    def normal_(self, mean=0.0, std=1.0):
        """Fill with draws from N(mean, std^2), in place (seeded by tg.manual_seed); returns self."""
        from . import init  # imported here: init needs Tensor, which needs this module
        if self._records("normal_"):
            return self.copy_(init.normal_(self.detach().clone(), mean, std))
        return init.normal_(self, mean, std)

    def copy_(self, src):
        """Copy ``src`` (broadcast to this shape, cast to this dtype) into this tensor; returns self."""
        try:
            return self._assign("copy_", ..., src)
        except ValueError as err:
            raise RuntimeError(f"copy_: cannot copy shape {tuple(getattr(array_of(src), 'shape', ()))} into "
                               f"shape {self.shape}: {err}") from None

    def clamp_(self, min=None, max=None):
        """Clamp every element into [min, max], in place; returns self."""
        check_clamp_bounds(min, max)
        if self._records("clamp_"):
            return self._rebase("clamp_", lambda old: old.clamp(min, max))
        backend.get_array_module(self.array).clip(self.array, array_of(min), array_of(max), out=self.array)
        self._bump_version()
        return self

    clip_ = clamp_

    def relu_(self):
        """max(x, 0), in place; returns self."""
        if self.array.dtype.kind == "b":
            raise RuntimeError("relu_: boolean inputs are not supported (as in torch); convert with .float()")
        if self._records("relu_"):
            return self._rebase("relu_", lambda old: old.relu())
        backend.get_array_module(self.array).maximum(self.array, 0, out=self.array)
        self._bump_version()
        return self

    def masked_fill_(self, mask, value):
        """``value`` where the boolean ``mask`` (broadcast to this shape) is true, in place; returns self."""
        if self._records("masked_fill_", value):
            return self._rebase("masked_fill_", lambda old: old.masked_fill(mask, value))
        filled = self.masked_fill(mask, value)  # checks the mask and the value as masked_fill does
        self.array[...] = filled.array
        self._bump_version()
        return self

    def __setitem__(self, index, value):
        """x[index] = value, in place (value broadcast and cast to x's dtype)."""
        index = ops.index_on(backend.get_array_module(self.array), array_index(index))
        self._assign("x[index] = value", index, value)


def _ufunc(name, t):
    return getattr(backend.get_array_module(t.array), name)
