"""optim.lr_scheduler.ReduceLROnPlateau: torch's rule for lowering the rate when a metric stalls,
checked on hand-made metric sequences and, where torch is installed, against torch's rates."""

import math

import numpy as np
import pytest

import tensorgrad as tg
from tensorgrad import nn, optim
from tensorgrad.optim.lr_scheduler import ReduceLROnPlateau

try:
    import torch
except ImportError:
    torch = None

with_torch = pytest.mark.skipif(torch is None, reason="the torch side needs torch")


def _opt(lr=1.0, groups=1):
    params = [nn.Parameter(np.zeros(1)) for _ in range(groups)]
    return optim.SGD([{"params": [p], "lr": lr * (k + 1)} for k, p in enumerate(params)], lr=lr)


def _rates(scheduler, metrics):
    out = []
    for m in metrics:
        scheduler.step(m)
        out.append(scheduler.get_last_lr())
    return out


def test_the_rate_drops_after_patience_plus_one_evaluations_without_improvement():
    s = ReduceLROnPlateau(_opt(), patience=2)
    rates = [r[0] for r in _rates(s, [1.0, 1.0, 1.0, 1.0, 1.0])]
    assert rates == [1.0, 1.0, 1.0, pytest.approx(0.1), pytest.approx(0.1)]


def test_an_improvement_resets_the_count():
    s = ReduceLROnPlateau(_opt(), patience=1)
    assert [r[0] for r in _rates(s, [5.0, 5.0, 4.0, 4.0, 3.0])] == [1.0] * 5


def test_mode_max_improves_upwards_and_min_lr_is_a_floor():
    s = ReduceLROnPlateau(_opt(), mode="max", patience=0, factor=0.5, min_lr=0.3)
    assert [r[0] for r in _rates(s, [1.0, 2.0, 1.0, 1.0, 1.0])] == [1.0, 1.0, 0.5, 0.3, 0.3]


def test_cooldown_waits_before_counting_again():
    s = ReduceLROnPlateau(_opt(), patience=0, cooldown=2, factor=0.5)
    assert [r[0] for r in _rates(s, [1.0, 1.0, 1.0, 1.0, 1.0])] == [1.0, 0.5, 0.5, 0.5, 0.25]


def test_a_tensor_metric_is_accepted():
    s = ReduceLROnPlateau(_opt(), patience=0)
    s.step(tg.tensor(1.0))
    s.step(tg.tensor(2.0))
    assert s.get_last_lr()[0] == pytest.approx(0.1)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="factor should be < 1.0"):
        ReduceLROnPlateau(_opt(), factor=1.0)
    with pytest.raises(ValueError, match="mode 'lowest' is unknown"):
        ReduceLROnPlateau(_opt(), mode="lowest")
    with pytest.raises(ValueError, match="expected 2 min_lrs"):
        ReduceLROnPlateau(_opt(groups=2), min_lr=[0.1])


def test_state_dict_round_trips_through_a_checkpoint(tmp_path):
    s = ReduceLROnPlateau(_opt(), patience=1)
    _rates(s, [3.0, 3.0])
    tg.save({"sched": s.state_dict()}, tmp_path / "s.npz")
    resumed = ReduceLROnPlateau(_opt(), patience=1)
    resumed.load_state_dict(tg.load(tmp_path / "s.npz")["sched"])
    assert resumed.best == 3.0 and resumed.num_bad_epochs == 1
    assert _rates(resumed, [3.0]) == _rates(s, [3.0])
    fresh = ReduceLROnPlateau(_opt())
    assert fresh.best == math.inf


@with_torch
@pytest.mark.parametrize("kwargs", [{}, {"patience": 1}, {"mode": "max", "patience": 0, "factor": 0.5},
                                    {"patience": 0, "cooldown": 2, "min_lr": [0.02, 0.05]},
                                    {"threshold_mode": "abs", "threshold": 0.5, "patience": 1}])
def test_rates_match_torch(kwargs):
    metrics = [5.0, 4.9, 4.95, 4.0, 4.0, 4.0, 3.99, 4.2, 4.2, 2.0] * 3
    ours = ReduceLROnPlateau(_opt(groups=2), **kwargs)
    params = [torch.nn.Parameter(torch.zeros(1)) for _ in range(2)]
    torch_opt = torch.optim.SGD([{"params": [p], "lr": 1.0 * (k + 1)} for k, p in enumerate(params)], lr=1.0)
    theirs = torch.optim.lr_scheduler.ReduceLROnPlateau(torch_opt, **kwargs)
    for m in metrics:
        ours.step(m)
        theirs.step(m)
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        assert ours.num_bad_epochs == theirs.num_bad_epochs
