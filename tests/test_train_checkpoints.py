"""python -m rnn train never loses work: exact resume, verified checkpoints, signals, divergence, locks."""

import errno
import os
import signal
import zipfile

import numpy as np
import pytest
from test_cli import TEXT, _one_line_error, _signal_at_validation, assert_same_weights, resume, train, weights

import tensorgrad as tg
from rnn import checkpoint, cli


# ------------------------------------------------------------------ exact resume
@pytest.mark.parametrize("model", ["lstm", "gru", "rnn"])
def test_resume_is_bit_exact_with_dropout_layers_and_an_epoch_boundary(corpus, tmp_path, model):
    # 1944 train chars / 4 streams = 486 steps per stream; bptt 64 -> 8 updates per pass, so 12
    # steps cross into the second pass over the text, and the split at 6 lies in the first.
    # (constant rate: the 6 + resume to 12 extension would keep a schedule sized for 6, see
    # tests/test_train_lr_schedule.py for resuming inside a schedule)
    opts = ["--model", model, "--layers", "2", "--dropout", "0.3", "--bptt", "64",
            "--lr-schedule", "constant"]
    assert train(corpus, tmp_path / "straight", "--steps", "12", *opts) == 0
    assert train(corpus, tmp_path / "split", "--steps", "6", *opts) == 0
    assert resume(tmp_path / "split", "--steps", "12") == 0
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "split"))
    a, b = tg.load(tmp_path / "straight" / "latest.npz"), tg.load(tmp_path / "split" / "latest.npz")
    assert a["position"] == b["position"] and np.array_equal(a["rng"], b["rng"])


def test_validation_runs_in_eval_mode_and_training_goes_on_in_train_mode(corpus, tmp_path, monkeypatch):
    built, modes = [], {"validation": set(), "updates": set()}
    real_build, real_evaluate, real_tbptt = cli.build_model, cli.evaluate, cli.tbptt

    def build_model(*args, **kwargs):
        built.append(real_build(*args, **kwargs))
        return built[-1]

    def evaluate(*args, **kwargs):
        modes["validation"].add(built[0].training)
        return real_evaluate(*args, **kwargs)

    def tbptt(*args, **kwargs):
        for update in real_tbptt(*args, **kwargs):
            modes["updates"].add(built[0].training)
            yield update

    monkeypatch.setattr(cli, "build_model", build_model)
    monkeypatch.setattr(cli, "evaluate", evaluate)
    monkeypatch.setattr(cli, "tbptt", tbptt)
    assert train(corpus, tmp_path / "run", "--steps", "4", "--dropout", "0.5", "--layers", "2") == 0
    assert modes == {"validation": {False}, "updates": {True}}


# ----------------------------------------------------------------- the checkpoint
def test_checkpoint_files_follow_the_umask(corpus, tmp_path):
    old = os.umask(0o022)
    try:
        assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    finally:
        os.umask(old)
    for name in ("latest.npz", "best.npz"):
        assert (tmp_path / "run" / name).stat().st_mode & 0o777 == 0o644


def test_sample_reads_best_by_default_and_any_checkpoint_file(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "4") == 0
    best, latest = tg.load(tmp_path / "run" / "best.npz"), tg.load(tmp_path / "run" / "latest.npz")
    assert best["best_valid_loss"] == latest["best_valid_loss"]
    capsys.readouterr()
    outputs = []
    for target in ("run", "run/best.npz", "run/latest.npz"):
        assert cli.main(["sample", str(tmp_path / target), "--length", "30"]) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]


def test_a_truncated_checkpoint_is_refused_and_the_other_one_is_named(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    latest = tmp_path / "run" / "latest.npz"
    latest.write_bytes(latest.read_bytes()[:-200])
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "4") == 2
    err = _one_line_error(capsys)
    assert "not a readable .npz checkpoint" in err and "best.npz in the same directory may be intact" in err


def _members(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_a_checkpoint_mixed_from_two_saves_is_refused(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "4") == 0
    best, latest = tmp_path / "run" / "best.npz", tmp_path / "run" / "latest.npz"
    old = _members(tmp_path / "run" / "best.npz")  # written at step 4 too: make it older
    assert train(corpus, tmp_path / "older", "--steps", "2") == 0
    old = _members(tmp_path / "older" / "latest.npz")
    mixed = _members(latest)
    for name in mixed:
        if name.startswith("model/"):
            mixed[name] = old[name]  # step 2's weights with step 4's optimizer, step and data position
    with zipfile.ZipFile(latest, "w") as z:
        for name, raw in mixed.items():
            z.writestr(name, raw)
    assert best.exists()
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "6") == 2
    assert "assembled from parts of different files; refusing" in _one_line_error(capsys)


def test_the_old_three_file_layout_is_refused_with_its_reason(tmp_path, capsys):
    run = tmp_path / "old"
    run.mkdir()
    for name in checkpoint.OLD_LAYOUT:
        (run / name).write_bytes(b"{}")
    assert cli.main(["sample", str(run)]) == 2
    assert "old three-file layout" in _one_line_error(capsys)
    assert resume(run, "--steps", "4") == 2
    assert "old three-file layout" in _one_line_error(capsys)


def test_temporaries_of_a_killed_save_are_removed_at_the_next_start(corpus, tmp_path):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    stale = tmp_path / "run" / ".latest.npz.0123456789abcdef.tmp"
    stale.write_bytes(b"half a checkpoint")
    assert resume(tmp_path / "run", "--steps", "4") == 0
    assert not stale.exists()


def test_a_full_disk_is_one_line_naming_the_file_and_keeps_the_last_checkpoint(corpus, tmp_path, monkeypatch,
                                                                               capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    before = (tmp_path / "run" / "latest.npz").read_bytes()

    def full(f, members):
        f.write(b"partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(tg.io, "_write_npz", full)
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "4") == 1
    err = _one_line_error(capsys)
    assert err.startswith("error: No space left on device: ") and err.endswith("best.npz")
    assert (tmp_path / "run" / "latest.npz").read_bytes() == before
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


# ------------------------------------------------------------------- signals
def test_sigterm_saves_at_the_step_boundary_and_resumes_exactly(corpus, tmp_path, monkeypatch, capsys):
    assert train(corpus, tmp_path / "straight", "--steps", "6") == 0
    _signal_at_validation(monkeypatch, 1, signal.SIGTERM)  # at step 2
    assert train(corpus, tmp_path / "split", "--steps", "6") == 128 + signal.SIGTERM
    assert "SIGTERM: stopped at step 2" in capsys.readouterr().err
    monkeypatch.undo()
    assert resume(tmp_path / "split", "--steps", "6", "--valid-chars", "50000") == 0
    assert_same_weights(weights(tmp_path / "straight"), weights(tmp_path / "split"))


def test_a_signal_during_the_optimizer_step_never_saves_half_an_update(corpus, tmp_path, monkeypatch):
    opts = ["--eval-every", "100", "--lr-schedule", "constant"]  # 3 of 3 steps = 3 of 10 at a constant lr
    assert train(corpus, tmp_path / "straight", "--steps", "3", *opts) == 0
    real = tg.optim.Adam.step
    calls = []

    def step(self):
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGINT)  # arrives in the middle of the third update
        return real(self)

    monkeypatch.setattr(tg.optim.Adam, "step", step)
    assert train(corpus, tmp_path / "cut", "--steps", "10", *opts) == 130
    saved = tg.load(tmp_path / "cut" / "latest.npz")
    assert saved["step"] == 3
    assert_same_weights(weights(tmp_path / "straight"), saved["model"])


def test_a_second_ctrl_c_exits_at_once_without_touching_the_checkpoint(corpus, tmp_path, monkeypatch, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    before = (tmp_path / "run" / "latest.npz").read_bytes()
    _signal_at_validation(monkeypatch, 1, times=2)  # at step 4
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "10") == 130
    assert "stopped at once without saving; the checkpoint of step 2" in capsys.readouterr().err
    assert (tmp_path / "run" / "latest.npz").read_bytes() == before


# ------------------------------------------------------------------ divergence
def test_a_blown_up_loss_stops_the_run_and_keeps_the_good_checkpoint(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    before = {name: (tmp_path / "run" / name).read_bytes() for name in ("latest.npz", "best.npz")}
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "20", "--lr", "100") == cli.EXIT_DIVERGED == 3
    err = _one_line_error(capsys)
    assert "training diverged at step" in err and "three times the loss of a uniform guess" in err
    assert "last good checkpoint (step 2)" in err and "--resume --lr 10" in err
    assert {name: (tmp_path / "run" / name).read_bytes() for name in before} == before


def test_a_nan_gradient_stops_the_run_before_the_weights_change(corpus, tmp_path, monkeypatch, capsys):
    real = cli.CharLM.loss
    calls = []

    def loss(self, logits, targets):
        calls.extend([1] if tg.is_grad_enabled() else [])  # count training batches, not validation
        value = real(self, logits, targets)
        return value * float("nan") if len(calls) == 3 else value

    monkeypatch.setattr(cli.CharLM, "loss", loss)
    assert train(corpus, tmp_path / "run", "--steps", "10") == cli.EXIT_DIVERGED
    err = _one_line_error(capsys)
    assert "training diverged at step 3: the gradient norm is nan" in err
    assert tg.load(tmp_path / "run" / "latest.npz")["step"] == 2


def test_a_nan_validation_loss_stops_the_run_without_saving(corpus, tmp_path, monkeypatch, capsys):
    real = cli.CharLM.loss

    def loss(self, logits, targets):
        value = real(self, logits, targets)
        return value if tg.is_grad_enabled() else value * float("nan")

    monkeypatch.setattr(cli.CharLM, "loss", loss)
    assert train(corpus, tmp_path / "run", "--steps", "10") == cli.EXIT_DIVERGED
    assert "training diverged at step 2: the validation loss is nan" in _one_line_error(capsys)
    assert not (tmp_path / "run" / "latest.npz").exists()


# ---------------------------------------------------------------- --out and --resume
def test_a_second_trainer_on_the_same_out_is_refused_naming_the_holder(corpus, tmp_path, capsys):
    (tmp_path / "run").mkdir()
    held = checkpoint.Lock(str(tmp_path / "run"))
    try:
        assert train(corpus, tmp_path / "run", "--steps", "2") == 2
    finally:
        held.close()
    assert f"in use by another trainer (pid {os.getpid()} on " in _one_line_error(capsys)


def test_a_stale_lock_from_a_killed_trainer_is_taken_over(corpus, tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".lock").write_text("pid 99999999 on gone, started long ago\n")
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0


def test_an_unusable_out_is_refused_before_any_work(corpus, tmp_path, capsys):
    (tmp_path / "file").write_text("not a directory")
    assert train(corpus, tmp_path / "file" / "run", "--steps", "2") == 2
    err = _one_line_error(capsys)
    assert "--out" in err and "cannot be used" in err
    assert "LSTM" not in capsys.readouterr().out


def test_resume_with_another_text_is_refused_naming_data(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    other = tmp_path / "other.txt"
    other.write_text(TEXT.upper(), encoding="utf-8")
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "4", "--data", str(other)) == 2
    assert "--data" in _one_line_error(capsys)


def test_resume_with_the_same_text_moved_elsewhere_works(corpus, tmp_path):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    moved = tmp_path / "moved.txt"
    os.replace(corpus, moved)
    assert resume(tmp_path / "run", "--steps", "4", "--data", str(moved)) == 0


def test_resume_after_the_text_changed_is_refused(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    with open(corpus, "a", encoding="utf-8") as f:
        f.write("More text.\n")
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "4") == 2
    assert "has changed since the checkpoint" in _one_line_error(capsys)


def test_resume_with_another_batch_size_is_refused_naming_it(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2") == 0
    capsys.readouterr()
    assert resume(tmp_path / "run", "--steps", "4", "--batch-size", "8") == 2
    assert "--batch-size 8 (checkpoint: 4)" in _one_line_error(capsys)


# ------------------------------------------------------------- data and sizes
def test_a_text_without_newlines_trains_and_samples(tmp_path, capsys):
    path = tmp_path / "one_line.txt"
    path.write_text("the quick brown fox jumps over the lazy dog; " * 60, encoding="utf-8")
    assert train(str(path), tmp_path / "run", "--steps", "2") == 0
    capsys.readouterr()
    assert cli.main(["sample", str(tmp_path / "run"), "--length", "20"]) == 0
    assert len(capsys.readouterr().out) >= 20


def test_a_model_too_big_for_memory_is_refused_before_allocating(corpus, tmp_path, capsys):
    assert train(corpus, tmp_path / "run", "--steps", "2", "--hidden", "10000000") == 2
    err = _one_line_error(capsys)
    assert err.startswith("error: out of memory: 400,000,") and "GiB" in err and "--hidden" in err


@pytest.mark.parametrize("model", ["lstm", "gru", "rnn"])
def test_parameter_count_matches_the_built_model(model):
    config = {**cli.DEFAULTS, "model": model, "hidden": 7, "layers": 3, "embedding": 5}
    vocab = cli.data.Vocabulary("abcdefghijk")
    assert cli.parameter_count(config, len(vocab)) == sum(
        p.numel() for p in cli.build_model(config, vocab).parameters())


def test_a_memory_error_is_one_line_naming_the_allocation(corpus, tmp_path, monkeypatch, capsys):
    def build_model(*args, **kwargs):
        raise MemoryError("Unable to allocate 37.3 GiB for an array with shape (100000, 100000)")

    monkeypatch.setattr(cli, "build_model", build_model)
    assert train(corpus, tmp_path / "run", "--steps", "2") == 1
    err = _one_line_error(capsys)
    assert err.startswith("error: out of memory: Unable to allocate 37.3 GiB") and "--hidden" in err
