"""Course library: assets, losses, image I/O, face engine, NST engine, exercise checks.

Modules are imported on demand (``from utils import losses``) so that importing ``utils`` itself
stays cheap and never starts TensorFlow.
"""

__all__ = ["assets", "config", "image_io", "losses"]
