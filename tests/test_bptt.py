"""rnn.bptt: full BPTT, TBPTT(k1, k2) semantics, flat memory, and evaluation over a stream.

The model is a tiny Elman RNN written here from tensorgrad ops, so these tests
depend on nothing but the engine:  h_t = tanh(x_t W_xh + h_(t-1) W_hh + b),  y_t = h_t W_hy.
"""

import gc
import tracemalloc

import numpy as np
import pytest

import tensorgrad as tg
from rnn.bptt import detach_state, evaluate, full_bptt, tbptt

I, H, O, B = 3, 5, 2, 4


class Elman(tg.nn.Module):
    def __init__(self, seed=0, dtype=np.float64, hidden=H):
        rng = np.random.default_rng(seed)
        self.W_xh = tg.nn.Parameter(rng.normal(0, 0.6, (I, hidden)).astype(dtype))
        self.W_hh = tg.nn.Parameter(rng.normal(0, 0.6 / np.sqrt(hidden / H), (hidden, hidden)).astype(dtype))
        self.b = tg.nn.Parameter(rng.normal(0, 0.1, (hidden,)).astype(dtype))
        self.W_hy = tg.nn.Parameter(rng.normal(0, 0.6, (hidden, O)).astype(dtype))

    def step(self, x_chunk, h):
        """model_step: x_chunk (k, B, I) array or Tensor, h (B, H) or None -> ((k, B, O), (B, H))."""
        if not isinstance(x_chunk, tg.Tensor):
            x_chunk = tg.tensor(x_chunk)
        if h is None:
            h = tg.zeros(x_chunk.shape[1], self.W_hh.shape[0], dtype=x_chunk.dtype)
        outputs = []
        for t in range(x_chunk.shape[0]):
            h = (x_chunk[t] @ self.W_xh + h @ self.W_hh + self.b).tanh()
            outputs.append(h @ self.W_hy)
        return tg.stack(outputs), h


def mse(output, target):
    return tg.functional.mse_loss(output, tg.tensor(target))


class RecordingOptimizer:
    """An optimizer that changes nothing: it records each step's gradients (and the inputs' grad)."""

    def __init__(self, params, inputs=None):
        self.params, self.inputs = list(params), inputs
        self.grads, self.input_grads = [], []

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.grads.append([p.grad.array.copy() for p in self.params])
        if self.inputs is not None:
            self.input_grads.append(self.inputs.grad.array.copy())
            self.inputs.grad = None


def stream(T, seed=1, requires_grad=False, batch=B):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(T, batch, I))
    y = rng.normal(size=(T, batch, O))
    return (tg.tensor(x, requires_grad=True) if requires_grad else x), y


def steps_with_gradient(input_grad):
    """The time steps whose inputs received a nonzero gradient."""
    return set(np.flatnonzero(np.abs(input_grad).sum(axis=(1, 2)) > 0).tolist())


def state_after(model, x, T):
    """The state after the first T steps, computed without a graph (None when T is 0)."""
    if T == 0:
        return None
    with tg.no_grad():
        return model.step(x[:T], None)[1]


# ------------------------------------------------------------ truncation: k1 = k2
def test_state_entering_each_chunk_is_a_leaf_with_no_history():
    model = Elman()
    x, y = stream(30)
    seen = []

    def step(x_chunk, h):
        seen.append(h)
        return model.step(x_chunk, h)

    list(tbptt(step, mse, x, y, RecordingOptimizer(model.parameters()), k1=10))
    assert seen[0] is None
    for h in seen[1:]:
        assert h.is_leaf and not h.requires_grad and h.grad_fn is None


def test_loss_of_a_chunk_sends_no_gradient_into_earlier_chunks():
    model = Elman()
    x, y = stream(25, requires_grad=True)
    opt = RecordingOptimizer(model.parameters(), inputs=x)
    list(tbptt(model.step, mse, x, y, opt, k1=10))
    assert [steps_with_gradient(g) for g in opt.input_grads] == [
        set(range(0, 10)), set(range(10, 20)), set(range(20, 25))]


def test_tbptt_gradient_of_a_chunk_equals_full_bptt_on_it_from_the_carried_state():
    model = Elman()
    x, y = stream(30)
    opt = RecordingOptimizer(model.parameters())
    list(tbptt(model.step, mse, x, y, opt, k1=10))
    for n in range(3):
        model.zero_grad()
        full_bptt(model.step, mse, x[10 * n: 10 * (n + 1)], y[10 * n: 10 * (n + 1)],
                  state_after(model, x, 10 * n))
        for p, g in zip(model.parameters(), opt.grads[n], strict=True):
            np.testing.assert_allclose(g, p.grad, rtol=1e-10, atol=1e-12)


def test_tbptt_with_one_window_over_the_whole_stream_is_full_bptt():
    model = Elman()
    x, y = stream(12)
    opt = RecordingOptimizer(model.parameters())
    (update,) = tbptt(model.step, mse, x, y, opt, k1=12)
    model.zero_grad()
    loss, state = full_bptt(model.step, mse, x, y)
    assert update.loss == pytest.approx(loss)
    np.testing.assert_allclose(update.state.numpy(), state.numpy())
    for p, g in zip(model.parameters(), opt.grads[0], strict=True):
        np.testing.assert_allclose(g, p.grad, rtol=1e-12)


# ------------------------------------------------------ overlapping windows: k1 < k2
@pytest.mark.parametrize("k1, k2", [(3, 7), (4, 6), (2, 8)])
def test_overlapping_windows_reach_back_k2_steps_and_no_further(k1, k2):
    model = Elman()
    T = 23
    x, y = stream(T, requires_grad=True)
    opt = RecordingOptimizer(model.parameters(), inputs=x)
    list(tbptt(model.step, mse, x, y, opt, k1=k1, k2=k2))
    assert [steps_with_gradient(g) for g in opt.input_grads] == [
        set(range(max(0, t - (k2 - k1)), min(t + k1, T))) for t in range(0, T, k1)]


@pytest.mark.parametrize("k1, k2", [(3, 7), (4, 6)])
def test_overlapping_window_gradient_matches_a_hand_unrolled_window(k1, k2):
    """Update at step t: loss on outputs t-k1..t-1, model run from the detached state at t-k2
    (the last update, on fewer than k1 steps, reaches back k2 - k1 steps before them)."""
    model = Elman()
    T = 20
    x, y = stream(T)
    opt = RecordingOptimizer(model.parameters())
    list(tbptt(model.step, mse, x, y, opt, k1=k1, k2=k2))
    for n, loss_from in enumerate(range(0, T, k1)):
        end = min(loss_from + k1, T)
        start = max(0, loss_from - (k2 - k1))
        model.zero_grad()
        output, _ = model.step(x[start:end], state_after(model, x, start))
        mse(output[loss_from - start:], y[loss_from:end]).backward()
        for p, g in zip(model.parameters(), opt.grads[n], strict=True):
            np.testing.assert_allclose(g, p.grad, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("k1, k2", [(5, 5), (3, 7), (4, 6), (6, 6)])
def test_every_target_is_trained_exactly_once(k1, k2):
    model = Elman()
    x, y = stream(23)
    trained = []

    def loss_fn(output, target):
        trained.append(target)
        return mse(output, target)

    updates = list(tbptt(model.step, loss_fn, x, y, RecordingOptimizer(model.parameters()), k1=k1, k2=k2))
    np.testing.assert_array_equal(np.concatenate(trained), y)
    assert sum(u.steps for u in updates) == 23


@pytest.mark.parametrize("k1, k2", [(5, 5), (3, 7)])
def test_last_update_carries_the_state_at_the_end_of_the_stream(k1, k2):
    model = Elman()
    x, y = stream(23)
    *_, last = tbptt(model.step, mse, x, y, RecordingOptimizer(model.parameters()), k1=k1, k2=k2)
    np.testing.assert_allclose(last.state.numpy(), state_after(model, x, 23).numpy(), rtol=1e-12)
    assert last.state.is_leaf


# ------------------------------------------------------------------------ memory
def peak_memory(run):
    """Peak bytes traced while ``run()`` runs (free lists emptied first, so runs start alike)."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def tbptt_pass(model, x, y, k1, k2):
    opt = tg.optim.Adam(model.parameters(), lr=1e-3)
    for _ in tbptt(model.step, mse, x, y, opt, k1=k1, k2=k2, clip=1.0):
        pass


@pytest.mark.parametrize("k1, k2", [(20, 20), (10, 20)])
def test_tbptt_memory_stays_flat_over_a_ten_times_longer_stream(k1, k2):
    model = Elman(dtype=np.float32, hidden=64)
    short_x, short_y = (a.astype(np.float32) for a in stream(120, batch=32))
    long_x, long_y = (a.astype(np.float32) for a in stream(1200, batch=32))
    peak_memory(lambda: tbptt_pass(model, short_x, short_y, k1, k2))  # warm-up: one-off allocations
    short = peak_memory(lambda: tbptt_pass(model, short_x, short_y, k1, k2))
    long = peak_memory(lambda: tbptt_pass(model, long_x, long_y, k1, k2))
    assert long < 1.5 * short, f"peak {long} bytes over 1200 steps vs {short} over 120"


def test_full_bptt_memory_grows_with_the_stream():
    """The contrast that makes truncation worth it: the whole unrolled graph is alive at backward."""
    model = Elman(dtype=np.float32)
    peaks = []
    for T in (50, 500):
        x, y = (a.astype(np.float32) for a in stream(T))
        peaks.append(peak_memory(lambda: full_bptt(model.step, mse, x, y)))  # noqa: B023 (called at once)
    assert peaks[1] > 5 * peaks[0]


# -------------------------------------------------------------- training, options
def test_tbptt_with_adam_learns_to_echo_the_previous_input():
    """y_t = x_(t-1): a one-step memory that TBPTT(10, 10) must carry across chunk boundaries."""
    tg.manual_seed(0)
    model = Elman(seed=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, B, I))
    y = np.concatenate([np.zeros((1, B, O)), x[:-1, :, :O]])
    opt = tg.optim.Adam(model.parameters(), lr=0.03)
    before, _ = evaluate(model.step, mse, x, y, k=50)
    for _ in range(3):
        for _ in tbptt(model.step, mse, x, y, opt, k1=10, clip=5.0):
            pass
    after, _ = evaluate(model.step, mse, x, y, k=50)
    assert after < 0.3 * before


def test_clip_bounds_the_gradient_norm_the_optimizer_sees():
    model = Elman()
    x, y = stream(20)
    opt = RecordingOptimizer(model.parameters())
    list(tbptt(model.step, mse, x, y, opt, k1=5, clip=1e-3))
    for grads in opt.grads:
        assert np.sqrt(sum((g ** 2).sum() for g in grads)) <= 1e-3 * (1 + 1e-6)


def test_k1_larger_than_k2_is_rejected():
    model = Elman()
    x, y = stream(10)
    with pytest.raises(ValueError, match="k1 <= k2"):
        tbptt(model.step, mse, x, y, RecordingOptimizer(model.parameters()), k1=5, k2=3)


def test_misaligned_inputs_and_targets_are_rejected():
    model = Elman()
    x, y = stream(10)
    with pytest.raises(ValueError, match="aligned"):
        tbptt(model.step, mse, x, y[:-1], RecordingOptimizer(model.parameters()), k1=5)


def test_evaluate_in_chunks_equals_one_forward_over_the_stream():
    model = Elman()
    x, y = stream(23)
    loss, state = evaluate(model.step, mse, x, y, k=5)
    output, h = model.step(x, None)
    assert loss == pytest.approx(mse(output, y).item(), rel=1e-12)
    np.testing.assert_allclose(state.numpy(), h.numpy(), rtol=1e-12)
    assert all(p.grad is None for p in model.parameters())


def test_detach_state_cuts_tensors_inside_tuples():
    h = tg.tensor([1.0, 2.0], requires_grad=True) * 2
    c = tg.tensor([3.0], requires_grad=True) * 2
    detached = detach_state((h, [c, None]))
    assert isinstance(detached, tuple) and isinstance(detached[1], list)
    assert detached[0].is_leaf and not detached[0].requires_grad
    assert detached[1][0].is_leaf and detached[1][1] is None
    np.testing.assert_array_equal(detached[0].numpy(), h.numpy())


def test_tbptt_carries_a_tuple_state_like_lstms_h_and_c():
    model = Elman()
    x, y = stream(20)
    seen = []

    def step(x_chunk, state):  # a state of two tensors, as an LSTM's (h, c)
        seen.append(state)
        h, c = (None, None) if state is None else state
        output, h = model.step(x_chunk, h)
        return output, (h, h * 0.5 if c is None else c + h)

    *_, last = tbptt(step, mse, x, y, RecordingOptimizer(model.parameters()), k1=5)
    assert isinstance(last.state, tuple) and len(last.state) == 2
    assert len(seen) == 4
    for state in seen[1:] + [last.state]:
        assert all(s.is_leaf and not s.requires_grad for s in state)
