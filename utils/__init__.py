"""Course library: assets, losses, image I/O, face engine, NST engine, exercise checks.

Modules are imported on demand (``from utils import losses``) so that importing ``utils`` itself
stays cheap and never starts TensorFlow. See the README's "The library" table for what each
module does.
"""

__all__ = [
    "assets", "checks", "config", "conv_arithmetic", "demo", "dlib_resnet", "face_align",
    "face_database", "face_encoder", "face_eval", "faces", "feature_visualization", "image_io",
    "losses", "nst", "prepare", "receptive_field", "student", "synthetic", "triplet_training",
    "unit_patches", "vgg",
]
