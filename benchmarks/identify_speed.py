"""1:K identification speed: one probe against K enrolled vectors, vectorised vs the course loop.

Prints (and with ``--json FILE`` writes):

* the time of ``FaceDatabase.identify`` for one probe against 1e6 enrolled vectors
  (1e5 in fast mode) -- target < 50 ms on 2 CPU cores;
* at K = 1e4, the course's per-identity Python loop
  ``for name, enc in database.items(): dist = np.linalg.norm(enc - probe)`` against the same
  search done by ``FaceDatabase`` (one matrix-vector product), and the speed-up.

Encodings are random (N(0, 0.1^2) like dlib's) since speed does not depend on their values.
Timings are medians of repeated runs; other processes sharing the CPU inflate them. The search at
K = 1e6 is memory-bound, so the time to merely read the matrix once is printed beside it.

Usage:
    python -m benchmarks.identify_speed [--json outputs/identify_speed.json]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from utils import config, files
from utils.faces import NOT_RECOGNIZED, FaceDatabase


def _median_seconds(function, repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return float(np.median(times)), float(np.min(times))


def _random_database(count: int, rng, per_identity: int = 1) -> tuple[FaceDatabase, np.ndarray]:
    database = FaceDatabase(threshold=0.6)
    names = [f"person_{index // per_identity}" for index in range(count)]
    vectors = rng.normal(0, 0.1, (count, 128)).astype(np.float32)
    database.enroll_many(names, vectors)
    return database, vectors


def course_loop_identify(database: dict, probe: np.ndarray, threshold: float = 0.6):
    """The course's ``who_is_it`` loop over a ``{name: (1, 128)}`` dictionary."""
    min_dist, identity = 100.0, None
    for name, enc in database.items():
        dist = np.linalg.norm(enc - probe)
        if dist < min_dist:
            min_dist, identity = dist, name
    return (min_dist, identity) if min_dist < threshold else (min_dist, NOT_RECOGNIZED)


def run(large_k: int, small_k: int = 10_000, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    probe = rng.normal(0, 0.1, 128).astype(np.float32)
    results: dict = {"cpu_count": os.cpu_count(), "load_average_1min": os.getloadavg()[0]}

    started = time.perf_counter()
    large, vectors = _random_database(large_k, rng, per_identity=2)
    results["large_k"] = large_k
    results["large_identities"] = len(large)
    results["large_build_seconds"] = round(time.perf_counter() - started, 2)
    large.identify(probe)  # warm-up
    median, best = _median_seconds(lambda: large.identify(probe), repeats=20)
    results["large_identify_ms_median"] = round(1e3 * median, 2)
    results["large_identify_ms_best"] = round(1e3 * best, 2)
    # Memory floor: just reading the (K, 128) float32 matrix once (512 MB at K = 1e6).
    median, _ = _median_seconds(lambda: vectors.sum(), repeats=10)
    results["large_read_matrix_ms_median"] = round(1e3 * median, 2)
    vectors = None
    probes = rng.normal(0, 0.1, (64, 128)).astype(np.float32)
    median, _ = _median_seconds(lambda: large.identify_many(probes), repeats=3)
    results["large_identify_batch64_ms_per_probe"] = round(1e3 * median / len(probes), 3)
    large = None  # free the 512 MB before building the small database

    small, _ = _random_database(small_k, rng)
    course_dict = {name: small.encodings(name) for name in small.identities}  # (1, 128) each
    scores = small.identity_distances(probe)
    nearest = min(scores, key=scores.get)
    if course_loop_identify(course_dict, probe, threshold=1e9)[1] != nearest:
        raise RuntimeError("the course loop and FaceDatabase disagree on the nearest identity")
    loop_median, _ = _median_seconds(lambda: course_loop_identify(course_dict, probe), repeats=5)
    vector_median, _ = _median_seconds(lambda: small.identify(probe), repeats=50)
    results["small_k"] = small_k
    results["course_loop_ms_median"] = round(1e3 * loop_median, 2)
    results["vectorised_ms_median"] = round(1e3 * vector_median, 3)
    results["speedup"] = round(loop_median / vector_median, 1)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=config.pick(normal=1_000_000, fast=100_000),
                        help="enrolled vectors for the large search (default 1e6; fast mode 1e5)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    results = run(args.k)
    print(f"one probe vs {results['large_k']:,} enrolled vectors ({results['large_identities']:,} identities): "
          f"{results['large_identify_ms_median']:.1f} ms median, {results['large_identify_ms_best']:.1f} ms best "
          f"(target < 50 ms); batched 64 probes: {results['large_identify_batch64_ms_per_probe']:.2f} ms/probe; "
          f"reading the matrix once takes {results['large_read_matrix_ms_median']:.1f} ms")
    print(f"K = {results['small_k']:,}: course loop {results['course_loop_ms_median']:.1f} ms, vectorised "
          f"{results['vectorised_ms_median']:.3f} ms -> {results['speedup']:.0f}x faster")
    print(f"(CPU cores: {results['cpu_count']}, 1-min load average at start: {results['load_average_1min']:.2f})")
    if args.json:
        files.write_text(args.json, json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
