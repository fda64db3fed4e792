"""Ops that move elements without arithmetic: reshape, transpose, expand, repeat, split, indexing
(x[index], x[index] = v, gather), joins (cat, stack) and padding.

Their backward puts each gradient element back where its value came from.
"""


import numpy

from ..autograd import Function, IndexedGrad, ShapeError
from ..backend import get_array_module
from .elementwise import _fmt, same_dtype, sum_to


class Reshape(Function, trusted=True):
    """f = x viewed with another shape;  dL/dx = g reshaped back."""

    saved_inputs = ()

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.shape),)

    def explain_error(self, err, arrays, params):
        x = arrays[0]
        return ShapeError(f"reshape: cannot view a tensor of shape {_fmt(x.shape)} ({x.size} elements) "
                          f"as shape {tuple(params['shape'])}; the sizes must multiply to {x.size} "
                          "(one size may be -1)")


class Transpose(Function, trusted=True):
    """f = x with axes permuted;  dL/dx = g with the inverse permutation."""

    saved_inputs = ()

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g):
        return (g.transpose(numpy.argsort(self.axes)),)


class Expand(Function, trusted=True):
    """f = x broadcast to ``shape`` (no copy);  dL/dx = sum_to(g, x.shape)."""

    saved_inputs = ()

    def forward(self, x, shape):
        self.shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, g):
        return (sum_to(g, self.shape),)

    def explain_error(self, err, arrays, params):
        return ShapeError(f"expand: cannot expand shape {_fmt(arrays[0].shape)} to {tuple(params['shape'])}; "
                          "only size-1 dims can grow (-1 keeps a size)")


class Repeat(Function, trusted=True):
    """f = x tiled reps[i] times along dim i;  dL/dx = the sum of g over the copies."""

    saved_inputs = ()

    def forward(self, x, reps):
        self.shape, self.reps = x.shape, reps
        return get_array_module(x).tile(x, reps)

    def backward(self, g):
        padded = (1,) * (len(self.reps) - len(self.shape)) + tuple(self.shape)
        # split every dim into (copy, element) and sum over the copies
        g = g.reshape([n for pair in zip(self.reps, padded, strict=True) for n in pair])
        return (g.sum(axis=tuple(range(0, g.ndim, 2))).reshape(self.shape),)


class Unbind(Function, trusted=True):
    """f = the slices of x along ``axis``, as separate outputs;  dL/dx = the g_i stacked back."""

    saved_inputs = ()

    def forward(self, x, axis):
        self.shape, self.axis = x.shape, axis
        return tuple(get_array_module(x).moveaxis(x, axis, 0))

    def backward(self, *grads):
        g = next(g for g in grads if g is not None)
        xp = get_array_module(g)
        full = xp.zeros(self.shape, dtype=g.dtype)
        moved = xp.moveaxis(full, self.axis, 0)  # a view: writing into it fills full
        for i, gi in enumerate(grads):
            if gi is not None:
                moved[i] = gi
        return (full,)


class Split(Function, trusted=True):
    """f = pieces of x along ``axis``, cut at ``ends``;  dL/dx = the g_i joined (zeros for unused pieces)."""

    saved_inputs = ()

    def forward(self, x, axis, ends):
        self.shape, self.axis, self.ends = x.shape, axis, ends
        return tuple(get_array_module(x).split(x, ends, axis=axis))

    def backward(self, *grads):
        g = next(g for g in grads if g is not None)
        xp = get_array_module(g)
        full = xp.zeros(self.shape, dtype=g.dtype)
        starts = [0] + self.ends
        for start, gi in zip(starts, grads, strict=True):
            if gi is not None:
                index = (slice(None),) * self.axis + (slice(start, start + gi.shape[self.axis]),)
                full[index] = gi
        return (full,)


def index_on(xp, index):
    """``index`` with its NumPy arrays moved to ``xp``'s device: index arrays must live where x lives."""
    if xp is numpy:
        return index
    parts = [xp.asarray(i) if isinstance(i, numpy.ndarray) else i
             for i in (index if isinstance(index, tuple) else (index,))]
    return tuple(parts) if isinstance(index, tuple) else parts[0]


def index_copies(index):
    """True when an index holds an integer or boolean array: the result is a copy, not a view."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.ndim > 0 for p in parts)


def index_may_repeat(index):
    """True when an index holds an integer array, where a position may repeat."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.dtype.kind in "iu" and p.ndim > 0 for p in parts)


class GetItem(Function, trusted=True):
    """f = x[index];  dL/dx = zeros with g added at the indexed places (repeats accumulate).

    The gradient goes back as an IndexedGrad, so the backward walk adds the
    slices of many x[t] into one buffer instead of one full-size array each.
    """

    saved_inputs = ()

    def forward(self, x, index):
        index = index_on(get_array_module(x), index)
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g):
        # x[[0, 0]] sends two gradients to x[0]: integer indices add with add.at
        return (IndexedGrad(self.index, g, index_may_repeat(self.index)),)

    def explain_error(self, err, arrays, params):
        return IndexError(f"indexing a tensor of shape {_fmt(arrays[0].shape)}: {err}")


class SetItem(Function, trusted=True):
    """f = x with f[index] = v (v broadcast);  dL/dx = g, zero at index;  dL/dv = sum_to(g[index], v.shape).

    What ``x[index] = v`` (and fill_, copy_) records on a tensor in the graph, as torch's CopySlices.
    """

    saved_inputs = ()

    def forward(self, x, v, index):
        index = index_on(get_array_module(x), index)
        self.index, self.v_shape = index, v.shape
        out = x.copy()
        out[index] = v
        return out

    def backward(self, g):
        gx = gv = None
        if self.needs_grad[0]:
            gx = g.copy()
            gx[self.index] = 0
        if self.needs_grad[1]:
            gv = sum_to(g[self.index], self.v_shape)
        return gx, gv

    def explain_error(self, err, arrays, params):
        return type(err)(f"x[index] = value on a tensor of shape {_fmt(arrays[0].shape)}: cannot write "
                         f"shape {_fmt(arrays[1].shape)} there: {err}")


class Gather(Function, trusted=True):
    """f = x values picked along ``dim`` by integer ``index`` (take_along_axis);
    dL/dx = zeros with g added at the picked places (repeats accumulate)."""

    saved_inputs = ()

    def forward(self, x, dim, index):
        xp = get_array_module(x)
        index = xp.asarray(index)
        self.dim, self.index, self.shape = dim, index, x.shape
        return xp.take_along_axis(x, index, axis=dim)

    def backward(self, g):
        xp = get_array_module(g)
        # the full index of every picked element: index along dim, arange along the others
        grids = [xp.arange(n).reshape([-1 if i == k else 1 for i in range(g.ndim)])
                 for k, n in enumerate(self.index.shape)]
        grids[self.dim] = self.index
        return (IndexedGrad(tuple(grids), g, advanced=True),)


class Concat(Function, trusted=True):
    """f = the inputs joined along ``axis``;  dL/dx_i = the slice of g that x_i filled."""

    saved_inputs = ()

    def forward(self, *xs, axis):
        xp = get_array_module(*xs)
        self.axis = axis
        self.ends = numpy.cumsum([x.shape[axis] for x in xs])[:-1].tolist()
        return xp.concatenate(same_dtype(*xs), axis=axis)

    def backward(self, g):
        return tuple(get_array_module(g).split(g, self.ends, axis=self.axis))

    def explain_error(self, err, arrays, params):
        shapes = ", ".join(_fmt(x.shape) for x in arrays)
        return ShapeError(f"concat along axis {params['axis']}: shapes {shapes} must match on every "
                          f"other axis ({err})")


class Stack(Function, trusted=True):
    """f = the inputs stacked along a new ``axis``;  dL/dx_i = g[..., i, ...]."""

    saved_inputs = ()

    def forward(self, *xs, axis):
        self.axis = axis
        return get_array_module(*xs).stack(same_dtype(*xs), axis=axis)

    def backward(self, g):
        moved = get_array_module(g).moveaxis(g, self.axis, 0)
        return tuple(moved)

    def explain_error(self, err, arrays, params):
        shapes = ", ".join(_fmt(x.shape) for x in arrays)
        return ShapeError(f"stack: every tensor must have the same shape, got {shapes}")


class Pad(Function, trusted=True):
    """f = x cropped where a pad is negative, then surrounded by ``value``;  dL/dx = the matching slice of g.

    widths: one (before, after) pair per axis of x, first axis first.
    """

    saved_inputs = ()

    def forward(self, x, widths, value):
        xp = get_array_module(x)
        self.shape = x.shape
        self.crop = tuple(slice(max(-b, 0), n - max(-a, 0))
                          for n, (b, a) in zip(x.shape, widths, strict=True))
        kept = x[self.crop]
        self.inner = tuple(slice(max(b, 0), max(b, 0) + m)
                           for m, (b, _) in zip(kept.shape, widths, strict=True))
        return xp.pad(kept, [(max(b, 0), max(a, 0)) for b, a in widths], constant_values=value)

    def backward(self, g):
        xp = get_array_module(g)
        full = xp.zeros(self.shape, dtype=g.dtype)
        full[self.crop] = g[self.inner]
        return (full,)
