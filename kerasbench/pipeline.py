"""Index frame -> ``tf.data`` pipeline: decode, resize, cache, shuffle, batch, augment, prefetch.

Images come out as float32 in 0..255, shape ``(h, w, channels)``, channels last; every
model in kerasbench normalises inside (``preprocess_input`` is part of the backbone).

Decoding uses PIL through ``tf.numpy_function`` so that every format a dataset folder may
hold decodes the same way: JPEG (including CMYK), PNG (palette, RGBA, 16-bit), grey,
PGM/PPM, BMP, GIF (first frame), TIFF, WebP. Conversion rules (shared with
:func:`load_image`, so single-image predictions see exactly what training saw):

- grey -> 3 channels: the grey value is replicated (ImageNet backbones want RGB);
- RGB -> 1 channel: luminance ``0.299 R + 0.587 G + 0.114 B`` (ITU-R 601, as PIL's "L",
  but without PIL's rounding to integers);
- alpha (RGBA, LA, palette with transparency): composited on WHITE, so transparent
  backgrounds of product photos become white rather than whatever colour the invisible
  pixels happen to store;
- 16-bit images (PNG/TIFF "I;16", PGM with maxval > 255 as "I"): scaled by 255/65535;
  32-bit float images ("F"): values <= 1 are taken as 0..1 and scaled by 255, others
  clipped to 0..255;
- palette, CMYK, YCbCr, LAB, HSV: converted to RGB by PIL;
- EXIF orientation is NOT applied (neither does Keras's ``load_img`` nor
  ``tf.io.decode_image``).

Resizing is ``tf.image.resize(method=interpolation, antialias=True)`` (antialiasing only
acts when downscaling), skipped when the image already has the requested size, and the
result is clipped to 0..255 because bicubic/lanczos kernels overshoot.

Order of operations: decode -> resize -> cache -> shuffle -> (repeat) -> batch -> augment
-> prefetch. Without a cache, the shuffle is done on the (path, label) list before
decoding, which yields the same order (same buffer size and seed) without holding
decoded images in a shuffle buffer. Evaluation datasets (``shuffle=False``) keep the
frame's row order exactly (deterministic parallel decode), so ``frame.path``,
``frame.label`` and predictions line up row by row.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kerasbench.errors import ConfigError, DatasetError

__all__ = [
    "INTERPOLATIONS",
    "LABEL_MODES",
    "PipelineConfig",
    "dataset_with_paths",
    "describe_pipeline",
    "load_image",
    "make_dataset",
    "read_image",
]

INTERPOLATIONS = (
    "bilinear",
    "nearest",
    "bicubic",
    "area",
    "lanczos3",
    "lanczos5",
    "gaussian",
    "mitchellcubic",
)
LABEL_MODES = ("int", "categorical", "binary", None)
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_SIXTEEN_BIT_SCALE = np.float32(255.0 / 65535.0)


# --------------------------------------------------------------------------- decoding


def _pil_to_float(img) -> np.ndarray:
    """A PIL image as float32 (h, w, 1 | 3) in 0..255, alpha composited on white."""
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        # Pillow opens 16-bit PNG/TIFF as "I;16*" and 16-bit PGM (rescaled to full range)
        # as "I"; both are 0..65535.
        arr = np.asarray(img).astype(np.float32) * _SIXTEEN_BIT_SCALE
        return np.clip(arr, 0.0, 255.0)[..., None]
    if mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        if arr.size and np.nanmax(arr) <= 1.0:
            arr = arr * 255.0
        return np.clip(np.nan_to_num(arr), 0.0, 255.0)[..., None]
    if mode == "1":
        img = img.convert("L")
    elif mode in ("LA", "La", "PA", "RGBa"):
        img = img.convert("RGBA" if mode in ("PA", "RGBa") else "LA")
    elif mode == "P":
        has_alpha = "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    elif mode not in ("L", "RGB", "RGBA", "LA"):
        img = img.convert("RGB")
    arr = np.asarray(img, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[..., None]
    if img.mode in ("RGBA", "LA"):
        alpha = arr[..., -1:] / 255.0
        arr = arr[..., :-1] * alpha + 255.0 * (1.0 - alpha)
    return arr


def _to_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    if arr.shape[-1] == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=-1)
    return (arr @ _LUMA)[..., None]


def _check_channels(channels):
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    return int(channels)


def read_image(path, channels: int = 3) -> np.ndarray:
    """Decode one file at its own size: float32 (h, w, channels) in 0..255.

    Raises FileNotFoundError when the file is missing and DatasetError (a ValueError)
    when PIL cannot decode it; both messages name the file.
    """
    from PIL import Image, UnidentifiedImageError

    channels = _check_channels(channels)
    path = os.fsdecode(path)
    try:
        with Image.open(path) as img:
            # Animated GIF/WebP/TIFF: the first frame, as Keras's load_img does.
            img.seek(0)
            img.load()
            arr = _pil_to_float(img)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        OSError,
        SyntaxError,
        ValueError,
    ) as error:
        raise DatasetError(
            f"cannot decode image file {path}: {error} (is it a valid image? remove or "
            "replace it and rebuild the index)"
        ) from error
    return np.ascontiguousarray(_to_channels(arr, channels), dtype=np.float32)


def _normalise_size(image_size) -> tuple[int, int]:
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        size = (int(image_size), int(image_size))
    elif (
        isinstance(image_size, (tuple, list))
        and len(image_size) == 2
        and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in image_size)
    ):
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise ConfigError(
            f"image_size must be an int or a (height, width) pair, got {image_size!r}"
        )
    if min(size) <= 0:
        raise ConfigError(f"image_size must be positive, got {image_size!r}")
    return size


def _check_interpolation(interpolation):
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    return interpolation


def _resize(image, size, interpolation):
    """tf resize shared by the pipeline and load_image; exact no-op at the target size."""
    import tensorflow as tf

    target = tf.constant(size, tf.int32)
    same = tf.reduce_all(tf.equal(tf.shape(image)[:2], target))
    resized = tf.cond(
        same,
        lambda: image,
        lambda: tf.clip_by_value(
            tf.image.resize(image, size, method=interpolation, antialias=True), 0.0, 255.0
        ),
    )
    return resized


def load_image(
    path, image_size=None, channels: int = 3, interpolation: str = "bilinear"
) -> np.ndarray:
    """One image as the pipeline would yield it: float32 (h, w, channels) in 0..255.

    ``image_size`` None keeps the file's size. Use for single-image predictions and the
    Siamese verify API (add a batch axis with ``x[None]``).
    """
    size = None if image_size is None else _normalise_size(image_size)
    interpolation = _check_interpolation(interpolation)
    image = read_image(path, channels)
    if size is None:
        return image
    import tensorflow as tf

    return np.asarray(_resize(tf.constant(image), size, interpolation), dtype=np.float32)


# --------------------------------------------------------------------------- config


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
    decoder: str = "PIL"
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


def _cache_kind(cache):
    # Records name the kind only: a machine's cache path must not change a config hash.
    if cache is None:
        return None
    if cache == "memory":
        return "memory"
    if isinstance(cache, (str, os.PathLike)) and os.fspath(cache):
        return "disk"
    raise ConfigError(f"cache must be None, 'memory' or a directory path, got {cache!r}")


def _augmentation_record(augmentation):
    from kerasbench.augment import Augmentation, augmentation_from_config

    if augmentation is None:
        return None
    if isinstance(augmentation, dict):
        augmentation = augmentation_from_config(augmentation)
    if isinstance(augmentation, Augmentation):
        return None if augmentation.is_identity else augmentation.to_config()
    if callable(augmentation):
        return {"custom": getattr(augmentation, "name", type(augmentation).__name__)}
    raise ConfigError(
        "augmentation must be None, an Augmentation, its config dict or a callable "
        f"(e.g. a Keras layer), got {type(augmentation).__name__}"
    )


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
        image_size=_normalise_size(image_size),
        channels=_check_channels(channels),
        interpolation=_check_interpolation(interpolation),
        cache=_cache_kind(cache),
        batch_size=batch_size,
        label_mode=label_mode,
        shuffle=bool(shuffle),
        seed=seed,
        augmentation=_augmentation_record(augmentation),
    ).to_dict()


# --------------------------------------------------------------------------- dataset


def _check_frame(frame, label_mode):
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise DatasetError(
            f"frame must be a pandas DataFrame (e.g. DatasetIndex.split('train')), got "
            f"{type(frame).__name__}"
        )
    if len(frame) == 0:
        raise DatasetError(
            "frame is empty: no images to feed (check the split name and the dataset folder)"
        )
    needed = ["path"] + ([] if label_mode is None else ["label"])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"frame lacks column(s) {missing}; it has {list(frame.columns)} (expected the "
            "DatasetIndex columns path, label, class_name, split)"
        )
    paths = frame["path"]
    if paths.isna().any():
        raise DatasetError(f"frame has {int(paths.isna().sum())} rows without a path")
    return [os.fspath(p) for p in paths.tolist()]


def _stat_files(paths):
    """(size, mtime_ns) of every file; FileNotFoundError naming the first missing ones."""
    stats, missing = [], []
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            missing.append(path)
            continue
        stats.append((st.st_size, st.st_mtime_ns))
    if missing:
        shown = "\n  ".join(missing[:5])
        more = f"\n  ... and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise FileNotFoundError(
            f"{len(missing)} image file(s) of the frame do not exist:\n  {shown}{more}"
        )
    return stats


def _labels(frame, label_mode, num_classes):
    if label_mode is None:
        return None
    raw = frame["label"].to_numpy()
    try:
        values = raw.astype(np.float64)
    except (TypeError, ValueError):
        raise DatasetError("frame.label must hold integer class indices") from None
    if np.isnan(values).any() or not np.all(values == np.round(values)):
        raise DatasetError("frame.label must hold integer class indices (found NaN or fractions)")
    labels = values.astype(np.int64)
    if labels.min() < 0:
        raise DatasetError(f"frame.label has negative values (min {labels.min()})")
    if num_classes is not None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
            raise ConfigError(f"num_classes must be an int, got {num_classes!r}")
        if num_classes < 1:
            raise ConfigError(f"num_classes must be >= 1, got {num_classes}")
        if labels.max() >= num_classes:
            raise DatasetError(
                f"frame.label has value {labels.max()} but num_classes={num_classes}"
            )
    if label_mode == "int":
        return labels.astype(np.int32)
    if label_mode == "categorical":
        if num_classes is None:
            raise ConfigError(
                "label_mode='categorical' needs num_classes (a split may lack some classes, "
                "so it is not inferred); pass len(index.class_names)"
            )
        return np.eye(int(num_classes), dtype=np.float32)[labels]
    # binary
    if labels.max() > 1:
        raise DatasetError(
            f"label_mode='binary' needs labels 0/1, found {sorted(set(labels.tolist()))[:10]}"
        )
    if num_classes not in (None, 2):
        raise ConfigError(f"label_mode='binary' means num_classes=2, got {num_classes}")
    return labels.astype(np.float32)[:, None]


def _fingerprint(paths, stats, labels, size, channels, interpolation, label_mode):
    digest = hashlib.sha1()
    digest.update(
        json.dumps([list(size), channels, interpolation, label_mode, "v1"], sort_keys=True).encode()
    )
    for path, (nbytes, mtime) in zip(paths, stats):
        digest.update(f"{path}\0{nbytes}\0{mtime}\n".encode())
    if labels is not None:
        digest.update(np.ascontiguousarray(labels).tobytes())
    return digest.hexdigest()[:20]


def _cache_file(cache, fingerprint) -> str:
    folder = Path(os.fspath(cache))
    if folder.exists() and not folder.is_dir():
        raise ConfigError(
            f"cache={os.fspath(cache)!r} is a file; give a directory (the cache files are "
            "named inside it by a fingerprint of the images and settings)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"kerasbench-{fingerprint}")


def _check_augmentation(augmentation) -> Callable | None:
    from kerasbench.augment import Augmentation, augmentation_from_config

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
        f"(images, training=True), got {type(augmentation).__name__}"
    )


def make_dataset(
    frame,
    *,
    image_size,
    channels: int = 3,
    batch_size: int = 32,
    label_mode: str | None = "int",
    num_classes: int | None = None,
    shuffle: bool = False,
    seed: int | None = None,
    augmentation=None,
    cache=None,
    interpolation: str = "bilinear",
    drop_remainder: bool = False,
    repeat: bool = False,
    include_paths: bool = False,
    shuffle_buffer: int | None = None,
):
    """A batched ``tf.data.Dataset`` of ``(images, labels)`` from an index frame.

    Args:
        frame: DataFrame with a ``path`` column (and ``label``, int class indices, unless
            ``label_mode`` is None), e.g. ``DatasetIndex.split("train")``.
        image_size: int or (height, width) of the output images.
        channels: 3 (RGB; grey replicated) or 1 (grey; RGB by luminance).
        batch_size: images per batch.
        label_mode: "int" (int32 class index), "categorical" (float32 one-hot, needs
            ``num_classes``), "binary" (float32 0/1 of shape (1,), for a sigmoid head) or
            None (images only).
        num_classes: number of classes; checked against the labels when given.
        shuffle: shuffle every epoch (a fresh order per epoch, reproducible with ``seed``).
            ``shuffle=False`` keeps the frame's row order exactly.
        seed: shuffle seed (None: TensorFlow's global seed, set by ``set_seed``).
        augmentation: an :class:`~kerasbench.augment.Augmentation`, its config dict, or a
            callable ``f(images, training=True)``; applied to batches after batching.
            Identity augmentations are skipped.
        cache: None, "memory", or a directory for an on-disk cache of decoded, resized
            images (a file per distinct set of images and settings, so changing
            ``image_size`` never reads a stale cache). The first epoch must run to the
            end for TensorFlow to keep the cache.
        interpolation: ``tf.image.resize`` method (antialiased when downscaling).
        drop_remainder: drop the last incomplete batch.
        repeat: repeat forever (each repetition reshuffled when ``shuffle``).
        include_paths: also yield each image's path (a string) as the last element, to
            line predictions up with files. Not for ``model.fit`` (Keras would read a
            third element as sample weights).
        shuffle_buffer: shuffle buffer size; default the whole frame (a uniform
            permutation). With a cache the buffer holds decoded images, so cap it for
            large images on disk caches.

    Returns:
        ``tf.data.Dataset`` of ``(images, labels)``, ``(images, labels, paths)``,
        ``images`` or ``(images, paths)``; images float32 (batch, h, w, channels) 0..255.
    """
    import tensorflow as tf

    if label_mode not in LABEL_MODES:
        raise ConfigError(f"label_mode must be one of {LABEL_MODES}, got {label_mode!r}")
    size = _normalise_size(image_size)
    channels = _check_channels(channels)
    interpolation = _check_interpolation(interpolation)
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ConfigError(f"batch_size must be a positive int, got {batch_size!r}")
    _cache_kind(cache)
    augment = _check_augmentation(augmentation)
    paths = _check_frame(frame, label_mode)
    labels = _labels(frame, label_mode, num_classes)
    stats = _stat_files(paths)
    n = len(paths)
    if shuffle_buffer is None:
        shuffle_buffer = n
    elif (
        isinstance(shuffle_buffer, bool)
        or not isinstance(shuffle_buffer, (int, np.integer))
        or shuffle_buffer < 1
    ):
        raise ConfigError(f"shuffle_buffer must be a positive int, got {shuffle_buffer!r}")

    columns = {"path": tf.constant(paths, tf.string)}
    if labels is not None:
        columns["label"] = tf.constant(labels)
    ds = tf.data.Dataset.from_tensor_slices(columns)

    def shuffled(dataset):
        return dataset.shuffle(int(shuffle_buffer), seed=seed, reshuffle_each_iteration=True)

    if shuffle and cache is None:
        ds = shuffled(ds)

    def decode(path):
        image = tf.numpy_function(
            lambda p: read_image(p, channels), [path], tf.float32, stateful=False
        )
        image.set_shape([None, None, channels])
        image = _resize(image, size, interpolation)
        return tf.ensure_shape(image, [size[0], size[1], channels])

    def decode_element(element):
        out = dict(element)
        out["image"] = decode(element["path"])
        return out

    ds = ds.map(decode_element, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    if cache == "memory":
        ds = ds.cache()
    elif cache is not None:
        fingerprint = _fingerprint(paths, stats, labels, size, channels, interpolation, label_mode)
        ds = ds.cache(_cache_file(cache, fingerprint))
    if shuffle and cache is not None:
        ds = shuffled(ds)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(int(batch_size), drop_remainder=bool(drop_remainder))

    def to_tuple(batch):
        images = batch["image"]
        if augment is not None:
            images = augment(images, training=True)
        parts = [images]
        if labels is not None:
            parts.append(batch["label"])
        if include_paths:
            parts.append(batch["path"])
        return parts[0] if len(parts) == 1 else tuple(parts)

    # Sequential on purpose: the random layers advance a seed state per call, so a
    # parallel map would make augmentation depend on thread timing.
    if augment is not None:
        ds = ds.map(to_tuple)
    else:
        ds = ds.map(to_tuple, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.prefetch(tf.data.AUTOTUNE)


def dataset_with_paths(frame, **kwargs):
    """``make_dataset(frame, include_paths=True, shuffle=False, ...)`` for predictions.

    Yields ``(images, labels, paths)`` in frame order (``(images, paths)`` when
    ``label_mode=None``); decode the paths with ``.numpy().decode()``.
    """
    if kwargs.get("shuffle"):
        raise ConfigError("dataset_with_paths keeps frame order; do not pass shuffle=True")
    kwargs["shuffle"] = False
    kwargs["include_paths"] = True
    return make_dataset(frame, **kwargs)
