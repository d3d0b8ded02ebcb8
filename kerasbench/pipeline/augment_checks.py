"""Argument checking for the ImageDataGenerator-named augmentation settings.

What :class:`~kerasbench.pipeline.augment.Augmentation` accepts, what it refuses and why.
"""

from __future__ import annotations

import math

import numpy as np

FILL_MODES = ("nearest", "constant", "reflect", "wrap")
INTERPOLATION_ORDERS = {0: "nearest", 1: "bilinear"}

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
REFUSED = {
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


def _flag(name, value):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_other_arguments(other):
    for name, value in other.items():
        if name in REFUSED:
            defaults, reason = REFUSED[name]
            defaults = defaults if isinstance(defaults, tuple) else (defaults,)
            if any(_same_default(value, default) for default in defaults):
                continue
            raise ValueError(
                f"ImageDataGenerator argument {name}={value!r} is not supported: {reason}"
            )
        raise ValueError(
            f"unknown augmentation argument {name!r}; supported: {', '.join(SUPPORTED_ARGUMENTS)}"
            f" (refused IDG arguments: {', '.join(REFUSED)})"
        )
