"""The check of notebook 04's ``train_step(generated_image)``: one optimizer step on the pixels, clipped.

The check runs the learner's ``train_step`` on small images of its own (32 x 48 pixels), two steps
per case, with the notebook's ``a_C`` and ``a_S`` replaced (wherever ``train_step`` reads them: its
globals or its closure) by the check's targets, and the notebook's optimizer by plain gradient
descent (``keras.optimizers.SGD``) with a learning rate of the check's own per case. Adam's first
step is about ``lr * sign(g)`` for every pixel, whatever the weights inside ``g``: with gradient
descent the step is ``lr * g`` itself, so a gradient of ``beta * J_style``, of ``J_style`` alone or
of the unweighted ``J_content + J_style`` moves the pixels by other amounts than ``grad(J)``, in
every case. The judge then replays each step (:class:`Replay`) with the course's costs and the
same network, in named steps: the image given is the one that changes, J of the image before
the step, the image stays in [0, 1], the step itself.

What each case rules out (J is checked in every case, the step too):

* the content image plus noise, some rows at exactly 0 and 1 (J balanced between the terms): no
  clipping (the rows at the bounds leave [0, 1]), gradient ascent, no update, J after the update,
  alpha and beta swapped;
* the style image plus a little noise (J is mostly ``alpha * J_content``): the content cost taken
  against the style image, ``return beta * J_style``, the style of the content image;
* the style image itself (``J_style = 0``, its gradient 0: the content gradient decides the
  step): the gradient of ``J_style`` or ``beta * J_style`` alone does not move the image;
* the content image itself (``J_content = 0``: J is all ``beta * J_style``): the gradient of
  ``J_content`` alone, ``return alpha * J_content``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from utils import assets
from utils.checks.cases import Case, hidden_rng
from utils.checks.comparing import describe, type_name
from utils.checks.declaration import Exercise
from utils.checks.instrumentation import ObjectsReplaced, python_function, quietly, record, referenced_objects
from utils.checks.learner_errors import crash_text, stub_text
from utils.checks.observation import Verdict
from utils.checks.train_step_replay import (
    STEP_SIZE,
    Replay,
    Step,
    UpdateRule,
    cost_alternatives,
    step_rate,
    update_alternatives,
)
from utils.checks.values import decode_value, encode_value
from utils.errors import CheckContextError
from utils.nst import build_extractor, get_preset

__all__ = ["check_train_step"]

_TRAIN_SHAPE = (1, 32, 48, 3)
_TRAIN_STEPS = 2

_GRADIENT_HINT = (
    "Likely mistake (None gradient): tape.gradient(J, generated_image) returned None, because J was "
    "not computed from generated_image inside the tape: call a_G = vgg_model_outputs(generated_image) "
    "and the three costs INSIDE the `with tf.GradientTape() as tape:` block."
)
_GLOBAL_IMAGE_HINT = (
    "Likely mistake (a global instead of the argument): inside train_step use its argument, the "
    "image it is given (train_step(generated_image) updates THAT variable), not the notebook's "
    "variable of another name."
)


# ----------------------------------------------------------------------------------------------
# The cases
# ----------------------------------------------------------------------------------------------


def _train_images() -> tuple[np.ndarray, np.ndarray]:
    """A smooth "content" image and a striped "style" image in [0, 1] (fixed, deterministic)."""
    _, height, width, _ = _TRAIN_SHAPE
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    content = np.stack(
        [0.5 + 0.3 * np.sin(rows / 5.0), 0.5 + 0.3 * np.cos(columns / 7.0), 0.4 + 0.2 * np.sin((rows + columns) / 9.0)],
        axis=-1,
    )
    noise = np.random.default_rng(22).uniform(-0.1, 0.1, (height, width, 3)).astype(np.float32)
    style = (
        np.stack(
            [0.5 + 0.4 * np.sign(np.sin(columns / 2.0)), 0.3 + 0.2 * np.sign(np.sin(rows / 3.0)), 0.6 + 0.0 * rows],
            axis=-1,
        )
        + noise
    )
    return (np.clip(content, 0, 1)[None].astype(np.float32), np.clip(style, 0, 1)[None].astype(np.float32))


_TARGETS: dict = {}


def _targets(vgg_model_outputs: Callable) -> tuple[list, list, np.ndarray, np.ndarray]:
    """(a_C, a_S) of the check's images as arrays, and the images (cached per network)."""
    key = id(vgg_model_outputs)
    if key not in _TARGETS or _TARGETS[key][0] is not vgg_model_outputs:
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


def _train_cases(context: dict, seed: int | None) -> list[Case]:
    a_C, a_S, content, style = _targets(context["vgg_model_outputs"])
    rng = np.random.default_rng(23)
    targets = {"a_C": a_C, "a_S": a_S}
    noisy = np.clip(content + rng.uniform(-0.25, 0.25, content.shape), 0, 1).astype(np.float32)
    near_style = np.clip(style + rng.uniform(-0.03, 0.03, style.shape), 0, 1).astype(np.float32)
    cases = [
        Case((_saturated_test_image(noisy),), targets, "the content image plus noise, some rows at exactly 0 and 1"),
        Case((near_style,), targets, "the style image plus a little noise (J is mostly alpha * J_content)"),
        Case((style,), targets, "the style image itself (J_style = 0: the content gradient decides the step)"),
        Case((content,), targets, "the content image itself (J_content = 0: J is all beta * J_style)"),
    ]
    if seed is not None:
        hidden = hidden_rng(seed, "train_step")
        mix = float(hidden.uniform(0.2, 0.8))
        start = np.clip(mix * content + (1 - mix) * style + hidden.uniform(-0.1, 0.1, content.shape), 0, 1)
        cases.append(Case((start.astype(np.float32),), targets, f"a mix of {mix:.2f} content and style"))
    return cases


def _is_optimizer(value) -> bool:
    return hasattr(value, "apply_gradients") and hasattr(value, "get_config") and not inspect.isclass(value)


def _scalar(value) -> float | None:
    """The returned J as a float, or None when it is not one number."""
    if isinstance(value, (bool, str)) or value is None:
        return None
    try:
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.reshape(-1)[0]) if array.size == 1 else None


# ----------------------------------------------------------------------------------------------
# The check
# ----------------------------------------------------------------------------------------------


class TrainStep(Exercise):
    """``train_step(generated_image)``: runs two steps per case and replays them (see the module's docstring)."""

    silence = False  # the learner's prints stay (a tf.function prints when traced)

    # ---- kernel side
    def run(self, function: Callable, context: dict, cases: Sequence[Case]) -> list[dict]:
        inner = python_function(function)
        optimizer = context.get("optimizer") or next(
            (value for value in referenced_objects(inner) if _is_optimizer(value)), None
        )
        content_targets = [tf.Variable(target) for target in cases[0].kwargs["a_C"]]
        style_targets = [tf.Variable(target) for target in cases[0].kwargs["a_S"]]
        descent = keras.optimizers.SGD(learning_rate=STEP_SIZE)
        replacements = {id(context["a_C"]): content_targets, id(context["a_S"]): style_targets}
        if optimizer is not None:
            replacements[id(optimizer)] = descent
        notebook_image = context["generated_image"]
        saved = notebook_image.numpy()
        image = tf.Variable(cases[0].args[0])
        records = []
        try:
            with ObjectsReplaced(inner, replacements) as replaced:
                found = [name for name in ("a_C", "a_S") if id(context[name]) in replaced.found]
                call = quietly(tf.function(inner) if inner is not function else function)
                for case in cases:
                    for variables, values in (
                        (content_targets, case.kwargs["a_C"]),
                        (style_targets, case.kwargs["a_S"]),
                    ):
                        for variable, value in zip(variables, values):
                            variable.assign(value)
                    descent.learning_rate = step_rate(context, case)
                    image.assign(case.args[0])
                    records.append(self.run_case(call, image, notebook_image, saved, found))
        finally:
            notebook_image.assign(saved)
        return records

    def run_case(self, call: Callable, image, notebook_image, saved: np.ndarray, found: list) -> dict:
        """Two steps from the case's image: the J's returned and the images after each step."""
        returned, images, outcome = [], [], {}
        for _ in range(_TRAIN_STEPS):
            outcome = record(self.name, lambda: call(image))
            if "result" not in outcome:
                break
            returned.append(outcome["result"])
            images.append(image.numpy())
        changed = not np.array_equal(notebook_image.numpy(), saved)
        if changed:
            notebook_image.assign(saved)
        if "result" not in outcome:
            return outcome
        return {
            "result": {
                "$dict": {
                    "J": {"$list": returned},
                    "images": encode_value(images),
                    "global_image_changed": changed,
                    "targets_found": encode_value(found),
                }
            }
        }

    def extras(self, function: Callable, context: dict) -> dict:
        """Does ``train_step`` read the notebook's own image variable (instead of its argument)?"""
        read = referenced_objects(python_function(function))
        return {"reads_notebook_image": any(value is context["generated_image"] for value in read)}

    # ---- judge side
    def evaluate(self, records, cases, context, observation) -> Verdict:
        reads_global = bool(decode_value(observation.extras.get("reads_notebook_image", False)))
        steps = self.collect_steps(records, cases, reads_global)
        if isinstance(steps, Verdict):
            return steps
        replay = Replay(context)
        for check in (self.check_image_argument, self.check_costs, self.check_range, self.check_updates):
            verdict = check(steps, replay, reads_global)
            if verdict:
                return verdict
        return Verdict(self.name, "passed", "")

    def collect_steps(self, records, cases, reads_global: bool) -> list[Step] | Verdict:
        """Every step of every case, or the verdict on the first case that raised or is malformed."""
        steps = []
        for case, record_ in zip(cases, records):
            if "error" in record_:
                return self.step_error(case, record_["error"], reads_global)
            data = decode_value(record_["result"])
            if (
                not isinstance(data, dict)
                or set(data) != {"J", "images", "global_image_changed", "targets_found"}
                or not isinstance(data["J"], list)
                or not isinstance(data["images"], list)
                or len(data["J"]) != _TRAIN_STEPS
                or len(data["images"]) != _TRAIN_STEPS
                or not isinstance(data["targets_found"], list)
            ):
                return Verdict(self.name, "error", "malformed observation of `train_step`")
            before = case.args[0]
            for index, (returned, after) in enumerate(zip(data["J"], data["images"])):
                if not isinstance(after, np.ndarray):
                    return Verdict(self.name, "error", "malformed observation of `train_step`")
                J = _scalar(returned)
                if J is None:
                    return Verdict(
                        self.name,
                        "failed",
                        f"Exercise `train_step`: return J, the scalar total cost; "
                        f"got the {type_name(returned)} {describe(returned)}.",
                    )
                if after.shape != before.shape:
                    return Verdict(self.name, "failed", "Exercise `train_step`: the image changed shape.")
                steps.append(
                    Step(
                        case,
                        index,
                        before,
                        after.astype(np.float32),
                        J,
                        data["targets_found"],
                        bool(data["global_image_changed"]),
                    )
                )
                before = after.astype(np.float32)
        return steps or Verdict(self.name, "error", "malformed observation of `train_step`")

    def step_error(self, case: Case, error: dict, reads_global: bool) -> Verdict:
        """The verdict on an error raised by the learner's ``train_step`` (or an exercise it calls)."""
        if error.get("stub"):
            return Verdict(self.name, "not attempted", stub_text(self.name, error))
        if reads_global:
            return Verdict(self.name, "failed", crash_text(self.name, error, case.description, hint=_GLOBAL_IMAGE_HINT))
        no_gradient = "No gradients provided" in error["message"] or "None values not supported" in error["message"]
        return Verdict(
            self.name,
            "error",
            crash_text(self.name, error, case.description, hint=_GRADIENT_HINT if no_gradient else None),
        )

    def check_image_argument(self, steps: list[Step], replay: Replay, reads_global: bool) -> Verdict | None:
        """1. The image the learner's function received is the one that changes."""
        for step in steps:
            if (step.global_image_changed or reads_global) and np.array_equal(step.before, step.after):
                return Verdict(
                    self.name,
                    "failed",
                    (
                        f"Exercise `train_step`: your function changed the notebook's `generated_image`, not the image "
                        f"it was given (for {step.case.description}).\n  " + _GLOBAL_IMAGE_HINT
                    ),
                )
        return None

    def check_costs(self, steps: list[Step], replay: Replay, reads_global: bool) -> Verdict | None:
        """2. Each J returned is J of the image before the step (else the named J that explains every step)."""
        parts = [replay.costs(step.before, step.case) for step in steps]
        expected = [replay.total(*part) for part in parts]
        wrong = [index for index, (step, value) in enumerate(zip(steps, expected)) if not replay.close(step.J, value)]
        if not wrong:
            return None
        step = steps[wrong[0]]
        message = (
            f"Exercise `train_step`: wrong J (step {step.index + 1}, {step.case.description}).\n  expected: "
            f"{expected[wrong[0]]:.6g} (J of the image before the update)\n  got:      {step.J:.6g}"
        )
        for label, hint, alternative in cost_alternatives(replay.alpha, replay.beta):
            try:
                if all(replay.close(each.J, alternative(replay, each, *part)) for each, part in zip(steps, parts)):
                    return Verdict(self.name, "failed", message + f"\n  Likely mistake ({label}): {hint}")
            except Exception:  # an alternative that cannot be computed on this observation explains nothing
                continue
        missing = [target for target in ("a_C", "a_S") if target not in step.targets_found]
        if missing:
            return Verdict(
                self.name,
                "failed",
                message
                + (
                    f"\n  Your train_step does not read the notebook's {' and '.join(f'`{name}`' for name in missing)}: "
                    f"compute the costs against the global a_C and a_S (the check replaces them by its own targets)."
                ),
            )
        return Verdict(
            self.name,
            "failed",
            message
            + (
                "\n  Compute a_G = vgg_model_outputs(generated_image) inside the tape, then J_style = "
                "compute_style_cost(a_S, a_G), J_content = compute_content_cost(a_C, a_G) and J = "
                "total_cost(J_content, J_style, alpha=alpha, beta=beta)."
            ),
        )

    def check_range(self, steps: list[Step], replay: Replay, reads_global: bool) -> Verdict | None:
        """3. The image stays in [0, 1]."""
        for step in steps:
            if step.after.min() < 0.0 or step.after.max() > 1.0:
                return Verdict(
                    self.name,
                    "failed",
                    (
                        f"Exercise `train_step`: the image left [0, 1] (step {step.index + 1}, {step.case.description}): "
                        f"values from {step.after.min():.4g} to {step.after.max():.4g}.\n  Likely mistake (no clipping): "
                        f"after the update, generated_image.assign(clip_0_1(generated_image)), i.e. "
                        f"tf.clip_by_value(..., 0.0, 1.0)."
                    ),
                )
        return None

    def check_updates(self, steps: list[Step], replay: Replay, reads_global: bool) -> Verdict | None:
        """4. Each step is one step of the optimizer on grad(J), then the clip (else the named step that
        explains every step)."""
        right = UpdateRule("", "", replay.alpha, replay.beta)
        matched = [replay.matches(step, right) for step in steps]
        if all(matched):
            return None
        step = steps[matched.index(False)]
        message = (
            f"Exercise `train_step`: J is right, but the image after step {step.index + 1} "
            f"({step.case.description}) is not one step of the optimizer on grad(J) followed by clipping "
            f"to [0, 1]"
        )
        for rule in update_alternatives(replay.alpha, replay.beta):
            if all(replay.matches(each, rule) for each in steps):
                return Verdict(self.name, "failed", f"{message}.\n  Likely mistake ({rule.label}): {rule.hint}")
        return Verdict(
            self.name,
            "failed",
            message
            + (
                ".\n  Inside train_step: grad = tape.gradient(J, generated_image), then "
                "optimizer.apply_gradients([(grad, generated_image)]) once, then "
                "generated_image.assign(clip_0_1(generated_image))."
            ),
        )


def _trusted_nst_context() -> dict:
    """The notebook's network and settings, built from the course's assets (as notebook 04's setup does)."""
    preset = get_preset("course" if assets.find("vgg19_full") is not None else "blocks123")
    names = list(preset.style_layers) + [preset.content_layer]
    extractor = build_extractor(names)

    def vgg_model_outputs(image):
        outputs = extractor(image)
        return [outputs[name] for name in names]

    return {
        "generated_image": None,
        "vgg_model_outputs": vgg_model_outputs,
        "a_C": None,
        "a_S": None,
        "style_layers": list(preset.style_layers.items()),
        "alpha": preset.alpha,
        "beta": preset.beta,
        "optimizer": None,
        "rtol": 1e-3,
    }


@TrainStep.declare(
    reference=lambda generated_image: None,
    cases=_train_cases,
    trusted_context=_trusted_nst_context,
    depends_on=("compute_content_cost", "compute_style_cost", "total_cost"),
    answer_key=("utils.nst.engine.StyleTransfer.train_step",),
    arguments=("generated_image",),
    hint="Compute J inside the tape, take its gradient, apply it once, clip.",
)
def check_train_step(
    train_step: Callable,
    generated_image,
    vgg_model_outputs: Callable,
    a_C,
    a_S,
    style_layers: Sequence,
    alpha: float = 10.0,
    beta: float = 40.0,
    optimizer=None,
    rtol: float = 1e-3,
) -> None:
    """Check the course's ``train_step(generated_image)`` on small test images, two steps each.

    The check runs ``train_step`` on images of its own (see :mod:`utils.checks.train_step`), with the
    notebook's ``a_C``, ``a_S`` and optimizer replaced, wherever ``train_step`` reads them, by its
    own targets and plain gradient descent. It verifies that each call returns J = alpha *
    J_content + beta * J_style of the image before the update (computed with :mod:`utils.losses`
    and the same ``vgg_model_outputs``), that the image stays in [0, 1], and that each step is one
    step of the optimizer on grad(J) followed by the clip. Afterwards ``generated_image``, ``a_C``,
    ``a_S`` and the optimizer are untouched.

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
        CheckContextError: ``generated_image`` is not a ``tf.Variable`` or ``vgg_model_outputs`` not a function.
    """
    if not isinstance(generated_image, tf.Variable):
        raise CheckContextError(
            "check_train_step: pass the tf.Variable that train_step updates (generated_image); "
            f"got {type(generated_image).__name__}"
        )
    if not callable(vgg_model_outputs):
        raise CheckContextError("check_train_step: vgg_model_outputs must be the function image -> layer outputs")
