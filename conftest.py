"""Test-run setup shared by the unit tests and the lessons (run by nbval).

- Pins the environment every kernel inherits (BLAS threads, PYTHONHASHSEED; see
  tools/lessons.py, whose ``regenerate`` command pins the same), so the numbers a
  lesson prints repeat exactly.
- Points nbval at lessons/nbval_sanitize.cfg by absolute path (nbval reads the
  option relative to the current directory).
- Holds each notebook to a budget of cell time (ini option ``lesson_time_budget``,
  seconds): the cell that goes over it fails, naming the notebook and its total.
- Requires torch where the torch-comparison tests must run: with ``--require-torch``, or
  when the environment variable CI is set (CI runs ``CI=true bash .ci/run``), a run
  without an importable torch stops at once with how to install it, and a test skipped
  for want of torch fails instead. Elsewhere (a student's install) they skip.
"""

import os
from pathlib import Path

import pytest

import lessons as lessons_tool  # tools/lessons.py: pytest's pythonpath holds tools/

ROOT = Path(__file__).resolve().parent
SANITIZE_FILE = ROOT / "lessons" / "nbval_sanitize.cfg"


lessons_tool.pin_environment()  # before any kernel starts

_cell_time = {}  # notebook path -> seconds of cell time so far
_over_budget = set()


def pytest_addoption(parser):
    parser.addini("lesson_time_budget", "seconds of cell time each lesson notebook may use", default="60")
    parser.addoption("--require-torch", action="store_true",
                     help="fail, instead of skipping, where the torch-comparison tests cannot import torch "
                          "(on by default when the environment variable CI is set)")


def torch_required(config):
    """Whether a missing torch fails the run: --require-torch, or CI set in the environment."""
    return config.getoption("--require-torch") or bool(os.environ.get("CI"))


def pytest_configure(config):
    if hasattr(config.option, "nbval_sanitize_with") and not config.option.nbval_sanitize_with:
        config.option.nbval_sanitize_with = str(SANITIZE_FILE)
    if torch_required(config):
        try:
            import torch  # noqa: F401
        except ImportError as err:
            why = "--require-torch" if config.getoption("--require-torch") else "CI is set"
            raise pytest.UsageError(
                f"torch is required here ({why}) so that the torch-comparison tests run instead of "
                f"skipping, but it cannot be imported ({err}); install the parity extra: "
                'python3 -m pip install -c constraints.txt -e ".[test,parity]"') from None


def _skip_reason(report):
    """The reason a skipped test gave (pytest keeps it as (path, line, reason))."""
    longrepr = report.longrepr
    return str(longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else longrepr)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and torch_required(item.config) and "torch" in _skip_reason(report):
        report.outcome = "failed"  # a torch comparison must not skip where torch is required
        report.longrepr = (f"{item.nodeid} skipped for want of torch ({_skip_reason(report)}), but torch "
                           "is required here (CI or --require-torch)")
        return report
    if call.when != "call" or item.path.suffix != ".ipynb":
        return report
    budget = float(item.config.getini("lesson_time_budget"))
    spent = _cell_time[item.path] = _cell_time.get(item.path, 0.0) + call.duration
    if spent > budget and item.path not in _over_budget and not report.failed:
        _over_budget.add(item.path)
        report.outcome = "failed"
        report.longrepr = (f"{item.path.name} has used {spent:.1f} s of cell time, over its budget "
                           f"of {budget:g} s (lesson_time_budget); make the lesson cheaper "
                           "(smaller model, fewer steps)")
    return report


def pytest_terminal_summary(terminalreporter, config):
    if not _cell_time:
        return
    budget = float(config.getini("lesson_time_budget"))
    terminalreporter.section("lesson cell time")
    for path, seconds in sorted(_cell_time.items()):
        terminalreporter.write_line(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
                                    f"{seconds:.1f} s (budget {budget:g} s)")
