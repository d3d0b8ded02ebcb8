"""Typed notebook parameters: every name in a study notebook's ``parameters`` cell is
declared with a type (``epochs: int = 1  # training epochs``), which papermill shows in
``papermill --help-notebook``; the runner, the ``kerasbench`` command and the studies check
values against it before anything runs, naming the parameter, the value and the type.

Supported annotations: ``int``, ``float`` (an int is accepted), ``str``, ``bool``,
``dict``, ``list``, ``list[int]``, ``list[float]``, ``list[str]``, ``list[dict]``,
``list[int | None]``, ``list[float | None]``, and any of these ``| None``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from kerasbench.errors import ConfigError

_SCALARS = {"int", "float", "str", "bool", "dict", "list"}


@dataclass(frozen=True)
class ParameterType:
    """A parsed annotation: ``base`` (a scalar name or ``list``), ``item`` for lists."""

    text: str
    base: str
    item: ParameterType | None = None
    optional: bool = False

    @classmethod
    def parse(cls, text: str) -> ParameterType:
        source = str(text).strip().strip("\"'")
        parts = _split_union(source)
        optional = "None" in parts
        parts = [part for part in parts if part != "None"]
        if len(parts) != 1:
            raise ConfigError(f"unsupported parameter type {text!r}: one type (optionally "
                              "'| None') is supported")
        part = parts[0]
        for prefix in ("list[", "List["):
            if part.startswith(prefix) and part.endswith("]"):
                return cls(source, "list", cls.parse(part[len(prefix):-1]), optional)
        if part.startswith("Optional[") and part.endswith("]"):
            inner = cls.parse(part[len("Optional["):-1])
            return cls(source, inner.base, inner.item, True)
        if part not in _SCALARS:
            raise ConfigError(f"unsupported parameter type {text!r}; use one of "
                              f"{sorted(_SCALARS)}, list[...] or '| None'")
        return cls(source, part, None, optional)

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.optional
        if self.base == "int":
            return isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if self.base == "float":
            return isinstance(value, numbers.Real) and not isinstance(value, bool)
        if self.base == "str":
            return isinstance(value, str)
        if self.base == "bool":
            return isinstance(value, bool)
        if self.base == "dict":
            return isinstance(value, dict)
        if self.base == "list":
            if not isinstance(value, (list, tuple)):
                return False
            return self.item is None or all(self.item.accepts(item) for item in value)
        return False


def _split_union(text: str) -> list[str]:
    """``"list[int | None] | None"`` -> ``["list[int | None]", "None"]`` (top level only)."""
    parts, depth, current = [], 0, ""
    for character in text:
        depth += character == "["
        depth -= character == "]"
        if character == "|" and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += character
    parts.append(current.strip())
    return [part for part in parts if part]


def declared_types(path) -> dict[str, ParameterType | None]:
    """Each parameter of the notebook at ``path`` -> its declared type (None: undeclared)."""
    import papermill

    declared = {}
    for name, spec in papermill.inspect_notebook(str(path)).items():
        text = spec.get("inferred_type_name")
        declared[name] = None if text in (None, "None") else ParameterType.parse(text)
    return declared


def check_values(values: dict, types: dict[str, ParameterType | None], *,
                 source: str = "parameters") -> None:
    """Every value of ``values`` has its declared type; the first that does not is an
    error naming the parameter, the value, its type and the type expected."""
    problems = []
    for name, value in values.items():
        expected = types.get(name)
        if expected is None or expected.accepts(value):
            continue
        hint = ""
        if isinstance(value, str) and expected.base != "str":
            hint = " (a quoted value is text: write it without quotes)"
        elif expected.base == "list" and not isinstance(value, (list, tuple)):
            hint = f" (write a list, e.g. [{value!r}])"
        problems.append(f"{name}={value!r} is {type(value).__name__}, expected "
                        f"{expected.text}{hint}")
    if problems:
        raise ConfigError(f"{source}: " + "; ".join(problems))


def untyped(types: dict[str, ParameterType | None]) -> list[str]:
    return sorted(name for name, declared in types.items() if declared is None)
