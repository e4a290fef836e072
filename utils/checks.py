"""Exercise checks with mistake-specific hints, shared by the notebooks and pytest.

A check runs the learner's function on a few inputs and compares each result with the project's
reference implementation (with tolerances). When a result is wrong, it also runs a small set of
*classic mistakes* — deliberately wrong implementations, each with the hint written for it — and
if the learner's result equals what one of them returns, the hint for that mistake is printed.
So a hint is given only when the evidence points to that mistake; otherwise the check reports
what was expected and what came back.

In a notebook::

    from utils import checks
    checks.check_triplet_loss(triplet_loss)     # prints "All tests passed." or raises CheckFailed

A learner function that still raises ``NotImplementedError`` (the student stub) produces the
message "Exercise `name` is not implemented yet ..." instead of a traceback from deep inside.
"""

from __future__ import annotations

import dataclasses
import traceback
from typing import Any, Callable, Sequence

import numpy as np


class CheckFailed(AssertionError):
    """The learner's function gave a wrong answer (the message says what and why)."""


class ExerciseNotImplemented(CheckFailed):
    """The learner's function still raises ``NotImplementedError``."""


@dataclasses.dataclass
class Mistake:
    """A classic wrong implementation and the hint that explains it.

    Attributes:
        name: short label, e.g. ``"missing axis=-1"``.
        hint: what to tell the learner when their result matches this mistake.
        implementation: a function with the exercise's signature that makes exactly this mistake.
    """

    name: str
    hint: str
    implementation: Callable


@dataclasses.dataclass
class Case:
    """One input to an exercise: positional and keyword arguments, and a description."""

    args: tuple = ()
    kwargs: dict = dataclasses.field(default_factory=dict)
    description: str = ""


def _to_numpy(value: Any):
    if hasattr(value, "numpy"):
        value = value.numpy()
    if isinstance(value, (tuple, list)):
        return type(value)(_to_numpy(v) for v in value)
    return value


def _close(expected: Any, actual: Any, rtol: float, atol: float) -> bool:
    expected, actual = _to_numpy(expected), _to_numpy(actual)
    if isinstance(expected, (tuple, list)):
        return (isinstance(actual, (tuple, list)) and len(actual) == len(expected)
                and all(_close(e, a, rtol, atol) for e, a in zip(expected, actual)))
    if isinstance(expected, (str, bool, np.bool_)) or expected is None:
        return type(actual) in (type(expected), np.bool_, bool) and actual == expected
    try:
        expected_array = np.asarray(expected, dtype=np.float64)
        actual_array = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if expected_array.shape != actual_array.shape:
        return False
    return bool(np.allclose(actual_array, expected_array, rtol=rtol, atol=atol))


def _describe(value: Any) -> str:
    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        if value.size <= 6:
            return f"array {np.array2string(value, precision=5)} (shape {value.shape})"
        return f"array of shape {value.shape}, dtype {value.dtype}, mean {value.mean():.5g}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6g}"
    return repr(value)


def _call(exercise: str, function: Callable, case: Case):
    try:
        return function(*case.args, **case.kwargs)
    except NotImplementedError:
        raise ExerciseNotImplemented(
            f"Exercise `{exercise}` is not implemented yet: replace the `raise NotImplementedError` "
            f"line with your code, run that cell, then run this check again.") from None
    except CheckFailed:
        raise
    except Exception as error:  # the learner's code crashed: show where, briefly
        frames = traceback.extract_tb(error.__traceback__)[-1:]
        where = f" (line {frames[0].lineno}: `{frames[0].line}`)" if frames else ""
        raise CheckFailed(f"Exercise `{exercise}` raised {type(error).__name__}: {error}{where}"
                          f"{' for ' + case.description if case.description else ''}.") from None


def check_function(exercise: str, function: Callable, reference: Callable, cases: Sequence[Case],
                   mistakes: Sequence[Mistake] = (), rtol: float = 1e-4, atol: float = 1e-5,
                   quiet: bool = False) -> bool:
    """Compare ``function`` with ``reference`` on every case; explain the first difference.

    Args:
        exercise: the exercise's name, used in messages.
        function: the learner's implementation.
        reference: the project's correct implementation (same signature).
        cases: inputs to try.
        mistakes: classic wrong implementations with their hints.
        rtol, atol: tolerances for numeric results.
        quiet: do not print "All tests passed.".

    Returns:
        True when every case matches.

    Raises:
        ExerciseNotImplemented: the function still raises ``NotImplementedError``.
        CheckFailed: a wrong result, with expected vs got and the matching hint (also printed).
    """
    if not callable(function):
        raise CheckFailed(f"`{exercise}` should be a function; got {type(function).__name__}")
    for case in cases:
        actual = _call(exercise, function, case)
        expected = reference(*case.args, **case.kwargs)
        if _close(expected, actual, rtol, atol):
            continue
        hints = []
        for mistake in mistakes:
            try:
                wrong = mistake.implementation(*case.args, **case.kwargs)
            except Exception:
                continue
            if _close(wrong, actual, rtol, atol) and not _close(wrong, expected, rtol, atol):
                hints.append(f"Likely mistake ({mistake.name}): {mistake.hint}")
        where = f" for {case.description}" if case.description else ""
        message = (f"Exercise `{exercise}`: wrong result{where}.\n  expected: {_describe(expected)}\n"
                   f"  got:      {_describe(actual)}")
        if hints:
            message += "\n  " + "\n  ".join(hints)
        else:
            message += "\n  Re-read the formula in the text above; compare shapes and which axis you reduce over."
        print(message)
        raise CheckFailed(message)
    if not quiet:
        print("All tests passed.")
    return True


# ==============================================================================================
# Face recognition exercises
# ==============================================================================================

def _tf():
    import tensorflow as tf

    return tf


def _triplet_cases():
    rng = np.random.default_rng(1)
    encodings = [rng.normal(size=(3, 4, 8)).astype(np.float32), rng.normal(size=(3, 5, 16)).astype(np.float32)]
    return [
        Case((None, [np.array([[1.0, 1.0]], np.float32)] * 3), {"alpha": 5.0},
             "a perfect triplet with margin 5"),
        Case((None, (np.array([[1.0, 1.0]], np.float32), np.array([[1.0, 1.0]], np.float32),
                     np.array([[0.0, 0.0]], np.float32))), {"alpha": 3.0}, "d(A,P)=0, d(A,N)=2, margin 3"),
        Case((None, tuple(encodings[0])), {"alpha": 0.2}, "a random batch of 4 triplets, alpha=0.2"),
        Case((None, tuple(encodings[1])), {}, "a random batch of 5 triplets with the default alpha"),
        Case((None, (np.array([[0.0, 0.0], [0.0, 0.0]], np.float32), np.array([[1.0, 0.0], [0.0, 2.0]], np.float32),
                     np.array([[0.0, 2.0], [1.0, 0.0]], np.float32))), {"alpha": 4.0},
             "a batch of 2 where summing over the batch first changes the answer"),
    ]


def _triplet_mistakes() -> list[Mistake]:
    tf = _tf()

    def distances(y_pred, squared=True, axis=-1):
        anchor, positive, negative = (tf.convert_to_tensor(t, tf.float32) for t in y_pred)
        square = tf.square if squared else tf.abs
        return (tf.reduce_sum(square(anchor - positive), axis=axis),
                tf.reduce_sum(square(anchor - negative), axis=axis))

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
        Mistake("max of the sum", "apply the hinge max(., 0) to EACH triplet's loss, then sum over the "
                "batch: tf.reduce_sum(tf.maximum(basic_loss, 0.0)), not tf.maximum(tf.reduce_sum(...), 0).",
                max_of_sum),
        Mistake("missing axis=-1", "sum the squared differences over the encoding axis only: "
                "tf.reduce_sum(tf.square(anchor - positive), axis=-1). Without axis=-1 the whole batch "
                "collapses into one number before the hinge.", no_axis),
        Mistake("distances not squared", "the triplet loss uses SQUARED distances ||f(A)-f(P)||^2: "
                "tf.reduce_sum(tf.square(...), axis=-1), not tf.norm.", not_squared),
        Mistake("squared twice", "you squared the distances twice: tf.reduce_sum(tf.square(a - p), axis=-1) "
                "is already the squared distance.", squared_twice),
        Mistake("forgot alpha", "add the margin alpha inside the hinge: pos_dist - neg_dist + alpha.", no_alpha),
        Mistake("mean instead of sum", "the course's loss SUMS the per-triplet losses over the batch "
                "(tf.reduce_sum), it does not average them.", mean_not_sum),
        Mistake("no hinge", "clip each triplet's loss at zero with tf.maximum(basic_loss, 0.0): easy "
                "triplets must contribute 0, not a negative number.", no_hinge),
    ]


def check_triplet_loss(triplet_loss: Callable) -> bool:
    """Check the course exercise ``triplet_loss(y_true, y_pred, alpha=0.2)``."""
    from utils import losses

    return check_function("triplet_loss", triplet_loss, losses.triplet_loss, _triplet_cases(), _triplet_mistakes())


# ==============================================================================================
# Neural style transfer exercises
# ==============================================================================================

def _activations(seed: int, shape=(1, 4, 4, 3)) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _content_reference(content_output, generated_output):
    from utils import losses

    return losses.content_cost(content_output[-1], generated_output[-1])


def check_compute_content_cost(compute_content_cost: Callable) -> bool:
    """Check ``compute_content_cost(content_output, generated_output)`` (lists of layer outputs; uses the last)."""
    tf = _tf()

    def no_normalisation(content_output, generated_output):
        return tf.reduce_sum(tf.square(content_output[-1] - generated_output[-1]))

    def no_four(content_output, generated_output):
        a_G = generated_output[-1]
        _, n_H, n_W, n_C = a_G.shape
        return tf.reduce_sum(tf.square(content_output[-1] - a_G)) / float(n_H * n_W * n_C)

    def no_square(content_output, generated_output):
        a_G = generated_output[-1]
        _, n_H, n_W, n_C = a_G.shape
        return tf.reduce_sum(content_output[-1] - a_G) / (4.0 * n_H * n_W * n_C)

    def first_layer(content_output, generated_output):
        return _content_reference(content_output[:1], generated_output[:1])

    cases = [Case(([tf.constant(_activations(1, (1, 2, 2, 2))), tf.constant(_activations(2))],
                   [tf.constant(_activations(3, (1, 2, 2, 2))), tf.constant(_activations(4))]),
                  description="random activations of shape (1, 4, 4, 3)"),
             Case(([tf.constant(_activations(5, (1, 3, 5, 7)))], [tf.constant(_activations(6, (1, 3, 5, 7)))]),
                  description="a non-square layer of shape (1, 3, 5, 7)")]
    mistakes = [
        Mistake("no normalisation", "divide the sum of squares by 4 * n_H * n_W * n_C.", no_normalisation),
        Mistake("missing factor 4", "the normalisation is 1 / (4 * n_H * n_W * n_C): you left out the 4.", no_four),
        Mistake("not squared", "sum the SQUARED differences: tf.reduce_sum(tf.square(a_C - a_G)).", no_square),
        Mistake("wrong layer", "use the LAST element of each list (content_output[-1]): it is the content layer.",
                first_layer),
    ]
    return check_function("compute_content_cost", compute_content_cost, _content_reference, cases, mistakes)


def check_gram_matrix(gram_matrix: Callable) -> bool:
    """Check ``gram_matrix(A)`` for A of shape (n_C, n_H*n_W)."""
    tf = _tf()
    from utils import losses

    cases = [Case((tf.constant(np.random.default_rng(7).normal(size=(3, 2)).astype(np.float32)),),
                  description="A of shape (3, 2)"),
             Case((tf.constant(np.random.default_rng(8).normal(size=(4, 9)).astype(np.float32)),),
                  description="A of shape (4, 9)")]
    mistakes = [
        Mistake("Aᵀ A instead of A Aᵀ", "G = A · Aᵀ has shape (n_C, n_C): tf.matmul(A, tf.transpose(A)).",
                lambda A: tf.matmul(tf.transpose(A), A)),
        Mistake("element-wise product", "use a matrix product (tf.matmul), not A * A.", lambda A: A * A),
    ]
    return check_function("gram_matrix", gram_matrix, losses.gram_matrix, cases, mistakes)


def check_compute_layer_style_cost(compute_layer_style_cost: Callable) -> bool:
    """Check ``compute_layer_style_cost(a_S, a_G)`` on (1, n_H, n_W, n_C) activations."""
    tf = _tf()
    from utils import losses

    def unrolled(a, wrong=False):
        _, n_H, n_W, n_C = a.shape
        return tf.reshape(a, [n_C, n_H * n_W]) if wrong else tf.transpose(tf.reshape(a, [-1, n_C]))

    def cost(a_S, a_G, wrong_unroll=False, norm=None):
        _, n_H, n_W, n_C = a_G.shape
        GS = losses.gram_matrix(unrolled(a_S, wrong_unroll))
        GG = losses.gram_matrix(unrolled(a_G, wrong_unroll))
        denominator = norm(n_H, n_W, n_C) if norm else 4.0 * n_C ** 2 * (n_H * n_W) ** 2
        return tf.reduce_sum(tf.square(GS - GG)) / denominator

    cases = [Case((tf.constant(_activations(11)), tf.constant(_activations(12))), description="(1, 4, 4, 3)"),
             Case((tf.constant(_activations(13, (1, 2, 5, 4))), tf.constant(_activations(14, (1, 2, 5, 4)))),
                  description="(1, 2, 5, 4)")]
    mistakes = [
        Mistake("unrolling", "unroll to (n_C, n_H*n_W) with tf.transpose(tf.reshape(a, [-1, n_C])); a direct "
                "tf.reshape(a, [n_C, n_H*n_W]) mixes positions and channels.",
                lambda a_S, a_G: cost(a_S, a_G, wrong_unroll=True)),
        Mistake("normalisation", "the factor is 1 / (4 * n_C**2 * (n_H*n_W)**2): square both n_C and n_H*n_W.",
                lambda a_S, a_G: cost(a_S, a_G, norm=lambda h, w, c: 4.0 * c * h * w)),
        Mistake("normalisation", "the factor is 1 / (4 * n_C**2 * (n_H*n_W)**2): you left out the 4.",
                lambda a_S, a_G: cost(a_S, a_G, norm=lambda h, w, c: c ** 2 * (h * w) ** 2)),
        Mistake("normalisation", "the factor is 1 / (4 * n_C**2 * (n_H*n_W)**2): square n_H*n_W too.",
                lambda a_S, a_G: cost(a_S, a_G, norm=lambda h, w, c: 4.0 * c ** 2 * h * w)),
    ]
    return check_function("compute_layer_style_cost", compute_layer_style_cost, losses.layer_style_cost,
                          cases, mistakes)


def check_compute_style_cost(compute_style_cost: Callable, style_layers: Sequence | None = None) -> bool:
    """Check ``compute_style_cost(style_image_output, generated_image_output, STYLE_LAYERS)``.

    As in the course, each output list holds the style layers' activations followed by the
    content layer's (the last item is ignored), and ``STYLE_LAYERS`` is a list of
    ``(layer_name, weight)`` pairs.
    """
    tf = _tf()
    from utils import losses

    layers = list(style_layers or [("block1_conv1", 0.5), ("block2_conv1", 0.3), ("block3_conv1", 0.2)])
    shapes = [(1, 6, 6, 2), (1, 3, 3, 4), (1, 2, 2, 5)][:len(layers)] + [(1, 2, 2, 5)] * max(0, len(layers) - 3)
    style = [tf.constant(_activations(20 + i, s)) for i, s in enumerate(shapes)] + [tf.constant(_activations(30))]
    generated = [tf.constant(_activations(40 + i, s)) for i, s in enumerate(shapes)] + [tf.constant(_activations(50))]

    def reference(style_output, generated_output, STYLE_LAYERS):
        return losses.style_cost(style_output[:-1], generated_output[:-1], [w for _, w in STYLE_LAYERS])

    def unweighted(style_output, generated_output, STYLE_LAYERS):
        return losses.style_cost(style_output[:-1], generated_output[:-1], [1.0] * len(STYLE_LAYERS))

    def with_content_layer(style_output, generated_output, STYLE_LAYERS):
        weights = [w for _, w in STYLE_LAYERS]
        return losses.style_cost(style_output[1:], generated_output[1:], weights)

    cases = [Case((style, generated, layers), description=f"{len(layers)} weighted layers")]
    mistakes = [
        Mistake("weights ignored", "multiply each layer's cost by its weight λ from STYLE_LAYERS.", unweighted),
        Mistake("wrong slice", "the last output is the CONTENT layer: use style_image_output[:-1] and "
                "generated_image_output[:-1].", with_content_layer),
    ]
    return check_function("compute_style_cost", compute_style_cost, reference, cases, mistakes)


def check_total_cost(total_cost: Callable) -> bool:
    """Check ``total_cost(J_content, J_style, alpha=10, beta=40)``."""
    from utils import losses

    cases = [Case((1.5, 2.5), description="default alpha and beta"),
             Case((0.3, 0.7), {"alpha": 2.0, "beta": 5.0}, description="alpha=2, beta=5")]
    mistakes = [
        Mistake("alpha and beta swapped", "J = alpha * J_content + beta * J_style.",
                lambda J_content, J_style, alpha=10, beta=40: beta * J_content + alpha * J_style),
        Mistake("hard-coded weights", "use the alpha and beta arguments, not the numbers 10 and 40.",
                lambda J_content, J_style, alpha=10, beta=40: 10 * J_content + 40 * J_style),
    ]
    return check_function("total_cost", total_cost, losses.total_cost, cases, mistakes)
