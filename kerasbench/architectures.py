"""Backbones that Keras Applications does not ship: SqueezeNet 1.0/1.1 and ResNet18/34.

Every builder returns a functional ``keras.Model`` in the ``include_top=False`` style: it
maps an already preprocessed image tensor to the unpooled feature map, so the registry in
``backbones.py`` can put its preprocessing layer in front and a head can pool it.

Layer names follow the projects whose weight files people have:

- SqueezeNet follows keras-squeezenet (``conv1``, ``fire2`` ... ``fire9``). Keras 3 forbids
  ``/`` in layer names, so keras-squeezenet's ``fire2/squeeze1x1`` is ``fire2_squeeze1x1``
  here; :func:`load_weights_file` translates the names when it reads a Keras 2 file.
- ResNet18/34 follow Keras's ResNet50 (``conv1_conv``, ``conv2_block1_1_conv``, ...,
  ``conv5_block3_out``), so the stage prefixes ``conv2_`` ... ``conv5_`` mean the same in
  both, while the layout and arithmetic are torchvision's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import h5py
import keras
import numpy as np

SQUEEZENET_VERSIONS = ("1.0", "1.1")
RESNET_DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
RESNET_STAGE_FILTERS = (64, 128, 256, 512)

# The smallest square input each architecture turns into at least a 1x1 feature map.
# SqueezeNet's unpadded pools make the bound exact; the ResNets pad everywhere and would
# run on smaller images, but 32 keeps them in line with Keras's ResNet50.
SQUEEZENET_MIN_SIZE = {"1.0": 35, "1.1": 31}
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


# --------------------------------------------------------------------------- SqueezeNet


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


# ------------------------------------------------------------------------------ ResNet


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


# ------------------------------------------------------------------------ weight files


def load_weights_file(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """Load a weights file into ``model`` and return the model.

    A Keras 2 ``.h5`` file (one with a ``layer_names`` attribute, at the top or under
    ``model_weights``) is read by layer name with :func:`load_legacy_h5_weights`, which
    is what makes keras-squeezenet's files usable. Anything else (``.weights.h5``,
    ``.keras``) goes to ``model.load_weights``, which matches by topology.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file's layers or weight shapes do not fit the model.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file not found: {path} (model {model.name!r}); pass the path of an "
            "existing .h5, .weights.h5 or .keras file"
        )
    if path.suffix in (".h5", ".hdf5") and _is_legacy_h5(path):
        return load_legacy_h5_weights(model, path)
    model.load_weights(str(path))
    return model


def _is_legacy_h5(path: Path) -> bool:
    with h5py.File(path, "r") as handle:
        if "layer_names" in handle.attrs:
            return True
        group = handle.get("model_weights")
        return group is not None and "layer_names" in group.attrs


def _decode(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _legacy_layer_weights(path: Path) -> Iterator[tuple[str, list[np.ndarray]]]:
    """(layer name, weight arrays in saved order) for each layer of a Keras 2 h5 file."""
    with h5py.File(path, "r") as handle:
        group = handle
        if "layer_names" not in handle.attrs and "model_weights" in handle:
            group = handle["model_weights"]
        for layer_name in (_decode(name) for name in group.attrs["layer_names"]):
            layer_group = group[layer_name]
            weight_names = [_decode(name) for name in layer_group.attrs.get("weight_names", [])]
            if weight_names:
                yield layer_name, [np.asarray(layer_group[name]) for name in weight_names]


def load_legacy_h5_weights(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """Set ``model``'s weights from a Keras 2 ``.h5`` file, matching layers by name.

    A ``/`` in a saved layer name becomes ``_`` (Keras 3 does not allow ``/``), so
    keras-squeezenet's ``fire2/squeeze1x1`` fills ``fire2_squeeze1x1``. Every layer of the
    model that has weights must be in the file with the same number and shapes of arrays;
    layers of the file that the model lacks (a classifier, when the model has none) are
    ignored. Nothing is set unless everything fits.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a layer is missing from the file, or its weights differ in count or shape.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    saved = {name.replace("/", "_"): arrays for name, arrays in _legacy_layer_weights(path)}
    assignments = []
    missing = []
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in saved:
            missing.append(layer.name)
            continue
        arrays = saved[layer.name]
        expected = [tuple(weight.shape) for weight in layer.weights]
        found = [tuple(array.shape) for array in arrays]
        if expected != found:
            raise ValueError(
                f"weights file {path} does not fit model {model.name!r}: layer "
                f"{layer.name!r} needs weight shapes {expected}, the file has {found}"
            )
        assignments.append((layer, arrays))
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise ValueError(
            f"weights file {path} does not fit model {model.name!r}: it has no weights for "
            f"{len(missing)} of the model's layers ({shown}); the file's layers are "
            f"{', '.join(sorted(saved)[:10])}{' ...' if len(saved) > 10 else ''}"
        )
    for layer, arrays in assignments:
        layer.set_weights(arrays)
    return model
