"""Tests for utils.checks.nst: the course solutions pass, each classic mistake gets its own hint.

Every wrong implementation below is written here, on purpose, the way a learner might write it.
The ``train_step`` tests run without VGG19 weights: they build a tiny two-layer convolutional
"network" from seeded random kernels, which is all the check needs (it compares the learner's
step with the reference costs computed on the same outputs).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tiny_vgg import ALPHA, BETA, STYLE_LAYERS, TinyNetwork
from utils import checks

# ---- course-style solutions ------------------------------------------------------------------


def content_cost_solution(content_output, generated_output):
    a_C, a_G = content_output[-1], generated_output[-1]
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    return tf.reduce_sum(tf.square(a_C - a_G)) / (4.0 * n_H * n_W * n_C)


def gram_solution(A):
    return tf.matmul(A, tf.transpose(A))


def layer_style_solution(a_S, a_G):
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    a_S = tf.transpose(tf.reshape(a_S, [-1, n_C]))
    a_G = tf.transpose(tf.reshape(a_G, [-1, n_C]))
    difference = gram_solution(a_S) - gram_solution(a_G)
    return tf.reduce_sum(tf.square(difference)) / (4.0 * n_C**2 * (n_H * n_W) ** 2)


def style_solution(style_image_output, generated_image_output, STYLE_LAYERS):
    J_style = 0.0
    for (_, weight), a_S, a_G in zip(STYLE_LAYERS, style_image_output[:-1], generated_image_output[:-1]):
        J_style += weight * layer_style_solution(a_S, a_G)
    return J_style


def total_solution(J_content, J_style, alpha=10, beta=40):
    return alpha * J_content + beta * J_style


def test_course_solutions_pass_and_return_nothing(capsys):
    assert checks.check_compute_content_cost(content_cost_solution) is None
    assert checks.check_gram_matrix(gram_solution) is None
    assert checks.check_compute_layer_style_cost(layer_style_solution) is None
    assert checks.check_compute_style_cost(style_solution) is None
    assert checks.check_compute_style_cost(style_solution, [("block1_conv1", 0.7), ("block3_conv1", 0.3)]) is None
    assert checks.check_total_cost(total_solution) is None
    assert checks.check_total_cost(tf.function(total_solution)) is None  # the course decorates it
    assert capsys.readouterr().out == "All tests passed.\n" * 7


def test_content_cost_unrolling_does_not_matter(capsys):
    """The course unrolls a_C and a_G before the sum; any unrolling gives the same sum of squares."""

    def unrolled_channels_first(content_output, generated_output):
        a_C, a_G = content_output[-1], generated_output[-1]
        _, n_H, n_W, n_C = a_G.get_shape().as_list()
        a_C = tf.reshape(a_C, [n_C, n_H * n_W])  # "wrong" unrolling: mixes positions and channels
        a_G = tf.reshape(a_G, [n_C, n_H * n_W])
        return tf.reduce_sum(tf.square(a_C - a_G)) / (4.0 * n_H * n_W * n_C)

    checks.check_compute_content_cost(unrolled_channels_first)
    assert "All tests passed." in capsys.readouterr().out


# ---- classic mistakes ------------------------------------------------------------------------


def _content_no_normalisation(content_output, generated_output):
    return tf.reduce_sum(tf.square(content_output[-1] - generated_output[-1]))


def _content_no_four(content_output, generated_output):
    _, n_H, n_W, n_C = generated_output[-1].get_shape().as_list()
    return tf.reduce_sum(tf.square(content_output[-1] - generated_output[-1])) / (n_H * n_W * n_C)


def _content_not_squared(content_output, generated_output):
    _, n_H, n_W, n_C = generated_output[-1].get_shape().as_list()
    return tf.reduce_sum(content_output[-1] - generated_output[-1]) / (4.0 * n_H * n_W * n_C)


def _content_first_layer(content_output, generated_output):
    return content_cost_solution(content_output[:1], generated_output[:1])


def _layer_style_direct_reshape(a_S, a_G):
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    difference = gram_solution(tf.reshape(a_S, [n_C, n_H * n_W])) - gram_solution(tf.reshape(a_G, [n_C, n_H * n_W]))
    return tf.reduce_sum(tf.square(difference)) / (4.0 * n_C**2 * (n_H * n_W) ** 2)


def _layer_style_denominator(denominator):
    def wrong(a_S, a_G):
        _, n_H, n_W, n_C = a_G.get_shape().as_list()
        a_S = tf.transpose(tf.reshape(a_S, [-1, n_C]))
        a_G = tf.transpose(tf.reshape(a_G, [-1, n_C]))
        return tf.reduce_sum(tf.square(gram_solution(a_S) - gram_solution(a_G))) / denominator(n_H, n_W, n_C)

    return wrong


def _style_unweighted(style_image_output, generated_image_output, STYLE_LAYERS):
    return sum(layer_style_solution(a_S, a_G) for a_S, a_G in zip(style_image_output[:-1], generated_image_output[:-1]))


def _style_skips_first_layer(style_image_output, generated_image_output, STYLE_LAYERS):
    J_style = 0.0
    for (_, weight), a_S, a_G in zip(STYLE_LAYERS, style_image_output[1:], generated_image_output[1:]):
        J_style += weight * layer_style_solution(a_S, a_G)
    return J_style


@pytest.mark.parametrize(
    "check, wrong, hint",
    [
        (checks.check_compute_content_cost, _content_no_normalisation, "no normalisation"),
        (checks.check_compute_content_cost, _content_no_four, "missing factor 4"),
        (checks.check_compute_content_cost, _content_not_squared, "not squared"),
        (checks.check_compute_content_cost, _content_first_layer, "wrong layer"),
        (checks.check_gram_matrix, lambda A: tf.matmul(tf.transpose(A), A), "Aᵀ A instead of A Aᵀ"),
        (checks.check_gram_matrix, lambda A: A * A, "element-wise product"),
        (checks.check_compute_layer_style_cost, _layer_style_direct_reshape, "unrolling"),
        (
            checks.check_compute_layer_style_cost,
            _layer_style_denominator(lambda h, w, c: 4.0 * c * h * w),
            "square both n_C and n_H*n_W",
        ),
        (
            checks.check_compute_layer_style_cost,
            _layer_style_denominator(lambda h, w, c: c**2 * (h * w) ** 2),
            "you left out the 4",
        ),
        (
            checks.check_compute_layer_style_cost,
            _layer_style_denominator(lambda h, w, c: 4.0 * c**2 * h * w),
            "square n_H*n_W too",
        ),
        (checks.check_compute_style_cost, _style_unweighted, "weights ignored"),
        (checks.check_compute_style_cost, _style_skips_first_layer, "wrong slice"),
        (
            checks.check_total_cost,
            lambda J_content, J_style, alpha=10, beta=40: beta * J_content + alpha * J_style,
            "alpha and beta swapped",
        ),
        (
            checks.check_total_cost,
            lambda J_content, J_style, alpha=10, beta=40: 10 * J_content + 40 * J_style,
            "hard-coded weights",
        ),
    ],
)
def test_cost_mistakes_get_their_hint(check, wrong, hint, capsys):
    with pytest.raises(checks.CheckFailed) as error:
        check(wrong)
    message = str(error.value)
    assert hint in message and "expected" in message
    assert message.count("Likely mistake") == 1
    assert capsys.readouterr().out == ""  # raised once, not printed as well


@pytest.mark.parametrize(
    "check",
    [
        checks.check_compute_content_cost,
        checks.check_gram_matrix,
        checks.check_compute_layer_style_cost,
        checks.check_compute_style_cost,
        checks.check_total_cost,
    ],
)
def test_cost_stubs_are_reported_as_not_implemented(check):
    def stub(*args, **kwargs):
        raise NotImplementedError("Exercise: replace this line with your code.")

    with pytest.raises(checks.ExerciseNotImplemented, match="is not implemented yet"):
        check(stub)


# ---- NumPy where TensorFlow is needed ---------------------------------------------------------

GRAPH_HINT = "use tf.* operations: NumPy cannot run inside the compiled training step"


def _numpy_content(content_output, generated_output):
    a_C, a_G = np.asarray(content_output[-1]), np.asarray(generated_output[-1])
    _, n_H, n_W, n_C = a_G.shape
    return np.sum(np.square(a_C - a_G)) / (4.0 * n_H * n_W * n_C)


def _numpy_gram(A):
    return np.dot(A, np.transpose(A))


def _numpy_layer_style(a_S, a_G):
    _, n_H, n_W, n_C = a_G.shape
    a_S = np.transpose(np.reshape(a_S, (-1, n_C)))
    a_G = np.transpose(np.reshape(a_G, (-1, n_C)))
    return np.sum(np.square(_numpy_gram(a_S) - _numpy_gram(a_G))) / (4.0 * n_C**2 * (n_H * n_W) ** 2)


def _numpy_style(style_image_output, generated_image_output, STYLE_LAYERS):
    return sum(
        weight * _numpy_layer_style(a_S, a_G)
        for (_, weight), a_S, a_G in zip(STYLE_LAYERS, style_image_output[:-1], generated_image_output[:-1])
    )


def _python_float_total(J_content, J_style, alpha=10, beta=40):
    return float(alpha * J_content + beta * J_style)


@pytest.mark.parametrize(
    "check, wrong, exercise",
    [
        (checks.check_compute_content_cost, _numpy_content, "compute_content_cost"),
        (checks.check_gram_matrix, _numpy_gram, "gram_matrix"),
        (checks.check_compute_layer_style_cost, _numpy_layer_style, "compute_layer_style_cost"),
        (checks.check_compute_style_cost, _numpy_style, "compute_style_cost"),
        (checks.check_total_cost, _python_float_total, "total_cost"),
    ],
)
def test_numpy_results_are_rejected_with_a_hint_about_types(check, wrong, exercise, capsys):
    with pytest.raises(checks.CheckFailed) as error:
        check(wrong)
    message = str(error.value)
    assert not isinstance(error.value, checks.ExerciseNotImplemented)
    assert f"Exercise `{exercise}`: the value is right" in message
    assert "the course expects a tf.Tensor" in message and GRAPH_HINT in message
    assert capsys.readouterr().out == ""


def _content_numpy_inside(content_output, generated_output):
    """Returns a tensor with the right value eagerly, but NumPy cannot run on a symbolic tensor."""
    a_C, a_G = content_output[-1], generated_output[-1]
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    return tf.constant(np.sum(np.square(a_C - a_G))) / (4.0 * n_H * n_W * n_C)


def _gram_via_numpy_method(A):
    values = A.numpy()
    return tf.constant(values @ values.T)


def _layer_style_python_loop(a_S, a_G):
    """Converts to NumPy with np.asarray: fine eagerly, impossible inside tf.function."""
    return tf.constant(_numpy_layer_style(np.asarray(a_S), np.asarray(a_G)))


@pytest.mark.parametrize(
    "check, wrong, exercise, line",
    [
        (
            checks.check_compute_content_cost,
            _content_numpy_inside,
            "compute_content_cost",
            "np.sum(np.square(a_C - a_G))",
        ),
        (checks.check_gram_matrix, _gram_via_numpy_method, "gram_matrix", "values = A.numpy()"),
        (
            checks.check_compute_layer_style_cost,
            _layer_style_python_loop,
            "compute_layer_style_cost",
            "np.asarray(a_S)",
        ),
    ],
)
def test_graph_incompatible_code_fails_in_its_own_check(check, wrong, exercise, line):
    """Right tensors eagerly; inside tf.function TensorFlow raises (some of it NotImplementedError,
    which must not be mistaken for the learner's stub)."""
    with pytest.raises(checks.CheckFailed) as error:
        check(wrong)
    message = str(error.value)
    assert not isinstance(error.value, checks.ExerciseNotImplemented), message
    assert f"Exercise `{exercise}` gives the right answer when called directly, but fails inside tf.function" in message
    assert line in message and GRAPH_HINT in message
    assert "Traceback" not in message and len(message.splitlines()) == 3


def test_total_cost_made_of_tensors_passes_without_a_decorator(capsys):
    checks.check_total_cost(lambda J_content, J_style, alpha=10, beta=40: alpha * J_content + beta * J_style)
    assert capsys.readouterr().out == "All tests passed.\n"


# ---- train_step ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def setting():
    rng = np.random.default_rng(1)
    network = TinyNetwork()
    content = rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    style = rng.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    return network, network(tf.constant(content)), network(tf.constant(style)), content


def make_train_step(setting, mistake=None, content_cost=content_cost_solution):
    """A course-style train_step with its own Adam and image; ``mistake`` names a deliberate bug and
    ``content_cost`` is the learner's compute_content_cost it calls."""
    vgg_model_outputs, a_C, a_S, content = setting
    generated_image = tf.Variable(np.clip(content + 0.1, 0.0, 1.0))
    optimizer = keras.optimizers.Adam(learning_rate=0.05)
    alpha, beta = (BETA, ALPHA) if mistake == "swapped" else (ALPHA, BETA)
    style_source = a_C if mistake == "content as style" else a_S

    content_source = a_S if mistake == "content of style" else a_C
    if mistake == "global image":
        notebook_image = generated_image

        @tf.function
        def train_step(image):  # updates the notebook's variable, not its argument
            with tf.GradientTape() as tape:
                a_G = vgg_model_outputs(notebook_image)
                J = total_solution(content_cost(a_C, a_G), style_solution(a_S, a_G, STYLE_LAYERS), ALPHA, BETA)
            optimizer.apply_gradients([(tape.gradient(J, notebook_image), notebook_image)])
            notebook_image.assign(tf.clip_by_value(notebook_image, 0.0, 1.0))
            return J

        return train_step, generated_image, optimizer

    @tf.function
    def train_step(generated_image):
        if mistake == "outside the tape":
            a_G = vgg_model_outputs(generated_image)
        with tf.GradientTape() as tape:
            if mistake != "outside the tape":
                a_G = vgg_model_outputs(generated_image)
            J_style = style_solution(style_source, a_G, STYLE_LAYERS)
            J_content = content_cost(content_source, a_G)
            J = total_solution(J_content, J_style, alpha=alpha, beta=beta)
            if mistake == "beta * J_style":
                J = beta * J_style
        if mistake == "style only":
            grad = tape.gradient(J_style, generated_image)
        elif mistake == "content only":
            grad = tape.gradient(J_content, generated_image)
        else:
            grad = tape.gradient(J, generated_image)
        if mistake == "ascent":
            grad = -grad
        if mistake != "no update":
            optimizer.apply_gradients([(grad, generated_image)])
        if mistake == "twice":
            optimizer.apply_gradients([(grad, generated_image)])
        if mistake == "np.clip":
            generated_image.assign(np.clip(generated_image, 0.0, 1.0))
        elif mistake != "no clip":
            generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
        if mistake == "after update":
            a_G = vgg_model_outputs(generated_image)
            J = total_solution(
                content_cost_solution(a_C, a_G), style_solution(a_S, a_G, STYLE_LAYERS), alpha=alpha, beta=beta
            )
        return J

    return train_step, generated_image, optimizer


def _check(setting, train_step, generated_image, optimizer=None):
    vgg_model_outputs, a_C, a_S, _ = setting
    return checks.check_train_step(
        train_step,
        generated_image,
        vgg_model_outputs,
        a_C,
        a_S,
        STYLE_LAYERS,
        alpha=ALPHA,
        beta=BETA,
        optimizer=optimizer,
    )


def test_train_step_solution_passes_and_state_is_restored(setting, capsys):
    train_step, generated_image, optimizer = make_train_step(setting)
    before = generated_image.numpy()
    assert _check(setting, train_step, generated_image, optimizer) is None
    assert capsys.readouterr().out == "All tests passed.\n"
    np.testing.assert_array_equal(generated_image.numpy(), before)
    assert int(optimizer.iterations.numpy()) == 0
    assert float(optimizer.learning_rate.numpy()) == pytest.approx(0.05)
    # the check ran the steps with a fresh copy of the optimizer: the notebook's one was never built
    moments = [variable for variable in optimizer.variables if variable.path.endswith(("momentum", "velocity"))]
    assert not moments


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ("no clip", "no clipping"),
        ("ascent", "gradient ascent"),
        ("no update", "no update"),
        ("swapped", "alpha and beta swapped"),
        ("content as style", "style of the content image"),
        ("after update", "J after the update"),
        ("style only", "gradient of J_style only"),
        ("content only", "gradient of J_content only"),
        ("content of style", "content of the style image"),
        ("beta * J_style", "beta * J_style only"),
        ("twice", "update applied twice"),
        ("global image", "a global instead of the argument"),
        ("outside the tape", "None gradient"),
    ],
)
def test_train_step_mistakes_get_their_hint(setting, mistake, hint, capsys):
    train_step, generated_image, optimizer = make_train_step(setting, mistake)
    before = generated_image.numpy()
    with pytest.raises(checks.CheckFailed) as error:
        _check(setting, train_step, generated_image, optimizer)
    assert f"({hint})" in str(error.value)
    assert capsys.readouterr().out == ""
    np.testing.assert_array_equal(generated_image.numpy(), before)


def _einsum_style(style_image_output, generated_image_output, STYLE_LAYERS):
    """A right style cost computed in another order (einsum Gram matrices, mean instead of sum)."""
    J_style = 0.0
    for (_, weight), a_S, a_G in zip(STYLE_LAYERS, style_image_output[:-1], generated_image_output[:-1]):
        _, n_H, n_W, n_C = a_G.get_shape().as_list()
        gram_S = tf.einsum("bhwc,bhwd->cd", a_S, a_S)
        gram_G = tf.einsum("bhwc,bhwd->cd", a_G, a_G)
        J_style += weight * tf.reduce_mean(tf.square(gram_S - gram_G)) / (4.0 * (n_H * n_W) ** 2)
    return J_style


def test_a_right_train_step_written_differently_passes(setting, capsys):
    """Rounding differs from the reference's; the replay of the steps must not call that a mistake."""
    vgg_model_outputs, a_C, a_S, content = setting
    generated_image = tf.Variable(np.clip(content + 0.1, 0.0, 1.0))
    optimizer = keras.optimizers.Adam(learning_rate=0.05)

    @tf.function
    def train_step(generated_image):
        with tf.GradientTape() as tape:
            a_G = vgg_model_outputs(generated_image)
            J = BETA * _einsum_style(a_S, a_G, STYLE_LAYERS) + ALPHA * content_cost_solution(a_C, a_G)
        optimizer.apply_gradients(zip(tape.gradient(J, [generated_image]), [generated_image]))
        generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
        return J

    _check(setting, train_step, generated_image, optimizer)
    assert capsys.readouterr().out == "All tests passed.\n"


def test_np_clip_in_train_step_is_reported_and_the_check_cleans_up(setting):
    """np.clip on the symbolic image: TensorFlow raises NotImplementedError half-way through the trace,
    after Adam created its moment variables without values. The learner must see their own line, not a
    "not implemented" message nor a crash in the check's clean-up."""
    train_step, generated_image, optimizer = make_train_step(setting, "np.clip")
    before = generated_image.numpy()
    with pytest.raises(checks.CheckFailed) as error:
        _check(setting, train_step, generated_image, optimizer)
    message = str(error.value)
    assert not isinstance(error.value, checks.ExerciseNotImplemented)
    assert "np.clip(generated_image, 0.0, 1.0)" in message and GRAPH_HINT in message
    np.testing.assert_array_equal(generated_image.numpy(), before)
    for variable in optimizer.variables:  # every variable holds a value of its own shape again
        assert variable.numpy().shape == tuple(variable.shape)
    assert int(optimizer.iterations.numpy()) == 0


def test_numpy_in_an_earlier_exercise_is_not_blamed_on_train_step(setting):
    train_step, generated_image, optimizer = make_train_step(setting, content_cost=_numpy_content_symbolic)
    with pytest.raises(checks.CheckFailed) as error:
        _check(setting, train_step, generated_image, optimizer)
    message = str(error.value)
    assert not isinstance(error.value, checks.ExerciseNotImplemented)
    assert "your `_numpy_content_symbolic` raised" in message
    assert "Likely mistake (NumPy in `_numpy_content_symbolic`)" in message and GRAPH_HINT in message
    assert "not implemented" not in message and "wrong J" not in message


def _numpy_content_symbolic(content_output, generated_output):
    a_C, a_G = content_output[-1], generated_output[-1]
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    return np.sum(np.square(a_C - a_G)) / (4.0 * n_H * n_W * n_C)


def test_an_unfinished_earlier_exercise_is_named(setting):
    def compute_content_cost(content_output, generated_output):
        # YOUR CODE HERE
        raise NotImplementedError("Exercise `compute_content_cost`: replace this line with your code.")

    train_step, generated_image, optimizer = make_train_step(setting, content_cost=compute_content_cost)
    with pytest.raises(
        checks.ExerciseNotImplemented,
        match=r"Exercise `compute_content_cost` is not implemented yet \(`train_step` calls it\)",
    ):
        _check(setting, train_step, generated_image, optimizer)


def test_train_step_stub_is_reported_as_not_implemented(setting):
    @tf.function
    def train_step(generated_image):
        # YOUR CODE HERE
        raise NotImplementedError("Exercise `train_step`: replace this line with your code.")

    generated_image = tf.Variable(setting[3])
    with pytest.raises(checks.ExerciseNotImplemented, match="is not implemented yet"):
        _check(setting, train_step, generated_image)


def test_train_step_needs_the_variable(setting):
    train_step, generated_image, _ = make_train_step(setting)
    with pytest.raises(checks.CheckFailed, match="tf.Variable"):
        _check(setting, train_step, tf.constant(generated_image.numpy()))


def test_a_content_mistake_is_seen_although_the_style_term_dominates_j(setting):
    """On the notebook's first image alpha * J_content can be 1e-4 of J; the check's second case starts
    from (near) the style image, where J is mostly content, so a content mistake changes J a lot."""
    from utils.checks import EXERCISES

    vgg_model_outputs = setting[0]
    cases = EXERCISES["train_step"].cases({"vgg_model_outputs": vgg_model_outputs}, None)
    near_style = cases[1]
    a_G = vgg_model_outputs(tf.constant(near_style.args[0]))
    J_content = float(content_cost_solution(near_style.kwargs["a_C"], a_G))
    J_style = float(style_solution(near_style.kwargs["a_S"], a_G, STYLE_LAYERS))
    assert ALPHA * J_content > 0.5 * (ALPHA * J_content + BETA * J_style)


def test_train_step_graded_with_a_wrong_earlier_exercise_keeps_its_point(setting):
    """In a notebook namespace: a right train_step calling a compute_content_cost without the 4 is
    told which exercise to fix, and graded with the library's costs substituted it passes."""
    from utils.checks import Observation, judge, observe

    vgg_model_outputs, a_C, a_S, content = setting
    namespace = {
        "tf": tf,
        "np": np,
        "keras": keras,
        "vgg_model_outputs": vgg_model_outputs,
        "a_C": a_C,
        "a_S": a_S,
        "STYLE_LAYERS": STYLE_LAYERS,
        "ALPHA": ALPHA,
        "BETA": BETA,
        "generated_image": tf.Variable(content),
        "optimizer": keras.optimizers.Adam(learning_rate=0.05),
        "compute_style_cost": style_solution,
        "total_cost": total_solution,
    }
    exec(
        """
def compute_content_cost(content_output, generated_output):
    a_C, a_G = content_output[-1], generated_output[-1]
    _, n_H, n_W, n_C = a_G.get_shape().as_list()
    return tf.reduce_sum(tf.square(a_C - a_G)) / (n_H * n_W * n_C)

@tf.function()
def train_step(generated_image):
    with tf.GradientTape() as tape:
        a_G = vgg_model_outputs(generated_image)
        J = total_cost(compute_content_cost(a_C, a_G), compute_style_cost(a_S, a_G, STYLE_LAYERS), alpha=ALPHA, beta=BETA)
    optimizer.apply_gradients([(tape.gradient(J, generated_image), generated_image)])
    generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
    return J
""",
        namespace,
    )
    args = (namespace["train_step"], namespace["generated_image"], vgg_model_outputs, a_C, a_S, STYLE_LAYERS)
    with pytest.raises(checks.CheckFailed, match="`train_step` looks right, but `compute_content_cost` is wrong"):
        checks.check_train_step(*args, alpha=ALPHA, beta=BETA, optimizer=namespace["optimizer"])
    observation = observe("train_step", *args, alpha=ALPHA, beta=BETA, optimizer=namespace["optimizer"], seed=11)
    text = observation.to_json()
    context = dict(alpha=ALPHA, beta=BETA, optimizer=namespace["optimizer"])
    assert judge("train_step", Observation.from_json(text), *args[1:], seed=11, **context).status == "failed"
    assert (
        judge("train_step", Observation.from_json(text), *args[1:], seed=11, grading=True, **context).status == "passed"
    )


# ---- graded with the course's own VGG19 (the judge builds it itself) ------------------------------


def _vgg_available():
    from utils import assets

    return assets.find("vgg19_full") is not None or assets.find("vgg19_partial") is not None


@pytest.mark.slow
@pytest.mark.skipif(not _vgg_available(), reason="no VGG19 weights (run `make setup`)")
def test_graded_train_step_is_judged_with_the_graders_own_vgg():
    """The kernel observes a notebook-like train_step with its own VGG19; the judge, given no context,
    builds the preset's VGG19 itself (utils.nst) and replays the steps."""
    from utils import assets
    from utils.checks import Observation, judge, observe
    from utils.nst import build_extractor, get_preset

    preset = get_preset("course" if assets.find("vgg19_full") is not None else "blocks123")
    names = list(preset.style_layers) + [preset.content_layer]
    extractor = build_extractor(names)
    namespace = {
        "tf": tf,
        "extractor": extractor,
        "names": names,
        "STYLE_LAYERS": list(preset.style_layers.items()),
        "ALPHA": preset.alpha,
        "BETA": preset.beta,
        "compute_content_cost": content_cost_solution,
        "compute_style_cost": style_solution,
        "total_cost": total_solution,
        "optimizer": keras.optimizers.Adam(learning_rate=preset.learning_rate),
    }
    exec(
        """
def vgg_model_outputs(image):
    outputs = extractor(image)
    return [outputs[name] for name in names]

def right(generated_image):
    with tf.GradientTape() as tape:
        a_G = vgg_model_outputs(generated_image)
        J = total_cost(compute_content_cost(a_C, a_G), compute_style_cost(a_S, a_G, STYLE_LAYERS), alpha=ALPHA, beta=BETA)
    optimizer.apply_gradients([(tape.gradient(J, generated_image), generated_image)])
    generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
    return J

def content_of_style(generated_image):
    with tf.GradientTape() as tape:
        a_G = vgg_model_outputs(generated_image)
        J = total_cost(compute_content_cost(a_S, a_G), compute_style_cost(a_S, a_G, STYLE_LAYERS), alpha=ALPHA, beta=BETA)
    optimizer.apply_gradients([(tape.gradient(J, generated_image), generated_image)])
    generated_image.assign(tf.clip_by_value(generated_image, 0.0, 1.0))
    return J
""",
        namespace,
    )
    image = np.random.default_rng(0).uniform(0, 1, (1, 48, 64, 3)).astype(np.float32)
    namespace["a_C"] = namespace["vgg_model_outputs"](tf.constant(image))
    namespace["a_S"] = namespace["vgg_model_outputs"](tf.constant(image[:, ::-1]))
    context = (
        tf.Variable(image),
        namespace["vgg_model_outputs"],
        namespace["a_C"],
        namespace["a_S"],
        namespace["STYLE_LAYERS"],
    )
    for name, status in (("right", "passed"), ("content_of_style", "failed")):
        text = observe(
            "train_step",
            tf.function(namespace[name]),
            *context,
            alpha=preset.alpha,
            beta=preset.beta,
            optimizer=namespace["optimizer"],
            seed=5,
        ).to_json()
        verdict = judge("train_step", Observation.from_json(text), seed=5, grading=True)
        assert verdict.status == status, verdict.message
