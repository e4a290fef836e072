"""Checks for notebook 03: verification as binary classification (a Siamese head on frozen encodings).

``chi_square_features`` is also run on the symbolic ``keras.Input`` tensors of a Keras model, as
the notebook's model-building cell calls it; ``build_siamese_head`` is a check with behaviour of its
own (:class:`SiameseHead`): it builds the learner's model, gives it known weights and runs it.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np

from utils.checks.cases import Case, Mistake, hidden_rng
from utils.checks.declaration import Exercise
from utils.errors import ExerciseUnusable

__all__ = ["check_chi_square_features", "check_build_siamese_head"]


def _chi_square_reference(encodings_a, encodings_b, epsilon=1e-6):
    a = np.asarray(encodings_a, np.float64)
    b = np.asarray(encodings_b, np.float64)
    return (a - b) ** 2 / (np.abs(a) + np.abs(b) + epsilon)


# What each case rules out: opposite signs with epsilon=0.1: signed denominator, abs of the sum,
# a constant epsilon of one's own (1e-6, keras.config.epsilon() ...); dlib-scale encodings: numerator
# not squared; the default epsilon on unit-scale values: summed over the features (the shape); zeros
# in the same place of both encodings: forgot epsilon (0/0 is nan), and only that.
def _feature_cases(context: dict, seed: int | None) -> list[Case]:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0, 0.1, (2, 4, 8)).astype(np.float32)
    c, d = rng.normal(0, 1.0, (2, 3, 5)).astype(np.float32)
    signs_a = np.array([[0.5, -0.25, 0.1, -0.4]], np.float32)
    signs_b = np.array([[-0.3, 0.25, 0.3, -0.1]], np.float32)
    cases = [
        Case((signs_a, signs_b), {"epsilon": 0.1}, "one pair of opposite-sign values, epsilon=0.1"),
        Case((a, b), {"epsilon": 0.01}, "4 pairs of 8-d encodings of dlib's scale, epsilon=0.01"),
        Case((c, d), {}, "3 pairs of 5-d encodings with the default epsilon"),
        Case(
            (
                np.array([[0.0, 0.4, 0.0], [0.0, -0.2, 0.3]], np.float32),
                np.array([[0.0, -0.1, 0.2], [0.0, 0.5, 0.0]], np.float32),
            ),
            {},
            "2 pairs with a 0 in the same place of both encodings, the default epsilon",
        ),
    ]
    if seed is not None:
        hidden = hidden_rng(seed, "chi_square_features")
        e, f = hidden.normal(0, 0.2, (2, 6, 12)).astype(np.float32)
        cases.append(Case((e, f), {"epsilon": float(hidden.uniform(0.001, 0.1))}, "6 pairs of 12-d encodings"))
    return cases


def _chi_square_mistakes(context: dict) -> list[Mistake]:
    def signed_denominator(encodings_a, encodings_b, epsilon=1e-6):
        a, b = np.asarray(encodings_a, np.float64), np.asarray(encodings_b, np.float64)
        return (a - b) ** 2 / (a + b + epsilon)

    def no_epsilon(encodings_a, encodings_b, epsilon=1e-6):
        a, b = np.asarray(encodings_a, np.float64), np.asarray(encodings_b, np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 is the point of this mistake
            return (a - b) ** 2 / (np.abs(a) + np.abs(b))

    def not_squared(encodings_a, encodings_b, epsilon=1e-6):
        a, b = np.asarray(encodings_a, np.float64), np.asarray(encodings_b, np.float64)
        return np.abs(a - b) / (np.abs(a) + np.abs(b) + epsilon)

    def abs_of_sum(encodings_a, encodings_b, epsilon=1e-6):
        a, b = np.asarray(encodings_a, np.float64), np.asarray(encodings_b, np.float64)
        return (a - b) ** 2 / (np.abs(a + b) + epsilon)

    def summed(encodings_a, encodings_b, epsilon=1e-6):
        return np.sum(_chi_square_reference(encodings_a, encodings_b, epsilon), axis=-1)

    def fixed_epsilon(encodings_a, encodings_b, epsilon=1e-6):
        return _chi_square_reference(encodings_a, encodings_b, 1e-6)

    return [
        Mistake(
            "signed denominator",
            "the encodings are signed, so f_i + f_j can be zero or negative: "
            "divide by |f_i| + |f_j| + epsilon (keras.ops.abs on each).",
            signed_denominator,
        ),
        Mistake(
            "abs of the sum",
            "take the absolute value of EACH encoding: |f_i| + |f_j|, not |f_i + f_j| "
            "(which is 0 when they have opposite signs).",
            abs_of_sum,
        ),
        Mistake(
            "forgot epsilon",
            "add epsilon to the denominator, so that two zeros give 0 instead of 0/0 (nan).",
            no_epsilon,
        ),
        Mistake("numerator not squared", "the numerator is the SQUARED difference (f_i - f_j)^2.", not_squared),
        Mistake(
            "summed over the features",
            "return one feature per dimension, shape (n, d): do not sum "
            "over axis -1; the Dense layer of the head does the weighted sum.",
            summed,
        ),
        Mistake(
            "epsilon not the argument",
            "use the function's epsilon argument (the check passes epsilon=0.1 "
            "and 0.01), not a constant of your own such as 1e-6 or keras.config.epsilon().",
            fixed_epsilon,
        ),
    ]


@Exercise.declare(
    reference=_chi_square_reference,
    cases=_feature_cases,
    mistakes=_chi_square_mistakes,
    rtol=1e-4,
    atol=1e-6,
    compiled="keras",
    hint="Compute element by element (a - b)^2 / (|a| + |b| + epsilon) with keras.ops (keras.ops.square, "
    "keras.ops.abs), keeping one feature per dimension: the result has the shape (n, d) of the inputs.",
)
def check_chi_square_features(chi_square_features: Callable) -> None:
    """Check ``chi_square_features(encodings_a, encodings_b, epsilon=1e-6)`` -> (n, d).

    The features are ``(a - b)^2 / (|a| + |b| + epsilon)``, element by element (the absolute
    values make the denominator positive for signed encodings). The notebook then calls the
    function on the symbolic ``keras.Input`` tensors of a Keras model, so the check does too:
    NumPy or tf.* code that works on arrays but not on Keras tensors fails here, with its own hint.

    Args:
        chi_square_features: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """


def _head_output(build_siamese_head: Callable, encodings_a, encodings_b):
    """Build the learner's head for d = encodings_a.shape[1], give it known weights, run it.

    Raises :class:`~utils.errors.ExerciseUnusable` when the learner's object is not a model with one Dense(1) layer or
    cannot be called on two inputs (the judge turns it into a message).
    """
    dimension = encodings_a.shape[1]
    head = build_siamese_head(dimension)
    weights = getattr(head, "weights", None)
    if weights is None or not callable(head):
        raise ExerciseUnusable(
            "not a model", f"build_siamese_head({dimension}) should return a Keras model; got {type(head).__name__}."
        )
    shapes = sorted(tuple(int(size) for size in weight.shape) for weight in weights)
    if shapes != sorted([(dimension, 1), (1,)]):
        raise ExerciseUnusable(
            "weights",
            f"build_siamese_head({dimension}): expected exactly one Dense(1) layer, i.e. "
            f"weights of shapes ({dimension}, 1) and (1,); your model has {shapes or 'no weights'}.",
        )
    for weight in weights:
        if len(weight.shape) == 2:
            weight.assign(_head_kernel(dimension))
        else:
            weight.assign(np.array([_HEAD_BIAS], np.float32))
    try:
        output = head([encodings_a, encodings_b], training=False)
    except Exception as error:
        raise ExerciseUnusable(
            "call",
            f"build_siamese_head({dimension}): calling the model on [encodings_a, encodings_b] "
            f"(two inputs of shape (n, {dimension})) raised {type(error).__name__}: "
            f"{str(error)[:200]}",
        ) from None
    return np.asarray(output, np.float64).reshape(len(encodings_a), -1)


_HEAD_BIAS = 0.3


def _head_kernel(dimension: int) -> np.ndarray:
    return np.linspace(-2.0, 3.0, dimension, dtype=np.float32).reshape(dimension, 1)


def _head_formula(features: np.ndarray, sigmoid: bool = True) -> np.ndarray:
    logits = features @ _head_kernel(features.shape[1]).astype(np.float64) + _HEAD_BIAS
    return 1.0 / (1.0 + np.exp(-logits)) if sigmoid else logits


#: The name of the head's Dense layer: the notebook reads its weights with ``get_layer(HEAD_LAYER)``.
HEAD_LAYER = "same_person"


def _dense_layer_name(build_siamese_head: Callable) -> dict:
    """Kernel side: is the head's Dense(1) layer named ``HEAD_LAYER``? (a later cell looks it up by name)."""
    try:
        head = build_siamese_head(4)
        layers = list(getattr(head, "layers", []))
    except Exception:
        return {"dense_layer": "unbuildable"}
    layer = next((layer for layer in layers if layer.name == HEAD_LAYER), None)
    if isinstance(layer, keras.layers.Dense):
        return {"dense_layer": "ok"}
    found = f"a {type(layer).__name__} layer" if layer is not None else f"layers named {[each.name for each in layers]}"
    return {"dense_layer": found[:300]}


def _dense_named(extras: dict) -> str | None:
    found = extras.get("dense_layer", "ok")
    if found in ("ok", "unbuildable"):
        return None
    return (
        f'the output values are right, but the Dense layer is not named "{HEAD_LAYER}" (your model has '
        f'{found}).\n  Likely mistake (unnamed layer): create it as keras.layers.Dense(1, activation="sigmoid", '
        f'name="{HEAD_LAYER}"): a later cell reads its weights with get_layer("{HEAD_LAYER}").'
    )


def _head_reference(encodings_a, encodings_b):
    return _head_formula(np.abs(encodings_a.astype(np.float64) - encodings_b))


# What each case rules out: 3 pairs of 4-d encodings with the check's kernel (signs mixed): no
# sigmoid, signed difference, squared difference, one encoding only; 5 pairs of 16-d small encodings:
# a hard-coded dimension (128) and a head that ignores the `dimension` argument.
def _head_cases(context: dict, seed: int | None) -> list[Case]:
    rng = np.random.default_rng(5)
    cases = [
        Case(tuple(rng.normal(0, 0.3, (2, 3, 4)).astype(np.float32)), description="3 pairs of 4-d encodings"),
        Case(tuple(rng.normal(0, 0.1, (2, 5, 16)).astype(np.float32)), description="5 pairs of 16-d encodings"),
    ]
    if seed is not None:
        hidden = hidden_rng(seed, "build_siamese_head")
        dimension = int(hidden.integers(5, 40))
        cases.append(
            Case(
                tuple(hidden.normal(0, 0.2, (2, 4, dimension)).astype(np.float32)),
                description=f"4 pairs of {dimension}-d encodings",
            )
        )
    return cases


def _head_mistakes(context: dict) -> list[Mistake]:
    return [
        Mistake(
            "no sigmoid",
            'the head outputs a probability: Dense(1, activation="sigmoid").',
            lambda a, b: _head_formula(np.abs(a.astype(np.float64) - b), sigmoid=False),
        ),
        Mistake(
            "signed difference",
            "feed the ABSOLUTE difference |f_i - f_j| (keras.ops.abs): with the "
            "signed difference, swapping the two images changes the answer.",
            lambda a, b: _head_formula(a.astype(np.float64) - b),
        ),
        Mistake(
            "squared difference",
            "this head uses |f_i - f_j|, not its square (the chi-square variant comes later).",
            lambda a, b: _head_formula((a.astype(np.float64) - b) ** 2),
        ),
        Mistake(
            "one encoding only",
            "the head must combine BOTH encodings: |f_i - f_j|.",
            lambda a, b: _head_formula(a.astype(np.float64)),
        ),
    ]


class SiameseHead(Exercise):
    """``build_siamese_head(dimension)``: the check builds the learner's model and runs it (see :func:`_head_output`)."""

    def call(self, function: Callable, context: dict) -> Callable:
        return lambda encodings_a, encodings_b: _head_output(function, encodings_a, encodings_b)

    def extras(self, function: Callable, context: dict) -> dict:
        return _dense_layer_name(function)

    def finish(self, extras: dict) -> str | None:
        return _dense_named(extras)


@SiameseHead.declare(
    reference=_head_reference,
    cases=_head_cases,
    mistakes=_head_mistakes,
    rtol=1e-4,
    atol=1e-5,
    hint="The model takes [f_i, f_j] (two keras.Input of shape (dimension,)), computes |f_i - f_j| with "
    'keras.ops.abs, and ends in ONE Dense(1, activation="sigmoid") layer: output = sigma(w . |f_i - f_j| + b).',
)
def check_build_siamese_head(build_siamese_head: Callable) -> None:
    """Check ``build_siamese_head(dimension)``: a Keras model [f_i, f_j] -> sigma(w . |f_i - f_j| + b).

    The check builds the learner's model for small dimensions, sets its Dense kernel and bias to
    known values and compares its output with the formula. The Dense layer must be named
    ``"same_person"`` (the notebook's instructions say so; a later cell calls
    ``get_layer("same_person")``).

    Args:
        build_siamese_head: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
