"""Check for notebook 01's first exercise: the triplet loss (FaceNet's, summed over a batch of triplets)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from utils import losses
from utils.checks.cases import Case, Mistake, hidden_rng
from utils.checks.declaration import Exercise

__all__ = ["check_triplet_loss"]


# What each case rules out: the perfect triplet: forgot alpha (the loss is alpha, not 0); d(A,P)=0,
# d(A,N)=2 with margin 3: distances not squared, squared twice; the random batches: missing
# axis=-1, mean instead of sum, a hard-coded alpha (alpha=0.2 and the default); the batch of 2:
# max of the sum; the hard + easy pair: no hinge (the batch sum is negative).
def _triplet_cases(context: dict, seed: int | None) -> list[Case]:
    rng = np.random.default_rng(1)
    encodings = [rng.normal(size=(3, 4, 8)).astype(np.float32), rng.normal(size=(3, 5, 16)).astype(np.float32)]
    cases = [
        Case((None, [np.array([[1.0, 1.0]], np.float32)] * 3), {"alpha": 5.0}, "a perfect triplet with margin 5"),
        Case(
            (
                None,
                (
                    np.array([[1.0, 1.0]], np.float32),
                    np.array([[1.0, 1.0]], np.float32),
                    np.array([[0.0, 0.0]], np.float32),
                ),
            ),
            {"alpha": 3.0},
            "d(A,P)=0, d(A,N)=2, margin 3",
        ),
        Case((None, tuple(encodings[0])), {"alpha": 0.2}, "a random batch of 4 triplets, alpha=0.2"),
        Case((None, tuple(encodings[1])), {}, "a random batch of 5 triplets with the default alpha"),
        Case(
            (
                None,
                (
                    np.array([[0.0, 0.0], [0.0, 0.0]], np.float32),
                    np.array([[1.0, 0.0], [0.0, 2.0]], np.float32),
                    np.array([[0.0, 2.0], [1.0, 0.0]], np.float32),
                ),
            ),
            {"alpha": 4.0},
            "a batch of 2 where summing over the batch first changes the answer",
        ),
        Case(
            (
                None,
                (
                    np.array([[0.0, 0.0], [0.0, 0.0]], np.float32),
                    np.array([[1.0, 0.0], [0.0, 1.0]], np.float32),
                    np.array([[0.0, 0.0], [3.0, 0.0]], np.float32),
                ),
            ),
            {"alpha": 1.0},
            "a hard triplet (loss 2) and an easy one (basic loss -7): the batch sum is negative",
        ),
    ]
    if seed is not None:
        hidden = hidden_rng(seed, "triplet_loss")
        for size, dimension in ((3, 6), (7, 16)):
            triplet = hidden.normal(0, 0.3, (3, size, dimension)).astype(np.float32)
            cases.append(
                Case(
                    (None, tuple(triplet)),
                    {"alpha": float(hidden.uniform(0.1, 1.0))},
                    f"a random batch of {size} triplets",
                )
            )
    return cases


def _triplet_mistakes(context: dict) -> list[Mistake]:
    def distances(y_pred, squared=True, axis=-1):
        anchor, positive, negative = (tf.convert_to_tensor(t, tf.float32) for t in y_pred)
        square = tf.square if squared else tf.abs
        return (
            tf.reduce_sum(square(anchor - positive), axis=axis),
            tf.reduce_sum(square(anchor - negative), axis=axis),
        )

    def max_of_sum(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.maximum(tf.reduce_sum(pos - neg + alpha), 0.0)

    def no_axis(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred, axis=None)
        return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))

    def not_squared(y_true, y_pred, alpha=0.2):
        anchor, positive, negative = (tf.convert_to_tensor(t, tf.float32) for t in y_pred)
        pos = tf.norm(anchor - positive, axis=-1)
        neg = tf.norm(anchor - negative, axis=-1)
        return tf.reduce_sum(tf.maximum(pos - neg + alpha, 0.0))

    def squared_twice(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.reduce_sum(tf.maximum(tf.square(pos) - tf.square(neg) + alpha, 0.0))

    def no_alpha(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.reduce_sum(tf.maximum(pos - neg, 0.0))

    def mean_not_sum(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.reduce_mean(tf.maximum(pos - neg + alpha, 0.0))

    def no_hinge(y_true, y_pred, alpha=0.2):
        pos, neg = distances(y_pred)
        return tf.reduce_sum(pos - neg + alpha)

    return [
        Mistake(
            "max of the sum",
            "apply the hinge max(., 0) to EACH triplet's loss, then sum over the "
            "batch: tf.reduce_sum(tf.maximum(basic_loss, 0.0)), not tf.maximum(tf.reduce_sum(...), 0).",
            max_of_sum,
        ),
        Mistake(
            "missing axis=-1",
            "sum the squared differences over the encoding axis only: "
            "tf.reduce_sum(tf.square(anchor - positive), axis=-1). Without axis=-1 the whole batch "
            "collapses into one number before the hinge.",
            no_axis,
        ),
        Mistake(
            "distances not squared",
            "the triplet loss uses SQUARED distances ||f(A)-f(P)||^2: "
            "tf.reduce_sum(tf.square(...), axis=-1), not tf.norm.",
            not_squared,
        ),
        Mistake(
            "squared twice",
            "you squared the distances twice: tf.reduce_sum(tf.square(a - p), axis=-1) "
            "is already the squared distance.",
            squared_twice,
        ),
        Mistake("forgot alpha", "add the margin alpha inside the hinge: pos_dist - neg_dist + alpha.", no_alpha),
        Mistake(
            "mean instead of sum",
            "the course's loss SUMS the per-triplet losses over the batch (tf.reduce_sum), it does not average them.",
            mean_not_sum,
        ),
        Mistake(
            "no hinge",
            "clip each triplet's loss at zero with tf.maximum(basic_loss, 0.0): easy "
            "triplets must contribute 0, not a negative number.",
            no_hinge,
        ),
    ]


@Exercise.declare(
    reference=losses.triplet_loss,
    cases=_triplet_cases,
    mistakes=_triplet_mistakes,
    tensor_result=True,
    compiled="tf.function",
    answer_key=("utils.losses.triplet_loss",),
    hint="For each triplet (each row), take the squared distances ||A - P||^2 and ||A - N||^2 with "
    "tf.reduce_sum(tf.square(...), axis=-1), then max(d(A,P) - d(A,N) + alpha, 0) per triplet, then the sum "
    "over the batch.",
)
def check_triplet_loss(triplet_loss: Callable) -> None:
    """Check the course exercise ``triplet_loss(y_true, y_pred, alpha=0.2)``.

    The result must be a ``tf.Tensor`` and the function must also work inside ``tf.function``
    (Keras compiles the loss into its training step).

    Args:
        triplet_loss: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
