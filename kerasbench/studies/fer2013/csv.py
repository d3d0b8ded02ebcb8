"""The original FER2013 CSV (``fer2013.csv``) and its conversion into image folders.

FER2013 also circulates as one CSV (about 290 MB: columns ``emotion``, ``pixels`` with 2304
space-separated grey values, ``Usage``). :func:`read_fer2013_csv` parses it in chunks and
:func:`fer2013_csv_to_folders` writes the image-folder form (``train/ test/<emotion>/``)
the rest of kerasbench reads. Moved here from ``kerasbench.data.sources``.
"""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from kerasbench.data.sources import DATASETS_DOC
from kerasbench.errors import ConfigError, DatasetError

__all__ = [
    "FER2013_CLASSES",
    "FER2013_SIDE",
    "FER2013_USAGES",
    "Fer2013Data",
    "fer2013_csv_to_folders",
    "iter_fer2013_csv",
    "read_fer2013_csv",
]

# FER2013's emotion codes 0..6 in code order (0 Angry, 1 Disgust, 2 Fear, 3 Happy, 4 Sad,
# 5 Surprise, 6 Neutral). The image-folder form sorts them alphabetically instead, so an
# index built from folders numbers them differently; go by name, never by code.
FER2013_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
FER2013_USAGES = ("Training", "PublicTest", "PrivateTest")
FER2013_SIDE = 48
_FER_PIXELS = FER2013_SIDE * FER2013_SIDE
_FER_MARKER = "FER2013_FOLDERS.txt"
# The function that writes the marker, by its current and its former module: a folder
# converted before the move is still recognised as complete.
_WRITERS = (
    "kerasbench.studies.fer2013.csv.fer2013_csv_to_folders",
    "kerasbench.data.sources.fer2013_csv_to_folders",
)

class Fer2013Data(NamedTuple):
    """Images ``uint8 (N, 48, 48)``, ``labels`` int64 codes into :data:`FER2013_CLASSES`,
    ``usage`` strings and ``rows`` (0-based data-row numbers in the CSV)."""

    images: np.ndarray
    labels: np.ndarray
    usage: np.ndarray
    rows: np.ndarray


def _usage_filter(usage) -> set | None:
    if usage is None:
        return None
    values = [usage] if isinstance(usage, str) else list(usage)
    lookup = {u.lower(): u for u in FER2013_USAGES}
    out = set()
    for value in values:
        key = str(value).strip().lower()
        if key not in lookup:
            raise ConfigError(f"unknown FER2013 usage {value!r}; use {', '.join(FER2013_USAGES)}")
        out.add(lookup[key])
    return out


def _row_error(csv_path, row: int, problem: str) -> DatasetError:
    return DatasetError(
        f"{csv_path}: data row {row} (file line {row + 2}) {problem}; fix or remove that row"
    )


def _parse_pixels(strings: list, rows: np.ndarray, csv_path) -> np.ndarray:
    """Space-separated pixel strings -> uint8 (n, 48, 48); errors name the first bad row."""
    n = len(strings)
    if n == 0:
        return np.zeros((0, FER2013_SIDE, FER2013_SIDE), dtype=np.uint8)
    try:
        with warnings.catch_warnings():
            # Older NumPy warns (newer raises) when the text stops parsing part-way.
            warnings.simplefilter("error", DeprecationWarning)
            # One C-level parse of the joined chunk: ~10x faster than str.split + astype.
            values = np.fromstring(" ".join(strings), dtype=np.int32, sep=" ")
        fast_ok = (
            values.size == n * _FER_PIXELS
            and all(s.count(" ") == _FER_PIXELS - 1 for s in strings)
            and values.min() >= 0
            and values.max() <= 255
        )
    except (ValueError, DeprecationWarning):
        fast_ok = False
    if fast_ok:
        return values.astype(np.uint8).reshape(n, FER2013_SIDE, FER2013_SIDE)
    # Something is off (or only oddly spaced): parse row by row to find and name it.
    out = np.empty((n, _FER_PIXELS), dtype=np.uint8)
    for i, (text, row) in enumerate(zip(strings, rows)):
        tokens = str(text).split()
        if len(tokens) != _FER_PIXELS:
            raise _row_error(csv_path, int(row), f"has {len(tokens)} pixel values, not 2304")
        try:
            parsed = np.array(tokens, dtype=np.int64)
        except ValueError:
            raise _row_error(csv_path, int(row), "has pixel values that are not integers") from None
        if parsed.min() < 0 or parsed.max() > 255:
            raise _row_error(csv_path, int(row), "has pixel values outside 0..255")
        out[i] = parsed
    return out.reshape(n, FER2013_SIDE, FER2013_SIDE)


def iter_fer2013_csv(
    path: str | os.PathLike,
    usage: str | Iterable[str] | None = None,
    chunksize: int | None = 4096,
    *,
    default_usage: str | None = None,
) -> Iterator[Fer2013Data]:
    """Stream the FER2013 CSV in chunks of ``chunksize`` rows (``None``: one chunk).

    ``usage`` keeps only those rows (``"Training"``, ``"PublicTest"``, ``"PrivateTest"``
    or a list). A CSV without a ``Usage`` column (Kaggle's challenge ``train.csv``) needs
    ``default_usage``. Every row is checked (emotion code, usage, pixel count and range);
    the first bad one raises :class:`DatasetError` with its row number.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"FER2013 CSV {path} does not exist: download fer2013.csv (see {DATASETS_DOC}) "
            "or use the image-folder form"
        )
    if chunksize is not None and (
        isinstance(chunksize, bool) or not isinstance(chunksize, int) or chunksize < 1
    ):
        raise ConfigError(f"chunksize must be a positive int or None, got {chunksize!r}")
    keep = _usage_filter(usage)
    default = None if default_usage is None else sorted(_usage_filter(default_usage))[0]
    options = {"dtype": str, "keep_default_na": False}
    start = 0
    try:
        if chunksize is None:
            chunks = iter([pd.read_csv(path, **options)])
        else:
            chunks = pd.read_csv(path, chunksize=chunksize, **options)
        with _closing(chunks):
            for chunk in chunks:
                chunk.columns = [str(c).strip() for c in chunk.columns]
                yield _fer_chunk(chunk, start, keep, default, path)
                start += len(chunk)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} is not a readable FER2013 CSV: {exc}") from exc


class _closing:
    """Close a pandas chunk reader when iteration stops early; plain iterators pass."""

    def __init__(self, obj):
        self.obj = obj

    def __enter__(self):
        return self.obj

    def __exit__(self, *exc):
        close = getattr(self.obj, "close", None)
        if close is not None:
            close()
        return False


def _fer_chunk(chunk: pd.DataFrame, start: int, keep, default, path) -> Fer2013Data:
    lower = {c.lower(): c for c in chunk.columns}
    missing = [c for c in ("emotion", "pixels") if c not in lower]
    if missing or ("usage" not in lower and default is None):
        need = ["emotion", "pixels"] + ([] if default else ["Usage"])
        raise DatasetError(
            f"{path} has columns {list(chunk.columns)}, expected {need}"
            + ("" if "usage" in lower else " (without Usage, pass default_usage='Training')")
        )
    rows = np.arange(start, start + len(chunk))
    emotion_text = chunk[lower["emotion"]].str.strip()
    codes = pd.to_numeric(emotion_text, errors="coerce")
    bad = codes.isna() | ~codes.isin(range(len(FER2013_CLASSES)))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise _row_error(
            path, int(rows[i]), f"has emotion {emotion_text.iloc[i]!r}, not a code 0..6"
        )
    if "usage" in lower:
        usage = chunk[lower["usage"]].str.strip()
        bad = ~usage.isin(FER2013_USAGES)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise _row_error(
                path,
                int(rows[i]),
                f"has Usage {usage.iloc[i]!r}, not one of {', '.join(FER2013_USAGES)}",
            )
        usage = usage.to_numpy(dtype=object)
    else:
        usage = np.full(len(chunk), default, dtype=object)
    selected = np.ones(len(chunk), dtype=bool) if keep is None else np.isin(usage, list(keep))
    pixels = chunk[lower["pixels"]].to_numpy(dtype=object)[selected].tolist()
    images = _parse_pixels(pixels, rows[selected], path)
    return Fer2013Data(
        images=images,
        labels=codes.to_numpy()[selected].astype(np.int64),
        usage=usage[selected].astype(str),
        rows=rows[selected],
    )


def read_fer2013_csv(
    path: str | os.PathLike,
    usage: str | Iterable[str] | None = None,
    chunksize: int | None = 4096,
    *,
    default_usage: str | None = None,
) -> Fer2013Data:
    """The whole CSV (or the rows of ``usage``) as one :class:`Fer2013Data`.

    ``chunksize=None`` parses the file in one piece; the result is the same either way.
    """
    parts = list(iter_fer2013_csv(path, usage, chunksize, default_usage=default_usage))
    if not parts:
        empty = np.zeros((0, FER2013_SIDE, FER2013_SIDE), dtype=np.uint8)
        return Fer2013Data(empty, np.zeros(0, np.int64), np.zeros(0, str), np.zeros(0, int))
    return Fer2013Data(*(np.concatenate(field) for field in zip(*parts)))


def fer2013_csv_to_folders(
    csv_path: str | os.PathLike,
    out_folder: str | os.PathLike,
    *,
    public_test_as_validation: bool = False,
    chunksize: int = 4096,
    default_usage: str | None = None,
) -> Path:
    """Write the CSV as ``train/<class>/<row>.png`` and ``test/<class>/<row>.png``.

    ``Training`` rows go to ``train/``; ``PublicTest`` and ``PrivateTest`` both go to
    ``test/`` (as in the common image-folder form of FER2013), unless
    ``public_test_as_validation`` sends ``PublicTest`` to ``validation/``. File names are
    the 0-based data-row numbers, so every image can be traced back to its CSV row. The
    folder is written once: a completed one (marker ``FER2013_FOLDERS.txt``, written last)
    is returned as is.
    """
    from PIL import Image

    csv_path = Path(csv_path).expanduser()
    out = Path(out_folder).expanduser().absolute()
    settings = (
        f"source: {csv_path.name}\n"
        f"public_test_as_validation: {bool(public_test_as_validation)}\n"
    )
    heads = [f"FER2013 image folders written by {writer}\n{settings}" for writer in _WRITERS]
    marker_text_head = heads[0]
    marker = out / _FER_MARKER
    if marker.is_file():
        if marker.read_text(encoding="utf-8").startswith(tuple(heads)):
            return out
        raise DatasetError(
            f"{out} holds FER2013 folders written with other settings (see {marker}); "
            "delete it or choose another folder"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out} exists and is not an empty folder; pass a new or empty folder")
    split_of = {
        "Training": "train",
        "PublicTest": "validation" if public_test_as_validation else "test",
        "PrivateTest": "test",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed, so an interrupted run never looks like a finished one.
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    counts: dict = {}
    try:
        for chunk in iter_fer2013_csv(csv_path, None, chunksize, default_usage=default_usage):
            for image, code, usage, row in zip(*chunk):
                split = split_of[usage]
                name = FER2013_CLASSES[int(code)]
                target = tmp / split / name
                target.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(target / f"{int(row)}.png", format="PNG")
                counts[(split, name)] = counts.get((split, name), 0) + 1
        if not counts:
            raise DatasetError(f"{csv_path} has no data rows")
        lines = [
            f"{split}/{name}: {counts[(split, name)]}"
            for split in ("train", "validation", "test")
            for name in FER2013_CLASSES
            if (split, name) in counts
        ]
        (tmp / _FER_MARKER).write_text(
            marker_text_head + "counts:\n" + "\n".join(lines) + "\n", encoding="utf-8"
        )
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    total = sum(counts.values())
    print(f"fer2013_csv_to_folders: wrote {total} images to {out}")
    return out
