"""Helpers for the robustness suite: tiny image trees and damaged files (a plain module,
not a conftest.py: the suite's tests import ``from conftest import ...`` from tests/).

Every case here is a bad input or a fault a new user meets (a corrupt download, a folder
one level off, a killed run); each test asserts that the message names the file or the
parameter, or that the recovery keeps every finished result.
"""

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

_counter = itertools.count(1)


def image(path: Path, size=(8, 8), mode: str = "RGB", fmt: str | None = None) -> Path:
    """A small image whose pixels differ from every other one made here (no accidental
    cross-split duplicates)."""
    n = next(_counter)
    generator = np.random.default_rng(n)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "I;16":
        pixels = generator.integers(0, 65535, size[::-1], dtype=np.uint16)
        Image.fromarray(pixels).save(path)
        return path
    pixels = generator.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    picture = Image.fromarray(pixels).convert(mode)
    if fmt is None:
        fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else None
    picture.save(path, format=fmt)
    return path


def tree(root: Path, spec: dict, ext: str = ".png") -> Path:
    """``{"train/cat": 3, "test/dog": 2}``: that many images in each folder."""
    for folder, count in spec.items():
        for number in range(count):
            image(root / folder / f"img{number}{ext}")
    return root


def split_tree(root: Path, classes=("cat", "dog"), counts=(6, 2, 2),
               names=("train", "validation", "test")) -> Path:
    spec = {}
    for name in classes:
        for split, count in zip(names, counts):
            if count:
                spec[f"{split}/{name}"] = count
    return tree(root, spec)


def truncated(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: max(1, int(len(data) * keep))])
    return path


def corrupt_middle(path: Path) -> Path:
    """Overwrite the middle of a file with junk, keeping its header and trailer."""
    data = bytearray(path.read_bytes())
    start, end = len(data) // 3, 2 * len(data) // 3
    data[start:end] = bytes((i * 97 + 13) % 256 for i in range(end - start))
    path.write_bytes(bytes(data))
    return path


def snapshot(folder: Path) -> dict:
    """{name: (bytes, mtime_ns)} of every file in ``folder``."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(Path(folder).iterdir()) if p.is_file()}
