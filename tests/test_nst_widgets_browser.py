"""Notebook 04's live controls in a real JupyterLab, used the way a learner uses them (headless Chromium).

The notebook under test is notebook 04's own cells, cut down to what the controls need: its Setup
cell, the two image paths, the knob explorer's cell and the "your own photo" cell (found by their
code, so a change to those cells is tested as it is). JupyterLab (tests/lab_browser.py) runs it in
fast mode with its outputs in a fresh folder, so the explorer's grid is computed here (3 small
settings). Then, through the page only:

* the α/β slider is moved with the keyboard (its handle focused, three presses of the right
  arrow: 25 → 250 → 2,500 → 25,000) and the result image changes to the stored 25,000 one;
* a photo is uploaded through the content image's file input (Selenium's ``send_keys``), the run
  is made long (size 256, the steps slider to its end), **Stylise** is clicked, and **Stop** once
  the progress bar moves: the message says the best image so far is kept, the result image and
  its download link appear;
* no cell shows an error or a traceback, no widget fails to draw, and the browser console has no
  error.

Screenshots go to ``outputs/screenshots/nst-widgets/``. Without Chromium these tests skip with one line.
"""

from __future__ import annotations

import time

import nbformat
import numpy as np
import pytest

import lab_browser
import site_browser
from site_browser import needs_chromium
from utils import config, image_io

pytestmark = [needs_chromium, pytest.mark.slow]

NOTEBOOK = config.REPO_ROOT / "notebooks" / "04_neural_style_transfer.ipynb"
NAME = "nst_controls.ipynb"


def _cell(notebook, starts: str) -> str:
    """The source of notebook 04's code cell that starts with ``starts`` (exactly one)."""
    found = [cell.source for cell in notebook.cells if cell.cell_type == "code" and cell.source.startswith(starts)]
    assert len(found) == 1, f"notebook 04 has {len(found)} code cells starting with {starts!r}"
    return found[0]


def _paths_cell(notebook) -> str:
    source = _cell(notebook, "CONTENT_PATH = ")
    return "\n".join(source.splitlines()[:2])  # the two paths, not the figure


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving the cut-down notebook, in fast mode, writing into a fresh outputs folder."""
    root = tmp_path_factory.mktemp("nst-lab")
    workspace, outputs = root / "notebooks", root / "outputs"
    workspace.mkdir()
    source = nbformat.read(NOTEBOOK, as_version=4)
    setup = next(cell.source for cell in source.cells if cell.cell_type == "code")
    cells = [
        setup,
        _paths_cell(source),
        _cell(source, "explorer = KnobExplorer("),
        _cell(source, "photo = StylisePhoto("),
    ]
    lab_browser.write_notebook(workspace / NAME, cells)
    environment = {config.FAST_ENV_VAR: "1", "COURSE_OUTPUTS": str(outputs)}
    with lab_browser.JupyterLab(workspace, root / "state", environment) as server:
        yield server


@pytest.fixture(scope="module")
def page(lab):
    """The notebook open in Chromium with every cell run; yields (driver, report after the run)."""
    driver = site_browser.start_browser(1280, 2400)
    shots = site_browser.screenshot_dir("nst-widgets")
    try:
        lab_browser.open_notebook(driver, lab, NAME)
        lab_browser.run_all_cells(driver, seconds=300)
        report = lab_browser.notebook_report(driver)
        driver.save_screenshot(str(shots / "after_run_all.png"))
        yield driver, report, shots
    finally:
        lab.shutdown_kernels()
        driver.quit()


def _one(driver, css: str, seconds: float = 60):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, seconds, poll_frequency=0.2).until(lambda d: d.find_element(By.CSS_SELECTOR, css))


def _text(driver, css: str) -> str:
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", css)


def _image(driver, css: str) -> dict:
    """The ``src`` and natural width of the <img> of an ipywidgets.Image with class ``css``."""
    return driver.execute_script(
        """
        const box = document.querySelector(arguments[0]);
        const image = box && (box.tagName === 'IMG' ? box : box.querySelector('img'));
        return image ? {src: image.src, width: image.naturalWidth} : null;""",
        css,
    )


def _text_with(driver, css: str, needed: str) -> str | None:
    """The text of ``css`` once it contains ``needed``, else None."""
    text = _text(driver, css)
    return text if needed in text else None


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    value = None
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not happen within {seconds} s (last: {value!r})")


def test_the_controls_run_without_errors(page):
    driver, report, _ = page
    assert lab_browser.report_problems(report) == []
    assert report["widgets"] > 10  # the two controls were drawn
    assert _image(driver, ".nst-explorer-result")["width"] > 0  # the default's stored result
    assert site_browser.console_errors(driver) == []


def test_moving_the_ratio_slider_shows_another_stored_image(page):
    from selenium.webdriver.common.keys import Keys

    driver, _, shots = page
    before = _image(driver, ".nst-explorer-result")
    assert before["width"] > 0 and "α/β 25 ·" in _text(driver, ".nst-explorer-message")
    handle = _one(driver, ".nst-explorer-ratio .noUi-handle")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    handle.click()
    for _ in range(3):  # 25 -> 250 -> 2,500 -> 25,000
        handle.send_keys(Keys.ARROW_RIGHT)
        time.sleep(0.3)
    message = _wait(
        lambda: _text_with(driver, ".nst-explorer-message", "α/β 25,000"), 30, "the message naming α/β 25,000"
    )

    def changed():
        image = _image(driver, ".nst-explorer-result")
        return image if image and image["width"] > 0 and image["src"] != before["src"] else None

    after = _wait(changed, 30, "the result image changing")
    driver.save_screenshot(str(shots / "ratio_25000.png"))
    assert "J_content" in message and after["src"] != before["src"]
    assert site_browser.console_errors(driver) == []


def test_stylise_an_uploaded_photo_and_stop_it(page, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    driver, _, shots = page
    photo = np.zeros((300, 400, 3), np.uint8)
    photo[:, :200] = (200, 60, 40)
    photo[150:, 200:] = (30, 90, 210)
    upload = image_io.save_image(tmp_path / "my_photo.jpg", photo)
    lab_browser.upload_file(driver, _one(driver, ".nst-photo-content .widget-upload"), upload)  # send_keys
    _wait(lambda: "my_photo.jpg: 400×300 pixels." in _text(driver, ".nst-photo-content"), 30, "the upload's message")

    size = _one(driver, ".nst-photo-size select")
    Select(size).select_by_visible_text("256")
    steps_handle = _one(driver, ".nst-photo-steps .noUi-handle")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", steps_handle)
    steps_handle.click()
    steps_handle.send_keys(Keys.END)  # the longest run the slider offers
    _wait(lambda: "500" in _text(driver, ".nst-photo-steps"), 10, "the steps slider at 500")

    buttons = driver.find_elements(By.CSS_SELECTOR, ".nst-photo-run button")
    run, stop = (next(button for button in buttons if button.text.strip() == label) for label in ("Stylise", "Stop"))
    run.click()
    _wait(
        lambda: "step " in _text(driver, ".nst-photo-run") and "of 500" in _text(driver, ".nst-photo-run"),
        120,
        "progress during the run",
    )
    stop.click()
    message = _wait(lambda: _text_with(driver, ".nst-photo-run", "Stopped after"), 120, "the stop message")
    driver.save_screenshot(str(shots / "stopped.png"))
    assert "the best image so far" in message
    result = _wait(
        lambda: (
            _image(driver, ".nst-photo-result") if (_image(driver, ".nst-photo-result") or {}).get("width") else None
        ),
        30,
        "the result image",
    )
    assert result["width"] == 256
    href = driver.execute_script("const a = document.querySelector('.nst-photo-download a'); return a && a.href;")
    assert href and href.startswith("data:image/png;base64,")
    assert site_browser.console_errors(driver) == []
