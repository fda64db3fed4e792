"""minGRU (Feng et al., 2024, "Were RNNs All We Needed?"): a GRU whose gates see only x_t.

Drop h_{t-1} from the GRU's gates and its candidate, and the recurrence becomes
linear in h, so a whole sequence is one linear recurrence (``rnn.scan``) that
trains in O(log T) parallel rounds instead of T dependent steps:

    z_t  = sigmoid(k_t),          k_t = W_z x_t + b_z
    h~_t = g(c_t),                c_t = W_h x_t + b_h
    h_t  = (1 - z_t) * h_{t-1} + z_t * h~_t          = a_t * h_{t-1} + b_t

with a_t = 1 - z_t = sigmoid(-k_t) (computed so, not as 1 - z_t, to keep its
precision when z_t is near 1) and b_t = z_t * h~_t.

What we implement of the paper. Its log-space version needs h~_t > 0, so it
replaces the identity on h~ by g(x) = x + 0.5 for x >= 0, sigmoid(x) for x < 0
(continuous, positive, growing linearly), and its sequential code uses the same
g, so both give the same model. We apply g in EVERY mode, so "sequential",
"parallel" and "log" are one model computed three ways (equal values and
gradients up to rounding; the tests hold them equal in float64):

- "sequential": the linear recurrence as a loop over t (one fused op);
- "parallel": the same recurrence by a Hillis-Steele scan (one fused op);
- "log": log h_t by the log-space scan, from log a_t = -softplus(k_t),
  log b_t = -softplus(-k_t) + log g(c_t), log g(x) = log(x + 0.5) or
  -softplus(-x); h_t = exp(log h_t). This is the paper's numerically safe
  training mode; it needs a positive h0 (zeros are allowed by passing none).

Layers stack as in torch.nn.GRU (layer l reads layer l-1's output); the paper's
models add residual connections, normalisation and an MLP around each layer,
which are left to the model that uses this module.

Shapes: T time steps, B batch, I input features, H hidden units, L = num_layers.
"""

import math

import numpy

import tensorgrad as tg
from tensorgrad import functional as F
from tensorgrad.nn import Module, Parameter
from tensorgrad.random import uniform

from .cells import check_input, check_size, check_state
from .layers import check_lengths, layer_repr, time_major_input
from .scan import linear_recurrence, log_linear_recurrence

MODES = ("parallel", "sequential", "log")


def g(x):
    """The paper's positive candidate activation: x + 0.5 for x >= 0, sigmoid(x) below. Any shape."""
    return tg.where(x >= 0, x + 0.5, x.sigmoid())


def log_g(x):
    """log g(x) without forming g: log(x + 0.5) for x >= 0, -softplus(-x) = log sigmoid(x) below."""
    # relu keeps the unused branch finite where x < 0 (where does not stop a NaN's gradient)
    return tg.where(x >= 0, (x.relu() + 0.5).log(), -_softplus(-x))


def _softplus(x):
    """log(1 + e^x), exact everywhere (no linear cut-off), so log-mode equals the linear modes."""
    return F.softplus(x, threshold=math.inf)


def swap_time_batch(x):
    """(T, B, ...) <-> (B, T, ...): the batch_first layout."""
    return x.transpose(0, 1)


class MinGRU(Module):
    """A stack of minGRU layers, called like torch.nn.GRU.

    out, h_n = mingru(x, h0=None, lengths=None)
    x (T, B, I) ((B, T, I) with batch_first, (T, I) unbatched); h0 (L, B, H) ((L, H)
    unbatched), zeros when None; in mode "log" h0 must be positive (the states a
    minGRU produces from a zero or positive start always are).
    lengths: one int per batch element; steps past a sequence's length leave its
    state unchanged (a_t = 1, b_t = 0), their outputs are zero, and h_n is each
    sequence's state at its own last step (packed-sequence semantics).
    out (T, B, H): the last layer's h_t; h_n (L, B, H): every layer's last state.

    Parameters, per layer k: weight_ih_l{k} (2H, in) and bias_ih_l{k} (2H,), the
    rows of the update gate z first, then those of the candidate h~ (there is no
    hidden-to-hidden weight: that is the point). Init U(-1/sqrt(H), 1/sqrt(H))
    as torch's recurrent layers.
    mode: "parallel" (default), "sequential" or "log"; all give the same numbers.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 mode="parallel", dtype=numpy.float32, device=None):
        self.input_size = check_size("MinGRU", "input_size", input_size)
        self.hidden_size = check_size("MinGRU", "hidden_size", hidden_size)
        self.num_layers = check_size("MinGRU", "num_layers", num_layers)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.mode = self._check_mode(mode)
        k = 1 / math.sqrt(hidden_size)
        for layer in range(self.num_layers):
            n_in = self.input_size if layer == 0 else self.hidden_size
            setattr(self, f"weight_ih_l{layer}",
                    Parameter(uniform(-k, k, (2 * hidden_size, n_in), dtype, device), device=device))
            if self.bias:
                setattr(self, f"bias_ih_l{layer}",
                        Parameter(uniform(-k, k, (2 * hidden_size,), dtype, device), device=device))

    @property
    def dtype(self):
        """The weights' dtype (read from them, so .double() / .to(dtype) keep it true)."""
        return self.weight_ih_l0.dtype

    @staticmethod
    def _check_mode(mode):
        if mode not in MODES:
            raise ValueError(f"MinGRU: mode must be one of {MODES}, got {mode!r}")
        return mode

    def _gates(self, layer, x):
        """(k, c): the pre-activations of z and of h~, each (..., H), from x (..., in)."""
        weight = getattr(self, f"weight_ih_l{layer}")
        bias = getattr(self, f"bias_ih_l{layer}") if self.bias else None
        pre = F.linear(x, weight, bias)
        H = self.hidden_size
        return pre[..., :H], pre[..., H:]

    def _layer(self, layer, x, h0, mask):
        """One layer over a sequence: x (T, B, in), h0 (B, H) or None, mask (T, B, 1) or None -> (T, B, H)."""
        k, c = self._gates(layer, x)
        if self.mode == "log":
            log_a = -_softplus(k)                # log(1 - z)
            log_b = -_softplus(-k) + log_g(c)    # log z + log h~
            if mask is not None:
                log_a = tg.where(mask, log_a, 0.0)
                log_b = tg.where(mask, log_b, -math.inf)
            log_h0 = None if h0 is None else h0.log()
            return log_linear_recurrence(log_a, log_b, log_h0, mode="parallel").exp()
        a = (-k).sigmoid()                       # 1 - z
        b = k.sigmoid() * g(c)                   # z * h~
        if mask is not None:
            a, b = tg.where(mask, a, 1.0), tg.where(mask, b, 0.0)
        return linear_recurrence(a, b, h0, mode=self.mode)

    def forward(self, x, h0=None, lengths=None):
        x, batched = time_major_input(self, "MinGRU", x, lengths)
        T, B, _ = x.shape
        h0 = self._initial_state(h0, batched, B, x)
        lengths = check_lengths("MinGRU", lengths, T, B)
        mask = None
        if lengths is not None:
            steps = numpy.arange(T)[:, None, None] < lengths[None, :, None]  # (T, B, 1)
            mask = tg.tensor(steps, device=x.device)
        finals, out = [], x
        for layer in range(self.num_layers):
            h = self._layer(layer, out, None if h0 is None else h0[layer], mask)
            finals.append(h[T - 1])  # with a mask, the state stays frozen after each sequence's end
            out = h if mask is None else tg.where(mask, h, 0.0)
        h_n = tg.stack(finals, axis=0)
        if not batched:
            return out.reshape(T, self.hidden_size), h_n.reshape(self.num_layers, self.hidden_size)
        return (swap_time_batch(out) if self.batch_first else out), h_n

    def _initial_state(self, h0, batched, B, x):
        """h0 as (L, B, H) after checks, or None for zeros."""
        if h0 is None:
            return None
        L, H = self.num_layers, self.hidden_size
        h0 = check_state("MinGRU", "h0", h0, (L, B, H) if batched else (L, H), x)
        if self.mode == "log" and not bool((h0.array > 0).all()):
            raise ValueError("MinGRU: mode 'log' works with log h, so h0 must be positive everywhere; "
                             "pass h0=None for a zero start, a state this module produced (always "
                             "positive), or use mode='parallel'")
        return h0 if batched else h0.reshape(L, 1, H)

    def step(self, x_t, h=None):
        """One time step, for generating a token at a time: the sequence's computation at one t.

        x_t (B, I) ((I,) unbatched); h (L, B, H) ((L, H)), zeros when None.
        Returns (out_t (B, H), h (L, B, H)): the last layer's new state, and every layer's.
        Feeding x_0, x_1, ... through step gives forward's out[t] and h_n.
        """
        check_input("MinGRU.step", x_t, self.input_size, self.dtype, (1, 2))
        batched = x_t.ndim == 2
        B = x_t.shape[0] if batched else 1
        L, H = self.num_layers, self.hidden_size
        if h is not None:
            h = check_state("MinGRU.step", "h", h, (L, B, H) if batched else (L, H), x_t)
            h = h if batched else h.reshape(L, 1, H)
        inp = x_t if batched else x_t.reshape(1, self.input_size)
        states = []
        for layer in range(L):
            k, c = self._gates(layer, inp)
            new = k.sigmoid() * g(c)
            if h is not None:
                new = (-k).sigmoid() * h[layer] + new
            states.append(new)
            inp = new
        h_new = tg.stack(states, axis=0)
        if not batched:
            return inp.reshape(H), h_new.reshape(L, H)
        return inp, h_new

    def extra_repr(self):
        return layer_repr(self) + f", mode={self.mode!r}"
