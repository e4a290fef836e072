"""Shared plots: they draw what they are given and save atomically where asked."""

import numpy as np
import pytest
from PIL import Image

from utils import plotting


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
    history = [{"step": step, "total": 10.0 / step, "content": 1.0 / step, "style": 9.0 / step, "tv": 0.0}
               for step in range(1, 6)]
    figure = plotting.plot_loss_history(history, title="losses", path=tmp_path / "losses.png")
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert labels == ["total", "content", "style"]
    assert (tmp_path / "losses.png").stat().st_size > 0
    plotting.close(figure)
