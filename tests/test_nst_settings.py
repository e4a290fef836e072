"""Tests of utils.nst.settings: presets, and NSTSettings (a preset plus overrides, validated)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from utils.errors import NSTError
from utils.nst import settings as nst_settings
from utils.nst import vgg
from utils.nst.settings import DEFAULT_PRESET, PRESETS, NSTSettings, get_preset


def test_presets_and_which_weights_they_need():
    assert DEFAULT_PRESET == "blocks123"
    blocks123 = get_preset("blocks123")
    assert blocks123.layers == ("block1_conv1", "block2_conv1", "block3_conv1", "block3_conv2")
    assert sum(blocks123.style_layers.values()) == pytest.approx(1.0)
    # blocks123 runs on the partial file (blocks 1-3); the others need block 4 or 5
    assert vgg.deepest_layer(blocks123.layers) == "block3_conv2"
    assert vgg.deepest_layer(PRESETS["course"].layers) == "block5_conv4"
    assert vgg.deepest_layer(PRESETS["gatys"].layers) == "block5_conv1"
    assert (PRESETS["course"].alpha, PRESETS["course"].beta) == (10.0, 40.0)
    with pytest.raises(NSTError, match="unknown preset 'picasso'; choose one of blocks123, course, gatys"):
        get_preset("picasso")


def test_default_settings_are_the_default_preset():
    settings = NSTSettings()
    preset = PRESETS[DEFAULT_PRESET]
    for name in nst_settings.PRESET_FIELDS:
        assert getattr(settings, name) == getattr(preset, name), name
    assert (settings.init, settings.noise_ratio, settings.size, settings.weights) == ("content", 0.25, None, "auto")
    # the speed settings: dtype chosen per machine, coarse-to-fine on
    assert settings.compute_dtype == "auto"
    assert (settings.coarse_scale, settings.coarse_share) == (
        nst_settings.DEFAULT_COARSE_SCALE,
        nst_settings.DEFAULT_COARSE_SHARE,
    )


def test_coarse_to_fine_can_be_switched_off():
    assert NSTSettings(coarse_scale=None).coarse_scale is None
    assert NSTSettings(coarse_scale=1).coarse_scale is None  # one scale
    assert NSTSettings.from_preset("blocks123", coarse_scale=None).coarse_scale is None  # None is not "default" here
    assert NSTSettings().replace(coarse_scale=None).coarse_scale is None
    assert (
        NSTSettings.from_preset("blocks123", size=None).size is None
        and NSTSettings.from_preset("course", beta=None).beta == 40.0
    )  # ... but it is for preset values


def test_overrides_win_and_none_keeps_the_preset():
    settings = NSTSettings.from_preset("course", beta=2, tv_weight=None, size=128, style_weights=[3, 1])
    assert settings.preset == "course" and settings.content_layer == "block5_conv4"
    assert settings.beta == 2.0 and isinstance(settings.beta, float)
    assert settings.tv_weight == PRESETS["course"].tv_weight
    assert settings.size == 128 and settings.style_weights == (3.0, 1.0)
    own_layers = NSTSettings(style_layers={"block2_conv1": 1.0}, content_layer="block2_conv2")
    assert own_layers.layers == ("block2_conv1", "block2_conv2")
    assert NSTSettings(
        style_layers={"block1_conv1": 0.5, "block2_conv1": 0.5}, content_layer="block2_conv1"
    ).layers == ("block1_conv1", "block2_conv1")


def test_settings_are_frozen_and_replace_makes_a_validated_copy():
    settings = NSTSettings.from_preset("blocks123", alpha=5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.alpha = 1.0
    changed = settings.replace(beta=3.0)
    assert (changed.alpha, changed.beta, settings.beta) == (5.0, 3.0, PRESETS["blocks123"].beta)
    # a new preset brings all of its values (and forgets the old preset's), other settings stay
    course = settings.replace(preset="course", size=64)
    assert (course.content_layer, course.alpha, course.beta, course.size) == ("block5_conv4", 10.0, 40.0, 64)
    with pytest.raises(NSTError, match="alpha must be non-negative"):
        settings.replace(alpha=-1)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"init": "zeros"}, "init must be one of"),
        ({"alpha": -1.0}, "alpha must be non-negative"),
        ({"learning_rate": "fast"}, "learning_rate must be a number"),
        ({"compute_dtype": "float16"}, "compute_dtype must be one of"),
        ({"style_scale": 0.0}, "style scale must be between 0.05 and 20"),
        ({"size": 0}, "size must be a positive number of pixels"),
        ({"size": 12.5}, "size must be a positive number of pixels"),
        ({"style_layers": {}}, "style_layers must name at least one layer"),
        ({"style_layers": {"block1_conv1": -0.5}}, "style weight of block1_conv1 must be non-negative"),
        ({"content_layer": "block3_conv9"}, "unknown VGG19 layer"),
        ({"style_weights": [0, 0]}, "each style weight must be non-negative, and not all zero"),
        ({"style_weights": [1, -1]}, "each style weight must be non-negative, and not all zero"),
        ({"colour": True}, "unknown style-transfer setting.*colour.*known:.*preserve_colors"),
        ({"alpha": float("nan")}, "alpha must be a finite number; got nan"),
        ({"beta": float("inf")}, "beta must be a finite number; got inf"),
        ({"tv_weight": "nan"}, "tv_weight must be a finite number"),
        ({"learning_rate": float("-inf")}, "learning_rate must be a finite number"),
        ({"noise_ratio": float("nan")}, "noise_ratio must be a finite number"),
        ({"style_scale": float("nan")}, "style scale must be a finite number"),
        ({"style_layers": {"block1_conv1": float("nan")}}, "style weight of block1_conv1 must be a finite number"),
        ({"style_weights": [1.0, float("inf")]}, "style weight must be a finite number"),
        ({"alpha": 1e39}, "alpha must be at most 3.403e\\+38 \\(the largest float32\\)"),
        ({"alpha": True}, "alpha must be a number"),
        ({"size": float("nan")}, "size must be a finite number"),
        ({"coarse_scale": 0.0}, "coarse_scale must be between 0 and 1"),
        ({"coarse_scale": float("nan")}, "coarse_scale must be a finite number"),
        ({"coarse_share": 1.0}, "coarse_share must be between 0 and 1"),
        ({"compute_dtype": "half"}, "compute_dtype must be one of \\('auto', 'float32', 'bfloat16'\\)"),
    ],
)
def test_bad_values_raise_nst_error_naming_them(overrides, message):
    with pytest.raises(NSTError, match=message):
        NSTSettings.from_preset(DEFAULT_PRESET, **overrides)


def test_to_dict_is_json_ready():
    record = NSTSettings.from_preset("blocks123", style_weights=[1, 2], weights="partial").to_dict()
    assert json.loads(json.dumps(record)) == record
    assert record["style_layers"] == dict(PRESETS["blocks123"].style_layers)
    assert record["style_weights"] == [1.0, 2.0] and record["weights"] == "partial"
    assert set(record) == {field.name for field in dataclasses.fields(NSTSettings)}
