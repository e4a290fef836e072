"""Notebook 01's controls in a real JupyterLab and a real (headless) Chromium, used as a learner uses them.

One JupyterLab (tests/lab_browser.py) serves a small notebook that builds the two controls from the
course's data exactly as notebook 01 does (the real encoder, the course database, real distances);
one Chromium whose camera is a video made at test time from a course photo (Chromium's fake camera:
``--use-fake-device-for-media-stream --use-file-for-fake-video-capture=FILE.y4m``). The tests, in
order:

1. move the tau slider with the keyboard and see FAR and FRR change (and the figure);
2. upload a photo through the file input, type a name, press Enroll, upload a second photo of the
   same person and see it recognised;
3. press Start camera and Capture, enroll the capture, capture again for the second photo and see
   it recognised;
4. a camera the browser refuses gives its one line (getUserMedia rejecting as it does then);
5. no error in an output, no widget that could not be drawn, nothing in the browser console.

Without Chromium these tests skip with one line (tests/site_browser.py).
"""

from __future__ import annotations

import pytest

import face_photos
import lab_browser
import site_browser
from site_browser import needs_chromium
from utils import config

pytestmark = [needs_chromium, pytest.mark.slow]

NOTEBOOK = "faces_controls.ipynb"

#: The notebook's cells: notebook 01's data, then each control, as notebook 01 builds them.
CELLS = [
    """import numpy as np
from utils import assets
from utils.faces import encode_images, img_to_encoding, load_encoder, read_manifest
from utils.faces.widgets import EnrollYourself, ThresholdExplorer

model = load_encoder()
demo = assets.resolve("faces_demo")
course = read_manifest(demo / "course")
database = {row["identity"]: img_to_encoding(row["path"], model) for row in course if row["role"] == "database"}
probe_rows = [row for row in course if row["role"] == "probe"]
names = list(database)
probes = encode_images([row["path"] for row in probe_rows], model=model)
distance_matrix = np.linalg.norm(probes[:, None] - np.concatenate([database[name] for name in names])[None], axis=-1)
true_columns = [names.index(row["identity"]) for row in probe_rows]
# real LFW-style pairs: every pair of the LFW demo set's 36 photos
lfw = read_manifest(demo / "lfw")
encodings = encode_images([row["path"] for row in lfw], model=model, policy="central")
first, second = np.triu_indices(len(lfw), k=1)
distances = np.linalg.norm(encodings[first] - encodings[second], axis=1)
same_person = np.array([lfw[a]["identity"] == lfw[b]["identity"] for a, b in zip(first, second)])""",
    """explorer = ThresholdExplorer(distances, same_person, distance_matrix, true_columns,
                             [row["path"].stem for row in probe_rows], names)
explorer.show()""",
    """enroll = EnrollYourself(database, model=model)
enroll.show()""",
]


@pytest.fixture(scope="module")
def pictures(tmp_path_factory):
    """The photos a learner uploads, and the fake camera's video (a course photo, as a webcam sees it)."""
    folder = tmp_path_factory.mktemp("pictures")
    first = folder / "my photo.jpg"
    first.write_bytes(face_photos.lfw_photo("Serena_Williams", 1).read_bytes())
    second = folder / "another photo.jpg"
    second.write_bytes(face_photos.lfw_photo("Serena_Williams", 4).read_bytes())
    video = folder / "camera.y4m"
    webcam = face_photos.camera_picture(face_photos.load(face_photos.course_photo("camera_0.jpg")))
    video.write_bytes(face_photos.y4m_video(webcam, frames=4))
    return {"first": first, "second": second, "video": video}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("faces-lab")
    workspace = root / "notebooks"
    workspace.mkdir()
    lab_browser.write_notebook(workspace / NOTEBOOK, CELLS)
    environment = {config.FAST_ENV_VAR: "1", "COURSE_OUTPUTS": str(root / "outputs")}
    with lab_browser.JupyterLab(workspace, root / "state", environment) as server:
        yield server


@pytest.fixture(scope="module")
def page(lab, pictures):
    """Chromium with the fake camera, the notebook open and every cell run."""
    driver = site_browser.start_browser(height=2400, arguments=lab_browser.fake_camera_arguments(pictures["video"]))
    try:
        lab_browser.open_notebook(driver, lab, NOTEBOOK)
        lab_browser.run_all_cells(driver, seconds=300)
        lab_browser.wait_for_text(driver, ".course-enroll .course-enroll-button", "Enroll")
        yield driver
        driver.save_screenshot(str(site_browser.screenshot_dir("faces-controls") / "faces_controls.png"))
    finally:
        lab.shutdown_kernels()
        driver.quit()


def _find(driver, css: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def _button(driver, scope: str, label: str):
    from selenium.webdriver.common.by import By

    buttons = [
        button
        for button in driver.find_elements(By.CSS_SELECTOR, f"{scope} button")
        if button.text.strip().startswith(label)
    ]
    assert buttons, f"no button {label!r} in {scope}"
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", buttons[0])
    return buttons[0]


def _type_name(driver, name: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = _find(driver, ".course-enroll-name input")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(name)
    box.send_keys(Keys.TAB)  # the Text widget sends its value when it loses focus too


def test_moving_the_tau_slider_changes_far_and_frr(page):
    from selenium.webdriver.common.keys import Keys

    numbers = ".course-tau-explorer .course-tau-numbers"
    before = lab_browser.wait_for_text(page, numbers, "LFW pairs")
    figure = _find(page, ".course-tau-explorer .course-tau-figure").get_attribute("src")
    assert "FAR 0.0 %" not in before.split("course claims")[1]  # tau = 0.6 accepts course impostors
    handle = _find(page, ".course-tau-explorer .noUi-handle")
    page.execute_script("arguments[0].scrollIntoView({block: 'center'})", handle)
    handle.click()
    for _ in range(25):  # 25 steps of 0.01 to the left: tau = 0.35
        handle.send_keys(Keys.ARROW_LEFT)
    after = lab_browser.wait_for_text(page, numbers, "FAR 0.0 % (0/66)")
    assert after != before
    frr_before = before.split("course claims")[0].split("FRR")[1]
    frr_after = after.split("course claims")[0].split("FRR")[1]
    assert frr_after != frr_before  # at 0.35 same-person LFW pairs are refused
    assert _find(page, ".course-tau-explorer .course-tau-figure").get_attribute("src") != figure


def test_upload_a_photo_enroll_and_be_recognised(page, pictures):
    upload = _button(page, ".course-enroll-photo", "Upload")
    lab_browser.upload_file(page, upload, pictures["first"])
    lab_browser.wait_for_text(page, ".course-enroll-photo .course-message", "one face in my photo.jpg")
    _type_name(page, "Upload Learner")
    _button(page, ".course-enroll", "Enroll").click()
    lab_browser.wait_for_text(page, ".course-enroll-message", "Enrolled 'Upload Learner'")
    lab_browser.upload_file(page, _button(page, ".course-enroll-probe", "Upload"), pictures["second"])
    answer = lab_browser.wait_for_text(page, ".course-enroll-answer", "it's Upload Learner")
    assert "another photo.jpg" in answer


def test_capture_from_the_camera_enroll_and_be_recognised(page):
    photo = ".course-enroll-photo"
    _button(page, photo, "Start camera").click()
    lab_browser.wait_for_text(page, f"{photo} .course-camera-line", "Camera on")
    _button(page, photo, "Capture").click()
    text = lab_browser.wait_for_text(page, f"{photo} .course-message", "one face in camera frame 1")
    assert "640×480 photo" in text  # the fake camera's frame size
    _type_name(page, "Camera Learner")
    _button(page, ".course-enroll", "Enroll").click()
    lab_browser.wait_for_text(page, ".course-enroll-message", "Enrolled 'Camera Learner'")
    probe = ".course-enroll-probe"
    _button(page, probe, "Start camera").click()
    lab_browser.wait_for_text(page, f"{probe} .course-camera-line", "Camera on")
    _button(page, probe, "Capture").click()
    lab_browser.wait_for_text(page, ".course-enroll-answer", "it's Camera Learner")
    _button(page, photo, "Stop camera").click()
    _button(page, probe, "Stop camera").click()


def test_a_refused_camera_gives_its_line(page):
    # Chromium's fake camera accepts every request, so the refusal is the page's own: getUserMedia
    # rejects with the error a browser raises when the learner (or a setting) says no
    page.execute_script("""
        window.__courseGetUserMedia = navigator.mediaDevices.getUserMedia;
        navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('Permission denied', 'NotAllowedError'));
    """)
    try:
        _button(page, ".course-enroll-photo", "Start camera").click()
        line = lab_browser.wait_for_text(page, ".course-enroll-photo .course-message", "refused", seconds=30)
        assert "upload a photo instead" in line and "\n" not in line
        assert "refused" in _find(page, ".course-enroll-photo .course-camera-line").text
    finally:
        page.execute_script("navigator.mediaDevices.getUserMedia = window.__courseGetUserMedia;")


def test_no_error_in_outputs_widgets_or_console(page):
    report = lab_browser.notebook_report(page)
    assert lab_browser.report_problems(report) == []
    assert report["widgets"] > 10
    assert site_browser.console_errors(page) == []
