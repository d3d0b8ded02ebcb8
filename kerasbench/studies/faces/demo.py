"""The study's embedded demo data: synthetic people, one folder each (ORL-like).

``s1/ ... s<people>/`` with ``1.<fmt> ...`` grey images: a face template per person
(head, hair, eyes, brows, nose, mouth, background, glasses) with per-image pose,
lighting, expression, blink and noise jitter. The images say nothing about real faces:
they only show that every step runs. The drawing is byte for byte the one the study used
before it became a subpackage (the cached folder keeps its name, ``faces``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kerasbench.data.demo import check_count, materialise, save_image
from kerasbench.data.drawing import draw_face, face_template
from kerasbench.errors import ConfigError


def make_demo_data(
    folder: str | os.PathLike,
    *,
    seed: int = 0,
    people: int = 12,
    images_per_person: int = 10,
    image_size: int = 64,
    fmt: str = "pgm",
) -> Path:
    """Write the demo set into ``folder`` (once; see :mod:`kerasbench.data.demo`) and
    return it: ``people`` folders of ``images_per_person`` grey images, ``image_size``
    pixels square; ``fmt`` is ``"pgm"`` (like ORL) or ``"png"``."""
    seed = check_count("seed", seed)
    people = check_count("people", people, 2)
    per = check_count("images_per_person", images_per_person, 1)
    size = check_count("image_size", image_size, 16)
    fmt = str(fmt).lower()
    if fmt not in ("pgm", "png"):
        raise ConfigError(f"fmt must be 'pgm' or 'png', got {fmt!r}")

    def write(out: Path) -> None:
        for p in range(people):
            rng = np.random.default_rng([seed, 2, p])
            template = face_template(rng)
            for i in range(per):
                face = draw_face(
                    template,
                    size,
                    rng,
                    bend=rng.normal(0, 0.04),
                    mouth_open=max(0.0, rng.normal(0, 0.03)),
                    brow_raise=rng.normal(0, 0.02),
                    blink=bool(rng.random() < 0.1),
                )
                save_image(face, out / f"s{p + 1}" / f"{i + 1}.{fmt}", fmt)

    params = {"people": people, "images_per_person": per, "image_size": size, "fmt": fmt}
    description = (
        f"{people} synthetic people x {per} images, one folder per person (s1, s2, ...),\n"
        f"{size}x{size} grey {fmt.upper()}: a face template per person (head, hair, eyes,\n"
        "brows, nose, mouth, background, glasses) with per-image pose, lighting,\n"
        "expression, blink and noise jitter."
    )
    return materialise(folder, "faces", seed, params, description, write)


# The cached demo folder keeps the name it had before the study became a subpackage.
make_demo_data.demo_name = "faces"
