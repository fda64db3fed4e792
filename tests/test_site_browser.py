"""The lessons' website in a real browser: headless Chromium loads the index, Getting started and
every lesson page with no console message, no broken image and the math rendered as MathML; at a
phone's width (390 px) no page is wider than the window (wide tables, code, logs and math scroll in
their own boxes); screenshots at 390 px and 1280 px go to build/screenshots/.

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
PHONE_WIDTH = 390  # CSS px: an iPhone 12-15's portrait width
DESKTOP_WIDTH = 1280

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
  // What sticks out past the window's right edge without a scrolling box around it (at most 5).
  const viewport = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();  // content spilling out of a box counts too
    const spill = getComputedStyle(el).overflowX === "visible" ? el.scrollWidth : 0;
    const right = box.left + Math.max(box.width, spill);
    if (right <= viewport + 1 || wide.length >= 5) continue;
    let boxed = false;
    for (let up = el.parentElement; up && up !== document.body && !boxed; up = up.parentElement) {
      boxed = getComputedStyle(up).overflowX !== "visible";
    }
    if (!boxed) wide.push(`<${el.tagName.toLowerCase()} class="${el.getAttribute("class") || ""}"> `
                          + `reaching ${Math.round(right)} px`);
  }
  const images = [...document.images].map((img) => [img.getAttribute("src"),
                                                    img.getBoundingClientRect().width]);
  document.documentElement.setAttribute("data-probe", JSON.stringify({
    problems: window.__problems, images: document.images.length, image_widths: images,
    math: maths.length, math_rendered: rendered.length, height: document.documentElement.scrollHeight,
    width: document.documentElement.scrollWidth, viewport: viewport, wide: wide}));
});
</script>"""




MIN_WINDOW_WIDTH = 500  # headless Chromium widens a narrower window to this
# A page shown in an iframe WIDTH px wide (a phone's width); the page's probe result is copied up.
FRAME = """<!DOCTYPE html><html><head></head><body style="margin: 0">
<iframe id="page" src="NAME" style="width: WIDTHpx; height: 844px; border: 0"></iframe>
<script>
document.getElementById("page").addEventListener("load", (e) => {
  const probe = e.target.contentDocument.documentElement.getAttribute("data-probe");
  document.documentElement.setAttribute("data-probe", probe);
});
</script></body></html>"""


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


def probe(folder, names, width=DESKTOP_WIDTH):
    """Load pages ``names`` of site ``folder`` in Chromium, ``width`` CSS px wide, each with PROBE
    injected (into a copy).

    Headless Chromium's window is at least 500 px wide, so a narrower page is loaded in an iframe
    that wide (FRAME), whose probe result the top page copies. Returns {page name: (probe result or
    None, Chromium's console log lines)}.
    """
    probed = folder.parent / f"{folder.name}-probed-{width}"
    shutil.copytree(folder, probed)
    for name in names:
        page = probed / name
        page.write_text(page.read_text().replace("<head>", "<head>\n" + PROBE, 1))
        if width < MIN_WINDOW_WIDTH:
            (probed / f"frame-{name}").write_text(FRAME.replace("NAME", name).replace("WIDTH", str(width)))

    def load(index_and_name):
        k, name = index_and_name
        shown = name if width >= MIN_WINDOW_WIDTH else f"frame-{name}"
        window = f"--window-size={max(width, MIN_WINDOW_WIDTH)},1000"
        dom, stderr = chromium(["--virtual-time-budget=5000", window, "--allow-file-access-from-files",
                                "--dump-dom", (probed / shown).as_uri()],
                               probed.parent / f"profile-{folder.name}-{width}-{k}")
        return name, (ProbeResult(dom).result, console_messages(stderr))

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(load, enumerate(names)))


@pytest.fixture(scope="module")
def probed_pages(site):
    """Each page of the student site loaded in Chromium with the probe."""
    out, _ = site
    return probe(out, sorted(p.name for p in out.glob("*.html")))


@pytest.fixture(scope="module")
def phone_pages(site):
    """Each page of the student site loaded at a phone's width."""
    out, _ = site
    return probe(out, sorted(p.name for p in out.glob("*.html")), width=PHONE_WIDTH)


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


def test_the_probe_reports_a_page_wider_than_the_window(tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "wide.html").write_text(
        '<!DOCTYPE html><html><head></head><body><pre class="log">' + "x" * 200 + "</pre>"
        '<div style="overflow-x: auto"><pre>' + "y" * 200 + "</pre></div></body></html>")
    (tmp_path / "pages" / "boxed.html").write_text(
        '<!DOCTYPE html><html><head></head><body><div style="overflow-x: auto"><pre>' + "y" * 200
        + "</pre></div></body></html>")
    results = probe(tmp_path / "pages", ["wide.html", "boxed.html"], width=PHONE_WIDTH)
    wide, _ = results["wide.html"]
    assert wide["viewport"] == PHONE_WIDTH and wide["width"] > PHONE_WIDTH
    assert len(wide["wide"]) == 1 and wide["wide"][0].startswith('<pre class="log">')
    boxed, _ = results["boxed.html"]
    assert boxed["width"] == PHONE_WIDTH and boxed["wide"] == []


def test_every_page_loads_without_console_messages_or_broken_images(site, probed_pages):
    out, lessons = site
    assert set(probed_pages) == {"index.html", "getting-started.html"} | {lesson.page for lesson in lessons}
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
        if lesson.kind == "lesson":  # every lesson has math; a project brief may have none
            assert probe["math"] > 0, f"{lesson.page}: no <math> elements in the DOM"
        assert probe["math_rendered"] == probe["math"], (
            f"{lesson.page}: {probe['math'] - probe['math_rendered']} of {probe['math']} <math> elements "
            "are not MathML elements with a width")


def test_no_page_is_wider_than_a_phone(site, phone_pages):
    # Wide tables, code, printed logs and display math must scroll inside their own boxes.
    out, lessons = site
    assert set(phone_pages) == {"index.html", "getting-started.html"} | {lesson.page for lesson in lessons}
    too_wide = {name: f"{probe['width']} px wide; sticking out: {probe['wide']}"
                for name, (probe, _) in phone_pages.items()
                if probe is None or probe["width"] > probe["viewport"] or probe["wide"]}
    assert phone_pages["index.html"][0]["viewport"] == PHONE_WIDTH
    assert not too_wide, f"pages wider than a {PHONE_WIDTH}-px phone: {too_wide}"


def test_figures_fill_the_column_on_a_phone(site, phone_pages):
    # On a phone a figure takes the column's whole width (lesson 01's three panels were once 300 px).
    _, lessons = site
    for lesson in lessons:
        for src, width in phone_pages[lesson.page][0]["image_widths"]:
            assert width >= PHONE_WIDTH - 40, f"{lesson.page}: {src} is only {width:.0f} px wide"


SCREENSHOT_PAGES = 3  # lessons, besides the index and Getting started


def test_screenshots_at_a_phone_and_a_desktop_width(site, probed_pages, phone_pages, tmp_path):
    """Writes build/screenshots/NAME-390.png and NAME-1280.png of the index, Getting started and three
    lessons with figures (whole pages), to look at."""
    out, lessons = site
    chosen = [lesson.page for lesson in lessons if lesson.figures][:SCREENSHOT_PAGES]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for page_name in ("index.html", "getting-started.html", *chosen):
        for width, probed in ((PHONE_WIDTH, phone_pages), (DESKTOP_WIDTH, probed_pages)):
            # A window as tall as the page: headless Chromium's --screenshot captures the window only.
            height = min(probed[page_name][0]["height"], MAX_SCREENSHOT_HEIGHT)
            name = f"{page_name.removesuffix('.html')}-{width}"
            target = SCREENSHOTS / f"{name}.png"
            target.unlink(missing_ok=True)
            page = (out / page_name).as_uri()
            chromium([f"--screenshot={target}", f"--window-size={width},{height}", page], tmp_path / name)
            assert target.is_file() and target.read_bytes().startswith(b"\x89PNG"), f"no screenshot: {name}"
            assert target.stat().st_size > 20_000, f"{target} is suspiciously small (a blank page?)"
