"""ImageDataGenerator-named augmentation settings as Keras 3 preprocessing layers.

Papers describe their augmentation with ``ImageDataGenerator`` arguments. Keras 3 has no
``ImageDataGenerator`` in its public API, and its stock preprocessing layers give several of
the same names different meanings (``RandomShear`` takes a fraction, not degrees;
``RandomBrightness`` adds, it does not multiply; ``RandomZoom`` takes signed percentages
and one factor for both axes by default). :class:`Augmentation` takes ImageDataGenerator's
names *with ImageDataGenerator's meanings* and builds the layers below.

Mapping (``IDG argument -> layer (meaning)``):

==========================  =================================================================
IDG argument                Layer and meaning here
==========================  =================================================================
``rotation_range=r``        :class:`RandomAffine`: angle uniform in [-r, r] degrees per image;
                            positive is counter-clockwise on screen (as ``np.rot90``)
``width_shift_range=f``     :class:`RandomAffine`: horizontal shift uniform in [-f, f] x width
                            pixels (a fraction in [0, 1); IDG's pixel/int forms are refused)
``height_shift_range=f``    :class:`RandomAffine`: vertical shift uniform in [-f, f] x height
``shear_range=s``           :class:`RandomAffine`: shear ANGLE uniform in [-s, s] DEGREES,
                            counter-clockwise (so the common ``shear_range=0.2`` is 0.2 degrees,
                            almost nothing, exactly as in IDG; ``keras.layers.RandomShear(0.2)``
                            would instead shear by up to 20 % of the size)
``zoom_range=z | [lo, hi]`` :class:`RandomAffine`: zx, zy drawn independently, uniform in
                            [1-z, 1+z] (or [lo, hi]); zx > 1 zooms OUT (shows more), as IDG
``fill_mode``, ``cval``     :class:`RandomAffine` fill: "nearest", "constant" (with ``cval``),
                            "reflect", "wrap" (IDG default "nearest")
``interpolation_order``     :class:`RandomAffine`: 1 bilinear (IDG default), 0 nearest
``horizontal_flip=True``    ``keras.layers.RandomFlip("horizontal")``: mirror left-right, p=0.5
``vertical_flip=True``      ``keras.layers.RandomFlip("vertical")``: mirror top-bottom, p=0.5
``brightness_range=[a, b]`` :class:`RandomBrightnessScale`: pixel values x factor uniform in
                            [a, b], clipped to 0..255 (IDG multiplies via PIL the same way)
``random_resized_crop``     :class:`RandomResizedCrop` (not IDG; torchvision's): area fraction in
(not IDG)                   ``scale=(0.08, 1.0)``, aspect ratio log-uniform in
                            ``ratio=(3/4, 4/3)``, resized back to the input size
==========================  =================================================================

Rotation, shift, shear and zoom are ONE affine transform per image, composed exactly as
``ImageDataGenerator.apply_transform`` does (rotation . shift . shear . zoom, about the image
centre, output coordinates mapped to input coordinates), sampled as in
``get_random_transform``. Order of layers: random resized crop, affine, flips, brightness
(IDG applies affine, then flips, then brightness).

Deliberate differences from ImageDataGenerator; each follows what IDG documents where
its code does something else:

- IDG (keras-preprocessing >= 1.1.2, tf.keras 2.x, the Keras 3 legacy copy) applies
  ``height_shift_range`` horizontally and ``width_shift_range`` vertically (a known bug,
  keras-team/keras#17398). Here each shifts along the axis its name says. With equal
  ranges on square images, as in the studies, the two are the same distribution.
- IDG puts the centre at (h/2 - 0.5, w/2 - 0.5) in (x, y) order, i.e. the wrong way round
  for non-square images; here it is the true centre ((w-1)/2, (h-1)/2). Square images
  are identical.
- IDG's brightness rounds to uint8 through PIL; here values stay float.
- Sampling is TensorFlow's (ImageProjectiveTransformV3): identical to IDG's scipy
  resampling for fill modes "nearest" and "reflect" (tested against the legacy IDG); for
  "constant" and "wrap" the two libraries treat the outermost pixel row differently.

Arguments IDG has and this module refuses, with the reason, unless set to IDG's no-op
default (``rescale=None``, ``featurewise_center=False``... are accepted): ``featurewise_*``,
``samplewise_*``, ``zca_*``, ``channel_shift_range``, ``rescale``,
``preprocessing_function``, ``data_format``, ``validation_split``, ``dtype``.

All layers act only when called with ``training=True`` (their default, as for Keras's own
random layers) and return the input unchanged for ``training=False``.

XLA: TensorFlow's affine kernel has no XLA implementation, so by default the affine and
crop layers set ``supports_jit=False`` (Keras then leaves ``jit_compile="auto"`` off, as
for its own RandomRotation). ``as_sequential(xla_compatible=True)`` builds gather-based
layers with the same values that compile under ``jit_compile=True``.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
from keras import ops

__all__ = [
    "Augmentation",
    "RandomAffine",
    "RandomBrightnessScale",
    "RandomResizedCrop",
    "SUPPORTED_ARGUMENTS",
    "augmentation_from_config",
    "idg_affine_transform",
    "legacy_image_data_generator",
]

FILL_MODES = ("nearest", "constant", "reflect", "wrap")
_INTERPOLATIONS = {0: "nearest", 1: "bilinear"}

SUPPORTED_ARGUMENTS = (
    "rotation_range",
    "width_shift_range",
    "height_shift_range",
    "shear_range",
    "zoom_range",
    "horizontal_flip",
    "vertical_flip",
    "brightness_range",
    "fill_mode",
    "cval",
    "interpolation_order",
    "random_resized_crop",
    "seed",
)

# IDG arguments refused here: (no-op value(s) accepted silently - IDG's default -, reason).
_REFUSED = {
    "featurewise_center": (
        False,
        "dataset statistics belong in the model: every backbone normalises its own 0-255 "
        "input inside the model (preprocess_input)",
    ),
    "samplewise_center": (False, "models normalise inside; feed 0-255 images"),
    "featurewise_std_normalization": (
        False,
        "dataset statistics belong in the model; feed 0-255 images",
    ),
    "samplewise_std_normalization": (False, "models normalise inside; feed 0-255 images"),
    "zca_whitening": (False, "ZCA whitening is not part of any study protocol here"),
    "zca_epsilon": (1e-6, "ZCA whitening is not supported"),
    "channel_shift_range": (
        0.0,
        "no study uses it; add a layer for it rather than approximating IDG's "
        "per-image additive channel shift",
    ),
    "rescale": (
        (None, 1, 1.0),
        "models normalise inside (preprocess_input is part of the backbone), so the "
        "pipeline feeds raw 0-255 pixels; rescaling here would normalise twice",
    ),
    "preprocessing_function": (
        None,
        "preprocessing is part of the model; put custom steps in a Keras layer",
    ),
    "data_format": ((None, "channels_last"), "the pipeline is channels_last only"),
    "validation_split": (
        0.0,
        "splits come from the dataset index (train/validation/test folders), not from "
        "the augmentation settings",
    ),
    "dtype": ((None, "float32"), "the pipeline always yields float32 images"),
}


# --------------------------------------------------------------------------- matrices


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


# --------------------------------------------------------------------------- layers


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

    def get_random_transformation(self, images):
        """Per-image IDG parameters (dict of 1-D tensors), sampled as IDG samples them."""
        batch, _ = _as_batch(images)
        n = ops.shape(batch)[0]
        height, width = _hw(batch)
        height = ops.cast(height, "float32")
        width = ops.cast(width, "float32")

        def uniform(low, high):
            return keras.random.uniform((n,), minval=low, maxval=high, seed=self.seed_generator)

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
        images = ops.cast(inputs, self.compute_dtype)
        batch, squeeze = _as_batch(images)
        factor = keras.random.uniform(
            (ops.shape(batch)[0], 1, 1, 1),
            minval=self.brightness_range[0],
            maxval=self.brightness_range[1],
            seed=self.seed_generator,
        )
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
        images = ops.cast(inputs, self.compute_dtype)
        batch, squeeze = _as_batch(images)
        n = ops.shape(batch)[0]
        height, width = _hw(batch)
        h_img = ops.cast(height, "float32")
        w_img = ops.cast(width, "float32")
        area = h_img * w_img
        tries = (n, self._ATTEMPTS)
        target = area * keras.random.uniform(
            tries, self.scale[0], self.scale[1], seed=self.seed_generator
        )
        log_ratio = keras.random.uniform(
            tries,
            math.log(self.ratio[0]),
            math.log(self.ratio[1]),
            seed=self.seed_generator,
        )
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
        u = keras.random.uniform((n, 2), seed=self.seed_generator)
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


# --------------------------------------------------------------------------- validation


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return value


def _non_negative(name, value):
    value = _number(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (the range is symmetric, [-r, r]), got {value}")
    return value


def _fraction(name, value):
    if isinstance(value, (list, tuple, np.ndarray)):
        raise ValueError(
            f"{name}={value!r}: IDG's list form (a set of pixel shifts to choose from) is "
            "not supported; give a fraction of the image size in [0, 1)"
        )
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value != 0:
        raise ValueError(
            f"{name}={value!r}: an int means pixels in IDG; give a fraction of the image "
            "size in [0, 1) instead (e.g. 0.1), so the setting does not depend on image_size"
        )
    value = _non_negative(name, value)
    if value >= 1:
        raise ValueError(
            f"{name}={value}: IDG reads values >= 1 as pixels; give a fraction of the image "
            "size in [0, 1) instead"
        )
    return value


def _ordered_pair(name, value, low=None, high=None):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair [low, high], got {value!r}")
    a, b = (_number(name, v) for v in value)
    if a > b:
        raise ValueError(f"{name} must be [low, high] with low <= high, got {value!r}")
    if low is not None and a < low:
        raise ValueError(f"{name} values must be >= {low}, got {value!r}")
    if high is not None and b > high:
        raise ValueError(f"{name} values must be <= {high}, got {value!r}")
    return (a, b)


def _zoom_pair(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        pair = _ordered_pair("zoom_range", value)
    else:
        z = _non_negative("zoom_range", value)
        pair = (1.0 - z, 1.0 + z)
    if pair[0] <= 0:
        raise ValueError(f"zoom_range must keep zoom factors > 0, got {value!r} -> {pair}")
    return pair


def _brightness_pair(value):
    pair = _ordered_pair("brightness_range", value, low=0.0)
    return pair


def _fill_mode(value):
    if value not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {FILL_MODES}, got {value!r}")
    return value


def _same_default(value, default) -> bool:
    if value is None or default is None:
        return value is default
    if isinstance(value, bool) != isinstance(default, bool):
        return False
    try:
        return bool(value == default)
    except Exception:  # noqa: BLE001 - arrays and odd objects are simply "not the default"
        return False


# --------------------------------------------------------------------------- Augmentation


class Augmentation:
    """Augmentation described with ImageDataGenerator's argument names and meanings.

    ``Augmentation(rotation_range=15, width_shift_range=0.15, horizontal_flip=True)``;
    call it on an image or a batch (float 0..255, channels last) with ``training=True``.
    ``seed`` (not an IDG argument) seeds every layer's random stream, so two
    augmentations with the same settings and seed produce the same images.
    """

    def __init__(
        self,
        *,
        rotation_range=0.0,
        width_shift_range=0.0,
        height_shift_range=0.0,
        shear_range=0.0,
        zoom_range=0.0,
        horizontal_flip=False,
        vertical_flip=False,
        brightness_range=None,
        fill_mode="nearest",
        cval=0.0,
        interpolation_order=1,
        random_resized_crop=None,
        seed=None,
        **other,
    ):
        _check_other_arguments(other)
        self.rotation_range = _non_negative("rotation_range", rotation_range)
        self.width_shift_range = _fraction("width_shift_range", width_shift_range)
        self.height_shift_range = _fraction("height_shift_range", height_shift_range)
        self.shear_range = _non_negative("shear_range", shear_range)
        self.zoom_range = _zoom_pair(zoom_range)
        self.horizontal_flip = _flag("horizontal_flip", horizontal_flip)
        self.vertical_flip = _flag("vertical_flip", vertical_flip)
        self.brightness_range = (
            None if brightness_range is None else _brightness_pair(brightness_range)
        )
        self.fill_mode = _fill_mode(fill_mode)
        self.cval = _number("cval", cval)
        if interpolation_order not in _INTERPOLATIONS or isinstance(interpolation_order, bool):
            raise ValueError(
                f"interpolation_order must be 0 (nearest) or 1 (bilinear, IDG's default); "
                f"higher spline orders are not available in keras.ops, got "
                f"{interpolation_order!r}"
            )
        self.interpolation_order = int(interpolation_order)
        self.random_resized_crop = _resized_crop_settings(random_resized_crop)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(f"seed must be an integer or None, got {seed!r}")
        self.seed = None if seed is None else int(seed)
        self.layers = self._build_layers()

    @classmethod
    def from_image_data_generator(cls, **kwargs) -> Augmentation:
        """Same as the constructor; spelled out for readers coming from IDG code."""
        return cls(**kwargs)

    # -- structure

    def _seed(self, offset):
        # Distinct but reproducible streams per layer; None keeps Keras's global seeding.
        return None if self.seed is None else self.seed + offset

    def _build_layers(self, xla_compatible=False):
        layers = []
        if self.random_resized_crop is not None:
            layers.append(
                RandomResizedCrop(
                    scale=self.random_resized_crop["scale"],
                    ratio=self.random_resized_crop["ratio"],
                    seed=self._seed(0),
                    xla_compatible=xla_compatible,
                    name="random_resized_crop",
                )
            )
        affine = RandomAffine(
            rotation_range=self.rotation_range,
            width_shift_range=self.width_shift_range,
            height_shift_range=self.height_shift_range,
            shear_range=self.shear_range,
            zoom_range=self.zoom_range,
            fill_mode=self.fill_mode,
            cval=self.cval,
            interpolation=_INTERPOLATIONS[self.interpolation_order],
            seed=self._seed(1),
            xla_compatible=xla_compatible,
            name="random_affine",
        )
        if not affine.is_identity:
            layers.append(affine)
        mode = {
            (True, False): "horizontal",
            (False, True): "vertical",
            (True, True): "horizontal_and_vertical",
        }.get((self.horizontal_flip, self.vertical_flip))
        if mode is not None:
            layers.append(
                keras.layers.RandomFlip(
                    mode, seed=self._seed(2), name="random_flip", dtype="float32"
                )
            )
        if self.brightness_range is not None and self.brightness_range != (1.0, 1.0):
            layers.append(
                RandomBrightnessScale(
                    self.brightness_range, seed=self._seed(3), name="random_brightness_scale"
                )
            )
        return layers

    @property
    def is_identity(self) -> bool:
        """True when nothing would change an image; the pipeline then skips augmentation."""
        return not self.layers

    def as_sequential(self, name="augmentation", xla_compatible=False) -> keras.Sequential:
        """The layers as a ``keras.Sequential`` for use inside a model (e.g. on a GPU).

        An identity layer when there are none. ``xla_compatible=True`` builds fresh layers
        (same settings and seeds) that compile under ``jit_compile=True``; by default
        the layers are ``self.layers`` and mark the model as not XLA-compilable
        (``supports_jit=False``), as Keras's own affine augmentation layers do.
        """
        layers = self._build_layers(xla_compatible=True) if xla_compatible else self.layers
        return keras.Sequential(layers or [keras.layers.Identity()], name=name)

    def __call__(self, images, training=True):
        if not training or self.is_identity:
            return images
        out = ops.cast(images, "float32")
        for layer in self.layers:
            out = layer(out, training=True)
        return out

    # -- records

    def to_config(self) -> dict[str, Any]:
        """JSON-ready settings; ``augmentation_from_config(aug.to_config())`` rebuilds it."""
        return {
            "rotation_range": self.rotation_range,
            "width_shift_range": self.width_shift_range,
            "height_shift_range": self.height_shift_range,
            "shear_range": self.shear_range,
            "zoom_range": list(self.zoom_range),
            "horizontal_flip": self.horizontal_flip,
            "vertical_flip": self.vertical_flip,
            "brightness_range": None
            if self.brightness_range is None
            else list(self.brightness_range),
            "fill_mode": self.fill_mode,
            "cval": self.cval,
            "interpolation_order": self.interpolation_order,
            "random_resized_crop": None
            if self.random_resized_crop is None
            else {k: list(v) for k, v in self.random_resized_crop.items()},
            "seed": self.seed,
        }

    def describe(self) -> list[str]:
        """One line per active setting: ``IDG arg -> layer(meaning)``."""
        lines = []
        if self.random_resized_crop is not None:
            s, r = self.random_resized_crop["scale"], self.random_resized_crop["ratio"]
            lines.append(
                f"random_resized_crop(scale={s}, ratio=({r[0]:.4g}, {r[1]:.4g})) -> "
                f"RandomResizedCrop(area fraction uniform in {s}, aspect ratio log-uniform "
                "in ratio, resized back to the input size; torchvision semantics)"
            )
        if self.rotation_range:
            lines.append(
                f"rotation_range={self.rotation_range:g} -> RandomAffine(rotation uniform in "
                f"±{self.rotation_range:g} degrees, positive = counter-clockwise)"
            )
        if self.width_shift_range:
            lines.append(
                f"width_shift_range={self.width_shift_range:g} -> RandomAffine(horizontal shift "
                f"uniform in ±{self.width_shift_range:g} x width pixels)"
            )
        if self.height_shift_range:
            lines.append(
                f"height_shift_range={self.height_shift_range:g} -> RandomAffine(vertical "
                f"shift uniform in ±{self.height_shift_range:g} x height pixels)"
            )
        if self.shear_range:
            lines.append(
                f"shear_range={self.shear_range:g} -> RandomAffine(shear ANGLE uniform in "
                f"±{self.shear_range:g} DEGREES, counter-clockwise, IDG semantics; not "
                "RandomShear's fraction)"
            )
        if self.zoom_range != (1.0, 1.0):
            lo, hi = self.zoom_range
            lines.append(
                f"zoom_range=[{lo:g}, {hi:g}] -> RandomAffine(zx, zy independently uniform "
                f"in [{lo:g}, {hi:g}]; > 1 zooms out)"
            )
        if any(layer.name == "random_affine" for layer in self.layers):
            lines.append(
                f"fill_mode={self.fill_mode!r}, cval={self.cval:g}, interpolation_order="
                f"{self.interpolation_order} -> RandomAffine(one composed transform per image: "
                f"rotation . shift . shear . zoom about the centre, "
                f"{_INTERPOLATIONS[self.interpolation_order]} sampling)"
            )
        if self.horizontal_flip:
            lines.append(
                "horizontal_flip=True -> RandomFlip('horizontal')(mirror left-right, p=0.5)"
            )
        if self.vertical_flip:
            lines.append("vertical_flip=True -> RandomFlip('vertical')(mirror top-bottom, p=0.5)")
        if self.brightness_range is not None and self.brightness_range != (1.0, 1.0):
            lo, hi = self.brightness_range
            lines.append(
                f"brightness_range=[{lo:g}, {hi:g}] -> RandomBrightnessScale(pixels x factor "
                f"uniform in [{lo:g}, {hi:g}], clipped to 0..255)"
            )
        if not lines:
            lines.append("(no augmentation) -> identity")
        return lines

    def __repr__(self):
        active = {
            k: v for k, v in self.to_config().items() if k in _ACTIVE_CHECK and _ACTIVE_CHECK[k](v)
        }
        args = ", ".join(f"{k}={v!r}" for k, v in active.items())
        return f"Augmentation({args})"


_ACTIVE_CHECK = {
    "rotation_range": bool,
    "width_shift_range": bool,
    "height_shift_range": bool,
    "shear_range": bool,
    "zoom_range": lambda v: list(v) != [1.0, 1.0],
    "horizontal_flip": bool,
    "vertical_flip": bool,
    "brightness_range": lambda v: v is not None,
    "random_resized_crop": lambda v: v is not None,
    "seed": lambda v: v is not None,
}


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _resized_crop_settings(value):
    if value is None or value is False:
        return None
    if value is True:
        value = {}
    if not isinstance(value, dict):
        raise ValueError(
            "random_resized_crop must be None, True or a dict(scale=(0.08, 1.0), "
            f"ratio=(3/4, 4/3)), got {value!r}"
        )
    unknown = set(value) - {"scale", "ratio"}
    if unknown:
        raise ValueError(
            f"random_resized_crop accepts 'scale' and 'ratio', got unknown {sorted(unknown)}"
        )
    # Validate through the layer so the rules live in one place.
    layer = RandomResizedCrop(
        scale=value.get("scale", (0.08, 1.0)), ratio=value.get("ratio", (3.0 / 4.0, 4.0 / 3.0))
    )
    return {"scale": layer.scale, "ratio": layer.ratio}


def _check_other_arguments(other):
    for name, value in other.items():
        if name in _REFUSED:
            defaults, reason = _REFUSED[name]
            defaults = defaults if isinstance(defaults, tuple) else (defaults,)
            if any(_same_default(value, default) for default in defaults):
                continue
            raise ValueError(
                f"ImageDataGenerator argument {name}={value!r} is not supported: {reason}"
            )
        raise ValueError(
            f"unknown augmentation argument {name!r}; supported: {', '.join(SUPPORTED_ARGUMENTS)}"
            f" (refused IDG arguments: {', '.join(_REFUSED)})"
        )


def augmentation_from_config(config) -> Augmentation | None:
    """Build an :class:`Augmentation` from a dict (e.g. ``to_config()``); None stays None."""
    if config is None:
        return None
    if isinstance(config, Augmentation):
        return config
    if not isinstance(config, dict):
        raise ValueError(f"augmentation config must be a dict, got {type(config).__name__}")
    return Augmentation(**config)


def legacy_image_data_generator(**kwargs):
    """TensorFlow's legacy ``ImageDataGenerator`` for side-by-side checks only.

    Raises ImportError when this TensorFlow/Keras no longer ships it. Remember its shift
    axes are swapped (module docstring) and that it needs scipy.
    """
    try:
        import tensorflow as tf

        generator = tf.keras.preprocessing.image.ImageDataGenerator
    except (ImportError, AttributeError) as error:
        raise ImportError(
            "ImageDataGenerator is not available in this TensorFlow/Keras installation "
            "(Keras 3 dropped it from its public API; tf.keras exposes a legacy copy in "
            "some versions). Use kerasbench.augment.Augmentation instead."
        ) from error
    return generator(**kwargs)
