"""Parallel (Hillis-Steele) vs sequential linear recurrence: forward + backward time ratio against T.

h_t = a_t * h_{t-1} + b_t over (T, B, H) float32 arrays, through ``rnn.linear_recurrence``
(and ``rnn.log_linear_recurrence`` for the log-space column), each call one fused op
whose backward is the reverse scan in the same mode. Rounds interleave the two modes
(alternating which goes first), so drift in machine speed hits both alike; the
figure is the median over rounds of the paired ratio parallel / sequential
(< 1: the parallel scan is faster).

Work counts, per (B, H) element: the sequential loop does T multiply-adds in T
dependent steps, each a separate NumPy call on B*H numbers; the scan does
ceil(log2 T) whole-array rounds that together touch sum_d (T - d) ~ T log2 T
elements twice (the B and A updates) and allocate temporaries. So the scan trades
~2 log2 T times the arithmetic and memory traffic for T / log2 T fewer calls: it
wins only where a call costs more than its arithmetic (small B*H, or a GPU, where
each step is a kernel launch). Try --batch 1 --hidden 8 to see the scan win on the CPU.
Run: python benchmarks/scan.py [--rounds 9] [--batch B --hidden H] [--lengths T ...]
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread, set before NumPy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tensorgrad as tg  # noqa: E402
from rnn.scan import linear_recurrence, log_linear_recurrence  # noqa: E402


def make_step(fn, arrays, mode, device):
    """A function running fn forward and backward once, on fresh leaves, synchronised on a GPU."""
    leaves = [tg.tensor(v, requires_grad=True, device=device) for v in arrays[:2]]
    seed = tg.tensor(arrays[2], device=device)
    xp = tg.get_array_module(seed.array)

    def run():
        for t in leaves:
            t.grad = None
        fn(*leaves, mode=mode).backward(seed)
        if xp is not np:
            xp.cuda.Device().synchronize()
    return run


def seconds(run, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def paired_ratio(fn, arrays, device, rounds):
    """(median sequential ms, median parallel ms, median of the per-round ratios par/seq)."""
    sequential = make_step(fn, arrays, "sequential", device)
    parallel = make_step(fn, arrays, "parallel", device)
    sequential(), parallel()  # warm-up (and CuPy kernel compilation)
    once = seconds(sequential, 1)
    repeats = max(1, int(0.05 / max(once, 1e-6)))  # ~50 ms per timing
    t_seq, t_par = [], []
    for r in range(rounds):
        pair = [(sequential, t_seq), (parallel, t_par)]
        for run, store in (pair if r % 2 == 0 else pair[::-1]):
            store.append(seconds(run, repeats))
    ratios = [p / s for p, s in zip(t_par, t_seq, strict=True)]
    return statistics.median(t_seq) * 1e3, statistics.median(t_par) * 1e3, statistics.median(ratios)


def inputs(T, B, H, log_space):
    rng = np.random.default_rng(0)
    if log_space:
        a = rng.uniform(-2.0, -0.01, (T, B, H))
    else:
        a = rng.uniform(0.5, 0.99, (T, B, H))
    b, g = rng.standard_normal((T, B, H)), rng.standard_normal((T, B, H))
    return [v.astype(np.float32) for v in (a, b, g)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[64, 256, 1024, 4096])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if tg.cuda_available() else [])
    B, H = args.batch, args.hidden
    print(f"forward+backward, B={B}, H={H}, float32, 1 BLAS thread, median of {args.rounds} "
          "interleaved rounds; ratio = parallel / sequential (< 1: parallel faster)")
    if "cuda" not in devices:
        print("(no usable GPU: CuPy columns skipped)")
    header = f"{'T':>6}{'scan work':>11}"
    for device in devices:
        header += f"{device + ' seq ms':>13}{device + ' par ms':>13}{'ratio':>8}{'log ratio':>11}"
    print(header)
    for T in args.lengths:
        # elements touched by the scan's B updates relative to the loop's T: sum over rounds of (T - d)/T
        work = sum(T - 2 ** k for k in range(math.ceil(math.log2(T)))) / T if T > 1 else 1.0
        line = f"{T:>6}{work:>10.1f}x"
        for device in devices:
            linear, log = inputs(T, B, H, False), inputs(T, B, H, True)
            seq_ms, par_ms, ratio = paired_ratio(linear_recurrence, linear, device, args.rounds)
            _, _, log_ratio = paired_ratio(log_linear_recurrence, log, device, args.rounds)
            line += f"{seq_ms:>13.2f}{par_ms:>13.2f}{ratio:>8.2f}{log_ratio:>11.2f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
