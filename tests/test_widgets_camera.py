"""The camera widget (utils/widgets/camera.py) from the kernel's side, and the fake camera's video.

The page's side (getUserMedia, the Capture button, Chromium's fake camera) is tested in a real
JupyterLab by tests/test_faces_widgets_browser.py. Here: what the kernel receives when the front
end sends a capture (the widget protocol delivers binary traits as memoryviews), one callback per
capture even when two frames are identical, an empty frame as one line, the page's error lines
passed on, nothing in the page's code that could send the picture elsewhere, and the YUV4MPEG2
writer that makes the fake camera's video.
"""

from __future__ import annotations

import re

import numpy as np

import face_photos
from utils.widgets import ImageInput
from utils.widgets.camera import EMPTY_FRAME, Camera


def test_a_capture_from_the_page_reaches_the_callbacks_as_bytes():
    camera = Camera()
    frames = []
    camera.on_frame(frames.append)
    # what ipywidgets does with a state update from the front end: binary buffers arrive as memoryviews
    camera.set_state({"frame": memoryview(b"\xff\xd8\xff\xe0 a JPEG"), "captures": 1})
    assert frames == [b"\xff\xd8\xff\xe0 a JPEG"] and isinstance(camera.frame, bytes)
    assert camera.error == ""


def test_two_identical_captures_are_two_frames():
    camera = Camera()
    frames = []
    camera.on_frame(frames.append)
    camera.set_state({"frame": memoryview(b"same picture"), "captures": 1})
    camera.set_state({"frame": memoryview(b"same picture"), "captures": 2})  # a still camera: same bytes
    assert frames == [b"same picture", b"same picture"]


def test_an_empty_frame_is_one_line_and_no_frame():
    camera = Camera()
    frames, lines = [], []
    camera.on_frame(frames.append)
    camera.on_error(lines.append)
    camera.receive(b"")
    camera.receive(b"")  # the same problem twice is reported twice
    assert frames == [] and camera.error == EMPTY_FRAME and lines == [EMPTY_FRAME, EMPTY_FRAME]
    assert "\n" not in EMPTY_FRAME
    camera.receive(b"a picture")
    assert camera.error == "" and frames == [b"a picture"]


def test_the_pages_error_line_is_passed_on():
    camera = Camera()
    lines = []
    camera.on_error(lines.append)
    camera.set_state({"error": "no camera found on this computer: upload a photo instead"})
    assert lines == ["no camera found on this computer: upload a photo instead"]


def test_the_page_code_asks_for_the_camera_on_a_click_and_sends_nothing_elsewhere():
    script = Camera._esm
    click = script.index('start.addEventListener("click"')
    assert script.index("getUserMedia(") > click  # never on page load
    for sender in ("fetch(", "XMLHttpRequest", "WebSocket", "sendBeacon", "navigator.share", "import("):
        assert sender not in script, sender
    # every error name getUserMedia raises for a refused, missing or busy camera has its own line
    for name in ("NotAllowedError", "NotFoundError", "NotReadableError", "SecurityError", "OverconstrainedError"):
        assert re.search(rf"{name}: \"[^\"]+\"", script), name
    assert 'model.set("frame"' in script and 'model.set("captures"' in script


def test_image_input_with_a_camera_takes_a_capture_like_an_upload():
    photo = face_photos.load(face_photos.lfw_photo("Serena_Williams", 1))
    image_input = ImageInput("Your photo", camera=True)
    received = []
    image_input.on_image(lambda image, name: received.append((image.shape, name)))
    image_input.camera.receive(face_photos.encoded(photo, "JPEG", quality=95))
    assert received == [((250, 250, 3), "camera frame 1")]
    image_input.camera.receive(b"")
    assert image_input.message.kind == "error" and "empty frame" in image_input.message.text
    assert image_input.image.shape == (250, 250, 3)  # the previous picture is kept


def test_image_input_takes_two_identical_captures():
    frame = face_photos.encoded(face_photos.load(face_photos.lfw_photo("Serena_Williams", 1)), "JPEG", quality=95)
    image_input = ImageInput("Your photo", camera=True)
    received = []
    image_input.on_image(lambda image, name: received.append(name))
    image_input.camera.receive(frame)
    image_input.camera.receive(frame)
    assert received == ["camera frame 1", "camera frame 2"]


def test_the_fake_cameras_video_holds_the_picture():
    picture = face_photos.camera_picture(face_photos.load(face_photos.course_photo("camera_0.jpg")))
    video = face_photos.y4m_video(picture, frames=3)
    header = video.split(b"\n", 1)[0]
    assert header == b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg"
    assert video.count(b"FRAME\n") == 3
    assert len(video) == len(header) + 1 + 3 * (len(b"FRAME\n") + 640 * 480 * 3 // 2)
    back = face_photos.read_y4m_first_frame(video)
    assert back.shape == picture.shape
    # 4:2:0 halves the colour resolution: the picture comes back within a few grey levels on average
    assert np.abs(back.astype(int) - picture.astype(int)).mean() < 3.0
