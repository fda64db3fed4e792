"""The lessons as a static website, built offline from the notebooks' stored outputs.

    python3 tools/website.py                  build/site/: the student view
    python3 tools/website.py --instructor     build/site-instructor/: solutions included
    python3 tools/website.py --out DIR [NOTEBOOK ...]

Nothing is executed: each page shows a lesson's text, code, printed outputs and
figures as stored in ``lessons/NN_topic.ipynb``. The index lists every lesson
with its numbered sections and exercises; each lesson page links to the previous
and next one and to its student notebook, which the builder writes into the site
with tools/lessons.py's ``student_version``.

A "Getting started" page (``getting-started.html``) says how to install the
package from a clone, get the student notebooks, and how the checks and grading
work; each lesson page says what it needs installed (from its imports: a
module imported at the top level of a cell is required, one imported inside a
block, such as lesson 07's ``import cupy`` under ``if GPU_TIMINGS:``, optional).

The pages read on a phone (390 px wide) without the page scrolling sideways:
tables, code, printed logs and display math scroll inside their own boxes, and
figures shrink to the column's width (each links to its full-size PNG).

The index has no column of cell time: the notebooks store no timing (they are
regenerated with record_timing=False so that they stay diff-stable), and a
committed timing file would depend on the machine and go stale with each edit;
the test suite holds every lesson to its cell-time budget instead.

In the student view (the default) every exercise shows the stub students get
(``# YOUR CODE HERE`` / ``raise NotImplementedError()``), and the solution cells'
stored outputs are dropped; no cell metadata is rendered, so nothing else of an
exercise's answer (its ``wrong_answers`` list included) reaches the pages.

Project briefs (unnumbered notebooks, ``lessons/capstone.ipynb``) follow the lessons, in a
table of their own on the index. A brief's worked solution (``capstone_solution.ipynb``) is
instructor-only: the student site leaves it out (naming it there is an error), and the
instructor site shows it after its brief, marked "instructor only" on the index and its page.

Audio: an ``IPython.display.Audio`` output is stored as HTML holding the WAV file in a
``data:audio/wav;base64,...`` URL. The builder never passes a notebook's HTML through; it takes
the WAV bytes out, checks they are a RIFF/WAVE file of at most MAX_AUDIO_BYTES, writes them to
``audio/NN_topic-cellNN-K.wav`` and shows its own ``<audio controls>`` element for that file.

The site needs no network when it is viewed: math is converted to MathML at
build time (latex2mathml; browsers render MathML natively), code is highlighted
by Pygments into static CSS classes, figures are PNG files beside the pages, and
there is no JavaScript. Markdown is parsed by markdown-it-py (CommonMark with
tables, dollar math and heading anchors); the pages are Jinja2 templates in
tools/website_templates/.
"""

import argparse
import base64
import importlib
import re
import shutil
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import nbformat
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer, get_lexer_by_name
from pygments.util import ClassNotFound

TOOLS = Path(__file__).resolve().parent
sys.path.insert(0, str(TOOLS))
lessons_tool = importlib.import_module("lessons")  # tools/lessons.py: student_version, lesson_paths

ROOT = lessons_tool.ROOT
SITE_DIR = ROOT / "build" / "site"
INSTRUCTOR_SITE_DIR = ROOT / "build" / "site-instructor"
TEMPLATES = TOOLS / "website_templates"
GETTING_STARTED = "getting-started.html"
MARKER = ".lessons-site"  # a folder holding this file was written by this builder and may be replaced
STATIC_FILES = ("style.css",)
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
NUMBERED_SECTION = re.compile(r"^\d+\.\s+")
PYGMENTS_STYLE = "default"
# On a phone a figure this much wider than tall (a row of panels) is shown at twice the column's
# width, in a box that scrolls sideways: squeezed into 360 px its labels would be unreadable.
WIDE_FIGURE = 2.5
# An Audio output's WAV, as IPython stores it in text/html; base64 only, so the match is linear in its length.
AUDIO_DATA_URL = re.compile(r'src="data:audio/(?:x-)?wav;base64,([A-Za-z0-9+/=]*)"')
MAX_AUDIO_BYTES = 2_000_000  # about a minute of 16-bit mono at 16 kHz; lessons keep clips to a few seconds


class SiteError(Exception):
    """A lesson cannot be rendered (bad math, a missing title): the message names the lesson and cell."""


# ------------------------------------------------------------------ one lesson as data for the templates


@dataclass
class Output:
    """One stored output as the page shows it: kind is "stream", "error", "image", "audio" or "text"."""

    kind: str
    text: str = ""
    name: str = ""  # stream name (stdout/stderr), or the file name of an image or audio clip
    wide: bool = False  # a figure more than WIDE_FIGURE times as wide as tall (several panels)


@dataclass
class Cell:
    """One notebook cell as rendered HTML; role is "exercise", "check" or "" (an ordinary cell)."""

    kind: str  # "markdown" or "code"
    html: str
    role: str = ""
    execution_count: int | None = None
    outputs: list = field(default_factory=list)


@dataclass
class Lesson:
    path: Path
    title: str
    sections: list  # (heading HTML, anchor id) of the numbered "## N. ..." sections
    exercises: list  # the exercises' nbgrader grade_ids, in order
    cells: list = field(default_factory=list)
    figures: dict = field(default_factory=dict)  # figure file name -> PNG bytes
    audio: dict = field(default_factory=dict)  # audio file name -> WAV bytes
    needs: list = field(default_factory=list)  # Requirements the lesson imports unconditionally
    optional: list = field(default_factory=list)  # Requirements imported only inside a block

    @property
    def slug(self):
        return self.path.stem

    @property
    def kind(self):
        """"lesson" (numbered), "brief" (a project brief) or "solution" (a brief's worked solution)."""
        if lessons_tool.is_solution_notebook(self.path):
            return "solution"
        return "lesson" if lessons_tool.lesson_number(self.path) is not None else "brief"

    @property
    def brief(self):
        """The file name of the brief a worked solution solves."""
        return lessons_tool.brief_of(self.path).name

    @property
    def page(self):
        return f"{self.slug}.html"

    @property
    def notebook(self):
        """The notebook students download; a worked solution has none (only the instructor's copy)."""
        return self.solution_notebook if self.kind == "solution" else f"notebooks/{self.path.name}"

    @property
    def solution_notebook(self):
        return f"notebooks/solutions/{self.path.name}"


@dataclass(frozen=True)
class Requirement:
    """Something a lesson imports, as a reader installs it: its name and the command that brings it."""

    name: str
    command: str  # run in a clone of the repository
    note: str = ""  # e.g. "with a CUDA GPU"


LESSONS_EXTRA = 'pip install -e ".[lessons]"'
# Third-party modules the lessons import -> how a reader gets them (all from a clone of the repository).
REQUIREMENTS = {
    "tensorgrad": Requirement("tensorgrad", LESSONS_EXTRA),
    "rnn": Requirement("rnn", LESSONS_EXTRA),
    "numpy": Requirement("NumPy", LESSONS_EXTRA),
    "matplotlib": Requirement("matplotlib", LESSONS_EXTRA),
    "cupy": Requirement("CuPy", 'pip install -e ".[gpu]"', "with a CUDA GPU"),
}
IMPORT = re.compile(r"^(?P<indent>[ \t]*)(?:import|from)[ \t]+(?P<module>[A-Za-z_]\w*)", re.MULTILINE)


def lesson_requirements(nb):
    """(required, optional) Requirements of notebook ``nb``, from the imports in its code cells.

    A module imported at a line's start is required; one imported only in an
    indented line (under an ``if``, in a ``try``) is optional. Standard-library
    modules are left out; an unknown third-party module is listed by name.
    """
    required, optional = {}, {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for match in IMPORT.finditer(cell.source):
            module = match.group("module")
            if module in sys.stdlib_module_names:
                continue
            found = REQUIREMENTS.get(module, Requirement(module, f"pip install {module}"))
            (optional if match.group("indent") else required)[module] = found
    order = list(REQUIREMENTS)

    def rank(name):  # the table's order, then unknown modules by name
        return (order.index(name) if name in order else len(order), name)

    return ([required[m] for m in sorted(required, key=rank)],
            [optional[m] for m in sorted(set(optional) - set(required), key=rank)])


def markdown_renderer():
    """CommonMark + tables + ``$...$`` / ``$$...$$`` math (to MathML) + ids on h1/h2, fences highlighted."""

    def render_math(latex, options):
        try:
            return latex_to_mathml(latex, display="block" if options["display_mode"] else "inline")
        except Exception as err:  # latex2mathml raises several types, all meaning "cannot convert this"
            raise SiteError(f"cannot convert math to MathML: ${latex}$ ({type(err).__name__}: {err}); "
                            "write it with commands latex2mathml knows") from err

    md = MarkdownIt("commonmark", {"highlight": highlight_code}).enable("table")
    dollarmath_plugin(md, renderer=render_math, allow_space=True, allow_digits=False)
    anchors_plugin(md, min_level=1, max_level=2)
    return md


def highlight_code(source, language="python", _attrs=None):
    """``source`` as Pygments HTML (``<div class="highlight"><pre>...``); unknown languages as plain text."""
    try:
        lexer = get_lexer_by_name(language) if language else PythonLexer()
    except ClassNotFound:
        lexer = get_lexer_by_name("text")
    return highlight(source, lexer, HtmlFormatter(cssclass="highlight"))


def _headings(md, tokens):
    """(level, inline HTML, anchor id) of every h1/h2 among markdown-it ``tokens``, in order."""
    found = []
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type == "heading_open" and opening.tag in ("h1", "h2"):
            found.append((int(opening.tag[1]), md.renderer.render(inline.children, md.options, {}),
                          opening.attrs.get("id", "")))
    return found


def audio_wav(html):
    """The WAV files (bytes) of the ``data:audio/wav;base64`` URLs in an output's ``html``, each checked:
    SiteError if one is not base64, not a RIFF/WAVE file, or over MAX_AUDIO_BYTES."""
    clips = []
    for match in AUDIO_DATA_URL.finditer(html):
        if len(match.group(1)) > MAX_AUDIO_BYTES * 4 // 3 + 4:
            raise SiteError(f"an audio clip is over {MAX_AUDIO_BYTES} bytes; keep clips to a few seconds")
        try:
            wav = base64.b64decode(match.group(1), validate=True)
        except ValueError as err:
            raise SiteError(f"an audio clip's data URL is not valid base64 ({err})") from err
        if len(wav) < 44 or wav[:4] != b"RIFF" or wav[8:12] != b"WAVE":
            raise SiteError("an audio clip is not a RIFF/WAVE file (it must start with 'RIFF' and have "
                            "'WAVE' at byte 8); display WAV audio, e.g. IPython.display.Audio(x, rate=r)")
        clips.append(wav)
    return clips


def _outputs(cell, slug, index, figures, audio):
    """The stored outputs of code cell ``index`` as Outputs; PNG figures go into ``figures`` and WAV
    clips into ``audio``, by file name. No output's HTML is shown as it is stored."""
    shown = []
    for k, out in enumerate(cell.get("outputs", [])):
        if out.output_type == "stream":
            shown.append(Output("stream", ANSI_ESCAPE.sub("", out.text), out.name))
        elif out.output_type == "error":
            traceback = "\n".join(ANSI_ESCAPE.sub("", line) for line in out.traceback)
            shown.append(Output("error", traceback or f"{out.ename}: {out.evalue}"))
        else:  # display_data / execute_result: the richest format this site shows
            data = out.get("data", {})
            if "image/png" in data:
                name = f"{slug}-cell{index:02d}-{k}.png"
                png = figures[name] = base64.b64decode(data["image/png"])
                width, height = struct.unpack(">II", png[16:24])  # the IHDR chunk, right after the signature
                shown.append(Output("image", data.get("text/plain", "figure"), name,
                                    wide=width > WIDE_FIGURE * height))
            elif "text/html" in data and AUDIO_DATA_URL.search(data["text/html"]):
                for m, wav in enumerate(audio_wav(data["text/html"])):
                    name = f"{slug}-cell{index:02d}-{k}{f'-{m}' if m else ''}.wav"
                    audio[name] = wav
                    shown.append(Output("audio", "audio", name))
            elif "text/plain" in data:
                shown.append(Output("text", data["text/plain"]))
    return shown


def render_lesson(path, instructor=False):
    """Lesson ``path`` (a solution notebook) as a Lesson: the student view, or the solutions (``instructor``).

    The student view takes each cell's source from ``student_version`` (cells
    stay in one-to-one order with the solution notebook) and each cell's stored
    outputs from the solution notebook, except a solution cell's, which are
    dropped: they come from the answer.
    """
    md = markdown_renderer()
    nb = nbformat.read(path, as_version=4)
    shown_nb = nb if instructor else lessons_tool.student_version(nb)
    cells, figures, audio, headings = [], {}, {}, []
    for i, (cell, shown) in enumerate(zip(nb.cells, shown_nb.cells, strict=True)):
        role = ("exercise" if lessons_tool.is_solution_cell(cell)
                else "check" if lessons_tool.is_check_cell(cell) else "")
        if cell.cell_type == "markdown":
            tokens = md.parse(shown.source)
            try:
                cells.append(Cell("markdown", md.renderer.render(tokens, md.options, {}), role))
                headings.extend(_headings(md, tokens))
            except SiteError as err:
                raise SiteError(f"{path.name}, cell {i}: {err}") from err
        elif cell.cell_type == "code":
            keep_outputs = instructor or role != "exercise"
            try:
                outputs = _outputs(cell, path.stem, i, figures, audio) if keep_outputs else []
            except SiteError as err:
                raise SiteError(f"{path.name}, cell {i}: {err}") from err
            cells.append(Cell("code", highlight_code(shown.source), role,
                              cell.execution_count if keep_outputs else None, outputs))

    titles = [text for level, text, _ in headings if level == 1]
    if not titles:
        raise SiteError(f"{path.name}: no title; start the first markdown cell with '# Lesson NN: ...'")
    sections = [(NUMBERED_SECTION.sub("", text), anchor) for level, text, anchor in headings
                if level == 2 and NUMBERED_SECTION.match(text)]
    exercises = [c.metadata["nbgrader"].get("grade_id", f"cell {i}")
                 for i, c in enumerate(nb.cells) if lessons_tool.is_solution_cell(c)]
    needs, optional = lesson_requirements(nb)
    return Lesson(path, titles[0], sections, exercises, cells, figures, audio, needs, optional)


# ------------------------------------------------------------------ the site


def _templates():
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def _prepare(out):
    """Empty folder ``out`` for a new build, refusing to delete a folder this builder did not write."""
    if out.exists():
        if not out.is_dir():
            raise SiteError(f"{out} is a file, not a folder; choose another --out")
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise SiteError(f"{out} exists and is not a site this builder wrote (no {MARKER} file); "
                            "choose another --out or remove it yourself")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / MARKER).write_text("written by tools/website.py; the folder is replaced on every build\n")


def build_site(out=SITE_DIR, paths=None, instructor=False):
    """Write the site for notebooks ``paths`` (default: every lesson and brief, and with ``instructor``
    the worked solutions) into folder ``out``; returns the Lessons.

    out/index.html, out/getting-started.html, out/NN_topic.html per notebook, out/figures/*.png,
    out/audio/*.wav, out/notebooks/NN_topic.ipynb (student versions; with ``instructor`` also
    out/notebooks/solutions/), out/style.css and out/pygments.css.
    """
    out = Path(out)
    paths = [Path(p) for p in (paths or lessons_tool.course_notebooks(instructor))]
    if not paths:
        raise SiteError(f"no lessons to build: {lessons_tool.LESSONS} has no NN_*.ipynb")
    for path in paths:
        if lessons_tool.is_solution_notebook(path) and not instructor:
            raise SiteError(f"{path.name} is the instructor's worked solution of "
                            f"{lessons_tool.brief_of(path).name}; the student site leaves it out "
                            "(build with --instructor to include it)")
    lessons = [render_lesson(path, instructor) for path in paths]

    _prepare(out)
    env = _templates()
    view = "instructor" if instructor else "student"
    for name in STATIC_FILES:
        shutil.copyfile(TEMPLATES / name, out / name)
    (out / "pygments.css").write_text(HtmlFormatter(style=PYGMENTS_STYLE).get_style_defs(".highlight"))
    (out / "figures").mkdir()
    (out / "audio").mkdir()
    lessons_tool.write_student_versions([p for p in paths if not lessons_tool.is_solution_notebook(p)],
                                        out / "notebooks")
    if instructor:
        (out / "notebooks" / "solutions").mkdir()
    (out / "index.html").write_text(env.get_template("index.html").render(
        lessons=[lesson for lesson in lessons if lesson.kind == "lesson"],
        projects=[lesson for lesson in lessons if lesson.kind != "lesson"], view=view))
    (out / GETTING_STARTED).write_text(env.get_template("getting_started.html").render(lessons=lessons,
                                                                                      view=view))
    for k, lesson in enumerate(lessons):
        for name, png in lesson.figures.items():
            (out / "figures" / name).write_bytes(png)
        for name, wav in lesson.audio.items():
            (out / "audio" / name).write_bytes(wav)
        if instructor:
            shutil.copyfile(lesson.path, out / lesson.solution_notebook)
        page = env.get_template("lesson.html").render(
            lesson=lesson, view=view, previous=lessons[k - 1] if k > 0 else None,
            next=lessons[k + 1] if k + 1 < len(lessons) else None)
        (out / lesson.page).write_text(page)
    return lessons


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="lesson notebooks (default: all)")
    parser.add_argument("--instructor", action="store_true",
                        help="include the exercise solutions and their outputs (default: the student view)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"output folder (default: {SITE_DIR.relative_to(ROOT)}, or "
                             f"{INSTRUCTOR_SITE_DIR.relative_to(ROOT)} with --instructor)")
    args = parser.parse_args(argv)
    out = args.out or (INSTRUCTOR_SITE_DIR if args.instructor else SITE_DIR)
    start = time.perf_counter()
    try:
        paths = lessons_tool.lesson_paths(args.notebooks) if args.notebooks else None
        lessons = build_site(out, paths, args.instructor)
    except SiteError as err:
        print(f"website: {err}", file=sys.stderr)
        return 1
    print(f"wrote {len(lessons)} lesson pages ({'instructor' if args.instructor else 'student'} view) "
          f"to {out} in {time.perf_counter() - start:.2f} s; open {out / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
