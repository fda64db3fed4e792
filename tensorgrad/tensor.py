"""The Tensor: an array (NumPy or CuPy) plus what autodiff needs to know about it.

A tensor made by an op remembers that op as its ``_creator``; the ops remember
their inputs. That chain is the computation graph ``backward()`` walks.
"""

import numbers

import numpy

from . import backend

DEFAULT_FLOAT = numpy.float32


class Tensor:
    """An n-dimensional array that can record the ops applied to it.

    data          the NumPy or CuPy array
    grad          d(loss)/d(this tensor) after backward(), same shape and device, or None
    requires_grad whether ops on this tensor are recorded for backward()
    """

    __slots__ = ("data", "grad", "requires_grad", "_creator", "_index", "_retains_grad", "__weakref__")
    __array_priority__ = 1000  # make numpy_array + tensor call Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.data = as_array(data, dtype=dtype, device=device)
        self.grad = None
        self.requires_grad = False
        self._creator = None
        self._index = 0
        self._retains_grad = False
        if requires_grad:
            self.requires_grad_()

    @classmethod
    def _from_op(cls, data, creator, index):
        """A tensor made by an op (or a plain result when ``creator`` is None): no checks, no copies."""
        t = cls.__new__(cls)
        if isinstance(data, numpy.generic):  # NumPy turns 0-d results into scalars
            data = numpy.asarray(data)
        t.data = data
        t.grad = None
        t.requires_grad = creator is not None
        t._creator = creator
        t._index = index
        t._retains_grad = False
        return t

    # ------------------------------------------------------------------ facts
    @property
    def shape(self):
        return tuple(self.data.shape)

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def size(self):
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

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

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
            raise RuntimeError("requires_grad_(False) on a tensor made by an op; use .detach()")
        self.requires_grad = flag
        return self

    def retain_grad(self):
        """Keep .grad for this intermediate (non-leaf) tensor after backward(); returns self."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad: no gradient "
                               "will ever reach it. Create it with requires_grad=True (or compute it "
                               "from tensors that have it)")
        self._retains_grad = True
        return self

    def backward(self, grad=None, retain_graph=False):
        """Backpropagate from this tensor; gradients accumulate in the leaves' ``.grad``.

        grad: d(loss)/d(self), needed unless this tensor holds a single element.
        retain_graph: keep the graph so backward() can run through it again.
        """
        from .autograd import backward
        backward(self, grad, retain_graph)

    def detach(self):
        """The same data as a new leaf that records nothing: the graph is cut here."""
        return Tensor._from_op(self.data, None, 0)

    def zero_grad(self):
        self.grad = None

    # ------------------------------------------------------------- conversion
    def numpy(self):
        """The data as a NumPy array (shares memory on the CPU, copied off a GPU)."""
        return backend.to_numpy(self.data)

    def item(self):
        """The single element as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def to(self, device):
        """This tensor on ``device`` ("cpu" or "cuda"); gradients flow back across the move."""
        backend.module_for(device)  # validates the name, and that a GPU is usable
        if self.device == device:
            return self
        return ops.ToDevice.apply(self, device=device)

    def float(self):
        return self.astype(numpy.float32)

    def double(self):
        return self.astype(numpy.float64)

    def astype(self, dtype):
        """A copy with another dtype; gradients flow back (cast to the original dtype)."""
        if numpy.dtype(dtype) == self.dtype:
            return self
        return ops.Cast.apply(self, dtype=numpy.dtype(dtype))

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

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor) or not isinstance(exponent, numbers.Real):
            raise TypeError(f"tensor ** exponent needs a Python number as exponent, got "
                            f"{type(exponent).__name__}; for a tensor exponent write (y * x.log()).exp()")
        return ops.Pow.apply(self, exponent=float(exponent))

    def __rpow__(self, base):
        raise TypeError("number ** tensor is not supported; write (x * math.log(base)).exp()")

    def __matmul__(self, other):
        return ops.MatMul.apply(self, lift(other, self))

    def __rmatmul__(self, other):
        return ops.MatMul.apply(lift(other, self), self)

    # Comparisons give boolean tensors that record nothing (for masks and tg.where).
    def __lt__(self, other):
        return Tensor._from_op(self.data < _raw(other), None, 0)

    def __le__(self, other):
        return Tensor._from_op(self.data <= _raw(other), None, 0)

    def __gt__(self, other):
        return Tensor._from_op(self.data > _raw(other), None, 0)

    def __ge__(self, other):
        return Tensor._from_op(self.data >= _raw(other), None, 0)

    # ------------------------------------------------------------ elementwise
    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def tanh(self):
        return ops.Tanh.apply(self)

    def sigmoid(self):
        return ops.Sigmoid.apply(self)

    def relu(self):
        return ops.Relu.apply(self)

    # ------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims=False):
        return ops.Sum.apply(self, axis=_axes(axis, self.ndim, "sum"), keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        return ops.Mean.apply(self, axis=_axes(axis, self.ndim, "mean"), keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        return ops.Max.apply(self, axis=_axes(axis, self.ndim, "max"), keepdims=keepdims)

    # ----------------------------------------------------------------- shape
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(reversed(range(self.ndim)))
        elif sorted(a % self.ndim if -self.ndim <= a < self.ndim else a
                    for a in axes) != list(range(self.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the {self.ndim} axes "
                             f"of a tensor of shape {self.shape}")
        return ops.Transpose.apply(self, axes=tuple(a % self.ndim for a in axes))

    @property
    def T(self):
        return self.transpose()

    def __getitem__(self, index):
        return ops.GetItem.apply(self, index=_raw_index(index))


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


def _axes(axis, ndim, name):
    """Normalise an axis argument to None or a tuple of non-negative ints."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise ValueError(f"{name}: axis {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(a % max(ndim, 1) for a in axes))


def as_array(data, dtype=None, device=None):
    """``data`` as a backend array: arrays keep their dtype, Python numbers and lists become float32."""
    if isinstance(data, Tensor):
        data = data.data
    if backend.is_gpu_array(data):
        backend._load_cupy()
    if isinstance(data, numpy.ndarray) or backend.is_gpu_array(data):
        array = data
    elif isinstance(data, numpy.generic):
        array = numpy.asarray(data)
    else:
        try:
            array = numpy.asarray(data)
        except ValueError as err:
            raise ValueError(f"cannot make a tensor from this {type(data).__name__}: {err} "
                             "(nested lists must be rectangular)") from None
        if array.dtype == object:
            raise TypeError(f"cannot make a tensor from {type(data).__name__}; pass numbers, "
                            "(nested) lists of numbers, or an array")
        if array.dtype.kind in "iuf" and dtype is None:
            array = array.astype(DEFAULT_FLOAT)
    if array.dtype.kind in "cOSUV":
        raise TypeError(f"tensors hold real numbers or booleans, not {array.dtype}")
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    if device is None:  # GPU arrays stay put; everything else goes to the default device
        device = "cuda" if backend.is_gpu_array(array) else backend.default_device()
    backend.module_for(device)  # validates the name, and that a GPU is usable
    return backend.to_device(array, device)


def lift(value, like):
    """``value`` as a Tensor to combine with ``like``: a Python number takes like's dtype."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, numpy.ndarray):
        xp = backend.get_array_module(like.data)
        kind = like.data.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(value, numbers.Integral)):
            return Tensor._from_op(xp.asarray(value, dtype=like.data.dtype), None, 0)
        return Tensor._from_op(xp.asarray(value), None, 0)
    if isinstance(value, numpy.ndarray) or backend.is_gpu_array(value):
        return Tensor._from_op(value, None, 0)
    raise TypeError(f"cannot combine a Tensor with {type(value).__name__}; use a Tensor, an array "
                    "or a Python number")


def tensor(data, requires_grad=False, dtype=None, device=None):
    """A new leaf tensor. Arrays keep their dtype; Python numbers and lists become float32.

    device: "cpu" or "cuda" (default: arrays stay where they are, other data
    goes to the default device set by ``set_backend``).
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, device=device)


def creation_shape(shape):
    """``zeros(2, 3)`` and ``zeros((2, 3))`` alike: the shape as a tuple of non-negative ints."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
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


from . import ops  # noqa: E402  (ops needs Tensor defined; Tensor's methods need ops)
