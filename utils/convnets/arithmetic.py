"""Convolution arithmetic: output sizes, parameter counts and receptive fields of 1-D to 3-D layers.

**Output sizes.** Along every spatial axis a convolution (or pooling) window of size ``F`` sliding
with stride ``S`` over an input of length ``N`` padded with ``p`` zeros on each side gives

    output = floor((N + 2p - F) / S) + 1

positions. Keras names two paddings: ``"valid"`` (``p = 0``) and ``"same"`` (pad just enough that
the output has ``ceil(N / S)`` positions; with stride 1 that is ``p = (F - 1) / 2`` for odd ``F``).

**Parameters.** A convolution with ``C_in`` input channels and ``C_out`` filters of size ``F`` in
``d`` dimensions has ``(F**d * C_in + 1) * C_out`` parameters (one bias per filter).

**Receptive fields.** Along one axis the units of a layer are described by three numbers measured
in input pixels (pixel ``i`` of the input has its centre at coordinate ``i``):

* ``size``  — the receptive field: how many input pixels one unit sees;
* ``jump``  — the distance in input pixels between two neighbouring units (the product of strides);
* ``start`` — the centre of the receptive field of the first unit (index 0).

A window of size ``k``, stride ``s`` and ``p`` zeros padded before the axis maps the previous
layer's ``(size, jump, start)`` to::

    size  = size_in + (k - 1) * jump_in
    jump  = jump_in * s
    start = start_in + ((k - 1) / 2 - p) * jump_in

starting from the input image, ``(1, 1, 0)``. Unit ``i`` then sees the pixels centred on
``start + i * jump``, ``size`` wide. Element-wise layers (activations, batch normalisation,
additions) change nothing; a layer with several inputs (``Add``, ``Concatenate``) sees the union
of its inputs' fields. :func:`model_receptive_fields` walks a Keras model's graph this way.

The two halves live in one module because they are one recurrence seen twice (the output-size
formula counts the positions whose fields the receptive-field formula locates) and share the
padding rules.

Example:
    >>> conv_output_length(14, 5)                      # a 14-sample signal, filters of width 5
    10
    >>> conv_output_shape((32, 32, 32, 3), filters=16, kernel_size=4)
    (29, 29, 29, 16)
    >>> conv_param_count(kernel_size=(3, 3), in_channels=3, out_channels=64)
    1792
    >>> receptive_field_step(1, 1, 0.0, kernel_size=3, stride=1, padding=1)    # a 3x3 'same' conv
    (3, 1, 0.0)
    >>> fields = receptive_fields([LayerSpec("conv1", 11, 4, 0), LayerSpec("pool1", 3, 2, 0)])
    >>> fields["pool1"].size, fields["pool1"].jump
    ((19, 19), (8, 8))
"""

from __future__ import annotations

import dataclasses
import math
import operator
from collections.abc import Iterable, Sequence

from utils.errors import UsageError

#: Padding names Keras understands for convolution and pooling layers.
PADDINGS = ("valid", "same")


# Argument checks
# ----------------------------------------------------------------------------------------------


def _positive_int(value, name: str) -> int:
    """Return ``value`` as an int >= 1 (numpy integers accepted; bools and floats rejected)."""
    if isinstance(value, bool):
        raise UsageError(f"{name} must be a positive integer; got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise UsageError(f"{name} must be a positive integer; got {value!r}") from None
    if number < 1:
        raise UsageError(f"{name} must be a positive integer; got {number}")
    return number


def _explicit_padding(value, name: str = "padding") -> int:
    """Return an explicit padding (zeros per side) as an int >= 0; anything else is an error."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageError(f"{name} must be one of {PADDINGS} or a non-negative int; got {value!r}")
    return value


def _per_axis(value, rank: int, name: str) -> tuple[int, ...]:
    """Expand an int to ``rank`` copies, or check that a sequence has ``rank`` positive entries."""
    if isinstance(value, (list, tuple)):
        if len(value) != rank:
            raise UsageError(f"{name} has {len(value)} entries {tuple(value)} but the input has {rank} spatial axes")
        return tuple(_positive_int(entry, name) for entry in value)
    return (_positive_int(value, name),) * rank


def _effective_size(kernel_size: int, dilation: int) -> int:
    """Inputs a dilated window spans: ``(F - 1) * dilation + 1``."""
    return (kernel_size - 1) * dilation + 1


# Output sizes and padding
# ----------------------------------------------------------------------------------------------


def same_padding(input_length: int, kernel_size: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """Zeros added before and after an axis by Keras/TensorFlow ``padding="same"``.

    TensorFlow pads ``total = max((ceil(N / S) - 1) * S + F_eff - N, 0)`` zeros, ``total // 2``
    before the signal and the rest after it, where ``F_eff = (F - 1) * dilation + 1``.

    Args:
        input_length: ``N``, the length of the axis.
        kernel_size: ``F``.
        stride: ``S``.
        dilation: dilation rate of the kernel.

    Returns:
        ``(before, after)`` numbers of zeros.

    Example:
        >>> same_padding(224, 3)
        (1, 1)
        >>> same_padding(150, 7, stride=2)
        (2, 3)
    """
    input_length = _positive_int(input_length, "input_length")
    stride = _positive_int(stride, "stride")
    effective = _effective_size(_positive_int(kernel_size, "kernel_size"), _positive_int(dilation, "dilation"))
    total = max((math.ceil(input_length / stride) - 1) * stride + effective - input_length, 0)
    return total // 2, total - total // 2


def conv_output_length(input_length: int, kernel_size: int, stride: int = 1, padding="valid", dilation: int = 1) -> int:
    """Number of output positions along one axis: ``floor((N + 2p - F) / S) + 1``.

    Args:
        input_length: ``N``, the input length along this axis.
        kernel_size: ``F``, the window (filter or pooling) size.
        stride: ``S``.
        padding: ``"valid"`` (no padding), ``"same"`` (Keras: output ``ceil(N / S)``) or an integer
            ``p``, the zeros added on EACH side.
        dilation: dilation rate (the window then spans ``(F - 1) * dilation + 1`` inputs).

    Returns:
        The output length (a positive int).

    Raises:
        UsageError: (a ``ValueError``) non-positive sizes, an unknown padding, or a window larger
            than the padded input.

    Example:
        >>> conv_output_length(6, 3, stride=1, padding=1)
        6
        >>> conv_output_length(224, 11, stride=4, padding=2)        # AlexNet conv1 at 224 px
        55
    """
    input_length = _positive_int(input_length, "input_length")
    stride = _positive_int(stride, "stride")
    effective = _effective_size(_positive_int(kernel_size, "kernel_size"), _positive_int(dilation, "dilation"))
    if isinstance(padding, str) and padding.lower() == "same":
        return math.ceil(input_length / stride)
    pad = 0 if isinstance(padding, str) and padding.lower() == "valid" else _explicit_padding(padding)
    span = input_length + 2 * pad - effective
    if span < 0:
        raise UsageError(
            f"a window of {effective} does not fit in an input of {input_length} padded with {pad} on each side"
        )
    return span // stride + 1


def conv_output_shape(
    input_shape: Sequence[int], filters: int | None, kernel_size, strides=1, padding="valid", dilation_rate=1
) -> tuple[int, ...]:
    """Output shape (without the batch axis) of a channels-last ConvND or poolND layer.

    Args:
        input_shape: ``(*spatial, channels)``, e.g. ``(14, 1)`` for a 1-D signal or
            ``(32, 32, 32, 3)`` for a volume. The number of spatial axes (1, 2 or 3) is
            ``len(input_shape) - 1``.
        filters: number of filters (output channels); ``None`` for a pooling layer, which keeps the
            input channels.
        kernel_size: int or one int per spatial axis.
        strides: int or one int per spatial axis.
        padding: ``"valid"``, ``"same"`` or an int (zeros on each side, every axis).
        dilation_rate: int or one int per spatial axis.

    Returns:
        ``(*output_spatial, filters)``.

    Example:
        >>> conv_output_shape((14, 1), filters=16, kernel_size=5)
        (10, 16)
        >>> conv_output_shape((64, 64, 8), filters=None, kernel_size=2, strides=2)   # MaxPooling2D
        (32, 32, 8)
    """
    input_shape = tuple(input_shape)
    if not 2 <= len(input_shape) <= 4:
        raise UsageError(f"input_shape must be (*spatial, channels) with 1 to 3 spatial axes; got {input_shape}")
    channels = _positive_int(input_shape[-1], "channels")
    rank = len(input_shape) - 1
    kernels = _per_axis(kernel_size, rank, "kernel_size")
    stride_list = _per_axis(strides, rank, "strides")
    dilations = _per_axis(dilation_rate, rank, "dilation_rate")
    spatial = tuple(
        conv_output_length(length, kernel, stride, padding, dilation)
        for length, kernel, stride, dilation in zip(input_shape[:-1], kernels, stride_list, dilations)
    )
    out_channels = channels if filters is None else _positive_int(filters, "filters")
    return spatial + (out_channels,)


# Parameter counts
# ----------------------------------------------------------------------------------------------


def conv_param_count(
    kernel_size, in_channels: int, out_channels: int, rank: int | None = None, use_bias: bool = True
) -> int:
    """Trainable parameters of a ConvND layer: ``(prod(F) * C_in + 1) * C_out``.

    Args:
        kernel_size: a tuple with one size per spatial axis, or an int together with ``rank``.
        in_channels: ``C_in``, channels of the input.
        out_channels: ``C_out``, the number of filters.
        rank: number of spatial axes when ``kernel_size`` is an int (1, 2 or 3).
        use_bias: whether each filter has a bias.

    Returns:
        The parameter count (what ``layer.count_params()`` reports).

    Example:
        >>> conv_param_count(5, in_channels=1, out_channels=16, rank=1)
        96
        >>> conv_param_count((4, 4, 4), in_channels=3, out_channels=16)
        3088
    """
    if isinstance(kernel_size, (list, tuple)):
        if rank is not None and rank != len(kernel_size):
            raise UsageError(f"rank={rank} but kernel_size {tuple(kernel_size)} has {len(kernel_size)} axes")
        kernels = _per_axis(kernel_size, len(kernel_size), "kernel_size")
    else:
        if rank is None:
            raise UsageError("give rank (1, 2 or 3) when kernel_size is a single int")
        kernels = _per_axis(kernel_size, _positive_int(rank, "rank"), "kernel_size")
    weights_per_filter = math.prod(kernels) * _positive_int(in_channels, "in_channels")
    return (weights_per_filter + (1 if use_bias else 0)) * _positive_int(out_channels, "out_channels")


def dense_param_count(in_features: int, out_features: int, use_bias: bool = True) -> int:
    """Trainable parameters of a Dense layer, ``(in + 1) * out``, for comparisons with convolutions.

    Example:
        >>> dense_param_count(14, 10 * 16)      # a Dense layer producing as many numbers as Conv1D(16, 5)
        2400
    """
    weights = _positive_int(in_features, "in_features") + (1 if use_bias else 0)
    return weights * _positive_int(out_features, "out_features")


# Receptive fields
# ----------------------------------------------------------------------------------------------


def receptive_field_step(
    size_in: int, jump_in: int, start_in: float, kernel_size: int, stride: int, padding: int
) -> tuple[int, int, float]:
    """Apply one layer (window ``kernel_size``, ``stride``, ``padding`` zeros before) along one axis.

    Args:
        size_in: receptive field of the previous layer's units (1 for the input image).
        jump_in: distance between neighbouring units of the previous layer (1 for the image).
        start_in: centre of the previous layer's first receptive field (0.0 for the image).
        kernel_size: window size ``k`` (use the dilated size for a dilated convolution).
        stride: ``s``.
        padding: zeros added BEFORE the axis (``p``; e.g. 1 for a 3x3 'same' convolution).

    Returns:
        ``(size, jump, start)`` of this layer's units.

    Example:
        >>> receptive_field_step(3, 1, 0.0, kernel_size=2, stride=2, padding=0)    # a 2x2 max-pool
        (4, 2, 0.5)
    """
    size_in, jump_in = _positive_int(size_in, "size_in"), _positive_int(jump_in, "jump_in")
    kernel_size, stride = _positive_int(kernel_size, "kernel_size"), _positive_int(stride, "stride")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise UsageError(f"padding must be a non-negative int (zeros before the axis); got {padding!r}")
    size = size_in + (kernel_size - 1) * jump_in
    jump = jump_in * stride
    start = start_in + ((kernel_size - 1) / 2 - padding) * jump_in
    return size, jump, float(start)


@dataclasses.dataclass(frozen=True)
class ReceptiveField:
    """Receptive field of a layer's units, one entry per spatial axis (rows, columns[, depth]).

    Attributes:
        name: layer name.
        size: receptive-field size in input pixels, per axis.
        jump: input-pixel distance between neighbouring units, per axis.
        start: centre (input-pixel coordinate) of the first unit's field, per axis.

    Example:
        >>> field = ReceptiveField("block3_conv4", size=(48, 48), jump=(4, 4), start=(1.5, 1.5))
        >>> field.center((0, 2))
        (1.5, 9.5)
    """

    name: str
    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[float, ...]

    def center(self, position: Sequence[int]) -> tuple[float, ...]:
        """Centre, in input-pixel coordinates, of the field of the unit at ``position``."""
        self._check_position(position)
        return tuple(start + index * jump for start, index, jump in zip(self.start, position, self.jump))

    def box(self, position: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """Input pixels seen by the unit at ``position``: per axis ``(first, stop)`` (stop exclusive).

        The box may reach outside the image (negative or too large indices): those pixels are the
        layer's zero padding.

        Example:
            >>> field = ReceptiveField("conv", (3, 3), (1, 1), (0.0, 0.0))
            >>> field.box((0, 5))
            ((-1, 2), (4, 7))
        """
        boxes = []
        for centre, size in zip(self.center(position), self.size):
            first = int(math.floor(centre - (size - 1) / 2 + 1e-9))
            boxes.append((first, first + size))
        return tuple(boxes)

    def _check_position(self, position: Sequence[int]) -> None:
        if len(position) != len(self.size):
            raise UsageError(
                f"position {tuple(position)} has {len(position)} axes; layer {self.name} "
                f"has {len(self.size)} spatial axes"
            )


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """A convolution or pooling layer for :func:`receptive_fields`.

    Attributes:
        name: layer name.
        kernel_size: window size (int: same on every axis).
        stride: stride (int: same on every axis).
        padding: ``"valid"``, ``"same"`` (TensorFlow's rule, needs the input size when the stride is
            above 1) or an int: zeros before each axis.

    Example:
        >>> LayerSpec("pool1", kernel_size=2, stride=2)
        LayerSpec(name='pool1', kernel_size=2, stride=2, padding='valid')
    """

    name: str
    kernel_size: int
    stride: int = 1
    padding: object = "valid"


def _padding_before(
    padding, input_length: int | None, kernel_size: int, stride: int, dilation: int, layer_name: str
) -> int:
    """Zeros a layer adds before an axis (Keras' "valid", "same", "causal", or an explicit int)."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return padding
    mode = str(padding).lower()
    if mode == "valid":
        return 0
    if mode == "causal":
        return (kernel_size - 1) * dilation
    if mode == "same":
        if stride == 1:  # the split does not depend on the input length
            return (_effective_size(kernel_size, dilation) - 1) // 2
        if input_length is None:
            raise UsageError(
                f"layer {layer_name}: 'same' padding with stride {stride} pads according "
                f"to the input size; give the input size (or build the model with a fixed "
                f"input shape)"
            )
        return same_padding(input_length, kernel_size, stride, dilation)[0]
    raise UsageError(f"layer {layer_name}: unknown padding {padding!r}")


def receptive_fields(
    layers: Iterable[LayerSpec], input_size: int | None = None, rank: int = 2
) -> dict[str, ReceptiveField]:
    """Receptive fields of a chain of convolution / pooling layers.

    Args:
        layers: :class:`LayerSpec` in network order.
        input_size: input length per axis (needed only for ``"same"`` padding with stride > 1).
        rank: number of spatial axes (2 for images).

    Returns:
        ``{layer name: ReceptiveField}`` in network order.

    Example:
        >>> vgg = [LayerSpec("c1", 3, 1, "same"), LayerSpec("c2", 3, 1, "same"), LayerSpec("p1", 2, 2)]
        >>> receptive_fields(vgg)["p1"].size
        (6, 6)
    """
    size, jump, start = 1, 1, 0.0
    length = input_size
    fields = {}
    for layer in layers:
        if not isinstance(layer, LayerSpec):
            raise UsageError(f"expected LayerSpec objects; got {layer!r}")
        pad = _padding_before(layer.padding, length, layer.kernel_size, layer.stride, 1, layer.name)
        size, jump, start = receptive_field_step(size, jump, start, layer.kernel_size, layer.stride, pad)
        if length is not None:
            length = conv_output_length(length, layer.kernel_size, layer.stride, layer.padding)
        fields[layer.name] = ReceptiveField(layer.name, (size,) * rank, (jump,) * rank, (start,) * rank)
    return fields


# Receptive fields of Keras models
# ----------------------------------------------------------------------------------------------


def _union(fields: list[ReceptiveField], name: str) -> ReceptiveField:
    """The field of a unit that sees the fields of all ``fields`` (element-wise merge layers)."""
    if len({field.jump for field in fields}) != 1:
        raise UsageError(
            f"layer {name} merges inputs with different unit spacings "
            f"{[field.jump for field in fields]}: its units have no single receptive field"
        )
    sizes, starts = [], []
    for axis in range(len(fields[0].size)):
        low = min(field.start[axis] - (field.size[axis] - 1) / 2 for field in fields)
        high = max(field.start[axis] + (field.size[axis] - 1) / 2 for field in fields)
        sizes.append(int(round(high - low)) + 1)
        starts.append((low + high) / 2)
    return ReceptiveField(name, tuple(sizes), fields[0].jump, tuple(starts))


def _apply_window(
    field: ReceptiveField, name: str, kernel, strides, padding, dilation, input_spatial
) -> ReceptiveField:
    """The field after a convolution or pooling window, axis by axis."""
    rank = len(field.size)
    kernels = _per_axis(kernel, rank, f"layer {name} kernel")
    stride_list = _per_axis(strides, rank, f"layer {name} strides")
    dilations = _per_axis(dilation, rank, f"layer {name} dilation")
    sizes, jumps, starts = [], [], []
    for axis in range(rank):
        pad = _padding_before(padding, input_spatial[axis], kernels[axis], stride_list[axis], dilations[axis], name)
        size, jump, start = receptive_field_step(
            field.size[axis],
            field.jump[axis],
            field.start[axis],
            _effective_size(kernels[axis], dilations[axis]),
            stride_list[axis],
            pad,
        )
        sizes.append(size)
        jumps.append(jump)
        starts.append(start)
    return ReceptiveField(name, tuple(sizes), tuple(jumps), tuple(starts))


def _shift(field: ReceptiveField, name: str, before: Sequence[int], sign: int) -> ReceptiveField:
    """Zero padding (sign -1) or cropping (sign +1) moves the first unit by ``before`` units."""
    starts = tuple(start + sign * amount * jump for start, amount, jump in zip(field.start, before, field.jump))
    return ReceptiveField(name, field.size, field.jump, starts)


def _layer_field(operation, inputs: list[ReceptiveField], input_shapes, output_shape) -> ReceptiveField:
    """The receptive field of one Keras layer's output, given those of its inputs."""
    import keras  # deferred: importing Keras starts TensorFlow

    name = operation.name
    input_spatial = tuple(input_shapes[0][1:-1])
    rank = len(inputs[0].size)
    if len(inputs) > 1:
        return _union(inputs, name)
    field = inputs[0]
    layers = keras.layers
    if isinstance(
        operation,
        (
            layers.Conv1DTranspose,
            layers.Conv2DTranspose,
            layers.Conv3DTranspose,
            layers.UpSampling1D,
            layers.UpSampling2D,
            layers.UpSampling3D,
        ),
    ):
        raise UsageError(f"layer {name}: up-sampling layers are not supported")
    if hasattr(operation, "kernel_size") and hasattr(operation, "strides"):
        return _apply_window(
            field,
            name,
            operation.kernel_size,
            operation.strides,
            operation.padding,
            getattr(operation, "dilation_rate", 1),
            input_spatial,
        )
    if hasattr(operation, "pool_size"):
        strides = operation.strides if operation.strides is not None else operation.pool_size
        return _apply_window(field, name, operation.pool_size, strides, operation.padding, 1, input_spatial)
    if isinstance(operation, (layers.ZeroPadding1D, layers.ZeroPadding2D, layers.ZeroPadding3D)):
        padding = operation.padding
        before = [padding[0]] if isinstance(operation, layers.ZeroPadding1D) else [pair[0] for pair in padding]
        return _shift(field, name, before[:rank], -1)
    if isinstance(operation, (layers.Cropping1D, layers.Cropping2D, layers.Cropping3D)):
        cropping = operation.cropping
        before = [cropping[0]] if isinstance(operation, layers.Cropping1D) else [pair[0] for pair in cropping]
        return _shift(field, name, before[:rank], +1)
    if tuple(output_shape[1 : 1 + rank]) == tuple(input_shapes[0][1 : 1 + rank]):
        # element-wise, or acting on the channels only (e.g. a Reshape that splits the channel axis)
        return ReceptiveField(name, field.size, field.jump, field.start)
    raise UsageError(
        f"layer {name} ({type(operation).__name__}) changes the spatial shape "
        f"{input_spatial} -> {tuple(output_shape[1:-1])} in a way model_receptive_fields "
        f"does not know"
    )


def model_receptive_fields(model) -> dict[str, ReceptiveField]:
    """Receptive field of every spatial layer of a Keras functional or Sequential model.

    The walk follows the model's graph: convolutions and pooling layers (``kernel_size`` /
    ``pool_size``, ``strides``, ``padding``, ``dilation_rate``), zero padding and cropping move the
    field; layers that keep the spatial shape (activations, normalisation, custom element-wise
    layers) pass it on; layers with several inputs take the union. Layers without spatial axes
    (``Flatten``, ``Dense``, global pooling) and everything after them are left out.

    Args:
        model: a built ``keras.Model`` with one image input. "same" padding with stride > 1 needs
            fixed spatial input sizes.

    Returns:
        ``{layer name: ReceptiveField}`` in graph order, the input layer included (size 1).

    Raises:
        UsageError: (a ``ValueError``) a layer that changes the spatial shape in an unknown way
            (e.g. up-sampling), or a shared layer.

    Example:
        >>> import keras                                                             # doctest: +SKIP
        >>> vgg = keras.applications.VGG16(include_top=False, weights=None)         # doctest: +SKIP
        >>> model_receptive_fields(vgg)["block3_conv3"].size                        # doctest: +SKIP
        (40, 40)
    """
    if len(model.inputs) != 1:
        raise UsageError(f"model {model.name} has {len(model.inputs)} inputs; expected one image input")
    input_tensor = model.inputs[0]
    rank = len(input_tensor.shape) - 2
    if rank < 1:
        raise UsageError(f"model input has shape {tuple(input_tensor.shape)}: no spatial axes")
    image_field = ReceptiveField("input", (1,) * rank, (1,) * rank, (0.0,) * rank)
    by_tensor: dict[int, ReceptiveField] = {id(input_tensor): image_field}
    fields: dict[str, ReceptiveField] = {}
    for operation in getattr(model, "operations", model.layers):
        if type(operation).__name__ == "InputLayer":
            fields[operation.name] = dataclasses.replace(image_field, name=operation.name)
            continue
        # the nodes of this model's graph are those whose spatial inputs we have already seen
        nodes = [
            node
            for node in getattr(operation, "_inbound_nodes", [])
            if node.input_tensors
            and all(id(tensor) in by_tensor or len(tensor.shape) < rank + 2 for tensor in node.input_tensors)
            and any(id(tensor) in by_tensor for tensor in node.input_tensors)
        ]
        if not nodes:
            continue
        if len(nodes) > 1:
            raise UsageError(f"layer {operation.name} is used {len(nodes)} times; shared layers are not supported")
        node = nodes[0]
        spatial_inputs = [tensor for tensor in node.input_tensors if id(tensor) in by_tensor]
        outputs = [tensor for tensor in node.output_tensors if len(tensor.shape) >= rank + 2]
        if not outputs:
            continue
        field = _layer_field(
            operation,
            [by_tensor[id(tensor)] for tensor in spatial_inputs],
            [tuple(tensor.shape) for tensor in spatial_inputs],
            tuple(outputs[0].shape),
        )
        for tensor in outputs:
            by_tensor[id(tensor)] = field
        fields[operation.name] = field
    return fields
