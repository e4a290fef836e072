"""Checks for the cost functions of neural style transfer (notebook 04); ``train_step`` has its own module.

The cost functions run inside the compiled ``train_step``: each must return a ``tf.Tensor`` and
work inside ``tf.function`` (NumPy code fails in its own check, not later in ``check_train_step``).
``compute_layer_style_cost`` calls ``gram_matrix``, ``compute_style_cost`` calls
``compute_layer_style_cost``, and ``train_step`` calls the three costs: each declares them in
``depends_on``, so a wrong earlier exercise is named instead of the later one (and, in grading,
costs only its own point).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from utils import losses
from utils.checks.cases import Case, ErrorHint, Mistake, hidden_rng
from utils.checks.declaration import Exercise
from utils.checks.instrumentation import python_function
from utils.errors import CheckContextError

__all__ = [
    "check_compute_content_cost",
    "check_gram_matrix",
    "check_compute_layer_style_cost",
    "check_compute_style_cost",
    "check_total_cost",
]

#: The cost functions run in the compiled training step: tensors, also inside tf.function.
_COMPILED_TENSOR = {"tensor_result": True, "compiled": "tf.function"}


def activations(seed: int, shape=(1, 4, 4, 3)) -> np.ndarray:
    """Deterministic random activations for the checks' cases."""
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def _unpack(a):
    _, n_H, n_W, n_C = (int(size) for size in a.shape)
    return n_H, n_W, n_C


# ==============================================================================================
# compute_content_cost
# ==============================================================================================


def _content_reference(content_output, generated_output):
    return losses.content_cost(content_output[-1], generated_output[-1])


# What each case rules out: two layers (the last one is the content layer): wrong layer; a
# non-square layer (1, 3, 5, 7): no normalisation, missing factor 4, not squared, operator
# precedence (/ 4 * n_H * n_W * n_C multiplies instead of dividing), a mean instead of the sum.
def _content_cases(context: dict, seed: int | None) -> list[Case]:
    cases = [
        Case(
            (
                [tf.constant(activations(1, (1, 2, 2, 2))), tf.constant(activations(2))],
                [tf.constant(activations(3, (1, 2, 2, 2))), tf.constant(activations(4))],
            ),
            description="random activations of shape (1, 4, 4, 3)",
        ),
        Case(
            ([tf.constant(activations(5, (1, 3, 5, 7)))], [tf.constant(activations(6, (1, 3, 5, 7)))]),
            description="a non-square layer of shape (1, 3, 5, 7)",
        ),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "compute_content_cost")
        shape = (1, *(int(size) for size in rng.integers(2, 7, 3)))
        cases.append(
            Case(
                (
                    [tf.constant(rng.normal(size=shape).astype(np.float32))],
                    [tf.constant(rng.normal(size=shape).astype(np.float32))],
                ),
                description=f"activations of shape {shape}",
            )
        )
    return cases


def _content_mistakes(context: dict) -> list[Mistake]:

    def squares(content_output, generated_output):
        return tf.reduce_sum(tf.square(content_output[-1] - generated_output[-1]))

    def divided(by):
        def cost(content_output, generated_output):
            n_H, n_W, n_C = _unpack(generated_output[-1])
            return by(squares(content_output, generated_output), n_H, n_W, n_C)

        return cost

    def no_square(content_output, generated_output):
        n_H, n_W, n_C = _unpack(generated_output[-1])
        return tf.reduce_sum(content_output[-1] - generated_output[-1]) / (4.0 * n_H * n_W * n_C)

    return [
        Mistake("no normalisation", "divide the sum of squares by 4 * n_H * n_W * n_C.", squares),
        Mistake(
            "missing factor 4",
            "the normalisation is 1 / (4 * n_H * n_W * n_C): you left out the 4.",
            divided(lambda total, h, w, c: total / (h * w * c)),
        ),
        Mistake(
            "operator precedence",
            "`/ 4 * n_H * n_W * n_C` divides by 4 and then MULTIPLIES by n_H, n_W and "
            "n_C; put the whole denominator in parentheses: / (4 * n_H * n_W * n_C).",
            divided(lambda total, h, w, c: total / 4 * h * w * c),
        ),
        Mistake(
            "mean instead of the sum",
            "tf.reduce_mean already divides by n_H * n_W * n_C: use tf.reduce_sum "
            "with the normalisation 1 / (4 * n_H * n_W * n_C), or reduce_mean divided by 4 only.",
            divided(lambda total, h, w, c: total / (h * w * c) / (4.0 * h * w * c)),
        ),
        Mistake("not squared", "sum the SQUARED differences: tf.reduce_sum(tf.square(a_C - a_G)).", no_square),
        Mistake(
            "wrong layer",
            "use the LAST element of each list (content_output[-1]): it is the content layer.",
            lambda content_output, generated_output: _content_reference(content_output[:1], generated_output[:1]),
        ),
    ]


@Exercise.declare(
    reference=_content_reference,
    cases=_content_cases,
    mistakes=_content_mistakes,
    answer_key=("utils.losses.content_cost",),
    **_COMPILED_TENSOR,
    hint="Take the last element of each list (the content layer), sum the squared differences "
    "tf.reduce_sum(tf.square(a_C - a_G)) and divide by (4 * n_H * n_W * n_C), the sizes of a_G.",
)
def check_compute_content_cost(compute_content_cost: Callable) -> None:
    """Check ``compute_content_cost(content_output, generated_output)`` (lists of layer outputs; uses the last).

    Args:
        compute_content_cost: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """


# ==============================================================================================
# gram_matrix
# ==============================================================================================


# What each case rules out: A of shape (3, 2) and (4, 9) (not square): Aᵀ A instead of A Aᵀ (another
# shape), the element-wise product A * A, a transposed result (the Gram matrix is symmetric, so only
# the shape tells; both are the same here, which is right).
def _gram_cases(context: dict, seed: int | None) -> list[Case]:
    cases = [
        Case(
            (tf.constant(np.random.default_rng(7).normal(size=(3, 2)).astype(np.float32)),),
            description="A of shape (3, 2)",
        ),
        Case(
            (tf.constant(np.random.default_rng(8).normal(size=(4, 9)).astype(np.float32)),),
            description="A of shape (4, 9)",
        ),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "gram_matrix")
        shape = tuple(int(size) for size in rng.integers(2, 12, 2))
        cases.append(Case((tf.constant(rng.normal(size=shape).astype(np.float32)),), description=f"A of shape {shape}"))
    return cases


def _gram_mistakes(context: dict) -> list[Mistake]:
    return [
        Mistake(
            "Aᵀ A instead of A Aᵀ",
            "G = A · Aᵀ has shape (n_C, n_C): tf.matmul(A, tf.transpose(A)).",
            lambda A: tf.matmul(tf.transpose(A), A),
        ),
        Mistake("element-wise product", "use a matrix product (tf.matmul), not A * A.", lambda A: A * A),
    ]


@Exercise.declare(
    reference=losses.gram_matrix,
    cases=_gram_cases,
    mistakes=_gram_mistakes,
    answer_key=("utils.losses.gram_matrix",),
    **_COMPILED_TENSOR,
    hint="G = A · Aᵀ: the matrix product of A, of shape (n_C, n_H*n_W), with its transpose, "
    "giving (n_C, n_C): tf.matmul(A, tf.transpose(A)).",
)
def check_gram_matrix(gram_matrix: Callable) -> None:
    """Check ``gram_matrix(A)`` for A of shape (n_C, n_H*n_W).

    Args:
        gram_matrix: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """


# ==============================================================================================
# compute_layer_style_cost
# ==============================================================================================


def _style_layer_variant(a_S, a_G, wrong_unroll=False, norm=None, channels_first=False, int32_sizes=False):
    """The layer style cost with switches that reproduce classic mistakes (all off = right)."""
    n_H, n_W, n_C = _unpack(a_G)
    if int32_sizes:  # `_, n_H, n_W, n_C = tf.shape(a_G)`: the whole normaliser in int32
        shape = tf.shape(a_G)
        return _style_layer_variant(
            a_S, a_G, norm=lambda t, h, w, c: t / tf.cast(4 * shape[3] ** 2 * (shape[1] * shape[2]) ** 2, t.dtype)
        )
    if channels_first:  # `_, n_C, n_H, n_W = a_G.shape`
        n_C, n_H, n_W = n_H, n_W, n_C

    def unrolled(a):
        return tf.reshape(a, [n_C, n_H * n_W]) if wrong_unroll else tf.transpose(tf.reshape(a, [-1, n_C]))

    difference = losses.gram_matrix(unrolled(a_S)) - losses.gram_matrix(unrolled(a_G))
    total = tf.reduce_sum(tf.square(difference))
    if norm:
        return norm(total, n_H, n_W, n_C)
    return total / (4.0 * n_C**2 * (n_H * n_W) ** 2)


# What each case rules out: (1, 4, 4, 3): unrolling by a direct reshape, every normalisation slip
# with n_H = n_W; (1, 2, 5, 4) (n_H != n_W, n_C != n_H): `n_H * n_W ** 2` (only n_W squared, equal to
# "no 4" on the first case), channels-first unpacking, operator precedence (`/ 4 * n_C**2 * ...`);
# (1, 14, 14, 512), the size of VGG19's block4/block5 layers: a normaliser computed in int32
# (4 * 512**2 * 196**2 is about 4e10, past int32's 2.1e9), right on every small case.
def _layer_style_cases(context: dict, seed: int | None) -> list[Case]:
    cases = [
        Case(
            (tf.constant(activations(11)), tf.constant(activations(12))),
            description="activations of shape (1, 4, 4, 3)",
        ),
        Case(
            (tf.constant(activations(13, (1, 2, 5, 4))), tf.constant(activations(14, (1, 2, 5, 4)))),
            description="activations of shape (1, 2, 5, 4)",
        ),
        Case(
            (tf.constant(activations(15, (1, 14, 14, 512))), tf.constant(activations(16, (1, 14, 14, 512)))),
            description="activations of VGG19's block5 size, shape (1, 14, 14, 512)",
        ),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "compute_layer_style_cost")
        shape = (1, *(int(size) for size in rng.integers(2, 7, 3)))
        cases.append(
            Case(
                (
                    tf.constant(rng.normal(size=shape).astype(np.float32)),
                    tf.constant(rng.normal(size=shape).astype(np.float32)),
                ),
                description=f"activations of shape {shape}",
            )
        )
    return cases


def _layer_style_mistakes(context: dict) -> list[Mistake]:
    norm_hint = "the factor is 1 / (4 * n_C**2 * (n_H*n_W)**2)"
    return [
        Mistake(
            "unrolling",
            "unroll to (n_C, n_H*n_W) with tf.transpose(tf.reshape(a, [-1, n_C])); a direct "
            "tf.reshape(a, [n_C, n_H*n_W]) mixes positions and channels.",
            lambda a_S, a_G: _style_layer_variant(a_S, a_G, wrong_unroll=True),
        ),
        Mistake(
            "channels-first unpacking",
            "the activations are (1, n_H, n_W, n_C), channels LAST: _, n_H, n_W, n_C = a_G.get_shape().as_list().",
            lambda a_S, a_G: _style_layer_variant(a_S, a_G, channels_first=True),
        ),
        Mistake(
            "normalisation",
            f"{norm_hint}: square both n_C and n_H*n_W.",
            lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / (4.0 * c * h * w)),
        ),
        Mistake(
            "normalisation",
            f"{norm_hint}: you left out the 4.",
            lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / (c**2 * (h * w) ** 2)),
        ),
        Mistake(
            "normalisation",
            f"{norm_hint}: square n_H*n_W too.",
            lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / (4.0 * c**2 * h * w)),
        ),
        Mistake(
            "only n_W squared",
            f"{norm_hint}: `n_H * n_W ** 2` squares n_W alone (** binds before *); write (n_H * n_W) ** 2.",
            lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / (4.0 * c**2 * h * w**2)),
        ),
        Mistake(
            "operator precedence",
            f"{norm_hint}: `/ 4 * n_C**2 * ...` divides by 4 and then MULTIPLIES by "
            "the rest; put the whole denominator in parentheses.",
            lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / 4 * c**2 * (h * w) ** 2),
        ),
        Mistake(
            "normaliser overflows int32",
            f"{norm_hint}, about 4e10 on VGG's deep layers (14 x 14 x 512), "
            "past the int32 range: take the sizes as Python ints (a_G.get_shape().as_list()) or cast them to "
            "float before multiplying, not tf.shape(a_G) (int32 tensors).",
            lambda a_S, a_G: _style_layer_variant(a_S, a_G, int32_sizes=True),
        ),
    ]


@Exercise.declare(
    reference=losses.layer_style_cost,
    cases=_layer_style_cases,
    mistakes=_layer_style_mistakes,
    depends_on=("gram_matrix",),
    answer_key=("utils.losses.layer_style_cost",),
    **_COMPILED_TENSOR,
    hint="Unroll each activation to (n_C, n_H*n_W) with tf.transpose(tf.reshape(a, [-1, n_C])), take the two Gram "
    "matrices, sum the squared differences and divide by (4 * n_C**2 * (n_H*n_W)**2).",
)
def check_compute_layer_style_cost(compute_layer_style_cost: Callable) -> None:
    """Check ``compute_layer_style_cost(a_S, a_G)`` on (1, n_H, n_W, n_C) activations.

    Args:
        compute_layer_style_cost: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """


# ==============================================================================================
# compute_style_cost
# ==============================================================================================

_DEFAULT_CHECK_LAYERS = (("block1_conv1", 0.5), ("block2_conv1", 0.3), ("block3_conv1", 0.2))


def _style_reference(style_output, generated_output, STYLE_LAYERS):
    return losses.style_cost(style_output[:-1], generated_output[:-1], [w for _, w in STYLE_LAYERS])


# What the case rules out: 3 (or the given) layers of different shapes with different weights, plus
# a content layer at the end: weights ignored, wrong slice (the content layer included), `=` instead
# of `+=` (only the last layer counted), a mean of the layer costs instead of their weighted sum.
def _style_cases(context: dict, seed: int | None) -> list[Case]:
    layers = [tuple(pair) for pair in (context.get("style_layers") or _DEFAULT_CHECK_LAYERS)]
    shapes = [(1, 6, 6, 2), (1, 3, 3, 4), (1, 2, 2, 5)][: len(layers)] + [(1, 2, 2, 5)] * max(0, len(layers) - 3)
    style = [tf.constant(activations(20 + i, s)) for i, s in enumerate(shapes)] + [tf.constant(activations(30))]
    generated = [tf.constant(activations(40 + i, s)) for i, s in enumerate(shapes)] + [tf.constant(activations(50))]
    cases = [Case((style, generated, layers), description=f"{len(layers)} weighted layers")]
    if seed is not None:
        rng = hidden_rng(seed, "compute_style_cost")
        weights = rng.dirichlet(np.ones(len(layers)))
        hidden_layers = [(name, float(weight)) for (name, _), weight in zip(layers, weights)]
        hidden_style = [tf.constant(rng.normal(size=s).astype(np.float32)) for s in shapes] + [style[-1]]
        cases.append(Case((hidden_style, generated, hidden_layers), description=f"{len(layers)} layers, other weights"))
    return cases


def _style_mistakes(context: dict) -> list[Mistake]:
    def weighted(weights_of, slice_=slice(None, -1)):
        def cost(style_output, generated_output, STYLE_LAYERS):
            return losses.style_cost(style_output[slice_], generated_output[slice_], weights_of(STYLE_LAYERS))

        return cost

    def last_only(style_output, generated_output, STYLE_LAYERS):
        n = len(STYLE_LAYERS)
        return STYLE_LAYERS[-1][1] * losses.layer_style_cost(style_output[n - 1], generated_output[n - 1])

    return [
        Mistake(
            "weights ignored",
            "multiply each layer's cost by its weight λ from STYLE_LAYERS.",
            weighted(lambda layers: [1.0] * len(layers)),
        ),
        Mistake(
            "wrong slice",
            "the last output is the CONTENT layer: use style_image_output[:-1] and generated_image_output[:-1].",
            weighted(lambda layers: [w for _, w in layers], slice(1, None)),
        ),
        Mistake(
            "`=` instead of `+=`",
            "accumulate over the layers: J_style += weight * J_style_layer; with `=` only the last layer counts.",
            last_only,
        ),
        Mistake(
            "mean of the layers",
            "J_style is the weighted SUM over the layers, Σ λ_l J_style^[l], not a mean.",
            weighted(lambda layers: [w / len(layers) for _, w in layers]),
        ),
    ]


_SHAPES = re.compile(r"[\[(](\d+(?:,\s*\d+)+)[\])]")
_MISMATCH = ("incompatible shapes", "same shape", "shapes must be equal", "dimensions must be equal")


def _misaligned(record: dict) -> bool:
    """Two layers of different sizes met: the error says shapes must match and names two different
    ones (Gram matrices or activations of two layers: the lists were paired one layer apart)."""
    shapes = {shape.replace(" ", "") for shape in _SHAPES.findall(record["message"])}
    return any(words in record["message"].lower() for words in _MISMATCH) and len(shapes) >= 2


MISALIGNED = ErrorHint(
    _misaligned,
    "Likely mistake (misaligned lists): pair the i-th weight of STYLE_LAYERS with the "
    "i-th style layer of BOTH lists: zip(STYLE_LAYERS, style_image_output[:-1], "
    "generated_image_output[:-1]).",
    status="error",
)


class StyleCost(Exercise):
    """``compute_style_cost``: its course version, put in place for a later exercise, keeps the learner's
    default ``STYLE_LAYERS`` (the notebook's) when the later exercise relies on it."""

    def substitute(self, context: dict, learner_function: Callable | None) -> Callable:
        default = None
        if learner_function is not None:
            try:
                parameter = list(inspect.signature(python_function(learner_function)).parameters.values())[2]
                default = None if parameter.default is inspect.Parameter.empty else parameter.default
            except (ValueError, TypeError, IndexError):
                default = None
        default = default if default is not None else context.get("style_layers")

        def compute_style_cost(style_image_output, generated_image_output, STYLE_LAYERS=default):
            return _style_reference(style_image_output, generated_image_output, STYLE_LAYERS)

        return compute_style_cost


@StyleCost.declare(
    reference=_style_reference,
    cases=_style_cases,
    mistakes=_style_mistakes,
    depends_on=("compute_layer_style_cost",),
    answer_key=("utils.losses.style_cost",),
    error_hints=[MISALIGNED],
    **_COMPILED_TENSOR,
    hint="J_style = Σ λ_l J_style^[l]: zip STYLE_LAYERS with style_image_output[:-1] and generated_image_output[:-1] "
    "(the last output is the content layer) and add up each weight times compute_layer_style_cost of that layer.",
)
def check_compute_style_cost(compute_style_cost: Callable, style_layers: Sequence | None = None) -> None:
    """Check ``compute_style_cost(style_image_output, generated_image_output, STYLE_LAYERS)``.

    As in the course, each output list holds the style layers' activations followed by the
    content layer's (the last item is ignored), and ``STYLE_LAYERS`` is a list of
    ``(layer_name, weight)`` pairs.

    Args:
        compute_style_cost: the learner's function.
        style_layers: the ``(name, weight)`` pairs the check passes (default: three layers of its own).

    Returns:
        None; prints "All tests passed." when every case matches.

    Raises:
        CheckContextError: ``style_layers`` is not a list of (name, weight) pairs (checked first, below).
    """
    if style_layers is not None:
        try:
            pairs = [(str(name), float(weight)) for name, weight in style_layers]
        except (TypeError, ValueError):
            raise CheckContextError(
                "check_compute_style_cost: style_layers must be a list of (layer name, weight) pairs, like STYLE_LAYERS"
            ) from None
        if not pairs:
            raise CheckContextError("check_compute_style_cost: style_layers is empty")


# ==============================================================================================
# total_cost
# ==============================================================================================


# What each case rules out: the defaults with J_content != J_style: alpha and beta swapped, the
# unweighted sum, int defaults in tf.multiply (alpha=10 is a Python int); alpha=2, beta=5: hard-coded
# 10 and 40.
def _total_cases(context: dict, seed: int | None) -> list[Case]:
    cases = [
        Case((tf.constant(1.5), tf.constant(2.5)), description="J_content=1.5, J_style=2.5, default alpha and beta"),
        Case(
            (tf.constant(0.3), tf.constant(0.7)),
            {"alpha": 2.0, "beta": 5.0},
            description="J_content=0.3, J_style=0.7, alpha=2, beta=5",
        ),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "total_cost")
        values = [round(float(value), 3) for value in rng.uniform(0.1, 5.0, 4)]
        cases.append(
            Case(
                (tf.constant(values[0]), tf.constant(values[1])),
                {"alpha": values[2], "beta": values[3]},
                description=f"J_content={values[0]}, J_style={values[1]}, alpha={values[2]}, beta={values[3]}",
            )
        )
    return cases


def _total_mistakes(context: dict) -> list[Mistake]:
    return [
        Mistake(
            "alpha and beta swapped",
            "J = alpha * J_content + beta * J_style.",
            lambda J_content, J_style, alpha=10, beta=40: beta * J_content + alpha * J_style,
        ),
        Mistake(
            "hard-coded weights",
            "use the alpha and beta arguments, not the numbers 10 and 40.",
            lambda J_content, J_style, alpha=10, beta=40: 10 * J_content + 40 * J_style,
        ),
        Mistake(
            "weights left out",
            "multiply each cost by its weight: alpha * J_content + beta * J_style.",
            lambda J_content, J_style, alpha=10, beta=40: J_content + J_style,
        ),
    ]


def _int_multiply(record: dict) -> bool:
    """A multiplication met an int32 tensor: the learner's line calls tf.multiply, or TensorFlow's Mul op
    says so, and the error names int32."""
    code = (record.get("where") or ["", 0, ""])[2]
    return "int32" in record["message"] and ("multiply" in code or "'Mul' Op" in record["message"])


INT_MULTIPLY = ErrorHint(
    _int_multiply,
    "Likely mistake (int defaults in tf.multiply): a multiplication met an int32 "
    "tensor and the float32 cost. alpha=10 and beta=40 are Python ints, so tf.multiply(alpha, "
    "J_content) makes alpha an int32 tensor; write alpha * J_content + beta * J_style (Python's "
    "* converts the number).",
    status="error",
)


@Exercise.declare(
    reference=losses.total_cost,
    cases=_total_cases,
    mistakes=_total_mistakes,
    answer_key=("utils.losses.total_cost",),
    error_hints=[INT_MULTIPLY],
    **_COMPILED_TENSOR,
    hint="J = alpha * J_content + beta * J_style, with the alpha and beta arguments.",
)
def check_total_cost(total_cost: Callable) -> None:
    """Check ``total_cost(J_content, J_style, alpha=10, beta=40)``.

    As in ``train_step``, the costs are scalar tensors and the weights Python numbers.

    Args:
        total_cost: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
