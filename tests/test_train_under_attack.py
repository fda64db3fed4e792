"""python -m rnn under attack (issue 19): crafted checkpoints, blow-ups at a validation step, planted
links, odd --data files, closed pipes and hang-ups; each is refused in one line or costs no work."""

import os
import shlex
import signal
import subprocess
import sys

import numpy as np
import pytest
from test_cli import _one_line_error, _signal_at_validation, assert_same_weights, resume, train, weights

import tensorgrad as tg
from rnn import checkpoint, cli


# ------------------------------------------------------------- crafted checkpoints
def _craft(out, change):
    """Rewrite out/latest.npz (and drop best.npz) with ``change(checkpoint dict)`` applied, validly signed."""
    saved = tg.load(out / "latest.npz")
    change(saved)
    os.unlink(out / "best.npz")
    tg.save(saved, out / "latest.npz")


def _set(path, value):
    def change(saved):
        *parents, leaf = path
        node = saved
        for key in parents:
            node = node[key]
        node[leaf] = value
    return change


CRAFTED = {  # what is changed -> the field the refusal must name
    "config a list": (_set(["config"], [1, 2]), "its config must be a dict"),
    "hidden a string": (_set(["config", "hidden"], "x"), "config.hidden must be a positive integer"),
    "hidden negative": (_set(["config", "hidden"], -3), "config.hidden must be a positive integer"),
    "hidden unlike the weights": (lambda c: c.update(state=None) or c["config"].update(hidden=10**9),
                                  "needs 4,000,0"),
    "model unknown": (_set(["config", "model"], "transformer"), "config.model must be one of gru, lstm"),
    "lr infinite": (_set(["config", "lr"], float("inf")), "config.lr must be a positive finite number"),
    "lr missing": (lambda c: c["config"].pop("lr"), "its config lacks lr (a positive finite number)"),
    "step negative": (_set(["step"], -5), "its step must be an integer from 0"),
    "step past the run": (_set(["step"], 10**6), "its step must be an integer from 0"),
    "position negative": (_set(["position"], -1), "its position must be a non-negative integer"),
    "position past the text": (_set(["position"], 10**6), "position 1000000"),
    "best loss negative": (_set(["best_valid_loss"], -1.0), "best_valid_loss must be None or a finite"),
    "best loss nan": (_set(["best_valid_loss"], float("nan")), "best_valid_loss must be None or a finite"),
    "state of another shape": (lambda c: c["state"].__setitem__(0, np.zeros((1, 2, 3), np.float32)),
                               "state.0 must be a finite float array of shape"),
    "vocabulary unsorted": (_set(["vocabulary"], "ba"), "its vocabulary must be"),
    "weights of ints": (lambda c: c["model"].__setitem__(next(iter(c["model"])), np.zeros(3, np.int64)),
                        "must be a float array"),
    "weights not finite": (lambda c: next(iter(c["model"].values())).fill(np.nan), "must be a float array"),
    "optimizer entry a string": (_set(["optimizer", "m.0"], "text"), "optimizer.m.0 must be a numeric array"),
    "rng a list": (_set(["rng"], [1, 2]), "its rng must be a 1-D uint8 array"),
    "rng garbage": (_set(["rng"], np.frombuffer(b"not json", np.uint8).copy()), "random state (rng)"),
    "data digest garbage": (_set(["data_sha256"], "xyz"), "data_sha256 must be 64 hex digits"),
    "field missing": (lambda c: c.pop("rng"), "its fields must be all present, got 'no rng'"),
    "version unknown": (_set(["version"], [7]), "version [7] checkpoint"),
}


@pytest.mark.parametrize("name", CRAFTED)
def test_a_crafted_checkpoint_is_refused_in_one_line_naming_the_field(corpus, tmp_path, capsys, name):
    change, expected = CRAFTED[name]
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    _craft(tmp_path / "run", change)
    capsys.readouterr()
    sample_code = cli.main(["sample", str(tmp_path / "run"), "--length", "5"])
    sample_err = capsys.readouterr().err
    assert resume(tmp_path / "run", "--steps", "4") == 2
    assert expected in _one_line_error(capsys)
    if name not in ("rng garbage", "position past the text"):  # what only training uses
        assert sample_code == 2 and expected in sample_err and sample_err.count("\n") == 1


def test_a_verified_file_nested_1000_deep_is_refused_in_one_line(tmp_path, capsys):
    structure = '{"format": "rnn.charlm-checkpoint", "version": 1, "config": ' + "[" * 1000 + "]" * 1000 + "}"
    members = {"__structure__": np.array(structure), "__sha256__": np.array(tg.io._digest(structure, {}))}
    (tmp_path / "run").mkdir()
    with open(tmp_path / "run" / "latest.npz", "wb") as f:
        tg.io._write_npz(f, members)
    assert cli.main(["sample", str(tmp_path / "run")]) == 2
    assert "nested 100" in _one_line_error(capsys)


# ------------------------------------------------------------------- divergence
def test_a_blow_up_seen_only_by_validation_is_never_saved(corpus, tmp_path, capsys):
    # the repro of issue 19: the update of step 5 blows the weights up; that step's training loss was
    # computed before it, so only the validation after it can tell
    assert train(corpus, tmp_path / "run", "--steps", "4", "--eval-every", "4") == 0
    before = {name: (tmp_path / "run" / name).read_bytes() for name in ("latest.npz", "best.npz")}
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "10", "--eval-every", "5", "--lr", "1e4") == cli.EXIT_DIVERGED
    err = _one_line_error(capsys)
    assert "diverged at step 5: the validation loss is" in err and "last good checkpoint (step 4)" in err
    assert {name: (tmp_path / "run" / name).read_bytes() for name in before} == before
    assert max(abs(w).max() for w in weights(tmp_path / "run").values()) < 10


def test_weights_above_the_limit_are_never_saved(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "MAX_WEIGHT", 1e-3)  # every real weight is above it
    assert train(corpus, tmp_path / "run", "--steps", "4") == cli.EXIT_DIVERGED
    assert "the largest weight is" in _one_line_error(capsys)
    assert not (tmp_path / "run" / "latest.npz").exists()


def test_non_finite_weights_are_never_saved_even_by_a_signal(corpus, tmp_path, monkeypatch, capsys):
    real, calls = tg.optim.Adam.step, []

    def step(self):  # the second update leaves a NaN weight, and SIGTERM asks for a save right after it
        real(self)
        calls.append(1)
        if len(calls) == 2:
            self.param_groups[0]["params"][-1].array[...] = np.nan  # the last: max() over all must see it
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(tg.optim.Adam, "step", step)
    assert train(corpus, tmp_path / "run", "--steps", "10", "--eval-every", "100") == cli.EXIT_DIVERGED
    assert "the largest weight is nan" in _one_line_error(capsys)
    assert not (tmp_path / "run" / "latest.npz").exists()


# ------------------------------------------------------------------------ files
def test_a_symlink_planted_as_the_lock_is_refused_and_its_target_untouched(corpus, tmp_path, capsys):
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's file\n")
    (tmp_path / "run").mkdir()
    os.symlink(victim, tmp_path / "run" / ".lock")
    assert train(corpus, tmp_path / "run", "--steps", "2") == 2
    assert "is a symbolic link" in _one_line_error(capsys)
    assert victim.read_text() == "someone else's file\n"
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".lock"]


def test_a_deleted_lock_is_taken_again_before_the_next_save(corpus, tmp_path, monkeypatch):
    real = cli.evaluate

    def evaluate(*args, **kwargs):
        os.unlink(tmp_path / "run" / ".lock")
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "evaluate", evaluate)
    assert train(corpus, tmp_path / "run", "--steps", "4") == 0
    assert f"pid {os.getpid()} " in (tmp_path / "run" / ".lock").read_text()


def test_a_lock_replaced_by_another_trainer_stops_this_one_unsaved(corpus, tmp_path, monkeypatch, capsys):
    real, other = cli.evaluate, []

    def evaluate(*args, **kwargs):  # at step 4: the lock file was deleted and a second trainer took a new one
        if (tmp_path / "run" / "latest.npz").exists() and not other:
            os.unlink(tmp_path / "run" / ".lock")
            other.append(checkpoint.Lock(str(tmp_path / "run")))
        return real(*args, **kwargs)

    monkeypatch.setattr(cli, "evaluate", evaluate)
    try:
        assert train(corpus, tmp_path / "run", "--steps", "6") == 2
    finally:
        other[0].close()
    assert "was deleted or replaced while training" in _one_line_error(capsys)
    assert tg.load(tmp_path / "run" / "latest.npz")["step"] == 2


def test_resume_on_a_missing_out_creates_nothing(tmp_path, capsys):
    assert resume(tmp_path / "nowhere", "--steps", "4") == 2
    assert "no checkpoint directory" in _one_line_error(capsys)
    assert not (tmp_path / "nowhere").exists()


def test_no_write_probe_is_left_in_out(corpus, tmp_path):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [".lock", "best.npz", "latest.npz"]


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_data_that_is_not_a_regular_file_is_refused_before_reading(tmp_path, capsys, special):
    if special == "fifo":
        special = str(tmp_path / "fifo")
        os.mkfifo(special)  # opening it for reading would block until a writer came
    elif not os.path.exists(special):
        pytest.skip("no /dev/zero here")
    assert train(special, tmp_path / "run", "--steps", "2") == 2
    err = _one_line_error(capsys)
    assert "not a regular file" in err and ("character device" in err or "FIFO" in err)


def test_data_above_max_data_mb_is_refused_naming_the_option(tmp_path, capsys):
    big = tmp_path / "big.txt"
    big.write_bytes(b"ab\n" * 500_000)  # 1.4 MiB
    assert train(str(big), tmp_path / "run", "--steps", "2", "--max-data-mb", "1") == 2
    err = _one_line_error(capsys)
    assert "1.4 MiB, above --max-data-mb 1" in err


# ----------------------------------------------------------------------- output
def _trainer(corpus, out, *extra):
    command = [sys.executable, "-m", "rnn", "train", "--data", corpus, "--out", str(out), "--hidden", "12",
               "--embedding", "6", "--bptt", "8", "--batch-size", "4", "--no-progress", "--valid-fraction",
               "0.2", "--threads", "1", *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.getcwd()})


def test_a_closed_stdout_ends_the_run_quietly_after_saving(corpus, tmp_path):
    # `... | head -1`: the reader leaves after the first line; the report of step 3 meets a closed pipe
    trainer = _trainer(corpus, tmp_path / "run", "--steps", "30", "--eval-every", "3")
    trainer.stdout.readline()
    trainer.stdout.close()
    assert trainer.wait(timeout=120) == cli.EXIT_OUTPUT_CLOSED == 141
    assert trainer.stderr.read() == b""
    assert tg.load(tmp_path / "run" / "latest.npz")["step"] == 3


def test_a_run_started_with_stdout_and_stderr_closed_trains_and_saves(corpus, tmp_path):
    # `>&- 2>&-`: the lock and the checkpoints must not become descriptors 1 and 2 and receive the reports
    command = [sys.executable, "-m", "rnn", "train", "--data", corpus, "--out", str(tmp_path / "run"),
               "--hidden", "12", "--embedding", "6", "--bptt", "8", "--batch-size", "4", "--steps", "6",
               "--eval-every", "3", "--valid-fraction", "0.2", "--threads", "1"]
    code = subprocess.call(command, env={**os.environ, "PYTHONPATH": os.getcwd()},
                           preexec_fn=lambda: (os.close(1), os.close(2)))
    assert code == 0 and tg.load(tmp_path / "run" / "latest.npz")["step"] == 6
    assert (tmp_path / "run" / ".lock").read_text().startswith("pid ")


def test_a_closed_stdout_while_sampling_is_quiet(corpus, tmp_path):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    sampler = subprocess.Popen([sys.executable, "-m", "rnn", "sample", str(tmp_path / "run"), "--length",
                                "50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": os.getcwd()})
    sampler.stdout.close()
    assert sampler.wait(timeout=120) == 141 and sampler.stderr.read() == b""


def test_sighup_saves_like_sigterm(corpus, tmp_path, monkeypatch, capsys):
    _signal_at_validation(monkeypatch, 1, signal.SIGHUP)  # at step 2
    assert train(corpus, tmp_path / "run", "--steps", "6") == 128 + signal.SIGHUP
    assert "SIGHUP: stopped at step 2" in capsys.readouterr().err
    assert tg.load(tmp_path / "run" / "latest.npz")["step"] == 2


# ------------------------------------------------------------ the resume command
def test_the_printed_resume_command_continues_the_same_run(corpus, tmp_path, monkeypatch, capsys):
    opts = ["--eval-every", "3", "--valid-chars", "300", "--lr-schedule", "constant"]
    assert train(corpus, tmp_path / "straight", "--steps", "9", *opts) == 0
    _signal_at_validation(monkeypatch, 1)  # at step 3
    assert train(corpus, tmp_path / "split", "--steps", "9", *opts) == 130
    monkeypatch.undo()
    err = capsys.readouterr().err
    printed = err.split("continue with: ")[1].split(")")[0]
    assert printed.startswith("python3 -m rnn train --out ")
    assert cli.main(shlex.split(printed)[3:]) == 0
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "split"))
    for name in ("best.npz", "latest.npz"):  # validated on the same set, saved at the same steps
        a, b = tg.load(tmp_path / "straight" / name), tg.load(tmp_path / "split" / name)
        assert a["best_valid_loss"] == b["best_valid_loss"] and a["step"] == b["step"]
        assert b["config"]["eval_every"] == 3 and b["config"]["valid_chars"] == 300


def test_the_final_message_says_sample_reads_best_before_latest(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    assert "python3 -m rnn sample" in capsys.readouterr().out.splitlines()[-1]


def test_a_bad_probability_names_the_option_not_a_function(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--dropout", "lots") == 2
    err = _one_line_error(capsys)
    assert "--dropout" in err and "expected a number in [0, 1), got 'lots'" in err
    assert "_probability" not in err


def test_after_the_command_ends_ctrl_c_is_ignored_so_shutdown_prints_no_traceback(tmp_path, monkeypatch):
    from rnn import __main__ as entry

    monkeypatch.setenv(entry.RESTARTED, "1")  # no re-exec for the thread variables
    monkeypatch.setattr(sys, "argv", ["rnn", "sample", str(tmp_path / "nowhere")])
    previous = signal.getsignal(signal.SIGINT)
    try:
        assert entry.main() == 2
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
