"""Checks for the neural-style-transfer exercises (notebook 04)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from utils import losses
from utils.checks._framework import Case, Mistake, _activations, _call, _tf, check_function
from utils.errors import CheckFailed

__all__ = ['check_compute_content_cost', 'check_gram_matrix', 'check_compute_layer_style_cost', 'check_compute_style_cost', 'check_total_cost', 'check_train_step']

# ==============================================================================================

def _content_reference(content_output, generated_output):
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
    cases = [Case((1.5, 2.5), description="default alpha and beta"),
             Case((0.3, 0.7), {"alpha": 2.0, "beta": 5.0}, description="alpha=2, beta=5")]
    mistakes = [
        Mistake("alpha and beta swapped", "J = alpha * J_content + beta * J_style.",
                lambda J_content, J_style, alpha=10, beta=40: beta * J_content + alpha * J_style),
        Mistake("hard-coded weights", "use the alpha and beta arguments, not the numbers 10 and 40.",
                lambda J_content, J_style, alpha=10, beta=40: 10 * J_content + 40 * J_style),
    ]
    return check_function("total_cost", total_cost, losses.total_cost, cases, mistakes)


# ==============================================================================================
# train_step (notebook 04): one Adam step on the generated image, clipped to [0, 1]
# ==============================================================================================

def _reference_total(vgg_model_outputs: Callable, a_C, a_S, style_layers: Sequence, alpha: float,
                     beta: float, image, style_source=None):
    """J = alpha * J_content + beta * J_style of ``image`` with the project's reference costs."""
    a_G = vgg_model_outputs(image)
    style_target = a_S if style_source is None else style_source
    J_content = losses.content_cost(a_C[-1], a_G[-1])
    J_style = losses.style_cost(style_target[:-1], a_G[:-1], [weight for _, weight in style_layers])
    return float(losses.total_cost(J_content, J_style, alpha=alpha, beta=beta))


def _saturated_test_image(image: np.ndarray) -> np.ndarray:
    """``image`` with every 4th row set to 0 and the row two below it to 1.

    Pixels sitting exactly on the bounds make a missing clip visible after a single Adam step:
    Adam moves every pixel by about the learning rate, so about half of them leave [0, 1].
    """
    test = np.array(image, dtype=np.float32, copy=True)
    test[:, 0::4] = 0.0
    test[:, 2::4] = 1.0
    return test


def _fail(message: str):
    print(message)
    raise CheckFailed(message)


def check_train_step(train_step: Callable, generated_image, vgg_model_outputs: Callable, a_C, a_S,
                     style_layers: Sequence, alpha: float = 10.0, beta: float = 40.0, optimizer=None,
                     rtol: float = 1e-3) -> bool:
    """Check the course's ``train_step(generated_image)`` by running it twice and watching the image.

    The check puts a test image into ``generated_image`` (the notebook's own image with some rows
    set to exactly 0 and 1), calls ``train_step`` twice, and verifies that

    1. each call returns J = alpha * J_content + beta * J_style of the image *before* its update,
       computed here with :mod:`utils.losses` and the same ``vgg_model_outputs``, ``a_C`` and
       ``a_S`` (so the learner's function must compute the costs of ``generated_image`` itself);
    2. the image changes, moves downhill (against the gradient of J) and J decreases;
    3. the image stays in [0, 1] (clipped after the update, as in the course).

    Afterwards ``generated_image`` gets its original value back and, when ``optimizer`` is given,
    so do the optimiser's variables (Adam's moment estimates and step counter).

    Args:
        train_step: the learner's function; takes the ``tf.Variable`` and returns J.
        generated_image: the ``tf.Variable`` (1, H, W, 3) that ``train_step`` updates.
        vgg_model_outputs: function image -> list of layer outputs (style layers, then the content layer).
        a_C, a_S: outputs of ``vgg_model_outputs`` for the content and the style image.
        style_layers: the ``STYLE_LAYERS`` list of ``(layer name, weight)`` pairs.
        alpha, beta: the weights ``train_step`` passes to ``total_cost``.
        optimizer: the optimiser ``train_step`` uses (optional; only to restore its state).
        rtol: relative tolerance on J.

    Returns:
        True when everything holds (and prints "All tests passed.").

    Raises:
        ExerciseNotImplemented, CheckFailed: as for the other checks, with the likely mistake.
    """
    tf = _tf()
    if not isinstance(generated_image, tf.Variable):
        _fail("check_train_step: pass the tf.Variable that train_step updates (generated_image); "
              f"got {type(generated_image).__name__}")
    original = generated_image.numpy()
    saved_optimizer = [variable.numpy() for variable in optimizer.variables] if optimizer is not None else []

    def J_of(image):
        return _reference_total(vgg_model_outputs, a_C, a_S, style_layers, alpha, beta, tf.constant(image))

    def close(x, y):
        return abs(x - y) <= rtol * max(abs(y), 1e-12)

    try:
        image = _saturated_test_image(original)
        generated_image.assign(image)
        for step in (1, 2):
            expected = J_of(image)
            gradient = _reference_gradient(vgg_model_outputs, a_C, a_S, style_layers, alpha, beta, image)
            returned = _call("train_step", train_step, Case((generated_image,), description=f"step {step}"))
            try:
                J = float(np.asarray(returned.numpy() if hasattr(returned, "numpy") else returned))
            except (TypeError, ValueError):
                _fail(f"Exercise `train_step`: return J, the scalar total cost; got {type(returned).__name__}.")
            updated = generated_image.numpy()
            where = f" (step {step})"
            if not close(J, expected):
                hints = []
                if close(J, J_of(updated)):
                    hints.append("Likely mistake (J after the update): return the J computed inside the "
                                 "GradientTape, i.e. the cost of the image before this step.")
                if close(J, _reference_total(vgg_model_outputs, a_C, a_S, style_layers, beta, alpha,
                                             tf.constant(image))):
                    hints.append("Likely mistake (alpha and beta swapped): "
                                 "J = total_cost(J_content, J_style, alpha=alpha, beta=beta).")
                if close(J, _reference_total(vgg_model_outputs, a_C, a_S, style_layers, alpha, beta,
                                             tf.constant(image), style_source=a_C)):
                    hints.append("Likely mistake (style of the content image): the style cost compares "
                                 "a_S (the style image's outputs) with a_G: compute_style_cost(a_S, a_G).")
                message = (f"Exercise `train_step`: wrong J{where}.\n  expected: {expected:.6g} (J of the "
                           f"image before the update)\n  got:      {J:.6g}")
                message += ("\n  " + "\n  ".join(hints)) if hints else (
                    "\n  Compute a_G = vgg_model_outputs(generated_image), then J_style = compute_style_cost(a_S, a_G), "
                    "J_content = compute_content_cost(a_C, a_G) and J = total_cost(J_content, J_style, alpha, beta).")
                _fail(message)
            if np.array_equal(updated, image):
                _fail(f"Exercise `train_step`: the image did not change{where}.\n  Likely mistake (no update): "
                      "take grad = tape.gradient(J, generated_image) and call "
                      "optimizer.apply_gradients([(grad, generated_image)]).")
            if updated.min() < 0.0 or updated.max() > 1.0:
                _fail(f"Exercise `train_step`: the image left [0, 1]{where}: values from {updated.min():.4g} "
                      f"to {updated.max():.4g}.\n  Likely mistake (no clipping): after the update, "
                      "generated_image.assign(clip_0_1(generated_image)), i.e. tf.clip_by_value(..., 0.0, 1.0).")
            moved = (updated != image) & (np.abs(gradient) > 0)
            downhill = float(np.mean(np.sign(updated - image)[moved] == -np.sign(gradient)[moved])) if moved.any() else 0.0
            if downhill < 0.5:
                _fail(f"Exercise `train_step`: the image moved uphill{where}: only {downhill:.0%} of the changed "
                      "pixels moved against the gradient of J.\n  Likely mistake (gradient ascent): give the "
                      "optimizer the gradient itself, optimizer.apply_gradients([(grad, generated_image)]); "
                      "it subtracts it.")
            if not J_of(updated) < expected:
                _fail(f"Exercise `train_step`: J did not decrease{where}: {expected:.6g} -> {J_of(updated):.6g}. "
                      "Check the learning rate of the optimizer and that you update generated_image.")
            image = updated
    finally:
        generated_image.assign(original)
        if optimizer is not None:
            for index, variable in enumerate(optimizer.variables):  # built during the check: zero them
                variable.assign(saved_optimizer[index] if index < len(saved_optimizer) else variable.numpy() * 0)
    print("All tests passed.")
    return True


def _reference_gradient(vgg_model_outputs: Callable, a_C, a_S, style_layers: Sequence, alpha: float,
                        beta: float, image: np.ndarray) -> np.ndarray:
    """Gradient of the reference J with respect to the image (same shape as ``image``)."""
    tf = _tf()
    variable = tf.Variable(image)
    with tf.GradientTape() as tape:
        a_G = vgg_model_outputs(variable)
        J = losses.total_cost(losses.content_cost(a_C[-1], a_G[-1]),
                              losses.style_cost(a_S[:-1], a_G[:-1], [weight for _, weight in style_layers]),
                              alpha=alpha, beta=beta)
    return tape.gradient(J, variable).numpy()
