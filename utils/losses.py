"""Losses of the two applications: triplet losses for face encoders, and the NST costs.

Every function is pure TensorFlow (usable inside ``tf.function`` and differentiable) and checks
the static shapes it is given: a wrong rank or mismatched shapes raise ``ValueError`` with the
shapes in the message instead of broadcasting silently.

Face recognition (Schroff et al., FaceNet 2015), with squared Euclidean distances
``d(x, y) = ||f(x) - f(y)||²``:

* :func:`triplet_loss` — the course signature over explicit (anchor, positive, negative) batches:
  ``J = Σ_i max(d(A_i, P_i) − d(A_i, N_i) + α, 0)``.
* :func:`batch_all_triplet_loss`, :func:`batch_hard_triplet_loss`, :func:`semi_hard_triplet_loss`
  — online mining inside a batch of ``(embeddings, labels)``, for training.

Neural style transfer (Gatys et al. 2015), activations of shape (1, n_H, n_W, n_C):

* :func:`content_cost` — ``J_content = 1/(4 n_H n_W n_C) Σ (a_C − a_G)²``
* :func:`gram_matrix` — ``G = A Aᵀ`` for ``A`` of shape (n_C, n_H·n_W)
* :func:`layer_style_cost` — ``J_style^[l] = 1/(4 n_C² (n_H n_W)²) Σ (G_S − G_G)²``
* :func:`style_cost` — ``J_style = Σ_l λ_l J_style^[l]``
* :func:`total_cost` — ``J = α J_content + β J_style``
* :func:`total_variation_loss` — ``Σ |x_{i+1,j} − x_{i,j}| + Σ |x_{i,j+1} − x_{i,j}|``
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

# --------------------------------------------------------------------------------------------
# Shape validation
# --------------------------------------------------------------------------------------------


def _check_rank(tensor, rank: int, name: str) -> None:
    shape = tensor.shape
    if shape.rank is not None and shape.rank != rank:
        raise ValueError(f"{name} must have rank {rank}; got shape {tuple(shape.as_list())}")


def _check_same_shape(first, second, first_name: str, second_name: str) -> None:
    a, b = first.shape, second.shape
    if a.rank is None or b.rank is None:
        return
    if a.rank != b.rank or any(x is not None and y is not None and x != y for x, y in zip(a.as_list(), b.as_list())):
        raise ValueError(
            f"{first_name} and {second_name} must have the same shape; got "
            f"{tuple(a.as_list())} and {tuple(b.as_list())}"
        )


def _as_float(tensor, name: str) -> tf.Tensor:
    tensor = tf.convert_to_tensor(tensor)
    if not tensor.dtype.is_floating:
        tensor = tf.cast(tensor, tf.float32)
    return tensor


# --------------------------------------------------------------------------------------------
# Triplet losses
# --------------------------------------------------------------------------------------------


def triplet_loss(y_true, y_pred, alpha: float = 0.2) -> tf.Tensor:
    """Triplet loss of FaceNet over explicit triplets (the course's signature).

    ``J = Σ_i max(||f(A_i) − f(P_i)||² − ||f(A_i) − f(N_i)||² + α, 0)``: squared distances are
    summed over the encoding axis (``axis=-1``), the hinge is applied per triplet, then summed
    over the batch.

    Args:
        y_true: unused (Keras passes labels; the triplet structure carries them).
        y_pred: a sequence ``(anchor, positive, negative)`` of encodings, each of shape (m, d), or
            each of shape (d,) for a single triplet (as in the course's own unit test); or one
            tensor of shape (3, m, d).
        alpha: margin α.

    Returns:
        Scalar loss tensor.

    Example:
        >>> a = tf.constant([[0.0, 0.0]]); p = tf.constant([[0.0, 0.0]]); n = tf.constant([[3.0, 4.0]])
        >>> float(triplet_loss(None, (a, p, n), alpha=30.0))   # 0 - 25 + 30
        5.0
        >>> float(triplet_loss(None, ([1.0, 1.0], [1.0, 1.0], [0.0, 0.0]), alpha=3.0))   # one triplet
        1.0
    """
    if isinstance(y_pred, (tf.Tensor,)) and y_pred.shape.rank == 3 and y_pred.shape[0] == 3:
        anchor, positive, negative = y_pred[0], y_pred[1], y_pred[2]
    else:
        if len(y_pred) != 3:
            raise ValueError(f"y_pred must hold (anchor, positive, negative); got {len(y_pred)} items")
        anchor, positive, negative = (_as_float(t, "encoding") for t in y_pred)
    for name, tensor in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        if tensor.shape.rank != 1:  # rank 1: one triplet; otherwise a batch of shape (m, d)
            _check_rank(tensor, 2, name)
    _check_same_shape(anchor, positive, "anchor", "positive")
    _check_same_shape(anchor, negative, "anchor", "negative")
    positive_distance = tf.reduce_sum(tf.square(anchor - positive), axis=-1)
    negative_distance = tf.reduce_sum(tf.square(anchor - negative), axis=-1)
    return tf.reduce_sum(tf.maximum(positive_distance - negative_distance + alpha, 0.0))


def pairwise_squared_distances(embeddings) -> tf.Tensor:
    """Matrix ``D[i, j] = ||e_i − e_j||²`` for embeddings of shape (m, d), clipped at 0.

    Uses ``||a||² − 2 a·b + ||b||²`` (one matrix product) and sets the diagonal to exactly 0.
    """
    embeddings = _as_float(embeddings, "embeddings")
    _check_rank(embeddings, 2, "embeddings")
    squared_norms = tf.reduce_sum(tf.square(embeddings), axis=1)
    products = tf.matmul(embeddings, embeddings, transpose_b=True)
    distances = squared_norms[:, None] - 2.0 * products + squared_norms[None, :]
    distances = tf.maximum(distances, 0.0)
    return tf.linalg.set_diag(distances, tf.zeros_like(squared_norms))


def _label_masks(labels):
    labels = tf.reshape(tf.convert_to_tensor(labels), [-1])
    same = tf.equal(labels[:, None], labels[None, :])
    not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    positive_mask = tf.logical_and(same, not_self)
    negative_mask = tf.logical_not(same)
    return positive_mask, negative_mask


def _check_labels(labels, embeddings) -> None:
    labels = tf.convert_to_tensor(labels)
    embeddings = tf.convert_to_tensor(embeddings)
    _check_rank(embeddings, 2, "embeddings")
    if labels.shape.rank is not None and labels.shape.rank > 1 and labels.shape[-1] != 1:
        raise ValueError(f"labels must have shape (m,) or (m, 1); got {tuple(labels.shape.as_list())}")
    m_labels, m_embed = labels.shape[0], embeddings.shape[0]
    if m_labels is not None and m_embed is not None and m_labels != m_embed:
        raise ValueError(
            f"labels and embeddings must have the same batch size; got shapes "
            f"{tuple(labels.shape.as_list())} and {tuple(embeddings.shape.as_list())}"
        )


def batch_all_triplet_loss(labels, embeddings, margin: float = 0.2) -> tf.Tensor:
    """Batch-all triplet loss: the mean hinge over every valid triplet that still violates the margin.

    For every anchor ``a``, positive ``p`` (same label, ``p ≠ a``) and negative ``n`` (other label):
    ``ℓ(a, p, n) = max(D[a, p] − D[a, n] + margin, 0)``; the loss averages ``ℓ`` over the
    triplets with ``ℓ > 0`` (averaging over all valid triplets would vanish as most become easy).

    Args:
        labels: int identities, shape (m,).
        embeddings: float encodings, shape (m, d).
        margin: α.

    Returns:
        Scalar loss.
    """
    _check_labels(labels, embeddings)
    distances = pairwise_squared_distances(embeddings)
    positive_mask, negative_mask = _label_masks(labels)
    losses = distances[:, :, None] - distances[:, None, :] + margin
    valid = tf.logical_and(positive_mask[:, :, None], negative_mask[:, None, :])
    losses = tf.where(valid, tf.maximum(losses, 0.0), 0.0)
    violating = tf.cast(losses > 1e-16, losses.dtype)
    return tf.reduce_sum(losses) / tf.maximum(tf.reduce_sum(violating), 1.0)


def batch_hard_triplet_loss(labels, embeddings, margin: float = 0.2) -> tf.Tensor:
    """Batch-hard triplet loss (Hermans et al. 2017): per anchor, hardest positive and negative.

    ``L = mean_a max(max_{p} D[a, p] − min_{n} D[a, n] + margin, 0)`` over the anchors that have
    at least one positive and one negative in the batch.
    """
    _check_labels(labels, embeddings)
    distances = pairwise_squared_distances(embeddings)
    positive_mask, negative_mask = _label_masks(labels)
    hardest_positive = tf.reduce_max(tf.where(positive_mask, distances, 0.0), axis=1)
    largest = tf.reduce_max(distances)
    hardest_negative = tf.reduce_min(tf.where(negative_mask, distances, largest + 1.0), axis=1)
    has_both = tf.logical_and(tf.reduce_any(positive_mask, axis=1), tf.reduce_any(negative_mask, axis=1))
    losses = tf.maximum(hardest_positive - hardest_negative + margin, 0.0)
    losses = tf.where(has_both, losses, 0.0)
    return tf.reduce_sum(losses) / tf.maximum(tf.reduce_sum(tf.cast(has_both, losses.dtype)), 1.0)


def semi_hard_triplet_loss(labels, embeddings, margin: float = 0.2) -> tf.Tensor:
    """Semi-hard triplet loss (FaceNet): per (anchor, positive), the closest negative beyond the positive.

    For each pair ``(a, p)`` the negative is the one with the smallest ``D[a, n]`` among those
    with ``D[a, p] < D[a, n]`` (semi-hard: farther than the positive, perhaps inside the margin).
    Where no such negative exists, the farthest negative is used. The loss is the mean of
    ``max(D[a, p] − D[a, n] + margin, 0)`` over all positive pairs.
    """
    _check_labels(labels, embeddings)
    distances = pairwise_squared_distances(embeddings)
    positive_mask, negative_mask = _label_masks(labels)
    positive_distance = distances[:, :, None]  # (a, p, 1)
    negative_distance = distances[:, None, :]  # (a, 1, n)
    semi_hard = tf.logical_and(negative_mask[:, None, :], negative_distance > positive_distance)
    largest = tf.reduce_max(distances) + 1.0
    closest_beyond = tf.reduce_min(tf.where(semi_hard, negative_distance, largest), axis=2)
    farthest = tf.reduce_max(tf.where(negative_mask, distances, 0.0), axis=1)[:, None]
    chosen = tf.where(tf.reduce_any(semi_hard, axis=2), closest_beyond, farthest)
    losses = tf.maximum(distances - chosen + margin, 0.0)
    has_negative = tf.reduce_any(negative_mask, axis=1)[:, None]
    pair_mask = tf.logical_and(positive_mask, has_negative)
    losses = tf.where(pair_mask, losses, 0.0)
    return tf.reduce_sum(losses) / tf.maximum(tf.reduce_sum(tf.cast(pair_mask, losses.dtype)), 1.0)


def triplet_violation_fraction(labels, embeddings, margin: float = 0.2) -> tf.Tensor:
    """Fraction of all valid triplets (a, p, n) with ``D[a, p] − D[a, n] + margin > 0``.

    A training diagnostic: it falls as the encoder learns; the rest are "easy" triplets that
    contribute no gradient.
    """
    _check_labels(labels, embeddings)
    distances = pairwise_squared_distances(embeddings)
    positive_mask, negative_mask = _label_masks(labels)
    valid = tf.logical_and(positive_mask[:, :, None], negative_mask[:, None, :])
    violating = tf.logical_and(valid, distances[:, :, None] - distances[:, None, :] + margin > 0.0)
    count = tf.reduce_sum(tf.cast(valid, tf.float32))
    return tf.reduce_sum(tf.cast(violating, tf.float32)) / tf.maximum(count, 1.0)


# --------------------------------------------------------------------------------------------
# Neural style transfer costs
# --------------------------------------------------------------------------------------------


def content_cost(a_C, a_G) -> tf.Tensor:
    """Content cost ``J_content = 1/(4 n_H n_W n_C) Σ (a_C − a_G)²``.

    Args:
        a_C: content-image activations of one layer, shape (1, n_H, n_W, n_C).
        a_G: generated-image activations of the same layer and shape.

    Returns:
        Scalar tensor.

    Example:
        >>> a = tf.ones((1, 2, 2, 1)); float(content_cost(a, a * 3))   # 4 values of (1-3)^2, / (4*2*2*1)
        1.0
    """
    a_C, a_G = _as_float(a_C, "a_C"), _as_float(a_G, "a_G")
    _check_rank(a_C, 4, "a_C")
    _check_rank(a_G, 4, "a_G")
    _check_same_shape(a_C, a_G, "a_C", "a_G")
    shape = tf.shape(a_G)
    n_H, n_W, n_C = (tf.cast(shape[i], a_G.dtype) for i in (1, 2, 3))
    return tf.reduce_sum(tf.square(a_C - a_G)) / (4.0 * n_H * n_W * n_C)


def gram_matrix(A) -> tf.Tensor:
    """Gram matrix ``G_A = A Aᵀ`` of unrolled activations ``A`` of shape (n_C, n_H·n_W).

    ``G[i, j]`` is the (unnormalised) correlation of channels ``i`` and ``j`` over all positions.

    Example:
        >>> float(gram_matrix(tf.constant([[1.0, 2.0], [3.0, 4.0]]))[0, 1])   # 1*3 + 2*4
        11.0
    """
    A = _as_float(A, "A")
    _check_rank(A, 2, "A")
    return tf.matmul(A, A, transpose_b=True)


def _unroll_channels(activations) -> tf.Tensor:
    """(1, n_H, n_W, n_C) → (n_C, n_H·n_W): reshape to (n_H·n_W, n_C) first, then transpose."""
    n_C = tf.shape(activations)[-1]
    return tf.transpose(tf.reshape(activations, [-1, n_C]))


def layer_style_cost(a_S, a_G) -> tf.Tensor:
    """Style cost of one layer ``1/(4 n_C² (n_H n_W)²) Σ_ij (G_S[i, j] − G_G[i, j])²``.

    Args:
        a_S: style-image activations, shape (1, n_H, n_W, n_C).
        a_G: generated-image activations, same shape.

    Returns:
        Scalar tensor.
    """
    a_S, a_G = _as_float(a_S, "a_S"), _as_float(a_G, "a_G")
    _check_rank(a_S, 4, "a_S")
    _check_rank(a_G, 4, "a_G")
    _check_same_shape(a_S, a_G, "a_S", "a_G")
    shape = tf.shape(a_G)
    n_H, n_W, n_C = (tf.cast(shape[i], a_G.dtype) for i in (1, 2, 3))
    gram_style = gram_matrix(_unroll_channels(a_S))
    gram_generated = gram_matrix(_unroll_channels(a_G))
    return tf.reduce_sum(tf.square(gram_style - gram_generated)) / (4.0 * n_C**2 * (n_H * n_W) ** 2)


def style_cost(style_outputs: Sequence, generated_outputs: Sequence, layer_weights: Sequence[float]) -> tf.Tensor:
    """Weighted style cost over several layers ``J_style = Σ_l λ_l J_style^[l]``.

    Args:
        style_outputs: activations of the style image, one tensor per layer.
        generated_outputs: activations of the generated image, same layers in the same order.
        layer_weights: λ_l, one per layer.

    Returns:
        Scalar tensor.
    """
    if not (len(style_outputs) == len(generated_outputs) == len(layer_weights)):
        raise ValueError(
            f"need one style output, one generated output and one weight per layer; got "
            f"{len(style_outputs)}, {len(generated_outputs)} and {len(layer_weights)}"
        )
    if len(layer_weights) == 0:
        raise ValueError("style_cost needs at least one layer")
    total = 0.0
    for weight, a_S, a_G in zip(layer_weights, style_outputs, generated_outputs):
        total += weight * layer_style_cost(a_S, a_G)
    return total


def total_cost(J_content, J_style, alpha: float = 10.0, beta: float = 40.0) -> tf.Tensor:
    """Total NST cost ``J = α J_content + β J_style``, always a tensor (also for Python numbers).

    Args:
        J_content: content cost, a scalar tensor or number.
        J_style: style cost, a scalar tensor or number (converted to ``J_content``'s dtype).
        alpha, beta: the weights α and β.

    Returns:
        Scalar tensor (float32 for Python numbers, as in the course's ``@tf.function`` version).

    Example:
        >>> J = total_cost(1.0, 2.0)   # 10 * 1 + 40 * 2
        >>> isinstance(J, tf.Tensor), float(J)
        (True, 90.0)
    """
    J_content = _as_float(J_content, "J_content")
    J_style = tf.cast(_as_float(J_style, "J_style"), J_content.dtype)
    return alpha * J_content + beta * J_style


def total_variation_loss(images) -> tf.Tensor:
    """Anisotropic total variation ``Σ |x_{i+1,j} − x_{i,j}| + Σ |x_{i,j+1} − x_{i,j}|``.

    Summed over the batch, all pixels and channels of ``images`` (shape (m, H, W, C)); it penalises
    high-frequency noise in a generated image. ``tf.image.total_variation`` computes it per image;
    this adds the batch up, so the loss is one scalar.

    Example:
        >>> float(total_variation_loss(tf.constant([[[[0.0], [1.0]], [[0.0], [1.0]]]])))
        2.0
    """
    images = _as_float(images, "images")
    _check_rank(images, 4, "images")
    return tf.reduce_sum(tf.image.total_variation(images))
