"""Grading (tools/grading.py, ``tools/lessons.py grade``), hidden tests, points and nbgrader source notebooks.

The end-to-end tests grade small lessons (00 and 01) in a copy of the repository's
tools, lessons and packages, so that a submission that deletes files could only
ever reach the copy: the solutions get full marks, the student versions zero, a
half-solved notebook half, and a looping, a crashing and a file-deleting
submission lose their points without touching the lessons or another grade.
"""

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import grading  # tools/grading.py
import nbformat
import pytest

import lessons as tool  # tools/lessons.py: pytest's pythonpath holds tools/

ROOT = Path(__file__).resolve().parent.parent
SMALL_LESSONS = ("00_autodiff.ipynb", "01_rnn_by_hand.ipynb")


def read(path):
    return nbformat.read(path, as_version=4)


def _solution_cell(source, gid):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": False, "grade_id": gid, "locked": False, "schema_version": 3,
                                 "solution": True, "task": False}
    cell.metadata[tool.WRONG_ANSWERS] = [{"mistake": "adds", "source": "return x + x + 1"}]
    return cell


def _check_cell(source, gid, points=None):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [tool.CHECK_TAG]
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": gid, "locked": True, "schema_version": 3,
                                 "solution": False, "task": False}
    if points is not None:
        cell.metadata["nbgrader"]["points"] = points
    return cell


DOUBLE = "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION"
CHECK = ("assert double(3) == 6, f'double(3) = {double(3)}'\n"
         "### BEGIN HIDDEN TESTS\n"
         "assert double(-1) == -2, f'double(-1) = {double(-1)}'\n"
         "### END HIDDEN TESTS\n"
         "print('OK: double')")


def tiny_lesson(points=3):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lesson 00: tiny"),
                                         _solution_cell(DOUBLE, "double"),
                                         _check_cell(CHECK, "double-check", points)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    return nb


# ------------------------------------------------------------------ hidden tests, points, release


def test_student_version_leaves_out_hidden_tests_as_nbgrader_does():
    check = tool.student_version(tiny_lesson()).cells[2]
    assert check.source == "assert double(3) == 6, f'double(3) = {double(3)}'\nprint('OK: double')"


def test_hidden_tests_outside_a_check_cell_are_an_error():
    nb = tiny_lesson()
    nb.cells.append(nbformat.v4.new_code_cell("### BEGIN HIDDEN TESTS\nx = 1\n### END HIDDEN TESTS"))
    with pytest.raises(ValueError, match="HIDDEN TESTS markers but is not a check cell"):
        tool.student_version(nb)


def test_unterminated_hidden_tests_are_an_error():
    with pytest.raises(ValueError, match="END HIDDEN TESTS"):
        tool.remove_hidden_tests("### BEGIN HIDDEN TESTS\nassert True\n")


def test_release_version_drops_wrong_answers_and_keeps_solutions_and_hidden_tests():
    nb = tiny_lesson()
    released = tool.release_version(nb)
    assert not any(tool.WRONG_ANSWERS in c.metadata for c in released.cells)
    assert [c.source for c in released.cells] == [c.source for c in nb.cells]
    assert tool.WRONG_ANSWERS in nb.cells[1].metadata, "release_version must not change its argument"


def test_release_command_writes_nbgrader_source_folders(tmp_path):
    command = [sys.executable, str(ROOT / "tools" / "lessons.py"), "release", "--out", str(tmp_path),
               *SMALL_LESSONS]
    subprocess.run(command, capture_output=True, text=True, check=True)
    for name in SMALL_LESSONS:
        released = read(tmp_path / "source" / Path(name).stem / name)
        assert not any(tool.WRONG_ANSWERS in c.metadata for c in released.cells)
        assert "### BEGIN SOLUTION" in "".join(c.source for c in released.cells)


def test_grade_command_refuses_a_missing_notebook_and_a_bad_timeout(tmp_path):
    tool_path = str(ROOT / "tools" / "lessons.py")
    done = subprocess.run([sys.executable, tool_path, "grade", str(tmp_path / "nope.ipynb")],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "no such notebook" in done.stderr and "nope.ipynb" in done.stderr
    nbformat.write(tiny_lesson(), tmp_path / "00_tiny.ipynb")
    command = [sys.executable, tool_path, "grade", "--timeout", "0", str(tmp_path / "00_tiny.ipynb")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode != 0 and "--timeout must be a positive number" in done.stderr


def test_points_default_to_one():
    assert tool.points(_check_cell("pass", "c")) == 1
    assert tool.points(_check_cell("pass", "c", points=2.5)) == 2.5


def test_wrong_answers_command_runs_the_hidden_tests(tmp_path):
    # "return abs(2 * x)" passes the visible check (x = 3); only the hidden test (x = -1) rejects it.
    nb = tiny_lesson()
    nb.cells[1].metadata[tool.WRONG_ANSWERS] = [{"mistake": "abs", "source": "return abs(2 * x)"},
                                                {"mistake": "square", "source": "return x * x"},
                                                {"mistake": "plus 3", "source": "return x + 3"}]
    nbformat.write(nb, tmp_path / "00_tiny.ipynb")
    report = tool.check_exercises(tmp_path / "00_tiny.ipynb")
    assert report.all_problems() == []
    assert [a.rejected for a in report.exercises[0].wrong] == [True, True, True]


# ------------------------------------------------------------------ matching and rebuilding


def test_a_submission_is_matched_to_its_lesson_by_grade_ids_then_by_name(tmp_path):
    lessons = [ROOT / "lessons" / name for name in SMALL_LESSONS]
    student = tool.student_version(read(lessons[1]))
    assert grading.match_lesson(tmp_path / "homework.ipynb", student, lessons) == lessons[1]
    empty = nbformat.v4.new_notebook()
    assert grading.match_lesson(tmp_path / "ada_01_rnn_by_hand.ipynb", empty, lessons) == lessons[1]
    assert grading.match_lesson(tmp_path / "00-mine.ipynb", empty, lessons) == lessons[0]
    assert grading.match_lesson(tmp_path / "homework.ipynb", empty, lessons) is None


@pytest.mark.parametrize("path, expected", [
    ("submissions/ada_01_rnn_by_hand.ipynb", "ada"),
    ("submissions/ada/01_rnn_by_hand.ipynb", "ada"),
    ("submitted/ada/01_rnn_by_hand/01_rnn_by_hand.ipynb", "ada"),  # nbgrader's layout
    ("submissions/grace-hopper.ipynb", "grace-hopper"),
])
def test_student_id_comes_from_the_file_name_or_its_folder(path, expected):
    assert grading.student_id(Path(path), ROOT / "lessons" / "01_rnn_by_hand.ipynb") == expected


def test_check_cells_are_restored_from_the_lesson_with_hidden_tests_and_points():
    lesson = tiny_lesson(points=3)
    submission = tool.student_version(lesson)
    submission.cells[2].source = "print('OK: double')"  # a student who edited the check away
    submission.cells[2].metadata["nbgrader"]["points"] = 100
    graded = grading.notebook_to_grade(submission, lesson)
    assert graded.cells[2].source == CHECK
    assert graded.cells[1].source == submission.cells[1].source  # the student's answer stays
    [result] = grading.score(lesson, graded, finished={0, 1, 2})
    assert (result.points, result.max_points) == (3, 3)


def test_a_check_scores_only_if_it_ran_to_the_end():
    # A kernel that died (or a time limit that ran out) inside the check leaves no error output.
    lesson = tiny_lesson(points=3)
    graded = grading.notebook_to_grade(tool.student_version(lesson), lesson)
    graded.cells[2].execution_count = 2
    [result] = grading.score(lesson, graded, finished={0, 1}, problem="stopped: the kernel died")
    assert (result.points, result.message) == (0, "did not finish (stopped: the kernel died)")


def test_a_missing_check_cell_scores_zero():
    lesson = tiny_lesson()
    submission = tool.student_version(lesson)
    del submission.cells[2]
    [result] = grading.score(lesson, grading.notebook_to_grade(submission, lesson), finished={0, 1})
    assert (result.points, result.max_points) == (0, 3)
    assert "missing" in result.message


def test_feedback_names_the_failed_check_and_its_message_without_a_traceback():
    grade = grading.Grade("ada", "ada.ipynb", "01_rnn_by_hand.ipynb",
                          [grading.CheckResult("rnn_step-check", 2, 2),
                           grading.CheckResult("bptt-check", 0, 3, "AssertionError: T=3: dL/dW_hh differs")])
    text = grading.feedback(grade)
    assert "Score: 2 / 5" in text
    assert "- `bptt-check` (0/3): FAILED: AssertionError: T=3: dL/dW_hh differs" in text
    assert "- `rnn_step-check` (2/2): passed" in text


# ------------------------------------------------------------------ end to end, in a copy of the repository


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of what grading needs (tools, packages, the small lessons) to run the command in."""
    copy = tmp_path_factory.mktemp("repo")
    ignore = shutil.ignore_patterns("__pycache__")
    for part in ("tools", "tensorgrad", "rnn"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    (copy / "lessons").mkdir()
    for name in SMALL_LESSONS:
        shutil.copy(ROOT / "lessons" / name, copy / "lessons" / name)
    return copy


def snapshot(folder):
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def grade(repo, submissions, out, timeout=120):
    """Run ``tools/lessons.py grade`` in ``repo``; returns {(student, lesson): gradebook.json record}."""
    command = [sys.executable, str(repo / "tools" / "lessons.py"), "grade", "--out", str(out),
               "--timeout", str(timeout), *map(str, submissions)]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=timeout * 10)
    assert done.returncode == 0, done.stdout + done.stderr
    records = json.loads((out / "gradebook.json").read_text())
    return {(r["student"], r["lesson"]): r for r in records}


def submit(folder, name, nb):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)
    return folder / name


@pytest.mark.slow
def test_solutions_get_full_marks_students_zero_and_half_solved_half(repo, tmp_path):
    lessons = [repo / "lessons" / name for name in SMALL_LESSONS]
    solutions = [submit(tmp_path / "teacher", p.name, read(p)) for p in lessons]
    students = tool.write_student_versions(lessons, tmp_path / "fresh")
    half = tool.student_version(read(lessons[1]))
    [first_exercise] = [k for k, c in enumerate(half.cells) if tool.grade_id(c) == "rnn_step"]
    half.cells[first_exercise] = read(lessons[1]).cells[first_exercise]
    halves = [submit(tmp_path / "halfway", lessons[1].name, half)]

    grades = grade(repo, solutions + students + halves, tmp_path / "out")

    for name in SMALL_LESSONS:
        solved, fresh = grades["teacher", name], grades["fresh", name]
        assert solved["total"] == solved["max"] > 0 and solved["problem"] == ""
        assert fresh["total"] == 0 and fresh["max"] == solved["max"]
    halfway = grades["halfway", "01_rnn_by_hand.ipynb"]
    scored = [(c["grade_id"], c["points"]) for c in halfway["checks"]]
    assert scored == [("rnn_step-check", 1), ("bptt-check", 0)]
    assert 0 < halfway["total"] < halfway["max"]
    with open(tmp_path / "out" / "gradebook.csv") as f:
        rows = {(r["student"], r["lesson"]): r for r in csv.DictReader(f)}
    assert rows["halfway", "01_rnn_by_hand.ipynb"]["rnn_step-check"] == "1"
    assert rows["halfway", "01_rnn_by_hand.ipynb"]["total"] == "1"
    feedback = (tmp_path / "out" / "feedback" / "halfway" / "01_rnn_by_hand.md").read_text()
    bptt_points = tool.points(next(c for c in read(lessons[1]).cells if tool.grade_id(c) == "bptt-check"))
    assert f"`bptt-check` (0/{bptt_points:g}): FAILED: NotImplementedError" in feedback
    assert "Traceback" not in feedback


def _with_cell(lesson_path, source, after_exercise=False):
    """The solution notebook of ``lesson_path`` with a code cell ``source`` put before its first
    exercise, or between that exercise and its check."""
    nb = read(lesson_path)
    first = next(k for k, c in enumerate(nb.cells) if tool.is_solution_cell(c))
    nb.cells.insert(first + after_exercise, nbformat.v4.new_code_cell(source))
    return nb


DELETE_EVERYTHING_NEARBY = """\
import os, shutil, tensorgrad
for path in ["lessons", "../lessons", "../../lessons", "../../../lessons", "tools", "../tools", "../../tools",
             "tensorgrad", "../tensorgrad", "../../tensorgrad"]:
    shutil.rmtree(path, ignore_errors=True)
for path in ["00_autodiff.ipynb", "lessons/00_autodiff.ipynb", "../lessons/00_autodiff.ipynb",
             "../../lessons/01_rnn_by_hand.ipynb", "../tools/lessons.py"]:
    try:
        os.remove(path)
    except OSError:
        pass
package = os.path.dirname(os.path.abspath(tensorgrad.__file__))
assert package.startswith(os.path.abspath("..")), f"imported {package}, not the sandbox's copy"
shutil.rmtree(package)  # the sandbox's copy, not the repository's
open(os.path.expanduser("~/left-behind.txt"), "w").write("x")
"""


@pytest.mark.slow
def test_looping_crashing_and_deleting_submissions_are_contained(repo, tmp_path):
    lesson = repo / "lessons" / "00_autodiff.ipynb"
    before = snapshot(repo)
    # The looper's and the crasher's hypot loops or exits the kernel when the check cell calls it.
    extra_cell = {"deleter": (DELETE_EVERYTHING_NEARBY, False),
                  "looper": ("def hypot(a, b):\n    while True:\n        pass", True),
                  "crasher": ("import os\ndef hypot(a, b):\n    os._exit(3)", True),
                  "early-crasher": ("import os\nos._exit(3)", False)}
    submissions = [submit(tmp_path / who, lesson.name, _with_cell(lesson, source, after))
                   for who, (source, after) in extra_cell.items()]
    submissions.append(submit(tmp_path / "honest", lesson.name, read(lesson)))
    grades = grade(repo, submissions, tmp_path / "out", timeout=30)

    assert snapshot(repo) == before, "a submission changed the repository's files"
    assert grades["honest", lesson.name]["total"] == grades["honest", lesson.name]["max"] > 0
    for who in ("looper", "crasher", "early-crasher"):
        assert grades[who, lesson.name]["total"] == 0, who
        assert "did not finish" in grades[who, lesson.name]["checks"][0]["message"], who
    assert "time limit of 30 s" in grades["looper", lesson.name]["problem"]
    assert "kernel died" in grades["crasher", lesson.name]["problem"]
    assert "kernel died" in grades["early-crasher", lesson.name]["problem"]
    # The deleter's answer is right: it keeps its points, and deleted nothing but its own sandbox.
    assert grades["deleter", lesson.name]["total"] == grades["deleter", lesson.name]["max"]
