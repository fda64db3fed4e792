"""unfold (im2col) and fold (col2im): an image's sliding windows as columns, and back.

They are each other's adjoint, so each one's backward is the other's forward. Windows are read
as in conv.py: kernel offset (i, j) sees the strided slice ``_window(x_padded, i, j)``.

Shapes: x (N, C, H, W); columns (N, C * kh * kw, L), row (c, i, j) in that order and the L
windows in row-major order (p, q), as torch.nn.functional.unfold.
"""

from ..autograd import Function
from ..backend import get_array_module
from .conv import _padded, _unpadded, _window


def windows_to_columns(x_pad, kernel, stride, dilation, out_shape):
    """x_pad (N, C, Hp, Wp) -> (N, C * kh * kw, Ho * Wo): each window of the padded image as a column."""
    n, c = x_pad.shape[:2]
    cols = get_array_module(x_pad).empty((n, c) + tuple(kernel) + tuple(out_shape), dtype=x_pad.dtype)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            cols[:, :, i, j] = _window(x_pad, i, j, out_shape, stride, dilation)
    return cols.reshape(n, c * kernel[0] * kernel[1], -1)


def columns_to_windows(cols, pad_shape, kernel, stride, dilation, out_shape):
    """The adjoint: columns (N, C * kh * kw, L) added back into a zero (N, C, Hp, Wp) padded image."""
    out = get_array_module(cols).zeros(pad_shape, dtype=cols.dtype)
    cols = cols.reshape(tuple(pad_shape[:2]) + tuple(kernel) + tuple(out_shape))
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            view = _window(out, i, j, out_shape, stride, dilation)
            view += cols[:, :, i, j]
    return out


class Unfold(Function, trusted=True):
    """y[n, (c, i, j), (p, q)] = x_pad[n, c, s_h p + d_h i, s_w q + d_w j];
    dL/dx = fold(g): each column's gradient added back into its window, the padding cropped."""

    saved_inputs = ()

    def forward(self, x, *, kernel, stride, padding, dilation, out_shape):
        x_pad = _padded(x, padding, 0)
        self.x_shape, self.pad_shape = x.shape, x_pad.shape
        self.kernel, self.stride, self.padding, self.dilation, self.out_shape = (kernel, stride, padding,
                                                                                 dilation, out_shape)
        return windows_to_columns(x_pad, kernel, stride, dilation, out_shape)

    def backward(self, g):
        g_pad = columns_to_windows(g, self.pad_shape, self.kernel, self.stride, self.dilation, self.out_shape)
        return (_unpadded(g_pad, self.padding, self.x_shape[2:]),)


class Fold(Function, trusted=True):
    """y = the columns of x added into their windows of a zero (N, C, H, W) image (cells several windows
    cover get the sum);  dL/dx = unfold(g)."""

    saved_inputs = ()

    def forward(self, x, *, shape, kernel, stride, padding, dilation, out_shape):
        (top, bottom), (left, right) = padding
        pad_shape = tuple(shape[:2]) + (shape[2] + top + bottom, shape[3] + left + right)
        self.shape, self.kernel, self.stride, self.padding, self.dilation, self.out_shape = (
            shape, kernel, stride, padding, dilation, out_shape)
        out = columns_to_windows(x, pad_shape, kernel, stride, dilation, out_shape)
        return get_array_module(x).ascontiguousarray(_unpadded(out, padding, shape[2:]))

    def backward(self, g):
        return (windows_to_columns(_padded(g, self.padding, 0), self.kernel, self.stride, self.dilation,
                                   self.out_shape),)
