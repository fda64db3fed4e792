"""Tensor methods: shapes and indexing (reshape, transpose, expand, split, x[index], ...).

A method whose result shares the tensor's memory (a view) marks it with
``_view``: an in-place write through either bumps one version counter.
"""

import math
import numbers

import numpy

from . import ops
from .tensor import array_index
from .tensor_args import (
    as_tuple,
    checked_axes,
    checked_dim,
    shape_args,
)


class ShapeMethods:
    """Methods of Tensor (tensor.py), which inherits them: see the module docstring."""

    __slots__ = ()  # Tensor keeps its fixed slots: a mixin adds no instance dict

    def reshape(self, *shape):
        """The same elements in another shape (one size may be -1)."""
        return self._view(ops.Reshape.apply(self, shape=shape_args(shape)))

    def view(self, *shape):
        """As reshape (tensorgrad never needs contiguous memory)."""
        return self.reshape(*shape)

    def contiguous(self):
        return self

    def flatten(self, start_dim=0, end_dim=-1):
        """Dims start_dim..end_dim merged into one."""
        if self.ndim == 0:
            return self.reshape(1)
        s, e = checked_dim(start_dim, self.ndim, "flatten"), checked_dim(end_dim, self.ndim, "flatten")
        if s > e:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape
        return self.reshape(shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])

    def unsqueeze(self, dim):
        """A size-1 dim inserted at ``dim``."""
        d = checked_dim(dim, self.ndim + 1, "unsqueeze")
        return self.reshape(self.shape[:d] + (1,) + self.shape[d:])

    def squeeze(self, dim=None):
        """Size-1 dims removed: all of them, or only ``dim`` (an int or tuple) where its size is 1."""
        dims = range(self.ndim) if dim is None else checked_axes(dim, self.ndim, "squeeze")
        drop = {d for d in dims if self.array.shape[d] == 1}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if i not in drop))

    def expand(self, *sizes):
        """This tensor broadcast to ``sizes`` (-1 keeps a size; new dims go in front); no copy."""
        sizes = shape_args(sizes)
        lead = len(sizes) - self.ndim
        if lead < 0:
            raise ValueError(f"expand: {sizes} has fewer dims than the tensor's shape {self.shape}")
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        return self._view(ops.Expand.apply(self, shape=shape))

    def expand_as(self, other):
        return self.expand(other.shape)

    def repeat(self, *sizes):
        """This tensor tiled ``sizes[i]`` times along each dim (as torch.Tensor.repeat)."""
        sizes = shape_args(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor with {self.ndim} dims; "
                             "give at least one per dim")
        return ops.Repeat.apply(self, reps=sizes)

    def transpose(self, *dims):
        """Swap two dims: x.transpose(0, 1). (For a full reordering use permute.)"""
        if len(dims) != 2:
            raise TypeError(f"transpose(dim0, dim1) swaps two dims, got {len(dims)} arguments; "
                            "to reorder all dims use x.permute(...), to reverse a matrix's use x.T")
        d0, d1 = (checked_dim(d, self.ndim, "transpose") for d in dims)
        order = list(range(self.ndim))
        order[d0], order[d1] = d1, d0
        return self._view(ops.Transpose.apply(self, axes=tuple(order)))

    swapaxes = transpose

    def t(self):
        """torch's x.t(): a matrix transposed (a 0-d or 1-D tensor as it is); more dims raise, as in torch."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with at most 2 dims, got shape {self.shape}; "
                             "use transpose(dim0, dim1) or permute(...)")
        return self.transpose(0, 1) if self.ndim == 2 else self

    def permute(self, *dims):
        """The dims reordered: x.permute(1, 0, 2)[i, j, k] = x[j, i, k]."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        axes = tuple(checked_dim(d, self.ndim, "permute") for d in dims)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute: dims {dims} are not a permutation of the {self.ndim} dims "
                             f"of a tensor of shape {self.shape}")
        return self._view(ops.Transpose.apply(self, axes=axes))

    @property
    def T(self):
        """A matrix transposed; for other dims, their order reversed (0-d and 1-d unchanged)."""
        if self.ndim < 2:
            return self
        return self._view(ops.Transpose.apply(self, axes=tuple(reversed(range(self.ndim)))))

    @property
    def mT(self):
        """The last two dims swapped (a batch of matrices transposed)."""
        return self.transpose(-2, -1)

    def unbind(self, dim=0):
        """The slices along ``dim`` as a tuple of tensors (one op; its backward is one buffer)."""
        d = checked_dim(dim, self.ndim, "unbind")
        return tuple(self._view(t) for t in as_tuple(ops.Unbind.apply(self, axis=d)))

    def split(self, split_size_or_sections, dim=0):
        """Pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the listed sizes."""
        d = checked_dim(dim, self.ndim, "split")
        n = self.array.shape[d]
        if isinstance(split_size_or_sections, numbers.Integral):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError(f"split: split_size must be positive, got {step}")
            sizes = [min(step, n - i) for i in range(0, n, step)] or [0]
        else:
            sizes = [int(k) for k in split_size_or_sections]
            if sum(sizes) != n or any(k < 0 for k in sizes):
                raise ValueError(f"split: sizes {sizes} must be non-negative and add up to {n}, "
                                 f"the size of dim {d} of shape {self.shape}")
        ends = numpy.cumsum(sizes)[:-1].tolist()
        return tuple(self._view(t) for t in as_tuple(ops.Split.apply(self, axis=d, ends=ends)))

    def chunk(self, chunks, dim=0):
        """At most ``chunks`` pieces along ``dim``, each of ceil(size / chunks) (the last may be smaller)."""
        if not isinstance(chunks, numbers.Integral) or chunks <= 0:
            raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
        n = self.array.shape[checked_dim(dim, self.ndim, "chunk")]
        return self.split(max(-(-n // chunks), 1), dim)

    def __getitem__(self, index):
        raw = array_index(index)
        out = ops.GetItem.apply(self, index=raw)
        return out if ops.index_copies(raw) else self._view(out)
