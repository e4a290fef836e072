"""VGG19 feature extractor for style transfer: Keras' VGG19, ImageNet weights, cut at the deepest layer.

The network is ``keras.applications.VGG19(include_top=False, weights=None)`` on inputs of any size
(``(None, None, 3)``). Its ImageNet weights are then loaded **by layer name** from a Keras HDF5
file (``model.load_weights(path, by_name=True)``), so a file that holds only some layers works:

* asset ``vgg19_full`` — Keras' full no-top file (all 16 conv layers), used whenever it is found;
* asset ``vgg19_partial`` — the exact ImageNet weights of ``block1_conv1`` .. ``block3_conv4`` only.

Finally a sub-model, ``keras.Model(inputs, {name: layer.output})``, keeps only the layers up to
the deepest requested output, so nothing beyond it is computed.

Keras' loader silently leaves a layer the file lacks at its random initial value, so before
building anything :func:`choose_weights` checks that the file holds every conv layer the
truncated network needs, and raises :class:`~utils.errors.MissingWeightsError` naming the missing
layers and the asset that has them. A file given by path is checked too: when it carries the
name or the size of a registered VGG19 asset it must pass that asset's checksum
(:func:`utils.assets.verify`); any other file must hold each layer with VGG19's shapes
(:func:`check_file_shapes`). Random weights are never used silently: only
``allow_random_weights=True`` (meant for speed benchmarks) keeps Keras' own Glorot-uniform
initialisation for those layers (seeded), and :meth:`FeatureExtractor.provenance` records them.

**Precision.** ``compute_dtype="auto"`` runs the convolutions in bfloat16 where the hardware
computes it natively and in float32 elsewhere (:func:`utils.config.choose_compute_dtype`);
the extractor records the choice and its reason (:attr:`FeatureExtractor.precision`).

**Input convention.** The extractor takes RGB images as float tensors in ``[0, 1]`` of shape
(1, H, W, 3) — what ``utils.image_io.to_float_tensor`` returns and what the style-transfer engine
optimises. ``keras.applications.vgg19.preprocess_input`` (scale to 0-255, RGB -> BGR, subtract
the ImageNet mean), the preprocessing VGG19 was trained with, is a layer of the graph, so callers
never preprocess themselves. ``preprocess=False`` feeds the [0, 1] image unchanged (what the
original course notebook did), for comparisons only.

Layer facts (names, output shapes, minimum input size) come from :data:`BLOCKS`, VGG19's five
blocks in one line, so they are available without importing Keras.

Example:
    >>> deepest_layer(["block1_conv1", "block3_conv2"])
    'block3_conv2'
    >>> output_shape("block3_conv2", 256, 192)
    (64, 48, 256)
    >>> extractor = build_extractor(["block1_conv1", "block3_conv2"])   # doctest: +SKIP
    >>> outputs = extractor(image)                # dict: layer name -> (1, h, w, c) float32  # doctest: +SKIP
    >>> extractor.provenance()["weights_kind"]   # "full" or "partial"     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import h5py
import psutil

from utils import assets, config
from utils.errors import MissingWeightsError, NSTError

__all__ = [
    "BLOCKS",
    "ARCHITECTURE",
    "LAYER_NAMES",
    "CONV_LAYER_NAMES",
    "FULL_ASSET",
    "PARTIAL_ASSET",
    "COMPUTE_DTYPES",
    "MissingWeightsError",
    "WeightsChoice",
    "FeatureExtractor",
    "deepest_layer",
    "layers_up_to",
    "output_shape",
    "minimum_input_size",
    "estimate_activation_bytes",
    "available_memory_bytes",
    "file_layers",
    "layer_shapes",
    "expected_layer_shapes",
    "check_file_shapes",
    "choose_weights",
    "build_extractor",
]

#: VGG19's convolutional part: per block, (number of 3x3 'same' ReLU convolutions, filters); each
#: block ends with a 2x2 max pooling of stride 2. Layer names follow ``keras.applications.VGG19``.
BLOCKS: tuple[tuple[int, int], ...] = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))

#: Every layer in network order: (name, filters) for convolutions, (name, None) for poolings.
ARCHITECTURE: tuple[tuple[str, int | None], ...] = tuple(
    entry
    for block, (convolutions, filters) in enumerate(BLOCKS, start=1)
    for entry in [(f"block{block}_conv{index}", filters) for index in range(1, convolutions + 1)]
    + [(f"block{block}_pool", None)]
)

#: Every layer name, in network order.
LAYER_NAMES: tuple[str, ...] = tuple(name for name, _ in ARCHITECTURE)

#: The convolution layer names, in network order.
CONV_LAYER_NAMES: tuple[str, ...] = tuple(name for name, filters in ARCHITECTURE if filters)

#: Asset names of the two weight files, in order of preference.
FULL_ASSET = "vgg19_full"
PARTIAL_ASSET = "vgg19_partial"

#: What ``compute_dtype`` may say: ``"auto"`` (bfloat16 where native), ``"float32"``, ``"bfloat16"``.
#: The outputs are always float32.
COMPUTE_DTYPES = config.COMPUTE_DTYPES


def _check_layers(layers: Iterable[str]) -> list[str]:
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise NSTError("ask for at least one VGG19 layer, e.g. 'block3_conv1'")
    unknown = [name for name in layers if name not in LAYER_NAMES]
    if unknown:
        raise NSTError(f"unknown VGG19 layer(s) {unknown}; valid names are {', '.join(LAYER_NAMES)}")
    return layers


def deepest_layer(layers: Iterable[str]) -> str:
    """Return the layer of ``layers`` that comes last in the network.

    Raises:
        NSTError: an unknown layer name (the message lists the valid ones), or no layer at all.

    Example:
        >>> deepest_layer(["block3_conv1", "block1_conv1"])
        'block3_conv1'
    """
    return max(_check_layers(layers), key=LAYER_NAMES.index)


def layers_up_to(layer: str) -> tuple[str, ...]:
    """All layer names from the input up to and including ``layer``.

    Example:
        >>> layers_up_to("block2_conv1")
        ('block1_conv1', 'block1_conv2', 'block1_pool', 'block2_conv1')
    """
    _check_layers([layer])
    return LAYER_NAMES[: LAYER_NAMES.index(layer) + 1]


def output_shape(layer: str, height: int, width: int) -> tuple[int, int, int]:
    """Shape (h, w, channels) of ``layer``'s output for an input of ``height`` x ``width`` pixels.

    Convolutions keep the size ('same' padding); each pool halves it, rounding down.

    Example:
        >>> output_shape("block3_conv1", 400, 300)
        (100, 75, 256)
    """
    channels = 3
    for _name, filters in ARCHITECTURE[: len(layers_up_to(layer))]:
        if filters:
            channels = filters
        else:
            height, width = height // 2, width // 2
    return height, width, channels


def minimum_input_size(layers: Iterable[str]) -> int:
    """Smallest image side (pixels) for which every layer in ``layers`` is at least 1x1.

    Example:
        >>> minimum_input_size(["block3_conv4"]), minimum_input_size(["block5_conv1"])
        (4, 16)
    """
    deepest = deepest_layer(layers)
    return 2 ** sum(1 for name in layers_up_to(deepest) if name.endswith("_pool"))


def estimate_activation_bytes(
    layers: Iterable[str], height: int, width: int, bytes_per_value: int = 4, buffers_per_activation: int = 4
) -> int:
    """Rough memory (bytes) of one forward + backward pass through the truncated network.

    Every layer up to the deepest requested one keeps its output for the backward pass; TensorFlow
    also holds the pre-activation, the gradient and a temporary per layer, hence
    ``buffers_per_activation`` (4 matches what we measured on CPU within a factor of ~1.5).

    Example:
        >>> estimate_activation_bytes(["block1_conv1"], 10, 10)   # (3 + 64) * 100 values * 4 B * 4
        107200
    """
    total = 3 * height * width
    for name in layers_up_to(deepest_layer(layers)):
        h, w, c = output_shape(name, height, width)
        total += h * w * c
    return int(total * bytes_per_value * buffers_per_activation)


def available_memory_bytes() -> int | None:
    """Memory the system can still give this process, or None if the system does not say.

    Asked of ``psutil.virtual_memory().available`` (Linux's ``MemAvailable``, the free plus
    reclaimable pages on macOS and Windows), so the memory guard works on every system.

    Returns:
        Bytes, or None where psutil cannot read the figure.

    Example:
        >>> available_memory_bytes() > 0
        True
    """
    try:
        return int(psutil.virtual_memory().available)
    except (OSError, RuntimeError, AttributeError):
        return None


# --------------------------------------------------------------------------------------------
# Weight files
# --------------------------------------------------------------------------------------------


def layer_shapes(path) -> dict[str, tuple[tuple[int, ...], ...]]:
    """``{layer: (shape of each weight)}`` for the VGG19 conv layers the Keras HDF5 file ``path`` holds.

    Reads the legacy layout both VGG19 files use (one group per layer, listed in the
    ``layer_names`` attribute, optionally under ``model_weights/``); a layer counts when its group
    lists weights (``weight_names``). Only shapes are read, never the values.

    Raises:
        NSTError: the file cannot be read as HDF5, or a listed weight is missing from it.
    """
    try:
        with h5py.File(path, "r") as handle:
            root = handle["model_weights"] if "model_weights" in handle else handle
            listed = root.attrs.get("layer_names")
            names = (
                [n.decode() if isinstance(n, bytes) else str(n) for n in listed] if listed is not None else list(root)
            )
            shapes = {}
            for name in names:
                if name not in CONV_LAYER_NAMES or name not in root:
                    continue
                weight_names = [
                    w.decode() if isinstance(w, bytes) else str(w) for w in root[name].attrs.get("weight_names", [])
                ]
                if weight_names:
                    try:
                        shapes[name] = tuple(tuple(root[name][weight].shape) for weight in weight_names)
                    except KeyError:
                        raise NSTError(
                            f"VGG19 weight file {path} lists weights of layer {name} that it does "
                            "not hold; the file is damaged"
                        ) from None
    except OSError as error:
        raise NSTError(f"cannot read VGG19 weights from {path}: {error}") from None
    return {name: shapes[name] for name in CONV_LAYER_NAMES if name in shapes}


def file_layers(path) -> tuple[str, ...]:
    """Names of the VGG19 conv layers whose weights the Keras HDF5 file ``path`` holds (network order).

    Raises:
        NSTError: the file cannot be read as HDF5.
    """
    return tuple(layer_shapes(path))


def expected_layer_shapes(layer: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of a VGG19 conv layer's kernel (3, 3, in, out) and bias (out,).

    Example:
        >>> expected_layer_shapes("block2_conv1")
        ((3, 3, 64, 128), (128,))
    """
    conv_layers = [(name, filters) for name, filters in ARCHITECTURE if filters]
    index = [name for name, _ in conv_layers].index(layer)
    inputs = 3 if index == 0 else conv_layers[index - 1][1]
    return (3, 3, inputs, conv_layers[index][1]), (conv_layers[index][1],)


def check_file_shapes(path, layers: Iterable[str]) -> None:
    """Raise :class:`~utils.errors.NSTError` unless each of ``layers`` in file ``path`` has VGG19's shapes.

    Layers the file does not hold are left to the missing-layer check of :func:`choose_weights`.
    """
    shapes = layer_shapes(path)
    wrong = []
    for layer in layers:
        if layer in shapes and shapes[layer] != expected_layer_shapes(layer):
            wrong.append(
                f"{layer} has {' and '.join(str(shape) for shape in shapes[layer])}, "
                f"VGG19 needs {' and '.join(str(shape) for shape in expected_layer_shapes(layer))}"
            )
    if wrong:
        raise NSTError(f"weights file {path} does not hold VGG19 weights: {'; '.join(wrong)}")


def _registered_asset_for(path: Path):
    """The registered VGG19 asset that file ``path`` claims to be (same name or size), or None."""
    size = path.stat().st_size
    for name in (FULL_ASSET, PARTIAL_ASSET):
        asset = assets.get(name)
        if path.name == asset.filename or (asset.size is not None and size == asset.size):
            return asset
    return None


@dataclasses.dataclass(frozen=True)
class WeightsChoice:
    """Which file provides the weights of an extractor.

    Attributes:
        path: the weight file (None only when every layer is random).
        kind: ``"full"`` (asset vgg19_full), ``"partial"`` (asset vgg19_partial), ``"file"`` (a
            path given by the caller) or ``"random"`` (no file at all).
        loaded_layers: conv layers whose ImageNet weights are read from ``path``.
        random_layers: conv layers left at Keras' seeded random initialisation (only with
            ``allow_random_weights=True``).
    """

    path: Path | None
    kind: str
    loaded_layers: tuple[str, ...]
    random_layers: tuple[str, ...] = ()


def _missing_message(missing: Sequence[str], searched: str) -> str:
    return (
        f"no ImageNet weights for VGG19 layer(s) {', '.join(missing)}: {searched}. "
        f"These layers are in Keras' full no-top file "
        f"'{assets.get(FULL_ASSET).filename}' (asset '{FULL_ASSET}'): "
        f"{assets.get(FULL_ASSET).how_to_get}. The partial file (asset '{PARTIAL_ASSET}') "
        f"holds block1_conv1..block3_conv4 only; pick layers from blocks 1-3 (e.g. the "
        f"'blocks123' style-transfer preset) to run without the full file."
    )


def choose_weights(
    layers: Iterable[str], weights: str | os.PathLike = "auto", allow_random_weights: bool = False
) -> WeightsChoice:
    """Decide which weight file serves the network truncated at the deepest of ``layers``.

    Args:
        layers: requested output layers.
        weights: ``"auto"`` (the full file if found, else the partial file), ``"full"``,
            ``"partial"``, or a path to a Keras HDF5 weight file (``.h5`` / ``.hdf5``). A path
            with the file name or size of a registered VGG19 asset must pass that asset's
            checksum; any other file must hold the needed layers with VGG19's shapes.
        allow_random_weights: keep Keras' random initialisation for conv layers no file provides
            instead of raising (for speed benchmarks only; recorded in ``random_layers``).

    Returns:
        A :class:`WeightsChoice`.

    Raises:
        MissingWeightsError: a needed conv layer has no weights and random ones are not allowed.
        NSTError: unknown layer or ``weights`` value; a file whose layers have the wrong shapes.
        utils.errors.AssetError: ``"full"`` or ``"partial"`` asked for and that file is missing;
            a file named like (or as large as) a registered asset that fails its checksum.
    """
    needed = [name for name in layers_up_to(deepest_layer(layers)) if name in CONV_LAYER_NAMES]
    if weights == "auto":
        full = assets.find(FULL_ASSET)
        if full is not None:
            path, kind = full, "full"
        else:
            partial = assets.find(PARTIAL_ASSET)
            if partial is None:
                if allow_random_weights:
                    return WeightsChoice(None, "random", (), tuple(needed))
                raise MissingWeightsError(
                    _missing_message(
                        needed,
                        "neither asset "
                        f"'{FULL_ASSET}' nor '{PARTIAL_ASSET}' was found "
                        "(run `python -m utils.assets` to see where they are looked for)",
                    )
                )
            path, kind = partial, "partial"
    elif weights == "full":
        path, kind = assets.resolve(FULL_ASSET), "full"
    elif weights == "partial":
        path, kind = assets.resolve(PARTIAL_ASSET), "partial"
    elif isinstance(weights, (str, os.PathLike)) and Path(weights).is_dir():
        raise NSTError(f"weights {weights} is a folder; give a Keras HDF5 file (.h5) or 'auto', 'full', 'partial'")
    elif isinstance(weights, (str, os.PathLike)) and Path(weights).is_file():
        path, kind = Path(weights), "file"
        if path.suffix.lower() not in (".h5", ".hdf5"):
            raise NSTError(f"weights file {path} must be a Keras HDF5 file ending in .h5 or .hdf5")
        known = _registered_asset_for(path)
        if known is not None:  # it claims to be a registered file: it must pass that file's checksum
            assets.verify(known, path)
        else:
            check_file_shapes(path, needed)
    else:
        raise NSTError(
            f"weights must be 'auto', 'full', 'partial' or an existing .h5 file; got {weights!r} (no such file)"
        )
    held = set(file_layers(path))
    missing = [name for name in needed if name not in held]
    if missing and not allow_random_weights:
        holds = ", ".join(name for name in CONV_LAYER_NAMES if name in held) or "no VGG19 layer"
        raise MissingWeightsError(_missing_message(missing, f"the weight file in use, {path}, holds only {holds}"))
    return WeightsChoice(Path(path), kind, tuple(name for name in needed if name in held), tuple(missing))


# --------------------------------------------------------------------------------------------
# The extractor
# --------------------------------------------------------------------------------------------


def _preprocessing_layer(name: str):
    """A float32 layer applying ``vgg19.preprocess_input`` to [0, 1] RGB images."""
    import keras  # deferred: Keras imports TensorFlow

    class ImageNetPreprocessing(keras.layers.Layer):
        """[0, 1] RGB -> ``keras.applications.vgg19.preprocess_input`` (0-255 BGR minus the mean)."""

        def call(self, images):
            return keras.applications.vgg19.preprocess_input(images * 255.0)

    return ImageNetPreprocessing(name=name, dtype="float32")


@dataclasses.dataclass
class FeatureExtractor:
    """A VGG19 truncated at its deepest requested layer; call it on (1, H, W, 3) RGB in [0, 1].

    Attributes:
        model: the ``keras.Model``; its output is a dict ``{layer name: float32 activations}``.
        layers: the requested output layers, in the order given.
        weights: the :class:`WeightsChoice` the weights came from.
        preprocess: whether VGG's ImageNet preprocessing is part of the graph.
        precision: the :class:`utils.config.PrecisionChoice` of the convolutions (dtype, reason).
        seed: seed of the random initialisation of ``weights.random_layers`` (if any).
    """

    model: object
    layers: tuple[str, ...]
    weights: WeightsChoice
    preprocess: bool
    precision: config.PrecisionChoice
    seed: int = 0

    @property
    def compute_dtype(self) -> str:
        """``"float32"`` or ``"bfloat16"``: the dtype the convolutions run in (outputs are float32)."""
        return self.precision.dtype

    @property
    def built_layers(self) -> tuple[str, ...]:
        """Every VGG19 layer in the truncated network."""
        return layers_up_to(deepest_layer(self.layers))

    def __call__(self, images) -> dict:
        """Return ``{layer name: float32 activations (1, h, w, c)}`` for the requested layers."""
        return self.model(images)

    def provenance(self) -> dict:
        """What produced these features: weights file and kind, layers, random layers, dtype."""
        random_layers = list(self.weights.random_layers)
        return {
            "architecture": "keras.applications.VGG19(include_top=False, weights=None)",
            "weights_file": str(self.weights.path) if self.weights.path else None,
            "weights_kind": f"{self.weights.kind}+random" if random_layers and self.weights.path else self.weights.kind,
            "weights_loaded_layers": list(self.weights.loaded_layers),
            "random_layers": random_layers,
            "random_initializer": f"keras.initializers.GlorotUniform(seed={self.seed} + layer index), zero bias"
            if random_layers
            else None,
            "output_layers": list(self.layers),
            "truncated_at": self.built_layers[-1],
            "preprocessing": "vgg19.preprocess_input (in graph)" if self.preprocess else "none ([0, 1] RGB)",
            "compute_dtype": self.compute_dtype,
            "compute_dtype_requested": self.precision.requested,
            "compute_dtype_reason": self.precision.reason,
        }


def build_extractor(
    layers: Sequence[str],
    weights: str | os.PathLike = "auto",
    allow_random_weights: bool = False,
    preprocess: bool = True,
    compute_dtype: str = "float32",
    seed: int = 0,
) -> FeatureExtractor:
    """Keras' VGG19 with ImageNet weights loaded by name, cut after the deepest of ``layers``.

    Args:
        layers: output layer names (``block1_conv1`` ... ``block5_pool``).
        weights: see :func:`choose_weights`.
        allow_random_weights: for speed benchmarks only; see :func:`choose_weights`.
        preprocess: put ``vgg19.preprocess_input`` into the graph (inputs RGB in [0, 1]).
        compute_dtype: ``"float32"`` (default), ``"bfloat16"`` (Keras' ``mixed_bfloat16`` policy)
            or ``"auto"`` (bfloat16 where the hardware computes it natively, see
            :func:`utils.config.choose_compute_dtype`); outputs are cast back to float32.
        seed: seed of the random initialisation (only used with ``allow_random_weights``).

    Returns:
        A :class:`FeatureExtractor`.

    Raises:
        MissingWeightsError, NSTError: see :func:`choose_weights`.

    Example:
        >>> extractor = build_extractor(["block1_conv1", "block3_conv1"])   # doctest: +SKIP
        >>> extractor.built_layers[-1]                                      # doctest: +SKIP
        'block3_conv1'
    """
    import keras  # deferred: Keras imports TensorFlow

    layers = tuple(_check_layers(layers))
    if compute_dtype not in COMPUTE_DTYPES:
        raise NSTError(f"compute_dtype must be one of {COMPUTE_DTYPES}; got {compute_dtype!r}")
    choice = choose_weights(layers, weights, allow_random_weights)
    chosen = config.choose_compute_dtype(compute_dtype)
    compute_dtype = chosen.dtype

    inputs = keras.Input(shape=(None, None, 3), name="rgb_0_1")
    network_input = _preprocessing_layer("vgg19_preprocess")(inputs) if preprocess else inputs
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float32" if compute_dtype == "float32" else "mixed_bfloat16")
    try:
        network = keras.applications.VGG19(include_top=False, weights=None, input_tensor=network_input)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    if choice.path is not None:
        network.load_weights(str(choice.path), by_name=True)
    for name in choice.random_layers:  # only with allow_random_weights=True; recorded in provenance
        layer = network.get_layer(name)
        kernel = keras.initializers.GlorotUniform(seed=seed + CONV_LAYER_NAMES.index(name))(layer.kernel.shape)
        layer.set_weights([keras.ops.convert_to_numpy(kernel), keras.ops.convert_to_numpy(layer.bias) * 0])

    outputs = {name: network.get_layer(name).output for name in layers}
    if compute_dtype != "float32":
        outputs = {name: keras.ops.cast(tensor, "float32") for name, tensor in outputs.items()}
    model = keras.Model(inputs, outputs, name=f"vgg19_to_{deepest_layer(layers)}")
    model.trainable = False
    return FeatureExtractor(model, layers, choice, preprocess, chosen, int(seed))
