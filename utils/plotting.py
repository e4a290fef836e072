"""Plots the notebooks and command lines share: image grids, loss curves, verification figures.

Plotting is kept apart from computing: every function here takes plain arrays or result objects,
draws with matplotlib and returns the ``Figure`` (saving it when given ``path``). matplotlib is
imported inside the functions, so importing this module is cheap.

Example:
    >>> import numpy as np
    >>> from utils import plotting
    >>> figure = plotting.show_grid([np.zeros((4, 4, 3), np.uint8)], titles=["black"])
    >>> len(figure.axes)
    1
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np

from utils.image_io import load_image


def save_figure(figure, path) -> Path:
    """Save ``figure`` as PNG to ``path`` atomically (folders created); returns the path."""
    from utils import files

    return files.write_with(path, lambda temporary: figure.savefig(temporary, format="png", dpi=100,
                                                                  bbox_inches="tight"))


def show_grid(images: Sequence, titles: Sequence[str] | None = None, ncols: int | None = None,
              figsize: tuple[float, float] | None = None, path=None, cell_size: float = 3.0):
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
    figure, axes = plt.subplots(nrows, ncols, figsize=figsize or (cell_size * ncols, cell_size * nrows),
                                squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index >= len(images):
            continue
        item = images[index]
        if isinstance(item, np.ndarray) and item.ndim == 2:
            axis.imshow(item, cmap="gray")
        else:
            axis.imshow(load_image(item))
        if titles is not None:
            axis.set_title(titles[index], fontsize=9)
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure
