"""The course site draws every control from its saved widget state (utils/course/site/widgets.py).

Each ipywidgets model kind the course's controls use (and the rest of ipywidgets 8's controls) is
drawn as a static, disabled HTML element showing its saved value; an anywidget is a placeholder
naming the widget; a control gets the line FRONTEND_HINT, a progress bar does not. The last test
runs a real notebook through nbclient, the way the site executes the course notebooks, so the
state read here is the state ipywidgets really saves.
"""

from __future__ import annotations

import base64
import io

import nbformat
import pytest
from bs4 import BeautifulSoup
from PIL import Image

from utils.course import site
from utils.course.site import widgets
from utils.course.site.widgets import FRONTEND_HINT


def one(name, model_id="w", buffers=None, **values):
    """A saved state holding one model."""
    model = {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": values}
    if buffers:
        model["buffers"] = buffers
    return {model_id: model}


def soup(name, **values):
    return BeautifulSoup(site.widget_html("w", one(name, **values)), "html.parser")


def png(width=3, height=2):
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


# ---- sliders ---------------------------------------------------------------------------------------


def test_an_int_slider_is_a_disabled_range_at_its_value_with_its_readout():
    drawn = soup("IntSliderModel", value=7, min=0, max=63, step=1, description="unit")
    slider = drawn.find("input", type="range")
    assert slider.has_attr("disabled")
    assert (slider["min"], slider["max"], slider["value"]) == ("0", "63", "7")
    assert drawn.find(class_="course-widget-readout").text == "7"
    assert drawn.find("label").text == "unit"


def test_a_float_slider_uses_its_readout_format():
    drawn = soup("FloatSliderModel", value=0.6125, min=0.3, max=1.2, step=0.005, readout_format=".3f", description="τ")
    assert drawn.find(class_="course-widget-readout").text == "0.613"
    assert drawn.find("input")["value"] == "0.6125"


def test_a_log_slider_sits_at_the_exponent_and_reads_out_the_value():
    drawn = soup(
        "FloatLogSliderModel",
        value=1e-3,
        base=10.0,
        min=-5.0,
        max=0.0,
        step=0.1,
        readout_format=".3g",
        description="α/β",
    )
    assert drawn.find("input")["value"] == "-3"
    assert drawn.find(class_="course-widget-readout").text == "0.001"


def test_a_slider_value_outside_its_range_is_drawn_at_the_end():
    assert soup("IntSliderModel", value=99, min=0, max=10).find("input")["value"] == "10"


def test_range_and_selection_sliders_show_their_choice():
    assert soup("IntRangeSliderModel", value=[2, 5], min=0, max=9).text == "2 – 5"
    drawn = soup("SelectionSliderModel", _options_labels=["low", "mid", "high"], index=1, description="level")
    assert drawn.find("input")["value"] == "1" and drawn.find(class_="course-widget-readout").text == "mid"


# ---- choices -------------------------------------------------------------------------------------


def test_a_dropdown_shows_its_chosen_option():
    drawn = soup(
        "DropdownModel",
        _options_labels=["block1_conv2", "block4_conv2 (needs vgg19_full)"],
        index=1,
        description="layer",
    )
    select = drawn.find("select")
    assert select.has_attr("disabled") and not select.has_attr("multiple")
    assert [option.text for option in select.find_all("option", selected=True)] == ["block4_conv2 (needs vgg19_full)"]


def test_a_multiple_select_marks_every_chosen_option():
    drawn = soup("SelectMultipleModel", _options_labels=["a", "b", "c"], index=[0, 2], rows=3)
    assert drawn.find("select").has_attr("multiple")
    assert [option.text for option in drawn.find_all("option", selected=True)] == ["a", "c"]


def test_radio_and_toggle_buttons_mark_the_choice():
    radios = soup("RadioButtonsModel", _options_labels=["white noise", "content + noise"], index=0)
    assert [box.has_attr("checked") for box in radios.find_all("input", type="radio")] == [True, False]
    toggles = soup("ToggleButtonsModel", _options_labels=["white noise", "content + noise"], index=1)
    assert [button["aria-pressed"] for button in toggles.find_all("button")] == ["false", "true"]


# ---- text ------------------------------------------------------------------------------------------


def test_a_text_box_shows_what_was_typed_or_its_placeholder():
    typed = soup("TextModel", value="10 x 10 x 16", placeholder="e.g. 12 x 12 x 8", description="shape")
    assert typed.find("input")["value"] == "10 x 10 x 16" and typed.find("input").has_attr("disabled")
    empty = soup("TextModel", value="", placeholder="e.g. 12 x 12 x 8")
    assert empty.find("input")["value"] == "" and empty.find("input")["placeholder"] == "e.g. 12 x 12 x 8"
    assert soup("IntTextModel", value=1216).find("input")["value"] == "1216"
    assert soup("TextareaModel", value="line one\nline two", rows=3).find("textarea").text == "line one\nline two"


def test_what_a_learner_typed_is_escaped_not_run():
    drawn = site.widget_html("w", one("TextModel", value='"><script>alert(1)</script>', description="<b>x</b>"))
    assert "<script>" not in drawn and "&lt;script&gt;" in drawn
    assert BeautifulSoup(drawn, "html.parser").find("script") is None
    assert BeautifulSoup(drawn, "html.parser").find("b") is None


def test_a_password_is_never_shown():
    drawn = soup("PasswordModel", value="hunter2")
    assert "hunter2" not in str(drawn) and drawn.find("input")["value"] == "•" * 7


# ---- buttons, checkboxes, colours -------------------------------------------------------------------


def test_buttons_keep_their_label_and_style():
    button = soup("ButtonModel", description="Check, then build it", button_style="primary").find("button")
    assert button.text == "Check, then build it" and button.has_attr("disabled")
    assert "course-widget-primary" in button["class"]
    assert soup("FileUploadModel", description="Upload", value=[]).find("button").text == "Upload (0)"
    assert soup("PlayModel", value=4).find("button").text == "▶ 4"


def test_checkboxes_and_toggle_buttons_show_their_state():
    assert soup("CheckboxModel", value=True, description="noise").find("input").has_attr("checked")
    assert not soup("CheckboxModel", value=False).find("input").has_attr("checked")
    assert soup("ToggleButtonModel", value=True, description="on").find("button")["aria-pressed"] == "true"
    assert soup("ValidModel", value=False, readout="Invalid").text == "✗ Invalid"


def test_a_colour_picker_shows_a_swatch():
    drawn = soup("ColorPickerModel", value="#1a5fb4", description="colour")
    assert "#1a5fb4" in drawn.find(class_="course-widget-swatch")["style"]


# ---- displays --------------------------------------------------------------------------------------


def test_an_image_is_drawn_from_its_saved_bytes():
    data = png(5, 4)
    state = one(
        "ImageModel",
        format="png",
        width="120",
        buffers=[{"path": ["value"], "data": base64.b64encode(data).decode(), "encoding": "base64"}],
    )
    image = BeautifulSoup(site.widget_html("w", state), "html.parser").find("img")
    assert image["src"] == "data:image/png;base64," + base64.b64encode(data).decode()
    assert image["width"] == "120"
    decoded = Image.open(io.BytesIO(base64.b64decode(image["src"].split(",", 1)[1])))
    assert decoded.size == (5, 4)


def test_an_image_without_bytes_or_at_a_remote_address_loads_nothing():
    assert "<img" not in site.widget_html("w", one("ImageModel", format="png"))
    remote = one(
        "ImageModel",
        format="url",
        buffers=[
            {"path": ["value"], "data": base64.b64encode(b"https://example.org/a.png").decode(), "encoding": "base64"}
        ],
    )
    assert "<img" not in site.widget_html("w", remote)  # the site never makes a request off the machine


def test_an_output_widget_shows_what_it_captured():
    figure = base64.b64encode(png()).decode()
    state = {
        "out": {
            "model_name": "OutputModel",
            "state": {
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "layer block3_conv4, unit 37\n"},
                    {
                        "output_type": "display_data",
                        "data": {"image/png": figure, "text/plain": "<Figure>"},
                        "metadata": {},
                    },
                    {
                        "output_type": "display_data",
                        "data": {"text/html": "<b>bold</b>", "text/plain": "bold"},
                        "metadata": {},
                    },
                    {"output_type": "error", "ename": "ShapeError", "evalue": "bad shape", "traceback": ["..."]},
                    {"output_type": "display_data", "data": {widgets.VIEW_MIME: {"model_id": "inner"}}, "metadata": {}},
                ]
            },
        },
        "inner": {"model_name": "ButtonModel", "state": {"description": "inside"}},
    }
    drawn = BeautifulSoup(site.widget_html("out", state), "html.parser")
    assert "layer block3_conv4, unit 37" in drawn.find("pre").text
    assert drawn.find("img")["src"] == f"data:image/png;base64,{figure}"
    assert drawn.find("b").text == "bold"
    assert "ShapeError: bad shape" in drawn.text
    assert drawn.find("button").text == "inside"
    assert site.widgets.is_control("out", state)  # a button inside the output makes it a control


def test_html_labels_and_message_lines():
    assert (
        soup("HTMLModel", value='<span class="course-message">✓ right</span>').find(class_="course-message").text
        == "✓ right"
    )
    assert soup("LabelModel", value="a < b").text == "a < b"


def test_tabs_accordions_and_stacks_show_their_selected_child():
    state = {
        "tabs": {
            "model_name": "TabModel",
            "state": {"children": ["IPY_MODEL_a", "IPY_MODEL_b"], "titles": ["2-D", "1-D"], "selected_index": 1},
        },
        "a": {"model_name": "LabelModel", "state": {"value": "first page"}},
        "b": {"model_name": "LabelModel", "state": {"value": "second page"}},
    }
    drawn = BeautifulSoup(site.widget_html("tabs", state), "html.parser")
    assert [title.text for title in drawn.find_all(class_="course-widget-page-title")] == ["▸ 2-D", "▾ 1-D"]
    assert "second page" in drawn.text and "first page" not in drawn.text
    state["tabs"]["model_name"] = "StackModel"
    assert site.widget_html("tabs", state) == '<span class="course-widget-text">second page</span>'
    state["tabs"].update(model_name="AccordionModel")
    state["tabs"]["state"]["selected_index"] = None  # every fold closed: titles only
    closed = BeautifulSoup(site.widget_html("tabs", state), "html.parser")
    assert closed.text == "▸ 2-D▸ 1-D"


def test_an_anywidget_is_a_placeholder_naming_it():
    state = one("AnyModel", _anywidget_id="utils.widgets.camera.Camera", _esm="export default {}")
    drawn = site.widget_html("w", state)
    assert "course-widget-placeholder" in drawn and "Camera" in drawn
    assert "course-widget-missing" not in drawn and "export default" not in drawn
    assert widgets.is_control("w", state)


def test_layouts_hide_and_helpers_are_not_drawn():
    state = {
        "w": {"model_name": "ButtonModel", "state": {"description": "hidden", "layout": "IPY_MODEL_l"}},
        "l": {"model_name": "LayoutModel", "state": {"display": "none"}},
    }
    assert site.widget_html("w", state) == ""
    assert site.widget_html("l", state) == ""


def test_a_cyclic_state_stops():
    state = {"box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_box"]}}}
    assert "has no saved state" in site.widget_html("box", state)
    assert widgets.is_control("box", state) is False


@pytest.mark.parametrize("name", sorted(widgets.INTERACTIVE_MODELS))
def test_every_interactive_model_is_drawn_and_counts_as_a_control(name):
    state = one(name, description="d", _options_labels=["x", "y"], index=0, value=None)
    drawn = site.widget_html("w", state)
    assert "course-widget-missing" not in drawn, name
    assert widgets.is_control("w", state), name


# ---- the page: hint line for controls only ---------------------------------------------------------


def notebook_with(state, model_id, plain="summary"):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("show_control(...)")])
    notebook.cells[0].outputs = [
        nbformat.v4.new_output(
            "display_data", data={widgets.VIEW_MIME: {"model_id": model_id, "version_major": 2}, "text/plain": plain}
        )
    ]
    notebook.metadata["widgets"] = {widgets.STATE_MIME: {"state": state, "version_major": 2, "version_minor": 0}}
    return notebook


def test_a_control_gets_the_run_the_notebook_line_and_a_progress_bar_does_not():
    control = {
        "box": {"model_name": "VBoxModel", "state": {"children": ["IPY_MODEL_s", "IPY_MODEL_m"]}},
        "s": {"model_name": "IntSliderModel", "state": {"value": 3, "max": 9}},
        "m": {"model_name": "HTMLModel", "state": {"value": "three"}},
    }
    drawn, count = site.render_widgets_static(notebook_with(control, "box"))
    page = drawn.cells[0].outputs[0].data["text/html"]
    assert count == 1 and page.count(FRONTEND_HINT) == 1
    assert FRONTEND_HINT == "Run the notebook to use this control."
    bar = {"p": {"model_name": "FloatProgressModel", "state": {"value": 5, "max": 5}}}
    drawn, _ = site.render_widgets_static(notebook_with(bar, "p", "100%|#####| 5/5"))
    assert FRONTEND_HINT not in drawn.cells[0].outputs[0].data["text/html"]


def test_a_real_executed_notebook_draws_every_control(tmp_path):
    """ipywidgets' own saved state, from a kernel run by nbclient as the site runs the notebooks."""
    from nbclient import NotebookClient

    from utils import config

    source = "\n".join(
        [
            "import ipywidgets as w, numpy as np",
            "from utils.widgets import show_control, MessageLine, image_view",
            "line = MessageLine(); line.error('the last number is the number of filters')",
            "box = w.VBox([w.HBox([w.Dropdown(options=['block1_conv2', 'block2_conv2'], value='block2_conv2',",
            "                                 description='layer'), w.IntSlider(value=5, max=12, description='unit')]),",
            "              w.Text(value='10 x 10 x 3', description='shape'), w.Button(description='Check'),",
            "              image_view(np.full((6, 9, 3), 90, np.uint8)), line])",
            "show_control(box, 'layer block2_conv2, unit 5')",
        ]
    )
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(config.REPO_ROOT)}},
    ).execute()
    assert notebook.cells[0].outputs[0].data["text/plain"] == "layer block2_conv2, unit 5"
    drawn, count = site.render_widgets_static(notebook)
    page = BeautifulSoup(drawn.cells[0].outputs[0].data["text/html"], "html.parser")
    assert count == 1
    assert page.find("option", selected=True).text == "block2_conv2"
    assert page.find("input", type="range")["value"] == "5"
    assert page.find("input", type="text")["value"] == "10 x 10 x 3"
    assert page.find("button").text == "Check"
    image = Image.open(io.BytesIO(base64.b64decode(page.find("img")["src"].split(",", 1)[1])))
    assert image.size == (9, 6)
    assert "✗ the last number is the number of filters" in page.text
    assert page.find(class_="course-widget-hint").text == FRONTEND_HINT
    assert "course-widget-missing" not in str(page)
