"""Lesson notebooks: re-run them to refresh their stored outputs, and write student versions.

    python3 tools/lessons.py regenerate [NOTEBOOK ...]      re-execute lessons in place (all by default)
    python3 tools/lessons.py student [--out DIR] [NOTEBOOK ...]   solutions stripped, outputs cleared

``lessons/NN_topic.ipynb`` is the solution version, committed with outputs that
nbval compares on every test run. Exercises follow nbgrader's conventions: the
answer sits between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in a cell
whose metadata says ``nbgrader.solution: true``; the student version replaces
that region with ``# YOUR CODE HERE`` / ``raise NotImplementedError()`` at the
same indentation, exactly as nbgrader's ClearSolutions does, so an instructor
can also hand the solution notebooks to nbgrader itself.

Both commands pin the same environment as the test run (see PINNED_ENV and the
root conftest.py) and run the kernel on this interpreter, as
``pytest --nbval-current-env`` does.
"""

import argparse
import copy
import os
import re
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
STUDENT_DIR = ROOT / "build" / "student"

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
CHECK_TAG = "exercise-check"


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


def lesson_paths(names=()):
    """The lesson notebooks named (paths or bare file names), or every ``lessons/NN_*.ipynb``."""
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
    unless ``allow_errors``. No timing metadata is written (record_timing=False).
    """
    from nbclient import NotebookClient

    pin_environment()
    client = NotebookClient(nb, km=_current_env_kernel_manager(), timeout=timeout,
                            allow_errors=allow_errors, record_timing=False,
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


def _replace_solution_region(source, stub):
    """``source`` with each BEGIN/END SOLUTION region replaced by ``stub`` lines at its indentation.

    Returns (new source, whether a region was found). Mirrors nbgrader's
    ClearSolutions._replace_solution_region, errors included.
    """
    lines, in_solution, replaced = [], False, False
    for line in source.split("\n"):
        if BEGIN_SOLUTION in line:
            if in_solution:
                raise ValueError("nested BEGIN SOLUTION markers")
            in_solution = replaced = True
            indent = re.match(r"\s*", line).group(0)
            lines.extend(indent + s for s in stub)
        elif END_SOLUTION in line:
            in_solution = False
        elif not in_solution:
            lines.append(line)
    if in_solution:
        raise ValueError("BEGIN SOLUTION without a matching END SOLUTION")
    return "\n".join(lines), replaced


def is_solution_cell(cell):
    return bool(cell.metadata.get("nbgrader", {}).get("solution", False))


def is_check_cell(cell):
    return CHECK_TAG in cell.metadata.get("tags", [])


def student_version(nb):
    """A copy of solution notebook ``nb`` as students get it: solutions replaced, outputs cleared."""
    nb = copy.deepcopy(nb)
    for i, cell in enumerate(nb.cells):
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        source, replaced = _replace_solution_region(cell.source, stub)
        if replaced and not is_solution_cell(cell):
            raise ValueError(f"cell {i} has SOLUTION markers but no nbgrader solution metadata "
                             '(metadata: {"nbgrader": {"solution": true, ...}})')
        if is_solution_cell(cell) and not replaced:  # nbgrader: a whole-cell answer
            source = "\n".join(stub)
        cell.source = source
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def write_student_versions(paths, out):
    """Write the student version of each notebook in ``paths`` into folder ``out``; returns the new paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        nb = student_version(nbformat.read(path, as_version=4))
        nbformat.validate(nb)
        target = out / path.name
        nbformat.write(nb, target)
        written.append(target)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    regen = commands.add_parser("regenerate", help="re-run lessons and store their outputs in place")
    regen.add_argument("notebooks", nargs="*", help="lesson notebooks (default: all)")
    student = commands.add_parser("student", help="write student versions (solutions stripped)")
    student.add_argument("notebooks", nargs="*", help="lesson notebooks (default: all)")
    student.add_argument("--out", type=Path, default=STUDENT_DIR,
                         help=f"output folder (default: {STUDENT_DIR.relative_to(ROOT)})")
    args = parser.parse_args(argv)

    paths = lesson_paths(args.notebooks)
    if args.command == "regenerate":
        for path in paths:
            seconds = regenerate(path)
            print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: "
                  f"regenerated in {seconds:.1f} s")
    else:
        for target in write_student_versions(paths, args.out):
            print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
