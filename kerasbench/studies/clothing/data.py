"""The clothing study's data: a folder of ``train/ validation/ test/<class>/`` images
(clothing-dataset-small: 10 classes, train 3068, validation 341, test 372), or the
embedded demo data; optionally a seeded subsample of at most ``max_per_class`` images per
class and split. The index's fingerprint is every run's ``dataset_fingerprint``.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping

from kerasbench.data.index import DatasetIndex, index_folder
from kerasbench.errors import ConfigError
from kerasbench.validate import known_keys, positive_int

SPLITS = ("train", "validation", "test")
# Where the clothing data is looked for when the paper profile gives no folder: the shared
# data name, then the Kaggle dataset agrigorev/clothing-dataset-small (as mounted under
# /kaggle/input, with or without its inner folder).
DATASET_NAMES = (
    "clothing-small",
    "clothing-dataset-small",
    "clothing-dataset-small/clothing-dataset-small",
)


def data_dir_for(profile: str, data_dir):
    """The ``data_dir`` to start the study with: as given, except that the ``paper``
    profile never runs on demo data: with ``data_dir=None`` it looks the clothing set up
    under ``DATA_DIR``, ``KERASBENCH_DATA`` (default ``../shared/data``) and
    ``/kaggle/input`` by the names in :data:`DATASET_NAMES` (FileNotFoundError listing
    every place looked at when it is nowhere)."""
    from kerasbench.data.sources import resolve_dataset

    if data_dir is None and profile == "paper":
        return str(resolve_dataset(DATASET_NAMES[0], candidates=DATASET_NAMES[1:]).path)
    return data_dir


def per_split_cap(max_per_class, splits=SPLITS) -> dict | None:
    """``max_per_class`` as ``{split: n}``: None keeps everything, an int caps every
    split, a mapping caps the splits it names."""
    if max_per_class is None:
        return None
    if isinstance(max_per_class, Mapping):
        known_keys(max_per_class, splits, "max_per_class splits")
        return {split: positive_int(value, f"max_per_class[{split!r}]")
                for split, value in max_per_class.items() if value is not None}
    if isinstance(max_per_class, numbers.Integral) and not isinstance(max_per_class, bool):
        return dict.fromkeys(splits, positive_int(max_per_class, "max_per_class"))
    raise ConfigError("max_per_class must be None, an int or a mapping like {'train': 40, "
                      f"'validation': 10, 'test': 10}}, got {max_per_class!r}")


def load_data(context, *, max_per_class=None) -> DatasetIndex:
    """Index the study's data folder (``context.data_dir``) and subsample it.

    ``max_per_class`` keeps at most that many images of each class per split (an int for
    every split, or ``{"train": n, "validation": n, "test": n}``), seeded by
    ``context.seed``, for CPU-sized runs on real data. The cap is checked before the
    folder is read.
    """
    per_split_cap(max_per_class)
    index = index_folder(context.data_dir)
    missing = [split for split in SPLITS if split not in index.splits]
    if missing:
        raise FileNotFoundError(
            f"the clothing study needs train/, validation/ and test/ folders of class "
            f"folders; {context.data_dir} lacks {missing}: pass the folder that holds them "
            "as data_dir")
    cap = per_split_cap(max_per_class, index.splits)
    if cap:
        index = index.subsample(cap, seed=context.seed)
    return index
