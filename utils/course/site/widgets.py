"""Jupyter widgets as static HTML, drawn from the widget state a notebook saved when it ran.

A notebook executed for the site (``nbclient`` with ``store_widget_state=True``) keeps every
widget's last state in its metadata. The site draws each widget output from that state with plain
HTML — a slider as a disabled ``<input type="range">`` at its value with its readout, a dropdown as
a disabled ``<select>`` showing its choice, a text box with what was typed (or its placeholder), a
button, an image with its saved bytes, an ``Output`` widget's captured outputs, boxes, tabs and
accordions around their children, tqdm's progress bars as ``<progress>`` — instead of loading a
JavaScript widget manager from a CDN. The page then reads the same with no network and no script,
and the saved state stays embedded in the page for anyone who wants to load it.

A widget output that holds something a reader could use (a slider, a text box, a button, a camera,
...) gets one more line under it, :data:`FRONTEND_HINT` ("Run the notebook to use this control."):
the drawing shows the control as the notebook left it, and only a running kernel makes it move. A
progress bar is only a display and gets no such line.

An anywidget (model ``AnyModel``: a widget whose view is its own JavaScript, e.g. the course's
camera) cannot be drawn without running that script, so it is drawn as a placeholder naming the
widget. A model this module does not know at all is drawn as a visible placeholder naming the
model (``course-widget-missing``), never dropped silently.

Example:
    >>> state = {"bar": {"model_name": "FloatProgressModel", "state": {"value": 3, "max": 4}}}
    >>> widget_html("bar", state)
    '<progress class="course-widget-progress" value="3" max="4">75 %</progress>'
    >>> state = {"unit": {"model_name": "IntSliderModel",
    ...                   "state": {"value": 7, "min": 0, "max": 63, "description": "unit"}}}
    >>> drawn = widget_html("unit", state)
    >>> 'type="range"' in drawn and 'value="7"' in drawn and '<span class="course-widget-readout">7</span>' in drawn
    True
"""

from __future__ import annotations

import base64
import copy
import html
import math

#: The line the course site shows under a control's saved state (the control needs a running kernel).
FRONTEND_HINT = "Run the notebook to use this control."

__all__ = ["VIEW_MIME", "STATE_MIME", "FRONTEND_HINT", "INTERACTIVE_MODELS", "widget_html", "is_control",
           "render_widgets_static"]

#: The MIME type of a widget view in a notebook output, and of the saved state in its metadata.
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"

_BOXES = {"HBoxModel": "row", "BoxModel": "row", "VBoxModel": "column", "GridBoxModel": "row"}
_TEXTS = {"HTMLModel", "HTMLMathModel"}
_LABELS = {"LabelModel"}
_PROGRESS = {"FloatProgressModel", "IntProgressModel"}
_SLIDERS = {"IntSliderModel", "FloatSliderModel", "FloatLogSliderModel"}
_RANGE_SLIDERS = {"IntRangeSliderModel", "FloatRangeSliderModel"}
_SELECTION_SLIDERS = {"SelectionSliderModel", "SelectionRangeSliderModel"}
_DROPDOWNS = {"DropdownModel", "SelectModel", "SelectMultipleModel"}
_CHOICE_BUTTONS = {"RadioButtonsModel", "ToggleButtonsModel"}
_TEXT_INPUTS = {"TextModel", "IntTextModel", "FloatTextModel", "BoundedIntTextModel", "BoundedFloatTextModel",
                "ComboboxModel", "DatePickerModel", "DatetimeModel", "NaiveDatetimeModel", "TimeModel",
                "TagsInputModel", "ColorsInputModel", "FloatsInputModel", "IntsInputModel"}
_TEXT_AREAS = {"TextareaModel"}
_PASSWORDS = {"PasswordModel"}
_CHECKS = {"CheckboxModel", "ToggleButtonModel", "ValidModel"}
_BUTTONS = {"ButtonModel", "FileUploadModel", "PlayModel"}
_COLOURS = {"ColorPickerModel"}
_IMAGES = {"ImageModel"}
_OUTPUTS = {"OutputModel"}
_PAGED = {"TabModel": "tab", "AccordionModel": "accordion", "StackModel": "stack"}
_ANYWIDGETS = {"AnyModel"}
#: Models that only hold settings of other models (layout, style) or link them: never drawn alone.
_HELPERS = {"LayoutModel", "LinkModel", "DirectionalLinkModel", "ControllerModel", "ControllerAxisModel",
            "ControllerButtonModel"}

#: The models a reader would use (type in, slide, choose, press): a widget output holding one of
#: them gets the :data:`FRONTEND_HINT` line. Displays (HTML, labels, images, progress bars, outputs,
#: boxes) do not.
INTERACTIVE_MODELS = frozenset(_SLIDERS | _RANGE_SLIDERS | _SELECTION_SLIDERS | _DROPDOWNS | _CHOICE_BUTTONS
                               | _TEXT_INPUTS | _TEXT_AREAS | _PASSWORDS | _CHECKS | _BUTTONS | _COLOURS
                               | _ANYWIDGETS | {"ControllerModel"}) - {"ValidModel"}

_MAX_DEPTH = 20


def _reference(value) -> str | None:
    """The model id in an ipywidgets reference ``"IPY_MODEL_<id>"``, else None."""
    if isinstance(value, str) and value.startswith("IPY_MODEL_"):
        return value[len("IPY_MODEL_"):]
    return None


def _number(value, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _escape(value) -> str:
    return html.escape("" if value is None else str(value))


def _readout(value, readout_format: str | None, default: str) -> str:
    """A slider's readout: ``value`` in its (d3-style, mostly Python-compatible) format."""
    for spec in (readout_format, default):
        if spec:
            try:
                return format(value, spec)
            except (TypeError, ValueError):
                continue
    return str(value)


def _description(values: dict) -> str:
    """The ``<label>`` of a control's description ("" when it has none)."""
    text = values.get("description") or ""
    if not text:
        return ""
    shown = text if values.get("description_allow_html") else html.escape(str(text))
    return f'<label class="course-widget-description">{shown}</label>'


def _control(values: dict, body: str) -> str:
    return f'<span class="course-widget-control">{_description(values)}{body}</span>'


def _label_of(values: dict) -> str:
    return html.escape(str(values.get("description") or ""), quote=True)


def _options(values: dict) -> list[str]:
    return [str(label) for label in values.get("_options_labels", []) or []]


def _indices(values: dict) -> list[int]:
    index = values.get("index")
    if index is None:
        return []
    if isinstance(index, (list, tuple)):
        return [int(number) for number in index if isinstance(number, (int, float))]
    return [int(index)] if isinstance(index, (int, float)) else []


def _buffer(model: dict, key: str) -> bytes | None:
    """The bytes of trait ``key`` that the saved state keeps in the model's ``buffers`` (base64)."""
    for entry in model.get("buffers", []) or []:
        if entry.get("path") == [key] and entry.get("encoding", "base64") == "base64":
            try:
                return base64.b64decode(entry.get("data", ""))
            except (ValueError, TypeError):
                return None
    value = model.get("state", {}).get(key)
    return value.encode() if isinstance(value, str) and value else None


def _slider(name: str, values: dict) -> str:
    low, high = _number(values.get("min"), 0.0), _number(values.get("max"), 100.0)
    step = _number(values.get("step"), 1.0)
    value = values.get("value")
    if name == "FloatLogSliderModel":  # min and max are exponents of base; the value is the real number
        base = _number(values.get("base"), 10.0)
        position = math.log(_number(value, base ** low), base) if _number(value, 0.0) > 0 and base > 1 else low
        readout = _readout(_number(value, 0.0), values.get("readout_format"), ".3g")
    else:
        position = _number(value, low)
        default = "d" if name.startswith("Int") else ".2f"
        readout = _readout(int(position) if name.startswith("Int") else position, values.get("readout_format"),
                           default)
    position = min(max(position, low), high)
    body = (f'<input type="range" class="course-widget-slider" disabled min="{low:g}" max="{high:g}" '
            f'step="{step:g}" value="{position:g}" aria-label="{_label_of(values)}">')
    if values.get("readout", True):
        body += f'<span class="course-widget-readout">{html.escape(readout)}</span>'
    return _control(values, body)


def _range_slider(name: str, values: dict) -> str:
    pair = values.get("value") or [values.get("min", 0), values.get("max", 100)]
    default = "d" if name.startswith("Int") else ".2f"
    low, high = (_readout(int(_number(number, 0)) if name.startswith("Int") else _number(number, 0),
                          values.get("readout_format"), default) for number in list(pair)[:2])
    body = (f'<span class="course-widget-range" aria-label="{_label_of(values)}">'
            f'{html.escape(low)} – {html.escape(high)}</span>')
    return _control(values, body)


def _selection_slider(values: dict) -> str:
    options, chosen = _options(values), _indices(values)
    count = max(len(options) - 1, 0)
    readout = " – ".join(options[index] for index in chosen if 0 <= index < len(options))
    position = chosen[0] if chosen else 0
    body = (f'<input type="range" class="course-widget-slider" disabled min="0" max="{count}" step="1" '
            f'value="{position}" aria-label="{_label_of(values)}">'
            f'<span class="course-widget-readout">{html.escape(readout)}</span>')
    return _control(values, body)


def _dropdown(name: str, values: dict) -> str:
    options, chosen = _options(values), set(_indices(values))
    items = "".join(f'<option{" selected" if index in chosen else ""}>{html.escape(label)}</option>'
                    for index, label in enumerate(options))
    size = "" if name == "DropdownModel" else f' size="{max(2, min(len(options), int(_number(values.get("rows"), 5))))}"'
    multiple = " multiple" if name == "SelectMultipleModel" else ""
    body = (f'<select class="course-widget-select" disabled{size}{multiple} aria-label="{_label_of(values)}">'
            f'{items}</select>')
    return _control(values, body)


def _choice_buttons(name: str, values: dict) -> str:
    options, chosen = _options(values), set(_indices(values))
    if name == "RadioButtonsModel":
        items = "".join(f'<label class="course-widget-radio"><input type="radio" disabled'
                        f'{" checked" if index in chosen else ""}> {html.escape(label)}</label>'
                        for index, label in enumerate(options))
        return _control(values, f'<span class="course-widget-radios">{items}</span>')
    items = "".join(f'<button type="button" disabled class="course-widget-button'
                    f'{" course-widget-pressed" if index in chosen else ""}" aria-pressed='
                    f'"{"true" if index in chosen else "false"}">{html.escape(label)}</button>'
                    for index, label in enumerate(options))
    return _control(values, f'<span class="course-widget-toggles">{items}</span>')


def _text_input(name: str, values: dict) -> str:
    value = values.get("value")
    if isinstance(value, (list, tuple)):  # the tags inputs
        value = ", ".join(str(item) for item in value)
    value = "" if value is None else str(value)
    if name == "TextareaModel":
        body = (f'<textarea class="course-widget-text-input" disabled rows="{int(_number(values.get("rows"), 2))}" '
                f'placeholder="{_escape(values.get("placeholder"))}" aria-label="{_label_of(values)}">'
                f'{html.escape(value)}</textarea>')
    else:
        shown = "•" * len(value) if name == "PasswordModel" else value
        body = (f'<input type="text" class="course-widget-text-input" disabled value="{html.escape(shown, quote=True)}" '
                f'placeholder="{_escape(values.get("placeholder"))}" aria-label="{_label_of(values)}">')
    return _control(values, body)


def _check(name: str, values: dict) -> str:
    on = bool(values.get("value"))
    if name == "ToggleButtonModel":
        return (f'<button type="button" disabled class="course-widget-button'
                f'{" course-widget-pressed" if on else ""}" aria-pressed="{"true" if on else "false"}">'
                f'{_escape(values.get("description"))}</button>')
    if name == "ValidModel":
        mark = "✓" if on else "✗ " + _escape(values.get("readout") or "")
        return _control(values, f'<span class="course-widget-valid">{mark}</span>')
    label = html.escape(str(values.get("description") or ""))
    return (f'<label class="course-widget-control"><input type="checkbox" disabled{" checked" if on else ""}> '
            f'{label}</label>')


def _button(name: str, values: dict) -> str:
    style = values.get("button_style") or ""
    css = "course-widget-button" + (f" course-widget-{html.escape(style)}" if style else "")
    if name == "FileUploadModel":
        count = len(values.get("value") or [])
        text = f'{_escape(values.get("description") or "Upload")} ({count})'
    elif name == "PlayModel":
        text = f'▶ {_escape(values.get("value"))}'
    else:
        text = _escape(values.get("description"))
    return f'<button type="button" disabled class="{css}">{text}</button>'


def _colour(values: dict) -> str:
    value = str(values.get("value") or "black")
    swatch = html.escape(value, quote=True)
    return _control(values, f'<span class="course-widget-swatch" style="background:{swatch}"></span>'
                            f'<span class="course-widget-readout">{html.escape(value)}</span>')


def _image(model: dict, values: dict) -> str:
    data = _buffer(model, "value")
    if not data:
        return '<span class="course-widget-text">(no image yet)</span>'
    kind = str(values.get("format") or "png").lower()
    if kind == "url":  # a link, not bytes: only a page of the site itself may be loaded
        target = data.decode("utf-8", "replace")
        if "://" in target or target.startswith("//"):
            return f'<span class="course-widget-text">(image at {html.escape(target)})</span>'
        source = html.escape(target, quote=True)
    else:
        mime = {"jpg": "jpeg", "svg": "svg+xml"}.get(kind, kind)
        source = f"data:image/{html.escape(mime)};base64,{base64.b64encode(data).decode('ascii')}"
    size = "".join(f' {key}="{html.escape(str(values[key]), quote=True)}"' for key in ("width", "height")
                   if values.get(key))
    return f'<img class="course-widget-image" src="{source}"{size} alt="image of a control">'


def _output_html(output: dict, state: dict, depth: int) -> str:
    """One output captured by an ``Output`` widget, the way the notebook page shows outputs."""
    kind = output.get("output_type")
    if kind == "stream":
        text = output.get("text", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        return f'<pre class="course-widget-stream">{html.escape(text)}</pre>'
    if kind == "error":
        return (f'<pre class="course-widget-stream course-widget-error">'
                f'{_escape(output.get("ename"))}: {_escape(output.get("evalue"))}</pre>')
    data = output.get("data", {}) or {}
    if VIEW_MIME in data:  # a widget shown inside the Output widget
        return widget_html(str((data[VIEW_MIME] or {}).get("model_id", "")), state, depth + 1)

    def text_of(key):
        value = data.get(key, "")
        return "".join(value) if isinstance(value, list) else str(value)

    for mime in ("image/png", "image/jpeg"):
        if data.get(mime):
            encoded = "".join(text_of(mime).split())
            return f'<img class="course-widget-image" src="data:{mime};base64,{encoded}" alt="output of a control">'
    if data.get("image/svg+xml"):
        return text_of("image/svg+xml")
    if data.get("text/html"):
        return text_of("text/html")
    if data.get("text/markdown"):
        return f'<pre class="course-widget-stream">{html.escape(text_of("text/markdown"))}</pre>'
    if data.get("text/plain"):
        return f'<pre class="course-widget-stream">{html.escape(text_of("text/plain"))}</pre>'
    return ""


def _paged(kind: str, values: dict, state: dict, depth: int) -> str:
    children = [child for child in map(_reference, values.get("children", []) or []) if child]
    titles = [str(title or "") for title in values.get("titles", []) or []]
    selected = values.get("selected_index")
    selected = int(selected) if isinstance(selected, (int, float)) else None
    if kind == "stack":
        if selected is None or not 0 <= selected < len(children):
            return ""
        return widget_html(children[selected], state, depth + 1)
    parts = []
    for index, child in enumerate(children):
        title = html.escape(titles[index] if index < len(titles) and titles[index] else f"Page {index + 1}")
        current = index == selected
        parts.append(f'<div class="course-widget-page{" course-widget-current" if current else ""}">'
                     f'<div class="course-widget-page-title">{"▾" if current else "▸"} {title}</div>'
                     + (widget_html(child, state, depth + 1) if current else "") + "</div>")
    return f'<div class="course-widget-{kind}">{"".join(parts)}</div>'


def _anywidget(values: dict) -> str:
    identifier = str(values.get("_anywidget_id") or "")
    name = identifier.rsplit(".", 1)[-1] or "custom widget"
    return (f'<span class="course-widget-placeholder">{html.escape(name)}: this control draws itself '
            f'with its own script in a running notebook</span>')


def widget_html(model_id: str, state: dict, depth: int = 0) -> str:
    """Static HTML for one widget model and its children.

    Args:
        model_id: the model's id (an output's ``model_id``).
        state: the notebook's saved widget state (``{model_id: {"model_name", "state", "buffers"}}``).
        depth: nesting depth (children of boxes), to stop a malformed cyclic state.

    Returns:
        HTML text; a ``course-widget-missing`` placeholder when the model is unknown or absent,
        ``""`` when its layout hides it.

    Example:
        >>> state = {"layer": {"model_name": "DropdownModel",
        ...                    "state": {"_options_labels": ["block1_conv2", "block2_conv2"], "index": 1}}}
        >>> widget_html("layer", state).count("<option selected>block2_conv2</option>")
        1
    """
    model = state.get(model_id)
    if model is None or depth > _MAX_DEPTH:
        return (f'<span class="course-widget-missing">widget {html.escape(model_id)} '
                f'has no saved state</span>')
    name = model.get("model_name", "")
    values = model.get("state", {}) or {}
    layout = state.get(_reference(values.get("layout")) or "", {}).get("state", {})
    if layout.get("visibility") == "hidden" or layout.get("display") == "none":
        return ""
    if name in _BOXES:
        children = "".join(widget_html(child, state, depth + 1)
                           for child in map(_reference, values.get("children", []) or []) if child)
        return f'<div class="course-widget-box course-widget-{_BOXES[name]}">{children}</div>'
    if name in _PAGED:
        return _paged(_PAGED[name], values, state, depth)
    if name in _TEXTS:
        return f'<span class="course-widget-text">{values.get("value", "")}</span>'
    if name in _LABELS:
        return f'<span class="course-widget-text">{html.escape(str(values.get("value", "")))}</span>'
    if name in _PROGRESS:
        low, high = _number(values.get("min"), 0.0), _number(values.get("max"), 100.0)
        value = min(max(_number(values.get("value"), low), low), high)
        style = values.get("bar_style") or ""
        share = 100.0 * (value - low) / (high - low) if high > low else 100.0
        css = "course-widget-progress" + (f" course-widget-{html.escape(style)}" if style else "")
        return (f'<progress class="{css}" value="{value - low:g}" max="{high - low:g}">'
                f'{share:.0f} %</progress>')
    if name in _SLIDERS:
        return _slider(name, values)
    if name in _RANGE_SLIDERS:
        return _range_slider(name, values)
    if name in _SELECTION_SLIDERS:
        return _selection_slider(values)
    if name in _DROPDOWNS:
        return _dropdown(name, values)
    if name in _CHOICE_BUTTONS:
        return _choice_buttons(name, values)
    if name in _TEXT_INPUTS | _TEXT_AREAS | _PASSWORDS:
        return _text_input(name, values)
    if name in _CHECKS:
        return _check(name, values)
    if name in _BUTTONS:
        return _button(name, values)
    if name in _COLOURS:
        return _colour(values)
    if name in _IMAGES:
        return _image(model, values)
    if name in _OUTPUTS:
        return ('<div class="course-widget-output">'
                + "".join(_output_html(output, state, depth) for output in values.get("outputs", []) or [])
                + "</div>")
    if name in _ANYWIDGETS:
        return _anywidget(values)
    if name in _HELPERS:
        return ""
    return (f'<span class="course-widget-missing">widget {html.escape(name or "?")} '
            f'is not drawn on this page</span>')


def is_control(model_id: str, state: dict, depth: int = 0) -> bool:
    """Whether the widget (or a widget inside it) is something a reader would use, not only a display.

    Example:
        >>> state = {"box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_go"]}},
        ...          "go": {"model_name": "ButtonModel", "state": {"description": "Check"}}}
        >>> is_control("box", state), is_control("go", {"go": {"model_name": "HTMLModel", "state": {}}})
        (True, False)
    """
    model = state.get(model_id)
    if model is None or depth > _MAX_DEPTH:
        return False
    if model.get("model_name") in INTERACTIVE_MODELS:
        return True
    values = model.get("state", {}) or {}
    children = [child for child in map(_reference, values.get("children", []) or []) if child]
    children += [str((output.get("data", {}) or {}).get(VIEW_MIME, {}).get("model_id", ""))
                 for output in values.get("outputs", []) or [] if VIEW_MIME in (output.get("data", {}) or {})]
    return any(is_control(child, state, depth + 1) for child in children)


def render_widgets_static(notebook) -> tuple[object, int]:
    """A copy of ``notebook`` whose widget outputs are static HTML drawn from the saved state.

    Each output holding a widget view gets a ``text/html`` drawing of the widget as it ended in
    place of the view (its ``text/plain`` fallback, e.g. tqdm's text bar or a control's summary,
    is kept), and a control gets the line :data:`FRONTEND_HINT` under it. The saved state stays in
    the notebook's metadata, so the page embeds it.

    Args:
        notebook: an executed ``nbformat`` notebook.

    Returns:
        ``(copy, number of widget outputs drawn)``.
    """
    notebook = copy.deepcopy(notebook)
    state = notebook.metadata.get("widgets", {}).get(STATE_MIME, {}).get("state", {})
    drawn = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(VIEW_MIME)
            if view is None:
                continue
            output.data.pop(VIEW_MIME)
            model_id = str(view.get("model_id", ""))
            hint = (f'<p class="course-widget-hint">{html.escape(FRONTEND_HINT)}</p>'
                    if is_control(model_id, state) else "")
            output.data["text/html"] = f'<div class="course-widget">{widget_html(model_id, state)}{hint}</div>'
            drawn += 1
    return notebook, drawn
