"""A fingerprint of a data set: one short hash that changes when any of its files does.

:func:`frame_fingerprint` hashes, for every row of an index frame in row order, the file's
path relative to the data set's root (posix form), its label, class name and split, and
either its size and modification time (``st_size``, ``st_mtime_ns``; fast, one ``stat``
per file) or, with ``content_hash=True``, the sha256 of its bytes (every byte read; it also
catches a file rewritten in place with the same size and its old modification time). The
list of class names is part of it, so renaming a class or adding an empty one changes it.

Paths are taken relative to the root, so a data set copied or moved elsewhere with its
modification times kept (``shutil.copytree``, ``cp -p``, ``rsync -a``) keeps its
fingerprint, while a touched, replaced, added, removed, relabelled, re-split or reordered
file gives a different one. Record it next to results to tell later which data they came from.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePath

import numpy as np
import pandas as pd

from kerasbench.errors import DatasetError

__all__ = ["FINGERPRINT_LENGTH", "file_sha256", "frame_fingerprint"]

# Hex digits kept: 64 bits, ample to tell the versions of one data set apart.
FINGERPRINT_LENGTH = 16
# Bump when what is hashed changes, so that old and new fingerprints never coincide.
_FORMAT = "kerasbench-fingerprint-v1"
_REQUIRED = ("path", "label", "split")
_CHUNK = 1 << 20


def frame_fingerprint(
    frame: pd.DataFrame,
    root: str | os.PathLike | None = None,
    content_hash: bool = False,
    *,
    class_names: Sequence[str] | None = None,
) -> str:
    """The sha256 (first :data:`FINGERPRINT_LENGTH` hex digits) of a frame's files.

    Args:
        frame: a DataFrame with columns ``path``, ``label`` and ``split`` (``class_name``
            is used when present), e.g. ``DatasetIndex.frame`` or one study's own frame.
            Row order is part of the fingerprint.
        root: the folder paths are taken relative to (``DatasetIndex.root``). ``None``:
            the deepest folder that holds every file. A file outside ``root`` enters with
            its absolute path.
        content_hash: ``False`` hashes each file's size and modification time (ns);
            ``True`` the sha256 of its bytes instead (slower: every file is read).
        class_names: the full list of class names (``DatasetIndex.class_names``), hashed
            too; ``None`` leaves it out.

    Raises:
        DatasetError: ``frame`` is not a DataFrame or lacks a required column.
        FileNotFoundError: a listed file does not exist (the message names it).
    """
    if not isinstance(frame, pd.DataFrame):
        raise DatasetError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [column for column in _REQUIRED if column not in frame.columns]
    if missing:
        raise DatasetError(
            f"frame lacks columns {missing}; a fingerprint needs {list(_REQUIRED)} "
            "(and uses class_name when present)"
        )
    paths = [os.fspath(path) for path in frame["path"].tolist()]
    base = _base_folder(paths, root)
    names = (
        frame["class_name"].tolist() if "class_name" in frame.columns else [None] * len(paths)
    )
    files = _file_digests(paths) if content_hash else [_stat(path) for path in paths]

    digest = hashlib.sha256()
    header = {
        "format": _FORMAT,
        "content_hash": bool(content_hash),
        "class_names": None if class_names is None else [str(name) for name in class_names],
    }
    digest.update(_line(header))
    for path, label, name, split, file in zip(
        paths, frame["label"].tolist(), names, frame["split"].tolist(), files
    ):
        row = [_relative(path, base), _plain(label), _plain(name), str(split), *file]
        digest.update(_line(row))
    return digest.hexdigest()[:FINGERPRINT_LENGTH]


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 hex digest of one file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _line(value) -> bytes:
    # JSON escapes every separator a file name may hold (newlines included), so two
    # different rows can never hash as the same bytes.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"


def _plain(value):
    """A JSON value for one cell: numpy scalars become Python ones, NaN/None become None."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    return str(value)


def _base_folder(paths: list, root) -> str | None:
    if root is not None:
        return os.path.abspath(os.path.expanduser(os.fspath(root)))
    if not paths:
        return None
    try:
        return os.path.commonpath([os.path.dirname(os.path.abspath(path)) for path in paths])
    except ValueError:  # paths on different drives (Windows): keep them absolute
        return None


def _relative(path: str, base: str | None) -> str:
    absolute = os.path.abspath(path)
    if base is not None:
        try:
            relative = os.path.relpath(absolute, base)
        except ValueError:
            relative = None
        if relative is not None and relative != os.pardir and not relative.startswith(
            os.pardir + os.sep
        ):
            return PurePath(relative).as_posix()
    return PurePath(absolute).as_posix()


def _stat(path: str) -> list:
    try:
        stat = os.stat(path)
    except OSError as error:
        raise _missing(path, error) from None
    return [int(stat.st_size), int(stat.st_mtime_ns)]


def _digest_one(path: str) -> list:
    try:
        return [file_sha256(path)]
    except OSError as error:
        raise _missing(path, error) from None


def _file_digests(paths: list) -> list:
    if not paths:
        return []
    # Reading is I/O and hashlib releases the GIL on large buffers, so threads overlap it.
    workers = min(16, 4 * (os.cpu_count() or 1), len(paths))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_digest_one, paths, chunksize=32))


def _missing(path: str, error: OSError) -> FileNotFoundError:
    return FileNotFoundError(
        f"file {path} of the frame cannot be read ({error}); rebuild the index"
    )
