"""A real JupyterLab for the browser tests: start it, open a notebook, run all cells, read the page.

:class:`JupyterLab` starts ``jupyter lab`` from this virtual environment on 127.0.0.1, on a free
port chosen by the operating system, with a random token, ``--no-browser``, in fast mode
(``COURSE_FAST=1``), rooted in a folder the test made (a copy of the notebooks) and with its
settings, workspaces and runtime files in that folder too, so nothing is written into the
checkout or the home folder. Two settings are fixed for the test: notebooks are not windowed
(JupyterLab 4 otherwise keeps only the cells on screen in the page, and the checks read every
cell), and JupyterLab does not fetch news or look for updates (no request leaves the machine).

:func:`run_all_cells` does what a learner does — the **Run** menu, then **Run All Cells** — and
waits until every code cell has run and the kernel is idle. :func:`notebook_report` reads what the
page shows: execution counts, tracebacks, widget errors, progress bars, images.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

#: JupyterLab settings for the test (user-settings/<plugin>.jupyterlab-settings).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}

#: What JupyterLab's widget manager shows in an output when it cannot draw a widget: an error box
#: (class ``jupyter-widgets-error-widget``, "Click to show javascript error.") or, in older
#: versions, one of these texts.
WIDGET_ERRORS = ("Error displaying widget", "Failed to load model class")


def write_notebook(path: Path, cells: list[str]) -> Path:
    """Write a notebook of code ``cells`` (sources) for a browser test, with the python3 kernel."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(notebook, path)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterLab:
    """``jupyter lab`` on 127.0.0.1 with a random port and token, rooted in ``root``.

    Use as a context manager; the server and its kernels stop on exit.

    Args:
        root: the folder JupyterLab serves (the notebooks' copy).
        state: a folder for JupyterLab's settings, workspaces and runtime files.
        environment: extra environment variables for the server and its kernels.
    """

    def __init__(self, root: Path, state: Path, environment: dict | None = None):
        self.root, self.state = Path(root), Path(state)
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.environment = environment or {}
        self.process = None
        self.log_path = self.state / "jupyterlab.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_settings(self) -> Path:
        settings = self.state / "user-settings"
        for plugin, values in LAB_SETTINGS.items():
            package, name = plugin.rsplit("/", 1)
            target = settings / package / f"{name}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        return settings

    def api(self, path: str, method: str = "GET"):
        """Call the server's REST API with the token; the decoded JSON answer (None when empty)."""
        request = urllib.request.Request(
            f"{self.url}{path}", method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def command(self) -> list[str]:
        """The server's command line (a subclass serves another front end, e.g. Notebook 7)."""
        settings = self._write_settings()
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.state / 'workspaces'}",
            "--ServerApp.open_browser=False",
            "--LabApp.news_url=",
            "--ServerApp.allow_root=True",
        ]

    def __enter__(self):
        environment = dict(
            os.environ,
            JUPYTER_RUNTIME_DIR=str(self.state / "runtime"),
            JUPYTER_CONFIG_DIR=str(self.state / "config"),
            **self.environment,
        )
        command = self.command()
        self.state.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment, cwd=self.root)
        log.close()
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{command[2]} exited with {self.process.returncode}:\n{self.log()}")
            try:
                self.api("/api/status")
                return self
            except OSError:
                time.sleep(0.5)
        self.__exit__(None, None, None)
        raise RuntimeError(f"{command[2]} did not answer within 90 s:\n{self.log()}")

    def shutdown_kernels(self) -> None:
        """Stop every kernel the server runs (one notebook's kernel before the next opens)."""
        for kernel in self.api("/api/kernels") or []:
            self.api(f"/api/kernels/{kernel['id']}", method="DELETE")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            try:
                self.shutdown_kernels()
            except OSError:
                pass
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return False


_STATE = r"""
const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
if (!notebook) return null;
const cells = Array.from(notebook.querySelectorAll('.jp-CodeCell'));
const prompts = cells.map(cell => {
  const prompt = cell.querySelector('.jp-InputPrompt');
  return prompt ? prompt.textContent.trim() : '';
});
const indicator = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
const connected = Array.from(document.querySelectorAll('.jp-StatusBar-TextItem'))
  .some(item => /\| Idle$/.test(item.textContent.trim()));
return {
  cells: cells.length,
  prompts: prompts,
  kernel: indicator ? indicator.getAttribute('data-status') : null,
  connected: connected,
};
"""

_REPORT = """
const notebook = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
const cells = Array.from(notebook.querySelectorAll('.jp-CodeCell'));
const outputs = Array.from(notebook.querySelectorAll('.jp-OutputArea-output'));
const errors = outputs.filter(output =>
    output.getAttribute('data-mime-type') === 'application/vnd.jupyter.error' ||
    /Traceback \\(most recent call last\\)/.test(output.textContent))
  .map(output => output.textContent.slice(0, 400));
// figures only: an image inside a widget (an ipywidgets.Image, a control's preview) is the widget's
const images = Array.from(notebook.querySelectorAll('.jp-OutputArea-output img'))
  .filter(image => !image.closest('.jupyter-widgets'))
  .map(image => ({complete: image.complete, width: image.naturalWidth}));
const widgetErrors = outputs.filter(output => output.querySelector('.jupyter-widgets-error-widget') ||
    WIDGET_ERRORS_JSON.some(text => output.textContent.includes(text)))
  .map(output => output.textContent.slice(0, 300));
const bars = notebook.querySelectorAll('.jp-OutputArea-output .widget-progress, ' +
                                       '.jp-OutputArea-output .widget-hprogress').length;
const widgets = notebook.querySelectorAll('.jp-OutputArea-output .jupyter-widgets').length;
return {
  cells: cells.length,
  prompts: cells.map(cell => cell.querySelector('.jp-InputPrompt').textContent.trim()),
  errors: errors, images: images, widgetErrors: widgetErrors, bars: bars, widgets: widgets,
};
""".replace("WIDGET_ERRORS_JSON", json.dumps(list(WIDGET_ERRORS)))


def _click_menu(driver, menu: str, command: str, seconds: float = 30) -> None:
    """Click a top menu by its label, then the item that runs ``command``."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, seconds)
    items = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#jp-menu-panel .lm-MenuBar-item"))
    target = next(item for item in items if item.text.strip() == menu)
    target.click()
    entry = wait.until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, f'.lm-Menu-item[data-command="{command}"]'))
    )
    entry.click()


def open_notebook(driver, lab: JupyterLab, name: str, seconds: float = 120) -> None:
    """Open ``name`` in JupyterLab; wait until its cells are on the page and its kernel is connected
    and idle (the status bar says "| Idle": before that, Run All renders the Markdown cells and
    runs no code)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{lab.url}/lab/tree/{name}?token={lab.token}&reset")
    WebDriverWait(driver, seconds, poll_frequency=0.5).until(
        lambda d: (state := d.execute_script(_STATE)) and state["cells"] > 0 and state["connected"]
    )


def run_all_cells(driver, seconds: float = 600) -> dict:
    """Run > Run All Cells, then wait until every code cell ran and the kernel is idle.

    Returns:
        The last state read (``cells``, ``prompts``, ``kernel``).

    Raises:
        TimeoutError: the notebook did not finish within ``seconds``.
    """
    before = driver.execute_script(_STATE)["prompts"]
    _click_menu(driver, "Run", "runmenu:run-all")
    deadline = time.monotonic() + seconds
    state, started, quiet_since = None, False, None
    while time.monotonic() < deadline:
        time.sleep(1.0)
        state = driver.execute_script(_STATE)
        prompts = state["prompts"]
        running = any("*" in prompt for prompt in prompts)
        started = started or running or prompts != before
        if not started:
            continue
        if state["kernel"] == "idle" and not running:
            # Run All stops at the first error, leaving later cells unrun: the run is over once
            # the kernel has stayed idle with nothing queued for two seconds.
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since >= 2.0:
                return state
        else:
            quiet_since = None
    raise TimeoutError(f"the notebook did not finish in {seconds} s: {state}")


def notebook_report(driver) -> dict:
    """What the open notebook's page shows (see the module docstring)."""
    return driver.execute_script(_REPORT)


def report_problems(report: dict, expected_images: int | None = None, expected_bars: int | None = None) -> list[str]:
    """What is wrong with a notebook page, as sentences (empty when nothing is).

    Args:
        report: from :func:`notebook_report`.
        expected_images: images the notebook displays (None: not checked).
        expected_bars: the least number of progress bars it shows as widgets (None: not checked).
    """
    problems = []
    not_run = [
        index
        for index, prompt in enumerate(report["prompts"])
        if not (prompt.startswith("[") and prompt.strip("[]: ").isdigit())
    ]
    if not_run:
        problems.append(
            f"{len(not_run)} of {report['cells']} code cells did not run "
            f"(cells {not_run[:10]}, prompts {[report['prompts'][i] for i in not_run[:5]]})"
        )
    for error in report["errors"]:
        problems.append(f"error output: {error[:300]}")
    for error in report["widgetErrors"]:
        problems.append(f"widget not drawn: {error[:200]}")
    broken = [image for image in report["images"] if not image["complete"] or image["width"] == 0]
    if broken:
        problems.append(f"{len(broken)} of {len(report['images'])} images did not load")
    if expected_images is not None and len(report["images"]) != expected_images:
        problems.append(f"{len(report['images'])} images displayed, {expected_images} expected")
    if expected_bars is not None and report["bars"] < expected_bars:
        problems.append(f"{report['bars']} progress bars drawn as widgets, at least {expected_bars} expected")
    return problems


# --- driving controls as a learner does (the widget tests of issue 28) ------------------------------


def fake_camera_arguments(video: Path) -> list[str]:
    """Chromium flags that put ``video`` (a .y4m file, looped) where the camera is and accept the
    camera prompt, so ``getUserMedia`` in a page gets that video."""
    return [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={Path(video).resolve()}",
    ]


#: ipywidgets' FileUpload keeps its <input type="file"> out of the page and opens the system's file
#: chooser with input.click(). This makes that click put the input in the page instead (emptied, so
#: that the same file can be chosen twice), where Selenium can type a path into it; the widget's own
#: "change" handler then reads the file, as after a learner's choice.
_EXPOSE_FILE_INPUT = """
if (!window.__courseFileInputs) {
  const click = HTMLInputElement.prototype.click;
  HTMLInputElement.prototype.click = function () {
    if (this.type !== 'file') return click.call(this);
    this.value = '';
    this.classList.add('course-test-file-input');
    if (!this.isConnected) document.body.appendChild(this);
  };
  window.__courseFileInputs = true;
}
document.querySelectorAll('.course-test-file-input').forEach(input => input.remove());
arguments[0].click();
"""


def upload_file(driver, upload_button, path: Path, seconds: float = 10) -> None:
    """Choose the file ``path`` in an ipywidgets FileUpload (``upload_button``, its button) as a learner does."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script(_EXPOSE_FILE_INPUT, upload_button)
    file_input = WebDriverWait(driver, seconds).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "input.course-test-file-input")
    )
    file_input.send_keys(str(Path(path).resolve()))


def wait_for_text(driver, css: str, expected: str, seconds: float = 120) -> str:
    """Wait until the element ``css`` shows text containing ``expected``; returns its text."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    found = {"text": None}

    def shows(d):
        # read in one script call: a widget redrawn between finding and reading leaves no stale element
        found["text"] = d.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.innerText : null;", css
        )
        return found["text"] is not None and expected in found["text"]

    try:
        WebDriverWait(driver, seconds, poll_frequency=0.25).until(shows)
    except TimeoutException:
        raise TimeoutError(f"{css} did not show {expected!r} within {seconds} s; it shows {found['text']!r}") from None
    return found["text"]
