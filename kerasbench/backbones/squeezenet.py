"""SqueezeNet 1.0 and 1.1 without their classifier, which Keras Applications does not ship.

Each builder returns a functional ``keras.Model`` in the ``include_top=False`` style: it
maps an already preprocessed image tensor to the unpooled fire9 feature map, so the
registry can put its preprocessing layer in front and a head can pool it.

Layer names follow keras-squeezenet (``conv1``, ``fire2`` ... ``fire9``), whose weight
files people have. Keras 3 forbids ``/`` in layer names, so keras-squeezenet's
``fire2/squeeze1x1`` is ``fire2_squeeze1x1`` here;
:func:`~kerasbench.backbones.weights.load_weights_file` translates the names when it reads
a Keras 2 file.
"""

from __future__ import annotations

import os

import keras

from kerasbench.backbones.preprocessing import _check_input_shape
from kerasbench.backbones.weights import load_weights_file

__all__ = [
    "SQUEEZENET_MIN_SIZE",
    "SQUEEZENET_VERSIONS",
    "squeezenet",
    "squeezenet1_0",
    "squeezenet1_1",
]

SQUEEZENET_VERSIONS = ("1.0", "1.1")
# The smallest square input that still gives at least a 1x1 feature map; SqueezeNet's
# unpadded pools make the bound exact.
SQUEEZENET_MIN_SIZE = {"1.0": 35, "1.1": 31}


def _fire_module(x, module_id: int, squeeze: int, expand: int):
    prefix = f"fire{module_id}_"
    x = keras.layers.Conv2D(squeeze, 1, padding="valid", name=prefix + "squeeze1x1")(x)
    x = keras.layers.Activation("relu", name=prefix + "relu_squeeze1x1")(x)
    left = keras.layers.Conv2D(expand, 1, padding="valid", name=prefix + "expand1x1")(x)
    left = keras.layers.Activation("relu", name=prefix + "relu_expand1x1")(left)
    right = keras.layers.Conv2D(expand, 3, padding="same", name=prefix + "expand3x3")(x)
    right = keras.layers.Activation("relu", name=prefix + "relu_expand3x3")(right)
    return keras.layers.Concatenate(axis=-1, name=prefix + "concat")([left, right])


def _max_pool(x, name: str):
    # keras-squeezenet pools without padding; "same" would change every later shape.
    return keras.layers.MaxPooling2D(pool_size=3, strides=2, padding="valid", name=name)(x)


def squeezenet(
    version: str = "1.1",
    input_shape: tuple = (224, 224, 3),
    weights: str | os.PathLike | None = None,
    name: str | None = None,
) -> keras.Model:
    """SqueezeNet without its classifier: the fire9 feature map (512 channels).

    The classifier of the paper (dropout, conv10 1x1, global average pooling, softmax) is
    left out; a head pools fire9 instead.

    Args:
        version: ``"1.1"`` (3x3/2 conv1 with 64 filters, pools after conv1, fire3, fire5)
            or ``"1.0"`` (7x7/2 conv1 with 96 filters, pools after conv1, fire4, fire8).
        input_shape: ``(height, width, channels)`` of the preprocessed input.
        weights: ``None`` for a random initialisation, or the path of a weights file (a
            Keras 2 ``.h5`` such as keras-squeezenet's ``squeezenet_v1.1_imagenet_notop.h5``,
            a ``.weights.h5`` or a ``.keras`` file); see :func:`load_weights_file`.
        name: model name; ``squeezenet1_1`` or ``squeezenet1_0`` by default.
    """
    version = str(version)
    if version not in SQUEEZENET_VERSIONS:
        raise ValueError(
            f"SqueezeNet version must be one of {SQUEEZENET_VERSIONS}, got {version!r}"
        )
    input_shape = _check_input_shape(
        input_shape, SQUEEZENET_MIN_SIZE[version], f"SqueezeNet {version}"
    )
    inputs = keras.Input(shape=input_shape, name="input")
    if version == "1.1":
        x = keras.layers.Conv2D(64, 3, strides=2, padding="valid", name="conv1")(inputs)
        x = keras.layers.Activation("relu", name="relu_conv1")(x)
        x = _max_pool(x, "pool1")
        x = _fire_module(x, 2, squeeze=16, expand=64)
        x = _fire_module(x, 3, squeeze=16, expand=64)
        x = _max_pool(x, "pool3")
        x = _fire_module(x, 4, squeeze=32, expand=128)
        x = _fire_module(x, 5, squeeze=32, expand=128)
        x = _max_pool(x, "pool5")
    else:
        x = keras.layers.Conv2D(96, 7, strides=2, padding="valid", name="conv1")(inputs)
        x = keras.layers.Activation("relu", name="relu_conv1")(x)
        x = _max_pool(x, "pool1")
        x = _fire_module(x, 2, squeeze=16, expand=64)
        x = _fire_module(x, 3, squeeze=16, expand=64)
        x = _fire_module(x, 4, squeeze=32, expand=128)
        x = _max_pool(x, "pool4")
        x = _fire_module(x, 5, squeeze=32, expand=128)
    x = _fire_module(x, 6, squeeze=48, expand=192)
    x = _fire_module(x, 7, squeeze=48, expand=192)
    x = _fire_module(x, 8, squeeze=64, expand=256)
    if version == "1.0":
        x = _max_pool(x, "pool8")
    x = _fire_module(x, 9, squeeze=64, expand=256)
    default_name = "squeezenet" + version.replace(".", "_")
    model = keras.Model(inputs, x, name=name or default_name)
    if weights is not None:
        load_weights_file(model, weights)
    return model


def squeezenet1_0(input_shape=(227, 227, 3), weights=None, name=None) -> keras.Model:
    """SqueezeNet 1.0 without its classifier (see :func:`squeezenet`)."""
    return squeezenet("1.0", input_shape=input_shape, weights=weights, name=name)


def squeezenet1_1(input_shape=(224, 224, 3), weights=None, name=None) -> keras.Model:
    """SqueezeNet 1.1 without its classifier (see :func:`squeezenet`)."""
    return squeezenet("1.1", input_shape=input_shape, weights=weights, name=name)
