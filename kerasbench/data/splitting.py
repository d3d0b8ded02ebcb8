"""Splits made and kept: the seeded stratified split of a folder of class folders, the
split file that records it (written atomically, checked when reused), and the seeded
per-class draws of :meth:`DatasetIndex.subsample`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.data.scan import (
    SPLIT_ALIASES,
    SPLITS,
    _listing,
    _split_name,
    _with_folders,
    natural_sorted,
)
from kerasbench.errors import DatasetError
from kerasbench.io import write_csv_atomic

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
    write_csv_atomic(path, table, index=False)


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


def _flat_split(root, rows, class_names, split_file, validation_fraction, test_fraction, seed,
                what=None):
    """The split of ``rows`` ((split, class, path relative to ``root``) each): from
    ``split_file`` when it exists, else stratified and seeded (and written there).

    Every held-out split asked for (fraction > 0) gets at least one image of every class,
    or a DatasetError names the parameter, the classes and their counts: a class missing
    from a split would silently drop out of its metrics. ``what`` names the images split
    in messages (default: ``root``).
    """
    what = what or str(root)
    rels = [rel for _, _, rel in rows]
    if split_file is not None and Path(split_file).exists():
        return _reuse_split_file(Path(split_file), root, rows)

    from sklearn.model_selection import train_test_split

    label_of = {c: i for i, c in enumerate(class_names)}
    labels = np.array([label_of[cls] for _, cls, _ in rows])
    counts = np.bincount(labels, minlength=len(class_names))
    idx = np.arange(len(rows))
    n = len(rows)
    # Integer sizes: sklearn rounds float fractions up per call, so two chained float splits
    # can hold out one image more than asked (0.1/0.9 * 360 -> 41).
    n_test = int(round(test_fraction * n))
    n_val = int(round(validation_fraction * n))
    for name, fraction, size in (("validation", validation_fraction, n_val),
                                 ("test", test_fraction, n_test)):
        if fraction > 0 and size == 0:
            raise DatasetError(
                f"{name}_fraction={fraction} of the {n} images of {what} is 0 images, so "
                f"there would be no {name} split: raise {name}_fraction to at least "
                f"{1 / n:.3g} (or set it to 0 to have no {name} split), or add images"
            )
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
        raise DatasetError(
            f"cannot make a stratified split of {what} ({n} images, {len(class_names)} "
            f"classes; {_smallest(class_names, counts)}) with validation_fraction="
            f"{validation_fraction}, test_fraction={test_fraction}: {exc}. Each held-out "
            "split needs at least one image per class: raise the fractions, add images, or "
            "give a split_file."
        ) from exc
    _check_every_class_held_out(what, labels, split, class_names, counts,
                                validation_fraction, test_fraction)
    if split_file is not None:
        table = pd.DataFrame(
            {"path": rels, "class_name": [cls for _, cls, _ in rows], "split": list(split)}
        )
        _atomic_write_csv(table, Path(split_file))
        print(f"index_folder: wrote the split of {what} to {split_file}")
    return list(split)


def _smallest(class_names, counts) -> str:
    order = np.argsort(counts, kind="stable")[:3]
    return "smallest classes " + ", ".join(
        f"{class_names[i]!r} {int(counts[i])} images" for i in order
    )


def _check_every_class_held_out(what, labels, split, class_names, counts,
                                validation_fraction, test_fraction) -> None:
    problems = []
    for name, fraction in (("validation", validation_fraction), ("test", test_fraction)):
        if fraction <= 0:
            continue
        got = np.bincount(labels[split == name], minlength=len(class_names))
        empty = [i for i in range(len(class_names)) if got[i] == 0]
        if empty:
            shown = _listing([f"{class_names[i]!r} ({int(counts[i])} images)" for i in empty])
            problems.append(f"{name}_fraction={fraction} gives no {name} image to {shown}")
    if problems:
        raise DatasetError(
            f"cannot split {what} so that every class is in every held-out split: "
            f"{'; '.join(problems)}. Add images to those classes, raise the fraction, set it "
            "to 0 to have no such split, or give a split_file (path,class_name,split) that "
            "makes the split you want."
        )


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


def _carve_test(root: Path, per_split: dict, rows: list, class_names: list, split_file,
                test_fraction: float, seed: int) -> list:
    """Split folders without ``test/``: hold ``test_fraction`` of ``train/`` out as the test
    split (stratified, seeded, kept in ``split_file`` when given), with a printed note."""
    folder = per_split["train"][0]
    present = ", ".join(f"{name}/" for _, (name, _) in _with_folders(per_split))
    if test_fraction <= 0:
        print(
            f"index_folder: {root} has no test/ folder ({present} only) and test_fraction="
            f"{test_fraction}, so the index has no test split and nothing reports test "
            "metrics; add a test/ folder or pass test_fraction > 0 to hold one out of train/"
        )
        return rows
    positions = [i for i, row in enumerate(rows) if row[0] == "train"]
    train_rows = [(None, rows[i][1], rows[i][2].split("/", 1)[1]) for i in positions]
    splits = _flat_split(root / folder, train_rows, class_names, split_file, 0.0,
                         test_fraction, seed, what=f"{root / folder} (no test/ folder)")
    rows = list(rows)
    for i, split in zip(positions, splits):
        # A split file may also hold validation rows out when there is no validation/.
        keep = split == "test" or (split == "validation" and "validation" not in per_split)
        rows[i] = (split if keep else "train", rows[i][1], rows[i][2])
    carved = sum(split == "test" for split in splits)
    kept = " (kept in split_file " + str(split_file) + ")" if split_file is not None else ""
    print(
        f"index_folder: {root} has no test/ folder ({present} only): held out "
        f"test_fraction={test_fraction} of {folder}/ ({carved} of {len(positions)} images, "
        f"stratified, seed {seed}) as the test split{kept}; add a test/ folder to use your "
        "own, or pass test_fraction=0 to have no test split"
    )
    return rows
