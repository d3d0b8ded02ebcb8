"""Splits made and kept: the seeded stratified split of a folder of class folders, the
split file that records it (written atomically, checked when reused), and the seeded
per-class draws of :meth:`DatasetIndex.subsample`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.data.scan import SPLIT_ALIASES, SPLITS, _listing, _split_name, natural_sorted
from kerasbench.errors import DatasetError

__all__: list = []


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


def _subsample_keep(
    frame: pd.DataFrame, class_names: list, wanted: dict, seed: int, per_class: bool
) -> np.ndarray:
    """Row mask of :meth:`DatasetIndex.subsample`: at most ``wanted[split]`` rows per class
    (``per_class``) or per split shared in proportion, drawn with a generator seeded per
    (split, class) so that one class's draw does not depend on the others."""
    keep = np.ones(len(frame), dtype=bool)
    labels = frame["label"].to_numpy()
    splits = frame["split"].to_numpy()
    for split_i, split in enumerate(SPLITS):
        n = wanted.get(split)
        if n is None:
            continue
        in_split = splits == split
        rows_by_label = {
            label: np.flatnonzero(in_split & (labels == label))
            for label in range(len(class_names))
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
                        f"subsample: class {class_names[label]!r} has {len(rows)} "
                        f"{split} images (< {quota[label]}), keeping all of them"
                    )
                continue
            rng = np.random.default_rng([int(seed), split_i, label])
            chosen = rng.choice(len(rows), size=quota[label], replace=False)
            drop = np.ones(len(rows), dtype=bool)
            drop[chosen] = False
            keep[rows[drop]] = False
    return keep


# --------------------------------------------------------------------------- split files


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


# --------------------------------------------------------------------------- split made here


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
