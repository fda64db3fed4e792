"""The fused recurrent ops: one ``tensorgrad.Function`` per cell, run over a whole sequence.

``RNNSequence``, ``LSTMSequence`` and ``GRUSequence`` compute what the
reference cells of ``rnn.cells`` (``rnn_cell``, ``lstm_cell``, ``gru_cell``)
compute, step after step, but as one op with a hand-written backward over whole
gate blocks; tests/test_rnn_cells.py holds them equal in float64. The layers of
``rnn.layers`` run one op per layer-direction, the cell modules one op of one step.

This module is the performance code: the equations are in ``rnn.cells``.

Shapes: T time steps, B batch, I input features, H hidden units. Weights are
laid out as in PyTorch: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih and
bias_hh (G*H,), with G gate blocks stacked in PyTorch's order (LSTM i,f,g,o;
GRU r,z,n).
"""

import ctypes
import os
import sys
from typing import NamedTuple

import numpy

from tensorgrad import Function, get_array_module

# ============================================================ the allocator
#
# A training step allocates the same few multi-MB buffers again and again (the
# gate activations, the states kept for backward, their gradients). glibc's
# malloc serves blocks above its mmap threshold (128 KiB to 32 MiB) with fresh
# mmap()s and returns freed memory at the top of the heap to the OS past its
# trim threshold, so every step faulted its buffers in again: ~2,600 minor page
# faults and 6-8 ms of system time per step of a medium LSTM (1.2-1.4x its time),
# and at T=100, B=128, H=512 (buffers of 26-105 MB) 2,500-6,800 faults and 0.1-1 s
# of system time per 1.6 s step. Two settings, applied once, keep freed blocks in
# the heap, where the next step reuses them (no page faults after the first step):
# no mmap() for large blocks (M_MMAP_MAX = 0: the heap grows instead; glibc still
# falls back to mmap where the heap cannot grow), and up to TRIM_THRESHOLD of
# free memory kept at the top of the heap. The cost: a process keeps the memory
# of its largest step (up to 1 GiB free) until it exits, as GPU caching allocators do.

TRIM_THRESHOLD = 1 << 30  # keep up to 1 GiB of freed memory for reuse before returning it


def keep_freed_memory():
    """Set glibc's M_MMAP_MAX and M_TRIM_THRESHOLD (see above); True when they were set.

    Runs once, at import of rnn.kernels. A no-op (False) off Linux/glibc (musl,
    macOS and Windows allocators keep freed memory by themselves) and when the
    user has set any of MALLOC_MMAP_MAX_, MALLOC_MMAP_THRESHOLD_ or
    MALLOC_TRIM_THRESHOLD_ (their choice wins).
    """
    user_set = ("MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
    if not sys.platform.startswith("linux") or any(v in os.environ for v in user_set):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (glibc only: musl has no such symbol)
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # from <malloc.h>
    mmap_set = libc.mallopt(M_MMAP_MAX, 0) == 1  # mallopt returns 1 on success
    trim_set = libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return mmap_set and trim_set


ALLOCATOR_TUNED = keep_freed_memory()

# ============================================== fused ops: one per sequence
#
# A fused op runs one cell over a whole sequence as one Function. Its forward
# keeps what the backward needs (every state and gate activation); its backward
# walks t = T-1, ..., 0 over whole gate blocks. The weight gradients are sums
# over steps, so they are one GEMM over all steps after the loop; so are the
# input projection X W_ih^T before it and dX after it (RNNSequence,
# GRUSequence), or they ride along in the step's own GEMM (LSTMSequence).
# RNNSequence keeps a step's pre-activations in rows, (B, H); the gated ops in
# columns, (G, B), where each gate block is contiguous (see LSTMSequence).
# Inside the loops the arrays are updated in place (``out=``, ``*=``) so that
# a step makes few temporaries; each line still states the equation it computes.


class _SequenceFunction(Function, trusted=True):
    """The frame the fused ops share: time order, lengths, and the call protocol.

    apply(x, *states, weight_ih, weight_hh[, bias_ih, bias_hh], reverse=False, lengths=None, **options)
    x (T, B, I), each state (B, H) -> (out (T, B, H), *final states (B, H))

    lengths (B,) ints or None: packed-sequence semantics. Sequence b is active
    at steps t < lengths[b]; past its end its state is carried unchanged (so the
    final state is the one at its own last step), its output is zero and its
    gradients pass straight back.
    reverse: run from each sequence's own last step back to step 0. The input
    is put into that order by a per-sequence gather, the loop runs forward, and
    the output is gathered back; the gather is its own inverse.

    Subclasses write ``steps_forward(x, states, weights, **options) -> (out, finals)``
    and ``steps_backward(d_out, d_finals) -> (d_x, d_states, d_weights)``, in
    processing order; ``self.active`` / ``self.finished`` ((T, B, 1) bool, or
    None without lengths) say which sequences are running at each step, and
    ``active_steps`` / ``finished_steps`` are the same masks laid out against the
    loops' states: (T, B, 1) in row layout, (T, 1, B) in column layout. The
    outputs may be views of the states kept for backward (no copy), which is
    safe because tensorgrad ops never write into their inputs.
    """

    n_states = 1
    columns = False  # True: the loops keep a step's gates as (G, B) and its states as (H, B)

    def forward(self, x, *arrays, reverse=False, lengths=None, **options):
        xp = get_array_module(x)
        states, weights = arrays[:self.n_states], arrays[self.n_states:]
        T, B, _ = x.shape
        self.order = _time_order(xp, T, B, reverse, lengths)
        if lengths is None:
            self.active = self.finished = self.active_steps = self.finished_steps = None
        else:
            self.active = (xp.arange(T)[:, None] < xp.asarray(lengths))[:, :, None]
            self.finished = ~self.active
            masks = (self.active, self.finished)
            self.active_steps, self.finished_steps = (tuple(m.transpose(0, 2, 1) for m in masks)
                                                      if self.columns else masks)
        out, finals = self.steps_forward(self._reorder(x), states, weights, **options)
        if self.active is not None:
            out = out * self.active  # zero outputs past each sequence's end
        return (self._reorder(out), *finals)

    def backward(self, d_out, *d_finals):
        if d_out is not None:
            d_out = self._reorder(d_out)
            if self.active is not None:
                d_out = d_out * self.active
        d_x, d_states, d_weights = self.steps_backward(d_out, d_finals)
        return (None if d_x is None else self._reorder(d_x), *d_states, *d_weights)

    def _reorder(self, a):
        """``a`` (T, B, ...) in processing order (or back: the reordering is its own inverse)."""
        if self.order is None:
            return a
        if isinstance(self.order, str):  # "flip": reverse with every sequence full length
            return a[::-1]
        return a[self.order, get_array_module(a).arange(a.shape[1])[None, :]]

    def _stop_finished(self, lo, hi, carry, *gate_factors):
        """Over steps lo..hi, give finished sequences no gate gradients (``gate_factors`` zeroed in
        place) and a carry factor of 1, so the gradient of their state passes straight back."""
        if self.active is None:
            return carry
        run, done = self.active_steps[lo:hi], self.finished_steps[lo:hi]
        for factor in gate_factors:
            factor *= run
        return carry * run + done

    def _initial_grads(self, d_finals, like):
        """The gradients reaching the final states (each (B, H), or None for zero, as ``like``), as
        fresh arrays the loop may update in place, in the loops' layout: (B, H) rows or (H, B) columns."""
        xp = get_array_module(like)
        if self.columns:
            return [xp.zeros(like.shape[::-1], dtype=like.dtype) if d is None else xp.ascontiguousarray(d.T)
                    for d in d_finals]
        return [xp.zeros_like(like) if d is None else d.copy() for d in d_finals]


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


def _project(x, w, b):
    """X W^T + b for every step at once: (T, B, I) -> (T, B, G), one GEMM."""
    T, B, I = x.shape
    xw = (x.reshape(T * B, I) @ w.T).reshape(T, B, -1)
    if b is not None:
        xw += b
    return xw


def _recurrent_weight(w_hh):
    """W_hh (G, H) -> W_hh^T as a C-contiguous (H, G) array, for the per-step h_{t-1} W_hh^T.

    With a contiguous right operand the GEMM runs without a transposed operand,
    which OpenBLAS does about 1.3x faster for the small-batch shapes of one step
    (measured 259 vs 341 us at B=32, H=256, 4H gates, float32, one thread).
    """
    return get_array_module(w_hh).ascontiguousarray(w_hh.T)


def _input_grad(d_pre, w):
    """dL/dX = dA W for every step at once: (T, B, G), (G, I) -> (T, B, I), one GEMM."""
    T, B, G = d_pre.shape
    return (d_pre.reshape(T * B, G) @ w).reshape(T, B, -1)


def _weight_grad(d_pre, inputs):
    """dL/dW = sum_t dA_t^T inputs_t: (T, B, G), (T, B, K) -> (G, K), one GEMM over all steps."""
    T, B, G = d_pre.shape
    return d_pre.reshape(T * B, G).T @ inputs.reshape(T * B, -1)


def _both_weight_grads(d_pre, x, h_prev):
    """dL/dW_ih, dL/dW_hh when both see the same dA: (T, B, G), x (T, B, I), h_prev (T, B, H) ->
    (G, I), (G, H), as one GEMM dA^T [x, h_prev] over all steps (one pass over dA instead of two,
    ~12% less GEMM time at the trainer's size, for one copy of the inputs side by side)."""
    I = x.shape[2]
    both = _weight_grad(d_pre, get_array_module(x).concatenate([x, h_prev], axis=2))
    return both[:, :I], both[:, I:]


def _bias_grad(d_pre):
    """dL/db = sum over steps and batch of dA: (T, B, G) -> (G,)."""
    return d_pre.reshape(-1, d_pre.shape[-1]).sum(axis=0)


def _bias_sum(biases):
    """b_ih + b_hh (both enter the same pre-activation), or None without biases."""
    return biases[0] + biases[1] if biases else None


class Layout(NamedTuple):
    """A cell's weights as its forward multiplies by them (see each op's ``layout``).

    w_ih (G, I) and w_rec, gate blocks in the op's internal order (arrays of their own, or
    for the LSTM views of its stacked [W_ih, b, W_hh]); w_rec is
    the recurrent weight as the step multiplies by it: W_hh^T (H, G) for an op in row
    layout (h W_hh^T), W_hh (G, H) for one in column layout (W_hh h, see ``columns``).
    input_bias (G,) enters with the input projection, step_bias (G,) or (G, 1) at each
    step, b_hn (H,) the GRU's recurrent candidate bias (reset after); each may be None.
    """

    w_ih: object
    w_rec: object
    input_bias: object = None
    step_bias: object = None
    b_hn: object = None


def project(layout, x):
    """The input side of every step at once: (T, B, I) -> (T, B, G), x W_ih^T + input_bias."""
    return _project(x, layout.w_ih, layout.input_bias)


class RNNSequence(_SequenceFunction, trusted=True):
    """Elman RNN over a sequence:  h_t = act(a_t),  a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh.

    Backward, with dh_t the gradient reaching h_t (from out_t and from step t+1):
        da_t = dh_t * act'(a_t),  act' = 1 - h_t^2 (tanh) or [h_t > 0] (relu)
        dh_{t-1} = da_t W_hh;  dW_hh = sum_t da_t^T h_{t-1};  db_ih = db_hh = sum_t da_t
    """

    @staticmethod
    def layout(weights, nonlinearity="tanh"):
        """The weights as the forward multiplies by them: W_ih, W_hh^T (contiguous), b_ih + b_hh."""
        w_ih, w_hh, *biases = weights
        return Layout(w_ih, _recurrent_weight(w_hh), _bias_sum(biases))

    @staticmethod
    def step(layout, a, states, outs, nonlinearity="tanh"):
        """One step in place: a (B, H) = W_ih x_t + b (overwritten), states [h_{t-1}] -> outs [h_t]."""
        xp = get_array_module(a)
        a += states[0] @ layout.w_rec
        if nonlinearity == "tanh":
            xp.tanh(a, out=outs[0])
        else:
            xp.maximum(a, 0, out=outs[0])

    n_step_outputs = 1  # step writes h_t

    def steps_forward(self, x, states, weights, nonlinearity="tanh"):
        xp = get_array_module(x)
        w_ih, w_hh, *biases = weights
        T, B, _ = x.shape
        H = w_hh.shape[1]
        layout = self.layout(weights)
        pre = project(layout, x)  # a_t without the recurrent term, all steps
        hs = xp.empty((T + 1, B, H), dtype=x.dtype)  # hs[t] = h_{t-1}: every state, for backward
        hs[0] = states[0]
        for t in range(T):
            self.step(layout, pre[t], hs[t:t + 1], hs[t + 1:t + 2], nonlinearity)
            if self.finished_steps is not None:  # past the end: carry the state
                xp.copyto(hs[t + 1], hs[t], where=self.finished_steps[t])
        self.x, self.hs, self.w_ih, self.w_hh = x, hs, w_ih, w_hh
        self.has_bias, self.nonlinearity = bool(biases), nonlinearity
        return hs[1:], (hs[T],)

    def steps_backward(self, d_out, d_finals):
        xp = get_array_module(self.hs)
        hs, w_hh = self.hs, self.w_hh
        T = hs.shape[0] - 1
        h = hs[1:]
        # d_a starts as act'(a_t) for all steps and becomes da_t = dh_t * act'(a_t) in the loop.
        if self.nonlinearity == "tanh":
            d_a = xp.multiply(h, h)
            xp.subtract(1, d_a, out=d_a)
        else:
            d_a = (h > 0).astype(h.dtype)
        if self.active_steps is not None:
            d_a *= self.active_steps  # a finished sequence gets no gradient into its pre-activation
        (d_h,) = self._initial_grads(d_finals, hs[0])
        for t in range(T - 1, -1, -1):
            if d_out is not None:
                d_h += d_out[t]
            d_a[t] *= d_h
            d_prev = d_a[t] @ w_hh
            if self.finished_steps is not None:  # ... and passes dh straight back
                d_prev += d_h * self.finished_steps[t]
            d_h = d_prev
        d_x = _input_grad(d_a, self.w_ih) if self.needs_grad[0] else None
        d_weights = list(_both_weight_grads(d_a, self.x, hs[:-1]))
        if self.has_bias:
            d_b = _bias_grad(d_a)
            d_weights += [d_b, d_b.copy()]
        return d_x, (d_h,), d_weights


_CACHE_BYTES = 1 << 20


def _steps_per_block(gates):
    """How many steps of gate arrays fit in about 1 MiB (a typical L2 cache), at least 1.

    The backward loops compute their gradient-free factors a block of steps at a
    time: one array op per block amortises NumPy's per-call cost over the block,
    and the block is still in cache when the loop reaches it.
    """
    return max(1, _CACHE_BYTES // max(1, gates[0].nbytes))


def _lstm_stacked(weights, dtype):
    """[W_ih, b, W_hh] (4H, I + 1 + H), or [W_ih, W_hh] without biases: PyTorch's gate blocks
    [i, f, g, o] moved to the fused op's order [o, i, f, g] (a rotation by one block), the
    o, i, f rows halved. A new array: the weights are not touched."""
    w_ih, w_hh, *biases = weights
    xp = get_array_module(w_ih)
    H = w_hh.shape[1]
    blocks = [w_ih, _bias_sum(biases)[:, None], w_hh] if biases else [w_ih, w_hh]
    stacked = xp.concatenate([b.astype(dtype, copy=False) for b in blocks], axis=1)
    stacked = xp.concatenate([stacked[3 * H:], stacked[:3 * H]])  # [o, i, f, g]
    stacked[:3 * H] *= 0.5
    return stacked


def _lstm_torch_order(a):
    """Rows in the fused op's gate order [o, i, f, g] -> PyTorch's [i, f, g, o] (a new array)."""
    H = a.shape[0] // 4
    return get_array_module(a).concatenate([a[H:], a[:H]])


class LSTMSequence(_SequenceFunction, trusted=True):
    """LSTM over a sequence (gates i,f,g,o as in ``lstm_cell``); states (h0, c0) -> (h_T, c_T).

    Inside, the gate blocks are kept in the order [o, i, f, g], so the three
    sigmoid gates form one block, and their weight rows are halved: one tanh over
    all four blocks then gives tanh(a/2) for o, i, f, and sigmoid(a) = (1 + tanh(a/2)) / 2
    finishes them (halving is exact in floating point). Gradients are put back in
    PyTorch's order at the end.

    Column layout: inside the loops a step's gates are a (4H, B) array, one
    column per sequence, and its states (H, B), so each gate block is a
    contiguous run of memory and the GEMMs are tall: W a (4H, K) (K, B). Each
    step is one GEMM, [W_ih, b, W_hh] [x_t; 1; h_{t-1}], over a buffer ``xh``
    that holds every step's input, a row of ones and the state written by the
    step before; the backward's GEMM [W_ih, b, W_hh]^T da gives dx_t and
    dh_{t-1} together, and the weight gradients are one GEMM dA xh^T over all
    steps. Against the earlier row layout ((B, 4H) gates, h W_hh^T, a separate
    input projection) a whole step took 0.81x the time at size S, 0.97x at M,
    0.89x at the char-LM trainer's size and 0.93x at L (forward alone 0.71-0.88x):
    elementwise ops on strided gate blocks cost about twice their contiguous
    time, and OpenBLAS runs the tall GEMM (4H, K) (K, B) faster than (B, H) (H, 4H).

    Backward, with dh_t and dc_t the gradients reaching h_t and c_t:
        dc   = dc_t + dh_t * o (1 - tanh(c_t)^2)
        da_o = dh_t * tanh(c_t) o (1 - o)
        da_i = dc * g i (1 - i),  da_f = dc * c_{t-1} f (1 - f),  da_g = dc * i (1 - g^2)
        dc_{t-1} = dc * f,        [dx_t; db; dh_{t-1}] = [W_ih, b, W_hh]^T da
    where da = [da_o, da_i, da_f, da_g] is kept for all steps, for the GEMM after the loop.
    The factors after "dh_t *" and "dc *" do not depend on the gradient; ``_factors``
    computes them a block of steps at a time, just before the loop reaches the block.
    """

    n_states = 2
    n_step_outputs = 3  # step writes h_t, c_t, tanh(c_t)
    columns = True

    @staticmethod
    def layout(weights):
        """The weights as the forward multiplies by them: rows in the order [o, i, f, g], o/i/f halved.

        Views of one stacked array (``_lstm_stacked``): w_ih (4H, I), w_rec = W_hh itself
        (4H, H) (the step computes W_hh h), and the bias as a (4H, 1) column.
        """
        w_ih, w_hh, *biases = weights
        I = w_ih.shape[1]
        stacked = _lstm_stacked(weights, w_ih.dtype)
        if not biases:
            return Layout(stacked[:, :I], stacked[:, I:])
        return Layout(stacked[:, :I], stacked[:, I + 1:], step_bias=stacked[:, I:I + 1])

    @staticmethod
    def step(layout, a, states, outs):
        """One step in place: a (4H, B) = the input projection, overwritten by the activations
        [o, i, f, g]; states [h_{t-1}, c_{t-1}] -> outs [h_t, c_t, tanh(c_t)], each (H, B)."""
        a += layout.w_rec @ states[0]  # [a_o/2, a_i/2, a_f/2, a_g]
        if layout.step_bias is not None:
            a += layout.step_bias
        LSTMSequence.activate(a, states[1], outs)

    @staticmethod
    def activate(a, c_prev, outs):
        """The step after its GEMM: a (4H, B) = [a_o/2, a_i/2, a_f/2, a_g], overwritten by
        [o, i, f, g]; c_{t-1} -> outs [h_t, c_t, tanh(c_t)], each (H, B)."""
        xp = get_array_module(a)
        H = a.shape[0] // 4
        xp.tanh(a, out=a)
        sig = a[:3 * H]
        sig *= 0.5
        sig += 0.5  # o, i, f = sigmoid(a) = (1 + tanh(a/2)) / 2
        o, i, f, g = a[:H], a[H:2 * H], a[2 * H:3 * H], a[3 * H:]
        h, c, tanh_c = outs
        xp.multiply(f, c_prev, out=c)
        c += i * g  # c_t = f c_{t-1} + i g
        xp.tanh(c, out=tanh_c)
        xp.multiply(o, tanh_c, out=h)  # h_t = o tanh(c_t)

    def steps_forward(self, x, states, weights):
        xp = get_array_module(x)
        w_ih, w_hh, *biases = weights
        T, B, I = x.shape
        H = w_hh.shape[1]
        ones = 1 if biases else 0  # the row of ones in xh that multiplies the bias column
        w_all = _lstm_stacked(weights, x.dtype)  # (4H, I + ones + H)
        xh = xp.empty((T + 1, I + ones + H, B), dtype=x.dtype)  # xh[t] = [x_t; 1; h_{t-1}], in columns
        xh[:T, :I] = x.transpose(0, 2, 1)
        xh[:, I:I + ones] = 1
        hs = xh[:, I + ones:]  # hs[t] = h_{t-1}
        hs[0] = states[0].T
        gates = xp.empty((T, 4 * H, B), dtype=x.dtype)  # the activations [o, i, f, g] of every step
        cs = xp.empty((T + 1, H, B), dtype=x.dtype)  # cs[t] = c_{t-1}
        tanh_cs = xp.empty((T, H, B), dtype=x.dtype)
        cs[0] = states[1].T
        finished = self.finished_steps
        for t in range(T):
            xp.matmul(w_all, xh[t], out=gates[t])  # [a_o/2, a_i/2, a_f/2, a_g] = W [x_t; 1; h_{t-1}]
            self.activate(gates[t], cs[t], (hs[t + 1], cs[t + 1], tanh_cs[t]))
            if finished is not None:  # past the end: carry the state
                xp.copyto(hs[t + 1], hs[t], where=finished[t])
                xp.copyto(cs[t + 1], cs[t], where=finished[t])
        h_rows = xp.ascontiguousarray(hs.transpose(0, 2, 1))  # (T + 1, B, H)
        self.xh, self.gates, self.cs, self.tanh_cs = xh, gates, cs, tanh_cs
        self.ones, self.w_all = ones, w_all
        return h_rows[1:], (h_rows[T], xp.ascontiguousarray(cs[T].T))

    def steps_backward(self, d_out, d_finals):
        xp = get_array_module(self.gates)
        gates, xh = self.gates, self.xh
        T, G, B = gates.shape
        H = G // 4
        I = xh.shape[1] - self.ones - H
        # One GEMM per step gives dh_{t-1} (and dx_t when x needs it): its rows of [W_ih, b, W_hh]^T.
        first = 0 if self.needs_grad[0] else I + self.ones
        w_back = xp.ascontiguousarray(self.w_all[:, first:].T)
        w_back[:, :3 * H] *= 2  # unhalved: da is the gradient of the unhalved pre-activation
        d_xh = xp.empty((T, w_back.shape[0], B), dtype=gates.dtype)  # [dx_t; db_t; dh_{t-1}] in columns
        d_gates = xp.empty_like(gates)  # [da_o, da_i, da_f, da_g] of every step, in columns
        K = _steps_per_block(gates)
        c_from_h = xp.empty((min(K, T), H, B), dtype=gates.dtype)
        d_h, d_c = self._initial_grads(d_finals, self.cs[0].T)  # (H, B) columns
        d_out = None if d_out is None else xp.ascontiguousarray(d_out.transpose(0, 2, 1))  # (T, H, B)
        finished = self.finished_steps
        for t in range(T - 1, -1, -1):
            if (T - 1 - t) % K == 0:  # the factors of the next block of steps, lo..t
                lo = max(0, t + 1 - K)
                f = self._factors(lo, t + 1, d_gates[lo:t + 1], c_from_h[:t + 1 - lo])
            k = t - lo
            if d_out is not None:
                d_h += d_out[t]
            d_c += d_h * c_from_h[k]  # dc = dc_t + dh_t o (1 - tanh(c_t)^2)
            d_a = d_gates[t]
            d_a[:H] *= d_h  # da_o = dh_t * tanh(c_t) o (1 - o)
            d_a[H:].reshape(3, H, B)[...] *= d_c  # da_i, da_f, da_g = dc * their factors
            d_c *= f[k]  # dc_{t-1} = dc * f
            xp.matmul(w_back, d_a, out=d_xh[t])  # [dx_t; db_t; dh_{t-1}] = W^T da
            d_prev = d_xh[t, -H:]
            if finished is not None:  # a finished sequence passes dh straight back
                d_prev += d_h * finished[t]
            d_h = d_prev
        # dW = sum over steps and batch of da [x_t; 1; h_{t-1}]^T: one GEMM, after moving the
        # (B,)-long rows of both into step-major order (a cheap copy: whole rows move).
        d_all = _columns_to_matrix(d_gates) @ _columns_to_matrix(xh[:T]).T  # (4H, I + ones + H)
        d_all = _lstm_torch_order(d_all)
        d_weights = [d_all[:, :I], d_all[:, I + self.ones:]]
        if self.ones:
            d_b = d_all[:, I]
            d_weights += [d_b, d_b.copy()]
        d_x = xp.ascontiguousarray(d_xh[:, :I].transpose(0, 2, 1)) if self.needs_grad[0] else None
        return d_x, (xp.ascontiguousarray(d_h.T), xp.ascontiguousarray(d_c.T)), d_weights

    def _factors(self, lo, hi, d_gates, c_from_h):
        """The gradient-free factors of steps lo..hi-1, written where the loop will scale them.

        d_gates (hi-lo, 4H, B) <- [tanh(c_t) o (1 - o), g i (1 - i), c_{t-1} f (1 - f), i (1 - g^2)]
        c_from_h (hi-lo, H, B) <- o (1 - tanh(c_t)^2)
        Returns the factor that carries dc back a step: f (1 for a finished sequence).
        """
        xp = get_array_module(d_gates)
        a, tanh_c = self.gates[lo:hi], self.tanh_cs[lo:hi]
        H = a.shape[1] // 4
        o, i, f, g = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        xp.subtract(1, a, out=d_gates)
        d_gates *= a  # s (1 - s); the g block is replaced below
        d_gates[:, :H] *= tanh_c
        d_gates[:, H:2 * H] *= g
        d_gates[:, 2 * H:3 * H] *= self.cs[lo:hi]
        g_factor = d_gates[:, 3 * H:]
        xp.multiply(g, g, out=g_factor)
        xp.subtract(1, g_factor, out=g_factor)
        g_factor *= i
        xp.multiply(tanh_c, tanh_c, out=c_from_h)
        xp.subtract(1, c_from_h, out=c_from_h)
        c_from_h *= o
        return self._stop_finished(lo, hi, f, d_gates, c_from_h)  # dc of a finished one passes back


def _columns_to_matrix(a):
    """(T, R, B) columns -> (R, T*B): each row holds that quantity for every step and sequence."""
    T, R, B = a.shape
    return get_array_module(a).ascontiguousarray(a.transpose(1, 0, 2)).reshape(R, T * B)


class GRUSequence(_SequenceFunction, trusted=True):
    """GRU over a sequence (gates r,z,n as in ``gru_cell``); reset_after picks the candidate form.

    reset_after=True (PyTorch):  hn = W_hn h + b_hn,      n = tanh(W_in x + b_in + r * hn)
    reset_after=False (Cho):     hn = W_hn (r h) + b_hn,  n = tanh(W_in x + b_in + hn)
    The r and z weight rows are halved so that sigmoid(a) = (1 + tanh(a/2)) / 2
    needs one tanh (halving is exact in floating point).

    Column layout, as LSTMSequence: a step's gates are (3H, B) and its state
    (H, B), so each gate block is contiguous. The input side of every step is
    one GEMM before the loop (the candidate needs W_in x apart from W_hn h, so
    it cannot share the step's GEMM as the LSTM's does), and dX and the weight
    gradients one GEMM each after it. Against the earlier row layout a whole
    step took 0.73x the time at size S, 0.88x at M, 0.94x at L, 0.95x at XL.

    Backward, with dh the gradient reaching h_t = n + z (h_{t-1} - n):
        da_z = dh * (h_{t-1} - n) z (1 - z),   da_n = dh * (1 - z)(1 - n^2),   dh_{t-1} gets dh * z
        reset_after:  da_r = da_n * hn r (1 - r),  dhn = da_n * r,  dh_{t-1} += W_hh^T [da_r, da_z, dhn]
        reset_before: d(rh) = W_hn^T da_n,  da_r = d(rh) * h_{t-1} r (1 - r),
                      dh_{t-1} += d(rh) * r + W_hrz^T [da_r, da_z]
    The factors after "dh *" and "da_n *" do not depend on the gradient; ``_factors``
    computes them a block of steps at a time, just before the loop reaches the block.
    """

    n_step_outputs = 2  # step writes h_t, hn
    columns = True

    @staticmethod
    def layout(weights, reset_after=True):
        """The weights as the forward multiplies by them: r, z rows halved; the input-side bias
        b_ih + b_hh (but b_in alone when reset after) and, reset after, b_hn (H, 1) for the
        recurrent side. w_rec is W_hh itself (3H, H): the step computes W_hh h."""
        w_ih, w_hh, *biases = weights
        xp = get_array_module(w_ih)
        H = w_hh.shape[1]
        half = xp.ones((3 * H, 1), dtype=w_ih.dtype)
        half[:2 * H] = 0.5  # r, z rows
        bias, b_hn = None, None
        if biases:
            b_ih, b_hh = biases
            bias = b_ih + b_hh  # b_hr, b_hz (and b_hn, reset before) add to the input side
            if reset_after:
                bias[2 * H:] = b_ih[2 * H:]
                b_hn = b_hh[2 * H:, None]
            bias = bias * half[:, 0]
        return Layout(w_ih * half, w_hh * half, bias, b_hn=b_hn)

    @staticmethod
    def step(layout, a, states, outs, reset_after=True):
        """One step in place: a (3H, B) = the input projection, overwritten by [r, z, n];
        states [h_{t-1}] -> outs [h_t, hn], each (H, B), hn = W_hn h + b_hn (reset after) or r h."""
        xp = get_array_module(a)
        H = a.shape[0] // 3
        (h,), (h_next, hn) = states, outs
        w_rec = layout.w_rec
        rz, n = a[:2 * H], a[2 * H:]
        if reset_after:
            hw = w_rec @ h
            rz += hw[:2 * H]
            if layout.b_hn is not None:
                xp.add(hw[2 * H:], layout.b_hn, out=hn)
            else:
                hn[...] = hw[2 * H:]
        else:
            rz += w_rec[:2 * H] @ h  # [a_r/2, a_z/2]
        xp.tanh(rz, out=rz)
        rz *= 0.5
        rz += 0.5  # r, z = sigmoid(a) = (1 + tanh(a/2)) / 2
        r, z = rz[:H], rz[H:]
        if reset_after:
            n += r * hn  # W_in x + b_in + r (W_hn h + b_hn)
        else:
            xp.multiply(r, h, out=hn)
            n += w_rec[2 * H:] @ hn  # W_in x + b_in + b_hn + W_hn (r h)
        xp.tanh(n, out=n)
        xp.subtract(h, n, out=h_next)
        h_next *= z
        h_next += n  # h_t = n + z (h_{t-1} - n)

    def steps_forward(self, x, states, weights, reset_after=True):
        xp = get_array_module(x)
        w_ih, w_hh, *biases = weights
        T, B, _ = x.shape
        H = w_hh.shape[1]
        layout = self.layout(weights, reset_after)
        gates = _project_columns(layout, x)  # becomes [r, z, n], step by step, in place
        hs = xp.empty((T + 1, H, B), dtype=x.dtype)  # hs[t] = h_{t-1}, in columns
        hs[0] = states[0].T
        hns = xp.empty((T, H, B), dtype=x.dtype)  # reset after: W_hn h + b_hn; before: r h
        finished = self.finished_steps
        for t in range(T):
            self.step(layout, gates[t], (hs[t],), (hs[t + 1], hns[t]), reset_after)
            if finished is not None:
                xp.copyto(hs[t + 1], hs[t], where=finished[t])
        h_rows = xp.ascontiguousarray(hs.transpose(0, 2, 1))  # (T + 1, B, H)
        self.x, self.gates, self.hs, self.hns, self.h_rows = x, gates, hs, hns, h_rows
        self.w_ih, self.w_hh, self.has_bias, self.reset_after = w_ih, w_hh, bool(biases), reset_after
        return h_rows[1:], (h_rows[T],)

    def steps_backward(self, d_out, d_finals):
        xp = get_array_module(self.hs)
        gates, w_hh, reset_after = self.gates, self.w_hh, self.reset_after
        T, G, B = gates.shape
        H = G // 3
        r = gates[:, :H]
        K = _steps_per_block(gates)
        (d_h,) = self._initial_grads(d_finals, self.h_rows[0])  # (H, B) columns
        d_out = None if d_out is None else xp.ascontiguousarray(d_out.transpose(0, 2, 1))  # (T, H, B)
        if reset_after:
            # [dhn, da_r, da_z, da_n] of every step: the recurrent side's gradients are its first
            # three blocks (for W_hn, W_hr, W_hz), the input side's [da_r, da_z, da_n] its last three.
            d_all = xp.empty((T, 4 * H, B), dtype=gates.dtype)
            w_hh_t = xp.ascontiguousarray(xp.concatenate([w_hh[2 * H:], w_hh[:2 * H]]).T)  # (H, 3H)
            for t in range(T - 1, -1, -1):
                if (T - 1 - t) % K == 0:  # the factors of the next block of steps, lo..t
                    lo = max(0, t + 1 - K)
                    blocks = d_all[lo:t + 1]
                    keep = self._factors(lo, t + 1, blocks[:, H:2 * H], blocks[:, 2 * H:3 * H],
                                         blocks[:, 3 * H:], blocks[:, :H])
                if d_out is not None:
                    d_h += d_out[t]
                d_a = d_all[t]
                # da_z = dh (h_{t-1} - n) z (1 - z),  da_n = dh (1 - z)(1 - n^2)
                d_a[2 * H:].reshape(2, H, B)[...] *= d_h
                d_a[:2 * H].reshape(2, H, B)[...] *= d_a[3 * H:]  # dhn = da_n r,  da_r = da_n hn r (1 - r)
                d_prev = w_hh_t @ d_a[:3 * H]
                d_prev += d_h * keep[t - lo]  # dh_{t-1} = dh z + [W_hn, W_hr, W_hz]^T [dhn, da_r, da_z]
                d_h = d_prev
            d_all = _columns_to_matrix(d_all)  # (4H, T*B): every step's gradients side by side
            d_xw_all, d_rec_all = d_all[H:], d_all[:3 * H]
            d_w_hh = d_rec_all @ self.h_rows[:-1].reshape(T * B, H)
            d_b_hh = d_rec_all.sum(axis=1)
            d_w_hh, d_b_hh = (xp.concatenate([d[H:], d[:H]]) for d in (d_w_hh, d_b_hh))  # rows r, z, n
        else:
            d_xw = xp.empty_like(gates)  # gradients of the pre-activations [r, z, n]
            w_hrz_t = xp.ascontiguousarray(w_hh[:2 * H].T)  # (H, 2H)
            w_hn_t = xp.ascontiguousarray(w_hh[2 * H:].T)  # (H, H)
            for t in range(T - 1, -1, -1):
                if (T - 1 - t) % K == 0:
                    lo = max(0, t + 1 - K)
                    blocks = d_xw[lo:t + 1]
                    keep = self._factors(lo, t + 1, blocks[:, :H], blocks[:, H:2 * H], blocks[:, 2 * H:])
                if d_out is not None:
                    d_h += d_out[t]
                dx = d_xw[t]
                dx[H:].reshape(2, H, B)[...] *= d_h  # da_z, da_n
                d_rh = w_hn_t @ dx[2 * H:]  # d(r h) = W_hn^T da_n
                dx[:H] *= d_rh  # da_r = d(r h) h_{t-1} r (1 - r)
                d_prev = w_hrz_t @ dx[:2 * H]
                d_prev += d_rh * r[t]
                d_prev += d_h * keep[t - lo]  # dh_{t-1} = dh z + d(r h) r + W_hrz^T [da_r, da_z]
                d_h = d_prev
            d_xw_all = _columns_to_matrix(d_xw)  # (3H, T*B): every step's gradients side by side
            # W_hr, W_hz see h_{t-1}; W_hn sees r h_{t-1}: one GEMM per block over all steps.
            d_w_hh = xp.concatenate([d_xw_all[:2 * H] @ self.h_rows[:-1].reshape(T * B, H),
                                     d_xw_all[2 * H:] @ _columns_to_matrix(self.hns).T], axis=0)
            d_b_hh = d_xw_all.sum(axis=1)
        d_x = (d_xw_all.T @ self.w_ih).reshape(T, B, -1) if self.needs_grad[0] else None
        d_weights = [d_xw_all @ self.x.reshape(T * B, -1), d_w_hh]
        if self.has_bias:
            d_weights += [d_xw_all.sum(axis=1), d_b_hh]
        return d_x, (xp.ascontiguousarray(d_h.T),), d_weights

    def _factors(self, lo, hi, r_factor, z_factor, n_factor, hn_factor=None):
        """The gradient-free factors of steps lo..hi-1, written where the loop will scale them.

        z_factor <- (h_{t-1} - n) z (1 - z);   n_factor <- (1 - z)(1 - n^2)
        r_factor <- hn r (1 - r) (reset after) or h_{t-1} r (1 - r) (reset before)
        hn_factor <- r (reset after: dhn = da_n r)
        Returns the factor that carries dh back a step: z (1 for a finished sequence).
        """
        xp = get_array_module(r_factor)
        a, h_prev = self.gates[lo:hi], self.hs[lo:hi]
        H = a.shape[1] // 3
        r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
        one_minus_z = 1 - z
        xp.subtract(h_prev, n, out=z_factor)
        z_factor *= z
        z_factor *= one_minus_z
        xp.multiply(n, n, out=n_factor)
        xp.subtract(1, n_factor, out=n_factor)
        n_factor *= one_minus_z
        xp.subtract(1, r, out=r_factor)
        r_factor *= r
        r_factor *= self.hns[lo:hi] if self.reset_after else h_prev
        if hn_factor is not None:
            hn_factor[...] = r
        return self._stop_finished(lo, hi, z, z_factor, n_factor)  # dh of a finished one passes back


def _project_columns(layout, x):
    """The input side of every step in column layout: (T, B, I) -> (T, G, B), W_ih x_t + input_bias.

    One GEMM over all steps (G, I) (I, T*B), then a copy that moves whole (B,)-long
    rows into step-major order.
    """
    xp = get_array_module(x)
    T, B, I = x.shape
    pre = layout.w_ih @ x.reshape(T * B, I).T  # (G, T*B)
    if layout.input_bias is not None:
        pre += layout.input_bias[:, None]
    return xp.ascontiguousarray(pre.reshape(-1, T, B).transpose(1, 0, 2))


# ======================================================= step-by-step inference


class Recurrence:
    """One layer-direction run forward one step at a time, on arrays, without a graph (sampling).

    rec = Recurrence(LSTMSequence, [w_ih, w_hh, b_ih, b_hh])   arrays (or [w_ih, w_hh] without biases)
    a = rec.project(x)             x (N, I) -> (N, G): the input side of N steps or characters at once
    states = rec.step(a, states)   a (B, G) (overwritten), states [(B, H) arrays] -> new states

    The weights are laid out (reordered, halved, transposed) once, when it is made,
    from their values at that moment: it is a snapshot, so make a new one after the
    weights change (``rnn.lm.sample`` makes one per call). The step is the one the
    fused op's forward runs, so the numbers are the same.
    """

    def __init__(self, op, weights, **options):
        self.op, self.options = op, options
        self.layout = op.layout(weights, **options)

    def project(self, x):
        """x (N, I) -> (N, G): x W_ih^T + the input-side bias, in the op's internal gate order."""
        return project(self.layout, x[None])[0]

    def step(self, a, states):
        """a (B, G) from ``project`` (overwritten), states [(B, H)] -> next states [(B, H)], new arrays."""
        xp = get_array_module(a)
        outs = [xp.empty_like(states[0]) for _ in range(self.op.n_step_outputs)]
        if self.op.columns:  # the step works on columns: hand it transposed views (no copies)
            self.op.step(self.layout, a.T, [s.T for s in states], [o.T for o in outs], **self.options)
        else:
            self.op.step(self.layout, a, states, outs, **self.options)
        return outs[:self.op.n_states]
