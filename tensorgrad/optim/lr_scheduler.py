"""Learning-rate schedules (PyTorch's torch.optim.lr_scheduler): StepLR, CosineAnnealingLR, LambdaLR,
ReduceLROnPlateau.

The protocol is PyTorch's: build the scheduler after the optimizer (this sets
each group's lr to the schedule's first value), then once per epoch (or step)
call ``optimizer.step()`` and after it ``scheduler.step()``. ``get_last_lr()``
gives the current rates. The updates use PyTorch's recursive formulas, so the
rates match it to the last bit and chaining with manual lr changes behaves alike.
"""

import math
import warnings

import numpy

from .optimizer import Optimizer


def _per_group(value, optimizer, scheduler, what):
    """One value for every parameter group, or a list with one per group (checked), as torch takes them."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{scheduler}: expected {n} {what} (one per parameter group), got {len(value)}")
        return list(value)
    return [value] * n


class LRScheduler:
    """Base class: subclasses write ``get_lr()``, the rates for epoch ``self.last_epoch``."""

    state_keys = ("last_epoch", "base_lrs", "_last_lr", "_step_count")  # what state_dict saves

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        for k, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise KeyError(f"{type(self).__name__}: param_groups[{k}] has no 'initial_lr' to resume "
                               f"from with last_epoch={last_epoch}; load the optimizer's state_dict "
                               "first, or start with last_epoch=-1")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._initial = True  # the constructor's step sets the first rates
        self.step()
        self._initial = False

    def get_lr(self):
        raise NotImplementedError

    def get_last_lr(self):
        """The learning rate of each parameter group, as set by the last step()."""
        return list(self._last_lr)

    def step(self):
        """Advance the schedule by one epoch and set each group's lr. Call it after optimizer.step()."""
        if self._step_count == 1 and self.optimizer.steps == 0:
            warnings.warn("Detected a call of lr_scheduler.step() before optimizer.step(): call them in "
                          "the opposite order (optimizer.step() first), or the first value of the "
                          "schedule is skipped", UserWarning, stacklevel=2)
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self):
        """The schedule's position and settings as plain numbers and lists (they fit in a .npz)."""
        return {key: getattr(self, key) for key in self.state_keys}

    def load_state_dict(self, state):
        """Restore what state_dict saved (arrays from tg.load are turned back into numbers)."""
        unknown = set(state) - set(self.state_keys)
        if unknown:
            raise KeyError(f"{type(self).__name__}.load_state_dict: unexpected entries {sorted(unknown)}; "
                           "was this state saved by another scheduler?")
        for key, value in state.items():
            value = numpy.asarray(value)
            setattr(self, key, value.item() if value.ndim == 0 else value.tolist())


class StepLR(LRScheduler):
    """lr = initial_lr * gamma ** (epoch // step_size): multiply by gamma every step_size epochs."""

    state_keys = LRScheduler.state_keys + ("step_size", "gamma")

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        if not (isinstance(step_size, int) and step_size > 0):
            raise ValueError(f"StepLR: step_size must be a positive int, got {step_size!r}")
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in self.optimizer.param_groups]
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min) (1 + cos(pi epoch / T_max)) / 2 (SGDR without restarts).

    From initial_lr down to eta_min at epoch T_max, then back up (a cosine's period is 2 T_max).
    """

    state_keys = LRScheduler.state_keys + ("T_max", "eta_min")

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        if not (isinstance(T_max, int) and T_max > 0):
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive int, got {T_max!r}")
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups, e, T, low = self.optimizer.param_groups, self.last_epoch, self.T_max, self.eta_min
        if self._initial:
            return [group["lr"] for group in groups]
        if self._step_count == 1 and e > 0:  # resumed at a later epoch: the closed form
            return [low + (base - low) * (1 + math.cos(e * math.pi / T)) / 2 for base in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:  # leaving the bottom, where the ratio below would be 0 / 0
            return [group["lr"] + (base - low) * (1 - math.cos(math.pi / T)) / 2
                    for base, group in zip(self.base_lrs, groups, strict=True)]
        ratio = (1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T))
        return [ratio * (group["lr"] - low) + low for group in groups]


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch); lr_lambda is one function, or a list with one per group.

    state_dict leaves the functions out (code is never saved): pass the same ones when resuming.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.lr_lambdas = _per_group(lr_lambda, optimizer, "LambdaLR", "lr_lambdas")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * fn(self.last_epoch) for base, fn in zip(self.base_lrs, self.lr_lambdas, strict=True)]


class ReduceLROnPlateau(LRScheduler):
    """Divide the rate when a metric stops improving (torch's ReduceLROnPlateau): call
    ``scheduler.step(val_loss)`` once per evaluation.

    A value counts as better than the best so far when, for mode="min", it is below
    best * (1 - threshold) (threshold_mode="rel") or best - threshold ("abs"); for "max",
    above best * (1 + threshold) or best + threshold. After more than ``patience`` evaluations
    without one, every group's lr becomes max(lr * factor, min_lr), then ``cooldown``
    evaluations pass before bad ones are counted again. Changes smaller than ``eps`` are skipped.
    """

    state_keys = ("last_epoch", "_last_lr", "best", "num_bad_epochs", "cooldown_counter", "factor",
                  "patience", "threshold", "threshold_mode", "cooldown", "min_lrs", "mode", "eps")

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"ReduceLROnPlateau: {type(optimizer).__name__} is not an Optimizer")
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor should be < 1.0, got {factor}")
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode {mode!r} is unknown; use 'min' or 'max'")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold mode {threshold_mode!r} is unknown; use 'rel' "
                             "or 'abs'")
        self.min_lrs = _per_group(min_lr, optimizer, "ReduceLROnPlateau", "min_lrs")
        self.optimizer = optimizer
        self.mode, self.factor, self.patience, self.cooldown = mode, factor, patience, cooldown
        self.threshold, self.threshold_mode, self.eps = threshold, threshold_mode, eps
        self.last_epoch = 0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = self.cooldown_counter = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def is_better(self, value, best):
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        rel, t = self.threshold_mode == "rel", self.threshold
        if self.mode == "min":
            return value < (best * (1 - t) if rel else best - t)
        return value > (best * (1 + t) if rel else best + t)

    def step(self, metrics):
        """Record one evaluation's metric (a number or a one-element tensor); lower the rates if it is
        the (patience + 1)-th in a row without improvement."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, low in zip(self.optimizer.param_groups, self.min_lrs, strict=True):
                new = max(group["lr"] * self.factor, low)
                if group["lr"] - new > self.eps:
                    group["lr"] = new
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]
