"""The one registry of backbones: name -> :class:`BackboneSpec`, and the model builder.

:func:`build_backbone` returns a ``keras.Model`` that takes raw RGB pixels (float32,
0..255), applies the backbone's own ImageNet preprocessing in an
:class:`ImagePreprocessing` layer, and runs the convolutional base without its classifier,
returning the unpooled feature map. Because the preprocessing lives inside the model, data
pipelines never call ``preprocess_input`` and a saved model carries its preprocessing.

The model's layers are ``image`` (input), ``preprocessing`` and the base, a nested model
named after the backbone (``resnet50``); the model itself is ``<name>_backbone``.
:func:`find_backbone` finds these again in a built classifier, also after saving and
loading, which is how ``heads.set_trainable`` knows the stages of a model.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

from kerasbench.backbones.preprocessing import ImagePreprocessing
from kerasbench.backbones.resnet import RESNET_MIN_SIZE, resnet18, resnet34
from kerasbench.backbones.squeezenet import SQUEEZENET_MIN_SIZE, squeezenet1_0, squeezenet1_1
from kerasbench.backbones.weights import _imagenet_base, build_from_file

__all__ = [
    "BackboneSpec",
    "KerasApplication",
    "build_backbone",
    "build_base",
    "find_backbone",
    "get_backbone",
    "list_backbones",
    "resolve_image_size",
    "stage_assignments",
]


@dataclass(frozen=True)
class KerasApplication:
    """Constructor of a ``keras.applications`` base, ``include_top=False``.

    ``function`` names the function in ``keras.applications`` (``"ResNet50"``). Called
    with ``input_shape``, ``weights`` (``None``, ``"imagenet"`` or a path) and ``name``.
    """

    function: str

    def __call__(self, input_shape, weights=None, name=None) -> keras.Model:
        factory = getattr(keras.applications, self.function)
        kwargs = {"include_top": False, "weights": weights, "input_shape": tuple(input_shape)}
        if name is not None:
            kwargs["name"] = name
        return factory(**kwargs)


@dataclass(frozen=True)
class BackboneSpec:
    """What the library knows about one backbone.

    Attributes:
        name: registry name, lower case (``"resnet50"``); also the name of the base model
            inside a built backbone.
        constructor: ``constructor(input_shape=, weights=, name=)`` -> the base model
            without classifier, on preprocessed input.
        preprocessing: :class:`ImagePreprocessing` mode (``caffe``, ``tf``, ``torch``, ``none``).
        default_size: the input size the ImageNet weights were trained at.
        min_size: the smallest height and width that still builds.
        feature_dim: channels of the output feature map (the pooled embedding size).
        stage_prefixes: layer-name prefixes of the base's stages, first to last, used by
            partial unfreezing (see :func:`stage_assignments`).
        description: one line for tables and error messages.
        stage_anchor: ``"start"`` when each prefix names the first layers of its stage
            (``conv3_`` in ResNet50) or ``"end"`` when each entry is the whole name of the
            layer that closes its stage (``mixed3`` in InceptionV3, whose other layers
            have generated names).
        imagenet_file: the file ``weights="imagenet"`` reads from the Keras cache folder
            (``~/.keras/models``), or ``None`` when there are no ImageNet weights by name.
        imagenet_download: whether Keras downloads ``imagenet_file`` when it is missing.
        convolution: ``"standard"`` or ``"separable"`` (depthwise + pointwise, as in
            Xception and EfficientNet's MBConv blocks): which convolutions the CPU XLA
            probe times for this backbone (:func:`kerasbench.performance.cpu_xla_probe`).
    """

    name: str
    constructor: Callable[..., keras.Model]
    preprocessing: str
    default_size: int
    min_size: int
    feature_dim: int
    stage_prefixes: tuple[str, ...]
    description: str
    stage_anchor: str = "start"
    imagenet_file: str | None = None
    imagenet_download: bool = False
    convolution: str = "standard"


def _keras_file(stem: str) -> str:
    return f"{stem}_weights_tf_dim_ordering_tf_kernels_notop.h5"


_RESNET_STAGES = ("conv2_", "conv3_", "conv4_", "conv5_")
_EFFICIENTNET_STAGES = tuple(f"block{index}" for index in range(1, 8))

_SPECS = (
    BackboneSpec(
        name="xception",
        constructor=KerasApplication("Xception"),
        preprocessing="tf",
        default_size=299,
        min_size=71,
        feature_dim=2048,
        stage_prefixes=tuple(f"block{index}_" for index in range(1, 15)),
        description="Xception (Keras Applications), ImageNet, 20.9M parameters",
        imagenet_file=_keras_file("xception"),
        imagenet_download=True,
        convolution="separable",
    ),
    BackboneSpec(
        name="efficientnetb6",
        constructor=KerasApplication("EfficientNetB6"),
        preprocessing="none",
        default_size=528,
        min_size=32,
        feature_dim=2304,
        stage_prefixes=_EFFICIENTNET_STAGES,
        description="EfficientNetB6 (Keras Applications), ImageNet, normalises inside",
        # EfficientNet's file is named after the model's name, which is kept as Keras's.
        imagenet_file="efficientnetb6_notop.h5",
        imagenet_download=True,
        convolution="separable",
    ),
    BackboneSpec(
        name="efficientnetb7",
        constructor=KerasApplication("EfficientNetB7"),
        preprocessing="none",
        default_size=600,
        min_size=32,
        feature_dim=2560,
        stage_prefixes=_EFFICIENTNET_STAGES,
        description="EfficientNetB7 (Keras Applications), ImageNet, normalises inside",
        imagenet_file="efficientnetb7_notop.h5",
        imagenet_download=True,
        convolution="separable",
    ),
    BackboneSpec(
        name="densenet201",
        constructor=KerasApplication("DenseNet201"),
        preprocessing="torch",
        default_size=224,
        min_size=32,
        feature_dim=1920,
        stage_prefixes=_RESNET_STAGES,
        description="DenseNet201 (Keras Applications), ImageNet",
        imagenet_file=_keras_file("densenet201"),
        imagenet_download=True,
    ),
    BackboneSpec(
        name="inceptionv3",
        constructor=KerasApplication("InceptionV3"),
        preprocessing="tf",
        default_size=299,
        min_size=75,
        feature_dim=2048,
        stage_prefixes=tuple(f"mixed{index}" for index in range(11)),
        stage_anchor="end",
        description="InceptionV3 (Keras Applications), ImageNet",
        imagenet_file=_keras_file("inception_v3"),
        imagenet_download=True,
    ),
    BackboneSpec(
        name="resnet50",
        constructor=KerasApplication("ResNet50"),
        preprocessing="caffe",
        default_size=224,
        min_size=32,
        feature_dim=2048,
        stage_prefixes=_RESNET_STAGES,
        description="ResNet50 (Keras Applications), ImageNet",
        imagenet_file=_keras_file("resnet50"),
        imagenet_download=True,
    ),
    BackboneSpec(
        name="vgg19",
        constructor=KerasApplication("VGG19"),
        preprocessing="caffe",
        default_size=224,
        min_size=32,
        feature_dim=512,
        stage_prefixes=tuple(f"block{index}_" for index in range(1, 6)),
        description="VGG19 (Keras Applications), ImageNet",
        imagenet_file=_keras_file("vgg19"),
        imagenet_download=True,
    ),
    BackboneSpec(
        name="squeezenet1_0",
        constructor=squeezenet1_0,
        preprocessing="caffe",
        default_size=227,
        min_size=SQUEEZENET_MIN_SIZE["1.0"],
        feature_dim=512,
        stage_prefixes=tuple(f"fire{index}_" for index in range(2, 10)),
        description="SqueezeNet 1.0 (kerasbench.backbones.squeezenet), no ImageNet weights shipped",
    ),
    BackboneSpec(
        name="squeezenet1_1",
        constructor=squeezenet1_1,
        preprocessing="caffe",
        default_size=224,
        min_size=SQUEEZENET_MIN_SIZE["1.1"],
        feature_dim=512,
        stage_prefixes=tuple(f"fire{index}_" for index in range(2, 10)),
        description="SqueezeNet 1.1 (kerasbench.backbones.squeezenet), keras-squeezenet weights",
        imagenet_file="squeezenet_v1.1_imagenet_notop.h5",
    ),
    BackboneSpec(
        name="resnet18",
        constructor=resnet18,
        preprocessing="torch",
        default_size=224,
        min_size=RESNET_MIN_SIZE,
        feature_dim=512,
        stage_prefixes=_RESNET_STAGES,
        description="ResNet18 (kerasbench.backbones.resnet, torchvision layout), bring weights",
    ),
    BackboneSpec(
        name="resnet34",
        constructor=resnet34,
        preprocessing="torch",
        default_size=224,
        min_size=RESNET_MIN_SIZE,
        feature_dim=512,
        stage_prefixes=_RESNET_STAGES,
        description="ResNet34 (kerasbench.backbones.resnet, torchvision layout), bring weights",
    ),
)

_REGISTRY = {spec.name: spec for spec in _SPECS}


def list_backbones() -> list[str]:
    """The registered backbone names, sorted."""
    return sorted(_REGISTRY)


def get_backbone(name: str) -> BackboneSpec:
    """The spec of backbone ``name`` (case-insensitive); ValueError listing the known names."""
    if isinstance(name, BackboneSpec):
        return name
    key = str(name).strip().lower()
    if key not in _REGISTRY:
        raise ValueError(
            f"unknown backbone {name!r}; known backbones: {', '.join(list_backbones())}"
        )
    return _REGISTRY[key]


def resolve_image_size(spec: BackboneSpec, image_size=None) -> tuple[int, int]:
    """``(height, width)`` from an int, a pair or ``None`` (the spec's default size).

    Raises ValueError for a malformed size or one below the backbone's ``min_size``.
    """
    if image_size is None:
        size = (spec.default_size, spec.default_size)
    elif isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    elif (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in image_size)
    ):
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise ValueError(
            f"image_size must be an int or a (height, width) pair of ints, got {image_size!r}"
        )
    if min(size) < spec.min_size:
        raise ValueError(
            f"backbone {spec.name!r} needs image_size of at least {spec.min_size} "
            f"(height and width); got {size[0]}x{size[1]}"
        )
    return size


def build_base(spec: BackboneSpec | str, image_size=None, weights=None) -> keras.Model:
    """The bare base model (preprocessed input -> feature map), named ``spec.name``.

    ``weights``: ``None`` (random), ``"imagenet"`` or a path; see :func:`build_backbone`.
    """
    spec = get_backbone(spec)
    height, width = resolve_image_size(spec, image_size)
    input_shape = (height, width, 3)
    if weights is None:
        return spec.constructor(input_shape=input_shape, weights=None, name=spec.name)
    if isinstance(weights, str) and weights.lower() == "imagenet":
        return _imagenet_base(spec, input_shape)
    if not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            f"weights must be None, 'imagenet' or a file path, got {type(weights).__name__}"
        )
    path = Path(os.fspath(weights)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file for backbone {spec.name!r} not found: {path}; pass the path of an "
            "existing .h5, .weights.h5 or .keras file, weights='imagenet' or weights=None"
        )
    # A file that does not fit raises WeightsFileError naming it, the backbone and the
    # first difference, whichever loader (Keras's or kerasbench's) read it.
    return build_from_file(spec, input_shape, path)


def build_backbone(name: str, image_size=None, weights=None, channels: int = 3) -> keras.Model:
    """A model from raw pixels to the unpooled feature map of backbone ``name``.

    Args:
        name: a registry name (:func:`list_backbones`), case-insensitive.
        image_size: an int, a ``(height, width)`` pair, or ``None`` for the spec's
            ``default_size``; below ``min_size`` raises ValueError.
        weights: ``None`` for a random initialisation; ``"imagenet"`` for Keras's ImageNet
            weights (downloaded into ``~/.keras/models`` on first use; for squeezenet1_1
            the keras-squeezenet file must be put there by hand); or the path of a local
            weights file.
        channels: 3 for RGB input, or 1 for grey images, which the model repeats to RGB.

    Returns:
        ``keras.Model`` named ``<name>_backbone``: input ``(height, width, channels)``
        float32 pixels in 0..255, output ``(batch, h, w, spec.feature_dim)``.

    Raises:
        ValueError: unknown name, bad size or channels, or a weights file that does not fit
            or is not a weights file (:class:`~kerasbench.backbones.weights.WeightsFileError`,
            naming the file, the backbone, the expected layer/array counts and the first
            shape that differs).
        FileNotFoundError: a weights path that does not exist, or ImageNet weights that are
            neither cached nor downloadable (the message names the file and the folder).
    """
    spec = get_backbone(name)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    height, width = resolve_image_size(spec, image_size)
    base = build_base(spec, (height, width), weights=weights)
    inputs = keras.Input(shape=(height, width, channels), dtype="float32", name="image")
    x = ImagePreprocessing(spec.preprocessing, name="preprocessing")(inputs)
    features = base(x)
    return keras.Model(inputs, features, name=f"{spec.name}_backbone")


def find_backbone(model: keras.Model) -> tuple[BackboneSpec, keras.Model, keras.Model]:
    """``(spec, backbone model, base model)`` of a built backbone or a model containing one.

    ``model`` may be what :func:`build_backbone` returned, a model that has such a
    backbone as one of its layers (a classifier), or a bare base named after its spec.
    Raises ValueError when none is found.
    """
    candidates = [model] + list(getattr(model, "layers", []))
    for candidate in candidates:
        if not isinstance(candidate, keras.Model):
            continue
        if candidate.name.endswith("_backbone"):
            key = candidate.name[: -len("_backbone")]
            if key in _REGISTRY:
                return _REGISTRY[key], candidate, candidate.get_layer(key)
    for candidate in candidates:
        if isinstance(candidate, keras.Model) and candidate.name in _REGISTRY:
            return _REGISTRY[candidate.name], candidate, candidate
    raise ValueError(
        f"model {getattr(model, 'name', model)!r} contains no kerasbench backbone (a layer "
        f"named '<name>_backbone' with <name> one of: {', '.join(list_backbones())})"
    )


def _marks(layer_name: str, prefix: str, spec: BackboneSpec) -> bool:
    # End marks are whole names: InceptionV3's "mixed9_0" sits inside the block that
    # "mixed9" closes, and "mixed1" is a prefix of "mixed10".
    if spec.stage_anchor == "end":
        return layer_name == prefix
    return layer_name.startswith(prefix)


def stage_assignments(base: keras.Model, spec: BackboneSpec | str) -> list[tuple[keras.Layer, int]]:
    """Each layer of ``base`` with its stage index: -1 for the stem, 0.. for the stages.

    Layers are taken in ``base.layers`` order (topological). The position of the first
    layer matching each of ``spec.stage_prefixes`` marks a boundary (a layer matches a
    prefix by starting with it; with ``stage_anchor="end"`` by equalling it). With
    ``stage_anchor="start"`` a stage runs from its mark to the next mark, so layers with
    generated names (Xception's shortcut convolutions) and closing layers (EfficientNet's
    ``top_conv``) join the stage they sit in, and layers before the first mark form the
    stem; a layer whose name matches a prefix belongs to that stage wherever it sits.
    With ``"end"`` a stage runs from after the previous mark up to and including its
    own, and layers after the last mark join the last stage.

    Raises ValueError if a prefix matches no layer or the marks are out of order, which
    means the spec no longer fits the Keras version's layer names.
    """
    spec = get_backbone(spec)
    layers = list(base.layers)
    marks = []
    for prefix in spec.stage_prefixes:
        position = next(
            (index for index, layer in enumerate(layers) if _marks(layer.name, prefix, spec)),
            None,
        )
        if position is None:
            raise ValueError(
                f"stage prefix {prefix!r} of backbone {spec.name!r} matches no layer of "
                f"model {base.name!r}"
            )
        marks.append(position)
    if marks != sorted(marks) or len(set(marks)) != len(marks):
        raise ValueError(f"stage prefixes of backbone {spec.name!r} are out of layer order")
    last = len(marks) - 1
    assignments = []
    for index, layer in enumerate(layers):
        named = [
            k for k, prefix in enumerate(spec.stage_prefixes) if _marks(layer.name, prefix, spec)
        ]
        if named and spec.stage_anchor == "start":
            # A name is firmer evidence than a position; the longest prefix is the most
            # specific one.
            stage = max(named, key=lambda k: len(spec.stage_prefixes[k]))
        elif spec.stage_anchor == "end":
            stage = next((k for k, mark in enumerate(marks) if index <= mark), last)
        else:
            stage = max((k for k, mark in enumerate(marks) if index >= mark), default=-1)
        assignments.append((layer, stage))
    return assignments
