"""The lesson notebooks: hygiene of the committed solution versions, and real exercises.

nbval (configured in pyproject.toml) re-runs each lesson and compares its outputs;
these tests check what nbval does not: the stored notebooks are tidy, and the
student version that ``tools/lessons.py student`` writes fails every exercise check.
"""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_NOTEBOOK_BYTES = 500_000
STUDENT_CHECK_ERRORS = {"NotImplementedError", "AssertionError", "NameError"}


def _load_tool():
    spec = importlib.util.spec_from_file_location("lessons_tool", ROOT / "tools" / "lessons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pytest_plugins = ["pytester"]
tool = _load_tool()
LESSONS = tool.lesson_paths()
by_name = pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def tags(cell):
    return cell.metadata.get("tags", [])


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def test_lessons_exist_and_are_numbered_from_00():
    assert [p.name[:2] for p in LESSONS] == [f"{i:02d}" for i in range(len(LESSONS))]
    assert len(LESSONS) >= 2


# ------------------------------------------------------------------ hygiene


@by_name
def test_notebook_is_valid_nbformat_4(path):
    nb = read(path)
    nbformat.validate(nb)
    assert nb.nbformat == 4


@by_name
def test_kernel_is_python3(path):
    spec = read(path).metadata.get("kernelspec", {})
    assert spec.get("name") == "python3" and spec.get("language") == "python"


@by_name
def test_execution_counts_run_1_to_n_in_order(path):
    # A cell with a null count is not compared by nbval, so every cell must have been run, in order.
    counts = [c.execution_count for c in code_cells(read(path))]
    assert counts == list(range(1, len(counts) + 1))


@by_name
def test_notebook_is_under_the_size_limit(path):
    assert path.stat().st_size <= MAX_NOTEBOOK_BYTES


@by_name
def test_figures_are_png_not_svg(path):
    # SVG output carries a timestamp, so nbval would never match it.
    for cell in code_cells(read(path)):
        for output in cell.outputs:
            assert "image/svg+xml" not in output.get("data", {}), f"cell {cell.id} stores an SVG figure"


@by_name
def test_no_timing_or_widget_metadata(path):
    nb = read(path)
    assert "widgets" not in nb.metadata
    for cell in nb.cells:
        assert "execution" not in cell.metadata, f"cell {cell.id} stores execution timings"


@by_name
def test_errors_only_in_cells_tagged_raises_exception(path):
    for cell in code_cells(read(path)):
        expected = "raises-exception" in tags(cell)
        assert bool(errors(cell)) == expected, (
            f"cell {cell.id}: " + ("tagged raises-exception but raised nothing" if expected
                                   else "stores an error but is not tagged raises-exception"))


@by_name
def test_exercises_follow_nbgrader_conventions(path):
    cells = read(path).cells
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in cells if "nbgrader" in c.metadata]
    assert len(grade_ids) == len(set(grade_ids)), "nbgrader grade_ids must be unique"
    solutions = [i for i, c in enumerate(cells) if tool.is_solution_cell(c)]
    assert solutions, "a lesson has at least one exercise"
    for i in solutions:
        cell = cells[i]
        assert cell.cell_type == "code"
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        assert not cell.metadata["nbgrader"]["grade"]
        following = next(c for c in cells[i + 1:] if c.cell_type == "code")
        assert tool.is_check_cell(following), f"exercise {cell.id} is not followed by a check cell"
    for cell in cells:
        if tool.is_check_cell(cell):
            meta = cell.metadata.get("nbgrader", {})
            assert meta.get("grade") and meta.get("locked") and meta.get("points", 0) > 0
            printed = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            assert "OK" in printed, f"check cell {cell.id} does not print its OK line"
        elif "BEGIN SOLUTION" in cell.source:
            assert tool.is_solution_cell(cell), f"cell {cell.id} has solution markers but no metadata"


# ---------------------------------------------------------- student versions


def test_solution_region_is_replaced_at_its_indentation_as_nbgrader_does():
    source = "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n"
    replaced, found = tool._replace_solution_region(source, tool.CODE_STUB)
    assert found
    assert replaced == "def f(x):\n    y = 1\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"


def test_solution_markers_without_nbgrader_metadata_are_an_error():
    cell = nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")
    nb = nbformat.v4.new_notebook(cells=[cell])
    with pytest.raises(ValueError, match="nbgrader solution metadata"):
        tool.student_version(nb)


def test_unterminated_solution_region_is_an_error():
    with pytest.raises(ValueError, match="END SOLUTION"):
        tool._replace_solution_region("### BEGIN SOLUTION\nx = 1\n", tool.CODE_STUB)


def test_student_command_writes_every_lesson(tmp_path):
    command = [sys.executable, str(ROOT / "tools" / "lessons.py"), "student", "--out", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == [p.name for p in LESSONS], result.stdout
    for path in tmp_path.glob("*.ipynb"):
        nb = read(path)
        nbformat.validate(nb)
        for cell in code_cells(nb):
            assert cell.outputs == [] and cell.execution_count is None
            assert "SOLUTION" not in cell.source


@by_name
def test_student_version_fails_every_exercise_check(path, tmp_path):
    solution = read(path)
    [student_path] = tool.write_student_versions([path], tmp_path)
    nb = read(student_path)
    for mine, theirs in zip(solution.cells, nb.cells, strict=True):
        if tool.is_solution_cell(mine):
            assert "raise NotImplementedError()" in theirs.source
            hidden = mine.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            assert not any(line.strip() and line in theirs.source for line in hidden.splitlines()[1:-1])
        else:
            assert theirs.source == mine.source

    tool.execute(nb, cwd=tmp_path, allow_errors=True)

    first_exercise = next(i for i, c in enumerate(nb.cells) if tool.is_solution_cell(c))
    for cell in nb.cells[:first_exercise]:
        assert not errors(cell) or "raises-exception" in tags(cell), (
            f"cell {cell.id} fails before any exercise: {errors(cell)[0].ename}")
    checks = [c for c in nb.cells if tool.is_check_cell(c)]
    assert checks
    for cell in checks:
        raised = [e.ename for e in errors(cell)]
        assert raised and raised[0] in STUDENT_CHECK_ERRORS, (
            f"check cell {cell.id} should fail on the student version, got {raised or 'no error'}")


# ------------------------------------------------------- the nbval setup itself


def _tiny_lesson(cells):
    """A solution notebook whose code cells already ran: [(source, stdout or None), ...]."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    for count, (source, stdout) in enumerate(cells, start=1):
        cell = nbformat.v4.new_code_cell(source, execution_count=count)
        if stdout is not None:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stdout)]
        nb.cells.append(cell)
    return nb


def test_nbval_sanitizes_addresses_and_fails_a_lesson_over_its_time_budget(pytester):
    for part in ("conftest.py", "tools/lessons.py", "lessons/nbval_sanitize.cfg"):
        (pytester.path / part).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / part, pytester.path / part)
    nb = _tiny_lesson([("print(object())", "<object object at 0x7f0011223344>\n"),
                       ("import time\ntime.sleep(0.6)", None)])
    nbformat.write(nb, pytester.path / "lessons" / "00_tiny.ipynb")
    result = pytester.runpytest_subprocess("--nbval", "--nbval-current-env", "-o", "lesson_time_budget=0.3",
                                           "-p", "no:cacheprovider", "lessons")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*00_tiny.ipynb has used * s of cell time, over its budget of 0.3 s*"])
