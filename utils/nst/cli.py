"""``python -m utils.nst``: stylise a photo with one or more paintings from the command line.

Usage::

    python -m utils.nst --content C.jpg --style S.jpg [S2.jpg ...] --output OUT.png --size 400 \\
        --steps 300 [--preset blocks123] [--style-weights 0.7 0.3] [--preserve-colors] \\
        [--tv-weight W] [--optimizer adam|lbfgs] [--json OUT.json]

Bad input (unreadable image, unknown preset or layer, image too small, missing weights, an
output that cannot be written) is reported as one ``error: ...`` line with exit status 2 before
any work starts.

Example:
    >>> build_parser().parse_args(["--content", "c.jpg", "--style", "s.jpg", "--output", "o.png"]).optimizer
    'lbfgs'
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from utils import errors, files
from utils.errors import NSTError
from utils.nst.engine import StyleTransfer
from utils.nst.settings import DEFAULT_PRESET, INITS, OPTIMIZERS, PRESETS, NSTSettings
from utils.nst.vgg import COMPUTE_DTYPES

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m utils.nst``."""
    parser = argparse.ArgumentParser(prog="python -m utils.nst",
                                     description="Neural style transfer on ImageNet VGG19 (Gatys et al.).")
    parser.add_argument("--content", required=True, help="content image")
    parser.add_argument("--style", required=True, nargs="+", help="one or more style images")
    parser.add_argument("--output", required=True, help="output image (.png/.jpg)")
    parser.add_argument("--size", type=int, default=400, help="longer side in pixels (default 400)")
    parser.add_argument("--steps", type=int, default=300, help="optimisation steps (default 300)")
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
    parser.add_argument("--weights", default="auto", help="auto, full, partial or an .h5 path")
    parser.add_argument("--dtype", default="float32", choices=COMPUTE_DTYPES)
    parser.add_argument("--snapshot-every", type=int, help="keep a snapshot every N steps")
    parser.add_argument("--grid", help="write the iteration grid (PNG) here")
    parser.add_argument("--plot", help="write the loss-curve plot (PNG) here")
    parser.add_argument("--json", help="write losses, timings, weights file and layers here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser


def _settings(args: argparse.Namespace) -> NSTSettings:
    return NSTSettings.from_preset(
        args.preset, style_weights=args.style_weights, size=args.size, style_scale=args.style_scale,
        alpha=args.alpha, beta=args.beta, tv_weight=args.tv_weight, learning_rate=args.learning_rate,
        init=args.init, preserve_colors=args.preserve_colors, weights=args.weights,
        compute_dtype=args.dtype, seed=args.seed)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns 0, or 2 for bad input (one ``error:`` line on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        if args.steps < 1:
            raise NSTError(f"--steps must be at least 1; got {args.steps}")
        output = Path(args.output)
        if output.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            raise NSTError(f"--output must end in .png, .jpg or .jpeg; got {output}")
        inputs = [args.content, *args.style]
        files.check_writable(output, inputs, what="--output")
        for option in ("json", "grid", "plot"):
            if getattr(args, option):
                files.check_writable(getattr(args, option), inputs, what=f"--{option}")
        engine = StyleTransfer(args.content, args.style, _settings(args))
        result = engine.run(args.steps, optimizer=args.optimizer, snapshot_every=args.snapshot_every,
                            progress=not args.no_progress)
        result.save(output)
        if args.json:
            result.save_json(args.json, content=str(args.content), styles=[str(style) for style in args.style],
                             output=str(output))
        if args.grid:
            result.grid(path=args.grid)
        if args.plot:
            result.plot_losses(path=args.plot)
    except (errors.CourseError, OSError) as error:
        return errors.report(error)
    print(f"wrote {output}: total loss {result.initial_losses['total']:.4g} -> {result.final_losses['total']:.4g} "
          f"in {result.steps} {args.optimizer} steps, {result.seconds_per_step:.3f} s/step, "
          f"{result.provenance['weights_kind']} weights ({result.provenance['weights_file']})")
    return 0
