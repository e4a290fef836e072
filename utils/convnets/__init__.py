"""What convolutional networks compute and learn: the tools of notebooks 05 and 06.

* :mod:`utils.convnets.arithmetic` — output sizes, ``"same"`` padding, parameter counts and
  receptive fields (of a chain of layers or of any Keras model);
* :mod:`utils.convnets.visualize` — the image patches that activate a unit most, and the image a
  unit likes best (feature visualisation by gradient ascent);
* :mod:`utils.convnets.synthetic` — generated ECG-like signals and CT-like volumes for the Conv1D
  and Conv3D lessons.
* :mod:`utils.convnets.widgets` — the notebooks' controls: the unit explorer (notebook 05) and
  "predict before you run" (notebook 06); imported by module path, like the bar chart, so that
  importing the package does not import ipywidgets.

What the notebooks use is re-exported here, so a notebook needs one import block::

    from utils.convnets import arithmetic, model_receptive_fields, top_patches, make_ecg_dataset

Importing this package does not import TensorFlow: the functions that need it import it when
called. The plots of these results are in :mod:`utils.plotting` (``show_unit_patches``,
``show_image_rows``, ``patch_grid``), except the comparison bar chart
:func:`utils.convnets.visualize.plot_grouped_bars`.

Example:
    >>> from utils.convnets import arithmetic
    >>> arithmetic.conv_output_length(224, 11, stride=4, padding=2)
    55
    >>> arithmetic.receptive_field_step(1, 1, 0.0, kernel_size=11, stride=4, padding=0)
    (11, 4, 5.0)
"""

from utils.convnets import arithmetic
from utils.convnets.arithmetic import model_receptive_fields
from utils.convnets.synthetic import ECG_ABNORMALITIES, make_ecg_dataset, make_volume_dataset
from utils.convnets.visualize import (
    activation_maxima,
    load_collection,
    pick_units,
    top_patches,
    unit_activations,
    visualize_units,
)

# What notebooks 05-06 use; everything else is imported from its module
# (``from utils.convnets.arithmetic import conv_output_length``), the bar chart too
# (``from utils.convnets.visualize import plot_grouped_bars``).
__all__ = [
    # arithmetic (notebook 06 calls the module's functions by their module name)
    "arithmetic",
    "model_receptive_fields",
    # visualize
    "activation_maxima",
    "load_collection",
    "pick_units",
    "top_patches",
    "unit_activations",
    "visualize_units",
    # synthetic
    "ECG_ABNORMALITIES",
    "make_ecg_dataset",
    "make_volume_dataset",
]
