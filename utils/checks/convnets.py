"""Checks for the convolution exercises (notebooks 05-06): output sizes, parameter counts, receptive fields.

Each result is an int (a size, a count), except the receptive field's start (a float): a float
where an int is asked fails, as it would make the shapes that notebook 06 prints fractional.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from utils.checks.cases import Case, Mistake, hidden_rng
from utils.checks.declaration import Exercise
from utils.convnets import arithmetic

__all__ = ["check_conv_output_size", "check_conv_param_count", "check_receptive_field_step"]


# Output size: conv_output_size(n, f, p, s) -> floor((n + 2p - f) / s) + 1
# ----------------------------------------------------------------------------------------------


def _output_size(n, f, p, s):
    """The library's reference, in the exercise's argument order."""
    return arithmetic.conv_output_length(n, f, stride=s, padding=p)


# What each case rules out (families of wrong answers), in order:
#   14,5,0,1 / 32,4,0,1: forgot + 1, stride applied to everything (s = 1 hides nothing else);
#   6,3,1,1: forgot the padding, padding on one side only;
#   224,11,2,4 / 7,3,0,2: forgot the stride, no floor (a fractional answer);
#   8,3,0,2: rounded up (the last window does not fit); 10,3,0,4: rounded to the nearest (1.75 steps);
#   9,3,2,3: operator precedence (n + 2p - f // s + 1 differs); 13,2,0,3: a hard-coded stride or f.
def _output_size_cases(context=None, seed=None) -> list[Case]:
    cases = [
        Case((14, 5, 0, 1), description="a 14-sample signal, window 5, no padding, stride 1 (-> 10)"),
        Case((32, 4, 0, 1), description="one axis of a 32^3 volume, 4x4x4 filters (-> 29)"),
        Case((6, 3, 1, 1), description="n=6, f=3, p=1, s=1 ('same' -> 6)"),
        Case((224, 11, 2, 4), description="AlexNet's first layer: n=224, f=11, p=2, s=4 (-> 55)"),
        Case((7, 3, 0, 2), description="n=7, f=3, p=0, s=2 (-> 3)"),
        Case((8, 3, 0, 2), description="n=8, f=3, p=0, s=2: the last window does not fit (-> 3)"),
        Case((9, 3, 2, 3), description="n=9, f=3, p=2, s=3 (-> 4)"),
        Case((10, 3, 0, 4), description="n=10, f=3, p=0, s=4: 7/4 = 1.75 steps, the last window does not fit (-> 2)"),
        Case((13, 2, 0, 3), description="n=13, f=2, p=0, s=3: 11/3 = 3.67 steps (-> 4)"),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "conv_output_size")
        for _ in range(4):
            n = int(rng.integers(5, 200))
            f, p, s = int(rng.integers(1, min(n, 12) + 1)), int(rng.integers(0, 4)), int(rng.integers(1, 5))
            cases.append(Case((n, f, p, s), description=f"n={n}, f={f}, p={p}, s={s}"))
    return cases


def _output_size_mistakes(context=None) -> list[Mistake]:
    return [
        Mistake(
            "forgot + 1",
            "count the first window too: floor((n + 2p - f) / s) + 1. With n = f "
            "there is exactly one position, not zero.",
            lambda n, f, p, s: (n + 2 * p - f) // s,
        ),
        Mistake(
            "forgot the padding",
            "padding adds p zeros on EACH side, so the padded length is n + 2p.",
            lambda n, f, p, s: (n - f) // s + 1,
        ),
        Mistake(
            "padding on one side only",
            "padding adds p zeros on BOTH sides: use n + 2*p, not n + p.",
            lambda n, f, p, s: (n + p - f) // s + 1,
        ),
        Mistake(
            "no floor",
            "a window that does not fit entirely is not computed: round DOWN with "
            "integer division (n + 2*p - f) // s, then add 1.",
            lambda n, f, p, s: (n + 2 * p - f) / s + 1,
        ),
        Mistake(
            "rounded up",
            "round DOWN (floor, `//`): a window hanging past the end is dropped.",
            lambda n, f, p, s: math.ceil((n + 2 * p - f) / s) + 1,
        ),
        Mistake(
            "rounded to the nearest",
            "round DOWN with integer division (n + 2*p - f) // s: round() "
            "turns 1.75 steps into 2, counting a window that hangs past the end of the input.",
            lambda n, f, p, s: int(round((n + 2 * p - f) / s)) + 1,
        ),
        Mistake(
            "forgot the stride",
            "divide the number of steps by the stride s before adding 1.",
            lambda n, f, p, s: (n + 2 * p - f) + 1,
        ),
        Mistake(
            "stride applied to everything",
            "only the steps (n + 2p - f) are divided by s; the + 1 (the first window) comes after the division.",
            lambda n, f, p, s: (n + 2 * p - f + 1) // s,
        ),
        Mistake(
            "operator precedence",
            "`//` binds tighter than `+` and `-`: n + 2 * p - f // s + 1 divides "
            "only f. Put the steps in parentheses: (n + 2 * p - f) // s + 1.",
            lambda n, f, p, s: n + 2 * p - f // s + 1,
        ),
    ]


@Exercise.declare(
    reference=_output_size,
    cases=_output_size_cases,
    mistakes=_output_size_mistakes,
    rtol=0,
    atol=0,
    answer_key=("utils.convnets.arithmetic.conv_output_length", "utils.convnets.arithmetic.conv_output_shape"),
    hint="Check each term of ⌊(n + 2p − f)/s⌋ + 1 against the case above: the padded length n + 2p, minus the "
    "window f, divided by the stride s and rounded down (//), plus 1 for the first window.",
)
def check_conv_output_size(conv_output_size: Callable) -> None:
    """Check the exercise ``conv_output_size(n, f, p, s)`` (one spatial axis); the result is an int.

    Args:
        conv_output_size: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """


# Parameter count: conv_param_count(f, rank, c_in, c_out) -> (f**rank * c_in + 1) * c_out
# ----------------------------------------------------------------------------------------------


def _param_count(f, rank, c_in, c_out):
    """The library's reference, in the exercise's argument order."""
    return arithmetic.conv_param_count(f, c_in, c_out, rank=rank)


# What each case rules out: 5,1,1,16 (c_in = 1): forgot the bias, one bias per weight, one bias for
# the layer; 3,2,3,64: forgot the input channels, bias per input channel, parentheses missing;
# 4,3,3,16 (rank 3, f != rank): f * rank instead of f ** rank, a hard-coded rank 2;
# 3,2,64,128: large counts (an int overflow or a float answer shows).
def _param_cases(context=None, seed=None) -> list[Case]:
    cases = [
        Case((5, 1, 1, 16), description="Conv1D(16, 5) on a 1-channel signal (-> 96)"),
        Case((3, 2, 3, 64), description="VGG's first layer, Conv2D(64, 3) on RGB (-> 1792)"),
        Case((4, 3, 3, 16), description="Conv3D(16, 4) on a 3-channel volume (-> 3088)"),
        Case((3, 2, 64, 128), description="Conv2D(128, 3) on 64 channels (-> 73856)"),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "conv_param_count")
        for _ in range(3):
            f, rank = int(rng.integers(1, 8)), int(rng.integers(1, 4))
            c_in, c_out = int(rng.integers(1, 65)), int(rng.integers(1, 129))
            cases.append(Case((f, rank, c_in, c_out), description=f"f={f}, rank={rank}, c_in={c_in}, c_out={c_out}"))
    return cases


def _param_mistakes(context=None) -> list[Mistake]:
    return [
        Mistake(
            "forgot the bias",
            "each filter also has one bias: (f**rank * c_in + 1) * c_out.",
            lambda f, rank, c_in, c_out: f**rank * c_in * c_out,
        ),
        Mistake(
            "forgot the input channels",
            "a filter spans ALL input channels: it has f**rank * c_in weights.",
            lambda f, rank, c_in, c_out: (f**rank + 1) * c_out,
        ),
        Mistake(
            "one bias per weight",
            "there is one bias per filter, not one per weight: (f**rank * c_in + 1) * c_out.",
            lambda f, rank, c_in, c_out: 2 * f**rank * c_in * c_out,
        ),
        Mistake(
            "f * rank instead of f ** rank",
            "a filter of size f in `rank` dimensions has f**rank positions (f*f for 2-D, f*f*f for 3-D), not f*rank.",
            lambda f, rank, c_in, c_out: (f * rank * c_in + 1) * c_out,
        ),
        Mistake(
            "bias per input channel",
            "the bias is added once per filter (output channel): (f**rank * c_in + 1) * c_out.",
            lambda f, rank, c_in, c_out: (f**rank + 1) * c_in * c_out,
        ),
        Mistake(
            "one bias for the whole layer",
            "each of the c_out filters has its own bias: (f**rank * c_in + 1) * c_out, not f**rank * c_in * c_out + 1.",
            lambda f, rank, c_in, c_out: f**rank * c_in * c_out + 1,
        ),
        Mistake(
            "parentheses missing",
            "`*` binds tighter than `+`: f**rank * c_in + 1 * c_out adds c_out once. "
            "Put one filter's count in parentheses: (f**rank * c_in + 1) * c_out.",
            lambda f, rank, c_in, c_out: f**rank * c_in + c_out,
        ),
        Mistake(
            "rank hard-coded to 2",
            "use the argument rank: a filter has f**rank weights per input channel "
            "(f for 1-D, f*f for 2-D, f*f*f for 3-D).",
            lambda f, rank, c_in, c_out: (f**2 * c_in + 1) * c_out,
        ),
    ]


@Exercise.declare(
    reference=_param_count,
    cases=_param_cases,
    mistakes=_param_mistakes,
    rtol=0,
    atol=0,
    answer_key=("utils.convnets.arithmetic.conv_param_count",),
    hint="Count the parameters of ONE filter, f**rank weights for each of the c_in input channels plus one bias, "
    "then multiply by the number of filters: (f**rank * c_in + 1) * c_out.",
)
def check_conv_param_count(conv_param_count: Callable) -> None:
    """Check the exercise ``conv_param_count(f, rank, c_in, c_out)``; the result is an int.

    Args:
        conv_param_count: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """


# Receptive field: receptive_field_step(size, jump, start, k, s, p) -> (size, jump, start)
# ----------------------------------------------------------------------------------------------


def _rf_step(size_in, jump_in, start_in, k, s, p):
    """The library's reference (same argument order as the exercise)."""
    return arithmetic.receptive_field_step(size_in, jump_in, start_in, k, s, p)


# What each case rules out: 1,1,0.0,3,1,1: k instead of k - 1, start at the window's edge;
# 5,1,0.0,2,2,0 (k = 2, stride 2): k hard-coded to 3, jump not updated; 6,2,0.5,3,1,1 (jump_in 2):
# forgot the jump, start without the jump; AlexNet 11,4,0 / 3,2,0 / 5,1,2: used the new jump (the
# stride and jump_in differ), start ignores the padding; 7,2,1.0,3,2,1: all three at once.
def _rf_cases(context=None, seed=None) -> list[Case]:
    cases = [
        Case((1, 1, 0.0, 3, 1, 1), description="a 3x3 'same' convolution on the image (-> (3, 1, 0.0))"),
        Case((5, 1, 0.0, 2, 2, 0), description="VGG's first 2x2 max-pool after two 3x3 convs (-> (6, 2, 0.5))"),
        Case((6, 2, 0.5, 3, 1, 1), description="a 3x3 'same' conv after that pool (-> (10, 2, 0.5))"),
        Case((1, 1, 0.0, 11, 4, 0), description="AlexNet conv1, 11x11 stride 4, no padding (-> (11, 4, 5.0))"),
        Case((11, 4, 5.0, 3, 2, 0), description="AlexNet pool1, 3x3 stride 2 (-> (19, 8, 9.0))"),
        Case((19, 8, 9.0, 5, 1, 2), description="AlexNet conv2, 5x5 'same' (-> (51, 8, 9.0))"),
        Case((7, 2, 1.0, 3, 2, 1), description="a 3x3 stride-2 layer padded by 1 (-> (11, 4, 1.0))"),
    ]
    if seed is not None:
        rng = hidden_rng(seed, "receptive_field_step")
        for _ in range(3):
            size, jump = int(rng.integers(1, 40)), int(rng.integers(1, 9))
            start, k = float(rng.integers(0, 20)) / 2, int(rng.integers(1, 8))
            s, p = int(rng.integers(1, 4)), int(rng.integers(0, 3))
            cases.append(
                Case(
                    (size, jump, start, k, s, p),
                    description=f"size_in={size}, jump_in={jump}, start_in={start}, k={k}, s={s}, p={p}",
                )
            )
    return cases


def _rf_mistakes(context=None) -> list[Mistake]:
    return [
        Mistake(
            "k instead of k - 1",
            "a window of k units adds k - 1 NEW neighbours: size = size_in + "
            "(k - 1) * jump_in (a 1x1 convolution does not grow the field).",
            lambda r, j, st, k, s, p: (r + k * j, j * s, st + ((k - 1) / 2 - p) * j),
        ),
        Mistake(
            "forgot the jump",
            "neighbouring units of the previous layer are jump_in pixels apart, so "
            "the field grows by (k - 1) * jump_in, not k - 1.",
            lambda r, j, st, k, s, p: (r + (k - 1), j * s, st + ((k - 1) / 2 - p) * j),
        ),
        Mistake(
            "used the new jump",
            "grow the field with the PREVIOUS layer's jump (jump_in), before multiplying it by this layer's stride.",
            lambda r, j, st, k, s, p: (r + (k - 1) * j * s, j * s, st + ((k - 1) / 2 - p) * j * s),
        ),
        Mistake(
            "jump not updated",
            "the jump multiplies by the stride: jump = jump_in * s.",
            lambda r, j, st, k, s, p: (r + (k - 1) * j, j, st + ((k - 1) / 2 - p) * j),
        ),
        Mistake(
            "start ignores the padding",
            "padding moves the first window p units to the left: start = start_in + ((k - 1) / 2 - p) * jump_in.",
            lambda r, j, st, k, s, p: (r + (k - 1) * j, j * s, st + (k - 1) / 2 * j),
        ),
        Mistake(
            "start without the jump",
            "the shift of the centre is measured in previous-layer units: multiply ((k - 1) / 2 - p) by jump_in.",
            lambda r, j, st, k, s, p: (r + (k - 1) * j, j * s, st + ((k - 1) / 2 - p)),
        ),
        Mistake(
            "start at the window's edge",
            "start is the CENTRE of the first field: the window's "
            "first element is (k - 1) / 2 units before its centre.",
            lambda r, j, st, k, s, p: (r + (k - 1) * j, j * s, st - p * j),
        ),
        Mistake(
            "k hard-coded to 3",
            "use the argument k (the window size of THIS layer), not 3: a 2x2 pool "
            "or an 11x11 convolution grows the field by (k - 1) * jump_in.",
            lambda r, j, st, k, s, p: (r + 2 * j, j * s, st + (1 - p) * j),
        ),
    ]


@Exercise.declare(
    reference=_rf_step,
    cases=_rf_cases,
    mistakes=_rf_mistakes,
    rtol=0,
    atol=1e-9,
    answer_key=("utils.convnets.arithmetic.receptive_field_step", "utils.convnets.arithmetic.receptive_fields"),
    hint="Check each of the three values against the case above, with this layer's k, s, p and the previous "
    "layer's values: size = size_in + (k - 1) * jump_in, jump = jump_in * s, "
    "start = start_in + ((k - 1) / 2 - p) * jump_in.",
)
def check_receptive_field_step(receptive_field_step: Callable) -> None:
    """Check the exercise ``receptive_field_step(size_in, jump_in, start_in, k, s, p)`` -> ``(size, jump, start)``.

    ``size`` and ``jump`` are ints, ``start`` a float.

    Args:
        receptive_field_step: the learner's function.

    Returns:
        None; prints "All tests passed." when every case matches.
    """
