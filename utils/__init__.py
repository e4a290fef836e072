"""Course library, in layers (see docs/ARCHITECTURE.md):

* the core — :mod:`utils.config`, :mod:`utils.assets`, :mod:`utils.errors`, :mod:`utils.files`,
  :mod:`utils.image_io`, :mod:`utils.losses`, :mod:`utils.plotting`;
* one package per application — :mod:`utils.faces`, :mod:`utils.nst`, :mod:`utils.convnets`;
* the exercise checks, :mod:`utils.checks`;
* course tooling (setup, demo, student notebooks, grading), :mod:`utils.course`.

Importing ``utils`` is cheap (it never starts TensorFlow) and quiets TensorFlow's C++ start-up
log before anything else can import it (see :mod:`utils.config`).
"""

from utils import config  # noqa: F401  (sets the TensorFlow log level before TF is imported)
