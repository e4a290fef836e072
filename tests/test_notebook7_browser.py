"""Every application's controls in Jupyter Notebook 7 (the other front end the course supports).

The JupyterLab tests (tests/test_*_widgets_browser.py) drive each control in depth; this one checks
that Notebook 7, whose page is built differently, draws the same controls and that they answer:
one small notebook builds each kind of control (notebook 01's τ explorer and "enroll yourself" with
its camera — an anywidget, whose JavaScript Notebook 7 must load too —, notebook 04's knob
explorer and "your own photo", notebook 05's unit explorer, notebook 06's prediction prompt), runs
through Notebook 7's own "run all" command, and then:

1. every cell ran, no error output, no widget that could not be drawn, no console error;
2. the τ slider moved with the keyboard changes FAR and FRR;
3. a prediction typed into notebook 06's prompt is checked and Keras builds the model.

Without Chromium these tests skip with one line (tests/site_browser.py).
"""

from __future__ import annotations

import sys
import time

import pytest

import lab_browser
import site_browser
from site_browser import needs_chromium
from utils import config

pytestmark = [needs_chromium, pytest.mark.slow]

NOTEBOOK = "controls.ipynb"

CELLS = [
    # notebook 01: the tau explorer on made-up distances (its data does not matter here), and
    # "enroll yourself" with its camera on a small made-up database (nothing is uploaded)
    """import numpy as np
from utils.faces.widgets import EnrollYourself, ThresholdExplorer

rng = np.random.default_rng(0)
distances = np.concatenate([rng.normal(0.45, 0.08, 200), rng.normal(0.85, 0.08, 200)])
same_person = np.arange(400) < 200
course_matrix = rng.uniform(0.3, 1.1, (3, 4))
explorer = ThresholdExplorer(distances, same_person, course_matrix, [0, 1, 2], ["p0", "p1", "p2"],
                             ["a", "b", "c", "d"])
explorer.show()""",
    """database = {name: rng.normal(0, 0.1, (1, 128)).astype("float32") for name in ["a", "b", "c", "d"]}
EnrollYourself(database).show()""",
    # notebook 04: the knob explorer (a tiny grid) and "your own photo", on the course's images
    """from utils import assets
from utils.nst.widgets import KnobExplorer, StylisePhoto
from utils.widgets import show_control

images = assets.resolve("nst_images")
content, style = images / "content" / "tubingen.jpg", images / "style" / "starry_night.jpg"
knobs = KnobExplorer(content, style, size=32, steps=2, small_grid=True)
knobs.build()
show_control(knobs, knobs.summary())
photo = StylisePhoto(content, style, size=32, steps=2, explorer=knobs)
show_control(photo, photo.summary())""",
    # notebook 05: the unit explorer over two made-up units (their pictures do not matter here)
    """from utils.convnets.widgets import UnitExplorer, UnitView
from utils.widgets import png_bytes

tile = png_bytes(np.full((96, 96, 3), 128, np.uint8))
units = UnitExplorer({"block1_conv1": [UnitView("block1_conv1", unit, 3, 10.0, 12.0, tile, tile)
                                       for unit in (0, 1)]}, missing_layers=["block4_conv2"])
show_control(units, units.summary())""",
    # notebook 06: predict before you run, the lecture's 2-D recap
    """from utils.convnets.widgets import LECTURE_MODELS, PredictionControl

prediction = PredictionControl(LECTURE_MODELS["2d"])
show_control(prediction, prediction.summary())""",
]


class Notebook7(lab_browser.JupyterLab):
    """``jupyter notebook`` (Notebook 7) on 127.0.0.1, set up like :class:`lab_browser.JupyterLab`."""

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "notebook",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            "--JupyterNotebookApp.expose_app_in_browser=True",
        ]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebook7")
    workspace = root / "notebooks"
    workspace.mkdir()
    lab_browser.write_notebook(workspace / NOTEBOOK, CELLS)
    environment = {config.FAST_ENV_VAR: "1", "COURSE_OUTPUTS": str(root / "outputs")}
    with Notebook7(workspace, root / "state", environment) as running:
        yield running


_CONNECTED = """
const app = window.jupyterapp;
const panel = app && app.shell.currentWidget;
return Boolean(panel && panel.sessionContext && panel.sessionContext.session &&
               panel.sessionContext.session.kernel && panel.sessionContext.session.kernel.status === 'idle' &&
               document.querySelectorAll('.jp-CodeCell').length > 0);
"""


@pytest.fixture(scope="module")
def page(server):
    """Chromium with the notebook open in Notebook 7 and every cell run through Notebook 7's command."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = site_browser.start_browser(height=2400)
    try:
        driver.get(f"{server.url}/notebooks/{NOTEBOOK}?token={server.token}")
        WebDriverWait(driver, 120, poll_frequency=0.5).until(lambda d: d.execute_script(_CONNECTED))
        site_browser.console_errors(driver)  # what loading the page printed is checked below
        driver.execute_script("window.jupyterapp.commands.execute('notebook:run-all-cells')")
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            time.sleep(1.0)
            report = lab_browser.notebook_report(driver)
            if all(prompt.strip("[]: ").isdigit() for prompt in report["prompts"]) and driver.execute_script(
                _CONNECTED
            ):
                break
        yield driver
        driver.save_screenshot(str(site_browser.screenshot_dir("notebook7") / "controls.png"))
    finally:
        server.shutdown_kernels()
        driver.quit()


def test_every_control_is_drawn_in_notebook_7_without_errors(page):
    report = lab_browser.notebook_report(page)
    assert lab_browser.report_problems(report) == []
    drawn = page.execute_script("""return {
        tau: document.querySelectorAll('.course-tau-explorer .noUi-handle').length,
        camera: document.querySelectorAll('.course-enroll-photo button').length,
        knobs: document.querySelectorAll('[class*="nst-explorer-"]').length,
        photo: document.querySelectorAll('[class*="nst-photo-"]').length,
        units: document.querySelectorAll('.jp-OutputArea-output .widget-dropdown select').length,
        boxes: document.querySelectorAll('.jp-OutputArea-output .widget-text input').length};""")
    assert drawn["tau"] == 1 and drawn["knobs"] > 0 and drawn["photo"] > 0 and drawn["units"] >= 1
    assert drawn["boxes"] >= 2  # notebook 06's shape and parameter boxes
    camera_buttons = [button.text for button in page.find_elements("css selector", ".course-enroll-photo button")]
    assert any(text.strip().startswith("Start camera") for text in camera_buttons), camera_buttons
    assert site_browser.console_errors(page) == []


def test_the_tau_slider_answers_in_notebook_7(page):
    from selenium.webdriver.common.action_chains import ActionChains

    numbers = ".course-tau-explorer .course-tau-numbers"
    before = lab_browser.wait_for_text(page, numbers, "FRR")
    handle = page.find_element("css selector", ".course-tau-explorer .noUi-handle")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    # dragged with the mouse, as a learner does (Notebook 7 keeps the arrow keys for moving between cells)
    ActionChains(page).click_and_hold(handle).move_by_offset(-60, 0).pause(0.3).release().perform()
    deadline = time.monotonic() + 60
    while (
        time.monotonic() < deadline
        and page.execute_script("return document.querySelector(arguments[0]).innerText", numbers) == before
    ):
        time.sleep(0.25)
    assert page.execute_script("return document.querySelector(arguments[0]).innerText", numbers) != before


def test_a_prediction_is_checked_and_keras_builds_the_model_in_notebook_7(page):
    boxes = page.find_elements("css selector", ".jp-OutputArea-output .widget-text input")
    shape_box, count_box = boxes[-2], boxes[-1]  # the 2-D recap has one layer: its two boxes
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", shape_box)
    shape_box.send_keys("10 x 10 x 16")
    count_box.send_keys("1216")
    buttons = [
        button
        for button in page.find_elements("css selector", ".jp-OutputArea-output button")
        if button.text.strip().startswith("Check")
    ]
    assert buttons
    buttons[-1].click()
    lab_browser.wait_for_text(page, ".jp-Notebook", "right", seconds=120)
    assert site_browser.console_errors(page) == []
