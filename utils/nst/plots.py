"""Figures of notebook 04: what a Gram matrix sees, and how the two parts of the cost fall.

Every function takes plain arrays (NumPy arrays or anything ``np.asarray`` accepts, such as eager
tensors), draws with matplotlib and returns the ``Figure``, saving it as PNG when given ``path``.
The one computing helper, :func:`cooccurring_channels`, picks the pair of channels a figure shows.
matplotlib is imported inside the functions, so importing this module stays cheap. Generic charts
(bars, curves) are :mod:`utils.plotting`'s ``plot_bars`` and ``plot_lines``.

The Gram-matrix figures illustrate the lecture's reading of style: entry ``G[k, k']`` of a layer's
Gram matrix is the sum over all positions of ``a_k * a_k'``, large when channels ``k`` and ``k'``
fire at the same places (the lecture's "vertical texture" channel and "orange tint" channel in a
painting where vertical strokes are orange). Positions are summed away, so the matrix keeps which
features occur together and forgets where. It is not a true correlation matrix: no mean is
subtracted and nothing is divided by the channels' spreads; :func:`cooccurring_channels` does
divide by ``sqrt(G[k, k] G[k', k'])`` (a cosine similarity) so that loud channels do not win by
loudness alone.

Example:
    >>> import numpy as np
    >>> maps = np.zeros((4, 4, 3), np.float32)
    >>> maps[:2, :, 0] = maps[:2, :, 1] = 1.0       # channels 0 and 1 fire in the same (top) rows
    >>> maps[2:, :, 2] = 1.0                          # channel 2 fires elsewhere
    >>> unrolled = maps.reshape(-1, 3).T
    >>> cooccurring_channels(unrolled @ unrolled.T)
    (0, 1, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from utils.errors import UsageError
from utils.plotting import save_figure


def _square(matrix, name: str) -> np.ndarray:
    array = np.asarray(matrix, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] < 2:
        raise UsageError(f"{name} must be a square (n_C, n_C) Gram matrix with n_C >= 2; got shape {array.shape}")
    return array


def _feature_maps(activation, name: str) -> np.ndarray:
    array = np.asarray(activation, dtype=np.float32)
    if array.ndim == 4 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 3:
        raise UsageError(
            f"{name} must be one layer's activations of shape (1, n_H, n_W, n_C) or "
            f"(n_H, n_W, n_C); got shape {array.shape}"
        )
    return array


def cooccurring_channels(gram, reference_gram=None, min_activity: float = 0.05) -> tuple[int, int, float]:
    """The two channels that fire together most (relative to how much each fires at all).

    The score of a pair is the cosine ``G[k, k'] / sqrt(G[k, k] G[k', k'])`` of their flattened
    feature maps: 1 when the two maps are proportional, 0 when they never fire at the same place.
    Channels whose activity ``G[k, k]`` is below ``min_activity`` times the largest are skipped,
    since the cosine of two nearly silent channels means nothing.

    Args:
        gram: a Gram matrix ``(n_C, n_C)`` (of the style image, say).
        reference_gram: optional Gram matrix of the same layer for another image (the content
            image); when given, the pair whose cosine exceeds its cosine there by the most is
            chosen: the co-occurrence that sets ``gram``'s image apart.
        min_activity: fraction of the largest diagonal entry a channel needs to be considered
            (in both matrices when ``reference_gram`` is given).

    Returns:
        ``(k, k2, cosine)`` with ``k < k2`` and the pair's cosine in ``gram``.

    Raises:
        UsageError: not square matrices of the same shape, or fewer than two active channels.

    Example:
        >>> gram = np.array([[4.0, 3.9, 0.0], [3.9, 4.0, 0.1], [0.0, 0.1, 1.0]])
        >>> k, k2, cosine = cooccurring_channels(gram)
        >>> (k, k2, round(cosine, 3))
        (0, 1, 0.975)
    """
    matrices = [_square(gram, "gram")]
    if reference_gram is not None:
        matrices.append(_square(reference_gram, "reference_gram"))
        if matrices[1].shape != matrices[0].shape:
            raise UsageError(f"gram {matrices[0].shape} and reference_gram {matrices[1].shape} differ in shape")
    active = np.ones(matrices[0].shape[0], bool)
    cosines = []
    for matrix in matrices:
        diagonal = np.clip(np.diag(matrix), 0.0, None)
        active &= (diagonal > 0) & (diagonal >= min_activity * diagonal.max())
        scale = np.sqrt(np.outer(diagonal, diagonal))
        cosines.append(np.divide(matrix, scale, out=np.zeros_like(matrix), where=scale > 0))
    if active.sum() < 2:
        raise UsageError(f"fewer than two channels fire at {min_activity:.0%} of the strongest channel's level")
    score = cosines[0] - cosines[1] if reference_gram is not None else cosines[0].copy()
    allowed = np.triu(np.outer(active, active), k=1)
    score[~allowed] = -np.inf
    k, k2 = np.unravel_index(np.argmax(score), score.shape)
    return int(k), int(k2), float(cosines[0][k, k2])


def show_gram_matrices(
    grams: Mapping[str, object],
    channels: int | None = 64,
    positions: int | None = None,
    title: str | None = None,
    path=None,
):
    """Gram matrices as heatmaps side by side, on one colour scale.

    Args:
        grams: ``{title: Gram matrix (n_C, n_C)}``, e.g. of the style and the content image at one
            layer (images of the same size, so the scales compare).
        channels: show only the first ``channels`` rows and columns (None: all).
        positions: if given (``n_H * n_W``), the matrices are divided by it, so the colours read as
            "mean of ``a_k a_k'`` per position".
        title: the figure's title (optional).
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``: one heatmap per matrix (square-root colour scale, so that the
        weaker off-diagonal entries stay visible next to the diagonal) and one shared colour bar.

    Raises:
        UsageError: no matrices, or a matrix that is not square.

    Example:
        >>> figure = show_gram_matrices({"S": np.eye(3), "C": np.ones((3, 3))})
        >>> [axis.get_title() for axis in figure.axes[:2]]
        ['S', 'C']
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import
    from matplotlib.colors import PowerNorm  # deferred with matplotlib

    if not grams:
        raise UsageError("show_gram_matrices needs at least one Gram matrix")
    shown = {}
    for name, gram in grams.items():
        matrix = _square(gram, f"Gram matrix {name!r}")
        matrix = matrix[:channels, :channels] if channels else matrix
        shown[name] = matrix / positions if positions else matrix
    top = max(float(np.max(matrix)) for matrix in shown.values()) or 1.0
    norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=top)
    figure, axes = plt.subplots(1, len(shown), figsize=(3.6 * len(shown) + 0.8, 3.6), squeeze=False)
    for axis, (name, matrix) in zip(axes[0], shown.items()):
        picture = axis.imshow(np.clip(matrix, 0.0, None), cmap="magma", norm=norm)
        axis.set_title(name)
        axis.set_xlabel("channel k'")
    axes[0][0].set_ylabel("channel k")
    figure.colorbar(picture, ax=list(axes[0]), shrink=0.85, label="G[k, k'] / (n_H n_W)" if positions else "G[k, k']")
    if title:
        figure.suptitle(title)
    if path is not None:
        save_figure(figure, path)
    return figure


def show_channel_pair(
    images: Mapping[str, np.ndarray], activations: Mapping[str, object], pair: Sequence[int], layer: str = "", path=None
):
    """For each image: the image, channel k's map, channel k''s map, and their product.

    The product map summed over all positions is exactly the Gram entry ``G[k, k']``, so the
    figure shows where that number comes from.

    Args:
        images: ``{title: image (H, W, 3) uint8}``, one row each.
        activations: ``{title: activations (1, n_H, n_W, n_C)}`` of one layer, same keys as ``images``.
        pair: the two channels ``(k, k2)`` (e.g. from :func:`cooccurring_channels`).
        layer: the layer's name, for the titles.
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure`` (rows: images; columns: image, map k, map k', product). Each map
        is drawn on its own colour scale; the titles give the product's sum (``G[k, k']``).

    Raises:
        UsageError: different keys, a bad activation shape or a channel out of range.

    Example:
        >>> image = np.zeros((8, 8, 3), np.uint8)
        >>> maps = np.random.default_rng(0).random((1, 4, 4, 3))
        >>> figure = show_channel_pair({"S": image}, {"S": maps}, (0, 2), layer="block1_conv1")
        >>> len(figure.axes)
        4
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if not images or set(images) != set(activations):
        raise UsageError(f"images {sorted(images)} and activations {sorted(activations)} need the same keys")
    k, k2 = (int(channel) for channel in pair)
    figure, axes = plt.subplots(len(images), 4, figsize=(11, 2.9 * len(images)), squeeze=False)
    for row, name in zip(axes, images):
        maps = _feature_maps(activations[name], f"activations[{name!r}]")
        if not (0 <= k < maps.shape[-1] and 0 <= k2 < maps.shape[-1]):
            raise UsageError(f"channels {k}, {k2} out of range for {maps.shape[-1]} channels")
        product = maps[..., k] * maps[..., k2]
        panels = [
            (images[name], name),
            (maps[..., k], f"{layer} channel k = {k}"),
            (maps[..., k2], f"channel k' = {k2}"),
            (product, f"a_k · a_k' (sum = G[k, k'] = {product.sum():.3g})"),
        ]
        for axis, (picture, text) in zip(row, panels):
            axis.imshow(picture, cmap=None if picture.ndim == 3 else "viridis")
            axis.set_title(text, fontsize=9)
            axis.axis("off")
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def plot_cost_parts(costs: Sequence[float], parts: Sequence[tuple[int, float, float]], path=None):
    """The total cost at every step, and its two weighted parts at a few steps, on log scales.

    Args:
        costs: J at steps 1, 2, ... (what the training step returned: the cost before its update).
        parts: ``[(step, alpha * J_content, beta * J_style), ...]``.
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure`` with two panels.

    Raises:
        UsageError: empty ``costs`` or ``parts``.

    Example:
        >>> figure = plot_cost_parts([9.0, 4.0, 2.0], [(0, 1.0, 8.0), (3, 1.5, 0.5)])
        >>> [line.get_label() for line in figure.axes[1].lines]
        ['$\\\\alpha J_{content}$', '$\\\\beta J_{style}$']
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if len(costs) == 0 or len(parts) == 0:
        raise UsageError("plot_cost_parts needs at least one cost and one (step, content, style) entry")
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    left.plot(range(1, len(costs) + 1), costs)
    left.set(yscale="log", xlabel="step", ylabel="J (before the step)", title="total cost")
    steps = [entry[0] for entry in parts]
    right.plot(steps, [entry[1] for entry in parts], "o-", label=r"$\alpha J_{content}$")
    right.plot(steps, [entry[2] for entry in parts], "o-", label=r"$\beta J_{style}$")
    right.set(yscale="log", xlabel="step", title="the two parts of J")
    right.legend()
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure
