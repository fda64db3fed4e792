"""Test inputs for gradchecks: float64 tensors whose values stay off kinks and out of bad domains."""

import numpy as np

import tensorgrad as tg
from tensorgrad import backend


def f64(array, device="cpu", requires_grad=True):
    """A float64 tensor on ``device`` (the dtype finite differences need)."""
    return tg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad, device=device)


def normal(shape, seed, device="cpu"):
    return f64(np.random.default_rng(seed).standard_normal(shape), device)


def positive(shape, seed, device="cpu"):
    """Values in [0.5, 2]: safe for log, division and fractional powers."""
    return f64(np.random.default_rng(seed).uniform(0.5, 2.0, shape), device)


def away_from_zero(shape, seed, device="cpu"):
    """Values with |x| in [0.3, 2]: relu and division are smooth there."""
    rng = np.random.default_rng(seed)
    return f64(rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape), device)


def distinct(shape, seed, device="cpu"):
    """Values at least 0.05 apart, so a max has no ties within finite-difference reach."""
    n = int(np.prod(shape))
    values = np.random.default_rng(seed).permutation(n) * 0.05 - 0.025 * n
    return f64(values.reshape(shape), device)


def host(array):
    """``array`` copied to the host explicitly (a GPU array refuses np.testing's implicit conversion)."""
    return backend.to_numpy(array)
