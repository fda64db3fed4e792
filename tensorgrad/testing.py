"""A simulated GPU for CPU-only CI: arrays that refuse to mix with NumPy's, as CuPy's do.

CI has no GPU, so code that allocates with ``numpy`` where it should use the
tensor's array module (``xp = get_array_module(x)``) passes every CPU test and
fails only on a student's GPU. The simulator moves that failure into CI:

    from tensorgrad.testing import count_ops, simulated_device

    with simulated_device():                  # device "cuda" is the simulator in this block
        layer = tg.nn.Linear(8, 4).to("cuda")
        with count_ops() as ops:
            layer(tg.randn(16, 8, device="cuda")).tanh().sum().backward()
    ops.total, ops.by_name.most_common(3)     # array ops: a stand-in for kernel launches

Design:

- ``SimArray`` wraps a ``numpy.ndarray`` and follows CuPy's rules: NumPy
  functions and ufuncs called on it (NEP 13 ``__array_ufunc__``, NEP 18
  ``__array_function__``) run on the wrapped array and return SimArrays; an
  operation that mixes it with a host ``numpy.ndarray`` (even a 0-d one) raises
  ``TypeError: Unsupported type <class 'numpy.ndarray'>``; Python and NumPy
  scalars mix freely. Implicit conversion to the host (``numpy.asarray(a)``)
  raises CuPy's TypeError; ``a.get()``, ``xp.asnumpy(a)``, ``item()``,
  ``tolist()`` and ``float()`` are the explicit copies. Where CuPy takes a host
  array, so does the simulator: index arrays (CuPy copies them over, counted as
  "host_to_device") and integer arrays giving shapes or axes (read on the
  host). It is stricter in one place: a host array assigned into a SimArray
  (``a[i] = host``) raises, where CuPy copies it over for an integer-array index.
- ``xp`` is a module object standing in for ``cupy``: ``xp.zeros``, ``xp.exp``,
  ``xp.add.at``, ``xp.concatenate``, ... are NumPy's own functions, generated on
  first use by wrapping them (so every NumPy name works, including ones CuPy
  lacks); ``xp.asarray`` / ``xp.array`` are the host-to-device copies and
  ``xp.random.default_rng(seed)`` draws NumPy's stream as SimArrays (a real
  GPU draws other numbers; the simulator draws the CPU's, so results compare
  exactly).
- It poses as device ``"cuda"``: ``simulated_device()`` installs ``xp`` where
  tensorgrad keeps the CuPy module (``backend._cupy``), so the code paths a
  GPU takes are the ones that run: ``_cupy is not None`` guards, the device
  check that refuses CPU + GPU tensors in one op, ``to_numpy`` through
  ``asnumpy``, ``Tensor.to("cuda")``, ``Module.to("cuda")``,
  ``tg.randn(..., device="cuda")``, the ``--device cuda`` option of the CLI. A
  distinct device name would exercise code written for the simulator instead.
  The default device stays "cpu" unless the block calls ``set_backend("cupy")``,
  so a layer that creates a tensor without ``device=`` next to GPU inputs fails
  here as it would on a GPU. Tensors made inside the block belong to it: don't
  keep them past its end. CuPy-only APIs (``cupyx``, raw kernels) are not
  simulated: code behind them still needs a real GPU.
- Counting: ``count_ops()`` counts, by name, every operation that makes or writes
  device memory (ufuncs, reductions, matmuls, copies, allocations, in-place
  writes, host<->device copies as "host_to_device" / "device_to_host"); views
  (reshape, transpose, basic slicing) cost no kernel on a GPU and are not counted.
"""

import collections
import contextlib
import numbers
import types

import numpy

from . import backend
from . import random as _random

HOST_CONVERSION_MESSAGE = ("Implicit conversion to a NumPy array is not allowed. "
                           "Please use `.get()` to construct a NumPy array explicitly.")


# --------------------------------------------------------------------- counting
class OpCounter:
    """Array operations counted on the simulated device: ``total`` and ``by_name`` (a Counter)."""

    def __init__(self):
        self.by_name = collections.Counter()

    @property
    def total(self):
        return sum(self.by_name.values())

    def __repr__(self):
        top = ", ".join(f"{name}={n}" for name, n in self.by_name.most_common(6))
        return f"OpCounter(total={self.total}: {top}{', ...' if len(self.by_name) > 6 else ''})"


_counters = []  # the OpCounters of the count_ops() blocks now open


@contextlib.contextmanager
def count_ops():
    """Count the simulated device's array operations made inside the block; yields an OpCounter."""
    counter = OpCounter()
    _counters.append(counter)
    try:
        yield counter
    finally:
        _counters.remove(counter)


def _count(name):
    for counter in _counters:
        counter.by_name[name] += 1


# ------------------------------------------------------------ wrap and unwrap
def _host_array_error(where):
    return TypeError(f"Unsupported type {numpy.ndarray} (in {where}: a host NumPy array mixed with "
                     "arrays on the simulated GPU, which CuPy refuses; allocate it with the data's "
                     "array module, xp = tensorgrad.get_array_module(x), or copy it over with xp.asarray)")


def _unwrap(value, where, inputs, host=None):
    """``value`` with each SimArray replaced by its NumPy array (collected in ``inputs``).

    A host numpy.ndarray raises CuPy's TypeError, except where CuPy takes one too:
    host="copy" (indices, xp.asarray: copied to the device, marked by a None in
    ``inputs``) and host="ints" (shapes and axes as integer arrays, read on the host).
    """
    kind = type(value)
    if kind is SimArray:
        inputs.append(value._a)
        return value._a
    if kind is tuple or kind is list:
        return kind(_unwrap(v, where, inputs, host) for v in value)
    if isinstance(value, numpy.ndarray):
        if host == "copy":
            inputs.append(None)
        elif not (host == "ints" and value.dtype.kind in "iu"):
            raise _host_array_error(where)
    return value


def _wrap(value):
    """NumPy results as SimArrays (scalars as 0-d arrays, as CuPy returns them)."""
    if isinstance(value, numpy.ndarray):
        return SimArray(value)
    if isinstance(value, numpy.generic):
        return SimArray(numpy.asarray(value))
    kind = type(value)
    if kind is tuple or kind is list:
        return kind(_wrap(v) for v in value)
    return value


def _new_memory(result, inputs):
    """True when ``result`` holds an array that is no view of an input: a kernel wrote it."""
    if isinstance(result, (tuple, list)):
        return any(_new_memory(r, inputs) for r in result)
    if isinstance(result, numpy.generic):
        return True
    if not isinstance(result, numpy.ndarray):
        return False
    return not any(a is not None and numpy.may_share_memory(result, a) for a in inputs)


# Routines whose integer arguments are shapes or axes, which CuPy also takes as host arrays.
_SHAPE_ROUTINES = frozenset({"transpose", "reshape", "moveaxis", "swapaxes", "broadcast_to", "split",
                             "zeros", "ones", "empty", "full"})


def _call(name, func, args, kwargs, host=None, owner=None):
    """Run NumPy's ``func`` on the arrays inside SimArrays; count it; wrap the result.

    host: see _unwrap. owner: the array whose bound method ``func`` is (a
    result that views it is no new memory).
    """
    inputs = [] if owner is None else [owner]
    if host is None and name in _SHAPE_ROUTINES:
        host = "ints"
    raw_args = _unwrap(args, name, inputs, host)
    raw_kwargs = {k: _unwrap(v, name, inputs) for k, v in kwargs.items()}
    result = func(*raw_args, **raw_kwargs)
    if _counters:
        if any(a is None for a in inputs):
            _count("host_to_device")
        if result is None or kwargs.get("out") is not None or _new_memory(result, inputs):
            _count(name)  # None: an in-place op (copyto, add.at, fill) wrote into an input
    return _wrap(result)


# ------------------------------------------------------------------- SimArray
def _is_operand(value):
    return isinstance(value, (SimArray, numbers.Number, numpy.generic, numpy.ndarray))


def _binary_operators(ufunc):
    name = ufunc.__name__

    def forward(self, other):
        return _call(name, ufunc, (self, other), {}) if _is_operand(other) else NotImplemented

    def reflected(self, other):
        return _call(name, ufunc, (other, self), {}) if _is_operand(other) else NotImplemented

    def inplace(self, other):
        if not _is_operand(other):
            return NotImplemented
        _call(name, ufunc, (self, other), {"out": (self,)})
        return self

    return forward, reflected, inplace


def _unary_operator(ufunc):
    def operator(self):
        return _call(ufunc.__name__, ufunc, (self,), {})
    return operator


class SimArray:
    """An array on the simulated GPU: NumPy's behaviour, CuPy's refusal to touch host arrays.

    Make one with ``xp.asarray(host_array)`` (a counted host-to-device copy) or
    any ``xp`` function; ``get()`` copies it back to the host.
    """

    __slots__ = ("_a",)
    __array_priority__ = 100  # as cupy.ndarray's
    __hash__ = None

    def __init__(self, array):
        if not isinstance(array, numpy.ndarray):
            raise TypeError(f"SimArray wraps a numpy.ndarray, got {type(array).__name__}; "
                            "use tensorgrad.testing.xp.asarray(data)")
        self._a = array

    # ------------------------------------------------------------ facts
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    itemsize = property(lambda self: self._a.itemsize)
    nbytes = property(lambda self: self._a.nbytes)
    strides = property(lambda self: self._a.strides)
    T = property(lambda self: SimArray(self._a.T))

    def __len__(self):
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __repr__(self):
        return repr(self._a).replace("array(", "SimArray(", 1)

    def __str__(self):
        return str(self._a)

    def __format__(self, spec):
        return format(self._a.item() if self._a.ndim == 0 else self._a, spec)

    # ------------------------------------------------ explicit copies to the host
    def get(self):
        """A NumPy copy on the host (CuPy's ``ndarray.get``)."""
        if _counters:
            _count("device_to_host")
        return self._a.copy()

    def item(self):
        return self.get().item()

    def tolist(self):
        return self.get().tolist()

    def __float__(self):
        return float(self.get())

    def __int__(self):
        return int(self.get())

    def __index__(self):
        if self._a.dtype.kind not in "iu" or self._a.ndim != 0:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self.get())

    def __bool__(self):
        return bool(self.get())

    def __copy__(self):
        return self.copy()  # a new device array, as copy.copy of a NumPy or CuPy array

    def __deepcopy__(self, memo):
        return self.copy()

    def __array__(self, dtype=None, copy=None):
        raise TypeError(HOST_CONVERSION_MESSAGE)

    # --------------------------------------------------------------- indexing
    def __getitem__(self, index):
        return _call("getitem", self._a.__getitem__, (index,), {}, host="copy", owner=self._a)

    def __setitem__(self, index, value):
        inputs = []
        raw_index = _unwrap(index, "setitem", inputs, host="copy")
        self._a[raw_index] = _unwrap(value, "setitem", inputs)
        if _counters:
            if any(a is None for a in inputs):
                _count("host_to_device")
            _count("setitem")

    # -------------------------------------------------- NumPy's protocols
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if not all(_is_operand(x) or x is None for x in inputs):
            return NotImplemented
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        func = ufunc if method == "__call__" else getattr(ufunc, method)
        return _call(name, func, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if not all(issubclass(t, (SimArray, numpy.ndarray)) for t in types):
            return NotImplemented
        return _call(func.__name__, func, args, kwargs)

    # ------------------------------------------- every other ndarray method
    def __getattr__(self, name):
        # Dunders (NumPy probes __array_interface__ and friends) and raw host memory stay hidden.
        if name.startswith("_") or name in ("data", "ctypes", "flat"):
            raise AttributeError(f"'SimArray' object has no attribute {name!r}")
        value = getattr(self._a, name)
        if not callable(value):
            return _wrap(value)

        def method(*args, **kwargs):
            result = _call(name, value, args, kwargs, owner=self._a)
            # a.astype(a.dtype, copy=False) is a itself, as in NumPy and CuPy
            return self if type(result) is SimArray and result._a is self._a else result
        return method


for _name, _ufunc in [("add", numpy.add), ("sub", numpy.subtract), ("mul", numpy.multiply),
                      ("truediv", numpy.true_divide), ("floordiv", numpy.floor_divide),
                      ("mod", numpy.remainder), ("pow", numpy.power), ("matmul", numpy.matmul),
                      ("and", numpy.bitwise_and), ("or", numpy.bitwise_or), ("xor", numpy.bitwise_xor),
                      ("lshift", numpy.left_shift), ("rshift", numpy.right_shift)]:
    _forward, _reflected, _inplace = _binary_operators(_ufunc)
    setattr(SimArray, f"__{_name}__", _forward)
    setattr(SimArray, f"__r{_name}__", _reflected)
    setattr(SimArray, f"__i{_name}__", _inplace)
for _name, _ufunc in [("lt", numpy.less), ("le", numpy.less_equal), ("eq", numpy.equal),
                      ("ne", numpy.not_equal), ("gt", numpy.greater), ("ge", numpy.greater_equal)]:
    setattr(SimArray, f"__{_name}__", _binary_operators(_ufunc)[0])
for _name, _ufunc in [("neg", numpy.negative), ("pos", numpy.positive), ("abs", numpy.absolute),
                      ("invert", numpy.invert)]:
    setattr(SimArray, f"__{_name}__", _unary_operator(_ufunc))


# ------------------------------------------------------------- the module xp
class _SimUfunc:
    """A NumPy ufunc whose calls and methods (reduce, at, outer, ...) run on SimArrays."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        return _call(self.__name__, self._ufunc, args, kwargs)

    def __getattr__(self, name):
        value = getattr(self._ufunc, name)
        if name in ("reduce", "accumulate", "reduceat", "outer", "at"):
            return lambda *args, **kwargs: _call(f"{self.__name__}.{name}", value, args, kwargs)
        return value  # nin, nout, identity, ...

    def __repr__(self):
        return f"<simulated ufunc {self.__name__!r}>"


class _SimGenerator:
    """numpy.random.Generator drawing SimArrays (the same stream as on the CPU)."""

    def __init__(self, seed=None):
        self._generator = numpy.random.default_rng(seed)

    def __getattr__(self, name):
        value = getattr(self._generator, name)
        if callable(value):
            return lambda *args, **kwargs: _call(f"random.{name}", value, args, kwargs)
        return value


class _SimModule(types.ModuleType):
    """A NumPy namespace whose functions run on SimArrays, wrapped on first use."""

    def __init__(self, name, source):
        super().__init__(name)
        self._source = source

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            value = getattr(self._source, name)
        except AttributeError:
            raise AttributeError(f"the simulated GPU has no {self.__name__}.{name}: it offers NumPy's "
                                 "names only; CuPy-only APIs (ElementwiseKernel, RawKernel, fuse, cupyx) "
                                 "are not simulated, so code behind them needs a NumPy fallback to run "
                                 "here") from None
        if isinstance(value, numpy.ufunc):
            wrapped = _SimUfunc(value)
        elif isinstance(value, types.ModuleType):
            wrapped = _SimModule(f"{self.__name__}.{name}", value)
        elif callable(value) and not isinstance(value, type):  # classes (dtypes) pass through
            def wrapped(*args, _name=name, _func=value, **kwargs):
                return _call(_name, _func, args, kwargs)
            wrapped.__name__ = wrapped.__qualname__ = name
            wrapped.__doc__ = value.__doc__
        else:
            wrapped = value  # dtypes, pi, newaxis, ...
        setattr(self, name, wrapped)  # cached: the next lookup finds it without __getattr__
        return wrapped


def _to_device(name, a, dtype, copy):
    """xp.asarray / xp.array: SimArrays stay, anything else is copied from the host (counted)."""
    inputs = []
    raw = _unwrap(a, name, inputs, host="copy")
    on_device = isinstance(a, SimArray)
    out = numpy.array(raw, dtype=dtype, copy=copy if on_device else True)
    if _counters:
        if not on_device:
            _count("host_to_device")
        elif out is not raw:
            _count(name)
    return a if out is raw and on_device else SimArray(out)


xp = _SimModule("tensorgrad.testing.xp", numpy)
xp.__doc__ = "The simulated GPU's array module: NumPy's functions on SimArrays (stands in for cupy)."
xp.ndarray = SimArray
xp.random = types.ModuleType("tensorgrad.testing.xp.random")
xp.random.default_rng = _SimGenerator
xp.random.Generator = _SimGenerator


def _asarray(a, dtype=None):
    """``a`` on the simulated GPU: a SimArray stays (cast if dtype says so), host data is copied over."""
    return _to_device("asarray", a, dtype, copy=None)


def _array(a, dtype=None, copy=True):
    """A new SimArray holding ``a`` (copied from the host when it lives there)."""
    return _to_device("array", a, dtype, copy=copy)


def _asnumpy(a):
    """``a`` as a NumPy array on the host (cupy.asnumpy): the explicit device-to-host copy."""
    if isinstance(a, SimArray):
        return a.get()
    return numpy.asarray(a)


def _get_array_module(*arrays):
    """xp when any of ``arrays`` is a SimArray, else numpy (cupy.get_array_module)."""
    return xp if any(isinstance(a, SimArray) for a in arrays) else numpy


xp.asarray, xp.array, xp.asnumpy, xp.get_array_module = _asarray, _array, _asnumpy, _get_array_module


# ------------------------------------------------------------ the device itself
@contextlib.contextmanager
def simulated_device():
    """Inside the block, device "cuda" is the simulated GPU (whatever GPU this machine has); yields xp.

    Restores the real backend afterwards: the CuPy module (or none), the default
    device, and the random generator of device "cuda".
    """
    saved_module, saved_default = backend._cupy, backend.get_backend()
    saved_generator = _random._generators.pop("cuda", None)
    backend._cupy = xp
    try:
        yield xp
    finally:
        backend._cupy = saved_module
        backend._default = saved_default
        _random._generators.pop("cuda", None)
        if saved_generator is not None:
            _random._generators["cuda"] = saved_generator
