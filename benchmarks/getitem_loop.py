"""Backward through a loop over x[t] is linear in T: x[t] vs x.unbind(0) vs T separate leaves.

An unrolled RNN reads its input one step at a time, h = tanh(x[t] @ W + h @ U).
Each x[t] sends back a gradient that is zero but for one slice; if every one
were a full-size zero array added to the others, backward would cost O(T^2).
tensorgrad scatters them into one buffer, so the loop costs about what T
separate leaves cost. Run: python benchmarks/getitem_loop.py
"""

import argparse
import statistics
import time

import numpy as np

import tensorgrad as tg


def backward_seconds(T, B, H, mode, repeat):
    """Median time of loss.backward() for the loop reading its input as ``mode``."""
    rng = np.random.default_rng(0)
    W = tg.tensor(rng.standard_normal((H, H)).astype(np.float32) * 0.1, requires_grad=True)
    U = tg.tensor(rng.standard_normal((H, H)).astype(np.float32) * 0.1, requires_grad=True)
    data = rng.standard_normal((T, B, H)).astype(np.float32)
    times = []
    for _ in range(repeat):
        if mode == "leaves":
            steps = [tg.tensor(data[t], requires_grad=True) for t in range(T)]
        else:
            x = tg.tensor(data, requires_grad=True)
            steps = x.unbind(0) if mode == "unbind" else [x[t] for t in range(T)]
        h = tg.zeros(B, H)
        for t in range(T):
            h = (steps[t] @ W + h @ U).tanh()
        loss = h.sum()
        start = time.perf_counter()
        loss.backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[250, 500, 1000])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    modes = ["x[t]", "unbind", "leaves"]
    print(f"backward of h = tanh(x_t @ W + h @ U), batch {args.batch}, hidden {args.hidden}, float32, "
          f"median of {args.repeat}; microseconds per step (flat in T means linear)")
    print(f"{'T':>6}" + "".join(f"{m + ' us/step':>18}" for m in modes))
    last = {}
    for T in args.lengths:
        last = {m: backward_seconds(T, args.batch, args.hidden, m if m != "x[t]" else "index", args.repeat)
                for m in modes}
        print(f"{T:>6}" + "".join(f"{last[m] / T * 1e6:>18.1f}" for m in modes))
    T = args.lengths[-1]
    print(f"T={T}: x[t] loop / separate leaves = {last['x[t]'] / last['leaves']:.2f}x, "
          f"unbind / separate leaves = {last['unbind'] / last['leaves']:.2f}x")


if __name__ == "__main__":
    main()
