"""The paper's numbers for the clothing study, as data: its grid, its Table I (validation
macro F1 of the 27 configurations per backbone), the grid maxima its text states, its
final table and its out-of-distribution answers (Table III).

The paper: seed ``001`` in ``shared/seeds/`` (see ``shared/studies.md`` section 2),
*a comparison of advanced CNN models (EfficientNetB6, EfficientNetB7, DenseNet201,
Xception) for clothing classification with hyperparameter tuning*.
"""

from __future__ import annotations

import re

import pandas as pd

PAPER = (
    "Clothing classification with advanced CNN models (EfficientNetB6, EfficientNetB7, "
    "DenseNet201, Xception) and hyperparameter tuning; shared/seeds/001_e4ac0655c08fe60f.txt"
)
PAPER_BACKBONES = ("efficientnetb6", "efficientnetb7", "densenet201", "xception")
DISPLAY_NAMES = {
    "efficientnetb6": "EfficientNetB6",
    "efficientnetb7": "EfficientNetB7",
    "densenet201": "DenseNet201",
    "xception": "Xception",
}
PAPER_GRID = {
    "image_sizes": (300, 400, 500),
    "batch_sizes": (32, 48, 64),
    "learning_rates": (0.01, 0.001, 0.0001),
    "grid_epochs": 2,
    "final_epochs": 5,
}

# Table I of the paper, verbatim from the seed file: macro F1 (%) of EfficientNetB6,
# EfficientNetB7, DenseNet201 and Xception, then image_shape, batch_size, learning_rate.
PAPER_TABLE_I = """
85.59% 84.53% 83.55% 84.61% (300, 300) 32 0.01
86.54% 82.44% 85.71% 82.93% (300, 300) 32 0.001
62.51% 65.79% 36.44% 47.08% (300, 300) 32 0.0001
86.00% 84.59% 88.56% 84.30% (300, 300) 48 0.01
83.86% 83.02% 84.73% 82.31% (300, 300) 48 0.001
54.30% 61.90% 25.51% 33.98% (300, 300) 48 0.0001
87.28% 87.87% 88.74% 87.29% (300, 300) 64 0.01
85.72% 81.82% 81.79% 81.39% (300, 300) 64 0.001
49.15% 53.02% 21.34% 32.62% (300, 300) 64 0.0001
83.89% 84.25% 88.28% 87.74% (400, 400) 32 0.01
88.43% 85.36% 80.35% 86.07% (400, 400) 32 0.001
60.52% 67.19% 22.36% 39.61% (400, 400) 32 0.0001
86.26% 87.21% 87.84% 90.19% (400, 400) 48 0.01
87.17% 84.27% 77.67% 82.05% (400, 400) 48 0.001
54.32% 56.06% 15.65% 33.20% (400, 400) 48 0.0001
89.68% 85.29% 90.73% 84.93% (400, 400) 64 0.01
86.25% 83.15% 76.26% 83.91% (400, 400) 64 0.001
42.90% 54.96% 10.35% 27.81% (400, 400) 64 0.0001
88.61% 87.35% 80.80% 88.88% (500, 500) 32 0.01
84.85% 85.01% 74.51% 82.79% (500, 500) 32 0.001
57.04% 63.40% 22.99% 36.62% (500, 500) 32 0.0001
90.13% 87.77% 86.21% 88.17% (500, 500) 48 0.01
84.76% 85.60% 70.70% 83.79% (500, 500) 48 0.001
51.07% 62.02% 12.03% 27.59% (500, 500) 48 0.0001
88.83% 88.51% 81.78% 86.23% (500, 500) 64 0.01
85.76% 84.88% 66.17% 78.82% (500, 500) 64 0.001
43.62% 51.30% 11.27% 28.76% (500, 500) 64 0.0001
"""

# The paper's grid maxima as its text states them (macro F1 %, image size, batch, lr).
PAPER_GRID_BEST = {
    "efficientnetb6": {"f1": 90.13, "image_size": 500, "batch_size": 48, "learning_rate": 0.01},
    "efficientnetb7": {"f1": 88.51, "image_size": 500, "batch_size": 64, "learning_rate": 0.01},
    "densenet201": {"f1": 90.73, "image_size": 400, "batch_size": 64, "learning_rate": 0.01},
    "xception": {"f1": 90.19, "image_size": 400, "batch_size": 48, "learning_rate": 0.01},
}

# The paper's final table (its conclusion): test precision, recall and F1 in %, total
# parameters, final training and grid search durations in seconds (Kaggle GPU).
PAPER_FINAL = {
    "efficientnetb6": {"precision %": 92.20, "recall %": 90.10, "F1 %": 90.80,
                       "total parameters": 40_983_193, "final training s": 420,
                       "grid search s": 3500},
    "efficientnetb7": {"precision %": 91.80, "recall %": 92.90, "F1 %": 92.20,
                       "total parameters": 64_123_297, "final training s": 555,
                       "grid search s": 4559},
    "densenet201": {"precision %": 84.80, "recall %": 83.00, "F1 %": 82.50,
                    "total parameters": 18_341_194, "final training s": 212,
                    "grid search s": 2642},
    "xception": {"precision %": 91.40, "recall %": 91.30, "F1 %": 91.10,
                 "total parameters": 20_881_970, "final training s": 139,
                 "grid search s": 1662},
}

# The paper's Table III: what each final model answered for photos of things that are
# not clothing (two photos per object).
PAPER_OOD = pd.DataFrame(
    [
        ["Apple", "dress", "shoes", "hat", "hat"],
        ["Apple", "dress", "hat", "hat", "hat"],
        ["Car", "outwear", "shorts", "hat", "dress"],
        ["Car", "outwear", "skirt", "outwear", "dress"],
        ["Cat", "pants", "hat", "shoes", "hat"],
        ["Cat", "outwear", "shorts", "dress", "shoes"],
        ["Fountain", "t-shirt", "dress", "shirt", "hat"],
        ["Fountain", "outwear", "dress", "shirt", "hat"],
        ["Phone", "outwear", "t-shirt", "shoes", "shoes"],
        ["Phone", "outwear", "t-shirt", "hat", "t-shirt"],
    ],
    columns=["photo", "EfficientNetB6", "EfficientNetB7", "DenseNet201", "Xception"],
)

_TABLE_I_ROW = re.compile(
    r"^\s*([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)%\s+\((\d+),\s*(\d+)\)\s+(\d+)\s+([\d.]+)\s*$"
)


def display_name(backbone: str) -> str:
    """The paper's spelling of a backbone (``DenseNet201``), else the registry name."""
    return DISPLAY_NAMES.get(str(backbone).lower(), str(backbone))


def paper_table_one() -> pd.DataFrame:
    """The paper's Table I parsed from :data:`PAPER_TABLE_I`: 27 rows indexed by
    (image_size, batch_size, learning_rate), one macro F1 (%) column per backbone."""
    rows = []
    for line in PAPER_TABLE_I.strip().splitlines():
        match = _TABLE_I_ROW.match(line)
        if match is None:
            raise ValueError(f"PAPER_TABLE_I has a line that is not a table row: {line!r}")
        values = match.groups()
        rows.append({
            "image_size": int(values[4]), "batch_size": int(values[6]),
            "learning_rate": float(values[7]),
            **{backbone: float(value) for backbone, value in zip(PAPER_BACKBONES, values[:4])},
        })
    return pd.DataFrame(rows).set_index(["image_size", "batch_size", "learning_rate"])
