"""Build the per-file manifests of ``utils/asset_registry/`` from a verified mirror and the origin repositories.

The course's data sets are byte-for-byte copies of git blobs of public repositories at pinned
commits (see ``../shared/datasets/SOURCES-faces.md`` and ``../shared/datasets/nst/SOURCES.md``).
This script writes one CSV per data-set asset, ``relpath,size,sha256,origin``, where ``origin`` is

* the commit-pinned ``https://raw.githubusercontent.com/<owner>/<repo>/<commit>/<path>`` URL of
  the blob (path percent-encoded),
* ``package:<path>`` for the few text files the project wrote itself (the galleries'
  ``manifest.csv``, the NST ``SOURCES.md``); they are copied into ``utils/asset_registry/files/``
  and ship with the package, or
* ``derive:<recipe>`` for files computed from another pinned file (the folds 1-2 ``pairs.txt`` and
  ``pairs.csv`` of the LFW development set, made from the official 10-fold ``pairs.txt``; the
  recipes live in ``utils.assets``).

Sizes and sha256 come from the mirror's files (``--shared``). When the origin repositories are
given as git directories (``--git owner/name=GITDIR``, e.g. the snapshots of ``fetch``), every row
is checked against the pinned commit: the mirror file's git blob id must equal the blob id of the
tree entry ``<commit>:<path>`` (a SHA-1 over the whole content), and where the snapshot holds the
blob its sha256 is compared too. The full LFW benchmark (asset ``lfw_full``: the official
``pairs.txt`` and the 7,701 deep-funneled images its 6,000 pairs use) is read from the LFW
repository itself, because the mirror holds only folds 1-2.

Run from the checkout:

    .venv/bin/python tools/build_asset_registry.py --shared ../shared \\
        --git umass-vis-lfw/umass-vis-lfw.github.io=/path/to/umass.git ...

It prints each asset's tree digest and total size (the ``sha256`` and ``size`` of its registry
entry) and a summary of what was verified against which commit.
"""

from __future__ import annotations

import argparse
import collections
import csv
import gzip
import hashlib
import io
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from utils import assets  # noqa: E402
from utils.assets import registry  # noqa: E402

GITHUB_RAW = "https://raw.githubusercontent.com"

#: The origin repositories, pinned (alias -> (owner/name, commit)).
REPOSITORIES = {
    "umass": ("umass-vis-lfw/umass-vis-lfw.github.io", "2a620cd8cceb10430f8c7012fe9fa5f0837759e9"),
    "course": ("amanchadha/coursera-deep-learning-specialization", "e9de0f4d1549b5a974c7f5cba013097fe162a798"),
    "ageitgey": ("ageitgey/face_recognition", "2e2dccea9dd0ce730c8d464d0f67c6eebb40c9d1"),
    "jc": ("jcjohnson/neural-style", "07c4b8299f8fbdafec0c514fc820ff1d7ff62e46"),
    "lg": ("lengstrom/fast-style-transfer", "0d3d981f7ab948253d355585bdbdfa914247b4d0"),
    "sb": ("sbrml/style-transfer", "b6fe8864f85d8d96a3f02283599a39ecd8dc1a66"),
    "ti": ("titu1994/Neural-Style-Transfer", "d09334855211579ea1adb9ad04f09fc8a7573850"),
}

FACE_RECOGNITION_DIR = "C4 - Convolutional Neural Networks/Week 4/Face Recognition/images"
NST_DIR = "C4 - Convolutional Neural Networks/Week 4/Neural Style Transfer/images"

#: NST images: file -> (repository alias, path), as listed in ../shared/datasets/nst/SOURCES.md.
NST_SOURCES = {
    "content/tubingen.jpg": ("jc", "examples/inputs/tubingen.jpg"),
    "content/louvre.jpg": ("course", f"{NST_DIR}/louvre.jpg"),
    "content/louvre_small.jpg": ("course", f"{NST_DIR}/louvre_small.jpg"),
    "content/persian_cat.jpg": ("course", f"{NST_DIR}/persian_cat.jpg"),
    "content/golden_gate.jpg": ("jc", "examples/inputs/golden_gate.jpg"),
    "content/girl_with_pearl_earring.jpg": ("sb", "imgs/girl_with_pearl_earring.jpg"),
    "style/starry_night.jpg": ("jc", "examples/inputs/starry_night.jpg"),
    "style/the_scream.jpg": ("jc", "examples/inputs/the_scream.jpg"),
    "style/shipwreck.jpg": ("jc", "examples/inputs/shipwreck.jpg"),
    "style/wave.jpg": ("lg", "examples/style/wave.jpg"),
    "style/kandinsky.jpg": ("sb", "imgs/kandinsky.jpg"),
    "style/monet.jpg": ("course", f"{NST_DIR}/monet.jpg"),
    "style/monet_800600.jpg": ("course", f"{NST_DIR}/monet_800600.jpg"),
    "style/water-lilies-1919-2.jpg": ("ti", "images/inputs/style/water-lilies-1919-2.jpg"),
    "style/udnie.jpg": ("lg", "examples/style/udnie.jpg"),
    "style/stone_style.jpg": ("course", f"{NST_DIR}/stone_style.jpg"),
    "style/sandstone.jpg": ("course", f"{NST_DIR}/sandstone.jpg"),
    "style/drop-of-water.jpg": ("course", f"{NST_DIR}/drop-of-water.jpg"),
}

#: Files the project wrote itself: shipped in utils/asset_registry/files/<datasets-relative path>.
PACKAGE_FILES = {
    ("faces_demo", "course/manifest.csv"),
    ("faces_demo", "lfw/manifest.csv"),
    ("faces_demo", "ageitgey/manifest.csv"),
    ("nst_images", "SOURCES.md"),
}

#: Manifest file of each asset (the two LFW ones, long lists of long URLs, are gzip-compressed).
MANIFEST_FILES = {
    "lfw": "lfw.csv.gz",
    "lfw_full": "lfw_full.csv.gz",
    "faces_demo": "faces_demo.csv",
    "nst_images": "nst_images.csv",
}

DERIVED_FILES = {
    ("lfw", "pairs.txt"): "lfw_pairs_txt_folds_1_2",
    ("lfw", "pairs.csv"): "lfw_pairs_csv_folds_1_2",
}


def raw_url(alias: str, path: str) -> str:
    """The commit-pinned raw URL of ``path`` in repository ``alias``."""
    repository, commit = REPOSITORIES[alias]
    return f"{GITHUB_RAW}/{repository}/{commit}/{quote(path, safe='/')}"


def git_blob_id(data: bytes) -> str:
    """Git's blob id of ``data`` (SHA-1 over ``blob <size>\\0`` and the content)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def origin_of(asset_name: str, relpath: str) -> tuple[str, str | None, str | None]:
    """``(origin, repository alias, path in the repository)`` of one file of a data-set asset."""
    if (asset_name, relpath) in PACKAGE_FILES:
        return f"package:{Path(assets.get(asset_name).relpath).name}/{relpath}", None, None
    if (asset_name, relpath) in DERIVED_FILES:
        return f"derive:{DERIVED_FILES[asset_name, relpath]}", None, None
    parts = relpath.split("/")
    if asset_name == "lfw":
        if relpath == "LFW_README.txt":
            alias, path = "umass", "README.txt"
        elif parts[0] == "images":
            alias, path = "umass", "images_deepfunneled/" + "/".join(parts[1:])
        else:
            raise KeyError(relpath)
    elif asset_name == "faces_demo":
        if parts[0] == "course":
            alias, path = "course", f"{FACE_RECOGNITION_DIR}/{parts[1]}"
        elif parts[0] == "ageitgey":
            alias, path = "ageitgey", "examples/knn_examples/" + "/".join(parts[1:])
        elif parts[:2] == ["lfw", "gallery"]:
            alias, path = "umass", f"images_deepfunneled/{parts[2]}/{parts[3]}"
        elif parts[:2] == ["lfw", "probes"]:
            person = parts[2].rsplit("_", 1)[0]
            alias, path = "umass", f"images_deepfunneled/{person}/{parts[2]}"
        else:
            raise KeyError(relpath)
    elif asset_name == "nst_images":
        alias, path = NST_SOURCES[relpath]
    else:
        raise KeyError(asset_name)
    return raw_url(alias, path), alias, path


class GitRepository:
    """Read-only access to one pinned commit of a git directory (tree entries and blobs)."""

    def __init__(self, git_dir: Path, commit: str):
        self.git_dir = Path(git_dir)
        self.commit = commit
        listing = subprocess.run(
            ["git", "-C", str(self.git_dir), "ls-tree", "-r", "-z", "-l", commit], capture_output=True, check=True
        ).stdout
        self.entries: dict[str, tuple[str, int | None]] = {}
        for record in listing.split(b"\0"):
            if not record:
                continue
            meta, path = record.split(b"\t", 1)
            _, kind, blob_id, size = meta.split()
            if kind == b"blob":
                self.entries[path.decode()] = (blob_id.decode(), int(size) if size.isdigit() else None)
        self._batch = subprocess.Popen(
            ["git", "-C", str(self.git_dir), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def blob(self, blob_id: str) -> bytes | None:
        """The content of ``blob_id``, or None when the snapshot lacks it (large files)."""
        self._batch.stdin.write(blob_id.encode() + b"\n")
        self._batch.stdin.flush()
        header = self._batch.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            return None
        size = int(header[2])
        data = self._batch.stdout.read(size)
        self._batch.stdout.read(1)  # the newline after the content
        return data

    def close(self) -> None:
        self._batch.stdin.close()
        self._batch.wait()


def build_tree_manifest(
    asset_name: str, shared: Path, repositories: dict[str, GitRepository], files_out: Path, counts: collections.Counter
) -> list[tuple[str, int, str, str]]:
    """Rows of the manifest of a data-set asset present in ``shared``, each checked where possible."""
    asset = assets.get(asset_name)
    root = shared / asset.relpath
    rows = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relpath = path.relative_to(root).as_posix()
        data = path.read_bytes()
        sha256 = hashlib.sha256(data).hexdigest()
        origin, alias, source_path = origin_of(asset_name, relpath)
        if origin.startswith("package:"):
            target = files_out / origin[len("package:") :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        if alias in repositories:
            entry = repositories[alias].entries.get(source_path)
            if entry is None:
                raise SystemExit(
                    f"{asset_name}/{relpath}: {source_path} is not in "
                    f"{REPOSITORIES[alias][0]} @ {REPOSITORIES[alias][1]}"
                )
            if entry[0] != git_blob_id(data):
                raise SystemExit(f"{asset_name}/{relpath}: differs from {source_path} at the pinned commit")
            counts["git blob id equal to the tree entry at the pinned commit"] += 1
            blob = repositories[alias].blob(entry[0])
            if blob is not None:
                if hashlib.sha256(blob).hexdigest() != sha256:
                    raise SystemExit(f"{asset_name}/{relpath}: sha256 differs from the blob")
                counts["sha256 equal to the blob's bytes in the snapshot"] += 1
        elif alias is not None:
            counts[f"unchecked ({alias} not given)"] += 1
        rows.append((relpath, len(data), sha256, origin))
    return rows


def build_lfw_full(
    umass: GitRepository, known: dict[str, str], counts: collections.Counter
) -> list[tuple[str, int, str, str]]:
    """Rows of asset ``lfw_full``: the official pairs.txt, the LFW readme and every image a pair uses."""
    rows = []
    for relpath, source_path in (("LFW_README.txt", "README.txt"), ("pairs.txt", "pairs.txt")):
        data = umass.blob(umass.entries[source_path][0])
        rows.append((relpath, len(data), hashlib.sha256(data).hexdigest(), raw_url("umass", source_path)))
    pairs = umass.blob(umass.entries["pairs.txt"][0]).decode()
    if hashlib.sha256(pairs.encode()).hexdigest() != registry.LFW_PAIRS_SHA256:
        raise SystemExit("pairs.txt at the pinned commit does not have the expected sha256")
    images = set()
    for line in pairs.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) == 3:
            images.update({(fields[0], int(fields[1])), (fields[0], int(fields[2]))})
        elif len(fields) == 4:
            images.update({(fields[0], int(fields[1])), (fields[2], int(fields[3]))})
    for person, number in sorted(images):
        name = f"{person}/{person}_{number:04d}.jpg"
        data = umass.blob(umass.entries[f"images_deepfunneled/{name}"][0])
        sha256 = hashlib.sha256(data).hexdigest()
        if f"images/{name}" in known:
            if known[f"images/{name}"] != sha256:
                raise SystemExit(f"lfw_full images/{name} differs from the mirror's copy")
            counts["lfw_full images identical to the mirror's lfw copy"] += 1
        rows.append((f"images/{name}", len(data), sha256, raw_url("umass", f"images_deepfunneled/{name}")))
    counts["lfw_full images hashed from the blobs of the pinned commit"] = len(images)
    return sorted(rows)


def write_manifest(path: Path, rows: list[tuple[str, int, str, str]]) -> None:
    """Write ``relpath,size,sha256,origin`` rows (gzip-compressed when ``path`` ends in .gz)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["relpath", "size", "sha256", "origin"])
    writer.writerows(rows)
    data = text.getvalue().encode()
    if path.suffix == ".gz":
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)


def digest_of(rows: list[tuple[str, int, str, str]]) -> str:
    """The tree digest (``utils.assets.checksums.tree_digest``) of a folder holding exactly ``rows``."""
    digest = hashlib.sha256()
    for relpath, _, sha256, _ in sorted(rows):
        digest.update(f"{relpath}\0{sha256}\n".encode())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO_ROOT.parent / "shared")
    parser.add_argument(
        "--git",
        action="append",
        default=[],
        metavar="OWNER/NAME=GITDIR",
        help="a git directory holding the pinned commit of an origin repository",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "utils" / "asset_registry")
    args = parser.parse_args(argv)
    by_repository = {repository: alias for alias, (repository, _) in REPOSITORIES.items()}
    repositories = {}
    for item in args.git:
        name, _, git_dir = item.partition("=")
        alias = by_repository[name]
        repositories[alias] = GitRepository(Path(git_dir), REPOSITORIES[alias][1])
    counts: collections.Counter = collections.Counter()
    files_out = args.out / "files"
    args.out.mkdir(parents=True, exist_ok=True)
    lfw_rows = []
    for name in ("lfw", "faces_demo", "nst_images"):
        rows = build_tree_manifest(name, args.shared, repositories, files_out, counts)
        write_manifest(args.out / MANIFEST_FILES[name], rows)
        print(f"{name}: {len(rows)} files, {sum(r[1] for r in rows):,} bytes, tree digest {digest_of(rows)}")
        if name == "lfw":
            lfw_rows = rows
    if "umass" in repositories:
        known = {relpath: sha256 for relpath, _, sha256, _ in lfw_rows}
        rows = build_lfw_full(repositories["umass"], known, counts)
        write_manifest(args.out / MANIFEST_FILES["lfw_full"], rows)
        print(f"lfw_full: {len(rows)} files, {sum(r[1] for r in rows):,} bytes, tree digest {digest_of(rows)}")
    for repository in repositories.values():
        repository.close()
    for what, number in counts.items():
        print(f"checked: {number:,} files: {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
