"""The asset resolver: lookup order, checksums, and helpful errors for missing/corrupt files."""

import hashlib
import json

import pytest

from utils import assets


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
        digest, size = assets.tree_digest(folder)
    asset = assets.Asset(name="fake", relpath=f"weights/fake/{'fake.bin' if kind == 'file' else 'tree'}",
                         kind=kind, sha256=digest, size=size, licence="test", source="made by the test",
                         how_to_get="the test writes it")
    monkeypatch.setitem(assets.REGISTRY, "fake", asset)
    monkeypatch.setenv(assets.ASSETS_ENV_VAR, str(root))
    assets._VERIFIED.clear()
    return root, asset


def test_present_file_resolves_from_env_folder_first(tmp_path, monkeypatch):
    root, asset = _fake_asset(tmp_path, monkeypatch)
    path = root / asset.relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(b"weights!")
    assert assets.resolve("fake") == path
    assert assets.search_roots()[0] == root


def test_missing_file_error_names_file_places_and_remedy(tmp_path, monkeypatch):
    root, _ = _fake_asset(tmp_path, monkeypatch)
    with pytest.raises(assets.AssetError) as info:
        assets.resolve("fake")
    message = str(info.value)
    assert "fake.bin" in message and str(root) in message and "the test writes it" in message
    assert info.value.missing
    assert assets.find("fake") is None


def test_corrupt_file_is_refused(tmp_path, monkeypatch):
    root, asset = _fake_asset(tmp_path, monkeypatch)
    path = root / asset.relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(b"weights?")            # same size, different bytes
    with pytest.raises(assets.AssetError, match="corrupt"):
        assets.resolve("fake")
    path.write_bytes(b"weights")             # truncated
    with pytest.raises(assets.AssetError, match="incomplete"):
        assets.resolve("fake")


def test_tree_digest_detects_a_changed_file(tmp_path, monkeypatch):
    root, asset = _fake_asset(tmp_path, monkeypatch, kind="tree")
    folder = root / asset.relpath
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_bytes(b"A")
    (folder / "sub" / "b.txt").write_bytes(b"BB")
    assert assets.resolve("fake") == folder
    (folder / "sub" / "b.txt").write_bytes(b"BC")
    assets._VERIFIED.clear()
    with pytest.raises(assets.AssetError, match="tree digest"):
        assets.resolve("fake")


def test_derived_asset_checked_against_its_sidecar(tmp_path, monkeypatch):
    root = tmp_path / "assets"
    asset = assets.Asset(name="made", relpath="weights/made.bin", kind="file", sha256=None, derived=True,
                         licence="test", source="test", how_to_get="run the maker")
    monkeypatch.setitem(assets.REGISTRY, "made", asset)
    monkeypatch.setenv(assets.ASSETS_ENV_VAR, str(root))
    path = root / asset.relpath
    path.parent.mkdir(parents=True)
    path.write_bytes(b"converted")
    with pytest.raises(assets.AssetError, match="no checksum file"):
        assets.resolve("made")
    assets.write_sidecar(path, source="unit test")
    assert json.loads(assets.sidecar_path(path).read_text())["source"] == "unit test"
    assert assets.resolve("made") == path
    path.write_bytes(b"tampered!")
    with pytest.raises(assets.AssetError, match="corrupt"):
        assets.resolve("made")


def test_unknown_asset_lists_known_names():
    with pytest.raises(ValueError, match="vgg19_partial"):
        assets.resolve("no_such_asset")


def test_shared_assets_verify():
    """The real files beside the checkout match the registry (what every notebook relies on)."""
    for name in ("vgg19_partial", "lfw", "faces_demo", "nst_images"):
        assert assets.resolve(name).exists()
