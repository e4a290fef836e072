"""Tests for utils.faces.align: the similarity transform, the warp, and MTCNN detection on real images."""

import numpy as np
import pytest

from utils import assets, errors
from utils.faces import align


def _rotation(angle_degrees):
    angle = np.deg2rad(angle_degrees)
    return np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])


def test_similarity_transform_recovers_known_transform_exactly():
    rng = np.random.default_rng(0)
    source = rng.uniform(0, 200, size=(5, 2))
    scale, rotation, translation = 0.73, _rotation(23.0), np.array([-12.5, 40.25])
    target = scale * source @ rotation.T + translation
    matrix = align.similarity_transform(source, target)
    np.testing.assert_allclose(matrix[:, :2], scale * rotation, atol=1e-12)
    np.testing.assert_allclose(matrix[:, 2], translation, atol=1e-10)


def test_similarity_transform_is_least_squares_and_never_reflects():
    # A mirrored point set cannot be reached by a similarity: the fit must stay a rotation.
    source = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    mirrored = source * np.array([-1.0, 1.0])
    matrix = align.similarity_transform(source, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0
    # Noisy correspondences: the closed form matches a brute-force least-squares solve of
    # [a -b tx; b a ty] (linear in a, b, tx, ty).
    rng = np.random.default_rng(1)
    target = 1.7 * source @ _rotation(-40).T + 5 + rng.normal(0, 0.1, source.shape)
    rows = []
    for (x, y) in source:
        rows += [[x, -y, 1, 0], [y, x, 0, 1]]
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), target.ravel(), rcond=None)[0]
    np.testing.assert_allclose(align.similarity_transform(source, target),
                               [[a, -b, tx], [b, a, ty]], atol=1e-9)


def test_similarity_transform_rejects_bad_input():
    with pytest.raises(ValueError, match="coincide"):
        align.similarity_transform(np.ones((5, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        align.similarity_transform(np.ones((5, 3)), np.zeros((5, 3)))


def _blob_image(points, shape=(300, 400), sigma=2.0):
    """Grey image with a bright Gaussian blob at each (x, y) point (sub-pixel positions)."""
    height, width = shape
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.zeros(shape)
    for x, y in points:
        image += np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / (2 * sigma ** 2))
    return np.repeat((np.clip(image, 0, 1) * 255).round().astype(np.uint8)[:, :, None], 3, axis=2)


def _centroid(chip, point, radius=6):
    x0, y0 = int(round(point[0])), int(round(point[1]))
    window = chip[y0 - radius:y0 + radius + 1, x0 - radius:x0 + radius + 1, 0].astype(float)
    ys, xs = np.mgrid[y0 - radius:y0 + radius + 1, x0 - radius:x0 + radius + 1]
    return np.array([(xs * window).sum(), (ys * window).sum()]) / window.sum()


def test_align_face_puts_keypoints_on_the_template():
    # Keypoints of a face rotated by 17 degrees, 1.8x the template size, somewhere in a big image.
    matrix = np.hstack([1.8 * _rotation(17.0), [[120.3], [60.7]]])
    keypoints = align.CHIP_TEMPLATE @ matrix[:, :2].T + matrix[:, 2]
    image = _blob_image(keypoints, sigma=2.0 * 1.8)
    chip = align.align_face(image, keypoints)
    assert chip.shape == (150, 150, 3) and chip.dtype == np.uint8
    for target in align.CHIP_TEMPLATE:
        np.testing.assert_allclose(_centroid(chip, target), target, atol=0.15)


def test_align_face_scales_template_with_size():
    keypoints = align.CHIP_TEMPLATE * 2 + 30
    image = _blob_image(keypoints, shape=(400, 400), sigma=4.0)
    chip = align.align_face(image, keypoints, size=75)
    assert chip.shape == (75, 75, 3)
    np.testing.assert_allclose(_centroid(chip, align.CHIP_TEMPLATE[0] / 2, radius=3),
                               align.CHIP_TEMPLATE[0] / 2, atol=0.2)


def test_select_faces_policies():
    small = align.Face(box=(180, 130, 40, 40), keypoints=np.zeros((5, 2)), confidence=0.99)
    large = align.Face(box=(0, 0, 100, 100), keypoints=np.zeros((5, 2)), confidence=0.99)
    shape = (300, 400, 3)
    assert align.select_faces([small, large], "largest", shape) == [large]
    assert align.select_faces([small, large], "central", shape) == [small]
    assert align.select_faces([small, large], "all", shape) == [large, small]
    with pytest.raises(ValueError, match="unknown face policy"):
        align.select_faces([small], "biggest", shape)


@pytest.mark.slow
def test_flat_grey_image_raises_no_face_error_naming_the_file(tmp_path):
    from utils import image_io

    path = tmp_path / "grey_wall.png"
    image_io.save_image(path, np.full((120, 160, 3), 128, np.uint8))
    with pytest.raises(align.NoFaceError, match="grey_wall.png"):
        align.extract_face_chips(path)
    assert align.NoFaceError is errors.NoFaceError and issubclass(align.NoFaceError, ValueError)


@pytest.mark.slow
def test_several_faces_are_all_found_largest_first():
    photo = assets.resolve("faces_demo") / "ageitgey" / "test" / "obama_and_biden.jpg"
    chips, faces = align.extract_face_chips(photo, policy="all", return_faces=True)
    assert len(faces) >= 2 and chips.shape == (len(faces), 150, 150, 3)
    areas = [face.area for face in faces]
    assert areas == sorted(areas, reverse=True)
    for face in faces:
        # keypoints sit inside their box, left eye left of the right eye
        x, y, width, height = face.box
        assert np.all(face.keypoints[:, 0] > x - 2) and np.all(face.keypoints[:, 0] < x + width + 2)
        assert face.keypoints[0, 0] < face.keypoints[1, 0]
    assert align.extract_face_chips(photo).shape == (1, 150, 150, 3)


@pytest.mark.slow
def test_every_course_crop_gets_a_face():
    """The 96x96 course crops: MTCNN (with the pad/upscale retry) finds a face in all 18."""
    folder = assets.resolve("faces_demo") / "course"
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".png"))
    assert len(paths) == 18
    grey = np.full((96, 96, 3), 128, np.uint8)  # same shape: batched with the crops, finds nothing
    detections = align.detect_faces_batch([*paths, grey])
    assert all(len(faces) >= 1 for faces in detections[:-1]) and detections[-1] == []
    single = align.detect_faces(paths[3])[0]
    np.testing.assert_allclose(detections[3][0].keypoints, single.keypoints, atol=0.5)
    chip = align.extract_face_chips(paths[0])[0]
    assert chip.shape == (150, 150, 3) and chip.std() > 10
