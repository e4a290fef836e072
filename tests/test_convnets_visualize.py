"""Tests for utils.convnets.visualize (and the patch plots of utils.plotting it feeds).

Top patches use a hand-made "model" (a plain function); feature visualisation uses a tiny random
convnet the test builds itself. No pretrained weights are needed.
"""

import dataclasses
from types import SimpleNamespace

import keras
import matplotlib.pyplot
import numpy as np
import pytest

from utils import plotting
from utils.convnets import visualize
from utils.convnets.arithmetic import ReceptiveField
from utils.errors import UsageError


def _model(batch):
    """Two units on a 1x1 field: unit 0 = red channel, unit 1 = green channel (values in [0, 1])."""
    return {"layer": batch[..., :2]}


def _images():
    images = np.zeros((4, 8, 8, 3), np.uint8)
    images[1, 2, 5, 0] = 200  # brightest red at (2, 5) of image 1
    images[3, 6, 1, 0] = 100
    images[2, 0, 0, 1] = 250  # brightest green at (0, 0) of image 2
    return images


def test_activation_maxima_values_and_positions():
    maxima = visualize.activation_maxima(_model, _images(), ["layer"], batch_size=3, progress=False)["layer"]
    assert maxima.feature_shape == (8, 8) and maxima.n_units == 2
    np.testing.assert_allclose(maxima.values[:, 0], [0, 200 / 255, 0, 100 / 255], rtol=1e-6)
    assert maxima.positions[1, 0].tolist() == [2, 5]
    assert maxima.positions[2, 1].tolist() == [0, 0]


def test_top_patches_order_and_crops():
    images = _images()
    maxima = visualize.activation_maxima(_model, images, ["layer"], progress=False)["layer"]
    field = ReceptiveField("layer", (3, 3), (1, 1), (0.0, 0.0))
    found = visualize.top_patches(maxima, images, field, unit=0, top_k=2)
    assert found.image_indices.tolist() == [1, 3]
    assert found.boxes[0] == ((1, 4), (4, 7))
    assert found.patches[0].shape == (3, 3, 3) and found.patches[0][1, 1, 0] == 200
    assert found.field_size == (3, 3)
    green = visualize.top_patches(maxima, images, field, unit=1, top_k=1)
    assert green.patches[0][0, 0, 0] == 128  # outside the image: gray padding
    with pytest.raises(ValueError):
        visualize.top_patches(maxima, images, field, unit=2)


def test_crop_box_and_grid():
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    np.testing.assert_array_equal(visualize.crop_box(image, ((1, 3), (0, 2))), image[1:3, 0:2])
    assert plotting.patch_grid([image] * 7, columns=3, size=10, gap=2).shape == (34, 34, 3)


def test_pick_units_skips_dead_units():
    maxima = visualize.LayerMaxima(
        "l", np.array([[0.0, 1.0, 0.0, 2.0]], np.float32), np.zeros((1, 4, 2), np.int32), (1, 1)
    )
    assert visualize.pick_units(maxima, 5) == [1, 3]


def test_bad_images_raise():
    with pytest.raises(ValueError):
        visualize.activation_maxima(_model, np.zeros((2, 8, 8)), ["layer"], progress=False)
    with pytest.raises(ValueError):
        visualize.activation_maxima(_model, np.zeros((2, 8, 8, 3), np.uint8), ["other"], progress=False)


def test_show_unit_patches_draws_one_tile_per_unit(tmp_path):
    images = _images()
    maxima = visualize.activation_maxima(_model, images, ["layer"], progress=False)["layer"]
    field = ReceptiveField("layer", (3, 3), (1, 1), (0.0, 0.0))
    found = {"layer": [visualize.top_patches(maxima, images, field, unit) for unit in (0, 1)]}
    figure = plotting.show_unit_patches(found, title="units", path=tmp_path / "patches.png")
    titles = [axis.get_title() for axis in figure.axes]
    assert titles == ["layer #0\nfield 3 px, top 1", "layer #1\nfield 3 px, top 1"]
    assert (tmp_path / "patches.png").stat().st_size > 0
    matplotlib.pyplot.close(figure)


# Feature visualisation
# ----------------------------------------------------------------------------------------------


def _convnet():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, None, 3))
    features = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    return keras.Model(inputs, {"conv": features})


def test_gradient_ascent_increases_the_unit():
    model = _convnet()
    units = [0, 2]
    images = visualize.visualize_units(model, "conv", units, size=24, steps=15, octaves=2, progress=False)
    assert images.shape == (2, 24, 24, 3) and images.dtype == np.uint8
    gray = np.full((2, 24, 24, 3), 128, np.uint8)
    after = visualize.unit_activations(model, "conv", images, units)
    before = visualize.unit_activations(model, "conv", gray, units)
    assert np.all(after > before + 0.05)


def test_bad_unit_raises():
    with pytest.raises(ValueError):
        visualize.visualize_units(_convnet(), "conv", [9], size=16, steps=1, octaves=1, progress=False)


# Comparison charts
# ----------------------------------------------------------------------------------------------


def test_plot_grouped_bars_places_and_labels_every_value(tmp_path):
    values = {
        "conv1d": {"normal": 0.96, "wide_qrs": 1.0, "st": 0.5},
        "dense": {"st": 0.51, "normal": 0.57, "wide_qrs": 0.48},
    }  # other order: the first series' is kept
    figure = visualize.plot_grouped_bars(values, ylabel="accuracy", title="per kind", path=tmp_path / "bars.png")
    axis = figure.axes[0]
    heights = [patch.get_height() for patch in axis.patches]
    assert heights == [0.96, 1.0, 0.5, 0.57, 0.48, 0.51]
    centres = [patch.get_x() + patch.get_width() / 2 for patch in axis.patches]
    np.testing.assert_allclose(centres, [-0.2, 0.8, 1.8, 0.2, 1.2, 2.2])  # two bars of 0.4 around 0, 1, 2
    assert [text.get_text() for text in axis.texts] == ["0.96", "1.00", "0.50", "0.57", "0.48", "0.51"]
    assert [label.get_text() for label in axis.get_xticklabels()] == ["normal", "wide_qrs", "st"]
    assert axis.get_ylabel() == "accuracy" and axis.get_title() == "per kind"
    assert (tmp_path / "bars.png").stat().st_size > 0
    matplotlib.pyplot.close(figure)


def test_plot_grouped_bars_refuses_mismatched_groups():
    with pytest.raises(UsageError, match="at least one series"):
        visualize.plot_grouped_bars({}, ylabel="y")
    with pytest.raises(UsageError, match="has groups"):
        visualize.plot_grouped_bars({"a": {"x": 1.0}, "b": {"y": 2.0}}, ylabel="y")


def test_plot_signal_examples_shows_the_first_strip_of_each_kind(tmp_path):
    from utils.convnets.synthetic import make_ecg_dataset

    dataset = make_ecg_dataset(40, seed=1)
    figure = visualize.plot_signal_examples(dataset, ["normal", "wide_qrs"], path=tmp_path / "ecg.png")
    first = int(np.flatnonzero(dataset.kinds == "wide_qrs")[0])
    line = figure.axes[1].lines[0]
    np.testing.assert_array_equal(line.get_ydata(), dataset.inputs[first, :, 0])
    assert line.get_xdata()[-1] == pytest.approx((dataset.inputs.shape[1] - 1) / 125.0)  # seconds at 125 Hz
    assert figure.axes[1].get_title(loc="left") == f"wide_qrs (label {dataset.labels[first]})"
    assert (tmp_path / "ecg.png").stat().st_size > 0
    matplotlib.pyplot.close(figure)
    with pytest.raises(UsageError, match="missing: \\['no_such_kind'\\]"):
        visualize.plot_signal_examples(dataset, ["normal", "no_such_kind"])


def test_plot_learning_curves_draws_train_validation_and_accuracy():
    runs = {
        "conv": {"loss": [0.7, 0.3], "val_loss": [0.6, 0.4], "val_accuracy": [0.6, 0.9]},
        "dense": SimpleNamespace(history={"loss": [0.7, 0.6], "val_loss": [0.7, 0.7], "val_accuracy": [0.5, 0.6]}),
    }
    figure = visualize.plot_learning_curves(runs)
    assert [line.get_label() for line in figure.axes[0].lines] == [
        "conv train",
        "conv validation",
        "dense train",
        "dense validation",
    ]
    assert figure.axes[0].lines[1].get_linestyle() == "--"
    np.testing.assert_array_equal(figure.axes[1].lines[1].get_ydata(), [0.5, 0.6])
    matplotlib.pyplot.close(figure)
    with pytest.raises(UsageError, match="lacking in conv"):
        visualize.plot_learning_curves({"conv": {"loss": [0.7]}})


def test_show_volume_slices_circles_the_blob_on_its_own_slice():
    from utils.convnets.synthetic import make_volume_dataset

    dataset = make_volume_dataset(8, size=16, max_blobs=1, seed=2)
    figure = visualize.show_volume_slices(dataset)
    positive = int(np.flatnonzero(dataset.labels == 1)[0])
    blob_z, blob_y, blob_x = np.round(dataset.info["blob_centers"][positive][0]).astype(int)
    titles = [axis.get_title() for axis in figure.axes]
    assert f"one blob, z={blob_z} (blob)" in titles and sum(title.endswith("(blob)") for title in titles) == 1
    blob_axis = figure.axes[titles.index(f"one blob, z={blob_z} (blob)")]
    np.testing.assert_array_equal(blob_axis.images[0].get_array(), dataset.inputs[positive, blob_z, :, :, 0])
    assert blob_axis.patches[0].center == (blob_x, blob_y)
    matplotlib.pyplot.close(figure)
    with pytest.raises(UsageError, match="a volume with a blob and one without"):
        visualize.show_volume_slices(dataclasses.replace(dataset, labels=np.zeros_like(dataset.labels)))
