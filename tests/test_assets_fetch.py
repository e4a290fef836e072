"""Fetching assets without the internet: a real HTTP server on 127.0.0.1 stands in for the canonical hosts.

Each test builds a small fixture registry in ``tmp_path``: a single-file asset and a folder asset
(two downloaded files, one with spaces in its path, plus a file shipped in the package), served by
``http.server`` in a thread. ``COURSE_ASSETS_URL`` points every canonical URL at that server,
``COURSE_SHARED`` is set empty so ``../shared`` is out of the picture, and the cache goes to
``tmp_path``. The server records every request it answers, so "no network call" is counted, not
assumed; the tests that must not touch the network also make every socket connection fail.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import pooch
import pytest

from utils import assets
from utils.assets import checksums, cli, fetching, lookup, recipes, registry
from utils.errors import AssetError

COMMIT = "0123456789abcdef0123456789abcdef01234567"
RAW = f"https://raw.githubusercontent.com/course/fixtures/{COMMIT}"
WEIGHTS = b"pretend these are weights\n" * 2000  # 52,000 bytes: several chunks
PHOTO_A = bytes(range(256)) * 40
PHOTO_B = b"\xff\xd8 another photo \xff\xd9" * 300
PACKAGE_FILE = registry.REGISTRY_DIR / "files" / "nst" / "SOURCES.md"  # a real file of the package


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the fixture tree; records requests; misbehaves on the paths the test names."""

    def log_message(self, *args):  # keep pytest's output clean
        pass

    def do_GET(self):
        path = unquote(urlsplit(self.path).path)
        self.server.requests.append(path)
        behaviour = self.server.behaviours.get(path)
        if behaviour == "fail_once":
            del self.server.behaviours[path]
            self.send_error(503, "try again")
            return
        if behaviour == "truncate":
            data = Path(self.translate_path(self.path)).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])  # then hang up: fewer bytes than announced
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def server(tmp_path):
    """A threaded HTTP server on 127.0.0.1 serving ``tmp_path/served``; yields it (``.base_url``)."""
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(served)))
    httpd.requests = []
    httpd.behaviours = {}
    httpd.served = served
    httpd.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _serve(server, url: str, data: bytes) -> str:
    """Put ``data`` where the server answers for canonical ``url``; return the path the server sees."""
    parts = urlsplit(url)
    path = unquote(f"/{parts.netloc}{parts.path}")
    target = server.served / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fixture_registry(tmp_path, server, monkeypatch):
    """The fixture registry, served by ``server``; ../shared hidden, cache and mirrors in tmp_path."""
    file_url = f"{RAW}/weights/model.bin"
    photo_a_url = f"{RAW}/{quote('my photos/a b.jpg')}"
    photo_b_url = f"{RAW}/photos/b.jpg"
    paths = {
        "file": _serve(server, file_url, WEIGHTS),
        "a": _serve(server, photo_a_url, PHOTO_A),
        "b": _serve(server, photo_b_url, PHOTO_B),
    }
    package_bytes = PACKAGE_FILE.read_bytes()
    manifest = tmp_path / "demo_tree.csv"
    manifest.write_text(
        "relpath,size,sha256,origin\n"
        f"README.md,{len(package_bytes)},{_sha(package_bytes)},package:nst/SOURCES.md\n"
        f"a b/a.jpg,{len(PHOTO_A)},{_sha(PHOTO_A)},{photo_a_url}\n"
        f"b.jpg,{len(PHOTO_B)},{_sha(PHOTO_B)},{photo_b_url}\n"
    )
    tree_size = len(package_bytes) + len(PHOTO_A) + len(PHOTO_B)
    entries = [
        registry.ManifestEntry("README.md", len(package_bytes), _sha(package_bytes), ""),
        registry.ManifestEntry("a b/a.jpg", len(PHOTO_A), _sha(PHOTO_A), ""),
        registry.ManifestEntry("b.jpg", len(PHOTO_B), _sha(PHOTO_B), ""),
    ]
    fixture_assets = {
        "demo_file": registry.Asset(
            name="demo_file",
            relpath="weights/demo/model.bin",
            kind="file",
            sha256=_sha(WEIGHTS),
            size=len(WEIGHTS),
            licence="test",
            source="the test",
            how_to_get="fetch it",
            urls=(file_url,),
        ),
        "demo_tree": registry.Asset(
            name="demo_tree",
            relpath="datasets/demo",
            kind="tree",
            sha256=checksums.manifest_digest(entries),
            size=tree_size,
            licence="test",
            source="the test",
            how_to_get="fetch it",
            manifest=str(manifest),
        ),
    }
    monkeypatch.setattr(registry, "REGISTRY", fixture_assets)
    monkeypatch.setattr(fetching, "DOWNLOAD_RETRIES", 0)
    monkeypatch.setenv(lookup.SHARED_ENV_VAR, "")
    monkeypatch.setenv(lookup.CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setenv(fetching.URL_ENV_VAR, server.base_url)
    monkeypatch.delenv(lookup.ASSETS_ENV_VAR, raising=False)
    checksums.forget_verified()
    return paths


def _all_files(folder: Path) -> list[str]:
    """Every file under ``folder`` (the staging lock file left aside), relative."""
    return sorted(
        p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file() and p.name != ".downloads.lock"
    )


def test_download_url_keeps_the_canonical_host_as_first_component():
    url = f"{RAW}/my%20photos/a%20b.jpg"
    assert fetching.download_url(url, "http://127.0.0.1:9") == (
        f"http://127.0.0.1:9/raw.githubusercontent.com/course/fixtures/{COMMIT}/my%20photos/a%20b.jpg"
    )
    assert fetching.download_url(url, "") == url


def test_good_fetch_puts_verified_files_in_the_cache(fixture_registry, server, tmp_path):
    lines = assets.ensure(["demo_file", "demo_tree"], progress=False)
    assert [line.split()[:2] for line in lines] == [["demo_file", "fetched"], ["demo_tree", "fetched"]]
    assert "2 downloaded" in lines[1] and "1 from the package" in lines[1]
    cache = tmp_path / "cache"
    assert (cache / "weights/demo/model.bin").read_bytes() == WEIGHTS
    assert (cache / "datasets/demo/a b/a.jpg").read_bytes() == PHOTO_A
    assert (cache / "datasets/demo/README.md").read_bytes() == PACKAGE_FILE.read_bytes()
    assert _all_files(cache) == [
        "datasets/demo/README.md",
        "datasets/demo/a b/a.jpg",
        "datasets/demo/b.jpg",
        "weights/demo/model.bin",
    ]  # no temporaries, staging removed
    assert assets.resolve("demo_tree") == cache / "datasets/demo"
    assert sorted(server.requests) == sorted(fixture_registry.values())  # each file requested once


def test_checksum_mismatch_is_refused_and_nothing_is_kept(fixture_registry, server, tmp_path):
    (server.served / fixture_registry["file"].lstrip("/")).write_bytes(WEIGHTS[:-1] + b"?")  # same size, other bytes
    with pytest.raises(AssetError) as info:
        assets.resolve("demo_file", download=True)
    message = str(info.value)
    assert f"{server.base_url}/raw.githubusercontent.com/course/fixtures/{COMMIT}/weights/model.bin" in message
    assert "does not match" in message and "COURSE_ASSETS" in message
    assert _all_files(tmp_path / "cache") == []
    assert assets.find("demo_file") is None


def test_a_corrupt_file_of_a_folder_is_refused_and_the_good_ones_kept(fixture_registry, server, tmp_path):
    (server.served / fixture_registry["b"].lstrip("/")).write_bytes(PHOTO_B[::-1])
    line = assets.ensure(["demo_tree"], progress=False)[0]
    assert line.split()[1] == "MISSING" and "photos/b.jpg" in line
    folder = tmp_path / "cache" / "datasets/demo"
    assert _all_files(folder) == ["README.md", "a b/a.jpg"]
    with pytest.raises(AssetError, match="incomplete: 1 of 3 files are missing"):
        assets.resolve("demo_tree")


def test_interrupted_transfer_leaves_no_partial_file(fixture_registry, server, tmp_path):
    server.behaviours[fixture_registry["file"]] = "truncate"
    line = assets.ensure(["demo_file"], progress=False)[0]
    assert line.split()[1] == "MISSING" and "weights/model.bin" in line
    assert server.requests == [fixture_registry["file"]]
    assert _all_files(tmp_path / "cache") == []


def test_interrupted_folder_fetch_resumes_with_the_missing_file_only(fixture_registry, server, tmp_path):
    server.behaviours[fixture_registry["a"]] = "truncate"
    with pytest.raises(AssetError, match=r"1 of 2 files were downloaded and kept; .* resumes"):
        assets.fetch("demo_tree", progress=False)
    assert _all_files(tmp_path / "cache/datasets/demo") == ["README.md", "b.jpg"]
    del server.behaviours[fixture_registry["a"]]
    server.requests.clear()
    assert assets.fetch("demo_tree", progress=False) == tmp_path / "cache/datasets/demo"
    assert server.requests == [fixture_registry["a"]]


def test_a_failed_transfer_is_retried(fixture_registry, server, monkeypatch):
    monkeypatch.setattr(fetching, "DOWNLOAD_RETRIES", 1)
    server.behaviours[fixture_registry["file"]] = "fail_once"
    assert assets.resolve("demo_file", download=True).read_bytes() == WEIGHTS
    assert server.requests == [fixture_registry["file"], fixture_registry["file"]]


def test_unreachable_host_names_the_url_and_the_mirror_option(fixture_registry, tmp_path, monkeypatch):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there any more
    monkeypatch.setenv(fetching.URL_ENV_VAR, f"http://127.0.0.1:{port}")
    with pytest.raises(AssetError) as info:
        assets.resolve("demo_file", download=True)
    message = str(info.value)
    assert f"http://127.0.0.1:{port}/raw.githubusercontent.com/course/fixtures/{COMMIT}/weights/model.bin" in message
    assert "cannot connect" in message
    assert "python -m utils.assets mirror DIR" in message and "COURSE_ASSETS=DIR" in message
    assert _all_files(tmp_path / "cache") == []


def test_mirror_present_means_no_network_call(fixture_registry, server, tmp_path, monkeypatch):
    mirror = tmp_path / "usb"
    assert all(line.split()[1] == "fetched" for line in assets.mirror(mirror, progress=False))
    server.requests.clear()
    monkeypatch.setenv(lookup.ASSETS_ENV_VAR, str(mirror))
    with pytest.MonkeyPatch.context() as blocked:
        no_network_patches(blocked)
        lines = assets.ensure(progress=False)
        assert [line.split()[1] for line in lines] == ["ok", "ok"]
        assert assets.resolve("demo_tree", download=True) == mirror / "datasets/demo"
    assert server.requests == []
    assert not (tmp_path / "cache").exists()


def no_network_patches(patcher):
    """Apply the ``no_network`` patches with ``patcher`` (a MonkeyPatch)."""

    def refuse(*args, **kwargs):
        raise AssertionError("a network call was made")

    patcher.setattr(socket.socket, "connect", refuse)
    patcher.setattr(socket, "create_connection", refuse)
    patcher.setattr(pooch.Pooch, "fetch", refuse)


def test_mirror_command_makes_a_folder_that_resolves_via_course_assets(
    fixture_registry, server, tmp_path, monkeypatch, capsys
):
    first = tmp_path / "first"
    assert cli.main(["mirror", str(first), "--quiet"]) == 0
    assert f"COURSE_ASSETS={first}" in capsys.readouterr().out
    requests = len(server.requests)
    # a second mirror made from the first copies everything and downloads nothing
    monkeypatch.setenv(lookup.ASSETS_ENV_VAR, str(first))
    second = tmp_path / "second"
    lines = assets.mirror(second, progress=False)
    assert [line.split()[1] for line in lines] == ["copied", "copied"]
    assert len(server.requests) == requests
    monkeypatch.setenv(lookup.ASSETS_ENV_VAR, str(second))
    with pytest.MonkeyPatch.context() as blocked:
        no_network_patches(blocked)
        assert assets.resolve("demo_file") == second / "weights/demo/model.bin"
        assert assets.resolve("demo_tree") == second / "datasets/demo"
    assert cli.main(["mirror", str(second)]) == 0
    assert "(already there)" in capsys.readouterr().out


def test_without_shared_the_resolver_fetches_once_then_resolves_from_the_cache(fixture_registry, server, tmp_path):
    with pytest.raises(AssetError) as info:
        assets.resolve("demo_tree")
    assert info.value.missing and "fetch it" in str(info.value)
    path = assets.resolve("demo_tree", download=True)
    assert path == tmp_path / "cache/datasets/demo"
    served = len(server.requests)
    checksums.forget_verified()
    assert assets.resolve("demo_tree") == path
    assert assets.resolve("demo_tree", download=True) == path
    assert len(server.requests) == served


def test_a_recipe_derives_a_file_from_a_downloaded_input(fixture_registry, server, tmp_path, monkeypatch):
    source = b"Name\t1\t2\n" * 50
    source_url = f"{RAW}/pairs.txt"
    _serve(server, source_url, source)
    monkeypatch.setitem(recipes.RECIPES, "test_upper", (bytes.upper, source_url, _sha(source)))
    monkeypatch.setitem(recipes.RECIPE_INPUT_SIZES, _sha(source), len(source))
    manifest = tmp_path / "derived.csv"
    manifest.write_text(
        f"relpath,size,sha256,origin\nUPPER.txt,{len(source)},{_sha(source.upper())},derive:test_upper\n"
    )
    entry = registry.ManifestEntry("UPPER.txt", len(source), _sha(source.upper()), "derive:test_upper")
    monkeypatch.setitem(
        registry.REGISTRY,
        "derived",
        registry.Asset(
            name="derived",
            relpath="datasets/derived",
            kind="tree",
            sha256=checksums.manifest_digest([entry]),
            size=len(source),
            licence="test",
            source="test",
            how_to_get="fetch it",
            manifest=str(manifest),
        ),
    )
    path = assets.fetch("derived", progress=False)
    assert (path / "UPPER.txt").read_bytes() == source.upper()
    assert _all_files(tmp_path / "cache") == ["datasets/derived/UPPER.txt"]  # the input was not kept


def test_cli_errors_are_one_line_with_exit_status_2(fixture_registry, capsys, monkeypatch):
    assert cli.main(["fetch", "no_such_asset"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: unknown asset 'no_such_asset'")
    monkeypatch.setenv(fetching.URL_ENV_VAR, "http://127.0.0.1:9")  # the discard port: nothing listens
    assert cli.main(["fetch", "--quiet", "demo_file"]) == 2
    captured = capsys.readouterr()
    assert "demo_file" in captured.out and "MISSING" in captured.out
    assert captured.err.count("\n") == 1 and "demo_file" in captured.err
    assert cli.main(["--download", "demo_file"]) == 2


def test_real_data_set_mirrors_from_shared_without_network(tmp_path, monkeypatch):
    """The real registry: a mirror of the NST images made from ../shared alone, then used alone."""
    if assets.find("nst_images") is None:
        pytest.skip("the NST images are not on this machine")
    monkeypatch.setattr(fetching, "DOWNLOAD_RETRIES", 0)
    with pytest.MonkeyPatch.context() as blocked:
        no_network_patches(blocked)
        line = assets.mirror(tmp_path / "mirror", ["nst_images"], progress=False)[0]
        assert line.split()[1] == "copied" and "19 copied" in line
        monkeypatch.setenv(lookup.ASSETS_ENV_VAR, str(tmp_path / "mirror"))
        monkeypatch.setenv(lookup.SHARED_ENV_VAR, "")
        checksums.forget_verified()
        assert assets.resolve("nst_images") == tmp_path / "mirror" / "datasets/nst"


def test_real_registry_without_shared_downloads_every_file_by_its_canonical_url(tmp_path, server, monkeypatch):
    """The real manifests of two data sets, served at their canonical URL paths by the loopback server.

    Stands in for a laptop without ../shared: every file must be requested at its commit-pinned URL
    (percent-encoding included) and pass its sha256; the result resolves from the cache alone.
    """
    names = ["faces_demo", "nst_images"]
    shared = {name: assets.find(name) for name in names}
    if None in shared.values():
        pytest.skip("the demo data sets are not on this machine")
    expected_requests = []
    for name in names:
        for entry in assets.manifest(name):
            if entry.origin.startswith("https://"):
                expected_requests.append(_serve(server, entry.origin, (shared[name] / entry.relpath).read_bytes()))
    monkeypatch.setattr(fetching, "DOWNLOAD_RETRIES", 0)
    monkeypatch.setenv(lookup.SHARED_ENV_VAR, "")
    monkeypatch.delenv(lookup.ASSETS_ENV_VAR, raising=False)
    monkeypatch.setenv(lookup.CACHE_ENV_VAR, str(tmp_path / "cache"))
    monkeypatch.setenv(fetching.URL_ENV_VAR, server.base_url)
    assert assets.find("nst_images") is None
    lines = assets.ensure(names, progress=False)
    assert [line.split()[1] for line in lines] == ["fetched", "fetched"], lines
    assert sorted(server.requests) == sorted(expected_requests)  # 86 files, each once
    for name in names:
        path = assets.resolve(name)
        assert path == tmp_path / "cache" / assets.get(name).relpath
        assert checksums.tree_digest(path)[0] == assets.get(name).sha256  # the digest ../shared has


_LAPTOP_SETUP = """
from utils import assets
from utils.course import prepare
lines = assets.ensure(["faces_demo", "nst_images"], progress=False)
print("\\n".join(lines))
print(prepare.prepare_face_encoder())
"""


@pytest.mark.slow
def test_a_laptop_without_shared_sets_up_from_the_canonical_urls_and_runs_the_demo(tmp_path, server):
    """Setup, then the main job, in fresh processes on a "laptop": no ../shared, no mirror, an empty cache.

    The demo's data sets come from their commit-pinned URLs (served by the loopback server with the
    bytes of this machine's copies), dlib's model from the installed PyPI package, converted into
    the cache. Two downloads need bytes this machine does not hold, and are the same code tested
    above with the fixture registry: the full VGG19 file (80 MB from Keras' URL; the partial
    blocks 1-3 file is put in the cache in its place, as a download would put the full one) and
    LFW's official 10-fold ``pairs.txt``, from which the ``lfw`` asset's pairs files are cut (the
    demo does not use LFW).
    """
    names = ["faces_demo", "nst_images"]
    local = {name: assets.find(name) for name in names}
    partial = assets.find("vgg19_partial")
    if None in local.values() or partial is None:
        pytest.skip("the data sets or the partial VGG19 file are not on this machine")
    served = 0
    for name in names:
        for entry in assets.manifest(name):
            if entry.origin.startswith("https://"):
                _serve(server, entry.origin, (local[name] / entry.relpath).read_bytes())
                served += 1
    cache = tmp_path / "cache"
    vgg_target = cache / assets.get("vgg19_partial").relpath
    vgg_target.parent.mkdir(parents=True)
    vgg_target.write_bytes(partial.read_bytes())
    env = {
        **os.environ,
        lookup.SHARED_ENV_VAR: "",
        lookup.CACHE_ENV_VAR: str(cache),
        fetching.URL_ENV_VAR: server.base_url,
        "COURSE_OUTPUTS": str(tmp_path / "outputs"),
    }
    env.pop(lookup.ASSETS_ENV_VAR, None)

    setup = subprocess.run(
        [sys.executable, "-c", _LAPTOP_SETUP], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=600
    )
    assert setup.returncode == 0, setup.stderr
    assert [line.split()[:2] for line in setup.stdout.splitlines()[: len(names)]] == [
        [name, "fetched"] for name in names
    ]
    assert "converted dlib's model" in setup.stdout
    assert len(server.requests) == served  # every file once, nothing else
    assert (cache / "weights" / "dlib_face_resnet.keras").is_file()

    demo_run = subprocess.run(
        [sys.executable, "-m", "utils.course.demo", "--out", str(tmp_path / "demo"), "--size", "64", "--steps", "3"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    assert demo_run.returncode == 0, demo_run.stderr
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["faces"]["correct"] == 6 and summary["nst"]["weights_kind"] == "partial"
    assert str(cache) in summary["nst"]["weights_file"]
    assert len(server.requests) == served  # the demo itself fetched nothing
