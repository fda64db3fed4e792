"""The lessons' website in a real browser: headless Chromium loads the index and every lesson page
with no console message, no broken image and the math rendered as MathML; screenshots of the index
and one lesson go to build/screenshots/.

Chromium is driven with the standard library only (``--dump-dom``, ``--screenshot``): no driver,
no browser download. Without a Chromium on PATH the tests skip (CI's fresh machine has none;
``apt-get install chromium`` provides one).
"""

import concurrent.futures
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = next((shutil.which(name) for name in ("chromium", "chromium-browser", "chromium-headless-shell",
                                                  "google-chrome") if shutil.which(name)), None)
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium)"),
              pytest.mark.slow]
BROWSER_TIMEOUT_S = 60
MAX_SCREENSHOT_HEIGHT = 16_000

# Injected first into <head> of a copy of each page: it records every error event (a script error,
# or an image or stylesheet that failed to load), every console.error, every image left unloaded,
# how many <math> elements Chromium built as MathML with a non-zero width, and the page's height,
# into an attribute of <html> that --dump-dom prints.
PROBE = """<script>
window.__problems = [];
window.addEventListener("error", (e) => {
  const t = e.target;
  window.__problems.push(t && t !== window && (t.src || t.href)
    ? "failed to load " + (t.src || t.href) : "script error: " + e.message);
}, true);
const __consoleError = console.error;
console.error = (...args) => {
  window.__problems.push("console.error: " + args.join(" "));
  __consoleError(...args);
};
window.addEventListener("load", () => {
  for (const img of document.images) {
    if (!img.complete || img.naturalWidth === 0) window.__problems.push("broken image " + img.src);
  }
  const maths = [...document.getElementsByTagName("math")];
  const rendered = maths.filter((m) => m instanceof MathMLElement && m.getBoundingClientRect().width > 0);
  document.documentElement.setAttribute("data-probe", JSON.stringify({
    problems: window.__problems, images: document.images.length,
    math: maths.length, math_rendered: rendered.length, height: document.documentElement.scrollHeight}));
});
</script>"""




def chromium(args, profile, timeout=BROWSER_TIMEOUT_S):
    """Run headless Chromium with ``args``; returns (stdout, stderr). A profile folder per call."""
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    return done.stdout, done.stderr


class ProbeResult(HTMLParser):
    """The JSON the probe left in <html data-probe=...> of a dumped DOM, or None."""

    def __init__(self, dom):
        super().__init__()
        self.result = None
        self.feed(dom)

    def handle_starttag(self, tag, attrs):
        if tag == "html" and dict(attrs).get("data-probe"):
            self.result = json.loads(dict(attrs)["data-probe"])


def console_messages(stderr):
    """Chromium's log lines for console messages (any level): ``...:CONSOLE(12)] "text", source: ...``."""
    return [line for line in stderr.splitlines() if re.search(r":CONSOLE[:(]\d*", line)]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    import website  # tools/website.py: needs the site extra, so imported only here
    out = tmp_path_factory.mktemp("browser") / "site"
    lessons = website.build_site(out)
    return out, lessons


def probe(folder, names):
    """Load pages ``names`` of site ``folder`` in Chromium, each with PROBE injected (into a copy).

    Returns {page name: (probe result or None, Chromium's console log lines)}.
    """
    probed = folder.parent / f"{folder.name}-probed"
    shutil.copytree(folder, probed)
    for name in names:
        page = probed / name
        page.write_text(page.read_text().replace("<head>", "<head>\n" + PROBE, 1))

    def load(index_and_name):
        k, name = index_and_name
        dom, stderr = chromium(["--virtual-time-budget=5000", "--window-size=1280,1000", "--dump-dom",
                                (probed / name).as_uri()],
                               probed.parent / f"profile-{folder.name}-{k}")
        return name, (ProbeResult(dom).result, console_messages(stderr))

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(load, enumerate(names)))


@pytest.fixture(scope="module")
def probed_pages(site):
    """Each page of the student site loaded in Chromium with the probe."""
    out, _ = site
    return probe(out, sorted(p.name for p in out.glob("*.html")))


def test_the_probe_reports_a_broken_image_a_script_error_and_unrendered_math(tmp_path):
    # The checks below can fail: a page with each fault, and one without.
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "bad.html").write_text(
        '<!DOCTYPE html><html><head></head><body><p>$x$</p><img src="missing.png" alt="">'
        "<script>undefinedFunction();</script></body></html>")
    (tmp_path / "pages" / "good.html").write_text(
        "<!DOCTYPE html><html><head></head><body><p><math><mi>x</mi></math></p></body></html>")
    results = probe(tmp_path / "pages", ["bad.html", "good.html"])
    bad, bad_console = results["bad.html"]
    assert any("missing.png" in p for p in bad["problems"])
    assert any("undefinedFunction" in p for p in bad["problems"])
    assert bad["math"] == 0 and bad_console
    good, good_console = results["good.html"]
    assert good["problems"] == [] and good["math"] == good["math_rendered"] == 1 and good_console == []


def test_every_page_loads_without_console_messages_or_broken_images(site, probed_pages):
    out, lessons = site
    assert set(probed_pages) == {"index.html"} | {lesson.page for lesson in lessons}
    for name, (probe, console) in probed_pages.items():
        assert probe is not None, f"{name}: the probe did not run (page did not finish loading?)"
        assert probe["problems"] == [], f"{name}: {probe['problems']}"
        assert console == [], f"{name}: console messages: {console}"


def test_every_figure_loads_in_the_browser(site, probed_pages):
    _, lessons = site
    for lesson in lessons:
        probe, _ = probed_pages[lesson.page]
        assert probe["images"] == len(lesson.figures)


def test_math_is_rendered_as_mathml_by_the_browser(site, probed_pages):
    _, lessons = site
    for lesson in lessons:
        probe, _ = probed_pages[lesson.page]
        assert probe["math"] > 0, f"{lesson.page}: no <math> elements in the DOM"
        assert probe["math_rendered"] == probe["math"], (
            f"{lesson.page}: {probe['math'] - probe['math_rendered']} of {probe['math']} <math> elements "
            "are not MathML elements with a width")


def test_screenshots_of_the_index_and_a_lesson(site, probed_pages, tmp_path):
    """Writes build/screenshots/index.png and the whole page of the first lesson with a figure, to look at."""
    out, lessons = site
    lesson = next((lesson for lesson in lessons if lesson.figures), lessons[0])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for page_name in ("index.html", lesson.page):
        # A window as tall as the page: headless Chromium's --screenshot captures the window only.
        height = min(probed_pages[page_name][0]["height"], MAX_SCREENSHOT_HEIGHT)
        name = page_name.removesuffix(".html")
        target = SCREENSHOTS / f"{name}.png"
        target.unlink(missing_ok=True)
        page = out / page_name
        chromium([f"--screenshot={target}", f"--window-size=1280,{height}", page.as_uri()], tmp_path / name)
        assert target.is_file() and target.read_bytes().startswith(b"\x89PNG"), f"no screenshot: {page.name}"
        assert target.stat().st_size > 20_000, f"{target} is suspiciously small (a blank page?)"
