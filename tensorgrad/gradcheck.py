"""Check a backward against central finite differences, in float64, element by element."""

import numpy

from . import backend
from .tensor import Tensor


class GradcheckError(AssertionError):
    """The analytical gradient disagrees with the numerical one."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-4, seed=0):
    """True if backward through ``fn(*inputs)`` matches finite differences; raises if not.

    fn: takes the tensors in ``inputs`` and returns a tensor of any shape.
    inputs: float64 tensors; those with requires_grad=True are checked.
    The output is reduced to a scalar with fixed random weights w, so
    L = sum(w * fn(*inputs)), and for every element x_i of every checked input
    dL/dx_i from backward() must match (L(x_i + eps) - L(x_i - eps)) / (2 eps)
    within atol + rtol * |numerical|. The error names the worst element; a NaN or
    infinity in either gradient fails, naming the first such element.
    """
    inputs = list(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True, so there is nothing to check")
    for i in checked:
        if not inputs[i].is_leaf:
            raise ValueError(f"gradcheck: input {i} was made by an op ({type(inputs[i].grad_fn).__name__}), "
                             "so backward keeps no .grad for it; pass a leaf tensor instead, e.g. "
                             "x.detach().requires_grad_()")
        if inputs[i].dtype != numpy.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need "
                            "float64 (tg.tensor(..., dtype=np.float64, requires_grad=True))")

    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    xp = backend.get_array_module(out.array)
    weights = xp.asarray(numpy.random.default_rng(seed).standard_normal(out.shape))

    def loss():
        return float((fn(*inputs).array * weights).sum())

    if not out.requires_grad:
        raise GradcheckError("gradcheck: fn's output does not depend on any input that requires grad")
    saved_grads = [inputs[i].grad for i in checked]  # given back afterwards: gradcheck only looks
    for i in checked:
        inputs[i].grad = None
    (out * Tensor(weights)).sum().backward()
    try:
        return _compare(inputs, checked, loss, eps, atol, rtol)
    finally:
        for i, g in zip(checked, saved_grads, strict=True):
            inputs[i].grad = g


def _compare(inputs, checked, loss, eps, atol, rtol):
    """Backward's gradients (in .grad) against central differences of ``loss``; raise on the worst."""
    worst = None  # (excess over tolerance, input, index, analytical, numerical)
    for i in checked:
        x = inputs[i]
        analytical = x.grad.numpy() if x.grad is not None else numpy.zeros(x.shape)
        numerical = numpy.zeros(x.shape)
        for k in numpy.ndindex(*x.shape):  # perturb x in place, one element at a time
            original = x.array[k].item()
            x.array[k] = original + eps
            plus = loss()
            x.array[k] = original - eps
            minus = loss()
            x.array[k] = original
            numerical[k] = (plus - minus) / (2 * eps)
        for kind, grad in (("backward gives", analytical), ("finite differences give", numerical)):
            if not numpy.isfinite(grad).all():  # NaN compares false with everything: catch it here
                k = tuple(int(j) for j in numpy.argwhere(~numpy.isfinite(grad))[0])
                raise GradcheckError(
                    f"gradcheck failed: input {i}, element {k}: {kind} {grad[k]}, not a finite "
                    "number" + (" (fn itself is not finite near this input)" if kind != "backward gives"
                                else "; look for a division by zero or log/sqrt of 0 in the backward"))
        excess = numpy.abs(analytical - numerical) - (atol + rtol * numpy.abs(numerical))
        if excess.size and (worst is None or excess.max() > worst[0]):
            k = numpy.unravel_index(int(excess.argmax()), x.shape)
            worst = (excess.max(), i, k, analytical[k], numerical[k])
    if worst is not None and worst[0] > 0:
        _, i, k, a, n = worst
        raise GradcheckError(
            f"gradcheck failed: input {i}, element {tuple(int(j) for j in k)}: backward gives {a:.10g} "
            f"but finite differences give {n:.10g} (difference {abs(a - n):.3g}, "
            f"allowed {atol + rtol * abs(n):.3g})")
    return True
