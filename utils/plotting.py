"""Plots and tables the notebooks and command lines share: image grids, loss curves, bar charts,
verification figures, plain-text results tables.

Plotting is kept apart from computing: every function here takes plain arrays or result objects,
draws with matplotlib and returns the ``Figure`` (saving it when given ``path``); the one
exception, :func:`patch_grid`, tiles image patches into the single image such a figure shows.
matplotlib is imported inside the functions, so importing this module is cheap.

Example:
    >>> import numpy as np
    >>> from utils import plotting
    >>> figure = plotting.show_grid([np.zeros((4, 4, 3), np.uint8)], titles=["black"])
    >>> len(figure.axes)
    1
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from utils import files
from utils.errors import UsageError
from utils.image_io import load_image, resize


def format_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
    """A plain-text table: left-aligned columns, a dashed line under the header.

    Args:
        header: the column names.
        rows: one sequence of values per row, as many as ``header``; values are shown with
            ``str`` (format numbers before passing them, e.g. ``f"{x:.2f} %"``).

    Returns:
        The table as one string, lines joined by newlines, no trailing newline.

    Raises:
        UsageError: a row whose length differs from the header's.

    Example:
        >>> print(format_table(["tau", "FAR"], [[0.6, "1.5 %"], [0.7, "9.0 %"]]))
        tau  FAR
        ---  -----
        0.6  1.5 %
        0.7  9.0 %
    """
    header = [str(name) for name in header]
    texts = [header]
    for number, row in enumerate(rows):
        if len(row) != len(header):
            raise UsageError(f"row {number} has {len(row)} values but the header has {len(header)} columns")
        texts.append([str(value) for value in row])
    widths = [max(len(row[column]) for row in texts) for column in range(len(header))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip() for row in texts]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def print_table(header: Sequence[str], rows: Sequence[Sequence]) -> None:
    """Print :func:`format_table`'s plain-text table (the notebooks' results tables).

    Args:
        header: the column names.
        rows: one sequence of values per row (shown with ``str``).

    Returns:
        None; the table is printed.

    Example:
        >>> print_table(["method", "accuracy"], [["pixels", "61.0 %"]])
        method  accuracy
        ------  --------
        pixels  61.0 %
    """
    print(format_table(header, rows))


def save_figure(figure, path) -> Path:
    """Save ``figure`` as PNG to ``path`` atomically (folders created); returns the path."""
    return files.write_with(
        path, lambda temporary: figure.savefig(temporary, format="png", dpi=100, bbox_inches="tight")
    )


def draw_image(axis, item, title: str | None, fontsize: int) -> None:
    """Draw one image on a matplotlib ``axis`` with an optional title.

    Args:
        axis: the matplotlib axis to draw on.
        item: an array or a path (anything :func:`load_image` takes); a 2-D array is shown in gray.
        title: the axis title, or None.
        fontsize: the title's font size.

    Returns:
        None.
    """
    if isinstance(item, np.ndarray) and item.ndim == 2:
        axis.imshow(item, cmap="gray")
    else:
        axis.imshow(load_image(item))
    if title is not None:
        axis.set_title(title, fontsize=fontsize)


def show_grid(
    images: Sequence,
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    figsize: tuple[float, float] | None = None,
    path=None,
    cell_size: float = 3.0,
):
    """Show images in a grid with titles; optionally save the figure.

    Args:
        images: arrays or paths (anything :func:`load_image` takes); grayscale 2-D arrays are
            shown with a gray colour map.
        titles: one title per image (optional).
        ncols: number of columns (default: up to 4).
        figsize: matplotlib figure size; default ``cell_size`` inches per cell.
        path: if given, the figure is also saved there (PNG).
        cell_size: inches per grid cell when ``figsize`` is not given.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if len(images) == 0:
        raise ValueError("show_grid needs at least one image")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"got {len(images)} images but {len(titles)} titles")
    ncols = ncols or min(4, len(images))
    nrows = math.ceil(len(images) / ncols)
    figure, axes = plt.subplots(nrows, ncols, figsize=figsize or (cell_size * ncols, cell_size * nrows), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < len(images):
            draw_image(axis, images[index], titles[index] if titles is not None else None, fontsize=9)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def patch_grid(patches: Sequence[np.ndarray], columns: int = 3, size: int = 48, gap: int = 2) -> np.ndarray:
    """Tile image patches, each resized to ``size`` x ``size``, into one uint8 image with white gaps.

    Args:
        patches: uint8 ``(h, w, 3)`` arrays (sizes may differ).
        columns: patches per row.
        size: edge length of every tile in pixels.
        gap: white pixels between tiles.

    Returns:
        uint8 ``(rows * size + (rows - 1) * gap, columns * size + (columns - 1) * gap, 3)``.

    Example:
        >>> patch_grid([np.zeros((5, 5, 3), np.uint8)] * 9, size=4, gap=1).shape
        (14, 14, 3)
    """
    if not patches:
        raise UsageError("no patches to tile")
    rows = math.ceil(len(patches) / columns)
    step = size + gap
    grid = np.full((rows * step - gap, columns * step - gap, 3), 255, np.uint8)
    for index, patch in enumerate(patches):
        row, column = divmod(index, columns)
        grid[row * step : row * step + size, column * step : column * step + size] = resize(
            np.ascontiguousarray(patch), (size, size)
        )
    return grid


def show_image_rows(
    rows: Sequence[Sequence],
    titles: Sequence[Sequence[str]] | None = None,
    title: str | None = None,
    path=None,
    cell_size: float = 2.5,
):
    """Show images in rows, one row per group (rows may be shorter than the longest; the rest is blank).

    Args:
        rows: a sequence of rows, each a sequence of images (arrays or paths; 2-D arrays in gray).
        titles: one title per image, in the same nested shape as ``rows`` (optional).
        title: the figure's title (optional).
        path: if given, the figure is also saved there (PNG).
        cell_size: inches per grid cell (the row height gets a little more, for the titles).

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> black, white = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)
        >>> figure = show_image_rows([[black, white], [white]], titles=[["b", "w"], ["w"]])
        >>> len(figure.axes), [axis.get_title() for axis in figure.axes]
        (4, ['b', 'w', 'w', ''])
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    rows = [list(row) for row in rows]
    if not rows or not any(rows):
        raise UsageError("show_image_rows needs at least one image")
    if titles is not None and [len(row) for row in titles] != [len(row) for row in rows]:
        raise UsageError(
            f"titles have row lengths {[len(row) for row in titles]} but the images have {[len(row) for row in rows]}"
        )
    columns = max(len(row) for row in rows)
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(cell_size * columns, (cell_size + 0.3) * len(rows)), squeeze=False
    )
    for row_index, row in enumerate(rows):
        for column in range(columns):
            axis = axes[row_index, column]
            axis.axis("off")
            if column < len(row):
                draw_image(axis, row[column], titles[row_index][column] if titles is not None else None, fontsize=8)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def show_unit_patches(patches_by_layer, title: str | None = None, path=None, cell_size: float = 2.6):
    """Show each unit's top patches as a 3 x 3 tile, one row of units per layer.

    Args:
        patches_by_layer: ``{layer: [UnitPatches, ...]}``: the objects
            :func:`utils.convnets.top_patches` returns (read here: ``layer``, ``unit``, ``scores``,
            ``patches`` and ``field_size``).
        title: the figure's title (optional).
        path: if given, the figure is also saved there (PNG).
        cell_size: inches per unit.

    Returns:
        The matplotlib ``Figure``; each unit's title gives its layer, index, receptive-field size
        and strongest activation.
    """
    rows, titles = [], []
    for layer, found_list in patches_by_layer.items():
        rows.append([patch_grid(found.patches) for found in found_list])
        titles.append(
            [
                f"{layer} #{found.unit}\nfield {found.field_size[0]} px, top {found.scores[0]:.0f}"
                for found in found_list
            ]
        )
    return show_image_rows(rows, titles, title=title, path=path, cell_size=cell_size)


def plot_loss_history(
    history: Sequence[dict],
    title: str | None = None,
    keys: Sequence[str] = ("total", "content", "style", "tv"),
    xlabel: str = "step",
    path=None,
    figsize: tuple[float, float] = (6, 4),
):
    """Loss curves on a log scale from a per-step history; optionally save the figure.

    Args:
        history: one dict per step with a ``"step"`` entry and one entry per loss (what
            ``utils.nst.NSTResult.history`` holds).
        title: figure title.
        keys: the losses to draw; a loss that is zero at every step (e.g. a switched-off term) or
            absent is left out.
        xlabel: label of the step axis.
        path: if given, the figure is also saved there (PNG).
        figsize: matplotlib figure size in inches.

    Returns:
        The matplotlib ``Figure``.

    Raises:
        UsageError: an empty history.

    Example:
        >>> history = [{"step": 1, "total": 4.0, "tv": 0.0}, {"step": 2, "total": 2.0, "tv": 0.0}]
        >>> figure = plot_loss_history(history, title="demo")
        >>> [line.get_label() for line in figure.axes[0].lines]
        ['total']
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if len(history) == 0:
        raise UsageError("plot_loss_history needs at least one step of history")
    figure, axis = plt.subplots(figsize=figsize)
    steps = [entry["step"] for entry in history]
    for key in keys:
        values = [entry.get(key, 0.0) for entry in history]
        if any(values):
            axis.plot(steps, values, label=key)
    axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("loss")
    if title:
        axis.set_title(title)
    if axis.lines:
        axis.legend()
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def show_snapshots(
    snapshots: Sequence[tuple[int, np.ndarray]],
    final: tuple[int, np.ndarray] | None = None,
    ncols: int | None = None,
    path=None,
):
    """Images of an optimisation at several steps, titled "step N", in a grid.

    Args:
        snapshots: ``[(step, image)]`` in order.
        final: ``(step, image)`` of the end result, added as "final (step N)" unless the last
            snapshot is already that step.
        ncols: number of columns (default: up to 4).
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> black, white = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)
        >>> figure = show_snapshots([(0, black)], final=(5, white))
        >>> [axis.get_title() for axis in figure.axes]
        ['step 0', 'final (step 5)']
    """
    images = [image for _, image in snapshots]
    titles = [f"step {step}" for step, _ in snapshots]
    if final is not None and (not snapshots or snapshots[-1][0] != final[0]):
        images.append(final[1])
        titles.append(f"final (step {final[0]})")
    return show_grid(images, titles=titles, ncols=ncols or min(4, len(images)), path=path)


def plot_verification(
    result,
    path=None,
    bins: int = 50,
    title: str | None = None,
    xlabel: str | None = None,
    marks: dict[str, float] | None = None,
):
    """ROC curve (log FAR axis) and the same / different distance histograms of a verification.

    Args:
        result: an object with the per-pair arrays ``distances`` and ``same`` (bool), the pooled
            ROC ``far`` and ``tar``, and the figures ``threshold``, ``accuracy``, ``folds``,
            ``auc`` and ``eer`` -- e.g. :class:`utils.faces.lfw.EvaluationResult`.
        path: if given, the figure is also saved there (PNG).
        bins: number of histogram bins.
        title: a title above both panels (optional).
        xlabel: the histogram's x-axis label (default "Euclidean distance between encodings").
        marks: more thresholds to draw on the histograms, ``{label: distance}`` (red, dotted),
            e.g. ``{"dlib's threshold 0.6": 0.6}``.

    Returns:
        The matplotlib ``Figure``, with the ROC on ``figure.axes[0]`` and the histograms on
        ``figure.axes[1]``.

    Example:
        >>> from types import SimpleNamespace
        >>> result = SimpleNamespace(distances=np.array([0.2, 0.4, 0.9, 1.1]),
        ...                          same=np.array([True, True, False, False]),
        ...                          far=np.array([0, 0, 0, 0.5, 1]), tar=np.array([0, 0.5, 1, 1, 1]),
        ...                          threshold=0.65, accuracy=1.0, folds=1, auc=1.0, eer=0.0)
        >>> len(plot_verification(result).axes)
        2
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    distances = np.asarray(result.distances, dtype=np.float64)
    same = np.asarray(result.same, dtype=bool)
    figure, (roc_axes, histogram_axes) = plt.subplots(1, 2, figsize=(11, 4.2))
    floor = 0.5 / max(1, int(np.count_nonzero(~same)))  # half a false accept: log axes cannot show 0
    roc_axes.plot(np.maximum(result.far, floor), result.tar, lw=2)
    roc_axes.set_xscale("log")
    roc_axes.set_xlim(floor, 1.0)
    roc_axes.set_xlabel("false accept rate (log)")
    roc_axes.set_ylabel("true accept rate")
    roc_axes.set_title(f"ROC, AUC = {result.auc:.4f}, EER = {100 * result.eer:.2f} %")
    roc_axes.grid(True, which="both", alpha=0.3)
    edges = np.linspace(distances.min(), distances.max(), bins)
    histogram_axes.hist(distances[same], bins=edges, alpha=0.6, label="same person")
    histogram_axes.hist(distances[~same], bins=edges, alpha=0.6, label="different people")
    histogram_axes.axvline(result.threshold, color="k", ls="--", label=f"threshold {result.threshold:.3f}")
    for label, value in (marks or {}).items():
        histogram_axes.axvline(value, color="red", ls=":", label=label)
    histogram_axes.set_xlabel(xlabel or "Euclidean distance between encodings")
    histogram_axes.set_ylabel("pairs")
    histogram_axes.set_title(f"accuracy {100 * result.accuracy:.2f} % over {result.folds} fold(s)")
    histogram_axes.legend()
    if title is not None:
        figure.suptitle(title)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_bars(
    labels: Sequence[str],
    values: Sequence[float],
    errors: Sequence[float] | None = None,
    title: str | None = None,
    ylabel: str | None = None,
    value_format: str = "{:.1f}",
    log: bool = False,
    reference: tuple[float, str] | None = None,
    horizontal: bool = False,
    path=None,
    figsize: tuple[float, float] | None = None,
):
    """A bar chart of a results table: one labelled bar per row, its value written on it.

    Args:
        labels: one label per bar (``"\\n"`` breaks a long label).
        values: one number per bar.
        errors: optional error bars (e.g. one standard deviation), one per bar.
        title: the figure's title.
        ylabel: the value axis' label.
        value_format: format of the number written on each bar (``str.format`` syntax).
        log: a logarithmic value axis (values must then be positive).
        reference: ``(value, label)`` of a dashed reference line (e.g. chance level), optional.
        horizontal: horizontal bars (better for long labels), first label at the top.
        path: if given, the figure is also saved there (PNG).
        figsize: matplotlib figure size in inches (default grows with the number of bars).

    Returns:
        The matplotlib ``Figure``; the bars are ``figure.axes[0].patches``.

    Raises:
        UsageError: no bars, or labels / values / errors of different lengths, or ``log`` with a
            value that is not positive.

    Example:
        >>> figure = plot_bars(["pixels", "encoder"], [61.0, 98.8], ylabel="accuracy (%)",
        ...                    reference=(50.0, "chance"))
        >>> [round(float(bar.get_height()), 1) for bar in figure.axes[0].patches]
        [61.0, 98.8]
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    values = np.asarray(values, dtype=np.float64)
    if len(labels) == 0 or len(labels) != len(values) or (errors is not None and len(errors) != len(values)):
        raise UsageError(
            f"plot_bars needs as many labels as values (and errors): got {len(labels)} labels, "
            f"{len(values)} values" + ("" if errors is None else f", {len(errors)} errors")
        )
    if log and np.any(values <= 0):
        raise UsageError(f"a log axis needs positive values; got {values.min():g}")
    count = len(values)
    if figsize is None:
        figsize = (7.5, 0.45 * count + 1.5) if horizontal else (max(5.0, 1.3 * count + 1.5), 4.0)
    figure, axis = plt.subplots(figsize=figsize)
    positions = np.arange(count)
    colours = [f"C{index % 10}" for index in range(count)]
    if horizontal:
        bars = axis.barh(positions, values, xerr=errors, color=colours, capsize=3)
        axis.set_yticks(positions, labels)
        axis.invert_yaxis()
        value_axis_label, set_scale, reference_line = axis.set_xlabel, axis.set_xscale, axis.axvline
    else:
        bars = axis.bar(positions, values, yerr=errors, color=colours, capsize=3)
        axis.set_xticks(positions, labels)
        value_axis_label, set_scale, reference_line = axis.set_ylabel, axis.set_yscale, axis.axhline
    axis.bar_label(bars, [value_format.format(value) for value in values], padding=2, fontsize=9)
    if log:
        set_scale("log")
    if ylabel:
        value_axis_label(ylabel)
    if reference is not None:
        reference_line(reference[0], color="k", ls="--", lw=1, label=reference[1])
        axis.legend(loc="best", fontsize=8)
    if title:
        axis.set_title(title)
    axis.margins(**({"x": 0.15} if horizontal else {"y": 0.15}))
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_lines(
    x: Sequence[float],
    series: dict,
    xlabel: str,
    ylabel: str,
    title: str | None = None,
    logx: bool = False,
    logy: bool = False,
    path=None,
    figsize: tuple[float, float] = (6.5, 3.8),
):
    """Several curves over one x axis, with a legend (e.g. a probability against a size).

    Args:
        x: the shared x values.
        series: ``{label: y values}``, each as long as ``x``.
        xlabel, ylabel: the axis labels.
        title: the figure's title.
        logx, logy: logarithmic axes.
        path: if given, the figure is also saved there (PNG).
        figsize: matplotlib figure size in inches.

    Returns:
        The matplotlib ``Figure`` (one line per series on ``figure.axes[0]``).

    Raises:
        UsageError: no series, or a series whose length differs from ``x``.

    Example:
        >>> figure = plot_lines([1, 10, 100], {"e = 0.01": [0.01, 0.1, 0.63]}, "K", "P", logx=True)
        >>> [line.get_label() for line in figure.axes[0].lines]
        ['e = 0.01']
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if not series:
        raise UsageError("plot_lines needs at least one series")
    for label, values in series.items():
        if len(values) != len(x):
            raise UsageError(f"series {label!r} has {len(values)} values but x has {len(x)}")
    figure, axis = plt.subplots(figsize=figsize)
    for label, values in series.items():
        axis.plot(x, values, lw=2, label=label)
    if logx:
        axis.set_xscale("log")
    if logy:
        axis.set_yscale("log")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    if title:
        axis.set_title(title)
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def close(figure) -> None:
    """Release a figure's memory (scripts that draw many figures should close each one)."""
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    plt.close(figure)
