"""1:K identification at scale: exact search vs the FAISS index vs the course loop, on face-like data.

The gallery is realistic rather than random: the 1583 LFW images shipped with the course are
encoded once (cached under ``datasets/cache/``), a :class:`utils.faces.distractors.DistractorModel`
is fitted to them (mean, between-person and within-person covariances), and K - 307 synthetic
distractors (2 photos per synthetic person) are enrolled together with the first photo of each of
the 307 LFW people who have two or more. Probes are real held-out photos:

* *genuine*: the 739 other photos of those 307 people (the right answer is their name);
* *impostors*: the 537 LFW people with a single photo, never enrolled (the right answer is
  "not recognized").

Figures (printed, and written with ``--json FILE``; the first seven keys are the contract of
issue 15):

* ``k``: enrolled vectors (10^6; 10^5 in fast mode);
* ``exact_ms`` / ``ann_ms``: median time of ``FaceDatabase.identify`` for one probe, exact search
  vs the default approximate index (IVF-PQ + exact re-ranking), timed interleaved probe by probe;
* ``ann_recall_at_1``: fraction of genuine probes whose nearest vector the index finds (vs exact);
* ``build_s``: time to build the index (k-means training + adding K vectors); ``memory_mb``: its size;
* ``loop_speedup_1e4``: the course's dictionary loop vs the fastest path at K = 10^4 (one probe or
  a batch of 256, exact or IVF-PQ; the index counts only if its recall@1 there is >= 0.99);
* ``accuracy_vs_k``: identification accuracy at the threshold (genuine: right name; impostor: not
  recognized) as distractors are added -- errors compound with K;
* with ``--kinds``, the same figures for other index kinds (IVF-Flat, HNSW) for ``docs/SCALING.md``.

Usage:
    python -m benchmarks.identify_speed --json outputs/identify_speed.json
    python -m benchmarks.identify_speed --kinds ivf-pq,ivf-flat,hnsw --json outputs/identify_kinds.json

Run it on an idle machine: other processes inflate the times (exact search at 10^6 is memory-bound
and suffers most), so the one-minute load average is recorded with the figures.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import time
import zipfile

import numpy as np

from utils import assets, config, files
from utils.faces import NOT_RECOGNIZED, FaceDatabase, chip_cache, encode_chips, load_lfw_chips
from utils.faces import index as index_module
from utils.faces.constants import FLIP_DEFAULT
from utils.faces.distractors import DistractorModel

#: Encodings of every LFW image, cached here (gitignored).
CACHE_DIR = config.REPO_ROOT / "datasets" / "cache"
PHOTOS_PER_DISTRACTOR = 2
SMALL_K = 10_000


def _median_ms(times) -> float:
    return round(1e3 * float(np.median(times)), 4)


def lfw_encodings(progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Encodings and person names of every LFW image, computed once and cached in ``datasets/cache/``.

    The cache key holds the image list, the chip settings and the encoder file's checksum sidecar,
    so a change to any of them recomputes the encodings.
    """
    images = assets.resolve("lfw") / "images"
    paths = sorted(images.glob("*/*.jpg"))
    encoder_file = assets.resolve("dlib_face_resnet_keras")
    sidecar = encoder_file.with_name(encoder_file.name + ".sha256")
    encoder_key = sidecar.read_text() if sidecar.is_file() else f"{encoder_file.stat().st_size}"
    key = json.dumps(
        {
            "images": [str(path.relative_to(images)) for path in paths],
            "encoder": encoder_key,
            "chips": chip_cache.chip_settings(),
            "flip": FLIP_DEFAULT,
        },
        sort_keys=True,
    )
    cache = CACHE_DIR / f"lfw_encodings_{hashlib.sha256(key.encode()).hexdigest()[:16]}.npz"
    names = np.array([path.parent.name for path in paths])
    if cache.is_file():
        try:
            with np.load(cache, allow_pickle=False) as data:
                encodings = data["encodings"]
            if encodings.shape == (len(paths), 128):
                return encodings, names
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError):
            pass  # recompute below
    if progress:
        print(f"encoding {len(paths)} LFW images once (cached in {cache})")
    chips, _ = load_lfw_chips(paths, progress=progress)
    encodings = encode_chips(chips)
    with files.atomic_write(cache, "wb") as handle:
        np.savez(handle, encodings=encodings)
    return encodings, names


def split_lfw(encodings: np.ndarray, names: np.ndarray) -> dict:
    """Enrolled photos, genuine probes and impostor probes (see the module docstring)."""
    people, counts = np.unique(names, return_counts=True)
    repeated = set(people[counts >= 2])
    first = {}
    for row, name in enumerate(names):
        first.setdefault(name, row)
    enrolled = np.array([first[name] for name in sorted(repeated)])
    genuine = np.array([row for row, name in enumerate(names) if name in repeated and first[name] != row])
    impostors = np.array([row for row, name in enumerate(names) if name not in repeated])
    return {
        "enrolled_names": names[enrolled],
        "enrolled": encodings[enrolled],
        "genuine": encodings[genuine],
        "genuine_names": names[genuine],
        "impostors": encodings[impostors],
    }


def build_gallery(
    split: dict, model: DistractorModel, k: int, seed: int, index: str, photos: int = PHOTOS_PER_DISTRACTOR
) -> FaceDatabase:
    """K enrolled vectors: the real enrolled photos and K - len(real) synthetic distractors."""
    count = max(0, k - len(split["enrolled"]))
    distractors, person = model.sample(count, photos, seed=seed)
    database = FaceDatabase(index=index)
    database.enroll_many(np.char.add("distractor_", person.astype(str)), distractors)
    database.enroll_many(split["enrolled_names"], split["enrolled"])
    return database


def accuracy(answers, split: dict) -> dict:
    """Identification accuracy at the threshold on genuine and impostor probes."""
    genuine = len(split["genuine"])
    names = [name for _, name in answers]
    right = np.array([answer == truth for answer, truth in zip(names[:genuine], split["genuine_names"])])
    rejected = np.array([answer == NOT_RECOGNIZED for answer in names[genuine:]])
    return {
        "genuine_identified": round(float(right.mean()), 4),
        "impostors_rejected": round(float(rejected.mean()), 4),
        "overall": round(float(np.concatenate([right, rejected]).mean()), 4),
    }


def accuracy_vs_k(split: dict, model: DistractorModel, sizes, seed: int, threshold: float = 0.6) -> dict:
    """Exact identification accuracy as distractors are added (one pass over the largest gallery)."""
    probes = np.concatenate([split["genuine"], split["impostors"]]).astype(np.float32)
    enrolled = split["enrolled"].astype(np.float32)
    real = np.linalg.norm(probes[:, None, :] - enrolled[None], axis=2)
    best_real, best_real_row = real.min(axis=1), real.argmin(axis=1)
    distractors, _ = model.sample(max(0, max(sizes) - len(enrolled)), PHOTOS_PER_DISTRACTOR, seed=seed)
    half_norms = 0.5 * np.einsum("ij,ij->i", distractors, distractors)
    nearest = np.full(len(probes), np.inf)
    results, start = {}, 0
    for size in sorted(sizes):
        stop = max(0, size - len(enrolled))
        for block in range(start, stop, 65_536):
            end = min(stop, block + 65_536)
            scores = half_norms[block:end][None, :] - probes @ distractors[block:end].T
            rows = block + np.argmin(scores, axis=1)
            nearest = np.minimum(nearest, np.linalg.norm(distractors[rows] - probes, axis=1))
        start = stop
        answers = []
        for distance_real, row, distance_distractor in zip(best_real, best_real_row, nearest):
            distance, name = (
                (distance_real, split["enrolled_names"][row])
                if distance_real <= distance_distractor
                else (distance_distractor, "distractor")
            )
            answers.append((distance, name if distance < threshold else NOT_RECOGNIZED))
        results[str(size)] = accuracy(answers, split)
    return results


def course_loop_identify(database: dict, probe: np.ndarray, threshold: float = 0.6):
    """The course's ``who_is_it`` loop over a ``{name: (1, 128)}`` dictionary."""
    min_dist, identity = 100.0, None
    for name, enc in database.items():
        dist = np.linalg.norm(enc - probe)
        if dist < min_dist:
            min_dist, identity = dist, name
    return (min_dist, identity) if min_dist < threshold else (min_dist, NOT_RECOGNIZED)


def measure_kind(
    exact: FaceDatabase, kind: str, probes: np.ndarray, exact_rows: np.ndarray, timing_probes: np.ndarray, genuine: int
) -> tuple[FaceDatabase, dict]:
    """Build ``kind`` over the same vectors as ``exact`` (no copy of them); time it interleaved with exact."""
    database = copy.copy(exact)  # shares the vectors; its own index
    database.index_kind = kind
    started = time.perf_counter()
    database.build_index()
    build_seconds = time.perf_counter() - started
    rows = database.nearest_rows(probes)
    exact_times, index_times = [], []
    database.identify(timing_probes[0])
    exact.identify(timing_probes[0])
    for probe in timing_probes:
        started = time.perf_counter()
        exact.identify(probe)
        exact_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        database.identify(probe)
        index_times.append(time.perf_counter() - started)
    info = database.index_info()
    return database, {
        "kind": kind,
        "build_s": round(build_seconds, 2),
        "ms": _median_ms(index_times),
        "ms_p90": round(1e3 * float(np.percentile(index_times, 90)), 4),
        "exact_ms": _median_ms(exact_times),
        "recall_at_1": round(float(np.mean(rows[:genuine] == exact_rows[:genuine])), 4),
        "recall_at_1_impostors": round(float(np.mean(rows[genuine:] == exact_rows[genuine:])), 4),
        "memory_mb": round(info["memory_bytes"] / 1e6, 1),
        "lists": info["lists"],
        "probes": info["probes"],
        "rerank": info["rerank"],
    }


def small_k_speedup(split: dict, model: DistractorModel, seed: int) -> dict:
    """At K = 10^4 (one photo per person): the course loop vs every path of FaceDatabase."""
    exact = build_gallery(split, model, SMALL_K, seed + 1, index="exact", photos=1)
    course_dict = {name: exact.encodings(name) for name in exact.identities}
    probes = np.concatenate([split["genuine"], split["impostors"]]).astype(np.float32)[:256]
    probe = probes[0]
    scores = exact.identity_distances(probe)
    if course_loop_identify(course_dict, probe, threshold=1e9)[1] != min(scores, key=scores.get):
        raise RuntimeError("the course loop and FaceDatabase disagree on the nearest identity")
    approximate = copy.copy(exact)
    approximate.index_kind = "ivf-pq"
    approximate.build_index()
    databases = {"exact": exact, "ivf-pq": approximate}
    for database in databases.values():
        database.identify_many(probes)  # warm-up
    loop, times = [], {f"{name}_{way}": [] for name in databases for way in ("one_probe", "batch_per_probe")}
    for repeat in range(15):  # interleaved, so that a busy moment hits every path alike
        started = time.perf_counter()
        course_loop_identify(course_dict, probes[repeat])
        loop.append(time.perf_counter() - started)
        for name, database in databases.items():
            started = time.perf_counter()
            for candidate in probes[20 * repeat % 236 :][:20]:
                database.identify(candidate)
            times[f"{name}_one_probe"].append((time.perf_counter() - started) / 20)
            started = time.perf_counter()
            database.identify_many(probes)
            times[f"{name}_batch_per_probe"].append((time.perf_counter() - started) / len(probes))
    paths = {name: _median_ms(values) for name, values in times.items()}
    recall = float(np.mean(approximate.nearest_rows(probes) == exact.nearest_rows(probes)))
    # The fastest path that gives the exact answers (the index counts if its recall@1 is >= 0.99).
    eligible = {name: value for name, value in paths.items() if name.startswith("exact") or recall >= 0.99}
    fastest = min(eligible, key=eligible.get)
    return {
        "k": SMALL_K,
        "course_loop_ms": _median_ms(loop),
        "paths_ms": paths,
        "fastest_path": fastest,
        "speedup": round(float(np.median(loop)) * 1e3 / paths[fastest], 1),
        "ivf_pq_recall_at_1": round(recall, 4),
    }


def run(k: int, kinds=("ivf-pq",), seed: int = 0, timing_probes: int = 200, progress: bool = True) -> dict:
    """Every figure of the benchmark (see the module docstring)."""
    results: dict = {
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "fast_mode": config.FAST,
    }
    started = time.perf_counter()
    if not index_module.faiss_available():
        raise SystemExit("this benchmark needs FAISS: pip install faiss-cpu")
    results["faiss_import_s"] = round(time.perf_counter() - started, 2)  # once per process; not in build_s
    encodings, names = lfw_encodings(progress=progress)
    split = split_lfw(encodings, names)
    model = DistractorModel.fit(encodings, names)
    genuine = len(split["genuine"])
    probes = np.concatenate([split["genuine"], split["impostors"]]).astype(np.float32)
    results.update(
        lfw_images=len(encodings),
        enrolled_real=len(split["enrolled"]),
        genuine_probes=genuine,
        impostor_probes=len(split["impostors"]),
    )

    started = time.perf_counter()
    exact = build_gallery(split, model, k, seed, index="exact")
    results["k"] = exact.num_vectors
    results["enroll_s"] = round(time.perf_counter() - started, 2)
    results["vectors_mb"] = round(exact.num_vectors * exact.dimension * 4 / 1e6, 1)
    exact_rows = exact.nearest_rows(probes)
    exact_answers = exact.identify_many(probes)
    results["exact_accuracy"] = accuracy(exact_answers, split)
    results["nearest_distance_median"] = {
        "genuine": round(float(np.median([distance for distance, _ in exact_answers[:genuine]])), 4),
        "impostors": round(float(np.median([distance for distance, _ in exact_answers[genuine:]])), 4),
    }
    rng = np.random.default_rng(seed)
    timing = probes[rng.choice(len(probes), min(timing_probes, len(probes)), replace=False)]

    results["kinds"] = {}
    for kind in kinds:
        if progress:
            print(f"building {kind} over {exact.num_vectors:,} vectors ...", flush=True)
        database, figures = measure_kind(exact, kind, probes, exact_rows, timing, genuine)
        answers = database.identify_many(probes)
        figures["accuracy"] = accuracy(answers, split)
        figures["decisions_equal_exact"] = round(
            float(np.mean([(a[1] == b[1]) for a, b in zip(answers, exact_answers)])), 4
        )
        results["kinds"][kind] = figures
        database = None  # free the index before the next kind
    main = results["kinds"][kinds[0]]
    results.update(
        exact_ms=main["exact_ms"],
        ann_kind=kinds[0],
        ann_ms=main["ms"],
        ann_recall_at_1=main["recall_at_1"],
        build_s=main["build_s"],
        memory_mb=main["memory_mb"],
        ann_accuracy=main["accuracy"],
    )
    exact = None

    sizes = sorted({size for size in (len(split["enrolled"]), 1_000, 10_000, 100_000, k) if size <= k})
    results["accuracy_vs_k"] = accuracy_vs_k(split, model, sizes, seed)
    small = small_k_speedup(split, model, seed)
    results["small_k"] = small
    results["loop_speedup_1e4"] = small["speedup"]
    results["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--k",
        type=int,
        default=config.pick(normal=1_000_000, fast=100_000),
        help="enrolled vectors (default 1e6; fast mode 1e5)",
    )
    parser.add_argument(
        "--kinds",
        default="ivf-pq",
        help="comma-separated index kinds to measure; the first gives ann_* (default ivf-pq; "
        "ivf-flat,hnsw for docs/SCALING.md: HNSW takes minutes to build at 1e6)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the distractors and of the timed probes")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    kinds = tuple(kind.strip() for kind in args.kinds.split(",") if kind.strip())
    if args.json:
        files.check_writable(args.json, what="--json")
    results = run(args.k, kinds=kinds, seed=args.seed)
    print(
        f"K = {results['k']:,} enrolled vectors ({results['enrolled_real']} real LFW people among synthetic "
        f"distractors; {results['vectors_mb']:.0f} MB of float32 vectors)"
    )
    print(f"  exact search: {results['exact_ms']:.2f} ms per probe (median)")
    for kind, figures in results["kinds"].items():
        print(
            f"  {kind}: {figures['ms']:.3f} ms per probe (median; p90 {figures['ms_p90']:.3f}), recall@1 "
            f"{figures['recall_at_1']:.4f} genuine / {figures['recall_at_1_impostors']:.4f} impostors, build "
            f"{figures['build_s']:.1f} s, index {figures['memory_mb']:.1f} MB, decisions equal to exact "
            f"{100 * figures['decisions_equal_exact']:.2f} %"
        )
    print(f"  identification accuracy at 0.6, exact: {results['exact_accuracy']}")
    for size, figures in results["accuracy_vs_k"].items():
        print(
            f"    K = {int(size):>9,}: genuine identified {100 * figures['genuine_identified']:.1f} %, "
            f"impostors rejected {100 * figures['impostors_rejected']:.1f} %"
        )
    small = results["small_k"]
    print(
        f"K = {small['k']:,}: course loop {small['course_loop_ms']:.1f} ms; fastest path {small['fastest_path']} "
        f"{small['paths_ms'][small['fastest_path']]:.4f} ms -> {small['speedup']:.0f}x "
        f"(all paths, ms per probe: {small['paths_ms']}; ivf-pq recall@1 there {small['ivf_pq_recall_at_1']:.4f})"
    )
    print(
        f"(CPU cores: {results['cpu_count']}, 1-min load average: {results['load_average_1min']:.2f} at start, "
        f"{results['load_average_1min_end']:.2f} at the end)"
    )
    if args.json:
        files.write_text(args.json, json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
