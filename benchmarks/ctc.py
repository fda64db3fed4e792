"""tensorgrad's ctc_loss against torch's: forward + backward time ratio on speech-like shapes.

log_softmax(logits) (T, N, C) float32 -> ctc_loss (mean) -> backward to the logits, on both
libraries with one thread. Rounds interleave the two (alternating which goes first), so drift
in machine speed hits both alike; the figure is the median over rounds of the paired ratio
tensorgrad / torch (> 1: tensorgrad slower). tensorgrad loops over the T frames in Python, each
step a few NumPy calls on (N, 2S+1) arrays; torch runs a compiled loop, so expect the ratio to
be largest for short, small batches (call overhead) and to shrink as N and S grow.
Without torch it prints tensorgrad's times alone.
Run: python benchmarks/ctc.py [--rounds 9] [--shapes T,N,C,S ...]
"""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one BLAS thread, set before NumPy loads
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

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


def problem(T, N, C, S):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((T, N, C)).astype(np.float32)
    target_lengths = rng.integers(max(1, S // 2), S + 1, N)
    targets = rng.integers(1, C, (N, S))
    input_lengths = rng.integers(max(T // 2, 2 * S + 1), T + 1, N)
    return logits, targets, input_lengths, target_lengths


def ours(logits, targets, input_lengths, target_lengths):
    x = tg.tensor(logits, requires_grad=True)

    def run():
        x.grad = None
        F.ctc_loss(F.log_softmax(x, dim=2), targets, input_lengths, target_lengths).backward()
    return run


def theirs(logits, targets, input_lengths, target_lengths):
    x = torch.tensor(logits, requires_grad=True)
    t, il, tl = (torch.tensor(a) for a in (targets, input_lengths, target_lengths))

    def run():
        x.grad = None
        torch.nn.functional.ctc_loss(x.log_softmax(2), t, il, tl).backward()
    return run


def seconds(run, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["50,4,29,10", "200,8,29,40", "400,16,29,80"],
                        help="T,N,C,S: frames, batch, classes (blank included), longest target")
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    if torch is not None:
        torch.set_num_threads(1)
    print(f"log_softmax + ctc_loss forward+backward, float32, 1 thread, median of {args.rounds} "
          "interleaved rounds; ratio = tensorgrad / torch")
    if torch is None:
        print("(torch is not installed: its columns are skipped)")
    print(f"{'T,N,C,S':>14}{'tensorgrad ms':>15}{'torch ms':>10}{'ratio':>8}")
    for shape in args.shapes:
        T, N, C, S = (int(v) for v in shape.split(","))
        arrays = problem(T, N, C, S)
        runs = [ours(*arrays)] + ([theirs(*arrays)] if torch is not None else [])
        for run in runs:
            run()  # warm-up
        repeats = max(1, int(0.05 / max(seconds(runs[0], 1), 1e-6)))
        times = [[] for _ in runs]
        for r in range(args.rounds):
            order = list(range(len(runs)))
            for i in (order if r % 2 == 0 else order[::-1]):
                times[i].append(seconds(runs[i], repeats))
        line = f"{shape:>14}{statistics.median(times[0]) * 1e3:>15.2f}"
        if torch is not None:
            ratio = statistics.median(a / b for a, b in zip(times[0], times[1], strict=True))
            line += f"{statistics.median(times[1]) * 1e3:>10.2f}{ratio:>8.1f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
