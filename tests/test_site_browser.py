"""The course site in a real browser: every page of both editions opened from disk in headless
Chromium, as a reader with no network would open ``site/index.html``.

Each page must show every image (natural width > 0), typeset every formula (no raw ``$$`` or
``\\frac`` left visible, no MathJax error), log no console error, make no request that fails or
leaves the machine, and link only to pages and anchors that exist. A screenshot of each page is
saved in ``outputs/screenshots/site-<edition>/``. The site is the session's fast-mode build
(tests/site_browser.py). Without Chromium these tests skip with one line.
"""

from __future__ import annotations

import pytest

import site_browser
from site_browser import needs_chromium
from utils.course import site

pytestmark = [needs_chromium, pytest.mark.slow]


@pytest.fixture(scope="session")
def course_site(tmp_path_factory):
    return site_browser.course_site(tmp_path_factory)


@pytest.fixture(scope="module")
def browser():
    driver = site_browser.start_browser()
    yield driver
    driver.quit()


@pytest.mark.parametrize("audience", ["learner", "instructor"])
def test_every_page_reads_correctly_offline(course_site, browser, audience):
    root = course_site[audience]
    shots = site_browser.screenshot_dir(f"site-{audience}")
    pages = sorted(root.glob("*.html"))
    assert len(pages) == 1 + 6 + len(site.build.DOC_PAGES), [page.name for page in pages]  # index, notebooks, docs
    problems, formulas, images = [], 0, 0
    for page in pages:
        found, facts = site_browser.check_page(browser, page, root, shots / f"{page.stem}.png")
        problems += [f"{page.name}: {problem}" for problem in found]
        formulas += facts["formulas"]
        images += facts["images"]
        assert facts["math"] == "typeset", f"{page.name}: MathJax did not run ({facts['math']})"
    assert problems == []
    assert formulas > 100 and images > 30  # the checks saw real pages, not empty ones
    assert len(list(shots.glob("*.png"))) == len(pages)


def test_the_page_checker_reports_what_a_reader_would_see_wrong(tmp_path, browser):
    """A broken page: a missing image, unrendered TeX, a console error, a dead link."""
    (tmp_path / "other.html").write_text('<html><body><p id="here">target</p></body></html>')
    page = tmp_path / "broken.html"
    page.write_text(
        "<html><body>"
        '<p>Fine link: <a href="other.html#here">other</a>; dead: <a href="gone.html">gone</a>, '
        '<a href="other.html#nowhere">no anchor</a></p>'
        '<img src="missing.png" alt="missing">'
        "<p>$$\\frac{a}{b}$$</p>"
        "<script>console.error('something broke');</script>"
        "</body></html>"
    )
    problems, facts = site_browser.check_page(browser, page, tmp_path, tmp_path / "broken.png")
    text = "\n".join(problems)
    assert "image not loaded: missing.png" in text
    assert "raw TeX '$$' visible" in text and "raw TeX '\\\\frac' visible" in text
    assert "console error" in text and "something broke" in text
    assert "request failed: net::ERR_FILE_NOT_FOUND" in text
    assert "link 'gone.html': no file" in text and "no anchor #nowhere" in text
    assert "other.html#here" not in text
    assert facts["math"] == "no MathJax" and (tmp_path / "broken.png").stat().st_size > 1000
