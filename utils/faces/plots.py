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

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from utils.errors import UsageError
from utils.faces.metrics import accuracy_at, auc, equal_error_rate, roc_curve, validate_pairs
from utils.plotting import draw_image, plot_bars, plot_lines, print_table, save_figure, show_grid


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


def show_triplet(
    anchor,
    positive,
    negative,
    squared_ap: float,
    squared_an: float,
    margin: float,
    names: Sequence[str] | None = None,
    path=None,
):
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
        raise UsageError(
            f"distances and margin must be >= 0; got d(A,P) = {squared_ap}, d(A,N) = {squared_an}, margin = {margin}"
        )
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
        axis.annotate(
            f"{label} = {value:.3f}",
            (value, 0),
            (value, 0.35 if colour == "tab:green" else -0.45),
            ha="center",
            color=colour,
            fontsize=9,
        )
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


def plot_error_rates(distances, same, threshold: float | None = None, path=None, figsize: tuple[float, float] = (7, 4)):
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
        axis.axvline(
            threshold,
            color="k",
            ls="--",
            lw=1,
            label=f"tau = {threshold:g}: FAR {100 * far_at:.1f} %, FRR {100 * frr_at:.1f} %",
        )
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
    if coordinates.shape[1] < 2:  # d == 1: a second, zero coordinate
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
        spreads[title] = float(np.mean(np.sum(difference**2, axis=-1)))
    people, counts = np.unique(labels, return_counts=True)
    coloured = people[np.argsort(-counts, kind="stable")][:max_people]
    limit = 1.1 * max(float(np.abs(points).max()) for points in projections.values()) or 1.0
    figure, axes = plt.subplots(
        1, len(embeddings), figsize=(cell_size * len(embeddings), cell_size + 0.4), squeeze=False
    )
    for axis, (title, points) in zip(axes[0], projections.items()):
        others = ~np.isin(labels, coloured)
        axis.scatter(points[others, 0], points[others, 1], s=6, color="0.8")
        for index, person in enumerate(coloured):
            mine = labels == person
            axis.scatter(
                points[mine, 0], points[mine, 1], s=18, color=f"C{index % 10}", label=str(person).replace("_", " ")
            )
        axis.set_xlim(-limit, limit)
        axis.set_ylim(-limit, limit)
        axis.set_aspect("equal")
        axis.set_xticks([])
        axis.set_yticks([])
        axis.set_title(f"{title}\nmean squared distance {spreads[title]:.3f}", fontsize=9)
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return _finish(figure, path)


def plot_distance_matrix(
    distances,
    row_labels: Sequence[str],
    column_labels: Sequence[str],
    true_columns: Sequence[int] | None = None,
    threshold: float | None = None,
    title: str | None = None,
    path=None,
):
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
        raise UsageError(
            f"distances of shape {distances.shape} do not match {len(row_labels)} row labels and "
            f"{len(column_labels)} column labels"
        )
    if true_columns is not None and len(true_columns) != len(row_labels):
        raise UsageError(f"true_columns has {len(true_columns)} entries for {len(row_labels)} rows")
    figure, axis = plt.subplots(figsize=(0.75 * len(column_labels) + 2, 0.5 * len(row_labels) + 1.6))
    image = axis.imshow(distances, cmap="viridis_r", vmin=0, vmax=max(1.2, float(distances.max())))
    for row in range(distances.shape[0]):
        for column in range(distances.shape[1]):
            accepted = threshold is not None and distances[row, column] < threshold
            axis.text(
                column,
                row,
                f"{distances[row, column]:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if accepted else "black",
            )
        if true_columns is not None:
            axis.add_patch(plt.Rectangle((true_columns[row] - 0.5, row - 0.5), 1, 1, fill=False, lw=2.5, color="red"))
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
            violation_axis.plot(
                epochs, history.monitor_violation_fraction, color=colour, ls="--", label=f"{name}: held-out people"
            )
    loss_axis.axhline(margin, color="k", lw=0.8, ls=":", label="loss = margin")
    loss_axis.set(xlabel="epoch", ylabel="training loss (each strategy's own)", title="Loss")
    violation_axis.set(
        xlabel="epoch",
        ylabel="fraction of valid triplets violating the margin",
        title="Triplets still violating the margin",
        ylim=(0, 1.02),
    )
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
    for key, label in (
        ("loop_ms", "course dictionary loop"),
        ("exact_ms", "vectorised exact search"),
        ("index_ms", "FAISS IVF-PQ + exact re-ranking"),
    ):
        time_axis.plot(sizes, [row[key] for row in scale], "o-", lw=2, label=label)
    time_axis.set(
        xscale="log",
        yscale="log",
        xlabel="enrolled faces K",
        ylabel="time per probe (ms, log)",
        title="1:K search time",
    )
    for key, label in (("identified", "genuine probes identified"), ("strangers_rejected", "strangers rejected")):
        rate_axis.plot(sizes, [100 * row[key] for row in scale], "o-", lw=2, label=label)
    rate_axis.set(
        xscale="log",
        ylim=(0, 100),
        xlabel="enrolled faces K",
        ylabel="%",
        title=f"identification at the threshold {threshold}",
    )
    for axis in (time_axis, rate_axis):
        axis.legend(fontsize=8)
        axis.grid(True, which="both", alpha=0.3)
    return _finish(figure, path)


def plot_stranger_matched(
    false_accept_rates: Sequence[float], gallery_sizes: Sequence[int] = (1, 10, 100, 1_000, 10_000), path=None
):
    """How a per-comparison false accept rate grows in a 1:K search: a table and its curves.

    A stranger compared with the K people of a database is matched to someone when at least one
    of the K comparisons accepts: probability ``1 - (1 - e) ** K`` for a per-comparison false accept
    rate ``e``. The function prints that probability for every ``e`` and every size of
    ``gallery_sizes`` (a table, one row per ``e``), and draws it against K from 1 to the largest size
    (log axis).

    Args:
        false_accept_rates: per-comparison false accept rates ``e`` (each in [0, 1]).
        gallery_sizes: the sizes K of the table's columns (at least one, each >= 1).
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``, one line per rate on ``axes[0]``.

    Raises:
        UsageError: no rate, a rate outside [0, 1], or no size or a size below 1.

    Example:
        >>> figure = plot_stranger_matched([1e-3], gallery_sizes=[1, 1000])   # doctest: +NORMALIZE_WHITESPACE
        per-comparison FAR e  K = 1   K = 1000
        --------------------  ------  --------
        0.001                 0.0010  0.6323
        >>> figure.axes[0].lines[0].get_label()
        'e = 0.001'
        >>> from utils.plotting import close
        >>> close(figure)
    """

    rates = np.asarray(false_accept_rates, dtype=np.float64).ravel()
    sizes = [int(size) for size in gallery_sizes]
    if rates.size == 0 or np.any((rates < 0) | (rates > 1)):
        raise UsageError(f"plot_stranger_matched needs false accept rates in [0, 1]; got {list(false_accept_rates)}")
    if not sizes or min(sizes) < 1:
        raise UsageError(f"plot_stranger_matched needs gallery sizes of at least 1; got {list(gallery_sizes)}")
    print_table(
        ["per-comparison FAR e"] + [f"K = {size}" for size in sizes],
        [[f"{rate:g}"] + [f"{1.0 - (1.0 - rate) ** size:.4f}" for size in sizes] for rate in rates],
    )
    every_size = np.unique(np.logspace(0, np.log10(max(sizes)), 200).astype(int))
    figure = plot_lines(
        every_size,
        {f"e = {rate:g}": 1.0 - (1.0 - rate) ** every_size for rate in rates},
        "people in the database K",
        "P(stranger matched to someone)",
        title="1:K recognition multiplies the false accepts",
        logx=True,
        figsize=(7, 4),
    )
    figure.axes[0].set_ylim(0, 1)
    return _finish(figure, path)


def show_identifications(
    images: Sequence, identities: Sequence[str], answers: Sequence[tuple[float, str]], ncols: int = 6, path=None
):
    """The answers of a 1:K search for some probe images: a table, a count and the images with them.

    Prints one row per probe (image name, true person, answer, distance, right?) and the number of
    right answers, then shows the images titled with their answer and distance.

    Args:
        images: the probe images (paths, or arrays with ``identities`` naming them).
        identities: each probe's true person (the answer that would be right).
        answers: each probe's ``(distance, identity)``, as ``who_is_it`` returns it.
        ncols: columns of the image grid.
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure`` of the images.

    Raises:
        UsageError: the three sequences differ in length, or are empty.

    Example:
        >>> faces = [np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 200, np.uint8)]
        >>> figure = show_identifications(faces, ["ann", "bob"], [(0.31, "ann"), (0.72, "not recognized")])
        ... # doctest: +NORMALIZE_WHITESPACE
        image  true person  answer          distance  right?
        -----  -----------  --------------  --------  ------
        1      ann          ann             0.310     yes
        2      bob          not recognized  0.720     NO
        <BLANKLINE>
        1 of 2 images identified correctly
        >>> figure.axes[1].get_title()
        'bob\\n-> not recognized, d = 0.720'
        >>> from utils.plotting import close
        >>> close(figure)
    """
    if not (len(images) == len(identities) == len(answers)) or len(images) == 0:
        raise UsageError(
            f"show_identifications needs as many identities and answers as images (at least one); got "
            f"{len(images)} images, {len(identities)} identities, {len(answers)} answers"
        )
    names = [
        Path(image).name if isinstance(image, (str, Path)) else str(number)
        for number, image in enumerate(images, start=1)
    ]
    rows = [
        [name, identity, answer, f"{float(distance):.3f}", "yes" if answer == identity else "NO"]
        for name, identity, (distance, answer) in zip(names, identities, answers)
    ]
    print_table(["image", "true person", "answer", "distance", "right?"], rows)
    right = sum(row[-1] == "yes" for row in rows)
    print(f"\n{right} of {len(rows)} images identified correctly")
    titles = [
        f"{identity}\n-> {answer}, d = {float(distance):.3f}"
        for identity, (distance, answer) in zip(identities, answers)
    ]
    return show_grid(list(images), titles, ncols=min(ncols, len(images)), cell_size=2.2, path=path)


def print_training_table(histories: dict) -> None:
    """Print one row per triplet-training run: its time, and its first and last loss and violation fractions.

    Args:
        histories: ``{name: TrainingHistory}`` (:func:`utils.faces.training.train_triplet_model`'s
            results: ``seconds``, and per epoch ``loss``, ``violation_fraction`` and
            ``monitor_violation_fraction``, the last one possibly empty).

    Raises:
        UsageError: no history, or a history without epochs.

    Example:
        >>> from types import SimpleNamespace
        >>> run = SimpleNamespace(seconds=12.34, loss=[0.2, 0.05], violation_fraction=[1.0, 0.25],
        ...                       monitor_violation_fraction=[1.0, 0.4])
        >>> print_training_table({"semi_hard": run})   # doctest: +NORMALIZE_WHITESPACE
        strategy   seconds  loss first -> last  violating (train)  violating (held-out)
        ---------  -------  ------------------  -----------------  --------------------
        semi_hard  12.3     0.2000 -> 0.0500    1.000 -> 0.250     1.000 -> 0.400
    """
    if not histories or any(len(history.loss) == 0 for history in histories.values()):
        raise UsageError("print_training_table needs at least one history with at least one epoch")

    def first_last(values, digits):
        return f"{values[0]:.{digits}f} -> {values[-1]:.{digits}f}" if len(values) else "-"

    print_table(
        ["strategy", "seconds", "loss first -> last", "violating (train)", "violating (held-out)"],
        [
            [
                name,
                f"{history.seconds:.1f}",
                first_last(history.loss, 4),
                first_last(history.violation_fraction, 3),
                first_last(history.monitor_violation_fraction, 3),
            ]
            for name, history in histories.items()
        ],
    )


def show_verification_results(results: dict, title: str | None = None, path=None):
    """Print a table of verification results and draw their accuracies as bars (± one standard deviation).

    Args:
        results: ``{method: result}`` with ``accuracy``, ``accuracy_std`` (over the folds), ``auc``
            and ``eer`` -- e.g. :class:`utils.faces.lfw.EvaluationResult` from
            :func:`utils.faces.metrics.evaluate_distances`.
        title: the chart's title (optional).
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure`` (horizontal bars, chance at 50 % marked).

    Raises:
        UsageError: no result.

    Example:
        >>> from types import SimpleNamespace
        >>> good = SimpleNamespace(accuracy=0.988, accuracy_std=0.012, auc=0.9995, eer=0.011)
        >>> figure = show_verification_results({"pretrained": good})   # doctest: +NORMALIZE_WHITESPACE
        method      accuracy       AUC    EER
        ----------  -------------  -----  -----
        pretrained  98.8 % +- 1.2  1.000  1.1 %
        >>> len(figure.axes[0].patches)
        1
        >>> from utils.plotting import close
        >>> close(figure)
    """
    if not results:
        raise UsageError("show_verification_results needs at least one result")
    print_table(
        ["method", "accuracy", "AUC", "EER"],
        [
            [
                name,
                f"{100 * result.accuracy:.1f} % +- {100 * result.accuracy_std:.1f}",
                f"{result.auc:.3f}",
                f"{100 * result.eer:.1f} %",
            ]
            for name, result in results.items()
        ],
    )
    return plot_bars(
        list(results),
        [100 * result.accuracy for result in results.values()],
        errors=[100 * result.accuracy_std for result in results.values()],
        reference=(50.0, "chance"),
        horizontal=True,
        ylabel="held-out accuracy (%), +- one std over the folds",
        title=title,
        path=path,
    )


def show_pair_verifiers(scores: dict, path=None):
    """Compare pair verifiers scored on several splits: a table, their test errors and their pooled ROC.

    Each method gives, per split, the "distance" of every test pair (smaller = more alike; a
    classifier's probability ``p`` of "same" is passed as ``1 - p``), whether the pair is the same
    person, and the threshold it decides with (``distance < threshold``: same). The function prints,
    per method, the accuracy on each split, their mean, and the AUC and EER of the splits pooled;
    then draws the mean test errors as bars and the pooled ROC curves near their top-left corner (one
    curve for methods that share their distances and differ only in the threshold).

    Args:
        scores: ``{method: {split: (distances, same, threshold)}}``, every method on the same splits.
        path: if given, the figure is also saved there (PNG).

    Returns:
        The matplotlib ``Figure``: the error bars on ``axes[0]``, the ROC curves on ``axes[1]``.

    Raises:
        UsageError: no method, or methods scored on different splits.

    Example:
        >>> scores = {"distance": {"1 -> 2": ([0.2, 0.4, 0.7, 0.9], [True, True, False, False], 0.5)},
        ...           "head": {"1 -> 2": ([0.3, 0.8, 0.6, 0.9], [True, True, False, False], 0.5)}}
        >>> figure = show_pair_verifiers(scores)   # doctest: +NORMALIZE_WHITESPACE
        method    1 -> 2    mean accuracy  AUC (pooled)  EER (pooled)
        --------  --------  -------------  ------------  ------------
        distance  100.00 %  100.00 %       1.0000        0.00 %
        head      75.00 %   75.00 %        0.7500        50.00 %
        >>> [line.get_label() for line in figure.axes[1].lines]
        ['distance (AUC 1.000)', 'head (AUC 0.750)']
        >>> from utils.plotting import close
        >>> close(figure)
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import

    if not scores or len({tuple(by_split) for by_split in scores.values()}) != 1:
        raise UsageError("show_pair_verifiers needs at least one method, every method scored on the same splits")
    splits = list(next(iter(scores.values())))
    rows, mean_accuracy, pooled, areas = [], {}, {}, {}
    for name, by_split in scores.items():
        accuracies = [accuracy_at(distances, same, threshold) for distances, same, threshold in by_split.values()]
        distances, same = validate_pairs(
            np.concatenate([np.asarray(value[0], np.float64) for value in by_split.values()]),
            np.concatenate([np.asarray(value[1], bool) for value in by_split.values()]),
        )
        pooled[name], mean_accuracy[name] = (distances, same), float(np.mean(accuracies))
        areas[name] = auc(distances, same)
        rows.append(
            [name]
            + [f"{100 * accuracy:.2f} %" for accuracy in accuracies]
            + [
                f"{100 * mean_accuracy[name]:.2f} %",
                f"{areas[name]:.4f}",
                f"{100 * equal_error_rate(distances, same)[0]:.2f} %",
            ]
        )
    print_table(["method", *splits, "mean accuracy", "AUC (pooled)", "EER (pooled)"], rows)
    figure, (error_axis, roc_axis) = plt.subplots(1, 2, figsize=(12, 4.2))
    names = list(scores)
    errors = [100 * (1 - mean_accuracy[name]) for name in names]
    error_axis.barh(range(len(names)), errors, color=[f"C{index % 10}" for index in range(len(names))])
    for index, value in enumerate(errors):
        error_axis.text(value, index, f" {value:.2f} %", va="center", fontsize=8)
    error_axis.set(
        yticks=range(len(names)),
        yticklabels=names,
        xlabel="test error, mean over the splits (%)",
        title="errors on pairs of unseen people (shorter is better)",
    )
    error_axis.invert_yaxis()
    drawn = []
    for name, (distances, same) in pooled.items():
        if any(np.array_equal(distances, earlier) for earlier in drawn):
            continue  # the same distances at another threshold: the same curve
        drawn.append(distances)
        far, tar, _ = roc_curve(distances, same)
        roc_axis.plot(far, tar, lw=2, label=f"{name} (AUC {areas[name]:.3f})")
    roc_axis.set(
        xlim=(0, 0.1),
        ylim=(0.9, 1.0),
        xlabel="false accept rate",
        ylabel="true accept rate",
        title="ROC of the pooled splits, top-left corner",
    )
    roc_axis.legend(loc="lower right", fontsize=8)
    roc_axis.grid(True, alpha=0.3)
    return _finish(figure, path)
