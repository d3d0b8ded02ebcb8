"""Choosing what a study trains on: the two classes of a binary study, and a validation split
held out of ``train`` when a data set has none.

Binary studies (COVID X-ray, Down syndrome) share two conventions:

- the classes are ordered ``[negative, positive]``, so ``positive_class`` is label 1 (the
  sigmoid output, or the second softmax column, is P(positive_class)), whatever the
  alphabetical folder order would give;
- class names given by a user are matched leniently, because copies of one data set spell
  their folders differently (``COVID`` / ``covid``, ``downSyndrome`` / ``down_syndrome``).

Early stopping and model selection need validation images; data sets that ship only
``train/`` and ``test/`` folders (FER2013, some Kaggle X-ray sets) get a seeded, stratified
part of ``train`` moved to a new ``validation`` split by :func:`ensure_validation_split`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from kerasbench.data.index import SPLITS, DatasetIndex, natural_key

# Characters that differ between spellings of one folder name ("Down Syndrome",
# "down_syndrome", "down-syndrome"); only these are ignored, so that distinct names that
# merely share letters (e.g. "covid.19" vs "covid19") are not merged silently.
_IGNORED_IN_NAMES = re.compile(r"[\s_\-]+")

# Mixed into the validation draw's seed so that it is not the same random stream as
# DatasetIndex.subsample's [seed, split, label] draws, which run on the same index later.
_VALIDATION_STREAM = 7


def _loose(name) -> str:
    return _IGNORED_IN_NAMES.sub("", str(name).casefold())


def match_class_name(name: str, available: Sequence[str], what: str = "class") -> str:
    """The entry of ``available`` that ``name`` refers to: an exact match, else the single
    one equal to it when case, spaces, ``_`` and ``-`` are ignored (so ``covid`` finds
    ``COVID`` and ``down_syndrome`` finds ``downSyndrome``).

    ``what`` names the setting in error messages (``"positive_class"``). ValueError lists the
    classes when none matches, and names the candidates when several do.
    """
    available = [str(item) for item in available]
    if str(name) in available:
        return str(name)
    matches = [item for item in available if _loose(item) == _loose(name)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise ValueError(
            f"{what} {name!r} is not one of the classes {available} (compared ignoring case, "
            "spaces, '_' and '-'); use one of those names"
        )
    raise ValueError(
        f"{what} {name!r} matches several classes {matches} when case, spaces, '_' and '-' "
        "are ignored; give the exact name"
    )


def binary_class_order(
    class_names: Sequence[str], positive_class: str, classes: Sequence[str] | None = None
) -> list[str]:
    """``[negative, positive]``: the two classes of a binary study, ``positive_class`` last
    (label 1), names as spelled in ``class_names``.

    ``classes`` picks two classes of a larger data set (a stand-in such as FER2013's happy
    and sad); without it the data set must have exactly two classes.
    """
    class_names = [str(item) for item in class_names]
    if classes is None:
        if len(class_names) != 2:
            raise ValueError(
                f"the data set has {len(class_names)} classes {class_names}; the study is "
                "binary: name the two to compare with classes=[negative, positive]"
            )
        chosen = class_names
    else:
        # A bare string would otherwise be read as a sequence of one-letter class names.
        if isinstance(classes, str) or len(classes) != 2:
            raise ValueError(f"classes must name exactly two classes, got {classes!r}")
        chosen = [match_class_name(item, class_names) for item in classes]
        if chosen[0] == chosen[1]:
            raise ValueError(
                f"classes must name two different classes, got {list(classes)} "
                f"(both are {chosen[0]!r})"
            )
    positive = match_class_name(positive_class, chosen, "positive_class")
    negative = next(item for item in chosen if item != positive)
    return [negative, positive]


def select_binary(
    index: DatasetIndex, positive_class: str, classes: Sequence[str] | None = None
) -> DatasetIndex:
    """The two classes of ``index`` (see :func:`binary_class_order`), relabelled so that
    ``negative`` is label 0 and ``positive_class`` label 1; row order is kept."""
    return index.select_classes(binary_class_order(index.class_names, positive_class, classes))


def _is_count(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and value >= 1


def _is_fraction(value) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float, np.integer, np.floating))
        and 0 < value < 1
    )


def ensure_validation_split(
    index: DatasetIndex,
    *,
    seed: int,
    fraction: float | None = None,
    per_class: int | None = None,
) -> DatasetIndex:
    """``index`` with a ``validation`` split moved out of its training images when it has
    none; an index that already has one is returned unchanged.

    Give exactly one of ``fraction`` (that share of each class's training images, rounded,
    at least one) or ``per_class`` (that many images of each class). The draw is stratified
    (per class) and seeded per class, so one class's choice does not depend on the others.
    Every class keeps at least one training image. Rows stay in DatasetIndex order (split,
    label, natural file name).
    """
    if (fraction is None) == (per_class is None):
        raise ValueError(
            "ensure_validation_split: give exactly one of fraction (a share of each class's "
            f"training images) or per_class (a number of images); got fraction={fraction!r}, "
            f"per_class={per_class!r}"
        )
    if "validation" in index.splits:
        return index
    # Checked only when images are moved: the setting is unused when validation exists.
    if per_class is not None and not _is_count(per_class):
        raise ValueError(
            f"per_class must be a positive int (validation images per class), got {per_class!r}"
        )
    if fraction is not None and not _is_fraction(fraction):
        raise ValueError(
            "the data set has no validation split, so the validation fraction must be in "
            f"(0, 1) to hold one out of the training images; got {fraction!r}"
        )

    frame = index.frame.copy()
    in_train = (frame["split"] == "train").to_numpy()
    labels = frame["label"].to_numpy()
    moved = {}
    for label, name in enumerate(index.class_names):
        rows = np.flatnonzero(in_train & (labels == label))
        wanted = int(per_class) if per_class is not None else int(round(fraction * len(rows)))
        # Even a small fraction of a small class gives each class some validation images.
        wanted = max(1, wanted)
        if wanted >= len(rows):
            asked = f"per_class={per_class}" if per_class is not None else f"fraction={fraction}"
            raise ValueError(
                f"class {name!r} has {len(rows)} training images: too few to move {wanted} of "
                f"them ({asked}) to a new validation split and keep at least one for "
                "training; ask for fewer validation images or add training images"
            )
        generator = np.random.default_rng([int(seed), _VALIDATION_STREAM, label])
        chosen = rows[generator.choice(len(rows), size=wanted, replace=False)]
        frame.loc[chosen, "split"] = "validation"
        moved[name] = wanted

    # DatasetIndex promises rows sorted by split, label, then natural file name.
    keys = [
        (SPLITS.index(split), int(label), natural_key(path))
        for split, label, path in zip(frame["split"], frame["label"], frame["path"])
    ]
    order = sorted(range(len(frame)), key=keys.__getitem__)
    frame = frame.iloc[order].reset_index(drop=True)
    print(
        "the data has no validation split: moved "
        + ", ".join(f"{count} {name}" for name, count in moved.items())
        + f" training images to a new one (seed {int(seed)})"
    )
    return index.with_frame(frame)


__all__ = [
    "binary_class_order",
    "ensure_validation_split",
    "match_class_name",
    "select_binary",
]
