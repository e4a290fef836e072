"""Concept diagrams of the course, drawn by code: the pictures the notebooks' markdown shows.

The lecture teaches with slides; the notebooks show the same ideas as PNG files in
``notebooks/images/`` (``![...](images/siamese_encoder.png)`` in a markdown cell), visible in a
notebook viewer before anything runs. Every picture is drawn here, so it is restyled in one place,
reads its numbers from the library (the threshold, the VGG19 layers of each preset, the
receptive fields, the convolution shapes) and cannot go stale unnoticed: ``--check`` (and
``tests/test_course_diagrams.py``) redraws every diagram and compares it with the committed file,
pixel by pixel with a small tolerance.

One function per diagram returns a :class:`matplotlib.figure.Figure` drawn on a canvas measured in
inches (the axes fill the figure and one data unit is one inch, so boxes and arrows are placed by
hand). :data:`DIAGRAMS` maps each file name to its function.

Usage::

    python -m utils.course.diagrams                  # redraw every PNG into notebooks/images/
    python -m utils.course.diagrams --check          # compare instead; exit 1 if one is missing or stale
    python -m utils.course.diagrams --out /tmp/d siamese_encoder    # one diagram, elsewhere

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> [path.name for path in render_all(folder, names=["conv1d"])]
    ['conv1d.png']
    >>> image_difference(folder / "conv1d.png", folder / "conv1d.png")
    0.0
"""

from __future__ import annotations

import argparse
import io
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from utils import config, files
from utils.convnets import arithmetic
from utils.errors import CourseError, UsageError, report
from utils.faces import constants
from utils.nst import settings, vgg

__all__ = ["DIAGRAMS", "DEFAULT_FOLDER", "DPI", "render", "render_all", "check", "image_difference", "main"]

#: Where the notebooks look for the pictures (``images/<name>.png`` beside the notebooks).
DEFAULT_FOLDER = config.REPO_ROOT / "notebooks" / "images"

#: Resolution of every PNG: a 9-inch-wide diagram is 990 pixels wide.
DPI = 110

#: Colours of the saved palette PNG: enough for anti-aliased text, a fraction of an RGB file's size.
PALETTE_COLORS = 256

#: A pixel "differs" when one of its channels differs by more than this (0-255).
PIXEL_TOLERANCE = 48

#: A redrawn diagram is stale when more than this fraction of its pixels differ: about 20 pixels of a
#: 1100 x 450 image (one changed digit changes about 60).
STALE_FRACTION = 0.00004

#: One palette for every diagram: what a colour means is the same in all of them.
INK = "#222222"
MUTED = "#6b6b6b"
NETWORK, NETWORK_LIGHT = "#3f6fae", "#dbe6f4"  # encoders, VGG19, layers
EMBEDDING, EMBEDDING_LIGHT = "#d9822b", "#fbe5cf"  # encodings, activations
GOOD, GOOD_LIGHT = "#3d8b4f", "#dcefdf"  # same person, positive, "yes"
BAD, BAD_LIGHT = "#b8433f", "#f6dcda"  # different person, negative, "no"
COST, COST_LIGHT = "#6f5aa8", "#e7e1f4"  # losses, costs, decisions
HIGHLIGHT = "#f2c14e"  # the one thing the eye should find
CHANNEL_COLORS = ("#8fb8de", "#f4a582", "#a6d96a", "#c2a5cf")

_RC = {
    "font.family": "DejaVu Sans",  # ships with matplotlib: the same glyphs on every machine
    "mathtext.fontset": "dejavusans",
    "font.size": 11,
    "text.color": INK,
    "axes.unicode_minus": True,
    "hatch.linewidth": 0.6,
}


# Drawing helpers (all coordinates in inches, origin bottom-left)
# ----------------------------------------------------------------------------------------------


def _canvas(width: float, height: float, bottom: float = 0.0):
    """A figure ``width`` x ``height`` inches whose one axes maps data units to inches (y from ``bottom``)."""
    from matplotlib.figure import Figure  # deferred: matplotlib is only needed to draw

    figure = Figure(figsize=(width, height), dpi=DPI, facecolor="white")
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_xlim(0, width)
    axes.set_ylim(bottom, bottom + height)
    axes.axis("off")
    return figure, axes


def _box(
    axes,
    x,
    y,
    width,
    height,
    text="",
    face=NETWORK_LIGHT,
    edge=NETWORK,
    size=11,
    weight="normal",
    color=INK,
    radius=0.08,
    linewidth=1.4,
    linestyle="-",
    zorder=2,
):
    """A rounded box centred on (x, y) with centred text."""
    from matplotlib.patches import FancyBboxPatch  # deferred: matplotlib is only needed to draw

    axes.add_patch(
        FancyBboxPatch(
            (x - width / 2, y - height / 2),
            width,
            height,
            boxstyle=f"round,pad=0,rounding_size={radius}",
            facecolor=face,
            edgecolor=edge,
            linewidth=linewidth,
            linestyle=linestyle,
            zorder=zorder,
        )
    )
    if text:
        axes.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=size,
            fontweight=weight,
            color=color,
            zorder=zorder + 1,
            linespacing=1.3,
        )


def _rect(axes, x0, y0, width, height, face, edge=INK, linewidth=0.6, zorder=2, **kwargs):
    """A plain rectangle with its lower-left corner at (x0, y0)."""
    from matplotlib.patches import Rectangle  # deferred: matplotlib is only needed to draw

    axes.add_patch(
        Rectangle((x0, y0), width, height, facecolor=face, edgecolor=edge, linewidth=linewidth, zorder=zorder, **kwargs)
    )


def _polygon(axes, points, face, edge=INK, linewidth=0.6, zorder=2, alpha=1.0):
    from matplotlib.patches import Polygon  # deferred: matplotlib is only needed to draw

    axes.add_patch(
        Polygon(points, closed=True, facecolor=face, edgecolor=edge, linewidth=linewidth, zorder=zorder, alpha=alpha)
    )


def _arrow(axes, start, end, color=INK, linewidth=1.4, style="-|>", curve=0.0, linestyle="-", zorder=3, shrink=0.0):
    """An arrow from ``start`` to ``end`` (a straight line unless ``curve`` bends it)."""
    from matplotlib.patches import FancyArrowPatch  # deferred: matplotlib is only needed to draw

    axes.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=13,
            color=color,
            linewidth=linewidth,
            linestyle=linestyle,
            zorder=zorder,
            connectionstyle=f"arc3,rad={curve}",
            shrinkA=shrink,
            shrinkB=shrink,
        )
    )


def _text(axes, x, y, text, size=11, ha="center", va="center", color=INK, **kwargs):
    axes.text(x, y, text, fontsize=size, ha=ha, va=va, color=color, linespacing=1.3, **kwargs)


def _face(axes, x, y, radius=0.32, hair="#5a3b22", skin="#f1c9a5", frame=True):
    """A simple face icon centred on (x, y): an input photo."""
    from matplotlib.patches import Arc, Circle, Wedge  # deferred: matplotlib is only needed to draw

    if frame:
        _rect(
            axes,
            x - radius * 1.35,
            y - radius * 1.35,
            radius * 2.7,
            radius * 2.7,
            "#eef1f5",
            edge=MUTED,
            linewidth=0.8,
            zorder=2,
        )
    axes.add_patch(Circle((x, y), radius, facecolor=skin, edgecolor="#9a7b63", linewidth=0.8, zorder=3))
    axes.add_patch(Wedge((x, y + radius * 0.05), radius * 1.04, 15, 165, facecolor=hair, edgecolor="none", zorder=4))
    for side in (-1, 1):
        axes.add_patch(Circle((x + side * radius * 0.36, y - radius * 0.08), radius * 0.08, color=INK, zorder=5))
    axes.add_patch(
        Arc(
            (x, y - radius * 0.3),
            radius * 0.8,
            radius * 0.45,
            theta1=200,
            theta2=340,
            color="#8a3b2e",
            linewidth=1.1,
            zorder=5,
        )
    )


def _encoding(axes, x, y, cells=8, cell=0.16, color=EMBEDDING, seed=0):
    """A column vector of ``cells`` shaded cells centred on (x, y) (an encoding)."""
    from matplotlib.colors import to_rgb  # deferred: matplotlib is only needed to draw

    shades = np.random.default_rng(seed).uniform(0.25, 1.0, cells)
    base = np.array(to_rgb(color))
    top = y + cells * cell / 2
    for index, shade in enumerate(shades):
        rgb = 1 - shade * (1 - base)
        _rect(axes, x - cell / 2, top - (index + 1) * cell, cell, cell, tuple(rgb), edge="white", linewidth=0.8)
    _rect(axes, x - cell / 2, top - cells * cell, cell, cells * cell, "none", edge=color, linewidth=1.2, zorder=3)


def _convnet(axes, x, y, width=1.9, height=1.1, label="ConvNet", face=NETWORK_LIGHT, edge=NETWORK):
    """An encoder drawn as a box holding layers that shrink from left to right."""
    _box(axes, x, y, width, height, face=face, edge=edge)
    count = 5
    left = x - width / 2 + 0.22
    step = (width - 0.44) / (count - 1)
    for index in range(count):
        bar = height * (0.72 - 0.11 * index)
        _rect(
            axes,
            left + index * step - 0.05,
            y - 0.08 - bar / 2 + 0.02,
            0.1,
            bar,
            edge,
            edge="none",
            zorder=3,
            alpha=0.45 + 0.1 * index,
        )
    _text(axes, x, y + height / 2 - 0.14, label, size=10, color=edge, weight="bold")


def _brace(axes, x0, y0, x1, y1, text, side=1, size=10, color=MUTED, offset=0.12):
    """A square bracket along the segment (x0, y0)-(x1, y1) with a label beside it."""
    if y0 == y1:  # horizontal
        axes.plot([x0, x0, x1, x1], [y0, y0 + side * 0.06, y0 + side * 0.06, y0], color=color, linewidth=1.0)
        _text(
            axes,
            (x0 + x1) / 2,
            y0 + side * (0.06 + offset),
            text,
            size=size,
            color=color,
            va="bottom" if side > 0 else "top",
        )
    else:  # vertical
        axes.plot([x0, x0 + side * 0.06, x1 + side * 0.06, x1], [y0, y0, y1, y1], color=color, linewidth=1.0)
        _text(
            axes,
            x0 + side * (0.06 + offset),
            (y0 + y1) / 2,
            text,
            size=size,
            color=color,
            ha="left" if side > 0 else "right",
        )


# The diagrams
# ----------------------------------------------------------------------------------------------


def siamese_encoder():
    """Two copies of one ConvNet with shared weights; the distance of the two encodings vs a threshold.

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("siamese_encoder")`` writes it to ``siamese_encoder.png``).
    """
    figure, axes = _canvas(9.6, 4.15, bottom=-0.3)
    threshold = constants.DEFAULT_THRESHOLD
    size = constants.EMBEDDING_SIZE
    for y, label, hair, seed in ((2.75, "1", "#5a3b22", 1), (0.95, "2", "#222222", 2)):
        _face(axes, 0.7, y, hair=hair)
        _text(axes, 0.7, y - 0.62, f"$x^{{({label})}}$", size=12)
        _arrow(axes, (1.22, y), (1.7, y))
        _convnet(axes, 2.7, y, label="ConvNet")
        _arrow(axes, (3.68, y), (4.2, y))
        _encoding(axes, 4.42, y, seed=seed)
        _text(axes, 4.42, y + 0.88 * (1 if label == "1" else -1), f"$f(x^{{({label})}})$", size=12)
    _arrow(axes, (2.7, 2.18), (2.7, 1.52), color=NETWORK, style="<|-|>", linestyle="--")
    _text(axes, 4.42, 1.85, f"encodings:\n{size} numbers\neach", size=9, color=MUTED)
    _text(axes, 2.82, 1.85, "same weights\n(one network)", size=9.5, ha="left", color=NETWORK)
    _box(
        axes,
        6.55,
        1.85,
        2.25,
        0.78,
        "$d = \\Vert f(x^{(1)}) - f(x^{(2)}) \\Vert$",
        face=EMBEDDING_LIGHT,
        edge=EMBEDDING,
        size=12,
    )
    _arrow(axes, (4.62, 2.75), (5.42, 2.05), curve=-0.2)
    _arrow(axes, (4.62, 0.95), (5.42, 1.65), curve=0.2)
    _arrow(axes, (7.68, 1.85), (8.0, 1.85))
    _box(axes, 8.75, 2.55, 1.45, 0.62, f"$d < \\tau = {threshold:g}$\nsame person", face=GOOD_LIGHT, edge=GOOD, size=10)
    _box(axes, 8.75, 1.15, 1.45, 0.62, "$d \\geq \\tau$\ndifferent people", face=BAD_LIGHT, edge=BAD, size=10)
    _arrow(axes, (8.0, 1.85), (8.2, 2.2), color=GOOD, curve=-0.2)
    _arrow(axes, (8.0, 1.85), (8.2, 1.5), color=BAD, curve=0.2)
    _text(
        axes,
        4.8,
        -0.15,
        "A Siamese network: the same ConvNet encodes both photos (the softmax layer is "
        f"dropped; the {size}-number layer is the encoding).",
        size=9.5,
        color=MUTED,
    )
    return figure


def triplet_margin():
    """Anchor, positive and negative on a distance axis: d(A,P) + alpha <= d(A,N); why alpha > 0.

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("triplet_margin")`` writes it to ``triplet_margin.png``).
    """
    figure, axes = _canvas(10.2, 4.5, bottom=0.3)
    alpha, d_ap, d_an_close, d_an_far = 0.2, 0.50, 0.51, 0.85
    scale, x0 = 5.6, 0.75

    def at(distance):
        return x0 + distance * scale

    _text(
        axes,
        0.25,
        4.52,
        "The triplet loss wants every negative farther from the anchor than the positive, by a margin $\\alpha$:",
        size=11.5,
        ha="left",
    )
    _text(
        axes,
        0.25,
        4.14,
        "$\\mathcal{L}(A, P, N) = \\max\\,(d(A,P) - d(A,N) + \\alpha,\\ 0)$   with   "
        "$d(A, X) = \\Vert f(A) - f(X) \\Vert^2$ (squared distance)",
        size=11.5,
        ha="left",
    )
    rows = [
        (
            2.85,
            d_an_close,
            "N",
            BAD,
            f"too close: d(A,N) − d(A,P) = {d_an_close - d_ap:.2f} < $\\alpha$,  "
            f"loss = {d_ap:.2f} − {d_an_close:.2f} + {alpha:g} = {d_ap - d_an_close + alpha:.2f}",
        ),
        (
            1.45,
            d_an_far,
            "N",
            GOOD,
            f"far enough: d(A,N) = {d_an_far:.2f} ≥ d(A,P) + $\\alpha$ = {d_ap + alpha:.2f},  loss = 0",
        ),
    ]
    for axis_y, d_an, label, verdict_color, verdict in rows:
        _rect(axes, at(d_ap), axis_y - 0.035, alpha * scale, 0.07, BAD_LIGHT, edge="none", zorder=1)
        _rect(
            axes,
            at(d_ap + alpha),
            axis_y - 0.035,
            (1.02 - d_ap - alpha) * scale,
            0.07,
            GOOD_LIGHT,
            edge="none",
            zorder=1,
        )
        axes.plot([at(0), at(1.05)], [axis_y, axis_y], color=INK, linewidth=1.1, zorder=2)
        _arrow(axes, (at(1.03), axis_y), (at(1.1), axis_y))
        for tick in np.arange(0, 1.01, 0.1):
            axes.plot([at(tick)] * 2, [axis_y - 0.05, axis_y + 0.05], color=INK, linewidth=0.8, zorder=2)
            _text(axes, at(tick), axis_y - 0.2, f"{tick:.1f}", size=8, color=MUTED)
        for distance, color, size in ((0.0, NETWORK, 110), (d_ap, GOOD, 90), (d_an, BAD, 90)):
            axes.scatter([at(distance)], [axis_y], s=size, color=color, zorder=5, edgecolor="white", linewidth=1.0)
        _text(axes, at(0), axis_y + 0.27, "A", size=11, weight="bold", color=NETWORK)
        _text(axes, at(d_ap) - 0.04, axis_y + 0.27, f"P ({d_ap:.2f})", size=10, weight="bold", color=GOOD, ha="right")
        _text(
            axes, at(d_an) + 0.04, axis_y + 0.27, f"{label} ({d_an:.2f})", size=10, weight="bold", color=BAD, ha="left"
        )
        _text(axes, at(0) - 0.1, axis_y - 0.52, verdict, size=10, color=verdict_color, ha="left")
    _brace(
        axes,
        at(d_ap),
        3.38,
        at(d_ap + alpha),
        3.38,
        f"margin $\\alpha$ = {alpha:g}",
        side=1,
        size=9.5,
        color=BAD,
        offset=0.04,
    )
    _text(axes, at(1.1) + 0.05, 1.45, "$d(A, \\cdot)$", size=10, ha="left", color=MUTED)
    _text(axes, at(1.1) + 0.05, 2.85, "$d(A, \\cdot)$", size=10, ha="left", color=MUTED)
    # right panel: why the margin
    panel = 7.55
    _rect(axes, panel - 0.15, 0.35, 2.75, 3.1, "#f7f7f7", edge="#d0d0d0", linewidth=0.8, zorder=0)
    _text(axes, panel, 3.15, "Why $\\alpha > 0$?", size=11.5, ha="left", weight="bold")
    _text(
        axes,
        panel,
        2.3,
        "If every photo got the same\nencoding, $f(x) \\equiv 0$, then\n"
        "$d(A,P) = d(A,N) = 0$ and\n$d(A,P) \\leq d(A,N)$ holds for\nevery triplet.",
        size=9.5,
        ha="left",
    )
    axes.plot([panel + 0.1, panel + 1.1], [1.35, 1.35], color=INK, linewidth=1.0)
    for offset, color in ((0.0, NETWORK), (0.1, GOOD), (0.2, BAD)):
        axes.scatter([panel + 0.2], [1.35 + offset], s=45, color=color, zorder=5, edgecolor="white")
    _text(axes, panel + 0.4, 1.5, "A = P = N", size=9, ha="left")
    _text(axes, panel + 0.2, 1.18, "0", size=8, color=MUTED)
    _text(
        axes,
        panel,
        0.85,
        "without $\\alpha$: loss 0, useless encoder\nwith $\\alpha$: loss = $\\alpha$ > 0",
        size=9.5,
        ha="left",
    )
    _text(axes, panel, 0.5, '(FaceNet\'s "collapsed model")', size=8.5, ha="left", color=MUTED)
    return figure


def verification_head():
    """DeepFace-style verification: shared encoder, |f(x_i) - f(x_j)| (or chi-square), Dense, sigmoid.

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("verification_head")`` writes it to ``verification_head.png``).
    """
    figure, axes = _canvas(10.2, 3.9)
    size = constants.EMBEDDING_SIZE
    for y, label, hair, seed in ((2.85, "i", "#5a3b22", 3), (1.15, "j", "#a0522d", 4)):
        _face(axes, 0.6, y, hair=hair)
        _text(axes, 0.6, y - 0.62, f"$x^{{({label})}}$", size=12)
        _arrow(axes, (1.12, y), (1.5, y))
        _convnet(axes, 2.35, y, width=1.6, height=1.0, label="encoder f")
        _arrow(axes, (3.17, y), (3.55, y))
        _encoding(axes, 3.75, y, cells=7, seed=seed)
        _text(axes, 3.75, y + 0.75, f"$f(x^{{({label})}})$", size=11)
    _text(axes, 2.35, 2.0, "shared weights\n(frozen in notebook 03)", size=9, color=NETWORK)
    _box(axes, 5.65, 2.0, 2.6, 1.65, "", face=EMBEDDING_LIGHT, edge=EMBEDDING)
    _text(axes, 5.65, 2.6, "element-wise, k = 1 … " + str(size), size=9.5, color=MUTED)
    _text(axes, 5.65, 2.27, "$\\vert f(x^{(i)})_k - f(x^{(j)})_k \\vert$", size=12)
    _text(
        axes,
        5.65,
        1.82,
        "or  $\\chi^2_k = \\dfrac{(f(x^{(i)})_k - f(x^{(j)})_k)^2}{f(x^{(i)})_k + f(x^{(j)})_k}$",
        size=10.5,
    )
    _text(axes, 5.65, 1.35, "(signed encodings: |·| + ε below, notebook 03)", size=8, color=MUTED)
    _arrow(axes, (3.95, 2.85), (4.33, 2.35), curve=-0.15)
    _arrow(axes, (3.95, 1.15), (4.33, 1.65), curve=0.15)
    _arrow(axes, (6.97, 2.0), (7.3, 2.0))
    _encoding(axes, 7.5, 2.0, cells=7, color=EMBEDDING, seed=5)
    _text(axes, 7.5, 2.75, f"{size}\nfeatures", size=9, color=MUTED)
    _arrow(axes, (7.7, 2.0), (7.95, 2.0))
    _box(axes, 8.5, 2.0, 1.05, 0.75, "Dense(1)\n" + f"{size} w + b", face=COST_LIGHT, edge=COST, size=9.5)
    _arrow(axes, (9.04, 2.0), (9.3, 2.0))
    _box(axes, 9.7, 2.0, 0.72, 0.6, "$\\sigma \\rightarrow \\hat{y}$", face=COST_LIGHT, edge=COST, size=11)
    _text(axes, 9.0, 1.25, "$\\hat{y} = \\sigma(\\sum_k w_k\\,\\mathrm{feature}_k + b)$", size=10.5, color=COST)
    _text(axes, 9.0, 0.72, "$\\hat{y}$ ≈ 1: same person\n$\\hat{y}$ ≈ 0: different", size=9.5, color=COST)
    _text(
        axes,
        5.1,
        0.22,
        "DeepFace-style verification. In notebook 03 the encoder is frozen; only the head "
        "(w, b) is trained (cross-entropy).",
        size=9.5,
        color=MUTED,
    )
    return figure


def verification_vs_recognition():
    """1:1 verification (one comparison with the claimed identity) vs 1:K recognition (search all K).

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("verification_vs_recognition")`` writes it to ``verification_vs_recognition.png``).
    """
    figure, axes = _canvas(10.2, 4.3)
    threshold = constants.DEFAULT_THRESHOLD
    for left, title in ((0.15, "Verification (1 : 1)"), (5.25, "Recognition (1 : K)")):
        _rect(axes, left, 0.2, 4.8, 3.95, "#f8f9fb", edge="#cfd5de", linewidth=0.9, zorder=0)
        _text(axes, left + 0.2, 3.9, title, size=12.5, ha="left", weight="bold")
    # verification
    _face(axes, 0.75, 2.7, radius=0.28)
    _text(axes, 0.75, 2.05, 'photo +\n"I am younes"', size=9.5)
    _arrow(axes, (1.2, 2.7), (1.65, 2.7))
    _box(axes, 2.15, 2.7, 0.9, 0.6, "f", face=NETWORK_LIGHT, edge=NETWORK, size=12, weight="bold")
    _arrow(axes, (2.6, 2.7), (3.05, 2.7))
    _box(axes, 3.95, 2.7, 1.6, 0.75, "one distance\n$d$ to younes", face=EMBEDDING_LIGHT, edge=EMBEDDING, size=10)
    _box(axes, 3.95, 1.45, 1.6, 0.55, "database[younes]", face="white", edge=MUTED, size=9.5)
    _arrow(axes, (3.95, 1.73), (3.95, 2.32))
    _arrow(axes, (3.95, 2.32 - 0.0), (3.95, 2.32))
    _box(
        axes,
        1.75,
        1.0,
        2.4,
        0.7,
        f"$d < {threshold:g}$ ?  yes: open the door\nno: refuse",
        face=COST_LIGHT,
        edge=COST,
        size=9.5,
    )
    _arrow(axes, (3.15, 2.32), (2.3, 1.36), curve=-0.2)
    _text(axes, 0.35, 0.4, "one comparison, with the identity the person claims", size=9, ha="left", color=MUTED)
    # recognition
    _face(axes, 5.85, 2.7, radius=0.28, hair="#222222")
    _text(axes, 5.85, 2.1, "photo only", size=9.5)
    _arrow(axes, (6.3, 2.7), (6.7, 2.7))
    _box(axes, 7.15, 2.7, 0.8, 0.6, "f", face=NETWORK_LIGHT, edge=NETWORK, size=12, weight="bold")
    _arrow(axes, (7.55, 2.7), (7.95, 2.7))
    rows = [("andrew", 0.93), ("bertrand", 0.81), ("kian", 0.77), ("younes", 0.41), ("…", None), ("tian", 1.02)]
    top = 3.5
    _text(axes, 8.95, top + 0.15, "all K stored encodings", size=9.5, color=MUTED)
    for index, (name, distance) in enumerate(rows):
        y = top - 0.22 - index * 0.3
        best = name == "younes"
        _rect(axes, 8.05, y - 0.13, 1.8, 0.26, HIGHLIGHT if best else "white", edge=MUTED, linewidth=0.6)
        _text(axes, 8.13, y, name, size=9, ha="left")
        if distance is not None:
            _text(axes, 9.78, y, f"d = {distance:.2f}", size=9, ha="right")
    _box(
        axes,
        7.25,
        0.95,
        3.4,
        0.8,
        f'smallest d < {threshold:g}: "younes"\notherwise: "{constants.NOT_RECOGNIZED}"',
        face=COST_LIGHT,
        edge=COST,
        size=9.5,
    )
    _arrow(axes, (8.95, 1.5), (8.5, 1.36))
    _text(axes, 5.45, 0.4, "K comparisons: K chances to match a stranger by mistake", size=9, ha="left", color=MUTED)
    return figure


def _volume(axes, x0, y0, cell, rows, cols, channels, depth_dx, depth_dy, highlight=()):
    """An activation volume: ``channels`` slices of rows x cols cells, back to front."""
    for channel in reversed(range(channels)):
        dx, dy = channel * depth_dx, channel * depth_dy
        color = CHANNEL_COLORS[channel % len(CHANNEL_COLORS)]
        edge = INK if channel in highlight else "#555555"
        width = 1.6 if channel in highlight else 0.6
        for row in range(rows):
            for col in range(cols):
                _rect(
                    axes,
                    x0 + dx + col * cell,
                    y0 + dy + (rows - 1 - row) * cell,
                    cell,
                    cell,
                    color,
                    edge=edge,
                    linewidth=width,
                    zorder=10 - channel,
                )


def gram_unrolling():
    """(n_H, n_W, n_C) unrolled to A of shape (n_C, n_H n_W); G = A A^T of shape (n_C, n_C).

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("gram_unrolling")`` writes it to ``gram_unrolling.png``).
    """
    figure, axes = _canvas(10.4, 4.3)
    rows, cols, channels, k, k2 = 3, 3, 4, 1, 3
    cell = 0.3
    # the volume: channel 0 at the front
    vx = 0.65
    _volume(axes, vx, 1.25, cell, rows, cols, channels, 0.2, 0.2, highlight=(k, k2))
    _text(axes, vx + cols * cell / 2, 1.05, "$n_W$", size=11)
    _text(axes, vx - 0.15, 1.25 + rows * cell / 2, "$n_H$", size=11)
    _arrow(axes, (vx - 0.05, 2.25), (vx + 0.55, 2.85), color=MUTED, linewidth=1.0)
    _text(axes, vx + 0.2, 2.68, "$n_C$", size=11, ha="right")
    _text(axes, vx + 0.85, 3.4, "activations $a^{[l]}$ of one layer,\nshape $(n_H, n_W, n_C)$", size=10)
    _text(axes, vx + 0.85, 0.6, f"channels k = {k + 1} and k′ = {k2 + 1}\nare outlined", size=9, color=MUTED)
    _arrow(axes, (2.45, 1.9), (3.0, 1.9))
    _text(axes, 2.72, 2.18, "unroll", size=9.5, color=MUTED)
    # A: one row per channel
    ax0, ay_top = 3.3, 2.5
    small = 0.22
    for channel in range(channels):
        for position in range(rows * cols):
            outlined = channel in (k, k2)
            _rect(
                axes,
                ax0 + position * small,
                ay_top - (channel + 1) * small,
                small,
                small,
                CHANNEL_COLORS[channel],
                edge=INK if outlined else "#555555",
                linewidth=1.2 if outlined else 0.5,
            )
    for channel, name in ((k, "k"), (k2, "k′")):
        _text(axes, ax0 - 0.1, ay_top - (channel + 0.5) * small, name, size=10, ha="right", weight="bold")
    _brace(
        axes,
        ax0,
        ay_top + 0.06,
        ax0 + rows * cols * small,
        ay_top + 0.06,
        "$n_H \\cdot n_W$ positions",
        side=1,
        size=10,
    )
    _text(
        axes, ax0 + rows * cols * small / 2, ay_top - channels * small - 0.3, "$A$: shape $(n_C,\\ n_H n_W)$", size=10.5
    )
    # times A^T
    tx = ax0 + rows * cols * small + 0.35
    _text(axes, tx, 2.05, "×", size=16)
    bx0, by_top = tx + 0.3, 3.1
    for position in range(rows * cols):
        for channel in range(channels):
            outlined = channel == k2
            _rect(
                axes,
                bx0 + channel * small,
                by_top - (position + 1) * small,
                small,
                small,
                CHANNEL_COLORS[channel],
                edge=INK if outlined else "#555555",
                linewidth=1.2 if outlined else 0.5,
            )
    _text(axes, bx0 + channels * small / 2, by_top - rows * cols * small - 0.25, "$A^T$", size=10.5)
    ex = bx0 + channels * small + 0.35
    _text(axes, ex, 2.05, "=", size=16)
    gx0, gy_top = ex + 0.45, 2.05 + channels * small / 2
    for row in range(channels):
        for col in range(channels):
            chosen = (row, col) == (k, k2)
            _rect(
                axes,
                gx0 + col * small,
                gy_top - (row + 1) * small,
                small,
                small,
                HIGHLIGHT if chosen else "#eeeeee",
                edge=INK if chosen else "#999999",
                linewidth=1.4 if chosen else 0.5,
            )
    _text(axes, gx0 + (k2 + 0.5) * small, gy_top + 0.15, "k′", size=10, weight="bold")
    _text(axes, gx0 - 0.1, gy_top - (k + 0.5) * small, "k", size=10, weight="bold", ha="right")
    _text(
        axes,
        gx0 + channels * small / 2,
        gy_top - channels * small - 0.3,
        "Gram matrix $G^{[l]}$\n$(n_C,\\ n_C)$",
        size=10.5,
        va="top",
    )
    _text(
        axes,
        6.6,
        3.95,
        "$G^{[l]}_{kk'} = \\sum_{i=1}^{n_H} \\sum_{j=1}^{n_W} a^{[l]}_{ijk}\\, a^{[l]}_{ijk'}$"
        "  = (row k of A) · (row k′ of A)",
        size=11.5,
    )
    _text(
        axes,
        gx0 + channels * small + 0.3,
        2.05,
        "large when channels\nk and k′ are active\nat the same places\n(no mean subtracted:\nnot a true correlation)",
        size=9,
        ha="left",
        color=MUTED,
    )
    _text(
        axes,
        5.2,
        0.22,
        "Careful: $G^{[l]}$ is the Gram matrix of layer l; G alone is the generated image. "
        "$G^{[l](S)}$, $G^{[l](G)}$: Gram matrices of the style and generated images.",
        size=9,
        color=MUTED,
    )
    return figure


def _picture(kind: str, size: int = 64) -> np.ndarray:
    """Small procedural pictures for :func:`nst_cost` (content, style, generated), RGB in [0, 1]."""
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    content = np.zeros((size, size, 3))
    content[...] = np.stack([0.55 + 0.3 * y, 0.72 + 0.2 * y, 0.95 * np.ones_like(y)], axis=-1)[::-1]
    ground = y > 0.68
    content[ground] = (0.42, 0.62, 0.35)
    house = (x > 0.3) & (x < 0.7) & (y > 0.42) & (y <= 0.8)
    content[house] = (0.85, 0.78, 0.62)
    roof = (y > 0.18) & (y <= 0.42) & (np.abs(x - 0.5) < (y - 0.18) * 0.95)
    content[roof] = (0.7, 0.25, 0.2)
    door = (x > 0.45) & (x < 0.56) & (y > 0.6) & (y <= 0.8)
    content[door] = (0.35, 0.22, 0.15)
    radius = np.hypot(x - 0.35, y - 0.4)
    swirl = np.sin(18 * radius + 5 * np.arctan2(y - 0.4, x - 0.35))
    style = np.stack(
        [0.18 + 0.25 * (swirl > 0.3), 0.25 + 0.45 * (swirl > 0.3) * (radius < 0.35), 0.55 + 0.3 * (swirl < -0.2)],
        axis=-1,
    )
    style[radius < 0.09] = (0.98, 0.85, 0.3)
    if kind == "content":
        picture = content
    elif kind == "style":
        picture = style
    else:
        noise = np.random.default_rng(7).uniform(-0.15, 0.15, (size, size, 3))
        picture = 0.6 * content + 0.4 * style + noise
    return np.round(np.clip(picture, 0, 1) * 5) / 5  # 6 levels per channel: few colours for the PNG palette


def nst_cost():
    """C, S and G through a frozen VGG19; J(G) = alpha J_content + beta J_style; descent on G's pixels.

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("nst_cost")`` writes it to ``nst_cost.png``).
    """
    figure, axes = _canvas(10.4, 4.6)
    rows = [
        ("content", "content image C", 3.75),
        ("style", "style image S", 2.45),
        ("generated", "generated image G", 1.15),
    ]
    for kind, label, y in rows:
        axes.imshow(_picture(kind), extent=(0.3, 1.2, y - 0.45, y + 0.45), interpolation="nearest", zorder=2)
        _rect(
            axes,
            0.3,
            y - 0.45,
            0.9,
            0.9,
            "none",
            edge=GOOD if kind == "generated" else MUTED,
            linewidth=2.0 if kind == "generated" else 0.8,
            zorder=3,
        )
        _text(axes, 1.3, y + 0.3, label, size=10, ha="left")
        _arrow(axes, (1.25, y - 0.05), (2.8, y - 0.05))
    _text(axes, 1.3, 0.98, "(the only thing\nthat changes)", size=9, ha="left", va="top", color=GOOD)
    vgg_x = 3.45
    _box(axes, vgg_x, 2.45, 1.2, 3.55, "", face=NETWORK_LIGHT, edge=NETWORK)
    _text(axes, vgg_x, 3.95, "VGG19", size=11.5, weight="bold", color=NETWORK)
    _text(axes, vgg_x, 3.6, "pretrained,\nfrozen", size=9, color=NETWORK)
    for index in range(6):
        _rect(
            axes,
            vgg_x - 0.43 + index * 0.15,
            1.15 + index * 0.1,
            0.09,
            2.0 - index * 0.2,
            NETWORK,
            edge="none",
            alpha=0.35 + 0.08 * index,
        )
    box_x = 5.95
    _box(axes, box_x, 3.3, 2.7, 0.95, "", face=EMBEDDING_LIGHT, edge=EMBEDDING)
    _text(axes, box_x, 3.5, "$J_{content}(C, G)$", size=11)
    _text(axes, box_x, 3.1, "$\\propto \\Vert a^{[l](C)} - a^{[l](G)} \\Vert^2$", size=10.5)
    _text(axes, box_x, 3.97, "one content layer l: what is where", size=9, color=MUTED)
    _box(axes, box_x, 1.75, 2.7, 1.05, "", face=EMBEDDING_LIGHT, edge=EMBEDDING)
    _text(axes, box_x, 2.0, "$J_{style}(S, G) = \\sum_l\\, \\lambda^{[l]} J^{[l]}_{style}$", size=10.5)
    _text(axes, box_x, 1.5, "$J^{[l]}_{style} \\propto \\Vert G^{[l](S)} - G^{[l](G)} \\Vert^2$", size=10.5)
    _text(axes, box_x, 1.05, "style layers l: Gram matrices (textures)", size=9, color=MUTED)
    _arrow(axes, (vgg_x + 0.62, 3.3), (box_x - 1.37, 3.3))
    _arrow(axes, (vgg_x + 0.62, 1.75), (box_x - 1.37, 1.75))
    j_x = 9.0
    _box(axes, j_x, 2.5, 2.5, 1.0, "", face=COST_LIGHT, edge=COST)
    _text(axes, j_x, 2.7, "$J(G) = \\alpha\\,J_{content}(C, G)$", size=11)
    _text(axes, j_x + 0.1, 2.3, "$+\\ \\beta\\,J_{style}(S, G)$", size=11)
    _arrow(axes, (box_x + 1.37, 3.3), (j_x - 1.27, 2.85), curve=-0.15)
    _arrow(axes, (box_x + 1.37, 1.75), (j_x - 1.27, 2.15), curve=0.15)
    axes.plot([j_x, j_x, 0.75, 0.75], [2.0, 0.2, 0.2, 0.62], color=COST, linewidth=1.6, zorder=1)
    _arrow(axes, (0.75, 0.5), (0.75, 0.68), color=COST, linewidth=1.6)
    _text(
        axes,
        4.9,
        0.38,
        "gradient descent on the pixels of G:   G := G − η ∂J/∂G   (η: learning rate; VGG19's weights never change)",
        size=10,
        color=COST,
    )
    return figure


def vgg19_layers():
    """The VGG19 stack with the style and content layers of the presets notebook 04 uses.

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("vgg19_layers")`` writes it to ``vgg19_layers.png``).
    """
    figure, axes = _canvas(10.0, 4.75, bottom=0.05)
    course, blocks123 = settings.get_preset("course"), settings.get_preset("blocks123")
    x, block_gap, conv_width, pool_width, gap = 2.6, 0.24, 0.17, 0.1, 0.06
    heights = {1: 1.5, 2: 1.2, 3: 0.95, 4: 0.75, 5: 0.6}
    center_y = 2.0
    positions, block_span = {}, {}
    for name, filters in vgg.ARCHITECTURE:
        block = int(name[5])
        if block not in block_span:
            x += block_gap if block > 1 else 0
            block_span[block] = [x, x]
        width = conv_width if filters else pool_width
        height = heights[block] * (1.0 if filters else 0.75)
        _rect(
            axes,
            x,
            center_y - height / 2,
            width,
            height,
            NETWORK if filters else BAD_LIGHT,
            edge=NETWORK if filters else BAD,
            linewidth=0.6,
            alpha=0.55 + 0.09 * block if filters else 1.0,
        )
        positions[name] = x + width / 2
        x += width + gap
        block_span[block][1] = x - gap
    for block, (start, end) in block_span.items():
        filters = vgg.BLOCKS[block - 1][1]
        side = "H × W" if block == 1 else f"H/{2 ** (block - 1)} × W/{2 ** (block - 1)}"
        _text(axes, (start + end) / 2, 0.98, f"block{block}\n{filters} channels\n{side}", size=8.5, va="top")
    partial_x = (block_span[3][1] + block_span[4][0]) / 2
    _rect(
        axes,
        partial_x,
        1.05,
        block_span[5][1] - partial_x + 0.08,
        3.3,
        "none",
        edge="#c4c4c4",
        linewidth=0.8,
        hatch="///",
        zorder=0,
    )
    _text(axes, (partial_x + block_span[5][1]) / 2, 4.5, "blocks 4–5: only in the full VGG19 file", size=9, color=MUTED)
    rows = [
        (course, 4.05, '"course" preset (with the full file)'),
        (blocks123, 3.65, '"blocks123" preset (only the partial\nfile, blocks 1–3)'),
    ]
    for preset, y, label in rows:
        _text(axes, 0.15, y, label, size=9, ha="left")
        axes.plot([2.5, block_span[5][1] + 0.05], [y, y], color="#dddddd", linewidth=0.8, zorder=0)
        for name in preset.style_layers:
            axes.scatter(
                [positions[name]], [y], s=70, marker="o", color=EMBEDDING, zorder=4, edgecolor=INK, linewidth=0.6
            )
        axes.scatter(
            [positions[preset.content_layer]], [y], s=80, marker="s", color=GOOD, zorder=4, edgecolor=INK, linewidth=0.6
        )
    marked = sorted(
        {*course.style_layers, course.content_layer, *blocks123.style_layers, blocks123.content_layer},
        key=vgg.LAYER_NAMES.index,
    )
    for name in marked:
        _text(
            axes,
            positions[name],
            center_y + heights[int(name[5])] / 2 + 0.06,
            name,
            size=7.5,
            rotation=90,
            va="bottom",
            color=INK,
        )
    _text(axes, 0.15, center_y + 0.45, "3×3 convolution", size=9, ha="left", color=NETWORK)
    _text(axes, 0.15, center_y + 0.05, "2×2 max-pool\n(halves H and W)", size=9, ha="left", color=BAD)
    axes.scatter([0.25], [1.3], s=70, color=EMBEDDING, edgecolor=INK, linewidth=0.6)
    _text(axes, 0.4, 1.3, "style layer", size=9, ha="left")
    axes.scatter([0.25], [1.0], s=80, marker="s", color=GOOD, edgecolor=INK, linewidth=0.6)
    _text(axes, 0.4, 1.0, "content layer", size=9, ha="left")
    right = block_span[5][1] + 0.25
    _arrow(axes, (2.55, 0.2), (right, 0.2), color=MUTED, linewidth=1.0)
    _text(axes, 2.55, 0.36, "shallow: edges, colours", size=9, ha="left", color=MUTED)
    _text(axes, right, 0.36, "deep: textures, object parts", size=9, ha="right", color=MUTED)
    weights = lambda preset: ", ".join(f"{value:.2g}" for value in dict.fromkeys(preset.style_layers.values()))
    _text(axes, right + 0.1, 4.1, f"λ = {weights(course)} each,\ncontent {course.content_layer}", size=8.5, ha="left")
    _text(
        axes,
        right + 0.1,
        3.45,
        f"λ = 1/3 each,\ncontent {blocks123.content_layer}\n(used when blocks\n4–5 are missing)",
        size=8.5,
        ha="left",
        va="center",
    )
    return figure


def receptive_field():
    """Receptive fields growing through VGG19's first layers, traced back from one unit (one axis).

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("receptive_field")`` writes it to ``receptive_field.png``).
    """
    figure, axes = _canvas(9.7, 5.2, bottom=-0.15)
    specs = [
        arithmetic.LayerSpec("block1_conv1", 3, 1, "same"),
        arithmetic.LayerSpec("block1_conv2", 3, 1, "same"),
        arithmetic.LayerSpec("block1_pool", 2, 2, 0),
        arithmetic.LayerSpec("block2_conv1", 3, 1, "same"),
        arithmetic.LayerSpec("block2_conv2", 3, 1, "same"),
    ]
    fields = arithmetic.receptive_fields(specs, rank=1)
    pixels, pixel = 22, 0.26
    left, bottom, row_step = 2.0, 0.55, 0.72
    layers = [("input image", 1, 1, 0.0, None)] + [
        (spec.name, spec.kernel_size, fields[spec.name].jump[0], fields[spec.name].start[0], spec) for spec in specs
    ]
    # trace back from one top unit: the set of unit centres each layer contributes
    top_center = 10.5
    needed = {len(layers) - 1: {top_center}}
    for level in range(len(layers) - 1, 0, -1):
        _, kernel, _, _, _ = layers[level]
        jump_below = layers[level - 1][2]
        needed[level - 1] = {
            center + (tap - (kernel - 1) / 2) * jump_below for center in needed[level] for tap in range(kernel)
        }
    shades = ["#c9d6e8", "#b4c8e3", "#9fb9de", "#f2b9a0", "#89aad6", "#6f96cc"]
    for level, (name, kernel, jump, start, spec) in enumerate(layers):
        y = bottom + level * row_step
        centers = [start + index * jump for index in range(int((pixels - 1 - start) // jump) + 1)]
        for center in centers:
            used = center in needed[level]
            face = (HIGHLIGHT if level == len(layers) - 1 else shades[level]) if used else "#f3f3f3"
            _rect(
                axes,
                left + (center - jump / 2 + 0.5) * pixel + 0.015,
                y - 0.14,
                jump * pixel - 0.03,
                0.28,
                face,
                edge="#555555" if used else "#c8c8c8",
                linewidth=0.6,
            )
        low, high = min(needed[level]), max(needed[level])
        if level > 0:
            below = needed[level - 1]
            jump_below = layers[level - 1][2]
            _polygon(
                axes,
                [
                    (left + (min(below) - jump_below / 2 + 0.5) * pixel, y - row_step + 0.15),
                    (left + (max(below) + jump_below / 2 + 0.5) * pixel, y - row_step + 0.15),
                    (left + (high + jump / 2 + 0.5) * pixel, y - 0.15),
                    (left + (low - jump / 2 + 0.5) * pixel, y - 0.15),
                ],
                face=NETWORK,
                edge="none",
                alpha=0.12,
                zorder=1,
            )
        operation = "" if spec is None else ("3×3 conv" if kernel == 3 else "2×2 max-pool, stride 2")
        _text(axes, 0.15, y + 0.07, name, size=9.5, ha="left", weight="bold" if level == len(layers) - 1 else None)
        if operation:
            _text(axes, 0.15, y - 0.14, operation, size=8.5, ha="left", color=MUTED)
        size = 1 if spec is None else fields[spec.name].size[0]
        _text(
            axes,
            left + pixels * pixel + 0.2,
            y,
            f"one unit sees {size} px" if spec else "pixels",
            size=9.5,
            ha="left",
            color=INK if spec else MUTED,
        )
    _text(
        axes,
        left + pixels * pixel / 2,
        bottom + len(layers) * row_step - 0.1,
        "One block2_conv2 unit (yellow) and every unit below it that feeds it, along one axis",
        size=10.5,
    )
    _text(
        axes,
        0.15,
        0.0,
        "Pooling doubles the spacing of the units (the jump), so every later 3×3 layer "
        "widens the field by 4 px instead of 2.",
        size=9,
        ha="left",
        color=MUTED,
    )
    return figure


def _grid(
    axes,
    x0,
    y0,
    cols,
    rows,
    cell_w,
    cell_h,
    face="#e8eef7",
    edge="#8a9bb5",
    highlight_cols=(),
    highlight_face=HIGHLIGHT,
):
    for col in range(cols):
        for row in range(rows):
            chosen = col in highlight_cols
            _rect(
                axes,
                x0 + col * cell_w,
                y0 + row * cell_h,
                cell_w,
                cell_h,
                highlight_face if chosen else face,
                edge=edge,
                linewidth=0.4,
            )
    _rect(axes, x0, y0, cols * cell_w, rows * cell_h, "none", edge=INK, linewidth=0.9, zorder=3)


def conv1d():
    """The lecture's 1D example: 14 x 1 -> 16 filters of 5 -> 10 x 16 -> 32 filters of 5 -> 6 x 32.

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("conv1d")`` writes it to ``conv1d.png``).
    """
    figure, axes = _canvas(10.4, 3.9)
    length, kernel, first, second = 14, 5, 16, 32
    middle = arithmetic.conv_output_shape((length, 1), first, kernel)
    last = arithmetic.conv_output_shape(middle, second, kernel)
    cell = 0.2
    # the signal
    x0, y0 = 0.35, 1.6
    values = np.sin(np.linspace(0, 3.2 * np.pi, length)) * 0.5 + 0.2 * np.cos(np.linspace(0, 9, length))
    _grid(axes, x0, y0, length, 1, cell, cell, highlight_cols=range(kernel))
    axes.plot(x0 + (np.arange(length) + 0.5) * cell, y0 + 0.62 + values * 0.35, color=NETWORK, linewidth=1.6)
    axes.scatter(x0 + (np.arange(length) + 0.5) * cell, y0 + 0.62 + values * 0.35, s=10, color=NETWORK, zorder=4)
    _text(axes, x0 + length * cell / 2, y0 - 0.3, f"signal {length} × 1", size=10.5, weight="bold")
    _text(axes, x0 + length * cell / 2, y0 - 0.58, "(e.g. an ECG: 14 samples, 1 channel)", size=9, color=MUTED)
    # first layer
    mx0, my0 = 4.75, 0.6
    mh = 0.12
    arrow_y = y0 + 0.1
    _grid(axes, mx0, my0, middle[0], middle[1], cell, mh, highlight_cols=(0,))
    _rect(axes, mx0, my0, kernel * cell, middle[1] * mh, "none", edge=GOOD, linewidth=2.2, zorder=4, linestyle="--")
    _arrow(axes, (x0 + length * cell + 0.15, arrow_y), (mx0 - 0.35, arrow_y))
    between = (x0 + length * cell + mx0 - 0.2) / 2
    _text(axes, between, arrow_y + 0.2, f"* {first} filters\nof size {kernel} × 1", size=10, va="bottom")
    _text(axes, between, arrow_y - 0.2, f"{length} − {kernel} + 1 = {middle[0]}", size=9.5, va="top", color=MUTED)
    _text(
        axes,
        mx0 + middle[0] * cell / 2,
        my0 + middle[1] * mh + 0.2,
        f"{middle[0]} × {middle[1]}",
        size=10.5,
        weight="bold",
    )
    _text(axes, mx0 - 0.12, my0 + middle[1] * mh / 2, f"{first} channels", size=8.5, rotation=90, color=MUTED)
    _text(axes, mx0 + middle[0] * cell / 2, my0 - 0.22, "positions →", size=8.5, color=MUTED)
    # second layer
    lx0, ly0 = 8.4, 0.6
    lh = mh * middle[1] / last[1]
    _grid(axes, lx0, ly0, last[0], last[1], cell, lh, highlight_cols=(0,), highlight_face="#9fd3a8")
    _arrow(axes, (mx0 + middle[0] * cell + 0.15, arrow_y), (lx0 - 0.15, arrow_y))
    between = (mx0 + middle[0] * cell + lx0) / 2
    _text(axes, between, arrow_y + 0.2, f"* {second} filters\nof size {kernel} × {first}", size=10, va="bottom")
    _text(axes, between, arrow_y - 0.2, f"{middle[0]} − {kernel} + 1 = {last[0]}", size=9.5, va="top", color=MUTED)
    _text(axes, lx0 + last[0] * cell / 2, ly0 + last[1] * lh + 0.2, f"{last[0]} × {last[1]}", size=10.5, weight="bold")
    _text(
        axes,
        lx0 + last[0] * cell + 0.1,
        ly0 + last[1] * lh / 2,
        f"{second}\nchannels",
        size=8.5,
        ha="left",
        color=MUTED,
    )
    params = (
        arithmetic.conv_param_count(kernel, 1, first, rank=1),
        arithmetic.conv_param_count(kernel, first, second, rank=1),
    )
    _text(
        axes,
        5.2,
        3.6,
        "The lecture's 1D convolution: each filter slides along one axis. A window "
        "(yellow, green dashed) gives one column of the next layer.",
        size=10,
    )
    _text(
        axes,
        5.2,
        3.25,
        f"parameters: {first} × ({kernel}·1 + 1) = {params[0]},   {second} × ({kernel}·{first} + 1) = {params[1]:,}",
        size=9.5,
        color=MUTED,
    )
    return figure


def _cube(axes, x0, y0, side, depth, face, edge=INK, linewidth=0.9, zorder=2, alpha=1.0):
    """An oblique cube: front square side x side at (x0, y0), receding by ``depth`` up-right."""
    from matplotlib.colors import to_rgb  # deferred: matplotlib is only needed to draw

    rgb = np.array(to_rgb(face))
    dx = dy = depth
    _polygon(
        axes,
        [(x0, y0 + side), (x0 + dx, y0 + side + dy), (x0 + side + dx, y0 + side + dy), (x0 + side, y0 + side)],
        tuple(rgb * 0.92 + 0.08),
        edge,
        linewidth,
        zorder,
        alpha,
    )
    _polygon(
        axes,
        [(x0 + side, y0), (x0 + side + dx, y0 + dy), (x0 + side + dx, y0 + side + dy), (x0 + side, y0 + side)],
        tuple(rgb * 0.78),
        edge,
        linewidth,
        zorder,
        alpha,
    )
    _polygon(
        axes,
        [(x0, y0), (x0 + side, y0), (x0 + side, y0 + side), (x0, y0 + side)],
        tuple(rgb),
        edge,
        linewidth,
        zorder,
        alpha,
    )


def conv3d():
    """The lecture's 3D example: 14^3 x 1 -> 16 filters 5^3 -> 10^3 x 16 -> 32 filters -> 6^3 x 32.

    Returns:
        The :class:`matplotlib.figure.Figure` (``render("conv3d")`` writes it to ``conv3d.png``).
    """
    figure, axes = _canvas(10.4, 4.1)
    length, kernel, first, second = 14, 5, 16, 32
    middle = arithmetic.conv_output_shape((length, length, length, 1), first, kernel)
    last = arithmetic.conv_output_shape(middle, second, kernel)
    unit = 0.12
    # input volume with the filter in its corner
    side = length * unit
    _cube(axes, 0.5, 0.85, side, side * 0.45, "#dbe6f4")
    _cube(axes, 0.5, 0.85 + side - kernel * unit, kernel * unit, kernel * unit * 0.45, HIGHLIGHT, zorder=3)
    _text(axes, 0.5 + side / 2, 0.6, f"{length} × {length} × {length} × 1", size=10.5, weight="bold")
    _text(axes, 0.5 + side / 2, 0.3, "(e.g. a CT scan: a volume of voxels)", size=9, color=MUTED)
    _text(
        axes,
        0.6,
        0.85 + side - kernel * unit - 0.22,
        f"one filter: {kernel} × {kernel} × {kernel}",
        size=9,
        color="#8a6d00",
        ha="left",
    )
    # first output: a few stacked cubes for the channels
    side1 = middle[0] * unit
    bx = 4.3
    for index in range(3):
        _cube(
            axes,
            bx + index * 0.16,
            1.05 + index * 0.12,
            side1,
            side1 * 0.45,
            ("#fbe5cf", "#f7d3b0", "#f2c08f")[index],
            zorder=2 + index,
        )
    _text(axes, bx + side1 / 2 + 0.2, 0.6, " × ".join(str(value) for value in middle), size=10.5, weight="bold")
    _text(axes, bx + side1 / 2 + 0.2, 0.3, f"{first} channels, each a {middle[0]}³ volume", size=9, color=MUTED)
    _arrow(axes, (0.5 + side * 1.45 + 0.15, 1.85), (bx - 0.15, 1.85))
    _text(
        axes, (0.5 + side * 1.45 + bx) / 2, 2.05, f"* {first} filters\n{kernel}×{kernel}×{kernel}", size=10, va="bottom"
    )
    _text(
        axes,
        (0.5 + side * 1.45 + bx) / 2,
        1.65,
        f"{length} − {kernel} + 1 = {middle[0]}",
        size=9.5,
        va="top",
        color=MUTED,
    )
    # second output
    side2 = last[0] * unit
    cx = 7.9
    for index in range(4):
        _cube(
            axes,
            cx + index * 0.14,
            1.2 + index * 0.1,
            side2,
            side2 * 0.45,
            ("#dcefdf", "#c7e4cc", "#b2d9b9", "#9dcea6")[index],
            zorder=2 + index,
        )
    _text(axes, cx + side2 / 2 + 0.25, 0.6, " × ".join(str(value) for value in last), size=10.5, weight="bold")
    _text(axes, cx + side2 / 2 + 0.25, 0.3, f"{second} channels", size=9, color=MUTED)
    start = bx + side1 * 1.45 + 0.45
    _arrow(axes, (start, 1.85), (cx - 0.15, 1.85))
    _text(axes, (start + cx) / 2, 2.05, f"* {second} filters\n{kernel}×{kernel}×{kernel}×{first}", size=10, va="bottom")
    _text(axes, (start + cx) / 2, 1.65, f"{middle[0]} − {kernel} + 1 = {last[0]}", size=9.5, va="top", color=MUTED)
    params = (
        arithmetic.conv_param_count(kernel, 1, first, rank=3),
        arithmetic.conv_param_count(kernel, first, second, rank=3),
    )
    _text(
        axes,
        5.2,
        3.8,
        "The lecture's 3D convolution: each filter slides along three axes (height, width, depth or time).",
        size=10,
    )
    _text(
        axes,
        5.2,
        3.45,
        f"parameters: {first} × ({kernel}³·1 + 1) = {params[0]:,},   "
        f"{second} × ({kernel}³·{first} + 1) = {params[1]:,}",
        size=9.5,
        color=MUTED,
    )
    return figure


#: Every diagram: file stem -> function returning its figure.
DIAGRAMS: dict[str, Callable] = {
    "siamese_encoder": siamese_encoder,
    "verification_vs_recognition": verification_vs_recognition,
    "triplet_margin": triplet_margin,
    "verification_head": verification_head,
    "gram_unrolling": gram_unrolling,
    "nst_cost": nst_cost,
    "vgg19_layers": vgg19_layers,
    "receptive_field": receptive_field,
    "conv1d": conv1d,
    "conv3d": conv3d,
}


# Rendering and checking
# ----------------------------------------------------------------------------------------------


def _names(names: Iterable[str] | None) -> list[str]:
    chosen = list(DIAGRAMS) if names is None else list(names)
    unknown = [name for name in chosen if name not in DIAGRAMS]
    if unknown:
        raise UsageError(f"unknown diagram {', '.join(map(repr, unknown))}; choose from {', '.join(DIAGRAMS)}")
    return chosen


def render(name: str, folder=DEFAULT_FOLDER) -> Path:
    """Draw one diagram and write it to ``folder/<name>.png`` (atomically).

    Args:
        name: a key of :data:`DIAGRAMS`.
        folder: where to write (created if missing).

    Returns:
        The path written.

    Raises:
        UsageError: ``name`` is not a diagram.

    Example:
        >>> import tempfile
        >>> render("conv3d", tempfile.mkdtemp()).name
        'conv3d.png'
    """
    _names([name])
    path = Path(folder) / f"{name}.png"
    data = _png_bytes(name)
    files.write_with(path, lambda temporary: temporary.write_bytes(data))
    return path


def _png_bytes(name: str) -> bytes:
    """Draw diagram ``name`` and return it as a palette PNG of :data:`PALETTE_COLORS` colours."""
    import matplotlib  # deferred: matplotlib is only needed to draw
    from PIL import Image  # deferred: Pillow is only needed to write the file

    buffer = io.BytesIO()
    with matplotlib.rc_context(_RC):
        DIAGRAMS[name]().savefig(buffer, format="png", dpi=DPI, facecolor="white")
    buffer.seek(0)
    with Image.open(buffer) as image:  # a palette PNG is a quarter of the RGB file's size
        palette = image.convert("RGB").quantize(
            colors=PALETTE_COLORS, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE
        )
    output = io.BytesIO()
    palette.save(output, format="PNG", optimize=True)
    return output.getvalue()


def render_all(folder=DEFAULT_FOLDER, names: Iterable[str] | None = None) -> list[Path]:
    """Draw every diagram (or ``names``) into ``folder``; returns the paths in :data:`DIAGRAMS` order.

    Example:
        >>> import tempfile
        >>> [path.name for path in render_all(tempfile.mkdtemp(), names=["conv1d", "conv3d"])]
        ['conv1d.png', 'conv3d.png']
    """
    return [render(name, folder) for name in _names(names)]


def _pixels(source) -> np.ndarray:
    """RGB pixels of a PNG given as a path or as its bytes."""
    from PIL import Image  # deferred: Pillow is only needed to compare

    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else Path(source)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.int16)


def image_difference(first, second) -> float:
    """Fraction of pixels whose colour differs by more than :data:`PIXEL_TOLERANCE` (0.0 = same picture).

    Args:
        first, second: PNG files (paths) or PNG bytes.

    Returns:
        A fraction in [0, 1].

    Two PNGs of different sizes differ everywhere (1.0). Anti-aliasing that changes by a few levels
    does not count; a moved box, a changed number or a new colour does.

    Example:
        >>> import tempfile, pathlib
        >>> from PIL import Image
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> Image.new("RGB", (10, 10), "white").save(folder / "a.png")
        >>> Image.new("RGB", (10, 10), (250, 250, 250)).save(folder / "b.png")
        >>> image_difference(folder / "a.png", folder / "b.png")
        0.0
    """
    a, b = _pixels(first), _pixels(second)
    if a.shape != b.shape:
        return 1.0
    return float(np.mean(np.abs(a - b).max(axis=-1) > PIXEL_TOLERANCE))


def check(folder=DEFAULT_FOLDER, names: Iterable[str] | None = None) -> dict[str, str]:
    """Redraw the diagrams (in memory) and compare them with the PNGs in ``folder``.

    Args:
        folder: where the committed PNGs are.
        names: the diagrams to check (default: all of :data:`DIAGRAMS`).

    Returns:
        ``{name: reason}`` for every diagram that is missing or stale (empty when all are current).

    Example:
        >>> import tempfile
        >>> folder = tempfile.mkdtemp()
        >>> check(folder, names=["conv1d"])
        {'conv1d': 'missing: ... does not exist'}
    """
    folder = Path(folder)
    problems = {}
    for name in _names(names):
        committed = folder / f"{name}.png"
        if not committed.is_file():
            problems[name] = f"missing: {committed} does not exist"
            continue
        try:
            difference = image_difference(committed, _png_bytes(name))
        except OSError as error:
            problems[name] = f"unreadable: {committed} ({error})"
            continue
        if difference > STALE_FRACTION:
            problems[name] = (
                f"stale: {difference:.3%} of its pixels differ from a fresh drawing (more than {STALE_FRACTION:.3%})"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    """``python -m utils.course.diagrams [NAME ...] [--out FOLDER] [--check]``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.course.diagrams",
        description="Draw the course's concept diagrams (PNG) for the notebooks.",
    )
    parser.add_argument("names", nargs="*", help=f"diagrams to draw (default: all of {', '.join(DIAGRAMS)})")
    parser.add_argument("--out", default=str(DEFAULT_FOLDER), help="folder of the PNGs (default: notebooks/images)")
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not write: compare fresh drawings with the files in --out; exit 1 if one is missing or stale",
    )
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = check(args.out, args.names or None)
            for name, reason in problems.items():
                print(f"{name}.png: {reason}")
            if problems:
                print(
                    f"{len(problems)} diagram(s) out of date; run: python -m utils.course.diagrams"
                    + ("" if Path(args.out).resolve() == DEFAULT_FOLDER.resolve() else f" --out {args.out}")
                )
                return 1
            print(f"all {len(_names(args.names or None))} diagrams in {args.out} are up to date")
            return 0
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out} is a file, not a folder")
        for path in render_all(out, args.names or None):
            print(f"{path} ({path.stat().st_size / 1024:.0f} KB)")
    except (CourseError, OSError) as error:
        return report(error)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
