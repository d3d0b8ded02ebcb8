"""Embedded demo data: the shared machinery that writes small, deterministic, synthetic
image data sets as real files.

Every study can run end to end without downloading anything: each study's ``demo.py``
(``kerasbench.studies.<name>.demo.make_demo_data``) draws its images with NumPy using the
primitives here, saves them with PIL in the same folder layout as the real data set, and
the study then reads them through the same :func:`kerasbench.data.index.index_folder` path
as real data. The images are synthetic: they show that the code runs and that a model
can learn something; any accuracy measured on them says nothing about the papers' results.

Here: the writing machinery (:func:`materialise`) and :func:`make_binary`, the two-class
generator a study gives its own drawing (``draw=``); the drawing primitives are in
:mod:`kerasbench.data.drawing`.

Each generator writes its files only when the folder lacks a completed ``DEMO_DATA.txt``
marker, which is written last and records that the data is synthetic, the generator, its
version, the seed and every parameter. Files are written into a hidden sibling folder and
moved into place, so an interrupted run leaves no half-made data set behind, and a folder
whose marker records other parameters (or an older generator) is regenerated. Images
depend only on the seed and parameters: two runs write identical bytes.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from kerasbench.errors import ConfigError, DatasetError

__all__ = [
    "GENERATOR_VERSION", "MARKER", "SPLIT_NAMES", "check_count", "demo_base", "demo_folder",
    "demo_name", "is_demo_folder", "make_binary", "materialise", "save_image", "split_counts",
]

GENERATOR_VERSION = 1
MARKER = "DEMO_DATA.txt"
SPLIT_NAMES = ("train", "validation", "test")


# --------------------------------------------------------------------------- writing


def is_demo_folder(folder: str | os.PathLike) -> bool:
    """True if ``folder`` is a completed demo data set (has the ``DEMO_DATA.txt`` marker)."""
    return (Path(folder) / MARKER).is_file()


def _marker_text(name: str, seed: int, params: dict, description: str) -> str:
    return (
        f"kerasbench synthetic demo data set: {name}\n"
        "\n"
        "THIS IS SYNTHETIC DEMO DATA, NOT A REAL DATA SET. The images were drawn by\n"
        f"kerasbench.data.demo.make_{name} with NumPy and saved with PIL; no download was\n"
        "involved. Results on it show that the code runs, not how well a model does on\n"
        "the real task.\n"
        "\n"
        f"{description.strip()}\n"
        "\n"
        f"generator: kerasbench.data.demo.make_{name}\n"
        f"generator_version: {GENERATOR_VERSION}\n"
        f"seed: {seed}\n"
        f"parameters: {json.dumps(params, sort_keys=True)}\n"
    )


def materialise(
    folder: str | os.PathLike,
    name: str,
    seed: int,
    params: dict,
    description: str,
    write: Callable[[Path], None],
) -> Path:
    folder = Path(folder).expanduser().absolute()
    text = _marker_text(name, seed, params, description)
    marker = folder / MARKER
    if marker.is_file():
        if marker.read_text(encoding="utf-8") == text:
            return folder
        print(f"demo: {folder} was made with other settings or generator version; remaking it")
    elif folder.exists():
        if not folder.is_dir():
            raise DatasetError(f"demo folder {folder} is a file; pass a folder path")
        if any(folder.iterdir()):
            raise DatasetError(
                f"{folder} is not empty and has no {MARKER}, so it is not a completed demo "
                "data set; kerasbench will not write into it. Pass an empty or new folder, "
                "or delete this one if it is an interrupted demo folder."
            )
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Built in a hidden sibling and renamed: an interrupted run leaves no folder that looks
    # complete, and two processes making the same set do not mix their files.
    tmp = folder.parent / f".{folder.name}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        write(tmp)
        (tmp / MARKER).write_text(text, encoding="utf-8")
        _swap_into_place(tmp, folder, text)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _swap_into_place(tmp: Path, folder: Path, text: str) -> None:
    marker = folder / MARKER
    if marker.is_file() and marker.read_text(encoding="utf-8") == text:
        # Another process (a distributed worker) finished the same set first: keep its
        # files, which others may already be reading (same bytes, same modification times).
        return
    old = None
    if folder.exists():
        old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(folder, old)
    try:
        os.replace(tmp, folder)
    except OSError:
        # Another process finished the same set first; theirs is as good as ours.
        if not (folder / MARKER).is_file() or (folder / MARKER).read_text("utf-8") != text:
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_image(array: np.ndarray, path: Path, fmt: str) -> None:
    from PIL import Image

    image = Image.fromarray(array)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt in ("jpg", "jpeg"):
        image.save(path, format="JPEG", quality=90)
    elif fmt == "png":
        image.save(path, format="PNG")
    elif fmt in ("pgm", "ppm"):
        image.save(path, format="PPM")
    else:
        raise ConfigError(f"unsupported image format {fmt!r}: use jpg, png or pgm")


def check_count(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def split_counts(name: str, value, layout: str) -> tuple:
    if layout == "flat":
        return (check_count(name, value, 1),)
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ConfigError(
            f"{name} must be (train, validation, test) counts for split layout, got {value!r}"
        )
    counts = tuple(check_count(f"{name}[{i}]", v) for i, v in enumerate(value))
    if counts[0] < 1:
        raise ConfigError(f"{name}: the train count must be at least 1, got {value!r}")
    return counts


def make_binary(
    folder: str | os.PathLike,
    *,
    draw: Callable[[bool, int, np.random.Generator], np.ndarray],
    style: str,
    finding: str,
    seed: int = 0,
    class_names: tuple = ("positive", "negative"),
    layout: str = "flat",
    per_class: int | tuple | None = None,
    color: bool = True,
    image_size: int = 64,
    fmt: str = "png",
) -> Path:
    """Two-class set; the first class carries the finding that ``draw`` paints.

    ``draw(abnormal, size, rng)`` returns one ``size`` x ``size`` image (grey or RGB);
    ``style`` names the drawing and ``finding`` describes it for the marker file.
    ``layout="flat"`` writes ``<class>/<n>.<fmt>`` (``per_class`` an int, default 60);
    ``layout="split"`` writes ``train/ validation/ test/<class>/...`` (``per_class`` a
    (train, validation, test) tuple, default (40, 10, 10)). ``color=False`` writes grey
    images.
    """
    seed = check_count("seed", seed)
    names = tuple(str(c) for c in class_names)
    if len(names) != 2 or len(set(names)) != 2 or not all(names):
        raise ConfigError(f"class_names must be two different names, got {class_names!r}")
    if layout not in ("flat", "split"):
        raise ConfigError(f"layout must be 'flat' or 'split', got {layout!r}")
    if per_class is None:
        per_class = 60 if layout == "flat" else (40, 10, 10)
    counts = split_counts("per_class", per_class, layout)
    fmt = str(fmt).lower()
    if fmt not in ("png", "jpg", "jpeg"):
        raise ConfigError(f"fmt must be 'png' or 'jpg', got {fmt!r}")
    size = check_count("image_size", image_size, 16)
    splits = ("",) if layout == "flat" else SPLIT_NAMES

    def picture(ci: int, rng) -> np.ndarray:
        image = draw(ci == 0, size, rng)
        if color and image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        elif not color and image.ndim == 3:
            image = np.rint(image.astype(np.float32) @ [0.299, 0.587, 0.114]).astype(np.uint8)
        return image

    def write(out: Path) -> None:
        for ci, name in enumerate(names):
            for si, (split, n) in enumerate(zip(splits, counts)):
                rng = np.random.default_rng([seed, 4, ci, si])
                for i in range(n):
                    save_image(picture(ci, rng), out / split / name / f"{name}_{i:04d}.{fmt}", fmt)

    params = {
        "class_names": list(names),
        "layout": layout,
        "per_class": list(counts),
        "style": style,
        "color": bool(color),
        "image_size": size,
        "fmt": fmt,
    }
    description = (
        f"Two classes, {names[0]!r} (with the finding: {finding}) and {names[1]!r}\n"
        f"(without it); {layout} layout, {list(counts)} images per class, {size}x{size}\n"
        f"{'RGB' if color else 'grey'} {fmt.upper()}."
    )
    return materialise(folder, "binary", seed, params, description, write)


def demo_base() -> Path:
    """Where demo sets are cached: ``$KERASBENCH_DEMO_DIR`` or ``~/.cache/kerasbench/demo``."""
    env = os.environ.get("KERASBENCH_DEMO_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "kerasbench" / "demo"


def demo_name(generator) -> str:
    """A generator's data-set name: its ``demo_name`` attribute, else ``make_<name>``."""
    name = getattr(generator, "demo_name", None) or generator.__name__
    return name[len("make_"):] if name.startswith("make_") else name


def demo_folder(
    name,
    base: str | os.PathLike | None = None,
    *,
    seed: int = 0,
    options: dict | None = None,
    create: bool = True,
) -> Path:
    """The folder of a demo set under ``base`` (default :func:`demo_base`).

    ``name``: the generator (a study's ``make_demo_data``, called as
    ``generator(folder, seed=seed, **options)``).
    With ``create=True`` (the default) the set is generated there first if it is not
    complete yet, so the returned folder is ready for ``index_folder``. ``options`` are
    keyword arguments for the generator (e.g. ``{"per_class": (10, 2, 2)}``). A seed
    other than 0, or options, get their own folder (``<name>-seed<seed>``,
    ``<name>-<hash of options>``), so differently made sets never overwrite each other.
    """
    if not callable(name):
        raise ConfigError(f"demo data comes from a study's generator (e.g. "
                          f"kerasbench.studies.faces.make_demo_data), got {name!r}")
    generator, name = name, demo_name(name)
    seed = check_count("seed", seed)
    options = dict(options or {})
    if "seed" in options:
        raise ConfigError("pass the demo seed as demo_folder(..., seed=...), not in options")
    base = Path(base).expanduser() if base is not None else demo_base()
    folder_name = name if seed == 0 else f"{name}-seed{seed}"
    if options:
        blob = json.dumps(options, sort_keys=True, default=list)
        folder_name += "-" + hashlib.sha1(blob.encode("utf-8")).hexdigest()[:8]
    folder = base / folder_name
    accepted = _accepted_options(generator)
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(
            f"unknown options {unknown} for demo data set {name!r}; it takes "
            f"{', '.join(sorted(accepted - {'kwargs'}))}"
        )
    if create:
        return generator(folder, seed=seed, **options)
    return folder


def _accepted_options(generator) -> set:
    """Keyword options a generator takes (through ``**kwargs`` to ``make_binary`` too)."""
    parameters = inspect.signature(generator).parameters
    accepted = set(parameters) - {"folder", "seed"}
    wrapped = getattr(generator, "wraps_generator", None)
    if wrapped is not None:
        # A study's wrapper fixes these; the rest of the wrapped generator's options pass.
        accepted |= _accepted_options(wrapped) - {"class_names", "draw", "style", "finding"}
    accepted.discard("kwargs")
    return accepted | ({"kwargs"} if "kwargs" in parameters else set())
