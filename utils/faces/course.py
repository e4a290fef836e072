"""The course's face-recognition functions: ``img_to_encoding``, ``verify`` and ``who_is_it``.

They keep the signatures and messages of the course (learners call them and compare their own
exercise solutions with them) and are built from the library's two halves: images become
encodings in :mod:`utils.faces.encoder` (detect with MTCNN, take the largest face, align it to a
150x150 chip, run dlib's face ResNet with flip averaging), and decisions are taken by
:class:`utils.faces.database.FaceDatabase`. ``database`` is the course's ``{name: encoding}``
dictionary or a :class:`~utils.faces.database.FaceDatabase`.

Example:
    >>> from utils.faces import course
    >>> database = {"younes": course.img_to_encoding("younes.jpg")}   # doctest: +SKIP
    >>> course.verify("camera_0.jpg", "younes", database)             # doctest: +SKIP
    It's younes, welcome in!
    (0.41..., True)
"""

from __future__ import annotations

import numpy as np

from utils.faces import constants, encoder
from utils.faces.database import FaceDatabase


def img_to_encoding(image_path_or_array, model=None) -> np.ndarray:
    """The course's ``img_to_encoding``: the largest face of one image -> encoding of shape (1, 128).

    Args:
        image_path_or_array: path or RGB array.
        model: Keras encoder (default: the cached converted dlib ResNet).

    Returns:
        float32 ``(1, 128)``.

    Raises:
        utils.errors.NoFaceError: the image holds no face.
        utils.errors.ImageError: the image cannot be read.

    Example:
        >>> encoding = img_to_encoding("images/younes.jpg")    # doctest: +SKIP
        >>> encoding.shape                                      # doctest: +SKIP
        (1, 128)
    """
    return encoder.encode_images([image_path_or_array], model=model)


def _as_database(database, threshold: float | None) -> FaceDatabase:
    """``database`` as a :class:`FaceDatabase` (a copy when another threshold is asked for)."""
    if isinstance(database, FaceDatabase):
        if threshold is None:
            return database
        database = dict(database.items())
    return FaceDatabase.from_dict(database, threshold=threshold)


def verify(
    image_path, identity: str, database, model=None, threshold: float | None = None, verbose: bool = True
) -> tuple[float, bool]:
    """The course's ``verify``: is the person in ``image_path`` really ``identity``?

    Args:
        image_path: path or array of the person at the door.
        identity: claimed name.
        database: ``{name: encoding}`` dict (course style) or a :class:`FaceDatabase`.
        model: encoder.
        threshold: decision threshold (default: the database's, 0.6 for dlib's encoder).
        verbose: print the course's welcome / go-away message.

    Returns:
        ``(distance, door_open)``.

    Raises:
        utils.errors.UnknownIdentityError: ``identity`` is not in the database.

    Example:
        >>> verify("camera_0.jpg", "younes", database)          # doctest: +SKIP
        It's younes, welcome in!
        (0.41..., True)
    """
    faces_database = _as_database(database, threshold)
    faces_database.encodings(identity)  # an unknown identity fails here, before the slow encoding
    encoding = img_to_encoding(image_path, model)[0]
    distance, door_open = faces_database.verify(encoding, identity)
    if verbose:
        print(f"It's {identity}, welcome in!" if door_open else f"It's not {identity}, please go away")
    return distance, door_open


def who_is_it(
    image_path, database, model=None, threshold: float | None = None, verbose: bool = True
) -> tuple[float, str]:
    """The course's ``who_is_it``: nearest enrolled identity of the face in ``image_path``.

    Args:
        image_path: path or array of the person at the door.
        database: ``{name: encoding}`` dict (course style) or a :class:`FaceDatabase`.
        model: encoder.
        threshold: decision threshold (default: the database's, 0.6 for dlib's encoder).
        verbose: print the course's message.

    Returns:
        ``(min_distance, identity)``; identity is ``"not recognized"``
        (:data:`utils.faces.constants.NOT_RECOGNIZED`) at or beyond the threshold.

    Example:
        >>> who_is_it("camera_1.jpg", database)                  # doctest: +SKIP
        it's bertrand, the distance is 0.372
        (0.372..., 'bertrand')
    """
    faces_database = _as_database(database, threshold)
    distance, identity = faces_database.identify(img_to_encoding(image_path, model)[0])
    if verbose:
        if identity == constants.NOT_RECOGNIZED:
            print("Not in the database.")
        else:
            print(f"it's {identity}, the distance is {distance:.3f}")
    return distance, identity
