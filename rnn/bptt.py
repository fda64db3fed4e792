"""Backpropagation through time: full, and truncated TBPTT(k1, k2) over a stream of any length.

Everything here talks to the model through one function, so it works for any
recurrent model (an RNN, a stacked LSTM, a hand-written cell in a lesson):

    model_step(x_chunk, state) -> (output, new_state)

x_chunk is a time-major slice of the inputs, (k, B, ...); output is a Tensor
with time first, (k, B, ...); state is whatever the model carries between
chunks: a Tensor, a (nested) tuple of Tensors such as LSTM's (h, c), or None
for "start from zeros". ``loss_fn(output, target_chunk)`` returns a scalar
Tensor, e.g. for a character model with output (k, B, V) and targets (k, B):

    loss_fn = lambda out, y: tg.functional.cross_entropy(out.reshape(-1, V), y.reshape(-1))

Full BPTT is one backward through the whole unrolled graph (``full_bptt``);
its memory grows with the sequence. Truncated BPTT (``tbptt``) backpropagates
through a bounded window and carries the state forward with ``detach()``, so
its memory stays flat however long the stream is.
"""

import numbers
from collections import namedtuple
from itertools import pairwise

import tensorgrad as tg


def detach_state(state):
    """The state with the graph cut: a Tensor, a (nested) tuple or list of Tensors, or None."""
    if state is None:
        return None
    if isinstance(state, tg.Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(f"detach_state: a recurrent state is a Tensor, a tuple of Tensors or None, "
                    f"got {type(state).__name__}")


def full_bptt(model_step, loss_fn, inputs, targets, state=None):
    """Full BPTT: run all T steps, then one backward through the whole unrolled graph.

    inputs (T, B, ...), targets (T, B, ...). Gradients accumulate into the
    parameters' ``.grad`` (zero them before, step the optimizer after). The
    graph, and so the memory, grows with T. Returns (loss as a float, the
    final state detached).
    """
    output, state = model_step(inputs, state)
    loss = loss_fn(output, targets)
    loss.backward()
    return loss.item(), detach_state(state)


TBPTTUpdate = namedtuple("TBPTTUpdate", ["loss", "steps", "state"])
TBPTTUpdate.__doc__ = """One TBPTT update: loss (float) on its ``steps`` (<= k1) trained time steps,
and the detached state at the end of those steps."""


def tbptt(model_step, loss_fn, inputs, targets, optimizer, k1, k2=None, state=None, clip=None):
    """Truncated BPTT(k1, k2) of Williams & Peng (1990) over one stream; a generator of updates.

    inputs (T, B, ...) and targets (T, B, ...) are time-major and aligned
    (for a language model: ``stream[:-1]`` and ``stream[1:]``); any object with
    ``len`` and slicing works (NumPy arrays, Tensors). Every k1 steps, at
    t = k1, 2 k1, ..., one update:

        loss_t = loss_fn(output[t - k1 : t], targets[t - k1 : t])
        grad   = d loss_t / d params, backpropagated through steps t - k2 .. t - 1 only

    where the outputs come from running the model over inputs[t - k2 : t]
    starting from h_(t - k2), the state after step t - k2 - 1 *detached*: a
    constant, so no gradient flows past it. The target at step s of a window
    thus gets gradient from between k2 - k1 + 1 and k2 steps (s - (t - k2) + 1).

        time ->  0 ......... t-k2 ............ t-k1 ......... t
        window:              |<---------------- k2 ---------->|
                             h (detached)      |<--- k1 ----->|  loss here
                             |<- gradient flows back to here -|

    At the start of the stream windows are clipped at 0 (they start from
    ``state``). If k1 does not divide T, a last update trains the remaining
    T mod k1 steps, its window reaching k2 - k1 steps before them.

    Each target is trained exactly once. With k1 = k2 = k (the common case)
    the windows are consecutive chunks and the state at the end of one chunk,
    detached, starts the next. With k1 < k2 windows overlap: the first
    k2 - k1 steps of a window only carry gradient back (their outputs are not
    in the loss), and are recomputed with the current weights (so a model
    with dropout draws new masks for them); the state that will start the
    next window (at t + k1 - k2) is detached and kept from this window's
    forward pass, so besides one window's graph only one state is stored.
    Memory is therefore O(k2), whatever T is.

    optimizer: anything with ``zero_grad()`` and ``step()`` (and ``.params``
    when ``clip`` is given), e.g. ``tg.optim.Adam(model.parameters())``.
    clip: if given, the global gradient norm is clipped to it before each step.
    Returns a generator (arguments are checked at the call) that yields a
    TBPTTUpdate(loss, steps, state) after every update; the last one holds
    the state at step T, to carry into the next pass over the data:

        for update in tbptt(model.step, loss_fn, x, y, opt, k1=35, clip=1.0):
            print(update.loss)
    """
    k2 = k1 if k2 is None else k2
    for name, k in (("k1", k1), ("k2", k2)):
        _check_steps(k, "tbptt", name)
    if k1 > k2:
        raise ValueError(f"tbptt: k1={k1} > k2={k2} would leave targets untrained; "
                         "TBPTT(k1, k2) needs k1 <= k2 (k1 = k2 for plain chunks)")
    T = len(inputs)
    if len(targets) != T:
        raise ValueError(f"tbptt: inputs have {T} time steps but targets have {len(targets)}; "
                         "they must be aligned (for a stream: inputs = s[:-1], targets = s[1:])")
    if T == 0:
        raise ValueError("tbptt: the stream has no time steps")
    if clip is not None and not hasattr(optimizer, "params"):
        raise TypeError("tbptt: clip needs the optimizer's .params to clip; use a tg.optim optimizer")

    return _tbptt_updates(model_step, loss_fn, inputs, targets, optimizer, k1, k2, state, clip)


def _tbptt_updates(model_step, loss_fn, inputs, targets, optimizer, k1, k2, state, clip):
    """The generator behind ``tbptt`` (split off so that bad arguments raise at the call)."""
    T = len(inputs)
    window_state = detach_state(state)  # the detached state at the current window's start
    for loss_from in range(0, T, k1):
        end = min(loss_from + k1, T)
        start = max(0, loss_from - (k2 - k1))
        next_start = max(0, end - (k2 - k1))
        # Run [start, end) in pieces, cut where the loss begins and where the next window starts.
        cuts = sorted({start, next_start, loss_from, end})
        h, outputs, next_state = window_state, [], window_state
        for a, b in pairwise(cuts):
            output, h = model_step(inputs[a:b], h)
            if a >= loss_from:
                outputs.append(output)
            if b == next_start:
                next_state = detach_state(h)
        output = outputs[0] if len(outputs) == 1 else tg.cat(outputs, dim=0)
        loss = loss_fn(output, targets[loss_from:end])
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            tg.optim.clip_grad_norm(optimizer.params, clip)
        optimizer.step()
        window_state = next_state
        yield TBPTTUpdate(loss.item(), end - loss_from, detach_state(h))


def evaluate(model_step, loss_fn, inputs, targets, k, state=None):
    """Mean loss over a whole stream without gradients, k steps at a time: (loss float, final state).

    The mean weights each chunk by its number of steps, so it is the per-step
    mean when ``loss_fn`` averages over its chunk. Runs inside ``tg.no_grad()``.
    """
    _check_steps(k, "evaluate", "k")
    T = len(inputs)
    if len(targets) != T or T == 0:
        raise ValueError(f"evaluate: inputs ({T} steps) and targets ({len(targets)} steps) must be "
                         "aligned and non-empty")
    total = 0.0
    with tg.no_grad():
        for a in range(0, T, k):
            b = min(a + k, T)
            output, state = model_step(inputs[a:b], state)
            total += loss_fn(output, targets[a:b]).item() * (b - a)
    return total / T, detach_state(state)


def _check_steps(k, name, arg):
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{name}: {arg} must be a positive int (a number of time steps), got {k!r}")
