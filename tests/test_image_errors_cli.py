"""Bad image files through the real command lines: exit status 2, one ``error:`` line naming the
file and the reason, no traceback, nothing written.

Each command runs in a subprocess (``python -m ...``), as a user would run it. The error paths
stop before any model is loaded, so they take well under a second each; the ``identify`` test
that goes on with a good image needs MTCNN and the converted dlib ResNet (slow).
"""

import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest

from utils import assets, config

ENCODER = assets.find("dlib_face_resnet_keras")
VGG_WEIGHTS = assets.find("vgg19_partial") or assets.find("vgg19_full")


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares ``width`` x ``height`` RGB pixels: a decompression bomb in
    57 bytes (one empty compressed data chunk), with correct CRCs, so PIL accepts its header."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def _run(*argv, timeout=120):
    completed = subprocess.run(
        [sys.executable, "-m", *map(str, argv)], cwd=config.REPO_ROOT, capture_output=True, text=True, timeout=timeout
    )
    return completed.returncode, completed.stdout, completed.stderr


def _one_error_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert lines[0].startswith("error: ") and "Traceback" not in stderr
    return lines[0]


@pytest.fixture
def bomb(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_declaring(50000, 50000))
    return path


def test_enroll_refuses_a_decompression_bomb(tmp_path, bomb):
    database = tmp_path / "people.npz"
    code, out, err = _run("utils.faces", "enroll", "--db", database, "--name", "ada", bomb)
    line = _one_error_line(err)
    assert code == 2 and out == ""
    assert str(bomb) in line and "50000x50000 = 2.5 gigapixels" in line and "decompression bomb" in line
    assert not database.exists()


@pytest.mark.skipif(VGG_WEIGHTS is None, reason="no VGG19 weights: the command stops on that first")
def test_style_transfer_refuses_a_decompression_bomb(tmp_path, bomb):
    style = assets.resolve("nst_images") / "style" / "wave.jpg"
    output = tmp_path / "out.png"
    code, out, err = _run(
        "utils.nst",
        "--content",
        bomb,
        "--style",
        style,
        "--output",
        output,
        "--size",
        64,
        "--steps",
        1,
        "--no-progress",
    )
    line = _one_error_line(err)
    assert code == 2 and str(bomb) in line and "2.5 gigapixels" in line
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bomb.png"]


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda path: path.mkdir(), "is a folder, not an image file"),
        (lambda path: path.write_bytes(b""), "is empty (0 bytes)"),
        (lambda path: path.write_text("<html><body>Not Found</body></html>"), "HTML page"),
    ],
)
def test_enroll_names_the_real_reason(tmp_path, make, reason):
    image = tmp_path / "ada.jpg"
    make(image)
    code, out, err = _run("utils.faces", "enroll", "--db", tmp_path / "people.npz", "--name", "ada", image)
    line = _one_error_line(err)
    assert code == 2 and str(image) in line and reason in line and "not found" not in line
    assert not (tmp_path / "people.npz").exists()


@pytest.mark.slow
@pytest.mark.skipif(ENCODER is None, reason="asset dlib_face_resnet_keras not found (run `make setup`)")
def test_identify_reports_the_bomb_and_goes_on(tmp_path, bomb):
    """``identify`` prints the bomb's error line, still answers for the good image, exits 2."""
    from utils.faces.database import FaceDatabase

    database = FaceDatabase()
    database.enroll("nobody", np.zeros(128, np.float32))  # far from every real face
    database.save(tmp_path / "people.npz")
    face = assets.resolve("faces_demo") / "lfw" / "gallery" / "Colin_Powell" / "Colin_Powell_0001.jpg"
    code, out, err = _run("utils.faces", "identify", "--db", tmp_path / "people.npz", bomb, face, timeout=300)
    line = _one_error_line(err)
    assert code == 2 and str(bomb) in line and "2.5 gigapixels" in line
    answers = out.splitlines()
    assert len(answers) == 1 and answers[0].startswith(f"{face}\tface 0\t") and "not recognized" in answers[0]
