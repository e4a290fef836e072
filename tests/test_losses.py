"""Hand-computed values for every loss in utils.losses, plus shape validation and gradients."""

import numpy as np
import pytest
import tensorflow as tf

from utils import losses


def _triplet(anchor, positive, negative):
    return tuple(tf.constant(x, dtype=tf.float32) for x in (anchor, positive, negative))


# ---- triplet_loss (course signature) ---------------------------------------------------------


def test_triplet_perfect_triplet_costs_the_margin():
    # d(A, P) = 0 and d(A, N) = 0: the hinge is the margin itself.
    y_pred = _triplet([[1.0, 1.0]], [[1.0, 1.0]], [[1.0, 1.0]])
    assert float(losses.triplet_loss(None, y_pred, alpha=5.0)) == pytest.approx(5.0)


def test_triplet_positive_zero_negative_two_margin_three():
    # d(A, P) = 0, d(A, N) = 2 (squared distance of [1, 1] to [0, 0]); 0 - 2 + 3 = 1.
    y_pred = _triplet([[1.0, 1.0]], [[1.0, 1.0]], [[0.0, 0.0]])
    assert float(losses.triplet_loss(None, y_pred, alpha=3.0)) == pytest.approx(1.0)


def test_triplet_easy_triplet_costs_nothing():
    y_pred = _triplet([[0.0, 0.0]], [[0.0, 0.1]], [[3.0, 4.0]])
    assert float(losses.triplet_loss(None, y_pred, alpha=0.2)) == 0.0


def test_triplet_batched_sums_per_example_hinges():
    # Example 1: d_ap = 1, d_an = 4 -> max(1 - 4 + 2, 0) = 0 ... use margin 4: 1 - 4 + 4 = 1.
    # Example 2: d_ap = 4, d_an = 1 -> 4 - 1 + 4 = 7.  Sum = 8.
    anchor = [[0.0, 0.0], [0.0, 0.0]]
    positive = [[1.0, 0.0], [0.0, 2.0]]
    negative = [[0.0, 2.0], [1.0, 0.0]]
    loss = losses.triplet_loss(None, _triplet(anchor, positive, negative), alpha=4.0)
    assert float(loss) == pytest.approx(8.0)
    # The classic mistake, forgetting axis=-1, sums distances over the whole batch first:
    # max(5 - 5 + 4, 0) = 4, a different answer; our value is the per-example one.
    assert float(loss) != pytest.approx(4.0)


def test_triplet_sum_of_max_differs_from_max_of_sum():
    # Hinge per example then sum (correct) vs sum then hinge (wrong).
    anchor = [[0.0], [0.0]]
    positive = [[3.0], [0.0]]  # d_ap = 9, 0
    negative = [[0.0], [3.0]]  # d_an = 0, 9
    loss = losses.triplet_loss(None, _triplet(anchor, positive, negative), alpha=0.5)
    assert float(loss) == pytest.approx(9.5)  # max(9.5, 0) + max(-8.5, 0)


def test_triplet_accepts_stacked_tensor():
    stacked = tf.constant([[[1.0, 1.0]], [[1.0, 1.0]], [[0.0, 0.0]]])
    assert float(losses.triplet_loss(None, stacked, alpha=3.0)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "shapes",
    [((2, 3), (2, 3), (2, 4)), ((2, 3), (3, 3), (2, 3)), ((3,), (3,), (4,)), ((1, 2, 3), (1, 2, 3), (1, 2, 3))],
)
def test_triplet_shape_errors_name_the_shapes(shapes):
    y_pred = tuple(tf.zeros(s) for s in shapes)
    with pytest.raises(ValueError, match=r"\("):
        losses.triplet_loss(None, y_pred)


def test_triplet_single_rank_1_triplet_is_one_example():
    """The course's own unit test passes plain lists of rank 1: one triplet."""
    assert float(losses.triplet_loss(None, ([1.0, 1.0], [0.0, 0.0], [1.0, 1.0]), alpha=0.0)) == 2.0
    assert float(losses.triplet_loss(None, ([0.0, 0.0], [0.0, 0.0], [0.0, 0.0]), alpha=-2.0)) == 0.0


def test_triplet_works_inside_tf_function():
    compiled = tf.function(losses.triplet_loss)
    y_pred = _triplet([[0.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, 2.0]], [[0.0, 2.0], [1.0, 0.0]])
    assert float(compiled(None, y_pred, alpha=4.0)) == pytest.approx(8.0)


def test_triplet_needs_three_encodings():
    with pytest.raises(ValueError, match="anchor, positive, negative"):
        losses.triplet_loss(None, (tf.zeros((1, 2)), tf.zeros((1, 2))))


def test_triplet_gradient_matches_finite_differences():
    rng = np.random.default_rng(0)
    anchor, positive, negative = (tf.Variable(rng.normal(size=(3, 4)).astype(np.float64)) for _ in range(3))
    with tf.GradientTape() as tape:
        loss = losses.triplet_loss(None, (anchor, positive, negative), alpha=2.0)
    grad = tape.gradient(loss, anchor).numpy()
    numeric = np.zeros_like(grad)
    eps = 1e-6
    base = anchor.numpy()
    for index in np.ndindex(base.shape):
        for sign in (1, -1):
            shifted = base.copy()
            shifted[index] += sign * eps
            value = float(losses.triplet_loss(None, (tf.constant(shifted), positive, negative), alpha=2.0))
            numeric[index] += sign * value / (2 * eps)
    np.testing.assert_allclose(grad, numeric, atol=1e-5)


# ---- mined triplet losses --------------------------------------------------------------------

EMBEDDINGS = tf.constant([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, 3.0]])
LABELS = tf.constant([0, 0, 1, 1])
# Squared distances: D01 = 1, D02 = 4, D03 = 9, D12 = 5, D13 = 10, D23 = 1.


def test_pairwise_squared_distances_by_hand():
    expected = np.array([[0, 1, 4, 9], [1, 0, 5, 10], [4, 5, 0, 1], [9, 10, 1, 0]], dtype=np.float32)
    np.testing.assert_allclose(losses.pairwise_squared_distances(EMBEDDINGS).numpy(), expected, atol=1e-5)


def test_batch_hard_by_hand():
    # anchor 0: hardest pos 1, hardest neg 4 -> max(1-4+2,0)=0 (margin 2)... use margin 4:
    # a0: 1-4+4=1; a1: 1-5+4=0; a2: 1-4+4=1; a3: 1-9+4=0 -> mean 0.5
    assert float(losses.batch_hard_triplet_loss(LABELS, EMBEDDINGS, margin=4.0)) == pytest.approx(0.5)


def test_batch_all_by_hand():
    # Triplets (a,p,n) and D[a,p]-D[a,n]+4: (0,1,2)=1 (0,1,3)=-4 (1,0,2)=0 (1,0,3)=-5
    # (2,3,0)=1 (2,3,1)=0 (3,2,0)=-4 (3,2,1)=-5 -> positives: 1, 1 -> mean over violating = 1.
    assert float(losses.batch_all_triplet_loss(LABELS, EMBEDDINGS, margin=4.0)) == pytest.approx(1.0)
    assert float(losses.triplet_violation_fraction(LABELS, EMBEDDINGS, margin=4.0)) == pytest.approx(2 / 8)


def test_semi_hard_by_hand():
    # margin 4. Pair (0,1): D=1, negatives D02=4, D03=9 both > 1 -> closest 4 -> 1-4+4 = 1
    # (1,0): D=1, negatives 5, 10 -> 5 -> 0. (2,3): D=1, negs D20=4, D21=5 -> 4 -> 1.
    # (3,2): D=1, negs 9, 10 -> 9 -> 0. Mean = 0.5.
    assert float(losses.semi_hard_triplet_loss(LABELS, EMBEDDINGS, margin=4.0)) == pytest.approx(0.5)


def test_semi_hard_falls_back_to_farthest_negative():
    # Anchor 0 with positive 1 at D=9, negatives at D=1 and D=4: none beyond the positive,
    # so the farthest negative (4) is used: 9 - 4 + 1 = 6.
    embeddings = tf.constant([[0.0], [3.0], [1.0], [-2.0]])
    labels = tf.constant([0, 0, 1, 2])
    distances = losses.pairwise_squared_distances(embeddings).numpy()
    assert distances[0, 1] == pytest.approx(9) and distances[0, 2] == pytest.approx(1)
    # pairs: (0,1): negs D02=1, D03=4 -> fallback 4 -> 9-4+1 = 6
    #        (1,0): negs D12=4, D13=25 -> both > 9? 25 > 9 -> 25 -> 9-25+1 <0 -> 0. mean = 3.
    assert float(losses.semi_hard_triplet_loss(labels, embeddings, margin=1.0)) == pytest.approx(3.0)


def test_mined_losses_validate_batch_sizes():
    with pytest.raises(ValueError, match="same batch size"):
        losses.batch_hard_triplet_loss(tf.constant([0, 1, 2]), EMBEDDINGS)


def test_mined_losses_train_an_embedding():
    """A few gradient steps of batch-hard loss reduce it on a toy 2-class problem."""
    embeddings = tf.Variable(tf.random.stateless_normal((8, 3), seed=(1, 2)))
    labels = tf.constant([0, 0, 0, 0, 1, 1, 1, 1])
    optimizer = tf.keras.optimizers.SGD(0.1)
    start = float(losses.batch_hard_triplet_loss(labels, embeddings, margin=1.0))
    for _ in range(50):
        with tf.GradientTape() as tape:
            loss = losses.batch_hard_triplet_loss(labels, embeddings, margin=1.0)
        optimizer.apply_gradients([(tape.gradient(loss, embeddings), embeddings)])
    assert float(losses.batch_hard_triplet_loss(labels, embeddings, margin=1.0)) < 0.5 * start


# ---- NST costs --------------------------------------------------------------------------------


def test_content_cost_by_hand():
    a_C = tf.reshape(tf.range(12, dtype=tf.float32), (1, 2, 3, 2))
    a_G = a_C + 2.0
    # Σ (a_C - a_G)² = 12 * 4 = 48; 4 * n_H * n_W * n_C = 4 * 2 * 3 * 2 = 48 -> 1.
    assert float(losses.content_cost(a_C, a_G)) == pytest.approx(1.0)


def test_content_cost_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(1, 2, 3, 2\).*\(1, 3, 2, 2\)"):
        losses.content_cost(tf.zeros((1, 2, 3, 2)), tf.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="rank 4"):
        losses.content_cost(tf.zeros((2, 3, 2)), tf.zeros((2, 3, 2)))


def test_gram_matrix_by_hand():
    A = tf.constant([[1.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    np.testing.assert_allclose(losses.gram_matrix(A).numpy(), [[5.0, 2.0], [2.0, 10.0]])
    with pytest.raises(ValueError, match="rank 2"):
        losses.gram_matrix(tf.zeros((1, 2, 3)))


def test_layer_style_cost_by_hand_and_unrolling_order():
    # Two channels at 2 positions. a_S: channel0 = [1, 0], channel1 = [0, 1] -> G_S = I.
    a_S = tf.constant([[[[1.0, 0.0], [0.0, 1.0]]]])  # (1, 1, 2, 2)
    a_G = tf.zeros((1, 1, 2, 2))
    # Σ (G_S - 0)² = 2; 4 n_C² (n_H n_W)² = 4 * 4 * 4 = 64 -> 1/32.
    assert float(losses.layer_style_cost(a_S, a_G)) == pytest.approx(2 / 64)
    # A wrong unrolling (reshape straight to (n_C, n_H n_W)) gives a different gram matrix:
    a = tf.reshape(tf.range(12, dtype=tf.float32), (1, 2, 3, 2))
    right = losses.gram_matrix(tf.transpose(tf.reshape(a, (-1, 2))))
    wrong = losses.gram_matrix(tf.reshape(a, (2, -1)))
    assert not np.allclose(right.numpy(), wrong.numpy())
    np.testing.assert_allclose(right.numpy(), tf.einsum("hwc,hwd->cd", a[0], a[0]).numpy())


def test_style_cost_weights_layers():
    a_S = tf.constant([[[[1.0, 0.0], [0.0, 1.0]]]])
    a_G = tf.zeros((1, 1, 2, 2))
    single = float(losses.layer_style_cost(a_S, a_G))
    value = losses.style_cost([a_S, a_S], [a_G, a_S], [0.7, 0.3])
    assert float(value) == pytest.approx(0.7 * single)
    with pytest.raises(ValueError, match="one weight per layer"):
        losses.style_cost([a_S], [a_G], [0.5, 0.5])


def test_total_cost_defaults():
    assert float(losses.total_cost(1.0, 2.0)) == pytest.approx(90.0)
    assert float(losses.total_cost(1.0, 2.0, alpha=1, beta=1)) == pytest.approx(3.0)


def test_total_cost_is_a_tensor_for_numbers_tensors_and_inside_tf_function():
    assert isinstance(losses.total_cost(0.2, 0.8), tf.Tensor)
    assert losses.total_cost(0.2, 0.8).dtype == tf.float32
    double = losses.total_cost(tf.constant(1.0, tf.float64), 2.0)
    assert double.dtype == tf.float64 and float(double) == pytest.approx(90.0)
    compiled = tf.function(losses.total_cost)
    assert float(compiled(tf.constant(0.3), tf.constant(0.5), alpha=3, beta=8)) == pytest.approx(4.9)


def test_total_variation_matches_the_definition_by_hand():
    """Σ |x[i+1, j] - x[i, j]| + Σ |x[i, j+1] - x[i, j]| over the batch, pixels and channels."""
    array = np.arange(2 * 3 * 4 * 3, dtype=np.float32).reshape(2, 3, 4, 3) ** 1.5
    expected = np.abs(np.diff(array, axis=1)).sum() + np.abs(np.diff(array, axis=2)).sum()
    assert float(losses.total_variation_loss(tf.constant(array))) == pytest.approx(float(expected), rel=1e-6)
    # [[0, 1], [0, 3]]: vertical |0 - 0| + |3 - 1| = 2, horizontal |1 - 0| + |3 - 0| = 4
    assert float(losses.total_variation_loss(tf.constant([[[[0.0], [1.0]], [[0.0], [3.0]]]]))) == 6.0
    assert float(losses.total_variation_loss(tf.ones((1, 5, 5, 3)))) == 0.0
    with pytest.raises(ValueError, match="rank 4"):
        losses.total_variation_loss(tf.ones((5, 5, 3)))


def test_nst_gradient_check():
    """Gradient of layer_style_cost and content_cost w.r.t. a_G against finite differences."""
    rng = np.random.default_rng(3)
    a_S = tf.constant(rng.normal(size=(1, 2, 2, 3)))
    a_G = tf.Variable(rng.normal(size=(1, 2, 2, 3)))
    for cost in (losses.layer_style_cost, losses.content_cost):
        with tf.GradientTape() as tape:
            value = cost(a_S, a_G)
        grad = tape.gradient(value, a_G).numpy()
        numeric = np.zeros_like(grad)
        base = a_G.numpy()
        for index in np.ndindex(base.shape):
            plus, minus = base.copy(), base.copy()
            plus[index] += 1e-6
            minus[index] -= 1e-6
            numeric[index] = (float(cost(a_S, tf.constant(plus))) - float(cost(a_S, tf.constant(minus)))) / 2e-6
        np.testing.assert_allclose(grad, numeric, atol=1e-6)
