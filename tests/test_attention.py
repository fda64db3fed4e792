"""Additive (Bahdanau) attention: weights over the real positions, context, gradients."""

import numpy as np
import pytest

import rnn
import tensorgrad as tg


def loop_reference(q, k, W_q, W_k, v, b, mask):
    B, S, _ = k.shape
    context, weights = np.zeros((B, k.shape[2])), np.zeros((B, S))
    for i in range(B):
        e = np.array([v @ np.tanh(W_q @ q[i] + W_k @ k[i, s] + b) if mask[i, s] else -np.inf
                      for s in range(S)])
        a = np.exp(e - e.max())
        a /= a.sum()
        weights[i], context[i] = a, a @ k[i]
    return context, weights


def inputs(seed, B=3, S=5, Q=4, K=6, A=7):
    rng = np.random.default_rng(seed)
    q, k = rng.standard_normal((B, Q)), rng.standard_normal((B, S, K))
    W_q, W_k = rng.standard_normal((A, Q)), rng.standard_normal((A, K))
    v, b = rng.standard_normal(A), rng.standard_normal(A)
    mask = np.arange(S)[None, :] < np.array([5, 2, 4])[:, None]
    return q, k, W_q, W_k, v, b, mask


def test_additive_attention_equals_the_loop_over_positions():
    q, k, W_q, W_k, v, b, mask = inputs(0)
    context, weights = rnn.additive_attention(*(tg.tensor(x) for x in (q, k, W_q, W_k, v)), mask=mask,
                                              b=tg.tensor(b))
    want_c, want_w = loop_reference(q, k, W_q, W_k, v, b, mask)
    np.testing.assert_allclose(weights.numpy(), want_w, atol=1e-12)
    np.testing.assert_allclose(context.numpy(), want_c, atol=1e-12)
    assert np.all(weights.numpy()[~mask] == 0)


def test_padding_cannot_change_the_context():
    q, k, W_q, W_k, v, b, mask = inputs(1)
    k2 = k.copy()
    k2[~mask] = 100.0
    args = [tg.tensor(x) for x in (W_q, W_k, v)]
    c1, _ = rnn.additive_attention(tg.tensor(q), tg.tensor(k), *args, mask=mask)
    c2, _ = rnn.additive_attention(tg.tensor(q), tg.tensor(k2), *args, mask=mask)
    np.testing.assert_allclose(c1.numpy(), c2.numpy(), atol=1e-12)


def test_gradients_pass_gradcheck():
    q, k, W_q, W_k, v, b, mask = inputs(2, B=2, S=3, Q=2, K=3, A=2)
    mask = np.array([[1, 1, 0], [1, 1, 1]], dtype=bool)
    ts = [tg.tensor(x, requires_grad=True) for x in (q, k, W_q, W_k, v, b)]

    def f(q, k, W_q, W_k, v, b):
        context, weights = rnn.additive_attention(q, k, W_q, W_k, v, mask=mask, b=b)
        return (context * context).sum() + (weights * weights).sum()

    assert tg.gradcheck(f, ts)


def test_the_module_holds_its_parameters_and_uses_the_function():
    tg.manual_seed(0)
    att = rnn.AdditiveAttention(4, 6, 7, dtype=np.float64)
    assert sorted(n for n, _ in att.named_parameters()) == ["W_k", "W_q", "b", "v"]
    q, k, *_ = inputs(3)
    mask = np.ones((3, 5), dtype=bool)
    c, w = att(tg.tensor(q), tg.tensor(k), mask=mask)
    want_c, want_w = loop_reference(q, k, *(p.numpy() for p in (att.W_q, att.W_k, att.v, att.b)), mask)
    np.testing.assert_allclose(w.numpy(), want_w, atol=1e-12)
    np.testing.assert_allclose(w.numpy().sum(axis=1), 1.0)
    c2, w2 = att(tg.tensor(q), tg.tensor(k), mask=mask, projected_keys=att.project_keys(tg.tensor(k)))
    np.testing.assert_array_equal(c2.numpy(), c.numpy())


@pytest.mark.parametrize("mask, message", [
    (np.ones((3, 4), dtype=bool), r"mask must have shape \(B, S\)"),
    (np.zeros((3, 5), dtype=bool), "no real position"),
])
def test_bad_masks_get_a_clear_error(mask, message):
    q, k, W_q, W_k, v, b, _ = inputs(4)
    with pytest.raises(ValueError, match=message):
        rnn.additive_attention(*(tg.tensor(x) for x in (q, k, W_q, W_k, v)), mask=mask)


def test_keys_without_a_position_axis_get_a_clear_error():
    q, k, W_q, W_k, v, b, _ = inputs(5)
    with pytest.raises(ValueError, match=r"keys \(B, S, K\)"):
        rnn.additive_attention(tg.tensor(q), tg.tensor(k[:, 0]), tg.tensor(W_q), tg.tensor(W_k), tg.tensor(v))


def test_the_module_runs_on_a_device_with_a_host_mask():
    from tensorgrad.testing import simulated_device

    with simulated_device():
        tg.manual_seed(0)
        att = rnn.AdditiveAttention(4, 6, 7, dtype=np.float64, device="cuda")
        q = tg.randn(2, 4, dtype=np.float64, device="cuda")
        k = tg.randn(2, 3, 6, dtype=np.float64, device="cuda")
        context, weights = att(q, k, mask=np.array([[True, True, False], [True, True, True]]))
        assert context.device == "cuda" and float(weights.sum().item()) == pytest.approx(2.0)
