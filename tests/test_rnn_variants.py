"""Course variants: CS231n's i,f,o,g LSTM layout, and the reset-before GRU (Cho et al. v3 / d2l / Keras)."""

import numpy as np
import pytest

import rnn
import tensorgrad as tg

I, H, B = 3, 2, 4


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _cs231n_lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    """CS231n assignment 3's lstm_step_forward: gates i, f, o, g; Wx (I, 4H), Wh (H, 4H)."""
    a = x @ Wx + prev_h @ Wh + b
    Hh = prev_h.shape[1]
    i, f, o, g = (_sigmoid(a[:, :Hh]), _sigmoid(a[:, Hh:2 * Hh]), _sigmoid(a[:, 2 * Hh:3 * Hh]),
                  np.tanh(a[:, 3 * Hh:]))
    next_c = f * prev_c + i * g
    return o * np.tanh(next_c), next_c


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((B, I)), rng.standard_normal((B, H)), rng.standard_normal((B, H))


def test_ifgo_to_ifog_swaps_the_g_and_o_blocks():
    w = np.repeat(np.array([0, 1, 2, 3]), 2)[:, None] * np.ones((1, 3))  # blocks of 2 rows: i=0 f=1 g=2 o=3
    assert rnn.ifgo_to_ifog(w)[:, 0].tolist() == [0, 0, 1, 1, 3, 3, 2, 2]


def test_gate_layout_conversions_undo_each_other():
    w = np.random.default_rng(0).standard_normal((4 * H, I))
    np.testing.assert_array_equal(rnn.ifog_to_ifgo(rnn.ifgo_to_ifog(w)), w)
    np.testing.assert_array_equal(rnn.ifgo_to_ifog(w.T, axis=1), rnn.ifgo_to_ifog(w).T)


def test_gate_layout_needs_four_blocks():
    with pytest.raises(ValueError, match="4\\*H entries"):
        rnn.ifgo_to_ifog(np.zeros(6))


def test_our_lstm_weights_run_in_cs231n_code():
    cell = rnn.LSTMCell(I, H, dtype=np.float64)
    x, h, c = _inputs()
    ours_h, ours_c = cell(tg.tensor(x), (tg.tensor(h), tg.tensor(c)))
    theirs_h, theirs_c = _cs231n_lstm_step(x, h, c, **rnn.lstm_to_cs231n(cell))
    np.testing.assert_allclose(ours_h.numpy(), theirs_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours_c.numpy(), theirs_c, rtol=1e-12, atol=1e-12)


def test_cs231n_weights_load_into_our_lstm_layer():
    rng = np.random.default_rng(1)
    Wx, Wh, b = rng.standard_normal((I, 4 * H)), rng.standard_normal((H, 4 * H)), rng.standard_normal(4 * H)
    layer = rnn.LSTM(I, H, dtype=np.float64)
    layer.load_state_dict(rnn.lstm_from_cs231n(Wx, Wh, b, suffix="_l0"))
    x, h, c = _inputs(2)
    _, (h_n, c_n) = layer(tg.tensor(x[None]), (tg.tensor(h[None]), tg.tensor(c[None])))
    theirs_h, theirs_c = _cs231n_lstm_step(x, h, c, Wx, Wh, b)
    np.testing.assert_allclose(h_n.numpy()[0], theirs_h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(c_n.numpy()[0], theirs_c, rtol=1e-12, atol=1e-12)


def test_cs231n_conversion_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="lstm_from_cs231n: expected Wx"):
        rnn.lstm_from_cs231n(np.zeros((I, 4 * H)), np.zeros((H, 3 * H)), np.zeros(4 * H))


def _reset_before_gru_step(x, h, w_ih, w_hh, b_ih, b_hh):
    """d2l's GRU (reset gate applied to h before the candidate's recurrent weight), in NumPy."""
    W_xr, W_xz, W_xh = np.split(w_ih.T, 3, axis=1)
    W_hr, W_hz, W_hh = np.split(w_hh.T, 3, axis=1)
    b_r, b_z, b_h = np.split(b_ih + b_hh, 3)
    R = _sigmoid(x @ W_xr + h @ W_hr + b_r)
    Z = _sigmoid(x @ W_xz + h @ W_hz + b_z)
    H_tilde = np.tanh(x @ W_xh + (R * h) @ W_hh + b_h)
    return Z * h + (1 - Z) * H_tilde


def test_reset_before_gru_is_the_d2l_gru():
    cell = rnn.GRUCell(I, H, reset_after=False, dtype=np.float64)
    x, h, _ = _inputs(3)
    theirs = _reset_before_gru_step(x, h, *cell.state_dict().values())
    np.testing.assert_allclose(cell(tg.tensor(x), tg.tensor(h)).numpy(), theirs, rtol=1e-12, atol=1e-12)


def test_reset_before_and_after_differ_with_the_same_weights():
    tg.manual_seed(0)
    before = rnn.GRUCell(I, H, reset_after=False, dtype=np.float64)
    after = rnn.GRUCell(I, H, dtype=np.float64)
    after.load_state_dict(before.state_dict())
    x, h, _ = _inputs(4)
    x, h = tg.tensor(x), tg.tensor(h)
    assert not np.allclose(before(x, h).numpy(), after(x, h).numpy())


def test_reset_before_gru_layer_runs_the_reset_before_cell():
    layer = rnn.GRU(I, H, reset_after=False, dtype=np.float64)
    cell = rnn.GRUCell(I, H, reset_after=False, dtype=np.float64)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})  # drop "_l0"
    x = np.random.default_rng(5).standard_normal((2, B, I))
    _, h_n = layer(tg.tensor(x))
    h = cell(tg.tensor(x[1]), cell(tg.tensor(x[0])))
    np.testing.assert_allclose(h_n.numpy()[0], h.numpy(), rtol=1e-12, atol=1e-12)


def test_reset_before_gru_keeps_pytorch_parameter_names():
    assert list(rnn.GRU(I, H, reset_after=False).state_dict()) == list(rnn.GRU(I, H).state_dict())
