"""examples/adding_problem.py: on a short version of the task the LSTM learns and the RNN does not."""

import argparse
import importlib.util
from pathlib import Path

import pytest

from rnn.tasks import adding_baseline_mse

spec = importlib.util.spec_from_file_location(
    "adding_problem", Path(__file__).resolve().parents[1] / "examples" / "adding_problem.py")
adding_problem = importlib.util.module_from_spec(spec)
spec.loader.exec_module(adding_problem)


@pytest.fixture
def short_task():
    return argparse.Namespace(steps=600, hidden=32, T=20, batch=64, lr=1e-2, seed=0, forget_bias=1.0,
                              report_every=600)


def test_lstm_beats_the_constant_guess_on_a_short_adding_problem(short_task, capsys):
    mse, _ = adding_problem.train("lstm", short_task)
    assert mse < 0.2 * adding_baseline_mse()


def test_forget_bias_opens_only_the_lstm_forget_gate():
    model = adding_problem.Regressor(adding_problem.LSTM, 4, forget_bias=1.0)
    bias = model.rnn.bias_hh_l0.numpy()
    assert (bias[4:8] > 0.4).all()  # init is U(-1/2, 1/2) for H=4, plus 1
    assert (abs(bias[:4]) <= 0.5).all() and (abs(bias[8:]) <= 0.5).all()
