"""Checks for the neural-style-transfer exercises (notebook 04).

The cost functions run inside the compiled ``train_step``: each must return a ``tf.Tensor`` and
work inside ``tf.function`` (NumPy code fails in its own check, not later in ``check_train_step``).
``compute_layer_style_cost`` calls ``gram_matrix``, ``compute_style_cost`` calls
``compute_layer_style_cost``, and ``train_step`` calls the three costs: each declares them in
``depends_on``, so a wrong earlier exercise is named instead of the later one (and, in grading,
costs only its own point).
"""

from __future__ import annotations

import inspect
from typing import Callable, Sequence

import numpy as np

from utils import assets, losses
from utils.nst import build_extractor, get_preset
from utils.checks._core import (ContextProblem, ExerciseCheck, Observation, Verdict, _outcome, _python_function,
                                _silenced, hidden_rng, register, run_check)
from utils.checks._framework import Case, Mistake, _activations, _tf, crash_text, stub_text
from utils.checks._serialize import decode_value, encode_value

__all__ = ["check_compute_content_cost", "check_gram_matrix", "check_compute_layer_style_cost",
           "check_compute_style_cost", "check_total_cost", "check_train_step"]

_COMPILED_TENSOR = {"tensor_result": True, "compiled": "tf.function"}


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
def _content_cases(context=None, seed=None) -> list[Case]:
    tf = _tf()
    cases = [Case(([tf.constant(_activations(1, (1, 2, 2, 2))), tf.constant(_activations(2))],
                   [tf.constant(_activations(3, (1, 2, 2, 2))), tf.constant(_activations(4))]),
                  description="random activations of shape (1, 4, 4, 3)"),
             Case(([tf.constant(_activations(5, (1, 3, 5, 7)))], [tf.constant(_activations(6, (1, 3, 5, 7)))]),
                  description="a non-square layer of shape (1, 3, 5, 7)")]
    if seed is not None:
        rng = hidden_rng(seed, "compute_content_cost")
        shape = (1, *(int(size) for size in rng.integers(2, 7, 3)))
        cases.append(Case(([tf.constant(rng.normal(size=shape).astype(np.float32))],
                           [tf.constant(rng.normal(size=shape).astype(np.float32))]),
                          description=f"activations of shape {shape}"))
    return cases


def _content_mistakes(context=None) -> list[Mistake]:
    tf = _tf()

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
        Mistake("missing factor 4", "the normalisation is 1 / (4 * n_H * n_W * n_C): you left out the 4.",
                divided(lambda total, h, w, c: total / (h * w * c))),
        Mistake("operator precedence", "`/ 4 * n_H * n_W * n_C` divides by 4 and then MULTIPLIES by n_H, n_W and "
                "n_C; put the whole denominator in parentheses: / (4 * n_H * n_W * n_C).",
                divided(lambda total, h, w, c: total / 4 * h * w * c)),
        Mistake("mean instead of the sum", "tf.reduce_mean already divides by n_H * n_W * n_C: use tf.reduce_sum "
                "with the normalisation 1 / (4 * n_H * n_W * n_C), or reduce_mean divided by 4 only.",
                divided(lambda total, h, w, c: total / (h * w * c) / (4.0 * h * w * c))),
        Mistake("not squared", "sum the SQUARED differences: tf.reduce_sum(tf.square(a_C - a_G)).", no_square),
        Mistake("wrong layer", "use the LAST element of each list (content_output[-1]): it is the content layer.",
                lambda content_output, generated_output: _content_reference(content_output[:1], generated_output[:1])),
    ]


register(ExerciseCheck(
    "compute_content_cost", _content_reference, _content_cases, mistakes=_content_mistakes,
    arg_names=("content_output", "generated_output"), answer_key=("utils.losses.content_cost",),
    generic_hint="Take the last element of each list (the content layer), sum the squared differences "
                 "tf.reduce_sum(tf.square(a_C - a_G)) and divide by (4 * n_H * n_W * n_C), the sizes of a_G.",
    **_COMPILED_TENSOR))


def check_compute_content_cost(compute_content_cost: Callable) -> None:
    """Check ``compute_content_cost(content_output, generated_output)`` (lists of layer outputs; uses the last).

    Args:
        compute_content_cost: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    run_check("compute_content_cost", compute_content_cost)


# ==============================================================================================
# gram_matrix
# ==============================================================================================

# What each case rules out: A of shape (3, 2) and (4, 9) (not square): Aᵀ A instead of A Aᵀ (another
# shape), the element-wise product A * A, a transposed result (the Gram matrix is symmetric, so only
# the shape tells; both are the same here, which is right).
def _gram_cases(context=None, seed=None) -> list[Case]:
    tf = _tf()
    cases = [Case((tf.constant(np.random.default_rng(7).normal(size=(3, 2)).astype(np.float32)),),
                  description="A of shape (3, 2)"),
             Case((tf.constant(np.random.default_rng(8).normal(size=(4, 9)).astype(np.float32)),),
                  description="A of shape (4, 9)")]
    if seed is not None:
        rng = hidden_rng(seed, "gram_matrix")
        shape = tuple(int(size) for size in rng.integers(2, 12, 2))
        cases.append(Case((tf.constant(rng.normal(size=shape).astype(np.float32)),), description=f"A of shape {shape}"))
    return cases


def _gram_mistakes(context=None) -> list[Mistake]:
    tf = _tf()
    return [
        Mistake("Aᵀ A instead of A Aᵀ", "G = A · Aᵀ has shape (n_C, n_C): tf.matmul(A, tf.transpose(A)).",
                lambda A: tf.matmul(tf.transpose(A), A)),
        Mistake("element-wise product", "use a matrix product (tf.matmul), not A * A.", lambda A: A * A),
    ]


register(ExerciseCheck(
    "gram_matrix", losses.gram_matrix, _gram_cases, mistakes=_gram_mistakes, arg_names=("A",),
    answer_key=("utils.losses.gram_matrix",),
    generic_hint="G = A · Aᵀ: the matrix product of A, of shape (n_C, n_H*n_W), with its transpose, giving "
                 "(n_C, n_C): tf.matmul(A, tf.transpose(A)).", **_COMPILED_TENSOR))


def check_gram_matrix(gram_matrix: Callable) -> None:
    """Check ``gram_matrix(A)`` for A of shape (n_C, n_H*n_W).

    Args:
        gram_matrix: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    run_check("gram_matrix", gram_matrix)


# ==============================================================================================
# compute_layer_style_cost
# ==============================================================================================

def _style_layer_variant(a_S, a_G, wrong_unroll=False, norm=None, channels_first=False):
    """The layer style cost with switches that reproduce classic mistakes (all off = right)."""
    tf = _tf()
    n_H, n_W, n_C = _unpack(a_G)
    if channels_first:   # `_, n_C, n_H, n_W = a_G.shape`
        n_C, n_H, n_W = n_H, n_W, n_C

    def unrolled(a):
        return tf.reshape(a, [n_C, n_H * n_W]) if wrong_unroll else tf.transpose(tf.reshape(a, [-1, n_C]))

    difference = losses.gram_matrix(unrolled(a_S)) - losses.gram_matrix(unrolled(a_G))
    total = tf.reduce_sum(tf.square(difference))
    if norm:
        return norm(total, n_H, n_W, n_C)
    return total / (4.0 * n_C ** 2 * (n_H * n_W) ** 2)


# What each case rules out: (1, 4, 4, 3): unrolling by a direct reshape, every normalisation slip
# with n_H = n_W; (1, 2, 5, 4) (n_H != n_W, n_C != n_H): `n_H * n_W ** 2` (only n_W squared, equal to
# "no 4" on the first case), channels-first unpacking, operator precedence (`/ 4 * n_C**2 * ...`).
def _layer_style_cases(context=None, seed=None) -> list[Case]:
    tf = _tf()
    cases = [Case((tf.constant(_activations(11)), tf.constant(_activations(12))),
                  description="activations of shape (1, 4, 4, 3)"),
             Case((tf.constant(_activations(13, (1, 2, 5, 4))), tf.constant(_activations(14, (1, 2, 5, 4)))),
                  description="activations of shape (1, 2, 5, 4)")]
    if seed is not None:
        rng = hidden_rng(seed, "compute_layer_style_cost")
        shape = (1, *(int(size) for size in rng.integers(2, 7, 3)))
        cases.append(Case((tf.constant(rng.normal(size=shape).astype(np.float32)),
                           tf.constant(rng.normal(size=shape).astype(np.float32))),
                          description=f"activations of shape {shape}"))
    return cases


def _layer_style_mistakes(context=None) -> list[Mistake]:
    norm_hint = "the factor is 1 / (4 * n_C**2 * (n_H*n_W)**2)"
    return [
        Mistake("unrolling", "unroll to (n_C, n_H*n_W) with tf.transpose(tf.reshape(a, [-1, n_C])); a direct "
                "tf.reshape(a, [n_C, n_H*n_W]) mixes positions and channels.",
                lambda a_S, a_G: _style_layer_variant(a_S, a_G, wrong_unroll=True)),
        Mistake("channels-first unpacking", "the activations are (1, n_H, n_W, n_C), channels LAST: "
                "_, n_H, n_W, n_C = a_G.get_shape().as_list().",
                lambda a_S, a_G: _style_layer_variant(a_S, a_G, channels_first=True)),
        Mistake("normalisation", f"{norm_hint}: square both n_C and n_H*n_W.",
                lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / (4.0 * c * h * w))),
        Mistake("normalisation", f"{norm_hint}: you left out the 4.",
                lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / (c ** 2 * (h * w) ** 2))),
        Mistake("normalisation", f"{norm_hint}: square n_H*n_W too.",
                lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / (4.0 * c ** 2 * h * w))),
        Mistake("only n_W squared", f"{norm_hint}: `n_H * n_W ** 2` squares n_W alone (** binds before *); "
                "write (n_H * n_W) ** 2.",
                lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / (4.0 * c ** 2 * h * w ** 2))),
        Mistake("operator precedence", f"{norm_hint}: `/ 4 * n_C**2 * ...` divides by 4 and then MULTIPLIES by "
                "the rest; put the whole denominator in parentheses.",
                lambda a_S, a_G: _style_layer_variant(a_S, a_G, norm=lambda t, h, w, c: t / 4 * c ** 2 * (h * w) ** 2)),
    ]


register(ExerciseCheck(
    "compute_layer_style_cost", losses.layer_style_cost, _layer_style_cases, mistakes=_layer_style_mistakes,
    arg_names=("a_S", "a_G"), depends_on=("gram_matrix",),
    answer_key=("utils.losses.layer_style_cost",),
    generic_hint="Unroll each activation to (n_C, n_H*n_W) with tf.transpose(tf.reshape(a, [-1, n_C])), take the "
                 "two Gram matrices, sum the squared differences and divide by (4 * n_C**2 * (n_H*n_W)**2).",
    **_COMPILED_TENSOR))


def check_compute_layer_style_cost(compute_layer_style_cost: Callable) -> None:
    """Check ``compute_layer_style_cost(a_S, a_G)`` on (1, n_H, n_W, n_C) activations.

    Args:
        compute_layer_style_cost: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    run_check("compute_layer_style_cost", compute_layer_style_cost)


# ==============================================================================================
# compute_style_cost
# ==============================================================================================

_DEFAULT_CHECK_LAYERS = (("block1_conv1", 0.5), ("block2_conv1", 0.3), ("block3_conv1", 0.2))


def _style_context(style_layers=None):
    """``check_compute_style_cost(compute_style_cost, style_layers=None)``."""
    if style_layers is not None:
        try:
            pairs = [(str(name), float(weight)) for name, weight in style_layers]
        except (TypeError, ValueError):
            raise ContextProblem("check_compute_style_cost: style_layers must be a list of (layer name, weight) "
                                 "pairs, like STYLE_LAYERS") from None
        if not pairs:
            raise ContextProblem("check_compute_style_cost: style_layers is empty")


def _style_reference(style_output, generated_output, STYLE_LAYERS):
    return losses.style_cost(style_output[:-1], generated_output[:-1], [w for _, w in STYLE_LAYERS])


# What the case rules out: 3 (or the given) layers of different shapes with different weights, plus
# a content layer at the end: weights ignored, wrong slice (the content layer included), `=` instead
# of `+=` (only the last layer counted), a mean of the layer costs instead of their weighted sum.
def _style_cases(context: dict, seed=None) -> list[Case]:
    tf = _tf()
    layers = [tuple(pair) for pair in (context.get("style_layers") or _DEFAULT_CHECK_LAYERS)]
    shapes = [(1, 6, 6, 2), (1, 3, 3, 4), (1, 2, 2, 5)][:len(layers)] + [(1, 2, 2, 5)] * max(0, len(layers) - 3)
    style = [tf.constant(_activations(20 + i, s)) for i, s in enumerate(shapes)] + [tf.constant(_activations(30))]
    generated = [tf.constant(_activations(40 + i, s)) for i, s in enumerate(shapes)] + [tf.constant(_activations(50))]
    cases = [Case((style, generated, layers), description=f"{len(layers)} weighted layers")]
    if seed is not None:
        rng = hidden_rng(seed, "compute_style_cost")
        weights = rng.dirichlet(np.ones(len(layers)))
        hidden_layers = [(name, float(weight)) for (name, _), weight in zip(layers, weights)]
        hidden_style = [tf.constant(rng.normal(size=s).astype(np.float32)) for s in shapes] + [style[-1]]
        cases.append(Case((hidden_style, generated, hidden_layers), description=f"{len(layers)} layers, other weights"))
    return cases


def _style_mistakes(context=None) -> list[Mistake]:
    def weighted(weights_of, slice_=slice(None, -1)):
        def cost(style_output, generated_output, STYLE_LAYERS):
            return losses.style_cost(style_output[slice_], generated_output[slice_], weights_of(STYLE_LAYERS))
        return cost

    def last_only(style_output, generated_output, STYLE_LAYERS):
        n = len(STYLE_LAYERS)
        return STYLE_LAYERS[-1][1] * losses.layer_style_cost(style_output[n - 1], generated_output[n - 1])

    return [
        Mistake("weights ignored", "multiply each layer's cost by its weight λ from STYLE_LAYERS.",
                weighted(lambda layers: [1.0] * len(layers))),
        Mistake("wrong slice", "the last output is the CONTENT layer: use style_image_output[:-1] and "
                "generated_image_output[:-1].", weighted(lambda layers: [w for _, w in layers], slice(1, None))),
        Mistake("`=` instead of `+=`", "accumulate over the layers: J_style += weight * J_style_layer; with `=` "
                "only the last layer counts.", last_only),
        Mistake("mean of the layers", "J_style is the weighted SUM over the layers, Σ λ_l J_style^[l], not a mean.",
                weighted(lambda layers: [w / len(layers) for _, w in layers])),
    ]


def _misaligned(record: dict) -> bool:
    text = record["message"].lower()
    return any(words in text for words in ("incompatible shapes", "same shape", "shapes must be equal",
                                           "dimensions must be equal", "not compatible"))


def _style_substitute(context: dict, learner_function: Callable | None) -> Callable:
    """The reference in the exercise's signature; STYLE_LAYERS defaults to the learner's default
    (the notebook's ``STYLE_LAYERS``) or the check's context."""
    default = None
    if learner_function is not None:
        try:
            parameter = list(inspect.signature(_python_function(learner_function)).parameters.values())[2]
            default = None if parameter.default is inspect.Parameter.empty else parameter.default
        except (ValueError, TypeError, IndexError):
            default = None
    default = default if default is not None else context.get("style_layers")

    def compute_style_cost(style_image_output, generated_image_output, STYLE_LAYERS=default):
        return _style_reference(style_image_output, generated_image_output, STYLE_LAYERS)

    return compute_style_cost


register(ExerciseCheck(
    "compute_style_cost", _style_reference, _style_cases, mistakes=_style_mistakes, context=_style_context,
    arg_names=("style_image_output", "generated_image_output", "STYLE_LAYERS"),
    depends_on=("compute_layer_style_cost",), substitute=_style_substitute,
    answer_key=("utils.losses.style_cost",),
    error_hints=[(_misaligned, "error", "Likely mistake (misaligned lists): pair the i-th weight of STYLE_LAYERS "
                  "with the i-th style layer of BOTH lists: zip(STYLE_LAYERS, style_image_output[:-1], "
                  "generated_image_output[:-1]).")],
    generic_hint="J_style = Σ λ_l J_style^[l]: zip STYLE_LAYERS with style_image_output[:-1] and "
                 "generated_image_output[:-1] (the last output is the content layer) and add up each weight "
                 "times compute_layer_style_cost of that layer.", **_COMPILED_TENSOR))


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
    """
    run_check("compute_style_cost", compute_style_cost, style_layers)


# ==============================================================================================
# total_cost
# ==============================================================================================

# What each case rules out: the defaults with J_content != J_style: alpha and beta swapped, the
# unweighted sum, int defaults in tf.multiply (alpha=10 is a Python int); alpha=2, beta=5: hard-coded
# 10 and 40.
def _total_cases(context=None, seed=None) -> list[Case]:
    tf = _tf()
    cases = [Case((tf.constant(1.5), tf.constant(2.5)), description="J_content=1.5, J_style=2.5, default alpha and beta"),
             Case((tf.constant(0.3), tf.constant(0.7)), {"alpha": 2.0, "beta": 5.0},
                  description="J_content=0.3, J_style=0.7, alpha=2, beta=5")]
    if seed is not None:
        rng = hidden_rng(seed, "total_cost")
        values = [round(float(value), 3) for value in rng.uniform(0.1, 5.0, 4)]
        cases.append(Case((tf.constant(values[0]), tf.constant(values[1])), {"alpha": values[2], "beta": values[3]},
                          description=f"J_content={values[0]}, J_style={values[1]}, alpha={values[2]}, beta={values[3]}"))
    return cases


def _total_mistakes(context=None) -> list[Mistake]:
    return [
        Mistake("alpha and beta swapped", "J = alpha * J_content + beta * J_style.",
                lambda J_content, J_style, alpha=10, beta=40: beta * J_content + alpha * J_style),
        Mistake("hard-coded weights", "use the alpha and beta arguments, not the numbers 10 and 40.",
                lambda J_content, J_style, alpha=10, beta=40: 10 * J_content + 40 * J_style),
        Mistake("weights left out", "multiply each cost by its weight: alpha * J_content + beta * J_style.",
                lambda J_content, J_style, alpha=10, beta=40: J_content + J_style),
    ]


def _int_multiply(record: dict) -> bool:
    return "int32" in record["message"] and ("expected to be a" in record["message"] or "Mul" in record["message"])


register(ExerciseCheck(
    "total_cost", losses.total_cost, _total_cases, mistakes=_total_mistakes,
    arg_names=("J_content", "J_style", "alpha", "beta"), answer_key=("utils.losses.total_cost",),
    error_hints=[(_int_multiply, "error", "Likely mistake (int defaults in tf.multiply): alpha=10 and beta=40 are "
                  "Python ints, so tf.multiply(alpha, J_content) makes alpha an int32 tensor that cannot meet the "
                  "float32 cost; write alpha * J_content + beta * J_style (Python's * converts the number).")],
    generic_hint="J = alpha * J_content + beta * J_style, with the alpha and beta arguments.", **_COMPILED_TENSOR))


def check_total_cost(total_cost: Callable) -> None:
    """Check ``total_cost(J_content, J_style, alpha=10, beta=40)``.

    As in ``train_step``, the costs are scalar tensors and the weights Python numbers.

    Args:
        total_cost: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
    run_check("total_cost", total_cost)



# ==============================================================================================
# train_step (notebook 04): one Adam step on the generated image, clipped to [0, 1]
# ==============================================================================================
#
# The check runs the learner's train_step on small images of its own (32 x 48 pixels), with the
# notebook's a_C and a_S replaced (wherever train_step reads them: its globals or closure) by the
# check's targets, and the notebook's optimizer by a fresh copy. Each case takes two steps from a
# chosen start; what each case rules out:
#
# * the content image plus noise, some rows at exactly 0 and 1, J balanced between the terms:
#   no clipping (Adam moves every pixel by about the learning rate, so the rows at the bounds
#   leave [0, 1]), gradient ascent, no update, J after the update, alpha and beta swapped;
# * the style image plus a little noise: J is almost all alpha * J_content: the content cost taken
#   against the style image, `return beta * J_style`, the gradient of J_style alone, the style
#   of the content image;
# * the content image itself: J_content = 0, J is all beta * J_style: the gradient of J_content
#   alone, `return alpha * J_content`;
# * in every case the image after each step is compared with one Adam step of a fresh copy of
#   the optimizer on grad(J) followed by clipping: the update applied twice, an optimizer
#   not reset, or the gradient of a part of J all move the pixels by other amounts.

_TRAIN_SHAPE = (1, 32, 48, 3)
_TRAIN_STEPS = 2
_GRADIENT_HINT = ("Likely mistake (None gradient): tape.gradient(J, generated_image) returned None, because J was "
                  "not computed from generated_image inside the tape: call a_G = vgg_model_outputs(generated_image) "
                  "and the three costs INSIDE the `with tf.GradientTape() as tape:` block.")


def _train_context(generated_image, vgg_model_outputs, a_C, a_S, style_layers, alpha: float = 10.0,
                   beta: float = 40.0, optimizer=None, rtol: float = 1e-3):
    """``check_train_step(train_step, generated_image, vgg_model_outputs, a_C, a_S, STYLE_LAYERS, alpha, beta,
    optimizer, rtol)``."""
    tf = _tf()
    if not isinstance(generated_image, tf.Variable):
        raise ContextProblem("check_train_step: pass the tf.Variable that train_step updates (generated_image); "
                             f"got {type(generated_image).__name__}")
    if not callable(vgg_model_outputs):
        raise ContextProblem("check_train_step: vgg_model_outputs must be the function image -> layer outputs")


def _train_images() -> tuple[np.ndarray, np.ndarray]:
    """A smooth "content" image and a striped "style" image in [0, 1] (fixed, deterministic)."""
    _, height, width, _ = _TRAIN_SHAPE
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    content = np.stack([0.5 + 0.3 * np.sin(rows / 5.0), 0.5 + 0.3 * np.cos(columns / 7.0),
                        0.4 + 0.2 * np.sin((rows + columns) / 9.0)], axis=-1)
    noise = np.random.default_rng(22).uniform(-0.1, 0.1, (height, width, 3)).astype(np.float32)
    style = np.stack([0.5 + 0.4 * np.sign(np.sin(columns / 2.0)), 0.3 + 0.2 * np.sign(np.sin(rows / 3.0)),
                      0.6 + 0.0 * rows], axis=-1) + noise
    return (np.clip(content, 0, 1)[None].astype(np.float32), np.clip(style, 0, 1)[None].astype(np.float32))


_TARGETS: dict = {}


def _targets(vgg_model_outputs: Callable) -> tuple[list, list, np.ndarray, np.ndarray]:
    """(a_C, a_S) of the check's images as arrays, and the images (cached per network)."""
    key = id(vgg_model_outputs)
    if key not in _TARGETS or _TARGETS[key][0] is not vgg_model_outputs:
        tf = _tf()
        content, style = _train_images()
        a_C = [np.asarray(output, np.float32) for output in vgg_model_outputs(tf.constant(content))]
        a_S = [np.asarray(output, np.float32) for output in vgg_model_outputs(tf.constant(style))]
        _TARGETS[key] = (vgg_model_outputs, a_C, a_S, content, style)
    return _TARGETS[key][1:]


def _saturated_test_image(image: np.ndarray) -> np.ndarray:
    """``image`` with every 4th row set to 0 and the row two below it to 1 (a missing clip shows after one step)."""
    test = np.array(image, dtype=np.float32, copy=True)
    test[:, 0::4] = 0.0
    test[:, 2::4] = 1.0
    return test


def _train_cases(context: dict, seed=None) -> list[Case]:
    a_C, a_S, content, style = _targets(context["vgg_model_outputs"])
    rng = np.random.default_rng(23)
    targets = {"a_C": a_C, "a_S": a_S}
    noisy = np.clip(content + rng.uniform(-0.25, 0.25, content.shape), 0, 1).astype(np.float32)
    near_style = np.clip(style + rng.uniform(-0.03, 0.03, style.shape), 0, 1).astype(np.float32)
    cases = [Case((_saturated_test_image(noisy),), targets, "the content image plus noise, some rows at exactly 0 and 1"),
             Case((near_style,), targets, "the style image plus a little noise (J is mostly alpha * J_content)"),
             Case((content,), targets, "the content image itself (J_content = 0: J is all beta * J_style)")]
    if seed is not None:
        hidden = hidden_rng(seed, "train_step")
        mix = float(hidden.uniform(0.2, 0.8))
        start = np.clip(mix * content + (1 - mix) * style + hidden.uniform(-0.1, 0.1, content.shape), 0, 1)
        cases.append(Case((start.astype(np.float32),), targets, f"a mix of {mix:.2f} content and style"))
    return cases


def _clone_optimizer(optimizer):
    return type(optimizer).from_config(optimizer.get_config())


def _reset(optimizer) -> None:
    """Step 0 and zero moments (the learning rate stays)."""
    for variable in list(getattr(optimizer, "variables", [])):
        path = str(getattr(variable, "path", getattr(variable, "name", "")))
        if not path.endswith("learning_rate"):
            try:
                variable.assign(np.zeros(tuple(variable.shape), dtype=variable.dtype.name
                                         if hasattr(variable.dtype, "name") else variable.dtype))
            except Exception:
                pass


def _is_optimizer(value) -> bool:
    return hasattr(value, "apply_gradients") and hasattr(value, "get_config") and not inspect.isclass(value)


class _ObjectsReplaced:
    """Bind other objects to the names of ``function``'s globals and closure cells that hold given objects."""

    def __init__(self, function: Callable, replacements: dict):
        self.function, self.replacements = function, replacements
        self.saved: list = []
        self.found: set = set()

    def __enter__(self):
        namespace = getattr(self.function, "__globals__", {})
        names = set(getattr(getattr(self.function, "__code__", None), "co_names", ()))
        for name in names:
            value = namespace.get(name)
            if id(value) in self.replacements:
                self.saved.append((namespace, name, value))
                namespace[name] = self.replacements[id(value)]
                self.found.add(id(value))
        for cell in getattr(self.function, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if id(value) in self.replacements:
                self.saved.append((cell, None, value))
                cell.cell_contents = self.replacements[id(value)]
                self.found.add(id(value))
        return self

    def __exit__(self, *exc):
        for owner, name, value in reversed(self.saved):
            if name is None:
                owner.cell_contents = value
            else:
                owner[name] = value
        return False


def _referenced_optimizer(function: Callable):
    """The Keras optimizer ``function`` reads from its globals or closure, or None."""
    namespace = getattr(function, "__globals__", {})
    for name in getattr(getattr(function, "__code__", None), "co_names", ()):
        if _is_optimizer(namespace.get(name)):
            return namespace[name]
    for cell in getattr(function, "__closure__", None) or ():
        try:
            if _is_optimizer(cell.cell_contents):
                return cell.cell_contents
        except ValueError:
            continue
    return None


def _scalar(value):
    """The returned J as a float, or None when it is not one number."""
    if isinstance(value, (bool, str)) or value is None:
        return None
    try:
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 else None


class _TrainStepCheck(ExerciseCheck):
    """``train_step(generated_image)``: runs two steps per case and replays them (see the comment above)."""

    def run(self, function: Callable, context: dict, cases: Sequence[Case]) -> list[dict]:
        tf = _tf()
        inner = _python_function(function)
        optimizer = context.get("optimizer") or _referenced_optimizer(inner)
        first = cases[0]
        content_targets = [tf.Variable(target) for target in first.kwargs["a_C"]]
        style_targets = [tf.Variable(target) for target in first.kwargs["a_S"]]
        replacements = {id(context["a_C"]): content_targets, id(context["a_S"]): style_targets}
        clone = None
        if optimizer is not None:
            try:
                clone = _clone_optimizer(optimizer)
                replacements[id(optimizer)] = clone
            except Exception:
                clone = None
        notebook_image = context["generated_image"]
        saved = notebook_image.numpy()
        image = tf.Variable(first.args[0])
        records = []
        try:
            with _ObjectsReplaced(inner, replacements) as replaced:
                found = [name for name in ("a_C", "a_S") if id(context[name]) in replaced.found]
                call = _silenced(tf.function(inner) if inner is not function else function)
                for case in cases:
                    image.assign(case.args[0])
                    for variables, values in ((content_targets, case.kwargs["a_C"]), (style_targets, case.kwargs["a_S"])):
                        for variable, value in zip(variables, values):
                            variable.assign(value)
                    if clone is not None:
                        _reset(clone)
                    returned, images = [], []
                    outcome = {}
                    for _ in range(_TRAIN_STEPS):
                        outcome = _outcome(self.name, lambda: call(image))
                        if "result" not in outcome:
                            break
                        returned.append(outcome["result"])
                        images.append(image.numpy())
                    changed = not np.array_equal(notebook_image.numpy(), saved)
                    if changed:
                        notebook_image.assign(saved)
                    if "result" not in outcome:
                        records.append(outcome)
                        continue
                    records.append({"result": {"$dict": {
                        "J": {"$list": returned}, "images": encode_value(images),
                        "global_image_changed": changed, "targets_found": encode_value(found)}}})
        finally:
            notebook_image.assign(saved)
        return records

    def observe_runs(self, observation, function, context, seed, nested) -> None:
        super().observe_runs(observation, function, context, seed, nested)
        inner = _python_function(function)
        namespace = getattr(inner, "__globals__", {})
        read = [namespace.get(name) for name in getattr(getattr(inner, "__code__", None), "co_names", ())]
        for cell in getattr(inner, "__closure__", None) or ():
            try:
                read.append(cell.cell_contents)
            except ValueError:
                continue
        observation.extras["reads_notebook_image"] = any(value is context["generated_image"] for value in read)
        optimizer = context.get("optimizer") or _referenced_optimizer(_python_function(function))
        if optimizer is not None:
            try:
                learning_rate = float(np.asarray(optimizer.learning_rate))
                observation.extras["optimizer"] = encode_value({"class": type(optimizer).__name__,
                                                                "learning_rate": learning_rate})
            except Exception:
                pass

    def _optimizer_factory(self, context: dict, observation: Observation) -> Callable:
        import keras  # deferred: Keras is slow to import

        optimizer = context.get("optimizer")
        if optimizer is not None:
            return lambda: _clone_optimizer(optimizer)
        recorded = decode_value(observation.extras.get("optimizer", None)) or {}
        rate = recorded.get("learning_rate") if isinstance(recorded, dict) else None
        rate = float(rate) if isinstance(rate, (int, float)) and 0 < rate < 10 else 0.01
        return lambda: keras.optimizers.Adam(learning_rate=rate)

    def evaluate(self, records, cases, mistakes, context, observation) -> Verdict:
        tf = _tf()
        name = self.name
        vgg = context["vgg_model_outputs"]
        weights = [weight for _, weight in context["style_layers"]]
        alpha, beta, rtol = float(context["alpha"]), float(context["beta"]), float(context.get("rtol") or 1e-3)
        make_optimizer = self._optimizer_factory(context, observation)
        global_image = ("Likely mistake (a global instead of the argument): inside train_step use its argument, "
                        "the image it is given (train_step(generated_image) updates THAT variable), not the "
                        "notebook's variable of another name.")
        reads_global = bool(decode_value(observation.extras.get("reads_notebook_image", False)))
        steps = []   # (case, step index, before, after, J)
        for case, record in zip(cases, records):
            if "error" in record and reads_global and not record["error"].get("stub"):
                return Verdict(name, "failed", crash_text(name, record["error"], case.description, hint=global_image))
            if "error" in record:
                error = record["error"]
                if error.get("stub"):
                    return Verdict(name, "not attempted", stub_text(name, error))
                hint = _GRADIENT_HINT if ("No gradients provided" in error["message"]
                                          or "None values not supported" in error["message"]) else None
                return Verdict(name, "error", crash_text(name, error, case.description, hint=hint))
            data = decode_value(record["result"])
            if not isinstance(data, dict) or set(data) != {"J", "images", "global_image_changed", "targets_found"}:
                return Verdict(name, "error", "malformed observation of `train_step`")
            if (not isinstance(data["J"], list) or not isinstance(data["images"], list)
                    or len(data["J"]) != _TRAIN_STEPS or len(data["images"]) != _TRAIN_STEPS
                    or not isinstance(data["targets_found"], list)):
                return Verdict(name, "error", "malformed observation of `train_step`")
            before = case.args[0]
            for index, (returned, after) in enumerate(zip(data["J"], data["images"])):
                J = _scalar(returned)
                if not isinstance(after, np.ndarray):
                    return Verdict(name, "error", "malformed observation of `train_step`")
                after = after.astype(np.float32)
                if J is None:
                    return Verdict(name, "failed", f"Exercise `train_step`: return J, the scalar total cost; got "
                                                   f"{type(returned).__name__} {str(returned)[:80]}.")
                if after.shape != before.shape:
                    return Verdict(name, "failed", "Exercise `train_step`: the image changed shape.")
                steps.append((case, index, before, after, J, data))
                before = after
        if not steps:
            return Verdict(name, "error", "malformed observation of `train_step`")

        def costs(image, content_targets=None, style_targets=None):
            case = steps[0][0]
            a_G = vgg(tf.constant(image))
            content_targets = case.kwargs["a_C"] if content_targets is None else content_targets
            style_targets = case.kwargs["a_S"] if style_targets is None else style_targets
            J_content = float(losses.content_cost(content_targets[-1], a_G[-1]))
            J_style = float(losses.style_cost(style_targets[:-1], a_G[:-1], weights))
            return J_content, J_style

        def close(x, y):
            return abs(x - y) <= rtol * max(abs(y), 1e-12)

        # 1. the image the learner's function received must be the one that changes
        for case, index, before, after, J, data in steps:
            if (data["global_image_changed"] or reads_global) and np.array_equal(before, after):
                return Verdict(name, "failed", (
                    f"Exercise `train_step`: your function changed the notebook's `generated_image`, not the image "
                    f"it was given (for {case.description}).\n  " + global_image))
        # 2. J of the image before each step
        parts = [costs(before) for _, _, before, _, _, _ in steps]
        expected = [alpha * c + beta * s for c, s in parts]
        wrong = [i for i, (step, value) in enumerate(zip(steps, expected)) if not close(step[4], value)]
        if wrong:
            first = wrong[0]
            case, index = steps[first][0], steps[first][1]
            alternatives = [
                ("J after the update", "return the J computed inside the GradientTape, i.e. the cost of the "
                 "image before this step.", lambda step, c, s: alpha * sum(p * w for p, w in zip(costs(step[3]), (1, beta / alpha)))),
                ("alpha and beta swapped", "J = total_cost(J_content, J_style, alpha=alpha, beta=beta).",
                 lambda step, c, s: beta * c + alpha * s),
                ("style of the content image", "the style cost compares a_S (the style image's outputs) with a_G: "
                 "compute_style_cost(a_S, a_G).",
                 lambda step, c, s: alpha * c + beta * costs(step[2], style_targets=step[0].kwargs["a_C"])[1]),
                ("content of the style image", "the content cost compares a_C (the content image's outputs) with "
                 "a_G: compute_content_cost(a_C, a_G).",
                 lambda step, c, s: alpha * costs(step[2], content_targets=step[0].kwargs["a_S"])[0] + beta * s),
                ("beta * J_style only", "J is the TOTAL cost: total_cost(J_content, J_style, alpha=alpha, beta=beta), "
                 "not the style term alone.", lambda step, c, s: beta * s),
                ("alpha * J_content only", "J is the TOTAL cost: total_cost(J_content, J_style, alpha=alpha, "
                 "beta=beta), not the content term alone.", lambda step, c, s: alpha * c),
                ("weights left out", "weigh the two costs: J = total_cost(J_content, J_style, alpha=alpha, beta=beta).",
                 lambda step, c, s: c + s),
            ]
            message = (f"Exercise `train_step`: wrong J (step {index + 1}, {case.description}).\n  expected: "
                       f"{expected[first]:.6g} (J of the image before the update)\n  got:      {steps[first][4]:.6g}")
            for label, hint, alternative in alternatives:
                try:
                    if all(close(step[4], alternative(step, c, s)) for step, (c, s) in zip(steps, parts)):
                        return Verdict(name, "failed", message + f"\n  Likely mistake ({label}): {hint}")
                except Exception:
                    continue
            found = steps[first][5]["targets_found"]
            if len(found) < 2:
                missing = " and ".join(f"`{target}`" for target in ("a_C", "a_S") if target not in found)
                return Verdict(name, "failed", message + (
                    f"\n  Your train_step does not read the notebook's {missing}: compute the costs against the "
                    f"global a_C and a_S (the check replaces them by its own targets)."))
            return Verdict(name, "failed", message + (
                "\n  Compute a_G = vgg_model_outputs(generated_image) inside the tape, then J_style = "
                "compute_style_cost(a_S, a_G), J_content = compute_content_cost(a_C, a_G) and J = "
                "total_cost(J_content, J_style, alpha=alpha, beta=beta)."))
        # 3. the image stays in [0, 1]
        for case, index, before, after, J, data in steps:
            if after.min() < 0.0 or after.max() > 1.0:
                return Verdict(name, "failed", (
                    f"Exercise `train_step`: the image left [0, 1] (step {index + 1}, {case.description}): values "
                    f"from {after.min():.4g} to {after.max():.4g}.\n  Likely mistake (no clipping): after the update, "
                    f"generated_image.assign(clip_0_1(generated_image)), i.e. tf.clip_by_value(..., 0.0, 1.0)."))
        # 4. the update: one step of a fresh copy of the optimizer on grad(J), then the clip
        gradients = [self._gradients(vgg, step[0], step[2], weights) for step in steps]
        rate = self._rate(make_optimizer)

        def replay(rule):
            images, optimizer, current = [], None, None
            for step, (g_content, g_style) in zip(steps, gradients):
                if step[1] == 0:
                    optimizer, current = make_optimizer(), tf.Variable(step[2])
                current.assign(step[2])
                images.append(rule(optimizer, current, g_content, g_style))
            return images

        def adam(times=1, sign=1.0, use=(alpha, beta), clip=True):
            def rule(optimizer, variable, g_content, g_style):
                gradient = sign * (use[0] * g_content + use[1] * g_style)
                for _ in range(times):
                    optimizer.apply_gradients([(tf.constant(gradient), variable)])
                if clip:
                    variable.assign(tf.clip_by_value(variable, 0.0, 1.0))
                magnitude = np.abs(gradient)
                return variable.numpy(), magnitude > max(_SIGNIFICANT, 1e-3 * float(magnitude.max()))
            return rule

        def matches(images):
            return [_same_step(step[3], image, rate, mask) for step, (image, mask) in zip(steps, images)]

        right = matches(replay(adam()))
        if all(right):
            return Verdict(name, "passed", "")
        first = right.index(False)
        case, index = steps[first][0], steps[first][1]
        alternatives = [
            ("no update", "take grad = tape.gradient(J, generated_image) and call "
             "optimizer.apply_gradients([(grad, generated_image)]).",
             lambda o, v, c, s: (v.numpy(), np.ones(v.shape, bool))),
            ("gradient ascent", "give the optimizer the gradient itself, optimizer.apply_gradients([(grad, "
             "generated_image)]); it subtracts it.", adam(sign=-1.0)),
            ("update applied twice", "call optimizer.apply_gradients once per step: each call moves the image again.",
             adam(times=2)),
        ]
        total_hint = ("differentiate the TOTAL cost, grad = tape.gradient(J, generated_image), with "
                      "J = total_cost(J_content, J_style, alpha=alpha, beta=beta).")
        for use in ((0, 1), (0, beta)):     # tape.gradient(J_style, ...) or of beta * J_style
            alternatives.append(("gradient of J_style only", total_hint, adam(use=use)))
        for use in ((1, 0), (alpha, 0)):
            alternatives.append(("gradient of J_content only", total_hint, adam(use=use)))
        message = (f"Exercise `train_step`: J is right, but the image after step {index + 1} ({case.description}) is "
                   f"not one step of your optimizer on grad(J) followed by clipping to [0, 1]")
        for label, hint, rule in alternatives:
            if all(matches(replay(rule))):
                return Verdict(name, "failed", f"{message}.\n  Likely mistake ({label}): {hint}")
        return Verdict(name, "failed", message + (
            ".\n  Inside train_step: grad = tape.gradient(J, generated_image), then "
            "optimizer.apply_gradients([(grad, generated_image)]) once, then "
            "generated_image.assign(clip_0_1(generated_image))."))

    @staticmethod
    def _rate(make_optimizer) -> float:
        try:
            return float(np.asarray(make_optimizer().learning_rate))
        except Exception:
            return 0.01

    @staticmethod
    def _gradients(vgg, case, image, weights):
        """Gradients of J_content and of J_style (unweighted) at ``image``."""
        tf = _tf()
        variable = tf.Variable(image)
        with tf.GradientTape(persistent=True) as tape:
            a_G = vgg(variable)
            J_content = losses.content_cost(case.kwargs["a_C"][-1], a_G[-1])
            J_style = losses.style_cost(case.kwargs["a_S"][:-1], a_G[:-1], weights)
        gradients = (tape.gradient(J_content, variable).numpy(), tape.gradient(J_style, variable).numpy())
        del tape
        return gradients


#: A gradient entry this large (and at least 1e-3 of the largest) makes Adam's step
#: lr * g / (|g| + 1e-7) independent of rounding in g; smaller ones (e.g. grad(J_style) where the
#: image almost has the style, a difference of nearly equal Gram matrices) are not compared.
_SIGNIFICANT = 1e-4


def _same_step(taken: np.ndarray, simulated: np.ndarray, rate: float, mask: np.ndarray) -> bool:
    """The learner's image after a step equals the simulated one: at most 2 % of the pixels whose
    gradient is significant (``mask``) differ by more than a quarter of the learning rate (Adam
    moves a pixel by about the learning rate). True when no pixel's gradient is significant."""
    if not mask.any():
        return True
    difference = np.abs(taken.astype(np.float64) - simulated)[mask]
    return float(np.mean(difference > 0.25 * rate)) <= 0.02


def _trusted_nst_context() -> dict:
    """The notebook's network and settings, built from the course's assets (as notebook 04's setup does)."""
    import keras  # deferred: Keras is slow to import

    preset = get_preset("course" if assets.find("vgg19_full") is not None else "blocks123")
    names = list(preset.style_layers) + [preset.content_layer]
    extractor = build_extractor(names)

    def vgg_model_outputs(image):
        outputs = extractor(image)
        return [outputs[name] for name in names]

    return {"generated_image": None, "vgg_model_outputs": vgg_model_outputs, "a_C": None, "a_S": None,
            "style_layers": list(preset.style_layers.items()), "alpha": preset.alpha, "beta": preset.beta,
            "optimizer": keras.optimizers.Adam(learning_rate=preset.learning_rate), "rtol": 1e-3}


register(_TrainStepCheck(
    "train_step", lambda generated_image: None, _train_cases, context=_train_context,
    trusted_context=_trusted_nst_context, arg_names=("generated_image",),
    depends_on=("compute_content_cost", "compute_style_cost", "total_cost"),
    answer_key=("utils.nst.engine.StyleTransfer.train_step",), silence=False,
    generic_hint="Compute J inside the tape, take its gradient, apply it once, clip."))


def check_train_step(train_step: Callable, generated_image, vgg_model_outputs: Callable, a_C, a_S,
                     style_layers: Sequence, alpha: float = 10.0, beta: float = 40.0, optimizer=None,
                     rtol: float = 1e-3) -> None:
    """Check the course's ``train_step(generated_image)`` on small test images, two steps each.

    The check runs ``train_step`` on images of its own (see the comment above
    :func:`_train_cases`), with the notebook's ``a_C``, ``a_S`` and optimizer replaced, wherever
    ``train_step`` reads them, by its own targets and a fresh copy of the optimizer. It verifies
    that each call returns J = alpha * J_content + beta * J_style of the image before the update
    (computed with :mod:`utils.losses` and the same ``vgg_model_outputs``), that the image stays in
    [0, 1], and that each step is exactly one step of the optimizer on grad(J) followed by the
    clip. Afterwards ``generated_image``, ``a_C``, ``a_S`` and the optimizer are untouched.

    Args:
        train_step: the learner's function; takes the ``tf.Variable`` and returns J.
        generated_image: the notebook's ``tf.Variable`` (1, H, W, 3) (restored if train_step changes it).
        vgg_model_outputs: function image -> list of layer outputs (style layers, then the content layer).
        a_C, a_S: the notebook's outputs of ``vgg_model_outputs`` for the content and the style image.
        style_layers: the ``STYLE_LAYERS`` list of ``(layer name, weight)`` pairs.
        alpha, beta: the weights ``train_step`` passes to ``total_cost``.
        optimizer: the optimiser ``train_step`` uses (found in its namespace when None).
        rtol: relative tolerance on J.

    Returns:
        None; prints "All tests passed." when everything holds.

    Raises:
        ExerciseNotImplemented: ``train_step`` (or an exercise it calls) still raises its stub.
        CheckFailed: a wrong step, or an error in the learner's code, with the likely mistake.
    """
    run_check("train_step", train_step, generated_image, vgg_model_outputs, a_C, a_S, style_layers,
              alpha=alpha, beta=beta, optimizer=optimizer, rtol=rtol)
