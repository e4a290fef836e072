"""Tests for utils.convnets.synthetic: shapes, determinism, labels and the features that define each class."""

import numpy as np
import pytest

from utils.convnets import synthetic


def test_ecg_shapes_and_labels():
    data = synthetic.make_ecg_dataset(40, seed=0)
    assert data.inputs.shape == (40, 500, 1) and data.inputs.dtype == np.float32
    assert set(data.labels.tolist()) <= {0, 1}
    assert np.all((data.kinds == "normal") == (data.labels == 0))
    assert set(data.kinds[data.labels == 1]) <= set(synthetic.ECG_ABNORMALITIES)
    assert data.class_names == ("normal", "abnormal")


def test_ecg_is_deterministic_per_seed():
    first, again = synthetic.make_ecg_dataset(5, seed=3), synthetic.make_ecg_dataset(5, seed=3)
    other = synthetic.make_ecg_dataset(5, seed=4)
    np.testing.assert_array_equal(first.inputs, again.inputs)
    assert not np.allclose(first.inputs, other.inputs)


def test_ecg_r_peaks_follow_the_heart_rate():
    """Normal strips have 3-8 R peaks in 4 s (55-105 bpm), as tall spikes above the baseline."""
    from scipy.signal import find_peaks

    data = synthetic.make_ecg_dataset(20, seed=5, abnormal_fraction=0.0, noise=0.0)
    for signal in data.inputs[:, :, 0]:
        peaks, _ = find_peaks(signal, prominence=0.5, distance=60)
        assert 3 <= len(peaks) <= 8


def test_wide_qrs_is_wider():
    rng = np.random.default_rng(0)
    normal = synthetic.ecg_strip(rng, "normal", noise=0.0)
    wide = synthetic.ecg_strip(np.random.default_rng(0), "wide_qrs", noise=0.0)
    # the same random draws up to the QRS width: the wide strip spends more samples near its peaks
    assert np.sum(wide > 0.5 * wide.max()) > np.sum(normal > 0.5 * normal.max())


def test_ecg_bad_arguments():
    with pytest.raises(ValueError):
        synthetic.make_ecg_dataset(0)
    with pytest.raises(ValueError):
        synthetic.make_ecg_dataset(5, abnormalities=("tachycardia",))
    with pytest.raises(ValueError):
        synthetic.make_ecg_dataset(5, abnormal_fraction=1.5)
    with pytest.raises(ValueError):
        synthetic.ecg_strip(np.random.default_rng(0), "unknown")


def test_volumes_shapes_and_blob_centres():
    data = synthetic.make_volume_dataset(12, size=24, max_blobs=2, seed=0)
    assert data.inputs.shape == (12, 24, 24, 24, 1)
    assert data.class_names == ("0 blobs", "1 blob", "2 blobs")
    for label, centers, volume in zip(data.labels, data.info["blob_centers"], data.inputs[..., 0]):
        assert centers.shape == (label, 3)
        for z, y, x in np.round(centers).astype(int):
            # a blob centre is brighter than the tissue around it (0.5 + noise)
            assert volume[z - 1 : z + 2, y - 1 : y + 2, x - 1 : x + 2].mean() > 0.7


def test_volume_blob_makes_the_maximum_brighter():
    negative = synthetic.ct_volume(np.random.default_rng(1), 0, noise=0.0)
    positive = synthetic.ct_volume(np.random.default_rng(1), 1, noise=0.0)
    assert positive.max() > negative.max() + 0.4


def test_split_keeps_per_sample_info_aligned():
    data = synthetic.make_volume_dataset(10, size=16, seed=2)
    train, test = data.split(0.7)
    assert (len(train), len(test)) == (7, 3)
    assert len(test.info["blob_centers"]) == 3
    assert [len(c) for c in test.info["blob_centers"]] == test.labels.tolist()
    with pytest.raises(ValueError):
        data.split(1.0)


def test_volume_bad_arguments():
    with pytest.raises(ValueError):
        synthetic.make_volume_dataset(3, size=8)
    with pytest.raises(ValueError):
        synthetic.make_volume_dataset(3, max_blobs=0)
