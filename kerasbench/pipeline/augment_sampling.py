"""Sampling for the augmentation layers: IDG's affine matrices, TensorFlow's affine kernel
or an XLA-compilable gather version of it, and stateless random draws.

XLA: TensorFlow's affine kernel (ImageProjectiveTransformV3) has no XLA implementation, so
by default the affine and crop layers set ``supports_jit=False`` (Keras then leaves
``jit_compile="auto"`` off, as for its own RandomRotation). ``xla_compatible=True`` builds
gather-based layers with the same values that compile under ``jit_compile=True``.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops


def idg_affine_transform(theta=0.0, tx=0.0, ty=0.0, shear=0.0, zx=1.0, zy=1.0, *, height, width):
    """The 8-parameter ``keras.ops.image.affine_transform`` rows for IDG's parameters.

    Arguments are scalars or equal-length 1-D tensors (one entry per image), named and
    meant as in ``ImageDataGenerator.apply_transform`` of current Keras: ``theta`` and
    ``shear`` in degrees, ``tx`` the horizontal (column) shift and ``ty`` the vertical
    (row) shift in pixels, ``zx``/``zy`` the horizontal/vertical zoom factors (> 1 shows
    more of the image). Returns a (n, 8) float32 tensor (n = 1 for scalars).

    The matrix is ``rotation . shift . shear . zoom`` acting on output coordinates
    (x = column, y = row) relative to the image centre and giving the input coordinate
    to sample, which is what both scipy's ``affine_transform`` (used by IDG) and
    ``keras.ops.image.affine_transform`` expect.
    """
    theta = ops.reshape(ops.cast(theta, "float32"), (-1,)) * (math.pi / 180.0)
    shear = ops.reshape(ops.cast(shear, "float32"), (-1,)) * (math.pi / 180.0)
    tx = ops.reshape(ops.cast(tx, "float32"), (-1,))
    ty = ops.reshape(ops.cast(ty, "float32"), (-1,))
    zx = ops.reshape(ops.cast(zx, "float32"), (-1,))
    zy = ops.reshape(ops.cast(zy, "float32"), (-1,))
    cos, sin = ops.cos(theta), ops.sin(theta)
    # rotation . shift . shear . zoom multiplied out by hand, so that a batch is a few
    # element-wise ops instead of stacked 3x3 matmuls.
    a00 = cos * zx
    a01 = -zy * ops.sin(theta + shear)
    a10 = sin * zx
    a11 = zy * ops.cos(theta + shear)
    b0 = cos * tx - sin * ty
    b1 = sin * tx + cos * ty
    cx = (ops.cast(width, "float32") - 1.0) / 2.0
    cy = (ops.cast(height, "float32") - 1.0) / 2.0
    # Conjugating by the centre translation: input = A (out - c) + b + c.
    off0 = b0 + cx - (a00 * cx + a01 * cy)
    off1 = b1 + cy - (a10 * cx + a11 * cy)
    zeros = ops.zeros_like(a00 + a01 + a10 + a11 + off0 + off1)
    return ops.stack(
        [
            a00 + zeros,
            a01 + zeros,
            off0 + zeros,
            a10 + zeros,
            a11 + zeros,
            off1 + zeros,
            zeros,
            zeros,
        ],
        axis=1,
    )


def _map_coordinates(coord, length, fill_mode):
    """TensorFlow's ImageProjectiveTransformV3 boundary rules, written with keras.ops."""
    n = ops.cast(length, "float32")
    if fill_mode == "constant":
        return coord
    if fill_mode == "reflect":
        period = 2.0 * n
        low = period * ops.floor(-coord / period) + coord
        low = ops.where(low < -n, low + period, -low - 1.0)
        high = coord - period * ops.floor(coord / period)
        high = ops.where(high >= n, period - high - 1.0, high)
        coord = ops.where(coord < 0, low, ops.where(coord > n - 1.0, high, coord))
    elif fill_mode == "wrap":
        # TensorFlow's own (slightly irregular) wrap, so both samplers agree exactly.
        span = ops.maximum(n - 1.0, 1.0)
        low = coord + n * (ops.floor(-coord / span) + 1.0)
        high = coord - n * ops.floor(coord / span)
        coord = ops.where(coord < 0, low, ops.where(coord > n - 1.0, high, coord))
    return ops.clip(coord, 0.0, ops.maximum(n - 1.0, 0.0))


def _gather_affine(images, matrices, interpolation, fill_mode, fill_value):
    """``keras.ops.image.affine_transform`` (affine rows only) from gathers.

    TensorFlow's ImageProjectiveTransformV3 has no XLA kernel, so a model that runs
    augmentation inside a ``jit_compile=True`` step needs this version; it gives the
    same values (tested) and compiles, but is several times slower without XLA.
    """
    shape = ops.shape(images)
    b, h, w, c = shape[0], shape[1], shape[2], shape[3]
    ys, xs = ops.meshgrid(
        ops.arange(h, dtype="float32"), ops.arange(w, dtype="float32"), indexing="ij"
    )
    xs = ops.reshape(xs, (1, -1))
    ys = ops.reshape(ys, (1, -1))
    m = ops.cast(matrices, "float32")
    x = _map_coordinates(m[:, 0:1] * xs + m[:, 1:2] * ys + m[:, 2:3], w, fill_mode)
    y = _map_coordinates(m[:, 3:4] * xs + m[:, 4:5] * ys + m[:, 5:6], h, fill_mode)
    flat = ops.reshape(images, (-1, c))
    base = ops.reshape(ops.arange(b, dtype="int32") * (h * w), (-1, 1))
    fill = ops.cast(fill_value, images.dtype)

    def read(yi, xi):
        inside = (yi >= 0) & (yi < h) & (xi >= 0) & (xi < w)
        index = base + ops.clip(yi, 0, h - 1) * w + ops.clip(xi, 0, w - 1)
        return ops.where(inside[..., None], ops.take(flat, index, axis=0), fill)

    if interpolation == "nearest":
        # Halves round away from zero, as std::round in the TensorFlow kernel.
        xi = ops.cast(ops.sign(x) * ops.floor(ops.abs(x) + 0.5), "int32")
        yi = ops.cast(ops.sign(y) * ops.floor(ops.abs(y) + 0.5), "int32")
        out = read(yi, xi)
    else:
        x0, y0 = ops.floor(x), ops.floor(y)
        wx, wy = (x - x0)[..., None], (y - y0)[..., None]
        x0, y0 = ops.cast(x0, "int32"), ops.cast(y0, "int32")
        top = read(y0, x0) * (1.0 - wx) + read(y0, x0 + 1) * wx
        bottom = read(y0 + 1, x0) * (1.0 - wx) + read(y0 + 1, x0 + 1) * wx
        out = top * (1.0 - wy) + bottom * wy
    return ops.reshape(out, shape)


def _sample(images, matrices, interpolation, fill_mode, fill_value, xla_compatible):
    if xla_compatible:
        return _gather_affine(images, matrices, interpolation, fill_mode, fill_value)
    return ops.image.affine_transform(
        images,
        matrices,
        interpolation=interpolation,
        fill_mode=fill_mode,
        fill_value=fill_value,
        data_format="channels_last",
    )


def _set_sampler(layer, xla_compatible):
    if not isinstance(xla_compatible, (bool, np.bool_)):
        raise ValueError(f"xla_compatible must be True or False, got {xla_compatible!r}")
    layer.xla_compatible = bool(xla_compatible)
    # Keras's jit_compile="auto" reads supports_jit and leaves XLA off for a model that
    # holds a layer whose ops have no XLA kernel (as Keras's own RandomRotation does).
    layer.supports_jit = layer.xla_compatible


def _batch_size_and_rank(images):
    rank = len(images.shape)
    if rank not in (3, 4):
        raise ValueError(
            f"expected an image (h, w, c) or a batch (n, h, w, c), got shape {images.shape}"
        )
    return rank


def _as_batch(images):
    rank = _batch_size_and_rank(images)
    if rank == 3:
        return ops.expand_dims(images, 0), True
    return images, False


def _hw(images):
    """Height and width of a batch: Python ints when static, tensors otherwise."""
    shape = ops.shape(images)
    return shape[1], shape[2]




class StatelessDraws:
    """Uniform draws from a stateless seed, for augmentation in parallel ``tf.data`` maps.

    ``draws(shape, low, high)`` returns ``tf.random.stateless_uniform`` numbers; each call
    folds a running counter into ``seed`` (an int tensor of shape (2,)), so a function
    traced once gives a fixed, distinct stream per call site and per seed. The values
    depend only on the seed, never on thread timing.
    """

    def __init__(self, seed, offset: int = 0):
        import tensorflow as tf

        self._seed = tf.random.experimental.stateless_fold_in(
            tf.cast(seed, tf.int64), offset
        )
        self._count = 0

    def __call__(self, shape, low=0.0, high=1.0):
        import tensorflow as tf

        seed = tf.random.experimental.stateless_fold_in(self._seed, self._count)
        self._count += 1
        return tf.random.stateless_uniform(shape, seed=seed, minval=low, maxval=high,
                                           dtype=tf.float32)
