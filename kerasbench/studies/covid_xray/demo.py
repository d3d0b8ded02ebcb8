"""Demo data of the COVID X-ray study: chest-X-ray-like pictures, ``covid`` / ``normal``.

``make_demo_data`` is the shared two-class generator
(:func:`kerasbench.data.demo.make_binary`) with the study's class names in split folders
(40 / 10 / 10 per class by default); the folder keeps its old name, ``covid``, and the
files their bytes. :func:`draw_xray` is the study's picture: a body, two dark lungs with
ribs, the spine and the heart; a ``covid`` image has several diffuse bright patches in the
lungs, a ``normal`` one clear lungs (with at most one faint patch).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerasbench.data.demo import make_binary
from kerasbench.data.drawing import (
    coordinate_grid,
    ellipse,
    finish_image,
    posed_coordinates,
    quad,
    ramp,
    rect,
)

CLASS_NAMES = ("covid", "normal")  # the first class carries the finding
FINDING = "diffuse bright patches in the lungs of chest-X-ray-like pictures"


def draw_xray(abnormal: bool, size: int, rng: np.random.Generator) -> np.ndarray:
    """One ``size`` x ``size`` picture; ``abnormal`` draws the bright patches."""
    xx, yy = coordinate_grid(size)
    u, v = posed_coordinates(
        xx,
        yy,
        rng.normal(0, 0.04),
        rng.normal(0, 0.04),
        rng.uniform(0.9, 1.08),
        rng.normal(0, 0.05),
    )
    canvas = np.full(xx.shape, rng.uniform(5, 30), dtype=np.float32)
    body = quad(u, v, -1.0, 1.1, (-0.7, 0.7), (-0.92, 0.92)) | ellipse(u, v, 0, -0.75, 0.75, 0.3)
    canvas[body] = rng.uniform(120, 170)
    lungs = np.zeros_like(body)
    for side in (-1, 1):
        lungs |= ellipse(u, v, side * 0.33, 0.0, 0.25 + 0.03 * rng.random(), 0.62)
    lung_level = rng.uniform(45, 75)
    canvas[lungs] = lung_level
    ribs = (np.sin(14 * (v + 0.15 * u * u) + rng.uniform(0, 6.3)) > 0.75) & lungs
    canvas[ribs] += 35
    canvas[rect(u, v, -0.06, 0.06, -1.0, 1.0)] = rng.uniform(170, 210)
    canvas[ellipse(u, v, -0.12, 0.38, 0.26, 0.2)] = rng.uniform(130, 170)
    blobs = rng.integers(3, 8) if abnormal else rng.integers(0, 2)
    for _ in range(blobs):
        side = rng.choice([-1, 1])
        cu = side * rng.uniform(0.2, 0.5)
        cv = rng.uniform(-0.2, 0.5) if abnormal else rng.uniform(-0.4, 0.4)
        spread = rng.uniform(0.08, 0.18)
        strength = rng.uniform(25, 65) if abnormal else rng.uniform(10, 30)
        canvas += lungs * strength * np.exp(-((u - cu) ** 2 + (v - cv) ** 2) / (2 * spread**2))
    canvas += ramp(xx, yy, rng.uniform(0, 2 * np.pi), rng.uniform(0, 20))
    canvas = (canvas - 128) * rng.uniform(0.85, 1.2) + 128
    return finish_image(canvas, size, rng, noise=5.0)


def make_demo_data(folder: str | os.PathLike, *, seed: int = 0, **options) -> Path:
    """Write the demo set into ``folder`` (split layout unless ``layout="flat"``); options
    are :func:`~kerasbench.data.demo.make_binary`'s (``per_class``, ``image_size``, ...)."""
    options.setdefault("layout", "split")
    options.setdefault("fmt", "png")
    return make_binary(folder, seed=seed, class_names=CLASS_NAMES, draw=draw_xray,
                       style="xray", finding=FINDING, **options)


# The cached demo folder keeps its name (``<demo base>/covid``), and the option check of
# kerasbench.data.demo.demo_folder sees make_binary's options through this wrapper.
make_demo_data.demo_name = "covid"
make_demo_data.wraps_generator = make_binary
