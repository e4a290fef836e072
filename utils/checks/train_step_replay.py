"""The replay of notebook 04's ``train_step`` check: what each step should have done, and the named wrong ones.

The judge (:class:`utils.checks.train_step.TrainStep`) replays every recorded step of the learner's
``train_step`` with the course's costs and the same network: :class:`Replay` computes J of the
image before the step and the gradient-descent step the check's learning rate gives
(:func:`step_rate`); :func:`cost_alternatives` and :func:`update_alternatives` are the named wrong
J's and wrong steps, each named only where it reproduces every recorded step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf

from utils import losses
from utils.checks.cases import Case

__all__ = [
    "STEP_SIZE",
    "cost_gradients",
    "step_rate",
    "cost_alternatives",
    "UpdateRule",
    "update_alternatives",
    "Step",
    "Replay",
]

#: The largest pixel move of the check's gradient-descent step: each case's learning rate is this
#: divided by the largest entry of grad(J) at its start.
STEP_SIZE = 0.05


def cost_gradients(
    vgg_model_outputs: Callable, image: np.ndarray, case: Case, weights: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """The gradients of J_content and of J_style (unweighted, the course's costs) at ``image``."""
    variable = tf.Variable(image)
    with tf.GradientTape(persistent=True) as tape:
        a_G = vgg_model_outputs(variable)
        J_content = losses.content_cost(case.kwargs["a_C"][-1], a_G[-1])
        J_style = losses.style_cost(case.kwargs["a_S"][:-1], a_G[:-1], weights)
    gradients = (tape.gradient(J_content, variable).numpy(), tape.gradient(J_style, variable).numpy())
    del tape
    return gradients


def step_rate(context: dict, case: Case) -> float:
    """The check's learning rate for ``case``: the largest pixel of the right step moves by :data:`STEP_SIZE`."""
    weights = [weight for _, weight in context["style_layers"]]
    gradients = cost_gradients(context["vgg_model_outputs"], case.args[0], case, weights)
    return _rate(float(context["alpha"]), float(context["beta"]), *gradients)


def _rate(alpha: float, beta: float, g_content: np.ndarray, g_style: np.ndarray) -> float:
    return STEP_SIZE / max(float(np.abs(alpha * g_content + beta * g_style).max()), 1e-12)


_TOTAL = "J = total_cost(J_content, J_style, alpha=alpha, beta=beta)"


def cost_alternatives(alpha: float, beta: float) -> list[tuple[str, str, Callable]]:
    """``(label, hint, J(replay, step, J_content, J_style))`` of the classic wrong J's."""
    return [
        (
            "J after the update",
            "return the J computed inside the GradientTape, i.e. the cost of the image before this step.",
            lambda replay, step, c, s: replay.total(*replay.costs(step.after, step.case)),
        ),
        ("alpha and beta swapped", f"{_TOTAL}.", lambda replay, step, c, s: beta * c + alpha * s),
        (
            "style of the content image",
            "the style cost compares a_S (the style image's outputs) with a_G: compute_style_cost(a_S, a_G).",
            lambda replay, step, c, s: (
                alpha * c + beta * replay.costs(step.before, step.case, style_targets=step.case.kwargs["a_C"])[1]
            ),
        ),
        (
            "content of the style image",
            "the content cost compares a_C (the content image's outputs) with a_G: compute_content_cost(a_C, a_G).",
            lambda replay, step, c, s: (
                alpha * replay.costs(step.before, step.case, content_targets=step.case.kwargs["a_S"])[0] + beta * s
            ),
        ),
        (
            "beta * J_style only",
            f"J is the TOTAL cost: {_TOTAL}, not the style term alone.",
            lambda replay, step, c, s: beta * s,
        ),
        (
            "alpha * J_content only",
            f"J is the TOTAL cost: {_TOTAL}, not the content term alone.",
            lambda replay, step, c, s: alpha * c,
        ),
        ("weights left out", f"weigh the two costs: {_TOTAL}.", lambda replay, step, c, s: c + s),
    ]


@dataclasses.dataclass(frozen=True)
class UpdateRule:
    """A step ``image - times * rate * (content_weight * grad J_content + style_weight * grad J_style)``, clipped."""

    label: str
    hint: str
    content_weight: float
    style_weight: float
    times: float = 1.0


def update_alternatives(alpha: float, beta: float) -> list[UpdateRule]:
    """The classic wrong steps (the right one is ``UpdateRule("", "", alpha, beta)``)."""
    total = f"differentiate the TOTAL cost, grad = tape.gradient(J, generated_image), with {_TOTAL}."
    return [
        UpdateRule(
            "no update",
            "take grad = tape.gradient(J, generated_image) and call "
            "optimizer.apply_gradients([(grad, generated_image)]).",
            alpha,
            beta,
            times=0.0,
        ),
        UpdateRule(
            "gradient ascent",
            "give the optimizer the gradient itself, optimizer.apply_gradients([(grad, "
            "generated_image)]); it subtracts it.",
            alpha,
            beta,
            times=-1.0,
        ),
        UpdateRule(
            "update applied twice",
            "call optimizer.apply_gradients once per step: each call moves the image again.",
            alpha,
            beta,
            times=2.0,
        ),
        UpdateRule("gradient of J_style only", total, 0.0, 1.0),
        UpdateRule("gradient of beta * J_style only", total, 0.0, beta),
        UpdateRule("gradient of J_content only", total, 1.0, 0.0),
        UpdateRule("gradient of alpha * J_content only", total, alpha, 0.0),
        UpdateRule("gradient of the unweighted J_content + J_style", total, 1.0, 1.0),
    ]


@dataclasses.dataclass
class Step:
    """One step the learner's ``train_step`` took: the image before and after it, and the J it returned."""

    case: Case
    index: int
    before: np.ndarray
    after: np.ndarray
    J: float
    targets_found: list
    global_image_changed: bool


class Replay:
    """The judge's side: the course's costs and gradients with the same network, and the check's steps."""

    def __init__(self, context: dict):
        self.vgg = context["vgg_model_outputs"]
        self.weights = [weight for _, weight in context["style_layers"]]
        self.alpha, self.beta = float(context["alpha"]), float(context["beta"])
        self.rtol = float(context.get("rtol") or 1e-3)
        self._gradients: dict = {}  # id(image) -> (image, its gradients): the image kept, so its id stays its own

    def costs(self, image, case: Case, content_targets=None, style_targets=None) -> tuple[float, float]:
        """(J_content, J_style) of ``image``, against the case's targets unless others are given."""
        a_G = self.vgg(tf.constant(image))
        content_targets = case.kwargs["a_C"] if content_targets is None else content_targets
        style_targets = case.kwargs["a_S"] if style_targets is None else style_targets
        return (
            float(losses.content_cost(content_targets[-1], a_G[-1])),
            float(losses.style_cost(style_targets[:-1], a_G[:-1], self.weights)),
        )

    def total(self, J_content: float, J_style: float) -> float:
        return self.alpha * J_content + self.beta * J_style

    def close(self, value: float, expected: float) -> bool:
        return abs(value - expected) <= self.rtol * max(abs(expected), 1e-12)

    def gradients_at(self, image: np.ndarray, case: Case) -> tuple[np.ndarray, np.ndarray]:
        """(grad J_content, grad J_style) at ``image``, computed once per image."""
        if id(image) not in self._gradients:
            self._gradients[id(image)] = (image, cost_gradients(self.vgg, image, case, self.weights))
        return self._gradients[id(image)][1]

    def gradients(self, step: Step) -> tuple[np.ndarray, np.ndarray]:
        return self.gradients_at(step.before, step.case)

    def rate(self, case: Case) -> float:
        """:func:`step_rate` of ``case``, from the gradients at its start (the first step's, shared)."""
        return _rate(self.alpha, self.beta, *self.gradients_at(case.args[0], case))

    def matches(self, step: Step, rule: UpdateRule) -> bool:
        """The learner's image after ``step`` is ``rule``'s step: at most 2 % of the pixels that either the
        right step or ``rule``'s moves by more than 0.1 % of :data:`STEP_SIZE` are farther than a tenth of
        ``rule``'s move (plus rounding) from where ``rule`` puts them."""
        g_content, g_style = self.gradients(step)
        rate = self.rate(step.case)
        right = rate * np.abs(self.alpha * g_content + self.beta * g_style)
        moved = rate * (rule.content_weight * g_content + rule.style_weight * g_style) * rule.times
        simulated = np.clip(step.before.astype(np.float64) - moved, 0.0, 1.0)
        mask = np.maximum(right, np.abs(moved)) > 1e-3 * STEP_SIZE
        if not mask.any():
            return True
        differs = np.abs(step.after.astype(np.float64) - simulated) > 0.1 * np.abs(moved) + 2e-6
        return float(np.mean(differs[mask])) <= 0.02


# ----------------------------------------------------------------------------------------------
