"""python -m rnn train with lesson 11's regularisers: tied weights, embedding, locked and weight dropout."""

import numpy as np
import pytest
from test_cli import _one_line_error, assert_same_weights, resume, train, weights

import tensorgrad as tg
from rnn import cli

REGULARISED = ["--hidden", "12", "--embedding", "12", "--tie-weights", "--embedding-dropout", "0.1",
               "--locked-dropout", "0.2", "--weight-drop", "0.3", "--lr-schedule", "constant"]


def test_regularised_run_saves_one_tied_matrix_and_its_settings(corpus, tmp_path):
    assert train(corpus, tmp_path / "run", "--steps", "2", *REGULARISED) == 0
    saved = tg.load(tmp_path / "run" / "latest.npz")
    np.testing.assert_array_equal(saved["model"]["embed.weight"], saved["model"]["head.weight"])
    assert {k: saved["config"][k] for k in cli.REGULARISERS} == {
        "tie_weights": True, "embedding_dropout": 0.1, "locked_dropout": 0.2, "weight_drop": 0.3}
    model = cli.build_model(saved["config"], cli.data.Vocabulary(saved["vocabulary"]))
    cli.load_weights(model, saved["model"], "latest.npz")
    assert model.head.weight is model.embed.weight and model.rnn.weight_dropout == 0.3
    assert cli.main(["sample", str(tmp_path / "run"), "--length", "20"]) == 0


def test_regularised_resume_is_bit_exact(corpus, tmp_path):
    assert train(corpus, tmp_path / "straight", "--steps", "6", *REGULARISED) == 0
    assert train(corpus, tmp_path / "split", "--steps", "3", *REGULARISED) == 0
    assert resume(tmp_path / "split", "--steps", "6") == 0
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "split"))


def test_resume_refuses_another_regulariser(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2", *REGULARISED) == 0
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "4", "--weight-drop", "0.5") == 2
    assert "--weight-drop 0.5 (checkpoint: 0.3)" in _one_line_error(capsys)


def test_tie_weights_needs_embedding_equal_to_hidden(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2", "--tie-weights") == 2  # TINY: hidden 12, emb 6
    assert "--embedding must equal --hidden (got 6 and 12); pass --embedding 12" in _one_line_error(capsys)


@pytest.mark.parametrize("option", ["--embedding-dropout", "--locked-dropout", "--weight-drop"])
def test_a_dropout_option_outside_0_1_is_refused(corpus, tmp_path, option, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2", option, "1.5") == 2
    assert "must be in [0, 1)" in _one_line_error(capsys)


def test_a_checkpoint_from_before_the_regularisers_loads_with_them_off():
    config = {k: v for k, v in cli.DEFAULTS.items() if k not in cli.REGULARISERS}
    model = cli.build_model({**config, "hidden": 8, "embedding": 4}, cli.data.Vocabulary("abc"))
    assert model.head.weight is not model.embed.weight and model.rnn.weight_dropout == 0.0


def test_parameter_count_knows_the_tied_matrix():
    config = {**cli.DEFAULTS, "hidden": 7, "embedding": 7, "layers": 2, "tie_weights": True}
    vocab = cli.data.Vocabulary("abcdefghijk")
    assert cli.parameter_count(config, len(vocab)) == sum(
        p.numel() for p in cli.build_model(config, vocab).parameters())
