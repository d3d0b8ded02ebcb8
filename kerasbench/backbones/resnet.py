"""ResNet18 and ResNet34 (basic blocks) without their classifier, built here.

Each builder returns a functional ``keras.Model`` in the ``include_top=False`` style: it
maps an already preprocessed image tensor to the unpooled conv5 feature map. Layer names
follow Keras's ResNet50 (``conv1_conv``, ``conv2_block1_1_conv``, ..., ``conv5_block3_out``),
so the stage prefixes ``conv2_`` ... ``conv5_`` mean the same in both, while the layout and
arithmetic are torchvision's.
"""

from __future__ import annotations

import os

import keras

from kerasbench.backbones.preprocessing import _check_input_shape
from kerasbench.backbones.weights import load_weights_file

__all__ = [
    "RESNET_DEPTHS",
    "RESNET_MIN_SIZE",
    "RESNET_STAGE_FILTERS",
    "resnet",
    "resnet18",
    "resnet34",
]

RESNET_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
RESNET_STAGE_FILTERS = (64, 128, 256, 512)

# The ResNets pad everywhere and would run on smaller images, but 32 keeps them in line
# with Keras's ResNet50.
RESNET_MIN_SIZE = 32

# torchvision's BatchNorm settings (eps 1e-5, running-average factor 0.1), so that weights
# converted from torchvision give the same activations here.
_BATCH_NORM_EPSILON = 1e-5
_BATCH_NORM_MOMENTUM = 0.9

# torchvision initialises ResNet convolutions with kaiming_normal_(mode="fan_out").
_RESNET_KERNEL_INITIALIZER = {
    "class_name": "VarianceScaling",
    "config": {"scale": 2.0, "mode": "fan_out", "distribution": "untruncated_normal"},
}


def _conv(filters: int, kernel_size: int, strides: int, padding: str, name: str):
    # No bias: the BatchNormalization that follows every convolution has its own offset.
    return keras.layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        use_bias=False,
        kernel_initializer=_RESNET_KERNEL_INITIALIZER,
        name=name,
    )


def _batch_norm(name: str):
    return keras.layers.BatchNormalization(
        axis=-1, epsilon=_BATCH_NORM_EPSILON, momentum=_BATCH_NORM_MOMENTUM, name=name
    )


def _basic_block(x, filters: int, strides: int, project: bool, name: str):
    shortcut = x
    if project:
        shortcut = _conv(filters, 1, strides, "valid", name + "_0_conv")(x)
        shortcut = _batch_norm(name + "_0_bn")(shortcut)
    if strides == 1:
        y = _conv(filters, 3, 1, "same", name + "_1_conv")(x)
    else:
        # torchvision pads one pixel on every side; Keras's "same" with stride 2 pads only
        # bottom/right on even sizes, which would shift the grid of ported weights.
        y = keras.layers.ZeroPadding2D(1, name=name + "_1_pad")(x)
        y = _conv(filters, 3, strides, "valid", name + "_1_conv")(y)
    y = _batch_norm(name + "_1_bn")(y)
    y = keras.layers.Activation("relu", name=name + "_1_relu")(y)
    y = _conv(filters, 3, 1, "same", name + "_2_conv")(y)
    y = _batch_norm(name + "_2_bn")(y)
    y = keras.layers.Add(name=name + "_add")([shortcut, y])
    return keras.layers.Activation("relu", name=name + "_out")(y)


def resnet(
    depth: int = 34,
    input_shape: tuple = (224, 224, 3),
    weights: str | os.PathLike | None = None,
    name: str | None = None,
) -> keras.Model:
    """Basic-block ResNet (18 or 34 layers) without its classifier: the conv5 feature map.

    torchvision's layout: conv1 7x7/2 with 64 filters, BatchNormalization, ReLU, max-pool
    3x3/2 (both padded like torchvision); four stages of basic blocks ([2, 2, 2, 2] or
    [3, 4, 6, 3]) with 64, 128, 256, 512 filters; stages 3-5 start with stride 2 and a
    1x1 convolution + BatchNormalization shortcut. 512 output channels.

    Args:
        depth: 18 or 34.
        input_shape: ``(height, width, channels)`` of the preprocessed input.
        weights: ``None`` for a random initialisation, or the path of a weights file
            (``.weights.h5`` / ``.keras``: by topology; Keras 2 ``.h5``: by layer name);
            see :func:`load_weights_file`.
        name: model name; ``resnet18`` or ``resnet34`` by default.
    """
    if isinstance(depth, bool) or depth not in RESNET_DEPTHS:
        raise ValueError(f"ResNet depth must be one of {sorted(RESNET_DEPTHS)}, got {depth!r}")
    input_shape = _check_input_shape(input_shape, RESNET_MIN_SIZE, f"ResNet{depth}")
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
    x = _conv(64, 7, 2, "valid", "conv1_conv")(x)
    x = _batch_norm("conv1_bn")(x)
    x = keras.layers.Activation("relu", name="conv1_relu")(x)
    # Zero padding is as good as -inf padding here: the ReLU output it pads is never negative.
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    in_channels = 64
    for stage_index, (blocks, filters) in enumerate(
        zip(RESNET_DEPTHS[depth], RESNET_STAGE_FILTERS, strict=True)
    ):
        for block_index in range(blocks):
            strides = 2 if (block_index == 0 and stage_index > 0) else 1
            project = strides != 1 or in_channels != filters
            x = _basic_block(
                x, filters, strides, project, name=f"conv{stage_index + 2}_block{block_index + 1}"
            )
            in_channels = filters
    model = keras.Model(inputs, x, name=name or f"resnet{depth}")
    if weights is not None:
        load_weights_file(model, weights)
    return model


def resnet18(input_shape=(224, 224, 3), weights=None, name=None) -> keras.Model:
    """ResNet18 without its classifier (see :func:`resnet`)."""
    return resnet(18, input_shape=input_shape, weights=weights, name=name)


def resnet34(input_shape=(224, 224, 3), weights=None, name=None) -> keras.Model:
    """ResNet34 without its classifier (see :func:`resnet`)."""
    return resnet(34, input_shape=input_shape, weights=weights, name=name)
