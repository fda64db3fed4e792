"""The lessons print the same under other BLAS kernels, so they pass nbval on any CPU.

Another CPU makes numpy's OpenBLAS pick other kernels, which round matrix products
differently; a printed number that depends on the last bit then fails nbval there
although CI passed. OpenBLAS can be told to use another CPU's kernels
(``OPENBLAS_CORETYPE``): every x86-64 CPU with AVX2 runs the Haswell and the
Sandybridge ones. Each kernel gets one nbval run over every lesson, in a pytest
subprocess (about as long as the lessons take in the main run); each lesson is one
test of that run. Skipped where the kernel cannot be switched (not x86-64, no AVX2,
numpy not on OpenBLAS).
"""

import shutil
from pathlib import Path

import nbformat
import pytest

import lessons as tool  # tools/lessons.py: pytest's pythonpath holds tools/

ROOT = Path(__file__).resolve().parent.parent
LESSONS = tool.course_notebooks()  # lessons, project briefs, worked solutions


@pytest.fixture(scope="module", params=tool.OTHER_BLAS_KERNELS)
def nbval_run(request):
    """nbval over every lesson under one other OpenBLAS kernel: (kernel, failed cells, last line)."""
    reason = tool.unsupported_blas_kernel(request.param)
    if reason:
        pytest.skip(reason)
    code, failed, last = tool.nbval_under(request.param, LESSONS)
    assert code in (0, 1), f"nbval under OPENBLAS_CORETYPE={request.param} did not run: {last}"
    return request.param, failed, last


@pytest.mark.slow
@pytest.mark.timeout(1800)  # the first lesson of each kernel waits for the whole nbval run (minutes)
@pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
def test_lesson_prints_the_same_under_another_blas_kernel(nbval_run, path):
    kernel, failed, _ = nbval_run
    cells = [cell for cell in failed if cell.startswith(path.name + "::")]
    assert not cells, (f"under OPENBLAS_CORETYPE={kernel} these cells print something else: {cells}.\n"
                       + tool.PORTABILITY_RULE)


def test_blas_kernel_switch_is_reported_honestly():
    # On a machine that can switch, OpenBLAS reports the kernel asked for; elsewhere the reason is named.
    for kernel in tool.OTHER_BLAS_KERNELS:
        reason = tool.unsupported_blas_kernel(kernel)
        assert reason is None or isinstance(reason, str) and reason
        if reason is None:
            assert tool.blas_kernel_in_use(kernel) == kernel
    assert tool.unsupported_blas_kernel("NoSuchCpu") is not None


@pytest.mark.slow
def test_nbval_under_names_the_cell_that_printed_something_else(tmp_path):
    # A copy of the repository's nbval setup, and a lesson whose stored output is wrong in cell 1.
    for part in ("conftest.py", "pyproject.toml", "tools/lessons.py", "lessons/nbval_sanitize.cfg"):
        (tmp_path / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / part, tmp_path / part)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    for count, (source, printed) in enumerate([("print(1 + 1)", "2\n"), ("print(0.1 + 0.2)", "0.3\n")], 1):
        cell = nbformat.v4.new_code_cell(source, execution_count=count)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        nb.cells.append(cell)
    nbformat.write(nb, tmp_path / "lessons" / "00_sums.ipynb")
    kernel = tool.OTHER_BLAS_KERNELS[0]
    code, failed, last = tool.nbval_under(kernel, [tmp_path / "lessons" / "00_sums.ipynb"], root=tmp_path)
    assert code == 1 and failed == ["00_sums.ipynb::Cell 1"], last
