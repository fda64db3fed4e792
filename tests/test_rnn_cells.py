"""The cells: the fused ops equal the reference cells (float64, values and gradients), and gradcheck.

The reference cells (rnn_cell, lstm_cell, gru_cell) are tensorgrad ops whose
backward autodiff derives; the fused ops (RNNSequence, LSTMSequence,
GRUSequence) have hand-written backwards. Holding them equal to ~1e-12 checks
the hand-written math; gradcheck checks both against finite differences.
"""

import numpy as np
import pytest
from tensors import normal

import rnn
import tensorgrad as tg
from rnn.cells import gru_cell, lstm_cell, rnn_cell
from rnn.kernels import GRUSequence, LSTMSequence, RNNSequence

T, B, I, H = 3, 2, 3, 2
EXACT = dict(rtol=1e-12, atol=1e-12)

# name -> (cell class, constructor options, fused op, reference step, op options)
CELLS = {
    "rnn_tanh": (rnn.RNNCell, {}, RNNSequence, rnn_cell, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnn.RNNCell, {"nonlinearity": "relu"}, RNNSequence, rnn_cell, {"nonlinearity": "relu"}),
    "lstm": (rnn.LSTMCell, {}, LSTMSequence, lstm_cell, {}),
    "gru": (rnn.GRUCell, {}, GRUSequence, gru_cell, {"reset_after": True}),
    "gru_reset_before": (rnn.GRUCell, {"reset_after": False}, GRUSequence, gru_cell, {"reset_after": False}),
}


def _cell(name, bias=True):
    cls, options, *_ = CELLS[name]
    tg.manual_seed(0)
    return cls(I, H, bias=bias, dtype=np.float64, **options)


def _state(name, x, seed):
    """The cell's state argument for input x: h, or (h, c) for the LSTM."""
    lead = x.shape[:-1]
    h = normal(lead + (H,), seed)
    return (h, normal(lead + (H,), seed + 1)) if name == "lstm" else h


def _flat(out):
    return list(out) if isinstance(out, tuple) else [out]


def _values_and_grads(fn, inputs):
    """fn's outputs and d(sum of weighted outputs)/d(inputs), as NumPy arrays."""
    for t in inputs:
        t.grad = None
    outs = _flat(fn())
    rng = np.random.default_rng(7)
    loss = tg.tensor(0.0, dtype=np.float64)
    for o in outs:
        loss = loss + (o * tg.tensor(rng.standard_normal(o.shape))).sum()
    loss.backward()
    return [o.numpy().copy() for o in outs], [t.grad.array.copy() for t in inputs]


def _assert_same(a, b):
    for u, v in zip(a, b, strict=True):
        np.testing.assert_allclose(u, v, **EXACT)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("name", list(CELLS))
def test_fused_cell_equals_reference_cell(name, bias):
    cell = _cell(name, bias)
    x = normal((B, I), 1)
    state = _state(name, x, 2)
    inputs = [x, *_flat(state), *cell.parameters()]
    fused = _values_and_grads(lambda: cell(x, state), inputs)
    reference = _values_and_grads(lambda: cell.reference(x, state), inputs)
    _assert_same(fused[0], reference[0])
    _assert_same(fused[1], reference[1])


def _reference_sequence(step, x, states, weights, lengths, reverse, options):
    """The reference cell unrolled over each sequence on its own: the meaning of lengths/reverse."""
    outputs, finals = [], []
    for b in range(x.shape[1]):
        L = lengths[b]
        steps = range(L - 1, -1, -1) if reverse else range(L)
        s = [state[b:b + 1] for state in states]
        out_b = [None] * x.shape[0]
        for t in steps:
            s = _flat(step(x[t, b:b + 1], *s, *weights, **options))
            out_b[t] = s[0]
        zeros = tg.zeros(1, H, dtype=np.float64)
        outputs.append(tg.stack([o if o is not None else zeros for o in out_b], axis=0))
        finals.append(s)
    out = tg.concat(outputs, axis=1)
    return (out, *[tg.concat([f[k] for f in finals], axis=0) for k in range(len(states))])


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("lengths", [None, [3, 1]], ids=["full", "lengths"])
@pytest.mark.parametrize("name", list(CELLS))
def test_fused_sequence_equals_reference_cell_unrolled(name, lengths, reverse):
    _, _, op, step, options = CELLS[name]
    cell = _cell(name)
    x = normal((T, B, I), 3)
    states = _flat(_state(name, x[0], 4))
    weights = list(cell.parameters())
    inputs = [x, *states, *weights]
    lens = lengths or [T] * B
    fused = _values_and_grads(lambda: op.apply(x, *states, *weights, reverse=reverse,
                                                lengths=None if lengths is None else np.array(lengths),
                                                **options), inputs)
    reference = _values_and_grads(
        lambda: _reference_sequence(step, x, states, weights, lens, reverse, options), inputs)
    _assert_same(fused[0], reference[0])
    _assert_same(fused[1], reference[1])


@pytest.mark.parametrize("cache_bytes", [1, 256], ids=["one_step_blocks", "two_step_blocks"])
@pytest.mark.parametrize("name", ["lstm", "gru", "gru_reset_before"])
def test_backward_factor_blocks_do_not_change_the_result(name, cache_bytes, monkeypatch):
    """The backward computes its gate factors a block of steps at a time; small blocks give the same."""
    monkeypatch.setattr(rnn.kernels, "_CACHE_BYTES", cache_bytes)
    test_fused_sequence_equals_reference_cell_unrolled(name, [3, 1], True)
    test_fused_sequence_equals_reference_cell_unrolled(name, None, False)


@pytest.mark.parametrize("version", ["fused", "reference"])
@pytest.mark.parametrize("name", list(CELLS))
def test_cell_passes_gradcheck(name, version):
    cell = _cell(name)
    step = cell if version == "fused" else cell.reference
    x = normal((B, I), 5)
    state = _flat(_state(name, x, 6))

    def fn(x, *rest):
        out = step(x, tuple(rest[:2]) if name == "lstm" else rest[0])
        return tg.concat(_flat(out), axis=1)

    assert tg.gradcheck(fn, [x, *state, *cell.parameters()])


@pytest.mark.parametrize("name", list(CELLS))
def test_fused_sequence_with_lengths_passes_gradcheck_in_reverse(name):
    _, _, op, _, options = CELLS[name]
    cell = _cell(name)
    x = normal((T, B, I), 8)
    states = _flat(_state(name, x[0], 9))

    def fn(x, *rest):
        out, *finals = op.apply(x, *rest, reverse=True, lengths=np.array([2, 3]), **options)
        return tg.concat([out.reshape(-1), *[f.reshape(-1) for f in finals]], axis=0)

    assert tg.gradcheck(fn, [x, *states, *cell.parameters()])


@pytest.mark.parametrize("name", list(CELLS))
def test_unbatched_cell_input_gives_unbatched_state(name):
    cell = _cell(name)
    x = normal((I,), 1)
    out = _flat(cell(x))
    assert [o.shape for o in out] == [(H,)] * len(out)
    batched = _flat(cell(x.reshape(1, I)))
    _assert_same([o.numpy() for o in out], [o.numpy()[0] for o in batched])


@pytest.mark.parametrize("name", list(CELLS))
def test_missing_cell_state_means_zeros(name):
    cell = _cell(name)
    x = normal((B, I), 1)
    zeros = tg.zeros(B, H, dtype=np.float64)
    given = _flat(cell(x, (zeros, zeros) if name == "lstm" else zeros))
    _assert_same([o.numpy() for o in _flat(cell(x))], [o.numpy() for o in given])


@pytest.mark.parametrize("name", list(CELLS))
def test_float32_cell_keeps_float32(name):
    cls, options, *_ = CELLS[name]
    cell = cls(I, H, **options)
    x = tg.randn(B, I, requires_grad=True)
    outs = _flat(cell(x))
    sum((o.sum() for o in outs), tg.tensor(0.0)).backward()
    f32 = np.dtype(np.float32)
    assert {o.dtype for o in outs} == {f32}
    assert x.grad.dtype == f32
    assert {p.grad.dtype for p in cell.parameters()} == {f32}


@pytest.mark.parametrize("name", list(CELLS))
def test_fused_sequence_backward_makes_no_float64_in_float32(name):
    # Called directly: the engine would cast a float64 gradient back and hide the upcast.
    _, _, op, _, options = CELLS[name]
    cls, cell_options, *_ = CELLS[name]
    cell = cls(I, H, **cell_options)
    x = tg.randn(T, B, I, requires_grad=True)
    states = [tg.randn(B, H, requires_grad=True) for _ in range(2 if name == "lstm" else 1)]
    outs = op.apply(x, *states, *cell.parameters(), reverse=True, lengths=np.array([1, 3]), **options)
    grads = outs[0]._creator.backward(*[np.ones(o.shape, dtype=np.float32) for o in outs])
    f32 = np.dtype(np.float32)
    assert {o.dtype for o in outs} == {f32}
    assert {g.dtype for g in grads} == {f32}


@pytest.mark.parametrize("cls, gates", [(rnn.RNNCell, 1), (rnn.LSTMCell, 4), (rnn.GRUCell, 3)])
def test_cell_parameter_names_and_shapes_follow_pytorch(cls, gates):
    cell = cls(5, 4)
    assert [(n, p.shape) for n, p in cell.named_parameters()] == [
        ("weight_ih", (gates * 4, 5)), ("weight_hh", (gates * 4, 4)),
        ("bias_ih", (gates * 4,)), ("bias_hh", (gates * 4,))]
    assert [n for n, _ in cls(5, 4, bias=False).named_parameters()] == ["weight_ih", "weight_hh"]


def test_lstm_cell_state_must_be_a_tuple():
    cell = rnn.LSTMCell(I, H)
    with pytest.raises(TypeError, match=r"LSTMCell: the state must be a tuple \(h, c\)"):
        cell(tg.randn(B, I), tg.randn(B, H))


def test_cell_rejects_wrong_feature_size():
    with pytest.raises(ValueError, match="GRUCell: input has 4 features .* input_size=3"):
        rnn.GRUCell(I, H)(tg.randn(B, 4))


def test_cell_rejects_wrong_input_ndim():
    with pytest.raises(ValueError, match=r"RNNCell: input must have 1 or 2 dimensions, got shape \(1, 2, 3"):
        rnn.RNNCell(I, H)(tg.randn(1, B, I))


def test_cell_rejects_state_of_wrong_shape():
    with pytest.raises(ValueError, match=r"GRUCell: h must have shape \(2, 2\) for this input, got \(3, 2\)"):
        rnn.GRUCell(I, H)(tg.randn(B, I), tg.randn(3, H))


def test_cell_rejects_nonlinearity_other_than_tanh_or_relu():
    with pytest.raises(ValueError, match="RNNCell: nonlinearity must be 'tanh' or 'relu', got 'sigmoid'"):
        rnn.RNNCell(I, H, nonlinearity="sigmoid")


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "gru_cho"])
@pytest.mark.parametrize("given", ["ih", "hh"])
def test_reference_cell_takes_either_bias_alone(name, given):
    # One bias given is that bias added, as a zero for the other: not both dropped, not a TypeError.
    rng = np.random.default_rng(7)
    gates = {"rnn": 1, "lstm": 4, "gru": 3, "gru_cho": 3}[name]
    B, I, H = 3, 4, 5
    x, h, c = (tg.tensor(rng.standard_normal(s)) for s in [(B, I), (B, H), (B, H)])
    w_ih = tg.tensor(rng.standard_normal((gates * H, I)))
    w_hh = tg.tensor(rng.standard_normal((gates * H, H)))
    bias = tg.tensor(rng.standard_normal(gates * H))
    zero = tg.zeros(gates * H, dtype=bias.dtype)
    one = {"bias_ih": bias} if given == "ih" else {"bias_hh": bias}
    both = {"bias_ih": bias, "bias_hh": zero} if given == "ih" else {"bias_ih": zero, "bias_hh": bias}

    def step(**biases):
        if name == "rnn":
            return rnn_cell(x, h, w_ih, w_hh, **biases)
        if name == "lstm":
            return lstm_cell(x, h, c, w_ih, w_hh, **biases)[1]
        return gru_cell(x, h, w_ih, w_hh, reset_after=name == "gru", **biases)

    np.testing.assert_allclose(step(**one).numpy(), step(**both).numpy(), rtol=0, atol=1e-12)
    assert not np.allclose(step(**one).numpy(), step().numpy())
