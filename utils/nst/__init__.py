"""Neural style transfer (Gatys et al. 2015/2016) on ImageNet VGG19 features.

Modules, bottom up:

* :mod:`utils.nst.vgg` — Keras' VGG19 with ImageNet weights loaded by layer name, cut after the
  deepest layer needed (:func:`build_extractor`), and the weight-file checks;
* :mod:`utils.nst.settings` — the presets and :class:`NSTSettings` (a preset plus overrides);
* :mod:`utils.nst.images` — fitting style images to the output, colour preservation (YIQ);
* :mod:`utils.nst.lbfgs` — L-BFGS with box bounds in TensorFlow (the engine's second optimiser);
* :mod:`utils.nst.engine` — :class:`StyleTransfer` (Adam and L-BFGS, coarse-to-fine, the compute
  dtype chosen per machine) and :class:`NSTResult`;
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

from utils.errors import MissingWeightsError, NSTError
from utils.nst.engine import COARSE_MIN_SIDE, MEMORY_FRACTION, NSTResult, StyleTransfer
from utils.nst.images import combine_luminance, luminance_image, prepare_style_image
from utils.nst.settings import (COMPUTE_DTYPES, DEFAULT_COARSE_SCALE, DEFAULT_COARSE_SHARE, DEFAULT_PRESET, INITS,
                                OPTIMIZERS, PRESET_FIELDS, PRESETS, NSTSettings, Preset, get_preset)
from utils.nst.vgg import (ARCHITECTURE, BLOCKS, CONV_LAYER_NAMES, LAYER_NAMES, FeatureExtractor, WeightsChoice,
                           available_memory_bytes, build_extractor, choose_weights, deepest_layer,
                           estimate_activation_bytes, file_layers, layers_up_to, minimum_input_size, output_shape)

__all__ = [
    "StyleTransfer", "NSTResult", "NSTSettings", "Preset", "PRESETS", "DEFAULT_PRESET", "INITS", "OPTIMIZERS",
    "PRESET_FIELDS", "MEMORY_FRACTION", "COARSE_MIN_SIDE", "COMPUTE_DTYPES", "DEFAULT_COARSE_SCALE",
    "DEFAULT_COARSE_SHARE", "get_preset", "prepare_style_image", "luminance_image",
    "combine_luminance", "build_extractor", "FeatureExtractor", "WeightsChoice", "choose_weights", "file_layers",
    "BLOCKS", "ARCHITECTURE", "LAYER_NAMES", "CONV_LAYER_NAMES", "deepest_layer", "layers_up_to", "output_shape",
    "minimum_input_size", "estimate_activation_bytes", "available_memory_bytes", "NSTError", "MissingWeightsError",
]
