"""A two-minute tour of tensorgrad: gradcheck an op, then fit a tiny RNN by BPTT.

Run: python -m tensorgrad.demo
"""

import time

import numpy as np

import tensorgrad as tg
from tensorgrad import nn, optim


class ElmanRNN(nn.Module):
    """h_t = tanh(x_t W_xh^T + h_{t-1} W_hh^T + b);  y_t = h_t W_hy^T + c."""

    def __init__(self, hidden=16):
        self.step = nn.Linear(1 + hidden, hidden)
        self.readout = nn.Linear(hidden, 1)
        self.hidden = hidden

    def forward(self, xs):
        """xs (T, B, 1) -> predictions (T, B, 1), unrolled over T steps."""
        h = tg.zeros(xs.shape[1], self.hidden)
        outputs = []
        for t in range(xs.shape[0]):
            h = self.step(tg.cat([xs[t], h], dim=1)).tanh()
            outputs.append(self.readout(h))
        return tg.stack(outputs)


def main():
    print("1. gradcheck: d/dx of sum(tanh(x @ W)) against finite differences")
    rng = np.random.default_rng(0)
    x = tg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    W = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    print("   gradcheck passed:", tg.gradcheck(lambda x, W: (x @ W).tanh(), [x, W]))

    print("2. an RNN learns to predict the next value of noisy sine waves (BPTT over 30 steps)")
    tg.manual_seed(0)
    model = ElmanRNN()
    opt = optim.Adam(model.parameters(), lr=0.01)
    T, B = 30, 16
    start = time.perf_counter()
    for step in range(1, 201):
        phase = rng.uniform(0, 2 * np.pi, (1, B, 1))
        wave = np.sin(np.arange(T + 1)[:, None, None] * 0.3 + phase)
        wave = (wave + 0.02 * rng.standard_normal(wave.shape)).astype(np.float32)
        pred = model(tg.tensor(wave[:-1]))
        loss = tg.functional.mse_loss(pred, tg.tensor(wave[1:]))
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm(model.parameters(), 1.0)
        opt.step()
        if step == 1 or step % 50 == 0:
            print(f"   step {step:3d}  mse {loss.item():.4f}")
    print(f"   done in {time.perf_counter() - start:.1f}s (predicting 0 everywhere gives mse ~0.50)")


if __name__ == "__main__":
    main()
