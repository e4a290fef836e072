"""Speed of notebook 04's live controls: the knob explorer's grid, "run this setting", a redraw, a Stop.

Run it on an idle machine (figures scale with the load; the load average is recorded)::

    python -m benchmarks.nst_widgets_speed --json outputs/nst_widgets_speed.json
    python -m benchmarks.nst_widgets_speed --fast --json /tmp/nst_widgets_fast.json   # the notebook's fast mode

(``python -m benchmarks.widgets_speed --only nst`` gives the same figures beside the other notebooks'.)

What it measures (tubingen.jpg + starry_night.jpg, the explorer's L-BFGS, a fresh cache folder):

* **grid build** — :meth:`utils.nst.cache.ResultCache.build` of the notebook's grid
  (:func:`utils.nst.cache.explorer_grid`: 18 settings with the partial VGG19 file) at 128 px and
  60 evaluations each (fast: 3 settings, 48 px, 5 evaluations): total seconds and the median per
  setting (an engine built and compiled, then run);
* **run this setting** — three settings outside the grid computed one after the other, as the
  button does (engine built, compiled, run, stored): the median;
* **redraw** — the α/β slider moved to another stored value until the result view holds its PNG
  (:meth:`utils.nst.widgets.KnobExplorer.show`, the result read from memory, then from disk):
  the median;
* **stop** — :class:`utils.nst.widgets.StylisePhoto` at 256 px (fast: 64 px): the seconds from
  pressing Stop until the run has returned its best image.

The header names the CPU, its core count and the compute dtype the engine chose.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from utils import assets, config, files
from utils.nst.cache import KnobSetting, ResultCache, explorer_grid, knob_choices


def sizes(fast: bool) -> tuple[int, int, int]:
    """(explorer size, L-BFGS evaluations per setting, Stylise size): the notebook's, normal or fast."""
    return (48, 5, 64) if fast else (128, 60, 256)


def _median(values) -> float:
    return float(statistics.median(values)) if values else float("nan")


def measure(size: int, steps: int, small: bool, photo_size: int, cache_folder: Path) -> dict:
    """Every figure of the module docstring, as a dict."""
    from utils.nst.widgets import KnobExplorer, StylisePhoto  # deferred: ipywidgets and the engine start here

    folder = assets.resolve("nst_images")
    content, style = folder / "content" / "tubingen.jpg", folder / "style" / "starry_night.jpg"
    choices = knob_choices()
    grid = explorer_grid(choices, small=small)
    cache = ResultCache(cache_folder)

    # warm TensorFlow up outside the timings (the notebook has run VGG19 long before its controls)
    ResultCache(cache_folder / "warm-up").get_or_run(KnobSetting(), content, style, size=48, steps=2)

    explorer = KnobExplorer(content, style, size=size, steps=steps, cache=cache, small_grid=small)
    started = time.perf_counter()
    outcome = explorer.build()
    build_seconds = time.perf_counter() - started
    per_setting = [explorer.result_for(setting).record["seconds"] for setting in grid]
    print(
        f"\ngrid build: {len(grid)} settings at {size} px, {steps} L-BFGS evaluations each: {build_seconds:.1f} s "
        f"(median {_median(per_setting):.2f} s per setting)"
    )

    outside = [
        KnobSetting(style="block1_conv1 only", start="white noise"),
        KnobSetting(ratio=2_500.0, content_layer="block2_conv2"),
        KnobSetting(ratio=250.0, style="block3_conv1 only"),
    ]
    run_seconds = []
    for setting in outside:
        explorer.ratio.value, explorer.style.value = setting.ratio, setting.style
        explorer.content_layer.value, explorer.start.value = setting.content_layer, setting.start
        started = time.perf_counter()
        explorer.run_setting(background=False)
        run_seconds.append(time.perf_counter() - started)
    print(
        f"run this setting at {size} px: median {_median(run_seconds):.2f} s "
        f"({', '.join(f'{seconds:.2f}' for seconds in run_seconds)})"
    )

    redraws = {"memory": [], "disk": []}
    explorer.style.value, explorer.content_layer.value = "blocks 1-3 (preset)", "block3_conv2"
    explorer.start.value = "content + noise"
    ratios = [
        setting.ratio
        for setting in grid
        if setting.start == "content + noise"
        and setting.style == "blocks 1-3 (preset)"
        and setting.content_layer == "block3_conv2"
    ]
    for where in ("memory", "disk"):
        for ratio in (ratios + ratios[::-1]) * 3:  # one slider move at a time
            if where == "disk":
                cache._memory.clear()
            if explorer.setting.ratio == ratio:
                continue
            started = time.perf_counter()
            explorer.ratio.value = ratio
            redraws[where].append(time.perf_counter() - started)
            assert explorer.shown is not None and explorer.shown.record["setting"]["ratio"] == ratio
    print(
        f"\nredraw after a slider move to a stored setting: median {1000 * _median(redraws['memory']):.1f} ms "
        f"from memory, {1000 * _median(redraws['disk']):.1f} ms from disk"
    )

    photo = StylisePhoto(content, style, size=photo_size, steps=500, preview_every=10)
    photo.run(background=True)
    deadline = time.monotonic() + 300
    while photo.runner.bar.value < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    pressed = time.perf_counter()
    photo.runner.stop_button.click()
    photo.runner.join(timeout=300)
    stop_seconds = time.perf_counter() - pressed
    result = photo.result
    print(
        f"stop at {photo_size} px: {stop_seconds:.2f} s from Stop to the best image "
        f"(stopped after {result.steps} steps, {result.seconds_per_step * 1000:.0f} ms per step)"
    )
    return {
        "grid_settings": len(grid),
        "grid_build_seconds": build_seconds,
        "grid_computed": outcome["computed"],
        "grid_seconds_per_setting_median": _median(per_setting),
        "grid_seconds_per_setting": per_setting,
        "run_this_setting_seconds": run_seconds,
        "run_this_setting_seconds_median": _median(run_seconds),
        "redraw_memory_ms_median": 1000 * _median(redraws["memory"]),
        "redraw_disk_ms_median": 1000 * _median(redraws["disk"]),
        "stop_seconds": stop_seconds,
        "stop_size": photo_size,
        "stop_steps_run": result.steps,
        "stop_seconds_per_step": result.seconds_per_step,
        "compute_dtype": result.precision.get("dtype"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="the notebook's fast-mode sizes (as COURSE_FAST=1)")
    parser.add_argument("--json", help="write all figures here")
    args = parser.parse_args(argv)
    if args.json:
        files.check_writable(args.json, what="--json")
    fast = args.fast or config.fast_mode()
    size, steps, photo_size = sizes(fast)
    cpu = config.read_cpu_features()
    precision = config.choose_compute_dtype("auto")
    print(
        f"NST widgets benchmark on {cpu.model} ({os.cpu_count()} CPUs, load average {os.getloadavg()}); "
        f"compute dtype {precision.dtype} ({precision.reason})"
    )
    record = {
        "cpu_model": cpu.model,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "fast": fast,
        "size": size,
        "steps": steps,
    }
    with tempfile.TemporaryDirectory(prefix="nst-widgets-bench-") as folder:
        record.update(measure(size, steps, fast, photo_size, Path(folder)))
    record["loadavg_end"] = os.getloadavg()
    print(f"load average at the end: {record['loadavg_end']}")
    if args.json:
        files.write_text(args.json, json.dumps(record, indent=2) + "\n")
        print("figures written to", args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
