"""Receptive-field arithmetic: which input pixels a unit of a convolutional layer can see.

Along one axis every layer is described by three numbers of its output units, measured in input
pixels (pixel ``i`` of the input has its centre at coordinate ``i``):

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
of its inputs' fields.

Example:
    >>> receptive_field_step(1, 1, 0.0, kernel_size=3, stride=1, padding=1)    # a 3x3 'same' conv
    (3, 1, 0.0)
    >>> fields = receptive_fields([LayerSpec("conv1", 11, 4, 0), LayerSpec("pool1", 3, 2, 0)])
    >>> fields["pool1"].size, fields["pool1"].jump
    ((19, 19), (8, 8))
"""

from __future__ import annotations

import dataclasses
import math
from typing import Iterable, Sequence

from utils.conv_arithmetic import conv_output_length, same_padding


def receptive_field_step(size_in: int, jump_in: int, start_in: float, kernel_size: int, stride: int,
                         padding: int) -> tuple[int, int, float]:
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
    for value, name in ((size_in, "size_in"), (jump_in, "jump_in"), (kernel_size, "kernel_size"),
                        (stride, "stride")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; got {value!r}")
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise ValueError(f"padding must be a non-negative int (zeros before the axis); got {padding!r}")
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
    """

    name: str
    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[float, ...]

    def center(self, position: Sequence[int]) -> tuple[float, ...]:
        """Centre, in input-pixel coordinates, of the field of the unit at ``position``."""
        self._check_position(position)
        return tuple(s + i * j for s, i, j in zip(self.start, position, self.jump))

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
            raise ValueError(f"position {tuple(position)} has {len(position)} axes; layer {self.name} "
                             f"has {len(self.size)} spatial axes")


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """A convolution or pooling layer for :func:`receptive_fields`.

    Attributes:
        name: layer name.
        kernel_size: window size (int: same on every axis).
        stride: stride (int: same on every axis).
        padding: ``"valid"``, ``"same"`` (TensorFlow's rule, needs the input size when the stride is
            above 1) or an int: zeros before each axis.
    """

    name: str
    kernel_size: int
    stride: int = 1
    padding: object = "valid"


def _padding_before(padding, input_length: int | None, kernel_size: int, stride: int, dilation: int,
                    layer_name: str) -> int:
    """Zeros a layer adds before an axis."""
    if isinstance(padding, int) and not isinstance(padding, bool):
        return padding
    mode = str(padding).lower()
    if mode == "valid":
        return 0
    if mode == "causal":
        return (kernel_size - 1) * dilation
    if mode == "same":
        effective = (kernel_size - 1) * dilation + 1
        if stride == 1:
            return (effective - 1) // 2
        if input_length is None:
            raise ValueError(f"layer {layer_name}: 'same' padding with stride {stride} pads according "
                             f"to the input size; give the input size (or build the model with a fixed "
                             f"input shape)")
        return same_padding(input_length, kernel_size, stride, dilation)[0]
    raise ValueError(f"layer {layer_name}: unknown padding {padding!r}")


def receptive_fields(layers: Iterable[LayerSpec], input_size: int | None = None,
                     rank: int = 2) -> dict[str, ReceptiveField]:
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
            raise ValueError(f"expected LayerSpec objects; got {layer!r}")
        pad = _padding_before(layer.padding, length, layer.kernel_size, layer.stride, 1, layer.name)
        size, jump, start = receptive_field_step(size, jump, start, layer.kernel_size, layer.stride, pad)
        if length is not None:
            length = conv_output_length(length, layer.kernel_size, layer.stride,
                                        layer.padding if isinstance(layer.padding, str) else layer.padding)
        fields[layer.name] = ReceptiveField(layer.name, (size,) * rank, (jump,) * rank, (start,) * rank)
    return fields


# Keras models
# --------------------------------------------------------------------------------------------

def _spatial(shape) -> tuple:
    return tuple(shape[1:-1])


def _per_axis(value, rank: int) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return (int(value),) * rank


def _union(fields: list[ReceptiveField], name: str) -> ReceptiveField:
    """The field of a unit that sees the fields of all ``fields`` (element-wise merge layers)."""
    if len({field.jump for field in fields}) != 1:
        raise ValueError(f"layer {name} merges inputs with different unit spacings "
                         f"{[field.jump for field in fields]}: its units have no single receptive field")
    sizes, starts = [], []
    for axis in range(len(fields[0].size)):
        lows = [f.start[axis] - (f.size[axis] - 1) / 2 for f in fields]
        highs = [f.start[axis] + (f.size[axis] - 1) / 2 for f in fields]
        low, high = min(lows), max(highs)
        sizes.append(int(round(high - low)) + 1)
        starts.append((low + high) / 2)
    return ReceptiveField(name, tuple(sizes), fields[0].jump, tuple(starts))


def _apply_window(field: ReceptiveField, name: str, kernel, strides, padding, dilation,
                  input_spatial) -> ReceptiveField:
    rank = len(field.size)
    kernels, stride_list, dilations = _per_axis(kernel, rank), _per_axis(strides, rank), _per_axis(dilation, rank)
    sizes, jumps, starts = [], [], []
    for axis in range(rank):
        pad = _padding_before(padding, input_spatial[axis], kernels[axis], stride_list[axis],
                              dilations[axis], name)
        effective = (kernels[axis] - 1) * dilations[axis] + 1
        size, jump, start = receptive_field_step(field.size[axis], field.jump[axis], field.start[axis],
                                                 effective, stride_list[axis], pad)
        sizes.append(size), jumps.append(jump), starts.append(start)
    return ReceptiveField(name, tuple(sizes), tuple(jumps), tuple(starts))


def _shift(field: ReceptiveField, name: str, before: Sequence[int], sign: int) -> ReceptiveField:
    """Zero padding (sign -1) or cropping (sign +1) moves the first unit by ``before`` units."""
    starts = tuple(s + sign * b * j for s, b, j in zip(field.start, before, field.jump))
    return ReceptiveField(name, field.size, field.jump, starts)


def _layer_field(operation, inputs: list[ReceptiveField], input_shapes, output_shape) -> ReceptiveField:
    import keras

    name = operation.name
    input_spatial = _spatial(input_shapes[0])
    rank = len(inputs[0].size)
    if len(inputs) > 1:
        return _union(inputs, name)
    field = inputs[0]
    if isinstance(operation, (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                              keras.layers.Conv3DTranspose, keras.layers.UpSampling1D,
                              keras.layers.UpSampling2D, keras.layers.UpSampling3D)):
        raise ValueError(f"layer {name}: up-sampling layers are not supported")
    if hasattr(operation, "kernel_size") and hasattr(operation, "strides"):
        return _apply_window(field, name, operation.kernel_size, operation.strides, operation.padding,
                             getattr(operation, "dilation_rate", 1), input_spatial)
    if hasattr(operation, "pool_size"):
        strides = operation.strides if operation.strides is not None else operation.pool_size
        return _apply_window(field, name, operation.pool_size, strides, operation.padding, 1, input_spatial)
    if isinstance(operation, (keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D, keras.layers.ZeroPadding3D)):
        padding = operation.padding
        before = [padding[0]] if isinstance(operation, keras.layers.ZeroPadding1D) else [pair[0] for pair in padding]
        return _shift(field, name, before[:rank], -1)
    if isinstance(operation, (keras.layers.Cropping1D, keras.layers.Cropping2D, keras.layers.Cropping3D)):
        cropping = operation.cropping
        before = [cropping[0]] if isinstance(operation, keras.layers.Cropping1D) else [pair[0] for pair in cropping]
        return _shift(field, name, before[:rank], +1)
    if tuple(output_shape[1:1 + rank]) == tuple(input_shapes[0][1:1 + rank]):
        # element-wise, or acting on the channels only (e.g. a Reshape that splits the channel axis)
        return ReceptiveField(name, field.size, field.jump, field.start)
    raise ValueError(f"layer {name} ({type(operation).__name__}) changes the spatial shape "
                     f"{input_spatial} -> {_spatial(output_shape)} in a way receptive_field does not know")


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
        ValueError: a layer that changes the spatial shape in an unknown way (e.g. up-sampling),
            or a shared layer.

    Example:
        >>> import keras                                                             # doctest: +SKIP
        >>> vgg = keras.applications.VGG16(include_top=False, weights=None)         # doctest: +SKIP
        >>> model_receptive_fields(vgg)["block3_conv3"].size                        # doctest: +SKIP
        (40, 40)
    """
    if len(model.inputs) != 1:
        raise ValueError(f"model {model.name} has {len(model.inputs)} inputs; expected one image input")
    by_tensor: dict[int, ReceptiveField] = {}
    fields: dict[str, ReceptiveField] = {}
    input_tensor = model.inputs[0]
    rank = len(input_tensor.shape) - 2
    if rank < 1:
        raise ValueError(f"model input has shape {tuple(input_tensor.shape)}: no spatial axes")
    by_tensor[id(input_tensor)] = ReceptiveField("input", (1,) * rank, (1,) * rank, (0.0,) * rank)
    for operation in getattr(model, "operations", model.layers):
        if type(operation).__name__ == "InputLayer":
            fields[operation.name] = ReceptiveField(operation.name, (1,) * rank, (1,) * rank, (0.0,) * rank)
            continue
        # the nodes of this model's graph are those whose inputs we have already seen
        nodes = [node for node in getattr(operation, "_inbound_nodes", [])
                 if node.input_tensors and all(id(t) in by_tensor or len(t.shape) < rank + 2
                                               for t in node.input_tensors)
                 and any(id(t) in by_tensor for t in node.input_tensors)]
        if not nodes:
            continue
        if len(nodes) > 1:
            raise ValueError(f"layer {operation.name} is used {len(nodes)} times; shared layers are not supported")
        node = nodes[0]
        spatial_inputs = [t for t in node.input_tensors if id(t) in by_tensor]
        outputs = [t for t in node.output_tensors if len(t.shape) >= rank + 2]
        if not outputs:
            continue
        field = _layer_field(operation, [by_tensor[id(t)] for t in spatial_inputs],
                             [tuple(t.shape) for t in spatial_inputs], tuple(outputs[0].shape))
        for tensor in outputs:
            by_tensor[id(tensor)] = field
        fields[operation.name] = field
    return fields
