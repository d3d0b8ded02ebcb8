"""Folders of images -> :class:`DatasetIndex` (paths, labels, splits); no decoding beyond checks.

Two layouts are recognised, the same ones Keras and Kaggle data sets use:

* split folders: ``root/train/<class>/<image>``, optionally ``validation/`` (or ``val/``,
  ``valid/``, all called ``"validation"``) and ``test/``; ``train/`` is required. Without
  ``test/``, ``test_fraction`` of ``train/`` is held out as the test split (printed).
* one folder of class folders: ``root/<class>/<image>``; the split is made here (stratified,
  seeded) and, given ``split_file``, saved so that later runs reuse exactly the same split.

Class names are sorted naturally (``class2`` before ``class10``) and label ``i`` is
``class_names[i]``. Hidden entries (``.DS_Store``, ``.ipynb_checkpoints``, macOS ``._*``
and ``__MACOSX``) and non-image files are skipped and counted in one printed line.

Problems are reported before any training starts: a missing folder, no images, an empty
class folder, a single class, class sets that differ between splits, a class too small to
appear in every held-out split, files PIL cannot open, and the same file (byte-identical)
in two splits, which would leak test images into training. Symlinked folders are followed;
a link back to a folder already walked is not (and is named).

The work is split by concern: :mod:`~kerasbench.data.scan` (layouts, natural sort, skipped
entries), :mod:`~kerasbench.data.checks` (image and frame validation, cross-split
duplicates), :mod:`~kerasbench.data.splitting` (seeded stratified split, split files) and
:mod:`~kerasbench.data.fingerprint` (a hash of the data set). Every public name is
importable from here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.data.checks import (
    CrossSplitDuplicateWarning,
    _check_cross_split,
    _check_files,
    _check_frame,
    _check_mode,
)
from kerasbench.data.fingerprint import frame_fingerprint
from kerasbench.data.scan import (
    FRAME_COLUMNS,
    IMAGE_EXTENSIONS,
    SPLIT_ALIASES,
    SPLITS,
    _check_class_count,
    _listing,
    _no_images_message,
    _normalise_extensions,
    _refuse_wrapped_dataset,
    _relative_to,
    _scan_classes,
    _scan_split_layout,
    _Skipped,
    _split_name,
    _visible_dirs,
    _with_folders,
    _within_class,
    natural_key,
    natural_sorted,
)
from kerasbench.data.splitting import (
    _atomic_write_csv,
    _carve_test,
    _flat_split,
    _read_split_csv,
    _subsample_keep,
)
from kerasbench.errors import ConfigError, DatasetError

__all__ = [
    "FRAME_COLUMNS",
    "IMAGE_EXTENSIONS",
    "SPLITS",
    "SPLIT_ALIASES",
    "CrossSplitDuplicateWarning",
    "DatasetIndex",
    "frame_fingerprint",
    "index_folder",
    "natural_key",
    "natural_sorted",
]


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

    def fingerprint(self, content_hash: bool = False) -> str:
        """A 16-hex-digit sha256 of the data set: the class names, then for every row in
        index order its path relative to ``root``, label, class name, split, and the file's
        size and mtime (ns), or with ``content_hash=True`` the sha256 of its bytes (catches
        same-size rewrites that kept the old mtime). A copy elsewhere with the mtimes kept
        gives the same value; see :func:`kerasbench.data.fingerprint.frame_fingerprint`."""
        return frame_fingerprint(
            self.frame, root=self.root, content_hash=content_hash, class_names=self.class_names
        )

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
        keep = _subsample_keep(self.frame, self.class_names, wanted, seed, per_class)
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
    min_classes: int = 2,
) -> DatasetIndex:
    """Index a folder of images by class and split; see the module docstring for layouts.

    Args:
        root: the data set folder (split folders, or class folders).
        split_file: for a folder of class folders, a CSV (``path,class_name,split``) that
            keeps the split: written on the first run, reused after (it must list exactly
            the images present). For split folders without ``test/`` it keeps the test
            split carved from ``train/`` (paths relative to ``train/``); ignored, with a
            note, for split folders that have ``test/``.
        validation_fraction, test_fraction: shares of all images held out when the split is
            made here (stratified by class, ``seed`` fixes it); 0 leaves a split out. Every
            class must get at least one image in each split asked for, else DatasetError.
            Split folders without ``test/`` (``train/`` alone, or ``train/`` and ``val/``)
            get ``test_fraction`` of the training images held out as the test split, with a
            printed note (``test_fraction=0``: no test split, also noted); a missing
            ``validation/`` is left to the caller (studies hold it out of train).
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
        min_classes: fewest class folders accepted (default 2: one class is almost always
            a folder level off; 1 for a single person or class, e.g. enrollment).

    Symlinked class folders and sub-folders are followed; a link to a folder already
    walked (a loop) is not entered again and is named in the printed skipped line.
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
    if isinstance(min_classes, bool) or not isinstance(min_classes, (int, np.integer)) \
            or min_classes < 1:
        raise ConfigError(f"min_classes must be an int >= 1, got {min_classes!r}")
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
        if split_file is not None and "test" in per_split:
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
        _check_class_count(root / per_split["train"][0], class_names, min_classes)
        rows = [
            (split, cls, f"{folder}/{cls}/{rel}")
            for split, (folder, classes) in _with_folders(per_split)
            for cls in class_names
            for rel in classes[cls]
        ]
    else:
        class_names = natural_sorted(classes.keys())
        _check_class_count(root, class_names, min_classes)
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
    elif "test" not in per_split:
        rows = _carve_test(root, per_split, rows, class_names, split_file, test_fraction, seed)

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

