"""Time one RNN / LSTM / GRU training step (forward + backward over T steps, float32) against torch.

    python benchmarks/rnn_training_step.py [--threads 1] [--rounds 9] [--kinds LSTM GRU RNN]
                                           [--sizes S M L XL] [--shapes 1x1 2x1 1x2]

* ours:  rnn.RNN / rnn.LSTM / rnn.GRU (one fused op of rnn.kernels per layer-direction);
* numpy: a hand-written NumPy forward/backward BPTT, no graph, written the way a
  course writes it (CS231n's lstm_step_forward / lstm_step_backward, d2l's GRU):
  the floor a NumPy engine competes with (LSTM and GRU, one layer, one direction);
* torch: torch.nn.RNN / LSTM / GRU on the CPU, when torch is importable (the
  column is skipped without it).

Every implementation gets the same weights, input and upstream gradient dL/d out
and computes every weight gradient and dL/dx. The contenders are interleaved
round-robin (one warm-up round first); a ratio is the median over rounds of the
per-round ratio ours/theirs, so a burst of load on a shared machine hits both
sides of a ratio alike. ``faults`` is the median number of minor page faults
(``ru_minflt``) that one of our steps takes after the warm-up: it should be 0.
Further tables (LSTM and GRU, one layer) time the matrix products of our step
alone ("gemms"): the floor NumPy's BLAS sets, against which our step and
torch's are compared.

Shapes: "1x1" one layer, one direction; "2x1" two layers; "1x2" bidirectional.
Sizes (T, B, I, H): S 20,8,16,32  M 50,32,64,128  L 100,64,128,256  XL 100,128,256,512.

Threads: --threads N (default 1) sets OMP_NUM_THREADS, OPENBLAS_NUM_THREADS and
MKL_NUM_THREADS before NumPy is imported, and torch.set_num_threads(N). The
NumPy contenders are bound by OpenBLAS's GEMM speed, torch's by oneDNN's (its
fused CPU LSTM/GRU). The header prints OPENBLAS_CORETYPE: an environment that
pins it to an older core on an AVX-512 machine slows NumPy's GEMMs but not oneDNN's.
"""

import argparse
import os
import resource
import sys
import time

SIZES = {"S": (20, 8, 16, 32), "M": (50, 32, 64, 128), "L": (100, 64, 128, 256), "XL": (100, 128, 256, 512)}
SHAPES = {"1x1": (1, False), "2x1": (2, False), "1x2": (1, True)}  # (num_layers, bidirectional)


def _parse():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS / OpenMP / torch threads (default 1)")
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds per case (median is shown)")
    parser.add_argument("--kinds", nargs="*", default=["LSTM", "GRU", "RNN"], choices=["LSTM", "GRU", "RNN"])
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    return parser.parse_args()


ARGS = _parse() if __name__ == "__main__" else None
if ARGS is not None:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import rnn  # noqa: E402
import tensorgrad as tg  # noqa: E402

try:
    import torch
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


def make_contenders(kind, T, B, I, H, num_layers=1, bidirectional=False):
    """{name: zero-argument function running one training step}, all on the same data."""
    tg.manual_seed(0)
    ours = getattr(rnn, kind)(I, H, num_layers=num_layers, bidirectional=bidirectional)
    D = 2 if bidirectional else 1
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    dout = rng.standard_normal((T, B, D * H)).astype(np.float32)
    sd = ours.state_dict()
    x_ours = tg.tensor(x, requires_grad=True)
    dout_ours = tg.tensor(dout)

    def step_ours():
        ours.zero_grad()
        x_ours.grad = None
        out, _ = ours(x_ours)
        out.backward(dout_ours)

    contenders = {"ours": step_ours}
    if num_layers == 1 and not bidirectional and kind != "RNN":
        w_ih, w_hh, b_ih, b_hh = sd["weight_ih_l0"], sd["weight_hh_l0"], sd["bias_ih_l0"], sd["bias_hh_l0"]
        h0 = np.zeros((B, H), np.float32)
        Wx, Wh = np.ascontiguousarray(w_ih.T), np.ascontiguousarray(w_hh.T)
        if kind == "LSTM":
            contenders["numpy"] = lambda: numpy_lstm_step(x, h0, h0, Wx, Wh, b_ih + b_hh, dout)
        else:
            contenders["numpy"] = lambda: numpy_gru_step(x, h0, Wx, Wh, b_ih, b_hh, dout)
    if torch is not None:
        theirs = getattr(torch.nn, kind)(I, H, num_layers=num_layers, bidirectional=bidirectional)
        theirs.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
        x_t, dout_t = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

        def step_torch():
            theirs.zero_grad()
            x_t.grad = None
            out, _ = theirs(x_t)
            out.backward(dout_t)
        contenders["torch"] = step_torch
    return contenders


def lstm_gemms(T, B, I, H):
    """A zero-argument function running only the matrix products of one rnn.LSTM training step.

    The same GEMMs, shapes and layouts as rnn.kernels.LSTMSequence (float32): per
    step [W_ih, b, W_hh] [x_t; 1; h_{t-1}] forward and its transpose times da
    backward, then dW = dA [x; 1; h]^T over all steps. Its time is the floor
    that NumPy's BLAS sets for our LSTM: everything else in the op (gate
    nonlinearities, layout copies, Python) is what the op adds on top.
    """
    rng = np.random.default_rng(0)
    K, G = I + 1 + H, 4 * H
    w_all = rng.standard_normal((G, K)).astype(np.float32)
    w_back = np.ascontiguousarray(w_all.T)
    xh = rng.standard_normal((T, K, B)).astype(np.float32)
    gates = np.empty((T, G, B), np.float32)
    d_xh = np.empty((T, K, B), np.float32)
    d_all_t = rng.standard_normal((G, T * B)).astype(np.float32)
    xh_t = rng.standard_normal((K, T * B)).astype(np.float32)

    def step():
        for t in range(T):
            np.matmul(w_all, xh[t], out=gates[t])
        for t in range(T - 1, -1, -1):
            np.matmul(w_back, gates[t], out=d_xh[t])
        return d_all_t @ xh_t.T
    return step


def gru_gemms(T, B, I, H):
    """A zero-argument function running only the matrix products of one rnn.GRU training step.

    The same GEMMs, shapes and layouts as rnn.kernels.GRUSequence (reset after,
    float32): the input side of every step (3H, I) (I, T*B); per step W_hh h
    forward and its transpose times the recurrent gradients backward; then
    dW_hh, dW_ih and dX, one GEMM each over all steps.
    """
    rng = np.random.default_rng(0)
    G = 3 * H
    w_ih = rng.standard_normal((G, I)).astype(np.float32)
    w_hh = rng.standard_normal((G, H)).astype(np.float32)
    w_hh_t = np.ascontiguousarray(w_hh.T)
    x = rng.standard_normal((T * B, I)).astype(np.float32)
    hs = rng.standard_normal((T, H, B)).astype(np.float32)
    d_rec = rng.standard_normal((T, G, B)).astype(np.float32)
    d_all = rng.standard_normal((4 * H, T * B)).astype(np.float32)  # [dhn, da_r, da_z, da_n] of all steps
    h_rows = rng.standard_normal((T * B, H)).astype(np.float32)

    def step():
        w_ih @ x.T
        for t in range(T):
            w_hh @ hs[t]
        for t in range(T - 1, -1, -1):
            w_hh_t @ d_rec[t]
        return d_all[:G] @ h_rows, d_all[H:] @ x, d_all[H:].T @ w_ih
    return step


GEMMS = {"LSTM": lstm_gemms, "GRU": gru_gemms}


def breakdown(kind):
    """For ``kind`` 1x1 at each size: our step, its GEMMs alone, torch's step (the floor, what is on top)."""
    print(f"\n{kind} 1x1, where our time goes: 'gemms' runs only the matrix products of our step "
          "(same shapes, same BLAS)")
    print_header(f"{'size':4} | {'ours':>8} {'gemms':>8} {'torch':>8} | "
                 f"{'gemms/ours':>10} {'ours/gemms':>10} {'torch/gemms':>11}")
    for size in ARGS.sizes:
        T, B, I, H = SIZES[size]
        contenders = make_contenders(kind, T, B, I, H)
        contenders.pop("numpy", None)
        contenders["gemms"] = GEMMS[kind](T, B, I, H)
        times, _ = time_round_robin(contenders, ARGS.rounds * (3 if size == "S" else 1))
        ms = median_ms(times, ("ours", "gemms", "torch"))
        print(f"{size:4} | {ms['ours']} {ms['gemms']} {ms['torch']} | "
              f"{paired_ratio(times, 'gemms', 'ours'):>10} {paired_ratio(times, 'ours', 'gemms'):>10} "
              f"{paired_ratio(times, 'torch', 'gemms'):>11}", flush=True)


def time_round_robin(contenders, rounds, warmup=1):
    """({name: [seconds per round]}, [minor page faults of "ours" per round]), contenders interleaved."""
    for _ in range(warmup):
        for fn in contenders.values():
            fn()
    times, faults = {name: [] for name in contenders}, []
    for _ in range(rounds):
        for name, fn in contenders.items():
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            if name == "ours":
                faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return times, faults


def print_header(header):
    print(header)
    print("-" * len(header))


def median_ms(times, names):
    """{name: median ms per round, formatted}, '-' for a contender that did not run."""
    return {n: f"{1e3 * np.median(times[n]):8.2f}" if n in times else f"{'-':>8}" for n in names}


def paired_ratio(times, a, b):
    """Median over rounds of times[a] / times[b], formatted; '-' when either did not run."""
    if a not in times or b not in times:
        return f"{'-':>5}"
    return f"{np.median(np.divide(times[a], times[b])):5.2f}"


def main():
    if torch is not None:
        torch.set_num_threads(ARGS.threads)
    print(f"threads: {ARGS.threads} (OMP/OPENBLAS/MKL_NUM_THREADS"
          + (", torch.set_num_threads)" if torch is not None else "); torch not installed: no torch column")
          + f"; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE') or '(auto)'}")
    print("median ms per training step; ratios: median of per-round paired ratios; "
          "faults: minor page faults per step of ours")
    print_header(f"{'model':5} {'shape':5} {'size':4} | {'ours':>8} {'numpy':>8} {'torch':>8} | "
                 f"{'ours/numpy':>10} {'ours/torch':>10} | {'faults':>6}")
    for kind in ARGS.kinds:
        for shape in ARGS.shapes:
            layers, bidirectional = SHAPES[shape]
            for size in ARGS.sizes:
                T, B, I, H = SIZES[size]
                rounds = ARGS.rounds * (3 if size == "S" else 1)
                times, faults = time_round_robin(make_contenders(kind, T, B, I, H, layers, bidirectional),
                                                 rounds)
                ms = median_ms(times, ("ours", "numpy", "torch"))
                print(f"{kind:5} {shape:5} {size:4} | {ms['ours']} {ms['numpy']} "
                      f"{ms['torch']} | {paired_ratio(times, 'ours', 'numpy'):>10} "
                      f"{paired_ratio(times, 'ours', 'torch'):>10} | {int(np.median(faults)):6d}", flush=True)
    for kind in ARGS.kinds:
        if kind in GEMMS and "1x1" in ARGS.shapes:
            breakdown(kind)


if __name__ == "__main__":
    main()
