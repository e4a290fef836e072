"""The main job: face recognition on the course faces, then one neural style transfer.

``python -m utils.course.demo`` (what ``make demo`` runs):

1. enrolls one image of each of the 12 people of the course database with the pretrained 128-d
   encoder (dlib's ResNet converted to Keras), identifies the six camera probes, and writes the
   answers with their distances;
2. stylises a content photo with a painting on real ImageNet VGG19 features;
3. writes everything to ``outputs/demo/``: ``faces.json``, ``faces.png`` (each probe beside the
   enrolled face it matched), ``stylized.png``, ``nst.json``, ``nst_losses.png`` and
   ``summary.json``.

In fast mode (``COURSE_FAST=1``) the style transfer runs on a small image for a few steps. A
missing asset or unreadable input ends the demo with one line naming it and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from utils import assets, config, errors, files, plotting
from utils.faces import FaceDatabase, encode_images, load_encoder, read_manifest
from utils.nst import StyleTransfer


def run_faces(out_dir: Path) -> dict:
    """Enroll the course database, identify the camera probes, write faces.json and faces.png."""
    course = assets.resolve("faces_demo") / "course"
    rows = read_manifest(course)
    database_rows = [row for row in rows if row["role"] == "database"]
    probe_rows = [row for row in rows if row["role"] != "database"]
    model = load_encoder()
    started = time.perf_counter()
    database = FaceDatabase()
    enrolled = encode_images([row["path"] for row in database_rows], model=model)
    database.enroll_many([row["identity"] for row in database_rows], enrolled)
    probes = encode_images([row["path"] for row in probe_rows], model=model)
    results = []
    for row, (distance, identity) in zip(probe_rows, database.identify_many(probes)):
        results.append(
            {
                "probe": row["path"].name,
                "truth": row["identity"],
                "identity": identity,
                "distance": round(float(distance), 4),
                "correct": identity == row["identity"],
            }
        )
        verdict = "right" if results[-1]["correct"] else f"WRONG, truth: {row['identity']}"
        print(f"  {results[-1]['probe']:14s} -> {identity:16s} distance {distance:.3f}  ({verdict})")
    summary = {
        "enrolled": len(database_rows),
        "probes": len(results),
        "correct": sum(result["correct"] for result in results),
        "threshold": database.threshold,
        "seconds": round(time.perf_counter() - started, 2),
        "results": results,
    }
    files.write_text(out_dir / "faces.json", json.dumps(summary, indent=2) + "\n")

    by_name = {row["identity"]: row["path"] for row in database_rows}
    images, titles = [], []
    for row, result in zip(probe_rows, results):
        images.append(row["path"])
        titles.append(result["probe"])
        match = by_name.get(result["identity"])
        images.append(match if match else np.full((96, 96, 3), 255, np.uint8))
        titles.append(f"{result['identity']} (d={result['distance']:.2f})")
    plotting.close(plotting.show_grid(images, titles, ncols=4, path=out_dir / "faces.png", cell_size=2.2))
    return summary


def run_style_transfer(out_dir: Path, content: str, style: str, size: int, steps: int, optimizer: str) -> dict:
    """Stylise ``content`` with ``style`` (names in datasets/nst); write the image and its record."""
    images = assets.resolve("nst_images")
    engine = StyleTransfer(images / "content" / f"{content}.jpg", images / "style" / f"{style}.jpg", size=size)
    result = engine.run(steps=steps, optimizer=optimizer)
    result.save(out_dir / "stylized.png")
    result.save_json(out_dir / "nst.json")
    plotting.close(result.plot_losses(out_dir / "nst_losses.png"))
    record = result.to_dict()
    return {key: value for key, value in record.items() if key != "history"}


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m utils.course.demo`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m utils.course.demo", description="Course demo: face recognition and neural style transfer."
    )
    parser.add_argument("--out", default=None, help="output folder (default outputs/demo)")
    parser.add_argument("--content", default="tubingen", help="content image name in datasets/nst/content")
    parser.add_argument("--style", default="starry_night", help="style image name in datasets/nst/style")
    parser.add_argument("--size", type=int, default=config.pick(normal=384, fast=96))
    parser.add_argument("--steps", type=int, default=config.pick(normal=150, fast=8))
    parser.add_argument("--optimizer", default="lbfgs", choices=["adam", "lbfgs"])
    parser.add_argument("--skip-nst", action="store_true", help="only run the face part")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the demo; returns the exit status (0, or 2 with one line on stderr)."""
    args = build_parser().parse_args(argv)
    try:
        out_dir = Path(args.out) if args.out else config.output_dir("demo")
        out_dir.mkdir(parents=True, exist_ok=True)
        print("1/2 Face recognition: enroll the 12 course faces, identify the 6 camera probes")
        faces = run_faces(out_dir)
        print(
            f"    {faces['correct']}/{faces['probes']} probes identified correctly "
            f"(threshold {faces['threshold']}); written {out_dir / 'faces.png'}"
        )
        summary = {"faces": {key: value for key, value in faces.items() if key != "results"}, "fast_mode": config.FAST}
        if not args.skip_nst:
            print(
                f"2/2 Neural style transfer: {args.content} x {args.style}, {args.size} px, "
                f"{args.steps} {args.optimizer} steps"
            )
            summary["nst"] = run_style_transfer(
                out_dir, args.content, args.style, args.size, args.steps, args.optimizer
            )
            print(f"    written {out_dir / 'stylized.png'}")
        files.write_text(out_dir / "summary.json", json.dumps(summary, indent=2, default=str) + "\n")
    except (errors.CourseError, OSError) as error:
        return errors.report(error)
    print(f"Done: results in {out_dir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
