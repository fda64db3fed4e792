"""Learning-rate schedules: closed forms, PyTorch's call protocol, and saving/resuming."""

import math
import warnings

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn, optim
from tensorgrad.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, StepLR


def _opt(lr=1.0, groups=1):
    params = [nn.Parameter(np.zeros(1)) for _ in range(groups)]
    return optim.SGD([{"params": [p], "lr": lr * (k + 1)} for k, p in enumerate(params)], lr=lr)


def _lrs(scheduler, epochs):
    """The first group's lr at epochs 0, 1, ..., epochs - 1 (optimizer.step() then scheduler.step())."""
    out = []
    for _ in range(epochs):
        out.append(scheduler.get_last_lr()[0])
        scheduler.optimizer.step()
        scheduler.step()
    return out


def test_scheduler_is_reachable_as_in_pytorch():
    assert tg.optim.lr_scheduler.StepLR is StepLR


def test_steplr_multiplies_by_gamma_every_step_size_epochs():
    lrs = _lrs(StepLR(_opt(1.0), step_size=3, gamma=0.5), 8)
    np.testing.assert_allclose(lrs, [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25])


def test_steplr_default_gamma_is_a_tenth():
    assert StepLR(_opt(), step_size=1).gamma == 0.1


def test_cosine_annealing_follows_the_closed_form():
    T, low = 6, 0.1
    lrs = _lrs(CosineAnnealingLR(_opt(1.0), T_max=T, eta_min=low), 2 * T + 1)
    expected = [low + (1 - low) * (1 + math.cos(math.pi * e / T)) / 2 for e in range(2 * T + 1)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_cosine_annealing_reaches_zero_by_default():
    lrs = _lrs(CosineAnnealingLR(_opt(1.0), T_max=4), 5)
    assert lrs[-1] == pytest.approx(0.0, abs=1e-15)


def test_lambdalr_multiplies_the_initial_lr():
    lrs = _lrs(LambdaLR(_opt(2.0), lambda e: 1 / (e + 1)), 4)
    np.testing.assert_allclose(lrs, [2.0, 1.0, 2 / 3, 0.5])


def test_lambdalr_takes_one_function_per_group():
    opt = _opt(1.0, groups=2)
    scheduler = LambdaLR(opt, [lambda e: 1.0, lambda e: 0.5**e])
    opt.step()
    scheduler.step()
    assert scheduler.get_last_lr() == [1.0, 1.0]  # group 1 started at lr 2.0


def test_lambdalr_refuses_the_wrong_number_of_functions():
    with pytest.raises(ValueError, match="expected 2 lr_lambdas"):
        LambdaLR(_opt(1.0, groups=2), [lambda e: 1.0])


def test_schedulers_set_every_groups_lr_and_the_optimizer_uses_it():
    opt = _opt(1.0, groups=2)
    scheduler = StepLR(opt, step_size=1, gamma=0.5)
    opt.step()
    scheduler.step()
    assert [g["lr"] for g in opt.param_groups] == [0.5, 1.0] == scheduler.get_last_lr()
    p = opt.param_groups[0]["params"][0]
    p.grad = np.array([1.0])
    opt.step()
    assert p.array[0] == -0.5


def test_stepping_the_scheduler_before_the_optimizer_warns():
    scheduler = StepLR(_opt(), step_size=1)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\) before optimizer.step\(\)"):
        scheduler.step()


def test_the_right_order_does_not_warn():
    scheduler = StepLR(_opt(), step_size=1)
    scheduler.optimizer.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scheduler.step()


def test_initial_lr_is_recorded_in_the_groups():
    opt = _opt(0.3)
    StepLR(opt, step_size=2)
    assert opt.param_groups[0]["initial_lr"] == 0.3


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="no 'initial_lr'"):
        StepLR(_opt(), step_size=2, last_epoch=4)


@pytest.mark.parametrize("make", [lambda o: StepLR(o, step_size=2, gamma=0.5),
                                  lambda o: CosineAnnealingLR(o, T_max=5, eta_min=0.01),
                                  lambda o: LambdaLR(o, lambda e: 0.9**e)])
def test_state_dict_through_a_checkpoint_resumes_the_schedule(make, tmp_path):
    opt = _opt(1.0)
    scheduler = make(opt)
    _lrs(scheduler, 3)
    tg.save({"opt": opt.state_dict(), "sched": scheduler.state_dict()}, tmp_path / "c.npz")
    rest = _lrs(scheduler, 5)

    opt2 = _opt(1.0)
    scheduler2 = make(opt2)
    state = tg.load(tmp_path / "c.npz")
    opt2.load_state_dict(state["opt"])
    scheduler2.load_state_dict(state["sched"])
    np.testing.assert_allclose(_lrs(scheduler2, 5), rest, rtol=1e-15)


def test_state_dict_holds_plain_numbers():
    state = StepLR(_opt(), step_size=2).state_dict()
    assert state == {"last_epoch": 0, "base_lrs": [1.0], "_last_lr": [1.0], "_step_count": 1,
                     "step_size": 2, "gamma": 0.1}


def test_load_state_dict_refuses_another_schedulers_state():
    state = StepLR(_opt(), step_size=2).state_dict()
    with pytest.raises(KeyError, match="unexpected entries"):
        CosineAnnealingLR(_opt(), T_max=3).load_state_dict(state)
