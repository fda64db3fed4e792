"""The Optimizer base class: parameter groups, per-parameter state, and saving both.

As in PyTorch, ``param_groups`` is a list of dicts, each with its "params" and
its hyperparameters ("lr", ...), which learning-rate schedulers change.
Updates happen in place on ``param.array``; parameters without a gradient are
skipped. ``state_dict()`` gives a flat {name: array} dict that ``tg.save`` stores
(no pickling).
"""

import numbers

import numpy

from .. import backend
from ..tensor import Tensor


class Optimizer:
    """Holds the parameter groups and per-parameter state; subclasses write ``update``.

    params: an iterable of tensors (``model.parameters()``), or of dicts
    ``{"params": [...], "lr": ...}`` whose missing settings come from the defaults.
    """

    state_names = ()  # per-parameter buffers saved by state_dict, e.g. ("step", "m", "v")

    def __init__(self, params, defaults):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of tensors or of dicts, got one "
                            "Tensor; pass [tensor] or model.parameters()")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name} got no parameters; pass model.parameters(). If model.parameters() "
                             "is empty, the model registered none: layers kept in a Python list or "
                             "dict must be held in nn.ModuleList / nn.ModuleDict instead")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {key: [] for key in self.state_names}
        self.steps = 0
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a dict {"params": tensors, setting: value, ...}; missing settings take the defaults."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group is a dict with a 'params' entry, got "
                            f"{type(group).__name__}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        known = {id(p) for p in self.params}
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(p).__name__}, not a Tensor "
                                "(pass model.parameters())")
            if not p.is_leaf:
                raise ValueError(f"{name}: parameter {i} was made by an op (not a leaf); an optimizer "
                                 "can only update leaf tensors such as a model's Parameters")
            if id(p) in known:
                raise ValueError(f"{name}: parameter {i} appears in more than one place; "
                                 "each parameter may be given once")
            known.add(id(p))
        group = {**self.defaults, **group, "params": params}
        if not (isinstance(group["lr"], numbers.Real) and group["lr"] >= 0):
            raise ValueError(f"{name}: learning rate must be a number >= 0, got {group['lr']!r}")
        self.check_group(group)
        self.param_groups.append(group)
        for buffers in self.state.values():
            buffers.extend([None] * len(params))

    def check_group(self, group):
        """Raise for settings out of range (subclasses check theirs)."""

    @property
    def params(self):
        """Every parameter, group after group (the order state_dict numbers them in)."""
        return [p for group in self.param_groups for p in group["params"]]

    @property
    def lr(self):
        """The first group's learning rate (param_groups[0]["lr"])."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        self.param_groups[0]["lr"] = value

    def zero_grad(self, set_to_none=True):
        """Clear every parameter's gradient: None (default), or zeros with set_to_none=False."""
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.array.fill(0)  # in place, as torch's p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient. closure: optional, re-computes and returns the loss."""
        loss = closure() if closure is not None else None
        self.steps += 1
        i = 0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    self.update(i, p, group)
                    # As torch's in-place updates do: a graph that saved p before this
                    # step refuses a later backward instead of using the new values.
                    p._bump_version()
                i += 1
        return loss

    def update(self, i, p, group):
        """Update parameter ``p`` (number ``i`` in ``self.params``) with the settings of its ``group``."""
        raise NotImplementedError

    def state_dict(self):
        """Everything needed to resume, as flat {name: array}: "steps", each group's settings as
        "group.<k>.<setting>", and each buffer as "<buffer>.<i>" (i numbers self.params)."""
        out = {"steps": numpy.asarray(self.steps)}
        for k, group in enumerate(self.param_groups):
            for key, value in group.items():
                if key != "params":
                    out[f"group.{k}.{key}"] = numpy.asarray(value)
        for name, buffers in self.state.items():
            for i, b in enumerate(buffers):
                if b is not None:
                    out[f"{name}.{i}"] = backend.to_numpy(b).copy() if name != "step" else numpy.asarray(b)
        return out

    def load_state_dict(self, state):
        """Restore what state_dict saved (for the same parameters in the same order)."""
        name = type(self).__name__
        params = self.params
        buffers = {key: [None] * len(params) for key in self.state_names}
        settings = []
        for key, value in state.items():
            if key == "steps":
                continue
            if key == "lr":  # checkpoints from before parameter groups
                settings.append((0, "lr", value))
                continue
            if key.startswith("group."):
                _, k, setting = key.split(".", 2)
                if not k.isdigit() or int(k) >= len(self.param_groups):
                    raise KeyError(f"{name}.load_state_dict: {key!r} names a parameter group this "
                                   f"optimizer does not have (it has {len(self.param_groups)})")
                settings.append((int(k), setting, value))
                continue
            buffer, _, index = key.partition(".")
            if buffer not in buffers or not index.isdigit() or int(index) >= len(params):
                raise KeyError(f"{name}.load_state_dict: unexpected entry {key!r}; "
                               "was this state saved by another optimizer or model?")
            p = params[int(index)]
            if buffer == "step":
                buffers[buffer][int(index)] = int(value)
                continue
            if tuple(value.shape) != p.shape:
                raise ValueError(f"{name}.load_state_dict: {key} has shape "
                                 f"{tuple(value.shape)} but parameter {index} has shape {p.shape}")
            buffers[buffer][int(index)] = backend.to_device(numpy.asarray(value).astype(p.dtype), p.device)
        self.steps = int(state.get("steps", 0))
        if "step" in buffers:  # older checkpoints kept one step count for all parameters
            others = [b for key, b in buffers.items() if key != "step"]
            for i, step in enumerate(buffers["step"]):
                if step is None and any(b[i] is not None for b in others):
                    buffers["step"][i] = self.steps
        self.state = buffers
        for k, setting, value in settings:
            value = numpy.asarray(value)
            self.param_groups[k][setting] = value.item() if value.ndim == 0 else tuple(value.tolist())
