"""A chain of small ops, forward + backward: tensorgrad vs a minimal NumPy reverse-mode engine.

The chain is ``steps`` RNN-like steps h = tanh(h @ W + x) * s + b (five ops
each), then h.sum(), so its cost is mostly per-op bookkeeping at 4x4 and mostly
arithmetic at 64x64. The minimal engine below is what a student writes first
(micrograd on arrays: a closure per op, a topological sort, no checks, no
broadcasting); tensorgrad checks inputs, records versions for in-place safety
and validates user Functions, so the ratio tensorgrad / minimal says what that
safety costs. A third contender makes the same NumPy calls by hand with no
engine, so the overhead column compares what each engine adds to them. All run
on one BLAS thread, interleaved round by round in one process; the reported
ratios are medians of per-round ratios, which stay steady on a loaded machine
where absolute times do not.
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


def by_hand(h, W, xs, s, b):
    """The chain's forward and backward as the bare NumPy calls both engines make (no engine at all):
    the gradients of h0, W, s and b."""
    saved = []
    for x in xs:
        y = np.tanh(h @ W + x)
        saved.append((h, y))
        h = y * s + b
    g = np.broadcast_to(np.ones_like(h.sum()), h.shape)
    gW = gs = gb = None
    for h_in, y in reversed(saved):
        gb = g if gb is None else gb + g
        gs = g * y if gs is None else gs + g * y
        gz = (g * s) * (1 - y * y)
        gW = h_in.T @ gz if gW is None else gW + h_in.T @ gz
        g = gz @ W.T
    return g, gW, gs, gb  # g is now the gradient of h0


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

    def run_numpy():
        by_hand(h0, W, xs, s, b)

    # The three must compute the same gradients, or the comparison means nothing.
    chain(tg_leaves[0], tg_leaves[1], tg_xs, tg_leaves[2], tg_leaves[3]).backward()
    chain(min_leaves[0], min_leaves[1], min_xs, min_leaves[2], min_leaves[3]).backward()
    for t, m, g in zip(tg_leaves, min_leaves, by_hand(h0, W, xs, s, b), strict=True):
        np.testing.assert_allclose(t.grad.numpy(), m.grad, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-4, atol=1e-4)
        t.grad = m.grad = None
    return [("tensorgrad", run_tensorgrad), ("minimal", run_minimal), ("numpy", run_numpy)]


def time_us(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e6


def compare(n, steps, rounds, number):
    """Per contender its median per-round time, and per round the ratios tensorgrad / minimal and
    (tensorgrad - numpy) / (minimal - numpy): what each engine adds to the bare NumPy calls."""
    runs = [run for _, run in contenders(n, steps)]
    for run in runs:
        run()  # warm up
    times, ratios, overheads = [[] for _ in runs], [], []
    for r in range(rounds):
        order = range(len(runs)) if r % 2 == 0 else reversed(range(len(runs)))  # neither always first
        took = {}
        for k in order:
            took[k] = time_us(runs[k], number)
        for k in took:
            times[k].append(took[k])
        ours, minimal, bare = took[0], took[1], took[2]
        ratios.append(ours / minimal)
        overheads.append((ours - bare) / (minimal - bare))
    return [statistics.median(t) for t in times], ratios, overheads


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
    print("numpy: the same NumPy calls with no engine; overhead: (tensorgrad - numpy) / (minimal - numpy)")
    print(f"{'size':<8}{'tensorgrad us':>15}{'minimal us':>12}{'numpy us':>10}{'ratio':>8}{'ratio IQR':>12}"
          f"{'overhead':>10}")
    for n in args.sizes:
        (a, b, c), ratios, overheads = compare(n, args.steps, args.rounds, args.number)
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        print(f"{f'{n}x{n}':<8}{a:>15.1f}{b:>12.1f}{c:>10.1f}{statistics.median(ratios):>8.2f}"
              f"{f'{q1:.2f}-{q3:.2f}':>12}{statistics.median(overheads):>10.2f}")


if __name__ == "__main__":
    main()
