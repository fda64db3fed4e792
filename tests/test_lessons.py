"""The lesson notebooks: hygiene of the committed solution versions, and real exercises.

nbval (configured in pyproject.toml) re-runs each lesson and compares its outputs;
these tests check what nbval does not: the stored notebooks are tidy (no machine
paths in their outputs), the student version that ``tools/lessons.py student``
writes fails every exercise check, and every check rejects the exercise's
known-wrong answers (``tools/lessons.py wrong-answers``).
"""

import json
import re
import shutil
import subprocess
import symtable
import sys
from pathlib import Path

import nbformat
import pytest

import lessons as tool  # tools/lessons.py: pytest's pythonpath holds tools/

ROOT = Path(__file__).resolve().parent.parent
MAX_NOTEBOOK_BYTES = 500_000
STUDENT_CHECK_ERRORS = {"NotImplementedError", "AssertionError", "NameError"}


pytest_plugins = ["pytester"]
LESSONS = tool.lesson_paths()  # the numbered lessons
NOTEBOOKS = tool.course_notebooks()  # the lessons, each project brief and its worked solution
by_name = pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
# Exercises are the lessons' (a project brief and its worked solution have none).
by_lesson = pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])


def read(path):
    return nbformat.read(path, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def tags(cell):
    return cell.metadata.get("tags", [])


def errors(cell):
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A path that starts at a machine's root (a traceback's "File /work/main/...", a warning's
# "/home/me/.venv/..."), or at a Windows drive letter.
ABSOLUTE_PATH = re.compile(r"(?<![\w.~])(?:/(?:home|root|tmp|work|Users|usr|opt|var|private|mnt|srv)/"
                           r"|[A-Za-z]:\\\\?[\w.-])")


def text_outputs(cell):
    """Every text a code cell stores: streams, text/* and JSON data, errors with their tracebacks."""
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            yield output.text
        elif output.output_type == "error":
            yield from (output.ename, output.evalue, *output.traceback)
        else:
            for mime, value in output.get("data", {}).items():
                if not mime.startswith("image/"):  # base64 images can hold anything
                    yield value if isinstance(value, str) else json.dumps(value)


# An embedded file (IPython's Audio writes ``src="data:audio/wav;base64,..."``): its base64 can
# spell "/tmp/" by chance, and it is data, not a path.
DATA_URL = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]*")


def absolute_paths(text):
    """The lines of ``text`` (ANSI colours and embedded data URLs removed) that hold an absolute
    machine path."""
    text = DATA_URL.sub("data:...", ANSI_ESCAPE.sub("", text))
    return [line for line in text.splitlines() if ABSOLUTE_PATH.search(line)]


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
def test_no_absolute_machine_paths_in_stored_outputs(path):
    # A stored path names the machine that ran the lesson and changes from checkout to checkout.
    found = [f"cell {cell.id}: {line.strip()}" for cell in code_cells(read(path))
             for text in text_outputs(cell) for line in absolute_paths(text)]
    assert not found, "stored outputs hold absolute paths:\n" + "\n".join(found)


@pytest.mark.parametrize("text", [
    "\x1b[0;32mFile \x1b[0;32m/work/main/tensorgrad/tensor.py:126\x1b[0m, in Tensor.backward",
    "/home/me/.venv/lib/python3.11/site-packages/numpy/core/fromnumeric.py:88: RuntimeWarning",
    "  File \"/usr/lib/python3.11/json/decoder.py\", line 337",
    "could not open '/tmp/pytest-7/x.npz'",
    "/Users/ada/lessons/00_autodiff.ipynb",
    "C:\\Users\\ada\\lessons\\00_autodiff.ipynb",
])
def test_absolute_path_finder_catches_machine_paths(text):
    assert absolute_paths(text)


@pytest.mark.parametrize("text", [
    "<cell>.py:3: UserWarning: shapes differ",
    "loss 0.0123 / 2 = 0.0062; steps 10/20",
    "see lessons/README.md and rnn/bptt.py",
    "https://example.org/home/page",
    "tensor([1., 2.], shape=(2,), dtype=float32, device=cpu)",
    '<audio controls="controls"><source src="data:audio/wav;base64,UklGRi/tmp/AAB/home/x+" '
    'type="audio/wav" /></audio>',
])
def test_absolute_path_finder_leaves_ordinary_text_alone(text):
    assert absolute_paths(text) == []


def global_names(source):
    """(names a cell's code reads as globals, names it binds at top level), from Python's symbol table."""
    from IPython.core.inputtransformer2 import TransformerManager

    table = symtable.symtable(TransformerManager().transform_cell(source), "<cell>", "exec")
    binds = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    reads, scopes = set(), [table]
    while scopes:
        scope = scopes.pop()
        top = scope.get_type() == "module"  # a str, or a StrEnum from Python 3.13
        reads |= {s.get_name() for s in scope.get_symbols() if s.is_referenced() and (top or s.is_global())}
        scopes.extend(scope.get_children())
    return reads - binds, binds


def check_cell_names_used_later(nb):
    """[(cell id, name, check cell id)]: a later cell reads a name whose last binding was in a check cell."""
    bound_in, found = {}, []  # name -> the cell that last bound it, and whether it is a check cell
    for cell in code_cells(nb):
        reads, binds = global_names(cell.source)
        found += [(cell.id, name, bound_in[name][0]) for name in sorted(reads)
                  if name in bound_in and bound_in[name][1]]
        bound_in.update({name: (cell.id, tool.is_check_cell(cell)) for name in binds})
    return found


@by_name
def test_no_cell_reads_a_name_that_a_check_cell_defined(path):
    # A check cell is locked and graded; a demo that reads its variables breaks when the check changes,
    # and a student's failed check leaves the demo without them.
    found = check_cell_names_used_later(read(path))
    assert not found, "\n".join(f"cell {cell} reads {name!r}, last defined by check cell {check}"
                                for cell, name, check in found)


def test_check_cell_name_audit_finds_a_demo_using_a_check_variable():
    cells = [_check_cell("B = 4\ndef helper(n):\n    return n\nprint('OK')", "c"),
             nbformat.v4.new_code_cell("def shape(H):\n    return (B, H)\nprint(helper(1))"),
             nbformat.v4.new_code_cell("B = 2\nprint(B)")]
    found = check_cell_names_used_later(nbformat.v4.new_notebook(cells=cells))
    assert [(name, check) for _, name, check in found] == [("B", cells[0].id), ("helper", cells[0].id)]


@by_name
def test_errors_only_in_cells_tagged_raises_exception(path):
    for cell in code_cells(read(path)):
        expected = "raises-exception" in tags(cell)
        assert bool(errors(cell)) == expected, (
            f"cell {cell.id}: " + ("tagged raises-exception but raised nothing" if expected
                                   else "stores an error but is not tagged raises-exception"))


@by_lesson
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
    handed_out = sorted(p.name for p in tool.course_notebooks(instructor=False))
    assert sorted(p.name for p in tmp_path.glob("*.ipynb")) == handed_out, result.stdout
    assert not any(tool.is_solution_notebook(p) for p in tmp_path.glob("*.ipynb"))
    for path in tmp_path.glob("*.ipynb"):
        nb = read(path)
        nbformat.validate(nb)
        for cell in code_cells(nb):
            assert cell.outputs == [] and cell.execution_count is None
            assert "SOLUTION" not in cell.source and "HIDDEN TESTS" not in cell.source


def test_course_notebooks_are_the_lessons_then_each_brief_and_its_solution(tmp_path, monkeypatch):
    for name in ("01_b.ipynb", "00_a.ipynb", "capstone.ipynb", "capstone_solution.ipynb", "zz.ipynb"):
        (tmp_path / name).write_text("{}")
    monkeypatch.setattr(tool, "LESSONS", tmp_path)
    assert [p.name for p in tool.lesson_paths()] == ["00_a.ipynb", "01_b.ipynb"]
    assert [p.name for p in tool.course_notebooks()] == ["00_a.ipynb", "01_b.ipynb", "capstone.ipynb",
                                                         "capstone_solution.ipynb", "zz.ipynb"]
    assert [p.name for p in tool.course_notebooks(instructor=False)] == ["00_a.ipynb", "01_b.ipynb",
                                                                         "capstone.ipynb", "zz.ipynb"]


def test_the_capstone_brief_has_a_worked_solution():
    briefs = tool.brief_paths()
    assert [p.name for p in briefs] == ["capstone.ipynb"]
    assert (tool.LESSONS / "capstone_solution.ipynb").is_file()


def _rubric_rows(path):
    """(criterion, points) of the markdown rubric table (rows "| criterion | points | ... |") in ``path``."""
    rows = []
    for cell in read(path).cells:
        if cell.cell_type == "markdown" and "| criterion | points |" in cell.source:
            for line in cell.source.split("\n"):
                fields = [f.strip() for f in line.strip().strip("|").split("|")]
                if len(fields) >= 2 and fields[1].isdigit():
                    rows.append((fields[0], int(fields[1])))
    return rows


def test_capstone_rubric_totals_100_and_the_worked_solution_is_marked_on_it():
    brief = _rubric_rows(tool.LESSONS / "capstone.ipynb")
    assert sum(points for _, points in brief) == 100 and len(brief) >= 5, brief
    text = "\n".join(c.source for c in read(tool.LESSONS / "capstone.ipynb").cells)
    assert "at most 50" in text and "baseline" in text.lower()
    marked = _rubric_rows(tool.LESSONS / "capstone_solution.ipynb")
    assert [p for _, p in marked] == [p for _, p in brief], "the solution is marked on another rubric"


@pytest.mark.parametrize("command", ["student", "release"])
def test_student_and_release_refuse_the_worked_solution(command, tmp_path):
    solution = tool.LESSONS / "capstone_solution.ipynb"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "lessons.py"), command, "--out",
                             str(tmp_path), str(solution)], capture_output=True, text=True)
    assert result.returncode != 0
    assert "instructor's worked solution of capstone.ipynb" in result.stderr, result.stderr
    assert not list(tmp_path.rglob("*.ipynb"))
    with pytest.raises(ValueError, match="never hands it out"):
        tool.write_student_versions([solution], tmp_path)
    brief = subprocess.run([sys.executable, str(ROOT / "tools" / "lessons.py"), command, "--out",
                            str(tmp_path), "capstone.ipynb"], capture_output=True, text=True, check=True)
    assert [p.name for p in tmp_path.rglob("*.ipynb")] == ["capstone.ipynb"], brief.stdout


@by_lesson
def test_student_version_fails_every_exercise_check(path, tmp_path):
    solution = read(path)
    [student_path] = tool.write_student_versions([path], tmp_path)
    nb = read(student_path)
    for mine, theirs in zip(solution.cells, nb.cells, strict=True):
        if tool.is_solution_cell(mine):
            assert "raise NotImplementedError()" in theirs.source
            hidden = mine.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
            assert not any(line.strip() and line in theirs.source for line in hidden.splitlines()[1:-1])
        else:  # everything else as written, less a check cell's hidden tests
            assert theirs.source == tool.remove_hidden_tests(mine.source)[0]
            assert "HIDDEN TESTS" not in theirs.source

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


@by_lesson
def test_student_version_holds_no_wrong_answers(path, tmp_path):
    solution = read(path)
    answers = [a for c in solution.cells for a in c.metadata.get(tool.WRONG_ANSWERS, [])]
    assert answers, "the lesson lists no known-wrong answers"
    [student_path] = tool.write_student_versions([path], tmp_path)
    student = read(student_path)
    assert not any(tool.WRONG_ANSWERS in c.metadata for c in student.cells)
    stored = json.dumps(student)
    for answer in answers:
        for text in (answer["mistake"], answer["source"].strip()):
            assert json.dumps(text)[1:-1] not in stored, f"the student version shows {text!r}"


# ------------------------------------------------------------ known-wrong answers


@by_lesson
def test_known_wrong_answers_fail_their_checks(path):
    # One kernel per lesson: at each exercise the stub, every known-wrong answer and the solution
    # go in the marked region, each followed by the check cell (tools/lessons.py wrong-answers).
    report = tool.check_exercises(path)
    problems = report.all_problems()
    summary = "\n".join(ex.summary() for ex in report.exercises)
    assert not problems, "\n".join(problems) + "\n\n" + summary


def test_wrong_answer_is_indented_like_the_stub():
    source = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n"
    wrong = "y = x * x\n\nreturn y".split("\n")
    replaced, _ = tool._replace_solution_region(source, wrong)
    assert replaced == "def f(x):\n    y = x * x\n\n    return y\n"


def _solution_cell(source, grade_id, wrong_answers=None):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": grade_id, "locked": False,
                                 "schema_version": 3, "solution": True, "task": False}
    if wrong_answers is not None:
        cell.metadata[tool.WRONG_ANSWERS] = [{"mistake": m, "source": s} for m, s in wrong_answers]
    return cell


def _check_cell(source, grade_id):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [tool.CHECK_TAG]
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True, "points": 1,
                                 "schema_version": 3, "solution": False, "task": False}
    return cell


DOUBLE = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"


def test_an_exercise_with_fewer_than_three_wrong_answers_is_a_problem():
    cell = _solution_cell(DOUBLE, "double", [("squares", "return x * x"), ("adds 2", "return x + 2")])
    _, problems = tool._wrong_answer_problems(cell)
    assert any("has 2 known-wrong answers" in p for p in problems)


def test_wrong_answers_kept_under_the_nbgrader_metadata_are_a_problem():
    cell = _solution_cell(DOUBLE, "double")
    cell.metadata["nbgrader"][tool.WRONG_ANSWERS] = []
    _, problems = tool._wrong_answer_problems(cell)
    assert any("under the nbgrader metadata" in p for p in problems)


def test_a_lesson_from_02_on_with_one_exercise_is_a_problem():
    nb = nbformat.v4.new_notebook(cells=[_solution_cell(DOUBLE, "double"), _check_cell("pass", "c")])
    assert tool.lesson_structure_problems(Path("01_x.ipynb"), nb) == []
    [problem] = tool.lesson_structure_problems(Path("02_x.ipynb"), nb)
    assert "has 1 exercises" in problem


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    """check_exercises on a small lesson: one exercise with a weak check, one without a check cell."""
    wrong = [("squares", "return x * x"),
             ("adds 2", "return x + 2"),
             ("right only for small x", "return 2 * x if x < 10 else x"),
             ("does not compile", "return 2 *")]
    cells = [nbformat.v4.new_code_cell("import math"),
             _solution_cell(DOUBLE, "double", wrong),
             nbformat.v4.new_markdown_cell("The check tries one value only."),
             _check_cell("assert double(3) == 6, f'double(3) = {double(3)}, not 6'\nprint('OK: double')",
                         "double_check"),
             _solution_cell("def half(x):\n    ### BEGIN SOLUTION\n    return x / 2\n    ### END SOLUTION",
                            "half", [("a", "return x"), ("b", "return x"), ("c", "return x")]),
             nbformat.v4.new_code_cell("print(half(4))")]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    path = tmp_path_factory.mktemp("lessons") / "02_tiny.ipynb"
    nbformat.write(nb, path)
    return tool.check_exercises(path)


def test_check_exercises_tries_the_stub_and_the_solution(tiny_report):
    double = tiny_report.exercises[0]
    assert double.stub.failed_in == "check" and double.stub.error.startswith("NotImplementedError")
    assert double.solution.failed_in is None and double.solution.printed == "OK: double"


def test_check_exercises_counts_the_wrong_answers_the_check_rejects(tiny_report):
    double = tiny_report.exercises[0]
    assert [a.rejected for a in double.wrong] == [True, True, False, False]
    assert double.summary() == "double: solution passes, stripped version fails, 2/4 wrong answers rejected"


def test_check_exercises_reports_a_wrong_answer_that_gets_through(tiny_report):
    problems = tiny_report.all_problems()
    assert any("exercise double: wrong answer 'right only for small x' got through: the check passed "
               "(printed 'OK: double')" in p for p in problems), problems
    assert any("wrong answer 'does not compile' does not compile (SyntaxError" in p for p in problems)


def test_check_exercises_reports_an_exercise_without_a_check_cell(tiny_report):
    problems = tiny_report.all_problems()
    assert "02_tiny.ipynb: exercise half: is not followed by a code cell tagged 'exercise-check'" in problems


def test_wrong_answers_command_exits_nonzero_and_names_what_got_through(tmp_path):
    cells = [_solution_cell(DOUBLE, "double", [("squares", "return x * x"), ("adds 2", "return x + 2"),
                                               ("small x only", "return 2 * x if x < 10 else x")]),
             _check_cell("assert double(3) == 6\nprint('OK')", "double_check")]
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nbformat.write(nb, tmp_path / "00_one.ipynb")
    tool_path = ROOT / "tools" / "lessons.py"
    result = subprocess.run([sys.executable, str(tool_path), "wrong-answers", str(tmp_path / "00_one.ipynb")],
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "double: solution passes, stripped version fails, 2/3 wrong answers rejected" in result.stdout
    assert "NOT REJECTED: small x only: the check passed (printed 'OK')" in result.stdout


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
                                           "-o", "pythonpath=tools", "-p", "no:cacheprovider", "lessons")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*00_tiny.ipynb has used * s of cell time, over its budget of 0.3 s*"])
