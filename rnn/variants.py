"""The other layouts of the LSTM and GRU that courses teach, and converters to and from ours.

Our LSTM stacks its gate blocks as PyTorch does, i,f,g,o, in weights of shape
(4H, in). CS231n (assignment 3) writes the same LSTM with the blocks in the order
i,f,o,g and the weights transposed: Wx (I, 4H), Wh (H, 4H), one bias b (4H,).
The functions here move weights between the two; the math is unchanged, so a
converted model computes the same numbers.

The reset-before GRU of Cho et al. (2014, v3), d2l and Keras (reset_after=False)
is not a re-layout but a different cell:

    PyTorch (reset_after=True):   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
    Cho     (reset_after=False):  n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)

so it is an option of the cells and layers rather than a converter:
``GRUCell(I, H, reset_after=False)`` and ``GRU(I, H, reset_after=False)``. It keeps
PyTorch's parameter names and shapes (with both b_in and b_hn, whose sum acts as
the one candidate bias of d2l), so its state_dict has the same keys as a GRU's.
"""

import numpy

from tensorgrad.backend import to_numpy

# Block k of the result is block _SWAP_G_O[k] of the input: i, f, then the last two swapped.
_SWAP_G_O = (0, 1, 3, 2)


def _permute_gate_blocks(array, axis=0):
    """``array`` with its four gate blocks along ``axis`` put in the order _SWAP_G_O (a NumPy copy)."""
    array = numpy.asarray(to_numpy(array))
    if array.shape[axis] % 4:
        raise ValueError(f"an LSTM weight or bias has 4*H entries along the gate axis {axis}, got "
                         f"shape {array.shape}")
    blocks = numpy.split(array, 4, axis=axis)
    return numpy.concatenate([blocks[k] for k in _SWAP_G_O], axis=axis)


def ifgo_to_ifog(array, axis=0):
    """LSTM weight or bias with gate blocks i,f,g,o (PyTorch, ours) -> i,f,o,g (CS231n).

    array: (4H, ...) with the gate blocks along ``axis``; returns a NumPy array of the same shape.
    """
    return _permute_gate_blocks(array, axis)


def ifog_to_ifgo(array, axis=0):
    """LSTM weight or bias with gate blocks i,f,o,g (CS231n) -> i,f,g,o (PyTorch, ours)."""
    return _permute_gate_blocks(array, axis)  # swapping g and o is its own inverse


def lstm_to_cs231n(state, suffix=""):
    """Our LSTM weights -> CS231n's ``{"Wx": (I, 4H), "Wh": (H, 4H), "b": (4H,)}`` in i,f,o,g.

    state: an LSTMCell/LSTM state_dict (or the module itself); suffix picks a
    layer-direction of an LSTM layer, e.g. "_l0" or "_l1_reverse".
    """
    state = state.state_dict() if hasattr(state, "state_dict") else state
    state = {k: numpy.asarray(to_numpy(v)) for k, v in state.items()}
    w_ih, w_hh = state["weight_ih" + suffix], state["weight_hh" + suffix]
    if "bias_ih" + suffix in state:
        b = state["bias_ih" + suffix] + state["bias_hh" + suffix]
    else:
        b = numpy.zeros(w_ih.shape[0], dtype=w_ih.dtype)
    return {"Wx": ifgo_to_ifog(w_ih).T.copy(), "Wh": ifgo_to_ifog(w_hh).T.copy(), "b": ifgo_to_ifog(b)}


def lstm_from_cs231n(Wx, Wh, b, suffix=""):
    """CS231n's LSTM weights (i,f,o,g; Wx (I, 4H), Wh (H, 4H), b (4H,)) -> our state_dict entries.

    The one bias becomes bias_ih; bias_hh is zero. Load the result with
    ``LSTMCell(I, H).load_state_dict(...)`` (or with suffix "_l0" into an LSTM layer).
    """
    Wx, Wh, b = (numpy.asarray(to_numpy(a)) for a in (Wx, Wh, b))
    if Wx.ndim != 2 or Wh.ndim != 2 or Wh.shape[1] != 4 * Wh.shape[0] or Wx.shape[1] != Wh.shape[1] \
            or b.shape != (Wh.shape[1],):
        raise ValueError(f"lstm_from_cs231n: expected Wx (I, 4H), Wh (H, 4H), b (4H,), got shapes "
                         f"{Wx.shape}, {Wh.shape}, {b.shape}")
    return {"weight_ih" + suffix: ifog_to_ifgo(Wx.T), "weight_hh" + suffix: ifog_to_ifgo(Wh.T),
            "bias_ih" + suffix: ifog_to_ifgo(b), "bias_hh" + suffix: numpy.zeros_like(b)}
