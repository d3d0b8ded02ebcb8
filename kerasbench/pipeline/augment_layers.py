"""Keras layers for ImageDataGenerator's meanings: one affine map per image, multiplicative
brightness, and torchvision's random resized crop.

Each layer draws its random numbers through one ``draw(shape, low, high)`` function: by
default Keras's seeded stream (``keras.random.uniform`` with the layer's SeedGenerator),
or, from :meth:`Augmentation.apply_stateless`, stateless draws from a per-batch seed
(so the ``tf.data`` pipeline can augment batches in parallel, reproducibly).
"""

from __future__ import annotations

import math

import keras
from keras import ops

from kerasbench.pipeline.augment_checks import (
    _brightness_pair,
    _fill_mode,
    _fraction,
    _non_negative,
    _ordered_pair,
    _zoom_pair,
)
from kerasbench.pipeline.augment_sampling import (
    _as_batch,
    _hw,
    _sample,
    _set_sampler,
    idg_affine_transform,
)

__all__ = ["RandomAffine", "RandomBrightnessScale", "RandomResizedCrop"]


def _keras_draws(layer):
    def draw(shape, low=0.0, high=1.0):
        return keras.random.uniform(shape, minval=low, maxval=high, seed=layer.seed_generator)
    return draw


@keras.saving.register_keras_serializable(package="kerasbench")
class RandomAffine(keras.layers.Layer):
    """ImageDataGenerator's rotation, shift, shear and zoom as one affine map per image.

    Args:
        rotation_range: degrees; angle uniform in [-r, r], positive counter-clockwise.
        width_shift_range: fraction of the width in [0, 1); horizontal shift uniform in
            [-f, f] x width.
        height_shift_range: same, vertical, fraction of the height.
        shear_range: shear angle in degrees (IDG's meaning), uniform in [-s, s].
        zoom_range: ``(lo, hi)``; zx and zy independently uniform in it, > 1 zooms out.
        fill_mode: "nearest", "constant", "reflect" or "wrap".
        cval: fill value for "constant".
        interpolation: "bilinear" (IDG ``interpolation_order=1``) or "nearest" (0).
        seed: integer seed of this layer's random stream.
        xla_compatible: sample with gathers instead of TensorFlow's
            ImageProjectiveTransformV3, which has no XLA kernel. Same values; needed
            inside a ``jit_compile=True`` model, slower outside XLA.

    With every range zero the layer returns its input unchanged (no resampling).
    """

    def __init__(
        self,
        rotation_range=0.0,
        width_shift_range=0.0,
        height_shift_range=0.0,
        shear_range=0.0,
        zoom_range=(1.0, 1.0),
        fill_mode="nearest",
        cval=0.0,
        interpolation="bilinear",
        seed=None,
        xla_compatible=False,
        **kwargs,
    ):
        # float32 even under a mixed-precision policy: 0..255 pixels and sampling
        # coordinates lose whole pixels in 16-bit floats.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.rotation_range = _non_negative("rotation_range", rotation_range)
        self.width_shift_range = _fraction("width_shift_range", width_shift_range)
        self.height_shift_range = _fraction("height_shift_range", height_shift_range)
        self.shear_range = _non_negative("shear_range", shear_range)
        self.zoom_range = _zoom_pair(zoom_range)
        self.fill_mode = _fill_mode(fill_mode)
        self.cval = float(cval)
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(
                f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}"
            )
        self.interpolation = interpolation
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        _set_sampler(self, xla_compatible)

    @property
    def is_identity(self) -> bool:
        return (
            self.rotation_range == 0
            and self.width_shift_range == 0
            and self.height_shift_range == 0
            and self.shear_range == 0
            and self.zoom_range == (1.0, 1.0)
        )

    def get_random_transformation(self, images, draw=None):
        """Per-image IDG parameters (dict of 1-D tensors), sampled as IDG samples them.

        ``draw(shape, low, high)``: the random source (default: this layer's Keras stream).
        """
        batch, _ = _as_batch(images)
        n = ops.shape(batch)[0]
        height, width = _hw(batch)
        height = ops.cast(height, "float32")
        width = ops.cast(width, "float32")
        draw = draw or _keras_draws(self)

        def uniform(low, high):
            return draw((n,), low, high)

        zeros = ops.zeros((n,), "float32")
        params = {
            "theta": uniform(-self.rotation_range, self.rotation_range)
            if self.rotation_range
            else zeros,
            "tx": uniform(-self.width_shift_range, self.width_shift_range) * width
            if self.width_shift_range
            else zeros,
            "ty": uniform(-self.height_shift_range, self.height_shift_range) * height
            if self.height_shift_range
            else zeros,
            "shear": uniform(-self.shear_range, self.shear_range) if self.shear_range else zeros,
        }
        if self.zoom_range == (1.0, 1.0):
            params["zx"] = params["zy"] = zeros + 1.0
        else:
            params["zx"] = uniform(*self.zoom_range)
            params["zy"] = uniform(*self.zoom_range)
        return params

    def transform_images(self, images, transformation):
        """Apply given IDG parameters (see :func:`idg_affine_transform`) to images."""
        batch, squeeze = _as_batch(ops.convert_to_tensor(images, self.compute_dtype))
        height, width = _hw(batch)
        matrices = idg_affine_transform(
            transformation.get("theta", 0.0),
            transformation.get("tx", 0.0),
            transformation.get("ty", 0.0),
            transformation.get("shear", 0.0),
            transformation.get("zx", 1.0),
            transformation.get("zy", 1.0),
            height=height,
            width=width,
        )
        # A scalar parameter set applies to every image of the batch.
        matrices = ops.broadcast_to(matrices, (ops.shape(batch)[0], 8))
        out = _sample(
            batch, matrices, self.interpolation, self.fill_mode, self.cval, self.xla_compatible
        )
        return ops.squeeze(out, 0) if squeeze else out

    def call(self, inputs, training=True):
        if not training or self.is_identity:
            return inputs
        images = ops.cast(inputs, self.compute_dtype)
        return self.transform_images(images, self.get_random_transformation(images))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            rotation_range=self.rotation_range,
            width_shift_range=self.width_shift_range,
            height_shift_range=self.height_shift_range,
            shear_range=self.shear_range,
            zoom_range=list(self.zoom_range),
            fill_mode=self.fill_mode,
            cval=self.cval,
            interpolation=self.interpolation,
            seed=self.seed,
            xla_compatible=self.xla_compatible,
        )
        return config


@keras.saving.register_keras_serializable(package="kerasbench")
class RandomBrightnessScale(keras.layers.Layer):
    """IDG's ``brightness_range``: multiply each image by a factor uniform in [lo, hi].

    Unlike ``keras.layers.RandomBrightness`` (which adds a delta), this multiplies, as
    IDG's ``apply_brightness_shift`` (PIL ``ImageEnhance.Brightness``) does; the result is
    clipped to ``value_range``.
    """

    def __init__(self, brightness_range=(1.0, 1.0), value_range=(0.0, 255.0), seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.brightness_range = _brightness_pair(brightness_range)
        if len(value_range) != 2 or value_range[0] >= value_range[1]:
            raise ValueError(f"value_range must be (low, high), got {value_range!r}")
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    @property
    def is_identity(self) -> bool:
        return self.brightness_range == (1.0, 1.0)

    def call(self, inputs, training=True):
        if not training or self.is_identity:
            return inputs
        return self.scale(inputs)

    def scale(self, inputs, draw=None):
        """Multiply each image by its random factor (``draw`` as in RandomAffine)."""
        draw = draw or _keras_draws(self)
        images = ops.cast(inputs, self.compute_dtype)
        batch, squeeze = _as_batch(images)
        factor = draw((ops.shape(batch)[0], 1, 1, 1), *self.brightness_range)
        out = ops.clip(batch * factor, self.value_range[0], self.value_range[1])
        return ops.squeeze(out, 0) if squeeze else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            brightness_range=list(self.brightness_range),
            value_range=list(self.value_range),
            seed=self.seed,
        )
        return config


@keras.saving.register_keras_serializable(package="kerasbench")
class RandomResizedCrop(keras.layers.Layer):
    """torchvision's RandomResizedCrop, output size = input size.

    Per image: area fraction uniform in ``scale``, aspect ratio (w/h) log-uniform in
    ``ratio``; the first of 10 draws that fits the image is used, else a centre crop
    with the ratio clamped into ``ratio`` (torchvision's fallback). The crop is
    placed uniformly and resampled to the input size like ``tf.image.crop_and_resize``
    (corner pixel centres aligned, no antialiasing: the crop is only ever enlarged).
    Crop sizes are continuous (torchvision rounds them to whole pixels).
    ``xla_compatible`` as for :class:`RandomAffine`.
    """

    _ATTEMPTS = 10

    def __init__(
        self,
        scale=(0.08, 1.0),
        ratio=(3.0 / 4.0, 4.0 / 3.0),
        interpolation="bilinear",
        seed=None,
        xla_compatible=False,
        **kwargs,
    ):
        # float32 even under a mixed-precision policy: 0..255 pixels and sampling
        # coordinates lose whole pixels in 16-bit floats.
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.scale = _ordered_pair("random_resized_crop scale", scale, low=0.0, high=1.0)
        if self.scale[0] <= 0:
            raise ValueError(f"random_resized_crop scale must be > 0, got {scale!r}")
        self.ratio = _ordered_pair("random_resized_crop ratio", ratio, low=0.0)
        if self.ratio[0] <= 0:
            raise ValueError(f"random_resized_crop ratio must be > 0, got {ratio!r}")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(
                f"interpolation must be 'bilinear' or 'nearest', got {interpolation!r}"
            )
        self.interpolation = interpolation
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        _set_sampler(self, xla_compatible)

    def call(self, inputs, training=True):
        if not training:
            return inputs
        return self.crop(inputs)

    def crop(self, inputs, draw=None):
        """One random crop per image, resized back (``draw`` as in RandomAffine)."""
        draw = draw or _keras_draws(self)
        images = ops.cast(inputs, self.compute_dtype)
        batch, squeeze = _as_batch(images)
        n = ops.shape(batch)[0]
        height, width = _hw(batch)
        h_img = ops.cast(height, "float32")
        w_img = ops.cast(width, "float32")
        area = h_img * w_img
        tries = (n, self._ATTEMPTS)
        target = area * draw(tries, self.scale[0], self.scale[1])
        log_ratio = draw(tries, math.log(self.ratio[0]), math.log(self.ratio[1]))
        aspect = ops.exp(log_ratio)
        crop_w = ops.sqrt(target * aspect)
        crop_h = ops.sqrt(target / aspect)
        fits = ops.logical_and(crop_w <= w_img, crop_h <= h_img)
        first = ops.argmax(ops.cast(fits, "int32"), axis=1)
        pick = ops.one_hot(first, self._ATTEMPTS)
        any_fit = ops.any(fits, axis=1)
        crop_w = ops.sum(crop_w * pick, axis=1)
        crop_h = ops.sum(crop_h * pick, axis=1)
        # torchvision's fallback: the whole image, cut down to the nearest allowed ratio.
        in_ratio = w_img / h_img
        fb_w = ops.where(in_ratio > self.ratio[1], h_img * self.ratio[1], w_img)
        fb_h = ops.where(in_ratio < self.ratio[0], w_img / self.ratio[0], h_img)
        crop_w = ops.where(any_fit, crop_w, fb_w)
        crop_h = ops.where(any_fit, crop_h, fb_h)
        u = draw((n, 2), 0.0, 1.0)
        x0 = ops.where(any_fit, u[:, 0] * (w_img - crop_w), (w_img - crop_w) / 2.0)
        y0 = ops.where(any_fit, u[:, 1] * (h_img - crop_h), (h_img - crop_h) / 2.0)
        # tf.image.crop_and_resize's convention: the first and last output pixel centres
        # land on the crop's first and last pixel centres, so no sample reaches outside
        # the crop (a half-pixel mapping would blend in the pixels beside it).
        sx = ops.maximum(crop_w - 1.0, 0.0) / ops.maximum(w_img - 1.0, 1.0)
        sy = ops.maximum(crop_h - 1.0, 0.0) / ops.maximum(h_img - 1.0, 1.0)
        zeros = ops.zeros_like(sx)
        matrices = ops.stack([sx, zeros, x0, zeros, sy, y0, zeros, zeros], axis=1)
        out = _sample(batch, matrices, self.interpolation, "nearest", 0.0, self.xla_compatible)
        return ops.squeeze(out, 0) if squeeze else out

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            scale=list(self.scale),
            ratio=list(self.ratio),
            interpolation=self.interpolation,
            seed=self.seed,
            xla_compatible=self.xla_compatible,
        )
        return config

