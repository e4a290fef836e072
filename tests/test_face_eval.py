"""Tests for utils.face_eval: pairs parsing and the verification maths on hand-made distances.

The last test runs the real pipeline (MTCNN + the converted dlib ResNet) on a few LFW pairs.
"""

import numpy as np
import pytest

from utils import assets, face_eval


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
    pairs = face_eval.read_pairs(_write_pairs(tmp_path / "pairs.txt", folds, 4))
    assert len(pairs) == folds * 8
    assert [pair.fold for pair in pairs] == [fold for fold in range(folds) for _ in range(8)]
    first, mismatched = pairs[0], pairs[4]
    assert first.same and (first.name_a, first.index_a, first.name_b, first.index_b) == ("Same_0_0", 1, "Same_0_0", 2)
    assert not mismatched.same and (mismatched.name_a, mismatched.index_a, mismatched.name_b,
                                    mismatched.index_b) == ("Left_0_0", 1, "Right_0_0", 3)
    path_a, _ = first.paths(tmp_path)
    assert path_a == tmp_path / "Same_0_0" / "Same_0_0_0001.jpg"


def test_read_pairs_reports_the_bad_line(tmp_path):
    path = _write_pairs(tmp_path / "pairs.txt", 1, 2)
    lines = path.read_text().splitlines()
    lines[3] = "Left_0_0 1 Right_0_0"  # a mismatched line with a missing field (line 4)
    path.write_text("\n".join(lines))
    with pytest.raises(ValueError, match=r"pairs.txt:4: expected a mismatched"):
        face_eval.read_pairs(path)
    path.write_text("2 300\nA 1 2\n")
    with pytest.raises(ValueError, match="header promises"):
        face_eval.read_pairs(path)


def test_real_lfw_pairs_file_has_two_folds_of_300_plus_300():
    pairs = face_eval.read_pairs(assets.resolve("lfw") / "pairs.txt")
    assert len(pairs) == 1200 and sum(pair.same for pair in pairs) == 600
    assert {pair.fold for pair in pairs} == {0, 1}
    subset = face_eval.subset_pairs(pairs, 100)
    assert len(subset) == 200 and sum(pair.same for pair in subset) == 100


def test_perfectly_separable_distances():
    distances = np.array([0.1, 0.2, 0.3, 0.25, 0.9, 0.8, 0.7, 1.2])
    same = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    folds = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    result = face_eval.evaluate_distances(distances, same, folds)
    assert result.accuracy == 1.0 and result.accuracy_std == 0.0
    assert result.auc == 1.0 and result.eer == 0.0 and result.val_at_far == 1.0
    assert 0.3 < result.threshold < 0.7
    assert face_eval.best_threshold(distances, same) == (pytest.approx(0.5), 1.0)


def test_hand_made_case_with_known_eer_auc_and_accuracy():
    # matched: 0.1 0.2 0.3 0.6 ; mismatched: 0.4 0.5 0.7 0.8
    # Best accuracy 7/8, only by cutting between 0.3 and 0.4 (threshold 0.35).
    # ROC points (FAR, FRR): ..., (0, .25), (.25, .25) -> EER 0.25 exactly.
    # AUC = P(d_same < d_diff) = 14/16.
    distances = [0.1, 0.2, 0.3, 0.6, 0.4, 0.5, 0.7, 0.8]
    same = [1, 1, 1, 1, 0, 0, 0, 0]
    eer, threshold = face_eval.equal_error_rate(distances, same)
    assert eer == pytest.approx(0.25) and 0.3 < threshold < 0.5
    assert face_eval.auc(distances, same) == pytest.approx(14 / 16)
    threshold, accuracy = face_eval.best_threshold(distances, same)
    assert accuracy == pytest.approx(0.875) and threshold == pytest.approx(0.35)
    assert face_eval.accuracy_at(distances, same, 0.65) == pytest.approx(0.75)
    val, far, _ = face_eval.val_at_far(distances, same, 1e-3)
    assert val == pytest.approx(0.75) and far == 0.0
    far_curve, tar_curve, _ = face_eval.roc_curve(distances, same)
    assert far_curve[0] == 0 and tar_curve[0] == 0 and far_curve[-1] == 1 and tar_curve[-1] == 1


def test_eer_interpolates_between_roc_points():
    # matched 0.1, 0.4 ; mismatched 0.2, 0.3: ROC points (FAR, FRR) are (0, 1), (0, .5), (.5, .5),
    # (1, .5), (1, 0): the curves meet at (.5, .5), so EER = 0.5.
    eer, _ = face_eval.equal_error_rate([0.1, 0.4, 0.2, 0.3], [1, 1, 0, 0])
    assert eer == pytest.approx(0.5)
    # Fully inverted distances: every decision is wrong at the EER.
    assert face_eval.equal_error_rate([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0])[0] == pytest.approx(1.0)


def test_kfold_threshold_comes_from_the_other_folds():
    # Fold 0 alone would choose ~0.5; fold 1's data pushes the threshold for fold 0 to ~0.25,
    # which misclassifies fold 0's matched pair at 0.4.
    distances = np.array([0.1, 0.4, 0.6, 0.9, 0.2, 0.3])
    same = np.array([1, 1, 0, 0, 1, 0], bool)
    folds = np.array([0, 0, 0, 0, 1, 1])
    result = face_eval.evaluate_distances(distances, same, folds)
    assert result.fold_thresholds[0] == pytest.approx(0.25)
    assert result.fold_accuracies[0] == pytest.approx(0.75)
    fixed = face_eval.evaluate_distances(distances, same, folds, threshold=0.5)
    assert fixed.fold_accuracies == [1.0, 0.5] and not fixed.threshold_fitted
    assert set(result.to_dict()) >= {"pairs", "accuracy", "accuracy_std", "threshold", "auc", "eer",
                                     "val_at_far_1e-3"}


def test_plot_evaluation_returns_a_figure():
    rng = np.random.default_rng(0)
    distances = np.concatenate([rng.normal(0.4, 0.1, 100), rng.normal(0.9, 0.1, 100)])
    same = np.arange(200) < 100
    result = face_eval.evaluate_distances(distances, same, np.arange(200) % 2)
    figure = face_eval.plot_evaluation(result)
    assert len(figure.axes) == 2


@pytest.mark.slow
def test_real_pipeline_on_a_few_lfw_pairs(tmp_path):
    """Real MTCNN + converted dlib ResNet on 10 + 10 LFW pairs of fold 1 (needs the weights)."""
    assets.resolve("dlib_face_resnet_keras")
    lfw = assets.resolve("lfw")
    lines = (lfw / "pairs.txt").read_text().splitlines()
    pairs_txt = tmp_path / "pairs.txt"
    pairs_txt.write_text("\n".join(["1\t10"] + lines[1:11] + lines[301:311]) + "\n")
    result = face_eval.evaluate_lfw(pairs_txt, lfw / "images", progress=False, cache_dir=tmp_path / "cache")
    assert len(list((tmp_path / "cache").glob("face_chips_central_*.npz"))) == 1
    again = face_eval.evaluate_lfw(pairs_txt, lfw / "images", progress=False, cache_dir=tmp_path / "cache")
    np.testing.assert_allclose(again.distances, result.distances, atol=1e-5)  # chips from the cache
    assert result.pairs == 20 and result.extra["no_face_images"] == 0
    assert result.accuracy >= 0.9 and result.auc >= 0.95
    assert 0.3 < result.threshold < 0.9
