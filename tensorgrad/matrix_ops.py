"""einsum and diag as differentiable ops, with torch's meanings.

einsum's gradient is einsum again. For y = einsum("ij,jk->ik", a, b):

    dL/da[i,j] = sum_k g[i,k] b[j,k]   = einsum("ik,jk->ij", g, b)

and in general dL/d(operand n) contracts g with every other operand onto operand n's
subscripts. Two cases need care: a subscript only operand n has (summed away in
y, so g is constant along it: broadcast back), and a subscript repeated in operand
n ("ii->i" reads a diagonal: the gradient lands on that diagonal, so multiply by an
identity matrix over a fresh subscript).
"""

import numbers
import string

import numpy

from .autograd import Function, ShapeError
from .backend import get_array_module
from .tensor import Tensor

_LETTERS = string.ascii_letters


def _parse(equation, shapes):
    """("ij,jk", "ik") with any "..." spelled out as letters, and the output made explicit."""
    equation = equation.replace(" ", "")
    inputs, arrow, output = equation.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} has {len(terms)} operand(s) but "
                         f"{len(shapes)} tensor(s) were given")
    used = set(equation) - set(".,->")
    if not used <= set(_LETTERS):
        raise ValueError(f"einsum: subscripts must be letters a-z or A-Z, got {equation!r}")
    spare = [c for c in _LETTERS if c not in used]
    pairs = list(zip(terms, shapes, strict=True))
    ellipsis_ndim = max((len(s) - len(t.replace("...", "")) for t, s in pairs if "..." in t), default=0)
    fill = "".join(spare[:ellipsis_ndim])  # the broadcast dims, right-aligned as NumPy's
    spelled = []
    for term, shape in pairs:
        if "..." in term:
            n = len(shape) - len(term.replace("...", ""))
            term = term.replace("...", fill[len(fill) - n:] if n else "")
        if len(term) != len(shape):
            raise ValueError(f"einsum: operand {term!r} has {len(term)} subscript(s) but the tensor has "
                             f"{len(shape)} dimension(s) (shape {tuple(shape)})")
        spelled.append(term)
    if arrow:
        output = output.replace("...", fill)
    else:  # implicit output: the broadcast dims, then each subscript used once, alphabetically
        counts = "".join(spelled)
        output = fill + "".join(sorted(c for c in set(counts) if counts.count(c) == 1 and c not in fill))
    sizes = {}
    for term, shape in zip(spelled, shapes, strict=True):
        for c, n in zip(term, shape, strict=True):
            if sizes.setdefault(c, n) != n:
                raise ShapeError(f"einsum: subscript {c!r} has size {sizes[c]} in one operand and {n} in "
                                 f"another (shapes {[tuple(s) for s in shapes]}; equation {equation!r})")
    for c in output:
        if c not in sizes:
            raise ValueError(f"einsum: output subscript {c!r} appears in no operand ({equation!r})")
    return spelled, output, sizes


class Einsum(Function, trusted=True):
    """f = einsum(terms -> output, *operands);  dL/d(operand n) = einsum(g, the others -> term n)."""

    def forward(self, *arrays, terms, output, sizes):
        self.arrays, self.terms, self.output, self.sizes = arrays, terms, output, sizes
        xp = get_array_module(*arrays)
        return xp.einsum(",".join(terms) + "->" + output, *arrays, optimize=len(arrays) > 2)

    def backward(self, g):
        return tuple(self._grad(n, g) if need else None for n, need in enumerate(self.needs_grad))

    def _grad(self, n, g):
        xp = get_array_module(g)
        term = self.terms[n]
        others = [(t, a) for k, (t, a) in enumerate(zip(self.terms, self.arrays, strict=True)) if k != n]
        reachable = set(self.output).union(*[set(t) for t, _ in others])
        unique = "".join(dict.fromkeys(term))  # term's subscripts, once each, in order
        target = "".join(c for c in unique if c in reachable)
        operands = [g] + [a for _, a in others]
        spec = ",".join([self.output] + [t for t, _ in others]) + "->" + target
        grad = xp.einsum(spec, *operands, optimize=len(operands) > 2)
        # subscripts only this operand has were summed away: g is constant along them
        grad = xp.broadcast_to(grad.reshape([self.sizes[c] if c in target else 1 for c in unique]),
                               [self.sizes[c] for c in unique])
        if len(unique) == len(term):
            return xp.ascontiguousarray(grad).astype(self.arrays[n].dtype, copy=False)
        # a repeated subscript ("ii"): put the gradient on the diagonal, times an identity
        free = iter(c for c in _LETTERS if c not in set("".join(self.terms) + self.output))
        spelled, eyes, eye_terms, seen = [], [], [], set()
        for c in term:
            if c in seen:
                fresh = next(free)
                spelled.append(fresh)
                eye_terms.append(c + fresh)
                eyes.append(xp.eye(self.sizes[c], dtype=grad.dtype))
            else:
                seen.add(c)
                spelled.append(c)
        spec = ",".join([unique] + eye_terms) + "->" + "".join(spelled)
        return xp.einsum(spec, grad, *eyes).astype(self.arrays[n].dtype, copy=False)


def einsum(equation, *operands):
    """Sum of products over the subscripts an equation names, as torch.einsum:
    ``einsum("bij,bjk->bik", a, b)`` is a batched matmul, ``einsum("ii", a)`` a trace.

    Operands may also come as one list (``einsum(eq, [a, b])``). "..." stands for broadcast
    dims; without "->" the output is every subscript used once, in alphabetical order.
    Differentiable in every float operand.
    """
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the first argument is the equation string, e.g. 'ij,jk->ik', got "
                        f"{type(equation).__name__} (the sublist form is not supported)")
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"einsum: operand {i} is a {type(t).__name__}, not a Tensor")
    dtypes = {numpy.dtype(t.dtype) for t in operands}
    if len(dtypes) > 1:
        raise TypeError(f"einsum: operands must have one dtype, got {sorted(map(str, dtypes))}; "
                        "convert with .float() or .double()")
    terms, output, sizes = _parse(equation, [t.shape for t in operands])
    return Einsum.apply(*operands, terms=tuple(terms), output=output, sizes=sizes)


class Diag(Function, trusted=True):
    """f = diag(x, k): a (n+|k|, n+|k|) matrix with x on diagonal k, or the 1-D diagonal k of a matrix;
    dL/dx = the diagonal k of g (for a vector x), or g placed on diagonal k of zeros (for a matrix x)."""

    saved_inputs = ()

    def forward(self, x, k):
        self.k, self.shape = k, x.shape
        return get_array_module(x).diag(x, k)

    def backward(self, g):
        xp = get_array_module(g)
        if len(self.shape) == 1:
            return (xp.ascontiguousarray(xp.diagonal(g, self.k)),)
        full = xp.zeros(self.shape, dtype=g.dtype)
        rows = xp.arange(g.shape[0]) + max(-self.k, 0)
        full[rows, rows + self.k] = g
        return (full,)


def diag(input, diagonal=0):
    """As torch.diag: a 1-D tensor (n,) -> the square matrix with it on ``diagonal`` (0 the main one,
    > 0 above, < 0 below); a 2-D tensor -> its ``diagonal`` as a 1-D tensor. Differentiable."""
    if not isinstance(input, Tensor):
        raise TypeError(f"diag: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (1, 2):
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {input.shape}")
    if not isinstance(diagonal, numbers.Integral) or isinstance(diagonal, bool):
        raise TypeError(f"diag: diagonal must be an int, got {diagonal!r}")
    return Diag.apply(input, k=int(diagonal))


__all__ = ["einsum", "diag"]
