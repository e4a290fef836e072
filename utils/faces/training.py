"""Training a face encoder with the triplet loss: PK batches, a small ConvNet, mining strategies.

What a triplet-loss training step needs, in the order it happens:

1. :class:`PKSampler` draws a batch of ``P`` identities x ``K`` images each, so every image in the
   batch has at least one positive (same person) and many negatives (everyone else).
2. The encoder (:func:`build_convnet_encoder`, or any Keras model) maps the batch to L2-normalised
   embeddings, so squared distances lie in [0, 4] and the margin means the same thing all along.
3. A *mining strategy* (:data:`MINING_STRATEGIES`) turns the batch into a loss:

   * ``"random"`` — explicit triplets: for every anchor, one random positive and one random
     negative of the batch, scored with the course's :func:`utils.losses.triplet_loss` (averaged).
   * ``"batch_hard"`` — per anchor, the farthest positive and the closest negative
     (:func:`utils.losses.batch_hard_triplet_loss`).
   * ``"semi_hard"`` — per (anchor, positive), the closest negative that is still farther than
     the positive (:func:`utils.losses.semi_hard_triplet_loss`), as in FaceNet.

4. :func:`train_triplet_model` runs a ``tf.function`` train step over PK batches and records, per
   epoch, the mean loss and the fraction of all valid triplets in the batch that still violate the
   margin (:func:`utils.losses.triplet_violation_fraction`), with a tqdm progress bar.

:func:`fine_tune_projection_head` reuses the same loop to learn a small Dense head on top of
frozen encodings (e.g. the pretrained dlib ResNet's 128-d vectors).

This module imports TensorFlow (through :mod:`utils.losses`), so :mod:`utils.faces` does not
re-export it: ``from utils.faces.training import PKSampler, train_triplet_model, ...``.

Example:
    >>> import numpy as np
    >>> from utils.faces import training
    >>> labels = np.repeat(np.arange(10), 3)
    >>> images = np.random.default_rng(0).random((30, 32, 32, 3), dtype=np.float32)
    >>> encoder = training.build_convnet_encoder((32, 32, 3), embedding_dim=16)
    >>> encoder.output_shape
    (None, 16)
    >>> history = training.train_triplet_model(                    # doctest: +SKIP
    ...     encoder, images, labels, strategy="semi_hard", epochs=2, steps_per_epoch=5,
    ...     identities_per_batch=4, images_per_identity=2)
    >>> len(history.loss)                                          # doctest: +SKIP
    2
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator, Sequence

import keras
import numpy as np
import tensorflow as tf
from tqdm.auto import tqdm

from utils import losses
from utils.errors import TrainingError

#: Mining strategies accepted by :func:`train_triplet_model`.
MINING_STRATEGIES = ("random", "batch_hard", "semi_hard")


# ============================================================================================
# PK batch sampler
# ============================================================================================


class PKSampler:
    """Draws batches of ``P`` identities x ``K`` images each (indices into a labelled data set).

    Only identities with at least two images can provide a positive, so only those are used.
    Identities are visited in a shuffled cycle: every usable identity appears once before any
    appears twice (P at a time), then the cycle is reshuffled. Within an identity, ``K`` images
    are drawn without replacement when it has at least ``K``; otherwise all its images are used
    and the rest of the ``K`` slots are filled by drawing again from them (with training-time
    augmentation the repeats are not identical inputs). A batch is ordered identity by identity.

    Args:
        labels: identity of each example, shape ``(n,)`` (ints or strings).
        identities_per_batch: ``P`` (>= 2, so that negatives exist).
        images_per_identity: ``K`` (>= 2, so that positives exist).
        seed: seed of the sampler's own random generator.

    Example:
        >>> sampler = PKSampler(np.array([0, 0, 1, 1, 1, 2]), identities_per_batch=2,
        ...                     images_per_identity=2, seed=0)
        >>> batch = sampler.sample()
        >>> batch.shape
        (4,)
    """

    def __init__(self, labels, identities_per_batch: int = 8, images_per_identity: int = 4, seed: int = 0):
        labels = np.asarray(labels)
        if labels.ndim != 1 or len(labels) == 0:
            raise TrainingError(f"labels must be a non-empty 1-D array; got shape {labels.shape}")
        if int(identities_per_batch) < 2:
            raise TrainingError(
                f"identities_per_batch (P) must be >= 2 so that negatives exist; got {identities_per_batch}"
            )
        if int(images_per_identity) < 2:
            raise TrainingError(
                f"images_per_identity (K) must be >= 2 so that positives exist; got {images_per_identity}"
            )
        self.labels = labels
        self.identities_per_batch = int(identities_per_batch)
        self.images_per_identity = int(images_per_identity)
        self._rng = np.random.default_rng(seed)
        groups: dict = {}
        for index, label in enumerate(labels.tolist()):
            groups.setdefault(label, []).append(index)
        self.groups = {label: np.array(indices) for label, indices in groups.items() if len(indices) >= 2}
        self.identities = sorted(self.groups, key=str)
        if len(self.identities) < self.identities_per_batch:
            raise TrainingError(
                f"a PK batch needs P={self.identities_per_batch} identities with at least 2 images each, "
                f"but the labels hold only {len(self.identities)} such identities "
                f"({len(groups)} identities in all)"
            )
        self._queue: list = []

    @property
    def batch_size(self) -> int:
        """``P * K``."""
        return self.identities_per_batch * self.images_per_identity

    def _next_identities(self) -> list:
        chosen: list = []
        while len(chosen) < self.identities_per_batch:
            if not self._queue:
                order = self._rng.permutation(len(self.identities))
                self._queue = [self.identities[i] for i in order]
            candidate = self._queue.pop()
            if candidate not in chosen:
                chosen.append(candidate)
            else:  # only when a reshuffle hands back an identity already in this batch
                self._queue.insert(0, candidate)
        return chosen

    def _draw(self, indices: np.ndarray) -> np.ndarray:
        k = self.images_per_identity
        if len(indices) >= k:
            return self._rng.choice(indices, size=k, replace=False)
        extra = self._rng.choice(indices, size=k - len(indices), replace=True)
        return np.concatenate([self._rng.permutation(indices), extra])

    def sample(self) -> np.ndarray:
        """Indices of one batch, shape ``(P * K,)``, grouped identity by identity."""
        return np.concatenate([self._draw(self.groups[label]) for label in self._next_identities()])

    def batches(self, count: int) -> Iterator[np.ndarray]:
        """Yield ``count`` batches of indices."""
        for _ in range(int(count)):
            yield self.sample()


# ============================================================================================
# Data preparation and the encoder
# ============================================================================================


def prepare_chips(chips, size: int = 64, grayscale: bool = False) -> np.ndarray:
    """Aligned uint8 face chips ``(n, H, W, 3)`` -> float32 ``(n, size, size, C)`` in [0, 1].

    Args:
        chips: uint8 RGB chips (e.g. the 150x150 chips of :mod:`utils.faces.align`).
        size: output side in pixels (area-averaging downscale).
        grayscale: return one luminance channel instead of three.

    Returns:
        float32 array, ``C`` = 1 or 3.
    """
    chips = np.asarray(chips)
    if chips.ndim != 4 or chips.shape[-1] != 3:
        raise TrainingError(f"chips must have shape (n, height, width, 3); got {chips.shape}")
    images = tf.image.resize(tf.cast(chips, tf.float32) / 255.0, (size, size), method="area", antialias=True)
    if grayscale:
        images = tf.image.rgb_to_grayscale(images)
    return np.clip(images.numpy(), 0.0, 1.0).astype(np.float32)


def build_convnet_encoder(
    input_shape: Sequence[int] = (48, 48, 3),
    embedding_dim: int = 64,
    filters: Sequence[int] = (16, 32, 64),
    name: str = "small_face_encoder",
):
    """A small ConvNet that maps a face image to an L2-normalised embedding.

    Each block is Conv2D 3x3 -> GroupNormalization (groups of up to 8 channels) -> ReLU ->
    MaxPooling2D 2x2; then global average pooling, a Dense layer of ``embedding_dim`` units and
    ``UnitNormalization`` (so every embedding lies on the unit sphere and squared distances are in
    [0, 4]). Group normalisation behaves the same in training and inference. Batch normalisation
    does not: its running averages start at variance 1 while these activations have a variance
    of 0.01-0.04 here, so after the few dozen steps of a short CPU run a BatchNorm encoder (even with
    momentum 0.9) mapped every held-out face to nearly the same embedding in inference mode.

    Args:
        input_shape: ``(height, width, channels)``.
        embedding_dim: size of the embedding.
        filters: channels of each block.
        name: model name.

    Returns:
        A ``keras.Model``.
    """
    if len(tuple(input_shape)) != 3:
        raise TrainingError(f"input_shape must be (height, width, channels); got {tuple(input_shape)}")
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = inputs
    for block, channels in enumerate(filters, start=1):
        x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False, name=f"block{block}_conv")(x)
        x = keras.layers.GroupNormalization(groups=math.gcd(8, int(channels)), name=f"block{block}_norm")(x)
        x = keras.layers.ReLU(name=f"block{block}_relu")(x)
        x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dense(embedding_dim, name="embedding")(x)
    outputs = keras.layers.UnitNormalization(axis=-1, name="l2_normalize")(x)
    return keras.Model(inputs, outputs, name=name)


def build_projection_head(input_dim: int = 128, output_dim: int = 64, name: str = "projection_head"):
    """A Dense projection ``input_dim -> output_dim`` followed by L2 normalisation.

    Args:
        input_dim: size of the frozen encodings it reads.
        output_dim: size of the new embedding.
        name: model name.

    Returns:
        A ``keras.Model``.
    """
    inputs = keras.Input(shape=(int(input_dim),), name="encoding")
    x = keras.layers.Dense(int(output_dim), name="projection")(inputs)
    outputs = keras.layers.UnitNormalization(axis=-1, name="l2_normalize")(x)
    return keras.Model(inputs, outputs, name=name)


def augment_images(images, max_shift: int = 4):
    """Random horizontal flip and random translation (edge-padded crop) of a batch of images.

    Args:
        images: float tensor ``(m, H, W, C)``.
        max_shift: largest shift in pixels, each direction.

    Returns:
        Tensor of the same shape.
    """
    images = tf.convert_to_tensor(images, tf.float32)
    shape = tf.shape(images)
    flip = tf.random.uniform([shape[0], 1, 1, 1]) < 0.5
    images = tf.where(flip, tf.reverse(images, axis=[2]), images)
    if max_shift > 0:
        padded = tf.pad(images, [[0, 0], [max_shift, max_shift], [max_shift, max_shift], [0, 0]], mode="SYMMETRIC")
        offsets = tf.random.uniform([shape[0], 2], 0, 2 * max_shift + 1, dtype=tf.int32)
        rows = offsets[:, 0:1] + tf.range(shape[1])[None, :]  # (m, H)
        cols = offsets[:, 1:2] + tf.range(shape[2])[None, :]  # (m, W)
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        images = tf.gather(images, cols, axis=2, batch_dims=1)
    return images


# ============================================================================================
# Mining strategies
# ============================================================================================


def random_triplet_loss(labels, embeddings, margin: float = 0.2):
    """Explicit random triplets from a PK batch, scored with the course's ``triplet_loss``.

    Every example of the batch is an anchor once; its positive is drawn uniformly among the other
    examples with the same label and its negative among the examples with another label. The
    course's summed loss is divided by the number of triplets (a mean), so its scale does not
    depend on the batch size. Anchors without a positive or negative are left out.

    Args:
        labels: int identities ``(m,)``.
        embeddings: ``(m, d)``.
        margin: alpha.

    Returns:
        Scalar loss.
    """
    labels = tf.reshape(tf.convert_to_tensor(labels), [-1])
    embeddings = tf.convert_to_tensor(embeddings, tf.float32)
    same = tf.equal(labels[:, None], labels[None, :])
    not_self = tf.logical_not(tf.eye(tf.shape(labels)[0], dtype=tf.bool))
    positive_mask = tf.logical_and(same, not_self)
    negative_mask = tf.logical_not(same)
    usable = tf.logical_and(tf.reduce_any(positive_mask, axis=1), tf.reduce_any(negative_mask, axis=1))
    noise = tf.random.uniform(tf.shape(positive_mask))
    positive_index = tf.argmax(tf.where(positive_mask, noise, -1.0), axis=1)
    negative_index = tf.argmax(tf.where(negative_mask, noise, -1.0), axis=1)
    anchors = tf.boolean_mask(embeddings, usable)
    positives = tf.boolean_mask(tf.gather(embeddings, positive_index), usable)
    negatives = tf.boolean_mask(tf.gather(embeddings, negative_index), usable)
    total = losses.triplet_loss(None, (anchors, positives, negatives), alpha=margin)
    return total / tf.maximum(tf.cast(tf.shape(anchors)[0], tf.float32), 1.0)


def strategy_loss(strategy: str):
    """The loss function ``(labels, embeddings, margin) -> scalar`` of a mining strategy."""
    functions = {
        "random": random_triplet_loss,
        "batch_hard": losses.batch_hard_triplet_loss,
        "semi_hard": losses.semi_hard_triplet_loss,
    }
    if strategy not in functions:
        raise TrainingError(f"unknown mining strategy {strategy!r}; use one of {', '.join(MINING_STRATEGIES)}")
    return functions[strategy]


# ============================================================================================
# Training loop
# ============================================================================================


@dataclasses.dataclass
class TrainingHistory:
    """What :func:`train_triplet_model` records, one value per epoch.

    Attributes:
        strategy: the mining strategy.
        margin: alpha.
        loss: mean training loss of the strategy (each strategy has its own scale).
        violation_fraction: mean over the epoch's batches of the fraction of all valid triplets
            (a, p, n) of the batch with ``d(a, p) - d(a, n) + margin > 0`` (the same yardstick for
            every strategy).
        monitor_violation_fraction: the same fraction on fixed monitoring batches, in inference
            mode, after each epoch (empty when no monitor set was given).
        seconds: wall-clock training time.
    """

    strategy: str
    margin: float
    loss: list = dataclasses.field(default_factory=list)
    violation_fraction: list = dataclasses.field(default_factory=list)
    monitor_violation_fraction: list = dataclasses.field(default_factory=list)
    seconds: float = 0.0


def _check_data(inputs, labels) -> tuple[np.ndarray, np.ndarray]:
    inputs = np.asarray(inputs)
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise TrainingError(f"labels must have shape (n,); got {labels.shape}")
    if len(inputs) != len(labels):
        raise TrainingError(
            f"inputs and labels must have the same length; got shapes {inputs.shape} and {labels.shape}"
        )
    return inputs, labels


def _integer_labels(labels: np.ndarray) -> np.ndarray:
    _, codes = np.unique(labels, return_inverse=True)
    return codes.astype(np.int32)


def monitor_batches(
    inputs, labels, count: int = 4, identities_per_batch: int = 8, images_per_identity: int = 4, seed: int = 123
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fixed PK batches ``(inputs, labels)`` to measure the violation fraction on after each epoch."""
    inputs, labels = _check_data(inputs, labels)
    codes = _integer_labels(labels)
    sampler = PKSampler(codes, identities_per_batch, images_per_identity, seed=seed)
    return [(inputs[indices], codes[indices]) for indices in sampler.batches(count)]


def violation_fraction(model, batches: Sequence[tuple[np.ndarray, np.ndarray]], margin: float = 0.2) -> float:
    """Mean fraction of violating triplets of ``model`` over fixed batches (inference mode)."""
    fractions = [
        float(losses.triplet_violation_fraction(batch_labels, model(batch_inputs, training=False), margin))
        for batch_inputs, batch_labels in batches
    ]
    return float(np.mean(fractions)) if fractions else float("nan")


def train_triplet_model(
    model,
    inputs,
    labels,
    strategy: str = "semi_hard",
    epochs: int = 10,
    steps_per_epoch: int | None = None,
    identities_per_batch: int = 8,
    images_per_identity: int = 4,
    margin: float = 0.2,
    learning_rate: float = 1e-3,
    augment: bool = False,
    max_shift: int = 4,
    monitor=None,
    seed: int = 0,
    progress: bool = True,
) -> TrainingHistory:
    """Train ``model`` (inputs -> L2-normalised embeddings) with a triplet loss on PK batches.

    Args:
        model: a Keras model; it is trained in place.
        inputs: array ``(n, ...)`` the model accepts (images, or encodings for a head).
        labels: identities ``(n,)``.
        strategy: one of :data:`MINING_STRATEGIES`.
        epochs: number of epochs.
        steps_per_epoch: batches per epoch (default: enough batches to show about every image once).
        identities_per_batch: ``P``.
        images_per_identity: ``K``.
        margin: alpha of the triplet loss.
        learning_rate: Adam's learning rate.
        augment: apply :func:`augment_images` (random flip + shift) to image batches.
        max_shift: shift of the augmentation, in pixels.
        monitor: optional list of fixed ``(inputs, labels)`` batches (see :func:`monitor_batches`),
            scored after each epoch.
        seed: seeds the sampler and TensorFlow's random ops (augmentation, random triplets).
        progress: show a tqdm progress bar over the steps.

    Returns:
        :class:`TrainingHistory`.
    """
    loss_function = strategy_loss(strategy)
    inputs, labels = _check_data(inputs, labels)
    if int(epochs) < 1:
        raise TrainingError(f"epochs must be >= 1; got {epochs}")
    if augment and inputs.ndim != 4:
        raise TrainingError(f"augment=True needs image inputs (n, H, W, C); got shape {inputs.shape}")
    codes = _integer_labels(labels)
    sampler = PKSampler(codes, identities_per_batch, images_per_identity, seed=seed)
    if steps_per_epoch is None:
        usable = sum(len(group) for group in sampler.groups.values())
        steps_per_epoch = max(1, int(np.ceil(usable / sampler.batch_size)))
    tf.random.set_seed(seed)
    optimizer = keras.optimizers.Adam(learning_rate)
    inputs_tensor = tf.constant(inputs.astype(np.float32))
    margin = float(margin)

    @tf.function(reduce_retracing=True)
    def train_step(batch_indices, batch_labels):
        batch_inputs = tf.gather(inputs_tensor, batch_indices)
        if augment:
            batch_inputs = augment_images(batch_inputs, max_shift)
        with tf.GradientTape() as tape:
            embeddings = model(batch_inputs, training=True)
            loss = loss_function(batch_labels, embeddings, margin)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        violation = losses.triplet_violation_fraction(batch_labels, embeddings, margin)
        return loss, violation

    history = TrainingHistory(strategy=strategy, margin=margin)
    started = time.perf_counter()
    bar = tqdm(total=int(epochs) * int(steps_per_epoch), desc=f"{strategy} triplets", unit="step", disable=not progress)
    for _epoch in range(int(epochs)):
        epoch_losses, epoch_violations = [], []
        for indices in sampler.batches(steps_per_epoch):
            loss, violation = train_step(tf.constant(indices, tf.int32), tf.constant(codes[indices]))
            epoch_losses.append(float(loss))
            epoch_violations.append(float(violation))
            bar.update(1)
        history.loss.append(float(np.mean(epoch_losses)))
        history.violation_fraction.append(float(np.mean(epoch_violations)))
        postfix = {"loss": f"{history.loss[-1]:.4f}", "violating": f"{history.violation_fraction[-1]:.3f}"}
        if monitor:
            history.monitor_violation_fraction.append(violation_fraction(model, monitor, margin))
            postfix["monitor"] = f"{history.monitor_violation_fraction[-1]:.3f}"
        bar.set_postfix(postfix)
    bar.close()
    history.seconds = time.perf_counter() - started
    return history


def embed(model, inputs, batch_size: int = 256) -> np.ndarray:
    """Embeddings of ``inputs`` in inference mode, float32 ``(n, d)``."""
    inputs = np.asarray(inputs, dtype=np.float32)
    parts = [
        np.asarray(model(inputs[start : start + batch_size], training=False))
        for start in range(0, len(inputs), batch_size)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, model.output_shape[-1]), np.float32)


def fine_tune_projection_head(
    encodings,
    labels,
    output_dim: int = 64,
    strategy: str = "semi_hard",
    epochs: int = 20,
    margin: float = 0.2,
    learning_rate: float = 1e-3,
    identities_per_batch: int = 16,
    images_per_identity: int = 4,
    steps_per_epoch: int | None = None,
    monitor_encodings=None,
    monitor_labels=None,
    seed: int = 0,
    progress: bool = True,
):
    """Learn a Dense + L2-normalisation head on frozen encodings with a triplet loss.

    The pretrained encoder is not touched (its encodings are computed once, outside); only the
    head's weights are trained, with the same loop as :func:`train_triplet_model`.

    Args:
        encodings: frozen encodings ``(n, d)`` of the training images.
        labels: identities ``(n,)``.
        output_dim: size of the head's output.
        strategy, epochs, margin, learning_rate, identities_per_batch, images_per_identity,
            steps_per_epoch, seed, progress: as for :func:`train_triplet_model`.
        monitor_encodings, monitor_labels: optional encodings of other identities; the head's
            violation fraction on fixed batches of them is recorded after each epoch.

    Returns:
        ``(head, history)``: the trained ``keras.Model`` and its :class:`TrainingHistory`.
    """
    encodings = np.asarray(encodings, dtype=np.float32)
    if encodings.ndim != 2:
        raise TrainingError(f"encodings must have shape (n, d); got {encodings.shape}")
    keras.utils.set_random_seed(seed)
    head = build_projection_head(encodings.shape[1], output_dim)
    monitor = None
    if monitor_encodings is not None:
        monitor = monitor_batches(
            monitor_encodings,
            monitor_labels,
            identities_per_batch=identities_per_batch,
            images_per_identity=images_per_identity,
        )
    history = train_triplet_model(
        head,
        encodings,
        labels,
        strategy=strategy,
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        identities_per_batch=identities_per_batch,
        images_per_identity=images_per_identity,
        margin=margin,
        learning_rate=learning_rate,
        monitor=monitor,
        seed=seed,
        progress=progress,
    )
    return head, history


def pair_distances(embeddings_a, embeddings_b) -> np.ndarray:
    """Euclidean distance between row ``i`` of ``embeddings_a`` and row ``i`` of ``embeddings_b``."""
    embeddings_a = np.asarray(embeddings_a, dtype=np.float64)
    embeddings_b = np.asarray(embeddings_b, dtype=np.float64)
    if embeddings_a.shape != embeddings_b.shape:
        raise TrainingError(
            f"pair_distances needs two arrays of the same shape; got {embeddings_a.shape} and {embeddings_b.shape}"
        )
    return np.linalg.norm(
        embeddings_a.reshape(len(embeddings_a), -1) - embeddings_b.reshape(len(embeddings_b), -1), axis=1
    )
