"""LFW-protocol figures and time breakdown of the face engine (MTCNN + dlib face ResNet in Keras).

Runs :func:`utils.faces.evaluate_lfw` on the ``lfw`` asset (folds 1-2 here: 1200 pairs) and
prints accuracy (mean +- std over folds, threshold fitted on the other folds), AUC, EER,
VAL @ FAR 1e-3, the best threshold, and seconds spent detecting + aligning, loading the model,
encoding and scoring. ``--cold`` ignores the on-disk chip cache so the whole development
evaluation (detect + align + encode + folds) is timed from scratch (the fresh chips are stored); ``--compare-flip`` also
scores the other test-time-augmentation setting on the same chips. Fast mode uses 100 pairs
per fold. The CPU is shared with other work: the load average is printed with the timings.

Usage:
    python -m benchmarks.lfw_eval [--cold] [--compare-flip] [--json FILE] [--plot FILE.png]
"""

from __future__ import annotations

import argparse
import json
import os
import time

from utils import assets, files, plotting
from utils.faces import FLIP_DEFAULT, evaluate_lfw


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cold", action="store_true", help="detect and align every image again (ignore, then refresh, the chip cache)"
    )
    parser.add_argument("--compare-flip", action="store_true", help="also evaluate the other flip setting")
    parser.add_argument("--json", help="write the figures to this JSON file")
    parser.add_argument("--plot", help="save ROC + histograms of the default setting to this PNG")
    args = parser.parse_args(argv)

    lfw = assets.resolve("lfw")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    result = evaluate_lfw(lfw / "pairs.txt", lfw / "images", refresh_cache=args.cold, progress=False)
    total = time.perf_counter() - started
    result.extra["seconds_total"] = round(total, 1)
    result.extra["load_average_1min_before"] = round(load_before, 2)
    result.extra["load_average_1min_after"] = round(os.getloadavg()[0], 2)
    result.extra["chip_cache"] = "refreshed (cold run)" if args.cold else "used"
    print(f"== LFW, flip test-time augmentation {'on' if result.extra['flip'] else 'off'} (default) ==")
    print(result.summary())
    report = {"default": result.to_dict()}
    if args.compare_flip:
        other = evaluate_lfw(lfw / "pairs.txt", lfw / "images", flip=not FLIP_DEFAULT, progress=False)
        print(f"\n== LFW, flip test-time augmentation {'on' if other.extra['flip'] else 'off'} ==")
        print(other.summary())
        report["other_flip"] = other.to_dict()
    if args.json:
        files.write_text(args.json, json.dumps(report, indent=2) + "\n")
    if args.plot:
        plotting.plot_verification(result, path=args.plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
