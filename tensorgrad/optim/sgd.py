"""Stochastic gradient descent with momentum (PyTorch's form)."""

from .optimizer import Optimizer


class SGD(Optimizer):
    """p -= lr * v, with g = grad + weight_decay * p and v = momentum * v + (1 - dampening) * g.

    v starts as the first g; nesterov=True steps along g + momentum * v instead of v.
    """

    state_names = ("velocity",)

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov})

    def check_group(self, group):
        if not group["momentum"] >= 0:
            raise ValueError(f"SGD: momentum must be >= 0, got {group['momentum']}")
        if not group["weight_decay"] >= 0:
            raise ValueError(f"SGD: weight_decay must be >= 0, got {group['weight_decay']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("SGD: nesterov momentum needs momentum > 0 and dampening = 0")

    def update(self, i, p, group):
        momentum, wd = group["momentum"], group["weight_decay"]
        g = p.grad.array + wd * p.array if wd else p.grad.array
        if momentum:
            v = self.state["velocity"][i]
            v = g.copy() if v is None else momentum * v + (1 - group["dampening"]) * g
            self.state["velocity"][i] = v
            g = g + momentum * v if group["nesterov"] else v
        p.array -= group["lr"] * g
