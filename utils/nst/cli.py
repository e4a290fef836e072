"""``python -m utils.nst``: stylise a photo with one or more paintings from the command line.

Usage::

    python -m utils.nst --content C.jpg --style S.jpg [S2.jpg ...] --output OUT.png --size 400 \\
        --steps 300 [--preset blocks123] [--style-weights 0.7 0.3] [--preserve-colors] \\
        [--tv-weight W] [--optimizer adam|lbfgs] [--dtype auto|float32|bfloat16] \\
        [--coarse-scale 0.5 | --no-coarse-to-fine] [--json OUT.json]

Everything is checked before any work starts, and bad input ends with one ``error: ...`` line on
stderr and exit status 2, with nothing written: an unreadable image, an unknown preset or layer,
an image too small, missing or wrong weights, a number that is negative, NaN or infinite, an
output that cannot be written (a folder, a path under a regular file, a folder without write
permission) or that names one of the input images, or two outputs that name the same file. A
run whose loss stops being finite also ends that way (and writes nothing).

The summary line says which compute dtype was used and why (``--dtype auto`` picks bfloat16
where the CPU or GPU computes it natively).

Example:
    >>> build_parser().parse_args(["--content", "c.jpg", "--style", "s.jpg", "--output", "o.png"]).optimizer
    'lbfgs'
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Sequence
from pathlib import Path

from utils import errors, files, plotting
from utils.errors import NSTError, UsageError
from utils.nst import vgg
from utils.nst.engine import StyleTransfer
from utils.nst.settings import (
    COMPUTE_DTYPES,
    DEFAULT_COARSE_SCALE,
    DEFAULT_COARSE_SHARE,
    DEFAULT_PRESET,
    INITS,
    OPTIMIZERS,
    PRESETS,
    NSTSettings,
)

__all__ = ["DEFAULT_STEPS", "build_parser", "main"]

#: Steps of a command-line run when ``--steps`` is not given.
DEFAULT_STEPS = 300

#: The numeric options, checked for finiteness before any work (argparse's ``float`` accepts "nan").
_NUMBER_OPTIONS = (
    "style_weights",
    "style_scale",
    "tv_weight",
    "alpha",
    "beta",
    "learning_rate",
    "coarse_scale",
    "coarse_share",
)


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one ``error: ...`` line on stderr and exit status 2."""

    def error(self, message):
        self.exit(errors.report(UsageError(f"{message} (python -m utils.nst --help lists the options)")))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m utils.nst``."""
    parser = _OneLineParser(
        prog="python -m utils.nst", description="Neural style transfer on ImageNet VGG19 (Gatys et al.)."
    )
    parser.add_argument("--content", required=True, help="content image")
    parser.add_argument("--style", required=True, nargs="+", help="one or more style images")
    parser.add_argument("--output", required=True, help="output image (.png/.jpg)")
    parser.add_argument("--size", type=int, default=400, help="longer side in pixels (default 400)")
    parser.add_argument(
        "--steps",
        type=int,
        default=DEFAULT_STEPS,
        help=f"optimisation steps, coarse and fine stages together (default {DEFAULT_STEPS}): "
        "Adam updates, or L-BFGS evaluations of the loss and its gradient (an L-BFGS "
        "iteration may take several); never more than this many",
    )
    parser.add_argument("--preset", default=DEFAULT_PRESET, help=f"one of {', '.join(PRESETS)}")
    parser.add_argument("--style-weights", type=float, nargs="+", help="blend weights, one per style")
    parser.add_argument("--style-scale", type=float, default=1.0, help="brush-stroke scale (default 1)")
    parser.add_argument("--preserve-colors", action="store_true", help="keep the content's colours")
    parser.add_argument("--tv-weight", type=float, help="total-variation weight (default: preset's)")
    parser.add_argument("--alpha", type=float, help="content weight (default: preset's)")
    parser.add_argument("--beta", type=float, help="style weight (default: preset's)")
    parser.add_argument("--learning-rate", type=float, help="Adam learning rate (default: preset's)")
    parser.add_argument("--optimizer", default="lbfgs", choices=OPTIMIZERS, help="default lbfgs")
    parser.add_argument("--init", default="content", choices=INITS)
    parser.add_argument(
        "--weights",
        default="auto",
        help="auto, full, partial or an .h5 path (a file named like a registered VGG19 file "
        "must pass its checksum; others must have VGG19's layer shapes)",
    )
    parser.add_argument(
        "--dtype",
        default="auto",
        choices=COMPUTE_DTYPES,
        help="compute dtype of the VGG19 convolutions (default auto: bfloat16 where the "
        "hardware computes it natively, else float32)",
    )
    parser.add_argument(
        "--coarse-scale",
        type=float,
        default=DEFAULT_COARSE_SCALE,
        help=f"coarse-to-fine: run the first stage at this fraction of --size "
        f"(default {DEFAULT_COARSE_SCALE}; 1 for a single scale)",
    )
    parser.add_argument(
        "--coarse-share",
        type=float,
        default=DEFAULT_COARSE_SHARE,
        help=f"coarse-to-fine: share of --steps at the coarse scale (default {DEFAULT_COARSE_SHARE})",
    )
    parser.add_argument("--no-coarse-to-fine", action="store_true", help="optimise at full size only")
    parser.add_argument("--snapshot-every", type=int, help="keep a snapshot every N steps")
    parser.add_argument("--grid", help="write the iteration grid (PNG) here")
    parser.add_argument("--plot", help="write the loss-curve plot (PNG) here")
    parser.add_argument("--json", help="write losses, timings, weights file, layers and dtype here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _settings(args: argparse.Namespace) -> NSTSettings:
    return NSTSettings.from_preset(
        args.preset,
        style_weights=args.style_weights,
        size=args.size,
        style_scale=args.style_scale,
        alpha=args.alpha,
        beta=args.beta,
        tv_weight=args.tv_weight,
        learning_rate=args.learning_rate,
        init=args.init,
        preserve_colors=args.preserve_colors,
        weights=args.weights,
        compute_dtype=args.dtype,
        seed=args.seed,
        coarse_scale=None if args.no_coarse_to_fine else args.coarse_scale,
        coarse_share=args.coarse_share,
    )


def _check_numbers(args: argparse.Namespace) -> None:
    """Refuse NaN and infinity in every numeric option, naming the option."""
    for name in _NUMBER_OPTIONS:
        value = getattr(args, name)
        for number in value if isinstance(value, list) else [value]:
            if number is not None and not math.isfinite(number):
                raise NSTError(f"--{name.replace('_', '-')} must be a finite number; got {number}")


def _check_outputs(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """Every file the run will write, checked before any work: writable, not an input, not twice."""
    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise NSTError(f"--output must end in .png, .jpg or .jpeg; got {output}")
    inputs = [args.content, *args.style]
    if args.weights not in ("auto", "full", "partial"):
        inputs.append(args.weights)
    outputs = [("--output", output)] + [
        (f"--{name}", Path(getattr(args, name))) for name in ("json", "grid", "plot") if getattr(args, name)
    ]
    for what, path in outputs:
        files.check_writable(path, inputs, what=what)
    for index, (what, path) in enumerate(outputs):
        for other_what, other in outputs[:index]:
            if os.path.abspath(path) == os.path.abspath(other):
                raise NSTError(f"{what} and {other_what} are the same file ({path}); give each output its own name")
    return outputs


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns 0, or 2 for bad input (one ``error:`` line on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        if args.steps < 1:
            raise NSTError(f"--steps must be at least 1; got {args.steps}")
        if args.snapshot_every is not None and args.snapshot_every < 1:
            raise NSTError(f"--snapshot-every must be at least 1; got {args.snapshot_every}")
        _check_numbers(args)
        settings = _settings(args)
        vgg.choose_weights(settings.layers, settings.weights)  # a weights file is verified before any work
        _check_outputs(args)
        engine = StyleTransfer(args.content, args.style, settings)
        result = engine.run(
            args.steps, optimizer=args.optimizer, snapshot_every=args.snapshot_every, progress=not args.no_progress
        )
        figures = []
        if args.grid:
            figures.append((args.grid, result.grid()))
        if args.plot:
            figures.append((args.plot, result.plot_losses()))
        output = result.save(args.output)
        if args.json:
            result.save_json(
                args.json, content=str(args.content), styles=[str(style) for style in args.style], output=str(output)
            )
        for path, figure in figures:
            plotting.save_figure(figure, path)
            plotting.close(figure)
    except (errors.CourseError, OSError) as error:
        return errors.report(error)
    stages = " then ".join(f"{stage['steps']} at {stage['width']}x{stage['height']}" for stage in result.stages)
    print(
        f"wrote {output}: total loss {result.initial_losses['total']:.4g} -> {result.final_losses['total']:.4g} "
        f"in {result.steps} {args.optimizer} steps ({stages}), {result.seconds_per_step:.3f} s/step at full size; "
        f"{result.precision['dtype']} ({result.precision['reason']}); "
        f"{result.provenance['weights_kind']} weights ({result.provenance['weights_file']})"
    )
    return 0
