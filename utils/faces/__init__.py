"""Face verification and recognition: detect, align, encode, compare (notebooks 01-03).

The package, bottom to top (each module imports only those above it in this list):

* :mod:`~utils.faces.constants` -- chip size, encoding size, threshold, ``NOT_RECOGNIZED``;
* :mod:`~utils.faces.align` -- MTCNN detection and five-point alignment to 150x150 chips;
* :mod:`~utils.faces.encoder` -- the converted dlib ResNet; images and chips -> 128-d encodings
  (the one place where that happens);
* :mod:`~utils.faces.index` -- the FAISS index behind large databases (IVF-PQ, IVF-Flat, HNSW;
  candidates re-ranked exactly); FAISS is imported on first use;
* :mod:`~utils.faces.database` -- :class:`FaceDatabase`: enrolled encodings, 1:1 and 1:K search;
* :mod:`~utils.faces.distractors` -- :class:`DistractorModel`: synthetic encodings drawn from the
  distribution of real ones, to test 1:K search at 10^6 faces;
* :mod:`~utils.faces.course` -- the course's ``img_to_encoding``, ``verify``, ``who_is_it``;
* :mod:`~utils.faces.metrics`, :mod:`~utils.faces.chip_cache`, :mod:`~utils.faces.lfw` -- the LFW
  verification protocol and its figures;
* :mod:`~utils.faces.manifest` -- the ``manifest.csv`` of the demo galleries;
* :mod:`~utils.faces.training` -- triplet training (PK batches, mining strategies). It imports
  TensorFlow, so it is not re-exported here: ``from utils.faces.training import PKSampler, ...``;
* :mod:`~utils.faces.dlib_resnet` -- the converter of dlib's ``.dat`` (run by ``make setup``);
* :mod:`~utils.faces.cli` -- ``python -m utils.faces enroll|verify|identify|evaluate|set-threshold|reindex``.

Importing the package is cheap: TensorFlow, Keras, MTCNN, scikit-learn, matplotlib and FAISS are
imported by the functions that need them, on first use.

Example:
    >>> from utils.faces import FaceDatabase, NOT_RECOGNIZED, img_to_encoding
    >>> database = FaceDatabase.from_dict({"younes": img_to_encoding("younes.jpg")})   # doctest: +SKIP
    >>> FaceDatabase().identify([0.0] * 128)
    (inf, 'not recognized')
"""

from utils.faces.align import (Face, NoFaceError, align_face, detect_faces, detect_faces_batch,
                               extract_face_chips, select_faces, similarity_transform)
from utils.faces.chip_cache import load_face_chips
from utils.faces.constants import (CHIP_SIZE, DEFAULT_THRESHOLD, EMBEDDING_SIZE, FLIP_DEFAULT, MEAN_RGB,
                                   NOT_RECOGNIZED)
from utils.faces.course import img_to_encoding, verify, who_is_it
from utils.faces.database import DatabaseError, FaceDatabase, UnknownIdentityError, check_identity
from utils.faces.distractors import DistractorModel
from utils.faces.encoder import encode_all_faces, encode_chips, encode_images, load_encoder, validate_chips
from utils.faces.index import ApproximateIndex
from utils.faces.lfw import (EvaluationResult, Pair, center_chip, evaluate_distances, evaluate_lfw,
                             lfw_image_path, load_lfw_chips, read_pairs, subset_pairs)
from utils.faces.manifest import read_manifest
from utils.faces.metrics import (ErrorRates, accuracy_at, auc, best_threshold, equal_error_rate, error_rates,
                                 roc_curve, val_at_far)

__all__ = [
    # constants
    "CHIP_SIZE", "DEFAULT_THRESHOLD", "EMBEDDING_SIZE", "FLIP_DEFAULT", "MEAN_RGB", "NOT_RECOGNIZED",
    # errors raised here
    "DatabaseError", "NoFaceError", "UnknownIdentityError",
    # detection and alignment
    "Face", "align_face", "detect_faces", "detect_faces_batch", "extract_face_chips", "select_faces",
    "similarity_transform",
    # encodings
    "encode_all_faces", "encode_chips", "encode_images", "load_encoder", "validate_chips",
    # database, its index and the course API
    "ApproximateIndex", "DistractorModel", "FaceDatabase", "check_identity", "img_to_encoding", "verify",
    "who_is_it",
    # verification metrics and the LFW protocol
    "ErrorRates", "accuracy_at", "auc", "best_threshold", "equal_error_rate", "error_rates", "roc_curve",
    "val_at_far",
    "EvaluationResult", "Pair", "center_chip", "evaluate_distances", "evaluate_lfw", "lfw_image_path",
    "load_face_chips", "load_lfw_chips", "read_pairs", "subset_pairs",
    # galleries
    "read_manifest",
]
