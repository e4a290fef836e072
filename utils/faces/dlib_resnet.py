"""Convert dlib's 128-d face-recognition ResNet (``.dat``) into a plain Keras 3 model.

dlib stores a trained network with its own binary serialisation. This module reads that format in
pure Python/NumPy (:class:`DatReader`, :func:`parse_dat`), rebuilds the network from Keras
built-in layers only (:func:`build_model`: no ``Lambda``, no custom objects, so the saved file
loads with a bare ``keras.saving.load_model``) and writes ``weights/dlib_face_resnet.keras`` with a
checksum sidecar (:func:`convert`; the write is atomic, through :mod:`utils.files`).

The file format, as measured on ``dlib_face_recognition_resnet_model_v1.dat``:

* **integer**: one control byte; its low nibble is the number of little-endian magnitude bytes
  that follow and bit ``0x80`` marks a negative number (sign and magnitude, not two's complement).
* **float**: an integer mantissa followed by an integer exponent; the value is ``m * 2**e``.
* **string**: an integer length followed by that many bytes. **bool**: one byte ``'0'``/``'1'``.
* **tensor**: version ``2``, then ``num_samples, k, nr, nc`` and the raw little-endian float32
  values in NCHW order. An *alias tensor* (a view into a layer's parameters) is version ``1`` and
  the four dimensions only.
* The file holds the loss layer first, then one version integer per nested layer (outermost
  first: ``2`` for a computational layer, ``1`` for a ``tag``/``skip`` marker, ``3`` for the
  innermost layer that owns the input), then the input layer, then the 108 computational layers
  from the input outwards, each followed by three bools and three (empty) tensors of training
  state. The graph wiring (which tag an ``add_prev`` or ``skip`` refers to) is *not* stored: it is
  part of dlib's C++ type, so :data:`STAGES` and :func:`expected_layer_kinds` restate it here and
  the parser checks the file against it.

The network: a 7x7/2 convolution with 32 filters, ReLU and a 3x3/2 max-pool, then residual
stages of 32 (3 blocks), 64 (down + 3), 128 (down + 2), 256 (down + 2) and 256 (down) filters,
a global average pool and a 256->128 fully connected layer without bias. A block is
``con 3x3 -> affine -> relu -> con 3x3 -> affine`` added to its input and passed through a ReLU;
a *down* block uses stride 2 in its first convolution and a 2x2/2 average pool on the shortcut.
dlib's ``add_prev`` adds tensors of different shapes by zero-extending the smaller one in channels
and in space, aligned at the top-left corner (:func:`zero_extend_add`).

Keras is imported only to build or save the model; parsing needs NumPy alone.

Example:
    >>> from utils.faces import dlib_resnet
    >>> len(dlib_resnet.expected_layer_kinds())
    108
    >>> path = dlib_resnet.convert()                       # doctest: +SKIP
    >>> net = dlib_resnet.parse_dat()                      # doctest: +SKIP
    >>> net.mean_rgb, len(net.layers)                      # doctest: +SKIP
    ((122.782, 117.001, 104.298), 108)
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from utils import assets, files
from utils.errors import DlibFormatError, UsageError

#: Written into the sidecar of the converted model; bump when the converter's output changes.
#: (It names the converter's original module; the output of this one is the same file.)
CONVERTER_ID = "utils.dlib_resnet/1"

#: Residual stages from the input outwards: (filters, has a down-sampling block, plain blocks).
STAGES: tuple[tuple[int, bool, int], ...] = (
    (32, False, 3),
    (64, True, 3),
    (128, True, 2),
    (256, True, 2),
    (256, True, 0),
)

#: Width of the stem convolution (7x7, stride 2).
STEM_FILTERS = 32

# --------------------------------------------------------------------------------------------
# Low-level reader
# --------------------------------------------------------------------------------------------


class DatReader:
    """Sequential reader of dlib's serialisation primitives over an in-memory byte string.

    Args:
        data: the bytes to read.
        source: a name for error messages (usually the file path).

    Example:
        >>> DatReader(b"\\x01\\x05\\x81\\x02").read_int(), DatReader(b"\\x81\\x02").read_int()
        (5, -2)
    """

    def __init__(self, data: bytes, source: str = "<bytes>"):
        self.data = memoryview(data)
        self.offset = 0
        self.source = source

    # -- helpers --------------------------------------------------------------------------
    def error(self, message: str) -> DlibFormatError:
        return DlibFormatError(f"{self.source}: at byte {self.offset}: {message}")

    def _take(self, count: int) -> memoryview:
        end = self.offset + count
        if count < 0 or end > len(self.data):
            raise self.error(
                f"needs {count} more bytes but only {len(self.data) - self.offset} are left (truncated file?)"
            )
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    @property
    def at_end(self) -> bool:
        """True when every byte has been consumed."""
        return self.offset == len(self.data)

    # -- primitives -----------------------------------------------------------------------
    def read_int(self) -> int:
        """Read one integer (control byte, then little-endian magnitude bytes)."""
        control = self._take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            self.offset -= 1
            raise self.error(f"invalid integer control byte 0x{control:02x}")
        magnitude = int.from_bytes(self._take(size), "little") if size else 0
        return -magnitude if control & 0x80 else magnitude

    def read_float(self) -> float:
        """Read one float stored as mantissa then exponent: ``mantissa * 2**exponent``."""
        mantissa = self.read_int()
        exponent = self.read_int()
        if mantissa == 0:
            return 0.0
        return float(mantissa) * 2.0**exponent

    def read_bool(self) -> bool:
        """Read one bool stored as the character ``'0'`` or ``'1'``."""
        byte = bytes(self._take(1))
        if byte not in (b"0", b"1"):
            self.offset -= 1
            raise self.error(f"expected a bool ('0' or '1'), found {byte!r}")
        return byte == b"1"

    def read_string(self) -> str:
        """Read a length-prefixed byte string (decoded as ASCII)."""
        length = self.read_int()
        if length < 0:
            raise self.error(f"negative string length {length}")
        return bytes(self._take(length)).decode("ascii", errors="replace")

    def read_tensor(self) -> np.ndarray:
        """Read a tensor: version 2, ``num_samples, k, nr, nc``, float32 values (NCHW).

        Returns:
            float32 array of shape ``(num_samples, k, nr, nc)`` (a copy, safe to keep).
        """
        self.expect_int(2, "tensor version")
        shape = tuple(self.read_int() for _ in range(4))
        if any(dim < 0 for dim in shape):
            raise self.error(f"negative tensor shape {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        raw = self._take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)

    def read_alias(self) -> tuple[int, int, int, int]:
        """Read an alias tensor (version 1 and four dimensions, no values)."""
        self.expect_int(1, "alias tensor version")
        return tuple(self.read_int() for _ in range(4))

    def expect_int(self, expected: int, what: str) -> int:
        start = self.offset
        value = self.read_int()
        if value != expected:
            self.offset = start
            raise self.error(f"expected {what} = {expected}, found {value}")
        return value

    def expect_string(self, expected: str) -> str:
        start = self.offset
        value = self.read_string()
        if value != expected:
            self.offset = start
            raise self.error(f"expected {expected!r}, found {value!r}")
        return value


# --------------------------------------------------------------------------------------------
# Parsed network
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class DatLayer:
    """One computational layer read from the file.

    Attributes:
        kind: ``"con"``, ``"affine"``, ``"relu"``, ``"max_pool"``, ``"avg_pool"``,
            ``"add_prev"`` or ``"fc"``.
        tag: the type name dlib wrote (``"con_4"``, ``"affine_"``, ...).
        config: integer settings (filters, kernel size, strides, padding, ...).
        weights: NumPy arrays in dlib's layout (``filters`` (O, I, kh, kw) and ``biases`` (O,) for
            a convolution, ``gamma``/``beta`` (C,) for affine, ``weights`` (in, out) for fc).
    """

    kind: str
    tag: str
    config: dict = dataclasses.field(default_factory=dict)
    weights: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class DlibNet:
    """Everything :func:`parse_dat` reads from a dlib face ResNet file."""

    loss_margin: float
    loss_threshold: float
    nesting_versions: list[int]
    mean_rgb: tuple[float, float, float]
    input_size: tuple[int, int]
    layers: list[DatLayer]
    source_sha256: str = ""

    def kinds(self) -> list[str]:
        return [layer.kind for layer in self.layers]


def _read_con(reader: DatReader, tag: str) -> DatLayer:
    params = reader.read_tensor().reshape(-1)
    config = {
        key: reader.read_int()
        for key in ("filters", "kernel_rows", "kernel_cols", "stride_y", "stride_x", "padding_y", "padding_x")
    }
    filter_shape = reader.read_alias()
    bias_shape = reader.read_alias()
    for _ in range(4):  # learning-rate and weight-decay multipliers (training only)
        reader.read_float()
    out_channels, in_channels, rows, cols = filter_shape
    if (out_channels, rows, cols) != (config["filters"], config["kernel_rows"], config["kernel_cols"]):
        raise reader.error(f"{tag}: filter alias {filter_shape} disagrees with settings {config}")
    n_filter = out_channels * in_channels * rows * cols
    n_bias = int(np.prod(bias_shape))
    if n_bias != out_channels or params.size != n_filter + n_bias:
        raise reader.error(
            f"{tag}: {params.size} parameters do not hold filters {filter_shape} and biases {bias_shape}"
        )
    config["in_channels"] = in_channels
    weights = {"filters": params[:n_filter].reshape(filter_shape), "biases": params[n_filter:]}
    return DatLayer("con", tag, config, weights)


def _read_affine(reader: DatReader, tag: str) -> DatLayer:
    params = reader.read_tensor().reshape(-1)
    gamma_shape = reader.read_alias()
    beta_shape = reader.read_alias()
    mode = reader.read_int()
    channels = int(np.prod(gamma_shape))
    if params.size != 2 * channels or int(np.prod(beta_shape)) != channels:
        raise reader.error(f"{tag}: {params.size} parameters do not hold gamma {gamma_shape} and beta {beta_shape}")
    if mode != 0:
        raise reader.error(f"{tag}: only per-channel (convolutional) affine mode 0 is supported, found mode {mode}")
    return DatLayer(
        "affine", tag, {"channels": channels, "mode": mode}, {"gamma": params[:channels], "beta": params[channels:]}
    )


def _read_pool(reader: DatReader, tag: str) -> DatLayer:
    config = {
        key: reader.read_int() for key in ("pool_rows", "pool_cols", "stride_y", "stride_x", "padding_y", "padding_x")
    }
    kind = "max_pool" if tag.startswith("max_pool") else "avg_pool"
    return DatLayer(kind, tag, config)


def _read_fc(reader: DatReader, tag: str) -> DatLayer:
    outputs = reader.read_int()
    inputs = reader.read_int()
    params = reader.read_tensor().reshape(-1)
    weight_shape = reader.read_alias()
    bias_shape = reader.read_alias()
    bias_mode = reader.read_int()
    for _ in range(4):
        reader.read_float()
    if bias_mode != 1 or int(np.prod(bias_shape)) != 0:
        raise reader.error(
            f"{tag}: expected fc_no_bias (bias mode 1, empty bias), found mode {bias_mode}, bias {bias_shape}"
        )
    if weight_shape[:2] != (inputs, outputs) or params.size != inputs * outputs:
        raise reader.error(
            f"{tag}: weights {weight_shape} / {params.size} values do not match {inputs} inputs x {outputs} outputs"
        )
    return DatLayer("fc", tag, {"inputs": inputs, "outputs": outputs}, {"weights": params.reshape(inputs, outputs)})


_LAYER_READERS = {
    "con_4": _read_con,
    "affine_": _read_affine,
    "relu_": lambda reader, tag: DatLayer("relu", tag),
    "add_prev_": lambda reader, tag: DatLayer("add_prev", tag),
    "max_pool_2": _read_pool,
    "avg_pool_2": _read_pool,
    "fc_2": _read_fc,
}


def _read_training_state(reader: DatReader) -> None:
    """Three bools and three tensors that dlib keeps for training; empty in a saved model."""
    for _ in range(3):
        reader.read_bool()
    for _ in range(3):
        tensor = reader.read_tensor()
        if tensor.size:
            raise reader.error(f"expected an empty training-state tensor, found shape {tensor.shape}")


def expected_layer_kinds() -> list[str]:
    """The computational layers of dlib's face ResNet from the input outwards (108 of them).

    Returns:
        Layer kinds (``"con"``, ``"affine"``, ...); :func:`parse_dat` checks the file against them.
    """
    kinds = ["con", "affine", "relu", "max_pool"]
    block = ["con", "affine", "relu", "con", "affine"]
    for _filters, has_down, plain_blocks in STAGES:
        if has_down:
            kinds += block + ["avg_pool", "add_prev", "relu"]
        for _ in range(plain_blocks):
            kinds += block + ["add_prev", "relu"]
    return kinds + ["avg_pool", "fc"]


def expected_nesting_versions() -> list[int]:
    """The nesting version integers dlib writes, outermost first (2 = layer, 1 = tag/skip, 3 = input).

    Derived from the architecture: every block's input carries a ``tag1``; a down block's main
    path also ends in ``tag2`` followed by ``skip1`` (which jumps back to ``tag1``).
    """
    inner_to_outer = [3, 2, 2, 2]  # con (owns the input), affine, relu, max_pool
    block = [1, 2, 2, 2, 2, 2]  # tag1, con, affine, relu, con, affine
    for _filters, has_down, plain_blocks in STAGES:
        if has_down:
            inner_to_outer += block + [1, 1, 2, 2, 2]  # tag2, skip1, avg_pool, add_prev, relu
        for _ in range(plain_blocks):
            inner_to_outer += block + [2, 2]  # add_prev, relu
    inner_to_outer += [2, 2]  # avg_pool_everything, fc
    return inner_to_outer[::-1]


def parse_dat(source: str | os.PathLike | bytes | None = None) -> DlibNet:
    """Read a dlib face ResNet ``.dat`` file into NumPy arrays.

    Args:
        source: path to the file, its bytes, or ``None`` for the registered asset
            ``dlib_face_resnet_dat``.

    Returns:
        :class:`DlibNet` with the 108 layers from the input outwards.

    Raises:
        DlibFormatError: the bytes are not this network (message names the byte offset).

    Example:
        >>> net = parse_dat()                                      # doctest: +SKIP
        >>> net.layers[0].weights["filters"].shape                # doctest: +SKIP
        (32, 3, 7, 7)
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "<bytes>"
    else:
        if source is None:
            source = assets.resolve("dlib_face_resnet_dat")
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"dlib model file {path} does not exist")
        data, name = path.read_bytes(), str(path)
    reader = DatReader(data, name)

    reader.expect_int(1, "loss layer version")
    reader.expect_string("loss_metric_2")
    margin = reader.read_float()
    threshold = reader.read_float()

    expected_versions = expected_nesting_versions()
    versions = [reader.read_int() for _ in expected_versions]
    if versions != expected_versions:
        first = next(i for i, (a, b) in enumerate(zip(versions, expected_versions)) if a != b)
        raise reader.error(
            f"the nesting of layers differs from dlib's face ResNet at position {first} "
            f"(found {versions[first]}, expected {expected_versions[first]}); "
            "this is a different network"
        )

    reader.expect_string("input_rgb_image_sized")
    mean_rgb = tuple(reader.read_float() for _ in range(3))
    input_size = (reader.read_int(), reader.read_int())

    layers = []
    for index, kind in enumerate(expected_layer_kinds()):
        tag = reader.read_string()
        layer_reader = _LAYER_READERS.get(tag)
        if layer_reader is None:
            raise reader.error(f"layer {index}: unknown layer type {tag!r}")
        layer = layer_reader(reader, tag)
        if layer.kind != kind:
            raise reader.error(f"layer {index}: expected a {kind} layer, found {tag!r}")
        _read_training_state(reader)
        if index == 0:
            reader.expect_int(1, "sample expansion factor of the input layer")
        layers.append(layer)
    if not reader.at_end:
        raise reader.error(f"{len(reader.data) - reader.offset} unexpected bytes after the last layer")

    return DlibNet(
        loss_margin=margin,
        loss_threshold=threshold,
        nesting_versions=versions,
        mean_rgb=mean_rgb,
        input_size=input_size,
        layers=layers,
        source_sha256=hashlib.sha256(data).hexdigest(),
    )


# --------------------------------------------------------------------------------------------
# Keras builder
# --------------------------------------------------------------------------------------------


def zero_extend_add(main, shortcut, name: str):
    """dlib's ``add_prev``: add two feature maps, zero-extending the smaller one per dimension.

    Each operand is padded with zeros at the bottom/right (space) and at the end (channels) up to
    the larger of the two shapes, so that element ``[i, j, c]`` of both lines up (top-left
    alignment). Built only from ``ZeroPadding2D``, ``Reshape``, ``ZeroPadding3D`` and ``Add``;
    padding copies values and inserts exact zeros, so the sum is exactly dlib's.

    Args:
        main: Keras tensor ``(batch, H1, W1, C1)``.
        shortcut: Keras tensor ``(batch, H2, W2, C2)``.
        name: prefix for the layer names.

    Returns:
        Keras tensor ``(batch, max(H), max(W), max(C))``.
    """
    import keras  # deferred: Keras imports TensorFlow, which is slow to import

    target = tuple(max(a, b) for a, b in zip(main.shape[1:], shortcut.shape[1:]))

    def extend(tensor, label):
        rows, cols, channels = tensor.shape[1:]
        extra_rows, extra_cols, extra_channels = (t - s for t, s in zip(target, (rows, cols, channels)))
        if extra_rows or extra_cols:
            tensor = keras.layers.ZeroPadding2D(((0, extra_rows), (0, extra_cols)), name=f"{name}_{label}_pad_space")(
                tensor
            )
        if extra_channels:
            rows, cols = target[:2]
            tensor = keras.layers.Reshape((rows, cols, channels, 1), name=f"{name}_{label}_to_5d")(tensor)
            tensor = keras.layers.ZeroPadding3D(
                ((0, 0), (0, 0), (0, extra_channels)), name=f"{name}_{label}_pad_channels"
            )(tensor)
            tensor = keras.layers.Reshape(target, name=f"{name}_{label}_to_4d")(tensor)
        return tensor

    return keras.layers.Add(name=f"{name}_add")([extend(main, "main"), extend(shortcut, "shortcut")])


def _conv_padding(config: dict) -> str:
    rows, cols = config["kernel_rows"], config["kernel_cols"]
    pad_y, pad_x = config["padding_y"], config["padding_x"]
    if pad_y == 0 and pad_x == 0:
        return "valid"
    if (
        (config["stride_y"], config["stride_x"]) == (1, 1)
        and rows % 2
        and cols % 2
        and (pad_y, pad_x) == (rows // 2, cols // 2)
    ):
        return "same"
    raise DlibFormatError(
        f"unsupported convolution padding {pad_y, pad_x} for kernel {rows}x{cols} "
        f"with strides {config['stride_y'], config['stride_x']}"
    )


def _pool_padding(config: dict) -> None:
    if config["padding_y"] or config["padding_x"]:
        raise DlibFormatError(f"unsupported pooling padding {config['padding_y'], config['padding_x']}")


def folded_conv_weights(con: DatLayer, affine: DatLayer) -> tuple[np.ndarray, np.ndarray]:
    """Fold a per-channel affine (``gamma * x + beta``) into the convolution before it.

    Returns:
        ``(kernel, bias)`` in Keras layout: kernel ``(kh, kw, in, out)``, bias ``(out,)``, float32
        (the products are formed in float64 and rounded once).
    """
    filters = con.weights["filters"].astype(np.float64)  # (O, I, kh, kw), cross-correlation
    gamma = affine.weights["gamma"].astype(np.float64)
    beta = affine.weights["beta"].astype(np.float64)
    if gamma.size != filters.shape[0]:
        raise DlibFormatError(
            f"affine layer has {gamma.size} channels but the convolution before it has {filters.shape[0]} filters"
        )
    kernel = np.transpose(filters * gamma[:, None, None, None], (2, 3, 1, 0))
    bias = con.weights["biases"].astype(np.float64) * gamma + beta
    return kernel.astype(np.float32), bias.astype(np.float32)


class _LayerCursor:
    """Hands out the parsed layers in order, checking each one's kind."""

    def __init__(self, layers: Iterable[DatLayer]):
        self.layers = list(layers)
        self.position = 0

    def take(self, kind: str) -> DatLayer:
        layer = self.layers[self.position]
        if layer.kind != kind:
            raise DlibFormatError(f"layer {self.position}: expected {kind}, found {layer.tag}")
        self.position += 1
        return layer


def build_model(net: DlibNet, name: str = "dlib_face_resnet"):
    """Build the Keras model of a parsed dlib face ResNet with its weights.

    Input: float32 ``(batch, 150, 150, 3)`` RGB chips with values 0..255. Output: the raw 128-d
    descriptor (compare by Euclidean distance, threshold about 0.6). Every affine layer is folded
    into the convolution before it; a convolution followed by a ReLU carries it as its activation.

    Args:
        net: the result of :func:`parse_dat`.
        name: name of the Keras model.

    Returns:
        ``keras.Model`` made of built-in layers only.
    """
    import keras  # deferred: Keras imports TensorFlow, which is slow to import

    cursor = _LayerCursor(net.layers)
    height, width = net.input_size
    inputs = keras.Input((height, width, 3), name="chip_rgb", dtype="float32")
    # dlib feeds (pixel - mean) / 256; x / 256 - mean / 256 rounds identically in float32.
    offsets = [-float(np.float32(m)) / 256.0 for m in net.mean_rgb]
    x = keras.layers.Rescaling(scale=1.0 / 256.0, offset=offsets, name="normalize")(inputs)

    def conv_affine(tensor, layer_name, relu):
        con = cursor.take("con")
        affine = cursor.take("affine")
        if relu:
            cursor.take("relu")
        config = con.config
        kernel, bias = folded_conv_weights(con, affine)
        layer = keras.layers.Conv2D(
            config["filters"],
            (config["kernel_rows"], config["kernel_cols"]),
            strides=(config["stride_y"], config["stride_x"]),
            padding=_conv_padding(config),
            activation="relu" if relu else None,
            name=layer_name,
        )
        output = layer(tensor)
        layer.set_weights([kernel, bias])
        return output

    def pool(tensor, kind, layer_name):
        config = cursor.take(kind).config
        _pool_padding(config)
        pool_class = keras.layers.MaxPooling2D if kind == "max_pool" else keras.layers.AveragePooling2D
        return pool_class(
            (config["pool_rows"], config["pool_cols"]),
            strides=(config["stride_y"], config["stride_x"]),
            padding="valid",
            name=layer_name,
        )(tensor)

    x = conv_affine(x, "stem_conv", relu=True)
    x = pool(x, "max_pool", "stem_pool")

    for stage_index, (filters, has_down, plain_blocks) in enumerate(STAGES, start=1):
        block_kinds = [True] * has_down + [False] * plain_blocks
        for block_index, down in enumerate(block_kinds):
            prefix = f"stage{stage_index}_block{block_index}"
            shortcut = x
            y = conv_affine(x, f"{prefix}_conv1", relu=True)
            y = conv_affine(y, f"{prefix}_conv2", relu=False)
            if down:
                shortcut = pool(shortcut, "avg_pool", f"{prefix}_shortcut_pool")
            cursor.take("add_prev")
            x = zero_extend_add(y, shortcut, prefix)
            cursor.take("relu")
            x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
            if y.shape[-1] != filters:
                raise DlibFormatError(f"{prefix}: {y.shape[-1]} filters, expected {filters}")

    everything = cursor.take("avg_pool").config
    if everything["pool_rows"] or everything["pool_cols"]:
        raise DlibFormatError(f"expected avg_pool_everything (0x0), found {everything}")
    x = keras.layers.GlobalAveragePooling2D(name="global_pool")(x)
    fc = cursor.take("fc")
    dense = keras.layers.Dense(fc.config["outputs"], use_bias=False, name="embedding")
    outputs = dense(x)
    dense.set_weights([fc.weights["weights"]])
    if cursor.position != len(cursor.layers):
        raise DlibFormatError(f"{len(cursor.layers) - cursor.position} layers were not used")
    return keras.Model(inputs, outputs, name=name)


def default_output_path() -> Path:
    """``weights/dlib_face_resnet.keras`` in the assets' cache: the checkout, or ``$COURSE_ASSETS_CACHE``.

    The resolver looks for the converted model there, so setup and use agree wherever the cache is.
    """
    return assets.cache_root() / assets.get("dlib_face_resnet_keras").relpath


def convert(dat_path: str | os.PathLike | None = None, out_path: str | os.PathLike | None = None) -> Path:
    """Convert dlib's ``.dat`` face ResNet to a ``.keras`` file and write its checksum sidecar.

    Args:
        dat_path: the dlib file; ``None`` resolves the asset ``dlib_face_resnet_dat``.
        out_path: where to write; ``None`` means :func:`default_output_path`.

    Returns:
        Path of the written ``.keras`` file (a ``.sha256`` sidecar lies beside it).

    Example:
        >>> from utils.faces import dlib_resnet
        >>> dlib_resnet.convert()                                   # doctest: +SKIP
        PosixPath('.../weights/dlib_face_resnet.keras')
    """
    if dat_path is None:
        dat_path = assets.resolve("dlib_face_resnet_dat")
    out_path = Path(out_path) if out_path is not None else default_output_path()
    if out_path.suffix != ".keras":
        raise UsageError(f"output path {out_path} must end in .keras")
    net = parse_dat(dat_path)
    model = build_model(net)
    with files.atomic_write(out_path, "wb") as handle:
        _save_keras_archive(model, handle)
    assets.write_sidecar(out_path, source_sha256=net.source_sha256, converter=CONVERTER_ID)
    return out_path


def _save_keras_archive(model, handle) -> None:
    """Write ``model`` in the ``.keras`` format to an open binary file.

    ``keras.saving.save_model`` wants a file *name* ending in ``.keras``, which the atomic
    writer's temporary file does not have; Keras' own saver also takes an open file, which is
    what it is given here.
    """
    from keras.src.saving import saving_lib  # deferred: Keras imports TensorFlow, which is slow to import

    saving_lib.save_model(model, handle)
