"""The shared widget pieces (utils.widgets): showing a control, its message line, uploads, a stoppable run."""

from __future__ import annotations

import datetime
import io
import threading
import time

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient
from PIL import Image

from utils import image_io
from utils.errors import NoFaceError
from utils.widgets import BackgroundRun, ImageInput, MessageLine, decode_upload, download_link, png_bytes, show_control
from utils.widgets import images as widget_images


def _encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def _portrait() -> Image.Image:
    """A 40x20 (height x width) picture whose top half is red, so orientation can be read off it."""
    array = np.zeros((40, 20, 3), np.uint8)
    array[:20] = (255, 0, 0)
    return Image.fromarray(array)


# --------------------------------------------------------------------------------------------
# show_control and MessageLine


def test_show_control_prints_the_summary_where_no_front_end_draws_widgets(capsys):
    import ipywidgets

    show_control(ipywidgets.IntSlider(value=3), "k = 3")
    assert capsys.readouterr().out == "k = 3\n"


def test_show_control_refuses_an_empty_summary():
    import ipywidgets

    with pytest.raises(ValueError, match="summary"):
        show_control(ipywidgets.IntSlider(), "  ")


@pytest.mark.slow
def test_show_control_in_a_kernel_gives_the_widget_view_and_the_summary_as_plain_text():
    """What nbclient/nbval record from a real kernel: the summary as text/plain, beside the widget view
    a front end draws; the widget's state is saved in the notebook (what the course site draws)."""
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                "import ipywidgets\nfrom utils.widgets import show_control\n"
                "show_control(ipywidgets.FloatSlider(value=0.6, description='tau'), 'tau = 0.60: FAR 0.3 %')"
            )
        ]
    )
    NotebookClient(notebook, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    (output,) = notebook.cells[0].outputs
    assert output["data"]["text/plain"] == "tau = 0.60: FAR 0.3 %"
    model_id = output["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert state[model_id]["model_name"] == "FloatSliderModel"
    assert state[model_id]["state"]["value"] == 0.6


def test_message_line_shows_one_escaped_line_and_never_a_traceback():
    line = MessageLine()
    line.error(NoFaceError("no face found in <me>.jpg\n(try a brighter photo)"))
    assert line.kind == "error"
    assert line.text == "no face found in <me>.jpg (try a brighter photo)"
    assert "&lt;me&gt;" in line.value and "<me>" not in line.value and "Traceback" not in line.value
    line.error(ZeroDivisionError("division by zero"))
    assert line.text == "ZeroDivisionError: division by zero"
    line.success("Enrolled ada.")
    assert (line.kind, line.text) == ("success", "Enrolled ada.")
    line.clear()
    assert (line.kind, line.text, line.value) == ("", "", "")


# --------------------------------------------------------------------------------------------
# BackgroundRun


def test_a_background_run_reports_progress_and_hands_its_result_to_on_done():
    received = []
    run = BackgroundRun("Go", total=4)

    def work(run):
        for step in range(4):
            run.progress(step + 1, text=f"step {step + 1}")
        return "done"

    run.start(work, on_done=received.append)
    run.join(timeout=10)
    assert received == ["done"] and run.bar.value == 4 and run.message.text == "step 4"
    assert not run.running and not run.run_button.disabled and run.stop_button.disabled


def test_stop_ends_the_loop_at_its_next_check_and_keeps_what_it_had():
    started, kept = threading.Event(), []
    run = BackgroundRun("Go")

    def work(run):
        best = 0
        while not run.stopped:
            best += 1
            started.set()
            time.sleep(0.005)
        return best

    run.start(work, on_done=kept.append)
    assert started.wait(10) and run.running and not run.stop_button.disabled
    run.stop()
    run.join(timeout=10)
    assert not run.running and kept and kept[0] >= 1 and run.result == kept[0]


def test_a_second_start_while_running_is_refused_and_the_button_says_so():
    release = threading.Event()
    run = BackgroundRun("Go")
    run.start(lambda run: release.wait(10))
    with pytest.raises(ValueError, match="still going"):
        run.start(lambda run: None)
    run.run_button.click()  # through the button: a line in the widget, no exception
    release.set()
    run.join(timeout=10)


def test_an_error_in_the_loop_is_one_line_in_the_widget_and_on_done_is_not_called():
    called = []
    run = BackgroundRun("Go")
    assert run.run_now(lambda run: 1 / 0, on_done=called.append) is None
    assert called == [] and isinstance(run.error, ZeroDivisionError)
    assert run.message.text == "ZeroDivisionError: division by zero"


def test_the_run_button_starts_the_work():
    run = BackgroundRun("Go")
    results = []
    run.on_click(lambda run: 42, on_done=results.append)
    run.run_button.click()
    run.join(timeout=10)
    assert results == [42]


# --------------------------------------------------------------------------------------------
# Uploads: the learner's image is untrusted input


def test_decode_upload_reads_what_phones_send_upright():
    portrait = _portrait()
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; rotate 90° clockwise
    rotated = _encoded(portrait.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif, quality=95)
    image = decode_upload(rotated, "IMG_0001.JPG")
    assert image.shape == (40, 20, 3)
    assert image[5, 10, 0] > 200 and image[35, 10, 0] < 60  # red on top: upright

    import pillow_heif  # noqa: F401  (requirements.txt: the plugin that reads HEIC)

    heic = decode_upload(_encoded(portrait, "HEIF"), "IMG_0002.HEIC")
    assert heic.shape == (40, 20, 3) and heic[5, 10, 0] > 200


@pytest.mark.parametrize("mode", ["CMYK", "L", "I;16", "RGBA"])
def test_decode_upload_converts_every_mode_to_rgb(mode):
    source = _portrait()
    if mode == "I;16":
        image = Image.fromarray((np.asarray(source.convert("L"), np.uint16) * 257).astype("<u2"))
        content = _encoded(image, "PNG")
    elif mode == "RGBA":
        content = _encoded(source.convert("RGBA"), "PNG")
    else:
        content = _encoded(source.convert(mode), "JPEG" if mode == "CMYK" else "PNG")
    image = decode_upload(content, f"photo-{mode}")
    assert image.dtype == np.uint8 and image.shape == (40, 20, 3)


def test_decode_upload_refuses_a_decompression_bomb_from_its_header():
    bomb = _encoded(Image.new("1", (12000, 12000)), "PNG")  # 144 megapixels in a few kB
    assert len(bomb) < 100_000
    with pytest.raises(image_io.ImageError, match="bomb.png: image declares 12000x12000"):
        decode_upload(bomb, "bomb.png")


def test_decode_upload_refuses_a_file_over_the_upload_limit_unread(monkeypatch):
    monkeypatch.setattr(widget_images, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(image_io.ImageError, match="more than the 0 MB an upload may have"):
        decode_upload(bytes(2000), "huge.jpg")


def test_image_input_keeps_the_last_good_image_and_says_why_a_file_was_refused():
    seen = []
    picture = ImageInput("Content image")
    picture.on_image(lambda image, name: seen.append((image.shape, name)))
    assert picture.load(_encoded(_portrait(), "PNG"), "me.png")
    assert seen == [((40, 20, 3), "me.png")] and bytes(picture.preview.value).startswith(b"\x89PNG")
    for content, name, line in [
        (b"", "empty.jpg", "empty.jpg is empty (0 bytes)"),
        (b"<!DOCTYPE html><html></html>", "page.jpg", "page.jpg is not an image"),
        (b"%PDF-1.7", "scan\nname.pdf", "scanname.pdf is not an image"),
    ]:
        assert not picture.load(content, name)
        assert picture.message.kind == "error" and picture.message.text.startswith(line)
        assert picture.name == "me.png" and picture.image.shape == (40, 20, 3)
    assert len(seen) == 1


def test_image_input_takes_an_upload_through_the_file_upload_widget():
    picture = ImageInput()
    content = _encoded(_portrait(), "WEBP")
    picture.upload.value = (
        {
            "name": "me.webp",
            "type": "image/webp",
            "size": len(content),
            "last_modified": datetime.datetime.now(datetime.UTC),
            "content": memoryview(content),
        },
    )
    assert picture.name == "me.webp" and picture.image.shape == (40, 20, 3)


def test_a_failing_application_step_is_one_line_in_the_widget():
    picture = ImageInput()
    picture.on_image(lambda image, name: (_ for _ in ()).throw(NoFaceError(f"no face found in {name}")))
    assert not picture.load(np.zeros((8, 8, 3), np.uint8), "wall.png")
    assert (picture.message.kind, picture.message.text) == ("error", "no face found in wall.png")


def test_png_bytes_and_download_link_round_trip():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert np.array_equal(image_io.load_image_bytes(png_bytes(image)), image)
    link = download_link(image, 'my "result".png')
    assert 'download="my &quot;result&quot;.png"' in link.value and "data:image/png;base64," in link.value


def test_image_input_with_the_camera_takes_every_capture_and_says_when_a_frame_is_empty():
    pytest.importorskip("anywidget")
    picture = ImageInput(camera=True)
    seen = []
    picture.on_image(lambda image, name: seen.append(name))
    picture.camera.receive(b"")
    assert picture.message.kind == "error" and "empty frame" in picture.message.text and picture.image is None
    frame = _encoded(_portrait(), "JPEG")
    picture.camera.receive(frame)
    picture.camera.receive(frame)  # a still camera: the same bytes twice are two captures
    assert seen == ["camera frame 1", "camera frame 2"] and picture.image.shape == (40, 20, 3)
