"""Per-op overhead: a small op's forward + backward through tensorgrad vs the same NumPy calls.

What a long unrolled RNN pays at every step is mostly this bookkeeping, not
the arithmetic, so it is measured on tiny (8x8) float32 arrays. The NumPy
baseline does the forward and the backward arithmetic by hand (no graph), so
the ratio is tensorgrad's overhead factor. Run: python benchmarks/op_overhead.py
"""

import argparse
import statistics
import time

import numpy as np

import tensorgrad as tg


def cases(n):
    rng = np.random.default_rng(0)
    a_np, b_np = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    g_np = np.ones((n, n), dtype=np.float32)
    a, b = tg.tensor(a_np, requires_grad=True), tg.tensor(b_np, requires_grad=True)

    def tg_step(f):
        def run():
            f(a, b).backward(g_np)
        return run

    def np_add():
        _ = a_np + b_np
        _ = g_np.copy(), g_np.copy()  # backward: g to each input (leaf grads are fresh arrays)

    def np_mul():
        _ = a_np * b_np
        _ = g_np * b_np, g_np * a_np

    def np_matmul():
        _ = a_np @ b_np
        _ = g_np @ b_np.T, a_np.T @ g_np

    def np_tanh():
        y = np.tanh(a_np)
        _ = g_np * (1 - y * y)

    def np_chain():  # h = tanh(a @ b + a): three ops, as in one RNN step
        z = a_np @ b_np + a_np
        y = np.tanh(z)
        dz = g_np * (1 - y * y)
        _ = dz @ b_np.T + dz, a_np.T @ dz

    return [
        ("add", tg_step(lambda a, b: a + b), np_add),
        ("mul", tg_step(lambda a, b: a * b), np_mul),
        ("matmul", tg_step(lambda a, b: a @ b), np_matmul),
        ("tanh", tg_step(lambda a, b: a.tanh()), np_tanh),
        ("tanh(a@b+a)", tg_step(lambda a, b: (a @ b + a).tanh()), np_chain),
    ]


def time_us(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8)
    parser.add_argument("--number", type=int, default=20, help="runs per round")
    parser.add_argument("--rounds", type=int, default=301)
    args = parser.parse_args()
    print(f"forward+backward on {args.size}x{args.size} float32, medians of {args.rounds} rounds "
          f"x {args.number} runs")
    print(f"{'op':<14}{'tensorgrad us':>15}{'numpy us':>12}{'ratio':>8}{'overhead us':>13}")
    for name, tg_fn, np_fn in cases(args.size):
        # Interleaved in short rounds, so a burst of load on a shared machine
        # hits both alike; the ratio is the median of the per-round ratios.
        t_tg, t_np, ratios = [], [], []
        for _ in range(args.rounds):
            t_tg.append(time_us(tg_fn, args.number))
            t_np.append(time_us(np_fn, args.number))
            ratios.append(t_tg[-1] / t_np[-1])
        a, b = statistics.median(t_tg), statistics.median(t_np)
        print(f"{name:<14}{a:>15.2f}{b:>12.2f}{statistics.median(ratios):>8.1f}{a - b:>13.2f}")


if __name__ == "__main__":
    main()
