"""Build the course site: every notebook executed once, then rendered for learners and instructors.

The notebooks are committed without outputs, so nothing in the repository shows a figure until the
whole setup has run. This module publishes them *executed*, as a static site to read before and
beside running them, in two steps kept apart so both editions render from one execution:

1. **Execute** (:func:`execute_notebooks`): each solution notebook runs top to bottom in a fresh
   Jupyter kernel (``nbclient``, the same executor nbval and the autograder use), in normal mode
   or in fast mode (``COURSE_FAST``), with the widget state saved. The executed notebook is kept
   in ``outputs/site-executed/<mode>/`` with the SHA-256 of its source, so a second edition (or
   ``--reuse-executed``) renders without running anything again.
2. **Render** (:func:`render_site`): nbconvert's JupyterLab template, extended by
   ``templates/course/`` with a navigation bar and previous/next links, turns each executed
   notebook into one page. The **learner** edition shows every code cell the way the student
   notebook shows it (:func:`utils.course.student.stub_source`: solution regions become the
   ``# YOUR CODE HERE`` stub, hidden checks disappear) *with the outputs the solution produced*;
   the **instructor** edition shows the solutions. An index page (what the course is, one line
   and one thumbnail per notebook, how to run it) and the documentation pages of ``docs/`` that
   :data:`DOC_PAGES` lists (measured results, the library, errors, ...) complete it.

Everything a page needs is in the site folder, so it reads the same from a USB stick with no
network: MathJax 2.7 from the ``jupyter-server-mathjax`` package is copied into ``mathjax/``,
widgets (tqdm's progress bars and the notebooks' controls) are drawn as static HTML from their saved state
(:mod:`utils.course.site.widgets`), images are embedded or copied, and the template loads no
require.js, web font or CDN script.

The learner edition is written to ``site/`` and the instructor edition to ``site-instructor/``
beside it, so publishing ``site/`` can never publish a solution. A folder is replaced only when
it is empty or was written by this module (it holds ``.course-site.json``).

Usage::

    python -m utils.course.site                        # learner edition, normal mode
    python -m utils.course.site --fast --audience both # what the tests build
    python -m utils.course.site --audience instructor --reuse-executed

Example:
    >>> page_name(Path("notebooks/05_what_convnets_learn.ipynb"))
    '05_what_convnets_learn.html'
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime
import hashlib
import html
import importlib.util
import io
import json
import os
import re
import shutil
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbconvert import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from utils import config, files
from utils.course import student
from utils.course.site import widgets
from utils.errors import CourseError, UsageError, report

#: The two editions of the site.
AUDIENCES = ("learner", "instructor")

#: File in the root of every site folder this module writes; a folder without it is never replaced.
MARKER = ".course-site.json"

#: MathJax's entry point and configuration, relative to a page (the copy lives in ``mathjax/``).
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"

#: Largest thumbnail on the index page, in pixels (width, height).
THUMBNAIL_SIZE = (360, 240)

#: The documentation pages shown after the notebooks, in this order: (file in ``docs/``, page,
#: label in the navigation bar). The README links each of them; their links to one another, to
#: the README (the index page) and to their headings become links inside the site.
DOC_PAGES = (
    ("NOTEBOOKS.md", "notebooks.html", "Notebooks in detail"),
    ("RESULTS.md", "results.html", "Measured results"),
    ("LIBRARY.md", "library.html", "Library"),
    ("ASSETS.md", "assets.html", "Weights and data"),
    ("ERRORS.md", "errors.html", "Errors"),
    ("SUPPORTED_SYSTEMS.md", "systems.html", "Systems"),
    ("TEACHING.md", "teaching.html", "Teaching"),
    ("TESTING.md", "testing.html", "Tests"),
)

_HERE = Path(__file__).resolve().parent
_TEMPLATES = _HERE / "templates"
_STATIC = _HERE / "static"
_NOTEBOOK_NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+\.ipynb$")
_LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # colours in IPython's tracebacks


def page_name(notebook: Path) -> str:
    """The site page of a notebook: its file name with ``.html``.

    Args:
        notebook: the notebook's path.

    Returns:
        ``"NN_name.html"``.
    """
    return Path(notebook).with_suffix(".html").name


def list_notebooks(folder: Path, only: list[str] | None = None) -> list[Path]:
    """The course notebooks (``NN_name.ipynb``) in ``folder``, in course order.

    Args:
        folder: the folder of solution notebooks.
        only: keep the notebooks whose file name starts with one of these prefixes (``["05"]``).

    Returns:
        The paths, sorted.

    Raises:
        UsageError: the folder does not exist or holds no course notebook, or ``only`` matches none.

    Example:
        >>> [path.name[:2] for path in list_notebooks(config.REPO_ROOT / "notebooks", only=["06"])]
        ['06']
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder of notebooks")
    paths = sorted(path for path in folder.iterdir() if _NOTEBOOK_NAME.match(path.name))
    if only:
        paths = [path for path in paths if any(path.name.startswith(prefix) for prefix in only)]
    if not paths:
        raise UsageError(f"{folder} holds no course notebook (NN_name.ipynb)"
                         + (f" starting with {', '.join(only)}" if only else ""))
    return paths


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _mode(fast: bool) -> str:
    return "fast" if fast else "normal"


def executed_dir(fast: bool) -> Path:
    """Where the executed notebooks of one mode are kept: ``<outputs>/site-executed/<mode>/``."""
    return config.output_dir(f"site-executed/{_mode(fast)}")


def _saved_run(source: Path, executed: Path, fast: bool) -> bool:
    """Whether ``executed`` is a complete run of the current ``source`` in this mode."""
    if not executed.is_file():
        return False
    try:
        run = student.read_notebook(executed).metadata.get("course_site", {})
    except CourseError:
        return False
    return run.get("source_sha256") == _sha256(source) and run.get("mode") == _mode(fast)


def execute_notebooks(paths: list[Path], out_dir: Path, fast: bool, timeout: int = 1800,
                      reuse: bool = False, log=print) -> list[Path]:
    """Run each notebook top to bottom in a fresh kernel and save it with its outputs.

    The kernel gets ``COURSE_FAST=1`` (fast) or ``COURSE_FAST=0`` (normal) and starts in the
    notebook's folder, like JupyterLab and nbval. Widget state is saved in the notebook's metadata.
    The run's mode, source SHA-256, time and duration go into ``metadata.course_site``.

    Args:
        paths: the solution notebooks.
        out_dir: folder for the executed notebooks (created).
        fast: fast mode.
        timeout: seconds one cell may run.
        reuse: skip a notebook whose saved run matches its current source and mode.
        log: where to print one progress line per notebook.

    Returns:
        The executed notebooks' paths, in the order of ``paths``.

    Raises:
        CourseError: a cell raised or ran out of time (the message names the notebook and cell).
    """
    out_dir = Path(out_dir)
    environment = dict(os.environ, **{config.FAST_ENV_VAR: "1" if fast else "0"})
    executed = []
    for path in paths:
        target = out_dir / path.name
        if reuse and _saved_run(path, target, fast):
            log(f"site: {path.name}: saved {_mode(fast)}-mode run reused")
            executed.append(target)
            continue
        notebook = student.read_notebook(path)
        client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                                store_widget_state=True,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        try:
            client.execute(env=environment)
        except (CellExecutionError, CellTimeoutError) as error:
            summary = " ".join(_ANSI.sub("", str(error)).split())[-300:]
            raise CourseError(f"{path.name} failed while the site executed it in {_mode(fast)} mode: "
                              f"{summary}") from None
        seconds = time.perf_counter() - start
        notebook.metadata["course_site"] = {
            "source_sha256": _sha256(path), "mode": _mode(fast), "seconds": round(seconds, 1),
            "executed_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
        with files.atomic_write(target, "w", encoding="utf-8") as handle:
            nbformat.write(notebook, handle)
        log(f"site: {path.name}: executed in {_mode(fast)} mode in {seconds:.1f} s")
        executed.append(target)
    return executed


def learner_notebook(notebook):
    """The learner's view of an executed solution notebook: student sources, solution outputs.

    Every code cell's source becomes what the student notebook shows
    (:func:`utils.course.student.stub_source`); outputs and execution counts stay.

    Raises:
        NotebookFormatError: a cell's solution or hidden-check markers are broken.
    """
    notebook = copy.deepcopy(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            cell.source = student.stub_source(cell.source, f"cell {index}")
    return notebook


def _first_heading(notebook) -> str | None:
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return None


def _one_line(notebook) -> str:
    """The first sentence of the notebook's introduction: its first paragraph of prose, leaving
    out headings, the table of contents (``**Contents.**``) and its ``**Estimated time:**`` line,
    lists, tables and HTML, and the ``**Introduction.**`` label."""
    for cell in notebook.cells:
        if cell.cell_type != "markdown":
            continue
        for paragraph in re.split(r"\n\s*\n", cell.source):
            text = " ".join(paragraph.split())
            if not text or text.startswith(("#", "**Contents", "**Estimated time", "* ", "- ", "1.", "|", "<", "!",
                                            "$$")):
                continue
            text = re.sub(r"^\*\*Introduction\.\*\*\s*", "", text)
            match = re.match(r"(.+?[.!?:])(\s|$)", text)
            return match.group(1) if match else text
    return ""


def _thumbnail(notebook, target: Path) -> bool:
    """Save the notebook's largest PNG output, shrunk to THUMBNAIL_SIZE, as ``target``."""
    from PIL import Image  # deferred: only the index page's thumbnails need Pillow

    best, best_area = None, 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get("image/png")
            if not data:
                continue
            image = Image.open(io.BytesIO(base64.b64decode(data)))
            if image.width * image.height > best_area:
                best, best_area = image, image.width * image.height
    if best is None:
        return False
    best = best.convert("RGB")
    best.thumbnail(THUMBNAIL_SIZE)
    with files.atomic_path(target) as temporary:
        best.save(temporary, format="PNG")
    return True


def _readme_intro(readme: str) -> tuple[str, str]:
    """The README's title and its introduction (before the first ``## ``), minus sentences about
    "below" (they point into the README, not into the site)."""
    title_match = re.search(r"^# (.+)$", readme, re.M)
    title = title_match.group(1).strip() if title_match else "Course"
    body = readme[title_match.end():] if title_match else readme
    body = re.split(r"^## ", body, maxsplit=1, flags=re.M)[0]
    blocks = [block for block in re.split(r"\n\s*\n", body.strip()) if " below" not in block]
    return title, "\n\n".join(blocks)


def _doc_page(text: str, fallback: str) -> tuple[str, str]:
    """A documentation page's title (its ``# `` heading, else ``fallback``) and the rest of its text."""
    match = re.search(r"^# (.+)$", text, re.M)
    if not match:
        return fallback, text.strip()
    return match.group(1).strip(), text[match.end():].strip()


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a markdown heading: the project's links use it.

    Example:
        >>> github_anchor("The course site (`utils/course/site/`)")
        'the-course-site-utilscoursesite'
    """
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchored(markdown: str) -> tuple[str, set[str]]:
    r"""The markdown with an anchor named as GitHub names it in every heading, and those anchors.

    nbconvert gives a page's headings no id (the site leaves out its anchor links), so the
    README's and the docs pages' links to a heading (``ASSETS.md#from-python``) need one.
    Headings inside code blocks are left alone.

    Example:
        >>> anchored("## From Python\n```bash\n# a comment\n```")
        ('## <a id="from-python"></a>From Python\n```bash\n# a comment\n```', {'from-python'})
    """
    lines, names, fenced = [], set(), False
    for line in markdown.split("\n"):
        if re.match(r"^\s*(```|~~~)", line):
            fenced = not fenced
        match = None if fenced else re.match(r"^(#{1,6}\s+)(.+?)\s*#*\s*$", line)
        if match and github_anchor(match.group(2)) not in names:
            name = github_anchor(match.group(2))
            names.add(name)
            line = f'{match.group(1)}<a id="{name}"></a>{match.group(2)}'
        lines.append(line)
    return "\n".join(lines), names


def _site_links(markdown: str, source: Path, site: Path, pages: dict[Path, tuple[str, set[str]]]) -> str:
    """Rewrite the links of the README's or a docs page's text for the site.

    Images are copied into ``images/docs/``; a link to a markdown file the site shows as a page,
    or to one of its headings, becomes a link to that page and heading; any other relative link
    becomes plain text naming the repository file.

    Args:
        markdown: the text.
        source: the markdown file it comes from (relative links start from its folder).
        site: the site folder.
        pages: resolved path of each markdown file the site shows -> (its page, its :func:`anchored` names).

    Returns:
        The text with its links rewritten.
    """

    def replace(match):
        bang, text, target = match.groups()
        if re.match(r"^[a-z]+:", target):
            return match.group(0)
        path_part, _, fragment = target.partition("#")
        resolved = (source.parent / path_part).resolve() if path_part else source.resolve()
        if bang:
            if not resolved.is_file():
                return text
            copied = site / "images" / "docs" / resolved.name
            copied.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(resolved, copied)
            return f"![{text}](images/docs/{resolved.name})"
        if resolved in pages:
            page, names = pages[resolved]
            return f"[{text}]({page}#{fragment})" if fragment in names else f"[{text}]({page})"
        try:
            shown = resolved.relative_to(config.REPO_ROOT).as_posix()
        except ValueError:  # a file outside the checkout: named as the link wrote it
            shown = path_part
        if text.strip("`") in (shown, target):
            return f"`{shown}` (in the repository)"
        return f"{text} (`{shown}` in the repository)"

    return _LINK.sub(replace, markdown)


def _markdown_notebook(title: str, sources: list[str]):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(source) for source in sources])
    notebook.metadata["title"] = title
    return notebook


def check_replaceable(out_dir: Path) -> None:
    """Refuse a site folder that this module did not write (it would be emptied).

    Raises:
        UsageError: ``out_dir`` is a file, a link, or a non-empty folder without ``MARKER``.
    """
    out_dir = Path(out_dir)
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise UsageError(f"{out_dir} is not a folder; refusing to replace it with the course site")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise UsageError(f"{out_dir} exists and was not written by utils.course.site (no {MARKER}); "
                         f"refusing to empty it (move it away or choose another --out)")


def _prepare_folder(out_dir: Path) -> None:
    """Empty ``out_dir`` for a new build, refusing any folder this module did not write."""
    check_replaceable(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)


def _copy_mathjax(out_dir: Path) -> None:
    """Copy MathJax 2.7 from the ``jupyter-server-mathjax`` package into ``out_dir/mathjax``."""
    spec = importlib.util.find_spec("jupyter_server_mathjax")
    source = Path(spec.origin).resolve().parent / "static" if spec and spec.origin else None
    if source is None or not (source / "MathJax.js").is_file():
        raise CourseError("MathJax not found: the site ships the copy in the jupyter-server-mathjax "
                          "package; install it with `.venv/bin/python -m pip install -r requirements.txt`")
    shutil.copytree(source, out_dir / "mathjax")


def _exporter() -> HTMLExporter:
    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(_TEMPLATES)])
    exporter.mathjax_url = MATHJAX_URL
    exporter.exclude_anchor_links = True
    return exporter


def render_site(executed: list[Path], out_dir: Path, audience: str, notebooks_dir: Path,
                readme: Path | None = None, log=print, docs_dir: Path | None = None) -> list[Path]:
    """Render executed notebooks, an index and the documentation pages into a static site.

    Args:
        executed: executed solution notebooks (from :func:`execute_notebooks`), in course order.
        out_dir: the site folder (emptied first; see the module docstring).
        audience: ``"learner"`` (student sources, no solution, no hidden check) or
            ``"instructor"`` (solutions shown).
        notebooks_dir: the solution notebooks' folder (its ``images/`` is copied along).
        readme: the README whose introduction the index page shows.
        log: where to print one summary line.
        docs_dir: the folder of the :data:`DOC_PAGES` (default ``docs/``; a page it lacks is left out).

    Returns:
        The HTML pages written, index first.

    Raises:
        UsageError: unknown audience, or ``out_dir`` is a folder this module did not write.
        NotebookFormatError: an executed notebook is unreadable or its markers are broken.
    """
    if audience not in AUDIENCES:
        raise UsageError(f"audience must be one of {', '.join(AUDIENCES)}; got {audience!r}")
    out_dir, notebooks_dir = Path(out_dir), Path(notebooks_dir)
    readme = Path(readme) if readme else config.REPO_ROOT / "README.md"
    readme_text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    docs_dir = Path(docs_dir) if docs_dir else config.REPO_ROOT / "docs"
    docs = [(docs_dir / name, page, label) for name, page, label in DOC_PAGES if (docs_dir / name).is_file()]
    notebooks = [student.read_notebook(path) for path in executed]
    modes = {notebook.metadata.get("course_site", {}).get("mode", "unknown") for notebook in notebooks}
    mode = modes.pop() if len(modes) == 1 else "mixed"

    _prepare_folder(out_dir)
    _copy_mathjax(out_dir)
    shutil.copyfile(_STATIC / "course.css", out_dir / "course.css")
    if (notebooks_dir / "images").is_dir():
        shutil.copytree(notebooks_dir / "images", out_dir / "images", dirs_exist_ok=True)

    course_title, intro = _readme_intro(readme_text)
    doc_texts = {}
    for path, _, label in docs:
        title, body = _doc_page(path.read_text(encoding="utf-8"), label)
        doc_texts[path] = (title, *anchored(body))
    entries = [{"href": page_name(path), "label": path.name[:2],
                "title": _first_heading(notebook) or path.stem} for path, notebook in zip(executed, notebooks)]
    doc_entries = [{"href": page, "label": label, "title": doc_texts[path][0]} for path, page, label in docs]
    pages = [{"href": "index.html", "label": "Home", "title": "Home"}, *entries, *doc_entries]
    # Links between the README and the docs pages stay inside the site, headings included.
    linked = {readme.resolve(): ("index.html", anchored("## The notebooks\n## How to run it")[1])}
    linked.update({path.resolve(): (page, doc_texts[path][2]) for path, page, _ in docs})

    edition = "Learner edition" if audience == "learner" else "Instructor edition (solutions shown)"
    built = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    banner = ""
    if mode == "fast":
        banner = ("This build ran the notebooks in fast mode (COURSE_FAST=1): fewer steps, smaller "
                  "images and smaller data sets than a normal run, so its figures and numbers differ "
                  "from those a normal run prints.")
    exporter = _exporter()
    written = []

    def write_page(index: int, notebook, executed_here: bool = True) -> None:
        page = pages[index]
        course = {"root": "", "audience_label": edition, "banner": banner if executed_here else "",
                  "nav": [dict(entry, current=(number == index)) for number, entry in enumerate(pages)],
                  "previous": pages[index - 1] if index > 0 else None,
                  "next": pages[index + 1] if index + 1 < len(pages) else None,
                  "footer": f"{edition}, built {built} from notebooks executed in {mode} mode."}
        resources = {"course": course, "metadata": {"name": page["title"]}}
        body, _ = exporter.from_notebook_node(notebook, resources=resources)
        target = out_dir / page["href"]
        files.write_text(target, body)
        written.append(target)

    # Index: what the course is, the notebooks (one line and one thumbnail each), how to run it.
    cards = []
    (out_dir / "thumbnails").mkdir()
    for path, notebook, entry in zip(executed, notebooks, entries):
        thumbnail = f"thumbnails/{path.stem}.png"
        has_image = _thumbnail(notebook, out_dir / thumbnail)
        one_line = markdown2html_mistune(_one_line(notebook)).strip()
        one_line = re.sub(r"^<p>(.*)</p>$", r"\1", one_line, flags=re.S)
        image = (f'<img src="{thumbnail}" alt="A figure from notebook {entry["label"]}">'
                 if has_image else "")
        cards.append(f'<a class="course-card" href="{entry["href"]}">{image}'
                     f'<strong>{entry["label"]} · {html.escape(entry["title"])}</strong>'
                     f'<span>{one_line}</span></a>')
    how_to = ("## How to run it\n\n"
              "Every page here is a notebook as it ended when the site was built"
              + (": each exercise shows the `# YOUR CODE HERE` stub you will fill in, and the output "
                 "below it is what the finished solution printed. " if audience == "learner" else
                 ", with its solutions. ")
              + "To run the notebooks yourself, on a machine with Python 3.11–3.13 and `make`:\n\n"
                "```bash\n"
                "make setup                              # virtual environment, weights, data sets\n"
                "make students                           # the exercise versions, in notebooks/student/\n"
                ".venv/bin/jupyter lab notebooks/student/\n"
                "```\n\n"
                "Write your code in place of each stub, run the cell, then run the check cell below it. "
                "`COURSE_FAST=1` runs every notebook in fast mode (fewer steps, smaller images) "
                "in about half a minute each on two CPU cores.")
    more = "".join(f"\n- [{entry['title']}]({entry['href']})" for entry in doc_entries)
    index_sources = [f"# {course_title}\n\n{_site_links(intro, readme, out_dir, linked)}",
                     "## The notebooks\n\n<div class=\"course-cards\">" + "".join(cards) + "</div>",
                     how_to] + ([f"## More about the course\n{more}"] if more else [])
    index_sources = [anchored(source)[0] for source in index_sources]
    write_page(0, _markdown_notebook(course_title, index_sources))

    widgets_drawn = 0
    for number, notebook in enumerate(notebooks, start=1):
        shown = learner_notebook(notebook) if audience == "learner" else notebook
        shown, drawn = widgets.render_widgets_static(shown)
        widgets_drawn += drawn
        write_page(number, shown)

    for number, (path, _, _) in enumerate(docs, start=len(notebooks) + 1):
        title, body, _ = doc_texts[path]
        text = _site_links(body, path, out_dir, linked)
        # Written pages (measured results...), not this build's outputs: no fast-mode banner.
        write_page(number, _markdown_notebook(title, [f"# {title}\n\n{text}"]), executed_here=False)

    files.write_text(out_dir / MARKER, json.dumps(
        {"generator": "utils.course.site", "audience": audience, "mode": mode, "built": built,
         "pages": [page["href"] for page in pages]}, indent=1) + "\n")
    log(f"site: {audience} edition: {len(written)} pages, {widgets_drawn} widgets drawn from their saved state, "
        f"in {out_dir}")
    return written


def instructor_folder(out_dir: Path) -> Path:
    """Where the instructor edition goes: ``<out>-instructor`` beside the learner site."""
    out_dir = Path(out_dir)
    return out_dir.with_name(out_dir.name + "-instructor")


def build_site(audiences: list[str], fast: bool, out_dir: Path, notebooks_dir: Path,
          only: list[str] | None = None, reuse: bool = False, timeout: int = 1800,
          executed_folder: Path | None = None, log=print) -> dict[str, list[Path]]:
    """Execute the notebooks once and render every edition asked for.

    Args:
        audiences: editions to render (``"learner"``, ``"instructor"``).
        fast: execute in fast mode.
        out_dir: the learner site folder; the instructor edition goes to ``<out_dir>-instructor``.
        notebooks_dir: the solution notebooks.
        only: notebook prefixes to include (all when None).
        reuse: render from saved runs of the current sources where they exist.
        timeout: seconds one cell may run.
        executed_folder: where executed notebooks are kept (default :func:`executed_dir`).
        log: where progress lines go.

    Returns:
        ``{audience: pages written}``.
    """
    paths = list_notebooks(notebooks_dir, only)
    folders = {audience: out_dir if audience == "learner" else instructor_folder(out_dir)
               for audience in audiences}
    for folder in folders.values():
        check_replaceable(folder)  # before minutes of execution, not after
    start = time.perf_counter()
    executed = execute_notebooks(paths, executed_folder or executed_dir(fast), fast, timeout=timeout,
                                 reuse=reuse, log=log)
    executed_at = time.perf_counter()
    pages = {}
    for audience, folder in folders.items():
        pages[audience] = render_site(executed, folder, audience, notebooks_dir, log=log)
    log(f"site: executed in {executed_at - start:.1f} s, rendered in "
        f"{time.perf_counter() - executed_at:.1f} s; open {Path(out_dir) / 'index.html'}")
    return pages


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m utils.course.site [--audience A] [--fast] [--out DIR] ...``.

    Returns:
        0 on success, 2 with one line on stderr for a deliberate error (a failing notebook, a
        folder it will not replace).
    """
    parser = argparse.ArgumentParser(
        prog="python -m utils.course.site",
        description="Execute every course notebook and render the course site (learner edition in "
                    "OUT, instructor edition in OUT-instructor).")
    parser.add_argument("--audience", choices=[*AUDIENCES, "both"], default="learner",
                        help="which edition to build (default: learner)")
    parser.add_argument("--fast", action="store_true",
                        help="execute in fast mode (default: fast only when COURSE_FAST is set)")
    parser.add_argument("--out", type=Path, default=config.REPO_ROOT / "site",
                        help="learner site folder (default: site/ in the checkout)")
    parser.add_argument("--notebooks", type=Path, default=config.REPO_ROOT / "notebooks",
                        help="folder of solution notebooks (default: notebooks/)")
    parser.add_argument("--only", nargs="+", metavar="PREFIX",
                        help="only the notebooks whose names start with these prefixes (e.g. 05 06)")
    parser.add_argument("--reuse-executed", action="store_true",
                        help="render from saved runs of unchanged notebooks instead of running them")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds one cell may run (1800)")
    args = parser.parse_args(argv)
    audiences = list(AUDIENCES) if args.audience == "both" else [args.audience]
    try:
        if args.timeout <= 0:
            raise UsageError(f"--timeout must be a positive number of seconds; got {args.timeout}")
        build_site(audiences, fast=args.fast or config.fast_mode(), out_dir=args.out,
              notebooks_dir=args.notebooks, only=args.only, reuse=args.reuse_executed,
              timeout=args.timeout)
    except (CourseError, OSError) as error:
        return report(error)
    return 0
