"""Convolution shape arithmetic: output sizes and parameter counts for 1-D, 2-D and 3-D layers.

Along every spatial axis a convolution (or pooling) window of size ``F`` sliding with stride ``S``
over an input of length ``N`` padded with ``p`` zeros on each side gives

    output = floor((N + 2p - F) / S) + 1

positions. Keras names two paddings: ``"valid"`` (``p = 0``) and ``"same"`` (pad just enough that
the output has ``ceil(N / S)`` positions; with stride 1 that is ``p = (F - 1) / 2`` for odd ``F``).
A convolution with ``C_in`` input channels and ``C_out`` filters of size ``F`` in ``d`` dimensions
has ``(F**d * C_in + 1) * C_out`` parameters (one bias per filter).

Example:
    >>> conv_output_length(14, 5)                      # a 14-sample signal, filters of width 5
    10
    >>> conv_output_shape((32, 32, 32, 3), filters=16, kernel_size=4)
    (29, 29, 29, 16)
    >>> conv_param_count(kernel_size=(3, 3), in_channels=3, out_channels=64)
    1792
"""

from __future__ import annotations

import math
import operator
from typing import Sequence

#: Padding names Keras understands.
PADDINGS = ("valid", "same")


def _positive_int(value, name: str) -> int:
    """Return ``value`` as an int >= 1 (numpy integers accepted; bools and floats rejected)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive integer; got {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a positive integer; got {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be a positive integer; got {number}")
    return number


def _per_axis(value, rank: int, name: str) -> tuple[int, ...]:
    """Expand an int to ``rank`` copies, or check a sequence has ``rank`` entries."""
    if isinstance(value, (list, tuple)):
        if len(value) != rank:
            raise ValueError(f"{name} has {len(value)} entries {tuple(value)} but the input has "
                             f"{rank} spatial axes")
        return tuple(_positive_int(v, name) for v in value)
    return (_positive_int(value, name),) * rank


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
    kernel_size = _positive_int(kernel_size, "kernel_size")
    stride = _positive_int(stride, "stride")
    dilation = _positive_int(dilation, "dilation")
    effective = (kernel_size - 1) * dilation + 1
    total = max((math.ceil(input_length / stride) - 1) * stride + effective - input_length, 0)
    return total // 2, total - total // 2


def conv_output_length(input_length: int, kernel_size: int, stride: int = 1, padding="valid",
                       dilation: int = 1) -> int:
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
        ValueError: non-positive sizes, an unknown padding, or a window larger than the padded input.

    Example:
        >>> conv_output_length(6, 3, stride=1, padding=1)
        6
        >>> conv_output_length(224, 11, stride=4, padding=2)        # AlexNet conv1 at 224 px
        55
    """
    input_length = _positive_int(input_length, "input_length")
    kernel_size = _positive_int(kernel_size, "kernel_size")
    stride = _positive_int(stride, "stride")
    dilation = _positive_int(dilation, "dilation")
    effective = (kernel_size - 1) * dilation + 1
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "same":
            return math.ceil(input_length / stride)
        if mode != "valid":
            raise ValueError(f"padding must be one of {PADDINGS} or a non-negative int; got {padding!r}")
        pad = 0
    elif isinstance(padding, int) and not isinstance(padding, bool) and padding >= 0:
        pad = padding
    else:
        raise ValueError(f"padding must be one of {PADDINGS} or a non-negative int; got {padding!r}")
    span = input_length + 2 * pad - effective
    if span < 0:
        raise ValueError(f"a window of {effective} does not fit in an input of {input_length} padded "
                         f"with {pad} on each side")
    return span // stride + 1


def conv_output_shape(input_shape: Sequence[int], filters: int | None, kernel_size, strides=1,
                      padding="valid", dilation_rate=1) -> tuple[int, ...]:
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
        raise ValueError(f"input_shape must be (*spatial, channels) with 1 to 3 spatial axes; "
                         f"got {input_shape}")
    channels = _positive_int(input_shape[-1], "channels")
    rank = len(input_shape) - 1
    kernels = _per_axis(kernel_size, rank, "kernel_size")
    stride_list = _per_axis(strides, rank, "strides")
    dilations = _per_axis(dilation_rate, rank, "dilation_rate")
    spatial = tuple(conv_output_length(n, f, s, padding, d)
                    for n, f, s, d in zip(input_shape[:-1], kernels, stride_list, dilations))
    out_channels = channels if filters is None else _positive_int(filters, "filters")
    return spatial + (out_channels,)


def conv_param_count(kernel_size, in_channels: int, out_channels: int, rank: int | None = None,
                     use_bias: bool = True) -> int:
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
            raise ValueError(f"rank={rank} but kernel_size {tuple(kernel_size)} has {len(kernel_size)} axes")
        kernels = _per_axis(kernel_size, len(kernel_size), "kernel_size")
    else:
        if rank is None:
            raise ValueError("give rank (1, 2 or 3) when kernel_size is a single int")
        kernels = _per_axis(kernel_size, _positive_int(rank, "rank"), "kernel_size")
    weights_per_filter = math.prod(kernels) * _positive_int(in_channels, "in_channels")
    return (weights_per_filter + (1 if use_bias else 0)) * _positive_int(out_channels, "out_channels")


def dense_param_count(in_features: int, out_features: int, use_bias: bool = True) -> int:
    """Trainable parameters of a Dense layer, ``(in + 1) * out``, for comparisons with convolutions.

    Example:
        >>> dense_param_count(14, 10 * 16)      # a Dense layer producing as many numbers as Conv1D(16, 5)
        2400
    """
    return (_positive_int(in_features, "in_features") + (1 if use_bias else 0)) * _positive_int(
        out_features, "out_features")
