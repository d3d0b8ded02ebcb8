"""The study's embedded demo data: synthetic child faces, ``down_syndrome`` / ``healthy``.

``down_syndrome/`` faces are, on average, rounder and flatter, with upslanting, wider-set
eyes, a smaller nose and a smaller, more often open mouth; ``healthy/`` faces are longer,
with level, closer-set eyes; the two distributions overlap. Split folders
``train/ validation/ test/<class>/<class>_<n>.jpg``, 40 / 10 / 10 per class, RGB 64x64 by
default. The images say nothing about real faces: they only show that every step runs.

The files come from the shared two-class generator
:func:`kerasbench.data.demo.make_binary` (face style, picked by the class names), so they
are byte for byte those the study used before it became a subpackage.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerasbench.data.demo import make_binary
from kerasbench.data.drawing import draw_face, face_template

CLASS_NAMES = ("down_syndrome", "healthy")
FINDING = "rounder, flatter faces with upslanting, wider-set eyes and a smaller nose"
_SKIN_TINTS = ((255, 224, 196), (241, 194, 150), (198, 134, 96), (141, 85, 60))


def draw_child(syndrome: bool, size: int, rng: np.random.Generator) -> np.ndarray:
    """One synthetic child face (``syndrome``: the first class's traits), ``size`` pixels
    square, drawn from ``rng``; the same drawing as ``make_binary``'s face style."""
    t = face_template(rng)
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
    return draw_face(
        t, size, rng, bend=rng.normal(0.02, 0.04), mouth_open=mouth_open, tint=tint, noise=5.0
    )


def make_demo_data(folder: str | os.PathLike, *, seed: int = 0, **options) -> Path:
    """Write the demo set into ``folder`` (once; see :mod:`kerasbench.data.demo`) and return
    it. ``options`` are :func:`~kerasbench.data.demo.make_binary`'s (``per_class`` as a
    (train, validation, test) tuple, ``image_size``, ``color``, ``fmt``, ``layout``)."""
    options.setdefault("layout", "split")
    options.setdefault("fmt", "jpg")
    return make_binary(folder, seed=seed, class_names=CLASS_NAMES, draw=draw_child,
                       style="face", finding=FINDING, **options)


# The cached demo folder keeps the name it had before the study became a subpackage.
make_demo_data.demo_name = "down_syndrome"
make_demo_data.wraps_generator = make_binary
