"""Pipeline settings: validation and the JSON record written into every results row."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from kerasbench.errors import ConfigError
from kerasbench.pipeline.decode import check_channels
from kerasbench.pipeline.resize import check_interpolation, normalise_size

__all__ = ["LABEL_MODES", "PipelineConfig", "describe_pipeline"]

LABEL_MODES = ("int", "categorical", "binary", None)
DECODER = ("tf.io.decode_jpeg (INTEGER_ACCURATE)/decode_png/decode_gif/decode_bmp; "
           "PIL for other formats")


@dataclass(frozen=True)
class PipelineConfig:
    """What a results record needs to know about how images were fed to the model."""

    image_size: tuple[int, int]
    channels: int = 3
    interpolation: str = "bilinear"
    antialias: bool = True
    cache: str | None = None
    batch_size: int | None = None
    label_mode: str | None = "int"
    shuffle: bool = False
    seed: int | None = None
    augmentation: dict | None = None
    decoder: str = DECODER
    value_range: tuple[int, int] = (0, 255)
    grey_to_rgb: str = "replicate"
    rgb_to_grey: str = "luminance 0.299R+0.587G+0.114B"
    alpha: str = "composited on white"
    sixteen_bit: str = "scaled by 255/65535"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["image_size"] = list(self.image_size)
        data["value_range"] = list(self.value_range)
        return data


def cache_kind(cache):
    # Records name the kind only: a machine's cache path must not change a config hash.
    if cache is None:
        return None
    if cache == "memory":
        return "memory"
    if isinstance(cache, (str, os.PathLike)) and os.fspath(cache):
        return "disk"
    raise ConfigError(f"cache must be None, 'memory' or a directory path, got {cache!r}")


def check_augmentation(augmentation) -> Callable | None:
    """An Augmentation (None when identity), a callable, or None; dicts are built."""
    from kerasbench.pipeline.augment import Augmentation, augmentation_from_config

    if augmentation is None:
        return None
    if isinstance(augmentation, dict):
        augmentation = augmentation_from_config(augmentation)
    if isinstance(augmentation, Augmentation):
        return None if augmentation.is_identity else augmentation
    if callable(augmentation):
        return augmentation
    raise ConfigError(
        "augmentation must be None, an Augmentation, its config dict or a callable taking "
        f"(images, training=True) (e.g. a Keras layer), got {type(augmentation).__name__}"
    )


def augmentation_record(augmentation):
    from kerasbench.pipeline.augment import Augmentation

    augmentation = check_augmentation(augmentation)
    if augmentation is None:
        return None
    if isinstance(augmentation, Augmentation):
        return augmentation.to_config()
    return {"custom": getattr(augmentation, "name", type(augmentation).__name__)}


def describe_pipeline(
    *,
    image_size,
    channels: int = 3,
    interpolation: str = "bilinear",
    cache=None,
    augmentation=None,
    batch_size: int | None = None,
    label_mode: str | None = "int",
    shuffle: bool = False,
    seed: int | None = None,
) -> dict[str, Any]:
    """The pipeline settings as a JSON-ready dict for results records.

    Takes the same keywords as :func:`make_dataset`; the cache is recorded by kind
    ("memory"/"disk") only, the augmentation by its IDG-named config (None when none or
    identity).
    """
    if label_mode not in LABEL_MODES:
        raise ConfigError(f"label_mode must be one of {LABEL_MODES}, got {label_mode!r}")
    return PipelineConfig(
        image_size=normalise_size(image_size),
        channels=check_channels(channels),
        interpolation=check_interpolation(interpolation),
        cache=cache_kind(cache),
        batch_size=batch_size,
        label_mode=label_mode,
        shuffle=bool(shuffle),
        seed=seed,
        augmentation=augmentation_record(augmentation),
    ).to_dict()
