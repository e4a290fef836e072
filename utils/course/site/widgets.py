"""Jupyter widgets as static HTML, drawn from the widget state a notebook saved when it ran.

The course's only widgets are tqdm's progress bars (``tqdm.auto`` in a notebook shows an
ipywidgets ``HBox`` of a label, a ``FloatProgress`` bar and a second label). Once a notebook has
finished they no longer change, so the site draws each one as it ended — with plain HTML and a
``<progress>`` element — instead of loading a JavaScript widget manager from a CDN. The page then
reads the same with no network and no script, and the saved state stays embedded in the page for
anyone who wants to load it.

A widget model this module does not know is drawn as a visible placeholder naming the model, never
dropped silently.

Example:
    >>> state = {"bar": {"model_name": "FloatProgressModel", "state": {"value": 3, "max": 4}}}
    >>> widget_html("bar", state)
    '<progress class="course-widget-progress" value="3" max="4">75 %</progress>'
"""

from __future__ import annotations

import copy
import html

#: The MIME type of a widget view in a notebook output, and of the saved state in its metadata.
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
STATE_MIME = "application/vnd.jupyter.widget-state+json"

_BOXES = {"HBoxModel": "row", "BoxModel": "row", "VBoxModel": "column", "GridBoxModel": "row"}
_TEXTS = {"HTMLModel", "HTMLMathModel"}
_LABELS = {"LabelModel"}
_PROGRESS = {"FloatProgressModel", "IntProgressModel"}


def _reference(value) -> str | None:
    """The model id in an ipywidgets reference ``"IPY_MODEL_<id>"``, else None."""
    if isinstance(value, str) and value.startswith("IPY_MODEL_"):
        return value[len("IPY_MODEL_"):]
    return None


def _number(value, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def widget_html(model_id: str, state: dict, depth: int = 0) -> str:
    """Static HTML for one widget model and its children.

    Args:
        model_id: the model's id (an output's ``model_id``).
        state: the notebook's saved widget state (``{model_id: {"model_name", "state"}}``).
        depth: nesting depth (children of boxes), to stop a malformed cyclic state.

    Returns:
        HTML text; a ``course-widget-missing`` placeholder when the model is unknown or absent.
    """
    model = state.get(model_id)
    if model is None or depth > 20:
        return (f'<span class="course-widget-missing">widget {html.escape(model_id)} '
                f'has no saved state</span>')
    name = model.get("model_name", "")
    values = model.get("state", {})
    layout = state.get(_reference(values.get("layout")) or "", {}).get("state", {})
    if layout.get("visibility") == "hidden" or layout.get("display") == "none":
        return ""
    if name in _BOXES:
        children = "".join(widget_html(child, state, depth + 1)
                           for child in map(_reference, values.get("children", [])) if child)
        return f'<div class="course-widget-box course-widget-{_BOXES[name]}">{children}</div>'
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
    return (f'<span class="course-widget-missing">widget {html.escape(name or "?")} '
            f'is not drawn on this page</span>')


def render_widgets_static(notebook) -> tuple[object, int]:
    """A copy of ``notebook`` whose widget outputs are static HTML drawn from the saved state.

    Each output holding a widget view gets a ``text/html`` drawing of the widget as it ended in
    place of the view (its ``text/plain`` fallback, e.g. tqdm's text bar, is kept). The saved
    state stays in the notebook's metadata, so the page embeds it.

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
            output.data["text/html"] = (f'<div class="course-widget">'
                                        f'{widget_html(str(view.get("model_id", "")), state)}</div>')
            drawn += 1
    return notebook, drawn
