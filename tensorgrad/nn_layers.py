"""The layers of tensorgrad.nn, importable from there as in torch.nn: Linear, Embedding, LayerNorm,
Dropout, the activations and the losses. Each is a Module whose forward calls tensorgrad.functional;
its parameters are created with PyTorch's init.
"""

import math

import numpy

from . import backend, functional
from .nn import Module, Parameter
from .random import generator, uniform
from .tensor import DEFAULT_FLOAT


class Linear(Module):
    """y = x @ W^T + b:  (..., in_features) -> (..., out_features). W is (out, in) as in PyTorch.

    Init as PyTorch: W and b from U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features, out_features, bias=True, dtype=DEFAULT_FLOAT, device=None):
        bound = 1 / math.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(uniform(-bound, bound, (out_features, in_features), dtype, device))
        self.bias = Parameter(uniform(-bound, bound, (out_features,), dtype, device)) if bias else None

    def forward(self, x):
        if x.shape[-1:] != (self.in_features,):
            raise ValueError(f"Linear({self.in_features}, {self.out_features}) got input of shape "
                             f"{x.shape}; its last axis must have size {self.in_features}")
        return functional.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: integer indices (...) -> rows (..., embedding_dim). Init N(0, 1) as PyTorch.

    padding_idx: as torch, that row starts at zero and gets no gradient (a padding token's
    vector stays what it is); -1 is the last row.
    """

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, dtype=DEFAULT_FLOAT, device=None):
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None:
            padding_idx = functional._padding_index(padding_idx, num_embeddings)
        self.padding_idx = padding_idx
        data = generator(device).standard_normal((num_embeddings, embedding_dim), dtype=numpy.dtype(dtype))
        if padding_idx is not None:
            data[padding_idx] = 0
        self.weight = Parameter(data, device=device)

    def forward(self, indices):
        return functional.embedding(indices, self.weight, padding_idx=self.padding_idx)

    def extra_repr(self):
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class LayerNorm(Module):
    """Normalise over the last dims to mean 0, variance 1, then scale and shift (as torch.nn.LayerNorm):
    (..., *normalized_shape) -> the same shape. weight starts at ones, bias at zeros."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, dtype=DEFAULT_FLOAT,
                 device=None):
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        xp = backend.module_for(device)
        self.weight = Parameter(xp.ones(shape, dtype=dtype)) if elementwise_affine else None
        self.bias = Parameter(xp.zeros(shape, dtype=dtype)) if elementwise_affine and bias else None

    def forward(self, x):
        return functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class Dropout(Module):
    """Zeroes elements with probability p in training mode; the identity in eval mode."""

    def __init__(self, p=0.5):
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = p

    def forward(self, x):
        return functional.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


# ------------------------------------------------- activations (for Sequential)
class Identity(Module):
    """f(x) = x."""

    def forward(self, x):
        return x


class ReLU(Module):
    """f(x) = max(x, 0), elementwise."""

    def forward(self, x):
        return functional.relu(x)


class Tanh(Module):
    """f(x) = tanh(x), elementwise."""

    def forward(self, x):
        return functional.tanh(x)


class Sigmoid(Module):
    """f(x) = 1 / (1 + e^-x), elementwise."""

    def forward(self, x):
        return functional.sigmoid(x)


class LeakyReLU(Module):
    """f(x) = x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope=0.01):
        self.negative_slope = negative_slope

    def forward(self, x):
        return functional.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class GELU(Module):
    """f(x) = x Phi(x) (approximate="none") or its tanh approximation (approximate="tanh")."""

    def __init__(self, approximate="none"):
        self.approximate = approximate

    def forward(self, x):
        return functional.gelu(x, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class Softmax(Module):
    """softmax along ``dim``: exp(x) / sum(exp(x)), each slice summing to 1."""

    def __init__(self, dim=None):
        self.dim = dim

    def forward(self, x):
        return functional.softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log_softmax along ``dim``: x - logsumexp(x), computed stably (pair it with NLLLoss)."""

    def __init__(self, dim=None):
        self.dim = dim

    def forward(self, x):
        return functional.log_softmax(x, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class Softplus(Module):
    """f(x) = log(1 + e^(beta x)) / beta (linear where beta x > threshold)."""

    def __init__(self, beta=1.0, threshold=20.0):
        self.beta, self.threshold = beta, threshold

    def forward(self, x):
        return functional.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


# ---------------------------------------------------------------------- losses
class CrossEntropyLoss(Module):
    """``functional.cross_entropy`` as a module: ``nn.CrossEntropyLoss()(logits, targets)``."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        self.weight, self.ignore_index = weight, ignore_index
        self.reduction, self.label_smoothing = reduction, label_smoothing

    def forward(self, input, target):
        return functional.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                                        reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(Module):
    """``functional.nll_loss`` as a module (input: log-probabilities, classes on axis 1)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        self.weight, self.ignore_index, self.reduction = weight, ignore_index, reduction

    def forward(self, input, target):
        return functional.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                                   reduction=self.reduction)


class MSELoss(Module):
    """``functional.mse_loss`` as a module."""

    def __init__(self, reduction="mean"):
        self.reduction = reduction

    def forward(self, input, target):
        return functional.mse_loss(input, target, reduction=self.reduction)


class BCEWithLogitsLoss(Module):
    """``functional.binary_cross_entropy_with_logits`` as a module."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        self.weight, self.reduction, self.pos_weight = weight, reduction, pos_weight

    def forward(self, input, target):
        return functional.binary_cross_entropy_with_logits(input, target, self.weight, self.reduction,
                                                           self.pos_weight)


class BCELoss(Module):
    """``functional.binary_cross_entropy`` as a module (input: probabilities in [0, 1])."""

    def __init__(self, weight=None, reduction="mean"):
        self.weight, self.reduction = weight, reduction

    def forward(self, input, target):
        return functional.binary_cross_entropy(input, target, self.weight, self.reduction)


class CTCLoss(Module):
    """``functional.ctc_loss`` as a module: ``nn.CTCLoss()(log_probs, targets, input_lengths,
    target_lengths)``."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        self.blank, self.reduction, self.zero_infinity = blank, reduction, zero_infinity

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return functional.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                                   reduction=self.reduction, zero_infinity=self.zero_infinity)

    def extra_repr(self):
        return f"blank={self.blank}, reduction={self.reduction!r}, zero_infinity={self.zero_infinity}"
