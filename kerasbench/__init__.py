"""kerasbench: reproducible Keras image-classification studies on folders of images."""

__version__ = "0.1.0"
