"""Helpers shared by the browser tests (tests/test_site*.py, tests/test_jupyterlab_browser.py).

* **Chromium**: Debian's ``chromium`` and ``chromium-driver`` driven by Selenium. When either is
  missing the browser tests skip with one line, :data:`NO_CHROMIUM`.
* **The course site built once per test session** (:func:`course_site`): all six notebooks
  executed in fast mode, then the learner and the instructor editions rendered from that one
  execution, into a temporary folder; what the notebooks themselves save goes to
  ``outputs/browser-tests/`` (:data:`TEST_OUTPUTS`).
* **Page checks** (:func:`check_page`): what a reader of a page would notice — an image that did
  not load, TeX left unrendered, an error in the browser console, a request that failed or left
  the machine, a link to nothing — returned as a list of problems, with a screenshot saved.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from utils import config

#: The one line a browser test prints when it cannot run.
NO_CHROMIUM = "skipped: no Chromium (install chromium and chromium-driver)"

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver",)

#: Where the notebooks run by the browser tests write (COURSE_OUTPUTS). Inside the checkout's
#: outputs/ (ignored by git) because notebook 04 prints its saved files relative to the checkout.
TEST_OUTPUTS = config.REPO_ROOT / "outputs" / "browser-tests"

#: TeX that must not be left visible on a rendered page.
RAW_TEX = ("$$", "\\frac", "\\begin{", "\\mathbf", "\\sum_", "\\left(", "\\lVert", "\\|")


def chromium() -> tuple[str, str] | None:
    """``(browser, driver)`` paths of Debian's Chromium, or None when either is missing."""
    browser = next((path for path in CHROMIUM_CANDIDATES if os.access(path, os.X_OK)), None)
    driver = next((path for path in DRIVER_CANDIDATES if os.access(path, os.X_OK)), None)
    if browser is None or driver is None:
        return None
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None
    return browser, driver


#: Marks a test that needs Chromium; it skips with NO_CHROMIUM where there is none.
needs_chromium = pytest.mark.skipif(chromium() is None, reason=NO_CHROMIUM)


def start_browser(width: int = 1280, height: int = 900, arguments: list[str] | tuple[str, ...] = ()):
    """A headless Chromium under Selenium, with the console and network logs kept; ``arguments``
    are added to its command line (e.g. :func:`lab_browser.fake_camera_arguments`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, driver = chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        f"--window-size={width},{height}",
        "--hide-scrollbars",
        "--mute-audio",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--metrics-recording-only",
        *arguments,
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # Leaving a JupyterLab page with unsaved changes asks "leave the page?": accept it.
    options.set_capability("unhandledPromptBehavior", "accept")
    return webdriver.Chrome(service=Service(driver), options=options)


def screenshot_dir(name: str) -> Path:
    """Where a test's screenshots go: ``<outputs>/screenshots/<name>/`` (emptied first)."""
    folder = config.output_dir("screenshots") / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def save_full_screenshot(driver, target: Path, max_height: int = 12000) -> Path:
    """Save the whole page (up to ``max_height`` pixels tall) as a PNG."""
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    width, height = int(size["width"]), min(int(size["height"]), max_height)
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": height, "scale": 1},
        },
    )
    target.write_bytes(base64.b64decode(shot["data"]))
    return target


def console_errors(driver) -> list[str]:
    """The browser console's errors since the last call."""
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def network_events(driver) -> list[dict]:
    """Chromium's network events (``Network.*``) since the last call."""
    events = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method", "").startswith("Network."):
            events.append(message)
    return events


_VISIBLE_TEXT = """
const skip = 'code, pre, script, style, .MathJax_Preview, .MJX_Assistive_MathML, .jp-InputArea';
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const parts = [];
while (walker.nextNode()) {
  const element = walker.currentNode.parentElement;
  if (!element || element.closest(skip) || element.getClientRects().length === 0) continue;
  parts.push(walker.currentNode.textContent);
}
return parts.join(' ');
"""

_IMAGES = """
return Array.from(document.images).map(image => ({
  src: image.getAttribute('src').slice(0, 120), complete: image.complete,
  width: image.naturalWidth, height: image.naturalHeight}));
"""

_MATH = """
const sources = document.querySelectorAll('script[type^="math/tex"]').length;
const rendered = document.querySelectorAll('span.MathJax, span.MathJax_SVG, mjx-container').length;
const errors = Array.from(document.querySelectorAll('.MathJax_Error, merror, [data-mjx-error]'))
  .map(element => element.textContent.slice(0, 80));
return {sources: sources, rendered: rendered, errors: errors};
"""

_WAIT_FOR_MATHJAX = """
const done = arguments[arguments.length - 1];
if (!window.MathJax || !window.MathJax.Hub) { done('no MathJax'); return; }
window.MathJax.Hub.Queue(function () { done('typeset'); });
"""


def wait_for_math(driver, seconds: int = 60) -> str:
    """Wait until MathJax has typeset the page; its answer ('typeset' or 'no MathJax')."""
    driver.set_script_timeout(seconds)
    return driver.execute_async_script(_WAIT_FOR_MATHJAX)


def internal_link_problems(page: Path, hrefs: list[str], root: Path) -> list[str]:
    """Links of ``page`` that point into the site but to no file or no anchor."""
    problems = []
    for href in hrefs:
        parsed = urlparse(href)
        if parsed.scheme in ("http", "https", "mailto", "data") or not href:
            continue
        target = page if not parsed.path else (page.parent / unquote(parsed.path)).resolve()
        if not target.is_file():
            problems.append(f"link {href!r}: no file {target}")
            continue
        if root.resolve() not in target.parents:
            problems.append(f"link {href!r} leaves the site folder")
            continue
        if parsed.fragment and target.suffix == ".html":
            text = target.read_text(encoding="utf-8", errors="replace")
            if not re.search(rf'\b(id|name)="{re.escape(unquote(parsed.fragment))}"', text):
                problems.append(f"link {href!r}: no anchor #{parsed.fragment} in {target.name}")
    return problems


def check_page(driver, page: Path, root: Path, screenshot: Path) -> tuple[list[str], dict]:
    """Open ``page`` from disk and list what a reader would see wrong.

    Returns:
        ``(problems, facts)``: problems as sentences (empty when the page is right), and facts
        about the page (images, math, requests) for further assertions.
    """
    console_errors(driver), network_events(driver)  # drop what earlier pages left
    driver.get(page.resolve().as_uri())
    math_state = wait_for_math(driver)
    problems = []
    images = driver.execute_script(_IMAGES)
    for image in images:
        if not image["complete"] or image["width"] == 0:
            problems.append(f"image not loaded: {image['src']}")
    text = driver.execute_script(_VISIBLE_TEXT)
    for tex in RAW_TEX:
        if tex in text:
            at = text.index(tex)
            problems.append(f"raw TeX {tex!r} visible: …{text[max(0, at - 60) : at + 60]}…")
    math = driver.execute_script(_MATH)
    if math["errors"]:
        problems.append(f"MathJax errors: {math['errors'][:3]}")
    if math["sources"] != math["rendered"]:
        problems.append(f"{math['sources']} formulas but {math['rendered']} rendered")
    for message in console_errors(driver):
        problems.append(f"console error: {message[:300]}")
    events = network_events(driver)
    requested = [
        event["params"]["request"]["url"] for event in events if event["method"] == "Network.requestWillBeSent"
    ]
    for url in requested:
        if not url.startswith(("file://", "data:", "about:")):
            problems.append(f"request leaves the machine: {url[:200]}")
    for event in events:
        if event["method"] == "Network.loadingFailed":
            problems.append(
                f"request failed: {event['params'].get('errorText')} (request {event['params'].get('requestId')})"
            )
    hrefs = driver.execute_script(
        "return Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'));"
    )
    problems.extend(internal_link_problems(page, hrefs, root))
    save_full_screenshot(driver, screenshot)
    facts = {
        "images": len(images),
        "formulas": math["sources"],
        "rendered": math["rendered"],
        "requests": len(requested),
        "links": len(hrefs),
        "math": math_state,
    }
    return problems, facts


@functools.cache
def _built_site(root: str) -> dict:
    """Build once; a failed build is remembered too, so the tests after it do not build again."""
    try:
        return {"site": _build(Path(root))}
    except Exception as error:
        return {"error": error}


def _build(root: Path) -> dict:
    from utils.course import site

    environment = {"COURSE_OUTPUTS": str(TEST_OUTPUTS)}
    saved = {name: os.environ.get(name) for name in environment}
    os.environ.update(environment)
    try:
        pages = site.build_site(
            list(site.AUDIENCES),
            fast=True,
            out_dir=root / "site",
            notebooks_dir=config.REPO_ROOT / "notebooks",
            executed_folder=root / "executed",
            log=print,
        )
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return {
        "root": root,
        "learner": root / "site",
        "instructor": site.instructor_folder(root / "site"),
        "executed": root / "executed",
        "pages": pages,
    }


def course_site(tmp_path_factory) -> dict:
    """The course site, built once per test session (fast mode, both editions).

    Returns:
        ``{"learner": folder, "instructor": folder, "executed": folder of executed notebooks,
        "pages": {audience: [html paths]}}``.
    """
    root = getattr(tmp_path_factory, "_course_site_root", None)
    if root is None:
        root = tmp_path_factory.mktemp("course-site")
        tmp_path_factory._course_site_root = root
    built = _built_site(str(root))
    if "error" in built:
        raise built["error"]
    return built["site"]
