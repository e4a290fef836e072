"""The live controls of notebook 01: the threshold explorer and "Enroll yourself".

* :class:`ThresholdExplorer` — a slider over the threshold tau. The distances (the LFW development
  pairs, the course's camera-images x database matrix) are computed once, before; a move of the
  slider only counts and redraws: FAR and FRR on both sets, both histograms with the tau line, the
  impostor cells of the course matrix that tau accepts lit up, and the probability that a stranger
  is matched to someone in a database of K people. The figure is one matplotlib figure whose
  artists are updated in place and rendered to a PNG shown in an ``ipywidgets.Image`` (no pyplot,
  no new figure per move; ``benchmarks/widgets_speed.py`` measures it against redrawing into an
  ``ipywidgets.Output``).
* :class:`EnrollYourself` — the learner's own face: a photo (upload or camera) -> the detected box
  and the aligned 150x150 chip -> an encoding added under a typed name to a *copy* of the course
  database -> ``who_is_it`` on a second photo, with the distance to every entry and the decision at
  tau. Nothing is written to disk unless the learner presses **Save**, which goes through
  :meth:`utils.faces.database.FaceDatabase.save` (locked, atomic) into the output folder.

Both show themselves with :func:`utils.widgets.show_control`: where no front end draws widgets
(nbval, nbclient, the grader) the cell prints what the control shows for its default.

A learner's photo is untrusted input. Decoding (not an image, decompression bombs, EXIF rotation,
CMYK, greyscale, 16-bit, alpha, HEIC) is :func:`utils.widgets.decode_upload`'s job; this module adds
what is about faces (:func:`find_face`): no face, several faces (the largest is used, and shown),
a face too small to align (:data:`MIN_FACE_WIDTH`), and large photos (a 40-megapixel photo is
detected on a downscaled copy by :func:`utils.faces.align.detect_faces`, and the face is cut from
a copy reduced to :data:`ALIGN_FACE_WIDTH` so that the chip is not aliased). Every problem is one
line in the widget and leaves the database as it was.

Example:
    >>> import numpy as np
    >>> explorer = ThresholdExplorer([0.3, 0.5, 0.7, 0.9], [True, True, False, False],
    ...                              np.array([[0.4, 0.55], [0.8, 0.3]]), [0, 1], ["c0", "c1"], ["ann", "bob"])
    >>> explorer.slider.value = 0.75
    >>> print(explorer.summary().splitlines()[1])
    LFW pairs: FAR 50.0 % (1 of 2 different-people pairs accepted), FRR 0.0 % (0 of 2 same-person pairs refused)
"""

from __future__ import annotations

import dataclasses
import html
import io
import time
from collections.abc import Sequence
from pathlib import Path

import ipywidgets
import numpy as np
from PIL import Image, ImageDraw

from utils import config, image_io
from utils.errors import CourseError, ImageError, NoFaceError, UsageError
from utils.faces import align, constants, encoder
from utils.faces.database import FaceDatabase, check_identity
from utils.faces.metrics import error_rates
from utils.widgets import ImageInput, MessageLine, png_bytes, show_control

__all__ = [
    "ThresholdExplorer",
    "EnrollYourself",
    "FoundFace",
    "find_face",
    "check_new_name",
    "stranger_matched",
    "GALLERY_SIZES",
    "MIN_FACE_WIDTH",
    "MAX_NAME_LENGTH",
    "ALIGN_FACE_WIDTH",
]

#: Database sizes K for "P(a stranger is matched to someone)".
GALLERY_SIZES = (10, 100, 1000)

#: Narrowest face box (pixels, in the photo) the enrolment accepts. Measured (10 faces from the
#: LFW demo set and the course photos, shrunk and pasted into a 400x400 picture, detected, aligned,
#: encoded and compared with the encoding of the full-size face; 2-core Xeon, issue 28): a face
#: 26 px wide moves its own encoding by 0.21 (median; at most 0.30), 14 px by 0.47 (at most 0.60),
#: 10 px by 0.53 and is missed in 3 of 10 — below about 24 px the face's own distance eats half of
#: tau = 0.6 or more. The course photos' faces are 31-65 px wide.
MIN_FACE_WIDTH = 24

#: Longest name the enrolment takes (it is shown in tables and figures).
MAX_NAME_LENGTH = 40

#: A face wider than this (pixels) is cut from a reduced copy of the photo before alignment: the
#: chip's face is about 118 px wide (2.2 x the template's 53.5 px between the eyes), and bilinear
#: sampling more than about 2x down aliases (a phone selfie's face is 1,000-2,000 px wide). Measured on
#: a 40-megapixel photo with a 2,000 px face and pixel-level texture (a +-35 checkerboard): the chip
#: differs from the texture-free one by 9.2 grey levels (mean) aligned directly, 1.5 from the reduced copy.
ALIGN_FACE_WIDTH = 240

#: Longer side (pixels) of the photos shown in the widget.
DISPLAY_SIDE = 320

#: Where Save writes, under the output folder (utils.config.output_dir).
SAVE_FOLDER, SAVE_NAME = "01_face_verification", "my_face_database.npz"

_GREEN, _ORANGE, _RED, _BLUE = (30, 160, 70), (240, 140, 0), (214, 39, 40), (31, 119, 180)


def stranger_matched(far: float, gallery_size: int) -> float:
    """Probability that at least one of ``gallery_size`` comparisons falsely accepts a stranger.

    Args:
        far: false accept rate of one comparison.
        gallery_size: K, the people in the database.

    Returns:
        ``1 - (1 - far) ** gallery_size``.

    Example:
        >>> round(stranger_matched(1e-3, 1000), 3)
        0.632
    """
    return float(1.0 - (1.0 - far) ** gallery_size)


# ================================================================================= threshold explorer
class ThresholdExplorer(ipywidgets.VBox):
    """A slider over tau with FAR, FRR, both histograms, the course matrix and P(stranger matched).

    Args:
        lfw_distances: ``(n,)`` distances of the LFW pairs.
        lfw_same: ``(n,)`` True for a same-person pair.
        course_distances: ``(probes, people)`` distances of the course's camera images to its database.
        true_columns: the true person's column of each probe row.
        row_labels: one label per probe row; column_labels: one per database person.
        threshold: tau at the start (the encoder's 0.6).
        gallery_sizes: the K values of "P(a stranger is matched)".
        tau_range: the slider's ``(min, max)``.
        blit: redraw only what tau changes over a background drawn once (default); False draws the
            whole figure at each move (about 5x slower: ``benchmarks/widgets_speed.py`` compares them).

    Attributes:
        slider: the ``FloatSlider``; setting ``slider.value`` redraws.
        numbers: ``ipywidgets.HTML`` with the rates; image: ``ipywidgets.Image`` with the figure.
        figure: the matplotlib figure; draw_seconds: the last redraw's time (count, draw, PNG).

    Example:
        >>> explorer = ThresholdExplorer([0.3, 0.8], [True, False], np.array([[0.2, 0.5]]), [0], ["c"], ["a", "b"])
        >>> explorer.state(0.6)["course"].false_accepts, explorer.state(0.4)["course"].false_accepts
        (1, 0)
    """

    def __init__(
        self,
        lfw_distances,
        lfw_same,
        course_distances,
        true_columns: Sequence[int],
        row_labels: Sequence[str],
        column_labels: Sequence[str],
        threshold: float = constants.DEFAULT_THRESHOLD,
        gallery_sizes: Sequence[int] = GALLERY_SIZES,
        tau_range: tuple[float, float] = (0.2, 1.0),
        blit: bool = True,
    ):
        self.blit = bool(blit)
        self.lfw_distances = np.asarray(lfw_distances, dtype=np.float64).ravel()
        self.lfw_same = np.asarray(lfw_same, dtype=bool).ravel()
        self.matrix = np.asarray(course_distances, dtype=np.float64)
        if self.lfw_distances.shape != self.lfw_same.shape or not self.lfw_same.any() or self.lfw_same.all():
            raise UsageError(
                f"ThresholdExplorer needs LFW distances and same-person flags of one shape, both kinds "
                f"present; got {self.lfw_distances.shape} and {self.lfw_same.shape}"
            )
        if self.matrix.ndim != 2 or self.matrix.shape != (len(row_labels), len(column_labels)):
            raise UsageError(
                f"course distances of shape {self.matrix.shape} do not match {len(row_labels)} row "
                f"labels and {len(column_labels)} column labels"
            )
        if len(true_columns) != len(row_labels):
            raise UsageError(f"true_columns has {len(true_columns)} entries for {len(row_labels)} rows")
        self.genuine = np.zeros(self.matrix.shape, dtype=bool)
        self.genuine[np.arange(len(row_labels)), list(true_columns)] = True
        self.row_labels, self.column_labels = list(row_labels), list(column_labels)
        self.gallery_sizes = tuple(int(size) for size in gallery_sizes)
        self.slider = ipywidgets.FloatSlider(
            value=float(threshold),
            min=tau_range[0],
            max=tau_range[1],
            step=0.01,
            description="τ",
            readout_format=".2f",
            continuous_update=True,
            layout=ipywidgets.Layout(width="420px"),
        )
        self.numbers = ipywidgets.HTML()
        self.image = ipywidgets.Image(format="png", layout=ipywidgets.Layout(max_width="100%"))
        self.draw_seconds = 0.0
        self._build_figure()
        self.slider.observe(lambda change: self.update(change["new"]), names="value")
        super().__init__([self.slider, self.numbers, self.image])
        for widget, name in (
            (self, "explorer"),
            (self.slider, "slider"),
            (self.numbers, "numbers"),
            (self.image, "figure"),
        ):
            widget.add_class(f"course-tau-{name}")  # names for the page's style and the browser tests
        self.update(float(threshold))

    # ------------------------------------------------------------------ numbers
    def state(self, tau: float) -> dict:
        """What tau decides: the error rates on both sets, the course cells, P(stranger matched).

        Returns:
            ``{"tau", "lfw", "course"}`` (:class:`utils.faces.metrics.ErrorRates`), ``"accepted_impostors"``
            and ``"refused_genuines"`` (boolean matrices like the course matrix), ``"matched"``
            (``{K: probability}`` from the LFW FAR) and ``"bound"`` (True when no LFW impostor is
            accepted: then the probabilities use the 95 % upper bound 3/n of the FAR, the "rule of three").
        """
        lfw = error_rates(self.lfw_distances, self.lfw_same, tau)
        course = error_rates(self.matrix.ravel(), self.genuine.ravel(), tau)
        bound = lfw.false_accepts == 0
        far = 3.0 / lfw.impostors if bound else lfw.far
        return {
            "tau": float(tau),
            "lfw": lfw,
            "course": course,
            "bound": bound,
            "accepted_impostors": (self.matrix < tau) & ~self.genuine,
            "refused_genuines": (self.matrix >= tau) & self.genuine,
            "matched": {size: stranger_matched(far, size) for size in self.gallery_sizes},
        }

    def summary(self, tau: float | None = None) -> str:
        """The control's numbers as plain text (what :func:`show_control` prints without a front end)."""
        state = self.state(self.slider.value if tau is None else tau)
        lfw, course = state["lfw"], state["course"]
        sign = "<" if state["bound"] else "="
        matched = ", ".join(f"K = {size}: {sign} {100 * value:.1f} %" for size, value in state["matched"].items())
        lines = [
            f"Threshold explorer at tau = {state['tau']:.2f} (move the slider to change it)",
            f"LFW pairs: FAR {100 * lfw.far:.1f} % ({lfw.false_accepts} of {lfw.impostors} different-people pairs "
            f"accepted), FRR {100 * lfw.frr:.1f} % ({lfw.false_rejects} of {lfw.genuines} same-person pairs refused)",
            f"course claims: FAR {100 * course.far:.1f} % ({course.false_accepts} of {course.impostors} impostor "
            f"claims accepted), FRR {100 * course.frr:.1f} % ({course.false_rejects} of {course.genuines} "
            "genuine claims refused)",
            f"P(a stranger is matched to someone), from the LFW FAR: {matched}",
        ]
        if state["bound"]:
            lines.append(
                f"(no LFW impostor pair is accepted at this tau: the FAR is below about 3/{lfw.impostors} "
                "with 95 % confidence, so these are upper bounds)"
            )
        return "\n".join(lines)

    def _numbers_html(self, state: dict) -> str:
        lfw, course = state["lfw"], state["course"]
        sign = "&lt;" if state["bound"] else "="
        cells = "".join(
            f"<td>K = {size:,}: <b>{sign} {100 * value:.1f} %</b></td>" for size, value in state["matched"].items()
        )
        note = f" (no LFW impostor accepted: upper bounds from FAR &lt; 3/{lfw.impostors})" if state["bound"] else ""
        return (
            '<table class="course-tau-numbers" style="border-collapse:collapse">'
            f"<tr><td style='padding-right:1em'>LFW pairs</td><td>FAR <b>{100 * lfw.far:.1f} %</b> "
            f"({lfw.false_accepts}/{lfw.impostors})</td><td style='padding-left:1em'>FRR <b>{100 * lfw.frr:.1f} %</b> "
            f"({lfw.false_rejects}/{lfw.genuines})</td></tr>"
            f"<tr><td>course claims</td><td>FAR <b>{100 * course.far:.1f} %</b> ({course.false_accepts}/"
            f"{course.impostors})</td><td style='padding-left:1em'>FRR <b>{100 * course.frr:.1f} %</b> "
            f"({course.false_rejects}/{course.genuines})</td></tr></table>"
            f"<div>P(a stranger is matched to someone in a database of K people){note}:</div>"
            f"<table><tr>{cells}</tr></table>"
        )

    # ------------------------------------------------------------------ figure
    def _build_figure(self) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # deferred: matplotlib is slow to import
        from matplotlib.colors import to_rgba
        from matplotlib.figure import Figure
        from matplotlib.patches import Rectangle

        figure = Figure(figsize=(12.0, 3.6), dpi=72)
        FigureCanvasAgg(figure)
        grid = figure.add_gridspec(
            1, 3, width_ratios=[1, 1, 1.35], left=0.05, right=0.99, bottom=0.3, top=0.87, wspace=0.28
        )
        top = max(1.2, float(self.lfw_distances.max()), float(self.matrix.max())) + 0.02
        self._artists, frames = [], []
        for column, (distances, same, label) in enumerate(
            (
                (self.lfw_distances, self.lfw_same, "LFW pairs"),
                (self.matrix.ravel(), self.genuine.ravel(), "course claims"),
            )
        ):
            axis = figure.add_subplot(grid[0, column])
            bins = np.linspace(0.0, top, 49)
            for mask, colour, name in ((same, "tab:blue", "same person"), (~same, "tab:red", "different people")):
                counts, _ = np.histogram(distances[mask], bins=bins)
                axis.stairs(100.0 * counts / max(1, mask.sum()), bins, fill=True, alpha=0.45, color=colour, label=name)
            accepted = Rectangle(
                (0.0, 0.0),
                0.0,
                1.0,
                transform=axis.get_xaxis_transform(),
                color="tab:green",
                alpha=0.10,
                lw=0,
                label="accepted: d < τ",
            )
            axis.add_patch(accepted)
            line = axis.axvline(0.0, color="black", lw=1.5, ls="--", label="τ")
            axis.set_xlim(0.0, top)
            axis.set_xlabel("distance d")
            axis.set_ylabel("% of the pairs of each kind" if column == 0 else "")
            title = axis.set_title(label, fontsize=10)
            self._artists.append((accepted, line, title, label))
        # one legend, under the histograms, where nothing that tau moves can cover it
        figure.legend(
            *figure.axes[0].get_legend_handles_labels(),
            loc="lower left",
            bbox_to_anchor=(0.04, 0.0),
            ncol=4,
            fontsize=8,
            frameon=False,
        )
        axis = figure.add_subplot(grid[0, 2])
        axis.imshow(self.matrix, cmap="Greys", vmin=0.0, vmax=top * 1.6, aspect="auto")
        for row in range(self.matrix.shape[0]):
            for column in range(self.matrix.shape[1]):
                axis.text(column, row, f"{self.matrix[row, column]:.2f}", ha="center", va="center", fontsize=7)
            column = int(np.flatnonzero(self.genuine[row])[0])
            frames.append(
                axis.add_patch(Rectangle((column - 0.5, row - 0.5), 1, 1, fill=False, lw=2, color="tab:blue", zorder=5))
            )
        # the lit cells are translucent and lie over the numbers (z-order 4), so the numbers stay
        # drawn once, in the background; the true person's frames lie over the lit cells
        self._overlay = axis.imshow(
            np.zeros(self.matrix.shape + (4,)), aspect="auto", interpolation="nearest", zorder=4
        )
        self._colours = np.array(to_rgba("tab:red", 0.55)), np.array(to_rgba("tab:blue", 0.45))
        axis.set_xticks(range(len(self.column_labels)), self.column_labels, rotation=45, ha="right", fontsize=7)
        axis.set_yticks(range(len(self.row_labels)), self.row_labels, fontsize=7)
        self._matrix_title = axis.set_title("", fontsize=9)
        self.figure = figure
        # Blitting: everything that never changes is drawn once into a background; a move of the
        # slider restores it and draws the artists tau changes, and those that lie over them (the
        # frames, the axes' spines), in matplotlib's own order (z-order, then the order they were
        # added): the same picture as a full draw, several times faster (benchmarks/widgets_speed.py).
        dynamic = [artist for accepted, line, title, _ in self._artists for artist in (accepted, line, title)]
        dynamic += [self._overlay, self._matrix_title] + frames
        dynamic += [spine for axis in figure.axes for spine in axis.spines.values()]
        self._dynamic = sorted(dynamic, key=lambda artist: artist.get_zorder())
        if self.blit:
            for artist in self._dynamic:
                artist.set_animated(True)
            figure.canvas.draw()
            self._background = figure.canvas.copy_from_bbox(figure.bbox)

    def update(self, tau: float | None = None) -> dict:
        """Recount and redraw at ``tau`` (default: the slider's value); returns :meth:`state`."""
        started = time.perf_counter()
        tau = float(self.slider.value if tau is None else tau)
        state = self.state(tau)
        for accepted, line, title, label in self._artists:
            accepted.set_width(tau)
            line.set_xdata([tau, tau])
            rates = state["lfw"] if label == "LFW pairs" else state["course"]
            title.set_text(f"{label}: FAR {100 * rates.far:.1f} %, FRR {100 * rates.frr:.1f} %")
        overlay = np.zeros(self.matrix.shape + (4,))
        overlay[state["accepted_impostors"]] = self._colours[0]
        overlay[state["refused_genuines"]] = self._colours[1]
        self._overlay.set_data(overlay)
        count = int(state["accepted_impostors"].sum())
        refused = int(state["refused_genuines"].sum())
        self._matrix_title.set_text(
            f"course matrix: {count} impostor claim{'s' if count != 1 else ''} accepted (red)\n"
            f"{refused} genuine claim{'s' if refused != 1 else ''} refused (blue)"
        )
        canvas = self.figure.canvas
        if self.blit:
            canvas.restore_region(self._background)
            for artist in self._dynamic:
                self.figure.draw_artist(artist)
        else:
            canvas.draw()
        buffer = io.BytesIO()
        Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB").save(
            buffer, format="PNG", compress_level=1
        )
        self.image.value = buffer.getvalue()
        self.numbers.value = self._numbers_html(state)
        self.draw_seconds = time.perf_counter() - started
        return state

    def show(self) -> None:
        """Display the control (its :meth:`summary` where no front end draws widgets)."""
        show_control(self, self.summary())


# ================================================================================= enroll yourself
@dataclasses.dataclass(frozen=True)
class FoundFace:
    """One photo's face, ready to enroll or to identify.

    Attributes:
        image: the photo, RGB uint8 (H, W, 3), upright.
        name: what the photo is called (its file name, or "camera frame N").
        faces: every face detected, largest first (:class:`utils.faces.align.Face`); the first is used.
        chip: the aligned 150x150 chip of the face used.
        encoding: its 128-d encoding (float32).
        note: one line about the choice ("" for one face; "3 faces found ..." otherwise).
        seconds: detect + align + encode time.
    """

    image: np.ndarray
    name: str
    faces: list
    chip: np.ndarray
    encoding: np.ndarray
    note: str
    seconds: float

    @property
    def face(self):
        """The face used: the largest."""
        return self.faces[0]

    def describe(self) -> str:
        """One line: what was found and used."""
        x, y, width, height = self.face.box
        height_px, width_px = self.image.shape[:2]
        found = self.note or f"one face in {self.name}"
        return (
            f"{found}: box {width:.0f}×{height:.0f} px at ({x:.0f}, {y:.0f}) in a {width_px}×{height_px} photo, "
            f"aligned to a {constants.CHIP_SIZE}×{constants.CHIP_SIZE} chip and encoded in {self.seconds:.1f} s."
        )


def _align_reduced(image: np.ndarray, face) -> np.ndarray:
    """The aligned chip of ``face``, cut from a copy reduced so the face is at most ALIGN_FACE_WIDTH px wide."""
    width = max(face.box[2], face.box[3])
    if width <= ALIGN_FACE_WIDTH:
        return align.align_face(image, face.keypoints)
    scale = ALIGN_FACE_WIDTH / width
    center_x, center_y = face.center
    half = 1.5 * width  # the chip shows about 1.3 face widths; 3 widths leave room for any rotation
    left, top = max(0, int(center_x - half)), max(0, int(center_y - half))
    right, bottom = min(image.shape[1], int(center_x + half) + 1), min(image.shape[0], int(center_y + half) + 1)
    window = Image.fromarray(np.ascontiguousarray(image[top:bottom, left:right]))
    size = (max(1, round(window.width * scale)), max(1, round(window.height * scale)))
    reduced = np.asarray(window.resize(size, Image.LANCZOS, reducing_gap=3.0))
    factor = np.array([size[0] / window.width, size[1] / window.height])
    keypoints = (face.keypoints - np.array([left, top]) + 0.5) * factor - 0.5  # pixel-index coordinates
    return align.align_face(reduced, keypoints)


def find_face(image, name: str = "the photo", model=None) -> FoundFace:
    """Detect, choose, check, align and encode the face of one photo (the enrolment's face path).

    Args:
        image: RGB array (or a path): the decoded, upright photo.
        name: what messages call it.
        model: the encoder (default: the cached converted dlib ResNet).

    Returns:
        A :class:`FoundFace` (the largest face when there are several; ``note`` says so).

    Raises:
        utils.errors.NoFaceError: no face in the photo.
        utils.errors.ImageError: the face is narrower than :data:`MIN_FACE_WIDTH` pixels.

    Example:
        >>> found = find_face("me.jpg")                     # doctest: +SKIP
        >>> found.chip.shape, found.encoding.shape            # doctest: +SKIP
        ((150, 150, 3), (128,))
    """
    started = time.perf_counter()
    array = image_io.load_image(image)
    faces = align.detect_faces(array)
    height, width = array.shape[:2]
    if not faces:
        raise NoFaceError(
            f"no face found in {name} ({width}×{height} pixels): use a photo where your face is large, "
            "upright and lit from the front"
        )
    face = faces[0]
    face_width = min(face.box[2], face.box[3])
    if face_width < MIN_FACE_WIDTH:
        raise ImageError(
            f"the face in {name} is {face_width:.0f} pixels wide, too small to align (at least "
            f"{MIN_FACE_WIDTH} are needed): come closer to the camera or crop the photo around your face"
        )
    note = ""
    if len(faces) > 1:
        note = f"{len(faces)} faces found in {name}, using the largest (green box; the others in orange)"
    chip = _align_reduced(array, face)
    encoding = encoder.encode_chips(chip[None], model=model)[0]
    return FoundFace(
        image=array,
        name=name,
        faces=list(faces),
        chip=chip,
        encoding=encoding,
        note=note,
        seconds=time.perf_counter() - started,
    )


def check_new_name(name, database: FaceDatabase) -> str:
    """The name to enroll under, stripped, or :class:`utils.errors.UsageError` saying why not.

    Refused: empty, longer than :data:`MAX_NAME_LENGTH`, already in ``database`` (letter case
    ignored), holding a tab, newline or other control character, or "not recognized".

    Example:
        >>> database = FaceDatabase.from_dict({"younes": np.zeros((1, 128))})
        >>> check_new_name("  Ada ", database)
        'Ada'
        >>> check_new_name("Younes", database)
        Traceback (most recent call last):
        ...
        utils.errors.UsageError: the name 'Younes' is taken (the database holds 'younes'): choose another name
    """
    if not isinstance(name, str) or not name.strip():
        raise UsageError("type a name first: the name box is empty")
    name = name.strip()
    if len(name) > MAX_NAME_LENGTH:
        raise UsageError(f"the name is {len(name)} characters long, more than {MAX_NAME_LENGTH}: use a shorter one")
    taken = {known.casefold(): known for known in database.identities}
    if name.casefold() in taken:
        raise UsageError(
            f"the name {name!r} is taken (the database holds {taken[name.casefold()]!r}): choose another name"
        )
    return check_identity(name)


def _annotated(found: FoundFace) -> np.ndarray:
    """The photo reduced to DISPLAY_SIDE with the face used in green and the other faces in orange."""
    picture = Image.fromarray(found.image)
    picture.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.BILINEAR, reducing_gap=2.0)
    scale = picture.width / found.image.shape[1]
    draw = ImageDraw.Draw(picture)
    for number, face in reversed(list(enumerate(found.faces))):
        x, y, width, height = (value * scale for value in face.box)
        colour, line = (_GREEN, 3) if number == 0 else (_ORANGE, 2)
        draw.rectangle([x, y, x + width, y + height], outline=colour, width=line)
        if len(found.faces) > 1:
            draw.text((x + 3, y + 2), str(number + 1), fill=colour)
    return np.asarray(picture)


def _heading(text: str) -> ipywidgets.HTML:
    return ipywidgets.HTML(f"<b>{html.escape(text)}</b>")


class EnrollYourself(ipywidgets.VBox):
    """Enroll your own face in a copy of the course database, then see who a second photo is.

    Args:
        database: the course database (a ``{name: encoding (1, 128)}`` dict or a FaceDatabase); never
            changed: the control works on a copy.
        model: the encoder (default: the cached converted dlib ResNet).
        threshold: tau at the start (the slider under the answer changes it).
        save_path: where **Save** writes (default ``<outputs>/01_face_verification/my_face_database.npz``).
        camera: offer the browser's camera beside the upload buttons.

    Attributes:
        photo, probe: the two :class:`utils.widgets.ImageInput` (your photo, the second photo).
        name_box, enroll_button, save_button, reset_button, tau: the controls.
        message: the line of the enrolment and of Save.
        database: the copy; enrolled: the names added to it; found / probe_found: the last faces.
        answer: the last identification, ``{"distances": {name: d}, "distance", "identity"}`` or None.

    Example:
        >>> control = EnrollYourself({"ann": np.zeros((1, 128))}, camera=False)   # doctest: +SKIP
        >>> control.photo.load("me.jpg"); control.name_box.value = "me"; control.enroll()  # doctest: +SKIP
        True
    """

    def __init__(
        self, database, model=None, threshold: float = constants.DEFAULT_THRESHOLD, save_path=None, camera: bool = True
    ):
        self._course = {
            name: np.array(encodings, dtype=np.float32, copy=True) for name, encodings in dict(database.items()).items()
        }
        self.model = model
        self.save_path = Path(save_path) if save_path is not None else None
        self.database = FaceDatabase.from_dict(self._course, threshold)
        self.enrolled: list[str] = []
        self.found: FoundFace | None = None
        self.probe_found: FoundFace | None = None
        self.answer: dict | None = None
        self.saved_to: Path | None = None

        self.photo = ImageInput("Your photo", camera=camera, preview_size=120)
        self.photo_view = ipywidgets.Image(format="png", layout=ipywidgets.Layout(max_width=f"{DISPLAY_SIDE}px"))
        self.chip_view = ipywidgets.Image(format="png", layout=ipywidgets.Layout(width="150px"))
        self.name_box = ipywidgets.Text(
            placeholder="your name", description="Name", layout=ipywidgets.Layout(width="260px")
        )
        self.enroll_button = ipywidgets.Button(description="Enroll", icon="user-plus", button_style="primary")
        self.message = MessageLine()
        self.probe = ImageInput("Second photo", camera=camera, preview_size=120)
        self.probe_view = ipywidgets.Image(format="png", layout=ipywidgets.Layout(max_width=f"{DISPLAY_SIDE}px"))
        self.probe_chip_view = ipywidgets.Image(format="png", layout=ipywidgets.Layout(width="150px"))
        self.tau = ipywidgets.FloatSlider(
            value=float(threshold),
            min=0.3,
            max=0.9,
            step=0.01,
            description="τ",
            readout_format=".2f",
            continuous_update=True,
        )
        self.answer_view = ipywidgets.HTML()
        self.save_button = ipywidgets.Button(
            description="Save",
            icon="save",
            disabled=True,
            tooltip="Write this database (the course's people and yours) to outputs/",
        )
        self.reset_button = ipywidgets.Button(
            description="Start over", icon="undo", tooltip="Back to the course database (in memory)"
        )
        for preview in (self.photo, self.probe):  # the annotated photo below replaces the plain preview
            preview.preview.layout.display = "none"

        self.photo.on_image(self._take_photo)
        self.probe.on_image(self._take_probe)
        self.enroll_button.on_click(lambda _: self.enroll())
        self.save_button.on_click(lambda _: self.save())
        self.reset_button.on_click(lambda _: self.reset())
        self.tau.observe(lambda _: self._show_answer(), names="value")
        super().__init__(
            [
                _heading("1. Your photo (upload, or Start camera then Capture)"),
                self.photo,
                ipywidgets.HBox([self.photo_view, self.chip_view]),
                _heading("2. Your name"),
                ipywidgets.HBox([self.name_box, self.enroll_button]),
                self.message,
                _heading("3. Who is it? A second photo"),
                self.probe,
                ipywidgets.HBox([self.probe_view, self.probe_chip_view]),
                self.tau,
                self.answer_view,
                ipywidgets.HBox([self.save_button, self.reset_button]),
            ]
        )
        for widget, name in (
            (self, "enroll"),
            (self.photo, "enroll-photo"),
            (self.probe, "enroll-probe"),
            (self.name_box, "enroll-name"),
            (self.enroll_button, "enroll-button"),
            (self.message, "enroll-message"),
            (self.answer_view, "enroll-answer"),
            (self.save_button, "enroll-save"),
            (self.tau, "enroll-tau"),
        ):
            widget.add_class(f"course-{name}")  # names for the page's style and the browser tests

    # ------------------------------------------------------------------ steps
    def _take_photo(self, image: np.ndarray, name: str) -> None:
        self.found = None
        self.photo_view.value = self.chip_view.value = b""
        found = find_face(image, name, self.model)  # a problem: ImageInput shows its line
        self.found = found
        self.photo_view.value = png_bytes(_annotated(found))
        self.chip_view.value = png_bytes(found.chip)
        (self.photo.message.info if found.note else self.photo.message.success)(
            found.describe() + " Now type your name and press Enroll."
        )

    def _take_probe(self, image: np.ndarray, name: str) -> None:
        self.probe_found = None
        self.answer = None
        self.probe_view.value = self.probe_chip_view.value = b""
        self.answer_view.value = ""
        found = find_face(image, name, self.model)
        self.probe_found = found
        self.probe_view.value = png_bytes(_annotated(found))
        self.probe_chip_view.value = png_bytes(found.chip)
        (self.probe.message.info if found.note else self.probe.message.success)(found.describe())
        self._show_answer()

    def enroll(self) -> bool:
        """Add the face of the last good photo under the typed name; True when it was added."""
        if self.found is None:
            self.message.error("no face to enroll yet: upload a photo (or capture one) in step 1 first")
            return False
        try:
            name = check_new_name(self.name_box.value, self.database)
            self.database.enroll(name, self.found.encoding)
        except CourseError as error:
            self.message.error(error)
            return False
        self.enrolled.append(name)
        self.save_button.disabled = False
        self.message.success(
            f"Enrolled {name!r} from {self.found.name} in a copy of the course database "
            f"({len(self.database)} people now); nothing is saved unless you press Save."
        )
        self._show_answer()
        return True

    def decide(self, tau: float | None = None) -> dict | None:
        """who_is_it for the second photo at ``tau`` (default: the slider): distances to every entry, the answer."""
        if self.probe_found is None:
            return None
        tau = float(self.tau.value if tau is None else tau)
        distances = self.database.identity_distances(self.probe_found.encoding)
        closest = min(distances, key=distances.get)
        distance = distances[closest]
        return {
            "tau": tau,
            "distances": dict(sorted(distances.items(), key=lambda item: item[1])),
            "distance": distance,
            "identity": closest if distance < tau else constants.NOT_RECOGNIZED,
            "closest": closest,
        }

    def _decision_line(self, answer: dict) -> str:
        tau, distance = answer["tau"], answer["distance"]
        if answer["identity"] == constants.NOT_RECOGNIZED:
            return (
                f"{self.probe_found.name}: not recognized (closest: {answer['closest']}, d = {distance:.3f} "
                f"≥ τ = {tau:.2f})"
            )
        return f"{self.probe_found.name}: it's {answer['identity']} (d = {distance:.3f} < τ = {tau:.2f})"

    def _show_answer(self) -> None:
        self.answer = self.decide()
        if self.answer is None:
            self.answer_view.value = ""
            return
        tau = self.answer["tau"]
        rows = []
        for name, distance in self.answer["distances"].items():
            style = "font-weight:bold;" if name in self.enrolled else ""
            mark = "✓ below τ" if distance < tau else ""
            rows.append(
                f"<tr style='{style}'><td style='padding-right:1em'>{html.escape(name, quote=False)}</td>"
                f"<td style='text-align:right'>{distance:.3f}</td><td style='padding-left:1em;color:#1e6b35'>"
                f"{mark}</td></tr>"
            )
        self.answer_view.value = (
            f"<div><b>{html.escape(self._decision_line(self.answer), quote=False)}</b></div>"
            "<div style='max-height:16em;overflow-y:auto'><table>"
            "<tr><th style='text-align:left'>entry</th><th>distance</th><th></th></tr>"
            f"{''.join(rows)}</table></div>"
        )

    def save(self) -> Path | None:
        """Write the copy (the course's people and the learner's) with FaceDatabase.save; returns the path."""
        if not self.enrolled:
            self.message.error("nothing to save yet: enroll yourself first")
            return None
        path = self.save_path or config.output_dir(SAVE_FOLDER) / SAVE_NAME
        try:
            self.database.save(path)
        except (CourseError, OSError) as error:
            self.message.error(error)
            return None
        self.saved_to = path
        self.message.success(f"Saved {len(self.database)} people to {path} (FaceDatabase.load reads it back).")
        return path

    def reset(self) -> None:
        """Back to the course database: the names you added are removed (in memory)."""
        self.database = FaceDatabase.from_dict(self._course, self.database.threshold)
        self.enrolled = []
        self.save_button.disabled = True
        self.message.info(f"Back to the course database ({len(self.database)} people).")
        self._show_answer()

    # ------------------------------------------------------------------ the default run
    def run_example(self, photo, probe, name: str = "you (example)") -> bool:
        """Go through the whole path from Python: ``photo`` enrolled as ``name``, then ``probe`` identified.

        The notebook calls it so that a run without a front end (nbval, the grader) still shows the
        control working; it is the same path as an upload.

        Returns:
            True when both photos were used and the name was enrolled.
        """
        if not self.photo.load(photo):
            return False
        self.name_box.value = name
        if not self.enroll():
            return False
        return self.probe.load(probe)

    def summary(self) -> str:
        """What the control shows now, as plain text."""
        lines = [
            "Enroll yourself: a copy of the course database "
            f"({len(self._course)} people; the course's own database and the disk stay unchanged)"
        ]
        if self.found is not None:
            lines.append(f"  photo: {self.found.describe()}")
        elif self.photo.message.text:
            lines.append(f"  photo: {self.photo.message.text}")
        if self.message.text:
            lines.append(f"  {self.message.text}")
        if self.answer is not None:
            lines.append(f"  second photo: {self.probe_found.describe()}")
            lines.append(f"  who_is_it at tau = {self.answer['tau']:.2f}: {self._decision_line(self.answer)}")
            lines.append(
                "  distance to every entry: "
                + ", ".join(f"{name} {distance:.3f}" for name, distance in self.answer["distances"].items())
            )
        elif self.probe.message.text:
            lines.append(f"  second photo: {self.probe.message.text}")
        return "\n".join(lines)

    def show(self) -> None:
        """Display the control (its :meth:`summary` where no front end draws widgets)."""
        show_control(self, self.summary())
