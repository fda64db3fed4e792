"""rnn.LRU: the paper's equations and init, modes equal, gradients, carried state, errors."""

import numpy as np
import pytest

import rnn
import tensorgrad as tg
from rnn.lru import Polar

T, B, H, N = 7, 2, 3, 4
CLOSE = dict(rtol=1e-10, atol=1e-12)


def _model(seed=0, **options):
    tg.manual_seed(seed)
    return rnn.LRU(H, N, dtype=np.float64, **options)


def _x(shape=(T, B, H), seed=1, requires_grad=False):
    return tg.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


def _eigenvalues(m):
    return np.exp(-np.exp(m.nu_log.numpy()) + 1j * np.exp(m.theta_log.numpy()))


def test_follows_the_papers_equations():
    m = _model()
    x = _x()
    y, (h_re, h_im) = m(x)
    lam = _eigenvalues(m)
    B_ = (m.B_re.numpy() + 1j * m.B_im.numpy()) * np.exp(m.gamma_log.numpy())[:, None]
    C_ = m.C_re.numpy() + 1j * m.C_im.numpy()
    h = np.zeros((B, N), complex)
    for t in range(T):
        u = x.numpy()[t]
        h = lam * h + u @ B_.T
        np.testing.assert_allclose(y.numpy()[t], (h @ C_.T).real + m.D.numpy() * u, **CLOSE)
    np.testing.assert_allclose(h_re.numpy() + 1j * h_im.numpy(), h, **CLOSE)


def test_init_puts_eigenvalues_on_the_ring_and_normalises_the_input():
    tg.manual_seed(0)
    m = rnn.LRU(H, 256, r_min=0.4, r_max=0.9, max_phase=np.pi, dtype=np.float64)
    lam = _eigenvalues(m)
    assert (np.abs(lam) >= 0.4 - 1e-12).all() and (np.abs(lam) <= 0.9 + 1e-12).all()
    assert (np.angle(lam) >= 0).all() and (np.angle(lam) <= np.pi + 1e-12).all()
    np.testing.assert_allclose(np.exp(m.gamma_log.numpy()), np.sqrt(1 - np.abs(lam) ** 2), **CLOSE)


def test_parameter_names_and_shapes():
    assert {n: p.shape for n, p in _model().named_parameters()} == {
        "nu_log": (N,), "theta_log": (N,), "gamma_log": (N,), "B_re": (N, H), "B_im": (N, H),
        "C_re": (H, N), "C_im": (H, N), "D": (H,)}


def test_parallel_and_sequential_give_the_same_outputs_and_gradients():
    x = _x(requires_grad=True)
    results = {}
    for mode in ("parallel", "sequential"):
        m = _model(mode=mode)
        x.grad = None
        y, (h_re, h_im) = m(x)
        (y * y).sum().backward()
        results[mode] = [y.numpy(), h_re.numpy(), h_im.numpy(), x.grad] + [p.grad for p in m.parameters()]
    for s, p in zip(results["sequential"], results["parallel"], strict=True):
        np.testing.assert_allclose(p, s, **CLOSE)


@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_gradcheck_through_the_parameters(mode):
    m = _model(mode=mode)
    x = _x((5, B, H))
    assert tg.gradcheck(lambda *params: m(x)[0], list(m.parameters()))


def test_gradcheck_through_input_and_state():
    m = _model()
    x = _x((5, B, H), requires_grad=True)
    h0 = [_x((B, N), seed=s, requires_grad=True) for s in (2, 3)]
    assert tg.gradcheck(lambda x, h_re, h_im: m(x, (h_re, h_im))[0], [x, *h0])


def test_carrying_h_n_over_continues_the_sequence():
    m = _model()
    x = _x()
    y, h_n = m(x)
    y1, h1 = m(x[:3])
    y2, h2 = m(x[3:], h1)
    np.testing.assert_allclose(np.concatenate([y1.numpy(), y2.numpy()]), y.numpy(), **CLOSE)
    for a, b in zip(h2, h_n, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), **CLOSE)


def test_batch_first_is_the_same_layer_transposed():
    x = _x()
    y, _ = _model()(x)
    y_bf, _ = _model(batch_first=True)(tg.tensor(np.swapaxes(x.numpy(), 0, 1).copy()))
    np.testing.assert_allclose(y_bf.numpy(), np.swapaxes(y.numpy(), 0, 1), **CLOSE)


def test_state_dict_round_trip_gives_the_same_outputs():
    x = _x()
    source, target = _model(seed=0), _model(seed=9)
    target.load_state_dict(source.state_dict())
    np.testing.assert_allclose(target(x)[0].numpy(), source(x)[0].numpy(), rtol=0, atol=0)


def test_polar_gradcheck():
    rng = np.random.default_rng(0)
    r, phi = (tg.tensor(rng.uniform(0.1, 2, 5), requires_grad=True) for _ in range(2))
    assert tg.gradcheck(lambda r, phi: Polar.apply(r, phi)[0] * 2 + Polar.apply(r, phi)[1], [r, phi])


def test_ring_outside_the_unit_disc_is_refused():
    with pytest.raises(ValueError, match="r_max <= 1"):
        rnn.LRU(H, N, r_max=1.5)


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="mode must be one of"):
        rnn.LRU(H, N, mode="log")


def test_h0_must_be_a_pair():
    with pytest.raises(TypeError, match="h0 must be a pair"):
        _model()(_x(), _x((B, N)))
