"""conv2d and max_pool2d, forward + backward: tensorgrad (im2col + one GEMM) vs torch on the CPU.

Each case is one layer of a small CNN image encoder, float32: Conv2d(C, 2C, 3, padding=1) on
(N, C, S, S), then max_pool2d(2) on its output, with the gradients of the input, weight and bias.
tensorgrad and torch run on one thread, interleaved round by round (neither always first) in
one process; the ratio reported is the median of the per-round ratios tensorgrad / torch, which
stays steady on a loaded machine where absolute times do not. Without torch only tensorgrad's
times are printed.
Run: python benchmarks/conv2d.py
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads its BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tensorgrad as tg  # noqa: E402
import tensorgrad.functional as F  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def contenders(n, c, size, dtype=np.float32):
    """(name, run) pairs: each run is one forward + backward of conv2d then max_pool2d."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, size, size)).astype(dtype)
    w = (rng.standard_normal((2 * c, c, 3, 3)) / (9 * c) ** 0.5).astype(dtype)
    b = rng.standard_normal(2 * c).astype(dtype)
    ours = [tg.tensor(a, requires_grad=True) for a in (x, w, b)]

    def run_tensorgrad():
        F.max_pool2d(F.conv2d(ours[0], ours[1], ours[2], padding=1), 2).sum().backward()
        grads = [t.grad for t in ours]
        for t in ours:
            t.grad = None
        return grads

    runs = [("tensorgrad", run_tensorgrad)]
    if torch is not None:
        theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]

        def run_torch():
            y = torch.nn.functional.conv2d(theirs[0], theirs[1], theirs[2], padding=1)
            torch.nn.functional.max_pool2d(y, 2).sum().backward()
            grads = [t.grad for t in theirs]
            for t in theirs:
                t.grad = None
            return grads

        runs.append(("torch", run_torch))
    return runs


def check_same_gradients(n, c, size):
    """Both contenders give the same gradients, or the comparison means nothing. In float64:
    in float32 a near-tie in a pooling window can pick another maximum in each library."""
    runs = contenders(n, c, size, np.float64)
    if len(runs) == 2:
        for a, t in zip(runs[0][1](), runs[1][1](), strict=True):
            np.testing.assert_allclose(a.numpy(), t.numpy(), rtol=1e-9, atol=1e-9)


def time_ms(fn, number):
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - start) / number * 1e3


def compare(n, c, size, rounds, number):
    """Per contender its median per-round time (ms), and the per-round ratios tensorgrad / torch."""
    check_same_gradients(n, c, size)
    runs = [run for _, run in contenders(n, c, size)]
    for run in runs:
        run()  # warm up
    times, ratios = [[] for _ in runs], []
    for r in range(rounds):
        order = range(len(runs)) if r % 2 == 0 else reversed(range(len(runs)))
        took = {k: time_ms(runs[k], number) for k in order}
        for k, t in took.items():
            times[k].append(t)
        if len(runs) == 2:
            ratios.append(took[0] / took[1])
    return [statistics.median(t) for t in times], ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, nargs=3, action="append", metavar=("N", "C", "S"),
                        help="batch, input channels, image side (repeatable); default 8 3 64, 8 16 32, "
                             "8 64 16")
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--number", type=int, default=3, help="forward+backward runs per round")
    args = parser.parse_args()
    cases = args.cases or [(8, 3, 64), (8, 16, 32), (8, 64, 16)]
    if torch is not None:
        torch.set_num_threads(1)
    print(f"conv2d(3x3, padding 1) + max_pool2d(2), forward+backward, float32, 1 thread, "
          f"{args.rounds} rounds x {args.number} runs, interleaved")
    if torch is None:
        print("torch is not installed: tensorgrad's times only")
    print(f"{'input (N, C, S, S)':<22}{'tensorgrad ms':>15}{'torch ms':>10}{'ratio':>8}{'ratio IQR':>13}")
    for n, c, size in cases:
        times, ratios = compare(n, c, size, args.rounds, args.number)
        if ratios:
            q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
            print(f"{str((n, c, size, size)):<22}{times[0]:>15.2f}{times[1]:>10.2f}"
                  f"{statistics.median(ratios):>8.2f}{f'{q1:.2f}-{q3:.2f}':>13}")
        else:
            print(f"{str((n, c, size, size)):<22}{times[0]:>15.2f}{'-':>10}{'-':>8}{'-':>13}")


if __name__ == "__main__":
    main()
