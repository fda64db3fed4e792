"""Recurrent layers RNN, LSTM and GRU: cells run over whole sequences, stacked and bidirectional.

They follow torch.nn.RNN / LSTM / GRU: the same constructor arguments, call
signature, output shapes, h_n layout, parameter names and init, so weights and
results carry over both ways. Every layer-direction is one fused op from
``rnn.kernels`` (a whole sequence, hand-written backward); the layer only wires
them: layer l reads layer l-1's output (both directions side by side), with
dropout between layers in training mode.

Shapes: T time steps, B batch, I input features, H hidden units,
L = num_layers, D = 2 if bidirectional else 1.
"""

import numbers

import numpy

import tensorgrad as tg
from tensorgrad.backend import to_numpy
from tensorgrad.nn import Module

from .cells import (
    check_input,
    check_nonlinearity,
    check_size,
    check_state,
    init_weights,
    weights_of,
)
from .kernels import GRUSequence, LSTMSequence, Recurrence, RNNSequence


def check_lengths(owner, lengths, T, B):
    """``lengths`` as a (B,) int64 NumPy array, or None when there are none (or all equal T).

    Raises a ValueError/TypeError that says what is wrong and how to fix it.
    """
    if lengths is None:
        return None
    raw = to_numpy(lengths.array if isinstance(lengths, tg.Tensor) else lengths)
    try:
        arr = numpy.asarray(raw)
    except ValueError as err:
        raise TypeError(f"{owner}: lengths must be a list or 1-D array of ints, one per batch element "
                        f"({err})") from None
    if arr.ndim != 1:
        raise ValueError(f"{owner}: lengths must be a list or 1-D array of ints, one per batch element, "
                         f"got shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{owner}: lengths must be integers (the number of steps of each sequence), got "
                        f"dtype {arr.dtype} ({arr.tolist()}); pass ints such as [5, 3, 2]")
    if arr.shape[0] != B:
        raise ValueError(f"{owner}: got {arr.shape[0]} lengths for a batch of {B} sequences; pass "
                         "one length per batch element")
    if B and arr.min() < 1:
        b = int(arr.argmin())
        raise ValueError(f"{owner}: lengths must be at least 1, got {int(arr[b])} for batch element {b}; "
                         "a sequence with no steps has no last state, so drop it from the batch")
    if B and arr.max() > T:
        b = int(arr.argmax())
        raise ValueError(f"{owner}: length {int(arr[b])} of batch element {b} is longer than the input's "
                         f"{T} time steps; pad the input to the longest sequence or fix the lengths")
    if (arr == T).all():
        return None
    return arr.astype(numpy.int64)


def time_major_input(layer, name, x, lengths):
    """Check a layer's input and return it as (T, B, I), with whether it was batched.

    Unbatched (T, I) input becomes (T, 1, I); batch_first (B, T, I) is swapped.
    """
    check_input(name, x, layer.input_size, layer.dtype, (2, 3))
    batched = x.ndim == 3
    if not batched:
        if lengths is not None:
            raise ValueError(f"{name}: lengths= needs a batched input (T, B, I), but the input has "
                             f"shape {x.shape}; a single sequence needs no lengths")
        return x.reshape(x.shape[0], 1, layer.input_size), False
    return (x.transpose(0, 1) if layer.batch_first else x), True


def layer_repr(layer):
    """The repr arguments all recurrent layers share, as PyTorch writes them: "8, 16, num_layers=2"."""
    s = f"{layer.input_size}, {layer.hidden_size}"
    if layer.num_layers != 1:
        s += f", num_layers={layer.num_layers}"
    if not layer.bias:
        s += ", bias=False"
    if layer.batch_first:
        s += ", batch_first=True"
    return s


class _Recurrent(Module):
    """What RNN, LSTM and GRU share: arguments, parameters, and the loop over layers and directions."""

    sequence_op = None  # the fused op of one layer-direction
    n_gates = 1
    state_names = ("h0",)
    weight_dropout = 0.0  # DropConnect on weight_hh in training mode; set by rnn.regularize.weight_drop

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=numpy.float32, device=None):
        name = type(self).__name__
        self.input_size = check_size(name, "input_size", input_size)
        self.hidden_size = check_size(name, "hidden_size", hidden_size)
        self.num_layers = check_size(name, "num_layers", num_layers)
        if isinstance(dropout, bool) or not isinstance(dropout, numbers.Real) or not 0 <= dropout <= 1:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.dropout = float(dropout)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.num_directions = 2 if self.bidirectional else 1
        # Registered in PyTorch's order: weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, *_reverse, l1 ...
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for suffix in self._suffixes(layer):
                init_weights(self, suffix, layer_input, self.hidden_size, self.n_gates, self.bias,
                             dtype, device)

    @property
    def dtype(self):
        """The weights' dtype (read from them, so .double() / .to(dtype) keep it true, as in PyTorch)."""
        return self.weight_ih_l0.dtype

    def _suffixes(self, layer):
        return [f"_l{layer}", f"_l{layer}_reverse"][:self.num_directions]

    def op_options(self):
        return {}

    def run(self, x, states, lengths):
        """The stacked, bidirectional recurrence.

        x (T, B, I); states: per state a (L*D, B, H) tensor or None (zeros); lengths (B,) or None.
        Returns (out (T, B, D*H), [per state (L*D, B, H)]).
        """
        T, B, _ = x.shape
        finals = [[] for _ in self.state_names]
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes(layer)):
                k = layer * self.num_directions + direction
                init = [tg.zeros(B, self.hidden_size, dtype=x.dtype, device=x.device) if s is None else s[k]
                        for s in states]
                out, *last = self.sequence_op.apply(
                    layer_input, *init, *self._weights(suffix),
                    reverse=direction == 1, lengths=lengths, **self.op_options())
                outputs.append(out)
                for store, state in zip(finals, last, strict=True):
                    store.append(state)
            layer_input = outputs[0] if len(outputs) == 1 else tg.cat(outputs, dim=2)
            if layer < self.num_layers - 1:  # between layers, training mode only
                layer_input = tg.functional.dropout(layer_input, self.dropout, self.training)
        return layer_input, [tg.stack(store, dim=0) for store in finals]

    def _weights(self, suffix):
        """[weight_ih, weight_hh(, bias_ih, bias_hh)] of one layer-direction, as the fused op takes them.

        With weight_dropout p in training mode, weight_hh is replaced by
        weight_hh * M, M drawn once per call (entries 0 or 1/(1-p)): every
        time step of this call sees the same dropped connections, and the
        gradient reaches weight_hh through the mask.
        """
        weights = weights_of(self, suffix)
        if self.training and self.weight_dropout:
            weights[1] = tg.functional.dropout(weights[1], self.weight_dropout, True)
        return weights

    def recurrences(self):
        """Per layer, a ``rnn.kernels.Recurrence``: this stack's weights laid out once, for stepping
        one character at a time without a graph (``rnn.lm.sample``). A snapshot of the weights:
        make new ones after they change. Unidirectional stacks only (a reverse direction needs
        the whole sequence)."""
        if self.bidirectional:
            raise ValueError(f"{type(self).__name__}.recurrences: a bidirectional layer cannot run step by "
                             "step (its reverse direction reads the sequence from the end); call it on the "
                             "whole sequence instead")
        return [Recurrence(self.sequence_op, [w.array for w in weights_of(self, suffix)], **self.op_options())
                for layer in range(self.num_layers) for suffix in self._suffixes(layer)]

    def forward(self, x, hx=None, lengths=None):
        name = type(self).__name__
        x, batched = time_major_input(self, name, x, lengths)
        T, B, _ = x.shape
        lengths = check_lengths(name, lengths, T, B)
        states = self._states(hx, batched, B, x)
        out, finals = self.run(x, states, lengths)
        if not batched:
            out = out.reshape(T, out.shape[-1])
            finals = [f.reshape(f.shape[0], self.hidden_size) for f in finals]
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, finals[0] if len(finals) == 1 else tuple(finals)

    def _states(self, hx, batched, B, x):
        """Per state, the initial (L*D, B, H) tensor after checks, or None for zeros."""
        name = type(self).__name__
        if len(self.state_names) == 1:
            given = [hx]
        elif hx is None:
            given = [None] * len(self.state_names)
        elif not isinstance(hx, (tuple, list)) or len(hx) != len(self.state_names):
            raise TypeError(f"{name}: hx must be a tuple (h0, c0) of two tensors, got {type(hx).__name__}"
                            + (f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else ""))
        else:
            given = list(hx)
        LD = self.num_layers * self.num_directions
        shape = (LD, B, self.hidden_size) if batched else (LD, self.hidden_size)
        states = []
        for state_name, h in zip(self.state_names, given, strict=True):
            if h is None:
                states.append(None)
                continue
            h = check_state(name, state_name, h, shape, x)
            states.append(h if batched else h.reshape(LD, 1, self.hidden_size))
        return states

    def flatten_parameters(self):
        """Nothing to do, as torch's is on the CPU: kept so code written for cuDNN runs unchanged."""

    def extra_repr(self):
        s = layer_repr(self)
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.weight_dropout:
            s += f", weight_dropout={self.weight_dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class RNN(_Recurrent):
    """Elman RNN layer:  h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh),  act = tanh or relu.

    out, h_n = rnn(x, hx=None, lengths=None)
    x (T, B, I) ((B, T, I) with batch_first, (T, I) unbatched); hx (L*D, B, H), zeros when None;
    lengths: one int per batch element (packed-sequence semantics, any order).
    out (T, B, D*H): the last layer's h_t, both directions side by side, zero past each length;
    h_n (L*D, B, H): each layer-direction's state at each sequence's own last step.
    Parameters weight_ih_l{k}[_reverse] (H, in), weight_hh_l{k}[_reverse] (H, H), biases (H,).
    """

    sequence_op = RNNSequence

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=numpy.float32, device=None):
        self.nonlinearity = check_nonlinearity("RNN", nonlinearity)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, device)

    def op_options(self):
        return {"nonlinearity": self.nonlinearity}

    def extra_repr(self):
        return super().extra_repr() + (f", nonlinearity={self.nonlinearity!r}"
                                       if self.nonlinearity != "tanh" else "")


class LSTM(_Recurrent):
    """LSTM layer (gates i,f,g,o; equations in ``rnn.cells.lstm_cell``).

    out, (h_n, c_n) = lstm(x, hx=None, lengths=None),  hx = (h0, c0), each (L*D, B, H)
    Shapes and lengths as for ``RNN``; c_n like h_n.
    Parameters weight_ih_l{k}[_reverse] (4H, in), weight_hh_l{k}[_reverse] (4H, H), biases (4H,).
    """

    sequence_op = LSTMSequence
    n_gates = 4
    state_names = ("h0", "c0")


class GRU(_Recurrent):
    """GRU layer (gates r,z,n; equations in ``rnn.cells.gru_cell``).

    out, h_n = gru(x, hx=None, lengths=None); shapes and lengths as for ``RNN``.
    Parameters weight_ih_l{k}[_reverse] (3H, in), weight_hh_l{k}[_reverse] (3H, H), biases (3H,).
    reset_after=True is PyTorch's GRU; reset_after=False is the reset-before GRU of
    Cho et al. (2014, v3), d2l and Keras' reset_after=False (see ``rnn.variants``).
    """

    sequence_op = GRUSequence
    n_gates = 3

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, reset_after=True, dtype=numpy.float32, device=None):
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         dtype, device)

    def op_options(self):
        return {"reset_after": self.reset_after}

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")
