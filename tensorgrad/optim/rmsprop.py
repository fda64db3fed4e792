"""RMSprop (Hinton's lecture 6e; Graves 2013 for the centered form), as PyTorch defines it."""

from .. import backend
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """p -= lr * g / (sqrt(s) + eps), with s = alpha s + (1 - alpha) g^2 (s starts at 0).

    centered: divide by sqrt(s - a^2) + eps instead, a = alpha a + (1 - alpha) g (a running mean of g).
    momentum > 0: b = momentum b + g / (...) and p -= lr * b. weight_decay adds weight_decay * p to g.
    """

    state_names = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(self, params, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps, "weight_decay": weight_decay,
                                  "momentum": momentum, "centered": centered})

    def check_group(self, group):
        for key in ("alpha", "eps", "weight_decay", "momentum"):
            if not group[key] >= 0:
                raise ValueError(f"RMSprop: {key} must be >= 0, got {group[key]}")

    def update(self, i, p, group):
        xp = backend.get_array_module(p.array)
        alpha, wd, momentum = group["alpha"], group["weight_decay"], group["momentum"]
        g = p.grad.array + wd * p.array if wd else p.grad.array
        s = self.state["square_avg"][i]
        s = (1 - alpha) * g * g if s is None else alpha * s + (1 - alpha) * g * g
        self.state["square_avg"][i] = s
        if group["centered"]:
            a = self.state["grad_avg"][i]
            a = (1 - alpha) * g if a is None else alpha * a + (1 - alpha) * g
            self.state["grad_avg"][i] = a
            denominator = xp.sqrt(s - a * a) + group["eps"]
        else:
            denominator = xp.sqrt(s) + group["eps"]
        if momentum:
            b = self.state["momentum_buffer"][i]
            b = g / denominator if b is None else momentum * b + g / denominator
            self.state["momentum_buffer"][i] = b
            p.array -= group["lr"] * b
        else:
            p.array -= group["lr"] * g / denominator
