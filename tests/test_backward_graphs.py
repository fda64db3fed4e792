"""Random graphs through the backward walk, against torch where it is installed.

Each example is a small program: ops on a few float64 (3, 3) leaves and on
earlier results, shared inputs and in-place ops on computed tensors included,
then the sum of everything computed. tensorgrad and torch run the same program
and must give the same gradient to every leaf. The walk's order (the op
recorded last first) and its handling of ops reached several times, of in-place
ops recorded in the graph and of sparse (indexed) gradients all take part.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorgrad as tg

try:
    import torch
except ImportError:
    torch = None

N_LEAVES = 3
ROWS = [0, 2, 0]  # x[ROWS]: a repeated row, so its gradient scatters with accumulation

# name -> f(lib, x, y) on two earlier values (some use only x); all keep the shape (3, 3)
OPS = {
    "add": lambda lib, x, y: x + y,
    "mul": lambda lib, x, y: x * y,
    "matmul": lambda lib, x, y: x @ y * 0.5,
    "tanh": lambda lib, x, y: x.tanh(),
    "sigmoid_mul": lambda lib, x, y: x.sigmoid() * y,
    "row_sums": lambda lib, x, y: x.sum(1, keepdim=True) * 0.3 + y,  # broadcasts back
    "rows": lambda lib, x, y: x[lib.tensor(ROWS)] - y,
    "iadd": lambda lib, x, y: _inplace(x, lambda z: z.add_(y, alpha=0.5)),
    "imul": lambda lib, x, y: _inplace(x, lambda z: z.mul_(y)),  # mul_ saves the old values
    "relu_": lambda lib, x, y: _inplace(x - y, lambda z: z.relu_()),
    "augmented": lambda lib, x, y: _augmented(x, y),
}


def _inplace(x, op):
    z = x * 1.0  # a computed tensor of its own (a leaf that requires grad refuses in-place ops)
    op(z)
    return z


def _augmented(x, y):
    total = x * 0.5
    total += y  # `total += loss`, a torch habit
    total += total * 0.1  # micrograd's `c += c + 1` shape: the right side reads total first
    return total


programs = st.lists(
    st.tuples(st.sampled_from(sorted(OPS)), st.integers(0, 10**6), st.integers(0, 10**6)),
    min_size=1, max_size=12)


def loss_of(lib, program, xs):
    """Run ``program`` in ``lib`` (tensorgrad or torch) on the leaf tensors ``xs``: the sum of all
    it computed."""
    values = list(xs)
    for name, i, j in program:
        values.append(OPS[name](lib, values[i % len(values)], values[j % len(values)]))
    return sum(v.sum() for v in values[N_LEAVES:])


def grads(lib, program, leaves):
    """The gradient of ``program``'s loss for each leaf (float64 arrays ``leaves``)."""
    xs = [lib.tensor(a, requires_grad=True) for a in leaves]
    loss_of(lib, program, xs).backward()
    return [np.zeros((3, 3)) if x.grad is None else x.grad.detach().numpy() for x in xs]


def leaves_for(seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((3, 3)) * 0.7 for _ in range(N_LEAVES)]


@given(program=programs, seed=st.integers(0, 2**16))
@settings(deadline=None, max_examples=50)
def test_random_graphs_match_finite_differences(program, seed):
    xs = [tg.tensor(a, requires_grad=True) for a in leaves_for(seed)]
    assert tg.gradcheck(lambda *xs: loss_of(tg, program, xs), xs)


@pytest.mark.skipif(torch is None, reason="compares with torch")
@given(program=programs, seed=st.integers(0, 2**16))
@settings(deadline=None, max_examples=200)
def test_random_graphs_match_torch(program, seed):
    leaves = leaves_for(seed)
    for ours, theirs in zip(grads(tg, program, leaves), grads(torch, program, leaves), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
