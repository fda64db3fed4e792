"""The argument conventions the Tensor's methods share: dims, shapes, index checks.

torch accepts ``f(2, 3)`` and ``f((2, 3))`` alike, negative dims counting from the
end, and NumPy's ``axis=``/``keepdims=`` as aliases of ``dim=``/``keepdim=``
here; each helper turns one such argument into the plain form the ops take, or
raises naming the method and the fix.
"""

import numbers


def shape_args(shape):
    """f(2, 3) and f((2, 3)) alike: the shape as a tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def checked_dim(dim, ndim, name):
    """One dim index, checked and made non-negative."""
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{name}: dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected one in [{-max(ndim, 1)}, {max(ndim, 1) - 1}])")
    return int(dim) % max(ndim, 1)


def dim_args(name, ndim, dim, keepdim, axis, keepdims):
    """(dim, keepdim) from torch's names or NumPy's aliases axis= / keepdims=."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{name}: give dim= or its alias axis=, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return checked_axes(dim, ndim, name), bool(keepdim)


def checked_axes(axis, ndim, name):
    """Normalise a dim argument to None or a tuple of non-negative ints."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, numbers.Integral) else tuple(axis)
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise IndexError(f"{name}: dim {a} is out of range for a tensor with {ndim} dimensions")
    return tuple(sorted(a % max(ndim, 1) for a in axes))


def out_of_range(ids, n):
    """An id of ``ids`` outside [0, n), or None when all are inside (negative ids do not count from
    the end: torch refuses them in embedding, gather, one_hot and class targets)."""
    if ids.size == 0:
        return None
    low, high = int(ids.min()), int(ids.max())
    return low if low < 0 else high if high >= n else None


def require_float(t, message):
    """Raise, as torch does, where an op is only defined on floats and ``t`` holds integers or bools."""
    if t.array.dtype.kind != "f":
        raise RuntimeError(f"{message}, got {t.dtype}; convert first with .float()")


def check_clamp_bounds(low, high):
    if low is None and high is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)
