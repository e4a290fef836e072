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
* :mod:`~utils.faces.plots` -- the notebooks' face figures (triplet, FAR/FRR against the
  threshold, embedding projections, distance matrices, ROC curves): ``from utils.faces.plots import ...``;
* :mod:`~utils.faces.widgets` -- notebook 01's live controls, the threshold explorer and "Enroll
  yourself" (ipywidgets, on :mod:`utils.widgets`): ``from utils.faces.widgets import ThresholdExplorer, ...``;
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

from utils.faces.align import extract_face_chips
from utils.faces.chip_cache import load_face_chips
from utils.faces.constants import CHIP_SIZE, DEFAULT_THRESHOLD, FLIP_DEFAULT, NOT_RECOGNIZED
from utils.faces.course import img_to_encoding
from utils.faces.database import FaceDatabase
from utils.faces.distractors import DistractorModel
from utils.faces.encoder import encode_chips, encode_images, load_encoder
from utils.faces.lfw import evaluate_distances, evaluate_lfw, load_lfw_chips, read_pairs, subset_pairs
from utils.faces.manifest import read_manifest
from utils.faces.metrics import accuracy_at, auc, best_threshold, equal_error_rate, error_rates

# What the notebooks, the command lines, the checks and the benchmarks import from the package;
# everything else is imported from its module (``from utils.faces.align import detect_faces``).
__all__ = [
    # constants
    "CHIP_SIZE",
    "DEFAULT_THRESHOLD",
    "FLIP_DEFAULT",
    "NOT_RECOGNIZED",
    # detection, alignment and encodings
    "encode_chips",
    "encode_images",
    "extract_face_chips",
    "img_to_encoding",
    "load_encoder",
    "load_face_chips",
    # databases
    "DistractorModel",
    "FaceDatabase",
    # verification metrics and the LFW protocol
    "accuracy_at",
    "auc",
    "best_threshold",
    "equal_error_rate",
    "error_rates",
    "evaluate_distances",
    "evaluate_lfw",
    "load_lfw_chips",
    "read_pairs",
    "subset_pairs",
    # galleries
    "read_manifest",
]
