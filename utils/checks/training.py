"""Checks for the triplet-training exercises (notebook 02: learning an encoder with the triplet loss)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from utils import losses
from utils.checks.cases import Case, Mistake, hidden_rng
from utils.checks.declaration import Exercise

__all__ = ["check_batch_hard_triplet_loss"]


# ==============================================================================================
# batch_hard_triplet_loss(labels, embeddings, margin)
# ==============================================================================================


def _batch_hard_variant(
    labels,
    embeddings,
    margin=0.2,
    *,
    anchor_is_positive=False,
    negative_reduce="min",
    positive_reduce="max",
    count_all_anchors=False,
    masked_fill_zero=False,
    hinge_after_mean=False,
    squared=True,
):
    """Batch-hard loss with switches that reproduce the classic mistakes (all off = correct)."""
    labels = tf.reshape(tf.convert_to_tensor(labels), [-1])
    embeddings = tf.convert_to_tensor(embeddings, tf.float32)
    squared_norms = tf.reduce_sum(tf.square(embeddings), axis=1)
    products = tf.matmul(embeddings, embeddings, transpose_b=True)
    distances = squared_norms[:, None] - 2.0 * products + squared_norms[None, :]
    distances = tf.linalg.set_diag(tf.maximum(distances, 0.0), tf.zeros_like(squared_norms))
    if not squared:
        distances = tf.sqrt(distances + 1e-12) * tf.cast(distances > 0, tf.float32)
    same = tf.equal(labels[:, None], labels[None, :])
    not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    positive_mask = same if anchor_is_positive else tf.logical_and(same, not_self)
    negative_mask = tf.logical_not(same)
    if positive_reduce == "max":
        hardest_positive = tf.reduce_max(tf.where(positive_mask, distances, 0.0), axis=1)
    else:
        hardest_positive = tf.reduce_min(tf.where(positive_mask, distances, tf.reduce_max(distances) + 1.0), axis=1)
    if negative_reduce == "min":
        fill = 0.0 if masked_fill_zero else tf.reduce_max(distances) + 1.0
        hardest_negative = tf.reduce_min(tf.where(negative_mask, distances, fill), axis=1)
    else:
        hardest_negative = tf.reduce_max(tf.where(negative_mask, distances, 0.0), axis=1)
    valid = tf.logical_and(tf.reduce_any(positive_mask, axis=1), tf.reduce_any(negative_mask, axis=1))
    valid = tf.cast(valid, tf.float32)
    basic = hardest_positive - hardest_negative + margin
    if hinge_after_mean:
        return tf.maximum(tf.reduce_sum(basic * valid) / tf.maximum(tf.reduce_sum(valid), 1.0), 0.0)
    losses = tf.maximum(basic, 0.0) * valid
    if count_all_anchors:
        denominator = tf.cast(tf.shape(labels)[0], tf.float32)
    else:
        denominator = tf.maximum(tf.reduce_sum(valid), 1.0)
    return tf.reduce_sum(losses) / denominator


# What each case rules out: 4 points on a line: easiest negative/positive instead of the hardest,
# masked entries entering the min as 0, distances not squared; the PK batch: hinge applied after the
# mean (easy anchors cancel hard ones); the two far singletons: mean over every anchor (their hinge
# is 0, only the denominator changes); identities with a single image: anchors without a positive
# scored (as if their positive distance were 0); well separated identities: a loss that is never 0 (no
# hinge); labels that are not 0..P-1 and the default margin: a one-hot of the labels, a fixed margin.
def _batch_hard_cases(context: dict, seed: int | None) -> list[Case]:
    rng = np.random.default_rng(7)
    line = np.array([[0.0], [1.0], [1.5], [3.0]], np.float32)
    pk_batch = rng.normal(size=(12, 8)).astype(np.float32)
    pk_batch /= np.linalg.norm(pk_batch, axis=1, keepdims=True)
    with_singletons = (0.6 * rng.normal(size=(9, 4))).astype(np.float32)
    separated = np.repeat(np.eye(3, dtype=np.float32), 2, axis=0)
    # Two identities with two close photos each, and two single-photo identities far from everyone:
    # the singletons' hinge is 0 whatever their positive, so counting them as anchors (either
    # mistake) only changes the denominator. The next case tells the two mistakes apart.
    far_singletons = np.array([[0.0, 0.0], [0.3, 0.0], [0.2, 0.1], [0.5, 0.1], [6.0, 0.0], [0.0, 6.0]], np.float32)
    cases = [
        Case((np.array([0, 0, 1, 1]), line), {"margin": 1.0}, "4 points on a line, labels [0, 0, 1, 1], margin 1"),
        Case(
            (np.repeat(np.arange(4), 3), pk_batch),
            {"margin": 0.2},
            "a PK batch (P=4 identities x K=3) of unit vectors, margin 0.2",
        ),
        Case(
            (np.array([0, 0, 1, 1, 2, 3]), far_singletons),
            {"margin": 0.5},
            "two single-photo identities far from everyone (their hinge is 0)",
        ),
        Case(
            (np.array([0, 0, 0, 1, 1, 2, 3, 4, 4]), with_singletons),
            {"margin": 0.5},
            "a batch where identities 2 and 3 have a single image (anchors without a positive)",
        ),
        Case(
            (np.repeat(np.arange(3), 2), separated),
            {"margin": 0.5},
            "well separated identities (every triplet easy: the loss is 0)",
        ),
        Case(
            (np.array([5, 5, 9, 9, 9, 7]), (0.3 * rng.normal(size=(6, 3))).astype(np.float32)),
            {},
            "labels that are not 0..P-1, the default margin",
        ),
    ]
    if seed is not None:
        cases += _hidden_batch_hard_cases(hidden_rng(seed, "batch_hard_triplet_loss"))
    return cases


def _hidden_batch_hard_cases(hidden: np.random.Generator) -> list[Case]:
    """A shuffled small batch, and a batch like notebook 02's demonstration: P = 16 identities x K = 4
    images of random 64-d unit vectors (an untrained encoder), labels 0..15 in a random order, margin 0.2."""
    labels = hidden.permutation(np.repeat(np.arange(4), 3))
    embeddings = hidden.normal(0, 0.5, (12, 6)).astype(np.float32)
    unit = hidden.normal(size=(64, 64))
    unit = (unit / np.linalg.norm(unit, axis=1, keepdims=True)).astype(np.float32)
    return [
        Case(
            (labels, embeddings),
            {"margin": float(hidden.uniform(0.1, 1.0))},
            "a shuffled batch of 4 identities x 3 images",
        ),
        Case(
            (np.repeat(hidden.permutation(16), 4), unit),
            {"margin": 0.2},
            "a PK batch of 16 identities x 4 random unit vectors of 64 dimensions, margin 0.2",
        ),
    ]


def _batch_hard_mistakes(context: dict) -> list[Mistake]:
    def variant(**switches):
        return lambda labels, embeddings, margin=0.2: _batch_hard_variant(labels, embeddings, margin, **switches)

    return [
        Mistake(
            "easiest negative instead of the hardest",
            "the HARDEST negative is the CLOSEST one: take the MIN of the distances over negatives "
            "(with non-negatives masked out by a large value), not the max.",
            variant(negative_reduce="max"),
        ),
        Mistake(
            "easiest positive instead of the hardest",
            "the HARDEST positive is the FARTHEST one: take the MAX of the distances over positives, not the min.",
            variant(positive_reduce="min"),
        ),
        # Two implementations give exactly these numbers: the diagonal in the positive mask, and a mean over
        # every anchor with the empty max filled with 0. The hint says what both do.
        Mistake(
            "anchors without a positive were scored",
            "anchors with no other image of their identity in the batch were scored with a positive distance "
            "of 0 and counted in the mean. The positive mask is `same label AND not the diagonal` "
            "(tf.logical_not(tf.eye(m, dtype=tf.bool))), and the mean runs over the anchors that have a "
            "positive and a negative only.",
            variant(anchor_is_positive=True),
        ),
        Mistake(
            "mean over every anchor",
            "average only over the anchors that have at least one positive (and one negative): divide "
            "by the number of such anchors, not by the batch size.",
            variant(count_all_anchors=True),
        ),
        Mistake(
            "masked entries entered the min as 0",
            "before taking the min over negatives, replace the distances of non-negatives by a LARGE "
            "value (e.g. tf.reduce_max(distances) + 1), not 0: otherwise the min picks the anchor "
            "itself or a positive, at distance 0.",
            variant(masked_fill_zero=True),
        ),
        Mistake(
            "hinge applied after the mean",
            "apply max(., 0) to EACH anchor's d(a, p) - d(a, n) + margin, then average; "
            "max(mean(...), 0) lets easy anchors cancel hard ones.",
            variant(hinge_after_mean=True),
        ),
        Mistake(
            "distances not squared",
            "use SQUARED Euclidean distances (utils.losses.pairwise_squared_distances), as in the "
            "triplet loss ||f(A) - f(P)||^2 - ||f(A) - f(N)||^2 + margin.",
            variant(squared=False),
        ),
    ]


@Exercise.declare(
    reference=losses.batch_hard_triplet_loss,
    cases=_batch_hard_cases,
    mistakes=_batch_hard_mistakes,
    answer_key=(
        "utils.losses.batch_hard_triplet_loss",
        "utils.losses.batch_all_triplet_loss",
        "utils.losses.semi_hard_triplet_loss",
    ),
    hint="For each anchor that has a positive and a negative in the batch, take its FARTHEST positive and its "
    "CLOSEST negative (squared distances), then max(d(a, p) - d(a, n) + margin, 0); the loss is the mean of "
    "these over those anchors.",
)
def check_batch_hard_triplet_loss(batch_hard_triplet_loss) -> None:
    """Check the exercise ``batch_hard_triplet_loss(labels, embeddings, margin)``.

    The reference is :func:`utils.losses.batch_hard_triplet_loss`: per anchor, the farthest
    positive and the closest negative of the batch, ``max(d(a, p) - d(a, n) + margin, 0)``,
    averaged over the anchors that have a positive and a negative.

    Args:
        batch_hard_triplet_loss: the learner's function.

    Returns:
        None; prints "All tests passed." when every case passes.

    Raises:
        CheckFailed: a wrong result (prints what was expected, what came back, and a hint).
        ExerciseNotImplemented: the function still raises ``NotImplementedError``.
    """
