"""Optimizers against their formulas, clipping, and resuming from a state dict."""

import math

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn, optim
from tensorgrad.testing import count_ops


def _param(values):
    return nn.Parameter(np.asarray(values, dtype=np.float64))


def test_sgd_step_is_p_minus_lr_g():
    p = _param([1.0, 2.0])
    p.grad = np.array([0.5, -1.0])
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.array, [0.95, 2.1])


def test_sgd_momentum_accumulates_velocity():
    p = _param([0.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.9)
    for _ in range(2):
        p.grad = np.array([1.0])
        opt.step()
    np.testing.assert_allclose(p.array, [-(1.0 + 1.9)])


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
    np.testing.assert_allclose(p.array, [x], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5),
                                  lambda ps: optim.Adam(ps, lr=0.1)])
def test_optimizers_minimise_a_quadratic(make):
    p = _param([3.0, -2.0])
    opt = make([p])
    for _ in range(200):
        opt.zero_grad()
        ((p - 1.0) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(p.array, [1.0, 1.0], atol=1e-2)


def test_parameters_without_grad_are_skipped():
    p, q = _param([1.0]), _param([1.0])
    p.grad = np.array([1.0])
    optim.Adam([p, q], lr=0.1).step()
    assert q.array[0] == 1.0 and p.array[0] != 1.0


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
            p.grad = np.array([np.sin(k + p.array[0])])
            opt.step()

    p = _param([1.0])
    kwargs = {"lr": 0.1, "momentum": 0.9} if cls is optim.SGD else {"lr": 0.1}
    opt = cls([p], **kwargs)
    run(opt, p, 3)
    saved_p, saved = p.array.copy(), opt.state_dict()
    run(opt, p, 3)
    q = _param(saved_p)
    resumed = cls([q], **kwargs)
    resumed.load_state_dict(saved)
    run(resumed, q, 3)
    np.testing.assert_allclose(q.array, p.array, rtol=1e-12)


def test_optimizer_refuses_nonsense():
    with pytest.raises(ValueError, match="no parameters"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="learning rate must be a number >= 0"):
        optim.Adam([_param([1.0])], lr=-1)
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([_param([1.0]) * 2], lr=0.1)
    with pytest.raises(TypeError, match="not a Tensor"):
        optim.SGD([np.zeros(2)], lr=0.1)


# ------------------------------------------------------------ AdamW, RMSprop, SGD
def test_adamw_decays_the_weights_before_the_adam_step():
    p = _param([2.0])
    opt = optim.AdamW([p], lr=0.1, weight_decay=0.5)
    p.grad = np.array([0.4])
    opt.step()
    # First Adam step: m_hat = g, v_hat = g^2, so the step is lr * g / (|g| + eps).
    expected = 2.0 * (1 - 0.1 * 0.5) - 0.1 * 0.4 / (0.4 + 1e-8)
    np.testing.assert_allclose(p.array, [expected], rtol=1e-12)


def test_adamw_default_weight_decay_is_pytorchs():
    assert optim.AdamW([_param([1.0])]).param_groups[0]["weight_decay"] == 0.01


def test_rmsprop_matches_its_formula_for_two_steps():
    p = _param([1.0])
    opt = optim.RMSprop([p], lr=0.01)
    s, x = 0.0, 1.0
    for g in [0.5, -0.2]:
        p.grad = np.array([g])
        opt.step()
        s = 0.99 * s + 0.01 * g * g
        x -= 0.01 * g / (np.sqrt(s) + 1e-8)
    np.testing.assert_allclose(p.array, [x], rtol=1e-12)


def test_rmsprop_centered_with_momentum_matches_its_formula():
    p = _param([1.0])
    opt = optim.RMSprop([p], lr=0.01, alpha=0.9, momentum=0.5, centered=True)
    s = a = b = 0.0
    x = 1.0
    for g in [0.5, -0.2, 0.1]:
        p.grad = np.array([g])
        opt.step()
        s = 0.9 * s + 0.1 * g * g
        a = 0.9 * a + 0.1 * g
        b = 0.5 * b + g / (np.sqrt(s - a * a) + 1e-8)
        x -= 0.01 * b
    np.testing.assert_allclose(p.array, [x], rtol=1e-12)


def test_sgd_nesterov_steps_along_gradient_plus_momentum_times_velocity():
    p = _param([0.0])
    opt = optim.SGD([p], lr=1.0, momentum=0.5, nesterov=True)
    for _ in range(2):
        p.grad = np.array([1.0])
        opt.step()
    # v1 = 1, step 1 + 0.5 * 1; v2 = 1.5, step 1 + 0.5 * 1.5
    np.testing.assert_allclose(p.array, [-(1.5 + 1.75)])


def test_sgd_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="nesterov momentum needs momentum > 0"):
        optim.SGD([_param([1.0])], lr=0.1, nesterov=True)


# ------------------------------------------------------------------ param groups
def test_param_groups_hold_params_and_settings():
    p = _param([1.0])
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    (group,) = opt.param_groups
    assert group["params"] == [p] and group["lr"] == 0.1 and group["momentum"] == 0.9


def test_groups_given_as_dicts_take_missing_settings_from_the_defaults():
    p, q = _param([1.0]), _param([1.0])
    opt = optim.SGD([{"params": [p]}, {"params": [q], "lr": 1.0}], lr=0.1)
    p.grad, q.grad = np.array([1.0]), np.array([1.0])
    opt.step()
    np.testing.assert_allclose([p.array[0], q.array[0]], [0.9, 0.0])


def test_lr_property_reads_and_writes_the_first_group():
    opt = optim.Adam([_param([1.0])], lr=0.1)
    opt.lr = 0.5
    assert opt.param_groups[0]["lr"] == 0.5 and opt.lr == 0.5


def test_add_param_group_adds_a_group_with_state():
    p, q = _param([1.0]), _param([1.0])
    opt = optim.Adam([p], lr=0.1)
    opt.add_param_group({"params": q, "lr": 0.2})
    assert opt.params == [p, q] and opt.param_groups[1]["lr"] == 0.2
    q.grad = np.array([1.0])
    opt.step()
    assert q.array[0] == pytest.approx(1.0 - 0.2, rel=1e-6)


def test_a_parameter_given_twice_is_refused():
    p = _param([1.0])
    with pytest.raises(ValueError, match="more than one place"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


def test_a_single_tensor_instead_of_an_iterable_is_refused():
    with pytest.raises(TypeError, match=r"got one Tensor; pass \[tensor\]"):
        optim.SGD(_param([1.0]), lr=0.1)


def test_optimizer_zero_grad_sets_none_or_zeros():
    p = _param([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1)
    p.grad = np.array([1.0, 1.0])
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(p.grad, [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_step_calls_the_closure_and_returns_its_loss():
    p = _param([3.0])
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    assert opt.step(closure).item() == 9.0 and p.array[0] == pytest.approx(3.0 - 0.1 * 6.0)


def test_adam_counts_steps_per_parameter():
    """A parameter that first gets a gradient at step 3 starts its bias correction at t = 1 (as torch)."""
    p, q = _param([1.0]), _param([1.0])
    opt = optim.Adam([p, q], lr=0.1)
    for _ in range(2):
        p.grad = np.array([1.0])
        opt.step()
    q.grad = np.array([0.5])
    opt.step()
    np.testing.assert_allclose(q.array, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8)], rtol=1e-12)


@pytest.mark.parametrize("make", [lambda ps: optim.AdamW(ps, lr=0.1),
                                  lambda ps: optim.RMSprop(ps, lr=0.1, momentum=0.5, centered=True),
                                  lambda ps: optim.SGD([{"params": ps[:1]}, {"params": ps[1:], "lr": 0.2}],
                                                       lr=0.1, momentum=0.9)])
def test_state_dict_with_groups_resumes_exactly(make, tmp_path):
    def run(opt, ps, steps):
        for k in range(steps):
            for p in ps:
                p.grad = np.sin(k + p.array)
            opt.step()

    ps = [_param([1.0, 2.0]), _param([0.5])]
    opt = make(ps)
    run(opt, ps, 3)
    tg.save({"opt": opt.state_dict()}, tmp_path / "opt.npz")
    saved_ps = [p.array.copy() for p in ps]
    run(opt, ps, 3)
    qs = [_param(d) for d in saved_ps]
    resumed = make(qs)
    resumed.load_state_dict(tg.load(tmp_path / "opt.npz")["opt"])
    run(resumed, qs, 3)
    for p, q in zip(ps, qs, strict=True):
        np.testing.assert_allclose(q.array, p.array, rtol=1e-12)


def test_load_state_dict_restores_each_groups_settings():
    p, q = _param([1.0]), _param([1.0])
    opt = optim.Adam([{"params": [p]}, {"params": [q], "lr": 0.2}], lr=0.1, betas=(0.8, 0.9))
    opt.param_groups[1]["lr"] = 0.07  # as a scheduler would
    fresh = optim.Adam([{"params": [p]}, {"params": [q]}], lr=0.1)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[1]["lr"] == 0.07 and fresh.param_groups[0]["betas"] == (0.8, 0.9)


def test_old_state_dicts_with_one_lr_and_step_count_still_load():
    p = _param([1.0])
    opt = optim.Adam([p], lr=0.1)
    opt.load_state_dict({"steps": np.asarray(2), "lr": np.asarray(0.3),
                         "m.0": np.array([0.1]), "v.0": np.array([0.01])})
    assert opt.lr == 0.3 and opt.state["step"][0] == 2


# ------------------------------------------------------------------ clipping
def test_clip_grad_norm_underscore_is_pytorchs_name_and_returns_a_scalar_with_item():
    p = _param([0.0, 0.0])
    p.grad = np.array([3.0, 4.0])
    norm = optim.clip_grad_norm_(p, max_norm=10.0)  # a single tensor is accepted, as torch
    assert norm.item() == pytest.approx(5.0) and float(norm) == pytest.approx(5.0)
    assert optim.clip_grad_norm is optim.clip_grad_norm_


def test_clip_grad_norm_accepts_a_generator():
    m = nn.Linear(2, 1)
    m(tg.ones(1, 2) * 100).sum().backward()
    before = optim.clip_grad_norm_(m.parameters(), max_norm=1.0)
    assert before > 1.0
    assert optim.clip_grad_norm_(m.parameters(), max_norm=1.0) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_with_infinity_norm_uses_the_largest_entry():
    p = _param([0.0, 0.0])
    p.grad = np.array([-3.0, 2.0])
    assert optim.clip_grad_norm_([p], 1.0, norm_type=float("inf")) == pytest.approx(3.0)
    np.testing.assert_allclose(p.grad, [-1.0, 2 / 3], rtol=1e-5)


def test_clip_grad_norm_can_refuse_a_nonfinite_norm():
    p = _param([0.0])
    p.grad = np.array([np.inf])
    with pytest.raises(RuntimeError, match="total norm of the gradients is inf"):
        optim.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)


@pytest.mark.parametrize("norm_type", [2.0, math.inf, 1.0])
def test_clip_grad_norm_reads_one_number_back_from_the_device(simulated_gpu, norm_type):
    """On a GPU each read of a device number waits for the queue: one for the norm of every parameter."""
    shapes = [(2, 3), (4,), (0,), ()]
    params = [tg.tensor(np.full(shape, 3.0), requires_grad=True, device="cuda") for shape in shapes]
    for p in params:
        p.grad = p.array * 1.0
    with count_ops() as ops:
        norm = optim.clip_grad_norm_(params, max_norm=1.0, norm_type=norm_type)
    expected = {2.0: 3.0 * math.sqrt(11), math.inf: 3.0, 1.0: 33.0}[norm_type]
    assert norm == pytest.approx(expected) and ops.by_name["device_to_host"] == 1
    assert all(type(p.grad.array) is type(p.array) for p in params)
