"""Modules: objects that own Parameters, and the containers Sequential / ModuleList / ModuleDict /
ParameterList. The layers (Linear, Embedding, LayerNorm, Dropout, the activations and the
losses) live in nn_layers.py and are importable from here, as torch.nn's are.

A Module finds its parameters by looking at its attributes: every Parameter
and every sub-Module assigned to ``self`` is registered under its attribute
name ("encoder.weight"). As in PyTorch, a module's own parameters come first,
then its sub-modules' in assignment order. Modules kept in a plain Python
list or dict would be invisible to ``parameters()``, so assigning one raises
an error that names nn.ModuleList / nn.ModuleDict.
"""

import operator
import sys
from collections import OrderedDict

import numpy

from . import backend, functional, init, sequences
from . import nn_utils as utils  # torch.nn.utils.clip_grad_norm_ is tg.nn.utils.clip_grad_norm_
from .tensor import Tensor

# nn is one file, not a package; registering its torch sub-namespaces makes
# `import tensorgrad.nn.functional as F`, `from tensorgrad.nn.utils import
# clip_grad_norm_` and `tensorgrad.nn.init.orthogonal_` work as the torch
# lines they are typed from.
sys.modules[__name__ + ".functional"] = functional
sys.modules[__name__ + ".utils"] = utils
sys.modules[__name__ + ".utils.rnn"] = sequences
sys.modules[__name__ + ".init"] = init

_IN_RNN = {"RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"}


def __getattr__(name):
    """nn.LSTM typed from torch: say where the recurrent layers are instead of a bare AttributeError."""
    if name in _IN_RNN:
        raise AttributeError(f"tensorgrad.nn has no {name}: the recurrent layers are in the rnn package, "
                             f"built on tensorgrad: `from rnn import {name}`, then {name}(...) with the "
                             f"arguments and results of torch.nn.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Parameter(Tensor):
    """A leaf tensor a Module learns: requires_grad is on."""

    __slots__ = ()

    def __init__(self, data, dtype=None, device=None, requires_grad=True):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, device=device)

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("tensor"):]


def _hidden_members(owner, name, value):
    """The error for a plain list/tuple/dict attribute holding Modules or Parameters that are not
    registered elsewhere in ``owner`` (as attributes, or below them), else None. A list of layers
    that are also attributes is a view of registered ones, which torch accepts and so do we."""
    if isinstance(value, (list, tuple)):
        items = enumerate(value)
    elif isinstance(value, dict):
        items = value.items()
    else:
        return None
    registered = None
    for key, item in items:
        if isinstance(item, (Module, Parameter)):
            if registered is None:
                registered = _registered_ids(owner)
            if id(item) in registered:
                continue
            kind = "Module" if isinstance(item, Module) else "Parameter"
            fix = {("Module", False): "nn.ModuleList([...])", ("Module", True): "nn.ModuleDict({...})",
                   ("Parameter", False): "nn.ParameterList([...])",
                   ("Parameter", True): "separate attributes (or nn.ParameterList)"}[
                kind, isinstance(value, dict)]
            return TypeError(
                f"{type(owner).__name__}.{name} is a plain Python {type(value).__name__} holding a "
                f"{type(item).__name__} (at [{key!r}]). Modules and Parameters inside plain lists, "
                "tuples and dicts are not registered, so parameters(), the optimizer, state_dict(), "
                f"to() and train()/eval() would silently miss them. Use {fix} instead (or register "
                "each one as an attribute before putting it in the list)")
    return None


def _registered_ids(module):
    """ids of every Module and Parameter reachable from ``module`` through attributes (no checks)."""
    seen, stack = {id(module)}, [module]
    while stack:
        for value in vars(stack.pop()).values():
            if isinstance(value, (Module, Parameter)) and id(value) not in seen:
                seen.add(id(value))
                if isinstance(value, Module):
                    stack.append(value)
    return seen


class Module:
    """Base class of layers and models: subclass it, assign Parameters and Modules, write forward.

    Calling ``super().__init__()`` is allowed (as PyTorch requires) but not needed.
    """

    training = True

    def __init__(self):
        pass

    def __setattr__(self, name, value):
        error = _hidden_members(self, name, value)
        if error is not None:
            raise error
        buffers = self.__dict__.get("_buffers_persistent")
        if buffers and name in buffers:
            if isinstance(value, Parameter):  # a Parameter replaces the buffer, as in torch
                del buffers[name]
            elif value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__!r} as buffer {name!r} "
                                "(a Tensor or None expected)")
        object.__setattr__(self, name, value)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward method")

    # ----------------------------------------------------------- registration
    def _members(self):
        """(name, value) of every registered Parameter and Module, in assignment order."""
        for name, value in vars(self).items():
            if isinstance(value, (Parameter, Module)):
                yield name, value
            else:  # a list filled after it was assigned
                error = _hidden_members(self, name, value)
                if error is not None:
                    raise error

    def add_module(self, name, module):
        """Register ``module`` (or None) under ``name``, as ``setattr`` would, with PyTorch's checks."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__}.add_module: {type(module).__name__} is not a Module")
        self._check_name(name, Module)
        setattr(self, name, module)

    register_module = add_module

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter, or None) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"{type(self).__name__}.register_parameter: {name!r} must be a "
                            f"Parameter (or None), got {type(param).__name__}")
        self._check_name(name, Parameter)
        setattr(self, name, param)

    def register_buffer(self, name, tensor, persistent=True):
        """Keep ``tensor`` (or None) as state that is not learned, as torch: ``self.name`` holds it,
        ``to()`` moves it (and casts it when floating), ``state_dict()`` includes it unless
        persistent=False, and ``parameters()`` never lists it (the optimizer leaves it alone)."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"{type(self).__name__}.register_buffer: cannot assign {type(tensor).__name__!r} "
                            f"object to buffer {name!r} (a Tensor or None required)")
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"{type(self).__name__}.register_buffer: buffer name {name!r} must be a "
                           "non-empty string without '.'")
        buffers = self.__dict__.setdefault("_buffers_persistent", {})
        if hasattr(self, name) and name not in buffers:
            raise KeyError(f"{type(self).__name__}.register_buffer: attribute {name!r} already exists")
        buffers[name] = bool(persistent)
        object.__setattr__(self, name, tensor)

    def _own_buffers(self, persistent_only=False):
        """(name, tensor) of this module's buffers that hold a tensor, in registration order."""
        for name, persistent in self.__dict__.get("_buffers_persistent", {}).items():
            value = vars(self).get(name)
            if value is not None and (persistent or not persistent_only):
                yield name, value

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, tensor) of every buffer (see register_buffer), this module's first."""
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module._own_buffers():
                if id(value) not in seen:
                    if remove_duplicate:
                        seen.add(id(value))
                    yield module_prefix + ("." if module_prefix else "") + name, value

    def buffers(self, recurse=True):
        """Every buffer tensor once (a generator, as torch's)."""
        for _, value in self.named_buffers(recurse=recurse):
            yield value

    def _check_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: a name must be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f"{type(self).__name__}: name {name!r} must be non-empty and contain no '.'")
        if hasattr(self, name) and not isinstance(vars(self).get(name), kind):
            raise KeyError(f"{type(self).__name__}: attribute {name!r} already exists; pick another name")

    # ------------------------------------------------------------ traversal
    def named_children(self):
        """(name, module) of each direct sub-module, each module once."""
        seen = set()
        for name, value in self._members():
            if isinstance(value, Module) and id(value) not in seen:
                seen.add(id(value))
                yield name, value

    def children(self):
        for _, module in self.named_children():
            yield module

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) of this module ("" ) and every module below it, depth first."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        if remove_duplicate:
            memo.add(id(self))
        yield prefix, self
        for name, module in self._members():
            if isinstance(module, Module):
                yield from module.named_modules(memo, prefix + ("." if prefix else "") + name,
                                                remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(dotted name, Parameter) pairs: each module's own parameters, then its sub-modules'.

        A parameter shared by two modules is listed once (under its first name)
        unless remove_duplicate=False.
        """
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse \
            else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module._members():
                if isinstance(value, Parameter) and id(value) not in seen:
                    if remove_duplicate:
                        seen.add(id(value))
                    yield module_prefix + ("." if module_prefix else "") + name, value

    def parameters(self, recurse=True):
        """Every Parameter once (a generator, as PyTorch's), e.g. for an optimizer."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module and then on this one (e.g. to initialise); returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # -------------------------------------------------------------- state
    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient: None (default), or zeros with set_to_none=False."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.array.fill(0)  # in place, as torch's p.grad.zero_()

    def requires_grad_(self, requires_grad=True):
        """Switch gradient recording for every parameter on or off (e.g. to freeze a layer); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def train(self, mode=True):
        """Training mode (dropout active) for this module and every sub-module; returns self."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode must be True or False, got {mode!r}")
        for module in self.modules():
            module.training = mode
        return self

    def eval(self):
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    def to(self, device=None, dtype=None):
        """Move every parameter to ``device`` ("cpu" or "cuda") and/or cast it to a float ``dtype``,
        in place; returns self. ``to(np.float64)`` alone casts, as PyTorch's ``to(torch.float64)``."""
        if device is not None and not backend.is_device(device):
            device, dtype = None, device
        if device is not None:
            device = backend.device_name(device)
            backend.module_for(device)
        if dtype is not None and numpy.dtype(dtype).kind != "f":
            raise TypeError(f"{type(self).__name__}.to: parameters must stay floating point, "
                            f"got dtype {numpy.dtype(dtype)}")
        for p in self.parameters():
            for t in (p, p.grad):  # the parameter, then its gradient (a Tensor too), each in place
                if t is not None:
                    value = t.array if device is None else backend.to_device(t.array, device)
                    t.array = value if dtype is None else value.astype(dtype, copy=False)
        for buffer in self.buffers():  # moved too; cast only when floating, as torch does
            array = buffer.array if device is None else backend.to_device(buffer.array, device)
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
            buffer.array = array
        return self

    def double(self):
        """Cast every parameter to float64 in place; returns self."""
        return self.to(dtype=numpy.float64)

    def float(self):
        """Cast every parameter to float32 in place; returns self."""
        return self.to(dtype=numpy.float32)

    def state_dict(self):
        """{name: NumPy array copy} of every parameter and persistent buffer (each module's parameters,
        then its buffers, then its sub-modules', as torch); a shared one appears under each name."""
        return {name: backend.to_numpy(t.array).copy() for name, t in self._state_entries().items()}

    def _state_entries(self):
        """{dotted name: Parameter or persistent buffer}, in state_dict order."""
        entries = {}
        for prefix, module in self.named_modules(remove_duplicate=False):
            dot = prefix + ("." if prefix else "")
            for name, value in module._members():
                if isinstance(value, Parameter):
                    entries[dot + name] = value
            for name, value in module._own_buffers(persistent_only=True):
                entries[dot + name] = value
        return entries

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` into the parameters of the same names.

        Values are cast to each parameter's dtype and moved to its device.
        strict: every parameter must be present and nothing else may be.
        Returns (missing, unexpected) name lists.
        """
        params = self._state_entries()  # parameters and persistent buffers
        missing = [n for n in params if n not in state]
        unexpected = [n for n in state if n not in params]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing: {', '.join(missing)}")
            if unexpected:
                parts.append(f"unexpected: {', '.join(unexpected)}")
            raise KeyError(f"load_state_dict into {type(self).__name__}: " + "; ".join(parts)
                           + ". Check the model was built with the same sizes and options, "
                           "or pass strict=False to load the matching entries only")
        arrays = {}
        for name, p in params.items():
            if name not in state:
                continue
            value = state[name]
            value = backend.to_numpy(value.array if isinstance(value, Tensor) else value)
            value = numpy.asarray(value)
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict into {type(self).__name__}: {name} has shape "
                                 f"{value.shape} in the state dict but {p.shape} in the model")
            if value.dtype.kind not in "fiub":
                raise TypeError(f"load_state_dict: {name} holds {value.dtype}, not numbers")
            arrays[name] = value
        for name, value in arrays.items():  # only after every entry passed its checks
            p = params[name]
            p.array = backend.to_device(value.astype(p.dtype), p.device)
        return missing, unexpected

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self.named_children():
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


# ------------------------------------------------------------------ containers
class _Indexed(Module):
    """Items registered as attributes named "0", "1", ...: what ModuleList and ParameterList share."""

    _item_type = Module

    def __init__(self, items=None):
        if items is not None:
            self.extend(items)

    def _items(self):
        return [v for v in vars(self).values() if isinstance(v, self._item_type)]

    def _check_item(self, item, op):
        if not isinstance(item, self._item_type):
            raise TypeError(f"{type(self).__name__}.{op}: {type(item).__name__} is not a "
                            f"{self._item_type.__name__}")
        return item

    def _renumber(self, items):
        """Register ``items`` as "0", "1", ... in order (after an insert or delete)."""
        for key in [k for k, v in vars(self).items() if isinstance(v, self._item_type)]:
            delattr(self, key)
        for i, item in enumerate(items):
            setattr(self, str(i), item)

    def _index(self, index, op):
        n = len(self)
        try:
            i = operator.index(index)
        except TypeError:
            raise TypeError(f"{type(self).__name__}{op}: indices must be integers or slices, "
                            f"not {type(index).__name__}") from None
        if not -n <= i < n:
            raise IndexError(f"{type(self).__name__}{op}: index {i} is out of range for {n} items")
        return i % n

    def __len__(self):
        return len(self._items())

    def __iter__(self):
        return iter(self._items())

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(self._items()[index])
        return self._items()[self._index(index, "[...]")]

    def __setitem__(self, index, item):
        setattr(self, str(self._index(index, "[...] =")), self._check_item(item, "__setitem__"))

    def __delitem__(self, index):
        items = self._items()
        del items[index if isinstance(index, slice) else self._index(index, "del [...]")]
        self._renumber(items)

    def append(self, item):
        """Add ``item`` at the end; returns self."""
        setattr(self, str(len(self)), self._check_item(item, "append"))
        return self

    def extend(self, items):
        """Append every item of an iterable; returns self."""
        for item in items:
            self.append(item)
        return self

    def insert(self, index, item):
        """Put ``item`` before position ``index``."""
        items = self._items()
        items.insert(index, self._check_item(item, "insert"))
        self._renumber(items)


class ModuleList(_Indexed):
    """A list of Modules that registers them: parameters are named "0.weight", "1.weight", ...

    Indexing (with slices), len, iteration, append, extend and insert work as on a list.
    It has no forward: call its items yourself (e.g. ``for layer in self.layers: x = layer(x)``).
    """

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward; iterate over it and call each module")


class ParameterList(_Indexed):
    """A list of Parameters that registers them under "0", "1", ..."""

    _item_type = Parameter

    def append(self, item):
        if isinstance(item, Tensor) and not isinstance(item, Parameter):
            item = Parameter(item.array)
        return super().append(item)

    def extra_repr(self):
        return ", ".join(f"{tuple(p.shape)} {p.dtype}" for p in self)


class Sequential(_Indexed):
    """Modules applied one after the other: ``Sequential(a, b, c)(x) == c(b(a(x)))``.

    Built from modules (named "0", "1", ...) or from one OrderedDict of names to modules.
    """

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            super().__init__(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self.named_children())[index]))
        return super().__getitem__(index)

    def __setitem__(self, index, module):
        name = list(dict(self._members()))[self._index(index, "[...] =")]
        setattr(self, name, self._check_item(module, "__setitem__"))

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class ModuleDict(Module):
    """A dict of names to Modules that registers them: parameters are named "<key>.weight".

    The mapping API: ``d[key]``, ``d[key] = m``, ``del d[key]``, ``in``, len, iteration over
    keys, keys(), values(), items(), update(), pop(), clear(). Keys are strings that are not
    already attribute names of the ModuleDict (such as "train").
    """

    def __init__(self, modules=None):
        if modules is not None:
            self.update(modules)

    def _check_key(self, key):
        if not isinstance(key, str) or not isinstance(vars(self).get(key), Module):
            raise KeyError(key)
        return key

    def __getitem__(self, key):
        return vars(self)[self._check_key(key)]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        delattr(self, self._check_key(key))

    def __contains__(self, key):
        return isinstance(key, str) and isinstance(vars(self).get(key), Module)

    def __len__(self):
        return len(self.keys())

    def __iter__(self):
        return iter(self.keys())

    def keys(self):
        return [k for k, v in vars(self).items() if isinstance(v, Module)]

    def values(self):
        return [v for v in vars(self).values() if isinstance(v, Module)]

    def items(self):
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Module)]

    def update(self, modules):
        """Add (or replace) modules from a mapping or an iterable of (key, module) pairs."""
        pairs = modules.items() if hasattr(modules, "items") else modules
        for key, module in pairs:
            if not isinstance(module, Module):
                raise TypeError(f"ModuleDict: value for {key!r} is a {type(module).__name__}, not a Module")
            self[key] = module

    def pop(self, key):
        module = self[key]
        del self[key]
        return module

    def clear(self):
        for key in self.keys():
            delattr(self, key)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict has no forward; call the modules it holds")


# The layers subclass Module, defined above; they are importable from here as torch.nn's are.
from .nn_layers import (  # noqa: E402
    GELU,  # noqa: F401
    AdaptiveAvgPool2d,  # noqa: F401
    AvgPool2d,  # noqa: F401
    BCELoss,  # noqa: F401
    BCEWithLogitsLoss,  # noqa: F401
    Conv2d,  # noqa: F401
    CrossEntropyLoss,  # noqa: F401
    CTCLoss,  # noqa: F401
    Dropout,  # noqa: F401
    Embedding,  # noqa: F401
    Flatten,  # noqa: F401
    Fold,  # noqa: F401
    Identity,  # noqa: F401
    LayerNorm,  # noqa: F401
    LeakyReLU,  # noqa: F401
    Linear,  # noqa: F401
    LogSoftmax,  # noqa: F401
    MaxPool2d,  # noqa: F401
    MSELoss,  # noqa: F401
    NLLLoss,  # noqa: F401
    ReLU,  # noqa: F401
    Sigmoid,  # noqa: F401
    Softmax,  # noqa: F401
    Softplus,  # noqa: F401
    Tanh,  # noqa: F401
    Unfold,  # noqa: F401
)
