"""Tests of utils.nst.engine on the real (partial) ImageNet VGG19 weights, at small sizes."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from conftest import FULL, PARTIAL, needs_partial
from utils import assets, config
from utils.errors import ImageError, MissingWeightsError, NSTError
from utils.nst import engine as nst_engine
from utils.nst import vgg
from utils.nst.engine import NSTResult, StyleTransfer
from utils.nst.settings import NSTSettings

NATIVE_BF16 = config.CpuFeatures("x86_64", "fake CPU with bf16", frozenset({"avx512f", "avx512_bf16"}))
NO_BF16 = config.CpuFeatures("x86_64", "fake CPU without bf16", frozenset({"avx2", "avx512f"}))


def test_importing_utils_nst_does_not_import_tensorflow():
    code = "import sys, utils.nst, utils.nst.cli; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    output = subprocess.run(
        [sys.executable, "-c", code], cwd=config.REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
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
    assert result.stages[0]["height"] == 36 and len(result.stages) == 1  # too small for coarse-to-fine
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
    expected = 0.75 * float(first.compute_losses(first.image)["style"]) + 0.25 * float(
        second.compute_losses(second.image)["style"]
    )
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
    with pytest.raises(
        NSTError,
        match=r"needs about .* GiB of activation memory, more than the 60% of free "
        r"memory this engine allows itself \(.* of .* GiB free\)",
    ):
        StyleTransfer(content, [style], size=40000)
    with pytest.raises(NSTError, match="alpha must be a finite number; got nan"):
        StyleTransfer(content, [style], alpha=float("nan"))
    with pytest.raises(NSTError, match="coarse_scale must be between 0 and 1"):
        StyleTransfer(content, [style], coarse_scale=2.0)
    with pytest.raises(NSTError, match="one non-negative style weight"):
        StyleTransfer(content, [style], style_weights=[1, 2])
    with pytest.raises(NSTError, match="unknown style-transfer setting.*colour"):
        StyleTransfer(content, [style], colour=True)
    with pytest.raises(NSTError, match="at least one style image"):
        StyleTransfer(content, [], size=32)


def _fake_result() -> NSTResult:
    """A result made by hand (no VGG19): three steps, two snapshots."""
    history = [
        {
            "step": step,
            "content": 1.0 * step,
            "style": 100.0 / step,
            "tv": 0.0,
            "total": 100.0 / step + step,
            "seconds": 0.1 * step,
        }
        for step in (1, 2, 3)
    ]
    image = np.full((4, 6, 3), 128, np.uint8)
    return NSTResult(
        image=image,
        initial_losses={"total": 101.0},
        final_losses={"total": 36.3},
        seconds_per_step=0.1,
        steps=3,
        optimizer="adam",
        provenance={"weights_file": "w.h5", "weights_kind": "partial"},
        settings={"style_layers": {"block1_conv1": 1.0}, "content_layer": "block1_conv2"},
        history=history,
        snapshots=[(0, image), (2, image)],
        total_seconds=0.3,
    )


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
    with pytest.raises(NSTError, match="steps must be at least 1"):
        engine.run(2.5)
    np.testing.assert_array_equal(engine.image.numpy(), before)


# ---- compute dtype: chosen per machine -------------------------------------------------------


@needs_partial
@pytest.mark.parametrize("features, expected", [(NATIVE_BF16, "bfloat16"), (NO_BF16, "float32")])
def test_auto_dtype_follows_the_cpu_features(images, monkeypatch, features, expected):
    """Both branches of ``compute_dtype="auto"``, with the CPU feature reader faked."""
    content, style = images
    monkeypatch.setattr(config, "read_cpu_features", lambda path=None: features)
    monkeypatch.setattr(config, "gpu_compute_capability", lambda: None)
    engine = StyleTransfer(content, [style], size=24)
    assert engine.settings.compute_dtype == "auto"
    assert engine.precision.dtype == expected and engine.extractor.compute_dtype == expected
    assert features.model in engine.precision.reason and engine.precision.reason.startswith(f"auto: {expected}")
    result = engine.run(1, optimizer="adam", progress=False)
    record = result.to_dict()
    assert record["compute_dtype"] == expected and record["compute_dtype_reason"] == engine.precision.reason
    assert record["provenance"]["compute_dtype"] == expected and record["settings"]["compute_dtype"] == "auto"
    # an explicit dtype overrides the detection
    assert (
        StyleTransfer(content, [style], size=24, compute_dtype="float32").precision.reason
        == "float32 asked for explicitly"
    )


@needs_partial
def test_bfloat16_losses_stay_close_to_float32(images):
    """Same image, both dtypes: the losses agree to about bfloat16's precision (a few parts per 1000)."""
    content, style = images
    first = StyleTransfer(content, [style], size=48, init="content+noise", compute_dtype="float32")
    second = StyleTransfer(content, [style], size=48, init="content+noise", compute_dtype="bfloat16")
    image = tf.constant(first.initial_image())
    exact, rounded = first.compute_losses(image), second.compute_losses(image)
    assert second.extractor.model.get_layer("block1_conv1").compute_dtype == "bfloat16"
    for key in ("style", "total"):
        assert float(rounded[key]) == pytest.approx(float(exact[key]), rel=0.02)


# ---- coarse-to-fine ------------------------------------------------------------------------


@needs_partial
def test_coarse_to_fine_schedule_sizes(images):
    content, style = images
    engine = StyleTransfer(content, [style], size=256)  # 192x256 output
    assert (engine.settings.coarse_scale, engine.settings.coarse_share) == (0.5, 0.1)
    assert engine.schedule(300) == [(96, 128, 30), (192, 256, 270)]
    assert engine.schedule(10) == [(96, 128, 1), (192, 256, 9)]
    assert StyleTransfer(content, [style], size=256, coarse_share=0.3).schedule(300) == [(96, 128, 90), (192, 256, 210)]
    assert engine.schedule(1) == [(192, 256, 1)]  # no step left for a stage
    assert StyleTransfer(content, [style], size=256, coarse_scale=None).schedule(300) == [(192, 256, 300)]
    assert StyleTransfer(content, [style], size=256, coarse_scale=0.25).schedule(100) == [(192, 256, 100)]  # 48 px
    assert StyleTransfer(content, [style], size=120).schedule(100) == [(90, 120, 100)]  # coarse would be 45x60
    # the targets are recomputed at each size, from the style image fitted to that size
    coarse = engine._scale_at(96, 128)
    assert tuple(coarse.content_target.shape) == (1, 24, 32, 256)
    assert [tuple(target.shape[1:3]) for target in coarse.style_targets[0]] == [(96, 128), (48, 64), (24, 32)]


@needs_partial
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_coarse_to_fine_loss_keeps_falling_across_the_switch(images, monkeypatch, optimizer):
    """Coarse stage, upsampling, full-size stage: at full size, the upsampled coarse result is
    already better than the start, and the fine stage improves it further."""
    content, style = images
    monkeypatch.setattr(nst_engine, "COARSE_MIN_SIDE", 8)  # small images keep the test fast
    engine = StyleTransfer(content, [style], size=64, init="content+noise", coarse_share=0.5, learning_rate=0.05)
    assert engine.schedule(12) == [(24, 32, 6), (48, 64, 6)]
    result = engine.run(12, optimizer=optimizer, progress=False, snapshot_every=6)
    coarse, fine = result.stages
    assert [(stage["height"], stage["width"], stage["steps"]) for stage in result.stages] == [(24, 32, 6), (48, 64, 6)]
    assert [(entry["height"], entry["width"]) for entry in result.history] == [(24, 32)] * 6 + [(48, 64)] * 6
    assert coarse["end_total"] < coarse["start_total"]
    assert fine["start_total"] < result.initial_losses["total"]  # the switch keeps the progress ...
    assert result.final_losses["total"] < fine["start_total"]  # ... and the fine stage goes on
    assert result.image.shape == (48, 64, 3) and result.steps == 12
    assert [step for step, _ in result.snapshots] == [0, 6, 12]
    assert all(image.shape == (48, 64, 3) for _, image in result.snapshots)  # coarse snapshot upsampled


# ---- a loss that stops being finite ------------------------------------------------------------


@needs_partial
@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_non_finite_loss_stops_the_run_and_keeps_the_image(images, optimizer):
    """A learner's content cost with sqrt: its gradient at the content image is 0 * inf = NaN."""
    from utils import losses

    content, style = images

    def sqrt_content_cost(a_C, a_G):
        return tf.sqrt(losses.content_cost(a_C, a_G))

    engine = StyleTransfer(content, [style], size=24, content_cost_fn=sqrt_content_cost, coarse_scale=None)
    before = engine.image.numpy()
    with pytest.raises(NSTError, match=r"stopped at step \d+.*(NaN|nan).*nothing was written"):
        engine.run(4, optimizer=optimizer, progress=False)
    np.testing.assert_array_equal(engine.image.numpy(), before)


@needs_partial
def test_target_total_and_target_check_stop_the_run(images):
    content, style = images
    engine = StyleTransfer(content, [style], size=32, coarse_scale=None, compute_dtype="float32")
    full = engine.run(8, optimizer="lbfgs", progress=False)
    target = min(entry["total"] for entry in full.history[1:4])
    first_hit = next(entry["step"] for entry in full.history if entry["total"] <= target)
    engine.reset()
    assert engine.run(8, optimizer="lbfgs", progress=False, target_total=target).steps == first_hit
    checked = []
    engine.reset()
    stopped = engine.run(
        8,
        optimizer="lbfgs",
        progress=False,
        target_total=target,
        target_check=lambda image: checked.append(image.shape) or 0.0,
    )
    assert stopped.steps <= first_hit and checked and checked[0] == (1, 24, 32, 3)
