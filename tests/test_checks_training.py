"""Tests of utils.checks.training: the batch-hard exercise check accepts a correct solution, names
each classic mistake, and reports an unimplemented stub.

The wrong implementations below are written here, independently of the check's own mistake
variants, the way a learner might write them (NumPy, one anchor at a time).
"""

import numpy as np
import pytest

from utils import checks
from utils.checks import training
from utils.errors import CheckFailed, ExerciseNotImplemented


def _squared_distances(embeddings):
    embeddings = np.asarray(embeddings, np.float64)
    difference = embeddings[:, None, :] - embeddings[None, :, :]
    return np.sum(difference**2, axis=-1)


def learner_batch_hard(
    labels,
    embeddings,
    margin=0.2,
    *,
    own_positive=False,
    farthest_negative=False,
    closest_positive=False,
    all_anchors=False,
    zero_fill=False,
    hinge_last=False,
    plain_distance=False,
):
    """A loop-per-anchor batch-hard loss; each keyword reproduces one mistake."""
    labels = np.asarray(labels).reshape(-1)
    distances = _squared_distances(embeddings)
    if plain_distance:
        distances = np.sqrt(distances)
    terms = []
    for anchor in range(len(labels)):
        positives = [j for j in range(len(labels)) if labels[j] == labels[anchor] and (own_positive or j != anchor)]
        negatives = [j for j in range(len(labels)) if labels[j] != labels[anchor]]
        if not positives or not negatives:
            if all_anchors:
                terms.append(0.0)
            continue
        positive = min(distances[anchor, positives]) if closest_positive else max(distances[anchor, positives])
        if farthest_negative:
            negative = max(distances[anchor, negatives])
        elif zero_fill:
            negative = min(np.where(labels != labels[anchor], distances[anchor], 0.0))
        else:
            negative = min(distances[anchor, negatives])
        terms.append(positive - negative + margin)
    if not terms:
        return 0.0
    if hinge_last:
        return max(float(np.mean(terms)), 0.0)
    return float(np.mean(np.maximum(terms, 0.0)))


def test_check_is_exported_from_the_package():
    assert "check_batch_hard_triplet_loss" in training.__all__
    assert checks.check_batch_hard_triplet_loss is training.check_batch_hard_triplet_loss


def test_correct_numpy_solution_passes(capsys):
    """Notebook 02 calls the learner's loss eagerly only (training uses the library's), so NumPy is fine."""
    assert checks.check_batch_hard_triplet_loss(learner_batch_hard) is None
    assert capsys.readouterr().out == "All tests passed.\n"


def test_library_solution_passes(capsys):
    from utils import losses

    assert checks.check_batch_hard_triplet_loss(losses.batch_hard_triplet_loss) is None
    assert capsys.readouterr().out == "All tests passed.\n"


@pytest.mark.parametrize(
    "mistake, words",
    [
        ("farthest_negative", "easiest negative instead of the hardest"),
        ("closest_positive", "easiest positive instead of the hardest"),
        ("own_positive", "anchors without a positive were scored"),
        ("all_anchors", "mean over every anchor"),
        ("zero_fill", "masked entries entered the min as 0"),
        ("hinge_last", "hinge applied after the mean"),
        ("plain_distance", "distances not squared"),
    ],
)
def test_each_classic_mistake_gets_its_hint(mistake, words, capsys):
    def wrong(labels, embeddings, margin=0.2):
        return learner_batch_hard(labels, embeddings, margin, **{mistake: True})

    with pytest.raises(CheckFailed) as raised:
        checks.check_batch_hard_triplet_loss(wrong)
    message = str(raised.value)
    assert f"Likely mistake ({words})" in message
    assert message.count("Likely mistake") == 1, message
    assert capsys.readouterr().out == ""  # the message is raised, not printed as well


def test_unrelated_wrong_answer_gets_the_exercises_own_generic_message(capsys):
    with pytest.raises(CheckFailed) as raised:
        checks.check_batch_hard_triplet_loss(lambda labels, embeddings, margin=0.2: 42.0)
    message = str(raised.value)
    assert "FARTHEST positive and its CLOSEST negative" in message and "Likely mistake" not in message
    assert "axis" not in message


def test_stub_reports_not_implemented():
    def stub(labels, embeddings, margin=0.2):
        raise NotImplementedError("Exercise `batch_hard_triplet_loss`: replace this line with your code.")

    with pytest.raises(ExerciseNotImplemented, match="not implemented yet"):
        checks.check_batch_hard_triplet_loss(stub)


def test_crashing_solution_is_reported_briefly():
    def crashes(labels, embeddings, margin=0.2):
        return np.asarray(embeddings)[100]

    with pytest.raises(CheckFailed, match="IndexError"):
        checks.check_batch_hard_triplet_loss(crashes)


@pytest.mark.parametrize(
    "mistake, words, other",
    [
        ("own_positive", "anchors without a positive were scored", "mean over every anchor"),
        ("all_anchors", "mean over every anchor", "anchors without a positive were scored"),
    ],
)
def test_singleton_mistakes_are_told_apart(mistake, words, other):
    """Both mistakes count single-photo identities as anchors; where their hinge is 0 the two give the
    same loss. The check must still name the one that explains every case, not the first listed."""

    def wrong(labels, embeddings, margin=0.2):
        return learner_batch_hard(labels, embeddings, margin, **{mistake: True})

    with pytest.raises(CheckFailed) as raised:
        checks.check_batch_hard_triplet_loss(wrong)
    message = str(raised.value)
    assert "single-photo identities far from everyone" in message  # the case where both agree
    assert f"({words})" in message and f"({other})" not in message


def test_returning_a_tuple_gets_a_type_hint():
    def tuple_result(labels, embeddings, margin=0.2):
        return learner_batch_hard(labels, embeddings, margin), 0

    with pytest.raises(CheckFailed, match="Wrong type: return ONE number"):
        checks.check_batch_hard_triplet_loss(tuple_result)
