"""Optimizers (SGD with momentum, Adam) and gradient clipping.

Updates happen in place on ``param.data``; parameters without a gradient are
skipped. ``state_dict()`` gives flat {name: array} dicts that ``tg.save`` stores.
"""

import math

import numpy

from . import backend
from .tensor import Tensor


class Optimizer:
    """Holds the parameters and per-parameter state; subclasses write ``step``."""

    state_names = ()  # per-parameter buffers saved by state_dict, e.g. ("m", "v")

    def __init__(self, params, lr):
        self.params = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__} got no parameters; pass model.parameters()")
        for i, p in enumerate(self.params):
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(f"{type(self).__name__}: parameter {i} is not a tensor that "
                                "requires grad (pass model.parameters())")
        if not lr > 0:
            raise ValueError(f"{type(self).__name__}: learning rate must be positive, got {lr}")
        self.lr = lr
        self.steps = 0
        self.state = {name: [None] * len(self.params) for name in self.state_names}

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.steps += 1
        for i, p in enumerate(self.params):
            if p.grad is not None:
                self.update(i, p)

    def update(self, i, p):
        raise NotImplementedError

    def state_dict(self):
        """{"steps": n, "lr": lr, "<buffer>.<i>": array}: everything needed to resume."""
        out = {"steps": numpy.asarray(self.steps), "lr": numpy.asarray(self.lr)}
        for name, buffers in self.state.items():
            for i, b in enumerate(buffers):
                if b is not None:
                    out[f"{name}.{i}"] = backend.to_numpy(b).copy()
        return out

    def load_state_dict(self, state):
        """Restore what state_dict saved (for the same parameters in the same order)."""
        buffers = {name: [None] * len(self.params) for name in self.state_names}
        for key, value in state.items():
            if key in ("steps", "lr"):
                continue
            name, _, index = key.partition(".")
            if name not in buffers or not index.isdigit() or int(index) >= len(self.params):
                raise KeyError(f"{type(self).__name__}.load_state_dict: unexpected entry {key!r}; "
                               "was this state saved by another optimizer or model?")
            p = self.params[int(index)]
            if tuple(value.shape) != p.shape:
                raise ValueError(f"{type(self).__name__}.load_state_dict: {key} has shape "
                                 f"{tuple(value.shape)} but parameter {index} has shape {p.shape}")
            buffers[name][int(index)] = backend.to_device(numpy.asarray(value).astype(p.dtype), p.device)
        self.state = buffers
        self.steps = int(state.get("steps", 0))
        if "lr" in state:
            self.lr = float(state["lr"])


class SGD(Optimizer):
    """p -= lr * v, with v = momentum * v + (g + weight_decay * p) (PyTorch's form)."""

    state_names = ("velocity",)

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=0.0):
        super().__init__(params, lr)
        if not 0 <= momentum < 1:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum}")
        self.momentum, self.weight_decay = momentum, weight_decay

    def update(self, i, p):
        g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
        if self.momentum:
            v = self.state["velocity"][i]
            v = g.copy() if v is None else self.momentum * v + g
            self.state["velocity"][i] = g = v
        p.data -= self.lr * g


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): p -= lr * m_hat / (sqrt(v_hat) + eps), with bias-corrected moments."""

    state_names = ("m", "v")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr)
        if not all(0 <= b < 1 for b in betas):
            raise ValueError(f"Adam: betas must be in [0, 1), got {betas}")
        self.betas, self.eps, self.weight_decay = betas, eps, weight_decay

    def update(self, i, p):
        b1, b2 = self.betas
        g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
        xp = backend.get_array_module(p.data)
        m, v = self.state["m"][i], self.state["v"][i]
        m = (1 - b1) * g if m is None else b1 * m + (1 - b1) * g
        v = (1 - b2) * g * g if v is None else b2 * v + (1 - b2) * g * g
        self.state["m"][i], self.state["v"][i] = m, v
        m_hat_scale = 1 / (1 - b1 ** self.steps)
        v_hat_scale = 1 / (1 - b2 ** self.steps)
        p.data -= (self.lr * m_hat_scale) * m / (xp.sqrt(v * v_hat_scale) + self.eps)


def clip_grad_norm(params, max_norm):
    """Scale all gradients together so their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (a float), useful for logging.
    """
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    total = math.sqrt(sum(float((g.astype(numpy.float64) ** 2).sum()) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for p in params:
            if p.grad is not None:
                p.grad = p.grad * p.grad.dtype.type(scale)
    return total
