"""Where the torch comparisons must run (CI, or --require-torch), a missing torch fails the run
instead of skipping them; elsewhere (a student's install without torch) they skip."""

import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # each case starts pytest in a child process (about 10 s)

ROOT = pathlib.Path(__file__).resolve().parents[1]
# pytest in a child process that cannot import torch (None in sys.modules makes `import torch` fail)
WITHOUT_TORCH = "import sys; sys.modules['torch'] = None; import pytest; sys.exit(pytest.main(sys.argv[1:]))"
TESTS = ["-q", "-p", "no:cacheprovider", "tests/test_reduce_lr_on_plateau.py"]


def _run(*args, ci=None):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    if ci is not None:
        env["CI"] = ci
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-c", WITHOUT_TORCH, *TESTS, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_without_torch_the_comparisons_skip_on_a_students_machine():
    result = _run()
    assert result.returncode == 0 and "skipped" in result.stdout


def test_with_ci_set_a_missing_torch_fails_the_run_naming_the_parity_extra():
    result = _run(ci="true")
    assert result.returncode != 0
    assert "torch is required here (CI is set)" in result.stderr and ".[test,parity]" in result.stderr


def test_require_torch_flag_fails_the_run_without_torch():
    result = _run("--require-torch")
    assert result.returncode != 0 and "torch is required here (--require-torch)" in result.stderr


def test_ci_installs_the_parity_extra():
    assert '".[test,parity]"' in (ROOT / ".ci" / "run").read_text()
    assert 'parity = ["torch==2.13.0"]' in (ROOT / "pyproject.toml").read_text()
