"""Validation before training: the index frame, image files PIL can open, and the same
file (byte-identical) in two splits, which would leak evaluation images into training."""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.data.scan import FRAME_COLUMNS, _listing, _split_name
from kerasbench.errors import ConfigError, DatasetError

__all__ = ["CrossSplitDuplicateWarning"]


class CrossSplitDuplicateWarning(UserWarning):
    """The same file content appears in more than one split."""


# --------------------------------------------------------------------------- the frame


def _check_frame(frame: pd.DataFrame, class_names: list) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise DatasetError(f"DatasetIndex.frame must be a pandas DataFrame, got {type(frame)}")
    missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"DatasetIndex.frame lacks columns {missing}; it needs {list(FRAME_COLUMNS)}"
        )
    if not class_names:
        raise DatasetError("DatasetIndex.class_names is empty")
    frame = frame.reset_index(drop=True).copy()
    frame["split"] = [_split_name(s) for s in frame["split"]]
    labels = pd.to_numeric(frame["label"], errors="coerce")
    bad = labels.isna() | (labels < 0) | (labels >= len(class_names)) | (labels % 1 != 0)
    if bad.any():
        raise DatasetError(
            f"DatasetIndex.frame has labels outside 0..{len(class_names) - 1} at rows "
            f"{_listing(np.flatnonzero(bad.to_numpy()).tolist())}"
        )
    frame["label"] = labels.astype(np.int64)
    expected = np.asarray(class_names, dtype=object)[frame["label"].to_numpy()]
    mismatch = frame["class_name"].astype(str).to_numpy() != expected
    if mismatch.any():
        rows = np.flatnonzero(mismatch).tolist()
        raise DatasetError(
            "DatasetIndex.frame: class_name does not match class_names[label] at rows "
            f"{_listing(rows)}"
        )
    frame["path"] = frame["path"].astype(str)
    return frame


# --------------------------------------------------------------------------- image files


def _check_one(path: str, mode: str | None, want_hash: bool) -> tuple:
    """(error message or None, sha1 hex or None) for one file, reading it once."""
    from PIL import Image

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return f"cannot read: {exc}", None
    digest = hashlib.sha1(data).hexdigest() if want_hash else None
    if mode is None:
        return None, digest
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = image.format
            if mode == "decode":
                _draft_load(image)
            else:
                image.verify()
        if mode == "verify" and fmt != "PNG":
            # Only PNG's verify() reads the whole file (chunk checksums); for JPEG, PGM and
            # the rest it stops at the header, so a truncated download would pass and then
            # fail inside the input pipeline mid-epoch. Decoding (JPEG at 1/8 scale) is cheap.
            with Image.open(io.BytesIO(data)) as image:
                _draft_load(image)
    except Exception as exc:  # noqa: BLE001 - any failure means "cannot be read"
        return f"{type(exc).__name__}: {exc}", digest
    return None, digest


def _draft_load(image) -> None:
    # draft() lets libjpeg decode at 1/8 scale: every byte of the scan is still read, so
    # truncation and corrupt data fail, at a fraction of the cost of a full decode.
    if image.format in ("JPEG", "MPO"):
        image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
    image.load()


def _check_files(paths: list, mode: str | None, want_hash: bool) -> list:
    if not paths or (mode is None and not want_hash):
        return [(None, None)] * len(paths)
    # Reading and hashing are I/O and hashlib/PIL release the GIL for large buffers, so
    # threads overlap them; a few per core is enough without flooding a shared machine.
    workers = min(16, 4 * (os.cpu_count() or 1), len(paths))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda p: _check_one(p, mode, want_hash), paths, chunksize=32))


def _check_mode(check_images) -> str | None:
    if check_images is True or check_images == "verify":
        return "verify"
    if check_images is False or check_images is None:
        return None
    if check_images == "decode":
        return "decode"
    raise ConfigError(
        f"check_images must be True/'verify', 'decode' or False, got {check_images!r}"
    )


# --------------------------------------------------------------------------- duplicates


def _check_cross_split(splits: list, paths: list, digests: list, action: str) -> None:
    first_seen = {}
    groups = {}
    for split, path, digest in zip(splits, paths, digests):
        if digest is None:
            continue
        if digest in first_seen:
            groups.setdefault(digest, [first_seen[digest]]).append((split, path))
        else:
            first_seen[digest] = (split, path)
    clashes = [g for g in groups.values() if len({s for s, _ in g}) > 1]
    if not clashes:
        return
    lines = [" == ".join(f"{s}:{p}" for s, p in g) for g in clashes]
    message = (
        f"{len(clashes)} images appear (byte-identical) in more than one split, so evaluation "
        f"sees training images: {_listing(lines, limit=10)}"
    )
    if action == "error":
        raise DatasetError(
            message + ". Remove the copies, or pass on_cross_split_duplicate='warn'."
        )
    warnings.warn(message, CrossSplitDuplicateWarning, stacklevel=3)
