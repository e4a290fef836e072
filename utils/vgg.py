"""A VGG19 feature extractor for neural style transfer, truncated at the deepest layer it needs.

The network is the convolutional part of VGG19 (Simonyan & Zisserman 2014) with the layer names of
``keras.applications.VGG19`` (``block1_conv1`` ... ``block5_pool``). Only the layers up to the
deepest requested one are built, and their ImageNet weights are read by layer name with ``h5py``
from whichever file provides them:

* asset ``vgg19_full`` — Keras' full no-top file (all 16 conv layers), used whenever it is found;
* asset ``vgg19_partial`` — the exact ImageNet weights of ``block1_conv1`` .. ``block3_conv4`` only.

Asking for a layer whose weights no available file holds raises :class:`MissingWeightsError`, which
names the missing layers and the asset that provides them. Random weights are never used silently:
only ``allow_random_weights=True`` (meant for speed benchmarks) fills the missing layers with seeded
Glorot-uniform kernels, and the extractor then records them in ``random_layers``.

**Input convention.** The extractor takes RGB images as float tensors in ``[0, 1]`` of shape
(1, H, W, 3) — what ``utils.image_io.to_float_tensor`` returns and what the style-transfer engine
optimises. The preprocessing VGG19 was trained with (``keras.applications.vgg19.preprocess_input``:
scale to 0-255, RGB -> BGR, subtract the ImageNet BGR mean) is folded into the graph, so callers
never preprocess themselves. ``preprocess=False`` feeds the [0, 1] image unchanged (what the
original course notebook did), for comparisons only.

Example:
    >>> from utils import vgg
    >>> extractor = vgg.build_extractor(["block1_conv1", "block3_conv2"])   # doctest: +SKIP
    >>> outputs = extractor(image)                # dict: layer name -> (1, h, w, c) tensor  # doctest: +SKIP
    >>> extractor.provenance()["weights_kind"]   # "full" or "partial"     # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from utils import assets

#: The convolutional part of VGG19 in order: (layer name, number of filters) for convolutions and
#: (layer name, None) for the 2x2 max-pooling layers.
ARCHITECTURE: tuple[tuple[str, int | None], ...] = (
    ("block1_conv1", 64), ("block1_conv2", 64), ("block1_pool", None),
    ("block2_conv1", 128), ("block2_conv2", 128), ("block2_pool", None),
    ("block3_conv1", 256), ("block3_conv2", 256), ("block3_conv3", 256), ("block3_conv4", 256),
    ("block3_pool", None),
    ("block4_conv1", 512), ("block4_conv2", 512), ("block4_conv3", 512), ("block4_conv4", 512),
    ("block4_pool", None),
    ("block5_conv1", 512), ("block5_conv2", 512), ("block5_conv3", 512), ("block5_conv4", 512),
    ("block5_pool", None),
)

#: Every layer name, in network order.
LAYER_NAMES: tuple[str, ...] = tuple(name for name, _ in ARCHITECTURE)

#: The convolution layer names, in network order.
CONV_LAYER_NAMES: tuple[str, ...] = tuple(name for name, filters in ARCHITECTURE if filters)

#: ImageNet channel means in BGR order, as subtracted by ``keras.applications.vgg19.preprocess_input``.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)

#: Asset names of the two weight files, in order of preference.
FULL_ASSET = "vgg19_full"
PARTIAL_ASSET = "vgg19_partial"


class MissingWeightsError(ValueError):
    """Some requested layers have no ImageNet weights in any available file."""


def _check_layers(layers: Iterable[str]) -> list[str]:
    layers = list(layers)
    if not layers:
        raise ValueError("ask for at least one VGG19 layer, e.g. 'block3_conv1'")
    unknown = [name for name in layers if name not in LAYER_NAMES]
    if unknown:
        raise ValueError(f"unknown VGG19 layer(s) {unknown}; valid names are {', '.join(LAYER_NAMES)}")
    return layers


def deepest_layer(layers: Iterable[str]) -> str:
    """Return the layer of ``layers`` that comes last in the network.

    Example:
        >>> deepest_layer(["block3_conv1", "block1_conv1"])
        'block3_conv1'
    """
    return max(_check_layers(layers), key=LAYER_NAMES.index)


def layers_up_to(layer: str) -> tuple[str, ...]:
    """All layer names from the input up to and including ``layer``."""
    _check_layers([layer])
    return LAYER_NAMES[:LAYER_NAMES.index(layer) + 1]


def output_shape(layer: str, height: int, width: int) -> tuple[int, int, int]:
    """Shape (h, w, channels) of ``layer``'s output for an input of ``height`` x ``width`` pixels.

    Convolutions keep the size ('same' padding); each pool halves it, rounding down.

    Example:
        >>> output_shape("block3_conv1", 400, 300)
        (100, 75, 256)
    """
    channels = 3
    for name, filters in ARCHITECTURE[:LAYER_NAMES.index(_check_layers([layer])[0]) + 1]:
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
    pools = sum(1 for name in layers_up_to(deepest) if name.endswith("_pool") and name != deepest)
    pools += 1 if deepest.endswith("_pool") else 0
    return 2 ** pools


def estimate_activation_bytes(layers: Iterable[str], height: int, width: int,
                              bytes_per_value: int = 4, buffers_per_activation: int = 4) -> int:
    """Rough memory (bytes) of one forward + backward pass through the truncated network.

    Every layer up to the deepest requested one keeps its output for the backward pass; TensorFlow
    also holds the pre-activation, the gradient and a temporary per layer, hence
    ``buffers_per_activation`` (4 matches what we measured on CPU within a factor of ~1.5).
    """
    total = 3 * height * width
    for name in layers_up_to(deepest_layer(layers)):
        h, w, c = output_shape(name, height, width)
        total += h * w * c
    return int(total * bytes_per_value * buffers_per_activation)


def available_memory_bytes() -> int | None:
    """Memory the system can still give this process (``MemAvailable``), or None if unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


# --------------------------------------------------------------------------------------------
# Weight files
# --------------------------------------------------------------------------------------------

def read_weights(path, layers: Iterable[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Read ``(kernel, bias)`` per conv layer from a Keras HDF5 weight file, by layer name.

    Handles the legacy layout (one group per layer, its ``weight_names`` attribute listing the
    datasets; optionally under ``model_weights/``), which both VGG19 files use. The kernel is the
    4-D dataset and the bias the 1-D one, whatever they are called (Keras 1/2 named them
    ``*_W_1:0`` / ``*_b_1:0``, later versions ``kernel:0`` / ``bias:0``).

    Args:
        path: the ``.h5`` file.
        layers: conv layer names to read (default: every VGG19 conv layer the file holds).

    Returns:
        ``{layer name: (kernel (3, 3, c_in, c_out) float32, bias (c_out,) float32)}`` for the
        requested layers the file holds; absent layers are simply left out.
    """
    import h5py

    path = Path(path)
    wanted = set(CONV_LAYER_NAMES if layers is None else layers)
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    try:
        with h5py.File(path, "r") as handle:
            root = handle["model_weights"] if "model_weights" in handle else handle
            for name in CONV_LAYER_NAMES:
                if name not in wanted or name not in root:
                    continue
                group = root[name]
                names = [n.decode() if isinstance(n, bytes) else str(n)
                         for n in group.attrs.get("weight_names", [])]
                arrays = [np.asarray(group[n], dtype=np.float32) for n in names]
                kernels = [a for a in arrays if a.ndim == 4]
                biases = [a for a in arrays if a.ndim == 1]
                if len(kernels) != 1 or len(biases) != 1:
                    raise ValueError(f"{path}: layer {name!r} should hold one 4-D kernel and one bias; "
                                     f"found shapes {[a.shape for a in arrays]}")
                found[name] = (kernels[0], biases[0])
    except OSError as error:
        raise ValueError(f"cannot read VGG19 weights from {path}: {error}") from None
    return found


def file_layers(path) -> tuple[str, ...]:
    """Names of the VGG19 conv layers that weight file ``path`` holds."""
    import h5py

    with h5py.File(path, "r") as handle:
        root = handle["model_weights"] if "model_weights" in handle else handle
        return tuple(name for name in CONV_LAYER_NAMES if name in root)


@dataclasses.dataclass(frozen=True)
class WeightsChoice:
    """Which file provides the weights of an extractor.

    Attributes:
        path: the weight file (None only when every layer is random).
        kind: ``"full"`` (asset vgg19_full), ``"partial"`` (asset vgg19_partial) or ``"file"``.
        loaded_layers: conv layers whose ImageNet weights are read from ``path``.
        random_layers: conv layers filled with seeded random weights (only with
            ``allow_random_weights=True``).
    """

    path: Path | None
    kind: str
    loaded_layers: tuple[str, ...]
    random_layers: tuple[str, ...] = ()


def _missing_message(missing: Sequence[str], searched: str) -> str:
    return (f"no ImageNet weights for VGG19 layer(s) {', '.join(missing)}: {searched}. "
            f"These layers are in Keras' full no-top file "
            f"'{assets.VGG19_FULL_FILENAME}' (asset '{FULL_ASSET}'): "
            f"{assets.get(FULL_ASSET).how_to_get}. The partial file (asset '{PARTIAL_ASSET}') "
            f"holds block1_conv1..block3_conv4 only; pick layers from blocks 1-3 (e.g. the "
            f"'blocks123' style-transfer preset) to run without the full file.")


def choose_weights(layers: Iterable[str], weights: str | os.PathLike = "auto",
                   allow_random_weights: bool = False) -> WeightsChoice:
    """Decide which weight file serves the network truncated at the deepest of ``layers``.

    Args:
        layers: requested output layers.
        weights: ``"auto"`` (the full file if found, else the partial file), ``"full"``,
            ``"partial"``, or a path to a Keras HDF5 weight file.
        allow_random_weights: fill conv layers no file provides with seeded random weights instead
            of raising (for speed benchmarks only; recorded in ``random_layers``).

    Returns:
        A :class:`WeightsChoice`.

    Raises:
        MissingWeightsError: a needed conv layer has no weights and random ones are not allowed.
        ValueError: unknown layer or ``weights`` value.
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
                raise MissingWeightsError(_missing_message(needed, "neither asset "
                                          f"'{FULL_ASSET}' nor '{PARTIAL_ASSET}' was found "
                                          "(run `python -m utils.assets` to see where they are looked for)"))
            path, kind = partial, "partial"
    elif weights == "full":
        path, kind = assets.resolve(FULL_ASSET), "full"
    elif weights == "partial":
        path, kind = assets.resolve(PARTIAL_ASSET), "partial"
    elif isinstance(weights, (str, os.PathLike)) and Path(weights).is_file():
        path, kind = Path(weights), "file"
    else:
        raise ValueError(f"weights must be 'auto', 'full', 'partial' or an existing .h5 file; got {weights!r}")
    held = set(file_layers(path))
    missing = [name for name in needed if name not in held]
    if missing and not allow_random_weights:
        raise MissingWeightsError(_missing_message(missing, f"the weight file in use, {path}, holds only "
                                                            f"{', '.join(n for n in CONV_LAYER_NAMES if n in held)}"))
    return WeightsChoice(Path(path), kind, tuple(n for n in needed if n in held), tuple(missing))


# --------------------------------------------------------------------------------------------
# The extractor
# --------------------------------------------------------------------------------------------

def _preprocess_layer_class():
    import keras

    class VGGPreprocess(keras.layers.Layer):
        """[0, 1] RGB -> ``keras.applications.vgg19.preprocess_input`` (0-255 BGR minus the mean)."""

        def call(self, images):
            scaled = keras.ops.flip(images, axis=-1) * 255.0
            return scaled - keras.ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype=scaled.dtype)

    return VGGPreprocess


@dataclasses.dataclass
class FeatureExtractor:
    """A VGG19 truncated at its deepest requested layer; call it on (1, H, W, 3) RGB in [0, 1].

    Attributes:
        model: the ``keras.Model``; its output is a dict ``{layer name: activations}``.
        layers: the requested output layers, in the order given.
        weights: the :class:`WeightsChoice` the weights came from.
        preprocess: whether VGG's ImageNet preprocessing is part of the graph.
        compute_dtype: ``"float32"`` or ``"bfloat16"`` (outputs are always float32).
    """

    model: object
    layers: tuple[str, ...]
    weights: WeightsChoice
    preprocess: bool
    compute_dtype: str

    @property
    def built_layers(self) -> tuple[str, ...]:
        """Every VGG19 layer in the truncated network."""
        return layers_up_to(deepest_layer(self.layers))

    def __call__(self, images) -> dict:
        """Return ``{layer name: float32 activations (1, h, w, c)}`` for the requested layers."""
        return self.model(images)

    def provenance(self) -> dict:
        """What produced these features: weights file and kind, layers, random layers, dtype."""
        return {
            "weights_file": str(self.weights.path) if self.weights.path else None,
            "weights_kind": self.weights.kind if not self.weights.random_layers else
            f"{self.weights.kind}+random",
            "weights_loaded_layers": list(self.weights.loaded_layers),
            "random_layers": list(self.weights.random_layers),
            "output_layers": list(self.layers),
            "truncated_at": self.built_layers[-1],
            "preprocessing": "vgg19.preprocess_input (in graph)" if self.preprocess else "none ([0, 1] RGB)",
            "compute_dtype": self.compute_dtype,
        }


def build_extractor(layers: Sequence[str], weights: str | os.PathLike = "auto",
                    allow_random_weights: bool = False, preprocess: bool = True,
                    compute_dtype: str = "float32", seed: int = 0) -> FeatureExtractor:
    """Build VGG19 up to the deepest of ``layers`` and load its ImageNet weights by layer name.

    Args:
        layers: output layer names (``block1_conv1`` ... ``block5_pool``).
        weights: see :func:`choose_weights`.
        allow_random_weights: for speed benchmarks only; see :func:`choose_weights`.
        preprocess: fold ``vgg19.preprocess_input`` into the graph (inputs RGB in [0, 1]).
        compute_dtype: ``"float32"`` (default) or ``"bfloat16"`` for the convolutions; outputs are
            cast back to float32.
        seed: seed of the random weights (only used with ``allow_random_weights``).

    Returns:
        A :class:`FeatureExtractor`.

    Raises:
        MissingWeightsError, ValueError: see :func:`choose_weights`.

    Example:
        >>> extractor = build_extractor(["block1_conv1", "block3_conv1"])   # doctest: +SKIP
        >>> extractor.built_layers[-1]                                      # doctest: +SKIP
        'block3_conv1'
    """
    import keras

    layers = tuple(_check_layers(layers))
    if compute_dtype not in ("float32", "bfloat16"):
        raise ValueError(f"compute_dtype must be 'float32' or 'bfloat16'; got {compute_dtype!r}")
    choice = choose_weights(layers, weights, allow_random_weights)
    loaded = read_weights(choice.path, choice.loaded_layers) if choice.path else {}
    dtype = "float32" if compute_dtype == "float32" else "mixed_bfloat16"

    inputs = keras.Input(shape=(None, None, 3), name="rgb_0_1")
    tensor = _preprocess_layer_class()(name="vgg19_preprocess")(inputs) if preprocess else inputs
    if compute_dtype == "bfloat16":
        tensor = keras.ops.cast(tensor, "bfloat16")
    conv_layers = {}
    outputs = {}
    rng = np.random.default_rng(seed)
    channels_in = 3
    for name in layers_up_to(deepest_layer(layers)):
        filters = dict(ARCHITECTURE)[name]
        if filters:
            layer = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=name,
                                        dtype=dtype, trainable=False)
            conv_layers[name] = (layer, channels_in, filters)
            channels_in = filters
        else:
            layer = keras.layers.MaxPooling2D(2, strides=2, name=name, dtype=dtype)
        tensor = layer(tensor)
        if name in layers:
            outputs[name] = keras.ops.cast(tensor, "float32") if compute_dtype != "float32" else tensor
    model = keras.Model(inputs, {name: outputs[name] for name in layers},
                        name=f"vgg19_to_{deepest_layer(layers)}")
    for name, (layer, channels_in, filters) in conv_layers.items():
        if name in loaded:
            kernel, bias = loaded[name]
            expected = (3, 3, channels_in, filters)
            if kernel.shape != expected or bias.shape != (filters,):
                raise ValueError(f"{choice.path}: layer {name} has kernel {kernel.shape} and bias "
                                 f"{bias.shape}; VGG19 needs {expected} and ({filters},)")
        else:  # only reachable with allow_random_weights=True; recorded in random_layers
            limit = np.sqrt(6.0 / (9 * channels_in + 9 * filters))
            kernel = rng.uniform(-limit, limit, (3, 3, channels_in, filters)).astype(np.float32)
            bias = np.zeros(filters, np.float32)
        layer.set_weights([kernel, bias])
    return FeatureExtractor(model, layers, choice, preprocess, compute_dtype)
