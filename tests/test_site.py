"""The course site (utils.course.site): widgets drawn from saved state, both editions from one
execution, and no solution or hidden check on the learner site.

The tests marked slow share one build of the whole site (all six notebooks executed in fast mode,
then both editions rendered; tests/site_browser.py), made once per test session in a temporary
folder. The browser checks of the same pages are in tests/test_site_browser.py.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from bs4 import BeautifulSoup

import site_browser
from utils import config
from utils.course import site, student
from utils.errors import UsageError

NOTEBOOKS = config.REPO_ROOT / "notebooks"

#: The documentation pages the site renders after the notebooks (docs/*.md), in order.
DOC_PAGES = [page for _, page, _ in site.build.DOC_PAGES]


@pytest.fixture(scope="session")
def course_site(tmp_path_factory):
    return site_browser.course_site(tmp_path_factory)


# ---- widgets drawn from their saved state -------------------------------------------------------


def tqdm_state(value=7, total=20, style=""):
    """The widget state tqdm.auto leaves in a notebook: HBox(label, FloatProgress, label)."""
    return {
        "box": {
            "model_name": "HBoxModel",
            "state": {"children": ["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]},
        },
        "left": {"model_name": "HTMLModel", "state": {"value": "training: 35%"}},
        "bar": {
            "model_name": "FloatProgressModel",
            "state": {"value": value, "max": total, "min": 0, "bar_style": style},
        },
        "right": {"model_name": "HTMLModel", "state": {"value": " 7/20 [00:03&lt;00:05]"}},
    }


def test_a_tqdm_bar_is_drawn_as_it_ended():
    html = site.widget_html("box", tqdm_state())
    assert html == (
        '<div class="course-widget-box course-widget-row">'
        '<span class="course-widget-text">training: 35%</span>'
        '<progress class="course-widget-progress" value="7" max="20">35 %</progress>'
        '<span class="course-widget-text"> 7/20 [00:03&lt;00:05]</span></div>'
    )
    finished = site.widget_html("bar", tqdm_state(value=20, total=20, style="success"))
    assert finished == (
        '<progress class="course-widget-progress course-widget-success" value="20" max="20">100 %</progress>'
    )


def test_an_unknown_or_missing_widget_shows_a_visible_placeholder():
    state = {"odd": {"model_name": "SliderFromAnExtensionModel", "state": {}}}
    assert "is not drawn on this page" in site.widget_html("odd", state)
    assert "has no saved state" in site.widget_html("gone", state)


def test_widget_outputs_become_static_html_and_the_state_stays_embedded():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("for step in tqdm(range(20)): ...")])
    notebook.cells[0].outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={site.widgets.VIEW_MIME: {"model_id": "box", "version_major": 2}, "text/plain": "35%|###  | 7/20"},
        )
    ]
    notebook.metadata["widgets"] = {site.widgets.STATE_MIME: {"state": tqdm_state(), "version_major": 2}}
    drawn, count = site.render_widgets_static(notebook)
    assert count == 1
    data = drawn.cells[0].outputs[0].data
    assert site.widgets.VIEW_MIME not in data
    assert '<progress class="course-widget-progress" value="7"' in data["text/html"]
    assert data["text/plain"] == "35%|###  | 7/20"
    assert drawn.metadata["widgets"] == notebook.metadata["widgets"]
    assert site.widgets.VIEW_MIME in notebook.cells[0].outputs[0].data  # the input is not changed


# ---- the site folder -----------------------------------------------------------------------------


def test_a_folder_the_site_did_not_write_is_never_emptied(tmp_path, capsys):
    folder = tmp_path / "my-notes"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(UsageError, match="was not written by utils.course.site"):
        site.render_site([], folder, "learner", NOTEBOOKS)
    assert site.main(["--reuse-executed", "--only", "06", "--out", str(folder)]) == 2
    assert "refusing to empty it" in capsys.readouterr().err
    assert (folder / "thesis.tex").read_text() == "years of work"


def test_bad_arguments_are_refused_in_one_line(capsys):
    with pytest.raises(UsageError, match="audience must be one of learner, instructor"):
        site.render_site([], "unused", "student", NOTEBOOKS)
    with pytest.raises(UsageError, match="no course notebook"):
        site.list_notebooks(NOTEBOOKS, only=["99"])
    assert site.main(["--timeout", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: --timeout must be a positive number of seconds; got 0"


# ---- the documentation pages ---------------------------------------------------------------------


def test_links_between_the_readme_and_the_docs_pages_stay_inside_the_site(tmp_path):
    """README and docs links become site links (headings included); other files become plain text."""
    docs = tmp_path / "docs"
    (docs / "images").mkdir(parents=True)
    (docs / "images" / "plot.png").write_bytes(b"not really a png")
    readme = tmp_path / "README.md"
    errors = docs / "ERRORS.md"
    errors_text, errors_anchors = site.build.anchored("## What each command refuses (`utils.nst`)\n\ntext\n")
    assert errors_text.startswith('## <a id="what-each-command-refuses-utilsnst"></a>What each command')
    results = docs / "RESULTS.md"
    pages = {
        readme.resolve(): ("index.html", site.build.anchored("## The notebooks")[1]),
        errors.resolve(): ("errors.html", errors_anchors),
        results.resolve(): ("results.html", site.build.anchored("## Speed — 10×\n```\n# not a heading\n```")[1]),
    }
    assert pages[results.resolve()][1] == {"speed--10"}
    text = (
        "See [errors](ERRORS.md#what-each-command-refuses-utilsnst), [speed](#speed--10), "
        "[the list](../README.md#the-notebooks), [gone](#no-such-heading), [the grader](GRADING.md#threat-model), "
        "[pooch](https://www.fatiando.org/pooch/) and ![a plot](images/plot.png)."
    )
    site_folder = tmp_path / "site"
    assert site.build._site_links(text, results, site_folder, pages) == (
        "See [errors](errors.html#what-each-command-refuses-utilsnst), [speed](results.html#speed--10), "
        "[the list](index.html#the-notebooks), [gone](results.html), the grader (`GRADING.md` in the repository), "
        "[pooch](https://www.fatiando.org/pooch/) and ![a plot](images/docs/plot.png)."
    )
    assert (site_folder / "images" / "docs" / "plot.png").read_bytes() == b"not really a png"


# ---- the built site (one fast-mode build per session) ---------------------------------------------


def solution_lines(notebook) -> set[str]:
    """Lines of the solution and hidden-check regions that the student version does not show.

    A line of a region that also appears in the student notebook (``return loss`` written again
    below the stub, a markdown sentence) proves nothing and is left out.
    """
    shown = set()
    for cell in student.make_student_notebook(notebook).cells:
        shown.update(line.strip() for line in cell.source.split("\n"))
    lines, inside = set(), False
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.split("\n"):
            marker = line.strip()
            if marker.startswith((student.BEGIN_SOLUTION, student.BEGIN_HIDDEN)):
                inside = True
            elif marker in (student.END_SOLUTION, student.END_HIDDEN):
                inside = False
            elif inside and len(marker) >= 8 and not marker.startswith("#") and marker not in shown:
                lines.add(marker)
    return lines


def leaked_lines(page_html: str, lines: set[str]) -> list[str]:
    """The ``lines`` that a page shows as a line of its text (tags stripped, entities decoded)."""
    text = BeautifulSoup(page_html, "html.parser").get_text()  # code keeps its own line breaks
    shown = {line.strip() for line in text.split("\n")}
    markers = [marker for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN CHECKS") if marker in text]
    return sorted(line for line in lines if line in shown) + markers


@pytest.mark.slow
def test_the_learner_site_shows_no_solution_and_no_hidden_check(course_site):
    checked = 0
    for path in site.list_notebooks(NOTEBOOKS):
        lines = solution_lines(student.read_notebook(path))
        assert lines, f"{path.name}: no solution lines found to look for"
        learner = (course_site["learner"] / site.page_name(path)).read_text(encoding="utf-8")
        assert leaked_lines(learner, lines) == [], f"{path.name}: solution code on the learner site"
        assert "# YOUR CODE HERE" in learner and student.STUB_TEXT in learner
        # The same check finds the solutions where they are shown: it can fail.
        instructor = (course_site["instructor"] / site.page_name(path)).read_text(encoding="utf-8")
        found = leaked_lines(instructor, lines)
        assert len(found) >= 0.9 * len(lines) + 1, f"{path.name}: the instructor edition lacks solutions"
        checked += len(lines)
    assert checked > 30
    # No executed solution notebook is published: the site holds pages, images, MathJax and CSS.
    assert not list(course_site["learner"].rglob("*.ipynb"))


@pytest.mark.slow
def test_both_editions_render_from_one_execution_with_outputs_and_bars(course_site):
    paths = site.list_notebooks(NOTEBOOKS)
    for audience in site.AUDIENCES:
        folder = course_site[audience]
        marker = json.loads((folder / site.MARKER).read_text())
        assert marker["audience"] == audience and marker["mode"] == "fast"
        assert marker["pages"] == ["index.html", *[site.page_name(path) for path in paths], *DOC_PAGES]
        assert sorted(thumbnail.stem for thumbnail in (folder / "thumbnails").glob("*.png")) == [
            path.stem for path in paths
        ]
        assert (folder / "mathjax" / "MathJax.js").is_file()
    controls = {}
    for path in paths:
        executed = student.read_notebook(course_site["executed"] / path.name)
        run = executed.metadata["course_site"]
        assert run["mode"] == "fast" and run["source_sha256"] == site.build._sha256(path)
        page = (course_site["learner"] / site.page_name(path)).read_text(encoding="utf-8")
        outputs = [output.get("data", {}) for cell in executed.cells for output in cell.get("outputs", [])]
        images = sum("image/png" in data for data in outputs)
        state = executed.metadata.get("widgets", {}).get(site.widgets.STATE_MIME, {}).get("state", {})
        # the figures, and the images that controls (ipywidgets.Image) hold in their saved state
        widget_images = sum(
            site.widget_html(data[site.widgets.VIEW_MIME]["model_id"], state).count('src="data:image/png;base64,')
            for data in outputs
            if site.widgets.VIEW_MIME in data
        )
        assert page.count('src="data:image/png;base64,') == images + widget_images and images > 0, path.name
        # A bar tqdm closed or hid (leave=False) is not drawn, as JupyterLab does not draw it.
        bars = sum(
            "<progress" in site.widget_html(data[site.widgets.VIEW_MIME]["model_id"], state)
            for data in outputs
            if site.widgets.VIEW_MIME in data
        )
        assert page.count('<progress class="course-widget-progress') == bars, path.name
        assert "course-widget-missing" not in page, f"{path.name}: a widget the site cannot draw"
        # every control (something a reader could use) says once that it needs the running notebook
        controls[path.name] = sum(
            site.widgets.is_control(data[site.widgets.VIEW_MIME]["model_id"], state)
            for data in outputs
            if site.widgets.VIEW_MIME in data
        )
        assert page.count(site.widgets.FRONTEND_HINT) == controls[path.name], path.name
        assert not re.search(r'<script[^>]+src="(https?:)?//', page), f"{path.name}: a remote script"
    assert controls["05_what_convnets_learn.ipynb"] == 1 and controls["06_conv1d_conv3d_keras_workflow.ipynb"] == 3
    results = (course_site["learner"] / "results.html").read_text(encoding="utf-8")
    assert "99.00 % ± 0.17" in results and 'src="images/docs/nst_tubingen_starry_night.png"' in results
    index = (course_site["learner"] / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{page}"' in index for page in DOC_PAGES)  # every docs page is one click away


@pytest.mark.slow
def test_a_second_edition_reuses_the_saved_execution(course_site, tmp_path):
    lines = []
    pages = site.build_site(
        ["instructor"],
        fast=True,
        out_dir=tmp_path / "again",
        notebooks_dir=NOTEBOOKS,
        only=["06"],
        reuse=True,
        executed_folder=course_site["executed"],
        log=lines.append,
    )
    assert lines[0] == "site: 06_conv1d_conv3d_keras_workflow.ipynb: saved fast-mode run reused"
    assert [page.name for page in pages["instructor"]] == [
        "index.html",
        "06_conv1d_conv3d_keras_workflow.html",
        *DOC_PAGES,
    ]
    assert (tmp_path / "again-instructor" / "index.html").is_file()
    assert not (tmp_path / "again").exists()
