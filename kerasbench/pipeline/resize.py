"""Resizing shared by the pipeline and :func:`~kerasbench.pipeline.load_image`.

``tf.image.resize(method=interpolation, antialias=True)`` semantics (antialiasing only acts
when downscaling), skipped when the image already has the requested size, clipped to
0..255 because bicubic/lanczos kernels overshoot.

For ``bilinear`` (the default) the resampling is computed here rather than by TensorFlow's
``ScaleAndTranslate`` kernel, which is scalar code and cost about 5x a plain bilinear resize
per 224 px image on this project's CPU (``docs/performance.md``). The weights are the same
antialiased triangle-filter weights that kernel computes; they are applied as banded
matrix products, each block of 8 output rows reading only the window of input rows it
needs. Values agree with ``tf.image.resize(..., antialias=True)`` to float32 round-off
(``BILINEAR_TOLERANCE``, tested); small outputs (under ``_BANDED_MIN_PIXELS``) keep
TensorFlow's kernel, which is cheaper there.
"""

from __future__ import annotations

import numpy as np

from kerasbench.errors import ConfigError

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
# Largest difference from tf.image.resize(antialias=True) on 0..255 images (tested).
BILINEAR_TOLERANCE = 1e-3
_BLOCK = 8
_BANDED_MIN_PIXELS = 96 * 96


def normalise_size(image_size) -> tuple[int, int]:
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


def check_interpolation(interpolation):
    if interpolation not in INTERPOLATIONS:
        raise ConfigError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    return interpolation


def _triangle_taps(n_in, n_out):
    """Per output index: first input index and the K normalised triangle weights.

    The arithmetic follows TensorFlow's ``ComputeSpansCore`` (scale_and_translate_op.cc)
    for ``kernel_type="triangle", antialias=True`` and zero translation.
    """
    import tensorflow as tf

    inv_scale = 1.0 / (tf.cast(n_out, tf.float32) / tf.cast(n_in, tf.float32))
    kernel_scale = tf.maximum(inv_scale, 1.0)
    taps = tf.minimum(2 * tf.cast(tf.math.ceil(kernel_scale), tf.int32) + 1, n_in)
    sample = (tf.range(n_out, dtype=tf.float32) + 0.5) * inv_scale
    start = tf.clip_by_value(tf.cast(tf.math.ceil(sample - kernel_scale - 0.5), tf.int32),
                             0, n_in - 1)
    end = tf.clip_by_value(tf.cast(tf.math.floor(sample + kernel_scale - 0.5), tf.int32),
                           0, n_in - 1) + 1
    source = start[:, None] + tf.range(taps)[None, :]
    position = tf.cast(source, tf.float32) + 0.5 - sample[:, None]
    weights = tf.maximum(0.0, 1.0 - tf.abs(position * (1.0 / kernel_scale)))
    weights = tf.where(source < end[:, None], weights, 0.0)
    weights = weights * (1.0 / tf.reduce_sum(weights, axis=1, keepdims=True))
    return start, weights, taps


def _resample_rows(rows, n_out: int):
    """``rows`` (n_in, m) float32 -> (n_out, m): antialiased triangle filter along axis 0."""
    import tensorflow as tf

    n_in = tf.shape(rows)[0]
    start, weights, taps = _triangle_taps(n_in, n_out)
    blocks = -(-n_out // _BLOCK)
    pad = blocks * _BLOCK - n_out
    start = tf.reshape(tf.concat([start, tf.fill([pad], start[-1])], 0), [blocks, _BLOCK])
    weights = tf.reshape(tf.concat([weights, tf.zeros([pad, taps])], 0), [blocks, _BLOCK, taps])
    window_start = start[:, 0]  # starts never decrease along the axis
    window = tf.minimum(tf.reduce_max(start[:, -1] - window_start) + taps, n_in)
    window_start = tf.minimum(window_start, n_in - window)
    columns = (start - window_start[:, None])[:, :, None] + tf.range(taps)[None, None, :]
    # (blocks, 8, window): each output row's taps placed in its block's input window.
    band = tf.reduce_sum(tf.one_hot(columns, window) * weights[..., None], axis=2)
    windows = tf.gather(rows, window_start[:, None] + tf.range(window)[None, :])
    out = tf.linalg.matmul(band, windows)
    return tf.reshape(out, [blocks * _BLOCK, -1])[:n_out]


def banded_bilinear_resize(image, size):
    """(h, w, c) -> (size[0], size[1], c) float32, as ``tf.image.resize(antialias=True)``."""
    import tensorflow as tf

    image = tf.cast(image, tf.float32)
    shape = tf.shape(image)
    height, width, channels = shape[0], shape[1], shape[2]
    out_h, out_w = size
    rows = _resample_rows(tf.reshape(image, [height, width * channels]), out_h)
    columns = tf.reshape(tf.transpose(tf.reshape(rows, [out_h, width, channels]), [1, 0, 2]),
                         [width, out_h * channels])
    columns = _resample_rows(columns, out_w)
    return tf.transpose(tf.reshape(columns, [out_w, out_h, channels]), [1, 0, 2])


def resize(image, size, interpolation):
    """tf resize shared by the pipeline and load_image; exact no-op at the target size.

    Bilinear needs no test for "already the target size": at scale 1 the triangle
    weights are exactly (0, 1, 0), so both implementations return the input unchanged
    (tested), and leaving out a ``tf.cond`` saves its per-iterator instantiation. Other
    kernels (gaussian, mitchellcubic) are not interpolating, so they skip resampling
    through a ``tf.cond``.
    """
    import tensorflow as tf

    size = tuple(int(v) for v in size)
    image = tf.cast(image, tf.float32)
    if interpolation == "bilinear":
        if size[0] * size[1] >= _BANDED_MIN_PIXELS:
            resized = banded_bilinear_resize(image, size)
        else:
            resized = tf.image.resize(image, size, method="bilinear", antialias=True)
        return tf.clip_by_value(resized, 0.0, 255.0)

    def resample():
        return tf.clip_by_value(
            tf.image.resize(image, size, method=interpolation, antialias=True), 0.0, 255.0
        )
    same = tf.reduce_all(tf.equal(tf.shape(image)[:2], tf.constant(size, tf.int32)))
    return tf.cond(same, lambda: image, resample)
