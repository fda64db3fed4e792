"""Grade students' lesson notebooks: ``python3 tools/lessons.py grade SUBMISSION.ipynb ...``.

Each submission is graded as nbgrader's autograde would grade it:

1. Its lesson is found from the nbgrader ``grade_id``s of its cells (or, failing
   that, its file name).
2. Every check cell and every locked cell is replaced by the instructor's version
   from ``lessons/`` (matched by ``grade_id``), hidden tests included; the
   student's own cells (their answers, any cells they added) stay as written.
3. The notebook runs in a fresh kernel (a separate process) whose working
   folder, HOME and temporary folder are a fresh sandbox, and which imports a
   copy of tensorgrad and rnn made inside that sandbox: a relative path, or a
   path from ``tensorgrad.__file__``, reaches only the copy, never the
   repository. The whole notebook has a time limit; when it runs out the kernel
   is killed.
4. Each check cell that ran without an error scores its points
   (``metadata.nbgrader.points`` in the lesson, default 1); one that raised, did
   not run (the time ran out, the kernel died before it) or is missing scores 0.

Results go to a gradebook (``gradebook.csv``, ``gradebook.json``) and one
feedback file per submission (``feedback/STUDENT/NN_topic.md``): each check's
points, and for a failed one its error name and the first line of its message.
A submission cannot change another's grade: each has its own kernel and sandbox,
and its points are read from the lesson, never from the submitted metadata.
"""

import copy
import csv
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

import lessons as lessons_tool  # tools/lessons.py: kernels, cell roles, lesson paths

GRADES_DIR = lessons_tool.ROOT / "build" / "grades"
NOTEBOOK_TIMEOUT_S = 300
PACKAGES = ("tensorgrad", "rnn")  # copied into each sandbox, so the kernel never imports the repository's


@dataclass
class CheckResult:
    """One check cell of one submission: its score and, when it failed, why (one line)."""

    grade_id: str
    points: float
    max_points: float
    message: str = ""  # "" when the check passed

    @property
    def passed(self):
        return self.points == self.max_points


@dataclass
class Grade:
    """One graded submission. ``problem`` says why it was not (fully) run: a time-out, a dead kernel."""

    student: str
    notebook: str  # the submission's path, as given
    lesson: str = ""  # the lesson's file name, "" when it could not be told
    checks: list = field(default_factory=list)
    problem: str = ""
    seconds: float = 0.0

    @property
    def total(self):
        return sum(c.points for c in self.checks)

    @property
    def max_total(self):
        return sum(c.max_points for c in self.checks)


# ------------------------------------------------------------------ which lesson, which student


def _grade_ids(nb):
    return {gid for gid in map(lessons_tool.grade_id, nb.cells) if gid}


def match_lesson(path, nb, lessons):
    """The lesson (one of the Paths ``lessons``) that submission ``nb`` read from ``path`` answers, or None.

    The lesson sharing the most nbgrader grade_ids with the submission wins;
    without any shared grade_id, a lesson whose file name the submission's name
    holds (``alice_01_rnn_by_hand.ipynb``) or whose number it starts with.
    """
    ids = _grade_ids(nb)
    overlap = {lesson: len(ids & _grade_ids(nbformat.read(lesson, as_version=4))) for lesson in lessons}
    best = max(overlap, key=overlap.get, default=None)
    if best is not None and overlap[best] > 0:
        return best
    name = Path(path).name
    named = [lesson for lesson in lessons if lesson.stem in name]
    number = re.match(r"\d\d(?!\d)", name)
    numbered = [lesson for lesson in lessons if number and lesson.name[:2] == number.group(0)]
    found = named or numbered
    return found[0] if len(found) == 1 else None


def student_id(path, lesson):
    """Who handed in ``path``: its file name less the lesson's name (``alice_01_rnn_by_hand.ipynb``
    -> ``alice``), or, for a file named like the lesson, its folder (``alice/01_rnn_by_hand.ipynb``,
    or nbgrader's ``submitted/alice/01_rnn_by_hand/01_rnn_by_hand.ipynb``)."""
    path = Path(path).resolve()
    stem = path.stem
    if lesson is not None:
        stem = stem.replace(lesson.stem, "")
    stem = stem.strip(" _-.")
    if stem:
        return stem
    folder = path.parent
    if lesson is not None and folder.name == lesson.stem:
        folder = folder.parent
    return folder.name or "unknown"


# ------------------------------------------------------------------ the notebook that runs


def notebook_to_grade(submission, lesson):
    """A copy of ``submission`` with every check and locked cell replaced by ``lesson``'s (by grade_id).

    Outputs are cleared. The student's answers and added cells are kept, as
    nbgrader's autograde keeps them.
    """
    instructor = {}
    for cell in lesson.cells:
        meta = cell.metadata.get("nbgrader", {})
        if lessons_tool.grade_id(cell) and (lessons_tool.is_check_cell(cell) or meta.get("locked")
                                            or meta.get("grade")):
            instructor[lessons_tool.grade_id(cell)] = cell
    nb = copy.deepcopy(submission)
    for k, cell in enumerate(nb.cells):
        reference = instructor.get(lessons_tool.grade_id(cell))
        if reference is not None:
            nb.cells[k] = cell = copy.deepcopy(reference)
            cell.metadata.pop(lessons_tool.WRONG_ANSWERS, None)
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _make_sandbox(root):
    """Folders for one submission under ``root``: ``work`` (cwd and HOME), ``lib`` (a copy of the
    packages) and ``tmp``; returns the kernel's environment and its working folder."""
    work, lib, tmp = root / "work", root / "lib", root / "tmp"
    for folder in (work, lib, tmp):
        folder.mkdir(parents=True)
    for package in PACKAGES:
        shutil.copytree(lessons_tool.ROOT / package, lib / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    env = dict(os.environ, **lessons_tool.PINNED_ENV)
    env.pop("MPLBACKEND", None)  # the inline backend, as in the lessons
    env.update(PYTHONPATH=str(lib), HOME=str(work), TMPDIR=str(tmp), IPYTHONDIR=str(root / "ipython"),
               MPLCONFIGDIR=str(root / "matplotlib"), PYTHONDONTWRITEBYTECODE="1")
    return env, work


def run_in_sandbox(nb, timeout):
    """Run ``nb`` in place in a fresh kernel in a fresh sandbox, within ``timeout`` seconds in all.

    Errors in cells do not stop the run (each check scores on its own). Returns
    (problem, finished): ``problem`` is "" when every cell ran, else why the run
    stopped (the time limit, or the kernel died: the notebook exited or crashed
    it); ``finished`` holds the indices of the cells that ran to the end without
    an error. A cell the kernel died in, or the time ran out in, is not among
    them, whatever it printed before.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    deadline = time.monotonic() + timeout
    finished = set()

    def record(cell, cell_index, execute_reply):
        if execute_reply and execute_reply.get("content", {}).get("status") == "ok":
            finished.add(cell_index)

    # ignore_cleanup_errors: whatever a submission leaves in its sandbox cannot stop the grading.
    with tempfile.TemporaryDirectory(prefix="grade-", ignore_cleanup_errors=True) as root:
        env, work = _make_sandbox(Path(root))
        client = NotebookClient(
            nb, km=lessons_tool._current_env_kernel_manager(), allow_errors=True, record_timing=False,
            timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
            startup_timeout=max(1, int(timeout)), shutdown_kernel="immediate", on_cell_executed=record,
            resources={"metadata": {"path": str(work)}})
        try:
            # The kernel's own log (not its cells' output) is of no use to the grader.
            client.execute(env=env, cwd=str(work), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except CellTimeoutError:
            return f"stopped: the notebook ran past its time limit of {timeout:g} s", finished
        except DeadKernelError:
            return "stopped: the kernel died (the notebook exited or crashed it)", finished
        except RuntimeError as err:  # the kernel did not start, or stopped answering
            why = str(err).strip().splitlines()[0] if str(err).strip() else ""
            return f"stopped: {type(err).__name__}: {why}", finished
    return "", finished


def _one_line_error(cell):
    """'Name: first line of the message' of the error a cell stored, or ""."""
    error = next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)
    if error is None:
        return ""
    message = next((line.strip() for line in error.evalue.splitlines() if line.strip()), "")
    message = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", message)
    if not message and error.ename == "NotImplementedError":
        message = "not answered yet (the exercise still raises NotImplementedError)"
    return f"{error.ename}: {message[:300]}" if message else error.ename


def score(lesson, graded, finished, problem=""):
    """One CheckResult per check cell of ``lesson``, in order, from the executed notebook ``graded``
    (``finished``: the indices of its cells that ran to the end without an error)."""
    where = {lessons_tool.grade_id(c): k for k, c in enumerate(graded.cells) if lessons_tool.grade_id(c)}
    results = []
    for cell in lesson.cells:
        if not lessons_tool.is_check_cell(cell):
            continue
        gid, worth = lessons_tool.grade_id(cell), lessons_tool.points(cell)
        k = where.get(gid)
        if k is None:
            results.append(CheckResult(gid, 0, worth, "the check cell is missing from the submission"))
        elif k in finished:
            results.append(CheckResult(gid, worth, worth))
        elif error := _one_line_error(graded.cells[k]):
            results.append(CheckResult(gid, 0, worth, error))
        else:
            why = problem or "the run stopped before it"
            results.append(CheckResult(gid, 0, worth, f"did not finish ({why})"))
    return results


def grade_submission(path, lessons, timeout=NOTEBOOK_TIMEOUT_S):
    """Grade one submitted notebook against the lessons (Paths); returns a Grade."""
    start = time.perf_counter()
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as err:  # not JSON, not a notebook: nbformat raises several types
        return Grade(student_id(path, None), str(path), problem=f"cannot read the notebook: "
                     f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
    lesson_path = match_lesson(path, submission, lessons)
    grade = Grade(student_id(path, lesson_path), str(path))
    if lesson_path is None:
        grade.problem = "cannot tell which lesson this answers (no lesson's grade_ids or file name)"
        return grade
    grade.lesson = lesson_path.name
    lesson = nbformat.read(lesson_path, as_version=4)
    graded = notebook_to_grade(submission, lesson)
    grade.problem, finished = run_in_sandbox(graded, timeout)
    grade.checks = score(lesson, graded, finished, grade.problem)
    grade.seconds = time.perf_counter() - start
    return grade


# ------------------------------------------------------------------ gradebook and feedback


def _safe_name(text):
    return re.sub(r"[^\w.-]+", "_", text) or "unknown"


def feedback(grade):
    """The feedback a student reads for one submission (markdown)."""
    lines = [f"# {grade.lesson or grade.notebook}: {grade.student}", "",
             f"Score: {grade.total:g} / {grade.max_total:g}", ""]
    if grade.problem:
        lines += [f"**{grade.problem}.** Checks after that point score 0.", ""]
    for check in grade.checks:
        mark = "passed" if check.passed else "FAILED"
        line = f"- `{check.grade_id}` ({check.points:g}/{check.max_points:g}): {mark}"
        lines.append(line + (f": {check.message}" if check.message else ""))
    return "\n".join(lines) + "\n"


def write_gradebook(grades, out):
    """gradebook.csv and gradebook.json in folder ``out``, and feedback/STUDENT/LESSON.md per grade."""
    out.mkdir(parents=True, exist_ok=True)
    columns = list(dict.fromkeys(c.grade_id for g in grades for c in g.checks))
    with open(out / "gradebook.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "lesson", "notebook", *columns, "total", "max", "problem"])
        for g in grades:
            got = {c.grade_id: f"{c.points:g}" for c in g.checks}
            writer.writerow([g.student, g.lesson, g.notebook, *(got.get(c, "") for c in columns),
                             f"{g.total:g}", f"{g.max_total:g}", g.problem])
    records = [dict(asdict(g), total=g.total, max=g.max_total) for g in grades]
    (out / "gradebook.json").write_text(json.dumps(records, indent=1) + "\n")
    for g in grades:
        lesson = _safe_name(Path(g.lesson or g.notebook).stem)
        target = out / "feedback" / _safe_name(g.student) / f"{lesson}.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(feedback(g))


def grade_all(paths, out=GRADES_DIR, timeout=NOTEBOOK_TIMEOUT_S, lessons=None, log=print):
    """Grade every submission in ``paths``, one after another; write the gradebook into ``out``."""
    lessons = lessons or lessons_tool.lesson_paths()
    grades = []
    for path in paths:
        grade = grade_submission(Path(path), lessons, timeout)
        grades.append(grade)
        log(f"{grade.student} {grade.lesson or '?'}: {grade.total:g}/{grade.max_total:g}"
            + (f" ({grade.problem})" if grade.problem else "") + f" [{grade.seconds:.1f} s]")
    write_gradebook(grades, Path(out))
    return grades
