"""Backward through a long unrolled chain costs time linear in its length.

Builds h_t = tanh(h_{t-1} @ W + x_t) for T steps, then backpropagates, and
prints microseconds per step for several T. Linear scaling shows as a flat
per-step cost; an O(T^2) graph walk would grow with T. Run:
python benchmarks/chain_scaling.py
"""

import argparse
import time

import numpy as np

import tensorgrad as tg


def run(T, H=8):
    rng = np.random.default_rng(0)
    W = tg.tensor(rng.standard_normal((H, H)).astype(np.float32) * 0.3, requires_grad=True)
    xs = rng.standard_normal((T, H)).astype(np.float32)
    start = time.perf_counter()
    h = tg.zeros(H)
    for t in range(T):
        h = (h @ W + xs[t]).tanh()
    built = time.perf_counter()
    h.sum().backward()
    done = time.perf_counter()
    return (built - start) / T * 1e6, (done - built) / T * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    args = parser.parse_args()
    print(f"{'T':>8}{'forward us/step':>17}{'backward us/step':>18}")
    for T in args.lengths:
        fwd, bwd = run(T)
        print(f"{T:>8}{fwd:>17.2f}{bwd:>18.2f}")


if __name__ == "__main__":
    main()
