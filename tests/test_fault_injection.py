"""Fault injection: kill -9 the trainer at random moments, inside checkpoint writes too, and resume.

Every trial trains the same small run (2-layer LSTM with dropout, so the
random state matters) to the end through several kills. The trainer runs in
a forked child (the real process, killed by SIGKILL; forking skips Python's
start-up, so the test stays fast). A kill comes either after a random delay
or from inside ``tensorgrad.io.atomic_write`` at one of its stages: after the
temporary is written but before fsync, after fsync before the rename, or
after the rename before the directory fsync. After each kill the run is
continued the way a user would: ``--resume`` if a checkpoint file exists,
else a fresh start. Each trial must end with weights bit-equal to a run that
was never interrupted (exact; a run killed after its last save is told it is
already at its last step, and its checkpoint must be exact too), or with a
clear refusal (refused); anything else (different weights, a traceback) is a
failure. The choices are seeded; where a timed kill lands depends on the
machine's speed, so the counts vary a little from run to run.

Since checkpoints are written atomically, a kill never leaves a torn file, so
no refusal is expected either (the test asserts none). With the writer made
non-atomic on purpose (writing straight into latest.npz), the same test sees
torn files, and the checksum turns each into a clear refusal, never a resume.
"""

import collections
import os
import random
import signal
import sys
import threading
import time

import pytest
from test_cli import TEXT, assert_same_weights

import tensorgrad as tg
from rnn import cli

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

RUN = ["--hidden", "10", "--embedding", "6", "--layers", "2", "--dropout", "0.3", "--bptt", "8",
       "--batch-size", "4", "--steps", "10", "--eval-every", "2", "--valid-chars", "200", "--no-progress",
       "--valid-fraction", "0.2", "--lr-schedule", "cosine"]  # the schedule's state must resume exactly too
STAGES = ("written", "synced", "renamed")
KILLS, KILLS_PER_TRIAL, MAX_TRIALS = 24, 4, 60
CHILD_TIMEOUT_S = 120  # a trainer run here takes well under a second


def _child(argv, log, stage=None, nth=None):
    """Run the trainer in this forked child and leave with its exit code; never returns."""
    code = 99
    try:
        sys.stdout = sys.stderr = open(log, "a", encoding="utf-8")  # noqa: SIM115 (closed by _exit)
        if stage is not None:
            calls = []

            def fault_point(at, path):
                if at == stage:
                    calls.append(path)
                    if len(calls) == nth:
                        os.kill(os.getpid(), signal.SIGKILL)

            tg.io._fault_point = fault_point
        code = cli.main(argv)
    except BaseException as err:  # noqa: BLE001 - report anything, the parent counts it as "other"
        print(f"child raised {type(err).__name__}: {err}", file=sys.stderr)
    finally:
        sys.stderr.flush()
        os._exit(code)


def run(argv, log, delay=None, stage=None, nth=None):
    """('exit', code) or ('killed', None) for one trainer process; fails, naming it, if it hangs."""
    pid = os.fork()
    if pid == 0:
        _child(argv, log, stage, nth)
    if delay is not None:
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)  # harmless if it already exited (a zombie until waited for)
    status = _wait(pid, argv, log)
    if os.WIFSIGNALED(status):
        return "killed", None
    return "exit", os.WEXITSTATUS(status)


def _wait(pid, argv, log):
    """The exit status of the forked trainer ``pid``; kills it and fails the test if it hangs."""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"the trainer {argv} did not finish in {CHILD_TIMEOUT_S} s (a deadlock in the "
                        f"forked child?); its log ends: {log.read_text()[-300:] if log.exists() else ''}")
        time.sleep(0.005)


def test_a_trainer_forked_while_tqdm_holds_its_lock_still_finishes(tmp_path):
    """With --no-progress the trainer never touches tqdm. Even a disabled tqdm bar takes tqdm's
    global lock, which tqdm's monitor thread holds for a moment every 10 s: a trainer forked at
    that moment waited forever for a lock no thread of it would release (a hang seen once here)."""
    tqdm = pytest.importorskip("tqdm").tqdm
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    argv = ["train", "--data", str(corpus), *RUN, "--steps", "2", "--out", str(tmp_path / "run")]
    held, release = threading.Event(), threading.Event()

    def monitor():  # what tqdm's monitor thread does every 10 s, caught at the fork
        with tqdm.get_lock():
            held.set()
            release.wait()

    holder = threading.Thread(target=monitor)
    holder.start()
    held.wait()
    log = tmp_path / "child.log"
    try:
        pid = os.fork()
        if pid == 0:
            _child(argv, log)
    finally:
        release.set()
        holder.join()
    assert os.WEXITSTATUS(_wait(pid, argv, log)) == 0  # fails, naming the trainer, if it waited on the lock
    assert tg.load(tmp_path / "run" / "latest.npz")["step"] == 2


def test_kill_minus_nine_anywhere_then_resume_is_exact_or_refused(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TEXT, encoding="utf-8")
    base = ["train", "--data", str(corpus), *RUN]

    started = time.perf_counter()
    assert cli.main([*base, "--out", str(tmp_path / "reference")]) == 0
    duration = time.perf_counter() - started
    reference = tg.load(tmp_path / "reference" / "latest.npz")["model"]

    rng = random.Random(1234)
    counts, refusals = collections.Counter(), []
    trial = 0
    while counts["kills"] < KILLS and trial < MAX_TRIALS:
        trial += 1
        out = tmp_path / f"trial{trial}"
        log = tmp_path / f"trial{trial}.log"
        outcome, kills = None, 0
        while outcome is None:
            resuming = (out / "latest.npz").exists() or (out / "best.npz").exists()
            argv = [*base, "--out", str(out), *(["--resume"] if resuming else [])]
            if kills < KILLS_PER_TRIAL and rng.random() < 0.6:
                kind = ("timer", rng.uniform(0.02, 0.6) * duration)
                result = run(argv, log, delay=kind[1])
            elif kills < KILLS_PER_TRIAL:
                kind = (rng.choice(STAGES), rng.randint(1, 4))  # the n-th file saved reaching that stage
                result = run(argv, log, stage=kind[0], nth=kind[1])
            else:
                kind, result = ("none",), run(argv, log)
            if result[0] == "killed":
                kills += 1
                counts["kills"] += 1
                counts[f"kills at {kind[0]}"] += 1
                continue
            code = result[1]
            finished = "already at step 10" in log.read_text()  # killed after its last save
            if code == 0 or (code == 2 and finished):
                final = tg.load(out / "latest.npz")
                assert final["step"] == 10
                assert_same_weights(reference, final["model"])  # raises if not bit-exact
                outcome = "exact"
            elif code == 2 and "error:" in log.read_text():
                outcome = "refused"
                refusals.append(log.read_text().strip().splitlines()[-1])
            else:
                outcome = f"other (exit {code}): {log.read_text()[-500:]}"
        counts[outcome if outcome in ("exact", "refused") else "other"] += 1
        assert outcome in ("exact", "refused"), outcome
        assert not [p for p in out.iterdir() if p.name.endswith(".tmp")] or outcome == "refused"

    with capsys.disabled():
        print(f"\nfault injection: {dict(sorted(counts.items()))}")
    assert counts["kills"] >= KILLS
    assert counts["exact"] == trial and counts["refused"] == counts["other"] == 0, refusals
