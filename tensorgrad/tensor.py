"""The Tensor: an array (NumPy or CuPy) plus what autodiff needs to know about it.

A tensor made by an op remembers that op as its ``_creator``; the ops remember
their inputs. That chain is the computation graph ``backward()`` walks.

Where PyTorch has a name for a method, it has PyTorch's meaning here: ``dim=``
and ``keepdim=`` (``axis=`` and ``keepdims=`` are accepted as aliases),
``transpose(d0, d1)`` swaps two dims, ``max(dim)`` returns (values, indices),
``==`` is elementwise, Python ints make int64 tensors, in-place ops bump a
version counter that backward checks and, on a tensor in the graph, are
recorded in it as torch records them. ``.data`` is a Tensor outside the graph
and ``.grad`` a Tensor; the raw NumPy/CuPy array is ``.array``.

This file holds what every tensor is: its slots, facts (shape, dtype, device),
autodiff state, .data/.grad and conversions, and the helpers that turn other
values into arrays and tensors. The methods come in groups, one module each,
which Tensor inherits:

    tensor_math.py        operators, comparisons, elementwise functions
    tensor_reductions.py  sum, mean, max, var, norm, sort, topk, cumsum, ...
    tensor_shape.py       reshape, transpose, expand, split, x[index], ...
    tensor_inplace.py     add_, copy_, x[index] = v, ... and how they enter the graph
    tensor_args.py        the dim/shape argument conventions they share

The creation functions (tg.tensor, zeros, arange, ...) are in creation.py.
"""

import numbers

import numpy

from . import backend
from .tensor_args import checked_dim

DEFAULT_FLOAT = numpy.float32

_new = object.__new__


def from_op(array, creator, index):
    """A tensor made by an op (or a plain result when ``creator`` is None): no checks, no copies."""
    t = _new(Tensor)  # object.__new__ directly: Tensor() would run the checks of __init__
    if isinstance(array, numpy.generic):  # NumPy turns 0-d results into scalars
        array = numpy.asarray(array)
    t.array = array
    t._grad = None
    t._requires_grad = creator is not None
    t._creator = creator
    t._index = index
    t._retains_grad = False
    t._vbox = [0, 0]
    return t


def is_tensor(value):
    """True for a Tensor (as torch.is_tensor)."""
    return isinstance(value, Tensor)


def array_of(value):
    """A Tensor's array; anything else as it is."""
    return value.array if isinstance(value, Tensor) else value


def array_index(index):
    """Tensors inside an index become their arrays; lists become arrays."""
    if isinstance(index, tuple):
        return tuple(array_index(i) for i in index)
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, list):
        return numpy.asarray(index)
    return index


def as_array(data, dtype=None, device=None):
    """``data`` as a backend array, with torch's dtype rules.

    Arrays keep their dtype; Python data becomes int64 (ints), bool (bools) or
    float32 (floats, or ints and floats mixed).
    """
    if isinstance(data, Tensor):
        data = data.array
    if backend.is_gpu_array(data):
        backend._load_cupy()
    if isinstance(data, numpy.ndarray) or backend.is_gpu_array(data):
        array = data
    elif isinstance(data, numpy.generic):
        array = numpy.asarray(data)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
            data = [backend.to_numpy(d.array) if isinstance(d, Tensor) else d for d in data]
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


def lift(value, like):
    """``value`` as a Tensor to combine with ``like``: a Python number takes like's dtype.

    As in torch, a Python float with an integer or boolean tensor gives float32.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, numbers.Number) and not isinstance(value, numpy.ndarray):
        xp = backend.get_array_module(like.array)
        kind = like.array.dtype.kind
        if kind == "f" or (kind in "iu" and isinstance(value, numbers.Integral)):
            return from_op(xp.asarray(value, dtype=like.array.dtype), None, 0)
        if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
            return from_op(xp.asarray(value, dtype=DEFAULT_FLOAT), None, 0)
        return from_op(xp.asarray(value), None, 0)
    if isinstance(value, numpy.ndarray) or backend.is_gpu_array(value):
        return from_op(value, None, 0)
    raise TypeError(f"cannot combine a Tensor with {type(value).__name__}; use a Tensor, an array "
                    "or a Python number")



# The Tensor's methods, one group per module; they use the helpers above.
from .tensor_inplace import InPlaceMethods  # noqa: E402
from .tensor_math import MathMethods  # noqa: E402
from .tensor_reductions import ReductionMethods  # noqa: E402
from .tensor_shape import ShapeMethods  # noqa: E402


class Tensor(MathMethods, ReductionMethods, ShapeMethods, InPlaceMethods):
    """An n-dimensional array that can record the ops applied to it.

    array         the NumPy or CuPy array (Chainer's name; torch has none)
    data          a Tensor sharing ``array``, outside the graph (as torch's .array)
    grad          d(loss)/d(this tensor) after backward(): a Tensor of the same shape
                  and device, or None
    requires_grad whether ops on this tensor are recorded for backward()
    """
    # _before is set only on a tensor an in-place op was recorded on (see _rebase).
    __slots__ = ("array", "_grad", "_requires_grad", "_creator", "_index", "_retains_grad", "_vbox",
                 "_before", "__weakref__")

    __array_priority__ = 1000  # make numpy_array + tensor call Tensor.__radd__

    __hash__ = object.__hash__  # == is elementwise, so hashing stays by identity (as in torch)

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        self.array = as_array(data, dtype=dtype, device=device)
        self._grad = None
        self._requires_grad = False
        self._creator = None
        self._index = 0
        self._retains_grad = False
        self._vbox = [0, 0]
        if requires_grad:
            self.requires_grad_()

    _from_op = staticmethod(from_op)  # Tensor._from_op(array, creator, index): for modules that make tensors

    def _bump_version(self):
        """Record an in-place change: one more version, stamped with the new global count (see autograd)."""
        count = autograd.inplace_ops
        count[0] += 1
        box = self._vbox
        box[0] += 1
        box[1] = count[0]

    def _view(self, out):
        """Mark ``out`` as sharing this tensor's memory: in-place writes to either bump one version.

        The box gets a third entry saying that views share it: an in-place op that needs
        a gradient refuses such memory (see _rebase).
        """
        box = self._vbox
        if len(box) == 2:
            box.append(True)
        out._vbox = box
        return out

    @property
    def shape(self):
        return tuple(self.array.shape)

    @property
    def ndim(self):
        return self.array.ndim

    def dim(self):
        """The number of dimensions (as ``ndim``)."""
        return self.array.ndim

    def size(self, dim=None):
        """The shape as a tuple, or the size of one ``dim``."""
        if dim is None:
            return self.shape
        return self.array.shape[checked_dim(dim, self.ndim, "size")]

    def numel(self):
        """The number of elements."""
        return int(self.array.size)

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        return backend.device_of(self.array)

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
        return self.array.shape[0]

    def __iter__(self):
        """Iterate over dim 0 (one op for all the slices, as ``unbind(0)``)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __format__(self, spec):
        """f"{loss:.4f}" formats a 0-d tensor's value, as in PyTorch (other tensors take no format spec)."""
        if self.array.ndim == 0 and spec:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __repr__(self):
        body = numpy.array2string(backend.to_numpy(self.array), separator=", ", precision=4,
                                  threshold=20, edgeitems=2, prefix="tensor(")
        extra = ""
        if self._creator is not None:
            extra = f", grad_fn={type(self._creator).__name__}"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self.grad is not None:
            extra += ", grad=set"
        return f"tensor({body}, shape={self.shape}, dtype={self.dtype}, device={self.device}{extra})"

    def requires_grad_(self, flag=True):
        """Turn gradient recording for this leaf on or off (in place); returns self."""
        if flag and self.array.dtype.kind != "f":
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
        out = from_op(self.array, None, 0)
        out._vbox = self._vbox  # one version counter, as torch's detach(); not a view in the graph's sense
        return out

    def clone(self):
        """A copy with its own memory; gradients flow back unchanged."""
        return ops.Clone.apply(self)

    def zero_grad(self):
        self._grad = None

    @property
    def data(self):
        """A new Tensor sharing this one's memory, outside the graph (torch's ``.data``).

        It records nothing and has its own version counter, so in-place changes
        through it (``p.data.add_(g, alpha=-lr)``) are not seen by backward's
        checks, exactly as in torch: prefer ``with tg.no_grad():`` and ``p.add_``.
        The raw NumPy/CuPy array is ``.array``.
        """
        return from_op(self.array, None, 0)

    @data.setter
    def data(self, value):
        """``t.data = other`` gives t other's memory (shape and dtype too), as in torch; an array is
        taken as it is."""
        array = value.array if isinstance(value, Tensor) else as_array(value, device=self.device)
        if self._requires_grad and array.dtype.kind != "f":
            raise TypeError(f"data set to a {array.dtype} array on a tensor that requires grad; it must "
                            "hold floats (as in torch)")
        self.array = array

    @property
    def grad(self):
        """d(loss)/d(this tensor) after backward(): a Tensor of this shape, dtype and device, or None."""
        return self._grad

    @grad.setter
    def grad(self, value):
        """Set or clear the gradient: None, a Tensor or an array of this tensor's shape and dtype (an
        array is wrapped, not copied)."""
        if value is None:
            self._grad = None
            return
        if not isinstance(value, Tensor):
            if not (isinstance(value, numpy.ndarray) or backend.is_gpu_array(value)):
                raise TypeError(f"grad must be a Tensor, an array or None, got {type(value).__name__}")
            value = from_op(value, None, 0)
        array = value.array
        if tuple(array.shape) != self.shape:
            raise RuntimeError(f"attempting to assign a gradient of shape {tuple(array.shape)} to a tensor "
                               f"of shape {self.shape}; they must be the same (as in torch)")
        if array.dtype != self.array.dtype:
            raise RuntimeError(f"attempting to assign a gradient of dtype {array.dtype} to a tensor of dtype "
                               f"{self.dtype}; convert it first, e.g. g.to({self.dtype})")
        if backend.device_of(array) != self.device:
            raise RuntimeError(f"attempting to assign a gradient on {backend.device_of(array)!r} to a tensor "
                               f"on {self.device!r}; move it first with .to({self.device!r})")
        self._grad = value

    def numpy(self):
        """The data as a NumPy array (shares memory on the CPU, copied off a GPU)."""
        return backend.to_numpy(self.array)

    def __array__(self, dtype=None, copy=None):
        """np.asarray(t): the data as a NumPy array of its own dtype (never an object array)."""
        array = backend.to_numpy(self.array)
        if copy is False and (array is not self.array or (dtype is not None and array.dtype != dtype)):
            raise ValueError("np.asarray(tensor, copy=False): this tensor cannot be converted without "
                             "a copy (it is on a GPU, or the dtype differs)")
        if dtype is not None:
            array = array.astype(dtype, copy=False)
        return array.copy() if copy else array

    def item(self):
        """The single element as a Python number."""
        if self.array.size != 1:
            raise ValueError(f"item() needs a tensor with one element, this one has shape {self.shape}")
        return self.array.item()

    def tolist(self):
        return backend.to_numpy(self.array).tolist()

    def __bool__(self):
        n = self.array.size
        if n != 1:
            what = "no values" if n == 0 else "more than one value"
            raise RuntimeError(f"Boolean value of Tensor with {what} is ambiguous; reduce it "
                               "first, e.g. (a == b).all() or (x > 0).any()")
        return bool(self.array.item())

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __index__(self):
        if self.array.dtype.kind not in "iu" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.array.item())

    def _scalar(self, name):
        if self.array.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars; "
                             f"{name}() got a tensor of shape {self.shape}")
        return self.array.item()

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
            return from_op(self.array.astype(dtype), None, 0)
        return ops.Cast.apply(self, dtype=dtype)

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
        dim = checked_dim(dim, self.ndim, "narrow")
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


from . import autograd, ops  # noqa: E402  (autograd and the ops need the helpers above to import)
