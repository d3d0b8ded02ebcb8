"""Checks of settings, each naming the setting, the value and what was expected.

Library code raises :class:`~kerasbench.errors.ConfigError` (a ``ValueError``) from
here instead of asserting, so a notebook parameter, a profile entry and a function
argument all fail with the same readable message.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kerasbench.errors import ConfigError


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """An int >= ``minimum`` (bools and strings are refused, not converted)."""
    if not _is_int(value) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def positive_number(value: Any, name: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ConfigError(f"{name} must be {bound}, got {value!r}")
    return float(value)


def fraction(value: Any, name: str, *, allow_zero: bool = True) -> float:
    """A number in [0, 1) (or (0, 1) with ``allow_zero=False``)."""
    number = positive_number(value, name, allow_zero=allow_zero)
    if number >= 1:
        raise ConfigError(f"{name} must be below 1, got {value!r}")
    return number


def choice(value: Any, name: str, allowed: Iterable) -> Any:
    allowed = list(allowed)
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def positive_int_list(values: Any, name: str, *, minimum: int = 1) -> list[int]:
    """A non-empty list of ints; a lone int or a string is refused with a hint."""
    if _is_int(values) or isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise ConfigError(f"{name} must be a list of integers, e.g. [{values!r}], got {values!r}")
    if not values:
        raise ConfigError(f"{name} must not be empty")
    return [positive_int(value, f"{name}[{position}]", minimum=minimum)
            for position, value in enumerate(values)]


def positive_number_list(values: Any, name: str) -> list[float]:
    if isinstance(values, (str, bytes, numbers.Number)) or not isinstance(values, Sequence):
        raise ConfigError(f"{name} must be a list of numbers, e.g. [{values!r}], got {values!r}")
    if not values:
        raise ConfigError(f"{name} must not be empty")
    return [positive_number(value, f"{name}[{position}]") for position, value in enumerate(values)]


def known_keys(settings: dict, allowed: Iterable[str], name: str) -> None:
    """Unknown keys are an error: a typo would otherwise be a silently different run."""
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise ConfigError(f"unknown {name} {unknown}; known: {sorted(allowed)}")


def weights_setting(value: Any, name: str = "weights") -> Any:
    """None (random initialisation), ``"imagenet"`` or a weights file path."""
    if value is not None and not isinstance(value, (str, os.PathLike)):
        raise ConfigError(f"{name} must be None, 'imagenet' or a weights file path, got "
                          f"{value!r} ({type(value).__name__})")
    return value


def augmentation_settings(value: Any, name: str = "augmentation") -> Any:
    """ImageDataGenerator-style settings (every name and range checked now, with the
    augmentation's own messages), or None / ``{}`` for none."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ConfigError(f"{name} must be a dict of ImageDataGenerator-style settings or "
                          f"None, got {value!r} ({type(value).__name__})")
    from kerasbench.pipeline import Augmentation

    try:
        Augmentation(**value)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{name}: {error}") from None
    return value
