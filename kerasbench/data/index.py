"""Folders of images -> :class:`DatasetIndex` (paths, labels, splits); no decoding beyond checks.

Two layouts are recognised, the same ones Keras and Kaggle data sets use:

* split folders: ``root/train/<class>/<image>``, optionally ``validation/`` (or ``val/``,
  ``valid/``, all called ``"validation"``) and ``test/``; ``train/`` is required.
* one folder of class folders: ``root/<class>/<image>``; the split is made here (stratified,
  seeded) and, given ``split_file``, saved so that later runs reuse exactly the same split.

Class names are sorted naturally (``class2`` before ``class10``) and label ``i`` is
``class_names[i]``. Hidden entries (``.DS_Store``, ``.ipynb_checkpoints``, macOS ``._*``
and ``__MACOSX``) and non-image files are skipped and counted in one printed line.

Problems are reported before any training starts: a missing folder, no images, an empty
class folder, class sets that differ between splits, files PIL cannot open, and the same
file (byte-identical) in two splits, which would leak test images into training.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.errors import ConfigError, DatasetError

__all__ = [
    "IMAGE_EXTENSIONS",
    "SPLITS",
    "CrossSplitDuplicateWarning",
    "DatasetIndex",
    "index_folder",
    "natural_key",
    "natural_sorted",
]

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".pgm", ".ppm", ".tif", ".tiff", ".webp"}
)
SPLITS = ("train", "validation", "test")
# Folder names seen in the wild for each split; all map to the three canonical names.
SPLIT_ALIASES = {
    "train": "train",
    "validation": "validation",
    "val": "validation",
    "valid": "validation",
    "test": "test",
}
FRAME_COLUMNS = ("path", "label", "class_name", "split")
# Listing every one of thousands of duplicates would bury the message; the count is kept.
_MAX_LISTED = 20

_DIGITS = re.compile(r"(\d+)", re.ASCII)


class CrossSplitDuplicateWarning(UserWarning):
    """The same file content appears in more than one split."""


def natural_key(text: str | os.PathLike) -> tuple:
    """Sort key that orders digit runs by value: ``img2`` < ``img10``, ``class2`` < ``class10``.

    Letters compare case-insensitively; the original text breaks ties (``a01`` vs ``a1``) so
    the order is total and the same on every machine.
    """
    text = os.fspath(text)
    parts = _DIGITS.split(text)
    # re.split with one group alternates text, digits, text, ...: even slots are always str
    # and odd slots always int, so two keys never compare an int with a str.
    key = tuple(int(p) if i % 2 else p.casefold() for i, p in enumerate(parts))
    return key + (text,)


def natural_sorted(items: Iterable) -> list:
    """``sorted(items)`` in natural order (see :func:`natural_key`)."""
    return sorted(items, key=natural_key)


def _is_hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _normalise_extensions(extensions: Iterable[str] | None) -> frozenset:
    if extensions is None:
        return IMAGE_EXTENSIONS
    if isinstance(extensions, str):
        extensions = [extensions]
    out = set()
    for ext in extensions:
        ext = str(ext).lower()
        out.add(ext if ext.startswith(".") else "." + ext)
    if not out:
        raise ConfigError("extensions is empty: give at least one image extension, e.g. ('jpg',)")
    return frozenset(out)


def _split_name(value) -> str:
    name = SPLIT_ALIASES.get(str(value).strip().lower())
    if name is None:
        raise DatasetError(
            f"unknown split {value!r}: use one of {', '.join(SPLITS)} (or 'val' / 'valid')"
        )
    return name


# --------------------------------------------------------------------------- DatasetIndex


@dataclass(repr=False)
class DatasetIndex:
    """The images of a data set: one row per file, with its label and split.

    ``frame`` columns: ``path`` (absolute str), ``label`` (int, index into ``class_names``),
    ``class_name`` and ``split`` (``train``/``validation``/``test``). Indexes built by
    :func:`index_folder` are ordered by split, then label, then natural file name, and
    every method here keeps that order.
    """

    frame: pd.DataFrame
    class_names: list
    root: Path

    def __post_init__(self):
        self.root = Path(self.root)
        self.class_names = [str(c) for c in self.class_names]
        self.frame = _check_frame(self.frame, self.class_names)

    def __repr__(self) -> str:
        counts = self.frame["split"].value_counts()
        sizes = ", ".join(f"{s}={counts[s]}" for s in self.splits)
        return f"DatasetIndex(root={str(self.root)!r}, classes={len(self.class_names)}, {sizes})"

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def splits(self) -> list:
        """The splits that have at least one row, in train/validation/test order."""
        present = set(self.frame["split"])
        return [s for s in SPLITS if s in present]

    def split(self, name: str) -> pd.DataFrame:
        """Rows of one split in index order, with a fresh RangeIndex (``val`` is accepted)."""
        key = SPLIT_ALIASES.get(str(name).strip().lower())
        if key is None or key not in self.splits:
            raise DatasetError(
                f"split {name!r} is not in the index of {self.root}; present splits: "
                f"{', '.join(self.splits) or 'none'}"
            )
        return self.frame[self.frame["split"] == key].reset_index(drop=True)

    def counts(self) -> pd.DataFrame:
        """Images per class (rows, in label order) and split (columns), with totals."""
        table = pd.crosstab(self.frame["class_name"], self.frame["split"])
        table = table.reindex(index=self.class_names, columns=self.splits, fill_value=0)
        table = table.astype(int)
        table["total"] = table.sum(axis=1)
        table.loc["total"] = table.sum(axis=0)
        table.index.name = "class"
        table.columns.name = None
        return table

    def with_frame(self, frame: pd.DataFrame) -> DatasetIndex:
        """A new index with the same classes and root over ``frame`` (checked, order kept)."""
        return DatasetIndex(frame=frame, class_names=list(self.class_names), root=self.root)

    def select_classes(self, names: Sequence[str]) -> DatasetIndex:
        """A new index with only the classes ``names``, relabelled 0..k-1 in the order given
        (so for a binary study the second name is class 1). Row order is kept."""
        names = [str(name) for name in names]
        missing = [name for name in names if name not in self.class_names]
        if missing or not names:
            raise DatasetError(
                f"select_classes: {missing or 'no classes'} not among the classes of "
                f"{self.root}: {', '.join(self.class_names)}"
            )
        if len(set(names)) != len(names):
            raise DatasetError(f"select_classes: a class is named twice in {names}")
        kept = self.frame[self.frame["class_name"].isin(names)].copy()
        kept["label"] = kept["class_name"].map({name: i for i, name in enumerate(names)})
        kept = kept.astype({"label": int})
        order = {split: i for i, split in enumerate(SPLITS)}
        kept = kept.sort_values(
            ["split", "label", "path"],
            key=lambda column: column.map(order) if column.name == "split" else (
                column.map(natural_key) if column.name == "path" else column),
        )
        return DatasetIndex(frame=kept.reset_index(drop=True), class_names=names, root=self.root)

    def subsample(
        self,
        per_split: Mapping[str, int | None],
        *,
        seed: int = 0,
        per_class: bool = True,
    ) -> DatasetIndex:
        """A smaller index: at most ``per_split[split]`` images of each class of that split.

        With ``per_class=False`` the number is the split's total instead, shared between
        classes in proportion to their size (stratified). Sampling is seeded per (split,
        class), so one class's draw does not depend on the others. Splits not named (or
        given ``None``) are kept whole; a class with fewer images than asked keeps all of
        them, with a printed note. Rows stay in index order.
        """
        wanted = {}
        for name, n in dict(per_split).items():
            key = _split_name(name)
            if key not in self.splits:
                raise DatasetError(
                    f"subsample: split {name!r} is not in the index of {self.root}; present "
                    f"splits: {', '.join(self.splits)}"
                )
            if n is not None and (
                isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0
            ):
                raise ConfigError(f"subsample: count for {name!r} must be an int >= 0, got {n!r}")
            wanted[key] = n
        keep = np.ones(len(self.frame), dtype=bool)
        labels = self.frame["label"].to_numpy()
        splits = self.frame["split"].to_numpy()
        for split_i, split in enumerate(SPLITS):
            n = wanted.get(split)
            if n is None:
                continue
            in_split = splits == split
            rows_by_label = {
                label: np.flatnonzero(in_split & (labels == label))
                for label in range(len(self.class_names))
            }
            sizes = {label: len(rows) for label, rows in rows_by_label.items()}
            quota = (
                {label: n for label in sizes}
                if per_class
                else _proportional_quota(sizes, n, f"subsample {split}")
            )
            for label, rows in rows_by_label.items():
                if len(rows) <= quota[label]:
                    if len(rows) < quota[label]:
                        print(
                            f"subsample: class {self.class_names[label]!r} has {len(rows)} "
                            f"{split} images (< {quota[label]}), keeping all of them"
                        )
                    continue
                rng = np.random.default_rng([int(seed), split_i, label])
                chosen = rng.choice(len(rows), size=quota[label], replace=False)
                drop = np.ones(len(rows), dtype=bool)
                drop[chosen] = False
                keep[rows[drop]] = False
        return self.with_frame(self.frame[keep])

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Write ``path,class_name,split`` (paths relative to ``root`` where possible).

        The file is the same format :func:`index_folder` reads as ``split_file``, so it
        both records and reproduces a split.
        """
        path = Path(path)
        rel = [_relative_to(p, self.root) for p in self.frame["path"]]
        out = pd.DataFrame(
            {"path": rel, "class_name": self.frame["class_name"], "split": self.frame["split"]}
        )
        _atomic_write_csv(out, path)
        return path

    @classmethod
    def from_csv(
        cls,
        path: str | os.PathLike,
        root: str | os.PathLike,
        *,
        class_names: Iterable[str] | None = None,
    ) -> DatasetIndex:
        """Read a file written by :meth:`to_csv` (or a split file); relative paths are
        resolved against ``root``. Without a ``class_name`` column the class is the first
        folder of each relative path. Every listed file must exist.
        """
        path = Path(path)
        root = Path(root).expanduser().resolve()
        table = _read_split_csv(path)
        if "class_name" in table.columns:
            names = table["class_name"].astype(str).tolist()
        else:
            names = [Path(p).parts[0] if len(Path(p).parts) > 1 else "" for p in table["path"]]
            if "" in names:
                raise DatasetError(
                    f"{path}: without a class_name column every path must start with its "
                    "class folder (class/file.jpg); add a class_name column"
                )
        classes = natural_sorted(set(names)) if class_names is None else list(class_names)
        unknown = sorted(set(names) - set(classes))
        if unknown:
            raise DatasetError(f"{path}: classes {unknown} are not in class_names {classes}")
        abs_paths = [str(root / p) if not Path(p).is_absolute() else p for p in table["path"]]
        missing = [p for p in abs_paths if not os.path.isfile(p)]
        if missing:
            raise DatasetError(
                f"{path} lists {len(missing)} files that do not exist under {root}: "
                f"{_listing(missing)}; check root or rebuild the file"
            )
        lookup = {c: i for i, c in enumerate(classes)}
        frame = pd.DataFrame(
            {
                "path": abs_paths,
                "label": np.array([lookup[n] for n in names], dtype=np.int64),
                "class_name": names,
                "split": table["split"].tolist(),
            }
        )
        return cls(frame=frame, class_names=classes, root=root)


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


def _proportional_quota(sizes: dict, total: int, what: str) -> dict:
    """Largest-remainder allocation of ``total`` over classes in proportion to ``sizes``."""
    available = sum(sizes.values())
    if total >= available:
        if total > available:
            print(f"{what}: asked for {total} images but there are {available}, keeping all")
        return dict(sizes)
    exact = {k: total * v / available for k, v in sizes.items()}
    quota = {k: int(np.floor(x)) for k, x in exact.items()}
    order = sorted(exact, key=lambda k: (-(exact[k] - quota[k]), k))
    for k in order[: total - sum(quota.values())]:
        quota[k] += 1
    return quota


def _relative_to(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _listing(items: list, limit: int = _MAX_LISTED) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f", ... and {len(items) - limit} more"
    return shown


def _atomic_write_csv(table: pd.DataFrame, path: Path) -> None:
    # A half-written split file would be silently reused next run; write then rename.
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    table.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _read_split_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise FileNotFoundError(f"split file {path} does not exist")
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(
            f"split file {path} is not a readable CSV ({exc}); delete it to re-split"
        ) from exc
    table.columns = [str(c).strip() for c in table.columns]
    if "path" not in table.columns or "split" not in table.columns:
        raise DatasetError(
            f"split file {path} needs columns 'path' and 'split' (found {list(table.columns)}); "
            "delete it to re-split"
        )
    bad_split = [
        f"line {i + 2}: {s!r}"
        for i, s in enumerate(table["split"])
        if str(s).strip().lower() not in SPLIT_ALIASES
    ]
    if bad_split:
        raise DatasetError(
            f"split file {path} has unknown split names ({_listing(bad_split)}); "
            f"use {', '.join(SPLITS)}"
        )
    table["split"] = [_split_name(s) for s in table["split"]]
    dup = table["path"][table["path"].duplicated()].tolist()
    if dup:
        raise DatasetError(f"split file {path} lists files more than once: {_listing(dup)}")
    return table


# --------------------------------------------------------------------------- scanning


@dataclass
class _Skipped:
    hidden: int = 0
    non_image: int = 0
    loose: int = 0

    def line(self, root: Path) -> str | None:
        parts = []
        if self.hidden:
            parts.append(f"{self.hidden} hidden entries")
        if self.non_image:
            parts.append(f"{self.non_image} non-image files")
        if self.loose:
            parts.append(f"{self.loose} images outside class folders")
        if not parts:
            return None
        return f"index_folder: skipped {', '.join(parts)} under {root}"


def _visible_dirs(folder: Path, skipped: _Skipped, extensions: frozenset) -> list:
    """Sub-folders of ``folder``; files there are outside any class folder and counted."""
    dirs = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if _is_hidden(entry.name):
                skipped.hidden += 1
            elif entry.is_dir():
                dirs.append(entry.name)
            elif os.path.splitext(entry.name)[1].lower() in extensions:
                skipped.loose += 1
            else:
                skipped.non_image += 1
    return natural_sorted(dirs)


def _images_under(folder: Path, skipped: _Skipped, extensions: frozenset) -> list:
    """Image files anywhere below ``folder`` as paths relative to it, naturally sorted."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        hidden_dirs = [d for d in dirnames if _is_hidden(d)]
        skipped.hidden += len(hidden_dirs)
        dirnames[:] = [d for d in dirnames if not _is_hidden(d)]
        rel_dir = os.path.relpath(dirpath, folder)
        for name in filenames:
            if _is_hidden(name):
                skipped.hidden += 1
            elif os.path.splitext(name)[1].lower() in extensions:
                found.append(name if rel_dir == "." else f"{Path(rel_dir).as_posix()}/{name}")
            else:
                skipped.non_image += 1
    return natural_sorted(found)


def _scan_classes(
    folder: Path, skipped: _Skipped, extensions: frozenset, where: str, dirs: list | None = None
) -> dict:
    """``{class_name: [relative image paths]}`` for one folder of class folders.

    ``dirs``: its sub-folders when already listed (listing again would count the skipped
    files there twice).
    """
    classes = {}
    empty = []
    if dirs is None:
        dirs = _visible_dirs(folder, skipped, extensions)
    for name in dirs:
        files = _images_under(folder / name, skipped, extensions)
        if files:
            classes[name] = files
        else:
            empty.append(str(folder / name))
    if empty:
        raise DatasetError(
            f"{where}: class folders with no images ({', '.join(empty)}); add images "
            f"(extensions {', '.join(sorted(extensions))}) or remove the folders"
        )
    return classes


# --------------------------------------------------------------------------- checks


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


# --------------------------------------------------------------------------- index_folder


def index_folder(
    root: str | os.PathLike,
    *,
    split_file: str | os.PathLike | None = None,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
    check_images: bool | str = True,
    on_corrupt: str = "error",
    on_cross_split_duplicate: str = "warn",
    extensions: Iterable[str] | None = None,
) -> DatasetIndex:
    """Index a folder of images by class and split; see the module docstring for layouts.

    Args:
        root: the data set folder (split folders, or class folders).
        split_file: for a folder of class folders, a CSV (``path,class_name,split``) that
            keeps the split: written on the first run, reused after (it must list exactly
            the images present). Ignored, with a note, for split-folder layouts.
        validation_fraction, test_fraction: shares of all images held out when the split is
            made here (stratified by class, ``seed`` fixes it); 0 leaves a split out.
        check_images: ``True``/``"verify"`` opens every file with PIL and runs ``verify()``
            (which checks PNG checksums but only headers elsewhere), then decodes the
            non-PNG files (JPEG at 1/8 scale), so truncated files are caught too;
            ``"decode"`` decodes every file (slower for large PNGs); ``False`` skips the
            check. Files are read in a thread pool.
        on_corrupt: ``"error"`` (list every unreadable file) or ``"skip"`` (drop them, print
            the list).
        on_cross_split_duplicate: byte-identical files in two splits: ``"warn"``
            (:class:`CrossSplitDuplicateWarning`), ``"error"`` or ``"ignore"`` (no hashing).
        extensions: file extensions counted as images (default :data:`IMAGE_EXTENSIONS`).
    """
    mode = _check_mode(check_images)
    if on_corrupt not in ("error", "skip"):
        raise ConfigError(f"on_corrupt must be 'error' or 'skip', got {on_corrupt!r}")
    if on_cross_split_duplicate not in ("warn", "error", "ignore"):
        raise ConfigError(
            "on_cross_split_duplicate must be 'warn', 'error' or 'ignore', got "
            f"{on_cross_split_duplicate!r}"
        )
    for name, value in (
        ("validation_fraction", validation_fraction),
        ("test_fraction", test_fraction),
    ):
        if not 0 <= value < 1:
            raise ConfigError(f"{name} must be in [0, 1), got {value!r}")
    if validation_fraction + test_fraction >= 1:
        raise ConfigError(
            f"validation_fraction + test_fraction must be < 1, got "
            f"{validation_fraction} + {test_fraction}"
        )
    exts = _normalise_extensions(extensions)
    root = Path(root).expanduser().resolve()
    if not root.exists():
        raise FileNotFoundError(
            f"dataset folder {root} does not exist: pass the folder that holds the class "
            "folders (or train/ validation/ test/), set KERASBENCH_DATA, or use demo data "
            "(kerasbench.data.demo)"
        )
    if not root.is_dir():
        raise DatasetError(f"{root} is a file, not a dataset folder: pass its parent folder")

    skipped = _Skipped()
    top = _visible_dirs(root, skipped, exts)
    split_dirs = {d: SPLIT_ALIASES[d.lower()] for d in top if d.lower() in SPLIT_ALIASES}

    if split_dirs:
        per_split = _scan_split_layout(root, top, split_dirs, skipped, exts)
        if split_file is not None:
            print(
                f"index_folder: {root} already has split folders; split_file {split_file} "
                "is not used"
            )
    else:
        _refuse_wrapped_dataset(root, top)
        classes = _scan_classes(root, skipped, exts, str(root), dirs=top)
        if not classes:
            raise DatasetError(_no_images_message(root, exts, skipped.loose))
        per_split = None

    note = skipped.line(root)
    if note:
        print(note)

    # rows: (split or None, class name, path relative to root)
    if per_split is not None:
        class_names = natural_sorted(per_split["train"][1].keys())
        rows = [
            (split, cls, f"{folder}/{cls}/{rel}")
            for split, (folder, classes) in _with_folders(per_split)
            for cls in class_names
            for rel in classes[cls]
        ]
    else:
        class_names = natural_sorted(classes.keys())
        rows = [(None, cls, f"{cls}/{rel}") for cls in class_names for rel in classes[cls]]

    abs_paths = [str(root / rel) for _, _, rel in rows]
    want_hash = on_cross_split_duplicate != "ignore"
    results = _check_files(abs_paths, mode, want_hash)
    bad = [(p, err) for p, (err, _) in zip(abs_paths, results) if err is not None]
    if bad:
        listing = "\n".join(f"  {p}: {err}" for p, err in bad)
        if on_corrupt == "error":
            raise DatasetError(
                f"{len(bad)} files under {root} cannot be read as images:\n{listing}\n"
                "Delete or replace them, or pass on_corrupt='skip' to leave them out."
            )
        print(f"index_folder: skipping {len(bad)} unreadable images:\n{listing}")
        keep = [err is None for err, _ in results]
        rows = [r for r, k in zip(rows, keep) if k]
        results = [r for r, k in zip(results, keep) if k]
        abs_paths = [p for p, k in zip(abs_paths, keep) if k]
        remaining = {cls for _, cls, _ in rows}
        emptied = [c for c in class_names if c not in remaining]
        if emptied:
            raise DatasetError(
                f"after skipping unreadable files, classes {emptied} under {root} have no images"
            )

    if per_split is None:
        splits = _flat_split(
            root, rows, class_names, split_file, validation_fraction, test_fraction, seed
        )
        rows = [(s, cls, rel) for s, (_, cls, rel) in zip(splits, rows)]

    if want_hash:
        _check_cross_split(
            [r[0] for r in rows], abs_paths, [d for _, d in results], on_cross_split_duplicate
        )

    label_of = {c: i for i, c in enumerate(class_names)}
    order = sorted(
        range(len(rows)),
        key=lambda i: (
            SPLITS.index(rows[i][0]),
            label_of[rows[i][1]],
            natural_key(_within_class(rows[i][2], per_split is not None)),
        ),
    )
    frame = pd.DataFrame(
        {
            "path": [abs_paths[i] for i in order],
            "label": np.array([label_of[rows[i][1]] for i in order], dtype=np.int64),
            "class_name": [rows[i][1] for i in order],
            "split": [rows[i][0] for i in order],
        }
    )
    return DatasetIndex(frame=frame, class_names=class_names, root=root)


def _with_folders(per_split: dict):
    for split in SPLITS:
        if split in per_split:
            yield split, per_split[split]


def _within_class(rel: str, split_layout: bool) -> str:
    # Drop the split and class folders so files sort by their own names.
    return rel.split("/", 2 if split_layout else 1)[-1]


def _refuse_wrapped_dataset(root: Path, top: list) -> None:
    # Kaggle and zip files often wrap a data set in one more folder; taken as a folder of
    # class folders, it would become one class holding every split's images.
    for name in top:
        try:
            inner = [e.name for e in os.scandir(root / name) if e.is_dir()]
        except OSError:
            continue
        if any(n.lower() in SPLIT_ALIASES for n in inner):
            raise DatasetError(
                f"{root / name} holds split folders ({', '.join(natural_sorted(inner))}), so "
                f"it is a data set folder, not a class: pass {root / name} instead of {root}"
            )


def _no_images_message(root: Path, exts: frozenset, loose: int = 0) -> str:
    hint = ""
    try:
        visible = [e for e in os.listdir(root) if not _is_hidden(e)]
    except OSError:
        visible = []
    if not visible:
        hint = " The folder is empty."
    elif loose:
        hint = f" {loose} images lie directly in it: move them into one folder per class."
    return (
        f"no images found in {root}: expected class folders (<class>/<image>) or split "
        f"folders (train/<class>/<image>) with extensions {', '.join(sorted(exts))}.{hint}"
    )


def _scan_split_layout(root, top, split_dirs, skipped, exts) -> dict:
    by_split = {}
    for folder, split in split_dirs.items():
        if split in by_split:
            raise DatasetError(
                f"{root} has both {by_split[split][0]}/ and {folder}/ for the {split} split; "
                "keep one of them"
            )
        by_split[split] = (folder, None)
    if "train" not in by_split:
        raise DatasetError(
            f"{root} has split folders ({', '.join(split_dirs)}) but no train/ folder; "
            "add train/<class>/<image> or point at a folder of class folders"
        )
    others = [d for d in top if d not in split_dirs]
    if others:
        raise DatasetError(
            f"{root} mixes split folders ({', '.join(split_dirs)}) with other folders "
            f"({', '.join(others)}); move those out or point at one folder of class folders"
        )
    for split, (folder, _) in list(by_split.items()):
        classes = _scan_classes(root / folder, skipped, exts, f"{root / folder}")
        if not classes:
            raise DatasetError(_no_images_message(root / folder, exts, skipped.loose))
        by_split[split] = (folder, classes)
    reference = set(by_split["train"][1])
    problems = []
    for split, (folder, classes) in by_split.items():
        if split == "train":
            continue
        lacks = natural_sorted(reference - set(classes))
        extra = natural_sorted(set(classes) - reference)
        if lacks:
            problems.append(f"{folder}/ lacks {lacks}")
        if extra:
            problems.append(f"{folder}/ has classes not in train/: {extra}")
    if problems:
        raise DatasetError(
            f"class folders differ between splits of {root}: {'; '.join(problems)}. Every "
            "split needs the same class folders (each with at least one image)."
        )
    return by_split


def _flat_split(root, rows, class_names, split_file, validation_fraction, test_fraction, seed):
    rels = [rel for _, _, rel in rows]
    if split_file is not None and Path(split_file).exists():
        return _reuse_split_file(Path(split_file), root, rows)

    from sklearn.model_selection import train_test_split

    label_of = {c: i for i, c in enumerate(class_names)}
    labels = np.array([label_of[cls] for _, cls, _ in rows])
    idx = np.arange(len(rows))
    n = len(rows)
    # Integer sizes: sklearn rounds float fractions up per call, so two chained float splits
    # can hold out one image more than asked (0.1/0.9 * 360 -> 41).
    n_test = int(round(test_fraction * n))
    n_val = int(round(validation_fraction * n))
    split = np.array(["train"] * n, dtype=object)
    rest = idx
    try:
        if n_test:
            rest, test = train_test_split(
                rest, test_size=n_test, stratify=labels[rest], random_state=seed, shuffle=True
            )
            split[test] = "test"
        if n_val:
            _, val = train_test_split(
                rest, test_size=n_val, stratify=labels[rest], random_state=seed, shuffle=True
            )
            split[val] = "validation"
    except ValueError as exc:
        counts = np.bincount(labels, minlength=len(class_names))
        raise DatasetError(
            f"cannot make a stratified split of {root} ({n} images, {len(class_names)} "
            f"classes, smallest class {counts.min()} images) with validation_fraction="
            f"{validation_fraction}, test_fraction={test_fraction}: {exc}. Each held-out "
            "split needs at least one image per class: raise the fractions, add images, or "
            "give a split_file."
        ) from exc
    if split_file is not None:
        table = pd.DataFrame(
            {"path": rels, "class_name": [cls for _, cls, _ in rows], "split": list(split)}
        )
        _atomic_write_csv(table, Path(split_file))
        print(f"index_folder: wrote the split of {root} to {split_file}")
    return list(split)


def _reuse_split_file(split_file: Path, root: Path, rows: list) -> list:
    table = _read_split_csv(split_file)
    listed = dict(zip(table["path"], table["split"]))
    present = {rel for _, _, rel in rows}
    gone = natural_sorted(set(listed) - present)
    new = natural_sorted(present - set(listed))
    if gone or new:
        parts = []
        if gone:
            parts.append(
                f"{len(gone)} listed files are missing (or were skipped as unreadable) under "
                f"{root}: {_listing(gone)}"
            )
        if new:
            parts.append(f"{len(new)} images are not listed: {_listing(new)}")
        raise DatasetError(
            f"split file {split_file} does not match {root}: {'; '.join(parts)}. Restore "
            "the files, or delete the split file to make a new split (results made with "
            "the old split are then not comparable)."
        )
    if "class_name" in table.columns:
        wrong = [
            p for p, c in zip(table["path"], table["class_name"]) if c and Path(p).parts[0] != c
        ]
        if wrong:
            raise DatasetError(
                f"split file {split_file} gives classes that differ from the folders for "
                f"{_listing(wrong)}; delete it to re-split"
            )
    print(f"index_folder: reusing the split in {split_file}")
    return [listed[rel] for _, _, rel in rows]


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
