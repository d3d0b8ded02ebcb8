"""The study's data: a two-class index with the positive class as label 1.

Labels: the study orders the two classes as ``[negative, positive]``, so the positive class
(the paper's "down syndrome") is label 1, as in the paper's confusion matrices (0 healthy,
1 down syndrome) and as ``docs/architecture.md`` asks of binary studies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.data.index import SPLITS, DatasetIndex, index_folder
from kerasbench.data.selection import ensure_validation_split, select_binary
from kerasbench.data.sources import find_dataset_root
from kerasbench.errors import ConfigError, DatasetError
from kerasbench.studies.down_syndrome.paper import KAGGLE_SLUG, PAPER_SPLIT_COUNTS
from kerasbench.studies.down_syndrome.protocol import augmentation_settings
from kerasbench.validate import fraction, known_keys, positive_int


def check_max_per_class(max_per_class) -> dict | None:
    """None (every image) or ``{"train": n, "validation": n, "test": n}`` (splits left out,
    or None, are kept whole), each n a positive int."""
    if max_per_class is None:
        return None
    if not isinstance(max_per_class, Mapping):
        raise ConfigError("max_per_class must be None or a dict of images per class and split, "
                          "e.g. {'train': 200, 'validation': 60, 'test': 100}, got "
                          f"{max_per_class!r} ({type(max_per_class).__name__})")
    known_keys(max_per_class, SPLITS, "max_per_class splits")
    return {split: positive_int(value, f"max_per_class[{split!r}]")
            for split, value in max_per_class.items() if value is not None}


def check_classes(positive_class, classes) -> None:
    """``positive_class`` a class name; ``classes`` None or a list of two class names."""
    if not isinstance(positive_class, str) or not positive_class:
        raise ConfigError(f"positive_class must name a class folder (text), got "
                          f"{positive_class!r}")
    if classes is not None and (isinstance(classes, str) or not isinstance(classes, Sequence)
                                or not all(isinstance(name, str) for name in classes)):
        raise ConfigError(f"classes must be None or a list of two class folder names, e.g. "
                          f"['happy', 'sad'], got {classes!r}")


def load_index(
    data_dir: str | os.PathLike,
    *,
    positive_class: str = "down_syndrome",
    classes: Sequence[str] | None = None,
    max_per_class: Mapping[str, int | None] | None = None,
    validation_fraction: float = 0.2,
    test_fraction: float = 0.1,
    seed: int = 0,
    split_file: str | os.PathLike | None = None,
) -> DatasetIndex:
    """The study's two-class index, labels ``0 = negative``, ``1 = positive_class``.

    - A folder of class folders (the Kaggle download) is split here: ``test_fraction`` and
      ``validation_fraction`` of all images, stratified and seeded (the paper's split is
      about 70 / 20 / 10 %), and the split is saved to ``split_file`` and reused.
    - Split folders without ``validation/`` get ``validation_fraction`` of the training
      images held out, stratified and seeded.
    - ``classes`` picks two classes of a larger data set; ``max_per_class`` keeps at most
      that many images per class in each named split (``{"train": 150, "test": 50}``),
      seeded.
    - Wrapper folders an archive or a Kaggle mount adds (``<name>/<class>/...``) are
      stepped through (:func:`kerasbench.data.sources.find_dataset_root`).
    """
    validation_fraction = fraction(validation_fraction, "validation_fraction")
    test_fraction = fraction(test_fraction, "test_fraction")
    max_per_class = check_max_per_class(max_per_class)
    check_classes(positive_class, classes)
    seed = positive_int(seed, "seed", minimum=0)
    if not Path(data_dir).expanduser().is_dir():
        raise FileNotFoundError(
            f"dataset folder {data_dir} does not exist; download the Kaggle data set "
            f"{KAGGLE_SLUG} and pass its folder as data_dir (see datasets.md)")
    root = find_dataset_root(data_dir)
    index = index_folder(root, split_file=split_file, validation_fraction=validation_fraction,
                         test_fraction=test_fraction, seed=seed)
    index = select_binary(index, positive_class, classes)
    index = ensure_validation_split(index, seed=seed, fraction=validation_fraction)
    if max_per_class:
        index = index.subsample(max_per_class, seed=seed, per_class=True)
    missing = [split for split in SPLITS if split not in index.splits]
    if missing:
        raise DatasetError(f"the study needs train, validation and test images; {root} gives "
                           f"none for {missing}: add those folders or set test_fraction > 0")
    return index


def load_data(context, *, positive_class: str = "down_syndrome",
              classes: Sequence[str] | None = None,
              max_per_class: Mapping[str, int | None] | None = None,
              validation_fraction: float = 0.2, test_fraction: float = 0.1) -> DatasetIndex:
    """:func:`load_index` on the context's data folder with the context's seed; a split made
    here is saved to ``<output_dir>/split.csv`` and reused, and the index used is written
    to ``<output_dir>/index_used.csv``. Every argument is checked before the folder is
    read."""
    index = load_index(context.data_dir, positive_class=positive_class, classes=classes,
                       max_per_class=max_per_class, validation_fraction=validation_fraction,
                       test_fraction=test_fraction, seed=context.seed,
                       split_file=context.output_dir / "split.csv")
    index.to_csv(context.output_dir / "index_used.csv")
    return index


def counts_beside_paper(index: DatasetIndex) -> pd.DataFrame:
    """Images per class and split here, beside the paper's Table I."""
    here = index.counts().drop(index="total").drop(columns="total")
    here.index = [f"{name} (this run)" for name in here.index]
    paper = PAPER_SPLIT_COUNTS.copy()
    paper.index = [f"{name} (paper)" for name in paper.index]
    table = pd.concat([here, paper]).reindex(columns=list(SPLITS)).fillna(0).astype(int)
    table.index.name = "class"
    return table


def augmentation_examples(frame: pd.DataFrame, augmentation: Mapping | None, *,
                          image_size: int, count: int = 4, seed: int = 0) -> tuple[list, list]:
    """``count`` training images of each class as the model sees them at evaluation
    (resized only) and at training (resized, then augmented), with captions, for
    ``plots.image_grid``."""
    from kerasbench.pipeline import Augmentation, load_image

    settings = augmentation_settings(augmentation)
    augment = Augmentation(**{**settings, "seed": int(seed)}) if settings else None
    images, captions = [], []
    for class_name, rows in frame.groupby("class_name", sort=False):
        for path in rows["path"].head(count):
            image = load_image(path, image_size=image_size)
            images.append(image)
            captions.append(f"{class_name}\nresized")
            if augment is not None:
                images.append(np.asarray(augment(image[None], training=True))[0])
                captions.append(f"{class_name}\naugmented")
    return images, captions
