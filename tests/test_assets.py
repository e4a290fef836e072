"""The asset resolver: lookup order, checksums, and helpful errors for missing/corrupt files."""

import hashlib
import json
import re
import shutil
from urllib.parse import quote, unquote

import pytest

from utils import assets, config, errors
from utils.assets import checksums, lookup, recipes, registry


def _fake_asset(tmp_path, monkeypatch, content=b"weights!", kind="file"):
    """Register a small throwaway asset and point COURSE_ASSETS at a folder."""
    root = tmp_path / "assets"
    if kind == "file":
        digest = hashlib.sha256(content).hexdigest()
        size = len(content)
    else:
        folder = tmp_path / "reference_tree"
        (folder / "sub").mkdir(parents=True)
        (folder / "a.txt").write_bytes(b"A")
        (folder / "sub" / "b.txt").write_bytes(b"BB")
        digest, size = checksums.tree_digest(folder)
    asset = registry.Asset(
        name="fake",
        relpath=f"weights/fake/{'fake.bin' if kind == 'file' else 'tree'}",
        kind=kind,
        sha256=digest,
        size=size,
        licence="test",
        source="made by the test",
        how_to_get="the test writes it",
    )
    monkeypatch.setitem(registry.REGISTRY, "fake", asset)
    monkeypatch.setenv(lookup.ASSETS_ENV_VAR, str(root))
    checksums.forget_verified()
    return root, asset


def test_present_file_resolves_from_env_folder_first(tmp_path, monkeypatch):
    root, asset = _fake_asset(tmp_path, monkeypatch)
    path = root / asset.relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(b"weights!")
    assert assets.resolve("fake") == path
    assert lookup.search_roots()[0] == root


def test_missing_file_error_names_file_places_and_remedy(tmp_path, monkeypatch):
    root, _ = _fake_asset(tmp_path, monkeypatch)
    with pytest.raises(errors.AssetError) as info:
        assets.resolve("fake")
    message = str(info.value)
    assert "fake.bin" in message and str(root) in message and "the test writes it" in message
    assert info.value.missing
    assert assets.find("fake") is None


def test_corrupt_file_is_refused(tmp_path, monkeypatch):
    root, asset = _fake_asset(tmp_path, monkeypatch)
    path = root / asset.relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(b"weights?")  # same size, different bytes
    with pytest.raises(errors.AssetError, match="corrupt"):
        assets.resolve("fake")
    path.write_bytes(b"weights")  # truncated
    with pytest.raises(errors.AssetError, match="incomplete"):
        assets.resolve("fake")


def test_tree_digest_detects_a_changed_file(tmp_path, monkeypatch):
    root, asset = _fake_asset(tmp_path, monkeypatch, kind="tree")
    folder = root / asset.relpath
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"A")
    (folder / "sub" / "b.txt").write_bytes(b"BB")
    assert assets.resolve("fake") == folder
    (folder / "sub" / "b.txt").write_bytes(b"BC")
    checksums.forget_verified()
    with pytest.raises(errors.AssetError, match="tree digest"):
        assets.resolve("fake")


def test_derived_asset_checked_against_its_sidecar(tmp_path, monkeypatch):
    root = tmp_path / "assets"
    asset = registry.Asset(
        name="made",
        relpath="weights/made.bin",
        kind="file",
        sha256=None,
        derived=True,
        licence="test",
        source="test",
        how_to_get="run the maker",
    )
    monkeypatch.setitem(registry.REGISTRY, "made", asset)
    monkeypatch.setenv(lookup.ASSETS_ENV_VAR, str(root))
    path = root / asset.relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(b"converted")
    with pytest.raises(errors.AssetError, match="no checksum file"):
        assets.resolve("made")
    assets.write_sidecar(path, source="unit test")
    assert json.loads(assets.sidecar_path(path).read_text())["source"] == "unit test"
    assert assets.resolve("made") == path
    path.write_bytes(b"tampered!")
    with pytest.raises(errors.AssetError, match="corrupt"):
        assets.resolve("made")


def test_unknown_asset_lists_known_names():
    with pytest.raises(ValueError, match="vgg19_partial"):
        assets.resolve("no_such_asset")


def test_shared_assets_verify():
    """The real files beside the checkout match the registry (what every notebook relies on)."""
    for name in ("vgg19_partial", "lfw", "faces_demo", "nst_images"):
        assert assets.resolve(name).exists()


# --- the registry itself: manifests, URLs, decisions (no network, no ../shared needed) -------------------

GITHUB_BLOB_URL = re.compile(r"^https://raw\.githubusercontent\.com/[\w.-]+/[\w.-]+/[0-9a-f]{40}/[A-Za-z0-9_.~%/-]+$")


@pytest.mark.parametrize("name", [name for name, asset in registry.REGISTRY.items() if asset.kind == "tree"])
def test_manifest_matches_the_registered_tree_digest_and_size(name):
    """The tree digest the resolver has always checked is the digest of the manifest's files."""
    asset = assets.get(name)
    entries = assets.manifest(asset)
    assert entries, f"{name} has no manifest"
    assert checksums.manifest_digest(entries) == asset.sha256
    assert sum(entry.size for entry in entries) == asset.size
    assert len({entry.relpath for entry in entries}) == len(entries)


@pytest.mark.parametrize("name", [name for name, asset in registry.REGISTRY.items() if asset.kind == "tree"])
def test_every_origin_is_pinned_and_can_be_followed(name):
    for entry in assets.manifest(name):
        if entry.origin.startswith("package:"):
            packaged = registry.REGISTRY_DIR / "files" / entry.origin[len("package:") :]
            assert packaged.stat().st_size == entry.size
            assert hashlib.sha256(packaged.read_bytes()).hexdigest() == entry.sha256
        elif entry.origin.startswith("derive:"):
            assert entry.origin[len("derive:") :] in recipes.RECIPES
        else:
            assert GITHUB_BLOB_URL.match(entry.origin), entry.origin
            path = entry.origin.split("/", 6)[6]  # after https://host/owner/repo/commit/
            assert quote(unquote(path)) == path  # percent-encoded exactly once


def test_file_assets_have_a_source_and_a_decision():
    for asset in registry.REGISTRY.values():
        assert asset.licence and asset.source and asset.commit_decision, asset.name
        assert not asset.may_commit, f"{asset.name}: no weight file or data set is committed"
        if asset.kind == "file" and not asset.derived:
            assert asset.sha256 or asset.md5
            assert asset.urls or asset.replaced_by, f"{asset.name} has no download and no replacement"
    assert assets.get("vgg19_full").urls[0].endswith(registry.VGG19_FULL_FILENAME)
    assert GITHUB_BLOB_URL.match(registry.DLIB_DAT_URL)


def test_full_lfw_benchmark_is_pinned_file_by_file():
    """lfw_full: the official 10-fold pairs.txt and the 7,701 images its pairs use, all with sha256."""
    entries = {entry.relpath: entry for entry in assets.manifest("lfw_full")}
    assert entries["pairs.txt"].sha256 == registry.LFW_PAIRS_SHA256
    assert entries["pairs.txt"].origin == registry.LFW_PAIRS_URL
    images = [relpath for relpath in entries if relpath.startswith("images/")]
    assert len(images) == 7701
    for entry in assets.manifest("lfw"):  # the development set is a subset, byte for byte
        if entry.relpath.startswith("images/") or entry.relpath == "LFW_README.txt":
            assert entries[entry.relpath].sha256 == entry.sha256
    assert not assets.get("lfw_full").default  # never fetched unless asked for


def test_lfw_recipes_reproduce_the_development_pairs_files():
    """Folds 1-2 of the official pairs.txt give the shipped pairs.txt and pairs.csv, byte for byte."""
    lfw = assets.find("lfw")
    if lfw is None:
        pytest.skip("the LFW development set is not on this machine")
    development = (lfw / "pairs.txt").read_bytes()
    lines = development.split(b"\n")
    # an official-style file: 10 folds announced; only the first two are read by the recipes
    official = b"10\t300\n" + b"\n".join(lines[1:]) + b"Someone\t1\t2\n" * 600
    make_txt = recipes.RECIPES["lfw_pairs_txt_folds_1_2"][0]
    make_csv = recipes.RECIPES["lfw_pairs_csv_folds_1_2"][0]
    assert make_txt(official) == development
    assert make_csv(official) == (lfw / "pairs.csv").read_bytes()
    sizes = {entry.relpath: entry for entry in assets.manifest("lfw")}
    assert hashlib.sha256(make_csv(official)).hexdigest() == sizes["pairs.csv"].sha256


def test_status_table_has_one_line_per_asset_and_explains_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv(lookup.SHARED_ENV_VAR, "")
    monkeypatch.setenv(lookup.CACHE_ENV_VAR, str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv(lookup.ASSETS_ENV_VAR, raising=False)
    lines = assets.status_table().splitlines()
    states = {line.split()[0]: line.split()[1] for line in lines}
    assert list(states) == list(registry.REGISTRY)
    assert states["lfw"] == "MISSING" and states["lfw_full"] == "absent"
    lfw_line = next(line for line in lines if line.startswith("lfw "))
    assert "python -m utils.assets fetch lfw" in lfw_line and "COURSE_ASSETS" in lfw_line


def test_search_roots_follow_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(lookup.ASSETS_ENV_VAR, str(tmp_path / "usb"))
    monkeypatch.setenv(lookup.SHARED_ENV_VAR, str(tmp_path / "shared"))
    monkeypatch.setenv(lookup.CACHE_ENV_VAR, str(tmp_path / "cache"))
    assert lookup.search_roots() == [tmp_path / "usb", tmp_path / "shared", tmp_path / "cache"]
    monkeypatch.setenv(lookup.SHARED_ENV_VAR, "")
    assert lookup.search_roots() == [tmp_path / "usb", tmp_path / "cache"]


def test_hidden_files_in_a_data_set_folder_are_ignored(tmp_path, monkeypatch):
    """A .DS_Store or a dead writer's temporary does not make a verified copy fail."""
    shared = assets.find("nst_images")
    if shared is None:
        pytest.skip("the NST images are not on this machine")
    copy = tmp_path / "datasets" / "nst"
    shutil.copytree(shared, copy)
    (copy / ".DS_Store").write_bytes(b"finder")
    (copy / "style" / ".wave.jpg.123.abcd.tmp").write_bytes(b"half")
    assets.verify(assets.get("nst_images"), copy)
    (copy / "style" / "extra.jpg").write_bytes(b"not listed")
    with pytest.raises(errors.AssetError, match="does not list"):
        assets.verify(assets.get("nst_images"), copy)


def test_the_package_exports_what_its_users_call():
    """``utils.assets`` exports the names the notebooks, library, tools, benchmarks and tests call
    as ``assets.NAME``, and nothing that nobody calls (issue 29); the rest comes from its module."""
    root = config.REPO_ROOT
    sources = [
        path
        for folder in ("utils", "notebooks", "benchmarks", "tools", "tests")
        for path in (root / folder).rglob("*")
        if path.suffix in (".py", ".ipynb")
        and "assets" not in path.relative_to(root).parts[1:2]
        and "student" not in path.parts
    ]
    called = set()
    for path in sources:
        # code, not prose: "assets.html" and ``assets.NAME`` in a string or docstring are not calls
        called.update(re.findall(r"(?<![\w.])assets\.([A-Za-z]\w*)\b(?![\"'`])", path.read_text(encoding="utf-8")))
    assert called <= set(assets.__all__), f"called but not exported: {sorted(called - set(assets.__all__))}"
    assert set(assets.__all__) <= called, f"exported but called by nobody: {sorted(set(assets.__all__) - called)}"
    assert len(assets.__all__) <= 15
