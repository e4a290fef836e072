"""Speed of the style-transfer engine against the course's step, and its time to quality.

Per-step timings (same content/style images, same initial image = content + uniform noise 0.25,
Adam lr 0.01, 256 and 400 px square as in the course), all in this one process:

* ``course``       (a) the course's tf.function step: a full Keras ``VGG19(include_top=False)``,
                   course layers (style block1_conv1..block5_conv1 at 0.2, content block5_conv4),
                   alpha 10, beta 40, ``keras.optimizers.Adam(0.01)``. Blocks 4-5 have no ImageNet
                   weights here unless the full file is present: they are seeded random weights
                   and the output says so (timing only).
* ``eager``        (b) the same step as a plain eager GradientTape step (no tf.function).
* ``engine_course`` the engine at the course's layers with the same weights: the same objective as
                   (a), to check that it computes the same losses.
* ``course_same``, ``eager_same``  the course's code (tf.function / eager) on the engine's
                   objective (blocks123 preset, real weights) with a model returning *every*
                   VGG19 layer (untruncated, all 5 blocks). Their GFLOP column counts only what
                   the loss needs (tf.function prunes the rest; eager does not).
* ``engine``       (c) the engine's compiled Adam step on its default preset (blocks123,
                   VGG19 truncated at block3_conv2, real ImageNet weights).
* ``engine_bf16``  the engine's step with bfloat16 convolutions.

All rows use the same preprocessing (``vgg19.preprocess_input`` on 0-255 RGB) and cost functions
(``utils.losses``). The course itself fed [0, 1] images without it; we use VGG's preprocessing
everywhere so the objectives are the same.

Reported per row: seconds per step, GFLOP per step (conv forward + input-gradient + Gram
matrices), GFLOP/s and fraction of this machine's measured matmul peak (fp32 ~420 GFLOP/s,
bf16 ~740), and the final total loss after the timed steps; then the speed-ups and loss differences.

Time to quality (real weights, blocks123 objective, ``--ttq-size``): wall time of the course's
settings (Adam lr 0.01, 500 steps, course_same code) versus the engine's L-BFGS until it reaches
the same total loss.

The machine is shared: the load average (os.getloadavg) is printed before and after every row.

Usage::

    python benchmarks/nst_speed.py [--fast] [--sizes 256 400] [--steps 8] [--ttq-size 256]
        [--ttq-steps 500] [--skip-ttq] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from utils import assets, config, files, image_io, losses  # noqa: E402
from utils.nst import DEFAULT_PRESET, PRESETS, FeatureExtractor, StyleTransfer, build_extractor, vgg  # noqa: E402

PEAK_FP32_GFLOPS = 420.0
PEAK_BF16_GFLOPS = 740.0
COURSE_LAYERS = dict(PRESETS["course"].style_layers)
COURSE_CONTENT = PRESETS["course"].content_layer
ENGINE_PRESET = PRESETS[DEFAULT_PRESET]


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


def keras_vgg19(height, width, weight_source: FeatureExtractor):
    """Keras' own VGG19 (all 5 blocks), weights copied by name from ``weight_source``'s model."""
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


def time_steps(step, count: int) -> tuple[float, float, float, float]:
    """Run one compile/warm-up step, then ``count`` timed steps; return (s/step, final total, load before, after)."""
    before = load_now()
    step()
    start = time.perf_counter()
    last = None
    for _ in range(count):
        value = step()
        last = float(value["total"] if isinstance(value, dict) else value)
    seconds = (time.perf_counter() - start) / count
    return seconds, last, before, load_now()


def per_step(size: int, steps: int, content_rgb, style_rgb, bf16: bool) -> dict:
    """All rows at one size."""
    content = content_rgb.astype(np.float32) / 255.0
    style = style_rgb.astype(np.float32) / 255.0
    rows = {}

    def engine_for(**kwargs):
        engine = StyleTransfer(content_rgb, [style_rgb], init="content+noise", learning_rate=0.01,
                               tv_weight=0.0, alpha=10, beta=40, **kwargs)
        return engine

    # the weights every Keras model gets: real blocks 1-3 (+ seeded random blocks 4-5 if no full file)
    course_engine = engine_for(preset="course", allow_random_weights=True)
    init = course_engine.initial_image()
    random_layers = course_engine.extractor.weights.random_layers
    base = keras_vgg19(size, size, course_engine.extractor)

    def add(name, step, style_layers, content_layer, dtype="float32", note="", count=steps):
        seconds, final, before, after = time_steps(step, count)
        gflop = step_gflops(style_layers, content_layer, size, size)
        peak = PEAK_BF16_GFLOPS if dtype == "bfloat16" else PEAK_FP32_GFLOPS
        rows[name] = {"seconds_per_step": seconds, "gflop_per_step": gflop, "gflops": gflop / seconds,
                      "fraction_of_peak": gflop / seconds / peak, "final_total": final, "dtype": dtype,
                      "load_before": before, "load_after": after, "timed_steps": count, "note": note}
        print(f"  {name:14s} {seconds:7.3f} s/step  {gflop:6.1f} GFLOP  {gflop / seconds:6.1f} GFLOP/s "
              f"({100 * gflop / seconds / peak:4.1f}% of {dtype} peak)  final J {final:.6g}  "
              f"load {before}->{after}  {note}", flush=True)

    random_note = f"random weights: {', '.join(random_layers)}" if random_layers else "real weights"
    course_note = "course layers; " + (f"blocks 4-5 {random_note}" if random_layers else random_note)
    eager_steps = max(1, steps // 2)
    # (a) the course's step at the course's layers
    model, image, c_t, s_t = course_setup(base, content, style, COURSE_LAYERS, COURSE_CONTENT, init, all_outputs=False)
    add("course", course_step(model, image, c_t, s_t, COURSE_LAYERS, COURSE_CONTENT, True),
        COURSE_LAYERS, COURSE_CONTENT, note=course_note)
    # (b) the same step, plain eager
    model, image, c_t, s_t = course_setup(base, content, style, COURSE_LAYERS, COURSE_CONTENT, init, all_outputs=False)
    add("eager", course_step(model, image, c_t, s_t, COURSE_LAYERS, COURSE_CONTENT, False),
        COURSE_LAYERS, COURSE_CONTENT, count=eager_steps, note="eager GradientTape; " + course_note)
    # the engine at the course's layers: same objective and weights as (a)
    course_engine.image.assign(init)
    add("engine_course", course_engine.train_step, COURSE_LAYERS, COURSE_CONTENT,
        note="engine, course layers, same weights as 'course'")
    del course_engine
    # the course's code, tf.function and eager, on the engine's objective with a model returning
    # every VGG19 layer (untruncated, all 5 blocks)
    engine_layers, engine_content = ENGINE_PRESET.style_layers, ENGINE_PRESET.content_layer
    model, image, c_t, s_t = course_setup(base, content, style, engine_layers, engine_content, init, all_outputs=True)
    add("course_same", course_step(model, image, c_t, s_t, engine_layers, engine_content, True),
        engine_layers, engine_content,
        note="course code, engine objective, model outputs all 5 blocks (GFLOP: what the loss needs)")
    model, image, c_t, s_t = course_setup(base, content, style, engine_layers, engine_content, init, all_outputs=True)
    add("eager_same", course_step(model, image, c_t, s_t, engine_layers, engine_content, False),
        engine_layers, engine_content, count=eager_steps,
        note="eager, engine objective, all 5 blocks computed (GFLOP: what the loss needs)")
    # (c) the engine's own step
    engine = engine_for()
    engine.image.assign(init)
    add("engine", engine.train_step, engine_layers, engine_content,
        note=f"engine, {ENGINE_PRESET.name} preset, truncated at {engine.extractor.built_layers[-1]}")
    if bf16:
        engine = engine_for(compute_dtype="bfloat16")
        engine.image.assign(init)
        add("engine_bf16", engine.train_step, engine_layers, engine_content, dtype="bfloat16",
            note="engine, bfloat16 convolutions")

    def ratio(a, b):
        return rows[a]["seconds_per_step"] / rows[b]["seconds_per_step"]

    def loss_diff(a, b):
        return abs(rows[a]["final_total"] - rows[b]["final_total"]) / abs(rows[b]["final_total"])

    summary = {
        "speedup_engine_vs_course (a)": ratio("course", "engine"),
        "speedup_engine_vs_eager (b)": ratio("eager", "engine"),
        "speedup_engine_vs_course_code_same_objective": ratio("course_same", "engine"),
        "speedup_engine_vs_eager_same_objective": ratio("eager_same", "engine"),
        "speedup_engine_at_course_layers_vs_course": ratio("course", "engine_course"),
        "loss_diff_engine_at_course_layers_vs_course": loss_diff("engine_course", "course"),
        "loss_diff_engine_vs_course_code_same_objective": loss_diff("engine", "course_same"),
    }
    if bf16:
        summary["speedup_bf16_vs_fp32"] = ratio("engine", "engine_bf16")
        summary["loss_diff_bf16_vs_fp32"] = loss_diff("engine_bf16", "engine")
    for key, value in summary.items():
        print(f"  {key:48s} {value:8.3f}" + ("x" if key.startswith("speedup") else ""))
    print("  (the eager rows run fewer timed steps, so their final losses are not compared)")
    return {"size": size, "timed_steps": steps, "rows": rows, "summary": summary,
            "random_layers": list(random_layers)}


def time_to_quality(size: int, reference_steps: int, content_rgb, style_rgb) -> dict:
    """Course settings (Adam lr 0.01, ``reference_steps``) vs the engine's L-BFGS to the same loss."""
    import tensorflow as tf

    content = content_rgb.astype(np.float32) / 255.0
    style = style_rgb.astype(np.float32) / 255.0
    engine = StyleTransfer(content_rgb, [style_rgb], init="content+noise", learning_rate=0.01,
                           tv_weight=0.0, alpha=10, beta=40)
    init = engine.initial_image()
    base = keras_vgg19(size, size, build_extractor(list(vgg.CONV_LAYER_NAMES[:8])))
    layers, content_layer = ENGINE_PRESET.style_layers, ENGINE_PRESET.content_layer
    model, image, c_t, s_t = course_setup(base, content, style, layers, content_layer, init, all_outputs=False)
    step = course_step(model, image, c_t, s_t, layers, content_layer, True)
    from tqdm.auto import tqdm

    before = load_now()
    durations, totals = [], []  # the first step compiles: it is counted with the median step time
    for _ in tqdm(range(reference_steps), desc="course Adam lr 0.01", leave=False):
        start = time.perf_counter()
        totals.append(float(step()))
        durations.append(time.perf_counter() - start)
    durations[0] = float(np.median(durations[1:])) if len(durations) > 1 else durations[0]
    reference_seconds = float(np.sum(durations))
    final_image = tf.identity(image)
    reference_total = float(engine.value_and_gradient(final_image)[0]["total"])
    engine.image.assign(init)
    result = engine.run(reference_steps, optimizer="lbfgs", target_total=reference_total, progress=True)
    hit = next((entry for entry in result.history if entry["total"] <= reference_total), None)
    engine_seconds = hit["seconds"] if hit else None
    record = {
        "size": size, "reference_steps": reference_steps, "reference_total": reference_total,
        "reference_seconds": reference_seconds, "reference_seconds_per_step": reference_seconds / reference_steps,
        "engine_optimizer": "lbfgs", "engine_steps_to_reference": hit["step"] if hit else None,
        "engine_seconds_to_reference": engine_seconds,
        "time_to_quality_speedup": reference_seconds / engine_seconds if engine_seconds else None,
        "engine_seconds_per_step": result.seconds_per_step,
        "load_before": before, "load_after": load_now(),
        "weights_file": engine.extractor.provenance()["weights_file"],
        "weights_kind": engine.extractor.provenance()["weights_kind"],
    }
    print(f"  course Adam lr 0.01: {reference_steps} steps, {reference_seconds:.1f} s "
          f"({record['reference_seconds_per_step']:.3f} s/step) -> total {reference_total:.6g}")
    if hit:
        print(f"  engine L-BFGS: reached it after {hit['step']} evaluations, {engine_seconds:.1f} s "
              f"({result.seconds_per_step:.3f} s/evaluation) -> time-to-quality speed-up "
              f"{record['time_to_quality_speedup']:.2f}x  (load {before}->{record['load_after']})")
    else:
        print(f"  engine L-BFGS did not reach it in {reference_steps} evaluations "
              f"(final {result.final_losses['total']:.6g})")
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fast", action="store_true", help="small sizes and few steps (also COURSE_FAST=1)")
    parser.add_argument("--sizes", type=int, nargs="+", help="square sizes (default 256 400; fast 128)")
    parser.add_argument("--steps", type=int, help="timed steps per row (default 8; fast 3)")
    parser.add_argument("--ttq-size", type=int, help="time-to-quality size (default 256; fast 96)")
    parser.add_argument("--ttq-steps", type=int, help="course reference steps (default 500; fast 60)")
    parser.add_argument("--skip-ttq", action="store_true", help="skip the time-to-quality part")
    parser.add_argument("--skip-per-step", action="store_true", help="skip the per-step part")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bfloat16 row")
    parser.add_argument("--content", default="tubingen.jpg")
    parser.add_argument("--style", default="starry_night.jpg")
    parser.add_argument("--json", help="write all figures here")
    args = parser.parse_args(argv)
    fast = args.fast or config.FAST
    sizes = args.sizes or ([128] if fast else [256, 400])
    steps = args.steps or (3 if fast else 8)
    ttq_size = args.ttq_size or (96 if fast else 256)
    ttq_steps = args.ttq_steps or (60 if fast else 500)

    import tensorflow as tf

    folder = assets.resolve("nst_images")
    content_path, style_path = folder / "content" / args.content, folder / "style" / args.style
    full = assets.find("vgg19_full")
    header = {
        "machine": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "loadavg_start": os.getloadavg(), "tensorflow": tf.__version__, "fast": fast,
        "weights": str(full) if full else f"{assets.resolve('vgg19_partial')} (partial: blocks 1-3 only)",
        "content": str(content_path), "style": str(style_path),
        "peak_gflops": {"float32": PEAK_FP32_GFLOPS, "bfloat16": PEAK_BF16_GFLOPS},
    }
    print(f"NST speed benchmark  (load average {header['loadavg_start']} on {os.cpu_count()} CPUs: "
          f"the machine is shared; timings scale with the load)")
    print(f"weights: {header['weights']}")
    if not full:
        print("NOTE: the full VGG19 file is absent: rows at the course's layers use seeded RANDOM weights for "
              "blocks 4-5 (timing only); everything on the engine's objective uses real ImageNet weights.")
    record = {"header": header, "per_step": [], "time_to_quality": None}
    if not args.skip_per_step:
        for size in sizes:
            print(f"\n== per step, {size}x{size} px, {steps} timed steps after one warm-up ==")
            content_rgb = image_io.load_image(content_path, (size, size))
            style_rgb = image_io.load_image(style_path, (size, size))
            record["per_step"].append(per_step(size, steps, content_rgb, style_rgb, bf16=not args.no_bf16))
    if not args.skip_ttq:
        print(f"\n== time to quality, {ttq_size}x{ttq_size} px, real weights, {ENGINE_PRESET.name} objective ==")
        content_rgb = image_io.load_image(content_path, (ttq_size, ttq_size))
        style_rgb = image_io.load_image(style_path, (ttq_size, ttq_size))
        record["time_to_quality"] = time_to_quality(ttq_size, ttq_steps, content_rgb, style_rgb)
    record["loadavg_end"] = os.getloadavg()
    print(f"\nload average at the end: {record['loadavg_end']}")
    if args.json:
        files.write_text(args.json, json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
