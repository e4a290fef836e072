"""Tests of utils.nst.plots: the channel pair a figure shows, and what each figure draws.

Every input is a small hand-made array whose Gram matrix and cosines are worked out by hand; no
network or weights are needed.
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from utils.errors import UsageError
from utils.nst import plots


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _gram(maps):
    """Gram matrix of (n_H, n_W, n_C) maps, unrolled channels-last as in the notebook."""
    unrolled = maps.reshape(-1, maps.shape[-1]).T
    return unrolled @ unrolled.T


def _maps():
    """4 x 4 maps, 4 channels: 0 and 1 fire on the top half together, 2 on the bottom, 3 almost never."""
    maps = np.zeros((4, 4, 4))
    maps[:2, :, 0] = 1.0
    maps[:2, :, 1] = 2.0
    maps[2:, :, 2] = 1.0
    maps[3, 3, 3] = 0.01
    return maps


def test_cooccurring_channels_picks_the_proportional_pair():
    gram = _gram(_maps())
    assert gram[0, 1] == pytest.approx(8 * 1.0 * 2.0)  # 8 positions where both fire
    assert plots.cooccurring_channels(gram) == (0, 1, pytest.approx(1.0))


def test_silent_channels_are_skipped():
    # Channel 3 is channel 2 times 1e-3: cosine 1, the best pair, but its activity G[3, 3] is 1e-6
    # of the largest. Channel 1 fires at one of channel 0's 8 positions: cosine 1 / sqrt(8).
    maps = _maps()
    maps[:, :, 1] = 0.0
    maps[0, 0, 1] = 1.0
    maps[:, :, 3] = 1e-3 * maps[:, :, 2]
    gram = _gram(maps)
    assert plots.cooccurring_channels(gram, min_activity=0.0) == (2, 3, pytest.approx(1.0))
    assert plots.cooccurring_channels(gram, min_activity=0.05) == (0, 1, pytest.approx(1 / np.sqrt(8)))


def test_reference_gram_picks_the_pair_that_sets_the_image_apart():
    style = _maps()
    content = _maps()
    content[:2, :, 1] = 0.0
    content[2:, :, 1] = 2.0  # in the content, channel 1 fires with channel 2
    style[:, :, 3] = 0.5  # channel 3 fires everywhere in both
    content[:, :, 3] = 0.5
    gram_style, gram_content = _gram(style), _gram(content)
    # cosine(0, 1): 1.0 in the style, 0.0 in the content -> the largest difference
    assert plots.cooccurring_channels(gram_style, reference_gram=gram_content) == (0, 1, pytest.approx(1.0))
    # without the reference, (0, 1) also wins (cosine 1); with the reference swapped, (1, 2) wins
    assert plots.cooccurring_channels(gram_content, reference_gram=gram_style)[:2] == (1, 2)


def test_cooccurring_channels_refuses_bad_input():
    with pytest.raises(UsageError, match="square"):
        plots.cooccurring_channels(np.ones((3, 4)))
    with pytest.raises(UsageError, match="differ in shape"):
        plots.cooccurring_channels(np.eye(3), reference_gram=np.eye(4))
    with pytest.raises(UsageError, match="fewer than two channels"):
        plots.cooccurring_channels(np.diag([1.0, 0.0, 0.0]))


def test_show_gram_matrices_uses_one_colour_scale():
    style, content = np.array([[4.0, 2.0], [2.0, 1.0]]), np.array([[8.0, 0.0], [0.0, 2.0]])
    figure = plots.show_gram_matrices({"S": style, "C": content}, positions=2)
    images = [axis.images[0] for axis in figure.axes[:2]]
    assert [axis.get_title() for axis in figure.axes[:2]] == ["S", "C"]
    np.testing.assert_allclose(images[0].get_array(), style / 2)
    np.testing.assert_allclose(images[1].get_array(), content / 2)
    assert {image.norm.vmax for image in images} == {4.0}  # the largest entry of both, per position


def test_show_gram_matrices_cuts_channels_and_refuses_bad_input():
    figure = plots.show_gram_matrices({"S": np.arange(100.0).reshape(10, 10)}, channels=4)
    assert figure.axes[0].images[0].get_array().shape == (4, 4)
    with pytest.raises(UsageError, match="at least one"):
        plots.show_gram_matrices({})
    with pytest.raises(UsageError, match="square"):
        plots.show_gram_matrices({"S": np.ones((2, 3))})


def test_show_channel_pair_product_sums_to_the_gram_entry(tmp_path):
    maps = _maps()
    image = np.zeros((8, 8, 3), np.uint8)
    path = tmp_path / "pair.png"
    figure = plots.show_channel_pair({"S": image}, {"S": maps[None]}, (0, 1), layer="block1_conv1", path=path)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[:3] == ["S", "block1_conv1 channel k = 0", "channel k' = 1"]
    assert titles[3].endswith(f"= {_gram(maps)[0, 1]:.3g})") and _gram(maps)[0, 1] == 16.0
    np.testing.assert_allclose(figure.axes[3].images[0].get_array(), maps[..., 0] * maps[..., 1])
    assert path.stat().st_size > 0


def test_show_channel_pair_refuses_bad_input():
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(UsageError, match="same keys"):
        plots.show_channel_pair({"S": image}, {"C": _maps()}, (0, 1))
    with pytest.raises(UsageError, match="out of range"):
        plots.show_channel_pair({"S": image}, {"S": _maps()}, (0, 4))
    with pytest.raises(UsageError, match="activations"):
        plots.show_channel_pair({"S": image}, {"S": np.zeros((2, 4, 4, 3))}, (0, 1))


def test_plot_cost_parts_draws_the_numbers_given():
    figure = plots.plot_cost_parts([9.0, 4.0, 2.0], [(0, 1.0, 8.0), (3, 1.5, 0.5)])
    left, right = figure.axes
    assert left.lines[0].get_xdata().tolist() == [1, 2, 3] and left.lines[0].get_ydata().tolist() == [9.0, 4.0, 2.0]
    assert right.lines[1].get_xdata().tolist() == [0, 3] and right.lines[1].get_ydata().tolist() == [8.0, 0.5]
    with pytest.raises(UsageError):
        plots.plot_cost_parts([], [(0, 1.0, 1.0)])
