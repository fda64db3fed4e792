"""Every benchmark script runs to the end on a small case, with or without torch installed.

The benchmarks are how the README's speed claims are checked, so one that
crashes (for instance on the torch column when torch is absent) hides them.
These runs check only that each script works and prints its table, not any
timing: speed is judged from the scripts' own paired ratios, never in tests.
"""

import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

CASES = {
    "rnn_training_step.py": ["--kinds", "LSTM", "GRU", "RNN", "--sizes", "S", "--rounds", "1"],
    "ctc.py": ["--rounds", "1", "--shapes", "6,2,5,2"],
    "charlm.py": ["--rounds", "1", "--hidden", "16", "--embedding", "8", "--bptt", "8", "--batch-size", "4",
                  "--sample-length", "5"],
    "op_chain.py": ["--rounds", "3", "--number", "1"],
    "op_overhead.py": ["--rounds", "3", "--number", "1"],
    "chain_scaling.py": ["--lengths", "50", "100"],
    "conv2d.py": ["--rounds", "1", "--number", "1", "--cases", "2", "3", "8"],
    "getitem_loop.py": ["--lengths", "10", "20", "--repeat", "1"],
    "linear_nd.py": ["--rounds", "1", "--shape", "3", "2", "4", "--out", "5"],
    "scan.py": ["--lengths", "16", "32", "--rounds", "1"],
}


def test_every_benchmark_has_a_case():
    assert sorted(p.name for p in (ROOT / "benchmarks").glob("*.py")) == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_benchmark_runs_on_a_small_case(script):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *CASES[script]],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{script} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    assert result.stdout.strip(), f"{script} printed nothing"
