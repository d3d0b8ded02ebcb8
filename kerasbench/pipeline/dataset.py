"""Index frame -> ``tf.data`` pipeline: decode, resize, cache, shuffle, batch, augment, prefetch.

Images come out as float32 in 0..255, shape ``(h, w, channels)``, channels last; every
model in kerasbench normalises inside (``preprocess_input`` is part of the backbone).
Decoding (:mod:`~kerasbench.pipeline.decode`): TensorFlow's native decoders for JPEG, PNG,
GIF and BMP, chosen per file from its bytes (:mod:`~kerasbench.pipeline.formats`), PIL for
the rest, all inside one parallel map. Resizing: :mod:`~kerasbench.pipeline.resize`.

Order of operations: decode -> resize -> cache -> shuffle -> (repeat) -> batch -> augment
-> prefetch. Without a cache, the shuffle is done on the (path, label) list before
decoding, which yields the same order (same buffer size and seed) without holding
decoded images in a shuffle buffer. Evaluation datasets (``shuffle=False``) keep the
frame's row order exactly (deterministic parallel decode), so ``frame.path``,
``frame.label`` and predictions line up row by row. An :class:`Augmentation` runs in a
parallel map with one stateless seed per batch (reproducible, independent of thread
timing); any other callable runs in a sequential map (its random state advances per call).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from kerasbench.errors import ConfigError, DatasetError
from kerasbench.pipeline.config import LABEL_MODES, cache_kind, check_augmentation
from kerasbench.pipeline.decode import check_channels, decode_and_resize
from kerasbench.pipeline.formats import sniff_paths
from kerasbench.pipeline.resize import check_interpolation, normalise_size

__all__ = ["dataset_with_paths", "make_dataset"]


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
    """``os.stat`` of every file; FileNotFoundError naming the first missing ones."""
    stats, missing = [], []
    for path in paths:
        try:
            stats.append(os.stat(path))
        except OSError:
            missing.append(path)
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


def _fingerprint(paths, stats, labels, size, channels, interpolation, label_mode,
                 include_paths=False):
    # v2: native decoders and tuple elements (a v1 cache holds other values and structure).
    digest = hashlib.sha1()
    digest.update(
        json.dumps([list(size), channels, interpolation, label_mode, bool(include_paths), "v2"],
                   sort_keys=True).encode()
    )
    for path, stat in zip(paths, stats):
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
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




def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{name} must be a positive int, got {value!r}")
    return int(value)


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
        augmentation: an :class:`~kerasbench.pipeline.Augmentation`, its config dict, or a
            callable ``f(images, training=True)``; applied to batches after batching.
            Identity augmentations are skipped. An Augmentation draws one seed per batch
            from its own ``seed`` (None: the global seed), a fresh stream every epoch.
        cache: None, "memory", or a directory for an on-disk cache of decoded, resized
            images (a file per distinct set of images and settings, so changing
            ``image_size`` never reads a stale cache). The first epoch must run to the
            end for TensorFlow to keep the cache.
        interpolation: resize method (antialiased when downscaling; see
            :mod:`~kerasbench.pipeline.resize`).
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

    from kerasbench.pipeline.augment import Augmentation

    if label_mode not in LABEL_MODES:
        raise ConfigError(f"label_mode must be one of {LABEL_MODES}, got {label_mode!r}")
    size = normalise_size(image_size)
    channels = check_channels(channels)
    interpolation = check_interpolation(interpolation)
    batch_size = _positive_int("batch_size", batch_size)
    cache_kind(cache)
    augment = check_augmentation(augmentation)
    paths = _check_frame(frame, label_mode)
    labels = _labels(frame, label_mode, num_classes)
    stats = _stat_files(paths)
    codes = np.asarray(sniff_paths(paths, stats), dtype=np.int32)
    present = tuple(sorted(set(codes.tolist())))
    n = len(paths)
    shuffle_buffer = n if shuffle_buffer is None else _positive_int("shuffle_buffer",
                                                                    shuffle_buffer)

    # Elements are tuples (image, [label], [path]) from the first map on: every extra map
    # or dict key is one more function each new iterator (each Keras epoch) instantiates.
    columns = [tf.constant(paths, tf.string), tf.constant(codes)]
    if labels is not None:
        columns.append(tf.constant(labels))
    ds = tf.data.Dataset.from_tensor_slices(tuple(columns))

    def shuffled(dataset):
        return dataset.shuffle(int(shuffle_buffer), seed=seed, reshuffle_each_iteration=True)

    if shuffle and cache is None:
        ds = shuffled(ds)

    single = labels is None and not include_paths  # elements are images, not 1-tuples

    def decode_element(path, code, *label):
        image = decode_and_resize(path, code, channels, size, interpolation, present)
        return image if single else (image, *label, *((path,) if include_paths else ()))

    def augmented(batch, images):
        return images if single else (images, *batch[1:])

    parallel = {"num_parallel_calls": tf.data.AUTOTUNE, "deterministic": True}
    ds = ds.map(decode_element, **parallel)
    if cache == "memory":
        ds = ds.cache()
    elif cache is not None:
        fingerprint = _fingerprint(paths, stats, labels, size, channels, interpolation,
                                   label_mode, include_paths)
        ds = ds.cache(_cache_file(cache, fingerprint))
    if shuffle and cache is not None:
        ds = shuffled(ds)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=bool(drop_remainder))

    if isinstance(augment, Augmentation):
        # One stateless seed per batch: parallel, yet the same images for the same seed.
        seeds = tf.data.Dataset.random(seed=augment.seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, seeds.batch(2)))
        ds = ds.map(lambda batch, pair: augmented(
            batch, augment.apply_stateless(batch if single else batch[0], pair)), **parallel)
    elif augment is not None:
        # Sequential on purpose: a callable's random state advances per call, so a
        # parallel map would make augmentation depend on thread timing.
        ds = ds.map(lambda *batch: augmented(batch, augment(batch[0], training=True)))
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
