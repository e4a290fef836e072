"""Images into 128-d encodings: the one place where detect -> align -> encode happens.

The encoder is dlib's face-recognition ResNet converted to Keras (:mod:`utils.faces.dlib_resnet`,
made by ``make setup``). :func:`load_encoder` loads it once per process. :func:`encode_chips`
turns aligned 150x150 RGB face chips (uint8) into 128-d encodings, optionally averaging each
chip's encoding with its mirror image's (test-time augmentation, on by default: see
:data:`utils.faces.constants.FLIP_DEFAULT`). :func:`encode_images` detects and aligns the chosen
face of each image first (:mod:`utils.faces.align`), and :func:`encode_all_faces` encodes every
face of one image. Two encodings show the same person when their Euclidean distance is below
:data:`utils.faces.constants.DEFAULT_THRESHOLD` (0.6).

The model takes float32 RGB values 0..255 and normalises them itself (``(pixel - MEAN_RGB) / 256``),
so callers pass raw pixels. Inference runs through one cached ``tf.function`` per model with a
dynamic batch dimension: on 2 CPU cores that is several times faster than ``model.predict`` on
small batches and faster than an XLA-compiled function. TensorFlow and Keras are imported on the
first encoding, not when this module is imported.

**Precision.** The default encoder runs its convolutions in bfloat16 where the hardware computes
it natively, and in float32 elsewhere (``compute_dtype="auto"``, :mod:`utils.config`); the
embedding layer stays float32. Measured on the LFW dev pairs (``pairs.txt``: 1,200 pairs of 1,583
images, flip averaging on; AMD EPYC Zen 4 with AVX512_BF16, issue 14): bfloat16 encodings differ
from float32 ones by at most 3.0e-3 (mean 4.6e-4, 99th percentile 1.5e-3) and pair distances by at
most 4.9e-3; the cross-validated accuracy is 99.00 % in both, and at the fixed threshold 0.6
99.08 % (float32) against 99.17 % (bfloat16). That is within the bounds set for keeping it
(accuracy within 0.1 point, encodings within 1e-2). Speed, two interleaved runs over the 1,583
chips on a shared 2-core machine (noisy): float32 17.0 and 17.9 s, bfloat16 16.9 and 10.8 s. Pass
``compute_dtype="float32"`` for dlib's own descriptors to 3.3e-7; a model you pass yourself runs in
its own precision unless you ask for another.

Example:
    >>> from utils.faces import encoder
    >>> encoder.validate_chips([np.zeros((150, 150, 3), np.uint8)]).shape
    (1, 150, 150, 3)
    >>> encoder.encode_chips(np.zeros((0, 150, 150, 3), np.uint8)).shape   # nothing to encode
    (0, 128)
    >>> encoder.encode_images(["younes.jpg", "kian.jpg"]).shape            # doctest: +SKIP
    (2, 128)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from utils import assets, config
from utils.errors import AssetError, ImageError, UsageError
from utils.faces import align, constants

#: Name of the converted model in the asset registry.
ASSET_NAME = "dlib_face_resnet_keras"

#: Layers kept in float32 in the bfloat16 copy (the 128-d output keeps float32's resolution).
FLOAT32_LAYERS = ("embedding",)

_MODELS: dict[str, object] = {}
_FORWARD: dict[int, tuple] = {}
_BFLOAT16: dict[int, tuple] = {}


def load_encoder(path: str | os.PathLike | None = None):
    """Load the converted dlib face ResNet (cached: one instance per file and process).

    Args:
        path: a ``.keras`` file; ``None`` resolves the checksum-verified asset
            ``dlib_face_resnet_keras`` (``weights/dlib_face_resnet.keras``).

    Returns:
        ``keras.Model`` mapping float32 ``(batch, 150, 150, 3)`` RGB 0..255 to ``(batch, 128)``.

    Raises:
        utils.errors.AssetError: the converted model is missing or corrupt; the message says to
            run ``make setup`` (``python -m utils.course.prepare``), which converts dlib's model.

    Example:
        >>> model = load_encoder()                                # doctest: +SKIP
        >>> model.output_shape                                    # doctest: +SKIP
        (None, 128)
    """
    if path is None:
        path = assets.resolve(ASSET_NAME)
    else:
        path = Path(path)
        if not path.is_file():
            raise AssetError(
                f"face encoder file {path} does not exist; {assets.get(ASSET_NAME).how_to_get}", missing=True
            )
    key = str(Path(path).resolve())
    model = _MODELS.get(key)
    if model is None:
        import keras  # deferred: Keras imports TensorFlow, which is slow to import

        model = keras.saving.load_model(path, compile=False)
        _MODELS[key] = model
    return model


def _bfloat16_copy(model):
    """The same network with bfloat16 convolutions (Keras' ``mixed_bfloat16``), the same weights (cached)."""
    entry = _BFLOAT16.get(id(model))
    if entry is None or entry[0] is not model:
        import keras  # deferred: Keras imports TensorFlow, which is slow to import

        config = model.get_config()
        for layer in config["layers"]:
            if layer["class_name"] != "InputLayer" and layer["config"].get("name") not in FLOAT32_LAYERS:
                layer["config"]["dtype"] = "mixed_bfloat16"
        copy = keras.Model.from_config(config)
        copy.set_weights(model.get_weights())
        entry = (model, copy)
        _BFLOAT16[id(model)] = entry
    return entry[1]


def inference_model(model=None, compute_dtype: str | None = None):
    """The model that :func:`encode_chips` runs, and the precision it runs in.

    Args:
        model: an encoder from :func:`load_encoder`; ``None`` loads the default one.
        compute_dtype: ``"auto"`` (bfloat16 where native, see :mod:`utils.config`),
            ``"float32"`` or ``"bfloat16"``; ``None`` means ``"auto"`` for the default encoder and
            "as it is" for a model passed in.

    Returns:
        ``(keras model, utils.config.PrecisionChoice)``.

    Raises:
        utils.errors.UsageError: an unknown ``compute_dtype``.

    Example:
        >>> model, choice = inference_model(compute_dtype="float32")     # doctest: +SKIP
        >>> choice.reason                                                 # doctest: +SKIP
        'float32 asked for explicitly'
    """
    if compute_dtype is None and model is not None:
        return model, config.PrecisionChoice("float32", "float32", None, "the model passed in runs as it is")
    choice = config.choose_compute_dtype(compute_dtype or "auto")
    model = load_encoder() if model is None else model
    return (_bfloat16_copy(model) if choice.dtype == "bfloat16" else model), choice


def _forward_function(model):
    """One ``tf.function`` per model: uint8 batch in, float32 encodings out (traced once)."""
    entry = _FORWARD.get(id(model))
    if entry is None or entry[0] is not model:
        import tensorflow as tf  # deferred: TensorFlow is slow to import

        size = constants.CHIP_SIZE

        @tf.function(input_signature=[tf.TensorSpec((None, size, size, 3), tf.uint8)])
        def forward(chips):
            return model(tf.cast(chips, tf.float32), training=False)

        entry = (model, forward)
        _FORWARD[id(model)] = entry
    return entry[1]


def validate_chips(chips) -> np.ndarray:
    """Check that ``chips`` is a uint8 array of shape ``(n, 150, 150, 3)`` and return it as one.

    Args:
        chips: an array ``(n, 150, 150, 3)`` or a list of ``(150, 150, 3)`` chips.

    Returns:
        The chips as one uint8 array (an empty list gives shape ``(0, 150, 150, 3)``).

    Raises:
        utils.errors.ImageError: wrong number of dimensions, size, channel count or dtype (the
            message shows the shape and dtype that came in and how to fix the usual mistakes).

    Example:
        >>> validate_chips(np.zeros((2, 150, 150, 3), np.uint8)).shape
        (2, 150, 150, 3)
        >>> validate_chips(np.zeros((1, 96, 96, 3), np.uint8))
        Traceback (most recent call last):
            ...
        utils.errors.ImageError: face chips must be 150x150 aligned crops, got shape (1, 96, 96, 3); ...
    """
    size = constants.CHIP_SIZE
    if isinstance(chips, (list, tuple)):
        if not chips:
            return np.zeros((0, size, size, 3), dtype=np.uint8)
        shapes = {np.shape(chip) for chip in chips}
        if len(shapes) != 1:
            raise ImageError(
                f"face chips have different shapes {sorted(shapes)}; every chip must be ({size}, {size}, 3)"
            )
        chips = np.stack([np.asarray(chip) for chip in chips])
    chips = np.asarray(chips)
    expected = f"(n, {size}, {size}, 3)"
    if chips.ndim == 3 and chips.shape == (size, size, 3):
        raise ImageError(
            f"expected a batch of face chips {expected}, got one chip of shape "
            f"{chips.shape}; pass chip[np.newaxis] (or a list of chips)"
        )
    if chips.ndim != 4:
        raise ImageError(f"expected face chips of shape {expected}, got shape {chips.shape}")
    if chips.shape[1:3] != (size, size):
        raise ImageError(
            f"face chips must be {size}x{size} aligned crops, got shape {chips.shape}; "
            "align and crop faces first (utils.faces.extract_face_chips)"
        )
    if chips.shape[3] != 3:
        raise ImageError(f"face chips must be RGB with 3 channels, got shape {chips.shape}")
    if chips.dtype != np.uint8:
        raise ImageError(
            f"face chips must be uint8 RGB 0..255, got dtype {chips.dtype} "
            f"(shape {chips.shape}); convert [0, 1] floats with "
            "np.clip(np.round(chips * 255), 0, 255).astype(np.uint8)"
        )
    return chips


def _forward_in_batches(model, chips: np.ndarray, batch_size: int, progress: str | None = None) -> np.ndarray:
    forward = _forward_function(model)
    starts = range(0, len(chips), batch_size)
    if progress:
        from tqdm.auto import tqdm  # deferred: only for progress bars

        starts = tqdm(starts, desc=progress, unit="batch", leave=False)
    outputs = [forward(np.ascontiguousarray(chips[start : start + batch_size])).numpy() for start in starts]
    return np.concatenate(outputs).astype(np.float32, copy=False)


def encode_chips(
    chips,
    model=None,
    flip: bool | None = None,
    batch_size: int = 32,
    compute_dtype: str | None = None,
    progress: str | None = None,
) -> np.ndarray:
    """Compute the 128-d encodings of aligned face chips.

    Args:
        chips: uint8 array ``(n, 150, 150, 3)`` of aligned RGB face chips (or a list of
            ``(150, 150, 3)`` chips).
        model: an encoder from :func:`load_encoder`; ``None`` loads the default one.
        flip: average each chip's encoding with its mirror image's (one more forward pass per
            chip); ``None`` means :data:`utils.faces.constants.FLIP_DEFAULT` (on). With
            ``flip=False`` the encodings are dlib's own descriptors.
        batch_size: chips per forward pass (32 is fastest on 2 CPU cores).
        compute_dtype: precision of the forward pass (see :func:`inference_model`): by default
            bfloat16 where the hardware computes it natively for the default encoder, and a
            model passed in as it is; ``"float32"`` for dlib's exact descriptors.
        progress: a label to show a progress bar over the batches under (``None``: silent).

    Returns:
        float32 array ``(n, 128)``; compare rows by Euclidean distance (same person below
        :data:`utils.faces.constants.DEFAULT_THRESHOLD`).

    Raises:
        utils.errors.ImageError: bad shape or dtype of ``chips``.
        utils.errors.UsageError: a non-positive ``batch_size``, an unknown ``compute_dtype``.

    Example:
        >>> encode_chips([], model=None).shape
        (0, 128)
        >>> a, b = encode_chips(np.stack([chip_a, chip_b]))          # doctest: +SKIP
        >>> bool(np.linalg.norm(a - b) < constants.DEFAULT_THRESHOLD)  # doctest: +SKIP
        True
    """
    chips = validate_chips(chips)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise UsageError(f"batch_size must be a positive integer, got {batch_size!r}")
    flip = constants.FLIP_DEFAULT if flip is None else bool(flip)
    if compute_dtype is not None:
        config.check_compute_dtype(compute_dtype)
    if len(chips) == 0:
        return np.zeros((0, constants.EMBEDDING_SIZE), dtype=np.float32)
    model, _ = inference_model(model, compute_dtype)
    if not flip:
        return _forward_in_batches(model, chips, batch_size, progress)
    both = _forward_in_batches(model, np.concatenate([chips, chips[:, :, ::-1, :]]), batch_size, progress)
    return 0.5 * (both[: len(chips)] + both[len(chips) :])


def encode_images(
    images,
    model=None,
    policy: str = "largest",
    flip: bool | None = None,
    batch_size: int = 32,
    compute_dtype: str | None = None,
) -> np.ndarray:
    """Encode one face per image (paths or arrays), batched through the encoder.

    Args:
        images: a path or RGB array, or a list of them.
        model: encoder (default: the cached converted dlib ResNet).
        policy: which face of each image: ``"largest"`` or ``"central"`` (see
            :func:`utils.faces.align.select_faces`).
        flip: test-time flip averaging (default :data:`utils.faces.constants.FLIP_DEFAULT`).
        batch_size: chips per forward pass.
        compute_dtype: precision of the forward pass (see :func:`encode_chips`).

    Returns:
        float32 ``(n, 128)``, row ``i`` for ``images[i]``.

    Raises:
        utils.errors.NoFaceError: an image holds no face (the message names it).
        utils.errors.ImageError: an image cannot be read.

    Example:
        >>> encode_images([]).shape
        (0, 128)
        >>> encode_images("younes.jpg").shape                 # doctest: +SKIP
        (1, 128)
    """
    if isinstance(images, (str, os.PathLike)) or (isinstance(images, np.ndarray) and images.ndim == 3):
        images = [images]
    if policy == "all":
        raise UsageError(
            "encode_images encodes one face per image; use encode_all_faces(image) to encode every face of an image"
        )
    chips = [align.extract_face_chips(image, policy=policy)[0] for image in images]
    return encode_chips(chips, model=model, flip=flip, batch_size=batch_size, compute_dtype=compute_dtype)


def encode_all_faces(
    image, model=None, flip: bool | None = None, batch_size: int = 32, compute_dtype: str | None = None
) -> tuple[np.ndarray, list[align.Face]]:
    """Encode every face of one image, largest first.

    Args:
        image: a path or an RGB array.
        model, flip, batch_size, compute_dtype: as for :func:`encode_chips`.

    Returns:
        ``(encodings, faces)``: float32 ``(n, 128)`` and the n detected
        :class:`utils.faces.align.Face` objects (boxes and keypoints), in the same order.

    Raises:
        utils.errors.NoFaceError: the image holds no face.
        utils.errors.ImageError: the image cannot be read.

    Example:
        >>> encodings, faces = encode_all_faces("group.jpg")    # doctest: +SKIP
        >>> encodings.shape, len(faces)                          # doctest: +SKIP
        ((2, 128), 2)
    """
    chips, faces = align.extract_face_chips(image, policy="all", return_faces=True)
    return encode_chips(chips, model=model, flip=flip, batch_size=batch_size, compute_dtype=compute_dtype), faces
