"""The clothing study's demo data: ten classes drawn as flat silhouettes.

:func:`make_demo_data` writes ``train/ validation/ test/<class>/<n>.jpg`` with the same
bytes as the former ``kerasbench.data.demo.make_clothing`` (same drawing code, same
random streams, same ``clothing`` folder name), so cached demo folders stay valid.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerasbench.data.demo import SPLIT_NAMES, check_count, materialise, save_image, split_counts
from kerasbench.data.drawing import (
    capsule,
    coordinate_grid,
    ellipse,
    finish_image,
    posed_coordinates,
    quad,
    ramp,
    rect,
)
from kerasbench.errors import ConfigError

CLOTHING_CLASSES = (
    "dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt",
    "t-shirt",
)
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
    neck = ellipse(u, v, 0, -0.62, 0.14 + 0.03 * rng.random(), 0.1)
    if name in ("t-shirt", "longsleeve", "shirt", "outwear"):
        half = 0.42 if name == "outwear" else 0.34
        bottom = 0.8 if name == "outwear" else 0.62
        torso = quad(u, v, -0.58, bottom, (-half, half), (-half - 0.03, half + 0.03))
        if name == "t-shirt":
            reach, r = (0.66, -0.18 + 0.08 * rng.random()), 0.15
        elif name == "outwear":
            reach, r = (0.62, 0.72), 0.15
        else:
            reach, r = (0.56, 0.6), 0.1
        sleeves = capsule(u, v, (half - 0.04, -0.47), reach, r) | capsule(
            u, v, (-half + 0.04, -0.47), (-reach[0], reach[1]), r
        )
        mask = (torso | sleeves) & ~neck
        dark, light = none, none
        if name == "shirt":
            light = (
                quad(u, v, -0.62, -0.4, (-0.2, -0.04), (-0.1, -0.0))
                | quad(u, v, -0.62, -0.4, (0.04, 0.2), (0.0, 0.1))
            ) & ~neck
            dark = np.zeros_like(mask)
            for cv in np.linspace(-0.3, 0.5, 5):
                dark |= ellipse(u, v, 0, cv, 0.035, 0.035)
        elif name == "outwear":
            dark = rect(u, v, -0.025, 0.025, -0.55, bottom) | capsule(
                u, v, (-0.25, -0.05), (-0.2, 0.25), 0.03
            )
            hood = ellipse(u, v, 0, -0.62, 0.26, 0.16) & ~neck
            mask |= hood
        return mask, dark, light
    if name == "dress":
        straps = rect(u, v, -0.2, -0.12, -0.8, -0.45) | rect(u, v, 0.12, 0.2, -0.8, -0.45)
        bodice = quad(u, v, -0.5, -0.1, (-0.24, 0.24), (-0.2, 0.2))
        flare = 0.5 + 0.15 * rng.random()
        skirt = quad(u, v, -0.12, 0.85, (-0.2, 0.2), (-flare, flare))
        return straps | bodice | skirt, rect(u, v, -0.21, 0.21, -0.14, -0.08), none
    if name == "skirt":
        flare = 0.55 + 0.15 * rng.random()
        band = rect(u, v, -0.32, 0.32, -0.45, -0.33)
        body = quad(u, v, -0.35, 0.45, (-0.32, 0.32), (-flare, flare))
        return band | body, band, none
    if name in ("pants", "shorts"):
        end = 0.88 if name == "pants" else 0.2
        spread = 0.06 if name == "pants" else 0.12
        band = rect(u, v, -0.36, 0.36, -0.78, -0.64)
        hip = quad(u, v, -0.66, -0.3, (-0.36, 0.36), (-0.38, 0.38))
        left = quad(u, v, -0.32, end, (-0.38, -0.02), (-0.38 - spread, -0.1))
        right = quad(u, v, -0.32, end, (0.02, 0.38), (0.1, 0.38 + spread))
        return band | hip | left | right, band | rect(u, v, -0.01, 0.01, -0.64, -0.35), none
    if name == "hat":
        dome = ellipse(u, v, 0, 0.15, 0.42, 0.5) & (v <= 0.15)
        brim_w = 0.65 + 0.15 * rng.random()
        brim = ellipse(u, v, 0, 0.15, brim_w, 0.1)
        band = (v > 0.0) & (v <= 0.1) & ellipse(u, v, 0, 0.15, 0.42, 0.5)
        return dome | brim, band, none
    if name == "shoes":
        sole = ellipse(u, v, 0.05, 0.35, 0.72, 0.16)
        upper = ellipse(u, v, -0.2, 0.2, 0.45, 0.3) & (v <= 0.35)
        toe = ellipse(u, v, 0.4, 0.3, 0.35, 0.15)
        collar = ellipse(u, v, -0.3, -0.05, 0.18, 0.08)
        lining = rect(u, v, -0.7, 0.8, 0.4, 0.52) & sole
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
    xx, yy = coordinate_grid(size)
    scale = rng.uniform(0.78, 1.05)
    u, v = posed_coordinates(
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
    canvas += ramp(xx, yy, rng.uniform(0, 2 * np.pi), rng.uniform(0, 25))[..., None]
    return finish_image(canvas, size, rng, noise=4.0)


def make_demo_data(
    folder: str | os.PathLike,
    *,
    seed: int = 0,
    per_class: tuple = (40, 8, 8),
    image_size: int = 64,
) -> Path:
    """Ten-class clothing stand-in: ``train/ validation/ test/<class>/<n>.jpg``, RGB JPEG.

    ``per_class`` gives the (train, validation, test) images per class.
    """
    seed = check_count("seed", seed)
    counts = split_counts("per_class", per_class, "split")
    size = check_count("image_size", image_size, 16)

    def write(out: Path) -> None:
        for ci, name in enumerate(CLOTHING_CLASSES):
            for si, (split, n) in enumerate(zip(SPLIT_NAMES, counts)):
                rng = np.random.default_rng([seed, 1, ci, si])
                for i in range(n):
                    save_image(_draw_clothing(name, size, rng), out / split / name / f"{i}.jpg", "jpg")

    params = {"per_class": list(counts), "image_size": size}
    description = (
        "Ten clothing classes drawn as flat silhouettes with per-image position, scale,\n"
        "rotation, flip, texture, colour, background, lighting and noise jitter\n"
        f"(train/validation/test = {counts[0]}/{counts[1]}/{counts[2]} per class, "
        f"{size}x{size} RGB JPEG)."
    )
    return materialise(folder, "clothing", seed, params, description, write)


make_demo_data.demo_name = "clothing"
