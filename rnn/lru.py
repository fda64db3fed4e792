"""The Linear Recurrent Unit (LRU; Orvieto et al., 2023, "Resurrecting RNNs for Long Sequences").

A diagonal, complex, linear recurrence with a stable parametrisation, read out
linearly; the nonlinearity lives outside it (in the model's MLP between layers):

    lambda = exp(-exp(nu_log) + i exp(theta_log))          (N,) complex, |lambda| < 1 always
    gamma  = exp(gamma_log)                                 (N,), init sqrt(1 - |lambda|^2)
    x_t    = lambda * x_{t-1} + gamma * (B u_t)             B = B_re + i B_im: (N, H)
    y_t    = Re(C x_t) + D * u_t                            C = C_re + i C_im: (H, N), D: (H,)

The recurrence is ``rnn.scan.complex_linear_recurrence`` (sequential or parallel);
everything is kept as real and imaginary parts, so no complex tensor is needed.
Init as the paper's: |lambda| uniform on the ring [r_min, r_max] (in area),
phase uniform in [0, max_phase], B ~ N(0, 1/(2H)) per part, C ~ N(0, 1/N) per
part, D ~ N(0, 1).

Shapes: T time steps, Bt batch, H features in and out, N complex states.
"""

import math

import numpy

import tensorgrad as tg
from tensorgrad.autograd import Function
from tensorgrad.nn import Module, Parameter
from tensorgrad.random import generator, uniform

from .cells import check_input, check_size, check_state
from .mingru import swap_time_batch
from .scan import MODES, complex_linear_recurrence


class Polar(Function, trusted=True):
    """(re, im) = (r cos phi, r sin phi);  dre = cos phi dr - im dphi,  dim = sin phi dr + re dphi."""

    n_outputs = 2

    def forward(self, r, phi):
        xp = tg.get_array_module(r, phi)
        self.cos, self.sin, self.r = xp.cos(phi), xp.sin(phi), r
        return r * self.cos, r * self.sin

    def backward(self, g_re, g_im):
        xp = tg.get_array_module(self.r)
        g_re = xp.zeros_like(self.r) if g_re is None else g_re
        g_im = xp.zeros_like(self.r) if g_im is None else g_im
        dr = g_re * self.cos + g_im * self.sin
        dphi = self.r * (g_im * self.cos - g_re * self.sin)
        return dr, dphi


class LRU(Module):
    """One LRU layer: (T, Bt, H) -> (T, Bt, H), through N complex states.

    out, h_n = lru(x, h0=None)
    x (T, Bt, H) ((Bt, T, H) with batch_first); h0 a pair (h0_re, h0_im) of (Bt, N), zeros when None.
    out (T, Bt, H) = Re(C x_t) + D u_t; h_n the pair (re, im) of the last states, each (Bt, N).
    Parameters nu_log, theta_log, gamma_log (N,), B_re, B_im (N, H), C_re, C_im (H, N), D (H,).
    mode: "parallel" (default) or "sequential": the same numbers.
    """

    def __init__(self, input_size, state_size, r_min=0.0, r_max=1.0, max_phase=2 * math.pi,
                 batch_first=False, mode="parallel", dtype=numpy.float32, device=None):
        H = self.input_size = check_size("LRU", "input_size", input_size)
        N = self.state_size = check_size("LRU", "state_size", state_size)
        if not 0 <= r_min < r_max <= 1:
            raise ValueError(f"LRU: need 0 <= r_min < r_max <= 1 (|lambda| must stay below 1), got "
                             f"r_min={r_min}, r_max={r_max}")
        if mode not in MODES:
            raise ValueError(f"LRU: mode must be one of {MODES}, got {mode!r}")
        self.batch_first, self.mode = bool(batch_first), mode
        # |lambda| = exp(-exp(nu_log)) uniform in area on the ring: |lambda|^2 ~ U(r_min^2, r_max^2)
        u1, u2 = (tg.backend.to_numpy(uniform(0, 1, (N,), numpy.float64, device)) for _ in range(2))
        u1 = numpy.maximum(u1, 1e-12)  # keeps nu_log finite when r_min = 0
        nu_log = numpy.log(-0.5 * numpy.log(u1 * (r_max ** 2 - r_min ** 2) + r_min ** 2))
        theta_log = numpy.log(max_phase * numpy.maximum(u2, 1e-12))
        modulus = numpy.exp(-numpy.exp(nu_log))
        gamma_log = numpy.log(numpy.sqrt(1 - modulus ** 2))
        for name, value in (("nu_log", nu_log), ("theta_log", theta_log), ("gamma_log", gamma_log)):
            setattr(self, name, Parameter(value.astype(dtype), device=device))
        rng = generator(device)
        b_std, c_std = 1 / math.sqrt(2 * H), 1 / math.sqrt(N)
        for name, shape, std in (("B_re", (N, H), b_std), ("B_im", (N, H), b_std),
                                 ("C_re", (H, N), c_std), ("C_im", (H, N), c_std), ("D", (H,), 1.0)):
            setattr(self, name, Parameter(rng.standard_normal(shape, dtype=numpy.dtype(dtype)) * std,
                                          device=device))

    @property
    def dtype(self):
        return self.D.dtype

    def eigenvalues(self):
        """(lambda_re, lambda_im), each (N,): the diagonal of the recurrence (differentiable)."""
        return Polar.apply((-self.nu_log.exp()).exp(), self.theta_log.exp())

    def forward(self, x, h0=None):
        check_input("LRU", x, self.input_size, self.dtype, (3,))
        u = swap_time_batch(x) if self.batch_first else x
        T, Bt, _ = u.shape
        N = self.state_size
        if h0 is not None:
            if not isinstance(h0, (tuple, list)) or len(h0) != 2:
                raise TypeError(f"LRU: h0 must be a pair (h0_re, h0_im) of (B, N) tensors, got "
                                f"{type(h0).__name__}")
            h0 = [check_state("LRU", name, h, (Bt, N), u)
                  for name, h in zip(("h0_re", "h0_im"), h0, strict=True)]
        lam_re, lam_im = self.eigenvalues()
        gamma = self.gamma_log.exp()
        zeros = tg.zeros(T, Bt, N, dtype=u.dtype, device=u.device)
        a_re, a_im = zeros + lam_re, zeros + lam_im  # the same diagonal at every step
        b_re = (u @ self.B_re.T) * gamma
        b_im = (u @ self.B_im.T) * gamma
        h_re, h_im = complex_linear_recurrence(a_re, a_im, b_re, b_im, h0, mode=self.mode)
        y = h_re @ self.C_re.T - h_im @ self.C_im.T + u * self.D  # Re(C h) + D u
        if self.batch_first:
            y = swap_time_batch(y)
        return y, (h_re[T - 1], h_im[T - 1])

    def extra_repr(self):
        first = ", batch_first=True" if self.batch_first else ""
        return f"{self.input_size}, {self.state_size}{first}, mode={self.mode!r}"
