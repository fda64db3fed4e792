"""nbgrader itself on the released lesson 01 gives the same scores as ``tools/lessons.py grade``.

nbgrader is no dependency of the project (it brings jupyterlab, sqlalchemy, alembic):
the test runs where an ``nbgrader`` command is on PATH (``pip install nbgrader==0.9.6``,
in a virtual environment of its own if you like) and skips elsewhere.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import lessons as tool  # tools/lessons.py: pytest's pythonpath holds tools/

ROOT = Path(__file__).resolve().parent.parent
NBGRADER = shutil.which("nbgrader")
LESSON = ROOT / "lessons" / "01_rnn_by_hand.ipynb"
ASSIGNMENT = LESSON.stem
pytestmark = [pytest.mark.skipif(NBGRADER is None, reason="no nbgrader on PATH (pip install nbgrader)"),
              pytest.mark.slow]

# Run by nbgrader's own interpreter: every grade cell's score, from nbgrader's gradebook.
READ_GRADEBOOK = """
import json, sys
from nbgrader.api import Gradebook
with Gradebook("sqlite:///gradebook.db") as gb:
    print(json.dumps({s: {g.cell.name: g.score for g in
                          gb.find_submission_notebook(sys.argv[1], sys.argv[1], s).grades}
                      for s in sys.argv[2:]}))
"""


def nbgrader_python():
    """The interpreter the ``nbgrader`` command runs on (its script's #! line)."""
    first = Path(NBGRADER).read_text().splitlines()[0]
    return first[2:].strip() if first.startswith("#!") else sys.executable


@pytest.mark.timeout(1200)  # nbgrader's generate and autograde take a few minutes on a busy machine
def test_nbgrader_autograde_gives_the_same_scores_as_the_grade_command(tmp_path):
    course = tmp_path / "course"
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(NBGRADER).parent), os.environ.get("PATH", "")]))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    tool.write_release_versions([LESSON], course)
    (course / "nbgrader_config.py").write_text('c = get_config()\nc.CourseDirectory.course_id = "lessons"\n')

    def nbgrader(*args):
        done = subprocess.run([NBGRADER, *args], cwd=course, env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stdout + done.stderr[-3000:]

    nbgrader("generate_assignment", ASSIGNMENT, "--create")
    released = nbformat.read(course / "release" / ASSIGNMENT / LESSON.name, as_version=4)
    assert not any(tool.WRONG_ANSWERS in c.metadata for c in released.cells)
    answers = {tool.grade_id(c): c.source for c in nbformat.read(LESSON, as_version=4).cells
               if tool.is_solution_cell(c)}
    solved_by = {"full": set(answers), "none": set(), "half": {"rnn_step"}}
    submissions = []
    for student, solved in solved_by.items():
        nb = copy.deepcopy(released)
        for cell in nb.cells:
            if tool.grade_id(cell) in solved:
                cell.source = answers[tool.grade_id(cell)]
        target = course / "submitted" / student / ASSIGNMENT / LESSON.name
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
        submissions.append(target)

    nbgrader("autograde", ASSIGNMENT, "--create")
    done = subprocess.run([nbgrader_python(), "-c", READ_GRADEBOOK, ASSIGNMENT, *solved_by], cwd=course,
                          env=env, capture_output=True, text=True, check=True)
    by_nbgrader = json.loads(done.stdout)

    command = [sys.executable, str(ROOT / "tools" / "lessons.py"), "grade", "--out", str(tmp_path / "grades"),
               *map(str, submissions)]
    subprocess.run(command, capture_output=True, text=True, check=True)
    records = json.loads((tmp_path / "grades" / "gradebook.json").read_text())
    by_us = {r["student"]: {c["grade_id"]: c["points"] for c in r["checks"]} for r in records}

    assert by_us == by_nbgrader
    worth = {tool.grade_id(c): tool.points(c) for c in nbformat.read(LESSON, as_version=4).cells
             if tool.is_check_cell(c)}
    assert by_us["full"] == worth
    assert by_us["half"] == {"rnn_step-check": worth["rnn_step-check"], "bptt-check": 0}
    assert by_us["none"] == {"rnn_step-check": 0, "bptt-check": 0}
