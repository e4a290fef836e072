"""Generated data sets for the Conv1D and Conv3D lessons: ECG-like signals and CT-like volumes.

Both generators are deterministic for a given ``seed`` and return a :class:`SyntheticDataset`.

* :func:`make_ecg_dataset` draws single-lead ECG strips. Every heart beat is a sum of Gaussian
  bumps (P wave, Q, R and S of the QRS complex, T wave) placed at a heart rate with beat-to-beat
  jitter, on top of baseline wander (slow breathing drift), mains hum and sensor noise. The
  abnormal class has one of four findings: a wide QRS complex (bundle branch block), missing P
  waves with an irregular rhythm (atrial-fibrillation-like), ST elevation, or an inverted T wave.
* :func:`make_volume_dataset` draws CT-like volumes: a smooth, textured ellipsoid "body" in a dark
  background plus scanner noise, with some small bright blobs ("nodules") inside. Labels are the
  number of blobs, so ``max_blobs=1`` gives the binary task "is there a nodule?".

Example:
    >>> data = make_ecg_dataset(8, seed=0)
    >>> data.inputs.shape, data.labels.tolist().count(1) > 0
    ((8, 500, 1), True)
    >>> volumes = make_volume_dataset(4, size=16, seed=0)
    >>> volumes.inputs.shape
    (4, 16, 16, 16, 1)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from utils.errors import UsageError

#: Abnormal ECG findings :func:`make_ecg_dataset` can draw.
ECG_ABNORMALITIES = ("wide_qrs", "atrial_fibrillation", "st_elevation", "inverted_t")


@dataclasses.dataclass
class SyntheticDataset:
    """A generated data set.

    Attributes:
        inputs: float32 array, channels last: ``(n, length, 1)`` signals or ``(n, D, H, W, 1)`` volumes.
        labels: int64 array ``(n,)``.
        class_names: name of each label value.
        kinds: per-sample description (``"normal"``, ``"wide_qrs"``, ``"2 blobs"``...).
        info: generator settings (sampling rate, etc.) for plots and reports.
    """

    inputs: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    kinds: np.ndarray
    info: dict

    def __len__(self) -> int:
        return len(self.labels)

    def split(self, fraction: float = 0.8) -> tuple[SyntheticDataset, SyntheticDataset]:
        """Split into a first part with ``fraction`` of the samples and the rest (samples are already shuffled).

        Example:
            >>> train, test = make_ecg_dataset(10, seed=1).split(0.8)
            >>> len(train), len(test)
            (8, 2)
        """
        if not 0.0 < fraction < 1.0:
            raise UsageError(f"fraction must be between 0 and 1; got {fraction}")
        cut = int(round(len(self) * fraction))
        if cut == 0 or cut == len(self):
            raise UsageError(f"fraction {fraction} of {len(self)} samples leaves one part empty")
        parts = []
        for part in (slice(0, cut), slice(cut, len(self))):
            # per-sample entries of info (lists as long as the data set) are split too
            info = {
                key: value[part] if isinstance(value, list) and len(value) == len(self) else value
                for key, value in self.info.items()
            }
            parts.append(
                SyntheticDataset(self.inputs[part], self.labels[part], self.class_names, self.kinds[part], info)
            )
        return parts[0], parts[1]


def _check_count(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise UsageError(f"{name} must be a positive integer; got {value!r}")
    return int(value)


def _gaussian(time: np.ndarray, center: float, width: float, amplitude: float) -> np.ndarray:
    return amplitude * np.exp(-0.5 * ((time - center) / width) ** 2)


def ecg_strip(
    rng: np.random.Generator,
    condition: str = "normal",
    duration: float = 4.0,
    sampling_rate: float = 125.0,
    noise: float = 0.04,
) -> np.ndarray:
    """Draw one ECG-like strip (millivolt-like units) for a given condition.

    Args:
        rng: a ``numpy.random.Generator``.
        condition: ``"normal"`` or one of :data:`ECG_ABNORMALITIES`.
        duration: seconds.
        sampling_rate: samples per second.
        noise: standard deviation of the white sensor noise.

    Returns:
        float32 array of ``round(duration * sampling_rate)`` samples.

    Example:
        >>> ecg_strip(np.random.default_rng(0), "wide_qrs").shape
        (500,)
    """
    if condition != "normal" and condition not in ECG_ABNORMALITIES:
        raise UsageError(f"unknown condition {condition!r}; use 'normal' or one of {ECG_ABNORMALITIES}")
    length = int(round(duration * sampling_rate))
    time = np.arange(length) / sampling_rate
    signal = np.zeros(length)

    heart_rate = rng.uniform(55, 105)  # beats per minute
    mean_rr = 60.0 / heart_rate
    irregular = condition == "atrial_fibrillation"
    rr_jitter = 0.18 if irregular else 0.03
    scale = rng.uniform(0.7, 1.3)  # electrode placement / body habitus
    qrs_width = rng.uniform(0.009, 0.013) * (rng.uniform(2.3, 3.0) if condition == "wide_qrs" else 1.0)
    p_amplitude = 0.0 if irregular else rng.uniform(0.1, 0.2)
    t_amplitude = rng.uniform(0.2, 0.4) * (-1.0 if condition == "inverted_t" else 1.0)
    st_level = rng.uniform(0.15, 0.3) if condition == "st_elevation" else 0.0

    beat_time = -rng.uniform(0, mean_rr)  # random phase: first beat before the strip
    while beat_time < duration + 0.5:
        r = beat_time
        width = qrs_width * rng.uniform(0.95, 1.05)
        beat = (
            _gaussian(time, r - 0.16, 0.022, p_amplitude * rng.uniform(0.9, 1.1))
            + _gaussian(time, r - 2.5 * width, width, -0.12)
            + _gaussian(time, r, width, 1.0 * rng.uniform(0.9, 1.1))
            + _gaussian(time, r + 2.5 * width, width, -0.25)
        )
        t_center = r + 0.12 + 0.1 * mean_rr**0.5 + 2.0 * width
        beat += _gaussian(time, t_center, 0.045, t_amplitude * rng.uniform(0.9, 1.1))
        if st_level:
            # a raised plateau from the end of the QRS into the T wave
            start, stop = r + 3.5 * width, t_center
            ramp = np.clip((time - start) / 0.02, 0, 1) * np.clip((stop - time) / 0.05, 0, 1)
            beat += st_level * ramp
        signal += beat
        beat_time += mean_rr * max(0.4, 1.0 + rr_jitter * rng.standard_normal())

    signal *= scale
    if irregular:  # fibrillatory waves replace the P waves
        signal += 0.05 * np.sin(2 * np.pi * rng.uniform(4, 7) * time + rng.uniform(0, 2 * np.pi))
    breathing = rng.uniform(0.15, 0.4)
    signal += rng.uniform(0.05, 0.3) * np.sin(2 * np.pi * breathing * time + rng.uniform(0, 2 * np.pi))
    signal += rng.uniform(-0.2, 0.2)  # DC offset
    signal += rng.uniform(0.0, 0.03) * np.sin(2 * np.pi * 50.0 * time + rng.uniform(0, 2 * np.pi))
    signal += noise * rng.standard_normal(length)
    return signal.astype(np.float32)


def make_ecg_dataset(
    n_samples: int,
    seed: int = 0,
    duration: float = 4.0,
    sampling_rate: float = 125.0,
    abnormal_fraction: float = 0.5,
    abnormalities=ECG_ABNORMALITIES,
    noise: float = 0.04,
) -> SyntheticDataset:
    """Generate a balanced-ish normal/abnormal ECG classification set.

    Args:
        n_samples: number of strips.
        seed: random seed (same seed, same data).
        duration: seconds per strip (500 samples at the default 125 Hz over 4 s).
        sampling_rate: samples per second.
        abnormal_fraction: probability that a strip is abnormal (label 1).
        abnormalities: which findings the abnormal class draws from (uniformly).
        noise: standard deviation of the white noise.

    Returns:
        A :class:`SyntheticDataset` with ``inputs`` ``(n, length, 1)``, ``labels`` 0 = normal,
        1 = abnormal, and ``kinds`` naming the finding.

    Example:
        >>> data = make_ecg_dataset(4, seed=3, abnormalities=("st_elevation",))
        >>> sorted(set(data.kinds.tolist())) in (["normal", "st_elevation"], ["normal"], ["st_elevation"])
        True
    """
    n_samples = _check_count(n_samples, "n_samples")
    if not 0.0 <= abnormal_fraction <= 1.0:
        raise UsageError(f"abnormal_fraction must be in [0, 1]; got {abnormal_fraction}")
    abnormalities = tuple(abnormalities)
    unknown = [name for name in abnormalities if name not in ECG_ABNORMALITIES]
    if unknown or not abnormalities:
        raise UsageError(f"abnormalities must be a non-empty subset of {ECG_ABNORMALITIES}; got {abnormalities}")
    rng = np.random.default_rng(seed)
    labels = (rng.random(n_samples) < abnormal_fraction).astype(np.int64)
    kinds = np.array(["normal" if label == 0 else abnormalities[rng.integers(len(abnormalities))] for label in labels])
    signals = np.stack([ecg_strip(rng, kind, duration, sampling_rate, noise) for kind in kinds])
    return SyntheticDataset(
        signals[..., None],
        labels,
        ("normal", "abnormal"),
        kinds,
        {"sampling_rate": sampling_rate, "duration": duration, "seed": seed},
    )


def _smooth_noise(rng: np.random.Generator, size: int, sigma: float) -> np.ndarray:
    from scipy import ndimage  # deferred: scipy.ndimage is slow to import and only volumes need it

    field = ndimage.gaussian_filter(rng.standard_normal((size, size, size)), sigma, mode="wrap")
    return field / (field.std() + 1e-8)


def ct_volume(
    rng: np.random.Generator,
    n_blobs: int = 0,
    size: int = 32,
    blob_contrast: float = 0.8,
    noise: float = 0.12,
    return_centers: bool = False,
):
    """Draw one CT-like volume with ``n_blobs`` small bright blobs inside the body.

    The body is a randomly shaped ellipsoid of soft-tissue intensity (about 0.5) with smooth
    texture, in air (about 0); blobs are 3-D Gaussians of radius 1-2 voxels and peak
    ``blob_contrast`` above the tissue. Blobs keep apart from each other and from the body's edge.

    Args:
        rng: a ``numpy.random.Generator``.
        n_blobs: number of blobs (0 for a healthy volume).
        size: edge length in voxels.
        blob_contrast: blob peak height above the tissue.
        noise: standard deviation of the white "scanner" noise.
        return_centers: also return the blob centres.

    Returns:
        float32 array ``(size, size, size)``; with ``return_centers`` also an ``(n_blobs, 3)``
        array of blob centres in voxel indices (z, y, x).

    Example:
        >>> ct_volume(np.random.default_rng(0), n_blobs=1, size=16).shape
        (16, 16, 16)
    """
    if size < 12:
        raise UsageError(f"size must be at least 12 voxels; got {size}")
    if n_blobs < 0:
        raise UsageError(f"n_blobs must be >= 0; got {n_blobs}")
    axis = np.arange(size) - (size - 1) / 2
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    radii = rng.uniform(0.32, 0.46, size=3) * size
    center = rng.uniform(-0.05, 0.05, size=3) * size
    ellipsoid = (
        ((z - center[0]) / radii[0]) ** 2 + ((y - center[1]) / radii[1]) ** 2 + ((x - center[2]) / radii[2]) ** 2
    )
    body = 1.0 / (1.0 + np.exp((ellipsoid - 1.0) * 12.0))  # soft edge
    tissue = 0.5 + 0.08 * _smooth_noise(rng, size, sigma=size / 10) + 0.04 * _smooth_noise(rng, size, sigma=1.5)
    volume = body * tissue
    placed: list[np.ndarray] = []
    min_separation = max(3.0, 0.18 * size)
    attempts = 0
    while len(placed) < n_blobs:
        attempts += 1
        if attempts > 1000:
            raise UsageError(f"could not place {n_blobs} separate blobs in a {size}^3 volume")
        direction = rng.standard_normal(3)
        direction /= np.linalg.norm(direction)
        position = center + direction * radii * rng.uniform(0.0, 0.7)
        if any(np.linalg.norm(position - other) < min_separation for other in placed):
            continue
        placed.append(position)
        radius = rng.uniform(1.0, 2.0)
        distance2 = (z - position[0]) ** 2 + (y - position[1]) ** 2 + (x - position[2]) ** 2
        volume += blob_contrast * rng.uniform(0.8, 1.2) * np.exp(-0.5 * distance2 / radius**2)
    volume += noise * rng.standard_normal(volume.shape)
    if return_centers:
        centers = np.array(placed, dtype=np.float32).reshape(-1, 3) + (size - 1) / 2
        return volume.astype(np.float32), centers
    return volume.astype(np.float32)


def make_volume_dataset(
    n_samples: int, size: int = 32, max_blobs: int = 1, seed: int = 0, blob_contrast: float = 0.8, noise: float = 0.12
) -> SyntheticDataset:
    """Generate CT-like volumes labelled with their number of blobs (0 .. ``max_blobs``).

    Args:
        n_samples: number of volumes.
        size: edge length in voxels (volumes are ``size**3``).
        max_blobs: 1 for the binary "nodule or not" task; larger for a counting task.
        seed: random seed.
        blob_contrast: blob peak height above the tissue (lower is harder).
        noise: standard deviation of the white noise (higher is harder).

    Returns:
        A :class:`SyntheticDataset` with ``inputs`` ``(n, size, size, size, 1)``, labels drawn
        uniformly from ``0 .. max_blobs`` and ``info["blob_centers"]``: per volume an
        ``(n_blobs, 3)`` array of voxel indices (z, y, x), for plotting the slice through a blob.

    Example:
        >>> data = make_volume_dataset(6, size=16, max_blobs=2, seed=0)
        >>> data.class_names
        ('0 blobs', '1 blob', '2 blobs')
    """
    n_samples = _check_count(n_samples, "n_samples")
    size = _check_count(size, "size")
    if isinstance(max_blobs, bool) or not isinstance(max_blobs, (int, np.integer)) or max_blobs < 1:
        raise UsageError(f"max_blobs must be a positive integer; got {max_blobs!r}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, max_blobs + 1, size=n_samples).astype(np.int64)
    drawn = [ct_volume(rng, int(count), size, blob_contrast, noise, return_centers=True) for count in labels]
    volumes = np.stack([volume for volume, _ in drawn])
    class_names = tuple(f"{count} blob" + ("" if count == 1 else "s") for count in range(max_blobs + 1))
    kinds = np.array([class_names[label] for label in labels])
    return SyntheticDataset(
        volumes[..., None],
        labels,
        class_names,
        kinds,
        {"size": size, "max_blobs": max_blobs, "seed": seed, "blob_centers": [centers for _, centers in drawn]},
    )
