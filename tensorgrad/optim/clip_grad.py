"""Gradient clipping by global norm (PyTorch's torch.nn.utils.clip_grad_norm_)."""

import math

import numpy

from ..backend import get_array_module
from ..tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False):
    """Scale all gradients together, in place, so their global ``norm_type``-norm is at most ``max_norm``.

    The norm is taken over all gradients as if concatenated into one vector;
    when it exceeds max_norm every gradient is multiplied by max_norm / (norm + 1e-6).
    Returns the norm before clipping, as a float64 scalar (``.item()`` works, as on
    PyTorch's tensor), useful for logging. norm_type may be float("inf").
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    params = [p for p in parameters if p.grad is not None]
    if not params:
        return numpy.float64(0.0)
    norm_type = float(norm_type)
    # Each gradient's part of the norm stays a 0-d array on its device, and only
    # the total is read back: one host sync for all parameters on a GPU, not one
    # per parameter. sum() adds the parts in parameter order, as floats would.
    grads = [p.grad.array.astype(numpy.float64) for p in params]
    if norm_type == math.inf:
        peaks = [abs(g).max() for g in grads if g.size]
        total = float(get_array_module(grads[0]).stack(peaks).max()) if peaks else 0.0
    elif norm_type == 2:
        total = math.sqrt(float(sum((g * g).sum() for g in grads)))
    else:
        total = float(sum((abs(g) ** norm_type).sum() for g in grads)) ** (1 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of the gradients is {total}; pass "
                           "error_if_nonfinite=False to clip anyway (the gradients become nan)")
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in params:
            g = p.grad.array
            g *= g.dtype.type(scale)  # in place, as torch's clip_grad_norm_
    return numpy.float64(total)


clip_grad_norm = clip_grad_norm_  # the name without PyTorch's in-place underscore, kept for old code
