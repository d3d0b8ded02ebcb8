"""Embedded demo data: small, deterministic, synthetic image data sets written as real files.

Every study can run end to end without downloading anything: these generators draw images
with NumPy, save them with PIL in the same folder layouts as the real data sets, and the
studies then read them through the same :func:`kerasbench.data.index.index_folder` path as
real data. The images are synthetic. They show that the code runs and that a model can
learn something; any accuracy measured on them says nothing about the papers' results.

How each set is made (all sizes are defaults and can be changed):

``clothing`` (:func:`make_clothing`)
    The 10 clothing classes (dress, hat, longsleeve, outwear, pants, shirt, shoes, shorts,
    skirt, t-shirt) as ``train/ validation/ test/<class>/<n>.jpg``, 40/8/8 per class, RGB
    64x64 JPEG. Each class is a flat silhouette built from ellipses, trapezoids and
    rounded bars (t-shirt: torso with short sleeves; longsleeve: long thin sleeves; shirt:
    long sleeves plus a collar and buttons; outwear: wide torso, thick sleeves and a
    zip; dress, skirt, pants, shorts, hat and shoes by their outlines). Each image moves,
    scales and rotates the shape (about 10 degrees), flips it at random, gives it a plain,
    striped or checked texture and a colour that is the class's usual colour half the time
    and random otherwise, on a light or coloured background with lighting and pixel
    noise. Shape is what identifies the class; colour helps only a little.
``faces`` (:func:`make_faces`)
    ORL-like face sets: ``s1/ ... s12/``, 10 grey 64x64 images each (``1.pgm ...``).
    Each person has a template (head shape, skin and hair tone, hairline, eye spacing
    and size, eyebrows, nose, mouth, background, glasses for some); each image moves,
    scales, tilts and turns the head a little, changes the lighting direction and
    expression, sometimes closes the eyes, and adds noise. Identity is recoverable from
    geometry and tone, as in a real face set, but no single pixel gives it away.
``fer`` (:func:`make_fer`)
    FER2013-like: ``train/ test/<emotion>/...jpg``, 48x48 grey JPEG, seven emotions
    (angry, disgust, fear, happy, neutral, sad, surprise) with FER2013's class imbalance
    (counts proportional to the real training set, so disgust is about 1.5 %, but never
    fewer than ``min_per_class`` images, taken from the largest class); 350 training and
    90 test images in all. Every
    image is a new random face; the emotion sets the mouth (smile, frown, pressed, open
    "O", wide open, crooked), the eyebrows (lowered "V", raised, raised inner ends) and
    how wide the eyes are, each with jitter, so neighbouring emotions (fear and
    surprise, angry and disgust) overlap as in the real data.
``binary`` (:func:`make_binary`), ``covid``, ``down_syndrome``
    Two classes, 60 images each in one folder per class (``layout="flat"``) or 40/10/10
    per class in split folders (``layout="split"``), RGB or grey. Style ``"xray"``
    (default, names ``covid``/``normal``): a chest-X-ray-like picture (body, two dark
    lungs with ribs, spine, heart); the first class has several diffuse bright patches
    in the lungs, the second has clear lungs (with at most one faint patch). Style
    ``"face"`` (picked for names with "down"/"syndrome", e.g. ``down_syndrome``/
    ``healthy``): random child faces where the first class has, on average, a rounder
    and flatter face, upslanting and wider-set eyes, a smaller nose and a smaller,
    more often open mouth, with overlapping distributions. ``make_covid`` and
    ``make_down_syndrome`` are ``make_binary`` with those names in split layout.

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
    "CLOTHING_CLASSES",
    "DEMO_DATASETS",
    "FER_CLASSES",
    "GENERATOR_VERSION",
    "MARKER",
    "demo_folder",
    "is_demo_folder",
    "make_binary",
    "make_clothing",
    "make_covid",
    "make_down_syndrome",
    "make_faces",
    "make_fer",
]

GENERATOR_VERSION = 1
MARKER = "DEMO_DATA.txt"
CLOTHING_CLASSES = (
    "dress",
    "hat",
    "longsleeve",
    "outwear",
    "pants",
    "shirt",
    "shoes",
    "shorts",
    "skirt",
    "t-shirt",
)
FER_CLASSES = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
# FER2013 training-set counts (data/README.md), so the demo has the same imbalance.
FER_TRAIN_COUNTS = {
    "angry": 3995,
    "disgust": 436,
    "fear": 4097,
    "happy": 7215,
    "neutral": 4965,
    "sad": 4830,
    "surprise": 3171,
}
SPLIT_NAMES = ("train", "validation", "test")
# Images are drawn at twice their size and box-filtered down, which anti-aliases edges.
_SUPERSAMPLE = 2


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


def _materialise(
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


def _save(array: np.ndarray, path: Path, fmt: str) -> None:
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


def _finish(canvas: np.ndarray, size: int, rng: np.random.Generator, noise: float) -> np.ndarray:
    """Supersampled float canvas -> uint8 image of ``size`` with pixel noise."""
    from PIL import Image

    channels = canvas.shape[2] if canvas.ndim == 3 else 1
    clipped = np.clip(canvas, 0, 255).astype(np.uint8)
    image = Image.fromarray(clipped).resize((size, size), Image.Resampling.BOX)
    out = np.asarray(image, dtype=np.float32)
    out = out + rng.normal(0.0, noise, size=out.shape).astype(np.float32)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out if channels > 1 else out.reshape(size, size)


def _check_count(name: str, value, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ConfigError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _split_counts(name: str, value, layout: str) -> tuple:
    if layout == "flat":
        return (_check_count(name, value, 1),)
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ConfigError(
            f"{name} must be (train, validation, test) counts for split layout, got {value!r}"
        )
    counts = tuple(_check_count(f"{name}[{i}]", v) for i, v in enumerate(value))
    if counts[0] < 1:
        raise ConfigError(f"{name}: the train count must be at least 1, got {value!r}")
    return counts


# --------------------------------------------------------------------------- geometry


def _grid(size: int) -> tuple:
    n = size * _SUPERSAMPLE
    c = ((np.arange(n, dtype=np.float32) + 0.5) / n) * 2.0 - 1.0
    yy, xx = np.meshgrid(c, c, indexing="ij")
    return xx, yy


def _pose(xx, yy, cx, cy, scale, angle, flip=False):
    """Grid coordinates in the object's own frame (u right, v down, unit ~ half image)."""
    ca, sa = np.cos(angle), np.sin(angle)
    dx, dy = xx - cx, yy - cy
    u = (ca * dx + sa * dy) / scale
    v = (-sa * dx + ca * dy) / scale
    return (-u if flip else u), v


def _ellipse(u, v, cu, cv, ru, rv):
    return ((u - cu) / ru) ** 2 + ((v - cv) / rv) ** 2 <= 1.0


def _rect(u, v, u0, u1, v0, v1):
    return (u >= u0) & (u <= u1) & (v >= v0) & (v <= v1)


def _quad(u, v, v0, v1, top, bottom):
    """Region between v0 and v1 whose left/right edges go linearly from top to bottom."""
    t = (v - v0) / (v1 - v0)
    left = top[0] + (bottom[0] - top[0]) * t
    right = top[1] + (bottom[1] - top[1]) * t
    return (t >= 0) & (t <= 1) & (u >= left) & (u <= right)


def _capsule(u, v, p0, p1, r):
    """Points within r of the segment p0-p1 (a bar with rounded ends)."""
    (u0, v0), (u1, v1) = p0, p1
    du, dv = u1 - u0, v1 - v0
    t = np.clip(((u - u0) * du + (v - v0) * dv) / (du * du + dv * dv + 1e-12), 0.0, 1.0)
    return (u - u0 - t * du) ** 2 + (v - v0 - t * dv) ** 2 <= r * r


def _curve(u, v, cu, cv, half_width, bend, thickness, skew=0.0):
    """A bent line: v = cv - bend * x^2 + skew * x for x = (u - cu) / half_width in [-1, 1].

    Positive ``bend`` lifts the ends (a smile); negative drops them (a frown).
    """
    x = (u - cu) / half_width
    centre = cv - bend * x * x + skew * x
    return (np.abs(x) <= 1.0) & (np.abs(v - centre) <= thickness)


def _ramp(xx, yy, angle, amount):
    """Linear lighting across the image, in grey levels, centred on zero."""
    return amount * (np.cos(angle) * xx + np.sin(angle) * yy)


# --------------------------------------------------------------------------- clothing

_CLOTHING_COLOURS = {
    "dress": (190, 40, 70),
    "hat": (150, 110, 70),
    "longsleeve": (60, 90, 170),
    "outwear": (60, 70, 50),
    "pants": (40, 60, 110),
    "shirt": (170, 200, 230),
    "shoes": (40, 30, 30),
    "shorts": (190, 170, 120),
    "skirt": (120, 60, 150),
    "t-shirt": (220, 200, 60),
}


def _clothing_shape(name: str, u, v, rng) -> tuple:
    """(garment mask, dark detail mask, light detail mask) for one class."""
    none = np.zeros_like(u, dtype=bool)
    neck = _ellipse(u, v, 0, -0.62, 0.14 + 0.03 * rng.random(), 0.1)
    if name in ("t-shirt", "longsleeve", "shirt", "outwear"):
        half = 0.42 if name == "outwear" else 0.34
        bottom = 0.8 if name == "outwear" else 0.62
        torso = _quad(u, v, -0.58, bottom, (-half, half), (-half - 0.03, half + 0.03))
        if name == "t-shirt":
            reach, r = (0.66, -0.18 + 0.08 * rng.random()), 0.15
        elif name == "outwear":
            reach, r = (0.62, 0.72), 0.15
        else:
            reach, r = (0.56, 0.6), 0.1
        sleeves = _capsule(u, v, (half - 0.04, -0.47), reach, r) | _capsule(
            u, v, (-half + 0.04, -0.47), (-reach[0], reach[1]), r
        )
        mask = (torso | sleeves) & ~neck
        dark, light = none, none
        if name == "shirt":
            light = (
                _quad(u, v, -0.62, -0.4, (-0.2, -0.04), (-0.1, -0.0))
                | _quad(u, v, -0.62, -0.4, (0.04, 0.2), (0.0, 0.1))
            ) & ~neck
            dark = np.zeros_like(mask)
            for cv in np.linspace(-0.3, 0.5, 5):
                dark |= _ellipse(u, v, 0, cv, 0.035, 0.035)
        elif name == "outwear":
            dark = _rect(u, v, -0.025, 0.025, -0.55, bottom) | _capsule(
                u, v, (-0.25, -0.05), (-0.2, 0.25), 0.03
            )
            hood = _ellipse(u, v, 0, -0.62, 0.26, 0.16) & ~neck
            mask |= hood
        return mask, dark, light
    if name == "dress":
        straps = _rect(u, v, -0.2, -0.12, -0.8, -0.45) | _rect(u, v, 0.12, 0.2, -0.8, -0.45)
        bodice = _quad(u, v, -0.5, -0.1, (-0.24, 0.24), (-0.2, 0.2))
        flare = 0.5 + 0.15 * rng.random()
        skirt = _quad(u, v, -0.12, 0.85, (-0.2, 0.2), (-flare, flare))
        return straps | bodice | skirt, _rect(u, v, -0.21, 0.21, -0.14, -0.08), none
    if name == "skirt":
        flare = 0.55 + 0.15 * rng.random()
        band = _rect(u, v, -0.32, 0.32, -0.45, -0.33)
        body = _quad(u, v, -0.35, 0.45, (-0.32, 0.32), (-flare, flare))
        return band | body, band, none
    if name in ("pants", "shorts"):
        end = 0.88 if name == "pants" else 0.2
        spread = 0.06 if name == "pants" else 0.12
        band = _rect(u, v, -0.36, 0.36, -0.78, -0.64)
        hip = _quad(u, v, -0.66, -0.3, (-0.36, 0.36), (-0.38, 0.38))
        left = _quad(u, v, -0.32, end, (-0.38, -0.02), (-0.38 - spread, -0.1))
        right = _quad(u, v, -0.32, end, (0.02, 0.38), (0.1, 0.38 + spread))
        return band | hip | left | right, band | _rect(u, v, -0.01, 0.01, -0.64, -0.35), none
    if name == "hat":
        dome = _ellipse(u, v, 0, 0.15, 0.42, 0.5) & (v <= 0.15)
        brim_w = 0.65 + 0.15 * rng.random()
        brim = _ellipse(u, v, 0, 0.15, brim_w, 0.1)
        band = (v > 0.0) & (v <= 0.1) & _ellipse(u, v, 0, 0.15, 0.42, 0.5)
        return dome | brim, band, none
    if name == "shoes":
        sole = _ellipse(u, v, 0.05, 0.35, 0.72, 0.16)
        upper = _ellipse(u, v, -0.2, 0.2, 0.45, 0.3) & (v <= 0.35)
        toe = _ellipse(u, v, 0.4, 0.3, 0.35, 0.15)
        collar = _ellipse(u, v, -0.3, -0.05, 0.18, 0.08)
        lining = _rect(u, v, -0.7, 0.8, 0.4, 0.52) & sole
        return (sole | upper | toe) & ~collar, lining, none
    raise ConfigError(f"no clothing shape for {name!r}")


def _texture(u, v, rng) -> np.ndarray:
    kind = rng.integers(0, 3)
    if kind == 0:
        return np.ones_like(u)
    freq = rng.uniform(10, 22)
    phase = rng.uniform(0, 2 * np.pi)
    if kind == 1:
        angle = rng.uniform(0, np.pi)
        wave = np.sin(freq * (np.cos(angle) * u + np.sin(angle) * v) + phase)
        return np.where(wave > 0, 1.0, 0.7).astype(np.float32)
    checks = (np.sin(freq * u + phase) > 0) ^ (np.sin(freq * v) > 0)
    return np.where(checks, 1.0, 0.78).astype(np.float32)


def _draw_clothing(name: str, size: int, rng: np.random.Generator) -> np.ndarray:
    xx, yy = _grid(size)
    scale = rng.uniform(0.78, 1.05)
    u, v = _pose(
        xx,
        yy,
        rng.uniform(-0.1, 0.1),
        rng.uniform(-0.08, 0.08),
        scale,
        rng.uniform(-0.18, 0.18),
        flip=bool(rng.integers(0, 2)),
    )
    u = u * rng.uniform(0.9, 1.1)  # aspect jitter
    mask, dark, light = _clothing_shape(name, u, v, rng)
    if rng.random() < 0.7:
        background = rng.uniform(205, 250) + rng.normal(0, 6, 3)
    else:
        background = rng.uniform(60, 230, 3)
    base = np.asarray(_CLOTHING_COLOURS[name], dtype=np.float32)
    colour = base + rng.normal(0, 30, 3) if rng.random() < 0.5 else rng.uniform(20, 235, 3)
    canvas = np.empty(xx.shape + (3,), dtype=np.float32)
    canvas[...] = background
    shade = _texture(u, v, rng)[..., None]
    garment = np.clip(colour, 0, 255) * shade
    canvas = np.where(mask[..., None], garment, canvas)
    canvas = np.where((dark & mask)[..., None], garment * 0.45, canvas)
    canvas = np.where((light & ~mask)[..., None], np.minimum(colour * 1.3 + 40, 255), canvas)
    canvas += _ramp(xx, yy, rng.uniform(0, 2 * np.pi), rng.uniform(0, 25))[..., None]
    return _finish(canvas, size, rng, noise=4.0)


def make_clothing(
    folder: str | os.PathLike,
    *,
    seed: int = 0,
    per_class: tuple = (40, 8, 8),
    image_size: int = 64,
) -> Path:
    """Ten-class clothing stand-in: ``train/ validation/ test/<class>/<n>.jpg``, RGB JPEG.

    ``per_class`` gives the (train, validation, test) images per class.
    """
    seed = _check_count("seed", seed)
    counts = _split_counts("per_class", per_class, "split")
    size = _check_count("image_size", image_size, 16)

    def write(out: Path) -> None:
        for ci, name in enumerate(CLOTHING_CLASSES):
            for si, (split, n) in enumerate(zip(SPLIT_NAMES, counts)):
                rng = np.random.default_rng([seed, 1, ci, si])
                for i in range(n):
                    _save(_draw_clothing(name, size, rng), out / split / name / f"{i}.jpg", "jpg")

    params = {"per_class": list(counts), "image_size": size}
    description = (
        "Ten clothing classes drawn as flat silhouettes with per-image position, scale,\n"
        "rotation, flip, texture, colour, background, lighting and noise jitter\n"
        f"(train/validation/test = {counts[0]}/{counts[1]}/{counts[2]} per class, "
        f"{size}x{size} RGB JPEG)."
    )
    return _materialise(folder, "clothing", seed, params, description, write)


# --------------------------------------------------------------------------- faces


def _face_template(rng: np.random.Generator) -> dict:
    return {
        "head_rx": rng.uniform(0.5, 0.66),
        "head_ry": rng.uniform(0.7, 0.86),
        "skin": rng.uniform(110, 210),
        "hair": rng.uniform(15, 95),
        "hairline": rng.uniform(-0.55, -0.25),
        "hair_volume": rng.uniform(1.0, 1.18),
        "background": rng.uniform(30, 230),
        "eye_dx": rng.uniform(0.17, 0.3),
        "eye_v": rng.uniform(-0.2, -0.02),
        "eye_r": rng.uniform(0.055, 0.1),
        "eye_tilt": rng.uniform(-0.12, 0.12),
        "eye_dark": rng.uniform(5, 60),
        "brow_gap": rng.uniform(0.1, 0.2),
        "brow_width": rng.uniform(0.025, 0.05),
        "brow_tilt": rng.uniform(-0.06, 0.06),
        "nose_len": rng.uniform(0.14, 0.3),
        "nose_w": rng.uniform(0.05, 0.11),
        "mouth_v": rng.uniform(0.32, 0.5),
        "mouth_w": rng.uniform(0.13, 0.3),
        "mouth_t": rng.uniform(0.02, 0.045),
        "mouth_dark": rng.uniform(20, 90),
        "glasses": bool(rng.random() < 0.25),
    }


def _draw_face(
    t: dict,
    size: int,
    rng: np.random.Generator,
    *,
    bend: float = 0.0,
    skew: float = 0.0,
    mouth_open: float = 0.0,
    mouth_round: bool = False,
    teeth: bool = False,
    brow_raise: float = 0.0,
    brow_inner: float = 0.0,
    eye_scale: float = 1.0,
    blink: bool = False,
    nose_wrinkle: bool = False,
    pose: float = 0.06,
    light: float = 45.0,
    noise: float = 5.0,
    tint: tuple | None = None,
) -> np.ndarray:
    """One face from template ``t``; keyword arguments set the expression."""
    xx, yy = _grid(size)
    u, v = _pose(
        xx,
        yy,
        rng.normal(0, pose),
        rng.normal(0, pose),
        rng.uniform(0.93, 1.07),
        rng.normal(0, 0.1),
    )
    turn = rng.normal(0, 0.05)  # features slide sideways as the head turns
    canvas = np.full(xx.shape, t["background"], dtype=np.float32)
    canvas += rng.normal(0, 8)
    rx, ry = t["head_rx"], t["head_ry"]
    hair_back = _ellipse(u, v, 0, -0.05, rx * t["hair_volume"], ry * 1.02)
    head = _ellipse(u, v, 0, 0.02, rx, ry)
    canvas[hair_back & (v < 0.1)] = t["hair"]
    skin = t["skin"] + rng.normal(0, 6)
    canvas[head] = skin
    canvas[head & (v < t["hairline"] + 0.05 * np.sin(3 * u))] = t["hair"]
    for side in (-1, 1):
        canvas[_ellipse(u, v, side * rx, 0.0, 0.07, 0.14) & ~head] = skin - 12  # ears
    fu = u - turn
    er = t["eye_r"] * eye_scale
    for side in (-1, 1):
        cu, cv = side * t["eye_dx"], t["eye_v"]
        # Rotating each eye the opposite way lifts (or drops) both outer corners.
        tilt = -side * t["eye_tilt"]
        eu = (fu - cu) * np.cos(tilt) + (v - cv) * np.sin(tilt)
        ev = -(fu - cu) * np.sin(tilt) + (v - cv) * np.cos(tilt)
        if blink:
            canvas[_curve(eu, ev, 0, 0, er * 1.2, 0.0, 0.012)] = t["eye_dark"]
        else:
            canvas[_ellipse(eu, ev, 0, 0, er * 1.3, er * 0.8)] = 235
            canvas[_ellipse(eu, ev, 0, 0, er * 0.55, er * 0.55)] = t["eye_dark"]
        inner = side * t["brow_gap"] * 0.6
        outer = side * (t["eye_dx"] + er * 1.5)
        bv = t["eye_v"] - er - 0.08 - brow_raise
        brow = _capsule(
            fu,
            v,
            (inner, bv - brow_inner),
            (outer, bv - t["brow_tilt"]),
            t["brow_width"],
        )
        canvas[brow & head] = t["hair"] * 0.8
        if t["glasses"]:
            ring = _ellipse(fu, v, cu, cv, er * 2.0, er * 1.6) & ~_ellipse(
                fu, v, cu, cv, er * 1.75, er * 1.35
            )
            canvas[ring] = 25
    nose_top = t["eye_v"] + 0.05
    nose = _quad(
        fu, v, nose_top, nose_top + t["nose_len"], (-0.02, 0.02), (-t["nose_w"], t["nose_w"])
    )
    canvas[nose] = skin - 22
    canvas[_ellipse(fu, v, 0, nose_top + t["nose_len"], t["nose_w"] * 0.9, 0.03)] = skin - 45
    if nose_wrinkle:
        for k in range(3):
            canvas[_curve(fu, v, 0, nose_top + 0.02 + 0.035 * k, 0.09, 0.02, 0.008)] = skin - 40
    mw, mv = t["mouth_w"], t["mouth_v"]
    if mouth_open > 0:
        ry_m = mouth_open * (1.0 if mouth_round else 0.6)
        rx_m = mw * (0.55 if mouth_round else 1.0)
        opening = _ellipse(fu, v, skew * 0.3, mv, rx_m, ry_m)
        canvas[opening] = t["mouth_dark"] * 0.5
        if teeth:
            canvas[opening & (v < mv - ry_m * 0.3)] = 225
    canvas[_curve(fu, v, 0, mv, mw, bend, t["mouth_t"], skew)] = t["mouth_dark"]
    canvas += _ramp(xx, yy, rng.uniform(0, 2 * np.pi), rng.uniform(0, light))
    canvas *= rng.uniform(0.85, 1.15)
    if tint is not None:
        canvas = canvas[..., None] * (np.asarray(tint, dtype=np.float32) / 255.0)
    return _finish(canvas, size, rng, noise=noise)


def make_faces(
    folder: str | os.PathLike,
    *,
    seed: int = 0,
    people: int = 12,
    images_per_person: int = 10,
    image_size: int = 64,
    fmt: str = "pgm",
) -> Path:
    """ORL-like face set: ``s1/ ... s<people>/`` with ``1.<fmt> ...`` grey images.

    ``fmt`` is ``"pgm"`` (like ORL) or ``"png"``.
    """
    seed = _check_count("seed", seed)
    people = _check_count("people", people, 2)
    per = _check_count("images_per_person", images_per_person, 1)
    size = _check_count("image_size", image_size, 16)
    fmt = str(fmt).lower()
    if fmt not in ("pgm", "png"):
        raise ConfigError(f"fmt must be 'pgm' or 'png', got {fmt!r}")

    def write(out: Path) -> None:
        for p in range(people):
            rng = np.random.default_rng([seed, 2, p])
            template = _face_template(rng)
            for i in range(per):
                face = _draw_face(
                    template,
                    size,
                    rng,
                    bend=rng.normal(0, 0.04),
                    mouth_open=max(0.0, rng.normal(0, 0.03)),
                    brow_raise=rng.normal(0, 0.02),
                    blink=bool(rng.random() < 0.1),
                )
                _save(face, out / f"s{p + 1}" / f"{i + 1}.{fmt}", fmt)

    params = {"people": people, "images_per_person": per, "image_size": size, "fmt": fmt}
    description = (
        f"{people} synthetic people x {per} images, one folder per person (s1, s2, ...),\n"
        f"{size}x{size} grey {fmt.upper()}: a face template per person (head, hair, eyes,\n"
        "brows, nose, mouth, background, glasses) with per-image pose, lighting,\n"
        "expression, blink and noise jitter."
    )
    return _materialise(folder, "faces", seed, params, description, write)


# --------------------------------------------------------------------------- fer

_EMOTIONS = {
    "angry": dict(bend=-0.04, brow_raise=-0.06, brow_inner=-0.16, eye_scale=0.75),
    "disgust": dict(
        bend=-0.06, skew=0.14, brow_raise=-0.04, brow_inner=-0.06, eye_scale=0.7, nose_wrinkle=True
    ),
    "fear": dict(
        bend=-0.06, mouth_open=0.07, brow_raise=0.1, brow_inner=0.1, eye_scale=1.4, mouth_scale=1.2
    ),
    "happy": dict(bend=0.18, mouth_open=0.07, teeth=True, eye_scale=0.8, mouth_scale=1.3),
    "neutral": dict(),
    "sad": dict(bend=-0.16, brow_inner=0.12, eye_scale=0.85, mouth_scale=0.9),
    "surprise": dict(mouth_open=0.15, mouth_round=True, brow_raise=0.14, eye_scale=1.45),
}


def _draw_emotion(emotion: str, size: int, rng: np.random.Generator) -> np.ndarray:
    spec = dict(_EMOTIONS[emotion])
    template = _face_template(rng)
    template["glasses"] = bool(rng.random() < 0.1)
    # A thicker mouth line survives the small 48x48 size, where the emotion mostly lives.
    template["mouth_t"] = rng.uniform(0.035, 0.055)
    template["mouth_w"] *= spec.get("mouth_scale", 1.0)
    jitter = {
        "bend": spec.get("bend", 0.0) + rng.normal(0, 0.03),
        "skew": spec.get("skew", 0.0) * rng.choice([-1, 1]) + rng.normal(0, 0.015),
        "mouth_open": max(0.0, spec.get("mouth_open", 0.0) + rng.normal(0, 0.02)),
        "brow_raise": spec.get("brow_raise", 0.0) + rng.normal(0, 0.02),
        "brow_inner": spec.get("brow_inner", 0.0) + rng.normal(0, 0.025),
        "eye_scale": spec.get("eye_scale", 1.0) * rng.uniform(0.9, 1.1),
    }
    return _draw_face(
        template,
        size,
        rng,
        mouth_round=spec.get("mouth_round", False),
        teeth=spec.get("teeth", False),
        nose_wrinkle=spec.get("nose_wrinkle", False),
        pose=0.04,
        light=25.0,
        noise=4.0,
        **jitter,
    )


def _fer_counts(total: int, minimum: int) -> dict:
    """Largest-remainder counts proportional to FER2013's, each at least ``minimum``."""
    weights = np.array([FER_TRAIN_COUNTS[c] for c in FER_CLASSES], dtype=float)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(int)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: total - counts.sum()]] += 1
    if total < minimum * len(FER_CLASSES):
        raise ConfigError(
            f"{total} images cannot give each of the {len(FER_CLASSES)} emotions at least "
            f"{minimum}; raise the total or lower min_per_class"
        )
    counts = np.maximum(counts, minimum)
    # Images given to small classes come out of the largest, so the total stays as asked.
    while counts.sum() > total:
        counts[int(np.argmax(counts))] -= 1
    return dict(zip(FER_CLASSES, counts.tolist()))


def make_fer(
    folder: str | os.PathLike,
    *,
    seed: int = 0,
    train_total: int = 350,
    test_total: int = 90,
    min_per_class: int = 3,
    image_size: int = 48,
) -> Path:
    """FER2013-like emotions: ``train/ test/<emotion>/*.jpg``, 48x48 grey, imbalanced."""
    seed = _check_count("seed", seed)
    train_total = _check_count("train_total", train_total, 1)
    test_total = _check_count("test_total", test_total, 1)
    minimum = _check_count("min_per_class", min_per_class, 1)
    size = _check_count("image_size", image_size, 16)
    plan = {"train": _fer_counts(train_total, minimum), "test": _fer_counts(test_total, minimum)}
    prefix = {"train": "Training", "test": "PrivateTest"}

    def write(out: Path) -> None:
        for si, split in enumerate(("train", "test")):
            for ci, emotion in enumerate(FER_CLASSES):
                rng = np.random.default_rng([seed, 3, ci, si])
                for i in range(plan[split][emotion]):
                    path = out / split / emotion / f"{prefix[split]}_{i:05d}.jpg"
                    _save(_draw_emotion(emotion, size, rng), path, "jpg")

    params = {
        "train_total": train_total,
        "test_total": test_total,
        "min_per_class": minimum,
        "image_size": size,
    }
    description = (
        "Seven emotions as random synthetic faces whose mouth, brows and eyes depend on the\n"
        f"emotion; {size}x{size} grey JPEG; counts proportional to FER2013 (at least\n"
        f"{minimum} per class): train {plan['train']}, test {plan['test']}."
    )
    return _materialise(folder, "fer", seed, params, description, write)


# --------------------------------------------------------------------------- binary


def _draw_xray(abnormal: bool, size: int, rng: np.random.Generator) -> np.ndarray:
    xx, yy = _grid(size)
    u, v = _pose(
        xx,
        yy,
        rng.normal(0, 0.04),
        rng.normal(0, 0.04),
        rng.uniform(0.9, 1.08),
        rng.normal(0, 0.05),
    )
    canvas = np.full(xx.shape, rng.uniform(5, 30), dtype=np.float32)
    body = _quad(u, v, -1.0, 1.1, (-0.7, 0.7), (-0.92, 0.92)) | _ellipse(u, v, 0, -0.75, 0.75, 0.3)
    canvas[body] = rng.uniform(120, 170)
    lungs = np.zeros_like(body)
    for side in (-1, 1):
        lungs |= _ellipse(u, v, side * 0.33, 0.0, 0.25 + 0.03 * rng.random(), 0.62)
    lung_level = rng.uniform(45, 75)
    canvas[lungs] = lung_level
    ribs = (np.sin(14 * (v + 0.15 * u * u) + rng.uniform(0, 6.3)) > 0.75) & lungs
    canvas[ribs] += 35
    canvas[_rect(u, v, -0.06, 0.06, -1.0, 1.0)] = rng.uniform(170, 210)
    canvas[_ellipse(u, v, -0.12, 0.38, 0.26, 0.2)] = rng.uniform(130, 170)
    blobs = rng.integers(3, 8) if abnormal else rng.integers(0, 2)
    for _ in range(blobs):
        side = rng.choice([-1, 1])
        cu = side * rng.uniform(0.2, 0.5)
        cv = rng.uniform(-0.2, 0.5) if abnormal else rng.uniform(-0.4, 0.4)
        spread = rng.uniform(0.08, 0.18)
        strength = rng.uniform(25, 65) if abnormal else rng.uniform(10, 30)
        canvas += lungs * strength * np.exp(-((u - cu) ** 2 + (v - cv) ** 2) / (2 * spread**2))
    canvas += _ramp(xx, yy, rng.uniform(0, 2 * np.pi), rng.uniform(0, 20))
    canvas = (canvas - 128) * rng.uniform(0.85, 1.2) + 128
    return _finish(canvas, size, rng, noise=5.0)


_SKIN_TINTS = ((255, 224, 196), (241, 194, 150), (198, 134, 96), (141, 85, 60))


def _draw_child(syndrome: bool, size: int, rng: np.random.Generator) -> np.ndarray:
    t = _face_template(rng)
    t["glasses"] = False
    t["background"] = rng.uniform(120, 240)
    if syndrome:
        t["head_rx"] = rng.uniform(0.62, 0.72)
        t["head_ry"] = rng.uniform(0.64, 0.74)
        t["eye_tilt"] = rng.uniform(0.25, 0.45)
        t["eye_dx"] = rng.uniform(0.26, 0.32)
        t["eye_r"] = rng.uniform(0.05, 0.07)
        t["nose_len"] = rng.uniform(0.08, 0.15)
        t["mouth_w"] = rng.uniform(0.1, 0.18)
        mouth_open = rng.uniform(0.04, 0.08) if rng.random() < 0.6 else 0.0
    else:
        t["head_rx"] = rng.uniform(0.5, 0.6)
        t["head_ry"] = rng.uniform(0.76, 0.86)
        t["eye_tilt"] = rng.uniform(-0.1, 0.12)
        t["eye_dx"] = rng.uniform(0.17, 0.24)
        t["eye_r"] = rng.uniform(0.07, 0.1)
        t["nose_len"] = rng.uniform(0.18, 0.28)
        t["mouth_w"] = rng.uniform(0.16, 0.28)
        mouth_open = rng.uniform(0.02, 0.05) if rng.random() < 0.1 else 0.0
    tint = _SKIN_TINTS[rng.integers(0, len(_SKIN_TINTS))]
    return _draw_face(
        t, size, rng, bend=rng.normal(0.02, 0.04), mouth_open=mouth_open, tint=tint, noise=5.0
    )


def make_binary(
    folder: str | os.PathLike,
    *,
    seed: int = 0,
    class_names: tuple = ("covid", "normal"),
    layout: str = "flat",
    per_class: int | tuple | None = None,
    style: str | None = None,
    color: bool = True,
    image_size: int = 64,
    fmt: str | None = None,
) -> Path:
    """Two-class set; the first class carries the finding (see the module docstring).

    ``layout="flat"`` writes ``<class>/<n>.<fmt>`` (``per_class`` an int, default 60);
    ``layout="split"`` writes ``train/ validation/ test/<class>/...`` (``per_class`` a
    (train, validation, test) tuple, default (40, 10, 10)). ``style`` is ``"xray"`` or
    ``"face"`` (default: ``"face"`` when a class name mentions "down" or "syndrome").
    ``color=False`` writes grey images. ``fmt`` defaults to png for X-rays, jpg for faces.
    """
    seed = _check_count("seed", seed)
    names = tuple(str(c) for c in class_names)
    if len(names) != 2 or len(set(names)) != 2 or not all(names):
        raise ConfigError(f"class_names must be two different names, got {class_names!r}")
    if layout not in ("flat", "split"):
        raise ConfigError(f"layout must be 'flat' or 'split', got {layout!r}")
    if per_class is None:
        per_class = 60 if layout == "flat" else (40, 10, 10)
    counts = _split_counts("per_class", per_class, layout)
    if style is None:
        joined = " ".join(names).lower()
        style = "face" if ("down" in joined or "syndrome" in joined) else "xray"
    if style not in ("xray", "face"):
        raise ConfigError(f"style must be 'xray' or 'face', got {style!r}")
    fmt = (fmt or ("png" if style == "xray" else "jpg")).lower()
    if fmt not in ("png", "jpg", "jpeg"):
        raise ConfigError(f"fmt must be 'png' or 'jpg', got {fmt!r}")
    size = _check_count("image_size", image_size, 16)
    splits = ("",) if layout == "flat" else SPLIT_NAMES

    def draw(ci: int, rng) -> np.ndarray:
        abnormal = ci == 0
        image = (
            _draw_xray(abnormal, size, rng) if style == "xray" else _draw_child(abnormal, size, rng)
        )
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
                    _save(draw(ci, rng), out / split / name / f"{name}_{i:04d}.{fmt}", fmt)

    params = {
        "class_names": list(names),
        "layout": layout,
        "per_class": list(counts),
        "style": style,
        "color": bool(color),
        "image_size": size,
        "fmt": fmt,
    }
    finding = (
        "diffuse bright patches in the lungs of chest-X-ray-like pictures"
        if style == "xray"
        else "rounder, flatter faces with upslanting, wider-set eyes and a smaller nose"
    )
    description = (
        f"Two classes, {names[0]!r} (with the finding: {finding}) and {names[1]!r}\n"
        f"(without it); {layout} layout, {list(counts)} images per class, {size}x{size}\n"
        f"{'RGB' if color else 'grey'} {fmt.upper()}."
    )
    return _materialise(folder, "binary", seed, params, description, write)


def make_covid(folder: str | os.PathLike, *, seed: int = 0, **kwargs) -> Path:
    """``make_binary`` with classes covid/normal (X-ray style) in split folders."""
    kwargs.setdefault("layout", "split")
    return make_binary(folder, seed=seed, class_names=("covid", "normal"), **kwargs)


def make_down_syndrome(folder: str | os.PathLike, *, seed: int = 0, **kwargs) -> Path:
    """``make_binary`` with classes down_syndrome/healthy (face style) in split folders."""
    kwargs.setdefault("layout", "split")
    return make_binary(folder, seed=seed, class_names=("down_syndrome", "healthy"), **kwargs)


DEMO_DATASETS = {
    "clothing": make_clothing,
    "faces": make_faces,
    "fer": make_fer,
    "binary": make_binary,
    "covid": make_covid,
    "down_syndrome": make_down_syndrome,
}


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

    ``name``: the generator itself (a study's ``make_demo_data``, called as
    ``generator(folder, seed=seed, **options)``) or a name in :data:`DEMO_DATASETS`.
    With ``create=True`` (the default) the set is generated there first if it is not
    complete yet, so the returned folder is ready for ``index_folder``. ``options`` are
    keyword arguments for the generator (e.g. ``{"per_class": (10, 2, 2)}``). A seed
    other than 0, or options, get their own folder (``<name>-seed<seed>``,
    ``<name>-<hash of options>``), so differently made sets never overwrite each other.
    """
    if callable(name):
        generator, name = name, demo_name(name)
    elif name in DEMO_DATASETS:
        generator = DEMO_DATASETS[name]
    else:
        raise ConfigError(f"unknown demo data set {name!r}; available: {', '.join(DEMO_DATASETS)}")
    seed = _check_count("seed", seed)
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
    if wrapped is None and any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        wrapped = make_binary if generator is not make_binary else None
    if wrapped is not None:
        accepted |= _accepted_options(wrapped)
        accepted.discard("class_names")
    accepted.discard("kwargs")
    return accepted | ({"kwargs"} if "kwargs" in parameters else set())
