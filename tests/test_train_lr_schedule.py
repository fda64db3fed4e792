"""python -m rnn train --lr-schedule: the rates it sets, exact resume with it, what --resume may change."""

import signal

import pytest
from test_cli import _one_line_error, _signal_at_validation, assert_same_weights, resume, train, weights

import tensorgrad as tg
from rnn import cli


@pytest.fixture
def rates(monkeypatch):
    """The learning rate of every optimizer step taken (read just before Adam updates the weights)."""
    seen = []
    real_step = tg.optim.Adam.step

    def step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(tg.optim.Adam, "step", step)
    return seen


# ------------------------------------------------------------------- the schedules
def test_cosine_falls_from_one_to_the_floor_at_the_horizon_and_stays_there():
    f = [cli.lr_factor("cosine", s, 100) for s in range(151)]
    assert f[0] == 1.0 and f[100] == pytest.approx(cli.LR_FLOOR)
    assert f[50] == pytest.approx((1 + cli.LR_FLOOR) / 2)
    assert all(a > b for a, b in zip(f[:100], f[1:101], strict=True))  # strictly falling
    assert f[100:] == [f[100]] * 51


def test_step_drops_to_the_floor_for_the_last_quarter():
    assert [cli.lr_factor("step", s, 8) for s in range(10)] == [1.0] * 6 + [cli.LR_FLOOR] * 4


def test_constant_is_one_everywhere():
    assert {cli.lr_factor("constant", s, 10) for s in range(20)} == {1.0}


def test_an_unknown_schedule_names_the_known_ones():
    with pytest.raises(ValueError, match="constant, cosine, step"):
        cli.lr_factor("linear", 0, 10)


@pytest.mark.parametrize("schedule", cli.SCHEDULES)
def test_each_optimizer_step_uses_lr_times_the_schedule_at_its_step(corpus, tmp_path, rates, schedule):
    assert train(corpus, tmp_path / "run", "--steps", "8", "--lr", "0.01", "--lr-schedule", schedule) == 0
    assert rates == [0.01 * cli.lr_factor(schedule, s, 8) for s in range(8)]  # bit for bit


def test_the_checkpoint_holds_the_schedule_and_its_state(corpus, tmp_path):
    assert train(corpus, tmp_path / "run", "--steps", "4", "--lr-schedule", "cosine") == 0
    saved = tg.load(tmp_path / "run" / "latest.npz")
    assert saved["config"]["lr_schedule"] == "cosine" and saved["config"]["schedule_steps"] == 4
    assert saved["lr_scheduler"]["last_epoch"] == 4
    assert saved["lr_scheduler"]["_last_lr"] == [3e-3 * cli.lr_factor("cosine", 4, 4)]


def test_the_default_schedule_is_cosine(corpus, tmp_path, rates):
    # it lowers the main job's validation loss (measured, see the README's "Learning-rate schedule")
    assert train(corpus, tmp_path / "run", "--steps", "4") == 0
    assert tg.load(tmp_path / "run" / "latest.npz")["config"]["lr_schedule"] == "cosine"
    assert rates == [3e-3 * cli.lr_factor("cosine", s, 4) for s in range(4)]


# ----------------------------------------------------------------- exact resume
@pytest.mark.parametrize("schedule", ["cosine", "step"])
def test_n_steps_straight_equal_n_over_2_plus_resume_with_a_schedule(corpus, tmp_path, monkeypatch, schedule):
    opts = ["--steps", "12", "--lr-schedule", schedule, "--layers", "2", "--dropout", "0.3"]
    assert train(corpus, tmp_path / "straight", *opts) == 0
    _signal_at_validation(monkeypatch, 3, signal.SIGTERM)  # at step 6 of the 12 the schedule is sized for
    assert train(corpus, tmp_path / "split", *opts) == 128 + signal.SIGTERM
    assert tg.load(tmp_path / "split" / "latest.npz")["step"] == 6
    monkeypatch.undo()
    assert resume(tmp_path / "split", "--valid-chars", "50000") == 0
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "split"))
    a, b = tg.load(tmp_path / "straight" / "latest.npz"), tg.load(tmp_path / "split" / "latest.npz")
    assert a["lr_scheduler"] == b["lr_scheduler"] and a["optimizer"]["group.0.lr"] == b["optimizer"][
        "group.0.lr"]


def test_resume_with_a_larger_steps_keeps_the_schedule_length_and_goes_on_at_the_floor(corpus, tmp_path,
                                                                                         rates, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "4", "--lr-schedule", "cosine") == 0
    assert resume(tmp_path / "run", "--steps", "7") == 0
    assert "cosine to 0.0003 at step 4, then 0.0003 to step 7" in capsys.readouterr().out
    assert rates == [3e-3 * cli.lr_factor("cosine", s, 4) for s in range(7)]
    assert rates[4:] == [3e-3 * cli.LR_FLOOR] * 3
    assert tg.load(tmp_path / "run" / "latest.npz")["config"]["schedule_steps"] == 4


def test_resume_refuses_another_schedule_naming_it(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2", "--lr-schedule", "cosine") == 0
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "4", "--lr-schedule", "constant") == 2
    assert "--lr-schedule constant (checkpoint: cosine)" in _one_line_error(capsys)


def test_resume_accepts_the_same_schedule_given_again(corpus, tmp_path):
    assert train(corpus, tmp_path / "run", "--steps", "2", "--lr-schedule", "step") == 0
    assert resume(tmp_path / "run", "--steps", "4", "--lr-schedule", "step") == 0


def test_a_new_lr_on_resume_rescales_the_schedule_from_where_it_is(corpus, tmp_path, rates):
    assert train(corpus, tmp_path / "run", "--steps", "4", "--lr-schedule", "cosine") == 0
    assert resume(tmp_path / "run", "--steps", "8", "--lr", "1e-3") == 0
    assert rates[4:] == [1e-3 * cli.lr_factor("cosine", s, 4) for s in range(4, 8)]
    assert tg.load(tmp_path / "run" / "latest.npz")["config"]["lr"] == 1e-3


def test_a_checkpoint_from_before_lr_schedule_resumes_at_a_constant_rate(corpus, tmp_path, rates):
    assert train(corpus, tmp_path / "run", "--steps", "2", "--lr-schedule", "constant") == 0
    old = tg.load(tmp_path / "run" / "latest.npz")
    del old["config"]["lr_schedule"], old["config"]["schedule_steps"]
    old["lr_scheduler"] = None
    tg.save(old, tmp_path / "run" / "latest.npz")
    assert resume(tmp_path / "run", "--steps", "4") == 0
    saved = tg.load(tmp_path / "run" / "latest.npz")
    assert rates[2:] == [3e-3, 3e-3] and saved["config"]["lr_schedule"] == "constant"
    assert saved["lr_scheduler"]["last_epoch"] == 4


def test_a_foreign_schedule_state_is_refused_in_one_line(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    saved = tg.load(tmp_path / "run" / "latest.npz")
    saved["lr_scheduler"]["T_max"] = 10  # a CosineAnnealingLR's entry, not a LambdaLR's
    tg.save(saved, tmp_path / "run" / "latest.npz")
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "4") == 2
    assert "learning-rate schedule's state" in _one_line_error(capsys)
