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
In the ``tf.data`` pipeline an :class:`Augmentation` runs through :meth:`~Augmentation.
apply_stateless`: the same layers and distributions, with random numbers drawn from a
per-batch seed (``tf.data.Dataset.random``) instead of the layers' stateful streams, so
batches are augmented in parallel and the result does not depend on thread timing.

XLA: TensorFlow's affine kernel has no XLA implementation, so by default the affine and
crop layers set ``supports_jit=False`` (Keras then leaves ``jit_compile="auto"`` off, as
for its own RandomRotation). ``as_sequential(xla_compatible=True)`` builds gather-based
layers with the same values that compile under ``jit_compile=True``.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
from keras import ops

from kerasbench.pipeline.augment_checks import (
    INTERPOLATION_ORDERS,
    _brightness_pair,
    _fill_mode,
    _flag,
    _fraction,
    _non_negative,
    _number,
    _zoom_pair,
    check_other_arguments,
)
from kerasbench.pipeline.augment_layers import (
    RandomAffine,
    RandomBrightnessScale,
    RandomResizedCrop,
)
from kerasbench.pipeline.augment_sampling import StatelessDraws

__all__ = ["Augmentation", "augmentation_from_config", "legacy_image_data_generator"]

_INTERPOLATIONS = INTERPOLATION_ORDERS

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
        check_other_arguments(other)
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

    def apply_stateless(self, images, seed):
        """Augment a batch with random numbers drawn from ``seed`` (int tensor, shape (2,)).

        Same layers, order and distributions as ``self(images)``, but no layer state is
        read or advanced: the output depends only on ``images`` and ``seed``, so
        ``tf.data`` may run it on several batches at once (``make_dataset`` does, with
        one seed per batch from ``tf.data.Dataset.random``). TensorFlow backend only.
        """
        import tensorflow as tf

        out = tf.cast(images, tf.float32)
        for offset, layer in enumerate(self.layers):
            draw = StatelessDraws(seed, offset)
            if isinstance(layer, RandomResizedCrop):
                out = layer.crop(out, draw)
            elif isinstance(layer, RandomAffine):
                out = layer.transform_images(out, layer.get_random_transformation(out, draw))
            elif isinstance(layer, RandomBrightnessScale):
                out = layer.scale(out, draw)
            else:  # RandomFlip: each axis flipped with probability 1/2, per image
                n = tf.shape(out)[0]
                for wanted, axis in ((self.horizontal_flip, 2), (self.vertical_flip, 1)):
                    if wanted:
                        flip = draw((n,), 0.0, 1.0) < 0.5
                        out = tf.where(flip[:, None, None, None], tf.reverse(out, [axis]), out)
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
            "some versions). Use kerasbench.pipeline.Augmentation instead."
        ) from error
    return generator(**kwargs)
