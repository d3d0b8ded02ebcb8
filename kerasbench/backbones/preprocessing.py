"""The input side of every backbone: ImageNet preprocessing as a layer, input-shape checks.

:class:`ImagePreprocessing` sits in front of each base model built by
:func:`kerasbench.backbones.build_backbone`, so data pipelines feed raw 0..255 pixels and a
saved model carries its preprocessing. It is registered for Keras serialisation as
``kerasbench>ImagePreprocessing``.
"""

from __future__ import annotations

import keras
import numpy as np

__all__ = ["PREPROCESSING_MODES", "ImagePreprocessing"]

PREPROCESSING_MODES = ("caffe", "tf", "torch", "none")

# keras.applications.imagenet_utils' constants, in the order it applies them.
_CAFFE_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype="float32")
_TORCH_MEAN_RGB = np.array([0.485, 0.456, 0.406], dtype="float32")
_TORCH_STD_RGB = np.array([0.229, 0.224, 0.225], dtype="float32")


@keras.saving.register_keras_serializable(package="kerasbench")
class ImagePreprocessing(keras.layers.Layer):
    """ImageNet preprocessing of raw 0..255 RGB pixels, as a weightless layer.

    Modes match ``keras.applications.<family>.preprocess_input`` operation for operation:

    - ``"caffe"`` (VGG, ResNet50, SqueezeNet): RGB -> BGR, then subtract the BGR means
      ``[103.939, 116.779, 123.68]``; no scaling.
    - ``"tf"`` (Xception, InceptionV3): ``x / 127.5 - 1``, to [-1, 1].
    - ``"torch"`` (DenseNet, torchvision ResNets): ``x / 255``, then subtract the ImageNet
      mean ``[0.485, 0.456, 0.406]`` and divide by the std ``[0.229, 0.224, 0.225]``.
    - ``"none"``: unchanged (EfficientNet rescales and normalises inside its own model).

    A one-channel (grey) input is first repeated to three channels, since every ImageNet
    backbone expects RGB. The constants are plain arrays, not weights, so the layer adds
    nothing to parameter counts.
    """

    def __init__(self, mode: str = "none", **kwargs):
        super().__init__(**kwargs)
        if mode not in PREPROCESSING_MODES:
            raise ValueError(
                f"preprocessing mode must be one of {PREPROCESSING_MODES}, got {mode!r}"
            )
        self.mode = mode

    def call(self, inputs):
        x = inputs
        if x.shape[-1] == 1:
            x = keras.ops.repeat(x, 3, axis=-1)
        if self.mode == "tf":
            x = x / 127.5
            return x - 1.0
        if self.mode == "torch":
            x = x / 255.0
            x = x + keras.ops.convert_to_tensor(-_TORCH_MEAN_RGB, dtype=x.dtype)
            return x / keras.ops.convert_to_tensor(_TORCH_STD_RGB, dtype=x.dtype)
        if self.mode == "caffe":
            x = keras.ops.flip(x, axis=-1)
            return x + keras.ops.convert_to_tensor(-_CAFFE_MEAN_BGR, dtype=x.dtype)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (3,)

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


def _check_input_shape(input_shape, min_size: int, label: str) -> tuple:
    shape = tuple(input_shape)
    if len(shape) != 3:
        raise ValueError(f"{label} needs input_shape (height, width, channels), got {shape}")
    for size in shape[:2]:
        if size is not None and (not isinstance(size, (int, np.integer)) or size < min_size):
            raise ValueError(
                f"{label} needs an input of at least {min_size}x{min_size} pixels; "
                f"got input_shape {shape}"
            )
    return shape
