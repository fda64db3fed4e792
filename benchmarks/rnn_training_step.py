"""Time one LSTM / GRU training step (forward + backward over T steps, float32) three ways.

    python benchmarks/rnn_training_step.py [--threads 1] [--repeats 9]

* ours:  rnn.LSTM / rnn.GRU (one fused tensorgrad op per layer-direction);
* numpy: a hand-written NumPy forward/backward BPTT, no graph, written the way a
  course writes it (CS231n's lstm_step_forward / lstm_step_backward, d2l's GRU):
  per step x_t W_x + h W_h, and per step the weight gradients accumulated
  (dW_x += x_t^T da_t, dW_h += h_{t-1}^T da_t). The floor a NumPy engine
  competes with;
* torch: torch.nn.LSTM / GRU on the CPU, when torch is importable.

Every implementation gets the same weights, input and upstream gradient dL/d out
and computes every weight gradient and dL/dx. The three are interleaved in one
loop (warm-up first), repeated, and the median is printed, with ratios.

Threads: --threads N (default 1) sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and
MKL_NUM_THREADS before NumPy is imported, and torch.set_num_threads(N).

The NumPy contenders are bound by OpenBLAS's GEMM speed, torch's by oneDNN's
(its fused CPU LSTM/GRU). The header prints OPENBLAS_CORETYPE: an environment
that pins it to an older core (e.g. Haswell, AVX2) on an AVX-512 machine halves
NumPy's GEMM throughput while oneDNN still uses AVX-512, which shows in the
ours/torch column but not in ours/numpy.

Memory allocator: without torch in the process, glibc hands the fused ops'
multi-MB buffers back to the OS and faults them in again, so "ours" turns
bimodal (middle LSTM: median 1.3x the floor, minimum 0.95x). Importing torch,
or MALLOC_MMAP_THRESHOLD_=67108864 MALLOC_TRIM_THRESHOLD_=134217728, keeps them
and gives 0.93x. Compare the minima (in brackets) when in doubt.
"""

import argparse
import os
import sys
import time

SIZES = [(20, 8, 16, 32), (50, 32, 64, 128), (100, 64, 128, 256)]  # (T, B, I, H)


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS / OpenMP / torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=9, help="timed repeats per size (median is shown)")
    parser.add_argument("--sizes", type=int, nargs="*", default=[0, 1, 2], help="which of the three sizes")
    return parser.parse_args()


ARGS = _parse()
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import rnn  # noqa: E402
import tensorgrad as tg  # noqa: E402

try:
    import torch
    torch.set_num_threads(ARGS.threads)
except ImportError:
    torch = None


# ------------------------------------------------- the hand-written floor


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def numpy_lstm_step(x, h0, c0, Wx, Wh, b, dout):
    """CS231n-style LSTM, gates i,f,g,o. x (T, B, I); Wx (I, 4H), Wh (H, 4H). Returns the gradients."""
    T, _, _ = x.shape
    H = h0.shape[1]
    h, c, caches = h0, c0, []
    for t in range(T):
        a = x[t] @ Wx + h @ Wh + b
        i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 3 * H:])
        g = np.tanh(a[:, 2 * H:3 * H])
        c_next = f * c + i * g
        tanh_c = np.tanh(c_next)
        caches.append((h, c, i, f, g, o, tanh_c))
        h, c = o * tanh_c, c_next
    dx, dWx, dWh, db = np.empty_like(x), np.zeros_like(Wx), np.zeros_like(Wh), np.zeros_like(b)
    dh, dc = np.zeros_like(h0), np.zeros_like(c0)
    for t in reversed(range(T)):
        h_prev, c_prev, i, f, g, o, tanh_c = caches[t]
        dh = dh + dout[t]
        do = dh * tanh_c
        dc = dc + dh * o * (1 - tanh_c ** 2)
        da = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g ** 2),
                             do * o * (1 - o)], axis=1)
        dc = dc * f
        dx[t] = da @ Wx.T
        dWx += x[t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh = da @ Wh.T
    return dx, dWx, dWh, db, dh, dc


def numpy_gru_step(x, h0, Wx, Wh, bx, bh, dout):
    """d2l-style GRU with PyTorch's reset-after candidate, gates r,z,n. Returns the gradients."""
    T = x.shape[0]
    H = h0.shape[1]
    h, caches = h0, []
    for t in range(T):
        ax = x[t] @ Wx + bx
        ah = h @ Wh + bh
        r = _sigmoid(ax[:, :H] + ah[:, :H])
        z = _sigmoid(ax[:, H:2 * H] + ah[:, H:2 * H])
        hn = ah[:, 2 * H:]
        n = np.tanh(ax[:, 2 * H:] + r * hn)
        caches.append((h, r, z, n, hn))
        h = (1 - z) * n + z * h
    dx, dWx, dWh = np.empty_like(x), np.zeros_like(Wx), np.zeros_like(Wh)
    dbx, dbh, dh = np.zeros_like(bx), np.zeros_like(bh), np.zeros_like(h0)
    for t in reversed(range(T)):
        h_prev, r, z, n, hn = caches[t]
        dh = dh + dout[t]
        dn = dh * (1 - z) * (1 - n ** 2)
        dz = dh * (h_prev - n) * z * (1 - z)
        dr = dn * hn * r * (1 - r)
        dax = np.concatenate([dr, dz, dn], axis=1)
        dah = np.concatenate([dr, dz, dn * r], axis=1)
        dx[t] = dax @ Wx.T
        dWx += x[t].T @ dax
        dWh += h_prev.T @ dah
        dbx += dax.sum(axis=0)
        dbh += dah.sum(axis=0)
        dh = dh * z + dah @ Wh.T
    return dx, dWx, dWh, dbx, dbh, dh


# ----------------------------------------------------------- the contenders


def make_contenders(kind, T, B, I, H):
    """{name: zero-argument function running one training step}, all on the same data."""
    tg.manual_seed(0)
    ours = getattr(rnn, kind)(I, H)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    dout = rng.standard_normal((T, B, H)).astype(np.float32)
    sd = ours.state_dict()
    w_ih, w_hh, b_ih, b_hh = sd["weight_ih_l0"], sd["weight_hh_l0"], sd["bias_ih_l0"], sd["bias_hh_l0"]
    h0 = np.zeros((B, H), np.float32)

    x_ours = tg.tensor(x, requires_grad=True)
    dout_ours = tg.tensor(dout)

    def step_ours():
        ours.zero_grad()
        x_ours.grad = None
        out, _ = ours(x_ours)
        out.backward(dout_ours)

    Wx, Wh = np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T)
    if kind == "LSTM":
        def step_numpy():
            numpy_lstm_step(x, h0, h0, Wx, Wh, b_ih + b_hh, dout)
    else:
        def step_numpy():
            numpy_gru_step(x, h0, Wx, Wh, b_ih, b_hh, dout)

    contenders = {"ours": step_ours, "numpy": step_numpy}
    if torch is not None:
        theirs = getattr(torch.nn, kind)(I, H)
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
        x_t, dout_t = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

        def step_torch():
            theirs.zero_grad()
            x_t.grad = None
            out, _ = theirs(x_t)
            out.backward(dout_t)
        contenders["torch"] = step_torch
    return contenders


def time_interleaved(contenders, repeats):
    """{name: (median, min) seconds per call}, timed round-robin after one warm-up round each."""
    times = {name: [] for name in contenders}
    for fn in contenders.values():
        fn()
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: (float(np.median(ts)), min(ts)) for name, ts in times.items()}


def _ratio(ms, a, b, k):
    return f"{ms[a][k] / ms[b][k]:5.2f}" if b in ms else f"{'-':>5}"


def main():
    print(f"threads: {ARGS.threads} (OMP/OPENBLAS/MKL_NUM_THREADS"
          + (", torch.set_num_threads)" if torch is not None else "); torch not installed")
          + f"; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE') or '(auto)'}")
    print("median ms per training step; ratios of medians, and of minima in brackets")
    header = f"{'model':5} {'T':>4} {'B':>3} {'I':>4} {'H':>4} | {'ours':>8} {'numpy':>8} {'torch':>8} | " \
             f"{'ours/numpy':>13} | {'ours/torch':>13}"
    print(header)
    print("-" * len(header))
    for kind in ("LSTM", "GRU"):
        for k in ARGS.sizes:
            T, B, I, H = SIZES[k]
            repeats = max(3, ARGS.repeats * (3 if k == 0 else 1))
            timed = time_interleaved(make_contenders(kind, T, B, I, H), repeats)
            ms = {n: (1e3 * med, 1e3 * low) for n, (med, low) in timed.items()}
            torch_ms = f"{ms['torch'][0]:8.2f}" if "torch" in ms else f"{'-':>8}"
            print(f"{kind:5} {T:4d} {B:3d} {I:4d} {H:4d} | {ms['ours'][0]:8.2f} {ms['numpy'][0]:8.2f} "
                  f"{torch_ms} | {_ratio(ms, 'ours', 'numpy', 0)} ({_ratio(ms, 'ours', 'numpy', 1)}) | "
                  f"{_ratio(ms, 'ours', 'torch', 0)} ({_ratio(ms, 'ours', 'torch', 1)})", flush=True)


if __name__ == "__main__":
    main()
