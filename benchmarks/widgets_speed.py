"""How fast the notebooks' live controls answer, one section per application (issue 28).

Each application has one function here that builds its controls the way its notebook does, drives
them from Python exactly as a learner's clicks do (setting a slider's value, feeding an upload's
bytes) and returns its figures; :data:`APPLICATIONS` lists them. Printed with the machine's CPU
model and core count, and written as JSON with ``--json``. Timings on a shared machine are rough:
run it on an idle one and compare figures from the same machine only.

**faces** (notebook 01, :mod:`utils.faces.widgets`):

* ``tau_redraw_ms``: one move of the threshold explorer's slider (count FAR/FRR on both sets,
  move the tau lines, light the accepted impostor cells, render the PNG shown in an
  ``ipywidgets.Image``), median and max over a sweep of tau, and the median CPU time of this
  process (less inflated than wall-clock time when other processes share the cores); the goal is
  at most 100 ms.
  Beside it, the two other ways to redraw the same figure: ``tau_full_draw_ms`` (no blitting:
  the whole figure drawn at each move) and ``tau_output_widget_ms`` (what redrawing into an
  ``ipywidgets.Output`` costs: the inline backend's ``print_figure(..., bbox_inches="tight")``);
* ``upload_to_decision_s``: from the second photo's bytes arriving (an upload) to ``who_is_it``'s
  decision shown: decode, detect, align, encode, the distances to every entry. For a normal photo
  (250x250 JPEG, as LFW's), a 12-megapixel and a 40-megapixel phone-size JPEG; with
  ``decode_s`` (image bytes to array), the part of it that does not depend on faces.

**nst** (notebook 04, :mod:`utils.nst.widgets`; measured by :func:`benchmarks.nst_widgets_speed.measure`):
``grid_build_seconds`` (the knob explorer's 18 settings at 128 px, 60 L-BFGS evaluations each, in a
fresh cache), ``run_this_setting_seconds`` (one setting outside the grid at 128 px), the redraw
after a slider move (``redraw_memory_ms_median``, ``redraw_disk_ms_median``) and ``stop_seconds``
(Stop pressed to the best image, 256 px). Fast mode: the notebook's fast sizes.

Usage::

    python -m benchmarks.widgets_speed [--only faces] [--repeats 3] [--json outputs/widgets_speed.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils import assets, config, files


def _milliseconds(values) -> dict:
    values = [1e3 * value for value in values]
    return {"median": round(statistics.median(values), 1), "max": round(max(values), 1), "moves": len(values)}


# ============================================================================================ faces
def _jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _phone_photo(image: np.ndarray, megapixels: float) -> np.ndarray:
    """A 3:2 photo of ``megapixels`` with ``image`` enlarged to its full height in the middle."""
    from PIL import Image

    height = int(round((megapixels * 1e6 / 1.5) ** 0.5))
    width = int(round(1.5 * height))
    canvas = Image.new("RGB", (width, height), (118, 124, 131))
    canvas.paste(Image.fromarray(image).resize((height, height), Image.BICUBIC), ((width - height) // 2, 0))
    return np.asarray(canvas)


def _course_inputs(model):
    """Notebook 01's course database and its camera-images x database distance matrix."""
    from utils.faces import encode_images, img_to_encoding, read_manifest

    rows = read_manifest(assets.resolve("faces_demo") / "course")
    database_rows = [row for row in rows if row["role"] == "database"]
    probe_rows = [row for row in rows if row["role"] == "probe"]
    database = {row["identity"]: img_to_encoding(row["path"], model) for row in database_rows}
    names = list(database)
    probes = encode_images([row["path"] for row in probe_rows], model=model)
    matrix = np.linalg.norm(probes[:, None, :] - np.concatenate([database[name] for name in names])[None], axis=-1)
    true_columns = [names.index(row["identity"]) for row in probe_rows]
    labels = [f"{row['path'].stem} ({row['identity']})" for row in probe_rows]
    return database, matrix, true_columns, labels, names


def _tau_sweep(explorer, taus) -> dict:
    """Wall-clock and CPU time of each move (CPU time: this process's, less inflated by other processes)."""
    wall, cpu = [], []
    for tau in taus:
        started, started_cpu = time.perf_counter(), time.process_time()
        explorer.slider.value = float(tau)  # what a move of the slider in the page does
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return {**_milliseconds(wall), "cpu_median": _milliseconds(cpu)["median"]}


def faces_figures(arguments) -> dict:
    """The threshold explorer's redraw and "Enroll yourself"'s upload-to-decision times."""
    from IPython.core.pylabtools import print_figure

    from utils.faces import evaluate_lfw, load_encoder
    from utils.faces.widgets import EnrollYourself, ThresholdExplorer
    from utils.image_io import load_image, load_image_bytes

    model = load_encoder()
    database, matrix, true_columns, labels, names = _course_inputs(model)
    lfw = assets.resolve("lfw")
    pairs_per_fold = config.pick(normal=None, fast=40)
    result = evaluate_lfw(lfw / "pairs.txt", lfw / "images", model=model, max_pairs_per_fold=pairs_per_fold)
    taus = [round(value, 2) for value in np.r_[np.arange(0.30, 0.905, 0.01), np.arange(0.89, 0.295, -0.01)]]

    figures = {"lfw_pairs": int(result.pairs)}
    explorer = ThresholdExplorer(result.distances, result.same, matrix, true_columns, labels, names)
    figures["tau_redraw_ms"] = _tau_sweep(explorer, taus)
    full = ThresholdExplorer(result.distances, result.same, matrix, true_columns, labels, names, blit=False)
    figures["tau_full_draw_ms"] = _tau_sweep(full, taus[:30])
    output_seconds, output_cpu = [], []
    for tau in taus[:30]:
        full.update(tau)  # the artists at tau; then what displaying the figure in an Output costs
        started, started_cpu = time.perf_counter(), time.process_time()
        print_figure(full.figure, "png", bbox_inches="tight")
        output_seconds.append(time.perf_counter() - started)
        output_cpu.append(time.process_time() - started_cpu)
    figures["tau_output_widget_ms"] = {
        **_milliseconds(output_seconds),
        "cpu_median": _milliseconds(output_cpu)["median"],
    }

    demo = assets.resolve("faces_demo") / "lfw"
    learner = demo / "gallery" / "Serena_Williams" / "Serena_Williams_0001.jpg"
    second = load_image(demo / "probes" / "Serena_Williams_0004.jpg")
    photos = {
        "normal (250x250)": _jpeg(second, 92),
        "12 megapixels": _jpeg(_phone_photo(second, 12)),
        "40 megapixels": _jpeg(_phone_photo(second, 40)),
    }
    control = EnrollYourself(database, model=model, camera=False)
    control.photo.load(learner)
    control.name_box.value = "learner"
    control.enroll()
    control.probe.load(photos["normal (250x250)"], name="warm-up.jpg")  # first call builds MTCNN's graphs
    timings = {}
    for label, content in photos.items():
        decode, total = [], []
        for _ in range(arguments.repeats):
            started = time.perf_counter()
            load_image_bytes(content, label)
            decode.append(time.perf_counter() - started)
            started = time.perf_counter()
            control.probe.load(content, name=label)
            total.append(time.perf_counter() - started)
            if control.answer is None or control.answer["identity"] != "learner":
                raise RuntimeError(f"{label}: the second photo was not recognised ({control.probe.message.text})")
        timings[label] = {
            "megabytes": round(len(content) / 1e6, 2),
            "upload_to_decision_s": round(statistics.median(total), 2),
            "decode_s": round(statistics.median(decode), 2),
        }
    figures["upload_to_decision_s"] = timings
    return figures


# ======================================================================================= registry
#: One function per application: ``function(arguments) -> {figure: value}`` (the NST helper adds "nst").
def nst_figures(arguments) -> dict:
    """Notebook 04's controls, as ``python -m benchmarks.nst_widgets_speed`` measures them."""
    import tempfile

    from benchmarks import nst_widgets_speed

    size, steps, photo_size = nst_widgets_speed.sizes(config.FAST)
    with tempfile.TemporaryDirectory(prefix="nst-widgets-bench-") as folder:
        return nst_widgets_speed.measure(size, steps, config.FAST, photo_size, Path(folder))


APPLICATIONS: dict[str, Callable[[argparse.Namespace], dict]] = {
    "faces": faces_figures,
    "nst": nst_figures,
}


def _print(name: str, figures: dict, indent: str = "  ") -> None:
    print(f"{indent}{name}:" if indent else f"{name}:")
    for key, value in figures.items():
        if isinstance(value, dict) and any(isinstance(inner, dict) for inner in value.values()):
            _print(key, value, indent + "  ")
        else:
            print(f"{indent}  {key}: {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        choices=sorted(APPLICATIONS),
        action="append",
        help="measure only this application (repeatable; default: all)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="repeats of each upload-to-decision timing")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    arguments = parser.parse_args(argv)
    report = {
        "cpu": config.read_cpu_features().model,
        "cores": os.cpu_count(),
        "fast_mode": config.FAST,
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }
    print(
        f"CPU: {report['cpu']} ({report['cores']} cores), fast mode {config.FAST}, "
        f"load average {report['load_average_1min']}"
    )
    for name in arguments.only or list(APPLICATIONS):
        report[name] = APPLICATIONS[name](arguments)
        _print(name, report[name], indent="")
    if arguments.json:
        files.write_text(arguments.json, json.dumps(report, indent=2) + "\n")
        print(f"written to {arguments.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
