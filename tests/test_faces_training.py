"""Tests of utils.faces.training: the PK sampler, the encoder builders, the mining strategies and
the training loop.

No weights are needed: the training tests build their own small models and a synthetic problem
(points or tiny images whose identity is a hidden class centre), and check that training lowers
both the loss and the fraction of triplets that still violate the margin.
"""

from collections import Counter

import numpy as np
import pytest

from utils import losses
from utils.faces import training


# --------------------------------------------------------------------------------- PK sampler
def _labels_with_counts(counts):
    return np.concatenate([np.full(count, identity) for identity, count in enumerate(counts)])


def test_pk_batch_has_p_identities_with_k_distinct_images_each():
    labels = _labels_with_counts([5, 4, 6, 3, 7, 4])
    sampler = training.PKSampler(labels, identities_per_batch=3, images_per_identity=3, seed=1)
    assert sampler.batch_size == 9
    for indices in sampler.batches(20):
        assert indices.shape == (9,)
        batch_labels = labels[indices]
        counts = Counter(batch_labels.tolist())
        assert len(counts) == 3 and set(counts.values()) == {3}
        # grouped identity by identity, and no image twice within an identity (all have >= 3)
        for group in range(3):
            block = indices[3 * group : 3 * group + 3]
            assert len(set(labels[block].tolist())) == 1
            assert len(set(block.tolist())) == 3


def test_pk_sampler_skips_singletons_and_pads_small_identities():
    # identity 1 has a single image (no positive possible): never sampled;
    # identity 2 has 2 images and K=4: both images appear, the other two slots repeat them.
    labels = _labels_with_counts([4, 1, 2, 5])
    sampler = training.PKSampler(labels, identities_per_batch=2, images_per_identity=4, seed=0)
    assert sampler.identities == [0, 2, 3]
    seen_identity_2 = False
    for indices in sampler.batches(30):
        assert 1 not in labels[indices]
        mask = labels[indices] == 2
        if mask.any():
            seen_identity_2 = True
            assert mask.sum() == 4
            assert set(indices[mask].tolist()) == set(np.flatnonzero(labels == 2).tolist())
    assert seen_identity_2


def test_pk_sampler_visits_every_identity_once_per_cycle():
    labels = _labels_with_counts([2] * 12)
    sampler = training.PKSampler(labels, identities_per_batch=4, images_per_identity=2, seed=3)
    first_cycle = np.concatenate([labels[indices] for indices in sampler.batches(3)])
    assert sorted(set(first_cycle.tolist())) == list(range(12))


def test_pk_sampler_is_deterministic_given_the_seed_and_accepts_string_labels():
    labels = np.array(["ann", "ann", "bob", "bob", "bob", "cy", "cy"])
    first = [b.tolist() for b in training.PKSampler(labels, 2, 2, seed=7).batches(5)]
    second = [b.tolist() for b in training.PKSampler(labels, 2, 2, seed=7).batches(5)]
    assert first == second


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(identities_per_batch=1), "identities_per_batch"),
        (dict(images_per_identity=1), "images_per_identity"),
        (dict(identities_per_batch=4), "only 3 such identities"),
    ],
)
def test_pk_sampler_rejects_impossible_batches(kwargs, message):
    labels = _labels_with_counts([2, 3, 2, 1])
    arguments = dict(identities_per_batch=2, images_per_identity=2)
    arguments.update(kwargs)
    with pytest.raises(training.TrainingError, match=message):
        training.PKSampler(labels, **arguments)


def test_pk_sampler_rejects_non_1d_labels():
    with pytest.raises(training.TrainingError, match="1-D"):
        training.PKSampler(np.zeros((4, 2)), 2, 2)


# ------------------------------------------------------------------------ models and helpers
def test_convnet_encoder_outputs_unit_vectors():
    encoder = training.build_convnet_encoder((32, 32, 1), embedding_dim=16, filters=(8, 16))
    images = np.random.default_rng(0).random((5, 32, 32, 1), dtype=np.float32)
    embeddings = training.embed(encoder, images)
    assert embeddings.shape == (5, 16)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)


def test_projection_head_outputs_unit_vectors():
    head = training.build_projection_head(128, 32)
    outputs = training.embed(head, np.random.default_rng(1).normal(size=(7, 128)))
    assert outputs.shape == (7, 32)
    np.testing.assert_allclose(np.linalg.norm(outputs, axis=1), 1.0, atol=1e-5)


def test_prepare_chips_downscales_to_float_in_unit_range():
    chips = np.full((2, 150, 150, 3), 255, np.uint8)
    chips[1] = 0
    rgb = training.prepare_chips(chips, size=48)
    gray = training.prepare_chips(chips, size=32, grayscale=True)
    assert rgb.shape == (2, 48, 48, 3) and rgb.dtype == np.float32
    assert gray.shape == (2, 32, 32, 1)
    np.testing.assert_allclose(rgb[0], 1.0, atol=1e-5)
    np.testing.assert_allclose(rgb[1], 0.0, atol=1e-6)
    with pytest.raises(training.TrainingError, match="shape"):
        training.prepare_chips(np.zeros((2, 150, 150), np.uint8))


def test_augment_images_keeps_shape_and_content():
    images = np.random.default_rng(2).random((6, 20, 20, 3)).astype(np.float32)
    out = training.augment_images(images, max_shift=3).numpy()
    assert out.shape == images.shape
    # a flip or shift only rearranges pixels (symmetric padding repeats border ones)
    assert out.min() >= images.min() - 1e-6 and out.max() <= images.max() + 1e-6
    unchanged = training.augment_images(images, max_shift=0).numpy()
    for original, result in zip(images, unchanged):
        assert np.allclose(result, original) or np.allclose(result, original[:, ::-1])


def test_pair_distances_by_hand():
    np.testing.assert_allclose(training.pair_distances([[0, 0], [1, 1]], [[3, 4], [1, 1]]), [5.0, 0.0])
    with pytest.raises(training.TrainingError):
        training.pair_distances(np.zeros((2, 3)), np.zeros((3, 3)))


# --------------------------------------------------------------------------- mining strategies
def test_random_triplet_loss_by_hand():
    # Every candidate negative of an anchor is at the same distance, so the random choice does not
    # matter: e0=(0,0), e1=(1,0) (identity 0), e2=e3=(0.5,0.5) (identity 1), margin 0.6.
    # anchors 0, 1: d(a,p)=1, d(a,n)=0.5 -> 1.1 each; anchors 2, 3: d(a,p)=0, d(a,n)=0.5 -> 0.1 each.
    embeddings = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]], np.float32)
    labels = np.array([0, 0, 1, 1])
    assert float(training.random_triplet_loss(labels, embeddings, margin=0.6)) == pytest.approx(0.6, abs=1e-5)
    # it is the course loss summed over the four triplets, divided by four
    anchors, positives, negatives = embeddings, embeddings[[1, 0, 3, 2]], embeddings[[2, 2, 0, 1]]
    course = float(losses.triplet_loss(None, (anchors, positives, negatives), alpha=0.6))
    assert course / 4 == pytest.approx(0.6, abs=1e-5)


@pytest.mark.parametrize("strategy", training.MINING_STRATEGIES)
def test_strategy_loss_is_zero_for_well_separated_clusters(strategy):
    labels = np.repeat(np.arange(3), 3)
    embeddings = np.repeat(np.eye(3, dtype=np.float32), 3, axis=0)  # squared distances 0 or 2
    assert float(training.strategy_loss(strategy)(labels, embeddings, 0.5)) == pytest.approx(0.0)
    assert float(losses.triplet_violation_fraction(labels, embeddings, 0.5)) == 0.0


def test_unknown_strategy_is_rejected():
    with pytest.raises(training.TrainingError, match="batch_hard"):
        training.strategy_loss("hardest")


# ------------------------------------------------------------------------------ training loop
def _synthetic_points(identities=12, per_identity=6, dim=16, noise=0.5, seed=0):
    """Identities = random class centres in R^dim, examples = centre + Gaussian noise."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(identities, dim))
    labels = np.repeat(np.arange(identities), per_identity)
    points = centres[labels] + noise * rng.normal(size=(len(labels), dim))
    return points.astype(np.float32), labels


@pytest.mark.parametrize("strategy", training.MINING_STRATEGIES)
def test_training_lowers_loss_and_violations_on_a_synthetic_problem(strategy):
    """A small model the test builds itself (a Dense head on synthetic vectors, no weights)."""
    import keras

    keras.utils.set_random_seed(0)
    points, labels = _synthetic_points()
    model = training.build_projection_head(points.shape[1], 8)
    monitor = training.monitor_batches(points, labels, count=2, identities_per_batch=4, images_per_identity=3)
    before = training.violation_fraction(model, monitor, margin=0.2)
    history = training.train_triplet_model(
        model,
        points,
        labels,
        strategy=strategy,
        epochs=8,
        steps_per_epoch=10,
        identities_per_batch=4,
        images_per_identity=3,
        margin=0.2,
        learning_rate=1e-2,
        monitor=monitor,
        progress=False,
    )
    assert len(history.loss) == len(history.violation_fraction) == len(history.monitor_violation_fraction) == 8
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.violation_fraction[-1] < history.violation_fraction[0]
    assert history.monitor_violation_fraction[-1] < 0.5 * before


def test_small_convnet_learns_synthetic_image_identities():
    """A tiny ConvNet built here (no weights) on 16x16 images: identity = a fixed random pattern.

    No augmentation: a horizontal flip would turn a pattern into another "identity".
    """
    import keras

    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    patterns = rng.random((8, 16, 16, 1)).astype(np.float32)
    labels = np.repeat(np.arange(8), 5)
    images = np.clip(patterns[labels] + 0.15 * rng.normal(size=(40, 16, 16, 1)), 0, 1).astype(np.float32)
    model = training.build_convnet_encoder((16, 16, 1), embedding_dim=8, filters=(8, 16))
    history = training.train_triplet_model(
        model,
        images,
        labels,
        strategy="semi_hard",
        epochs=6,
        steps_per_epoch=8,
        identities_per_batch=4,
        images_per_identity=3,
        learning_rate=3e-3,
        augment=False,
        progress=False,
    )
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.violation_fraction[-1] < 0.5 * history.violation_fraction[0]


def test_fine_tune_projection_head_returns_head_and_history():
    points, labels = _synthetic_points(identities=10, per_identity=4, dim=12, seed=2)
    other_points, other_labels = _synthetic_points(identities=8, per_identity=4, dim=12, seed=3)
    head, history = training.fine_tune_projection_head(
        points,
        labels,
        output_dim=6,
        epochs=3,
        steps_per_epoch=4,
        identities_per_batch=4,
        images_per_identity=2,
        monitor_encodings=other_points,
        monitor_labels=other_labels,
        progress=False,
    )
    assert head.output_shape == (None, 6)
    assert len(history.loss) == 3 and len(history.monitor_violation_fraction) == 3
    assert history.strategy == "semi_hard" and history.seconds > 0


def test_train_rejects_bad_inputs():
    model = training.build_projection_head(4, 2)
    with pytest.raises(training.TrainingError, match="same length"):
        training.train_triplet_model(model, np.zeros((5, 4)), np.zeros(4), progress=False)
    with pytest.raises(training.TrainingError, match="augment"):
        training.train_triplet_model(
            model,
            np.zeros((6, 4)),
            np.repeat([0, 1, 2], 2),
            augment=True,
            identities_per_batch=2,
            images_per_identity=2,
            progress=False,
        )
    with pytest.raises(training.TrainingError, match="unknown mining strategy"):
        training.train_triplet_model(model, np.zeros((6, 4)), np.repeat([0, 1, 2], 2), strategy="x", progress=False)
