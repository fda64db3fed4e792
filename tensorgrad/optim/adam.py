"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019, decoupled weight decay)."""

import math

from .. import backend
from .optimizer import Optimizer


class Adam(Optimizer):
    """p -= lr * m_hat / (sqrt(v_hat) + eps), with bias-corrected moments of g.

    m = b1 m + (1 - b1) g,  v = b2 v + (1 - b2) g^2,  m_hat = m / (1 - b1^t),  v_hat = v / (1 - b2^t),
    t counting this parameter's updates. weight_decay adds weight_decay * p to g (L2, as PyTorch's Adam).
    """

    state_names = ("step", "m", "v")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay})

    def check_group(self, group):
        name = type(self).__name__
        if len(group["betas"]) != 2 or not all(0 <= b < 1 for b in group["betas"]):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {group['betas']}")
        if not group["eps"] >= 0:
            raise ValueError(f"{name}: eps must be >= 0, got {group['eps']}")
        if not group["weight_decay"] >= 0:
            raise ValueError(f"{name}: weight_decay must be >= 0, got {group['weight_decay']}")

    def update(self, i, p, group):
        wd = group["weight_decay"]
        self.adam_step(i, p, p.grad.array + wd * p.array if wd else p.grad.array, group)

    def adam_step(self, i, p, g, group):
        """The moment updates and the step along m_hat / (sqrt(v_hat) + eps) for gradient g."""
        b1, b2 = group["betas"]
        xp = backend.get_array_module(p.array)
        t = self.state["step"][i] = (self.state["step"][i] or 0) + 1
        m, v = self.state["m"][i], self.state["v"][i]
        m = (1 - b1) * g if m is None else b1 * m + (1 - b1) * g
        v = (1 - b2) * g * g if v is None else b2 * v + (1 - b2) * g * g
        self.state["m"][i], self.state["v"][i] = m, v
        step_size = group["lr"] / (1 - b1 ** t)
        denominator = xp.sqrt(v) / math.sqrt(1 - b2 ** t) + group["eps"]
        p.array -= step_size * m / denominator


class AdamW(Adam):
    """Adam with decoupled weight decay: p -= lr * weight_decay * p, then Adam's step on the plain gradient.

    PyTorch's default weight_decay=0.01.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas, eps, weight_decay)

    def update(self, i, p, group):
        if group["weight_decay"]:
            p.array *= 1 - group["lr"] * group["weight_decay"]
        self.adam_step(i, p, p.grad.array, group)
