"""Figures of face verification (notebooks 01-03): triplets, error rates, embeddings, distances.

Each function takes plain arrays (and images), draws with matplotlib and returns the ``Figure``,
saving it as PNG when given ``path``; matplotlib is imported inside the functions. The numbers a
figure shows come from :mod:`utils.faces.metrics`, so a figure and the tables printed beside it
agree.

Example:
    >>> import numpy as np
    >>> from utils.faces.plots import plot_error_rates
    >>> figure = plot_error_rates([0.3, 0.4, 0.5, 0.8], [True, True, False, False], threshold=0.6)
    >>> [line.get_label() for line in figure.axes[0].lines][:2]
    ['FAR (strangers accepted)', 'FRR (right person refused)']
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from utils.errors import UsageError
from utils.faces.metrics import equal_error_rate, roc_curve, validate_pairs
from utils.plotting import draw_image, save_figure


def _finish(figure, path):
    """Lay out ``figure``, save it to ``path`` when given, and return it."""
    figure.tight_layout()
    if path is not None:
        save_figure(figure, path)
    return figure


def triplet_loss_value(squared_ap: float, squared_an: float, margin: float) -> float:
    """One triplet's loss ``max(d(A,P) - d(A,N) + margin, 0)`` from its squared distances.

    Example:
        >>> triplet_loss_value(0.50, 0.51, 0.2)   # too close: the margin is not respected
        0.19
        >>> triplet_loss_value(0.30, 0.90, 0.2)
        0.0
    """
    return round(float(max(squared_ap - squared_an + margin, 0.0)), 12)


def show_triplet(anchor, positive, negative, squared_ap: float, squared_an: float, margin: float,
                 names: Sequence[str] | None = None, path=None):
    """An anchor / positive / negative triplet of faces and its squared distances against the margin.

    Left, the three images; right, a distance axis with ``d(A,P)``, ``d(A,N)`` and the goal
    ``d(A,P) + margin`` marked, and the triplet's loss in the title.

    Args:
        anchor, positive, negative: the three images (arrays or paths).
        squared_ap: squared distance of the anchor's and the positive's encodings.
        squared_an: squared distance of the anchor's and the negative's encodings.
        margin: alpha.
        names: optional names shown under "anchor", "positive", "negative".
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``: three image axes, then the distance axis.

    Raises:
        UsageError: a negative distance or margin, or not three names.

    Example:
        >>> black = np.zeros((8, 8, 3), np.uint8)
        >>> figure = show_triplet(black, black, black, 0.5, 0.51, 0.2)
        >>> figure.axes[3].get_title()
        'loss = max(0.500 - 0.510 + 0.2, 0) = 0.190'
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if min(squared_ap, squared_an, margin) < 0:
        raise UsageError(f"distances and margin must be >= 0; got d(A,P) = {squared_ap}, d(A,N) = {squared_an}, "
                         f"margin = {margin}")
    if names is not None and len(names) != 3:
        raise UsageError(f"names needs 3 entries (anchor, positive, negative); got {len(names)}")
    figure = plt.figure(figsize=(12, 3.0))
    grid = figure.add_gridspec(1, 5, width_ratios=[1, 1, 1, 0.15, 2.6])
    roles = ("anchor A", "positive P", "negative N")
    for column, (image, role) in enumerate(zip((anchor, positive, negative), roles)):
        axis = figure.add_subplot(grid[0, column])
        axis.axis("off")
        draw_image(axis, image, role if names is None else f"{role}\n{names[column]}", fontsize=9)
    axis = figure.add_subplot(grid[0, 4])
    goal = squared_ap + margin
    top = 1.15 * max(squared_an, goal)
    axis.axhline(0, color="0.6", lw=1)
    axis.plot([0, 0], [0, 0], "ko", ms=6)
    axis.annotate("A", (0, 0), (0, 0.18), textcoords="data", ha="center")
    for value, label, colour in ((squared_ap, "d(A,P)", "tab:green"), (squared_an, "d(A,N)", "tab:red")):
        axis.plot([value], [0], "o", color=colour, ms=9)
        axis.annotate(f"{label} = {value:.3f}", (value, 0), (value, 0.35 if colour == "tab:green" else -0.45),
                      ha="center", color=colour, fontsize=9)
    axis.axvspan(squared_ap, goal, color="tab:orange", alpha=0.25, label=f"margin alpha = {margin:g}")
    axis.axvline(goal, color="tab:orange", ls="--", lw=1)
    axis.set_xlim(-0.05 * top, top)
    axis.set_ylim(-0.8, 0.8)
    axis.set_yticks([])
    axis.set_xlabel("squared distance to the anchor's encoding")
    loss = triplet_loss_value(squared_ap, squared_an, margin)
    axis.set_title(f"loss = max({squared_ap:.3f} - {squared_an:.3f} + {margin:g}, 0) = {loss:.3f}")
    axis.legend(loc="upper right", fontsize=8)
    return _finish(figure, path)


def plot_error_rates(distances, same, threshold: float | None = None, path=None,
                     figsize: tuple[float, float] = (7, 4)):
    """FAR and FRR against the threshold tau, with ``threshold`` and the equal error rate marked.

    FAR(tau) is the share of different-people pairs with ``distance < tau``, FRR(tau) the share of
    same-person pairs with ``distance >= tau`` (the rule of :func:`utils.faces.metrics.error_rates`).

    Args:
        distances: ``(n,)`` distances of pairs.
        same: ``(n,)`` True for a same-person pair (both kinds must occur).
        threshold: a threshold to mark (e.g. the encoder's 0.6), optional.
        path: if given, the figure is also saved there (PNG).
        figsize: matplotlib figure size in inches.

    Returns:
        The matplotlib ``Figure``; its axis holds the FAR and FRR curves (first two lines).

    Example:
        >>> figure = plot_error_rates([0.3, 0.4, 0.5, 0.8], [True, True, False, False])
        >>> figure.axes[0].get_title()
        'EER = 0.0 % at tau = 0.450'
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    distances, same = validate_pairs(distances, same)
    far, tar, thresholds = roc_curve(distances, same)
    eer, eer_threshold = equal_error_rate(distances, same)
    figure, axis = plt.subplots(figsize=figsize)
    axis.step(thresholds, 100 * far, where="post", lw=2, color="tab:red", label="FAR (strangers accepted)")
    axis.step(thresholds, 100 * (1 - tar), where="post", lw=2, color="tab:blue", label="FRR (right person refused)")
    axis.plot([eer_threshold], [100 * eer], "ko", ms=7, label=f"EER {100 * eer:.1f} % (tau {eer_threshold:.3f})")
    if threshold is not None:
        far_at = float(np.mean(distances[~same] < threshold))
        frr_at = float(np.mean(distances[same] >= threshold))
        axis.axvline(threshold, color="k", ls="--", lw=1,
                     label=f"tau = {threshold:g}: FAR {100 * far_at:.1f} %, FRR {100 * frr_at:.1f} %")
    axis.set_xlabel("threshold tau (same person if d < tau)")
    axis.set_ylabel("error rate (%)")
    axis.set_ylim(-2, 102)
    axis.set_title(f"EER = {100 * eer:.1f} % at tau = {eer_threshold:.3f}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8, loc="upper center")
    return _finish(figure, path)


def project_2d(embeddings) -> np.ndarray:
    """The first two principal components of ``embeddings`` (PCA by SVD of the centred matrix).

    Args:
        embeddings: ``(n, d)`` array, n >= 2.

    Returns:
        ``(n, 2)`` float64 coordinates; distances in this plane are at most the original ones.

    Example:
        >>> points = np.array([[0.0, 0, 1], [2, 0, 1], [4, 0, 1]])
        >>> np.abs(project_2d(points)).round(3).tolist()
        [[2.0, 0.0], [0.0, 0.0], [2.0, 0.0]]
    """
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or len(embeddings) < 2:
        raise UsageError(f"project_2d needs an (n, d) array with n >= 2; got shape {embeddings.shape}")
    centred = embeddings - embeddings.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    coordinates = centred @ directions[:2].T
    if coordinates.shape[1] < 2:   # d == 1: a second, zero coordinate
        coordinates = np.pad(coordinates, ((0, 0), (0, 2 - coordinates.shape[1])))
    return coordinates


def plot_embedding_projection(embeddings: dict, labels, max_people: int = 8, path=None, cell_size: float = 3.6):
    """2-D PCA projections of several embeddings of the same photos, one panel each, on one scale.

    The ``max_people`` people with the most photos are coloured (one colour each), everyone else
    is grey. All panels share the same axis limits, so an encoder that squeezes every photo to
    nearly one point (a collapsed encoder) shows up as a dot, not as a zoomed-in cloud.

    Args:
        embeddings: ``{panel title: (n, d) embeddings}``, the same n photos in the same order.
        labels: ``(n,)`` the person of each photo.
        max_people: how many people get a colour.
        path: if given, the figure is also saved there (PNG).
        cell_size: inches per panel.

    Returns:
        The matplotlib ``Figure``, one axis per entry of ``embeddings``, titled with the entry's key
        and its mean squared distance between photos.

    Raises:
        UsageError: no embeddings, or a row count different from ``labels``.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> labels = np.repeat(["a", "b"], 5)
        >>> figure = plot_embedding_projection({"spread": rng.normal(size=(10, 4)),
        ...                                     "collapsed": np.ones((10, 4))}, labels)
        >>> [axis.get_title().splitlines()[0] for axis in figure.axes]
        ['spread', 'collapsed']
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    labels = np.asarray(labels)
    if not embeddings:
        raise UsageError("plot_embedding_projection needs at least one set of embeddings")
    projections, spreads = {}, {}
    for title, values in embeddings.items():
        values = np.asarray(values, dtype=np.float64)
        if len(values) != len(labels):
            raise UsageError(f"{title!r} has {len(values)} embeddings but there are {len(labels)} labels")
        projections[title] = project_2d(values)
        difference = values[:, None, :] - values[None, :, :]
        spreads[title] = float(np.mean(np.sum(difference ** 2, axis=-1)))
    people, counts = np.unique(labels, return_counts=True)
    coloured = people[np.argsort(-counts, kind="stable")][:max_people]
    limit = 1.1 * max(float(np.abs(points).max()) for points in projections.values()) or 1.0
    figure, axes = plt.subplots(1, len(embeddings), figsize=(cell_size * len(embeddings), cell_size + 0.4),
                                squeeze=False)
    for axis, (title, points) in zip(axes[0], projections.items()):
        others = ~np.isin(labels, coloured)
        axis.scatter(points[others, 0], points[others, 1], s=6, color="0.8")
        for index, person in enumerate(coloured):
            mine = labels == person
            axis.scatter(points[mine, 0], points[mine, 1], s=18, color=f"C{index % 10}",
                         label=str(person).replace("_", " "))
        axis.set_xlim(-limit, limit)
        axis.set_ylim(-limit, limit)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(f"{title}\nmean squared distance {spreads[title]:.3f}", fontsize=9)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _finish(figure, path)


def plot_distance_matrix(distances, row_labels: Sequence[str], column_labels: Sequence[str],
                         true_columns: Sequence[int] | None = None, threshold: float | None = None,
                         title: str | None = None, path=None):
    """A probes x database heatmap of distances, each value written in its cell.

    Args:
        distances: ``(rows, columns)`` distances.
        row_labels: one label per probe (row).
        column_labels: one label per database person (column).
        true_columns: the true person's column of each row, outlined in red (optional).
        threshold: values below it are written in white (they would be accepted), optional.
        title: the figure's title.
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure`` (the heatmap on ``figure.axes[0]``, the colour bar after it).

    Raises:
        UsageError: labels or true columns that do not match the matrix' shape.

    Example:
        >>> figure = plot_distance_matrix(np.array([[0.3, 0.9], [1.0, 0.4]]), ["p1", "p2"], ["a", "b"],
        ...                               true_columns=[0, 1], threshold=0.6)
        >>> [text.get_text() for text in figure.axes[0].texts]
        ['0.30', '0.90', '1.00', '0.40']
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim != 2 or distances.shape != (len(row_labels), len(column_labels)):
        raise UsageError(f"distances of shape {distances.shape} do not match {len(row_labels)} row labels and "
                         f"{len(column_labels)} column labels")
    if true_columns is not None and len(true_columns) != len(row_labels):
        raise UsageError(f"true_columns has {len(true_columns)} entries for {len(row_labels)} rows")
    figure, axis = plt.subplots(figsize=(0.75 * len(column_labels) + 2, 0.5 * len(row_labels) + 1.6))
    image = axis.imshow(distances, cmap="viridis_r", vmin=0, vmax=max(1.2, float(distances.max())))
    for row in range(distances.shape[0]):
        for column in range(distances.shape[1]):
            accepted = threshold is not None and distances[row, column] < threshold
            axis.text(column, row, f"{distances[row, column]:.2f}", ha="center", va="center", fontsize=8,
                      color="white" if accepted else "black")
        if true_columns is not None:
            axis.add_patch(plt.Rectangle((true_columns[row] - 0.5, row - 0.5), 1, 1, fill=False, lw=2.5,
                                         color="red"))
    axis.set_xticks(range(len(column_labels)), column_labels, rotation=45)
    axis.set_yticks(range(len(row_labels)), row_labels)
    figure.colorbar(image, label="distance")
    if title:
        axis.set_title(title)
    return _finish(figure, path)


def plot_roc_curves(curves: dict, title: str | None = None, zoom: bool = False, path=None):
    """ROC curves (true accept rate against false accept rate) of several methods on one plot.

    Args:
        curves: ``{label: (distances, same)}``; each label gets its AUC appended.
        title: the title of the (first) axis.
        zoom: False: one full linear plot with the chance diagonal. True: two panels, the
            top-left corner (FAR <= 0.1, TAR >= 0.9) and the same curves on a log FAR axis.
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure`` (one or two axes, one line per curve).

    Example:
        >>> figure = plot_roc_curves({"perfect": ([0.1, 0.9], [True, False])})
        >>> figure.axes[0].lines[0].get_label()
        'perfect (AUC 1.000)'
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import
    from sklearn.metrics import roc_auc_score  # deferred: scikit-learn is slow to import

    if not curves:
        raise UsageError("plot_roc_curves needs at least one curve")
    figure, axes = plt.subplots(1, 2 if zoom else 1, figsize=(11, 4.3) if zoom else (5.5, 5), squeeze=False)
    axes = axes[0]
    for label, (distances, same) in curves.items():
        distances, same = validate_pairs(distances, same)
        far, tar, _ = roc_curve(distances, same)
        text = f"{label} (AUC {roc_auc_score(same, -distances):.3f})"
        axes[0].plot(far, tar, lw=2, label=text)
        if zoom:
            axes[1].plot(np.maximum(far, 0.5 / np.count_nonzero(~same)), tar, lw=2, label=text)
    if zoom:
        axes[0].set(xlim=(0, 0.1), ylim=(0.9, 1.0))
        axes[1].set_xscale("log")
        axes[1].set(ylim=(0.8, 1.0), xlabel="false accept rate (log)", title="the same, on a log FAR axis")
    else:
        axes[0].plot([0, 1], [0, 1], "k:", lw=1, label="chance")
    axes[0].set(xlabel="false accept rate", ylabel="true accept rate")
    if title:
        axes[0].set_title(title)
    axes[0].legend(loc="lower right", fontsize=8)
    for axis in axes:
        axis.grid(True, which="both", alpha=0.3)
    return _finish(figure, path)


def plot_training_curves(histories: dict, margin: float, path=None):
    """Loss and violation fraction per epoch of triplet-training runs, one colour per run.

    Args:
        histories: ``{name: TrainingHistory}`` (what :func:`utils.faces.training.train_triplet_model`
            returns: ``loss``, ``violation_fraction`` and ``monitor_violation_fraction`` per epoch).
        margin: alpha, drawn as a reference on the loss axis (a collapsed encoder's loss).
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``: the losses on ``axes[0]``, the violation fractions (solid:
        training batches, dashed: held-out monitor batches) on ``axes[1]``.

    Example:
        >>> from types import SimpleNamespace
        >>> run = SimpleNamespace(loss=[0.3, 0.2], violation_fraction=[0.9, 0.5],
        ...                       monitor_violation_fraction=[0.9, 0.7])
        >>> len(plot_training_curves({"semi_hard": run}, margin=0.2).axes[1].lines)
        2
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if not histories:
        raise UsageError("plot_training_curves needs at least one history")
    figure, (loss_axis, violation_axis) = plt.subplots(1, 2, figsize=(14, 4.2))
    for index, (name, history) in enumerate(histories.items()):
        colour = f"C{index % 10}"
        epochs = np.arange(1, len(history.loss) + 1)
        loss_axis.plot(epochs, history.loss, color=colour, label=name)
        violation_axis.plot(epochs, history.violation_fraction, color=colour, label=f"{name}: training batches")
        if len(history.monitor_violation_fraction):
            violation_axis.plot(epochs, history.monitor_violation_fraction, color=colour, ls="--",
                                label=f"{name}: held-out people")
    loss_axis.axhline(margin, color="k", lw=0.8, ls=":", label="loss = margin")
    loss_axis.set(xlabel="epoch", ylabel="training loss (each strategy's own)", title="Loss")
    violation_axis.set(xlabel="epoch", ylabel="fraction of valid triplets violating the margin",
                       title="Triplets still violating the margin", ylim=(0, 1.02))
    loss_axis.legend()
    violation_axis.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _finish(figure, path)


def plot_recognition_at_scale(scale: Sequence[dict], threshold: float, path=None):
    """Search time and identification rates against the number of enrolled faces K.

    Args:
        scale: one dict per K with ``K``, ``loop_ms``, ``exact_ms``, ``index_ms`` (milliseconds per
            probe), ``identified`` and ``strangers_rejected`` (fractions).
        threshold: the decision threshold, for the title.
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``: times on ``axes[0]`` (log-log), rates on ``axes[1]``.

    Example:
        >>> rows = [{"K": k, "loop_ms": k / 1e3, "exact_ms": k / 1e5, "index_ms": 0.1, "identified": 0.9,
        ...          "strangers_rejected": 0.8} for k in (1_000, 10_000)]
        >>> len(plot_recognition_at_scale(rows, 0.6).axes[0].lines)
        3
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if not scale:
        raise UsageError("plot_recognition_at_scale needs at least one size")
    sizes = [row["K"] for row in scale]
    figure, (time_axis, rate_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for key, label in (("loop_ms", "course dictionary loop"), ("exact_ms", "vectorised exact search"),
                       ("index_ms", "FAISS IVF-PQ + exact re-ranking")):
        time_axis.plot(sizes, [row[key] for row in scale], "o-", lw=2, label=label)
    time_axis.set(xscale="log", yscale="log", xlabel="enrolled faces K", ylabel="time per probe (ms, log)",
                  title="1:K search time")
    for key, label in (("identified", "genuine probes identified"), ("strangers_rejected", "strangers rejected")):
        rate_axis.plot(sizes, [100 * row[key] for row in scale], "o-", lw=2, label=label)
    rate_axis.set(xscale="log", ylim=(0, 100), xlabel="enrolled faces K", ylabel="%",
                  title=f"identification at the threshold {threshold}")
    for axis in (time_axis, rate_axis):
        axis.legend(fontsize=8)
        axis.grid(True, which="both", alpha=0.3)
    return _finish(figure, path)
