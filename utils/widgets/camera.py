"""The browser's camera as a widget: start it, see yourself, capture one frame for the kernel.

:class:`Camera` is an `anywidget <https://anywidget.dev>`_: a few lines of JavaScript that run in
the page (JupyterLab 4, Notebook 7) and call the browser's ``navigator.mediaDevices.getUserMedia``
only when the learner presses **Start camera** (never on page load). **Capture** draws the current
video frame on a canvas, encodes it as JPEG in the browser and sets the widget's :attr:`Camera.frame`
trait to those bytes; the widget protocol carries them to this notebook's Python kernel and to
nothing else (no request leaves the page, no file is written). **Stop camera** (or closing the
view) turns the camera off.

What can go wrong gets one line in :attr:`Camera.error`, set by the JavaScript (the camera refused
by the learner or the browser, no camera at all, the camera busy, a page that is not a secure
context) or by Python (an empty frame: a capture before the video has a picture). A capture that
worked clears it.

Python code sees captures through :meth:`Camera.on_frame` (called once per capture, also when two
captures give the same bytes) and problems through :meth:`Camera.on_error`. :meth:`Camera.receive`
feeds a frame from Python through exactly the path a browser capture takes (tests, and a notebook
run without a front end).

Example:
    >>> camera = Camera()
    >>> seen = []
    >>> camera.on_frame(lambda frame: seen.append(len(frame)))
    >>> camera.receive(b"\\xff\\xd8 not really a JPEG")
    >>> seen, camera.captures, camera.error
    ([20], 1, '')
    >>> camera.receive(b"")
    >>> camera.error
    'the camera sent an empty frame (no picture yet?): wait until the preview shows you, then press Capture again'
"""

from __future__ import annotations

from collections.abc import Callable

import anywidget
import traitlets
from ipywidgets.widgets.trait_types import bytes_serialization

__all__ = ["Camera", "EMPTY_FRAME", "PRIVACY_NOTE"]

#: The line shown when a capture holds no picture.
EMPTY_FRAME = (
    "the camera sent an empty frame (no picture yet?): wait until the preview shows you, then press Capture again"
)

#: What the widget says about where the picture goes.
PRIVACY_NOTE = "The picture goes only to this notebook's Python kernel; nothing is uploaded anywhere."

# The view. getUserMedia runs on a click only; every failure becomes one line in `error`.
_ESM = r"""
const MESSAGES = {
  NotAllowedError: "the camera was refused (by you or the browser's settings): allow the camera for this page and press Start camera again, or upload a photo instead",
  SecurityError: "the browser blocks the camera on this page: allow it in the site settings, or upload a photo instead",
  NotFoundError: "no camera found on this computer: upload a photo instead",
  OverconstrainedError: "no camera found that can give a picture: upload a photo instead",
  NotReadableError: "the camera is busy or blocked by the system (another program using it?): close that program and press Start camera again",
  AbortError: "the camera could not start: press Start camera again, or upload a photo instead",
};
const NO_API = "this browser offers no camera to this page (it must be opened from localhost or over https): upload a photo instead";

function button(label, title) {
  const element = document.createElement("button");
  element.textContent = label;
  element.title = title;
  element.className = "jupyter-button widget-button course-camera-button";
  return element;
}

function render({ model, el }) {
  el.classList.add("course-camera");
  const video = document.createElement("video");
  video.autoplay = true;
  video.muted = true;
  video.playsInline = true;
  video.className = "course-camera-video";
  const start = button("Start camera", "Ask the browser for the camera");
  const capture = button("Capture", "Take this frame");
  const stop = button("Stop camera", "Turn the camera off");
  capture.disabled = true;
  stop.disabled = true;
  const line = document.createElement("div");
  line.className = "course-camera-line";
  const note = document.createElement("div");
  note.className = "course-camera-note";
  note.textContent = model.get("privacy_note");
  const buttons = document.createElement("div");
  buttons.className = "course-camera-buttons";
  buttons.append(start, capture, stop);
  el.append(video, buttons, line, note);
  let stream = null;

  function showError() {
    const error = model.get("error");
    line.textContent = error;
    line.classList.toggle("course-camera-error", Boolean(error));
  }
  function report(text) {
    model.set("error", text);
    model.save_changes();
    showError();
  }
  function turnOff() {
    if (stream) {
      stream.getTracks().forEach(track => track.stop());
      stream = null;
    }
    video.srcObject = null;
    capture.disabled = true;
    stop.disabled = true;
    start.disabled = false;
    model.set("active", false);
    model.save_changes();
  }

  start.addEventListener("click", async () => {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      report(NO_API);
      return;
    }
    start.disabled = true;
    try {
      stream = await navigator.mediaDevices.getUserMedia({
        video: { width: { ideal: model.get("width") }, height: { ideal: model.get("height") } },
        audio: false,
      });
    } catch (error) {
      start.disabled = false;
      report(MESSAGES[error && error.name] || `the camera could not start (${error && error.name}): upload a photo instead`);
      return;
    }
    video.srcObject = stream;
    try { await video.play(); } catch (error) { /* autoplay of a muted video is allowed; the frame check below catches the rest */ }
    capture.disabled = false;
    stop.disabled = false;
    model.set("active", true);
    model.set("error", "");
    model.save_changes();
    showError();
    line.textContent = "Camera on: press Capture.";
  });

  capture.addEventListener("click", () => {
    const width = video.videoWidth, height = video.videoHeight;
    const send = (buffer) => {
      model.set("frame", new DataView(buffer));
      model.set("captures", model.get("captures") + 1);
      model.save_changes();
    };
    if (!width || !height) {
      send(new ArrayBuffer(0));  // Python turns an empty frame into its one line
      return;
    }
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").drawImage(video, 0, 0, width, height);
    canvas.toBlob(async (blob) => {
      send(blob ? await blob.arrayBuffer() : new ArrayBuffer(0));
    }, "image/jpeg", 0.92);
  });

  stop.addEventListener("click", turnOff);
  model.on("change:error", showError);
  model.on("change:captures", () => {
    if (!model.get("error")) line.textContent = `Captured frame ${model.get("captures")}.`;
  });
  showError();
  return () => {
    model.off("change:error", showError);
    if (stream) stream.getTracks().forEach(track => track.stop());
  };
}

export default { render };
"""

_CSS = """
.course-camera { display: flex; flex-direction: column; gap: 4px; max-width: 420px; }
.course-camera-video { width: 100%; max-width: 420px; background: #222; transform: scaleX(-1); border-radius: 4px; }
.course-camera-buttons { display: flex; gap: 4px; }
.course-camera-line { min-height: 1.2em; }
.course-camera-error { color: #b00020; }
.course-camera-note { font-size: 85%; color: #555; }
"""


class Camera(anywidget.AnyWidget):
    """The browser's camera: **Start camera**, **Capture**, **Stop camera** (see the module docstring).

    Traits (synchronised with the page):
        frame (bytes): the last capture, JPEG bytes from the browser (empty before the first).
        captures (int): how many captures were made; it changes on every capture, so two
            identical frames are still two captures.
        error (str): one line saying what went wrong ("" when nothing did).
        active (bool): whether the camera is on in the page.
        width, height (int): the resolution asked of the camera (the browser picks the nearest).

    Args:
        width, height: resolution asked of the camera (default 640x480).

    Example:
        >>> camera = Camera(width=320, height=240)
        >>> camera.frame, camera.captures, camera.error, camera.active
        (b'', 0, '', False)
    """

    _esm = _ESM
    _css = _CSS
    frame = traitlets.Bytes(b"").tag(sync=True, **bytes_serialization)
    captures = traitlets.Int(0).tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    active = traitlets.Bool(False).tag(sync=True)
    width = traitlets.Int(640).tag(sync=True)
    height = traitlets.Int(480).tag(sync=True)
    privacy_note = traitlets.Unicode(PRIVACY_NOTE).tag(sync=True)

    def __init__(self, width: int = 640, height: int = 480, **kwargs):
        super().__init__(width=width, height=height, **kwargs)
        self._frame_callbacks: list[Callable[[bytes], None]] = []
        self._error_callbacks: list[Callable[[str], None]] = []
        self.observe(self._take_capture, names="captures")
        self.observe(self._report_error, names="error")

    def on_frame(self, callback: Callable[[bytes], None]) -> None:
        """Call ``callback(frame_bytes)`` after each capture that holds a picture.

        Example:
            >>> camera = Camera()
            >>> camera.on_frame(print)
            >>> camera.receive(b"abc")
            b'abc'
        """
        self._frame_callbacks.append(callback)

    def on_error(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(line)`` whenever the camera reports a problem (a non-empty :attr:`error`).

        Example:
            >>> camera = Camera()
            >>> camera.on_error(print)
            >>> camera.receive(b"")
            the camera sent an empty frame (no picture yet?): wait until the preview shows you, then press Capture again
        """
        self._error_callbacks.append(callback)

    def receive(self, frame: bytes) -> None:
        """What one capture in the page does, from Python: set :attr:`frame`, count the capture.

        Args:
            frame: the encoded picture (JPEG or PNG bytes); empty bytes are an empty frame.
        """
        with self.hold_trait_notifications():
            self.frame = bytes(frame)
            self.captures = self.captures + 1

    def _take_capture(self, change) -> None:
        frame = bytes(self.frame or b"")
        if not frame:
            if self.error == EMPTY_FRAME:  # the same line again: no trait change, so tell the callbacks here
                self._report_error({"new": EMPTY_FRAME})
            self.error = EMPTY_FRAME
            return
        self.error = ""
        for callback in list(self._frame_callbacks):
            callback(frame)

    def _report_error(self, change) -> None:
        if change["new"]:
            for callback in list(self._error_callbacks):
                callback(change["new"])
