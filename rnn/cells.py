"""Recurrent cells: one step (x_t, h_{t-1}) -> h_t of the Elman RNN, the LSTM and the GRU.

Each cell is written twice, on purpose, side by side:

* a *reference* function composed from tensorgrad ops (``rnn_cell``,
  ``lstm_cell``, ``gru_cell``): the equations as a student writes them, with
  the backward derived by autodiff;
* a *fused* op (``RNNSequence``, ``LSTMSequence``, ``GRUSequence``): one
  ``tensorgrad.Function`` that runs the cell over a whole sequence and has a
  hand-written backward over whole gate blocks. The layers in ``rnn.layers``
  use it, and so do the cell modules below (as a sequence of one step).

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
from tensorgrad import Function, get_array_module
from tensorgrad.nn import Module, Parameter
from tensorgrad.random import uniform

# ============================================================ reference cells


def _affine(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """x W_ih^T + b_ih + h W_hh^T + b_hh: every gate's pre-activation, (B, G*H)."""
    gates = x @ weight_ih.T + h @ weight_hh.T
    if bias_ih is not None:
        gates = gates + bias_ih + bias_hh
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
    xw = x @ weight_ih.T
    w_hrz, w_hn = weight_hh[0:2 * H], weight_hh[2 * H:3 * H]
    if bias_ih is not None:
        xw = xw + bias_ih
    rz = xw[:, 0:2 * H] + h @ w_hrz.T
    if bias_hh is not None:
        rz = rz + bias_hh[0:2 * H]
    r, z = rz[:, 0:H].sigmoid(), rz[:, H:2 * H].sigmoid()
    hn = (h @ w_hn.T) if reset_after else ((r * h) @ w_hn.T)
    if bias_hh is not None:
        hn = hn + bias_hh[2 * H:3 * H]
    n = (xw[:, 2 * H:3 * H] + (r * hn if reset_after else hn)).tanh()
    return (1 - z) * n + z * h


# ============================================== fused ops: one per sequence


def _sigmoid_(a):
    """a <- sigmoid(a) in place, as 1/2 + tanh(a/2)/2: no overflow for large |a|, no temporaries."""
    xp = get_array_module(a)
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5
    return a


class _SequenceFunction(Function):
    """What the fused ops share: time order, masks, and the GEMMs over all steps at once.

    apply(x, *states, weight_ih, weight_hh[, bias_ih, bias_hh], reverse=False, lengths=None)
    x (T, B, I), each state (B, H) -> (out (T, B, H), *final states (B, H))

    The input projection X W_ih^T of all T steps is one GEMM before the loop,
    and after the backward loop dW_ih = dXW^T X and dX = dXW W_ih are one GEMM
    each. The subclass runs the time loop (``steps_forward``/``steps_backward``).

    lengths (B,) ints or None: packed-sequence semantics. Sequence b is active
    at steps t < lengths[b]; past its end its state is carried unchanged (so the
    final state is the one at its own last step) and its output is zero.
    reverse: run from each sequence's own last step back to step 0. The data is
    put into that order by a per-sequence gather, the loop runs forward, and
    the outputs are gathered back; the gather is its own inverse.
    """

    n_states = 1

    def forward(self, x, *arrays, reverse=False, lengths=None, **options):
        xp = get_array_module(x)
        states, (w_ih, w_hh, *biases) = arrays[:self.n_states], arrays[self.n_states:]
        b_ih, b_hh = biases if biases else (None, None)
        T, B, I = x.shape
        self.order = _time_order(xp, T, B, reverse, lengths)
        self.active = None if lengths is None else (xp.arange(T)[:, None] < xp.asarray(lengths))[:, :, None]
        self.finished = None if lengths is None else ~self.active
        x = self._reorder(x)
        xw = (x.reshape(T * B, I) @ w_ih.T).reshape(T, B, -1)  # every step's input projection at once
        if b_ih is not None:
            xw += b_ih
        self.x, self.w_ih, self.w_hh, self.has_bias = x, w_ih, w_hh, b_ih is not None
        out, finals = self.steps_forward(xw, states, w_hh, b_hh, **options)
        if self.active is not None:
            out *= self.active  # zero outputs past each sequence's end
        return (self._reorder(out), *finals)

    def backward(self, d_out, *d_finals):
        x, w_ih = self.x, self.w_ih
        T, B, I = x.shape
        if d_out is not None:
            d_out = self._reorder(d_out)
            if self.active is not None:
                d_out = d_out * self.active
        d_xw, d_w_hh, d_b_hh, d_states = self.steps_backward(d_out, d_finals)
        d_xw2 = d_xw.reshape(T * B, -1)
        d_x = self._reorder((d_xw2 @ w_ih).reshape(T, B, I)) if self.needs_grad[0] else None
        d_w_ih = d_xw2.T @ x.reshape(T * B, I)  # sum over all steps of dXW_t^T x_t: one GEMM
        grads = [d_x, *d_states, d_w_ih, d_w_hh]
        if self.has_bias:
            grads += [d_xw2.sum(axis=0), d_b_hh]
        return tuple(grads)

    def _reorder(self, a):
        """``a`` (T, B, ...) in processing order (or back: the reordering is its own inverse)."""
        if self.order is None:
            return a
        if isinstance(self.order, str):  # "flip": reverse with every sequence full length
            return a[::-1]
        return a[self.order, get_array_module(a).arange(a.shape[1])[None, :]]

    def _finished(self, t):
        """(B, 1) bool: which sequences are past their end at step t (None when all are active)."""
        return None if self.active is None else self.finished[t]

    def _zeros_or(self, d, like):
        return get_array_module(like).zeros_like(like) if d is None else d.copy()


def _time_order(xp, T, B, reverse, lengths):
    """None (forward), "flip" (reverse, all full length) or (T, B) time indices for a gather.

    For sequence b of length L the reversed order reads steps L-1, ..., 0 and
    then its padding L, ..., T-1, which stays where it is.
    """
    if not reverse:
        return None
    if lengths is None:
        return "flip"
    t = numpy.arange(T)[:, None]
    L = numpy.asarray(lengths)[None, :]
    return xp.asarray(numpy.where(t < L, L - 1 - t, t))


class RNNSequence(_SequenceFunction):
    """Elman RNN over a sequence:  h_t = act(a_t),  a_t = XW_t + b_hh + h_{t-1} W_hh^T.

    Backward, with dh_t the gradient reaching h_t (from out_t and from step t+1):
        da_t = dh_t * (1 - h_t^2)   (tanh)   or   dh_t * [a_t > 0]   (relu)
        dh_{t-1} = da_t W_hh;  dW_hh = sum_t da_t^T h_{t-1};  db_hh = sum_t da_t
    """

    def steps_forward(self, xw, states, w_hh, b_hh, nonlinearity="tanh"):
        xp = get_array_module(xw)
        T, B, H = xw.shape
        if b_hh is not None:
            xw += b_hh
        hs = xp.empty((T + 1, B, H), dtype=xw.dtype)  # hs[t] = h_{t-1}: every state, for backward
        hs[0] = states[0]
        w_hh_t = w_hh.T
        for t in range(T):
            a = xw[t]
            a += hs[t] @ w_hh_t
            if nonlinearity == "tanh":
                xp.tanh(a, out=hs[t + 1])
            else:
                xp.maximum(a, 0, out=hs[t + 1])
            skip = self._finished(t)
            if skip is not None:
                xp.copyto(hs[t + 1], hs[t], where=skip)  # past the end: carry the state
        self.hs, self.nonlinearity = hs, nonlinearity
        return hs[1:].copy(), (hs[T].copy(),)

    def steps_backward(self, d_out, d_finals):
        xp = get_array_module(self.hs)
        hs, w_hh = self.hs, self.w_hh
        T = hs.shape[0] - 1
        d_a = xp.empty_like(hs[1:])
        d_h = self._zeros_or(d_finals[0], hs[0])
        for t in range(T - 1, -1, -1):
            if d_out is not None:
                d_h += d_out[t]
            skip = self._finished(t)
            h = hs[t + 1]
            if self.nonlinearity == "tanh":
                xp.multiply(d_h, 1 - h * h, out=d_a[t])
            else:
                xp.multiply(d_h, h > 0, out=d_a[t])
            if skip is not None:  # a finished sequence passes dh straight back
                d_a[t] *= ~skip
                d_h = d_a[t] @ w_hh + d_h * skip
            else:
                d_h = d_a[t] @ w_hh
        return _recurrent_grads(d_a, d_a, hs, d_h, self.has_bias)


def _recurrent_grads(d_xw, d_hw, hs, d_h0, has_bias, more_states=()):
    """(d_xw, dW_hh, db_hh, d_states): dW_hh = sum_t dHW_t^T h_{t-1} as one GEMM over all steps."""
    T, B, G = d_hw.shape
    d_hw2 = d_hw.reshape(T * B, G)
    d_w_hh = d_hw2.T @ hs[:-1].reshape(T * B, -1)
    d_b_hh = d_hw2.sum(axis=0) if has_bias else None
    return d_xw, d_w_hh, d_b_hh, (d_h0, *more_states)


class LSTMSequence(_SequenceFunction):
    """LSTM over a sequence (gates i,f,g,o as in ``lstm_cell``); states (h0, c0) -> (h_T, c_T).

    Forward keeps every step's gate activations, c_t and tanh(c_t). Backward,
    with dh_t, dc_t the gradients reaching h_t and c_t:
        do = dh_t * tanh(c_t)
        dc = dc_t + dh_t * o * (1 - tanh(c_t)^2)
        di = dc * g,  df = dc * c_{t-1},  dg = dc * i,   dc_{t-1} = dc * f
        pre-activations: d(i,f,o) * s (1 - s) for the sigmoids, dg * (1 - g^2)
        dh_{t-1} = dA_t W_hh  with dA_t the four pre-activation blocks side by side
    """

    n_states = 2

    def steps_forward(self, xw, states, w_hh, b_hh):
        xp = get_array_module(xw)
        T, B, G = xw.shape
        H = G // 4
        if b_hh is not None:
            xw += b_hh
        hs = xp.empty((T + 1, B, H), dtype=xw.dtype)  # hs[t] = h_{t-1}
        cs = xp.empty((T + 1, B, H), dtype=xw.dtype)  # cs[t] = c_{t-1}
        tanh_cs = xp.empty((T, B, H), dtype=xw.dtype)
        hs[0], cs[0] = states
        w_hh_t = w_hh.T
        gates = xw  # becomes the gate activations, step by step, in place
        for t in range(T):
            a = gates[t]
            a += hs[t] @ w_hh_t
            _sigmoid_(a[:, 0:2 * H])  # i, f
            xp.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])  # g
            _sigmoid_(a[:, 3 * H:4 * H])  # o
            i, f, g, o = a[:, 0:H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:4 * H]
            c = cs[t + 1]
            xp.multiply(f, cs[t], out=c)
            c += i * g  # c_t = f c_{t-1} + i g
            xp.tanh(c, out=tanh_cs[t])
            xp.multiply(o, tanh_cs[t], out=hs[t + 1])  # h_t = o tanh(c_t)
            skip = self._finished(t)
            if skip is not None:
                xp.copyto(hs[t + 1], hs[t], where=skip)
                xp.copyto(c, cs[t], where=skip)
        self.gates, self.hs, self.cs, self.tanh_cs = gates, hs, cs, tanh_cs
        return hs[1:].copy(), (hs[T].copy(), cs[T].copy())

    def steps_backward(self, d_out, d_finals):
        xp = get_array_module(self.hs)
        gates, hs, cs, tanh_cs, w_hh = self.gates, self.hs, self.cs, self.tanh_cs, self.w_hh
        T, B, G = gates.shape
        H = G // 4
        d_gates = xp.empty_like(gates)
        d_h = self._zeros_or(d_finals[0], hs[0])
        d_c = self._zeros_or(d_finals[1], cs[0])
        for t in range(T - 1, -1, -1):
            if d_out is not None:
                d_h += d_out[t]
            skip = self._finished(t)
            if skip is not None:  # a finished sequence passes its gradients straight back
                d_h_carry, d_c_carry = d_h * skip, d_c * skip
                d_h, d_c = d_h * ~skip, d_c * ~skip
            a, da = gates[t], d_gates[t]
            i, f, g, o = a[:, 0:H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:4 * H]
            d_i, d_f, d_g, d_o = da[:, 0:H], da[:, H:2 * H], da[:, 2 * H:3 * H], da[:, 3 * H:4 * H]
            tanh_c = tanh_cs[t]
            xp.multiply(d_h, tanh_c, out=d_o)  # do = dh tanh(c_t)
            d_c += d_h * o * (1 - tanh_c * tanh_c)
            xp.multiply(d_c, g, out=d_i)
            xp.multiply(d_c, cs[t], out=d_f)
            xp.multiply(d_c, i, out=d_g)
            d_c *= f  # dc_{t-1}
            d_g *= 1 - g * g
            sig = a[:, 0:2 * H]  # i and f side by side
            da[:, 0:2 * H] *= sig * (1 - sig)
            d_o *= o * (1 - o)
            d_h = da @ w_hh
            if skip is not None:
                d_h += d_h_carry
                d_c += d_c_carry
        return _recurrent_grads(d_gates, d_gates, hs, d_h, self.has_bias, (d_c,))


class GRUSequence(_SequenceFunction):
    """GRU over a sequence (gates r,z,n as in ``gru_cell``); reset_after picks the candidate form.

    reset_after=True (PyTorch):  hn = W_hn h + b_hn,  n = tanh(XW_n + r * hn)
    reset_after=False (Cho):     hn = W_hn (r h) + b_hn, n = tanh(XW_n + hn)
    Backward, with dh the gradient reaching h_t = n + z (h_{t-1} - n):
        dn = dh (1 - z),  dz = dh (h_{t-1} - n),  dh_{t-1} gets dh z
        dA_n = dn (1 - n^2)                          (the candidate's pre-activation)
        reset_after:  dhn = dA_n r,  dr = dA_n hn;   dh_{t-1} += [dA_r dA_z dhn] W_hh
        reset_before: d(rh) = dA_n W_hn, dr = d(rh) h_{t-1};  dh_{t-1} += d(rh) r + [dA_r dA_z] W_hrz
        dA_r = dr r (1 - r),  dA_z = dz z (1 - z)
    """

    def steps_forward(self, xw, states, w_hh, b_hh, reset_after=True):
        xp = get_array_module(xw)
        T, B, G = xw.shape
        H = G // 3
        hs = xp.empty((T + 1, B, H), dtype=xw.dtype)  # hs[t] = h_{t-1}
        hs[0] = states[0]
        gates = xw  # becomes [r, z, n] activations, step by step, in place
        hns = xp.empty((T, B, H), dtype=xw.dtype)  # W_hn h + b_hn (or W_hn (r h) + b_hn)
        w_hrz_t, w_hn_t = w_hh[0:2 * H].T, w_hh[2 * H:3 * H].T
        if b_hh is not None:
            xw[:, :, 0:2 * H] += b_hh[0:2 * H]
        for t in range(T):
            a, h = gates[t], hs[t]
            rz = a[:, 0:2 * H]
            if reset_after:
                hw = h @ w_hh.T
                rz += hw[:, 0:2 * H]
                _sigmoid_(rz)
                hns[t] = hw[:, 2 * H:3 * H]
                if b_hh is not None:
                    hns[t] += b_hh[2 * H:3 * H]
                n = a[:, 2 * H:3 * H]
                n += rz[:, 0:H] * hns[t]
            else:
                rz += h @ w_hrz_t
                _sigmoid_(rz)
                xp.matmul(rz[:, 0:H] * h, w_hn_t, out=hns[t])
                if b_hh is not None:
                    hns[t] += b_hh[2 * H:3 * H]
                n = a[:, 2 * H:3 * H]
                n += hns[t]
            xp.tanh(n, out=n)
            h_next = hs[t + 1]
            xp.subtract(h, n, out=h_next)
            h_next *= rz[:, H:2 * H]
            h_next += n  # h_t = n + z (h_{t-1} - n)
            skip = self._finished(t)
            if skip is not None:
                xp.copyto(h_next, h, where=skip)
        self.gates, self.hs, self.hns, self.reset_after = gates, hs, hns, reset_after
        self.w_hh = w_hh
        return hs[1:].copy(), (hs[T].copy(),)

    def steps_backward(self, d_out, d_finals):
        xp = get_array_module(self.hs)
        gates, hs, hns, w_hh, reset_after = self.gates, self.hs, self.hns, self.w_hh, self.reset_after
        T, B, G = gates.shape
        H = G // 3
        d_xw = xp.empty_like(gates)  # gradients of the input pre-activations [r, z, n]
        d_hw = xp.empty_like(gates) if reset_after else None  # ... and of [W_hr h, W_hz h, W_hn h]
        d_rh = None if reset_after else xp.empty((T, B, H), dtype=gates.dtype)  # ... of W_hn's input
        w_hrz, w_hn = w_hh[0:2 * H], w_hh[2 * H:3 * H]
        d_h = self._zeros_or(d_finals[0], hs[0])
        for t in range(T - 1, -1, -1):
            if d_out is not None:
                d_h += d_out[t]
            skip = self._finished(t)
            if skip is not None:
                d_h_carry = d_h * skip
                d_h = d_h * ~skip
            a, h, dx = gates[t], hs[t], d_xw[t]
            r, z, n = a[:, 0:H], a[:, H:2 * H], a[:, 2 * H:3 * H]
            d_r, d_z, d_n = dx[:, 0:H], dx[:, H:2 * H], dx[:, 2 * H:3 * H]
            xp.multiply(d_h, h - n, out=d_z)
            d_z *= z * (1 - z)
            xp.multiply(d_h, 1 - z, out=d_n)
            d_n *= 1 - n * n  # dA_n
            d_h_prev = d_h * z
            if reset_after:
                dh = d_hw[t]
                xp.multiply(d_n, hns[t], out=d_r)
                d_r *= r * (1 - r)
                dh[:, 0:2 * H] = dx[:, 0:2 * H]
                xp.multiply(d_n, r, out=dh[:, 2 * H:3 * H])
                d_h_prev += dh @ w_hh
            else:
                xp.matmul(d_n, w_hn, out=d_rh[t])
                xp.multiply(d_rh[t], h, out=d_r)
                d_r *= r * (1 - r)
                d_h_prev += d_rh[t] * r
                d_h_prev += dx[:, 0:2 * H] @ w_hrz
            d_h = d_h_prev
            if skip is not None:
                d_h += d_h_carry
        if reset_after:
            return _recurrent_grads(d_xw, d_hw, hs, d_h, self.has_bias)
        # reset before: W_hr, W_hz see h_{t-1}; W_hn sees r h_{t-1}. One GEMM per block over all steps.
        TB = T * B
        d_rz = d_xw[:, :, 0:2 * H].reshape(TB, 2 * H)
        d_n = d_xw[:, :, 2 * H:3 * H].reshape(TB, H)
        rh = (gates[:, :, 0:H] * hs[:-1]).reshape(TB, H)
        d_w_hh = xp.concatenate([d_rz.T @ hs[:-1].reshape(TB, H), d_n.T @ rh], axis=0)
        d_b_hh = d_xw.reshape(TB, G).sum(axis=0) if self.has_bias else None
        return d_xw, d_w_hh, d_b_hh, (d_h,)


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
        raise TypeError(f"{owner}: input is {x.dtype} but the weights are {numpy.dtype(dtype)}; convert "
                        f"the input with .astype(...) or build the module with dtype={x.dtype}")


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
    """Shared construction of the cells: sizes, weights, and the (B, I) / (I,) input handling."""

    n_gates = 1

    def __init__(self, input_size, hidden_size, bias=True, dtype=numpy.float32, device=None):
        name = type(self).__name__
        self.input_size = check_size(name, "input_size", input_size)
        self.hidden_size = check_size(name, "hidden_size", hidden_size)
        self.bias = bool(bias)
        self.dtype = numpy.dtype(dtype)
        init_weights(self, "", self.input_size, self.hidden_size, self.n_gates, self.bias, dtype, device)

    def _prepare(self, x, states, names):
        """Batch the input and states: ((1, B, I) x, [(B, H) states], batched?)."""
        name = type(self).__name__
        check_input(name, x, self.input_size, self.dtype, (1, 2))
        batched = x.ndim == 2
        shape = (x.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        states = [check_state(name, n, s, shape, x) for n, s in zip(names, states, strict=True)]
        if not batched:
            x = x.reshape(1, self.input_size)
            states = [s.reshape(1, self.hidden_size) for s in states]
        return x, states, batched

    def _unbatch(self, h, batched):
        return h if batched else h.reshape(self.hidden_size)

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"


def _one_step(fn, x, states, weights, **options):
    """Run a fused sequence op on a single step: x (B, I) -> the final states (B, H)."""
    outputs = fn.apply(x.reshape(1, *x.shape), *states, *weights, **options)
    return outputs[1:]


class RNNCell(_Cell):
    """Elman RNN cell:  h' = act(W_ih x + b_ih + W_hh h + b_hh),  act = tanh or relu.

    cell(x, h=None): x (B, I) or (I,), h (B, H) or (H,) (zeros when None) -> h'.
    Parameters weight_ih (H, I), weight_hh (H, H), bias_ih (H,), bias_hh (H,).
    ``cell.reference(x, h)`` computes the same with tensorgrad ops (``rnn_cell``).
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh",
                 dtype=numpy.float32, device=None):
        self.nonlinearity = check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias, dtype, device)

    def forward(self, x, h=None):
        x, (h,), batched = self._prepare(x, [h], ["h"])
        (h,) = _one_step(RNNSequence, x, [h], weights_of(self), nonlinearity=self.nonlinearity)
        return self._unbatch(h, batched)

    def reference(self, x, h=None):
        x, (h,), batched = self._prepare(x, [h], ["h"])
        h = rnn_cell(x, h, *weights_of(self), nonlinearity=self.nonlinearity)
        return self._unbatch(h, batched)

    def extra_repr(self):
        return super().extra_repr() + f", nonlinearity={self.nonlinearity!r}"


def _split_lstm_state(owner, hx):
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{owner}: the state must be a tuple (h, c) of two tensors, got "
                        f"{type(hx).__name__}" + (f" of length {len(hx)}" if isinstance(hx, (tuple, list))
                                                  else ""))
    return hx


class LSTMCell(_Cell):
    """LSTM cell (gates i,f,g,o as PyTorch; equations in ``lstm_cell``).

    cell(x, (h, c)=None): x (B, I) or (I,), h and c (B, H) or (H,) -> (h', c').
    Parameters weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,).
    ``cell.reference(x, hx)`` computes the same with tensorgrad ops.
    """

    n_gates = 4

    def forward(self, x, hx=None):
        h, c = _split_lstm_state("LSTMCell", hx)
        x, (h, c), batched = self._prepare(x, [h, c], ["h", "c"])
        h, c = _one_step(LSTMSequence, x, [h, c], weights_of(self))
        return self._unbatch(h, batched), self._unbatch(c, batched)

    def reference(self, x, hx=None):
        h, c = _split_lstm_state("LSTMCell", hx)
        x, (h, c), batched = self._prepare(x, [h, c], ["h", "c"])
        h, c = lstm_cell(x, h, c, *weights_of(self))
        return self._unbatch(h, batched), self._unbatch(c, batched)


class GRUCell(_Cell):
    """GRU cell (gates r,z,n as PyTorch; equations in ``gru_cell``).

    cell(x, h=None): x (B, I) or (I,), h (B, H) or (H,) -> h'.
    Parameters weight_ih (3H, I), weight_hh (3H, H), bias_ih (3H,), bias_hh (3H,).
    reset_after=True is PyTorch's GRU (r scales W_hn h + b_hn); reset_after=False
    is Cho et al. (2014, v3) / d2l / Keras' reset_after=False (r scales h before W_hn).
    ``cell.reference(x, h)`` computes the same with tensorgrad ops.
    """

    n_gates = 3

    def __init__(self, input_size, hidden_size, bias=True, reset_after=True,
                 dtype=numpy.float32, device=None):
        self.reset_after = bool(reset_after)
        super().__init__(input_size, hidden_size, bias, dtype, device)

    def forward(self, x, h=None):
        x, (h,), batched = self._prepare(x, [h], ["h"])
        (h,) = _one_step(GRUSequence, x, [h], weights_of(self), reset_after=self.reset_after)
        return self._unbatch(h, batched)

    def reference(self, x, h=None):
        x, (h,), batched = self._prepare(x, [h], ["h"])
        h = gru_cell(x, h, *weights_of(self), reset_after=self.reset_after)
        return self._unbatch(h, batched)

    def extra_repr(self):
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")
