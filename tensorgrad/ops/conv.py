"""2-D convolution and pooling over the last two axes (H, W), as single ops.

Every op here reads its input through windows: for each kernel offset (i, j) the
strided slice ``_window(x_padded, i, j)`` holds, at output position (p, q), the
element x_padded[s_h p + d_h i, s_w q + d_w j]. Forward gathers those kh * kw
slices; backward adds the gradient back through the same slices (a sum over
kernel offsets, so overlapping windows accumulate without a scatter).

Shapes: x (N, C, H, W) (pooling also takes (C, H, W)), kernel (kh, kw), output
(Ho, Wo). ``padding`` is ((top, bottom), (left, right)), so 'same' padding of an
even kernel can put its extra row on the bottom, as torch does.
"""

from ..autograd import Function
from ..backend import get_array_module


def output_size(size, kernel, stride, dilation, padding=(0, 0), ceil_mode=False):
    """Windows along one axis: floor (or ceil) of (size + pads - d (k - 1) - 1) / s, plus 1.

    With ceil_mode a last, partial window counts only if it starts inside the input or
    the left padding (torch's rule).
    """
    span = size + padding[0] + padding[1] - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    n = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (n - 1) * stride >= size + padding[0]:
        n -= 1
    return n


def _window(a, i, j, out_shape, stride, dilation):
    """The (..., Ho, Wo) slice of ``a`` that kernel offset (i, j) sees from every output position (a view)."""
    (ho, wo), (sh, sw), (dh, dw) = out_shape, stride, dilation
    return a[..., i * dh: i * dh + sh * (ho - 1) + 1: sh, j * dw: j * dw + sw * (wo - 1) + 1: sw]


def _padded(x, padding, value, out_shape=None, kernel=None, stride=None, dilation=None):
    """x (..., H, W) inside a border of ``value``: ((top, bottom), (left, right)) rows and columns.

    Given the output size, the bottom and right grow where the last window needs more
    (ceil_mode); a copy even without padding, so later in-place adds cannot reach x.
    """
    (top, bottom), (left, right) = padding
    h, w = x.shape[-2:]
    if out_shape is not None:
        bottom = max(bottom, (out_shape[0] - 1) * stride[0] + dilation[0] * (kernel[0] - 1) + 1 - h - top)
        right = max(right, (out_shape[1] - 1) * stride[1] + dilation[1] * (kernel[1] - 1) + 1 - w - left)
    xp = get_array_module(x)
    out = xp.full(x.shape[:-2] + (top + h + bottom, left + w + right), value, dtype=x.dtype)
    out[..., top:top + h, left:left + w] = x
    return out


def _unpadded(a, padding, hw):
    (top, _), (left, _) = padding
    return a[..., top:top + hw[0], left:left + hw[1]]


class Conv2d(Function, trusted=True):
    """y[n, o] = b[o] + sum over c, i, j of w[o, c, i, j] x_pad[n, c, s_h p + d_h i, s_w q + d_w j],
    c running over the input channels of o's group.

    As one GEMM per group: cols (C*kh*kw, N*Ho*Wo) gathered from x (im2col), y = W cols.
    dL/dW = g cols^T;  dL/db = sum of g over n, p, q;  dL/dx = col2im(W^T g), the
    columns' gradients added back through the windows they came from.
    x (N, C, H, W), w (O, C/groups, kh, kw), b (O,) or absent -> y (N, O, Ho, Wo).
    """

    saved_inputs = (1,)  # w; x is kept as its columns, a copy

    def forward(self, x, w, b=None, *, stride, padding, dilation, groups):
        xp = get_array_module(x)
        n, c, h, width = x.shape
        o, cg, kh, kw = w.shape
        x_pad = _padded(x, padding, 0)
        out_shape = (output_size(x_pad.shape[2], kh, stride[0], dilation[0]),
                  output_size(x_pad.shape[3], kw, stride[1], dilation[1]))
        cols = xp.empty((c, kh, kw, n) + out_shape, dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                cols[:, i, j] = _window(x_pad, i, j, out_shape, stride, dilation).transpose(1, 0, 2, 3)
        # Channel-major columns: each group's rows are one contiguous block of cg*kh*kw.
        self.cols = cols.reshape(groups, cg * kh * kw, -1)
        self.w, self.groups, self.x_shape, self.pad_shape = w, groups, x.shape, x_pad.shape
        self.padding, self.stride, self.dilation, self.out_shape = padding, stride, dilation, out_shape
        y = (w.reshape(groups, o // groups, -1) @ self.cols).reshape((o, n) + out_shape)
        if b is not None:
            y += b[:, None, None, None]
        return xp.ascontiguousarray(y.transpose(1, 0, 2, 3))

    def backward(self, g):
        xp = get_array_module(g)
        w, groups = self.w, self.groups
        o, cg, kh, kw = w.shape
        n, c = self.x_shape[:2]
        g_rows = xp.ascontiguousarray(g.transpose(1, 0, 2, 3)).reshape(groups, o // groups, -1)
        gx = gw = gb = None
        if self.needs_grad[1]:
            gw = (g_rows @ self.cols.transpose(0, 2, 1)).reshape(w.shape)
        if len(self.needs_grad) > 2 and self.needs_grad[2]:
            gb = g.sum(axis=(0, 2, 3))
        if self.needs_grad[0]:
            g_cols = (w.reshape(groups, o // groups, -1).transpose(0, 2, 1) @ g_rows)
            g_cols = g_cols.reshape((c, kh, kw, n) + self.out_shape)
            g_pad = xp.zeros(self.pad_shape, dtype=g.dtype)
            for i in range(kh):
                for j in range(kw):
                    view = _window(g_pad, i, j, self.out_shape, self.stride, self.dilation)
                    view += g_cols[:, i, j].transpose(1, 0, 2, 3)
            gx = _unpadded(g_pad, self.padding, self.x_shape[2:])
        return (gx, gw) if len(self.needs_grad) == 2 else (gx, gw, gb)


def max_pool_windows(x, kernel, stride, padding, dilation, out_shape):
    """(y, k): each window's maximum of x (..., H, W) padded with -inf, and the offset k = i*kw + j
    of its first maximal element (the last NaN, if any: torch's rule), both (..., Ho, Wo).

    One pass over the kernel offsets, keeping the best so far: an element replaces it only
    if larger (so ties keep the first) or NaN.
    """
    xp = get_array_module(x)
    x_pad = _padded(x, padding, -xp.inf, out_shape, kernel, stride, dilation)
    y = _window(x_pad, 0, 0, out_shape, stride, dilation).copy()
    k = xp.zeros(y.shape, dtype=xp.int64)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            if i or j:
                w = _window(x_pad, i, j, out_shape, stride, dilation)
                better = (w > y) | (w != w)  # w != w: NaN
                y = xp.where(better, w, y)
                k[better] = i * kernel[1] + j
    return y, k


class MaxPool2d(Function, trusted=True):
    """y[..., p, q] = max of the window at (p, q) of x padded with -inf;
    dL/dx = g sent to the window's first maximal element (torch's choice among ties; its last NaN),
    summed where windows overlap.  x (..., H, W) -> (..., Ho, Wo)."""

    saved_inputs = ()  # the offsets of the maxima are taken at forward time

    def forward(self, x, *, kernel, stride, padding, dilation, out_shape):
        y, self.k = max_pool_windows(x, kernel, stride, padding, dilation, out_shape)
        self.x_shape, self.dtype = x.shape, x.dtype
        self.kernel, self.stride, self.padding, self.dilation, self.out_shape = (kernel, stride, padding,
                                                                              dilation, out_shape)
        return y

    def backward(self, g):
        xp = get_array_module(g)
        g_pad = _padded(xp.zeros(self.x_shape, dtype=g.dtype), self.padding, 0, self.out_shape,
                        self.kernel, self.stride, self.dilation)
        for i in range(self.kernel[0]):
            for j in range(self.kernel[1]):
                view = _window(g_pad, i, j, self.out_shape, self.stride, self.dilation)
                view += xp.where(self.k == i * self.kernel[1] + j, g, 0)
        return (_unpadded(g_pad, self.padding, self.x_shape[-2:]),)


def avg_pool_divisor(xp, hw, kernel, stride, padding, out_shape, count_include_pad):
    """(Ho, Wo) divisors of the window sums, as torch: the window clipped to the padded input
    (count_include_pad) or to the input itself."""
    sizes = []
    starts = (padding[0][0], padding[1][0])
    for n_out, size, k, s, pad in zip(out_shape, hw, kernel, stride, starts, strict=True):
        start = xp.arange(n_out) * s - pad
        end = xp.minimum(start + k, size + pad)
        if not count_include_pad:
            start, end = xp.maximum(start, 0), xp.minimum(end, size)
        sizes.append(end - start)
    return sizes[0][:, None] * sizes[1][None, :]


class AvgPool2d(Function, trusted=True):
    """y[..., p, q] = sum of the window at (p, q) of x padded with zeros / divisor[p, q];
    dL/dx = g / divisor added to every element of its window.  x (..., H, W) -> (..., Ho, Wo)."""

    saved_inputs = ()

    def forward(self, x, *, kernel, stride, padding, out_shape, divisor):
        ones = (1, 1)
        x_pad = _padded(x, padding, 0, out_shape, kernel, stride, ones)
        y = sum(_window(x_pad, i, j, out_shape, stride, ones)
                for i in range(kernel[0]) for j in range(kernel[1]))
        self.x_shape, self.pad_shape, self.divisor = x.shape, x_pad.shape, divisor
        self.kernel, self.stride, self.padding, self.out_shape = kernel, stride, padding, out_shape
        return (y / divisor).astype(x.dtype, copy=False)

    def backward(self, g):
        xp = get_array_module(g)
        share = (g / self.divisor).astype(g.dtype, copy=False)
        g_pad = xp.zeros(self.pad_shape, dtype=g.dtype)
        for i in range(self.kernel[0]):
            for j in range(self.kernel[1]):
                view = _window(g_pad, i, j, self.out_shape, self.stride, (1, 1))
                view += share
        return (_unpadded(g_pad, self.padding, self.x_shape[-2:]),)
