"""Families of wrong answers that fooled the checks (issue 29, item 7), each with a learner answer of it.

Every function below is written the way a learner wrote it (not taken from the checks' own
mistake variants). Families:

* lenient results: a distance of shape (1,), a float where an int is asked;
* cases too small or too kind: int32 normalisers on VGG-sized layers, ``min_dist`` starting at 1.0,
  a ``train_step`` that differentiates another cost than J;
* right only with the learner's own earlier function;
* hints chosen by look-alike numbers or words;
* noise in messages (retracing warnings, internal class names, terminal escapes, ``{{node ...}}``).

The face tests use the real encoder (skipped without it); ``train_step`` uses a tiny two-layer
network with seeded random kernels instead of VGG19 (all its check needs).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tiny_vgg import ALPHA, BETA, STYLE_LAYERS, TinyNetwork
from utils import assets, checks, config
from utils.errors import CheckFailed, ExerciseCrashed
from utils.faces import img_to_encoding, load_encoder

ENCODER = assets.find("dlib_face_resnet_keras")
needs_encoder = pytest.mark.skipif(ENCODER is None, reason="asset dlib_face_resnet_keras not found (make setup)")
THRESHOLD = 0.6


def failure(check, *args, **kwargs) -> str:
    with pytest.raises(CheckFailed) as raised:
        check(*args, **kwargs)
    return str(raised.value)


# ---------------------------------------------------------------------------- the course faces

_encodings: dict = {}


def encode(image_path, model):
    if str(image_path) not in _encodings:
        _encodings[str(image_path)] = img_to_encoding(image_path, model)
    return _encodings[str(image_path)]


@pytest.fixture(scope="module")
def course():
    model = load_encoder()
    folder = assets.resolve("faces_demo") / "course"
    return model, {name: encode(folder / f"{name}.jpg", model) for name in ("younes", "bertrand", "benoit", "kian")}


# ---------------------------------------------------------------------------- lenient results


def verify_axis(image_path, identity, database, model):
    dist = np.linalg.norm(encode(image_path, model) - database[identity], axis=-1)  # shape (1,)
    return dist, bool(dist < THRESHOLD)


def who_is_it_axis(image_path, database, model):
    encoding = encode(image_path, model)
    min_dist, identity = 100, None
    for name, db_enc in database.items():
        dist = np.linalg.norm(encoding - db_enc, axis=1)  # shape (1,)
        if dist < min_dist:
            min_dist, identity = dist, name
    return min_dist, identity if min_dist < THRESHOLD else "not recognized"


@pytest.mark.slow
@needs_encoder
@pytest.mark.parametrize(
    "check, function", [(checks.check_verify, verify_axis), (checks.check_who_is_it, who_is_it_axis)]
)
def test_a_distance_of_shape_1_is_not_one_number(course, check, function):
    model, database = course
    message = failure(check, function, database, model)
    assert "expected one number (a float), got an array of shape (1,)" in message, message


@pytest.mark.parametrize(
    "check, function, words",
    [
        (
            checks.check_conv_output_size,
            lambda n, f, p, s: np.floor((n + 2 * p - f) / s) + 1,
            "expected an int, got the numpy.float64 10.0",
        ),
        (
            checks.check_conv_param_count,
            lambda f, rank, c_in, c_out: (f**rank * c_in + 1.0) * c_out,
            "expected an int, got the float 96.0",
        ),
        (
            checks.check_receptive_field_step,
            lambda r, j, c, k, s, p: (r + (k - 1) * j * 1.0, j * s, c + ((k - 1) / 2 - p) * j),
            "the 1st returned value: expected an int, got the float 3.0",
        ),
    ],
)
def test_a_float_where_an_int_is_asked_fails_saying_so(check, function, words):
    message = failure(check, function)
    assert "the value is right" in message and words in message, message
    name = check.__name__[len("check_") :]
    graded = checks.judge(name, checks.observe(name, function, seed=4), seed=4, grading=True)
    assert graded.status == "failed"


# ---------------------------------------------------------------------------- cases too small or too kind


def layer_style_int32(a_S, a_G):
    _, n_H, n_W, n_C = tf.unstack(tf.shape(a_G))  # int32 tensors
    a_S = tf.transpose(tf.reshape(a_S, [-1, n_C]))
    a_G = tf.transpose(tf.reshape(a_G, [-1, n_C]))
    difference = tf.matmul(a_S, a_S, transpose_b=True) - tf.matmul(a_G, a_G, transpose_b=True)
    return tf.reduce_sum(tf.square(difference)) / tf.cast(4 * n_C**2 * (n_H * n_W) ** 2, tf.float32)


def test_int32_normalisers_fail_on_a_vgg_sized_layer():
    message = failure(checks.check_compute_layer_style_cost, layer_style_int32)
    assert "shape (1, 14, 14, 512)" in message and "(normaliser overflows int32)" in message, message


def who_is_it_from_one(image_path, database, model):
    encoding = encode(image_path, model)
    min_dist, identity = 1.0, None
    for name, db_enc in database.items():
        dist = np.linalg.norm(encoding - db_enc)
        if dist < min_dist:
            min_dist, identity = dist, name
    return min_dist, identity if min_dist < THRESHOLD else "not recognized"


@pytest.mark.slow
@needs_encoder
def test_min_dist_starting_at_one_meets_a_stranger_farther_than_one(course):
    model, database = course
    message = failure(checks.check_who_is_it, who_is_it_from_one, database, model)
    assert "1.3, 1.1 and 1.45" in message and "(min_dist starts at 1.0)" in message, message


def costs(a_C, a_S, a_G):
    from utils import losses

    J_content = losses.content_cost(a_C[-1], a_G[-1])
    J_style = losses.style_cost(a_S[:-1], a_G[:-1], [weight for _, weight in STYLE_LAYERS])
    return J_content, J_style


def learner_train_step(differentiate="J", update="pairs", returns="J"):
    """A notebook-like train_step that returns the right J but differentiates ``differentiate``."""
    network = TinyNetwork()
    rng = np.random.default_rng(1)
    content, style = (rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32) for _ in range(2))
    a_C, a_S = network(tf.constant(content)), network(tf.constant(style))
    generated_image = tf.Variable(content)
    optimizer = keras.optimizers.Adam(learning_rate=0.05)

    @tf.function
    def train_step(generated_image):
        with tf.GradientTape() as tape:
            J_content, J_style = costs(a_C, a_S, network(generated_image))
            J = ALPHA * J_content + BETA * J_style
            wrong = {"J": J, "beta * J_style": BETA * J_style, "J_style": J_style, "unweighted": J_content + J_style}
        grad = tape.gradient(wrong[differentiate], generated_image)
        optimizer.apply_gradients(zip(grad, generated_image) if update == "zip" else [(grad, generated_image)])
        generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
        return tf.stack([J, J]) if returns == "two numbers" else J

    return (train_step, generated_image, network, a_C, a_S, STYLE_LAYERS), {
        "alpha": ALPHA,
        "beta": BETA,
        "optimizer": optimizer,
    }


@pytest.mark.parametrize(
    "differentiate, label",
    [
        ("beta * J_style", "gradient of beta * J_style only"),
        ("J_style", "gradient of J_style only"),
        ("unweighted", "gradient of the unweighted J_content + J_style"),
    ],
)
def test_a_train_step_that_differentiates_another_cost_than_j_fails(differentiate, label):
    arguments, options = learner_train_step(differentiate)
    message = failure(checks.check_train_step, *arguments, **options)
    assert f"({label})" in message, message
    right_arguments, right_options = learner_train_step("J")
    assert checks.check_train_step(*right_arguments, **right_options) is None


# ---------------------------------------------------------------------------- right only with one's own earlier function


def test_a_later_exercise_right_only_with_a_wrong_earlier_one_fails_in_the_notebook_too():
    namespace = {"tf": tf}
    exec(
        "def gram_matrix(A):\n"
        "    return 2 * tf.matmul(A, tf.transpose(A))\n"  # wrong: twice the Gram matrix
        "def compute_layer_style_cost(a_S, a_G):\n"
        "    _, n_H, n_W, n_C = a_G.get_shape().as_list()\n"
        "    GS = gram_matrix(tf.transpose(tf.reshape(a_S, [-1, n_C])))\n"
        "    GG = gram_matrix(tf.transpose(tf.reshape(a_G, [-1, n_C])))\n"
        "    return tf.reduce_sum(tf.square(GS - GG)) / (16 * n_C ** 2 * (n_H * n_W) ** 2)\n",  # compensates
        namespace,
    )
    function = namespace["compute_layer_style_cost"]
    message = failure(checks.check_compute_layer_style_cost, function)
    assert message.startswith("`compute_layer_style_cost` is right only with your `gram_matrix`, which is wrong")
    assert "With the course's `gram_matrix`, as in grading:" in message
    assert (
        checks.judge(
            "compute_layer_style_cost",
            checks.observe("compute_layer_style_cost", function, seed=2),
            seed=2,
            grading=True,
        ).status
        == "failed"
    )


# ---------------------------------------------------------------------------- hints chosen by look-alike numbers or words


def verify_squared_compared(image_path, identity, database, model):
    dist = np.linalg.norm(encode(image_path, model) - database[identity])
    return dist, bool(dist**2 < THRESHOLD)


@pytest.mark.slow
@needs_encoder
def test_a_squared_comparison_is_not_called_the_facenet_threshold(course):
    model, database = course
    message = failure(checks.check_verify, verify_squared_compared, database, model)
    assert "(squared distance compared with the threshold)" in message and "FaceNet" not in message, message


def chi_square_keras_epsilon(encodings_a, encodings_b, epsilon=1e-6):
    return keras.ops.square(encodings_a - encodings_b) / (
        keras.ops.abs(encodings_a) + keras.ops.abs(encodings_b) + keras.config.epsilon()
    )


def test_keras_epsilon_is_not_called_a_forgotten_epsilon():
    message = failure(checks.check_chi_square_features, chi_square_keras_epsilon)
    assert "forgot epsilon" not in message and "(epsilon not the argument)" in message, message
    assert "keras.config.epsilon()" in message


def batch_hard_mean_over_every_anchor(labels, embeddings, margin=0.2):
    labels = tf.reshape(tf.convert_to_tensor(labels), [-1])
    embeddings = tf.convert_to_tensor(embeddings, tf.float32)
    distances = tf.reduce_sum(tf.square(embeddings[:, None] - embeddings[None, :]), axis=-1)
    same = tf.equal(labels[:, None], labels[None, :])
    positive = tf.logical_and(same, tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool)))
    hardest_positive = tf.reduce_max(tf.where(positive, distances, 0.0), axis=1)
    hardest_negative = tf.reduce_min(tf.where(same, tf.reduce_max(distances) + 1.0, distances), axis=1)
    return tf.reduce_mean(tf.maximum(hardest_positive - hardest_negative + margin, 0.0))  # every anchor


def test_a_mean_over_every_anchor_gets_a_hint_that_is_true_of_it():
    """Its numbers are exactly those of a positive mask with the diagonal in: the hint says what both do."""
    message = failure(checks.check_batch_hard_triplet_loss, batch_hard_mean_over_every_anchor)
    assert "(anchors without a positive were scored)" in message
    assert "an anchor is not its own positive" not in message


def content_cost_int_sizes(content_output, generated_output):
    a_C, a_G = content_output[-1], generated_output[-1]
    size = tf.reduce_prod(tf.shape(a_G))  # an int32 tensor
    return tf.reduce_sum(tf.square(a_C - a_G)) / (4.0 * size)


def test_a_tensorflow_dtype_error_is_not_called_numpy():
    with pytest.raises(ExerciseCrashed) as raised:
        checks.check_compute_content_cost(content_cost_int_sizes)
    message = str(raised.value)
    assert "int32" in message and "NumPy" not in message, message


def test_zip_over_a_gradient_is_not_called_numpy():
    arguments, options = learner_train_step(update="zip")
    message = failure(checks.check_train_step, *arguments, **options)
    assert "symbolic" in message and "NumPy" not in message, message


# ---------------------------------------------------------------------------- noise in messages

RETRACING = """
import contextlib, sys
from utils import checks
from utils.checks import declaration
import tensorflow as tf
if sys.argv[1] == "off":
    declaration.quiet_tensorflow = contextlib.nullcontext   # the safeguard off
def triplet_loss(y_true, y_pred, alpha=0.2):
    anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    basic = tf.reduce_sum(tf.square(anchor - positive), -1) - tf.reduce_sum(tf.square(anchor - negative), -1)
    return tf.reduce_sum(tf.maximum(basic + alpha, 0.0))
for _ in range(2):
    checks.check_triplet_loss(triplet_loss)
"""


@pytest.mark.slow
@pytest.mark.parametrize("safeguard", ["on", "off"])
def test_a_check_cell_prints_no_retracing_warning(safeguard):
    """The compiled runs trace one tf.function per case: TensorFlow warns about retracing unless the
    check quiets it (the run without the safeguard shows the warning the check hides)."""
    shown = subprocess.run(
        [sys.executable, "-c", RETRACING, safeguard],
        capture_output=True,
        text=True,
        cwd=config.REPO_ROOT,
        env={**os.environ, "COURSE_FAST": "1"},
        timeout=600,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout == "All tests passed.\n" * 2
    assert ("retracing" in shown.stderr) == (safeguard == "off"), shown.stderr[-2000:]


def test_no_internal_class_name_reaches_a_message():
    arguments, options = learner_train_step(returns="two numbers")
    message = failure(checks.check_train_step, *arguments, **options)
    assert "got the tf.Tensor array" in message and "ObservedTensor" not in message, message


def test_terminal_escapes_and_tensorflow_node_prefixes_are_removed():
    def conv_output_size(n, f, p, s):
        raise ValueError("\x1b[31m{{node Sub}} {{function_node __wrapped__Sub_device_/job:localhost}} broke\x1b[0m")

    with pytest.raises(ExerciseCrashed) as raised:
        checks.check_conv_output_size(conv_output_size)
    message = str(raised.value)
    assert "ValueError: broke" in message and "\x1b" not in message and "{{" not in message, message


def test_the_float_message_is_exact_not_rounded():
    assert math.isclose(10.0, 10) and "10.0" in failure(
        checks.check_conv_output_size, lambda n, f, p, s: float((n + 2 * p - f) // s + 1)
    )
