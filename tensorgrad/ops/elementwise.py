"""Ops on two operands broadcast together (a + b, a * b, maximum, where, ...), and the one place
that casts them to torch's result dtype and undoes broadcasting in their gradients (Elementwise).

``sum_to`` is the tested helper that undoes broadcasting: if y = broadcast(x)
then dL/dx = sum_to(dL/dy, x.shape).
"""


import numpy

from ..autograd import Function, ShapeError
from ..backend import get_array_module
from ..tensor import DEFAULT_FLOAT


def sum_to(grad, shape):
    """Sum ``grad`` over the axes broadcasting added or stretched, giving ``shape``.

    If y = broadcast(x) then dL/dx = sum_to(dL/dy, x.shape): every copy of an
    element that broadcasting made sends its gradient back to that element.
    """
    if grad.shape == shape:  # the common case, checked before any work
        return grad
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


# ---------------------------------------------------- torch's type promotion
#
# NumPy and torch agree on the result dtype of most mixed operations, but not on
# two rules, and a student who typed torch would silently get float64 arrays:
# - a higher kind wins whole: int64 with float32 is float32 (NumPy: float64), and
#   a float op on integers (exp, sqrt, tanh, true division) gives float32;
# - a 0-d tensor decides the dtype only when it is of a higher kind than every
#   tensor with dimensions: float32 plus a float64 scalar tensor is float32.
# Python numbers are made into 0-d arrays of the right dtype by tensor.lift().

_KIND_RANK = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _promote_two(a, b):
    ra, rb = _KIND_RANK[a.kind], _KIND_RANK[b.kind]
    if ra != rb:
        return a if ra > rb else b
    return numpy.promote_types(a, b)  # same kind: the wider one, as torch


def _promote_all(dtypes):
    result = dtypes[0]
    for d in dtypes[1:]:
        result = _promote_two(result, d)
    return result


def result_type(*arrays):
    """The dtype torch gives an elementwise op on these arrays (see the rules above)."""
    with_dims = [a.dtype for a in arrays if a.ndim]
    zero_dim = [a.dtype for a in arrays if not a.ndim]
    if not with_dims or not zero_dim:
        return _promote_all(with_dims or zero_dim)
    result, scalars = _promote_all(with_dims), _promote_all(zero_dim)
    return _promote_two(result, scalars) if _KIND_RANK[scalars.kind] > _KIND_RANK[result.kind] else result


def same_dtype(*arrays):
    """The arrays cast to their torch result dtype (no copy for those already of it)."""
    dtype = result_type(*arrays)
    return tuple(a if a.dtype == dtype else a.astype(dtype) for a in arrays)


def floating(x):
    """``x`` itself if it holds floats, else ``x`` as float32: a float op's input, as torch."""
    return x if x.dtype.kind in "fc" else x.astype(DEFAULT_FLOAT)


def read_for_the_other(needs_grad):
    """The inputs backward reads when each of two is read only for the other's gradient (a * b,
    a @ b): a product saves a only if b needs a gradient, and b only if a does (as torch)."""
    need_a, need_b = needs_grad
    return (0, 1) if need_a and need_b else (1,) if need_a else (0,)


def _fmt(shape):
    return str(tuple(int(n) for n in shape))


class Elementwise(Function):
    """Base of the ops on two operands broadcast together: the one place that casts and unbroadcasts.

    ``forward`` casts a and b to torch's result dtype (``same_dtype``) and calls
    ``compute(a, b)``. ``backward`` calls ``gradients(g)``, which
    returns dL/da and dL/db as arrays of the output's shape (or None), and sums
    each back to its operand's shape with ``sum_to``: if a was broadcast, every
    copy of an element sends its gradient back to that element.
    """

    shapes = None  # the operands' shapes, where they differ

    def forward(self, a, b):
        if a.dtype is not b.dtype:
            a, b = same_dtype(a, b)
        if a.shape != b.shape:  # broadcast: backward sums the gradients back to these shapes
            self.shapes = a.shape, b.shape
        return self.compute(a, b)

    def backward(self, g):
        ga, gb = self.gradients(g)
        need_a, need_b = self.needs_grad
        if self.shapes is None:  # a, b and the output have one shape: nothing to sum
            return (ga if need_a else None), (gb if need_b else None)
        sa, sb = self.shapes
        return (sum_to(ga, sa) if need_a and ga is not None else None,
                sum_to(gb, sb) if need_b and gb is not None else None)

    def compute(self, a, b):
        raise NotImplementedError(f"{type(self).__name__}.compute is not written yet")

    def gradients(self, g):
        raise NotImplementedError(f"{type(self).__name__}.gradients is not written yet")

    def explain_error(self, err, arrays, params):
        a, b = (_fmt(x.shape) for x in arrays[:2])
        return ShapeError(
            f"{type(self).__name__.lower()}: shapes {a} and {b} cannot be broadcast together. "
            "Compared from the last axis, each pair of sizes must be equal or one of them 1; "
            "reshape one operand (e.g. x.reshape(...) to add a size-1 axis) so they line up")


class Add(Elementwise, trusted=True):
    """f = a + b;  dL/da = g,  dL/db = g."""

    saved_inputs = ()

    def compute(self, a, b):
        return a + b

    def gradients(self, g):
        return g, g


class Sub(Elementwise, trusted=True):
    """f = a - b;  dL/da = g,  dL/db = -g."""

    saved_inputs = ()

    def compute(self, a, b):
        return a - b

    def gradients(self, g):
        return g, (-g if self.needs_grad[1] else None)


class Mul(Elementwise, trusted=True):
    """f = a * b;  dL/da = g * b,  dL/db = g * a."""

    @property
    def saved_inputs(self):  # as torch saves them: b only for dL/da, a only for dL/db
        return read_for_the_other(self.needs_grad)

    def compute(self, a, b):
        self.a, self.b = a, b
        return a * b

    def gradients(self, g):
        return (g * self.b if self.needs_grad[0] else None,
                g * self.a if self.needs_grad[1] else None)


class Div(Elementwise, trusted=True):
    """f = a / b;  dL/da = g / b,  dL/db = -g * a / b^2."""

    @property
    def saved_inputs(self):  # as torch saves them: b for both gradients, a only for dL/db
        return (0, 1) if self.needs_grad[1] else (1,)

    def compute(self, a, b):
        if a.dtype.kind not in "fc":  # int / int is float32, as torch (a and b share a dtype now)
            a, b = floating(a), floating(b)
        self.a, self.b = a, b
        return a / b

    def gradients(self, g):
        g_over_b = g / self.b
        return g_over_b, (-g_over_b * self.a / self.b if self.needs_grad[1] else None)


def _refuse_integer_zero(b, op):
    """Integer // and % by zero raise, as in torch (NumPy would return 0 with a warning)."""
    if b.dtype.kind in "iub" and (b == 0).any():
        raise RuntimeError(f"ZeroDivisionError: integer {op} by zero (torch raises too); divide by "
                           "non-zero values, or use floats, where x // 0 gives inf")


class FloorDivide(Elementwise, trusted=True):
    """f = floor(a / b) (Python's //);  no derivative: backward raises, as torch's does."""

    saved_inputs = ()

    def compute(self, a, b):
        _refuse_integer_zero(b, "//")
        return get_array_module(a, b).floor_divide(a, b)

    def gradients(self, g):
        raise RuntimeError("// (floor division) has no derivative (as in torch); compute it on detached "
                           "tensors (a.detach() // b), or use / where a gradient must flow")


class Remainder(Elementwise, trusted=True):
    """f = a - b * floor(a / b) (Python's %, the sign of b);  dL/da = g,  dL/db = -g * floor(a / b)."""

    @property
    def saved_inputs(self):  # as torch saves them: dL/da = g reads nothing, dL/db reads a and b
        return (0, 1) if self.needs_grad[1] else ()

    def compute(self, a, b):
        _refuse_integer_zero(b, "%")
        self.a, self.b = a, b
        return get_array_module(a, b).remainder(a, b)

    def gradients(self, g):
        floor = get_array_module(g).floor_divide(self.a, self.b) if self.needs_grad[1] else None
        return g, (None if floor is None else -g * floor)


class PowTensor(Elementwise, trusted=True):
    """f = a ** b;  dL/da = g * b * a ** (b - 1),  dL/db = g * f * ln a (0 where a = 0)."""

    saved_inputs = (0, 1)
    saves_output = True

    def compute(self, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def gradients(self, g):
        xp = get_array_module(g)
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_grad[0]:  # 0 where b = 0, also at a = 0 (as torch), not 0 * 0 ** -1 = nan
            ga = g * b * a ** (xp.where(b == 0, 1, b) - 1)
        if self.needs_grad[1]:
            at_zero = a == 0
            gb = xp.where(at_zero, 0, g * self.y * xp.log(xp.where(at_zero, 1, a)))
        return ga, gb


class Maximum(Elementwise, trusted=True):
    """f = max(a, b) elementwise;  dL/da = g where a > b (g/2 at ties), dL/db likewise."""

    saved_inputs = ()
    pick = "maximum"

    def compute(self, a, b):
        wins = a > b if self.pick == "maximum" else a < b
        self.share_a = wins + 0.5 * (a == b)  # a's share of g: 1, 1/2 at a tie, else 0
        return getattr(get_array_module(a, b), self.pick)(a, b)

    def gradients(self, g):
        share = self.share_a.astype(g.dtype)
        return g * share, (g * (1 - share) if self.needs_grad[1] else None)


class Minimum(Maximum, trusted=True):
    """f = min(a, b) elementwise;  dL/da = g where a < b (g/2 at ties), dL/db likewise."""

    pick = "minimum"


class Where(Elementwise, trusted=True):
    """f = a where cond else b;  dL/da = g where cond,  dL/db = g where not cond."""

    saved_inputs = ()

    def forward(self, a, b, cond):
        self.cond = cond
        out = Elementwise.forward(self, a, b)
        if out.shape != a.shape or out.shape != b.shape:  # cond broadcast a and b further
            self.shapes = a.shape, b.shape
        return out

    def compute(self, a, b):
        return get_array_module(a, b).where(self.cond, a, b)

    def gradients(self, g):
        xp = get_array_module(g)
        zero = xp.zeros((), dtype=g.dtype)
        return (xp.where(self.cond, g, zero) if self.needs_grad[0] else None,
                xp.where(self.cond, zero, g) if self.needs_grad[1] else None)

    def explain_error(self, err, arrays, params):
        a, b = (_fmt(x.shape) for x in arrays)
        return ShapeError(f"where: condition {_fmt(numpy.shape(params['cond']))}, a {a} and b {b} "
                          "cannot be broadcast together")
