"""Shared plots: they draw what they are given and save atomically where asked."""

import numpy as np
import pytest
from PIL import Image

from utils import plotting
from utils.errors import UsageError


def test_show_grid_saves_a_figure(tmp_path):
    images = [np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.uint8) * 255, np.full((8, 8, 3), 0.5)]
    figure = plotting.show_grid(images, titles=["a", "b", "c"], ncols=2, path=tmp_path / "grid.png")
    assert len(figure.axes) == 4 and (tmp_path / "grid.png").stat().st_size > 0
    with Image.open(tmp_path / "grid.png") as saved:
        assert saved.format == "PNG"
    assert [path.name for path in tmp_path.iterdir()] == ["grid.png"]  # no temporary left
    plotting.close(figure)
    with pytest.raises(ValueError, match="titles"):
        plotting.show_grid(images, titles=["a"])


def test_plot_loss_history_skips_terms_that_are_always_zero(tmp_path):
    history = [
        {"step": step, "total": 10.0 / step, "content": 1.0 / step, "style": 9.0 / step, "tv": 0.0}
        for step in range(1, 6)
    ]
    figure = plotting.plot_loss_history(history, title="losses", path=tmp_path / "losses.png")
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels == ["total", "content", "style"]
    assert (tmp_path / "losses.png").stat().st_size > 0
    plotting.close(figure)


def test_format_table_aligns_columns_and_rejects_ragged_rows(capsys):
    text = plotting.format_table(["method", "accuracy"], [["pixels", "61.0 %"], ["dlib ResNet", 98.75]])
    assert text.splitlines() == [
        "method       accuracy",
        "-----------  --------",
        "pixels       61.0 %",
        "dlib ResNet  98.75",
    ]
    plotting.print_table(["a"], [[1], [22]])
    assert capsys.readouterr().out == "a\n--\n1\n22\n"
    with pytest.raises(UsageError, match="row 1 has 1 values but the header has 2"):
        plotting.format_table(["a", "b"], [[1, 2], [3]])


def test_plot_bars_draws_one_bar_per_value_with_its_label(tmp_path):
    figure = plotting.plot_bars(
        ["pixels", "semi-hard", "dlib"],
        [53.8, 67.0, 98.8],
        errors=[1.0, 2.0, 0.5],
        ylabel="accuracy (%)",
        reference=(50.0, "chance"),
        path=tmp_path / "bars.png",
    )
    axis = figure.axes[0]
    assert [round(float(bar.get_height()), 1) for bar in axis.patches] == [53.8, 67.0, 98.8]
    assert [text.get_text() for text in axis.texts] == ["53.8", "67.0", "98.8"]
    assert [label.get_text() for label in axis.get_xticklabels()] == ["pixels", "semi-hard", "dlib"]
    assert (tmp_path / "bars.png").stat().st_size > 0
    plotting.close(figure)
    horizontal = plotting.plot_bars(["a", "b"], [1.0, 100.0], log=True, horizontal=True, value_format="{:.0f} ms")
    assert horizontal.axes[0].get_xscale() == "log"
    assert [round(float(bar.get_width())) for bar in horizontal.axes[0].patches] == [1, 100]
    plotting.close(horizontal)
    with pytest.raises(UsageError, match="2 labels, 3 values"):
        plotting.plot_bars(["a", "b"], [1, 2, 3])
    with pytest.raises(UsageError, match="positive"):
        plotting.plot_bars(["a"], [0.0], log=True)


def test_plot_lines_draws_each_series_on_the_shared_x():
    sizes = np.array([1, 10, 100, 1000])
    series = {"e = 0.001": 1 - (1 - 1e-3) ** sizes, "e = 0.0001": 1 - (1 - 1e-4) ** sizes}
    figure = plotting.plot_lines(sizes, series, "K", "P(match)", logx=True)
    lines = figure.axes[0].lines
    assert [line.get_label() for line in lines] == list(series)
    np.testing.assert_allclose(lines[0].get_ydata(), [0.001, 0.00995, 0.09521, 0.63230], atol=5e-5)
    assert figure.axes[0].get_xscale() == "log"
    plotting.close(figure)
    with pytest.raises(UsageError, match="3 values but x has 4"):
        plotting.plot_lines(sizes, {"bad": [1, 2, 3]}, "K", "P")


def test_plot_verification_marks_extra_thresholds_and_titles(tmp_path):
    from types import SimpleNamespace

    result = SimpleNamespace(
        distances=np.array([0.2, 0.4, 0.9, 1.1]),
        same=np.array([True, True, False, False]),
        far=np.array([0, 0, 0, 0.5, 1]),
        tar=np.array([0, 0.5, 1, 1, 1]),
        threshold=0.65,
        accuracy=1.0,
        folds=2,
        auc=1.0,
        eer=0.0,
    )
    figure = plotting.plot_verification(
        result, title="LFW", xlabel="pixel distance", marks={"dlib's threshold 0.6": 0.6}, path=tmp_path / "v.png"
    )
    histogram = figure.axes[1]
    lines = {line.get_label(): line.get_xdata()[0] for line in histogram.lines}
    assert lines == {"threshold 0.650": 0.65, "dlib's threshold 0.6": 0.6}
    assert histogram.get_xlabel() == "pixel distance" and figure._suptitle.get_text() == "LFW"
    assert (tmp_path / "v.png").stat().st_size > 0
    plotting.close(figure)
    plain = plotting.plot_verification(result)
    assert plain.axes[1].get_xlabel() == "Euclidean distance between encodings" and plain._suptitle is None
    assert [line.get_label() for line in plain.axes[1].lines] == ["threshold 0.650"]
    plotting.close(plain)
