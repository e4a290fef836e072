"""utils.course.diagrams: every committed concept diagram is exactly what the code draws today.

The notebooks show these PNGs in their markdown (``images/<name>.png``); redrawing them into a
temporary folder and comparing pixel by pixel (a small tolerance for anti-aliasing) catches a
diagram whose code changed but whose file was not regenerated, and a file that is missing.
"""

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from utils import config, errors
from utils.course import diagrams

COMMITTED = config.REPO_ROOT / "notebooks" / "images"

#: The file names the notebooks' markdown uses; renaming one breaks a notebook.
EXPECTED = {
    "siamese_encoder",
    "triplet_margin",
    "verification_head",
    "verification_vs_recognition",
    "gram_unrolling",
    "nst_cost",
    "vgg19_layers",
    "receptive_field",
    "conv1d",
    "conv3d",
}


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """Every diagram drawn now, into a temporary folder."""
    folder = tmp_path_factory.mktemp("diagrams")
    diagrams.render_all(folder)
    return folder


def test_the_ten_lecture_diagrams_exist_under_their_fixed_names():
    assert EXPECTED <= set(diagrams.DIAGRAMS), f"missing: {sorted(EXPECTED - set(diagrams.DIAGRAMS))}"


@pytest.mark.parametrize("name", sorted(diagrams.DIAGRAMS))
def test_committed_diagram_matches_a_fresh_drawing(name, fresh):
    committed = COMMITTED / f"{name}.png"
    assert committed.is_file(), (
        f"{committed} is missing: run `python -m utils.course.diagrams` and commit notebooks/images/"
    )
    difference = diagrams.image_difference(committed, fresh / f"{name}.png")
    assert difference <= diagrams.STALE_FRACTION, (
        f"{committed.name} is stale: {difference:.3%} of its pixels differ from what "
        f"utils/course/diagrams.py draws now; run `python -m utils.course.diagrams` and commit the PNG"
    )


@pytest.mark.parametrize("name", sorted(diagrams.DIAGRAMS))
def test_diagram_is_small_readable_and_on_white(name, fresh):
    path = fresh / f"{name}.png"
    assert path.stat().st_size < 60 * 1024, f"{name}.png is {path.stat().st_size / 1024:.0f} KB (limit 60 KB)"
    with Image.open(path) as image:
        width, height = image.size
        pixels = np.asarray(image.convert("RGB"))
    assert 800 <= width <= 1200 and 350 <= height <= 650, f"{name}.png is {width} x {height} px"
    border = np.concatenate(
        [
            pixels[:3].reshape(-1, 3),
            pixels[-3:].reshape(-1, 3),
            pixels[:, :3].reshape(-1, 3),
            pixels[:, -3:].reshape(-1, 3),
        ]
    )
    assert (border == 255).all(), (
        f"{name}.png: something touches the edge of the picture (clipped text or shape), or the background is not white"
    )
    ink = np.mean(pixels.min(axis=-1) < 200)
    assert 0.01 < ink < 0.5, f"{name}.png is {ink:.1%} dark pixels: empty or a blot"


def test_redrawing_gives_the_same_pixels(fresh, tmp_path):
    """Drawing is deterministic (no random state, no time stamp), so a clean check is meaningful."""
    again = diagrams.render("nst_cost", tmp_path)  # the one with procedural pictures and noise
    assert diagrams.image_difference(again, fresh / "nst_cost.png") == 0.0


def test_a_changed_drawing_is_reported_stale(fresh, tmp_path):
    """The comparison catches a real change: a box moved by a few pixels, one number redrawn."""
    with Image.open(fresh / "siamese_encoder.png") as image:
        pixels = np.asarray(image.convert("RGB")).copy()
    shifted = np.full_like(pixels, 255)
    shifted[:, 4:] = pixels[:, :-4]  # the whole drawing moved 4 px to the right
    Image.fromarray(shifted).save(tmp_path / "siamese_encoder.png")
    assert (
        diagrams.image_difference(tmp_path / "siamese_encoder.png", fresh / "siamese_encoder.png")
        > diagrams.STALE_FRACTION
    )
    problems = diagrams.check(tmp_path, names=["siamese_encoder", "conv1d"])
    assert problems["siamese_encoder"].startswith("stale:")
    assert problems["conv1d"].startswith("missing:")


def test_one_changed_number_is_reported_stale(fresh, monkeypatch):
    """Changing the threshold from 0.6 to 0.7 redraws two glyphs: enough to be stale."""
    monkeypatch.setattr(diagrams.constants, "DEFAULT_THRESHOLD", 0.7)
    assert diagrams.check(fresh, names=["siamese_encoder"])["siamese_encoder"].startswith("stale:")


def test_anti_aliasing_noise_is_tolerated(fresh, tmp_path):
    with Image.open(fresh / "conv3d.png") as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    noisy = np.clip(pixels + np.random.default_rng(0).integers(-20, 21, pixels.shape), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(tmp_path / "conv3d.png")
    assert diagrams.image_difference(tmp_path / "conv3d.png", fresh / "conv3d.png") == 0.0
    assert diagrams.check(tmp_path, names=["conv3d"]) == {}


def test_images_of_different_sizes_differ_everywhere(tmp_path):
    Image.new("RGB", (10, 10), "white").save(tmp_path / "a.png")
    Image.new("RGB", (10, 11), "white").save(tmp_path / "b.png")
    assert diagrams.image_difference(tmp_path / "a.png", tmp_path / "b.png") == 1.0


def test_unknown_names_are_usage_errors(tmp_path):
    with pytest.raises(errors.UsageError, match="unknown diagram 'siamese'"):
        diagrams.render("siamese", tmp_path)


def test_command_line_check_fails_on_a_stale_folder_and_passes_after_regenerating(tmp_path):
    """`python -m utils.course.diagrams --check` is the documented command; exit 1 lists what is stale."""
    command = [sys.executable, "-m", "utils.course.diagrams", "--out", str(tmp_path), "conv1d", "conv3d"]
    result = subprocess.run(command + ["--check"], capture_output=True, text=True, cwd=config.REPO_ROOT)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "conv1d.png: missing" in result.stdout and "conv3d.png: missing" in result.stdout
    result = subprocess.run(command, capture_output=True, text=True, cwd=config.REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["conv1d.png", "conv3d.png"]
    result = subprocess.run(command + ["--check"], capture_output=True, text=True, cwd=config.REPO_ROOT)
    assert result.returncode == 0 and "up to date" in result.stdout, result.stdout + result.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "utils.course.diagrams", "--out", str(tmp_path), "nope"],
        capture_output=True,
        text=True,
        cwd=config.REPO_ROOT,
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown diagram 'nope'")


def test_the_diagrams_show_the_librarys_numbers():
    """The pictures read their numbers from the library, so they change when it does."""
    from utils.convnets import arithmetic
    from utils.nst import settings

    fields = arithmetic.receptive_fields(
        [
            arithmetic.LayerSpec("c1", 3, 1, "same"),
            arithmetic.LayerSpec("c2", 3, 1, "same"),
            arithmetic.LayerSpec("p", 2, 2, 0),
            arithmetic.LayerSpec("c3", 3, 1, "same"),
            arithmetic.LayerSpec("c4", 3, 1, "same"),
        ],
        rank=1,
    )
    assert [field.size[0] for field in fields.values()] == [3, 5, 6, 10, 14]  # what receptive_field shows
    assert arithmetic.conv_output_shape((14, 1), 16, 5) == (10, 16)  # conv1d, the lecture's numbers
    assert arithmetic.conv_output_shape((10, 16), 32, 5) == (6, 32)
    assert arithmetic.conv_output_shape((14, 14, 14, 1), 16, 5) == (10, 10, 10, 16)
    assert arithmetic.conv_output_shape((10, 10, 10, 16), 32, 5) == (6, 6, 6, 32)
    assert settings.get_preset("course").content_layer == "block5_conv4"  # vgg19_layers' markers
    assert settings.get_preset("blocks123").content_layer == "block3_conv2"
