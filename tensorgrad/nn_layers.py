"""The layers of tensorgrad.nn, importable from there as in torch.nn: Linear, Embedding, LayerNorm,
Dropout, Conv2d and the pools, Unfold, Fold, Flatten, the activations and the losses. Each is a
Module whose forward calls tensorgrad.functional; its parameters are created with PyTorch's init.
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


def _pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


class Conv2d(Module):
    """2-D convolution (functional.conv2d): (N, in_channels, H, W) or (in_channels, H, W) ->
    (N, out_channels, H_out, W_out). weight (out_channels, in_channels / groups, kH, kW), bias
    (out_channels,), as torch, so a torch state_dict loads.

    Init as PyTorch: weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in =
    in_channels / groups * kH * kW. padding_mode: only 'zeros'.
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", dtype=DEFAULT_FLOAT, device=None):
        if padding_mode != "zeros":
            raise NotImplementedError(f"Conv2d: padding_mode={padding_mode!r} is not implemented, only "
                                      "'zeros'; pad the input yourself first")
        if groups <= 0 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must be positive and divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        if isinstance(padding, str) and padding not in ("valid", "same"):
            raise ValueError(f"Conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if padding == "same" and _pair(stride) != (1, 1):
            raise ValueError("Conv2d: padding='same' is not supported for strided convolutions "
                             f"(stride={stride}); give the padding as numbers instead")
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size, self.stride, self.dilation = _pair(kernel_size), _pair(stride), _pair(dilation)
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        self.padding_mode = padding_mode
        shape = (out_channels, in_channels // groups) + self.kernel_size
        bound = 1 / math.sqrt(shape[1] * shape[2] * shape[3])
        self.weight = Parameter(uniform(-bound, bound, shape, dtype, device))
        self.bias = Parameter(uniform(-bound, bound, (out_channels,), dtype, device)) if bias else None

    def forward(self, x):
        return functional.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                                 self.groups)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding!r}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    """functional.max_pool2d as a module: the maximum of each window (stride defaults to kernel_size)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x):
        return functional.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                     ceil_mode=self.ceil_mode, return_indices=self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """functional.avg_pool2d as a module: the mean of each window (stride defaults to kernel_size)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        self.kernel_size, self.stride = kernel_size, kernel_size if stride is None else stride
        self.padding = padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return functional.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                     self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool2d(Module):
    """functional.adaptive_avg_pool2d as a module: average pool to a fixed output_size (OH, OW)."""

    def __init__(self, output_size):
        self.output_size = output_size

    def forward(self, x):
        return functional.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class Unfold(Module):
    """functional.unfold as a module: each window as a column, (N, C, H, W) -> (N, C * kH * kW, L)."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        self.kernel_size, self.dilation, self.padding, self.stride = kernel_size, dilation, padding, stride

    def forward(self, x):
        return functional.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, padding={self.padding}, "
                f"stride={self.stride}")


class Fold(Module):
    """functional.fold as a module: columns (N, C * kH * kW, L) summed into (N, C, *output_size)."""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, x):
        return functional.fold(x, self.output_size, self.kernel_size, self.dilation, self.padding,
                               self.stride)

    def extra_repr(self):
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Flatten(Module):
    """x.flatten(start_dim, end_dim): by default (N, C, H, W) -> (N, C*H*W), keeping the batch axis."""

    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x):
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


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
