"""The face-recognition constants, each given its value here and nowhere else.

Every other module of :mod:`utils.faces` (and the checks, the tools and the notebooks) reads them
from this module, so changing a value changes it everywhere at once.

Example:
    >>> from utils.faces import constants
    >>> constants.CHIP_SIZE, constants.EMBEDDING_SIZE, constants.DEFAULT_THRESHOLD
    (150, 128, 0.6)
    >>> constants.NOT_RECOGNIZED
    'not recognized'
"""

from __future__ import annotations

#: Side, in pixels, of the square aligned RGB face chip that dlib's face ResNet takes.
CHIP_SIZE = 150

#: Length of an encoding (the descriptor dlib's face ResNet computes for one chip).
EMBEDDING_SIZE = 128

#: Euclidean distance below which two encodings are taken to show the same person. It is dlib's
#: own threshold, stored in the ``.dat`` file as the loss layer's threshold (99.38 % on LFW with
#: dlib's alignment); the k-fold LFW protocol fits 0.58-0.59 on our folds 1-2.
DEFAULT_THRESHOLD = 0.6

#: The identity that identification answers when no enrolled face is close enough.
NOT_RECOGNIZED = "not recognized"

#: Test-time augmentation default: average the encodings of the chip and of its mirror image.
#: Measured on LFW folds 1-2 (1200 pairs, ``python -m benchmarks.lfw_eval --compare-flip``):
#: flip on 99.00 % (AUC 0.99947, VAL@FAR<=1e-3 96.5 %) vs off 98.92 % (AUC 0.99944, VAL 95.7 %),
#: EER 1.0 % both; it costs a second forward pass per face, so it is on by default.
FLIP_DEFAULT = True

#: Per-channel RGB means that dlib subtracts before dividing by 256 (stored in the ``.dat`` file;
#: the converted model applies them itself, so callers pass raw 0..255 pixels).
MEAN_RGB = (122.782, 117.001, 104.298)
