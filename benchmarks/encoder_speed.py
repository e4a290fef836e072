"""Faces per second of :func:`utils.faces.encode_chips` at batch sizes 1, 8 and 32 on this CPU.

Target: at least 250 faces/s at batch 32 on 2 CPU cores. Other developers may share the CPU, so
the script prints the 1-minute load average before and after; figures taken under load are
lower bounds. Each batch size is timed for ``--seconds`` after two warm-up calls. The figures are
for one forward pass per face (``flip=False``); the default flip averaging doubles the work.

Usage:
    python -m benchmarks.encoder_speed [--seconds 5] [--json FILE]
    python benchmarks/encoder_speed.py --json outputs/encoder_speed.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils import config, files
from utils.faces import CHIP_SIZE, encode_chips, load_encoder

BATCH_SIZES = (1, 8, 32)


def faces_per_second(model, batch_size: int, seconds: float, rng: np.random.Generator) -> tuple[float, float]:
    """Time ``encode_chips`` on batches of ``batch_size`` random chips for about ``seconds``.

    Returns:
        ``(faces per wall-clock second, CPU milliseconds per face)``. The CPU time (all threads of
        this process) depends much less on other users of the machine than the wall clock does.
    """
    chips = rng.integers(0, 256, (batch_size, CHIP_SIZE, CHIP_SIZE, 3), dtype=np.uint8)
    for _ in range(2):
        encode_chips(chips, model=model, flip=False, batch_size=batch_size)
    faces, start, cpu_start = 0, time.perf_counter(), time.process_time()
    while True:
        encode_chips(chips, model=model, flip=False, batch_size=batch_size)
        faces += batch_size
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return faces / elapsed, 1000.0 * (time.process_time() - cpu_start) / faces


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=config.pick(normal=5.0, fast=1.5), help="time per batch size")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)

    model = load_encoder()
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()[0]
    results, cpu_ms = {}, {}
    cores = os.cpu_count() or 1
    for batch_size in BATCH_SIZES:
        rate, milliseconds = faces_per_second(model, batch_size, args.seconds, rng)
        results[str(batch_size)] = round(rate, 1)
        cpu_ms[str(batch_size)] = round(milliseconds, 2)
        print(
            f"batch {batch_size:3d}: {rate:8.1f} faces/s   {milliseconds:6.2f} CPU ms/face "
            f"(idle {cores} cores would give about {1000.0 * cores / milliseconds:.0f} faces/s)"
        )
    load_after = os.getloadavg()[0]
    print(
        f"CPU cores: {cores}; load average (1 min) before {load_before:.2f}, after {load_after:.2f}"
        + ("  <- the CPU was shared: figures are lower bounds" if max(load_before, load_after) > 1.5 else "")
    )
    if args.json:
        record = {
            "faces_per_second": results,
            "cpu_ms_per_face": cpu_ms,
            "cpu_count": cores,
            "load_average_before": round(load_before, 2),
            "load_average_after": round(load_after, 2),
            "seconds_per_batch_size": args.seconds,
            "target_batch32": 250,
        }
        files.write_text(args.json, json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
