"""Tests for utils.faces.lfw: pairs parsing, the k-fold protocol on hand-made distances, the plot of
a result, and the real pipeline (MTCNN + the converted dlib ResNet) on a few LFW pairs.
"""

import numpy as np
import pytest

from utils import assets, errors, plotting
from utils.faces import lfw, metrics


def _write_pairs(path, folds, per_fold):
    lines = [f"{folds}\t{per_fold}"]
    for fold in range(folds):
        for number in range(per_fold):
            lines.append(f"Same_{fold}_{number}\t1\t{number + 2}")
        for number in range(per_fold):
            lines.append(f"Left_{fold}_{number}\t{number + 1}\tRight_{fold}_{number}\t3")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("folds", [1, 3])
def test_read_pairs_any_number_of_folds(tmp_path, folds):
    pairs = lfw.read_pairs(_write_pairs(tmp_path / "pairs.txt", folds, 4))
    assert len(pairs) == folds * 8
    assert [pair.fold for pair in pairs] == [fold for fold in range(folds) for _ in range(8)]
    first, mismatched = pairs[0], pairs[4]
    assert first.same and (first.name_a, first.index_a, first.name_b, first.index_b) == ("Same_0_0", 1, "Same_0_0", 2)
    assert not mismatched.same and (mismatched.name_a, mismatched.index_a, mismatched.name_b, mismatched.index_b) == (
        "Left_0_0",
        1,
        "Right_0_0",
        3,
    )
    path_a, _ = first.paths(tmp_path)
    assert path_a == tmp_path / "Same_0_0" / "Same_0_0_0001.jpg"


def test_read_pairs_reports_the_bad_line(tmp_path):
    path = _write_pairs(tmp_path / "pairs.txt", 1, 2)
    lines = path.read_text().splitlines()
    lines[3] = "Left_0_0 1 Right_0_0"  # a mismatched line with a missing field (line 4)
    path.write_text("\n".join(lines))
    with pytest.raises(errors.UsageError, match=r"pairs.txt:4: expected a mismatched"):
        lfw.read_pairs(path)
    path.write_text("2 300\nA 1 2\n")
    with pytest.raises(ValueError, match="header promises"):
        lfw.read_pairs(path)


def test_real_lfw_pairs_file_has_two_folds_of_300_plus_300():
    pairs = lfw.read_pairs(assets.resolve("lfw") / "pairs.txt")
    assert len(pairs) == 1200 and sum(pair.same for pair in pairs) == 600
    assert {pair.fold for pair in pairs} == {0, 1}
    subset = lfw.subset_pairs(pairs, 100)
    assert len(subset) == 200 and sum(pair.same for pair in subset) == 100


def test_kfold_threshold_comes_from_the_other_folds():
    # Fold 0 alone would choose ~0.5; fold 1's data pushes the threshold for fold 0 to ~0.25,
    # which misclassifies fold 0's matched pair at 0.4.
    distances = np.array([0.1, 0.4, 0.6, 0.9, 0.2, 0.3])
    same = np.array([1, 1, 0, 0, 1, 0], bool)
    folds = np.array([0, 0, 0, 0, 1, 1])
    result = lfw.evaluate_distances(distances, same, folds)
    assert result.fold_thresholds[0] == pytest.approx(0.25)
    assert result.fold_accuracies[0] == pytest.approx(0.75)
    fixed = lfw.evaluate_distances(distances, same, folds, threshold=0.5)
    assert fixed.fold_accuracies == [1.0, 0.5] and not fixed.threshold_fitted
    assert set(result.to_dict()) >= {"pairs", "accuracy", "accuracy_std", "threshold", "auc", "eer", "val_at_far_1e-3"}


def test_plot_verification_of_a_result(tmp_path):
    rng = np.random.default_rng(0)
    distances = np.concatenate([rng.normal(0.4, 0.1, 100), rng.normal(0.9, 0.1, 100)])
    same = np.arange(200) < 100
    result = lfw.evaluate_distances(distances, same, np.arange(200) % 2)
    far, tar, _ = metrics.roc_curve(distances, same)
    np.testing.assert_array_equal(result.far, far)  # the result carries its pooled ROC
    np.testing.assert_array_equal(result.tar, tar)
    figure = plotting.plot_verification(result, path=tmp_path / "roc.png")
    assert len(figure.axes) == 2 and (tmp_path / "roc.png").stat().st_size > 1000
    assert figure.axes[0].get_xscale() == "log"


@pytest.mark.slow
def test_real_pipeline_on_a_few_lfw_pairs(tmp_path):
    """Real MTCNN + converted dlib ResNet on 10 + 10 LFW pairs of fold 1 (needs the weights)."""
    assets.resolve("dlib_face_resnet_keras")
    folder = assets.resolve("lfw")
    lines = (folder / "pairs.txt").read_text().splitlines()
    pairs_txt = tmp_path / "pairs.txt"
    pairs_txt.write_text("\n".join(["1\t10"] + lines[1:11] + lines[301:311]) + "\n")
    result = lfw.evaluate_lfw(pairs_txt, folder / "images", progress=False, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("face_chips_central_*.npz"))) == 1
    again = lfw.evaluate_lfw(pairs_txt, folder / "images", progress=False, cache_dir=tmp_path / "cache")
    np.testing.assert_allclose(again.distances, result.distances, atol=1e-5)  # chips from the cache
    assert result.pairs == 20 and result.extra["no_face_images"] == 0
    assert result.accuracy >= 0.9 and result.auc >= 0.95
    assert 0.3 < result.threshold < 0.9


def test_center_chip_is_the_central_region_of_an_lfw_image(tmp_path):
    from utils import image_io

    image = np.zeros((250, 250, 3), np.uint8)
    image[55:195, 55:195] = 200  # the central 140 x 140 pixels (56 %)
    image_io.save_image(tmp_path / "a.png", image)
    chip = lfw.center_chip(tmp_path / "a.png")
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
    assert chip.min() == 200  # nothing of the black border
