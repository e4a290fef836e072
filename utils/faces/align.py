"""Face detection (MTCNN) and five-point alignment to 150x150 chips for dlib's face ResNet.

Pipeline for one image:

1. :func:`detect_faces` runs MTCNN (the ``mtcnn`` package, weights bundled) and returns every
   face it finds as a :class:`Face` (box, five keypoints, confidence), largest first. A face
   needs an ONet probability of at least :data:`MIN_CONFIDENCE` (0.8, MTCNN's own default).
   When that plain pass finds nothing, the retries of :data:`RETRY_STRATEGIES` run in order until
   one finds a face: a copy padded with a replicated border (upscaled when the image is small: a
   tight crop has almost no context around the face, which MTCNN needs), then copies rotated by
   45 and 90 degrees either way (MTCNN misses faces rolled beyond about 40 degrees; the rotation
   whose face is the most confident wins).
2. :func:`similarity_transform` fits rotation + uniform scale + translation (least squares,
   Umeyama's closed form) from the five keypoints to :data:`CHIP_TEMPLATE`.
3. :func:`align_face` warps the image with that transform (bilinear sampling) into a chip.

Retries must rescue real faces, never invent them. Padding, upscaling and rotating all make
MTCNN see faces in textures, and the old retries also lowered ONet's threshold to 0.6 and 0.5:
7 of the 16 face-free images of ``datasets/nst`` (the cat, the bridge, paintings, textures)
got a 16-86 px "face". Now a face found by a retry is kept only when

* its ONet probability is at least :data:`RETRY_MIN_CONFIDENCE` (0.9), and
* the shorter side of its box is at least :data:`RETRY_MIN_FACE_FRACTION` (0.2) of the image's
  shorter side: retries are for portraits and tight crops, where the face is large.

How the rule was chosen (every MTCNN pass recorded down to probability 0.3, then replayed):

* face-free: the 16 face-free NST images and 224 crops and downscales of them (64-250 px, so
  they get the upscaled retry). Among all their retry detections, the most confident one that
  is large enough has probability 0.875; the largest one with probability >= 0.9 is 0.08 of the
  image side. The plain pass's most confident false face is 0.76 (below :data:`MIN_CONFIDENCE`).
* real faces: LFW photos rotated by 30, 50 and 90 degrees (198 each): the best rotated copy
  finds the face with probability >= 0.98 in 99 % of them (1 of 594 below 0.9), at 0.29-0.56 of
  the image side. 24-160 px tight crops and aligned chips of LFW faces are found by the plain
  pass (97 of 99 at 24 px; the padded, upscaled retry finds the other 2), as are the faces of
  all 1583 LFW images (lowest probability of the labelled face: 0.86) and the 68 demo images.
* geometry (eyes above nose above mouth, inter-ocular distance over box width, landmark
  symmetry, face size in pixels) does not separate false faces from real ones: ONet regresses
  its keypoints towards a mean face, so false faces have face-like layouts too (inter-ocular
  distance 0.30-0.54 of the box width, real faces 0.27-0.53).

Result with this module: face-free images with a face 7/16 -> 0/16 (crops: 18/224 -> 0/224);
LFW and demo images without a face: 0 -> 0; the rotated face found in 198/198 (30 degrees),
191 -> 197/198 (50) and 86 -> 195/198 (90 degrees). The plain pass is unchanged (it keeps
faces down to 17 px, such as a bystander in a demo photo).

Which face is used when one is needed (``policy`` of :func:`extract_face_chips`):
``"largest"`` (default) takes the face with the largest box, ``"central"`` the one whose box
centre is closest to the image centre (right for LFW, whose images are centred on the labelled
person), and ``"all"`` returns every face, largest first. No face raises :class:`NoFaceError`
naming the image: the library never falls back to embedding the whole picture silently.

Coordinates are ``(x, y)`` in pixel-index units (pixel ``i`` covers ``[i - 0.5, i + 0.5]``).
"Left eye" is the eye on the image's left.

MTCNN (and with it TensorFlow) is imported on the first detection, not when this module is
imported, so the geometry below can be used without TensorFlow.

Example:
    >>> from utils.faces import align
    >>> chips = align.extract_face_chips("photo.jpg", policy="all")   # doctest: +SKIP
    >>> chips.shape                                                     # doctest: +SKIP
    (2, 150, 150, 3)
    >>> face = align.Face(box=(10.0, 20.0, 40.0, 50.0), keypoints=np.zeros((5, 2)), confidence=0.99)
    >>> face.area, face.center
    (2000.0, (30.0, 45.0))
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from PIL import Image

from utils import image_io
from utils.errors import NoFaceError, UsageError
from utils.faces import constants

__all__ = [
    "CHIP_TEMPLATE",
    "KEYPOINT_NAMES",
    "POLICIES",
    "RETRY_STRATEGIES",
    "RetryStrategy",
    "Face",
    "NoFaceError",
    "get_detector",
    "detect_faces",
    "detect_faces_batch",
    "select_faces",
    "similarity_transform",
    "warp_affine",
    "align_face",
    "extract_face_chips",
    "chips_from_detections",
]

#: Where the five keypoints land in a 150x150 chip: left eye, right eye, nose tip, left and
#: right mouth corners ("left" = image left), in chip pixels (x, y).
CHIP_TEMPLATE = np.array(
    [
        [47.23, 44.79],
        [100.75, 44.70],
        [73.84, 77.05],
        [50.06, 103.71],
        [97.35, 103.66],
    ],
    dtype=np.float64,
)

#: Names of the keypoint rows, in order.
KEYPOINT_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")

#: Policies accepted by :func:`extract_face_chips` / :func:`select_faces`.
POLICIES = ("largest", "central", "all")

#: Images whose shorter side is below this many pixels are upscaled in the padded retry.
SMALL_IMAGE_SIDE = 200


class RetryStrategy(NamedTuple):
    """One retry pass: MTCNN on a modified copy of the image (default MTCNN thresholds).

    Attributes:
        border: border added on each side, as a fraction of the longer side (edge pixels
            replicated); 0 for none.
        upscale_side: for images under :data:`SMALL_IMAGE_SIDE`, upscale the padded copy so that
            its longer side has this many pixels; None for no upscaling.
        angle: rotate the copy by this many degrees counter-clockwise (the canvas grows to hold
            the whole image; the corners are black); 0 for no rotation.
    """

    border: float
    upscale_side: int | None
    angle: float


#: Retries run when the plain MTCNN pass finds nothing. A face counts only if it passes the rule
#: of :data:`RETRY_MIN_CONFIDENCE` and :data:`RETRY_MIN_FACE_FRACTION`. Upright retries run in
#: order and the first that finds a face wins; then every rotated copy is tried and the one with
#: the most confident face wins.
RETRY_STRATEGIES = (
    RetryStrategy(border=0.25, upscale_side=320, angle=0.0),
    RetryStrategy(border=0.0, upscale_side=None, angle=45.0),
    RetryStrategy(border=0.0, upscale_side=None, angle=-45.0),
    RetryStrategy(border=0.0, upscale_side=None, angle=90.0),
    RetryStrategy(border=0.0, upscale_side=None, angle=-90.0),
)

#: A face found by a retry needs at least this ONet probability (see the module docstring).
RETRY_MIN_CONFIDENCE = 0.9

#: A face found by a retry needs a box whose shorter side is at least this fraction of the
#: image's shorter side (see the module docstring).
RETRY_MIN_FACE_FRACTION = 0.2

#: Larger images are downscaled to this longer side for detection (keypoints are mapped back and
#: the chip is cut from the full-resolution image); MTCNN's cost grows with the pixel count.
MAX_DETECT_SIDE = 1024

#: Detections below this ONet confidence are dropped (MTCNN's own default threshold is 0.8).
MIN_CONFIDENCE = 0.8

#: Images per MTCNN call in :func:`detect_faces_batch` (same-shape images only).
DETECT_BATCH_SIZE = 16


@dataclasses.dataclass(frozen=True, eq=False)
class Face:
    """One detected face.

    Attributes:
        box: ``(x, y, width, height)`` of the face box in image pixels (floats). For a face
            found on a rotated copy, the upright rectangle that encloses MTCNN's rotated box.
        keypoints: ``(5, 2)`` float array of (x, y): left eye, right eye, nose, mouth left,
            mouth right (see :data:`KEYPOINT_NAMES`).
        confidence: MTCNN's ONet face probability in [0, 1].
    """

    box: tuple[float, float, float, float]
    keypoints: np.ndarray
    confidence: float

    @property
    def area(self) -> float:
        """Area of the box in square pixels."""
        return float(self.box[2] * self.box[3])

    @property
    def center(self) -> tuple[float, float]:
        """Centre ``(x, y)`` of the box."""
        return (self.box[0] + self.box[2] / 2.0, self.box[1] + self.box[3] / 2.0)

    def shifted(self, offset_x: float, offset_y: float, scale: float = 1.0) -> Face:
        """Map back from a copy padded by ``offset`` pixels and then resized by ``scale``.

        In pixel-index coordinates: ``original = (detected + 0.5) / scale - 0.5 - offset``.
        """
        x, y, width, height = self.box
        back = lambda value, offset: (value + 0.5) / scale - 0.5 - offset
        box = (back(x, offset_x), back(y, offset_y), width / scale, height / scale)
        keypoints = (self.keypoints + 0.5) / scale - 0.5 - np.array([offset_x, offset_y])
        return Face(box=box, keypoints=keypoints, confidence=self.confidence)


def _describe(image, name: str | None) -> str:
    if name:
        return str(name)
    if isinstance(image, (str, os.PathLike)):
        return str(image)
    shape = getattr(image, "shape", None)
    return f"the image array of shape {shape}" if shape is not None else "the image"


@functools.lru_cache(maxsize=1)
def get_detector():
    """Return the process-wide MTCNN detector (built on first use, then cached).

    Returns:
        ``mtcnn.MTCNN`` running P-, R- and O-Net on the CPU.
    """
    from mtcnn import MTCNN  # deferred: mtcnn imports TensorFlow, which is slow to import

    return MTCNN(stages="face_and_landmarks_detection", device="CPU:0")


def _rows_to_faces(rows: np.ndarray, min_confidence: float) -> list[Face]:
    """MTCNN's numpy rows ``[id, x1, y1, x2, y2, conf, 5 x, 5 y]`` -> faces, largest first."""
    faces = []
    for row in np.asarray(rows, dtype=np.float64).reshape(-1, 16):
        confidence = float(row[5])
        if confidence < min_confidence:
            continue
        x1, y1, x2, y2 = row[1:5]
        keypoints = np.stack([row[6:11], row[11:16]], axis=1)
        faces.append(
            Face(box=(float(x1), float(y1), float(x2 - x1), float(y2 - y1)), keypoints=keypoints, confidence=confidence)
        )
    faces.sort(key=lambda face: face.area, reverse=True)
    return faces


def _mtcnn(images, thresholds: tuple[float, float, float] | None):
    """Run MTCNN on one array or a list of same-shape arrays; returns rows (n, 16) (xyxy)."""
    kwargs = {}
    if thresholds is not None:
        kwargs = dict(threshold_pnet=thresholds[0], threshold_rnet=thresholds[1], threshold_onet=thresholds[2])
    rows = get_detector().detect_faces(images, box_format="xyxy", output_type="numpy", **kwargs)
    return np.asarray(rows, dtype=np.float64).reshape(-1, 16)


def _pad_and_scale(image: np.ndarray, border_fraction: float, target_side: int | None):
    height, width = image.shape[:2]
    border = int(round(border_fraction * max(height, width)))
    padded = np.pad(image, ((border, border), (border, border), (0, 0)), mode="edge")
    scale = 1.0
    if target_side is not None and max(padded.shape[:2]) < target_side:
        scale = target_side / max(padded.shape[:2])
        new_size = (int(round(padded.shape[1] * scale)), int(round(padded.shape[0] * scale)))
        padded = np.asarray(Image.fromarray(padded).resize(new_size, Image.BICUBIC))
        scale = new_size[0] / (width + 2 * border)
    return padded, border, scale


def _rotation(shape: tuple[int, ...], angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """2x3 map from image pixels to a canvas holding the image rotated ``angle`` degrees
    counter-clockwise about its centre, and the canvas ``(height, width)``."""
    height, width = shape[:2]
    radians = np.deg2rad(angle)
    cosine, sine = np.cos(radians), np.sin(radians)
    if abs(cosine) < 1e-12 or abs(sine) < 1e-12:  # exact multiples of 90 degrees
        cosine, sine = round(cosine), round(sine)
    rotation = np.array([[cosine, sine], [-sine, cosine]])  # y points down: counter-clockwise on screen
    corners = np.array([[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1]], np.float64)
    source_center = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    extent = (corners - source_center) @ rotation.T
    canvas_width = int(np.ceil(extent[:, 0].max() - extent[:, 0].min() - 1e-9)) + 1
    canvas_height = int(np.ceil(extent[:, 1].max() - extent[:, 1].min() - 1e-9)) + 1
    canvas_center = np.array([(canvas_width - 1) / 2.0, (canvas_height - 1) / 2.0])
    matrix = np.hstack([rotation, (canvas_center - rotation @ source_center)[:, None]])
    return matrix, (canvas_height, canvas_width)


def _unrotate(face: Face, matrix: np.ndarray) -> Face:
    """Map a face found on a rotated canvas back to the image: keypoints exactly, the box as the
    upright rectangle enclosing the rotated one."""
    inverse = _invert_affine(matrix)
    x, y, width, height = face.box
    corners = np.array([[x, y], [x + width, y], [x, y + height], [x + width, y + height]])
    corners = corners @ inverse[:, :2].T + inverse[:, 2]
    low, high = corners.min(axis=0), corners.max(axis=0)
    return Face(
        box=(float(low[0]), float(low[1]), float(high[0] - low[0]), float(high[1] - low[1])),
        keypoints=face.keypoints @ inverse[:, :2].T + inverse[:, 2],
        confidence=face.confidence,
    )


def _retry(array: np.ndarray, strategy: RetryStrategy, min_confidence: float) -> list[Face]:
    """Faces found by one retry pass, kept by the retry rule, in the image's coordinates."""
    min_side = RETRY_MIN_FACE_FRACTION * min(array.shape[:2])
    if strategy.angle:
        matrix, canvas = _rotation(array.shape, strategy.angle)
        found = _rows_to_faces(_mtcnn(warp_affine(array, matrix, canvas), None), min_confidence)
        # a rotation keeps sizes: the box side is measured in the rotated frame, before mapping back
        faces = [_unrotate(face, matrix) for face in found if min(face.box[2:]) >= min_side]
        return sorted(faces, key=lambda face: face.area, reverse=True)
    small = min(array.shape[:2]) < SMALL_IMAGE_SIDE
    padded, border, scale = _pad_and_scale(array, strategy.border, strategy.upscale_side if small else None)
    found = [face.shifted(border, border, scale) for face in _rows_to_faces(_mtcnn(padded, None), min_confidence)]
    return [face for face in found if min(face.box[2:]) >= min_side]


def _detect_with_retries(array: np.ndarray, min_confidence: float, retry: bool) -> list[Face]:
    longer = max(array.shape[:2])
    if longer > MAX_DETECT_SIDE:
        scale = MAX_DETECT_SIDE / longer
        size = (max(1, int(round(array.shape[1] * scale))), max(1, int(round(array.shape[0] * scale))))
        small = np.asarray(Image.fromarray(array).resize(size, Image.BILINEAR, reducing_gap=2.0))
        scale = size[0] / array.shape[1]
        return [face.shifted(0.0, 0.0, scale) for face in _detect_with_retries(small, min_confidence, retry)]
    faces = _rows_to_faces(_mtcnn(array, None), min_confidence)
    if faces or not retry:
        return faces
    retry_confidence = max(min_confidence, RETRY_MIN_CONFIDENCE)
    best_rotated: list[Face] = []
    for strategy in RETRY_STRATEGIES:
        faces = _retry(array, strategy, retry_confidence)
        if not strategy.angle:
            if faces:  # an upright retry that finds a face ends the search
                return faces
        elif faces and (not best_rotated or _top_confidence(faces) > _top_confidence(best_rotated)):
            # every rotation is tried: a 45-degree copy of a sideways portrait can show a
            # bystander's face upright while the portrait's own face waits for the 90-degree copy
            best_rotated = faces
    return best_rotated


def _top_confidence(faces: Sequence[Face]) -> float:
    return max(face.confidence for face in faces)


def detect_faces(image, min_confidence: float = MIN_CONFIDENCE, retry: bool = True) -> list[Face]:
    """Find every face in an image with MTCNN.

    Args:
        image: a path or an RGB array (anything :func:`utils.image_io.load_image` accepts).
        min_confidence: drop detections with a lower ONet probability.
        retry: when nothing is found, retry on a padded (and, for images under
            :data:`SMALL_IMAGE_SIDE` pixels, upscaled) copy, then on rotated copies; a face found
            by a retry must pass the retry rule (see the module docstring).

    Returns:
        List of :class:`Face`, largest box first; empty when there is no face.

    Example:
        >>> faces = detect_faces("group.jpg")          # doctest: +SKIP
        >>> [round(face.confidence, 2) for face in faces]  # doctest: +SKIP
        [1.0, 0.99]
    """
    array = image_io.load_image(image)
    return _detect_with_retries(array, min_confidence, retry)


def detect_faces_batch(
    images: Sequence,
    min_confidence: float = MIN_CONFIDENCE,
    retry: bool = True,
    batch_size: int = DETECT_BATCH_SIZE,
    progress: bool = False,
) -> list[list[Face]]:
    """Like :func:`detect_faces` for many images, running MTCNN on batches of same-shape images.

    Batching is 3-6x faster than one call per image on a CPU. Images in which the batched pass
    finds nothing go through the single-image path (plain pass, then the retries), and images
    larger than :data:`MAX_DETECT_SIDE` are detected one by one after downscaling, as in
    :func:`detect_faces`.

    Args:
        images: paths or arrays.
        min_confidence, retry: as for :func:`detect_faces`.
        batch_size: images per MTCNN call.
        progress: show a tqdm progress bar.

    Returns:
        One list of faces per image, in input order.
    """
    arrays = [image_io.load_image(image) for image in images]
    results: list[list[Face] | None] = [None] * len(arrays)
    by_shape: dict[tuple, list[int]] = {}
    for index, array in enumerate(arrays):
        # large images are downscaled one by one on the single-image path
        key = ("single", index) if max(array.shape[:2]) > MAX_DETECT_SIDE else array.shape
        by_shape.setdefault(key, []).append(index)
    batches = [
        indices[start : start + batch_size]
        for indices in by_shape.values()
        for start in range(0, len(indices), batch_size)
    ]
    iterator: Iterable = batches
    if progress:
        from tqdm.auto import tqdm  # deferred: only progress bars need it

        iterator = tqdm(batches, desc="detecting faces", unit="batch")
    for batch in iterator:
        if len(batch) == 1:
            results[batch[0]] = _detect_with_retries(arrays[batch[0]], min_confidence, retry)
            continue
        rows = _mtcnn([arrays[index] for index in batch], None)
        for position, index in enumerate(batch):
            faces = _rows_to_faces(rows[rows[:, 0] == position], min_confidence)
            # Nothing found: run the single-image path (plain pass, then the retries). MTCNN also
            # returns nothing for a whole batch when one stage finds no candidate at all.
            results[index] = faces or _detect_with_retries(arrays[index], min_confidence, retry)
    return [faces if faces is not None else [] for faces in results]


def select_faces(
    faces: Sequence[Face], policy: str = "largest", image_shape: tuple[int, ...] | None = None
) -> list[Face]:
    """Apply a selection policy to detected faces.

    Args:
        faces: detections (any order).
        policy: ``"largest"`` (largest box), ``"central"`` (box centre closest to the image
            centre; needs ``image_shape``) or ``"all"`` (every face, largest first).
        image_shape: ``(height, width, ...)`` of the image, for ``"central"``.

    Returns:
        List of faces (one for "largest"/"central", all for "all"; empty if ``faces`` is).
    """
    if policy not in POLICIES:
        raise UsageError(f"unknown face policy {policy!r}; use one of {', '.join(POLICIES)}")
    ordered = sorted(faces, key=lambda face: face.area, reverse=True)
    if not ordered or policy == "all":
        return ordered
    if policy == "largest":
        return ordered[:1]
    if image_shape is None:
        raise UsageError("policy 'central' needs the image shape")
    center_y, center_x = image_shape[0] / 2.0, image_shape[1] / 2.0
    return [min(ordered, key=lambda face: (face.center[0] - center_x) ** 2 + (face.center[1] - center_y) ** 2)]


def similarity_transform(source_points, target_points) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) source -> target.

    Minimises ``sum_i |s R p_i + t - q_i|^2`` in closed form (Umeyama 1991): centre both point
    sets, take the SVD of their cross-covariance, force a proper rotation (no reflection), then
    the scale is the trace of the singular values (sign-corrected) over the source variance.

    Args:
        source_points: ``(n, 2)`` points, n >= 2, not all equal.
        target_points: ``(n, 2)`` corresponding points.

    Returns:
        ``(2, 3)`` float64 matrix ``M`` with ``target ~= M @ [x, y, 1]``.

    Example:
        >>> import numpy as np
        >>> square = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], float)
        >>> similarity_transform(square, 2 * square + 3).round(6).tolist()
        [[2.0, 0.0, 3.0], [0.0, 2.0, 3.0]]
    """
    source = np.asarray(source_points, dtype=np.float64)
    target = np.asarray(target_points, dtype=np.float64)
    if source.ndim != 2 or source.shape[1] != 2 or source.shape != target.shape or len(source) < 2:
        raise UsageError(
            f"similarity_transform needs two (n, 2) arrays with n >= 2; got {source.shape} and {target.shape}"
        )
    if not (np.all(np.isfinite(source)) and np.all(np.isfinite(target))):
        raise UsageError("similarity_transform: points must be finite")
    source_mean = source.mean(axis=0)
    target_mean = target.mean(axis=0)
    source_centered = source - source_mean
    target_centered = target - target_mean
    source_variance = np.mean(np.sum(source_centered**2, axis=1))
    if source_variance <= 1e-12:
        raise UsageError("similarity_transform: the source points all coincide")
    covariance = target_centered.T @ source_centered / len(source)
    left, singular_values, right_t = np.linalg.svd(covariance)
    correction = np.eye(2)
    if np.linalg.det(left) * np.linalg.det(right_t) < 0:
        correction[1, 1] = -1.0
    rotation = left @ correction @ right_t
    scale = np.trace(np.diag(singular_values) @ correction) / source_variance
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def _invert_affine(matrix: np.ndarray) -> np.ndarray:
    linear = matrix[:, :2]
    inverse_linear = np.linalg.inv(linear)
    return np.hstack([inverse_linear, (-inverse_linear @ matrix[:, 2])[:, None]])


def warp_affine(image: np.ndarray, matrix: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Warp ``image`` by the 2x3 affine ``matrix`` (source -> output pixels), bilinear, black border.

    Args:
        image: uint8 (H, W, 3).
        matrix: ``(2, 3)`` map from image pixel-index coordinates to output pixel-index coordinates.
        size: output side, or ``(height, width)``.

    Returns:
        uint8 array of shape ``(height, width, 3)``.
    """
    height, width = (size, size) if isinstance(size, int) else size
    inverse = _invert_affine(np.asarray(matrix, dtype=np.float64))
    # PIL samples the output at continuous coordinates (x + 0.5, y + 0.5) and reads the input at
    # continuous coordinates, where pixel i spans [i, i + 1). Our matrices use pixel-index
    # coordinates (pixel i centred on i), so shift by half a pixel on both sides.
    shift = np.array([0.5, 0.5])
    linear = inverse[:, :2]
    offset = inverse[:, 2] + shift - linear @ shift
    coefficients = (linear[0, 0], linear[0, 1], offset[0], linear[1, 0], linear[1, 1], offset[1])
    warped = Image.fromarray(np.ascontiguousarray(image)).transform(
        (width, height), Image.AFFINE, coefficients, resample=Image.BILINEAR, fillcolor=(0, 0, 0)
    )
    return np.asarray(warped, dtype=np.uint8)


def align_face(image, keypoints, size: int = constants.CHIP_SIZE) -> np.ndarray:
    """Warp a face to a ``size`` x ``size`` chip with its keypoints on :data:`CHIP_TEMPLATE`.

    Args:
        image: path or RGB array.
        keypoints: ``(5, 2)`` (x, y) in image pixels: left eye, right eye, nose, mouth left,
            mouth right (a :class:`Face`'s ``keypoints``).
        size: chip side; the template is scaled by ``size / 150``.

    Returns:
        uint8 array ``(size, size, 3)``.

    Example:
        >>> face = detect_faces("photo.jpg")[0]                 # doctest: +SKIP
        >>> align_face("photo.jpg", face.keypoints).shape       # doctest: +SKIP
        (150, 150, 3)
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.shape != (5, 2):
        raise UsageError(f"align_face needs (5, 2) keypoints; got shape {keypoints.shape}")
    if size < 8:
        raise UsageError(f"align_face: chip size must be at least 8 pixels, got {size}")
    array = image_io.load_image(image)
    template = CHIP_TEMPLATE * (size / constants.CHIP_SIZE)
    matrix = similarity_transform(keypoints, template)
    return warp_affine(array, matrix, size)


def extract_face_chips(
    image, policy: str = "largest", size: int = constants.CHIP_SIZE, name: str | None = None, return_faces: bool = False
):
    """Detect, select and align faces of one image.

    Args:
        image: path or RGB array.
        policy: ``"largest"`` (default), ``"central"`` or ``"all"`` (see the module docstring).
        size: chip side in pixels.
        name: how to call the image in error messages (defaults to its path).
        return_faces: also return the selected :class:`Face` objects.

    Returns:
        uint8 array ``(n, size, size, 3)`` (n = 1 unless policy is "all"), and the list of faces
        when ``return_faces`` is True.

    Raises:
        NoFaceError: no face was found (the message names the image).
    """
    array = image_io.load_image(image)
    faces = select_faces(detect_faces(array), policy, array.shape)
    if not faces:
        raise NoFaceError(f"no face found in {_describe(image, name)} ({array.shape[1]}x{array.shape[0]} pixels)")
    chips = np.stack([align_face(array, face.keypoints, size) for face in faces])
    return (chips, faces) if return_faces else chips


def chips_from_detections(
    arrays: Sequence[np.ndarray],
    detections: Sequence[Sequence[Face]],
    policy: str = "largest",
    size: int = constants.CHIP_SIZE,
) -> list[np.ndarray | None]:
    """Align the selected face of each image given precomputed detections (None where none)."""
    chips: list[np.ndarray | None] = []
    for array, faces in zip(arrays, detections):
        chosen = select_faces(faces, policy, array.shape)
        chips.append(np.stack([align_face(array, face.keypoints, size) for face in chosen]) if chosen else None)
    return chips
