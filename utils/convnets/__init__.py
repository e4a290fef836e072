"""What convolutional networks compute and learn: the tools of notebooks 05 and 06.

* :mod:`utils.convnets.arithmetic` — output sizes, ``"same"`` padding, parameter counts and
  receptive fields (of a chain of layers or of any Keras model);
* :mod:`utils.convnets.visualize` — the image patches that activate a unit most, and the image a
  unit likes best (feature visualisation by gradient ascent);
* :mod:`utils.convnets.synthetic` — generated ECG-like signals and CT-like volumes for the Conv1D
  and Conv3D lessons.

The public API is re-exported here, so a notebook needs one import block::

    from utils.convnets import conv_output_shape, model_receptive_fields, top_patches, make_ecg_dataset

Importing this package does not import TensorFlow: the functions that need it import it when
called. The plots of these results are in :mod:`utils.plotting` (``show_unit_patches``,
``show_image_rows``, ``patch_grid``).

Example:
    >>> from utils.convnets import conv_output_length, receptive_field_step
    >>> conv_output_length(224, 11, stride=4, padding=2)
    55
    >>> receptive_field_step(1, 1, 0.0, kernel_size=11, stride=4, padding=0)
    (11, 4, 5.0)
"""

from utils.convnets.arithmetic import (
    PADDINGS,
    LayerSpec,
    ReceptiveField,
    conv_output_length,
    conv_output_shape,
    conv_param_count,
    dense_param_count,
    model_receptive_fields,
    receptive_field_step,
    receptive_fields,
    same_padding,
)
from utils.convnets.synthetic import (
    ECG_ABNORMALITIES,
    SyntheticDataset,
    ct_volume,
    ecg_strip,
    make_ecg_dataset,
    make_volume_dataset,
)
from utils.convnets.visualize import (
    LayerMaxima,
    UnitPatches,
    activation_maxima,
    crop_box,
    load_collection,
    pick_units,
    top_patches,
    unit_activations,
    visualize_units,
)

__all__ = [
    # arithmetic
    "PADDINGS", "LayerSpec", "ReceptiveField", "conv_output_length", "conv_output_shape",
    "conv_param_count", "dense_param_count", "model_receptive_fields", "receptive_field_step",
    "receptive_fields", "same_padding",
    # visualize
    "LayerMaxima", "UnitPatches", "activation_maxima", "crop_box", "load_collection", "pick_units",
    "top_patches", "unit_activations", "visualize_units",
    # synthetic
    "ECG_ABNORMALITIES", "SyntheticDataset", "ct_volume", "ecg_strip", "make_ecg_dataset",
    "make_volume_dataset",
]
