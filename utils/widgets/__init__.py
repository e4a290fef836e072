"""The course's shared widget pieces: one way to show a control, report bad input, take an image, stop a run.

The applications build their controls on these (``utils/faces/widgets.py``, ``utils/nst/widgets.py``,
``utils/convnets/widgets.py``); this package imports only the core (errors, image I/O) and
ipywidgets, never an application.

* :func:`show_control` shows a control with a plain-text form: JupyterLab 4 and Notebook 7 draw
  the widget; where no front end draws widgets (nbval, nbclient, the grader, a terminal) the
  output is that text, "what the control shows for its default value". The course site draws the
  saved widget state and the line :data:`utils.course.site.widgets.FRONTEND_HINT`.
* :class:`MessageLine` is the one line a control speaks in: information, success, or an error
  given as an exception (its message, never a traceback).
* :func:`decode_upload` and :class:`ImageInput` turn a learner's upload (or a camera frame) into an
  RGB array through exactly the checks :func:`utils.image_io.load_image` applies to files: a
  learner's image is untrusted input like any other.
* :class:`BackgroundRun` runs a long loop in a thread with a progress bar and a Stop button that
  works while it runs (a widget's click reaches the kernel only when the kernel is not busy
  running a cell).

Example:
    >>> from utils.widgets import MessageLine
    >>> line = MessageLine()
    >>> line.error(ValueError("no face found in me.jpg"))
    >>> line.kind, line.text
    ('error', 'ValueError: no face found in me.jpg')
"""

from utils.widgets.controls import BackgroundRun, MessageLine, show_control
from utils.widgets.images import ImageInput, decode_upload, download_link, image_view, png_bytes

__all__ = [
    "show_control",
    "MessageLine",
    "BackgroundRun",
    "decode_upload",
    "ImageInput",
    "png_bytes",
    "image_view",
    "download_link",
]
