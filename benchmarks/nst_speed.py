"""Speed of the style-transfer engine against the course's step, per step and in time to quality.

Run it on an idle machine (the figures scale with the load; the load average is recorded)::

    python -m benchmarks.nst_speed --size 400 --json outputs/nst_speed_400.json
    python -m benchmarks.nst_speed --size 256 --json outputs/nst_speed_256.json
    python -m benchmarks.nst_speed --fast --json /tmp/nst_speed_fast.json        # a quick check

**Header.** The CPU model, whether it has native bfloat16 (:mod:`utils.config`), the dtype
the engine's default ``compute_dtype="auto"`` chose and why, and this machine's measured matmul
peak in float32 and bfloat16 (the yardstick of ``fraction_of_peak``).

**Per step** (same content and style, square images, the same start = content + uniform noise
0.25, Adam lr 0.01), every row timed in the same process, in interleaved rounds so that a change
of load hits all rows alike (the median of the rounds is reported):

* ``course``   the course's ``tf.function`` step: a full Keras ``VGG19(include_top=False)``, course
  layers (style block1_conv1..block5_conv1 at 0.2, content block5_conv4), alpha 10, beta 40.
  Blocks 4-5 have no ImageNet weights unless the full file is present: they are then seeded
  random weights, and the output says so (timing only);
* ``eager``    the same step without ``tf.function``;
* ``engine_course``  the engine on the course's layers and weights (same objective as ``course``);
* ``course_same``    the course's compiled step on the engine's objective (preset blocks123) with a
  model that returns every VGG19 layer;
* ``engine``   the engine with its **default** settings on this machine (blocks123, VGG19 cut at
  block3_conv2, ``compute_dtype="auto"``);
* ``engine_float32`` / ``engine_bfloat16``  the engine in the dtype ``auto`` did not choose.

Each row has seconds per step, its dtype, GFLOP per step (convolutions forward and input
gradient, Gram matrices forward and backward), GFLOP/s and the fraction of the measured peak
of its dtype, and the total loss after the timed steps.

**Quality guard** (bfloat16 against float32): the same Adam steps from the same start in both
dtypes; both final images evaluated in float32; relative difference of the final total losses
(target <= 1 %) and SSIM between the two images (``tf.image.ssim``, target >= 0.98).

**Time to quality** (real weights, the blocks123 objective with the course's alpha 10, beta 40,
no total variation, the course's start): the wall time of the course's settings (its compiled
step, float32 Adam lr 0.01, 500 steps; the first, compiling step is counted at the median step
time) against the engine with its default settings (``compute_dtype="auto"``, coarse-to-fine,
L-BFGS, the command line's 300 steps at most) until its image reaches the same total loss,
judged in float32. The engine in float32 at one scale is timed too, to show where the gain comes
from.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from utils import assets, config, files, image_io, losses
from utils.nst import DEFAULT_PRESET, PRESETS, StyleTransfer, build_extractor, vgg
from utils.nst.cli import DEFAULT_STEPS

COURSE_LAYERS = dict(PRESETS["course"].style_layers)
COURSE_CONTENT = PRESETS["course"].content_layer
ENGINE_PRESET = PRESETS[DEFAULT_PRESET]
#: The time-to-quality objective: blocks123 layers with the course's weights of the costs.
TTQ_OBJECTIVE = dict(init="content+noise", alpha=10.0, beta=40.0, tv_weight=0.0, learning_rate=0.01)


def load_now() -> float:
    return round(os.getloadavg()[0], 2)


def step_gflops(style_layers, content_layer, height, width) -> float:
    """Conv forward + input-gradient FLOPs up to the deepest layer, plus Gram matrices (fwd + bwd)."""
    layers = list(style_layers) + [content_layer]
    flops, channels = 0.0, 3
    for name in vgg.layers_up_to(vgg.deepest_layer(layers)):
        h, w, c = vgg.output_shape(name, height, width)
        if name in vgg.CONV_LAYER_NAMES:
            flops += 2 * 2 * 9 * channels * c * h * w
            channels = c
    for name in style_layers:
        h, w, c = vgg.output_shape(name, height, width)
        flops += 3 * 2 * c * c * h * w
    return flops / 1e9


def matmul_peak(dtype: str, size: int = 3072, repeats: int = 6) -> float:
    """Best GFLOP/s of a compiled size x size matmul in ``dtype`` on this machine."""
    import tensorflow as tf

    a = tf.random.stateless_uniform((size, size), seed=(1, 2), dtype=tf.float32)
    a = tf.cast(a, dtype)
    multiply = tf.function(lambda x: tf.matmul(x, x))
    multiply(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        multiply(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def keras_vgg19(height, width, weight_source):
    """Keras' own VGG19 (all 5 blocks), weights copied by name from an extractor's model."""
    import keras

    base = keras.applications.VGG19(include_top=False, weights=None, input_shape=(height, width, 3))
    names = {layer.name for layer in weight_source.model.layers}
    for layer in base.layers:
        if layer.name in vgg.CONV_LAYER_NAMES and layer.name in names:
            layer.set_weights(weight_source.model.get_layer(layer.name).get_weights())
    return base


def course_step(model, image, content_target, style_targets, style_layers, content_layer, compiled):
    """The course's train step (written after the course's structure), on ``model``'s dict outputs."""
    import keras
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(learning_rate=0.01)
    weights = list(style_layers.values())

    def step():
        with tf.GradientTape() as tape:
            outputs = model(keras.applications.vgg19.preprocess_input(image * 255.0))
            a_G = [outputs[name] for name in style_layers]
            J_style = losses.style_cost(style_targets, a_G, weights)
            J_content = losses.content_cost(content_target, outputs[content_layer])
            J = losses.total_cost(J_content, J_style, alpha=10, beta=40)
        grad = tape.gradient(J, image)
        optimizer.apply_gradients([(grad, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0))
        return J

    return tf.function(step) if compiled else step


def course_setup(base, content, style, style_layers, content_layer, init, all_outputs=True):
    """Targets and a dict-output model as the course builds them (all layers if ``all_outputs``)."""
    import keras
    import tensorflow as tf

    names = [layer.name for layer in base.layers[1:]] if all_outputs else list(style_layers) + [content_layer]
    model = keras.Model(base.input, {name: base.get_layer(name).output for name in names})
    pre = keras.applications.vgg19.preprocess_input
    content_out = model(pre(tf.constant(content[None] * 255.0)))
    style_out = model(pre(tf.constant(style[None] * 255.0)))
    content_target = tf.constant(content_out[content_layer])
    style_targets = [tf.constant(style_out[name]) for name in style_layers]
    image = tf.Variable(init, dtype=tf.float32)
    return model, image, content_target, style_targets


def _total(value) -> float:
    return float(value["total"] if isinstance(value, dict) else value)


def per_step(size: int, steps: int, rounds: int, content_rgb, style_rgb, peaks: dict, choice) -> dict:
    """Every row at one size, timed in ``rounds`` interleaved rounds of ``steps`` steps."""
    content = content_rgb.astype(np.float32) / 255.0
    style = style_rgb.astype(np.float32) / 255.0

    def engine_for(**kwargs):
        return StyleTransfer(
            content_rgb,
            [style_rgb],
            init="content+noise",
            learning_rate=0.01,
            tv_weight=0.0,
            alpha=10,
            beta=40,
            **kwargs,
        )

    # the weights every Keras model gets: real blocks 1-3 (+ seeded random blocks 4-5 if no full file)
    course_engine = engine_for(preset="course", allow_random_weights=True, compute_dtype="float32")
    init = course_engine.initial_image()
    random_layers = course_engine.extractor.weights.random_layers
    base = keras_vgg19(size, size, course_engine.extractor)
    random_note = f"random weights: {', '.join(random_layers)}" if random_layers else "real weights"
    course_note = "course layers; " + (f"blocks 4-5 {random_note}" if random_layers else random_note)
    engine_layers, engine_content = ENGINE_PRESET.style_layers, ENGINE_PRESET.content_layer
    rows: dict = {}

    def add(name, step, style_layers, content_layer, dtype, note):
        rows[name] = {
            "step": step,
            "style_layers": style_layers,
            "content_layer": content_layer,
            "dtype": dtype,
            "note": note,
            "rounds": [],
        }

    model, image, c_t, s_t = course_setup(base, content, style, COURSE_LAYERS, COURSE_CONTENT, init, False)
    add(
        "course",
        course_step(model, image, c_t, s_t, COURSE_LAYERS, COURSE_CONTENT, True),
        COURSE_LAYERS,
        COURSE_CONTENT,
        "float32",
        "the course's compiled step; " + course_note,
    )
    model, image, c_t, s_t = course_setup(base, content, style, COURSE_LAYERS, COURSE_CONTENT, init, False)
    add(
        "eager",
        course_step(model, image, c_t, s_t, COURSE_LAYERS, COURSE_CONTENT, False),
        COURSE_LAYERS,
        COURSE_CONTENT,
        "float32",
        "eager GradientTape; " + course_note,
    )
    course_engine.image.assign(init)
    add(
        "engine_course",
        course_engine.train_step,
        COURSE_LAYERS,
        COURSE_CONTENT,
        "float32",
        "engine, course layers, same weights as 'course'",
    )
    model, image, c_t, s_t = course_setup(base, content, style, engine_layers, engine_content, init, True)
    add(
        "course_same",
        course_step(model, image, c_t, s_t, engine_layers, engine_content, True),
        engine_layers,
        engine_content,
        "float32",
        "course code, engine objective, model outputs all 5 blocks (GFLOP: what the loss needs)",
    )
    engine = engine_for()
    engine.image.assign(init)
    add(
        "engine",
        engine.train_step,
        engine_layers,
        engine_content,
        engine.precision.dtype,
        f"engine, default settings: {ENGINE_PRESET.name}, truncated at {engine.extractor.built_layers[-1]}, "
        f"{engine.precision.reason}",
    )
    other = "float32" if choice.dtype == "bfloat16" else "bfloat16"
    other_engine = engine_for(compute_dtype=other)
    other_engine.image.assign(init)
    add(
        f"engine_{other}",
        other_engine.train_step,
        engine_layers,
        engine_content,
        other,
        f"engine, {other} asked for explicitly",
    )

    loads = [load_now()]
    for row in rows.values():  # compile and warm up
        row["step"]()
    for round_index in range(rounds):
        for row in rows.values():
            start = time.perf_counter()
            for _ in range(steps):
                value = row["step"]()
            row["last"] = _total(value)
            row["rounds"].append((time.perf_counter() - start) / steps)
        loads.append(load_now())
        print(
            f"  round {round_index + 1}/{rounds}: "
            + ", ".join(f"{name} {row['rounds'][-1]:.3f}" for name, row in rows.items())
            + f" s/step (load {loads[-1]})",
            flush=True,
        )

    table = {}
    for name, row in rows.items():
        seconds = statistics.median(row["rounds"])
        gflop = step_gflops(row["style_layers"], row["content_layer"], size, size)
        table[name] = {
            "seconds_per_step": seconds,
            "dtype": row["dtype"],
            "gflop_per_step": gflop,
            "gflops": gflop / seconds,
            "fraction_of_peak": gflop / seconds / peaks[row["dtype"]],
            "final_total": row["last"],
            "seconds_per_step_by_round": row["rounds"],
            "timed_steps": steps * rounds,
            "note": row["note"],
        }
        print(
            f"  {name:16s} {seconds:7.3f} s/step  {gflop:6.1f} GFLOP  {gflop / seconds:6.1f} GFLOP/s "
            f"({100 * table[name]['fraction_of_peak']:4.1f}% of the {row['dtype']} peak)  "
            f"final J {row['last']:.6g}  {row['note']}",
            flush=True,
        )

    def ratio(a, b):
        return table[a]["seconds_per_step"] / table[b]["seconds_per_step"]

    def loss_diff(a, b):
        return abs(table[a]["final_total"] - table[b]["final_total"]) / abs(table[b]["final_total"])

    summary = {
        "speedup_engine_vs_course": ratio("course", "engine"),
        "speedup_engine_vs_eager": ratio("eager", "engine"),
        "speedup_engine_vs_course_code_same_objective": ratio("course_same", "engine"),
        "speedup_engine_at_course_layers_vs_course": ratio("course", "engine_course"),
        f"speedup_engine_vs_engine_{other}": ratio(f"engine_{other}", "engine"),
        "loss_diff_engine_at_course_layers_vs_course": loss_diff("engine_course", "course"),
        f"loss_diff_engine_vs_engine_{other}": loss_diff("engine", f"engine_{other}"),
    }
    for key, value in summary.items():
        print(f"  {key:48s} {value:8.3f}" + ("x" if key.startswith("speedup") else ""))
    return {
        "size": size,
        "timed_steps": steps * rounds,
        "rounds": rounds,
        "rows": table,
        "summary": summary,
        "random_layers": list(random_layers),
        "load": loads,
    }


def ssim(first: np.ndarray, second: np.ndarray) -> float:
    """Structural similarity of two uint8 RGB images (``tf.image.ssim``, max value 255)."""
    import tensorflow as tf

    return float(
        tf.image.ssim(tf.constant(first[None], tf.float32), tf.constant(second[None], tf.float32), max_val=255.0)[0]
    )


def float32_judge(content_rgb, style_rgb):
    """An engine in float32 on the time-to-quality objective, and ``f(image) -> total loss`` from it."""
    import tensorflow as tf

    judge = StyleTransfer(content_rgb, [style_rgb], compute_dtype="float32", coarse_scale=None, **TTQ_OBJECTIVE)
    evaluate = tf.function(
        judge.compute_losses, input_signature=[tf.TensorSpec([1, judge.height, judge.width, 3], tf.float32)]
    )

    def total(image) -> float:
        return float(evaluate(tf.constant(image, tf.float32))["total"])

    total(judge.initial_image())
    return judge, total


def quality_guard(size: int, steps: int, content_rgb, style_rgb, judge_total, image_dir) -> dict:
    """bfloat16 against float32: the same Adam steps from the same start, judged in float32.

    Both images are written to ``image_dir`` (``guard_<size>_<dtype>.png``) to be looked at side by side.
    """
    results, written = {}, []
    for dtype in ("float32", "bfloat16"):
        engine = StyleTransfer(content_rgb, [style_rgb], compute_dtype=dtype, coarse_scale=None, **TTQ_OBJECTIVE)
        result = engine.run(steps, optimizer="adam", progress=False)
        results[dtype] = (engine.image.numpy(), result.image)
        written.append(str(image_io.save_image(Path(image_dir) / f"guard_{size}_{dtype}.png", result.image)))
    exact, rounded = (judge_total(results[dtype][0]) for dtype in ("float32", "bfloat16"))
    record = {
        "size": size,
        "optimizer": "adam",
        "steps": steps,
        "final_total_float32": exact,
        "final_total_bfloat16_judged_in_float32": rounded,
        "relative_loss_difference": abs(rounded - exact) / exact,
        "ssim": ssim(results["float32"][1], results["bfloat16"][1]),
        "images": written,
    }
    record["passes"] = record["relative_loss_difference"] <= 0.01 and record["ssim"] >= 0.98
    print(
        f"  {steps} Adam steps: final total float32 {exact:.6g}, bfloat16 {rounded:.6g} (judged in float32): "
        f"{100 * record['relative_loss_difference']:.2f} % apart (target <= 1 %); SSIM {record['ssim']:.4f} "
        f"(target >= 0.98): {'passes' if record['passes'] else 'FAILS'}",
        flush=True,
    )
    return record


def time_to_quality(size: int, reference_steps: int, content_rgb, style_rgb, judge, judge_total) -> dict:
    """The course's settings (Adam lr 0.01, ``reference_steps``) against the engine to the same loss."""
    from tqdm.auto import tqdm

    content = content_rgb.astype(np.float32) / 255.0
    style = style_rgb.astype(np.float32) / 255.0
    init = judge.initial_image()
    base = keras_vgg19(size, size, build_extractor(list(vgg.CONV_LAYER_NAMES[:8]), compute_dtype="float32"))
    layers, content_layer = ENGINE_PRESET.style_layers, ENGINE_PRESET.content_layer
    model, image, c_t, s_t = course_setup(base, content, style, layers, content_layer, init, all_outputs=False)
    step = course_step(model, image, c_t, s_t, layers, content_layer, True)
    before = load_now()
    durations = []  # the first step compiles: it is counted at the median step time
    for _ in tqdm(range(reference_steps), desc="course Adam lr 0.01", leave=False, disable=not sys.stderr.isatty()):
        start = time.perf_counter()
        step()
        durations.append(time.perf_counter() - start)
    durations[0] = float(np.median(durations[1:])) if len(durations) > 1 else durations[0]
    reference_seconds = float(np.sum(durations))
    reference_total = judge_total(image.numpy())
    print(
        f"  course Adam lr 0.01: {reference_steps} steps, {reference_seconds:.1f} s "
        f"({reference_seconds / reference_steps:.3f} s/step) -> total {reference_total:.6g} (load {before})",
        flush=True,
    )

    def engine_run(label, **settings):
        engine = StyleTransfer(content_rgb, [style_rgb], **TTQ_OBJECTIVE, **settings)
        engine.image.assign(init)
        result = engine.run(
            DEFAULT_STEPS,
            optimizer="lbfgs",
            target_total=reference_total,
            target_check=judge_total,
            progress=sys.stderr.isatty(),
        )
        reached = judge_total(engine.image.numpy()) <= reference_total
        seconds = result.history[-1]["seconds"] if reached else None
        record = {
            "label": label,
            "compute_dtype": engine.precision.dtype,
            "compute_dtype_reason": engine.precision.reason,
            "coarse_scale": engine.settings.coarse_scale,
            "schedule": engine.schedule(DEFAULT_STEPS),
            "reached": reached,
            "steps_to_reference": result.steps if reached else None,
            "stages": result.stages,
            "seconds_to_reference": seconds,
            "speedup": reference_seconds / seconds if seconds else None,
            "load_after": load_now(),
        }
        stages = " + ".join(f"{stage['steps']} at {stage['width']}x{stage['height']}" for stage in result.stages)
        if reached:
            print(
                f"  {label}: reached it after {stages} L-BFGS evaluations, {seconds:.1f} s -> "
                f"{record['speedup']:.2f}x less wall time (load {record['load_after']})",
                flush=True,
            )
        else:
            print(f"  {label}: did NOT reach it in {DEFAULT_STEPS} evaluations", flush=True)
        return record

    default = engine_run("engine, default settings")
    single = engine_run("engine, float32, one scale", compute_dtype="float32", coarse_scale=None)
    record = {
        "size": size,
        "reference_steps": reference_steps,
        "reference_total": reference_total,
        "reference_seconds": reference_seconds,
        "reference_seconds_per_step": reference_seconds / reference_steps,
        "engine_optimizer": "lbfgs",
        "engine_default": default,
        "engine_float32_one_scale": single,
        "time_to_quality_speedup": default["speedup"],
        "time_to_quality_speedup_float32_one_scale": single["speedup"],
        "load_before": before,
        "load_after": load_now(),
        "weights_file": judge.extractor.provenance()["weights_file"],
        "weights_kind": judge.extractor.provenance()["weights_kind"],
    }
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--size",
        type=int,
        action="append",
        dest="sizes",
        help="square size in pixels; repeat for several (default 256 and 400; fast 128)",
    )
    parser.add_argument("--steps", type=int, help="timed steps per row and round (default 4; fast 1)")
    parser.add_argument("--rounds", type=int, help="interleaved timing rounds (default 3; fast 2)")
    parser.add_argument("--guard-steps", type=int, help="Adam steps of the quality guard (default 100; fast 8)")
    parser.add_argument("--ttq-steps", type=int, help="course reference steps (default 500; fast 40)")
    parser.add_argument("--skip-ttq", action="store_true", help="skip the time-to-quality part")
    parser.add_argument("--skip-per-step", action="store_true", help="skip the per-step part")
    parser.add_argument("--fast", action="store_true", help="small sizes and few steps (also COURSE_FAST=1)")
    parser.add_argument("--content", default="tubingen.jpg")
    parser.add_argument("--style", default="starry_night.jpg")
    parser.add_argument("--json", help="write all figures here")
    parser.add_argument("--image-dir", help="where the quality guard's two images go (default outputs/nst_speed)")
    args = parser.parse_args(argv)
    fast = args.fast or config.FAST
    sizes = args.sizes or ([128] if fast else [256, 400])
    steps = args.steps or (1 if fast else 4)
    rounds = args.rounds or (2 if fast else 3)
    guard_steps = args.guard_steps or (8 if fast else 100)
    ttq_steps = args.ttq_steps or (40 if fast else 500)
    if args.json:
        files.check_writable(args.json, what="--json")

    import tensorflow as tf

    folder = assets.resolve("nst_images")
    content_path, style_path = folder / "content" / args.content, folder / "style" / args.style
    full = assets.find("vgg19_full")
    cpu = config.read_cpu_features()
    choice = config.choose_compute_dtype("auto")
    native, why = config.native_bfloat16(cpu)
    print(
        f"NST speed benchmark  (load average {os.getloadavg()} on {os.cpu_count()} CPUs: timings scale with "
        "the load; run it on an idle machine)"
    )
    print(f"CPU: {cpu.model}; native bfloat16: {native} ({why}); engine dtype: {choice.dtype} ({choice.reason})")
    print("measuring the matmul peak ...", flush=True)
    peaks = {dtype: matmul_peak(dtype, size=1024 if fast else 3072) for dtype in ("float32", "bfloat16")}
    print(f"matmul peak: float32 {peaks['float32']:.0f} GFLOP/s, bfloat16 {peaks['bfloat16']:.0f} GFLOP/s")
    header = {
        "cpu_model": cpu.model,
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "native_bfloat16": native,
        "native_bfloat16_reason": why,
        "dtype_chosen": choice.dtype,
        "dtype_reason": choice.reason,
        "peak_gflops": peaks,
        "peak_measured_with": f"compiled tf.matmul, square {1024 if fast else 3072} (best of 6)",
        "loadavg_start": os.getloadavg(),
        "tensorflow": tf.__version__,
        "fast": fast,
        "weights": str(full) if full else f"{assets.resolve('vgg19_partial')} (partial: blocks 1-3 only)",
        "content": str(content_path),
        "style": str(style_path),
        "sizes": sizes,
        "engine_steps_for_time_to_quality": DEFAULT_STEPS,
    }
    print(f"weights: {header['weights']}")
    if not full:
        print(
            "NOTE: the full VGG19 file is absent: rows at the course's layers use seeded RANDOM weights for "
            "blocks 4-5 (timing only); everything on the engine's objective uses real ImageNet weights."
        )
    record = {
        "header": header,
        "per_step": [],
        "quality_guard": [],
        "time_to_quality": None,
        "time_to_quality_by_size": [],
    }
    for size in sizes:
        content_rgb = image_io.load_image(content_path, (size, size))
        style_rgb = image_io.load_image(style_path, (size, size))
        if not args.skip_per_step:
            print(f"\n== per step, {size}x{size} px, {rounds} interleaved rounds of {steps} steps ==", flush=True)
            record["per_step"].append(per_step(size, steps, rounds, content_rgb, style_rgb, peaks, choice))
        judge, judge_total = float32_judge(content_rgb, style_rgb)
        print(f"\n== quality guard, {size}x{size} px: bfloat16 against float32 ==", flush=True)
        record["quality_guard"].append(
            quality_guard(
                size, guard_steps, content_rgb, style_rgb, judge_total, args.image_dir or config.output_dir("nst_speed")
            )
        )
        if not args.skip_ttq:
            print(
                f"\n== time to quality, {size}x{size} px, real weights, {ENGINE_PRESET.name} objective ==", flush=True
            )
            record["time_to_quality_by_size"].append(
                time_to_quality(size, ttq_steps, content_rgb, style_rgb, judge, judge_total)
            )
    if record["time_to_quality_by_size"]:
        record["time_to_quality"] = record["time_to_quality_by_size"][0]
    record["loadavg_end"] = os.getloadavg()
    print(f"\nload average at the end: {record['loadavg_end']}")
    if args.json:
        files.write_text(args.json, json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
