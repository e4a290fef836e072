"""Neural style transfer (Gatys et al. 2015/2016) on ImageNet VGG19 features.

Modules, bottom up:

* :mod:`utils.nst.vgg` — Keras' VGG19 with ImageNet weights loaded by layer name, cut after the
  deepest layer needed (:func:`build_extractor`), and the weight-file checks;
* :mod:`utils.nst.settings` — the presets and :class:`NSTSettings` (a preset plus overrides);
* :mod:`utils.nst.images` — fitting style images to the output, colour preservation (YIQ);
* :mod:`utils.nst.lbfgs` — L-BFGS with box bounds in TensorFlow (the engine's second optimiser);
* :mod:`utils.nst.engine` — :class:`StyleTransfer` (Adam and L-BFGS, coarse-to-fine, the compute
  dtype chosen per machine) and :class:`NSTResult`;
* :mod:`utils.nst.plots` — the notebook's figures: Gram matrices as heatmaps, two co-occurring
  channel maps, cost curves, step times;
* :mod:`utils.nst.cache` — small results of the lecture's knobs computed once and stored under
  ``outputs/nst/explorer/`` (keyed by the settings and the images' hashes);
* :mod:`utils.nst.widgets` — notebook 04's controls (:class:`~utils.nst.widgets.KnobExplorer`,
  :class:`~utils.nst.widgets.StylisePhoto`; imported by module path, they import ipywidgets);
* :mod:`utils.nst.cli` — ``python -m utils.nst`` (see :func:`utils.nst.cli.main`).

Importing this package does not import TensorFlow; building an extractor or an engine does.

Example:
    >>> from utils.nst import NSTSettings, get_preset
    >>> get_preset("blocks123").content_layer
    'block3_conv2'
    >>> from utils.nst import StyleTransfer
    >>> engine = StyleTransfer("tubingen.jpg", ["starry_night.jpg"], size=256)   # doctest: +SKIP
    >>> result = engine.run(steps=200)                                         # doctest: +SKIP
"""

from utils.errors import MissingWeightsError
from utils.nst.engine import NSTResult, StyleTransfer
from utils.nst.images import prepare_style_image
from utils.nst.settings import DEFAULT_PRESET, PRESETS, NSTSettings, get_preset
from utils.nst.vgg import build_extractor, choose_weights, file_layers, layers_up_to

# What notebooks 04-05, utils.course.demo and benchmarks/nst_speed.py use; everything else is
# imported from its module (``from utils.nst.settings import INITS``), the figures too
# (``from utils.nst.plots import show_gram_matrices``).
__all__ = [
    "StyleTransfer",
    "NSTResult",
    "NSTSettings",
    "PRESETS",
    "DEFAULT_PRESET",
    "get_preset",
    "prepare_style_image",
    "build_extractor",
    "choose_weights",
    "file_layers",
    "layers_up_to",
    "MissingWeightsError",
]
