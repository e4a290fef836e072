"""Showing a control, the one line it speaks in, and a long run with a Stop button.

Example:
    >>> import ipywidgets
    >>> show_control(ipywidgets.FloatSlider(value=0.6), "tau = 0.60: FAR 0.3 %, FRR 1.2 %")
    tau = 0.60: FAR 0.3 %, FRR 1.2 %
    >>> run = BackgroundRun("Count")
    >>> run.run_now(lambda run: sum(range(4)))
    6
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets

from utils.errors import CourseError, UsageError

__all__ = ["show_control", "MessageLine", "BackgroundRun"]

_COLOURS = {"info": "#3b4a5a", "success": "#1e6b35", "error": "#a4161a"}
_SIGNS = {"info": "", "success": "✓ ", "error": "✗ "}


def _in_a_kernel() -> bool:
    """True inside IPython (a notebook kernel or an IPython shell), where ``display`` shows things."""
    try:
        from IPython import get_ipython  # deferred: IPython is only needed where it runs
    except ImportError:  # pragma: no cover - IPython is a requirement
        return False
    return get_ipython() is not None


def show_control(widget: ipywidgets.Widget, summary: str) -> None:
    """Show ``widget``; where no front end draws widgets, show ``summary`` instead.

    The output carries both forms: the widget view, which JupyterLab 4 and Notebook 7 draw, and
    ``summary`` as its plain text, which is what nbval, nbclient, the grader and a terminal record.
    Write ``summary`` as what the control shows for its default value (the numbers, the decision).

    Args:
        widget: the control (any ipywidgets widget, boxes included).
        summary: its plain-text form, one or a few lines.

    Returns:
        None.
    """
    if not isinstance(summary, str) or not summary.strip():
        raise UsageError("show_control needs the control's plain-text summary (what it shows by default)")
    if not _in_a_kernel():
        print(summary)
        return
    from IPython.display import display  # deferred: IPython is only needed where it runs

    bundle = dict(widget._repr_mimebundle_() or {})
    bundle["text/plain"] = summary
    display(bundle, raw=True)


def _one_line(error: BaseException | str) -> str:
    """An error as one line: a course error's own message, else ``Type: first line`` (no traceback)."""
    if isinstance(error, str):
        text = error
    elif isinstance(error, CourseError):
        text = str(error.args[0]) if error.args else type(error).__name__
    else:
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        text = f"{type(error).__name__}: {first}" if first else type(error).__name__
    return " ".join(text.split())


class MessageLine(ipywidgets.HTML):
    """One line of text under a control: information, success, or an error (never a traceback).

    Attributes:
        text: the plain text of the current line ("" when cleared).
        kind: "", "info", "success" or "error".

    Example:
        >>> line = MessageLine()
        >>> line.success("Enrolled ada (1 photo).")
        >>> line.text
        'Enrolled ada (1 photo).'
        >>> line.error(KeyError("x")), line.kind
        (None, 'error')
    """

    def __init__(self, **kwargs):
        super().__init__(value="", **kwargs)
        self.text = ""
        self.kind = ""

    def _set(self, kind: str, text: str) -> None:
        self.kind, self.text = kind, text
        if not text:
            self.value = ""
            return
        self.value = (
            f'<span class="course-message course-message-{kind}" style="color:{_COLOURS[kind]}">'
            f"{html.escape(_SIGNS[kind] + text)}</span>"
        )

    def info(self, text: str) -> None:
        """Show ``text`` as information."""
        self._set("info", _one_line(text))

    def success(self, text: str) -> None:
        """Show ``text`` as a success."""
        self._set("success", _one_line(text))

    def error(self, error: BaseException | str) -> None:
        """Show an error: a string, or an exception as one line (its message; the type for others)."""
        self._set("error", _one_line(error))

    def clear(self) -> None:
        """Show nothing."""
        self._set("", "")


class BackgroundRun(ipywidgets.HBox):
    """A Run button, a Stop button, a progress bar and a message line around a long loop.

    The loop runs in a background thread, so the kernel stays free to receive the Stop click
    (a click reaches the kernel only between cells otherwise). The loop is a function
    ``work(run)`` that calls ``run.progress(done, total)`` and checks ``run.stopped`` each step, and
    returns its result (after a Stop too: what it has so far, e.g. the best image).

    Args:
        label: the Run button's text.
        total: the number of steps, if known now (else give it to :meth:`progress`).

    Attributes:
        result: what the last run returned (None while running or after an error).
        error: the exception the last run raised, else None (shown in the message line).

    Example:
        >>> def count(run):
        ...     for step in range(5):
        ...         if run.stopped:
        ...             break
        ...         run.progress(step + 1, 5)
        ...     return step + 1
        >>> run = BackgroundRun("Count", total=5)
        >>> run.start(count)
        >>> run.join(timeout=10)
        >>> run.result, run.bar.value
        (5, 5)
    """

    def __init__(self, label: str = "Run", total: int | None = None):
        self.run_button = ipywidgets.Button(description=label, icon="play", button_style="primary")
        self.stop_button = ipywidgets.Button(description="Stop", icon="stop", disabled=True)
        self.bar = ipywidgets.IntProgress(
            value=0, min=0, max=max(1, int(total or 1)), layout=ipywidgets.Layout(width="220px")
        )
        self.message = MessageLine()
        super().__init__([self.run_button, self.stop_button, self.bar, self.message])
        self.stop_button.on_click(lambda _: self.stop())
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.result: Any = None
        self.error: BaseException | None = None

    @property
    def stopped(self) -> bool:
        """True once Stop was pressed (or :meth:`stop` called) during the current run."""
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        """True while a run started with :meth:`start` has not finished."""
        return self._thread is not None and self._thread.is_alive()

    def progress(self, done: int, total: int | None = None, text: str = "") -> None:
        """Move the bar to ``done`` of ``total`` steps and, if given, show ``text``."""
        if total is not None:
            self.bar.max = max(1, int(total))
        self.bar.value = max(0, min(int(done), self.bar.max))
        if text:
            self.message.info(text)

    def stop(self) -> None:
        """Ask the running loop to stop at its next check of :attr:`stopped`."""
        self._stop.set()
        self.stop_button.disabled = True
        if self.running:
            self.message.info("Stopping after the current step ...")

    def _body(self, work: Callable, on_done: Callable | None) -> None:
        self.result, self.error = None, None
        try:
            self.result = work(self)
        except Exception as error:  # the loop's own failure: one line in the widget, kept in .error
            self.error = error
            self.message.error(error)
        finally:
            self.run_button.disabled = False
            self.stop_button.disabled = True
        if on_done is not None and self.error is None:
            try:
                on_done(self.result)
            except Exception as error:  # showing the result failed: say so, never a traceback
                self.error = error
                self.message.error(error)

    def _prepare(self) -> None:
        if self.running:
            raise UsageError("this run is still going: press Stop or wait for it to finish")
        self._stop.clear()
        self.bar.value = 0
        self.message.clear()
        self.run_button.disabled = True
        self.stop_button.disabled = False

    def start(self, work: Callable[[BackgroundRun], Any], on_done: Callable[[Any], None] | None = None) -> None:
        """Run ``work(self)`` in a background thread; then ``on_done(result)`` (also after a Stop)."""
        self._prepare()
        self._thread = threading.Thread(
            target=self._body, args=(work, on_done), daemon=True, name="course-background-run"
        )
        self._thread.start()

    def run_now(self, work: Callable[[BackgroundRun], Any], on_done: Callable[[Any], None] | None = None) -> Any:
        """Run ``work(self)`` in the caller's thread (a cell's default run, which nbval waits for).

        Returns:
            What ``work`` returned (None after an error, which the message line shows).
        """
        self._prepare()
        self._body(work, on_done)
        return self.result

    def join(self, timeout: float | None = None) -> None:
        """Wait for a run started with :meth:`start` to finish (at most ``timeout`` seconds)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def on_click(self, work: Callable[[BackgroundRun], Any], on_done: Callable[[Any], None] | None = None) -> None:
        """Start ``work`` in the background each time the Run button is pressed."""

        def clicked(_button):
            try:
                self.start(work, on_done)
            except CourseError as error:
                self.message.error(error)

        self.run_button.on_click(clicked)
