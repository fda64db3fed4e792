"""Tensors made from a shape alone (``empty``) or like another tensor (``x.new_zeros(...)``), and
torch's legacy typed constructors (``LongTensor([1, 2])``, ``x.type(torch.float64)``).

These are torch names for things tensorgrad already does (zeros, full, tensor, astype); they are
here so code typed from torch runs unchanged.
"""

import numbers

import numpy

from .creation import creation_shape, full, tensor, zeros
from .tensor import Tensor


def empty(*size, dtype=None, device=None, requires_grad=False):
    """A tensor of shape ``size`` whose values are not to be read before written, as torch.empty
    (here they are zeros, so a forgotten write shows up as zeros rather than leftover memory)."""
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(t, dtype=None, device=None, requires_grad=False):
    """``empty`` with ``t``'s shape, dtype and device (unless given)."""
    return zeros(t.shape, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


def new_full(t, size, fill_value, dtype=None, device=None, requires_grad=False):
    """x.new_full(size, v): ``fill_value`` in shape ``size`` (``(2, 3)``, or ``((2, 3),)`` as
    new_zeros(*size) receives it), with x's dtype and device unless given."""
    return full(creation_shape(size), fill_value, dtype=dtype or t.dtype, device=device or t.device,
                requires_grad=requires_grad)


def new_tensor(t, data, dtype=None, device=None, requires_grad=False):
    """x.new_tensor(data): a copy of ``data`` with x's dtype and device unless given (as torch)."""
    return tensor(data, dtype=dtype or t.dtype, device=device or t.device, requires_grad=requires_grad)


# ----------------------------------------------------------- typed constructors
class _TypedTensor(type):
    """The class of LongTensor etc.: calling one makes a tensor of its dtype; isinstance checks the dtype."""

    def __call__(cls, *args, device=None):
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            return tensor(args[0], dtype=cls.dtype, device=device)  # LongTensor([1, 2]), from data
        return zeros(*args, dtype=cls.dtype, device=device)  # LongTensor(2, 3), a shape

    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __repr__(cls):
        return f"tensorgrad.{cls.__name__}"


def _typed(name, dtype, doc):
    return _TypedTensor(name, (), {"dtype": numpy.dtype(dtype), "__doc__": doc})


FloatTensor = _typed("FloatTensor", numpy.float32, "FloatTensor(data) or FloatTensor(*shape): float32.")
DoubleTensor = _typed("DoubleTensor", numpy.float64, "DoubleTensor(data) or DoubleTensor(*shape): float64.")
HalfTensor = _typed("HalfTensor", numpy.float16, "HalfTensor(data) or HalfTensor(*shape): float16.")
LongTensor = _typed("LongTensor", numpy.int64, "LongTensor(data) or LongTensor(*shape): int64.")
IntTensor = _typed("IntTensor", numpy.int32, "IntTensor(data) or IntTensor(*shape): int32.")
BoolTensor = _typed("BoolTensor", numpy.bool_, "BoolTensor(data) or BoolTensor(*shape): bool.")
_TYPES = {cls.dtype: cls for cls in (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor,
                                      BoolTensor)}
_BY_NAME = {cls.__name__: cls for cls in _TYPES.values()}


def type_name(t):
    """x.type() without an argument: the legacy type name, "torch.FloatTensor" as torch prints it
    (so code comparing against torch's strings keeps working)."""
    cls = _TYPES.get(numpy.dtype(t.dtype))
    name = cls.__name__ if cls is not None else f"{numpy.dtype(t.dtype)}Tensor"
    return ("torch.cuda." if t.device == "cuda" else "torch.") + name


def type_cast(t, dtype):
    """x.type(dtype): x cast to a dtype, a typed class (tg.LongTensor) or its name ("torch.LongTensor")."""
    if isinstance(dtype, str) and dtype.rsplit(".", 1)[-1] in _BY_NAME:
        cuda = ".cuda." in dtype
        out = t.astype(_BY_NAME[dtype.rsplit(".", 1)[-1]].dtype)
        return out.to("cuda") if cuda else out
    if isinstance(dtype, _TypedTensor):
        return t.astype(dtype.dtype)
    try:
        return t.astype(numpy.dtype(dtype))
    except TypeError:
        raise TypeError(f"type: {dtype!r} is not a dtype; pass e.g. tg.float64, tg.LongTensor or "
                        "'torch.LongTensor'") from None
