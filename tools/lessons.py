"""Lesson notebooks: refresh their stored outputs, write student and nbgrader versions, grade.

    python3 tools/lessons.py regenerate [NOTEBOOK ...]      re-execute lessons in place (all by default)
    python3 tools/lessons.py portable [NOTEBOOK ...]        nbval under other OpenBLAS kernels
    python3 tools/lessons.py student [--out DIR] [NOTEBOOK ...]   solutions and hidden tests stripped
    python3 tools/lessons.py release [--out DIR] [NOTEBOOK ...]   nbgrader source notebooks
    python3 tools/lessons.py wrong-answers [-v] [NOTEBOOK ...]    each check rejects its known-wrong answers
    python3 tools/lessons.py grade [--out DIR] [--timeout S] SUBMISSION.ipynb ...   gradebook and feedback

``lessons/NN_topic.ipynb`` is the solution version, committed with outputs that
nbval compares on every test run. Exercises follow nbgrader's conventions: the
answer sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a cell
whose metadata says ``nbgrader.solution: true``; the student version replaces
that region with ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the
same indentation, exactly as nbgrader's ClearSolutions does, so an instructor
can also hand the solution notebooks to nbgrader itself.

Each solution cell also lists, in its metadata under ``wrong_answers``, the
mistakes students really make: ``[{"mistake": "...", "source": "..."}, ...]``,
each ``source`` a replacement for the marked region written at indentation 0.
``wrong-answers`` runs a lesson in one kernel and, at each exercise, puts the
stub, then every wrong answer, then the real solution in the marked region,
each followed by the exercise's check cell: the check must fail on the stub and
on every wrong answer, and pass on the solution (hidden tests included). The
student version drops the list.

A check cell may hold instructor-only lines between ``### BEGIN HIDDEN TESTS``
and ``### END HIDDEN TESTS`` (nbgrader's markers): the student version leaves
them out (as nbgrader's ClearHiddenTests does); ``wrong-answers`` and ``grade``
run them. Each check cell's ``nbgrader.points`` is its weight (default 1).
``release`` writes the nbgrader *source* notebooks (``source/NN_topic/``), with
the ``wrong_answers`` lists removed and hidden tests kept for nbgrader to strip.
``grade`` (tools/grading.py) runs each submission with the instructor's check
cells in a fresh kernel and sandbox, and writes a gradebook and feedback.

Unnumbered notebooks are project briefs (``lessons/capstone.ipynb``), handed out like
lessons; ``NAME_solution.ipynb`` is the instructor's worked solution of ``NAME.ipynb``:
regenerate, portable and wrong-answers run it, student and release refuse it. With no
notebook named, commands go over every lesson, brief and solution (``course_notebooks``).

All commands pin the same environment as the test run (see PINNED_ENV and the
root conftest.py) and run the kernel on this interpreter, as
``pytest --nbval-current-env`` does.
"""

import argparse
import copy
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
STUDENT_DIR = ROOT / "build" / "student"
RELEASE_DIR = ROOT / "build" / "release"  # nbgrader source notebooks

# Same seeds and thread counts every run, so printed numbers repeat exactly.
PINNED_ENV = {
    "PYTHONHASHSEED": "0",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
CELL_TIMEOUT_S = 120

# nbgrader's defaults (ClearSolutions.begin/end_solution_delimeter, code_stub, text_stub).
BEGIN_SOLUTION, END_SOLUTION = "BEGIN SOLUTION", "END SOLUTION"
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
TEXT_STUB = ["YOUR ANSWER HERE"]
# nbgrader's ClearHiddenTests delimiters: instructor-only lines of a check cell, run when grading.
BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
CHECK_TAG = "exercise-check"
WRONG_ANSWERS = "wrong_answers"  # cell metadata key: the known-wrong answers of an exercise
MIN_WRONG_ANSWERS = 3
MIN_EXERCISES_FROM_LESSON_02 = 2  # lessons 00 and 01 may have fewer
# Unnumbered notebooks in lessons/ are project briefs (capstone.ipynb); NAME_solution.ipynb is the
# instructor's worked solution of NAME.ipynb, which student and release never hand out.
SOLUTION_SUFFIX = "_solution"


def pin_environment():
    """Set PINNED_ENV in os.environ (kernels started later inherit it).

    MPLBACKEND is removed: ipykernel then selects the inline backend, which is
    what records figures as PNG in the notebook. The repository root goes first
    on PYTHONPATH, so a kernel imports this checkout's tensorgrad (as pytest's
    own imports do), installed or not.
    """
    os.environ.update(PINNED_ENV)
    os.environ.pop("MPLBACKEND", None)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != str(ROOT)]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *paths])


def is_solution_notebook(path):
    """Whether ``path`` is a project's worked solution (``NAME_solution.ipynb``, instructors only)."""
    return Path(path).stem.endswith(SOLUTION_SUFFIX)


def brief_of(path):
    """The project brief ``lessons/NAME.ipynb`` that solution notebook ``NAME_solution.ipynb`` solves."""
    path = Path(path)
    return path.with_name(path.stem.removesuffix(SOLUTION_SUFFIX) + ".ipynb")


def brief_paths():
    """The project briefs: every unnumbered ``lessons/NAME.ipynb`` that is not a worked solution."""
    return sorted(p for p in LESSONS.glob("*.ipynb")
                  if lesson_number(p) is None and not is_solution_notebook(p))


def course_notebooks(instructor=True):
    """Every notebook of the course, in reading order: the numbered lessons, then each project brief
    followed (``instructor``) by its worked solution. Tests, the time budget, portability and the
    site go over these; ``lesson_paths()`` stays the numbered lessons."""
    paths = lesson_paths()
    for brief in brief_paths():
        paths.append(brief)
        solution = brief.with_name(brief.stem + SOLUTION_SUFFIX + ".ipynb")
        if instructor and solution.exists():
            paths.append(solution)
    return paths


def refuse_solution_notebooks(paths, command):
    """``paths``; ValueError (one clear sentence) if it holds a worked solution: students never get one."""
    for path in paths:
        if is_solution_notebook(path):
            raise ValueError(f"{Path(path).name} is the instructor's worked solution of "
                             f"{brief_of(path).name}; '{command}' never hands it out to students "
                             f"(name {brief_of(path).name} to hand out the project brief)")
    return paths


def lesson_paths(names=()):
    """The notebooks named (paths or bare file names), or every numbered lesson ``lessons/NN_*.ipynb``."""
    if not names:
        return sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))
    paths = []
    for name in names:
        path = Path(name)
        if not path.exists() and (LESSONS / name).exists():
            path = LESSONS / name
        if not path.exists():
            raise SystemExit(f"no such notebook: {name}")
        paths.append(path.resolve())
    return paths


def _current_env_kernel_manager():
    """A kernel manager whose every kernel runs on this interpreter (like nbval's current-env)."""
    import ipykernel.kernelspec
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpecManager

    class CurrentEnvKernelSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            return self.kernel_spec_class(resource_dir=ipykernel.kernelspec.RESOURCES,
                                          **ipykernel.kernelspec.get_kernel_dict())

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=CurrentEnvKernelSpecs())


def execute(nb, cwd, allow_errors=False, timeout=CELL_TIMEOUT_S):
    """Run every code cell of ``nb`` in place in a fresh kernel started in ``cwd``; returns nb.

    Cells tagged ``raises-exception`` may raise; any other error stops the run
    unless ``allow_errors``. No timing metadata is written (record_timing=False),
    and each cell's consecutive stdout/stderr messages are merged into one
    output (how the kernel happened to split a cell's prints varies from run
    to run; nbval merges them too before comparing).
    """
    from nbclient import NotebookClient

    pin_environment()
    client = NotebookClient(nb, km=_current_env_kernel_manager(), timeout=timeout,
                            allow_errors=allow_errors, record_timing=False, coalesce_streams=True,
                            resources={"metadata": {"path": str(cwd)}})
    client.execute()
    return nb


def regenerate(path):
    """Re-execute one solution notebook and store its fresh outputs in place; returns seconds taken."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    start = time.perf_counter()
    execute(nb, cwd=path.parent)
    seconds = time.perf_counter() - start
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return seconds


def _replace_region(source, begin, end, stub):
    """``source`` with each ``begin``...``end`` marker region replaced by ``stub`` lines at its indentation.

    Returns (new source, whether a region was found). The marker lines go with
    the region, as in nbgrader's ClearSolutions and ClearHiddenTests.
    """
    lines, inside, replaced = [], False, False
    for line in source.split("\n"):
        if begin in line:
            if inside:
                raise ValueError(f"nested {begin} markers")
            inside = replaced = True
            indent = re.match(r"\s*", line).group(0)
            lines.extend(indent + s if s.strip() else s for s in stub)
        elif end in line:
            inside = False
        elif not inside:
            lines.append(line)
    if inside:
        raise ValueError(f"{begin} without a matching {end}")
    return "\n".join(lines), replaced


def _replace_solution_region(source, stub):
    """``source`` with each BEGIN/END SOLUTION region replaced by ``stub`` lines at its indentation.

    Returns (new source, whether a region was found). Mirrors nbgrader's
    ClearSolutions._replace_solution_region, errors included.
    """
    return _replace_region(source, BEGIN_SOLUTION, END_SOLUTION, stub)


def remove_hidden_tests(source):
    """``source`` without its BEGIN/END HIDDEN TESTS regions (markers included), as nbgrader's
    ClearHiddenTests leaves a check cell; returns (new source, whether a region was found)."""
    return _replace_region(source, BEGIN_HIDDEN_TESTS, END_HIDDEN_TESTS, [])


def is_solution_cell(cell):
    return bool(cell.metadata.get("nbgrader", {}).get("solution", False))


def is_check_cell(cell):
    return CHECK_TAG in cell.metadata.get("tags", [])


def grade_id(cell):
    """The cell's nbgrader ``grade_id``, or None for a cell nbgrader does not know."""
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def points(cell):
    """What a check cell is worth: its ``nbgrader.points`` (lesson authors weigh by difficulty), else 1."""
    return float(cell.metadata.get("nbgrader", {}).get("points", 1))


def release_version(nb):
    """A copy of solution notebook ``nb`` as an nbgrader *source* notebook: every ``wrong_answers``
    list removed (nbgrader keeps cell metadata in what it releases), solutions, hidden tests and
    outputs kept for nbgrader's generate_assignment to strip."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        _, hidden = remove_hidden_tests(cell.source)  # checks the markers pair up
        if hidden and not is_check_cell(cell):
            raise ValueError(f"cell {i} has HIDDEN TESTS markers but is not a check cell "
                             f"(tagged '{CHECK_TAG}'); hidden tests belong in a check cell")
        cell.metadata.pop("execution", None)
        cell.metadata.pop(WRONG_ANSWERS, None)  # the list of wrong answers would give the answer away
    return nb


def student_version(nb):
    """A copy of solution notebook ``nb`` as students get it: solutions replaced, hidden tests
    removed, outputs cleared, no ``wrong_answers``."""
    nb = release_version(nb)
    for i, cell in enumerate(nb.cells):
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        source, replaced = _replace_solution_region(cell.source, stub)
        if replaced and not is_solution_cell(cell):
            raise ValueError(f"cell {i} has SOLUTION markers but no nbgrader solution metadata "
                             '(metadata: {"nbgrader": {"solution": true, ...}})')
        if is_solution_cell(cell) and not replaced:  # nbgrader: a whole-cell answer
            source = "\n".join(stub)
        cell.source, _ = remove_hidden_tests(source)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def write_student_versions(paths, out):
    """Write the student version of each notebook in ``paths`` into folder ``out``; returns the new paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in refuse_solution_notebooks(paths, "student"):
        nb = student_version(nbformat.read(path, as_version=4))
        nbformat.validate(nb)
        target = out / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def write_release_versions(paths, out):
    """nbgrader's course layout in folder ``out``: ``source/NN_topic/NN_topic.ipynb`` per lesson
    (one assignment each, see release_version); returns the new paths."""
    written = []
    for path in refuse_solution_notebooks(paths, "release"):
        nb = release_version(nbformat.read(path, as_version=4))
        nbformat.validate(nb)
        target = out / "source" / path.stem / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    return written


# ------------------------------------------------------------ known-wrong answers


@dataclass
class Attempt:
    """What one version of an exercise did when its check cell ran after it.

    failed_in: None (the check passed), "exercise" (the exercise cell itself
    raised) or "check"; error: "Name: first line of the message"; printed: the
    first line the check printed.
    """

    label: str
    failed_in: str | None = None
    error: str = ""
    printed: str = ""

    @property
    def compiles(self):
        syntax = self.error.startswith(("SyntaxError", "IndentationError"))
        return not (self.failed_in == "exercise" and syntax)

    @property
    def rejected(self):
        """The check (or the exercise cell itself, at run time) caught this version."""
        return self.failed_in is not None and self.compiles

    def describe(self):
        if self.failed_in is None:
            return f"the check passed (printed {self.printed!r})" if self.printed else "the check passed"
        return f"the {self.failed_in} cell raised {self.error}"


@dataclass
class ExerciseReport:
    """One exercise: its stripped version, known-wrong answers and solution, each run with its check."""

    grade_id: str
    cell_index: int
    stub: Attempt | None = None
    solution: Attempt | None = None
    wrong: list = field(default_factory=list)  # Attempts, one per known-wrong answer
    problems: list = field(default_factory=list)

    def summary(self):
        """'hypot: solution passes, stripped version fails, 4/4 wrong answers rejected'."""
        parts = []
        if self.solution is not None:
            parts.append("solution passes" if self.solution.failed_in is None else "solution FAILS")
        if self.stub is not None:
            parts.append("stripped version fails" if self.stub.failed_in else "stripped version PASSES")
        rejected = sum(a.rejected for a in self.wrong)
        parts.append(f"{rejected}/{len(self.wrong)} wrong answers rejected")
        return f"{self.grade_id}: " + ", ".join(parts)


@dataclass
class LessonReport:
    """One lesson's exercises, what is wrong with the lesson as a whole, and the seconds the run took."""

    path: Path
    exercises: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # about the lesson as a whole
    seconds: float = 0.0

    def all_problems(self):
        """Every problem found, one readable line each, naming the lesson and the exercise."""
        lines = [f"{self.path.name}: {p}" for p in self.problems]
        for ex in self.exercises:
            lines.extend(f"{self.path.name}: exercise {ex.grade_id}: {p}" for p in ex.problems)
        return lines


def _error_of(cell):
    error = next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)
    if error is None:
        return None
    message = (error.evalue.strip().splitlines() or [""])[0]
    return f"{error.ename}: {message[:200]}" if message else error.ename


def _first_printed_line(cell):
    text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.output_type == "stream")
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _try_exercise(client, nb, solution_index, check_index, source, label):
    """Run the exercise cell with ``source``, then its check cell (copies: nb keeps its sources)."""
    exercise = copy.deepcopy(nb.cells[solution_index])
    exercise.source = source
    client.execute_cell(exercise, solution_index)
    error = _error_of(exercise)
    if error is not None:
        return Attempt(label, "exercise", error)
    check = copy.deepcopy(nb.cells[check_index])
    client.execute_cell(check, check_index)
    error = _error_of(check)
    return Attempt(label, "check" if error else None, error or "", _first_printed_line(check))


def _wrong_answer_problems(cell):
    """The wrong_answers list of a solution cell, and what is wrong with it (list of strings)."""
    answers = cell.metadata.get(WRONG_ANSWERS, [])
    problems = []
    if WRONG_ANSWERS in cell.metadata.get("nbgrader", {}):
        problems.append(f"'{WRONG_ANSWERS}' is under the nbgrader metadata; put it in the cell's own "
                        "metadata, beside 'nbgrader'")
    if not isinstance(answers, list) or not all(
            isinstance(a, dict) and isinstance(a.get("mistake"), str) and a["mistake"].strip()
            and isinstance(a.get("source"), str) and a["source"].strip() for a in answers):
        problems.append(f"'{WRONG_ANSWERS}' must be a list of {{\"mistake\": str, \"source\": str}} "
                        "with both strings non-empty")
        answers = []
    if len(answers) < MIN_WRONG_ANSWERS:
        problems.append(f"has {len(answers)} known-wrong answers; an exercise needs at least "
                        f"{MIN_WRONG_ANSWERS} (metadata '{WRONG_ANSWERS}')")
    return answers, problems


def _check_one_exercise(client, nb, i, j, report):
    """Stub, wrong answers, then the solution of exercise cell i, each checked by cell j."""
    cell = nb.cells[i]
    answers, report.problems = _wrong_answer_problems(cell)
    stub, _ = _replace_solution_region(cell.source, CODE_STUB)
    report.stub = _try_exercise(client, nb, i, j, stub, "stripped version")
    if report.stub.failed_in is None:
        report.problems.append("the stripped (student) version passes its check")
    for answer in answers:
        source, _ = _replace_solution_region(cell.source, answer["source"].strip("\n").split("\n"))
        attempt = _try_exercise(client, nb, i, j, source, answer["mistake"])
        if not attempt.compiles:
            report.problems.append(f"wrong answer {answer['mistake']!r} does not compile ({attempt.error}); "
                                   "a wrong answer must be code a student could run")
        elif attempt.failed_in is None:
            report.problems.append(f"wrong answer {answer['mistake']!r} got through: {attempt.describe()}")
        report.wrong.append(attempt)
    report.solution = _try_exercise(client, nb, i, j, cell.source, "solution")
    if report.solution.failed_in is not None:
        report.problems.append(f"the solution fails: {report.solution.describe()}")


def lesson_number(path):
    """The NN of ``NN_topic.ipynb``, or None."""
    match = re.match(r"(\d\d)_", Path(path).name)
    return int(match.group(1)) if match else None


def lesson_structure_problems(path, nb):
    """What is wrong with the exercises of notebook ``nb`` (read from ``path``) before running it."""
    problems = []
    exercises = [c for c in nb.cells if is_solution_cell(c)]
    for i, c in enumerate(nb.cells):
        if WRONG_ANSWERS in c.metadata and not is_solution_cell(c):
            problems.append(f"cell {i} ({c.get('id')}) has '{WRONG_ANSWERS}' but is not an exercise "
                            "(nbgrader solution) cell")
    number = lesson_number(path)
    if number is not None and number >= 2 and len(exercises) < MIN_EXERCISES_FROM_LESSON_02:
        problems.append(f"has {len(exercises)} exercises; a lesson numbered 02 or higher needs at "
                        f"least {MIN_EXERCISES_FROM_LESSON_02}")
    return problems


def check_exercises(path, timeout=CELL_TIMEOUT_S):
    """Run lesson ``path`` in one kernel, trying every exercise's stub, known-wrong answers and solution.

    Cells run in order. At each solution cell the marked region is replaced in
    turn by the student stub, by each of its ``wrong_answers`` (re-indented to
    the marker, as the stub is) and finally by the solution itself, each time
    followed by the next code cell, which must be its ``exercise-check`` cell:
    the check must fail (raise) on the stub and on every wrong answer, and pass
    on the solution. Returns a LessonReport; ``all_problems()`` is empty when
    every exercise is sound.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    report = LessonReport(path, problems=lesson_structure_problems(path, nb))
    cells = nb.cells
    exercises = [i for i, c in enumerate(cells) if is_solution_cell(c)]

    pin_environment()
    client = NotebookClient(nb, km=_current_env_kernel_manager(), timeout=timeout, allow_errors=True,
                            record_timing=False, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    checked = set()  # check cells already run, after their exercise
    try:
        with client.setup_kernel():
            for i, cell in enumerate(cells):
                if cell.cell_type != "code" or i in checked:
                    continue
                if i in exercises:
                    grade_id = cell.metadata["nbgrader"].get("grade_id", f"cell {i}")
                    exercise = ExerciseReport(grade_id, i)
                    report.exercises.append(exercise)
                    j = next((k for k in range(i + 1, len(cells)) if cells[k].cell_type == "code"), None)
                    if j is None or not is_check_cell(cells[j]):
                        exercise.problems.append(f"is not followed by a code cell tagged '{CHECK_TAG}'")
                    elif "BEGIN SOLUTION" not in cell.source:
                        exercise.problems.append("has no ### BEGIN SOLUTION / ### END SOLUTION region")
                    else:
                        _check_one_exercise(client, nb, i, j, exercise)
                        checked.add(j)
                        continue
                run = copy.deepcopy(cell)
                client.execute_cell(run, i)
                error = _error_of(run)
                if error and "raises-exception" not in cell.metadata.get("tags", []):
                    report.problems.append(f"cell {i} ({cell.get('id')}) raised {error}")
    except (CellTimeoutError, DeadKernelError) as err:
        report.problems.append(f"stopped: {type(err).__name__}: {str(err).strip().splitlines()[0]}")
    report.seconds = time.perf_counter() - start
    return report


def print_wrong_answer_report(report, verbose=False, file=sys.stdout):
    """Print per exercise 'N/N wrong answers rejected' and every mistake that got through."""
    name = report.path.relative_to(ROOT) if report.path.is_relative_to(ROOT) else report.path
    print(f"{name} ({report.seconds:.1f} s)", file=file)
    for ex in report.exercises:
        print(f"  {ex.summary()}", file=file)
        if verbose and ex.stub is not None:
            print(f"    stripped version: {ex.stub.describe()}", file=file)
        for attempt in ex.wrong:
            if verbose or not attempt.rejected:
                mark = "rejected" if attempt.rejected else "NOT REJECTED"
                print(f"    {mark}: {attempt.label}: {attempt.describe()}", file=file)
    for line in report.all_problems():
        print(f"  PROBLEM {line}", file=file)


PORTABILITY_RULE = """\
Stored outputs must not depend on the CPU, the BLAS kernel or the thread count: nbval compares
them on every machine, and another CPU picks other OpenBLAS kernels, which round matrix products
differently. Print what is robust (diverged or not, which model wins, an order of magnitude, values
rounded so that they survive a change of kernel); use float64 where that makes a number stable; and
assert the exact claim in the cell, with a tolerance. Check with:
    python3 tools/lessons.py portable [NOTEBOOK ...]   (nbval under OPENBLAS_CORETYPE=Haswell, Sandybridge)"""

# OpenBLAS kernels that every x86-64 CPU with AVX2 can run (OPENBLAS_CORETYPE); tests/test_portability.py
# and the ``portable`` command run nbval under each.
OTHER_BLAS_KERNELS = ("Haswell", "Sandybridge")


def blas_kernel_in_use(coretype=None):
    """The OpenBLAS kernel numpy loads (with ``OPENBLAS_CORETYPE=coretype``), e.g. "Haswell", or None
    when numpy's BLAS is not an OpenBLAS that says which kernel it chose."""
    import subprocess

    env = dict(os.environ, OPENBLAS_VERBOSE="2")
    env.pop("OPENBLAS_CORETYPE", None)
    if coretype:
        env["OPENBLAS_CORETYPE"] = coretype
    done = subprocess.run([sys.executable, "-c", "import numpy"], env=env, capture_output=True, text=True,
                          timeout=120)
    match = re.search(r"Core: (\w+)", done.stdout + done.stderr)
    return match.group(1) if match else None


def unsupported_blas_kernel(coretype):
    """Why ``OPENBLAS_CORETYPE=coretype`` cannot be tried on this machine, or None when it can."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"OPENBLAS_CORETYPE={coretype} needs an x86-64 CPU, this is {platform.machine()}"
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "no /proc/cpuinfo to tell whether the CPU has AVX2"
    if not re.search(r"^flags\s*:.*\bavx2\b", flags, re.MULTILINE):
        return "the CPU has no AVX2, so OpenBLAS cannot run every x86-64 kernel"
    used = blas_kernel_in_use(coretype)
    if used is None:
        return "numpy's BLAS is not an OpenBLAS that reports its kernel (OPENBLAS_VERBOSE=2)"
    if used.lower() != coretype.lower():
        return f"OpenBLAS ignored OPENBLAS_CORETYPE={coretype} and chose {used}"
    return None


def nbval_under(coretype, paths, timeout=None, root=ROOT):
    """Run nbval (pytest, with the settings of repository ``root``) on notebooks ``paths`` with
    OpenBLAS's ``coretype`` kernel, in a subprocess; returns (exit code, ["NN_topic.ipynb::Cell 8",
    ...] that failed, the last line pytest printed)."""
    import subprocess

    env = dict(os.environ, OPENBLAS_CORETYPE=coretype)
    command = [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *map(str, paths)]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=timeout)
    failed = [line.split(maxsplit=1)[1].split(" - ")[0].rsplit("/", 1)[-1]
              for line in done.stdout.splitlines() if line.startswith(("FAILED ", "ERROR "))]
    last = next((line for line in reversed(done.stdout.splitlines()) if line.strip()), "")
    return done.returncode, failed, last


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    regen = commands.add_parser("regenerate", help="re-run lessons and store their outputs in place")
    regen.add_argument("notebooks", nargs="*", help="lesson notebooks (default: all)")
    portable = commands.add_parser("portable", help="run nbval on lessons under other OpenBLAS kernels")
    portable.add_argument("notebooks", nargs="*", help="lesson notebooks (default: all)")
    portable.add_argument("--kernels", nargs="+", default=list(OTHER_BLAS_KERNELS),
                          help=f"OPENBLAS_CORETYPE values (default: {' '.join(OTHER_BLAS_KERNELS)})")
    student = commands.add_parser("student", help="write student versions (solutions stripped)")
    student.add_argument("notebooks", nargs="*", help="lesson notebooks (default: all)")
    student.add_argument("--out", type=Path, default=STUDENT_DIR,
                         help=f"output folder (default: {STUDENT_DIR.relative_to(ROOT)})")
    release = commands.add_parser("release", help="write nbgrader source notebooks (no wrong_answers lists)")
    release.add_argument("notebooks", nargs="*", help="lesson notebooks (default: all)")
    release.add_argument("--out", type=Path, default=RELEASE_DIR,
                         help=f"nbgrader course folder (default: {RELEASE_DIR.relative_to(ROOT)})")
    wrong = commands.add_parser("wrong-answers",
                                help="check every exercise rejects its stub and known-wrong answers")
    wrong.add_argument("notebooks", nargs="*", help="lesson notebooks (default: all)")
    wrong.add_argument("-v", "--verbose", action="store_true", help="also list how each mistake was caught")
    grade = commands.add_parser("grade", help="grade submitted notebooks: gradebook and feedback")
    grade.add_argument("submissions", nargs="+", type=Path, help="students' notebooks (.ipynb)")
    grade.add_argument("--out", type=Path, default=ROOT / "build" / "grades",
                       help="folder for gradebook.csv, gradebook.json and feedback/ (default: build/grades)")
    grade.add_argument("--timeout", type=float, default=300,
                       help="seconds each notebook may run in all (default: 300)")
    args = parser.parse_args(argv)

    if args.command == "grade":
        import grading  # tools/grading.py, beside this file

        missing = [str(p) for p in args.submissions if not p.is_file()]
        if missing:
            raise SystemExit(f"no such notebook: {', '.join(missing)}")
        if args.timeout <= 0:
            raise SystemExit(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
        grading.grade_all(args.submissions, args.out, args.timeout)
        print(f"wrote {args.out / 'gradebook.csv'}, gradebook.json and feedback/")
        return 0
    if args.command in ("student", "release"):  # the lessons and project briefs, never a worked solution
        try:
            paths = refuse_solution_notebooks(lesson_paths(args.notebooks), args.command) if args.notebooks \
                else course_notebooks(instructor=False)
        except ValueError as err:
            raise SystemExit(str(err)) from None
    else:
        paths = lesson_paths(args.notebooks) if args.notebooks else course_notebooks()
    if args.command == "wrong-answers":
        failed = False
        for path in paths:
            report = check_exercises(path)
            print_wrong_answer_report(report, verbose=args.verbose)
            failed = failed or bool(report.all_problems())
        return 1 if failed else 0
    if args.command == "portable":
        failed = False
        for coretype in args.kernels:
            reason = unsupported_blas_kernel(coretype)
            if reason:
                print(f"OPENBLAS_CORETYPE={coretype}: skipped: {reason}")
                continue
            code, cells, last = nbval_under(coretype, paths)
            print(f"OPENBLAS_CORETYPE={coretype}: {last}")
            for cell in cells:
                print(f"  FAILED {cell}")
            failed = failed or code != 0
        if failed:
            print("\n" + PORTABILITY_RULE)
        return 1 if failed else 0
    if args.command == "regenerate":
        print(PORTABILITY_RULE + "\n")
        for path in paths:
            seconds = regenerate(path)
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
                  f"regenerated in {seconds:.1f} s")
    elif args.command == "release":
        for target in write_release_versions(paths, args.out):
            print(f"wrote {target}")
    else:
        for target in write_student_versions(paths, args.out):
            print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
