"""python -m rnn --threads N: the BLAS thread variables are set before NumPy's BLAS loads."""

import os
import subprocess
import sys

from rnn.__main__ import DEFAULT_THREADS, THREAD_VARIABLES, requested_threads, thread_environment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_threads_is_read_in_both_spellings():
    assert requested_threads(["train", "--threads", "3"]) == "3"
    assert requested_threads(["train", "--threads=2", "--steps", "5"]) == "2"
    assert requested_threads(["train", "--steps", "5"]) is None


def test_a_bad_value_is_left_to_the_argument_parser():
    assert requested_threads(["train", "--threads", "0"]) is None
    assert requested_threads(["train", "--threads", "two"]) is None


def test_threads_sets_all_three_variables():
    assert thread_environment(["train", "--threads", "2"], {}) == {v: "2" for v in THREAD_VARIABLES}


def test_nothing_changes_when_the_variables_already_match():
    assert thread_environment(["train", "--threads", "2"], {v: "2" for v in THREAD_VARIABLES}) == {}


def test_without_threads_the_users_own_variables_are_kept():
    assert thread_environment(["train"], {"OMP_NUM_THREADS": "4"}) == {}


def test_without_threads_or_variables_the_default_applies():
    assert thread_environment(["train"], {}) == {v: str(DEFAULT_THREADS) for v in THREAD_VARIABLES}


def test_python_dash_m_rnn_runs_with_the_threads_it_was_given(tmp_path):
    """The command restarts itself with the variables set; it then runs normally (here: a clear error)."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "rnn", "sample", str(tmp_path / "none"), "--threads", "2"],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 2
    assert "no checkpoint directory" in result.stderr
