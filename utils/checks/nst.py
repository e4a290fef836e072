"""Checks for the neural-style-transfer exercises (notebook 04)."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from utils import losses
from utils.checks._framework import Case, Mistake, _activations, _tf, call_learner, check_function, fail

__all__ = ["check_compute_content_cost", "check_gram_matrix", "check_compute_layer_style_cost",
           "check_compute_style_cost", "check_total_cost", "check_train_step"]

# ==============================================================================================
# The cost functions run inside the compiled train_step: each must return a tf.Tensor and work
# inside tf.function (NumPy code fails in its own check, not later in check_train_step).
_COMPILED_TENSOR = {"tensor_result": True, "compiled": "tf.function"}


def _content_reference(content_output, generated_output):
    return losses.content_cost(content_output[-1], generated_output[-1])


def check_compute_content_cost(compute_content_cost: Callable) -> None:
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
    check_function("compute_content_cost", compute_content_cost, _content_reference, cases, mistakes,
                   **_COMPILED_TENSOR)


def check_gram_matrix(gram_matrix: Callable) -> None:
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
    check_function("gram_matrix", gram_matrix, losses.gram_matrix, cases, mistakes, **_COMPILED_TENSOR)


def check_compute_layer_style_cost(compute_layer_style_cost: Callable) -> None:
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

    cases = [Case((tf.constant(_activations(11)), tf.constant(_activations(12))),
                  description="activations of shape (1, 4, 4, 3)"),
             Case((tf.constant(_activations(13, (1, 2, 5, 4))), tf.constant(_activations(14, (1, 2, 5, 4)))),
                  description="activations of shape (1, 2, 5, 4)")]
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
    check_function("compute_layer_style_cost", compute_layer_style_cost, losses.layer_style_cost,
                   cases, mistakes, **_COMPILED_TENSOR)


def check_compute_style_cost(compute_style_cost: Callable, style_layers: Sequence | None = None) -> None:
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
    check_function("compute_style_cost", compute_style_cost, reference, cases, mistakes, **_COMPILED_TENSOR)


def check_total_cost(total_cost: Callable) -> None:
    """Check ``total_cost(J_content, J_style, alpha=10, beta=40)``.

    As in ``train_step``, the costs are scalar tensors and the weights Python numbers.
    """
    tf = _tf()
    cases = [Case((tf.constant(1.5), tf.constant(2.5)),
                  description="J_content=1.5, J_style=2.5, default alpha and beta"),
             Case((tf.constant(0.3), tf.constant(0.7)), {"alpha": 2.0, "beta": 5.0},
                  description="J_content=0.3, J_style=0.7, alpha=2, beta=5")]
    mistakes = [
        Mistake("alpha and beta swapped", "J = alpha * J_content + beta * J_style.",
                lambda J_content, J_style, alpha=10, beta=40: beta * J_content + alpha * J_style),
        Mistake("hard-coded weights", "use the alpha and beta arguments, not the numbers 10 and 40.",
                lambda J_content, J_style, alpha=10, beta=40: 10 * J_content + 40 * J_style),
    ]
    check_function("total_cost", total_cost, losses.total_cost, cases, mistakes, **_COMPILED_TENSOR)


# ==============================================================================================
# train_step (notebook 04): one Adam step on the generated image, clipped to [0, 1]
# ==============================================================================================

def _reference_costs(vgg_model_outputs: Callable, a_C, a_S, style_layers: Sequence, image, style_source=None):
    """(J_content, J_style) of ``image`` with the project's reference costs, as tensors."""
    a_G = vgg_model_outputs(image)
    style_target = a_S if style_source is None else style_source
    J_content = losses.content_cost(a_C[-1], a_G[-1])
    J_style = losses.style_cost(style_target[:-1], a_G[:-1], [weight for _, weight in style_layers])
    return J_content, J_style


def _reference_total(vgg_model_outputs: Callable, a_C, a_S, style_layers: Sequence, alpha: float,
                     beta: float, image, style_source=None) -> float:
    """J = alpha * J_content + beta * J_style of ``image`` with the project's reference costs."""
    J_content, J_style = _reference_costs(vgg_model_outputs, a_C, a_S, style_layers, image, style_source)
    return float(losses.total_cost(J_content, J_style, alpha=alpha, beta=beta))


def _reference_gradient(vgg_model_outputs: Callable, a_C, a_S, style_layers: Sequence, alpha: float,
                        beta: float, image: np.ndarray, part: str = "J") -> np.ndarray:
    """Gradient with respect to the image of J (``part="J"``), of alpha * J_content alone
    (``"J_content"``) or of beta * J_style alone (``"J_style"``)."""
    tf = _tf()
    variable = tf.Variable(image)
    with tf.GradientTape() as tape:
        J_content, J_style = _reference_costs(vgg_model_outputs, a_C, a_S, style_layers, variable)
        value = {"J": alpha * J_content + beta * J_style, "J_content": alpha * J_content,
                 "J_style": beta * J_style}[part]
    return tape.gradient(value, variable).numpy()


def _simulated_steps(optimizer, start: np.ndarray, gradient_of: Callable, steps: int) -> list[np.ndarray] | None:
    """The images after each of ``steps`` course steps (update, then clip to [0, 1]) made by a fresh
    copy of ``optimizer`` fed ``gradient_of(image)``; None when the optimiser cannot be copied."""
    tf = _tf()
    try:
        clone = type(optimizer).from_config(optimizer.get_config())
        variable = tf.Variable(start)
        images = []
        for _ in range(steps):
            clone.apply_gradients([(tf.constant(gradient_of(variable.numpy())), variable)])
            variable.assign(tf.clip_by_value(variable, 0.0, 1.0))
            images.append(variable.numpy())
        return images
    except Exception:  # an optimiser this check cannot copy: skip the comparison
        return None


def _which_gradient(optimizer, images: list[np.ndarray], gradient_of: Callable) -> str | None:
    """Which gradient ("J_style" or "J_content" alone) explains the learner's steps much better than
    the gradient of J, judged by replaying them with a fresh copy of the optimiser; None when J does
    (or when nothing does clearly better).

    The test is relative: with the notebook's weights the content term can be 1e-5 of the gradient,
    so a mistake changes the steps by very little; but then the right gradient reproduces them
    (to rounding) and the wrong one does not, so only an alternative that fits at least 4 times
    better than J counts. A right step that differs by rounding is never flagged: then J fits
    best, or all fit alike.
    """
    start, taken = images[0], images[1:]

    def mismatch(part):
        simulated = _simulated_steps(optimizer, start, lambda image: gradient_of(image, part), len(taken))
        if simulated is None:
            return None
        return float(np.mean([np.mean(np.abs(mine - theirs)) for mine, theirs in zip(taken, simulated)]))

    with_J = mismatch("J")
    if not with_J:   # None (no copy) or exactly the steps of J
        return None
    for part in ("J_style", "J_content"):
        alone = mismatch(part)
        if alone is not None and alone < 0.25 * with_J:
            return part
    return None


def _saturated_test_image(image: np.ndarray) -> np.ndarray:
    """``image`` with every 4th row set to 0 and the row two below it to 1.

    Pixels sitting exactly on the bounds make a missing clip visible after a single Adam step:
    Adam moves every pixel by about the learning rate, so about half of them leave [0, 1].
    """
    test = np.array(image, dtype=np.float32, copy=True)
    test[:, 0::4] = 0.0
    test[:, 2::4] = 1.0
    return test


def _direction_agreement(before: np.ndarray, after: np.ndarray, gradient: np.ndarray) -> float | None:
    """Fraction of the pixels that moved (and were not clipped) that moved against ``gradient``."""
    moved = (after != before) & (after > 0.0) & (after < 1.0) & (gradient != 0)
    if not moved.any():
        return None
    return float(np.mean(np.sign(after - before)[moved] == -np.sign(gradient)[moved]))


class _OptimizerState:
    """Save an optimiser's variables, start it fresh (step 0, zero moments), restore it afterwards.

    Restoring never fails: variables the optimiser created during the check (its moment
    estimates, built on the first ``apply_gradients``, perhaps by a trace that failed half-way
    and left them without a value) are reset to zeros of their own shape.
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.saved = []
        for variable in self._variables():
            try:
                self.saved.append((variable, variable.numpy()))
            except Exception:  # a variable without a value: restore it to zeros
                self.saved.append((variable, None))

    def _variables(self):
        try:
            return list(self.optimizer.variables) if self.optimizer is not None else []
        except Exception:
            return []

    @staticmethod
    def _zero(variable) -> None:
        try:
            variable.assign(np.zeros(tuple(variable.shape), dtype=variable.dtype.name
                                     if hasattr(variable.dtype, "name") else variable.dtype))
        except Exception:
            pass

    def start_fresh(self) -> bool:
        """Zero every state variable (not the learning rate); True when the optimiser is known."""
        if self.optimizer is None:
            return False
        for variable, _ in self.saved:
            if not str(getattr(variable, "path", getattr(variable, "name", ""))).endswith("learning_rate"):
                self._zero(variable)
        return True

    def restore(self) -> None:
        saved = {id(variable): value for variable, value in self.saved}
        for variable in self._variables():
            value = saved.get(id(variable))
            if value is not None and tuple(np.shape(value)) == tuple(variable.shape):
                try:
                    variable.assign(value)
                    continue
                except Exception:
                    pass
            self._zero(variable)


def check_train_step(train_step: Callable, generated_image, vgg_model_outputs: Callable, a_C, a_S,
                     style_layers: Sequence, alpha: float = 10.0, beta: float = 40.0, optimizer=None,
                     rtol: float = 1e-3) -> None:
    """Check the course's ``train_step(generated_image)`` by running it twice and watching the image.

    The check puts a test image into ``generated_image`` (the notebook's own image with some rows
    set to exactly 0 and 1), calls ``train_step`` twice, and verifies that

    1. each call returns J = alpha * J_content + beta * J_style of the image *before* its update,
       computed here with :mod:`utils.losses` and the same ``vgg_model_outputs``, ``a_C`` and
       ``a_S`` (so the learner's function must compute the costs of ``generated_image`` itself);
    2. the image changes, moves downhill (against the gradient of J) and J decreases; when
       ``optimizer`` is given, the check starts it fresh and replays the two steps with a fresh
       copy of it, to tell the gradient of the whole J from that of J_style or J_content alone;
    3. the image stays in [0, 1] (clipped after the update, as in the course).

    Afterwards ``generated_image`` gets its original value back and, when ``optimizer`` is given,
    so do the optimiser's variables (Adam's moment estimates and step counter), whatever
    ``train_step`` did.

    Args:
        train_step: the learner's function; takes the ``tf.Variable`` and returns J.
        generated_image: the ``tf.Variable`` (1, H, W, 3) that ``train_step`` updates.
        vgg_model_outputs: function image -> list of layer outputs (style layers, then the content layer).
        a_C, a_S: outputs of ``vgg_model_outputs`` for the content and the style image.
        style_layers: the ``STYLE_LAYERS`` list of ``(layer name, weight)`` pairs.
        alpha, beta: the weights ``train_step`` passes to ``total_cost``.
        optimizer: the optimiser ``train_step`` uses (optional; to start it fresh and restore it).
        rtol: relative tolerance on J.

    Returns:
        None; prints "All tests passed." when everything holds.

    Raises:
        ExerciseNotImplemented: ``train_step`` (or an exercise it calls) still raises its stub.
        CheckFailed: a wrong step, or an error in the learner's code, with the likely mistake.
    """
    tf = _tf()
    if not isinstance(generated_image, tf.Variable):
        fail("check_train_step: pass the tf.Variable that train_step updates (generated_image); "
             f"got {type(generated_image).__name__}")
    original = generated_image.numpy()
    state = _OptimizerState(optimizer)

    def J_of(image):
        return _reference_total(vgg_model_outputs, a_C, a_S, style_layers, alpha, beta, tf.constant(image))

    def close(x, y):
        return abs(x - y) <= rtol * max(abs(y), 1e-12)

    try:
        fresh = state.start_fresh()
        image = _saturated_test_image(original)
        generated_image.assign(image)
        images = [image]
        for step in (1, 2):
            expected = J_of(image)
            gradient = _reference_gradient(vgg_model_outputs, a_C, a_S, style_layers, alpha, beta, image)
            returned = call_learner("train_step", train_step, Case((generated_image,), description=f"step {step}"))
            try:
                J = float(np.asarray(returned.numpy() if hasattr(returned, "numpy") else returned))
            except (TypeError, ValueError):
                fail(f"Exercise `train_step`: return J, the scalar total cost; got {type(returned).__name__}.")
            updated = generated_image.numpy()
            where = f" (step {step})"
            if not close(J, expected):
                hints = []
                if close(J, J_of(updated)):
                    hints.append("Likely mistake (J after the update): return the J computed inside the "
                                 "GradientTape, i.e. the cost of the image before this step.")
                elif close(J, _reference_total(vgg_model_outputs, a_C, a_S, style_layers, beta, alpha,
                                               tf.constant(image))):
                    hints.append("Likely mistake (alpha and beta swapped): "
                                 "J = total_cost(J_content, J_style, alpha=alpha, beta=beta).")
                elif close(J, _reference_total(vgg_model_outputs, a_C, a_S, style_layers, alpha, beta,
                                               tf.constant(image), style_source=a_C)):
                    hints.append("Likely mistake (style of the content image): the style cost compares "
                                 "a_S (the style image's outputs) with a_G: compute_style_cost(a_S, a_G).")
                message = (f"Exercise `train_step`: wrong J{where}.\n  expected: {expected:.6g} (J of the "
                           f"image before the update)\n  got:      {J:.6g}")
                message += ("\n  " + "\n  ".join(hints)) if hints else (
                    "\n  Compute a_G = vgg_model_outputs(generated_image), then "
                    "J_style = compute_style_cost(a_S, a_G), J_content = compute_content_cost(a_C, a_G) and J = total_cost(J_content, J_style, alpha, beta).")
                fail(message)
            if np.array_equal(updated, image):
                fail(f"Exercise `train_step`: the image did not change{where}.\n  Likely mistake (no update): "
                     "take grad = tape.gradient(J, generated_image) and call "
                     "optimizer.apply_gradients([(grad, generated_image)]).")
            if updated.min() < 0.0 or updated.max() > 1.0:
                fail(f"Exercise `train_step`: the image left [0, 1]{where}: values from {updated.min():.4g} "
                     f"to {updated.max():.4g}.\n  Likely mistake (no clipping): after the update, "
                     "generated_image.assign(clip_0_1(generated_image)), i.e. tf.clip_by_value(..., 0.0, 1.0).")
            agreement = _direction_agreement(image, updated, gradient)
            downhill = agreement if agreement is not None else 0.0
            if downhill < 0.5:
                fail(f"Exercise `train_step`: the image moved uphill{where}: only {downhill:.0%} of the changed "
                     "pixels moved against the gradient of J.\n  Likely mistake (gradient ascent): give the "
                     "optimizer the gradient itself, optimizer.apply_gradients([(grad, generated_image)]); "
                     "it subtracts it.")
            if not J_of(updated) < expected:
                fail(f"Exercise `train_step`: J did not decrease{where}: {expected:.6g} -> {J_of(updated):.6g}. "
                     "Check the learning rate of the optimizer and that you update generated_image.")
            image = updated
            images.append(updated)
        if fresh:
            # Replay the two steps with a fresh copy of the optimiser: Adam's first step moves each pixel
            # by the learning rate against the SIGN of its gradient, so a gradient of one term alone
            # can look right after one step; the second step shows the magnitudes.
            part = _which_gradient(optimizer, images, lambda image, part: _reference_gradient(
                vgg_model_outputs, a_C, a_S, style_layers, alpha, beta, image, part))
            if part:
                term = "beta * J_style" if part == "J_style" else "alpha * J_content"
                fail(f"Exercise `train_step`: the image follows the gradient of {part} alone: replaying your two "
                     f"steps with a fresh copy of your optimizer, -grad({term}) reproduces them, -grad(J) does "
                     f"not.\n  Likely mistake (gradient of {part} only): differentiate the TOTAL cost, "
                     "grad = tape.gradient(J, generated_image), with "
                     "J = total_cost(J_content, J_style, alpha=alpha, beta=beta).")
    finally:
        try:
            generated_image.assign(original)
        finally:
            state.restore()
    print("All tests passed.")
