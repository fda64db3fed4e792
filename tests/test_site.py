"""The lessons' website (tools/website.py): every lesson has a page, the student view hides the
answers, the instructor view shows them, and every image and link resolves inside the site.

The site is built once per view from the committed notebooks (no execution, a second or so).
"""

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat
import pytest
import website  # tools/website.py

import lessons as lessons_tool  # tools/lessons.py: pytest's pythonpath holds tools/

ROOT = Path(__file__).resolve().parent.parent
LESSONS = lessons_tool.lesson_paths()
STUDENT_NOTEBOOKS = lessons_tool.course_notebooks(instructor=False)  # the lessons, then the project briefs
by_lesson = pytest.mark.parametrize("path", LESSONS, ids=[p.stem for p in LESSONS])
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class Page(HTMLParser):
    """What the tests need from one HTML page: its visible text, its ids, and every URL it references."""

    URL_ATTRS = {"a": "href", "link": "href", "img": "src", "script": "src", "source": "src", "iframe": "src",
                 "audio": "src"}

    def __init__(self, path):
        super().__init__(convert_charrefs=True)
        self.path = path
        self.text_parts, self.ids, self.refs, self.tags = [], set(), [], []
        self.feed(path.read_text())
        self.text = "".join(self.text_parts)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append(tag)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        name = self.URL_ATTRS.get(tag)
        if name and attrs.get(name) is not None:
            self.refs.append((tag, attrs[name]))

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text_parts.append(data)


def _solution_lines(source):
    """The non-blank lines between BEGIN SOLUTION and END SOLUTION markers, stripped."""
    lines, inside = [], False
    for line in source.split("\n"):
        if lessons_tool.BEGIN_SOLUTION in line:
            inside = True
        elif lessons_tool.END_SOLUTION in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


def answer_lines(nb):
    """Every line of every exercise's answer: its solution region, or a whole unmarked solution cell.

    A line that also appears where students see it anyway (the student version's
    sources, the stored outputs of other cells) is no leak and is left out.
    """
    student = lessons_tool.student_version(nb)
    visible = "\n".join(c.source for c in student.cells)
    visible += "\n".join(json.dumps(c.get("outputs", [])) for c in nb.cells
                         if not lessons_tool.is_solution_cell(c))
    answers = []
    for cell in nb.cells:
        if lessons_tool.is_solution_cell(cell):
            lines = _solution_lines(cell.source)
            if lessons_tool.BEGIN_SOLUTION not in cell.source:
                lines = [line.strip() for line in cell.source.split("\n") if line.strip()]
            answers.extend(line for line in lines if line not in visible)
    return answers


def wrong_answer_lines(nb):
    """The lines of every known-wrong answer listed in the cells' ``wrong_answers`` metadata."""
    visible = "\n".join(c.source for c in nb.cells)
    return [line.strip() for cell in nb.cells for answer in cell.metadata.get("wrong_answers", [])
            for line in answer.get("source", "").split("\n") if line.strip() and line.strip() not in visible]


@pytest.fixture(scope="module")
def student_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "student"
    return out, website.build_site(out)


@pytest.fixture(scope="module")
def instructor_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site") / "instructor"
    return out, website.build_site(out, instructor=True)


def pages(out):
    return sorted(out.glob("*.html"))


# ------------------------------------------------------------------ what is there


def test_every_lesson_has_a_page_and_a_row_in_the_index(student_site):
    out, _ = student_site
    index = Page(out / "index.html")
    linked = {unquote(urlsplit(url).path) for tag, url in index.refs if tag == "a"}
    for path in LESSONS:
        assert (out / f"{path.stem}.html").is_file(), f"no page for {path.name}"
        assert f"{path.stem}.html" in linked, f"the index does not link to {path.stem}.html"
    assert {p.name for p in pages(out)} == ({"index.html", website.GETTING_STARTED}
                                            | {f"{p.stem}.html" for p in STUDENT_NOTEBOOKS})


@by_lesson
def test_index_row_lists_the_lessons_numbered_sections_and_exercises(student_site, path):
    out, lessons = student_site
    lesson = next(lesson for lesson in lessons if lesson.path == path)
    nb = nbformat.read(path, as_version=4)
    headings = [line[3:] for c in nb.cells if c.cell_type == "markdown"
                for line in c.source.split("\n") if re.match(r"## \d+\. ", line)]
    grade_ids = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells if lessons_tool.is_solution_cell(c)]
    assert len(lesson.sections) == len(headings) > 0
    assert lesson.exercises == grade_ids
    index_text = Page(out / "index.html").text
    for grade_id in grade_ids:
        assert grade_id in index_text


@by_lesson
def test_page_shows_every_code_cell_and_stored_figure(student_site, path):
    out, _ = student_site
    nb = nbformat.read(path, as_version=4)
    page = Page(out / f"{path.stem}.html")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert page.path.read_text().count('<span class="prompt">') == len(code)
    figures = [o for c in code if not lessons_tool.is_solution_cell(c) for o in c.outputs
               if "image/png" in o.get("data", {})]
    images = [url for tag, url in page.refs if tag == "img"]
    assert len(images) == len(figures)
    for url in images:
        assert (out / url).read_bytes().startswith(PNG_MAGIC), f"{url} is not a PNG"


@by_lesson
def test_printed_outputs_appear_on_the_page(student_site, path):
    out, _ = student_site
    nb = nbformat.read(path, as_version=4)
    text = Page(out / f"{path.stem}.html").text
    streams = [o.text for c in nb.cells if c.cell_type == "code" and not lessons_tool.is_solution_cell(c)
               for o in c.outputs if o.output_type == "stream"]
    assert streams
    for stream in streams:
        assert stream.strip() in text


@by_lesson
def test_math_is_converted_to_mathml_at_build_time(student_site, path):
    out, _ = student_site
    page = Page(out / f"{path.stem}.html")
    assert "math" in page.tags, "no MathML on the page"
    assert "$$" not in page.text, "display math left as LaTeX"


def test_previous_and_next_links_chain_the_lessons_in_order(student_site):
    out, _ = student_site
    names = [f"{p.stem}.html" for p in STUDENT_NOTEBOOKS]  # the capstone brief follows the last lesson
    for k, name in enumerate(names):
        html = (out / name).read_text()
        previous = re.findall(r'rel="prev" href="([^"]+)"', html)
        following = re.findall(r'rel="next" href="([^"]+)"', html)
        assert set(previous) == ({names[k - 1]} if k > 0 else set())
        assert set(following) == ({names[k + 1]} if k + 1 < len(names) else set())


# ------------------------------------------------------------------ the answers stay out of the student view


def _answers_and_page_text(site, path):
    """The lesson's solution lines and the visible text of its page in ``site`` (skips a lesson
    without exercises)."""
    out, _ = site
    answers = answer_lines(nbformat.read(path, as_version=4))
    if not answers:
        pytest.skip(f"{path.name} has no exercise")
    return answers, Page(out / f"{path.stem}.html").text


@by_lesson
def test_no_solution_line_appears_in_the_student_page(student_site, path):
    answers, text = _answers_and_page_text(student_site, path)
    assert [line for line in answers if line in text] == []
    assert "raise NotImplementedError()" in text


@by_lesson
def test_every_solution_line_appears_in_the_instructor_page(instructor_site, path):
    answers, text = _answers_and_page_text(instructor_site, path)
    assert [line for line in answers if line not in text] == []


@by_lesson
def test_known_wrong_answers_appear_in_neither_view(student_site, instructor_site, path):
    nb = nbformat.read(path, as_version=4)
    wrong = wrong_answer_lines(nb)
    for out, _ in (student_site, instructor_site):
        text = Page(out / f"{path.stem}.html").text
        assert [line for line in wrong if line in text] == []


@by_lesson
def test_downloadable_notebook_is_the_student_version(student_site, path):
    out, _ = student_site
    written = nbformat.read(out / "notebooks" / path.name, as_version=4)
    expected = lessons_tool.student_version(nbformat.read(path, as_version=4))
    assert [c.source for c in written.cells] == [c.source for c in expected.cells]
    assert all(not c.get("outputs") for c in written.cells)
    assert all("wrong_answers" not in c.metadata for c in written.cells)
    text = (out / "notebooks" / path.name).read_text()
    assert [line for line in answer_lines(nbformat.read(path, as_version=4)) if line in text] == []


def _lesson_with_a_leaky_exercise(folder):
    """A one-exercise lesson whose solution cell has a stored output and wrong answers, all marked."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Lesson 00: a test\n\n## 1. Squares\n\n$$y = x^2$$"),
        nbformat.v4.new_code_cell("def square(x):\n    ### BEGIN SOLUTION\n    return x * x  # ANSWER-TEXT\n"
                                  "    ### END SOLUTION\nprint(square(7))", execution_count=1),
        nbformat.v4.new_code_cell("assert square(3) == 9\nprint('OK: squares')", execution_count=2),
    ]
    nb.cells[1].metadata["nbgrader"] = {"grade": False, "grade_id": "square", "locked": False,
                                        "schema_version": 3, "solution": True, "task": False}
    nb.cells[1].metadata["wrong_answers"] = [{"mistake": "doubles", "source": "return x + x  # WRONG-TEXT"}]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", name="stdout", text="SOLUTION-OUTPUT 49\n")]
    nb.cells[2].metadata["tags"] = ["exercise-check"]
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", name="stdout", text="OK: squares\n")]
    path = folder / "00_test.ipynb"
    nbformat.write(nb, path)
    return path


def test_student_view_drops_the_solution_cells_outputs_and_metadata(tmp_path):
    path = _lesson_with_a_leaky_exercise(tmp_path)
    website.build_site(tmp_path / "site", [path])
    html = (tmp_path / "site" / "00_test.html").read_text()
    assert "ANSWER-TEXT" not in html and "SOLUTION-OUTPUT" not in html and "WRONG-TEXT" not in html
    assert "OK: squares" in html  # the check cell's output is what a student should see
    assert "raise" in html and "NotImplementedError" in html


def test_instructor_view_shows_the_solution_and_its_output_but_not_wrong_answers(tmp_path):
    path = _lesson_with_a_leaky_exercise(tmp_path)
    website.build_site(tmp_path / "site", [path], instructor=True)
    html = (tmp_path / "site" / "00_test.html").read_text()
    assert "ANSWER-TEXT" in html and "SOLUTION-OUTPUT" in html
    assert "WRONG-TEXT" not in html
    assert (tmp_path / "site" / "notebooks" / "solutions" / "00_test.ipynb").is_file()


# ------------------------------------------------------------------ a self-contained site


@pytest.mark.parametrize("view", ["student", "instructor"])
def test_every_image_and_link_resolves_to_a_file_in_the_site(student_site, instructor_site, view):
    out, _ = student_site if view == "student" else instructor_site
    problems = []
    for html_path in pages(out):
        page = Page(html_path)
        for tag, url in page.refs:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc:
                if tag != "a":  # a page may link out, but must load nothing from the network
                    problems.append(f"{html_path.name}: <{tag}> loads {url} from outside the site")
                continue
            target = (html_path.parent / unquote(parts.path)).resolve() if parts.path else html_path
            if not target.is_relative_to(out.resolve()) or not target.is_file():
                problems.append(f"{html_path.name}: <{tag}> {url} is not a file in the site")
            elif parts.fragment and target.suffix == ".html" and parts.fragment not in Page(target).ids:
                problems.append(f"{html_path.name}: {url}: no id {parts.fragment!r} in {target.name}")
    assert problems == []


def test_pages_have_no_scripts(student_site):
    out, _ = student_site
    assert all("script" not in Page(p).tags for p in pages(out))


# ------------------------------------------------------------------ the command


def test_command_builds_the_site_into_the_folder_given(tmp_path, capsys):
    assert website.main(["--out", str(tmp_path / "site"), str(LESSONS[0])]) == 0
    assert (tmp_path / "site" / "index.html").is_file()
    assert (tmp_path / "site" / f"{LESSONS[0].stem}.html").is_file()
    assert "wrote 1 lesson pages (student view)" in capsys.readouterr().out


def test_rebuild_replaces_the_previous_site(tmp_path):
    out = tmp_path / "site"
    website.build_site(out, LESSONS[:1])
    (out / "stale.html").write_text("old")
    website.build_site(out, LESSONS[:1])
    assert not (out / "stale.html").exists()


def test_build_refuses_to_empty_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(website.SiteError, match="not a site this builder wrote"):
        website.build_site(tmp_path, LESSONS[:1])
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_math_latex2mathml_cannot_convert_is_an_error_naming_lesson_and_cell(tmp_path):
    path = _lesson_with_a_leaky_exercise(tmp_path)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(r"Broken: $\frac{1}{$"))
    nbformat.write(nb, path)
    with pytest.raises(website.SiteError, match=r"00_test.ipynb, cell 1: cannot convert math"):
        website.build_site(tmp_path / "site", [path])


def test_build_refuses_a_file_as_the_output_folder(tmp_path):
    (tmp_path / "site").write_text("not a folder")
    with pytest.raises(website.SiteError, match="is a file, not a folder"):
        website.build_site(tmp_path / "site", LESSONS[:1])


def test_a_lesson_without_a_title_is_an_error(tmp_path):
    path = _lesson_with_a_leaky_exercise(tmp_path)
    nb = nbformat.read(path, as_version=4)
    nb.cells[0].source = "No heading here."
    nbformat.write(nb, path)
    with pytest.raises(website.SiteError, match="00_test.ipynb: no title"):
        website.build_site(tmp_path / "site", [path])


# ------------------------------------------------------------------ the course's home


def test_getting_started_says_how_to_install_get_notebooks_and_how_grading_works(student_site):
    out, _ = student_site
    text = " ".join(Page(out / website.GETTING_STARTED).text.split())
    for needed in ('pip install -e ".[lessons]"', "git clone", "python3 tools/lessons.py student",
                   "build/student", "OK", "NotImplementedError", "python3 tools/lessons.py grade", "points"):
        assert needed in text, f"Getting started does not say {needed!r}"


def test_every_page_links_to_getting_started(student_site):
    out, _ = student_site
    for page in pages(out):
        links = {unquote(urlsplit(url).path) for tag, url in Page(page).refs if tag == "a"}
        assert website.GETTING_STARTED in links, f"{page.name} has no link to Getting started"


@by_lesson
def test_lesson_page_says_what_it_needs_installed(student_site, path):
    out, _ = student_site
    text = " ".join(Page(out / f"{path.stem}.html").text.split())
    assert "This lesson needs tensorgrad" in text and 'pip install -e ".[lessons]"' in text


def test_requirements_come_from_imports_and_an_import_in_a_block_is_optional():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os\nimport numpy as np\nfrom tensorgrad import nn"),
        nbformat.v4.new_code_cell("if GPU:\n    import cupy\nimport scipy.signal"),
        nbformat.v4.new_markdown_cell("import matplotlib  (prose, not code)")])
    needs, optional = website.lesson_requirements(nb)
    assert [r.name for r in needs] == ["tensorgrad", "NumPy", "scipy"]
    assert [r.name for r in optional] == ["CuPy"]
    assert needs[2].command == "pip install scipy"



def _png_header(width, height):
    """The first bytes of a PNG of that size: enough for the builder, which reads the IHDR chunk."""
    return PNG_MAGIC + b"\x00\x00\x00\x0dIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big")


def test_a_row_of_panels_is_marked_wide_and_a_single_plot_is_not(tmp_path):
    # On a phone a wide figure is shown at twice the column's width in a box that scrolls (style.css).
    import base64

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lesson 00: figures"),
                                         nbformat.v4.new_code_cell("plot()", execution_count=1)])
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={
        "image/png": base64.b64encode(_png_header(w, h)).decode(), "text/plain": "<Figure>"})
        for w, h in [(1500, 380), (640, 480)]]
    nbformat.write(nb, tmp_path / "00_figures.ipynb")
    lesson = website.render_lesson(tmp_path / "00_figures.ipynb")
    assert [out.wide for out in lesson.cells[1].outputs] == [True, False]


# ------------------------------------------------------------------ the capstone project


def test_capstone_brief_follows_the_lessons_and_its_solution_stays_out_of_the_student_site(student_site):
    out, lessons = student_site
    assert [lesson.kind for lesson in lessons][-1] == "brief"
    index = (out / "index.html").read_text()
    assert index.index('href="capstone.html"') > index.index(f'href="{LESSONS[-1].stem}.html"')
    assert 'href="notebooks/capstone.ipynb"' in index
    assert (out / "notebooks" / "capstone.ipynb").is_file()
    assert not list(out.rglob("capstone_solution*")), "the worked solution reached the student site"
    assert "capstone_solution" not in index and "instructor only" not in index


def test_instructor_site_shows_the_worked_solution_marked_instructor_only(instructor_site):
    out, lessons = instructor_site
    assert [lesson.path.name for lesson in lessons][-2:] == ["capstone.ipynb", "capstone_solution.ipynb"]
    index = Page(out / "index.html")
    row = index.path.read_text().split('href="capstone_solution.html"')[1].split("</tr>")[0]
    assert "instructor only" in row
    page = (out / "capstone_solution.html").read_text()
    assert "Instructor only:" in page and "capstone.ipynb" in page
    assert (out / "notebooks" / "solutions" / "capstone_solution.ipynb").is_file()
    assert not (out / "notebooks" / "capstone_solution.ipynb").exists()


def test_student_site_refuses_a_worked_solution_named_on_the_command_line(tmp_path):
    with pytest.raises(website.SiteError, match="instructor's worked solution of capstone.ipynb"):
        website.build_site(tmp_path / "site", [lessons_tool.LESSONS / "capstone_solution.ipynb"])


# ------------------------------------------------------------------ audio


def _lesson_with_audio(folder, html=None):
    """A lesson whose cell 1 displays IPython.display.Audio of a 440 Hz sine (or the given HTML)."""
    import numpy as np
    from IPython.display import Audio

    rate = 8000
    sine = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate // 4) / rate)
    clip = Audio(sine, rate=rate, normalize=False)
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Lesson 00: audio\n\n## 1. A tone"),
        nbformat.v4.new_code_cell("Audio(sine, rate=8000)", execution_count=1)])
    html = clip._repr_html_() if html is None else html
    nb.cells[1].outputs = [nbformat.v4.new_output("display_data", data={"text/html": html,
                                                                        "text/plain": repr(clip)})]
    path = folder / "00_audio.ipynb"
    nbformat.write(nb, path)
    return path, clip.data


def test_audio_output_becomes_a_wav_file_and_a_playable_audio_element(tmp_path):
    path, wav = _lesson_with_audio(tmp_path)
    assert wav[:4] == b"RIFF"
    out = tmp_path / "site"
    website.build_site(out, [path])
    assert (out / "audio" / "00_audio-cell01-0.wav").read_bytes() == wav
    page = Page(out / "00_audio.html")
    assert ("audio", "audio/00_audio-cell01-0.wav") in page.refs
    html = page.path.read_text()
    assert "data:audio" not in html  # IPython's HTML is not copied: the page has the builder's own element
    assert "Your browser does not support" not in html


@pytest.mark.parametrize("payload, message", [
    ("Tk9UIEEgV0FWRSBGSUxFLCBKVVNUIFNPTUUgQllURVMgVEhBVCBBUkUgTE9OR0VSIFRIQU4gNDQ=", "not a RIFF/WAVE file"),
    ("UklGRg", "not valid base64"),  # cut off: its padding is missing
])
def test_audio_that_is_not_a_wav_file_is_an_error_naming_lesson_and_cell(tmp_path, payload, message):
    html = f'<audio controls><source src="data:audio/wav;base64,{payload}" type="audio/wav" /></audio>'
    path, _ = _lesson_with_audio(tmp_path, html)
    with pytest.raises(website.SiteError, match=f"00_audio.ipynb, cell 1: .*{message}"):
        website.build_site(tmp_path / "site", [path])


def test_an_audio_clip_over_the_size_limit_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(website, "MAX_AUDIO_BYTES", 1000)
    path, _ = _lesson_with_audio(tmp_path)
    with pytest.raises(website.SiteError, match="cell 1: an audio clip is over 1000 bytes"):
        website.build_site(tmp_path / "site", [path])
