"""python -m rnn: training writes resumable checkpoints, sampling is reproducible, bad input is one line."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import tensorgrad as tg
from rnn import cli

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n" * 30)
TINY = ["--hidden", "12", "--embedding", "6", "--bptt", "8", "--batch-size", "4", "--eval-every", "2",
        "--no-progress", "--valid-fraction", "0.2"]


def resume(out, *extra):
    return cli.main(["train", "--out", str(out), "--resume", "--no-progress", "--eval-every", "2", *extra])


def train(corpus, out, *extra):
    return cli.main(["train", "--data", corpus, "--out", str(out), *TINY, *extra])


def weights(out, name="latest.npz"):
    return tg.load(out / name)["model"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)  # bit for bit


def test_train_writes_one_checkpoint_file_holding_everything_to_resume(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "4") == 0
    out = capsys.readouterr().out
    assert "validation loss" in out and "bits" in out and "--- sample ---" in out
    saved = tg.load(tmp_path / "run" / "latest.npz")
    assert saved["step"] == 4 and saved["config"]["model"] == "lstm" and saved["config"]["hidden"] == 12
    assert set(saved["vocabulary"]) == set(TEXT)
    assert {"model", "optimizer", "position", "state", "rng", "data_sha256", "lr_scheduler"} <= set(saved)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".lock", "best.npz", "latest.npz"]


@pytest.mark.parametrize("model", ["gru", "rnn"])
def test_train_other_layer_kinds(corpus, tmp_path, model):
    assert train(corpus, tmp_path / model, "--steps", "2", "--model", model, "--layers", "2") == 0


def test_resume_continues_exactly_where_it_stopped(corpus, tmp_path):
    # 4 steps, then --resume --steps 6: an extension, which changes a cosine schedule's plan (its length
    # stays 4), so this runs at a constant rate; tests/test_train_lr_schedule.py resumes inside a schedule
    constant = ["--lr-schedule", "constant"]
    assert train(corpus, tmp_path / "straight", "--steps", "6", *constant) == 0
    assert train(corpus, tmp_path / "split", "--steps", "4", *constant) == 0
    assert cli.main(["train", "--out", str(tmp_path / "split"), "--resume", "--steps", "6",
                     "--no-progress", "--eval-every", "2", "--valid-chars", "500"]) == 0
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "split"))


def _signal_at_validation(monkeypatch, n, signum=signal.SIGINT, times=1):
    """Make the ``n``-th validation of a run send ``signum`` to this process ``times`` times."""
    real = cli.evaluate
    calls = []

    def evaluate(*args, **kwargs):
        calls.append(1)
        if len(calls) == n:
            for _ in range(times):
                os.kill(os.getpid(), signum)
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "evaluate", evaluate)


def test_interrupt_saves_a_resumable_checkpoint(corpus, tmp_path, monkeypatch, capsys):
    _signal_at_validation(monkeypatch, 1)  # at step 2
    assert train(corpus, tmp_path / "run", "--steps", "10") == 130
    assert "--resume" in capsys.readouterr().err
    assert tg.load(tmp_path / "run" / "latest.npz")["step"] == 2
def test_sampling_with_the_same_seed_prints_the_same_text(corpus, tmp_path, capsys):
    train(corpus, tmp_path / "run", "--steps", "2")
    capsys.readouterr()
    texts = []
    for seed in ("1", "1", "2"):
        assert cli.main(["sample", str(tmp_path / "run"), "--length", "40", "--seed", seed,
                         "--prime", "All:", "--top-k", "5"]) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1] != texts[2]
    assert texts[0].startswith("All:")


def _one_line_error(capsys):
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "Traceback" not in err
    return err


def test_sample_from_a_missing_directory(tmp_path, capsys):
    assert cli.main(["sample", str(tmp_path / "nowhere")]) != 0
    assert "no checkpoint directory" in _one_line_error(capsys)


def test_sample_from_a_corrupt_checkpoint(corpus, tmp_path, capsys):
    train(corpus, tmp_path / "run", "--steps", "2")
    (tmp_path / "run" / "best.npz").write_bytes(b"garbage")
    capsys.readouterr()
    assert cli.main(["sample", str(tmp_path / "run")]) != 0
    assert "not a readable .npz checkpoint" in _one_line_error(capsys)


def test_sample_with_characters_outside_the_vocabulary(corpus, tmp_path, capsys):
    train(corpus, tmp_path / "run", "--steps", "2")
    capsys.readouterr()
    assert cli.main(["sample", str(tmp_path / "run"), "--prime", "Zebra~"]) != 0
    err = _one_line_error(capsys)
    assert "never saw in training: 'Z', 'b', '~'" in err and "prime with text made of" in err


@pytest.mark.parametrize("argv, words", [
    (["train", "--hidden", "-3"], "must be positive"),
    (["train", "--model", "transformer"], "invalid choice"),
    (["train", "--lr", "fast"], "expected a float"),
    (["sample"], "required"),
    (["fly"], "invalid choice"),
])
def test_nonsense_arguments_get_one_line(argv, words, capsys):
    assert cli.main(argv) == 2
    assert words in _one_line_error(capsys)


def test_missing_data_file(tmp_path, capsys):
    assert cli.main(["train", "--data", str(tmp_path / "none.txt"), "--out", str(tmp_path / "r")]) != 0
    assert "none.txt" in _one_line_error(capsys)


def test_existing_checkpoint_needs_resume(corpus, tmp_path, capsys):
    train(corpus, tmp_path / "run", "--steps", "2")
    capsys.readouterr()
    assert train(corpus, tmp_path / "run", "--steps", "2") == 2
    assert "--resume" in _one_line_error(capsys)


def test_resume_refuses_a_different_architecture(corpus, tmp_path, capsys):
    train(corpus, tmp_path / "run", "--steps", "2")
    capsys.readouterr()
    assert cli.main(["train", "--out", str(tmp_path / "run"), "--resume", "--hidden", "99"]) == 2
    assert "--hidden 99 (checkpoint: 12)" in _one_line_error(capsys)


def test_python_dash_m_rnn_reports_bad_input_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rnn", "sample", str(tmp_path / "missing")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.startswith("error:") and "Traceback" not in result.stderr
