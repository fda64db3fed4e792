"""Functions on tensors built from the primitive ops (PyTorch's torch.nn.functional names).

Activations, softmax, losses, dropout, embedding, one_hot, pad, joins.

Shapes in the docstrings: N examples, C classes.
"""

import math
import numbers

import numpy

from . import backend, ops, probability_losses
from .random import generator
from .tensor import Tensor, lift
from .tensor_args import out_of_range, require_float


def _check_tensor(x, name, arg="x"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}: {arg} must be a Tensor, got {type(x).__name__} "
                        "(wrap it with tg.tensor(...))")


def _axis(axis, ndim, name):
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}: axis {axis} is out of range for a tensor with {ndim} dimensions")
    return axis % ndim


def _resolve_dim(dim, axis, name, default=-1):
    """PyTorch's ``dim=``, with NumPy's ``axis=`` accepted as an alias."""
    if axis is not None:
        if dim is not None and dim != axis:
            raise TypeError(f"{name}: got dim={dim} and axis={axis}; pass one of them (they are aliases)")
        return axis
    return default if dim is None else dim


def _reduce(loss, reduction, name):
    """Apply a loss's ``reduction``: "mean" (default), "sum", or "none" (the per-element losses)."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def softmax(x, dim=None, *, axis=None):
    """e^x / sum e^x along ``dim`` (default -1, the last): probabilities that sum to 1. Same shape as x."""
    _check_tensor(x, "softmax")
    require_float(x, "softmax: expected a floating point tensor")
    return ops.Softmax.apply(x, axis=_axis(_resolve_dim(dim, axis, "softmax"), x.ndim, "softmax"))


def log_softmax(x, dim=None, *, axis=None):
    """log softmax(x) along ``dim`` (default -1), computed stably (max-shifted). Same shape as x."""
    _check_tensor(x, "log_softmax")
    require_float(x, "log_softmax: expected a floating point tensor")
    return ops.LogSoftmax.apply(x, axis=_axis(_resolve_dim(dim, axis, "log_softmax"), x.ndim, "log_softmax"))


def sigmoid(x):
    """1 / (1 + e^-x), elementwise."""
    _check_tensor(x, "sigmoid")
    return x.sigmoid()


def tanh(x):
    """tanh(x), elementwise."""
    _check_tensor(x, "tanh")
    return x.tanh()


def relu(x):
    """max(x, 0), elementwise."""
    _check_tensor(x, "relu")
    return x.relu()


def leaky_relu(x, negative_slope=0.01):
    """x where x > 0, else negative_slope * x;  gradient 1 or negative_slope. Same shape as x."""
    _check_tensor(x, "leaky_relu")
    return ops.Where.apply(x, x * negative_slope, cond=x.array > 0)


def gelu(x, approximate="none"):
    """x Phi(x) with Phi the standard normal CDF (exact, via erf), elementwise.

    approximate="tanh": 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as PyTorch's option.
    """
    _check_tensor(x, "gelu")
    if approximate == "none":
        return ops.Gelu.apply(x)
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(x, beta=1.0, threshold=20.0):
    """log(1 + e^(beta x)) / beta elementwise, without overflow; x itself where beta x > threshold."""
    _check_tensor(x, "softplus")
    if not beta > 0:
        raise ValueError(f"softplus: beta must be positive, got {beta!r}")
    return ops.Softplus.apply(x, beta=float(beta), threshold=float(threshold))


def linear(x, weight, bias=None):
    """x @ weight^T + bias:  x (..., in), weight (out, in), bias (out,) -> (..., out)."""
    _check_tensor(x, "linear")
    _check_tensor(weight, "linear", "weight")
    if weight.ndim != 2 or x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} and weight of shape {weight.shape} do not fit; "
                         "weight is (out_features, in_features) and the input's last size must be "
                         "in_features")
    if x.ndim > 2:  # (T, B, in): one (T*B, in) GEMM, not T batched ones (and T weight gradients summed)
        y = (x.reshape(-1, x.shape[-1]) @ weight.T).reshape(*x.shape[:-1], weight.shape[0])
    else:
        y = x @ weight.T
    return y if bias is None else y + bias


def _int_array(values, xp, name, what):
    """``values`` (a Tensor, array or list) as an integer array of module ``xp``."""
    a = values.array if isinstance(values, Tensor) else values
    a = xp.asarray(a) if not isinstance(a, xp.ndarray) else a
    if a.dtype.kind not in "iu":
        raise TypeError(f"{name}: {what} must be integer class indices, got dtype {a.dtype}; "
                        "convert with .astype(np.int64)")
    return a


def _class_targets(input, target, weight, ignore_index, mask, name):
    """Check the targets of a classification loss; returns (targets, counted, weights).

    input (N, C) or (N, C, d1, ...) has the classes on axis 1, as in PyTorch;
    target (N,) or (N, d1, ...) ints in [0, C) or ignore_index (those become 0).
    counted: 1 where a target counts (``mask`` and ignore_index), weights: that
    times the class ``weight`` (C,) of each target; each None when all are 1.
    """
    xp = backend.get_array_module(input.array)
    t = _int_array(target, xp, name, "targets")
    expected = (input.shape[0],) + input.shape[2:]
    if tuple(t.shape) != expected:
        hint = ""
        if input.ndim > 2 and tuple(t.shape) == input.shape[:-1]:
            hint = (f". The classes are on axis 1, as in PyTorch; for class scores on the last axis, "
                    f"pass input.reshape(-1, {input.shape[-1]}) and target.reshape(-1)")
        raise ValueError(f"{name}: input of shape {input.shape} (N, C, ...) needs targets of shape "
                         f"{expected}, got {tuple(t.shape)}{hint}")
    n_classes = input.shape[1]
    counted = None
    if mask is not None:
        m = mask.array if isinstance(mask, Tensor) else xp.asarray(mask)
        if tuple(m.shape) != tuple(t.shape):
            raise ValueError(f"{name}: mask has shape {tuple(m.shape)}, targets {tuple(t.shape)}; "
                             "they must match")
        counted = m.astype(input.dtype)
    ignored = t == ignore_index if ignore_index is not None else None
    if ignored is not None and bool(ignored.any()):
        keep = (~ignored).astype(input.dtype)
        counted = keep if counted is None else counted * keep
        t = xp.where(ignored, 0, t)
    bad = out_of_range(t, n_classes)
    if bad is not None:
        raise ValueError(f"{name}: target {bad} is out of range for {n_classes} classes "
                         f"(targets must be in [0, {n_classes - 1}], or ignore_index={ignore_index})")
    if weight is not None:
        w = weight.array if isinstance(weight, Tensor) else xp.asarray(weight)
        if w.dtype == bool:
            raise TypeError(f"{name}: weight (the third argument, as in PyTorch) holds per-class "
                            "weights, but got a boolean array; to count some targets only, pass mask=")
        if tuple(w.shape) != (n_classes,):
            raise ValueError(f"{name}: weight must have one entry per class, shape ({n_classes},), "
                             f"got {tuple(w.shape)}")
        picked = w.astype(input.dtype)[t]
        return t, counted, picked if counted is None else counted * picked
    return t, counted, counted


def _check_loss_call(input, reduction, name):
    _check_tensor(input, name, "input")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    if input.ndim < 1:
        raise ValueError(f"{name}: input must have a class axis, got a 0-d tensor")


def _check_some_target_counts(t, weights, reduction, name):
    if reduction == "mean" and (t.size == 0 or (weights is not None and float(weights.sum()) == 0)):
        raise ValueError(f"{name}: no target counts (all masked or ignored, or none given); "
                         "the mean over zero targets is undefined")


def _unbatched(fn, input, target, *args, **kwargs):
    """Run a classification loss on one example: input (C,), target a scalar index."""
    out = fn(input.reshape(1, input.shape[0]), [target.item() if isinstance(target, Tensor) else target],
             *args, **kwargs)
    return out.reshape(()) if out.ndim else out


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean", mask=None):
    """Negative log-likelihood of integer targets given log-probabilities (e.g. from log_softmax).

    input (N, C) or (N, C, d1, ...) log-probabilities with the classes on axis 1, or (C,);
    target (N,) or (N, d1, ...) ints in [0, C); targets equal to ignore_index count for nothing.
    weight: optional (C,) class weights; mask: ours, 1/True where a target counts.
    reduction: "mean" (weighted by the counted targets' weights), "sum" or "none" (shape of target).
    """
    _check_loss_call(input, reduction, "nll_loss")
    if input.ndim == 1:
        return _unbatched(nll_loss, input, target, weight, ignore_index=ignore_index,
                          reduction=reduction, mask=mask)
    t, _, weights = _class_targets(input, target, weight, ignore_index, mask, "nll_loss")
    _check_some_target_counts(t, weights, reduction, "nll_loss")
    return ops.NLLLoss.apply(input, targets=t, weights=weights, reduction=reduction)


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0, mask=None):
    """Cross-entropy of integer ``target`` under softmax(``input``) over the class axis 1 (PyTorch's).

    input: logits (N, C), or (N, C, d1, ...) with the classes on axis 1, or (C,) for one example;
    target: (N,) or (N, d1, ...) ints in [0, C); targets equal to ignore_index count for nothing.
    weight: optional (C,) class weights. mask (ours): same shape as target, 1/True where a target counts.
    label_smoothing: eps in [0, 1]: the target distribution is (1 - eps) onehot + eps / C.
    reduction: "mean" over counted targets (weighted), "sum", or "none" (one loss per target).
    Logits laid out (N, T, C)? Pass ``input.reshape(-1, C), target.reshape(-1)``.
    """
    _check_loss_call(input, reduction, "cross_entropy")
    if input.ndim == 1:
        return _unbatched(cross_entropy, input, target, weight, ignore_index=ignore_index,
                          reduction=reduction, label_smoothing=label_smoothing, mask=mask)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
    t, counted, weights = _class_targets(input, target, weight, ignore_index, mask, "cross_entropy")
    _check_some_target_counts(t, weights, reduction, "cross_entropy")
    loss = ops.CrossEntropy.apply(input, targets=t, weights=weights, reduction=reduction)
    if not label_smoothing:
        return loss
    # PyTorch's smoothing term: -sum_c w_c log p_c per counted target, reduced like the main
    # term (a "mean" divides by the same sum of target weights), then scaled by eps / C.
    xp = backend.get_array_module(input.array)
    logp = log_softmax(input, dim=1)
    if weight is not None:
        w = weight.array if isinstance(weight, Tensor) else xp.asarray(weight)
        logp = logp * _constant(w.astype(input.dtype).reshape((-1,) + (1,) * (input.ndim - 2)))
    smooth = -logp.sum(axis=1)
    if counted is not None:
        smooth = smooth * _constant(counted)
    if reduction == "mean":
        smooth = smooth.sum() / _constant(xp.asarray(t.size if weights is None else weights.sum(),
                                                     dtype=input.dtype))
    elif reduction == "sum":
        smooth = smooth.sum()
    return loss * (1 - label_smoothing) + smooth * (label_smoothing / input.shape[1])


def _constant(array):
    """An array as a tensor that records no gradient."""
    return Tensor._from_op(array, None, 0)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """-w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] elementwise, reduced; stable for any |x|.

    input x: logits (any shape); target y: probabilities in [0, 1], the same shape;
    weight w: broadcasts to x; pos_weight p: weight of the positive term, broadcasting
    along the last (class) axis, e.g. (C,). Computed as
    (1 - y) x + (1 + (p - 1) y) softplus(-x), with softplus(-x) = log(1 + e^-x) formed stably.
    """
    _check_tensor(input, "binary_cross_entropy_with_logits", "input")
    target = lift(target, input)
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: target size {target.shape} must be the "
                         f"same as input size {input.shape}")
    log_one_plus = ops.Softplus.apply(-input, beta=1.0, threshold=math.inf)  # -log sigmoid(x)
    if pos_weight is None:
        loss = (1 - target) * input + log_one_plus
    else:
        loss = (1 - target) * input + (1 + (lift(pos_weight, input) - 1) * target) * log_one_plus
    if weight is not None:
        loss = loss * lift(weight, input)
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w [y log x + (1 - y) log(1 - x)] elementwise, reduced, as torch's (logs clamped at -100).

    input x: probabilities in [0, 1] (e.g. after sigmoid); target y: the same shape; weight w
    broadcasts to x. From logits, binary_cross_entropy_with_logits is the stable form.
    """
    _check_tensor(input, "binary_cross_entropy", "input")
    target = lift(target, input)
    if target.shape != input.shape:
        raise ValueError(f"binary_cross_entropy: using a target size {target.shape} that is different "
                         f"to the input size {input.shape}; they must match")
    require_float(input, "binary_cross_entropy: input must be probabilities (floats)")
    x = input.array
    if x.size and not bool(((x >= 0) & (x <= 1)).all()):
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                           "(apply sigmoid first, or use binary_cross_entropy_with_logits on logits)")
    loss = probability_losses.BinaryCrossEntropy.apply(input, target.astype(input.dtype))
    if weight is not None:
        loss = loss * lift(weight, input)
    return _reduce(loss, reduction, "binary_cross_entropy")


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) dims, as torch:
    mean and (biased) variance per example over those dims; weight and bias have normalized_shape."""
    _check_tensor(input, "layer_norm", "input")
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    if not shape or input.shape[input.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} must be the last dims of the input, whose "
                         f"shape is {input.shape}")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    centred = input - input.mean(dim=dims, keepdim=True)
    variance = (centred * centred).mean(dim=dims, keepdim=True)
    out = centred / (variance + eps).sqrt()
    if weight is not None:
        out = out * weight
    return out if bias is None else out + bias


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2 elementwise, reduced by ``reduction`` ("mean", "sum", "none"). Shapes must match."""
    _check_tensor(input, "mse_loss", "input")
    target = lift(target, input)
    if input.shape != target.shape:
        raise ValueError(f"mse_loss: input has shape {input.shape} but target has shape "
                         f"{target.shape}; they must match (no broadcasting, to catch mistakes)")
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def one_hot(tensor, num_classes=-1):
    """Integer class indices (...) -> int64 (..., num_classes) with a 1 at each index.

    num_classes=-1: one more than the largest index. Records no gradient.
    """
    xp = backend.get_array_module(tensor.array) if isinstance(tensor, Tensor) else numpy
    ids = _int_array(tensor, xp, "one_hot", "indices")
    if num_classes == -1:
        if ids.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(ids.max()) + 1
    bad = out_of_range(ids, num_classes)
    if bad is not None:
        raise ValueError(f"one_hot: index {bad} is out of range for {num_classes} classes "
                         f"(indices must be in [0, {num_classes - 1}])")
    out = (ids[..., None] == xp.arange(num_classes)).astype(numpy.int64)
    return Tensor._from_op(out, None, 0)


def pad(input, pad, mode="constant", value=0.0):
    """Pad ``input`` with ``value``: pad = (left, right) for the last axis, then (top, bottom) for the
    one before, ... (PyTorch's order, last axis first). Negative amounts crop."""
    _check_tensor(input, "pad", "input")
    if mode != "constant":
        raise NotImplementedError(f"pad: only mode='constant' is implemented, got mode={mode!r}")
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim or not all(isinstance(p, numbers.Integral) for p in pad):
        raise ValueError(f"pad: pad must be an even number of ints, at most 2 per axis of the "
                         f"{input.ndim}-d input, got {pad}")
    pairs = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]
    widths = [(0, 0)] * (input.ndim - len(pairs)) + pairs[::-1]
    for axis, (n, (before, after)) in enumerate(zip(input.shape, widths, strict=True)):
        if n + before + after < 0:
            raise ValueError(f"pad: padding {before, after} of axis {axis} (size {n}) leaves a "
                             "negative size")
    return ops.Pad.apply(input, widths=widths, value=value)


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
    return x * _constant(scale)


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` (V, D) picked by integer ``indices`` (...) -> (..., D).

    padding_idx: as torch, the places that pick that row send no gradient to it.
    """
    idx = indices.array if isinstance(indices, Tensor) else indices
    xp = backend.get_array_module(weight.array)
    idx = xp.asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got dtype {idx.dtype}")
    n = weight.shape[0]
    bad = out_of_range(idx, n)
    if bad is not None:
        raise IndexError(f"embedding: index {bad} is out of range for {n} embeddings "
                         f"(indices must be in [0, {n - 1}])")
    rows = ops.GetItem.apply(weight, index=idx)
    if padding_idx is None:
        return rows
    padding_idx = _padding_index(padding_idx, n)
    # the same values, but taken from a detached copy where the index is padding_idx: no gradient
    return where((idx == padding_idx)[..., None], rows.detach(), rows)


def _padding_index(padding_idx, n):
    """padding_idx checked and made non-negative (-1 is the last row), as torch's Embedding."""
    if not isinstance(padding_idx, numbers.Integral) or not -n <= padding_idx < n:
        raise ValueError(f"padding_idx must be an int within num_embeddings ({n}), got {padding_idx!r}")
    return int(padding_idx) % n


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
    c = cond.array if isinstance(cond, Tensor) else cond
    xp = backend.get_array_module(a.array)
    c = xp.asarray(c)
    if c.dtype != bool:
        raise TypeError(f"where: cond must be boolean, got dtype {c.dtype} (compare, e.g. x > 0)")
    return ops.Where.apply(a, b, cond=c)


def _ctc_lengths(lengths, n, batched, what):
    """input_lengths/target_lengths (a Tensor, list, tuple, or an int when unbatched) as host ints (n,)."""
    a = backend.to_numpy(lengths.array) if isinstance(lengths, Tensor) else numpy.asarray(lengths)
    if a.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: {what} must be integers, got dtype {a.dtype}")
    expected = (n,) if batched else ()
    if not batched and a.shape == (1,):
        a = a.reshape(())
    if a.shape != expected:
        raise ValueError(f"ctc_loss: {what} must have shape {expected}, one length per sequence, "
                         f"got {a.shape}")
    a = a.reshape(n).astype(numpy.int64)
    if (a < 0).any():
        raise ValueError(f"ctc_loss: {what} must be >= 0, got {int(a.min())}")
    return a


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """Connectionist temporal classification loss (torch's ``F.ctc_loss``): -log p(target | input).

    log_probs: (T, N, C) log-probabilities (e.g. ``log_softmax(logits, dim=2)``), or (T, C) for
    one sequence. targets: (N, S) padded (entries past a target's length ignored) or 1-D, all
    targets concatenated; (S,) when unbatched. input_lengths, target_lengths: (N,) ints (Tensors,
    lists or tuples; plain ints when unbatched). Labels are in [0, C) and never ``blank``.
    reduction: "mean" (each loss divided by its target length, at least 1, then the batch mean),
    "sum", or "none" (N,). A target no alignment fits (too long for its input) has loss inf
    and a nan gradient; ``zero_infinity=True`` makes both 0.
    The gradient is the true one wrt log_probs; torch's adds exp(log_probs), which cancels
    through log_softmax, so gradients wrt logits agree with torch's.
    """
    name = "ctc_loss"
    _check_loss_call(log_probs, reduction, name)
    require_float(log_probs, "ctc_loss: log_probs must be a floating point tensor of log-probabilities")
    if log_probs.ndim not in (2, 3):
        raise ValueError(f"ctc_loss: log_probs must be (T, N, C), or (T, C) for one sequence, "
                         f"got {log_probs.ndim} dimensions {log_probs.shape}")
    batched = log_probs.ndim == 3
    lp = log_probs if batched else log_probs.reshape(log_probs.shape[0], 1, log_probs.shape[1])
    T, N, C = lp.shape
    if not (isinstance(blank, numbers.Integral) and 0 <= blank < C):
        raise ValueError(f"ctc_loss: blank must be a class index in [0, {C - 1}], got {blank!r}")
    in_len = _ctc_lengths(input_lengths, N, batched, "input_lengths")
    tg_len = _ctc_lengths(target_lengths, N, batched, "target_lengths")
    if (in_len > T).any():
        raise ValueError(f"ctc_loss: input_lengths must be at most the number of frames T={T}, "
                         f"got {int(in_len.max())}")
    t = backend.to_numpy(targets.array) if isinstance(targets, Tensor) else numpy.asarray(targets)
    if t.size == 0:
        t = t.astype(numpy.int64)
    if t.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: targets must be integer labels, got dtype {t.dtype}")
    S = int(tg_len.max()) if N else 0
    if batched and t.ndim == 2:
        if t.shape[0] != N or t.shape[1] < S:
            raise ValueError(f"ctc_loss: padded targets must have shape (N={N}, S >= {S}), the longest "
                             f"target_length, got {t.shape}")
        padded = t[:, :S] if S else numpy.zeros((N, 0), dtype=numpy.int64)
    elif t.ndim == 1:
        total = int(tg_len.sum())
        if t.shape[0] < total:
            what = "the concatenated targets have" if batched else "targets has"
            raise ValueError(f"ctc_loss: {what} {t.shape[0]} labels but target_lengths add up to {total}")
        padded = numpy.zeros((N, S), dtype=numpy.int64)
        starts = numpy.concatenate([[0], numpy.cumsum(tg_len)[:-1]]).astype(numpy.int64)
        for n in range(N):
            padded[n, :tg_len[n]] = t[starts[n]:starts[n] + tg_len[n]]
    else:
        raise ValueError(f"ctc_loss: targets must be (N, S) padded or 1-D concatenated"
                         f"{'' if batched else ' ((S,) for unbatched log_probs)'}, got {t.ndim} dimensions")
    padded = padded.astype(numpy.int64)
    used = numpy.arange(S)[None, :] < tg_len[:, None]
    labels = padded[used]
    if labels.size:
        if labels.min() < 0 or labels.max() >= C:
            bad = labels[(labels < 0) | (labels >= C)][0]
            raise ValueError(f"ctc_loss: target label {int(bad)} is out of range for {C} classes")
        if (labels == blank).any():
            raise ValueError(f"ctc_loss: a target contains the blank label {blank}; targets hold labels "
                             f"only (the blank is inserted by the loss)")
    xp = backend.get_array_module(lp.array)
    loss = ops.CTCLoss.apply(lp, targets=xp.asarray(padded), input_lengths=xp.asarray(in_len),
                             target_lengths=xp.asarray(tg_len), blank=int(blank),
                             zero_infinity=bool(zero_infinity))
    if reduction == "mean":
        per_label = xp.asarray(numpy.maximum(tg_len, 1).astype(log_probs.dtype))
        return (loss / _constant(per_label)).mean()
    if reduction == "sum":
        return loss.sum()
    return loss if batched else loss.reshape(())


# Convolution and pooling live in their own module; importable from here as torch.nn.functional's are.
from .functional_conv import (  # noqa: E402
    adaptive_avg_pool2d,  # noqa: F401
    avg_pool2d,  # noqa: F401
    conv2d,  # noqa: F401
    fold,  # noqa: F401
    max_pool2d,  # noqa: F401
    unfold,  # noqa: F401
)
