"""The paper's protocol and numbers (``shared/studies.md`` §3, seed 002): its scenarios,
augmentation, models, parameter counts and Tabel 4.2."""

from __future__ import annotations

from dataclasses import dataclass

STUDY = "fer2013"
CLASS_COUNT = 7

# The paper's ImageDataGenerator arguments (seed 002, Gambar 4.6), with IDG's meanings:
# rotation in degrees, shifts as fractions of the size, shear_range an angle in DEGREES
# (so 0.15 is a very slight shear, exactly what the paper's code did), zoom in [0.85, 1.15].
PAPER_AUGMENTATION = {
    "rotation_range": 15,
    "width_shift_range": 0.15,
    "height_shift_range": 0.15,
    "shear_range": 0.15,
    "zoom_range": 0.15,
    "horizontal_flip": True,
}

# The paper's two models, keyed by the name its table uses, as kerasbench registry names.
PAPER_BACKBONES = {"ResNet50": "resnet50", "VGG19": "vgg19"}

# Total parameters the paper prints for backbone + GAP + Dense(7, softmax) (seed 002, §4.3).
PAPER_PARAMETERS = {"ResNet50": 23_602_055, "VGG19": 20_027_975}

# The quantities of the paper's Tabel 4.2, in its column order.
TABLE_COLUMNS = (
    "training time (s)",
    "train loss",
    "test loss",
    "train accuracy",
    "test accuracy",
    "precision",
    "recall",
)

# Tabel 4.2 (seed 002) as shared/studies.md reads it; S2's train accuracy is garbled in the
# scan, so it is None rather than a guess.
PAPER_RESULTS = {
    "S1": dict(zip(TABLE_COLUMNS, (2121.9, 0.1004, 1.7128, 0.9651, 0.6698, 0.67, 0.67))),
    "S2": dict(zip(TABLE_COLUMNS, (598.7, 0.3450, 1.0980, None, 0.7074, 0.70, 0.68))),
    "S3": dict(zip(TABLE_COLUMNS, (2205.2, 0.0951, 1.7361, 0.9664, 0.6707, 0.68, 0.66))),
    "S4": dict(zip(TABLE_COLUMNS, (3755.9, 0.0692, 1.8085, 0.9737, 0.7158, 0.73, 0.69))),
}


@dataclass(frozen=True)
class Scenario:
    """One row of the paper's table: a model, trained on balanced or unbalanced data."""

    name: str
    model: str
    balanced: bool

    @property
    def label(self) -> str:
        return f"{self.name} {self.model} {'balanced' if self.balanced else 'unbalanced'}"


SCENARIOS = {
    "S1": Scenario("S1", "ResNet50", False),
    "S2": Scenario("S2", "VGG19", False),
    "S3": Scenario("S3", "ResNet50", True),
    "S4": Scenario("S4", "VGG19", True),
}
