"""Tests of utils.nst on the real (partial) ImageNet VGG19 weights, at small sizes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from utils import assets, image_io, nst, vgg

PARTIAL = assets.find("vgg19_partial")
FULL = assets.find("vgg19_full")
needs_partial = pytest.mark.skipif(PARTIAL is None, reason="asset vgg19_partial not found")


@pytest.fixture(scope="module")
def images():
    folder = assets.resolve("nst_images")
    return folder / "content" / "tubingen.jpg", folder / "style" / "starry_night.jpg"


@pytest.mark.slow
@needs_partial
def test_engine_lowers_the_total_loss_on_real_weights(images):
    """Compiles both the Adam step and the L-BFGS value+gradient (~10 s on 2 busy cores)."""
    content, style = images
    engine = nst.StyleTransfer(content, [style], size=48)
    assert engine.extractor.built_layers[-1] == "block3_conv2"  # truncated at the deepest needed layer
    result = engine.run(6, optimizer="adam", progress=False, snapshot_every=3)
    assert result.final_losses["total"] < 0.8 * result.initial_losses["total"]
    assert result.initial_losses["content"] == pytest.approx(0.0, abs=1e-6)  # starts from the content
    assert result.provenance["weights_file"] == str(FULL or PARTIAL)
    assert result.provenance["random_layers"] == []
    assert [step for step, _ in result.snapshots] == [0, 3, 6]
    assert len(result.history) == 6 and result.seconds_per_step > 0
    lbfgs = nst.StyleTransfer(content, [style], size=48).run(6, optimizer="lbfgs", progress=False)
    assert lbfgs.final_losses["total"] < 0.8 * lbfgs.initial_losses["total"]
    assert 0.0 <= lbfgs.image.min() and lbfgs.image.shape == (36, 48, 3)


@needs_partial
def test_custom_cost_functions_are_used(images):
    """A learner's functions plug in; doubling the content cost doubles J_content."""
    from utils import losses

    content, style = images
    calls = []

    def my_content_cost(a_C, a_G):
        calls.append("content")
        return 2.0 * losses.content_cost(a_C, a_G)

    base = nst.StyleTransfer(content, [style], size=32, init="noise")
    mine = nst.StyleTransfer(content, [style], size=32, init="noise", content_cost_fn=my_content_cost)
    reference = base.compute_losses(base.image)
    ours = mine.compute_losses(mine.image)
    assert calls
    np.testing.assert_allclose(float(ours["content"]), 2 * float(reference["content"]), rtol=1e-5)
    np.testing.assert_allclose(float(ours["style"]), float(reference["style"]), rtol=1e-5)


@needs_partial
def test_blended_styles_weight_the_style_costs(images):
    content, style = images
    other = assets.resolve("nst_images") / "style" / "the_scream.jpg"
    kwargs = dict(size=32, init="noise")
    first = nst.StyleTransfer(content, [style], **kwargs)
    second = nst.StyleTransfer(content, [other], **kwargs)
    blend = nst.StyleTransfer(content, [style, other], style_weights=[3, 1], **kwargs)
    expected = 0.75 * float(first.compute_losses(first.image)["style"]) + \
        0.25 * float(second.compute_losses(second.image)["style"])
    np.testing.assert_allclose(float(blend.compute_losses(blend.image)["style"]), expected, rtol=1e-5)


@needs_partial
def test_colour_preservation_keeps_the_content_chrominance(images):
    content, style = images
    engine = nst.StyleTransfer(content, [style], size=40, preserve_colors=True)
    result = engine.run(3, optimizer="adam", progress=False)
    content_yiq = nst.rgb_to_yiq(engine.content_rgb / 255.0)
    result_yiq = nst.rgb_to_yiq(result.image / 255.0)
    # chrominance (I, Q) of the content, up to uint8 rounding and clipping of a few pixels
    chroma_error = np.abs(result_yiq[..., 1:] - content_yiq[..., 1:])
    assert np.median(chroma_error) < 0.01 and np.percentile(chroma_error, 95) < 0.03
    # ... while the luminance is the stylised result's, not the content's
    assert np.abs(result_yiq[..., 0] - content_yiq[..., 0]).mean() > 0.005


def test_colour_helpers_round_trip():
    rgb = np.random.default_rng(0).uniform(0, 1, (4, 5, 3))
    np.testing.assert_allclose(nst.yiq_to_rgb(nst.rgb_to_yiq(rgb)), rgb, atol=1e-9)
    gray = nst.luminance_image((rgb * 255).astype(np.uint8))
    assert np.allclose(gray[..., 0], gray[..., 2])


def test_style_image_scaling_fills_the_target_size():
    style = np.random.default_rng(0).integers(0, 256, (30, 50, 3), dtype=np.uint8)
    for scale in (0.3, 1.0, 2.5):
        assert nst.prepare_style_image(style, 40, 60, scale).shape == (40, 60, 3)
    with pytest.raises(nst.NSTError, match="style scale"):
        nst.prepare_style_image(style, 40, 60, 0.0)


@needs_partial
@pytest.mark.skipif(FULL is not None, reason="the full VGG19 file is present")
@pytest.mark.parametrize("preset", ["course", "gatys"])
def test_presets_needing_the_full_file_refuse_with_the_right_message(images, preset):
    content, style = images
    with pytest.raises(vgg.MissingWeightsError, match="block4_conv1.*vgg19_full"):
        nst.StyleTransfer(content, [style], preset=preset, size=32)


def test_bad_inputs_raise_before_any_work(images, tmp_path, monkeypatch):
    content, style = images

    def forbidden(*args, **kwargs):
        raise AssertionError("VGG19 was built before the input was checked")

    monkeypatch.setattr(vgg, "build_extractor", forbidden)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    with pytest.raises(image_io.ImageError, match="broken.jpg"):
        nst.StyleTransfer(broken, [style], size=32)
    with pytest.raises(image_io.ImageError, match="missing.jpg"):
        nst.StyleTransfer(content, [tmp_path / "missing.jpg"], size=32)
    with pytest.raises(nst.NSTError, match="too small.*at least 4 px"):
        nst.StyleTransfer(content, [style], size=3)
    with pytest.raises(nst.NSTError, match="unknown preset 'picasso'"):
        nst.StyleTransfer(content, [style], preset="picasso")
    with pytest.raises(ValueError, match="unknown VGG19 layer"):
        nst.StyleTransfer(content, [style], content_layer="block3_conv9")
    with pytest.raises(nst.NSTError, match="GiB of activation memory"):
        nst.StyleTransfer(content, [style], size=40000)
    with pytest.raises(nst.NSTError, match="one non-negative style weight"):
        nst.StyleTransfer(content, [style], style_weights=[1, 2])


@needs_partial
def test_cli_round_trip_writes_image_and_json(images, tmp_path):
    content, style = images
    output, record = tmp_path / "out.png", tmp_path / "out.json"
    code = nst.main(["--content", str(content), "--style", str(style), "--output", str(output),
                     "--size", "40", "--steps", "3", "--json", str(record), "--no-progress"])
    assert code == 0
    assert image_io.load_image(output).shape == (30, 40, 3)
    data = json.loads(record.read_text())
    for key in ("content", "style", "total"):
        assert key in data["initial_losses"] and key in data["final_losses"]
    assert data["final_losses"]["total"] < data["initial_losses"]["total"]
    assert data["seconds_per_step"] > 0
    assert data["weights_file"] == str(FULL or PARTIAL)
    assert data["layers"]["content"] == "block3_conv2"


def test_cli_bad_input_exits_2(images, tmp_path, capsys):
    content, style = images
    output = tmp_path / "out.png"
    assert nst.main(["--content", str(tmp_path / "nope.jpg"), "--style", str(style), "--output", str(output)]) == 2
    assert "nope.jpg" in capsys.readouterr().err
    assert nst.main(["--content", str(content), "--style", str(style), "--output", str(output),
                     "--preset", "nope"]) == 2
    assert "unknown preset" in capsys.readouterr().err
    assert nst.main(["--content", str(content), "--style", str(style), "--output", str(output),
                     "--size", "2"]) == 2
    assert not output.exists()
