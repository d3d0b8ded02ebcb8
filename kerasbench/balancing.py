"""Class balancing on the index: oversampling rows (never decoded pixels) or class weights.

Oversampling with imbalanced-learn's ``RandomOverSampler`` is applied to the row numbers of
the training split, so memory stays the size of the index and each duplicated row is
decoded and augmented independently by the pipeline (its own random draw per epoch).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BALANCING_METHODS = (None, "none", "oversample", "class_weight")


def oversample_frame(frame: pd.DataFrame, seed: int = 42) -> pd.DataFrame:
    """Rows of ``frame`` resampled so every class has as many rows as the largest one."""
    from imblearn.over_sampling import RandomOverSampler

    if "split" in frame and set(frame["split"].unique()) - {"train"}:
        raise ValueError(
            "oversampling is for the training split only; got splits "
            f"{sorted(frame['split'].unique())}"
        )
    if frame.empty:
        raise ValueError("cannot oversample an empty training split")
    sampler = RandomOverSampler(random_state=seed)
    rows = np.arange(len(frame)).reshape(-1, 1)
    resampled_rows, _ = sampler.fit_resample(rows, frame["label"].to_numpy())
    return frame.iloc[resampled_rows.ravel()].reset_index(drop=True)


def class_weights(labels, num_classes: int) -> dict[int, float]:
    """Weights inversely proportional to class frequency (scikit-learn's "balanced")."""
    labels = np.asarray(labels).astype(int)
    counts = np.bincount(labels, minlength=num_classes)
    if (counts == 0).any():
        missing = [index for index, count in enumerate(counts) if count == 0]
        raise ValueError(f"classes {missing} have no training rows; cannot weight them")
    return {index: float(len(labels) / (num_classes * count)) for index, count in enumerate(counts)}


def balance(frame: pd.DataFrame, method: str | None, num_classes: int, seed: int = 42):
    """Apply a balancing method to a training frame: returns ``(frame, class_weight)``."""
    if method not in BALANCING_METHODS:
        raise ValueError(f"balancing must be one of {BALANCING_METHODS}, got {method!r}")
    if method == "oversample":
        return oversample_frame(frame, seed=seed), None
    if method == "class_weight":
        return frame, class_weights(frame["label"], num_classes)
    return frame, None


def class_count_table(before: pd.DataFrame, after: pd.DataFrame, class_names) -> pd.DataFrame:
    """Per-class training counts before and after balancing."""
    table = pd.DataFrame(
        {
            "before": before["label"].value_counts().reindex(range(len(class_names)), fill_value=0),
            "after": after["label"].value_counts().reindex(range(len(class_names)), fill_value=0),
        }
    )
    table.index = list(class_names)
    table.index.name = "class"
    return table
