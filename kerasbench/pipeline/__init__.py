"""Images into models: index frame -> ``tf.data`` (decode, resize, cache, augment, batch).

One module per concern:

- :mod:`~kerasbench.pipeline.formats`: which decoder reads each file (from its bytes);
- :mod:`~kerasbench.pipeline.decode`: TensorFlow-native and PIL decoding, conversion
  rules, :func:`load_image` / :func:`read_image`;
- :mod:`~kerasbench.pipeline.resize`: antialiased resizing;
- :mod:`~kerasbench.pipeline.config`: :class:`PipelineConfig`, :func:`describe_pipeline`;
- :mod:`~kerasbench.pipeline.dataset`: :func:`make_dataset`, :func:`dataset_with_paths`;
- :mod:`~kerasbench.pipeline.augment` (with ``augment_layers``, ``augment_sampling``,
  ``augment_checks``): ImageDataGenerator-named settings as Keras layers.

Every public name is importable from ``kerasbench.pipeline``. The augmentation names load
Keras on first use, so importing the package itself stays light.
"""

from __future__ import annotations

import importlib

from kerasbench.pipeline.config import LABEL_MODES, PipelineConfig, describe_pipeline
from kerasbench.pipeline.dataset import dataset_with_paths, make_dataset
from kerasbench.pipeline.decode import check_decodes, load_image, read_image
from kerasbench.pipeline.formats import DECODER_NAMES, sniff
from kerasbench.pipeline.resize import INTERPOLATIONS

_LAZY = {
    "Augmentation": "augment",
    "augmentation_from_config": "augment",
    "legacy_image_data_generator": "augment",
    "RandomAffine": "augment_layers",
    "RandomBrightnessScale": "augment_layers",
    "RandomResizedCrop": "augment_layers",
    "idg_affine_transform": "augment_sampling",
    "SUPPORTED_ARGUMENTS": "augment_checks",
    "FILL_MODES": "augment_checks",
}

__all__ = [
    "DECODER_NAMES",
    "INTERPOLATIONS",
    "LABEL_MODES",
    "PipelineConfig",
    "check_decodes",
    "dataset_with_paths",
    "describe_pipeline",
    "load_image",
    "make_dataset",
    "read_image",
    "sniff",
    *_LAZY,
]


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
