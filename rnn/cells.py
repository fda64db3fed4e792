"""Recurrent cells: one step (x_t, h_{t-1}) -> h_t of the Elman RNN, the LSTM and the GRU.

Each cell is written twice, on purpose:

* a *reference* function composed from tensorgrad ops (``rnn_cell``,
  ``lstm_cell``, ``gru_cell``, below): the equations as a student writes them,
  with the backward derived by autodiff;
* a *fused* op (``RNNSequence``, ``LSTMSequence``, ``GRUSequence``, in
  ``rnn.kernels``): one ``tensorgrad.Function`` that runs the cell over a whole
  sequence and has a hand-written backward over whole gate blocks. The layers in
  ``rnn.layers`` use it, and so do the cell modules below (as a sequence of one step).

tests/test_rnn_cells.py holds the two equal in float64, values and gradients.

Shapes: T time steps, B batch, I input features, H hidden units. Weights are
laid out as in PyTorch: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih and
bias_hh (G*H,), with G gate blocks stacked in PyTorch's order (LSTM i,f,g,o;
GRU r,z,n).
"""

import math
import numbers

import numpy

import tensorgrad as tg
from tensorgrad.nn import Module, Parameter
from tensorgrad.random import uniform

from .kernels import GRUSequence, LSTMSequence, RNNSequence

# ============================================================ reference cells


def _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """x W_ih^T + b_ih + h W_hh^T + b_hh: every gate's pre-activation, (B, G*H)."""
    gates = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        gates = gates + bias_ih
    if bias_hh is not None:
        gates = gates + bias_hh
    return gates


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """Elman RNN step, reference version:  x (B, I), h (B, H) -> h' (B, H).

        h' = act(W_ih x + b_ih + W_hh h + b_hh),   act = tanh or relu
    """
    pre = _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    return pre.tanh() if nonlinearity == "tanh" else pre.relu()


def lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """LSTM step, reference version:  x (B, I), h (B, H), c (B, H) -> (h', c').

        i = sigmoid(W_ii x + b_ii + W_hi h + b_hi)     input gate
        f = sigmoid(W_if x + b_if + W_hf h + b_hf)     forget gate
        g = tanh(W_ig x + b_ig + W_hg h + b_hg)        candidate cell
        o = sigmoid(W_io x + b_io + W_ho h + b_ho)     output gate
        c' = f * c + i * g
        h' = o * tanh(c')
    """
    H = h.shape[-1]
    gates = _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    i = gates[:, 0 * H:1 * H].sigmoid()
    f = gates[:, 1 * H:2 * H].sigmoid()
    g = gates[:, 2 * H:3 * H].tanh()
    o = gates[:, 3 * H:4 * H].sigmoid()
    c_next = f * c + i * g
    h_next = o * c_next.tanh()
    return h_next, c_next


def gru_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, reset_after=True):
    """GRU step, reference version:  x (B, I), h (B, H) -> h' (B, H).

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)     reset gate
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)     update gate
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))  candidate   (reset_after=True, PyTorch)
        n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)  candidate   (reset_after=False, Cho et al.)
        h' = (1 - z) * n + z * h
    """
    H = h.shape[-1]
    xw = x @ weight_ih.T  # [W_ir x, W_iz x, W_in x] side by side
    hw = h @ weight_hh.T  # [W_hr h, W_hz h, W_hn h]
    if bias_ih is not None:
        xw = xw + bias_ih
    if bias_hh is not None:
        hw = hw + bias_hh
    r = (xw[:, 0:H] + hw[:, 0:H]).sigmoid()
    z = (xw[:, H:2 * H] + hw[:, H:2 * H]).sigmoid()
    if reset_after:
        n = (xw[:, 2 * H:3 * H] + r * hw[:, 2 * H:3 * H]).tanh()
    else:  # W_hn h is not used: W_hn multiplies r * h instead
        hn = (r * h) @ weight_hh[2 * H:3 * H].T
        if bias_hh is not None:
            hn = hn + bias_hh[2 * H:3 * H]
        n = (xw[:, 2 * H:3 * H] + hn).tanh()
    return (1 - z) * n + z * h

# ================================================================== modules


def check_size(owner, name, value):
    """``value`` as an int, or a ValueError naming ``owner`` and ``name`` when it is not a positive int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value!r}")
    return int(value)


def check_nonlinearity(owner, nonlinearity):
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


def init_weights(module, suffix, input_size, hidden_size, n_gates, bias, dtype, device):
    """Create weight_ih{suffix}, weight_hh{suffix}[, bias_ih{suffix}, bias_hh{suffix}] on ``module``.

    Shapes (n_gates*H, I), (n_gates*H, H), (n_gates*H,); every entry from
    U(-1/sqrt(H), 1/sqrt(H)) as in PyTorch, drawn from tensorgrad's seeded generator.
    """
    k = 1 / math.sqrt(hidden_size)
    G = n_gates * hidden_size
    shapes = [("weight_ih", (G, input_size)), ("weight_hh", (G, hidden_size))]
    if bias:
        shapes += [("bias_ih", (G,)), ("bias_hh", (G,))]
    for name, shape in shapes:
        setattr(module, name + suffix, Parameter(uniform(-k, k, shape, dtype, device), device=device))


def weights_of(module, suffix=""):
    """[weight_ih, weight_hh] (+ [bias_ih, bias_hh] when the module has biases)."""
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if module.bias else [])
    return [getattr(module, n + suffix) for n in names]


def check_input(owner, x, input_size, dtype, allowed_ndims):
    """Raise a clear error unless x is a Tensor of one of ``allowed_ndims`` ending in input_size."""
    if not isinstance(x, tg.Tensor):
        raise TypeError(f"{owner}: input must be a Tensor, got {type(x).__name__} (wrap it with tg.tensor)")
    if x.ndim not in allowed_ndims:
        raise ValueError(f"{owner}: input must have {' or '.join(map(str, allowed_ndims))} dimensions, "
                         f"got shape {x.shape}")
    if x.shape[-1] != input_size:
        raise ValueError(f"{owner}: input has {x.shape[-1]} features (shape {x.shape}) but the module "
                         f"was built with input_size={input_size}")
    if x.dtype != dtype:
        raise TypeError(f"{owner}: input is {x.dtype} but the weights are {numpy.dtype(dtype)}; convert the "
                        f"input (x.to({numpy.dtype(dtype).name})) or the module (module.to({x.dtype.name}), "
                        "e.g. .double() / .float(), or build it with dtype=...)")


def check_state(owner, name, h, shape, like):
    """``h`` as a Tensor of ``shape``, or zeros of that shape when ``h`` is None."""
    if h is None:
        return tg.zeros(*shape, dtype=like.dtype, device=like.device)
    if not isinstance(h, tg.Tensor):
        raise TypeError(f"{owner}: {name} must be a Tensor, got {type(h).__name__}")
    if h.shape != tuple(shape):
        raise ValueError(f"{owner}: {name} must have shape {tuple(shape)} for this input, got {h.shape}")
    if h.dtype != like.dtype:
        raise TypeError(f"{owner}: {name} is {h.dtype} but the input is {like.dtype}; they must match")
    return h


class _Cell(Module):
    """What the cells share: sizes, weights, the (B, I) / (I,) input handling, and the two paths.

    A cell names its fused op (``fused_op``), its reference function
    (``reference_step``), its states and the options both take; ``forward``
    runs the fused op for one step and ``reference`` the reference function.
    """

    n_gates = 1
    state_names = ("h",)

    def __init__(self, input_size, hidden_size, bias=True, dtype=numpy.float32, device=None):
        name = type(self).__name__
        self.input_size = check_size(name, "input_size", input_size)
        self.hidden_size = check_size(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        init_weights(self, "", self.input_size, self.hidden_size, self.n_gates, self.bias, dtype, device)

    @property
    def dtype(self):
        """The weights' dtype (read from them, so .double() / .to(dtype) keep it true, as in PyTorch)."""
        return self.weight_ih.dtype

    def options(self):
        return {}

    def forward(self, x, hx=None):
        return self._step(x, hx, fused=True)

    def reference(self, x, hx=None):
        """The same step computed by the reference function, from tensorgrad ops."""
        return self._step(x, hx, fused=False)

    def _step(self, x, hx, fused):
        x, states, batched = self._prepare(x, self._split_state(hx))
        if fused:  # a fused sequence op over one step; its outputs after the first are the final states
            new = self.fused_op.apply(x.reshape(1, *x.shape), *states, *weights_of(self),
                                      **self.options())[1:]
        else:
            new = self.reference_step(x, *states, *weights_of(self), **self.options())
        if not isinstance(new, tuple):  # rnn_cell and gru_cell return h alone
            new = (new,)
        new = [s if batched else s.reshape(self.hidden_size) for s in new]
        return new[0] if len(new) == 1 else tuple(new)

    def _split_state(self, hx):
        return [hx]

    def _prepare(self, x, states):
        """Batch the input and states: ((B, I) x, [(B, H) states], batched?)."""
        name = type(self).__name__
        check_input(name, x, self.input_size, self.dtype, (1, 2))
        batched = x.ndim == 2
        shape = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        states = [check_state(name, n, s, shape, x) for n, s in zip(self.state_names, states, strict=True)]
        if not batched:
            x = x.reshape(1, self.input_size)
            states = [s.reshape(1, self.hidden_size) for s in states]
        return x, states, batched

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


class RNNCell(_Cell):
    """Elman RNN cell:  h' = act(W_ih x + b_ih + W_hh h + b_hh),  act = tanh or relu.

    cell(x, h=None): x (B, I) or (I,), h (B, H) or (H,) (zeros when None) -> h'.
    Parameters weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,).
    ``cell.reference(x, h)`` computes the same with tensorgrad ops (``rnn_cell``).
    """

    fused_op = RNNSequence
    reference_step = staticmethod(rnn_cell)

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh",
                 dtype=numpy.float32, device=None):
        self.nonlinearity = check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype, device)

    def options(self):
        return {"nonlinearity": self.nonlinearity}

    def extra_repr(self):
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


class LSTMCell(_Cell):
    """LSTM cell (gates i,f,g,o as PyTorch; equations in ``lstm_cell``).

    cell(x, (h, c)=None): x (B, I) or (I,), h and c (B, H) or (H,) -> (h', c').
    Parameters weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,).
    ``cell.reference(x, hx)`` computes the same with tensorgrad ops.
    """

    n_gates = 4
    state_names = ("h", "c")
    fused_op = LSTMSequence
    reference_step = staticmethod(lstm_cell)

    def _split_state(self, hx):
        if hx is None:
            return [None, None]
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"LSTMCell: the state must be a tuple (h, c) of two tensors, got "
                            f"{type(hx).__name__}" + (f" of length {len(hx)}"
                                                      if isinstance(hx, (tuple, list)) else ""))
        return list(hx)


class GRUCell(_Cell):
    """GRU cell (gates r,z,n as PyTorch; equations in ``gru_cell``).

    cell(x, h=None): x (B, I) or (I,), h (B, H) or (H,) -> h'.
    Parameters weight_ih (3H, I), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,).
    reset_after=True is PyTorch's GRU (r scales W_hn h + b_hn); reset_after=False
    is Cho et al. (2014, v3) / d2l / Keras' reset_after=False (r scales h before W_hn).
    ``cell.reference(x, h)`` computes the same with tensorgrad ops.
    """

    n_gates = 3
    fused_op = GRUSequence
    reference_step = staticmethod(gru_cell)

    def __init__(self, input_size, hidden_size, bias=True, reset_after=True,
                 dtype=numpy.float32, device=None):
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, bias, dtype, device)

    def options(self):
        return {"reset_after": self.reset_after}

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")
