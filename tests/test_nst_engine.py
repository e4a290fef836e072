"""Tests of utils.nst.engine on the real (partial) ImageNet VGG19 weights, at small sizes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from utils import assets, config
from utils.errors import ImageError, MissingWeightsError, NSTError
from utils.nst import vgg
from utils.nst.engine import NSTResult, StyleTransfer
from utils.nst.settings import NSTSettings

PARTIAL = assets.find("vgg19_partial")
FULL = assets.find("vgg19_full")
needs_partial = pytest.mark.skipif(PARTIAL is None, reason="asset vgg19_partial not found")


@pytest.fixture(scope="module")
def images():
    folder = assets.resolve("nst_images")
    return folder / "content" / "tubingen.jpg", folder / "style" / "starry_night.jpg"


def test_importing_utils_nst_does_not_import_tensorflow():
    code = "import sys, utils.nst, utils.nst.cli; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], cwd=config.REPO_ROOT, capture_output=True,
                            text=True, check=True).stdout
    assert output.split() == ["False", "False"]


@pytest.mark.slow
@needs_partial
def test_engine_lowers_the_total_loss_on_real_weights(images):
    """Compiles both the Adam step and the L-BFGS value+gradient (~10 s on 2 busy cores)."""
    content, style = images
    engine = StyleTransfer(content, [style], size=48)
    assert engine.extractor.built_layers[-1] == "block3_conv2"  # truncated at the deepest needed layer
    result = engine.run(6, optimizer="adam", progress=False, snapshot_every=3)
    assert result.final_losses["total"] < 0.8 * result.initial_losses["total"]
    assert result.initial_losses["content"] == pytest.approx(0.0, abs=1e-6)  # starts from the content
    assert result.provenance["weights_file"] == str(FULL or PARTIAL)
    assert result.provenance["random_layers"] == []
    assert [step for step, _ in result.snapshots] == [0, 3, 6]
    assert len(result.history) == 6 and result.seconds_per_step > 0
    lbfgs = StyleTransfer(content, [style], size=48).run(6, optimizer="lbfgs", progress=False)
    assert lbfgs.final_losses["total"] < 0.8 * lbfgs.initial_losses["total"]
    assert 0.0 <= lbfgs.image.min() and lbfgs.image.shape == (36, 48, 3)
    assert lbfgs.steps == 6 and len(lbfgs.history) == 6


@needs_partial
def test_settings_object_and_keyword_overrides_are_the_same_run(images):
    """StyleTransfer(settings=...) and StyleTransfer(**overrides) build the same objective."""
    content, style = images
    settings = NSTSettings.from_preset("blocks123", size=32, init="noise", beta=2.0)
    by_object = StyleTransfer(content, [style], settings)
    by_keywords = StyleTransfer(content, [style], size=32, init="noise", beta=2.0)
    on_top = StyleTransfer(content, [style], settings, beta=4.0)
    assert by_object.settings == by_keywords.settings
    assert on_top.settings.beta == 4.0 and on_top.settings.init == "noise" and settings.beta == 2.0
    first, second = by_object.compute_losses(by_object.image), by_keywords.compute_losses(by_keywords.image)
    assert float(first["total"]) == pytest.approx(float(second["total"]), rel=1e-6)
    described = by_object.describe()
    assert described["beta"] == 2.0 and (described["height"], described["width"]) == (24, 32)
    assert described["cost_functions"]["content"] == "content_cost"
    assert json.loads(json.dumps(described)) == described


@needs_partial
def test_custom_cost_functions_are_used(images):
    """A learner's functions plug in; doubling the content cost doubles J_content."""
    from utils import losses

    content, style = images
    calls = []

    def my_content_cost(a_C, a_G):
        calls.append("content")
        return 2.0 * losses.content_cost(a_C, a_G)

    base = StyleTransfer(content, [style], size=32, init="noise")
    mine = StyleTransfer(content, [style], size=32, init="noise", content_cost_fn=my_content_cost)
    reference = base.compute_losses(base.image)
    ours = mine.compute_losses(mine.image)
    assert calls
    np.testing.assert_allclose(float(ours["content"]), 2 * float(reference["content"]), rtol=1e-5)
    np.testing.assert_allclose(float(ours["style"]), float(reference["style"]), rtol=1e-5)
    assert mine.describe()["cost_functions"]["content"].endswith("my_content_cost")


@needs_partial
def test_blended_styles_weight_the_style_costs(images):
    content, style = images
    other = assets.resolve("nst_images") / "style" / "the_scream.jpg"
    kwargs = dict(size=32, init="noise")
    first = StyleTransfer(content, [style], **kwargs)
    second = StyleTransfer(content, [other], **kwargs)
    blend = StyleTransfer(content, [style, other], style_weights=[3, 1], **kwargs)
    expected = 0.75 * float(first.compute_losses(first.image)["style"]) + \
        0.25 * float(second.compute_losses(second.image)["style"])
    np.testing.assert_allclose(float(blend.compute_losses(blend.image)["style"]), expected, rtol=1e-5)


@needs_partial
def test_colour_preservation_keeps_the_content_chrominance(images):
    content, style = images
    engine = StyleTransfer(content, [style], size=40, preserve_colors=True)
    result = engine.run(3, optimizer="adam", progress=False)
    content_yiq = tf.image.rgb_to_yiq(engine.content_rgb / 255.0).numpy()
    result_yiq = tf.image.rgb_to_yiq(result.image / 255.0).numpy()
    # chrominance (I, Q) of the content, up to uint8 rounding and clipping of a few pixels
    chroma_error = np.abs(result_yiq[..., 1:] - content_yiq[..., 1:])
    assert np.median(chroma_error) < 0.01 and np.percentile(chroma_error, 95) < 0.03
    # ... while the luminance is the stylised result's, not the content's
    assert np.abs(result_yiq[..., 0] - content_yiq[..., 0]).mean() > 0.005


@needs_partial
def test_total_variation_term_is_the_losses_definition(images):
    from utils import losses

    content, style = images
    engine = StyleTransfer(content, [style], size=32, init="noise", tv_weight=0.5, alpha=0.0, beta=0.0)
    values = engine.compute_losses(engine.image)
    assert float(values["tv"]) == pytest.approx(float(losses.total_variation_loss(engine.image)), rel=1e-6)
    assert float(values["total"]) == pytest.approx(0.5 * float(values["tv"]), rel=1e-6)
    without = StyleTransfer(content, [style], size=32, init="noise", tv_weight=0.0).compute_losses(engine.image)
    assert float(without["tv"]) == 0.0


@needs_partial
@pytest.mark.skipif(FULL is not None, reason="the full VGG19 file is present")
@pytest.mark.parametrize("preset", ["course", "gatys"])
def test_presets_needing_the_full_file_refuse_with_the_right_message(images, preset):
    content, style = images
    with pytest.raises(MissingWeightsError, match="block4_conv1.*vgg19_full"):
        StyleTransfer(content, [style], preset=preset, size=32)


def test_bad_inputs_raise_before_any_work(images, tmp_path, monkeypatch):
    content, style = images

    def forbidden(*args, **kwargs):
        raise AssertionError("VGG19 was built before the input was checked")

    monkeypatch.setattr(vgg, "build_extractor", forbidden)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(ImageError, match="broken.jpg"):
        StyleTransfer(broken, [style], size=32)
    with pytest.raises(ImageError, match="missing.jpg"):
        StyleTransfer(content, [tmp_path / "missing.jpg"], size=32)
    with pytest.raises(NSTError, match="too small.*at least 4 px"):
        StyleTransfer(content, [style], size=3)
    with pytest.raises(NSTError, match="unknown preset 'picasso'"):
        StyleTransfer(content, [style], preset="picasso")
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        StyleTransfer(content, [style], content_layer="block3_conv9")
    with pytest.raises(NSTError, match="GiB of activation memory"):
        StyleTransfer(content, [style], size=40000)
    with pytest.raises(NSTError, match="one non-negative style weight"):
        StyleTransfer(content, [style], style_weights=[1, 2])
    with pytest.raises(NSTError, match="unknown style-transfer setting.*colour"):
        StyleTransfer(content, [style], colour=True)
    with pytest.raises(NSTError, match="at least one style image"):
        StyleTransfer(content, [], size=32)


def _fake_result() -> NSTResult:
    """A result made by hand (no VGG19): three steps, two snapshots."""
    history = [{"step": step, "content": 1.0 * step, "style": 100.0 / step, "tv": 0.0, "total": 100.0 / step + step,
                "seconds": 0.1 * step} for step in (1, 2, 3)]
    image = np.full((4, 6, 3), 128, np.uint8)
    return NSTResult(image=image, initial_losses={"total": 101.0}, final_losses={"total": 36.3},
                     seconds_per_step=0.1, steps=3, optimizer="adam",
                     provenance={"weights_file": "w.h5", "weights_kind": "partial"},
                     settings={"style_layers": {"block1_conv1": 1.0}, "content_layer": "block1_conv2"},
                     history=history, snapshots=[(0, image), (2, image)], total_seconds=0.3)


def test_result_writes_image_json_plot_and_grid(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from utils import image_io

    result = _fake_result()
    assert image_io.load_image(result.save(tmp_path / "out.png")).shape == (4, 6, 3)
    record = json.loads(result.save_json(tmp_path / "sub" / "out.json", output="out.png").read_text())
    assert record["final_losses"] == {"total": 36.3} and record["output"] == "out.png"
    assert record["layers"] == {"style": {"block1_conv1": 1.0}, "content": "block1_conv2"}
    assert len(record["history"]) == 3 and record["weights_kind"] == "partial"
    figure = result.plot_losses(tmp_path / "losses.png")
    assert [line.get_label() for line in figure.axes[0].lines] == ["total", "content", "style"]  # tv is all 0
    assert (tmp_path / "losses.png").stat().st_size > 0
    grid = result.grid(tmp_path / "grid.png")
    assert [axis.get_title() for axis in grid.axes] == ["step 0", "step 2", "final (step 3)"]
    assert (tmp_path / "grid.png").exists()


@needs_partial
def test_run_rejects_bad_arguments_before_optimising(images):
    content, style = images
    engine = StyleTransfer(content, [style], size=16)
    before = engine.image.numpy()
    with pytest.raises(NSTError, match="optimizer must be one of"):
        engine.run(3, optimizer="sgd")
    with pytest.raises(NSTError, match="steps must be at least 1"):
        engine.run(0)
    np.testing.assert_array_equal(engine.image.numpy(), before)
