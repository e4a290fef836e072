"""Face figures: what they draw agrees with utils.faces.metrics, on hand-checked numbers."""

from types import SimpleNamespace

import numpy as np
import pytest

from utils import plotting
from utils.errors import UsageError
from utils.faces.metrics import equal_error_rate, error_rates
from utils.faces.plots import (
    plot_distance_matrix,
    plot_embedding_projection,
    plot_error_rates,
    plot_recognition_at_scale,
    plot_roc_curves,
    plot_stranger_matched,
    plot_training_curves,
    print_training_table,
    project_2d,
    show_identifications,
    show_pair_verifiers,
    show_triplet,
    show_verification_results,
    triplet_loss_value,
)

DISTANCES = np.array([0.30, 0.45, 0.52, 0.58, 0.70, 0.55, 0.62, 0.80, 0.90, 1.10])
SAME = np.array([True] * 5 + [False] * 5)


def test_triplet_loss_value_is_the_hinge_of_squared_distances():
    assert triplet_loss_value(0.50, 0.51, 0.2) == pytest.approx(0.19)  # the lecture's "too close" case
    assert triplet_loss_value(0.0, 0.0, 0.2) == pytest.approx(0.2)  # f = 0: every triplet costs alpha
    assert triplet_loss_value(0.3, 0.9, 0.2) == 0.0


def test_show_triplet_labels_images_distances_and_margin(tmp_path):
    faces = [np.full((10, 10, 3), value, np.uint8) for value in (0, 128, 255)]
    figure = show_triplet(
        *faces, squared_ap=0.25, squared_an=0.40, margin=0.2, names=["ann", "ann", "bob"], path=tmp_path / "triplet.png"
    )
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[:3] == ["anchor A\nann", "positive P\nann", "negative N\nbob"]
    assert titles[3] == "loss = max(0.250 - 0.400 + 0.2, 0) = 0.050"
    annotations = [text.get_text() for text in figure.axes[3].texts]
    assert "d(A,P) = 0.250" in annotations and "d(A,N) = 0.400" in annotations
    band = figure.axes[3].patches[0]  # the margin band from d(A,P) to d(A,P) + alpha
    x_values = (
        np.asarray(band.get_path().transformed(band.get_patch_transform()).vertices)[:, 0]
        if hasattr(band, "get_patch_transform")
        else np.asarray(band.get_xy())[:, 0]
    )
    assert np.allclose([x_values.min(), x_values.max()], [0.25, 0.45])
    assert (tmp_path / "triplet.png").stat().st_size > 0
    plotting.close(figure)
    with pytest.raises(UsageError, match="3 entries"):
        show_triplet(*faces, 0.1, 0.2, 0.2, names=["only one"])
    with pytest.raises(UsageError, match=">= 0"):
        show_triplet(*faces, -0.1, 0.2, 0.2)


def test_plot_error_rates_curves_match_error_rates_and_mark_the_eer():
    figure = plot_error_rates(DISTANCES, SAME, threshold=0.6)
    far_line, frr_line, eer_point = figure.axes[0].lines[:3]
    thresholds = far_line.get_xdata()
    for tau, far, frr in zip(thresholds[1:-1], far_line.get_ydata()[1:-1], frr_line.get_ydata()[1:-1]):
        rates = error_rates(DISTANCES, SAME, tau)
        assert far == pytest.approx(100 * rates.far) and frr == pytest.approx(100 * rates.frr)
    eer, eer_threshold = equal_error_rate(DISTANCES, SAME)
    assert eer == pytest.approx(0.2)  # hand count: for tau in (0.58, 0.62), 1 of 5 wrong each way
    assert eer_point.get_xdata()[0] == pytest.approx(eer_threshold)
    assert eer_point.get_ydata()[0] == pytest.approx(100 * eer)
    # at 0.6: accepted different pair 0.55 (1 of 5: FAR 20 %), refused same pair 0.70 (1 of 5: FRR 20 %)
    assert figure.axes[0].lines[3].get_label() == "tau = 0.6: FAR 20.0 %, FRR 20.0 %"
    plotting.close(figure)


def test_project_2d_keeps_distances_of_points_that_lie_in_a_plane():
    rng = np.random.default_rng(0)
    plane_points = rng.normal(size=(20, 2)) * [3.0, 1.0]
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    embedded = np.hstack([plane_points, np.zeros((20, 4))]) @ rotation + 5.0  # rotated and shifted in 6-D
    projected = project_2d(embedded)

    def pairwise(points):
        return np.linalg.norm(points[:, None] - points[None], axis=-1)

    np.testing.assert_allclose(pairwise(projected), pairwise(plane_points), atol=1e-9)
    with pytest.raises(UsageError, match="n >= 2"):
        project_2d(np.ones((1, 3)))


def test_plot_embedding_projection_shows_a_collapsed_encoder_as_a_dot():
    rng = np.random.default_rng(1)
    labels = np.repeat(["ann", "bob", "cy"], 4)
    spread = rng.normal(size=(12, 8))
    collapsed = np.ones((12, 8)) + 1e-4 * rng.normal(size=(12, 8))
    figure = plot_embedding_projection({"spread": spread, "collapsed": collapsed}, labels, max_people=2)
    spread_axis, collapsed_axis = figure.axes
    assert spread_axis.get_xlim() == collapsed_axis.get_xlim()  # one scale for every panel
    limit = spread_axis.get_xlim()[1]
    collapsed_points = np.vstack([collection.get_offsets() for collection in collapsed_axis.collections])
    assert np.abs(collapsed_points).max() < 1e-3 * limit
    spread_mean = np.mean(np.sum((spread[:, None] - spread[None]) ** 2, axis=-1))  # over all 12 x 12 pairs
    assert spread_axis.get_title() == f"spread\nmean squared distance {spread_mean:.3f}"
    assert collapsed_axis.get_title().endswith("mean squared distance 0.000")
    legend = [text.get_text() for text in collapsed_axis.get_legend().get_texts()]
    assert len(legend) == 2 and set(legend) <= {"ann", "bob", "cy"}  # two coloured people, the third grey
    plotting.close(figure)
    with pytest.raises(UsageError, match="11 embeddings but there are 12 labels"):
        plot_embedding_projection({"bad": spread[:11]}, labels)


def test_plot_distance_matrix_writes_values_and_outlines_the_true_person():
    distances = np.array([[0.35, 0.80, 0.55], [0.90, 0.40, 1.00]])
    figure = plot_distance_matrix(distances, ["cam0", "cam1"], ["ann", "bob", "cy"], true_columns=[0, 1], threshold=0.6)
    axis = figure.axes[0]
    texts = {text.get_text(): text.get_color() for text in axis.texts}
    assert texts["0.35"] == "white" and texts["0.55"] == "white" and texts["0.80"] == "black"
    assert [tuple(patch.get_xy()) for patch in axis.patches] == [(-0.5, -0.5), (0.5, 0.5)]
    plotting.close(figure)
    with pytest.raises(UsageError, match="do not match"):
        plot_distance_matrix(distances, ["cam0"], ["ann", "bob", "cy"])


def test_plot_roc_curves_labels_each_curve_with_its_auc():
    # hand count: of the 25 (same, different) pairs, 22 have the same pair closer -> AUC 0.88
    figure = plot_roc_curves({"encoder": (DISTANCES, SAME), "reversed": (-DISTANCES, SAME)}, zoom=True)
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels == ["encoder (AUC 0.880)", "reversed (AUC 0.120)"]
    assert len(figure.axes) == 2 and figure.axes[1].get_xscale() == "log"
    plotting.close(figure)


def test_plot_training_curves_and_scale_plot_draw_every_run():
    runs = {
        name: SimpleNamespace(
            loss=[0.3, 0.25, 0.2], violation_fraction=[1.0, 0.6, 0.4], monitor_violation_fraction=[1.0, 0.7, 0.5]
        )
        for name in ("random", "semi_hard")
    }
    figure = plot_training_curves(runs, margin=0.2)
    assert [line.get_label() for line in figure.axes[0].lines] == ["random", "semi_hard", "loss = margin"]
    assert len(figure.axes[1].lines) == 4
    plotting.close(figure)
    rows = [
        {
            "K": k,
            "loop_ms": k / 1e3,
            "exact_ms": k / 1e5,
            "index_ms": 0.1,
            "identified": 0.9,
            "strangers_rejected": 0.8 - k / 1e5,
        }
        for k in (1_000, 10_000)
    ]
    figure = plot_recognition_at_scale(rows, 0.6)
    np.testing.assert_allclose(figure.axes[1].lines[1].get_ydata(), [79.0, 70.0])
    plotting.close(figure)


def test_plot_stranger_matched_prints_and_draws_one_minus_one_minus_e_to_the_k(capsys, tmp_path):
    figure = plot_stranger_matched([1e-3, 0.5], gallery_sizes=[1, 3, 1000], path=tmp_path / "k.png")
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["per-comparison", "FAR", "e", "K", "=", "1", "K", "=", "3", "K", "=", "1000"]
    # by hand: 1 - 0.999^3 = 0.002997; 1 - 0.999^1000 = 0.6323; 1 - 0.5^3 = 0.875
    assert rows[2].split() == ["0.001", "0.0010", "0.0030", "0.6323"]
    assert rows[3].split() == ["0.5", "0.5000", "0.8750", "1.0000"]
    line = figure.axes[0].lines[0]
    assert line.get_label() == "e = 0.001" and line.get_xdata()[0] == 1 and line.get_xdata()[-1] == 1000
    np.testing.assert_allclose(line.get_ydata()[-1], 1 - 0.999**1000)
    assert figure.axes[0].get_xscale() == "log" and (tmp_path / "k.png").stat().st_size > 0
    plotting.close(figure)
    for rates, sizes, message in (
        ([], [10], "false accept rates"),
        ([1.5], [10], "false accept rates"),
        ([0.1], [0, 10], "gallery sizes"),
    ):
        with pytest.raises(UsageError, match=message):
            plot_stranger_matched(rates, gallery_sizes=sizes)


def test_show_identifications_counts_the_right_answers(capsys):
    faces = [np.full((6, 6, 3), value, np.uint8) for value in (0, 90, 180)]
    answers = [(0.30, "ann"), (0.55, "ann"), (0.81, "not recognized")]  # the second one is wrong
    figure = show_identifications(faces, ["ann", "bob", "cy"], answers, ncols=2)
    printed = capsys.readouterr().out
    assert [line.split()[-1] for line in printed.splitlines()[2:5]] == ["yes", "NO", "NO"]
    assert "1 of 3 images identified correctly" in printed
    assert [axis.get_title() for axis in figure.axes[:3]] == [
        "ann\n-> ann, d = 0.300",
        "bob\n-> ann, d = 0.550",
        "cy\n-> not recognized, d = 0.810",
    ]
    assert len(figure.axes) == 4  # a 2-column grid of three images
    plotting.close(figure)
    with pytest.raises(UsageError, match="as many identities and answers"):
        show_identifications(faces, ["ann"], answers)


def test_print_training_table_shows_first_and_last_epochs(capsys):
    runs = {
        "semi_hard": SimpleNamespace(
            seconds=38.54,
            loss=[0.1983, 0.15, 0.1061],
            violation_fraction=[1.0, 0.5, 0.178],
            monitor_violation_fraction=[0.999, 0.301],
        ),
        "no_monitor": SimpleNamespace(seconds=1.0, loss=[0.2], violation_fraction=[1.0], monitor_violation_fraction=[]),
    }
    print_training_table(runs)
    rows = capsys.readouterr().out.splitlines()
    assert rows[2].split() == [
        "semi_hard",
        "38.5",
        "0.1983",
        "->",
        "0.1061",
        "1.000",
        "->",
        "0.178",
        "0.999",
        "->",
        "0.301",
    ]
    assert rows[3].split()[-1] == "-"
    with pytest.raises(UsageError, match="at least one epoch"):
        print_training_table(
            {"empty": SimpleNamespace(seconds=0.0, loss=[], violation_fraction=[], monitor_violation_fraction=[])}
        )


def test_show_verification_results_tables_and_bars(capsys):
    results = {
        "pixels": SimpleNamespace(accuracy=0.535, accuracy_std=0.059, auc=0.626, eer=0.413),
        "pretrained": SimpleNamespace(accuracy=0.988, accuracy_std=0.015, auc=0.9996, eer=0.010),
    }
    figure = show_verification_results(results, title="held out")
    rows = capsys.readouterr().out.splitlines()
    assert rows[2].split() == ["pixels", "53.5", "%", "+-", "5.9", "0.626", "41.3", "%"]
    assert rows[3].split() == ["pretrained", "98.8", "%", "+-", "1.5", "1.000", "1.0", "%"]
    widths = sorted(round(patch.get_width(), 6) for patch in figure.axes[0].patches)
    assert widths == [53.5, 98.8] and figure.axes[0].get_title() == "held out"
    plotting.close(figure)
    with pytest.raises(UsageError, match="at least one result"):
        show_verification_results({})


def test_show_pair_verifiers_pools_the_splits_and_draws_one_curve_per_distance(capsys):
    same = [True, True, False, False]
    distances = [0.2, 0.4, 0.7, 0.9]
    scores = {
        "distance, fitted": {"1 -> 2": (distances, same, 0.5), "2 -> 1": (distances, same, 0.3)},
        "distance, 0.6": {"1 -> 2": (distances, same, 0.6), "2 -> 1": (distances, same, 0.6)},
        "head": {"1 -> 2": ([0.3, 0.8, 0.6, 0.9], same, 0.5), "2 -> 1": ([0.1, 0.2, 0.3, 0.4], same, 0.5)},
    }
    figure = show_pair_verifiers(scores)
    rows = capsys.readouterr().out.splitlines()
    # by hand: tau 0.3 on split 2 accepts only 0.2 -> 3 of 4 right; the head's split 2 calls all four "same" -> 50 %
    assert rows[2].split()[:6] == ["distance,", "fitted", "100.00", "%", "75.00", "%"]
    assert rows[2].split()[6:8] == ["87.50", "%"]
    assert rows[4].split()[1:7] == ["75.00", "%", "50.00", "%", "62.50", "%"]
    labels = [line.get_label() for line in figure.axes[1].lines]
    assert labels[0].startswith("distance, fitted (AUC 1.000") and len(labels) == 2  # "distance, 0.6": same curve
    assert [round(patch.get_width(), 6) for patch in figure.axes[0].patches] == [12.5, 0.0, 37.5]
    plotting.close(figure)
    with pytest.raises(UsageError, match="same splits"):
        show_pair_verifiers({"a": {"1": (distances, same, 0.5)}, "b": {"2": (distances, same, 0.5)}})
