"""Backbones: the registry (name -> :class:`BackboneSpec`) and the networks built here.

- :mod:`~kerasbench.backbones.registry`: :class:`BackboneSpec`, the registry,
  :func:`get_backbone`, :func:`build_backbone`, :func:`find_backbone`,
  :func:`stage_assignments`.
- :mod:`~kerasbench.backbones.preprocessing`: :class:`ImagePreprocessing`, the ImageNet
  preprocessing layer in front of every base.
- :mod:`~kerasbench.backbones.squeezenet`: SqueezeNet 1.0 / 1.1 (keras-squeezenet names).
- :mod:`~kerasbench.backbones.resnet`: ResNet18 / ResNet34 (torchvision layout).
- :mod:`~kerasbench.backbones.weights`: weight files (Keras 2 ``.h5`` by layer name) and
  ImageNet weights from Keras's cache folder.

Every public name of the former ``kerasbench.backbones`` and ``kerasbench.architectures``
modules is importable from here. The functions :func:`squeezenet` and :func:`resnet` share
their names with their modules and win the attribute (``kerasbench.backbones.resnet`` is the
function); reach a module with ``from kerasbench.backbones.resnet import ...`` or
``sys.modules``.
"""

from kerasbench.backbones import registry
from kerasbench.backbones.preprocessing import PREPROCESSING_MODES, ImagePreprocessing
from kerasbench.backbones.registry import (
    BackboneSpec,
    KerasApplication,
    build_backbone,
    build_base,
    find_backbone,
    get_backbone,
    list_backbones,
    resolve_image_size,
    stage_assignments,
)
from kerasbench.backbones.resnet import (
    RESNET_DEPTHS,
    RESNET_MIN_SIZE,
    RESNET_STAGE_FILTERS,
    resnet,
    resnet18,
    resnet34,
)
from kerasbench.backbones.squeezenet import (
    SQUEEZENET_MIN_SIZE,
    SQUEEZENET_VERSIONS,
    squeezenet,
    squeezenet1_0,
    squeezenet1_1,
)
from kerasbench.backbones.weights import (
    keras_cache_folder,
    load_legacy_h5_weights,
    load_weights_file,
)

# The registry's own dict (not a copy), for code that looks it up or patches it here.
_REGISTRY = registry._REGISTRY

__all__ = [
    "PREPROCESSING_MODES",
    "RESNET_DEPTHS",
    "RESNET_MIN_SIZE",
    "RESNET_STAGE_FILTERS",
    "SQUEEZENET_MIN_SIZE",
    "SQUEEZENET_VERSIONS",
    "BackboneSpec",
    "ImagePreprocessing",
    "KerasApplication",
    "build_backbone",
    "build_base",
    "find_backbone",
    "get_backbone",
    "keras_cache_folder",
    "list_backbones",
    "load_legacy_h5_weights",
    "load_weights_file",
    "resnet",
    "resnet18",
    "resnet34",
    "resolve_image_size",
    "squeezenet",
    "squeezenet1_0",
    "squeezenet1_1",
    "stage_assignments",
]
