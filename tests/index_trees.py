"""Tiny image trees for the index tests (imported by test_index*.py and test_fingerprint.py)."""

import itertools
from pathlib import Path

import numpy as np
from PIL import Image

_counter = itertools.count(1)


def write_image(path: Path, fmt: str | None = None) -> Path:
    """A tiny image whose pixels differ from every other one made here (no accidental
    duplicates between splits)."""
    n = next(_counter)
    pixels = np.zeros((6, 6, 3), dtype=np.uint8)
    pixels[0, 0] = (n % 256, (n // 256) % 256, 7)
    pixels[1:, 1:] = (n * 37) % 256
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt or ("JPEG" if path.suffix == ".jpg" else None))
    return path


def make_tree(root: Path, spec: dict, ext: str = ".png") -> Path:
    """spec: {"train/cat": 3, "test/dog": ["a.png", "b.png"], ...}."""
    for folder, files in spec.items():
        names = [f"img{i}{ext}" for i in range(1, files + 1)] if isinstance(files, int) else files
        for name in names:
            write_image(root / folder / name)
    return root


def split_tree(root: Path, classes=("cat", "dog"), counts=(4, 2, 2), val_name="validation"):
    spec = {}
    for cls in classes:
        for split, n in zip(("train", val_name, "test"), counts):
            if n:
                spec[f"{split}/{cls}"] = n
    return make_tree(root, spec)


def flat_tree(root: Path, per_class=(20, 20, 10)) -> Path:
    return make_tree(root, {f"class{i + 1}": n for i, n in enumerate(per_class)})
