"""A two-layer stand-in for VGG19's outputs, used by the ``train_step`` check tests.

``TinyNetwork`` returns what ``vgg_model_outputs`` returns in notebook 04 (the style layers' outputs,
then the content layer's), small enough that a test replays many update steps in a second, with
seeded kernels so that every run sees the same numbers.

Used by tests/test_checks_nst.py, tests/test_checks_families.py and tests/test_checks_declarations.py.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

#: The tiny network's two layers as notebook 04's STYLE_LAYERS: (layer name, weight).
STYLE_LAYERS = [("conv_a", 0.6), ("conv_b", 0.4)]
ALPHA, BETA = 10.0, 40.0


class TinyNetwork:
    """Two 3x3 ReLU convolutions with seeded random kernels; outputs [conv_a, conv_b, content=conv_b]."""

    def __init__(self):
        rng = np.random.default_rng(0)
        self.kernel_a = tf.constant(rng.normal(0, 0.5, (3, 3, 3, 4)).astype(np.float32))
        self.kernel_b = tf.constant(rng.normal(0, 0.5, (3, 3, 4, 5)).astype(np.float32))

    def __call__(self, image):
        conv_a = tf.nn.relu(tf.nn.conv2d(image, self.kernel_a, 1, "SAME"))
        conv_b = tf.nn.relu(tf.nn.conv2d(conv_a, self.kernel_b, 1, "SAME"))
        return [conv_a, conv_b, conv_b]
