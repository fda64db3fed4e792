"""Convolution and pooling on images (PyTorch's torch.nn.functional names): conv2d, max_pool2d,
avg_pool2d, adaptive_avg_pool2d, unfold and fold. Importable from tensorgrad.functional.

Shapes: input (N, C, H, W), or (C, H, W) unbatched; weight (out_channels, in_channels / groups,
kH, kW). ``kernel_size``, ``stride``, ``padding`` and ``dilation`` are an int or an (H, W) pair.
"""

import math
import numbers

import numpy

from . import backend
from .ops.conv import AvgPool2d, Conv2d, MaxPool2d, avg_pool_divisor, max_pool_windows, output_size
from .ops.unfold import Fold, Unfold
from .tensor import Tensor


def _pair(value, name, arg):
    """An int or a pair of ints as an (H, W) pair of ints."""
    pair = (value, value) if isinstance(value, numbers.Integral) else value
    if (not isinstance(pair, (tuple, list)) or len(pair) != 2
            or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in pair)):
        raise TypeError(f"{name}: {arg} must be an int or a pair of ints (H, W), got {value!r}")
    return int(pair[0]), int(pair[1])


def _image(input, name, arg="input"):
    """input as (N, C, H, W) and whether it was unbatched (C, H, W)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: {arg} must be a Tensor, got {type(input).__name__} "
                        "(wrap it with tg.tensor(...))")
    if input.ndim not in (3, 4):
        raise RuntimeError(f"{name}: expected a 3-d (C, H, W) unbatched or 4-d (N, C, H, W) batched input, "
                           f"got shape {tuple(input.shape)}")
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"{name}: expected a floating point input, got {input.dtype}; "
                           "convert first with .float()")
    return (input.reshape(1, *input.shape), True) if input.ndim == 3 else (input, False)


def _result(y, unbatched):
    return y.reshape(*y.shape[1:]) if unbatched else y


def _positive(pair, name, what):
    if min(pair) <= 0:
        raise RuntimeError(f"{name}: {what} must be positive, got {pair}")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlate ``input`` (N, C_in, H, W) with ``weight`` (C_out, C_in / groups, kH, kW) and add
    ``bias`` (C_out,): (N, C_out, H_out, W_out), H_out = floor((H + 2 pad - dil (kH - 1) - 1) / stride) + 1.

    padding: an int, a pair, 'valid' (0) or 'same' (output as large as the input; stride 1 only;
    an odd total goes to the bottom/right, as torch). groups: channels split into that many
    independent convolutions.
    """
    x, unbatched = _image(input, "conv2d")
    for t, arg in ((weight, "weight"), (bias, "bias")):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"conv2d: {arg} must be a Tensor, got {type(t).__name__} "
                            "(wrap it with tg.tensor(...))")
    if weight.ndim != 4:
        raise RuntimeError("conv2d: weight must be a 4-d Tensor (out_channels, in_channels / groups, kH, "
                           f"kW), got shape {tuple(weight.shape)}")
    stride, dilation = _pair(stride, "conv2d", "stride"), _pair(dilation, "conv2d", "dilation")
    _positive(stride, "conv2d", "stride")
    _positive(dilation, "conv2d", "dilation")
    if not isinstance(groups, numbers.Integral) or groups <= 0:
        raise RuntimeError(f"conv2d: groups must be a positive int, got {groups!r}")
    o, cg, kh, kw = weight.shape
    n, c, h, w = x.shape
    if o % groups:
        raise RuntimeError(f"conv2d: groups={groups} must divide out_channels, but weight has "
                           f"{o} output channels (weight shape {tuple(weight.shape)})")
    if cg * groups != c:
        raise RuntimeError(f"conv2d: input has {c} channels but weight expects {cg * groups} "
                           f"(weight shape {tuple(weight.shape)}, groups={groups}: in_channels = "
                           f"weight.shape[1] * groups)")
    for t, arg in ((weight, "weight"), (bias, "bias")):
        if t is not None and t.dtype != x.dtype:
            raise RuntimeError(f"conv2d: input is {x.dtype} but {arg} is {t.dtype}; they must have the same "
                               f"dtype (convert one, e.g. {arg}.to(input.dtype))")
    if bias is not None and tuple(bias.shape) != (o,):
        raise RuntimeError(f"conv2d: bias must have shape ({o},), one value per output channel, "
                           f"got {tuple(bias.shape)}")
    pads = _conv_padding(padding, stride, dilation, (kh, kw))
    padded = (h + sum(pads[0]), w + sum(pads[1]))
    span = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    if padded[0] < span[0] or padded[1] < span[1]:
        raise RuntimeError(f"conv2d: the padded input is {padded[0]} x {padded[1]} but the kernel spans "
                           f"{span[0]} x {span[1]} (kernel {kh} x {kw}, dilation {dilation}); the kernel "
                           "cannot be larger than the padded input")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = Conv2d.apply(*inputs, stride=stride, padding=pads, dilation=dilation, groups=int(groups))
    return _result(y, unbatched)


def _conv_padding(padding, stride, dilation, kernel):
    """conv2d's padding as ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise RuntimeError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise RuntimeError("conv2d: padding='same' is not supported for strided convolutions "
                             f"(stride={stride}); give the padding as numbers instead")
        th, tw = (d * (k - 1) for d, k in zip(dilation, kernel, strict=True))
        return (th // 2, th - th // 2), (tw // 2, tw - tw // 2)
    ph, pw = _pair(padding, "conv2d", "padding")
    if ph < 0 or pw < 0:
        raise RuntimeError(f"conv2d: negative padding is not supported, got {(ph, pw)}")
    return (ph, ph), (pw, pw)


def _pool_shape(name, x, kernel, stride, padding, dilation, ceil_mode):
    """The output (OH, OW) of a pool over x (N, C, H, W), its arguments checked as torch does."""
    _positive(kernel, name, "kernel_size")
    _positive(stride, name, "stride")
    _positive(dilation, name, "dilation")
    for k, p, d in zip(kernel, padding, dilation, strict=True):
        if not 0 <= p <= (d * (k - 1) + 1) // 2:
            raise RuntimeError(f"{name}: padding must be between 0 and half the kernel's span, got "
                               f"padding={p} for kernel_size={k}, dilation={d}")
    out = tuple(output_size(size, k, s, d, (p, p), ceil_mode)
                for size, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation, strict=True))
    if min(out) < 1:
        raise RuntimeError(f"{name}: input of size {tuple(x.shape[2:])} with padding {padding} is smaller "
                           f"than the kernel's span (kernel_size={kernel}, dilation={dilation}); the output "
                           "would be empty")
    return out


def _flat_indices(k, width, kernel, stride, padding, dilation):
    """torch's return_indices: kernel offsets k (N, C, OH, OW) as positions h * W + w in the input plane."""
    xp = backend.get_array_module(k)
    oh, ow = k.shape[-2:]
    rows = xp.arange(oh).reshape(-1, 1) * stride[0] - padding[0] + (k // kernel[1]) * dilation[0]
    cols = xp.arange(ow) * stride[1] - padding[1] + (k % kernel[1]) * dilation[1]
    return (rows * width + cols).astype(numpy.int64)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The maximum of each kH x kW window (padding counts as -inf): (N, C, H, W) -> (N, C, OH, OW).

    stride defaults to kernel_size. return_indices=True also returns each maximum's flat index
    h * W + w in its input plane (int64), as torch. The gradient goes to one maximum per window
    (the first in row-major order where several tie).
    """
    x, unbatched = _image(input, "max_pool2d")
    kernel = _pair(kernel_size, "max_pool2d", "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair(stride, "max_pool2d", "stride")
    padding, dilation = _pair(padding, "max_pool2d", "padding"), _pair(dilation, "max_pool2d", "dilation")
    out_hw = _pool_shape("max_pool2d", x, kernel, stride, padding, dilation, ceil_mode)
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    y = MaxPool2d.apply(x, kernel=kernel, stride=stride, padding=pads, dilation=dilation, out_shape=out_hw)
    if not return_indices:
        return _result(y, unbatched)
    k = max_pool_windows(x.array, kernel, stride, pads, dilation, out_hw)[1]  # again: indices are rare
    indices = Tensor._from_op(_flat_indices(k, x.shape[3], kernel, stride, padding, dilation), None, 0)
    return _result(y, unbatched), _result(indices, unbatched)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """The mean of each kH x kW window: (N, C, H, W) -> (N, C, OH, OW). stride defaults to kernel_size.

    count_include_pad=True (torch's default) divides by the window size, padding zeros included;
    False divides by the number of input cells in the window. divisor_override: divide by that.
    """
    x, unbatched = _image(input, "avg_pool2d")
    kernel = _pair(kernel_size, "avg_pool2d", "kernel_size")
    stride = kernel if stride is None or stride == [] else _pair(stride, "avg_pool2d", "stride")
    padding = _pair(padding, "avg_pool2d", "padding")
    out_hw = _pool_shape("avg_pool2d", x, kernel, stride, padding, (1, 1), ceil_mode)
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    if divisor_override is not None:
        if not isinstance(divisor_override, numbers.Integral) or divisor_override == 0:
            raise RuntimeError(f"avg_pool2d: divisor_override must be a nonzero int, got "
                               f"{divisor_override!r}")
        divisor = float(divisor_override)
    else:
        divisor = avg_pool_divisor(backend.get_array_module(x.array), x.shape[2:], kernel, stride, pads,
                                   out_hw, count_include_pad)
    y = AvgPool2d.apply(x, kernel=kernel, stride=stride, padding=pads, out_shape=out_hw, divisor=divisor)
    return _result(y, unbatched)


def adaptive_avg_pool2d(input, output_size):  # noqa: F811  (torch's argument name)
    """Average pool to a fixed (OH, OW): window i of an axis of size H covers rows
    floor(i H / OH) to ceil((i + 1) H / OH) - 1, as torch (any sizes; None keeps that size)."""
    x, unbatched = _image(input, "adaptive_avg_pool2d")
    size = (output_size, output_size) if isinstance(output_size, numbers.Integral) or output_size is None \
        else tuple(output_size)
    if len(size) != 2:
        raise TypeError("adaptive_avg_pool2d: output_size must be an int or a pair (OH, OW), got "
                        f"{output_size!r}")
    size = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(size))
    if not all(isinstance(s, numbers.Integral) and s > 0 for s in size):
        raise RuntimeError(f"adaptive_avg_pool2d: output_size must be positive, got {output_size!r}")
    xp = backend.get_array_module(x.array)
    rows = Tensor._from_op(xp.asarray(_adaptive_matrix(x.shape[2], size[0]), dtype=x.dtype), None, 0)
    cols = Tensor._from_op(xp.asarray(_adaptive_matrix(x.shape[3], size[1]).T, dtype=x.dtype), None, 0)
    return _result(rows @ (x @ cols), unbatched)


def _adaptive_matrix(size, out):
    """(out, size): row i averages the cells of window i."""
    m = numpy.zeros((out, size))
    for i in range(out):
        start, end = (i * size) // out, math.ceil((i + 1) * size / out)
        m[i, start:end] = 1 / (end - start)
    return m



def _window_grid(name, size, kernel, stride, padding, dilation):
    """unfold's and fold's (OH, OW) windows over an image of ``size`` (H, W), arguments checked."""
    _positive(kernel, name, "kernel_size")
    _positive(stride, name, "stride")
    _positive(dilation, name, "dilation")
    if min(padding) < 0:
        raise RuntimeError(f"{name}: padding must be non-negative, got {padding}")
    out = tuple(output_size(n, k, s, d, (p, p))
                for n, k, s, p, d in zip(size, kernel, stride, padding, dilation, strict=True))
    if min(out) < 1:
        raise RuntimeError(f"{name}: an image of size {tuple(size)} with padding {padding} is smaller than "
                           f"the kernel's span (kernel_size={kernel}, dilation={dilation}): no window fits")
    return out


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Each kH x kW window of (N, C, H, W) as a column (im2col): (N, C * kH * kW, L), rows in (c, i, j)
    order and the L = OH * OW windows in row-major order. (C, H, W) -> (C * kH * kW, L)."""
    x, unbatched = _image(input, "unfold")
    kernel, dilation = _pair(kernel_size, "unfold", "kernel_size"), _pair(dilation, "unfold", "dilation")
    padding, stride = _pair(padding, "unfold", "padding"), _pair(stride, "unfold", "stride")
    out_hw = _window_grid("unfold", x.shape[2:], kernel, stride, padding, dilation)
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    y = Unfold.apply(x, kernel=kernel, stride=stride, padding=pads, dilation=dilation, out_shape=out_hw)
    return _result(y, unbatched)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):  # noqa: F811  (torch's name)
    """The adjoint of unfold (col2im): columns (N, C * kH * kW, L) added into their windows of a zero
    (N, C, H, W) image, (H, W) = output_size; a cell that several windows cover gets their sum."""
    if not isinstance(input, Tensor):
        raise TypeError(f"fold: input must be a Tensor, got {type(input).__name__} "
                        "(wrap it with tg.tensor(...))")
    if input.ndim not in (2, 3):
        raise RuntimeError("fold: expected a 2-d (C * kH * kW, L) unbatched or 3-d (N, C * kH * kW, L) "
                           f"batched input, got shape {tuple(input.shape)}")
    unbatched = input.ndim == 2
    x = input.reshape(1, *input.shape) if unbatched else input
    size, kernel = _pair(output_size, "fold", "output_size"), _pair(kernel_size, "fold", "kernel_size")
    dilation, padding, stride = (_pair(dilation, "fold", "dilation"), _pair(padding, "fold", "padding"),
                                 _pair(stride, "fold", "stride"))
    out_hw = _window_grid("fold", size, kernel, stride, padding, dilation)
    k = kernel[0] * kernel[1]
    if x.shape[1] % k:
        raise RuntimeError(f"fold: the input's size {x.shape[1]} along dim {input.ndim - 2} must be "
                           f"C * kH * kW, a multiple of {k} for kernel_size={kernel}")
    if x.shape[2] != out_hw[0] * out_hw[1]:
        raise RuntimeError(f"fold: output_size={size} with kernel_size={kernel}, stride={stride}, padding="
                           f"{padding}, dilation={dilation} has {out_hw[0]} x {out_hw[1]} = "
                           f"{out_hw[0] * out_hw[1]} windows, but the input has {x.shape[2]} columns")
    pads = ((padding[0], padding[0]), (padding[1], padding[1]))
    y = Fold.apply(x, shape=(x.shape[0], x.shape[1] // k) + size, kernel=kernel, stride=stride, padding=pads,
                   dilation=dilation, out_shape=out_hw)
    return _result(y, unbatched)
