"""A chain of small ops, forward + backward: tensorgrad vs a minimal NumPy reverse-mode engine.

The chain is ``steps`` RNN-like steps h = tanh(h @ W + x) * s + b (five ops
each), then h.sum(), so its cost is mostly per-op bookkeeping at 4x4 and mostly
arithmetic at 64x64. The minimal engine below is what a student writes first
(micrograd on arrays: a closure per op, a topological sort, no checks, no
broadcasting); tensorgrad checks inputs, records versions for in-place safety
and validates user Functions, so the ratio tensorgrad / minimal says what that
safety costs. Both run on one BLAS thread, interleaved round by round in one
process; the reported ratio is the median of the per-round ratios, which
stays steady on a loaded machine where absolute times do not.
Run: python benchmarks/op_chain.py
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads its BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tensorgrad as tg  # noqa: E402


class Node:
    """The minimal engine: one array, its gradient, and a closure that sends it to the inputs."""

    __slots__ = ("data", "grad", "inputs", "send")

    def __init__(self, data, inputs=(), send=None):
        self.data, self.grad, self.inputs, self.send = data, None, inputs, send

    def add_grad(self, g):
        self.grad = g if self.grad is None else self.grad + g

    def __add__(self, other):
        out = Node(self.data + other.data, (self, other))

        def send(g):
            self.add_grad(g)
            other.add_grad(g)
        out.send = send
        return out

    def __mul__(self, other):
        out = Node(self.data * other.data, (self, other))

        def send(g):
            self.add_grad(g * other.data)
            other.add_grad(g * self.data)
        out.send = send
        return out

    def __matmul__(self, other):
        out = Node(self.data @ other.data, (self, other))

        def send(g):
            self.add_grad(g @ other.data.T)
            other.add_grad(self.data.T @ g)
        out.send = send
        return out

    def tanh(self):
        y = np.tanh(self.data)
        out = Node(y, (self,))

        def send(g):
            self.add_grad(g * (1 - y * y))
        out.send = send
        return out

    def sum(self):
        out = Node(self.data.sum(), (self,))

        def send(g):
            self.add_grad(np.broadcast_to(g, self.data.shape))
        out.send = send
        return out

    def backward(self):
        order, seen, stack = [], {self}, [(self, iter(self.inputs))]
        while stack:  # iterative post-order DFS, as a deep chain needs
            node, inputs = stack[-1]
            for child in inputs:
                if child not in seen:
                    seen.add(child)
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
        self.grad = np.ones_like(self.data)
        for node in reversed(order):
            if node.send is not None:
                node.send(node.grad)
                node.grad = None  # only leaves keep their gradient


def chain(h, W, xs, s, b):
    """h = tanh(h @ W + x) * s + b for each x in xs, then the sum: works on either engine."""
    for x in xs:
        h = (h @ W + x).tanh() * s + b
    return h.sum()


def contenders(n, steps):
    """(name, run) pairs: each run does one forward + backward and clears the leaves' gradients."""
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, n)).astype(np.float32) * 0.5 for _ in range(4 + steps)]
    h0, W, s, b, xs = arrays[0], arrays[1], arrays[2], arrays[3], arrays[4:]

    tg_leaves = [tg.tensor(a, requires_grad=True) for a in (h0, W, s, b)]
    tg_xs = [tg.tensor(x) for x in xs]

    def run_tensorgrad():
        chain(tg_leaves[0], tg_leaves[1], tg_xs, tg_leaves[2], tg_leaves[3]).backward()
        for t in tg_leaves:
            t.grad = None

    min_leaves = [Node(a) for a in (h0, W, s, b)]
    min_xs = [Node(x) for x in xs]

    def run_minimal():
        chain(min_leaves[0], min_leaves[1], min_xs, min_leaves[2], min_leaves[3]).backward()
        for t in min_leaves + min_xs:  # it has no requires_grad: the xs get gradients too
            t.grad = None

    # The two must compute the same gradients, or the comparison means nothing.
    chain(tg_leaves[0], tg_leaves[1], tg_xs, tg_leaves[2], tg_leaves[3]).backward()
    chain(min_leaves[0], min_leaves[1], min_xs, min_leaves[2], min_leaves[3]).backward()
    for t, m in zip(tg_leaves, min_leaves, strict=True):
        np.testing.assert_allclose(t.grad, m.grad, rtol=1e-4, atol=1e-4)
        t.grad = m.grad = None
    return [("tensorgrad", run_tensorgrad), ("minimal", run_minimal)]


def time_us(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e6


def compare(n, steps, rounds, number):
    """Median per-round times and the median of the per-round ratios tensorgrad / minimal."""
    (_, tg_run), (_, min_run) = contenders(n, steps)
    tg_run(), min_run()  # warm up
    t_tg, t_min, ratios = [], [], []
    for r in range(rounds):
        # alternate which goes first, so neither always follows the other
        pair = (tg_run, min_run) if r % 2 == 0 else (min_run, tg_run)
        first, second = time_us(pair[0], number), time_us(pair[1], number)
        a, b = (first, second) if r % 2 == 0 else (second, first)
        t_tg.append(a)
        t_min.append(b)
        ratios.append(a / b)
    return statistics.median(t_tg), statistics.median(t_min), statistics.median(ratios), ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 64])
    parser.add_argument("--steps", type=int, default=3, help="RNN-like steps of 5 ops each")
    parser.add_argument("--rounds", type=int, default=401)
    parser.add_argument("--number", type=int, default=5, help="forward+backward runs per round")
    args = parser.parse_args()
    n_ops = 5 * args.steps + 1
    print(f"{n_ops}-op chain forward+backward, float32, 1 BLAS thread, "
          f"{args.rounds} rounds x {args.number} runs, contenders interleaved")
    print(f"{'size':<8}{'tensorgrad us':>15}{'minimal us':>12}{'ratio':>8}{'ratio IQR':>16}")
    for n in args.sizes:
        a, b, ratio, ratios = compare(n, args.steps, args.rounds, args.number)
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        print(f"{f'{n}x{n}':<8}{a:>15.1f}{b:>12.1f}{ratio:>8.2f}{f'{q1:.2f}-{q3:.2f}':>16}")


if __name__ == "__main__":
    main()
