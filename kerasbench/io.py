"""Writing files so that a killed process never leaves a half-written one behind.

Every file the project writes (records, CSV tables, cache arrays, saved heads, verifier
metadata) goes through :func:`atomic_output`: a temporary file in the target's folder,
flushed and fsynced, then renamed over the target. Writers that only take a file name
(Keras's ``model.save``) write to the temporary path :func:`atomic_path` yields instead.
A reader therefore sees the old file or the new one, never half of one; a process killed
mid-write leaves at most a hidden ``.<name>.*`` temporary file, which nothing reads.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np


def to_jsonable(value: Any) -> Any:
    """NumPy scalars/arrays, paths and tuples -> plain JSON types, losslessly."""
    if isinstance(value, dict):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN/inf; None keeps the file standard and the column numeric in pandas.
        return None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def canonical_json(value: Any) -> str:
    """One spelling per value: sorted keys, no spaces, tuples as lists (for hashing)."""
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"))


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, mode: str = "w"):
    """Open a temporary file beside ``path`` for writing, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    # mkstemp makes the file private (0600); a written file gets the usual permissions.
    os.chmod(temporary, 0o666 & ~_umask())
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """A temporary path beside ``path`` (same suffix, so ``.keras`` stays ``.keras``) for
    writers that take a file name; it is fsynced and renamed over ``path`` when the block
    ends without an error, and removed when it raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix,
                                         dir=path.parent)
    os.close(handle)
    os.chmod(temporary, 0o666 & ~_umask())
    try:
        yield Path(temporary)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    with _UMASK_LOCK:
        current = os.umask(0o022)
        os.umask(current)
    return current


def write_json_atomic(path: str | os.PathLike, payload: Any) -> Path:
    with atomic_output(path) as stream:
        json.dump(to_jsonable(payload), stream, indent=2, sort_keys=True)
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    with atomic_output(path) as stream:
        stream.write(text)
    return Path(path)


def write_csv_atomic(path: str | os.PathLike, frame, **to_csv_options) -> Path:
    """A pandas DataFrame as CSV (``index=False`` unless told otherwise)."""
    to_csv_options.setdefault("index", False)
    with atomic_output(path) as stream:
        frame.to_csv(stream, **to_csv_options)
    return Path(path)


def write_npz_atomic(path: str | os.PathLike, **arrays) -> Path:
    with atomic_output(path, "wb") as stream:
        np.savez(stream, **arrays)
    return Path(path)


def read_json(path: str | os.PathLike, what: str = "file", hint: str | None = None) -> Any:
    """Read JSON, naming the file (and what wrote it) when it is missing or corrupt.

    ``hint`` replaces the default advice ("delete it to have it written again") in the
    message for a corrupt file, e.g. the step that writes the file.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        advice = hint or "delete it to have it written again"
        raise ValueError(f"{what} {path} is not valid JSON ({error}); {advice}") from None
