"""The original course's public unit tests for the five model-free exercises, re-run here.

A learner arriving from the deeplearning.ai course (C4 W4, "Face Recognition" and "Art Generation
with Neural Style Transfer") may run the course's own unit tests on their functions. This file
performs the same checks, with the same inputs (the same seeds) and the same expected values,
against two implementations:

* ``notebook``: the solutions in notebooks 01 and 04, taken from the notebooks' code cells;
* ``library``: :mod:`utils.losses` (``content_cost`` takes one layer where the exercise takes the
  list of layer outputs, so it is called on ``[-1]``, exactly what the exercise does).

Two facts found while reproducing them:

* the course's expected values for ``gram_matrix`` (``[63.193256, -26.729713, -7.732155]``) and
  ``compute_layer_style_cost`` (``14.01649``) are what a matrix product gives with TensorFloat-32
  (inputs rounded to a 10-bit mantissa), i.e. they were recorded on an NVIDIA Ampere-or-later GPU.
  In exact float32 (any CPU) every correct implementation, the course's own included, gives
  ``63.1888`` and ``14.017806``, which the course's default ``np.allclose`` tolerance rejects.
  These tests therefore use the course's numbers where TensorFlow runs matrix products in TF32
  and the float32 numbers elsewhere, and show that TF32 rounding of the same inputs gives exactly
  the course's numbers;
* the course's tests for ``verify``, ``who_is_it`` (its FaceNet model and photos) and
  ``train_step`` (VGG19 blocks 4-5 and its images) cannot be reproduced with this project's
  encoder and weights, and are not here.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from utils import config, losses

NOTEBOOKS = config.REPO_ROOT / "notebooks"


# ---- the two implementations -------------------------------------------------------------------


def _code_cells(notebook_name):
    notebook = json.loads((NOTEBOOKS / notebook_name).read_text())
    return ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _notebook_functions(notebook_name, names):
    """Execute the code cells that define ``names`` (solutions included) and return the functions."""
    namespace = {"tf": tf, "np": np}
    for source in _code_cells(notebook_name):
        if any(f"def {name}(" in source for name in names):
            exec(compile(source, f"{notebook_name}:{names}", "exec"), namespace)
    missing = [name for name in names if name not in namespace]
    assert not missing, f"{notebook_name} defines no {missing}"
    return {name: namespace[name] for name in names}


NST_EXERCISES = ("compute_content_cost", "gram_matrix", "compute_layer_style_cost", "total_cost")

LIBRARY = {
    "triplet_loss": losses.triplet_loss,
    "compute_content_cost": lambda content_output, generated_output: losses.content_cost(
        content_output[-1], generated_output[-1]
    ),
    "gram_matrix": losses.gram_matrix,
    "compute_layer_style_cost": losses.layer_style_cost,
    "total_cost": losses.total_cost,
}


@pytest.fixture(scope="module", params=["notebook", "library"])
def implementation(request):
    if request.param == "library":
        return LIBRARY
    functions = _notebook_functions("01_face_verification_and_recognition.ipynb", ["triplet_loss"])
    functions.update(_notebook_functions("04_neural_style_transfer.ipynb", list(NST_EXERCISES)))
    return functions


def _is_eager_tensor(value):
    return isinstance(value, tf.Tensor) and tf.executing_eagerly() and hasattr(value, "numpy")


def _tf32_matmuls():
    """True when TensorFlow runs float32 matrix products in TensorFloat-32 (an Ampere+ GPU)."""
    return bool(tf.config.list_physical_devices("GPU")) and tf.config.experimental.tensor_float_32_execution_enabled()


def _round_to_tf32(array):
    """Round float32 values to TensorFloat-32's 10-bit mantissa (round to nearest)."""
    bits = np.asarray(array, np.float32).view(np.uint32)
    return ((bits + np.uint32(0x1000)) & np.uint32(0xFFFFE000)).view(np.float32)


# ---- Face Recognition: triplet_loss -----------------------------------------------------------


def test_triplet_loss_course_test(implementation):
    triplet_loss = implementation["triplet_loss"]
    y_true = (None, None, None)  # unused, as in the course

    tf.random.set_seed(1)
    y_pred = (
        tf.random.normal([3, 128], mean=6, stddev=0.1, seed=1),
        tf.random.normal([3, 128], mean=1, stddev=1, seed=1),
        tf.random.normal([3, 128], mean=3, stddev=4, seed=1),
    )
    loss = triplet_loss(y_true, y_pred)
    assert _is_eager_tensor(loss), "the course requires TensorFlow operations (an EagerTensor)"
    assert float(loss) == pytest.approx(527.2598, rel=1e-6)  # the course notebook's expected output

    # (anchor, positive, negative, alpha) -> loss, the course's hand-made cases (one triplet each,
    # as rank-2 lists in public_tests.py).
    for anchor, positive, negative, alpha, expected in [
        ([[1.0, 1.0]], [[1.0, 1.0]], [[1.0, 1.0]], 5, 5.0),  # d(A,P) = d(A,N) = 0: the margin
        ([[1.0, 1.0]], [[1.0, 1.0]], [[0.0, 0.0]], 3, 1.0),  # 0 - 2 + 3
        ([[1.0, 1.0]], [[0.0, 0.0]], [[1.0, 1.0]], 0, 2.0),  # 2 - 0 + 0
        ([[0.0, 0.0]], [[0.0, 0.0]], [[0.0, 0.0]], -2, 0.0),  # the hinge: max(-2, 0)
        ([[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [0.0, 1.0]], 3, 2.0),  # summed over the batch
    ]:
        assert float(triplet_loss(y_true, (anchor, positive, negative), alpha)) == expected
    # Summing over axis=-1 per example gives 5; summing over the whole batch first would give 4.
    value = float(
        triplet_loss(y_true, ([[1.0, 1.0], [2.0, 0.0]], [[0.0, 3.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]), 1)
    )
    assert value != 4.0 and value == 5.0


def test_triplet_loss_course_notebook_test_with_rank_1_inputs(implementation):
    """The version of the test embedded in the course notebook passes one triplet as rank-1 lists."""
    triplet_loss = implementation["triplet_loss"]
    y_true = (None, None, None)
    assert float(triplet_loss(y_true, ([1.0, 1.0], [1.0, 1.0], [1.0, 1.0]), 5)) == 5.0
    assert float(triplet_loss(y_true, ([1.0, 1.0], [1.0, 1.0], [0.0, 0.0]), 3)) == 1.0
    assert float(triplet_loss(y_true, ([1.0, 1.0], [0.0, 0.0], [1.0, 1.0]), 0)) == 2.0
    assert float(triplet_loss(y_true, ([0.0, 0.0], [0.0, 0.0], [0.0, 0.0]), -2)) == 0.0


# ---- Art Generation: compute_content_cost, gram_matrix, compute_layer_style_cost, total_cost ---


def test_compute_content_cost_course_test(implementation):
    compute_content_cost = implementation["compute_content_cost"]
    tf.random.set_seed(1)
    a_C = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)  # indexed with [-1] -> (1, 4, 4, 3)
    a_G = tf.random.normal([1, 1, 4, 4, 3], mean=1, stddev=4)
    J_content = compute_content_cost(a_C, a_G)
    J_content_same = compute_content_cost(a_C, a_C)
    assert _is_eager_tensor(J_content)
    assert np.isclose(J_content_same, 0.0)
    assert np.isclose(J_content, 7.0568767)
    # The course then calls the function on symbolic tensors (a Keras layer's output in TF 2's
    # tf.keras) to catch NumPy code; with Keras 3 the symbolic tensors of a compiled step are
    # those of tf.function.
    symbolic = tf.function(compute_content_cost).get_concrete_function(
        tf.TensorSpec([1, 1, 4, 4, 3], tf.float32), tf.TensorSpec([1, 1, 4, 4, 3], tf.float32)
    )
    assert symbolic.structured_outputs.shape == ()


def test_gram_matrix_course_test(implementation):
    gram_matrix = implementation["gram_matrix"]
    tf.random.set_seed(1)
    A = tf.random.normal([3, 2 * 1], mean=1, stddev=4)
    GA = gram_matrix(A)
    assert _is_eager_tensor(GA)
    assert GA.shape == (3, 3)
    course_row = [63.193256, -26.729713, -7.732155]
    float32_row = [63.1888, -26.721275, -7.7320204]
    assert np.allclose(GA[0, :], course_row if _tf32_matmuls() else float32_row)


def test_the_course_gram_values_are_tf32_products_of_the_same_inputs():
    tf.random.set_seed(1)
    A = tf.random.normal([3, 2 * 1], mean=1, stddev=4).numpy()
    rounded = _round_to_tf32(A).astype(np.float64)
    np.testing.assert_allclose((rounded @ rounded.T)[0], [63.193256, -26.729713, -7.732155], rtol=1e-7)
    exact = A.astype(np.float64)
    np.testing.assert_allclose((exact @ exact.T)[0], [63.1888, -26.721275, -7.7320204], rtol=1e-6)


def test_compute_layer_style_cost_course_test(implementation):
    compute_layer_style_cost = implementation["compute_layer_style_cost"]
    tf.random.set_seed(1)
    a_S = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    a_G = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4)
    J_style_layer_GG = compute_layer_style_cost(a_G, a_G)
    J_style_layer_SG = compute_layer_style_cost(a_S, a_G)
    assert _is_eager_tensor(J_style_layer_GG)
    assert np.isclose(J_style_layer_GG, 0.0)
    assert J_style_layer_SG > 0
    assert np.isclose(J_style_layer_SG, 14.01649 if _tf32_matmuls() else 14.017806)


def test_the_course_layer_style_value_is_a_tf32_result():
    tf.random.set_seed(1)
    a_S = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4).numpy()
    a_G = tf.random.normal([1, 4, 4, 3], mean=1, stddev=4).numpy()

    def cost(rounding):
        unrolled_S = rounding(a_S.reshape(-1, 3).T).astype(np.float64)
        unrolled_G = rounding(a_G.reshape(-1, 3).T).astype(np.float64)
        difference = unrolled_S @ unrolled_S.T - unrolled_G @ unrolled_G.T
        return np.sum(difference**2) / (4 * 3**2 * (4 * 4) ** 2)

    assert cost(_round_to_tf32) == pytest.approx(14.01649, rel=1e-6)
    assert cost(lambda array: array) == pytest.approx(14.017806, rel=1e-6)


def test_total_cost_course_test(implementation):
    # notebook 04 keeps the course's @tf.function() decorator: without it, Python numbers in give a
    # Python float out, and the course's test wants a tensor
    total_cost = implementation["total_cost"]
    J = total_cost(0.2, 0.8)
    assert _is_eager_tensor(J), "the course keeps the @tf.function() decorator: the result is a tensor"
    assert J == 34
    assert np.isclose(total_cost(0.3, 0.5, 3, 8), 4.9)
    np.random.seed(1)
    assert float(total_cost(np.random.uniform(0, 1), np.random.uniform(0, 1))) == pytest.approx(32.9832, rel=1e-5)
