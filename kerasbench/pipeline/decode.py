"""Decoding: TensorFlow's native decoders where they apply, PIL for everything else.

Images come out as float32 in 0..255, shape ``(h, w, channels)``, channels last.
:mod:`kerasbench.pipeline.formats` picks the decoder per file from its bytes. Both decoders
follow one set of conversion rules (so a dataset of mixed formats is consistent, and
single-image predictions see what training saw):

- grey -> 3 channels: the grey value is replicated (ImageNet backbones want RGB);
- RGB -> 1 channel: luminance ``0.299 R + 0.587 G + 0.114 B`` (ITU-R 601, as PIL's "L",
  but without PIL's rounding to integers), computed from the decoded RGB (a colour JPEG
  is NOT read through libjpeg's own grey output);
- alpha (RGBA, LA, palette with transparency): composited on WHITE;
- 16-bit images (PNG/TIFF "I;16", PGM with maxval > 255 as "I"): scaled by 255/65535
  (PIL); 32-bit float images ("F"): values <= 1 are taken as 0..1 and scaled by 255,
  others clipped to 0..255;
- palette, CMYK, YCbCr, LAB, HSV: converted to RGB (palette by either decoder, the rest
  by PIL);
- EXIF orientation is NOT applied (neither does Keras's ``load_img`` nor
  ``tf.io.decode_image``); the first frame of an animated GIF/WebP/TIFF is used.

Where the two decoders could differ, and what is done about it (tested in
``tests/test_pipeline_decode.py``):

- JPEG DCT method: TensorFlow's default is ``INTEGER_FAST`` (up to 4 levels from PIL on the
  clothing photos); here ``dct_method="INTEGER_ACCURATE"``, libjpeg's ISLOW as PIL uses,
  with fancy upsampling in both. On all 3,068 clothing training JPEGs the two decoders
  agreed exactly; ``JPEG_TOLERANCE`` (2 levels) allows for other libjpeg-turbo builds.
- Alpha: both composite ``rgb * a/255 + 255 * (1 - a/255)`` in float32 (same values).
  GIF transparency differs (TensorFlow paints transparent pixels black), so GIFs with a
  transparent colour go to PIL.
- Rounding: PNG/GIF/BMP are lossless, so 8-bit values agree exactly; the float luminance
  for ``channels=1`` may differ by float32 round-off (``LUMA_TOLERANCE``).
- 16-bit PNG: TensorFlow would truncate to the high byte; such files go to PIL (255/65535).
- CMYK/YCCK JPEG (Adobe inversion conventions differ between decoders): PIL.

Errors: a missing file raises FileNotFoundError naming it; a file whose structure does not
check out (truncated, not an image, a JPEG with stray markers in its data) is handed to
PIL, whose DatasetError names it (first line of the message, also inside tf.data).
Corrupt JPEG data without stray markers only draws libjpeg warnings in both decoders. A
file that still makes a TensorFlow decoder fail inside the tf.data graph gets
TensorFlow's message, which cannot name the file; :func:`load_image` and
:func:`check_decodes` re-raise such failures as a DatasetError naming it.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from kerasbench.errors import ConfigError, DatasetError
from kerasbench.pipeline import formats
from kerasbench.pipeline.resize import check_interpolation, normalise_size, resize

__all__ = ["check_decodes", "load_image", "read_image"]

JPEG_TOLERANCE = 2.0
LUMA_TOLERANCE = 1e-3
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_SIXTEEN_BIT_SCALE = np.float32(255.0 / 65535.0)


# --------------------------------------------------------------------------- PIL


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


def check_channels(channels):
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ConfigError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    return int(channels)


def read_image(path, channels: int = 3) -> np.ndarray:
    """Decode one file with PIL at its own size: float32 (h, w, channels) in 0..255.

    The reference decoder (and the pipeline's decoder for formats TensorFlow cannot read).
    Raises FileNotFoundError when the file is missing and DatasetError (a ValueError)
    when PIL cannot decode it; both messages name the file.
    """
    from PIL import Image, UnidentifiedImageError

    channels = check_channels(channels)
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


# --------------------------------------------------------------------------- native


def _finish(image, source_channels: int, alpha: bool, channels: int):
    """uint8 (h, w, source_channels [+ alpha]) -> float32 (h, w, channels), PIL's rules."""
    import tensorflow as tf

    image = tf.cast(image, tf.float32)
    if alpha:
        opacity = image[..., -1:] / 255.0
        image = image[..., :-1] * opacity + 255.0 * (1.0 - opacity)
    if source_channels != channels:
        if channels == 3:
            image = tf.tile(image, [1, 1, 3])
        else:
            image = tf.tensordot(image, tf.constant(_LUMA), axes=[[2], [0]])[..., None]
    image.set_shape([None, None, channels])
    return image


def decode_tensor(path, code, channels: int, codes=None):
    """Graph op: file ``path`` (string tensor) -> float32 (h, w, channels) in 0..255.

    ``code``: the file's decoder (int32 tensor or int, see
    :mod:`~kerasbench.pipeline.formats`); ``codes``: the decoders that can occur (default
    all). With one possible decoder there is no branching at all: each branch of a
    ``tf.switch_case`` is a function that every new iterator instantiates (about 20 ms
    each on this project's CPU), so a dataset of JPEGs only carries the JPEG branch.
    """
    import tensorflow as tf

    def native(decode, source_channels, alpha=False):
        def branch():
            return _finish(decode(tf.io.read_file(path)), source_channels, alpha, channels)
        return branch

    def pil():
        image = tf.numpy_function(
            lambda p: read_image(p, channels), [path], tf.float32, stateful=False
        )
        image.set_shape([None, None, channels])
        return image

    def jpeg(components):
        return lambda data: tf.io.decode_jpeg(data, channels=components,
                                              dct_method="INTEGER_ACCURATE")

    def png(components):
        return lambda data: tf.io.decode_png(data, channels=components)

    branches = {
        formats.PIL: pil,
        formats.JPEG_GREY: native(jpeg(1), 1),
        formats.JPEG_RGB: native(jpeg(3), 3),
        formats.PNG_GREY: native(png(1), 1),
        formats.PNG_RGB: native(png(3), 3),
        formats.PNG_GREY_ALPHA: native(lambda d: tf.ensure_shape(tf.io.decode_png(d), [None, None, 2]),
                                       1, alpha=True),
        formats.PNG_RGBA: native(png(4), 3, alpha=True),
        formats.GIF: native(lambda d: tf.io.decode_gif(d)[0], 3),
        formats.BMP: native(lambda d: tf.io.decode_bmp(d, channels=3), 3),
    }
    codes = tuple(sorted(set(int(c) for c in (range(len(branches)) if codes is None else codes))))
    if len(codes) == 1:
        return branches[codes[0]]()
    position = tf.searchsorted(tf.constant(codes, tf.int32),
                               tf.reshape(tf.cast(code, tf.int32), [1]))[0]
    return tf.switch_case(position, [branches[c] for c in codes])


def decode_and_resize(path, code, channels: int, size, interpolation: str, codes=None):
    """The pipeline's per-file step: decode (native or PIL) then :func:`resize`."""
    import tensorflow as tf

    image = decode_tensor(path, code, channels, codes)
    if size is None:
        return image
    image = resize(image, size, interpolation)
    return tf.ensure_shape(image, [size[0], size[1], channels])


# load_image runs its ops as a one-element tf.data map inside a tf.function: the same
# runtime as make_dataset's map, so the values are bitwise equal (a plain tf.function gave
# matrix products that differed by float32 round-off), at about 1.5 ms per call.
@functools.lru_cache(maxsize=64)
def _graph(channels, size, interpolation, code):
    import tensorflow as tf

    def run(path):
        dataset = tf.data.Dataset.from_tensors(path).map(
            lambda p: decode_and_resize(p, code, channels, size, interpolation, (code,)))
        return dataset.get_single_element()
    return tf.function(run, input_signature=[tf.TensorSpec([], tf.string)])


@functools.lru_cache(maxsize=64)
def _resize_graph(size, interpolation):
    import tensorflow as tf

    def run(image):
        dataset = tf.data.Dataset.from_tensors(image).map(
            lambda x: resize(x, size, interpolation))
        return dataset.get_single_element()
    return tf.function(run, input_signature=[tf.TensorSpec([None, None, None], tf.float32)])


def load_image(
    path, image_size=None, channels: int = 3, interpolation: str = "bilinear"
) -> np.ndarray:
    """One image as the pipeline would yield it: float32 (h, w, channels) in 0..255.

    Same decoder choice, conversions and resize as :func:`make_dataset` (equal values).
    ``image_size`` None keeps the file's size. Use for single-image predictions and the
    Siamese verify API (add a batch axis with ``x[None]``).
    """
    import tensorflow as tf

    size = None if image_size is None else normalise_size(image_size)
    interpolation = check_interpolation(interpolation)
    channels = check_channels(channels)
    path = os.fsdecode(path)
    code = formats.sniff(path)
    if code == formats.PIL:
        image = read_image(path, channels)
        if size is None:
            return image
        return np.asarray(_resize_graph(size, interpolation)(tf.constant(image)), np.float32)
    try:
        image = _graph(channels, size, interpolation, code)(tf.constant(path))
    except tf.errors.NotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except tf.errors.OpError as error:
        message = (error.message or str(error)).strip().splitlines()
        raise DatasetError(
            f"cannot decode image file {path} ({formats.DECODER_NAMES[code]}): "
            f"{message[0] if message else type(error).__name__}"
        ) from None
    return np.asarray(image, dtype=np.float32)


def check_decodes(paths, channels: int = 3) -> None:
    """Decode every file once, raising DatasetError naming the first that fails.

    For finding the culprit after TensorFlow's decoder failed inside a dataset (its
    message does not name the file).
    """
    for path in paths:
        load_image(path, None, channels)
