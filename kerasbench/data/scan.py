"""Walking data set folders: layouts, natural sort, hidden and non-image entries skipped.

The bottom of the index modules: the constants (image extensions, split names and their
folder aliases), :func:`natural_key` / :func:`natural_sorted`, and the scanners that turn
a folder of class folders, or of split folders, into relative image paths. Nothing here
opens an image (:mod:`kerasbench.data.checks` does).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kerasbench.errors import ConfigError, DatasetError

__all__ = [
    "FRAME_COLUMNS",
    "IMAGE_EXTENSIONS",
    "SPLITS",
    "SPLIT_ALIASES",
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


def _listing(items: list, limit: int = _MAX_LISTED) -> str:
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    if len(items) > limit:
        shown += f", ... and {len(items) - limit} more"
    return shown


def _relative_to(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- scanning


@dataclass
class _Skipped:
    hidden: int = 0
    non_image: int = 0
    loose: int = 0
    # Symlinked folders not followed because they lead to a folder already indexed (a
    # loop, or a second path to the same images): "link -> target" each.
    repeated: list = field(default_factory=list)

    def line(self, root: Path) -> str | None:
        parts = []
        if self.hidden:
            parts.append(f"{self.hidden} hidden entries")
        if self.non_image:
            parts.append(f"{self.non_image} non-image files")
        if self.loose:
            parts.append(f"{self.loose} images outside class folders")
        if self.repeated:
            parts.append(
                f"{len(self.repeated)} symlinked folders that lead to a folder already "
                f"indexed, not followed again ({_listing(self.repeated, limit=5)})"
            )
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
    """Image files anywhere below ``folder`` as paths relative to it, naturally sorted.

    Symlinked sub-folders are followed (a data set assembled from links is common); a
    folder whose real location was already walked or holds ``folder`` (a link back to an
    ancestor, which would loop or pull other classes in; a second link to the same folder,
    which would count its images twice) is not entered and is named in the skipped line.
    """
    found = []
    top = os.path.realpath(folder)
    seen = {top}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        hidden_dirs = [d for d in dirnames if _is_hidden(d)]
        skipped.hidden += len(hidden_dirs)
        kept = []
        for name in sorted(d for d in dirnames if not _is_hidden(d)):
            full = os.path.join(dirpath, name)
            real = os.path.realpath(full)
            # An ancestor of the class folder would bring the data set (other classes
            # included) in again under this class.
            if real in seen or top.startswith(real.rstrip(os.sep) + os.sep):
                skipped.repeated.append(f"{full} -> {real}")
                continue
            seen.add(real)
            kept.append(name)
        dirnames[:] = kept
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


# --------------------------------------------------------------------------- layouts


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


def _check_class_count(folder: Path, class_names: list, min_classes: int) -> None:
    if len(class_names) >= min_classes:
        return
    hint = ""
    if len(class_names) == 1:
        only = folder / class_names[0]
        try:
            inner = natural_sorted(
                e.name for e in os.scandir(only) if e.is_dir() and not e.name.startswith(".")
            )
        except OSError:
            inner = []
        if inner:
            hint = (
                f" {only} holds folders ({_listing(inner, limit=5)}): if those are the "
                f"classes, pass {only} as the data set folder."
            )
    raise DatasetError(
        f"{folder} holds {len(class_names)} class folder(s) ({', '.join(class_names)}); a "
        f"classifier needs at least {min_classes} (min_classes={min_classes}).{hint} Add the "
        "other class folders, point at the folder that holds them, or pass min_classes=1 "
        "for a single-class index."
    )

