"""The six notebooks in a real JupyterLab, run the way a learner runs them.

nbval runs the kernel, not the front end, so a widget that JupyterLab cannot draw ("Error
displaying widget"), a progress bar that never renders or a figure that does not display would
pass it. Here the test starts ``jupyter lab`` (127.0.0.1, random port and token, fast mode) in a
temporary copy of notebooks/ (what the notebooks save goes to ``outputs/browser-tests/``), opens
each notebook in headless Chromium, clicks **Run > Run All
Cells**, waits for the kernel, and checks the page: every code cell ran, no traceback, no widget
error, tqdm's progress bars drawn as widgets, and as many images as the same notebook displays
when the course site executes it (tests/site_browser.py). A screenshot of each notebook is saved
in ``outputs/screenshots/jupyterlab/``. Without Chromium these tests skip with one line.

This guards the ipywidgets / JupyterLab / tqdm versions that requirements.txt leaves open.
"""

from __future__ import annotations

import shutil

import nbformat
import pytest

import lab_browser
import site_browser
from site_browser import needs_chromium
from utils import config
from utils.course import site, student

pytestmark = [needs_chromium, pytest.mark.slow]

NOTEBOOKS = config.REPO_ROOT / "notebooks"
NAMES = [path.name for path in site.list_notebooks(NOTEBOOKS)]

#: A cell that displays a widget whose front-end module does not exist (an extension missing).
BROKEN_WIDGET = """import ipywidgets
from traitlets import Unicode

class WidgetWithoutFrontEnd(ipywidgets.DOMWidget):
    _model_name = Unicode("NoSuchModel").tag(sync=True)
    _model_module = Unicode("course-widget-that-does-not-exist").tag(sync=True)
    _model_module_version = Unicode("1.0.0").tag(sync=True)
    _view_name = Unicode("NoSuchView").tag(sync=True)
    _view_module = Unicode("course-widget-that-does-not-exist").tag(sync=True)
    _view_module_version = Unicode("1.0.0").tag(sync=True)

WidgetWithoutFrontEnd()"""


@pytest.fixture(scope="session")
def course_site(tmp_path_factory):
    return site_browser.course_site(tmp_path_factory)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a temporary copy of notebooks/ (and its images), in fast mode."""
    root = tmp_path_factory.mktemp("lab")
    workspace = root / "notebooks"
    workspace.mkdir()
    for name in NAMES:
        shutil.copyfile(NOTEBOOKS / name, workspace / name)
    if (NOTEBOOKS / "images").is_dir():
        shutil.copytree(NOTEBOOKS / "images", workspace / "images")
    broken = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("print('before the widget')"), nbformat.v4.new_code_cell(BROKEN_WIDGET)]
    )
    broken.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(broken, workspace / "broken_widget.ipynb")
    environment = {config.FAST_ENV_VAR: "1", "COURSE_OUTPUTS": str(site_browser.TEST_OUTPUTS)}
    with lab_browser.JupyterLab(workspace, root / "state", environment) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    driver = site_browser.start_browser(1280, 2400)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def shots():
    return site_browser.screenshot_dir("jupyterlab")


def expected_outputs(executed) -> tuple[int, int]:
    """Images displayed and progress bars shown by a notebook the course site executed."""
    state = executed.metadata.get("widgets", {}).get(site.widgets.STATE_MIME, {}).get("state", {})
    images = bars = 0
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            images += "image/png" in data
            view = data.get(site.widgets.VIEW_MIME)
            bars += bool(view) and "<progress" in site.widget_html(view["model_id"], state)
    return images, bars


@pytest.mark.parametrize("name", NAMES)
def test_run_all_cells_in_jupyterlab(lab, browser, shots, course_site, name):
    lab_browser.open_notebook(browser, lab, name)
    try:
        lab_browser.run_all_cells(browser)
        report = lab_browser.notebook_report(browser)
        browser.save_screenshot(str(shots / f"{name[:-6]}.png"))
    finally:
        lab.shutdown_kernels()
    images, bars = expected_outputs(student.read_notebook(course_site["executed"] / name))
    assert lab_browser.report_problems(report, expected_images=images, expected_bars=bars) == []
    assert report["cells"] > 5 and len(report["images"]) == images > 0


def test_the_checker_fails_when_a_widget_cannot_be_drawn(lab, browser, shots):
    lab_browser.open_notebook(browser, lab, "broken_widget.ipynb")
    try:
        lab_browser.run_all_cells(browser)
        report = lab_browser.notebook_report(browser)
        browser.save_screenshot(str(shots / "broken_widget.png"))
    finally:
        lab.shutdown_kernels()
    problems = lab_browser.report_problems(report)
    assert report["prompts"] == ["[1]:", "[2]:"]
    assert len(problems) == 1 and problems[0].startswith("widget not drawn:"), problems
