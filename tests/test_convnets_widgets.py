"""The controls of notebooks 05 and 06 (utils/convnets/widgets.py), driven from Python and in JupyterLab.

The unit explorer (slow: ~15 s) runs on VGG19's real ImageNet weights of blocks 1-3 (asset
vgg19_partial, or the full file where it is installed) over a few of the course's images, as
notebook 05 does, with small synthetic images so the test stays short. "Predict before you run" is
checked on the lecture's three models: a right prediction, each classic mistake with its
explanation, and Keras' own numbers. The last test (slow, needs Chromium) drives both controls in a
real JupyterLab: typing, pressing Check, choosing a layer, moving the slider.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import lab_browser
import site_browser
from utils import assets, config, plotting
from utils.convnets import activation_maxima, load_collection, model_receptive_fields, top_patches, widgets
from utils.convnets.widgets import LECTURE_MODELS, PredictionControl, check_prediction, keras_confirms
from utils.errors import UsageError

LAYERS = ["block1_conv2", "block2_conv2"]
DEEP = ["block4_conv2", "block5_conv2"]


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# ---- notebook 05: the unit explorer ---------------------------------------------------------------


@pytest.fixture(scope="module")
def explorer_inputs():
    """Activation maxima of two VGG19 layers over 8 course images, and 2 units' views per layer."""
    from utils.nst import build_extractor

    paths = sorted(path for path in assets.resolve("nst_images").rglob("*") if path.suffix.lower() in (".jpg", ".png"))
    images = load_collection(paths[:8], 64, progress=False)
    extractor = build_extractor(LAYERS)
    maxima = activation_maxima(extractor, images, LAYERS, batch_size=8, progress=False)
    fields = model_receptive_fields(extractor.model)
    units = {"block1_conv2": [3, 17], "block2_conv2": [5, 40]}
    views = widgets.precompute_unit_views(
        maxima,
        images,
        fields,
        units,
        lambda layer: build_extractor([layer]),
        size=32,
        steps=2,
        octaves=1,
        progress=False,
    )
    return {"images": images, "maxima": maxima, "fields": fields, "units": units, "views": views}


@pytest.mark.slow  # the fixture runs VGG19 over the images (~15 s on 2 cores)
def test_the_precomputed_views_are_the_units_top_patches_and_synthetic_images(explorer_inputs):
    views, maxima = explorer_inputs["views"], explorer_inputs["maxima"]
    assert {layer: [view.unit for view in found] for layer, found in views.items()} == explorer_inputs["units"]
    view = views["block2_conv2"][1]
    found = top_patches(
        maxima["block2_conv2"], explorer_inputs["images"], explorer_inputs["fields"]["block2_conv2"], 40
    )
    assert view.field_size == 14 == found.field_size[0]
    assert view.top_activation == pytest.approx(float(maxima["block2_conv2"].values[:, 40].max()))
    expected = plotting.patch_grid(found.patches, size=(widgets.VIEW_SIZE - 4) // 3, gap=2)
    np.testing.assert_array_equal(decode(view.patches_png), expected)
    synthetic = decode(view.synthetic_png)
    assert synthetic.shape == (widgets.VIEW_SIZE, widgets.VIEW_SIZE, 3)
    assert synthetic.std() > 0  # an optimised image, not a flat gray


@pytest.mark.slow  # the fixture runs VGG19 over the images (~15 s on 2 cores)
def test_moving_the_controls_changes_the_pictures(explorer_inputs):
    explorer = widgets.UnitExplorer(explorer_inputs["views"], missing_layers=DEEP)
    assert explorer.layer.value == "block1_conv2" and list(explorer.unit.options) == [3, 17]
    first = (explorer.patches.value, explorer.synthetic.value, explorer.caption.value)
    explorer.unit.value = 17  # the slider
    second = (explorer.patches.value, explorer.synthetic.value, explorer.caption.value)
    assert second[0] != first[0] and second[1] != first[1] and "unit 17" in second[2]
    assert explorer.current().unit == 17
    explorer.layer.value = "block2_conv2"  # the dropdown
    assert list(explorer.unit.options) == [5, 40] and explorer.unit.value == 5
    assert "block2_conv2 unit 5" in explorer.caption.value and "receptive field 14 px" in explorer.caption.value
    assert explorer.patches.value == explorer_inputs["views"]["block2_conv2"][0].patches_png
    explorer.select("block2_conv2", 40)
    assert explorer.synthetic.value == explorer_inputs["views"]["block2_conv2"][1].synthetic_png
    assert explorer.message.text == ""


@pytest.mark.slow  # the fixture runs VGG19 over the images (~15 s on 2 cores)
def test_a_deeper_block_without_its_weights_is_listed_and_says_why_in_one_line(explorer_inputs):
    explorer = widgets.UnitExplorer(explorer_inputs["views"], missing_layers=DEEP)
    labels = [label for label, _ in explorer.layer.options]
    assert labels[-2:] == ["block4_conv2 (needs vgg19_full)", "block5_conv2 (needs vgg19_full)"]
    explorer.select("block4_conv2")
    line = explorer.message.text
    assert explorer.message.kind == "error" and "\n" not in line
    assert line.startswith("block4_conv2 cannot be shown: only the partial VGG19 weights (blocks 1–3)")
    assert "'vgg19_full' (80 MB)" in line and "`python -m utils.assets fetch vgg19_full`" in line
    assert explorer.unit.disabled and explorer.patches.value == b"" and explorer.current() is None
    explorer.select("block1_conv2", 17)  # back: pictures and slider return
    assert not explorer.unit.disabled and explorer.message.text == "" and explorer.current().unit == 17
    summary = explorer.summary()
    assert summary.splitlines()[0].startswith("Unit explorer: block1_conv2 unit 17")
    assert "block4_conv2, block5_conv2 cannot be shown" in summary


def test_the_fetch_command_is_the_one_the_asset_registry_gives():
    assert widgets.FETCH_COMMAND in assets.get("vgg19_full").how_to_get


@pytest.mark.slow  # the fixture runs VGG19 over the images (~15 s on 2 cores)
def test_the_explorer_refuses_what_it_does_not_have(explorer_inputs):
    explorer = widgets.UnitExplorer(explorer_inputs["views"])
    with pytest.raises(UsageError, match="no layer 'block3_conv4'"):
        explorer.select("block3_conv4")
    with pytest.raises(UsageError, match="not precomputed"):
        explorer.select("block1_conv2", 4)
    with pytest.raises(UsageError, match="at least one layer"):
        widgets.UnitExplorer({})
    with pytest.raises(UsageError, match="block3_conv4"):
        widgets.precompute_unit_views(
            explorer_inputs["maxima"],
            explorer_inputs["images"],
            explorer_inputs["fields"],
            {"block3_conv4": [1]},
            lambda layer: None,
            progress=False,
        )


# ---- notebook 06: predict before you run ----------------------------------------------------------

#: (model, layer, output shape, parameters) of the lecture's three models, worked out by hand:
#: 14 - 5 + 1 = 10 and 10 - 5 + 1 = 6 along every axis; (5^d * C_in + 1) * C_out parameters.
LECTURE_ANSWERS = [
    ("2d", 0, (10, 10, 16), (25 * 3 + 1) * 16),  # 1,216
    ("1d", 0, (10, 16), (5 * 1 + 1) * 16),  # 96
    ("1d", 1, (6, 32), (5 * 16 + 1) * 32),  # 2,592
    ("3d", 0, (10, 10, 10, 16), (125 * 1 + 1) * 16),  # 2,016
    ("3d", 1, (6, 6, 6, 32), (125 * 16 + 1) * 32),  # 64,032
]


@pytest.mark.parametrize("key, index, shape, count", LECTURE_ANSWERS)
def test_a_right_prediction_is_confirmed_by_the_check_and_by_keras(key, index, shape, count):
    model = LECTURE_MODELS[key]
    assert model.expected(index) == (shape, count)
    verdict = check_prediction(model, index, " x ".join(map(str, shape)), f"{count:,}")
    assert verdict.right and verdict.shape_message.endswith(": right") and verdict.count_message.endswith(": right")
    built = keras_confirms(model)
    assert built.shapes[index] == shape and built.counts[index] == count
    assert f"{count:,}" in built.summary


@pytest.mark.parametrize(
    "key, index, shape_text, count_text, shape_says, count_says",
    [
        # the output size: the "+ 1", the shrinking by F - 1, the channels, the number of axes
        ("2d", 0, "9 x 9 x 16", "1216", "you left out the + 1", None),
        (
            "2d",
            0,
            "14 x 14 x 16",
            "1216",
            "cannot be centred on the border pixels: the length shrinks by F − 1 = 4",
            None,
        ),
        ("2d", 0, "10 x 10 x 3", "1216", "not the input's 3 channels", None),
        ("3d", 0, "10 x 10 x 16", "2016", "3 numbers" if False else "4 numbers, you typed 3", None),
        ("1d", 0, "18 x 16", "96", "shorter, not longer", None),
        # the parameter count: the biases, C_in, the power F^d, one filter, weight sharing
        ("2d", 0, "10x10x16", "1200", None, "you left out the biases: one per filter, + 16"),
        ("2d", 0, "10x10x16", "1201", None, "each filter has its own bias"),
        ("2d", 0, "10x10x16", "416", None, "each filter spans all 3 input channels"),
        ("3d", 1, "6x6x6x32", str((25 * 16 + 1) * 32), None, "F^3 = 125 positions (you used F^2 = 25)"),
        ("2d", 0, "10x10x16", "76", None, "that is one filter"),
        ("1d", 0, "10x16", "960", None, "the weights are shared by every position"),
        ("1d", 1, "6x32", "123", None, "(F^d · C_in + 1) · C_out with F = 5, d = 1, C_in = 16, C_out = 32"),
        # what cannot be read says how to type it
        (
            "2d",
            0,
            "ten by ten",
            "lots",
            "type the shape as whole numbers",
            "type the parameter count as a whole number",
        ),
    ],
)
def test_a_wrong_prediction_is_explained_by_the_term_it_got_wrong(
    key, index, shape_text, count_text, shape_says, count_says
):
    verdict = check_prediction(LECTURE_MODELS[key], index, shape_text, count_text)
    if shape_says:
        assert not verdict.shape_right and shape_says in verdict.shape_message, verdict.shape_message
    else:
        assert verdict.shape_right
    if count_says:
        assert not verdict.count_right and count_says in verdict.count_message, verdict.count_message
    else:
        assert verdict.count_right


def test_the_control_checks_then_keras_builds_beside_the_prediction():
    control = PredictionControl(LECTURE_MODELS["1d"])
    control.predict(0, "10 x 16", "96")
    control.predict(1, "(6, 32)", "2,560")  # the biases forgotten
    control.check_button.click()  # as the learner presses it
    assert control.messages[0].kind == "success" and control.messages[0].text == "10 × 16 and 96 parameters: right."
    assert (
        control.messages[1].kind == "error"
        and "you left out the biases: one per filter, + 32" in control.messages[1].text
    )
    assert control.keras_result.shapes == ((10, 16), (6, 32)) and control.keras_result.counts == (96, 2592)
    assert control.status.text == "Keras built it: 1 of 2 layer(s) predicted right"
    table = control.result.value
    assert "<td>2,560</td><td>2,592</td>" in table and "<td>6 × 32</td>" in table and "model.summary()" in table


def test_keras_builds_nothing_before_every_layer_is_predicted():
    control = PredictionControl(LECTURE_MODELS["3d"])
    control.predict(0, "10 x 10 x 10 x 16", "2016")
    control.check()
    assert control.keras_result is None and control.result.value == ""
    assert control.messages[0].kind == "success"
    assert control.messages[1].kind == "info" and "first" in control.messages[1].text
    assert control.status.text.startswith("predict every layer first (layer 2 still empty)")


def test_the_default_text_shows_what_keras_gives_and_asks_for_a_prediction_first():
    text = PredictionControl(LECTURE_MODELS["2d"]).summary()
    assert text.splitlines()[0].startswith("The lecture's 2-D recap: input 14 × 14 × 3. Predict first")
    assert "layer 1: Conv2D, 16 filters of 5 × 5 on 14 × 14 × 3 -> Keras: 10 × 10 × 16, 1,216 parameters" in text


def test_the_second_layer_does_not_give_away_the_first_layers_answer():
    model = LECTURE_MODELS["3d"]
    assert model.describe(1) == "layer 2: Conv3D, 32 filters of 5 × 5 × 5 on layer 1's output"
    assert "10" not in model.describe(1)


# ---- both controls in a real JupyterLab, driven as a learner does -----------------------------------

CONTROLS_NOTEBOOK = [
    "from utils.convnets.widgets import LECTURE_MODELS, PredictionControl\n"
    "from utils.widgets import show_control\n"
    "prediction = PredictionControl(LECTURE_MODELS['2d'])\n"
    "prediction.add_class('course-test-prediction')\n"
    "show_control(prediction, prediction.summary())",
    "import numpy as np\n"
    "from utils.convnets.widgets import UnitExplorer, UnitView\n"
    "from utils.widgets import png_bytes\n"
    "def view(unit, shade):  # a stand-in unit: flat pictures, so that no VGG19 run is needed here\n"
    "    picture = png_bytes(np.full((12, 12, 3), shade, np.uint8))\n"
    "    return UnitView('block1_conv2', unit, 5, 100.0 + unit, 50.0, picture, picture)\n"
    "explorer = UnitExplorer({'block1_conv2': [view(3, 40), view(9, 200)]}, missing_layers=['block4_conv2'])\n"
    "explorer.add_class('course-test-explorer')\n"
    "show_control(explorer, explorer.summary())",
]


@site_browser.needs_chromium
@pytest.mark.slow
def test_the_controls_work_in_jupyterlab(tmp_path):
    """Type a prediction and press Check; choose a layer that cannot be shown; move the unit slider."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    workspace = tmp_path / "notebooks"
    workspace.mkdir()
    lab_browser.write_notebook(workspace / "controls.ipynb", CONTROLS_NOTEBOOK)
    driver = site_browser.start_browser(1280, 2400)
    try:
        with lab_browser.JupyterLab(workspace, tmp_path / "state", {config.FAST_ENV_VAR: "1"}) as lab:
            lab_browser.open_notebook(driver, lab, "controls.ipynb")
            lab_browser.run_all_cells(driver)
            assert lab_browser.report_problems(lab_browser.notebook_report(driver)) == []
            prediction = driver.find_element(By.CSS_SELECTOR, ".course-test-prediction")
            shape, count = prediction.find_elements(By.CSS_SELECTOR, "input[type=text]")
            shape.send_keys("9 x 9 x 16")
            count.send_keys("1,216")
            prediction.find_element(By.CSS_SELECTOR, "button").click()
            text = lab_browser.wait_for_text(driver, ".course-test-prediction", "Keras built it", 60)
            assert "shape: you left out the + 1" in text and "1,216 parameters: right" in text
            assert "10 × 10 × 16" in text  # Keras' own shape, beside yours
            explorer = driver.find_element(By.CSS_SELECTOR, ".course-test-explorer")
            Select(explorer.find_element(By.CSS_SELECTOR, "select")).select_by_index(1)
            lab_browser.wait_for_text(driver, ".course-test-explorer", "block4_conv2 cannot be shown", 30)
            Select(explorer.find_element(By.CSS_SELECTOR, "select")).select_by_index(0)
            lab_browser.wait_for_text(driver, ".course-test-explorer", "block1_conv2 unit 3", 30)
            handle = explorer.find_element(By.CSS_SELECTOR, ".noUi-handle")
            handle.click()
            handle.send_keys(Keys.ARROW_RIGHT)
            lab_browser.wait_for_text(driver, ".course-test-explorer", "block1_conv2 unit 9", 30)
            errors = [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
            assert errors == []
    finally:
        driver.quit()
