"""Modules: objects that own Parameters, and the layers Linear, Embedding, Dropout.

A Module finds its parameters by looking at its attributes: every Parameter
and every sub-Module assigned to ``self`` is registered, in assignment order,
under its attribute name ("encoder.weight").
"""

import math

import numpy

from . import backend, functional
from .random import generator, uniform
from .tensor import DEFAULT_FLOAT, Tensor


class Parameter(Tensor):
    """A leaf tensor a Module learns: requires_grad is on."""

    __slots__ = ()

    def __init__(self, data, dtype=None, device=None):
        super().__init__(data, requires_grad=True, dtype=dtype, device=device)

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("tensor"):]


class Module:
    """Base class of layers and models: subclass it, assign Parameters and Modules, write forward."""

    training = True

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward method")

    def named_children(self):
        return [(k, v) for k, v in vars(self).items() if isinstance(v, Module)]

    def named_parameters(self, prefix=""):
        """(name, Parameter) pairs of this module and its sub-modules, each parameter once."""
        seen = set()
        for name, value in vars(self).items():
            if isinstance(value, Parameter):
                items = [(prefix + name, value)]
            elif isinstance(value, Module):
                items = value.named_parameters(prefix + name + ".")
            else:
                continue
            for full_name, p in items:
                if id(p) not in seen:
                    seen.add(id(p))
                    yield full_name, p

    def parameters(self):
        return [p for _, p in self.named_parameters()]

    def zero_grad(self):
        for p in self.parameters():
            p.grad = None

    def train(self, mode=True):
        """Training mode (dropout active); returns self."""
        self.training = mode
        for _, child in self.named_children():
            child.train(mode)
        return self

    def eval(self):
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    def to(self, device):
        """Move every parameter to ``device`` ("cpu" or "cuda") in place; returns self."""
        backend.module_for(device)
        for p in self.parameters():
            p.data = backend.to_device(p.data, device)
            p.grad = None if p.grad is None else backend.to_device(p.grad, device)
        return self

    def state_dict(self):
        """{name: NumPy array copy} of every parameter."""
        return {name: backend.to_numpy(p.data).copy() for name, p in self.named_parameters()}

    def load_state_dict(self, state, strict=True):
        """Copy arrays from ``state`` into the parameters of the same names.

        Values are cast to each parameter's dtype and moved to its device.
        strict: every parameter must be present and nothing else may be.
        Returns (missing, unexpected) name lists.
        """
        params = dict(self.named_parameters())
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
            value = backend.to_numpy(value.data if isinstance(value, Tensor) else value)
            value = numpy.asarray(value)
            if value.shape != p.shape:
                raise ValueError(f"load_state_dict into {type(self).__name__}: {name} has shape "
                                 f"{value.shape} in the state dict but {p.shape} in the model")
            if value.dtype.kind not in "fiub":
                raise TypeError(f"load_state_dict: {name} holds {value.dtype}, not numbers")
            arrays[name] = value
        for name, value in arrays.items():  # only after every entry passed its checks
            p = params[name]
            p.data = backend.to_device(value.astype(p.dtype), p.device)
        return missing, unexpected

    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self.named_children():
            lines.append(f"  ({name}): " + repr(child).replace("\n", "\n  "))
        return lines[0] + ")" if len(lines) == 1 else "\n".join(lines) + "\n)"


class Linear(Module):
    """y = x @ W^T + b:  (..., in_features) -> (..., out_features). W is (out, in) as in PyTorch.

    Init as PyTorch: W and b from U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=DEFAULT_FLOAT, device=None):
        bound = 1 / math.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(uniform(-bound, bound, (out_features, in_features), dtype, device))
        self.bias = Parameter(uniform(-bound, bound, (out_features,), dtype, device)) if bias else None

    def forward(self, x):
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear({self.in_features}, {self.out_features}) got input of shape "
                             f"{x.shape}; its last axis must have size {self.in_features}")
        y = x @ self.weight.T
        return y + self.bias if self.bias is not None else y

    def extra_repr(self):
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


class Embedding(Module):
    """A lookup table: integer indices (...) -> rows (..., embedding_dim). Init N(0, 1) as PyTorch."""

    def __init__(self, num_embeddings, embedding_dim, dtype=DEFAULT_FLOAT, device=None):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        data = generator(device).standard_normal((num_embeddings, embedding_dim), dtype=numpy.dtype(dtype))
        self.weight = Parameter(data, device=device)

    def forward(self, indices):
        return functional.embedding(indices, self.weight)

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    """Zeroes elements with probability p in training mode; the identity in eval mode."""

    def __init__(self, p=0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x):
        return functional.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
