"""rnn.MinGRU: the paper's equations, modes equal, step() equal to the sequence, GRU conventions, training."""

import numpy as np
import pytest

import rnn
import tensorgrad as tg
from rnn.mingru import g, log_g
from tensorgrad import functional as F

T, B, I, H = 6, 3, 4, 5
MODES = ["parallel", "sequential", "log"]
CLOSE = dict(rtol=1e-10, atol=1e-12)


def _model(seed=0, **options):
    tg.manual_seed(seed)
    return rnn.MinGRU(I, H, dtype=np.float64, **options)


def _x(shape, seed=1, requires_grad=False):
    return tg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


def _positive_h0(shape, seed=2):
    return tg.tensor(np.random.default_rng(seed).uniform(0.1, 2.0, shape), requires_grad=True)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


# ------------------------------------------------------------------ the equations


def test_g_is_x_plus_half_above_zero_and_sigmoid_below():
    x = np.array([-3.0, -0.5, 0.0, 0.25, 4.0])
    np.testing.assert_allclose(g(tg.tensor(x)).numpy(), np.where(x >= 0, x + 0.5, _sigmoid(x)), **CLOSE)


def test_log_g_is_the_log_of_g():
    x = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(log_g(tg.tensor(x)).numpy(), np.log(g(tg.tensor(x)).numpy()), **CLOSE)


def test_one_layer_follows_the_papers_equations():
    m = _model()
    x, h0 = _x((T, B, I)), _positive_h0((1, B, H))
    out, h_n = m(x, h0)
    W, b = m.weight_ih_l0.numpy(), m.bias_ih_l0.numpy()
    h = h0.numpy()[0]
    for t in range(T):
        pre = x.numpy()[t] @ W.T + b
        z, candidate = _sigmoid(pre[:, :H]), pre[:, H:]
        h = (1 - z) * h + z * np.where(candidate >= 0, candidate + 0.5, _sigmoid(candidate))
        np.testing.assert_allclose(out.numpy()[t], h, **CLOSE)
    np.testing.assert_allclose(h_n.numpy()[0], h, **CLOSE)


def test_parameter_names_and_shapes():
    m = _model(num_layers=2)
    assert {n: p.shape for n, p in m.named_parameters()} == {
        "weight_ih_l0": (2 * H, I), "bias_ih_l0": (2 * H,),
        "weight_ih_l1": (2 * H, H), "bias_ih_l1": (2 * H,)}
    assert [n for n, _ in _model(bias=False).named_parameters()] == ["weight_ih_l0"]


def test_init_is_uniform_within_one_over_sqrt_hidden():
    tg.manual_seed(0)
    m = rnn.MinGRU(8, 64)
    bound = 1 / np.sqrt(64)
    for p in m.parameters():
        assert p.dtype == np.float32 and np.abs(p.numpy()).max() <= bound
    assert m.weight_ih_l0.numpy().std() > 0.8 * bound / np.sqrt(3)


# ------------------------------------------------------------------ modes


def _outputs_and_grads(m, mode, x, h0):
    m.mode = mode
    m.zero_grad()
    x.grad = h0.grad = None
    out, h_n = m(x, h0)
    w = np.random.default_rng(3).standard_normal(out.shape)
    ((out * tg.tensor(w)).sum() + (h_n * h_n).sum()).backward()
    return {"out": out.numpy(), "h_n": h_n.numpy(), "dx": x.grad.array.copy(), "dh0": h0.grad.array.copy(),
            **{n: p.grad.array.copy() for n, p in m.named_parameters()}}


@pytest.mark.parametrize("layers", [1, 2])
def test_every_mode_gives_the_same_outputs_and_gradients(layers):
    m = _model(num_layers=layers)
    x, h0 = _x((T, B, I), requires_grad=True), _positive_h0((layers, B, H))
    reference = _outputs_and_grads(m, "parallel", x, h0)
    for mode in ("sequential", "log"):
        result = _outputs_and_grads(m, mode, x, h0)
        for name in reference:
            np.testing.assert_allclose(result[name], reference[name], **CLOSE, err_msg=f"{mode}: {name}")


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_through_input_and_state(mode):
    m = _model(mode=mode, num_layers=2)
    x, h0 = _x((4, 2, I), requires_grad=True), _positive_h0((2, 2, H))
    assert tg.gradcheck(lambda x, h0: m(x, h0)[0], [x, h0])


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck_through_the_weights(mode):
    m = _model(mode=mode, num_layers=2)
    x = _x((5, 2, I))
    # the parameters are leaves: gradcheck perturbs them in place, so m(x) sees each change
    assert tg.gradcheck(lambda *params: m(x)[0], list(m.parameters()))


def test_mode_log_accepts_no_h0_as_a_zero_start():
    m = _model()
    x = _x((T, B, I))
    m.mode = "parallel"
    expected = m(x)[0].numpy()
    m.mode = "log"
    np.testing.assert_allclose(m(x)[0].numpy(), expected, **CLOSE)


# ------------------------------------------------------------------ step()


@pytest.mark.parametrize("layers", [1, 3])
def test_step_by_step_equals_the_sequence(layers):
    m = _model(num_layers=layers)
    x, h0 = _x((T, B, I)), _positive_h0((layers, B, H))
    out, h_n = m(x, h0)
    h = h0
    for t in range(T):
        out_t, h = m.step(x[t], h)
        np.testing.assert_allclose(out_t.numpy(), out.numpy()[t], **CLOSE)
    np.testing.assert_allclose(h.numpy(), h_n.numpy(), **CLOSE)


def test_step_without_state_starts_from_zeros():
    m = _model(num_layers=2)
    x = _x((1, B, I))
    out, h_n = m(x)
    out_t, h = m.step(x[0])
    np.testing.assert_allclose(out_t.numpy(), out.numpy()[0], **CLOSE)
    np.testing.assert_allclose(h.numpy(), h_n.numpy(), **CLOSE)


def test_step_on_an_unbatched_token():
    m = _model(num_layers=2)
    x = _x((T, I))
    out, h_n = m(x)
    h = None
    for t in range(T):
        out_t, h = m.step(x[t], h)
    assert out_t.shape == (H,) and h.shape == (2, H)
    np.testing.assert_allclose(out_t.numpy(), out.numpy()[-1], **CLOSE)
    np.testing.assert_allclose(h.numpy(), h_n.numpy(), **CLOSE)


# ------------------------------------------------------------------ torch.nn.GRU conventions


@pytest.mark.parametrize("layers", [1, 2])
def test_output_and_final_state_shapes(layers):
    out, h_n = _model(num_layers=layers)(_x((T, B, I)))
    assert out.shape == (T, B, H) and h_n.shape == (layers, B, H)
    np.testing.assert_allclose(h_n.numpy()[-1], out.numpy()[-1], **CLOSE)


def test_batch_first_is_the_same_model_transposed():
    x = _x((T, B, I))
    out, h_n = _model()(x)
    out_bf, h_n_bf = _model(batch_first=True)(tg.tensor(np.swapaxes(x.numpy(), 0, 1).copy()))
    assert out_bf.shape == (B, T, H)
    np.testing.assert_allclose(out_bf.numpy(), np.swapaxes(out.numpy(), 0, 1), **CLOSE)
    np.testing.assert_allclose(h_n_bf.numpy(), h_n.numpy(), **CLOSE)


def test_unbatched_input_is_a_batch_of_one():
    m = _model(num_layers=2)
    x = _x((T, I))
    out, h_n = m(x)
    out1, h_n1 = m(x.reshape(T, 1, I))
    assert out.shape == (T, H) and h_n.shape == (2, H)
    np.testing.assert_allclose(out.numpy(), out1.numpy()[:, 0], **CLOSE)
    np.testing.assert_allclose(h_n.numpy(), h_n1.numpy()[:, 0], **CLOSE)


@pytest.mark.parametrize("mode", MODES)
def test_lengths_freeze_the_state_and_zero_the_outputs(mode):
    m = _model(num_layers=2, mode=mode)
    x = _x((T, B, I))
    lengths = [T, 2, 4]
    out, h_n = m(x, lengths=lengths)
    for b, n in enumerate(lengths):
        alone_out, alone_h = m(tg.tensor(x.numpy()[:n, b:b + 1].copy()))
        np.testing.assert_allclose(out.numpy()[:n, b], alone_out.numpy()[:, 0], **CLOSE)
        assert not out.numpy()[n:, b].any()
        np.testing.assert_allclose(h_n.numpy()[:, b], alone_h.numpy()[:, 0], **CLOSE)


def test_state_dict_round_trip_gives_the_same_outputs():
    x = _x((T, B, I))
    source, target = _model(seed=0, num_layers=2), _model(seed=5, num_layers=2)
    target.load_state_dict(source.state_dict())
    np.testing.assert_allclose(target(x)[0].numpy(), source(x)[0].numpy(), rtol=0, atol=0)


def test_double_casts_the_module_and_its_expected_input():
    tg.manual_seed(0)
    m = rnn.MinGRU(I, H).double()
    out, h_n = m(_x((T, B, I)))
    assert out.dtype == h_n.dtype == np.float64


def test_repr_names_the_options():
    assert repr(_model(num_layers=2, mode="log")) == "MinGRU(4, 5, num_layers=2, mode='log')"


# ------------------------------------------------------------------ errors


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        rnn.MinGRU(I, H, mode="scan")


def test_log_mode_refuses_a_non_positive_h0():
    m = _model(mode="log")
    with pytest.raises(ValueError, match="h0 must be positive"):
        m(_x((T, B, I)), tg.tensor(np.zeros((1, B, H))))


def test_wrong_input_size_is_refused():
    with pytest.raises(ValueError, match="input_size=4"):
        _model()(_x((T, B, I + 1)))


def test_wrong_h0_shape_is_refused():
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 3, 5\)"):
        _model()(_x((T, B, I)), tg.tensor(np.ones((B, H))))


def test_step_refuses_a_sequence():
    with pytest.raises(ValueError, match="MinGRU.step: input must have 1 or 2 dimensions"):
        _model().step(_x((T, B, I)))


# ------------------------------------------------------------------ it learns


def test_learns_to_latch_the_first_pulse():
    # y_t = 1 once any x_s = 1 (s <= t): the gate must open on a pulse and then hold
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    m = rnn.MinGRU(1, 8, dtype=np.float64)
    head = tg.nn.Linear(8, 1, dtype=np.float64)
    opt = tg.optim.Adam(list(m.parameters()) + list(head.parameters()), lr=0.05)

    def batch():
        x = (rng.random((20, 16, 1)) < 0.05).astype(np.float64)
        return tg.tensor(x), tg.tensor((np.cumsum(x, axis=0) > 0).astype(np.float64))

    def loss_on(x, y):
        return F.binary_cross_entropy_with_logits(head(m(x)[0]), y)

    held_out = batch()
    with tg.no_grad():
        start = loss_on(*held_out).item()
    for _ in range(60):
        loss = loss_on(*batch())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with tg.no_grad():
        end = loss_on(*held_out).item()
    assert end < 0.15 * start
