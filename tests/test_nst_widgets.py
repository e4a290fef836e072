"""Notebook 04's live controls driven from Python: utils.nst.cache, utils.nst.widgets and the engine's Stop.

The widgets run on the real partial VGG19 weights at 48 px with a few L-BFGS evaluations (the
pictures are not meant to look good, only to differ). The cache's own tests store hand-made
results and need no network at all.
"""

from __future__ import annotations

import dataclasses
import io
import json
import time

import numpy as np
import pytest
from PIL import Image

from conftest import needs_partial
from utils import image_io
from utils.errors import NSTError
from utils.nst import cache as nst_cache
from utils.nst.cache import KnobSetting, ResultCache, explorer_grid, image_hash, knob_choices
from utils.nst.engine import StyleTransfer
from utils.widgets import png_bytes

SIZE, STEPS = 48, 4


def _encoded(image: Image.Image, image_format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pictures(images):
    """(content, style) as RGB arrays, content downscaled to 160 px (the engine resizes to SIZE anyway)."""
    content_path, style_path = images
    return image_io.resize_max_side(image_io.load_image(content_path), 160), image_io.load_image(style_path)


# --------------------------------------------------------------------------------------------
# The cache: keys, settings and corrupt entries (no TensorFlow)


def test_a_knob_setting_is_the_preset_with_beta_from_the_ratio():
    settings = KnobSetting().settings(size=128)
    assert (settings.alpha, settings.beta, settings.content_layer, settings.init) == (
        10.0,
        0.4,
        "block3_conv2",
        "content+noise",
    )
    assert settings.style_layers == pytest.approx({"block1_conv1": 1 / 3, "block2_conv1": 1 / 3, "block3_conv1": 1 / 3})
    other = KnobSetting(
        ratio=25_000.0, style="block1_conv1 only", content_layer="block2_conv2", start="white noise"
    ).settings(size=64)
    assert (other.beta, other.style_layers, other.content_layer, other.init, other.size) == (
        pytest.approx(4e-4),
        {"block1_conv1": 1.0},
        "block2_conv2",
        "noise",
        64,
    )
    with pytest.raises(NSTError, match="unknown style choice 'block9'"):
        KnobSetting(style="block9").settings(size=64)
    with pytest.raises(NSTError, match="alpha/beta must be a positive number"):
        KnobSetting(ratio=0.0).settings(size=64)


def test_the_cache_key_changes_with_every_setting_and_with_each_image():
    content, style = image_hash(np.zeros((4, 4, 3), np.uint8)), image_hash(np.ones((4, 4, 3), np.uint8))
    base = ResultCache.key(KnobSetting().settings(64), content, style, 10)
    assert base == ResultCache.key(KnobSetting().settings(64), content, style, 10)  # deterministic
    variants = [
        ResultCache.key(dataclasses.replace(KnobSetting(), **change).settings(64), content, style, 10)
        for change in (
            {"ratio": 250.0},
            {"style": "block2_conv1 only"},
            {"content_layer": "block3_conv4"},
            {"start": "white noise"},
        )
    ]
    variants += [
        ResultCache.key(KnobSetting().settings(96), content, style, 10),
        ResultCache.key(KnobSetting().settings(64), content, style, 11),
        ResultCache.key(KnobSetting().settings(64), style, style, 10),
        ResultCache.key(KnobSetting().settings(64), content, content, 10),
    ]
    assert len(set(variants + [base])) == len(variants) + 1


def test_image_hash_reads_pixels_not_names():
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    changed = image.copy()
    changed[0, 0, 0] += 1
    assert image_hash(image) == image_hash(image.copy()) != image_hash(changed)
    assert image_hash(image) != image_hash(image.reshape(2, 8, 3))  # same bytes, another shape


def test_a_stored_result_is_read_back_from_disk(tmp_path):
    image = np.random.default_rng(0).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    ResultCache(tmp_path).store("k" * 24, image, {"final_losses": {"total": 1.0}})
    again = ResultCache(tmp_path).load("k" * 24)  # a new process: nothing in memory
    assert again is not None and again.from_cache and np.array_equal(again.image, image)
    assert again.record["final_losses"] == {"total": 1.0} and again.record["shape"] == [12, 16, 3]


@pytest.mark.parametrize(
    "damage", ["png bytes", "another png", "record garbage", "record of another key", "png missing"]
)
def test_a_corrupt_entry_is_deleted_not_trusted(tmp_path, damage):
    key = "a" * 24
    image = np.full((8, 8, 3), 200, np.uint8)
    ResultCache(tmp_path).store(key, image, {})
    image_path, record_path = ResultCache(tmp_path).paths(key)
    if damage == "png bytes":
        image_path.write_bytes(image_path.read_bytes()[:30])
    elif damage == "another png":  # a valid PNG, but not the one the record names
        image_io.save_image(image_path, np.zeros((8, 8, 3), np.uint8))
    elif damage == "record garbage":
        record_path.write_text('{"key": "aaa')
    elif damage == "record of another key":
        record_path.write_text(json.dumps({**json.loads(record_path.read_text()), "key": "b" * 24}))
    else:
        image_path.unlink()
    assert ResultCache(tmp_path).load(key) is None
    assert not image_path.exists() and not record_path.exists()  # removed, so it is computed again


@needs_partial
def test_knob_choices_offer_what_the_partial_weights_allow():
    choices = knob_choices("partial")
    assert choices.weights_kind == "partial"
    assert choices.content_layers == ("block1_conv2", "block2_conv2", "block3_conv2", "block3_conv4")
    assert all("block4" not in name and "block5" not in name for name in choices.styles)
    assert "block4_conv2" in choices.note and "vgg19_full" in choices.note
    grid = explorer_grid(choices)
    assert grid[0] == KnobSetting() and len(grid) == len(set(grid)) == 18
    assert {setting.ratio for setting in grid} == set(nst_cache.RATIOS)
    assert {setting.start for setting in grid} == set(nst_cache.STARTS)
    assert len(explorer_grid(choices, small=True)) == 3


# --------------------------------------------------------------------------------------------
# The engine's Stop: the best image so far


@needs_partial
@pytest.mark.slow
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_stop_keeps_the_best_image_so_far_not_the_last(pictures, optimizer):
    """Stopped at the first step whose loss is above the lowest so far (a learning rate of 1 makes Adam
    overshoot; L-BFGS's line search tries worse points), the result must be the best image, not the last."""
    content, style = pictures
    engine = StyleTransfer(content, [style], size=SIZE, learning_rate=1.0, compute_dtype="float32")
    totals: list = []

    def callback(entry, preview):
        totals.append(entry["total"])
        assert preview().shape == (36, 48, 3)
        return len(totals) >= 3 and totals[-1] > min(totals)

    result = engine.run(60, optimizer=optimizer, progress=False, callback=callback)
    assert result.stopped and result.steps == len(totals) < 60 and result.to_dict()["stopped"]
    assert min(totals) < totals[-1]  # the last image is not the best one
    assert result.final_losses["total"] == pytest.approx(min(totals), rel=1e-4)
    assert np.array_equal(result.image, engine.current_image())


@needs_partial
def test_stop_in_the_coarse_stage_gives_a_full_size_image(images):
    content, style = images
    engine = StyleTransfer(content, [style], size=172, compute_dtype="float32")
    assert len(engine.schedule(40)) == 2  # coarse 64x86 first
    result = engine.run(40, optimizer="lbfgs", progress=False, callback=lambda entry, preview: entry["step"] == 2)
    assert result.stopped and result.steps == 2 and result.image.shape == (129, 172, 3)
    assert result.history[-1]["height"] < 129  # it stopped in the coarse stage


@needs_partial
def test_a_run_without_callback_is_unchanged(pictures):
    content, style = pictures
    result = StyleTransfer(content, [style], size=SIZE).run(3, optimizer="adam", progress=False)
    assert not result.stopped and result.steps == 3


# --------------------------------------------------------------------------------------------
# The knob explorer


@pytest.fixture(scope="module")
def explorer(pictures, tmp_path_factory):
    from utils.nst.widgets import KnobExplorer

    content, style = pictures
    built = KnobExplorer(
        content,
        style,
        size=SIZE,
        steps=STEPS,
        cache=ResultCache(tmp_path_factory.mktemp("cache")),
        small_grid=True,
        weights="partial",
    )
    outcome = built.build()
    assert outcome == {**outcome, "computed": 3, "stored": 3, "total": 3, "stopped": False}
    return built


def _reset(explorer) -> None:
    explorer.ratio.value, explorer.style.value = 25.0, "blocks 1-3 (preset)"
    explorer.content_layer.value, explorer.start.value = "block3_conv2", "content + noise"


@needs_partial
@pytest.mark.slow
def test_moving_the_ratio_or_the_start_shows_another_stored_image(explorer):
    _reset(explorer)
    default_png = explorer.result_view.value
    assert explorer.shown is not None and explorer.shown.from_cache and default_png == png_bytes(explorer.shown.image)
    explorer.ratio.value = 25_000.0
    assert explorer.shown is not None and explorer.shown.from_cache
    assert explorer.result_view.value == png_bytes(explorer.shown.image) != default_png
    assert explorer.shown.record["setting"]["ratio"] == 25_000.0
    assert explorer.message.kind == "success" and "α/β 25,000" in explorer.message.text
    explorer.ratio.value = 10 ** (np.log10(25.0) + 1e-9)  # what a browser's 10**x sends back
    assert explorer.result_view.value == default_png
    explorer.start.value = "white noise"
    assert explorer.shown.record["settings"]["init"] == "noise" and explorer.result_view.value != default_png
    white_noise, content_noise = explorer.shown.record["final_losses"], None
    _reset(explorer)
    content_noise = explorer.shown.record["final_losses"]
    assert content_noise["content"] < white_noise["content"]  # the assignment's start keeps the photo closer


@needs_partial
@pytest.mark.slow
@pytest.mark.parametrize(
    "control, value", [("style", "block1_conv1 only"), ("content_layer", "block1_conv2"), ("ratio", 2.5)]
)
def test_an_uncomputed_setting_says_so_then_run_this_setting_stores_it(explorer, control, value):
    _reset(explorer)
    default_png = explorer.result_view.value
    getattr(explorer, control).value = value
    assert explorer.shown is None and explorer.result_view.value == b""
    assert explorer.message.kind == "info" and "not computed yet; press Run this setting" in explorer.message.text
    outcome = explorer.run_setting(background=False)
    assert outcome is not None and not outcome.from_cache  # computed now
    assert explorer.shown is not None and explorer.result_view.value not in (b"", default_png)
    assert "computed in" in explorer.runner.message.text
    _reset(explorer)
    getattr(explorer, control).value = value  # back again: from the cache at once
    assert explorer.shown.from_cache and explorer.result_view.value == png_bytes(outcome.image)
    explorer.cache.discard(explorer._key(explorer.setting))  # keep the other tests' grid as built
    _reset(explorer)


@needs_partial
@pytest.mark.slow
def test_run_this_setting_can_be_stopped_and_stores_nothing(explorer):
    _reset(explorer)
    explorer.content_layer.value = "block2_conv2"
    explorer.runner.start(
        lambda run: (run.stop_button.click(), explorer._run_setting_work(run))[1], explorer._after_run
    )  # Stop pressed as the run begins
    explorer.runner.join(timeout=60)
    assert explorer.runner.result is None and explorer.runner.error is None
    assert explorer.shown is None and "nothing was stored" in explorer.runner.message.text
    _reset(explorer)


@needs_partial
@pytest.mark.slow
def test_the_summary_names_the_default_and_the_weights(explorer):
    _reset(explorer)
    summary = explorer.summary()
    assert "3 of 3 settings computed (48x36 px, 4 L-BFGS evaluations each)" in summary
    assert (
        "Showing α/β 25 · style blocks 1-3 (preset) · content block3_conv2 · start: content + noise: J_content"
    ) in summary
    assert "block4_conv2" in summary and "vgg19_full" in summary


@needs_partial
@pytest.mark.slow
def test_a_rebuilt_corrupt_entry_is_computed_again(explorer):
    _reset(explorer)
    key = explorer._key(KnobSetting(ratio=25_000.0))
    image_path, _ = explorer.cache.paths(key)
    explorer.cache._memory.clear()
    image_path.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    assert explorer.stored() == 2
    outcome = explorer.build()
    assert outcome["computed"] == 1 and explorer.stored() == 3
    assert ResultCache(explorer.cache.folder).load(key) is not None


# --------------------------------------------------------------------------------------------
# Stylise your own photo


@pytest.fixture
def photo(pictures, images):
    from utils.nst.widgets import StylisePhoto

    content_path, style_path = images
    return StylisePhoto(content_path, style_path, size=64, steps=300, preview_every=2)


@needs_partial
@pytest.mark.slow
def test_stylise_runs_in_the_background_and_stop_keeps_the_best_image(photo):
    photo.size.value = 64
    photo.run(background=True)
    deadline = time.monotonic() + 60
    while photo.runner.bar.value < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert photo.runner.running
    photo.runner.stop()  # what the Stop button does
    photo.runner.join(timeout=60)
    result = photo.result
    assert photo.runner.error is None and result is not None and result.stopped
    assert 5 <= result.steps < 300 and result.image.shape == (48, 64, 3)
    assert result.final_losses["total"] <= min(entry["total"] for entry in result.history) * (1 + 1e-3)
    assert photo.views["result"].value == png_bytes(result.image)
    assert 'download="stylised.png"' in photo.download.value and "data:image/png;base64," in photo.download.value
    assert photo.runner.message.text.startswith(f"Stopped after {result.steps} steps: the best image so far")


@needs_partial
def test_stylise_to_the_end_and_the_summary(photo):
    photo.steps.value = 10
    assert "Press Stylise: 10 L-BFGS steps at 64 px" in photo.summary()
    result = photo.run(background=False)
    assert result is not None and not result.stopped and result.steps == 10
    assert photo.summary().splitlines()[1].startswith("Done: 10 steps in ")


def _bomb() -> bytes:
    from test_image_io import _png_declaring

    return _png_declaring(50000, 50000)


@pytest.mark.parametrize(
    "content, name, expected",
    [
        (b"just some notes", "notes.txt", "notes.txt is not an image: it holds text"),
        (b"%PDF-1.7 ...", "scan.pdf", "scan.pdf is not an image: it holds a PDF document"),
        (b"", "empty.jpg", "empty.jpg is empty (0 bytes)"),
        ("bomb", "bomb.png", "bomb.png"),
    ],
)
def test_a_bad_upload_gives_one_line_and_keeps_the_previous_image(photo, content, name, expected):
    before = photo.images["content"]
    loaded = photo.content_input.load(_bomb() if content == "bomb" else content, name=name)
    line = photo.content_input.message.text
    assert loaded is False and photo.content_input.message.kind == "error"
    assert line.startswith(expected) and "\n" not in line and "Traceback" not in line
    assert photo.images["content"] is before and photo.names["content"] == "tubingen.jpg"


def test_a_huge_photo_is_downscaled_and_an_exif_portrait_comes_out_upright(photo):
    huge = np.random.default_rng(1).integers(0, 256, (2400, 3200, 3), dtype=np.uint8)
    assert photo.content_input.load(_encoded(Image.fromarray(huge), "JPEG", quality=70), name="huge.jpg")
    assert photo.images["content"].shape == (768, 1024, 3)
    assert photo.content_input.message.text == "huge.jpg: 3200×2400 pixels, downscaled to 1024×768 for style transfer."
    landscape = np.zeros((20, 40, 3), np.uint8)
    landscape[:, :20] = (255, 0, 0)  # left half red as stored
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    assert photo.style_input.load(
        _encoded(Image.fromarray(landscape), "JPEG", exif=exif.tobytes(), quality=95), name="phone.jpg"
    )
    upright = photo.images["style"]
    assert upright.shape == (40, 20, 3) and upright[:15, :, 0].mean() > 200 and upright[25:, :, 0].mean() < 60


def test_a_phone_heic_photo_is_taken(photo):
    pillow_heif = pytest.importorskip("pillow_heif")
    pillow_heif.register_heif_opener()
    heic = _encoded(Image.new("RGB", (40, 30), (10, 200, 30)), "HEIF")
    assert photo.content_input.load(heic, name="IMG_0001.HEIC")
    assert photo.images["content"].shape == (30, 40, 3) and photo.names["content"] == "IMG_0001.HEIC"


@pytest.mark.parametrize("mode", ["CMYK", "L", "I;16", "RGBA", "P"])
def test_any_pixel_format_becomes_rgb(photo, mode):
    image = (
        Image.new("RGB", (30, 20), (40, 120, 200)).convert(mode)
        if mode != "I;16"
        else Image.fromarray(np.full((20, 30), 40000, np.uint16))
    )
    image_format = "JPEG" if mode == "CMYK" else "PNG"
    assert photo.style_input.load(_encoded(image, image_format), name=f"{mode}.img")
    assert photo.images["style"].shape == (20, 30, 3) and photo.images["style"].dtype == np.uint8


@needs_partial
def test_an_image_too_thin_for_the_layers_gives_one_line(photo):
    photo.content_input.load(np.zeros((4, 1000, 3), np.uint8), name="strip.png")  # 128x1 px at 128 px
    photo.size.value, photo.steps.value = 128, 10
    photo.run(background=False)
    assert photo.runner.error is not None and photo.runner.message.kind == "error"
    assert "too small for layer block3_conv2" in photo.runner.message.text
    assert "Traceback" not in photo.runner.message.text and photo.result is None


@needs_partial
@pytest.mark.slow
def test_the_photo_widget_sends_its_images_to_the_explorer(explorer, pictures):
    from utils.nst.widgets import StylisePhoto

    content, style = pictures
    photo = StylisePhoto(content, style, size=64, steps=10, explorer=explorer)
    names = explorer.content_name, explorer.style_name
    photo.content_input.load(_encoded(Image.fromarray(np.full((60, 80, 3), 90, np.uint8)), "PNG"), name="grey.png")
    try:
        photo.explore_button.click()
        assert explorer.content_name == "grey.png" and explorer.stored() == 0 and explorer.shown is None
        assert "press Compute the grid for these images there (3 settings)" in photo.runner.message.text
        assert photo.setting == explorer.setting
    finally:
        explorer.set_images(content, style, *names)
    assert explorer.stored() == 3 and explorer.shown is not None
