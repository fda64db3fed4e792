"""nn.Linear on a 3-D (T, B, H) input vs the same rows as 2-D (T*B, H): forward + backward.

After a recurrent layer the decoder sees (T, B, H); a Linear that treats that as T separate
(B, H) products, and sums T weight gradients, costs about twice the single (T*B, H) GEMM.
The two cases run interleaved, round by round, on one BLAS thread; the ratio reported is the
median of the per-round ratios 3-D / 2-D (1.00 means the 3-D input costs nothing extra).
Default sizes are pytorch/examples' word_language_model decoder: Linear(200, 11646) on (35, 20, 200).
Run: python benchmarks/linear_nd.py
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads its BLAS

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tensorgrad as tg  # noqa: E402


def step(layer, x, grad):
    """One forward and backward through ``layer``; returns seconds."""
    start = time.perf_counter()
    layer(x).backward(grad)
    seconds = time.perf_counter() - start
    layer.zero_grad()
    x.grad = None
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--shape", type=int, nargs=3, default=[35, 20, 200], metavar=("T", "B", "H"))
    parser.add_argument("--out", type=int, default=11646, help="out_features (the vocabulary)")
    args = parser.parse_args()
    T, B, H = args.shape
    tg.manual_seed(0)
    layer = tg.nn.Linear(H, args.out)
    rng = np.random.default_rng(0)
    x3 = tg.tensor(rng.standard_normal((T, B, H), dtype=np.float32), requires_grad=True)
    x2 = tg.tensor(x3.numpy().reshape(T * B, H), requires_grad=True)
    g3 = tg.tensor(rng.standard_normal((T, B, args.out), dtype=np.float32))
    g2 = g3.reshape(T * B, args.out)
    step(layer, x3, g3), step(layer, x2, g2)  # warm-up: allocations, first BLAS calls
    times3, times2 = [], []
    for _ in range(args.rounds):
        times3.append(step(layer, x3, g3))
        times2.append(step(layer, x2, g2))
    ratios = [a / b for a, b in zip(times3, times2, strict=True)]
    print(f"Linear({H}, {args.out}) forward+backward, {args.rounds} interleaved rounds, 1 BLAS thread")
    print(f"  3-D ({T}, {B}, {H}): median {statistics.median(times3) * 1e3:7.1f} ms")
    print(f"  2-D ({T * B}, {H}):  median {statistics.median(times2) * 1e3:7.1f} ms")
    print(f"  ratio 3-D / 2-D: median {statistics.median(ratios):.2f} "
          f"(range {min(ratios):.2f}-{max(ratios):.2f})")


if __name__ == "__main__":
    main()
