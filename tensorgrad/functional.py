"""Functions on tensors built from the primitive ops: losses, softmax, dropout, joins.

Shapes in the docstrings: N examples, C classes.
"""

import numbers

import numpy

from . import backend, ops
from .random import generator
from .tensor import Tensor, lift


def _check_tensor(x, name, arg="x"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: {arg} must be a Tensor, got {type(x).__name__} "
                        "(wrap it with tg.tensor(...))")


def _axis(axis, ndim, name):
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % ndim


def softmax(x, axis=-1):
    """e^x / sum e^x along ``axis``: probabilities that sum to 1. Same shape as x."""
    _check_tensor(x, "softmax")
    return ops.Softmax.apply(x, axis=_axis(axis, x.ndim, "softmax"))


def log_softmax(x, axis=-1):
    """log softmax(x) along ``axis``, computed stably (max-shifted). Same shape as x."""
    _check_tensor(x, "log_softmax")
    return ops.LogSoftmax.apply(x, axis=_axis(axis, x.ndim, "log_softmax"))


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def relu(x):
    return x.relu()


def cross_entropy(logits, targets, mask=None, ignore_index=None, reduction="mean"):
    """Mean negative log-likelihood of integer ``targets`` under softmax(``logits``).

    logits (N, C) (or (..., C)), targets (N,) (or (...)) ints in [0, C).
    mask: same shape as targets, 1/True where a target counts, 0/False where not.
    ignore_index: a target value that does not count (e.g. padding).
    reduction: "mean" over counted targets, or "sum". Returns a scalar tensor.
    """
    _check_tensor(logits, "cross_entropy", "logits")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"cross_entropy: reduction must be 'mean' or 'sum', got {reduction!r}")
    xp = backend.get_array_module(logits.data)
    t = targets.data if isinstance(targets, Tensor) else targets
    t = xp.asarray(t) if not isinstance(t, xp.ndarray) else t
    if t.dtype.kind not in "iu":
        raise TypeError(f"cross_entropy: targets must be integer class indices, got dtype {t.dtype}; "
                        "convert with .astype(np.int64)")
    if logits.ndim < 1 or tuple(t.shape) != logits.shape[:-1]:
        raise ValueError(f"cross_entropy: logits of shape {logits.shape} need targets of shape "
                         f"{logits.shape[:-1]} (one class index per row), got {tuple(t.shape)}")
    n_classes = logits.shape[-1]
    weights = None
    if mask is not None:
        m = mask.data if isinstance(mask, Tensor) else xp.asarray(mask)
        if tuple(m.shape) != tuple(t.shape):
            raise ValueError(f"cross_entropy: mask has shape {tuple(m.shape)}, targets {tuple(t.shape)}; "
                             "they must match")
        weights = m.astype(logits.dtype)
    if ignore_index is not None:
        keep = (t != ignore_index).astype(logits.dtype)
        weights = keep if weights is None else weights * keep
        t = xp.where(t == ignore_index, 0, t)
    bad = _out_of_range(t, n_classes)
    if bad is not None:
        raise ValueError(f"cross_entropy: target {bad} is out of range for {n_classes} classes "
                         f"(targets must be in [0, {n_classes - 1}])")
    if reduction == "mean" and (t.size == 0 or (weights is not None and float(weights.sum()) == 0)):
        raise ValueError("cross_entropy: no target counts (all masked or ignored, or none given); "
                         "the mean over zero targets is undefined")
    flat = logits.reshape(-1, n_classes) if logits.ndim != 2 else logits
    return ops.CrossEntropy.apply(flat, targets=t.reshape(-1),
                                  weights=None if weights is None else weights.reshape(-1),
                                  reduction=reduction)


def _out_of_range(ids, n):
    """An id of ``ids`` outside [0, n), or None when all are inside."""
    if ids.size == 0:
        return None
    low, high = int(ids.min()), int(ids.max())
    return low if low < 0 else high if high >= n else None


def mse_loss(prediction, target):
    """Mean of (prediction - target)^2 over every element. Shapes must match."""
    _check_tensor(prediction, "mse_loss", "prediction")
    target = lift(target, prediction)
    if prediction.shape != target.shape:
        raise ValueError(f"mse_loss: prediction has shape {prediction.shape} but target has shape "
                         f"{target.shape}; they must match (no broadcasting, to catch mistakes)")
    diff = prediction - target
    return (diff * diff).mean()


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p) (training only)."""
    _check_tensor(x, "dropout")
    if not isinstance(p, numbers.Real) or not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p!r}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0.0
    keep = generator(x.device).random(x.shape, dtype=numpy.float32) >= p
    scale = (keep / (1 - p)).astype(x.dtype)
    return x * Tensor._from_op(scale, None, 0)


def embedding(indices, weight):
    """Rows of ``weight`` (V, D) picked by integer ``indices`` (...) -> (..., D)."""
    idx = indices.data if isinstance(indices, Tensor) else indices
    xp = backend.get_array_module(weight.data)
    idx = xp.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    n = weight.shape[0]
    bad = _out_of_range(idx, n)
    if bad is not None:
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings "
                         f"(indices must be in [0, {n - 1}])")
    return ops.GetItem.apply(weight, index=idx)


def _tensors(tensors, name):
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{name}: needs at least one tensor")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: item {i} is a {type(t).__name__}, not a Tensor")
    return tensors


def cat(tensors, dim=0, *, axis=None):
    """Join tensors along an existing ``dim`` (all other sizes must match). Also named concat."""
    tensors = _tensors(tensors, "cat")
    dim = dim if axis is None else axis
    return ops.Concat.apply(*tensors, axis=_axis(dim, tensors[0].ndim, "cat"))


concat = cat


def stack(tensors, dim=0, *, axis=None):
    """Stack same-shaped tensors along a new ``dim``."""
    tensors = _tensors(tensors, "stack")
    dim = dim if axis is None else axis
    return ops.Stack.apply(*tensors, axis=_axis(dim, tensors[0].ndim + 1, "stack"))


def where(cond, a, b):
    """Elementwise ``a`` where ``cond`` is true, else ``b`` (broadcasting); cond records no gradient."""
    if isinstance(a, Tensor):
        b = lift(b, a)
    elif isinstance(b, Tensor):
        a = lift(a, b)
    else:
        raise TypeError("where: a or b must be a Tensor")
    c = cond.data if isinstance(cond, Tensor) else cond
    xp = backend.get_array_module(a.data)
    c = xp.asarray(c)
    if c.dtype != bool:
        raise TypeError(f"where: cond must be boolean, got dtype {c.dtype} (compare, e.g. x > 0)")
    return ops.Where.apply(a, b, cond=c)
