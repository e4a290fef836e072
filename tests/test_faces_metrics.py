"""Tests for utils.faces.metrics: the verification maths on hand-made distances (exact values).

ROC and AUC come from scikit-learn; these tests pin the meaning this project gives them (a pair is
"the same person" when its distance is strictly below the threshold) with hand-computed numbers.
"""

import numpy as np
import pytest

from utils import errors
from utils.faces import lfw, metrics


def test_perfectly_separable_distances():
    distances = np.array([0.1, 0.2, 0.3, 0.25, 0.9, 0.8, 0.7, 1.2])
    same = np.array([1, 1, 1, 1, 0, 0, 0, 0], bool)
    folds = np.array([0, 0, 1, 1, 0, 0, 1, 1])
    result = lfw.evaluate_distances(distances, same, folds)
    assert result.accuracy == 1.0 and result.accuracy_std == 0.0
    assert result.auc == 1.0 and result.eer == 0.0 and result.val_at_far == 1.0
    assert 0.3 < result.threshold < 0.7
    assert metrics.best_threshold(distances, same) == (pytest.approx(0.5), 1.0)


def test_hand_made_case_with_known_eer_auc_and_accuracy():
    # matched: 0.1 0.2 0.3 0.6 ; mismatched: 0.4 0.5 0.7 0.8
    # Best accuracy 7/8, only by cutting between 0.3 and 0.4 (threshold 0.35).
    # ROC points (FAR, FRR): ..., (0, .25), (.25, .25) -> EER 0.25 exactly.
    # AUC = P(d_same < d_diff) = 14/16.
    distances = [0.1, 0.2, 0.3, 0.6, 0.4, 0.5, 0.7, 0.8]
    same = [1, 1, 1, 1, 0, 0, 0, 0]
    eer, threshold = metrics.equal_error_rate(distances, same)
    assert eer == pytest.approx(0.25) and 0.3 < threshold < 0.5
    assert metrics.auc(distances, same) == pytest.approx(14 / 16)
    threshold, accuracy = metrics.best_threshold(distances, same)
    assert accuracy == pytest.approx(0.875) and threshold == pytest.approx(0.35)
    assert metrics.accuracy_at(distances, same, 0.65) == pytest.approx(0.75)
    val, far, _ = metrics.val_at_far(distances, same, 1e-3)
    assert val == pytest.approx(0.75) and far == 0.0
    far_curve, tar_curve, _ = metrics.roc_curve(distances, same)
    assert far_curve[0] == 0 and tar_curve[0] == 0 and far_curve[-1] == 1 and tar_curve[-1] == 1


def test_eer_interpolates_between_roc_points():
    # matched 0.1, 0.4 ; mismatched 0.2, 0.3: ROC points (FAR, FRR) are (0, 1), (0, .5), (.5, .5),
    # (1, .5), (1, 0): the curves meet at (.5, .5), so EER = 0.5.
    eer, _ = metrics.equal_error_rate([0.1, 0.4, 0.2, 0.3], [1, 1, 0, 0])
    assert eer == pytest.approx(0.5)
    # Fully inverted distances: every decision is wrong at the EER.
    assert metrics.equal_error_rate([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0])[0] == pytest.approx(1.0)


def test_roc_points_and_thresholds_follow_the_strict_rule():
    # sorted: 0.2 (same), 0.3 (different), 0.3 (same), 0.5 (different). A tie at 0.3 is one cut.
    distances = [0.3, 0.2, 0.5, 0.3]
    same = [False, True, False, True]
    far, tar, thresholds = metrics.roc_curve(distances, same)
    assert far.tolist() == [0.0, 0.0, 0.5, 1.0] and tar.tolist() == [0.0, 0.5, 1.0, 1.0]
    np.testing.assert_allclose(thresholds, [0.2 - 0.003, 0.25, 0.4, 0.5 + 0.003])
    for point_far, point_tar, threshold in zip(far, tar, thresholds):  # each threshold realises its point
        accepted = np.array(distances) < threshold
        assert np.mean(accepted[~np.array(same)]) == point_far and np.mean(accepted[np.array(same)]) == point_tar
    # the tie counts one half in the AUC: P(d_same < d_diff) = (1 + 1 + 0.5 + 1) / 4
    assert metrics.auc(distances, same) == pytest.approx(3.5 / 4)


def test_bad_input_is_a_usage_error():
    with pytest.raises(errors.UsageError, match="as many distances"):
        metrics.accuracy_at([0.1, 0.2], [True], 0.5)
    with pytest.raises(errors.UsageError, match="NaN"):
        metrics.best_threshold([0.1, float("nan")], [True, False])
    with pytest.raises(errors.UsageError, match="both matched and mismatched"):
        metrics.roc_curve([0.1, 0.2], [True, True])
    with pytest.raises(errors.UsageError, match="both matched and mismatched"):
        metrics.auc([0.1, 0.2], [False, False])


def test_best_threshold_takes_the_middle_of_equally_good_cuts():
    # accepting the first 1, 3 or 5 distances each classifies 4 of 6 right; the middle cut (3) wins
    distances = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]
    same = [True, False, True, False, True, False]
    assert metrics.best_threshold(distances, same) == (pytest.approx(0.45), pytest.approx(4 / 6))


def test_error_rates_count_the_strict_rule_and_agree_with_accuracy():
    distances = [0.1, 0.4, 0.6, 0.6, 0.3, 0.59, 0.8, 0.9]
    same = [True, True, True, False, False, False, False, False]
    rates = metrics.error_rates(distances, same, 0.6)
    # a distance equal to the threshold is refused: the genuine 0.6 is a false reject, the impostor 0.6 is not accepted
    assert (rates.false_accepts, rates.impostors, rates.false_rejects, rates.genuines) == (2, 5, 1, 3)
    assert rates.far == pytest.approx(2 / 5) and rates.frr == pytest.approx(1 / 3)
    errors_made = rates.false_accepts + rates.false_rejects
    assert 1 - errors_made / len(distances) == pytest.approx(metrics.accuracy_at(distances, same, 0.6))
    assert "2 of 5 different-people pairs accepted" in str(rates)
    only_genuine = metrics.error_rates([0.2, 0.7], [True, True], 0.5)
    assert np.isnan(only_genuine.far) and only_genuine.frr == 0.5
