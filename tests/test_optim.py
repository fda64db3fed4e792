"""Optimizers against their formulas, clipping, and resuming from a state dict."""

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn, optim


def _param(values):
    return nn.Parameter(np.asarray(values, dtype=np.float64))


def test_sgd_step_is_p_minus_lr_g():
    p = _param([1.0, 2.0])
    p.grad = np.array([0.5, -1.0])
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, 2.1])


def test_sgd_momentum_accumulates_velocity():
    p = _param([0.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.9)
    for _ in range(2):
        p.grad = np.array([1.0])
        opt.step()
    np.testing.assert_allclose(p.data, [-(1.0 + 1.9)])


def test_adam_matches_its_formula_for_two_steps():
    p = _param([1.0])
    opt = optim.Adam([p], lr=0.1)
    m = v = 0.0
    x = 1.0
    for t, g in enumerate([0.5, -0.2], start=1):
        p.grad = np.array([g])
        opt.step()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g * g
        x -= 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
    np.testing.assert_allclose(p.data, [x], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5),
                                  lambda ps: optim.Adam(ps, lr=0.1)])
def test_optimizers_minimise_a_quadratic(make):
    p = _param([3.0, -2.0])
    opt = make([p])
    for _ in range(200):
        opt.zero_grad()
        ((p - 1.0) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(p.data, [1.0, 1.0], atol=1e-2)


def test_parameters_without_grad_are_skipped():
    p, q = _param([1.0]), _param([1.0])
    p.grad = np.array([1.0])
    optim.Adam([p, q], lr=0.1).step()
    assert q.data[0] == 1.0 and p.data[0] != 1.0


def test_clip_grad_norm_returns_the_norm_before_clipping():
    p, q = _param([0.0, 0.0]), _param([0.0])
    p.grad, q.grad = np.array([3.0, 0.0]), np.array([4.0])
    norm = optim.clip_grad_norm([p, q], max_norm=1.0)
    assert norm == pytest.approx(5.0)
    total = np.sqrt((p.grad**2).sum() + (q.grad**2).sum())
    assert total == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_leaves_small_gradients_alone():
    p = _param([0.0])
    p.grad = np.array([0.5])
    assert optim.clip_grad_norm([p], max_norm=1.0) == pytest.approx(0.5)
    assert p.grad[0] == 0.5


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adam])
def test_state_dict_resumes_exactly(cls):
    def run(opt, p, steps):
        for k in range(steps):
            p.grad = np.array([np.sin(k + p.data[0])])
            opt.step()

    p = _param([1.0])
    kwargs = {"lr": 0.1, "momentum": 0.9} if cls is optim.SGD else {"lr": 0.1}
    opt = cls([p], **kwargs)
    run(opt, p, 3)
    saved_p, saved = p.data.copy(), opt.state_dict()
    run(opt, p, 3)
    q = _param(saved_p)
    resumed = cls([q], **kwargs)
    resumed.load_state_dict(saved)
    run(resumed, q, 3)
    np.testing.assert_allclose(q.data, p.data, rtol=1e-12)


def test_optimizer_refuses_nonsense():
    with pytest.raises(ValueError, match="no parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate must be a number >= 0"):
        optim.Adam([_param([1.0])], lr=-1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([_param([1.0]) * 2], lr=0.1)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([np.zeros(2)], lr=0.1)
