"""FER2013's data: the folder to read (image folders, or the CSV converted once), the
index with optional training subsampling, the split the per-epoch curve monitors, the
training split before and after balancing, and what the models receive."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.errors import ConfigError
from kerasbench.studies.fer2013.paper import CLASS_COUNT
from kerasbench.validate import choice, positive_int

MONITOR_SPLITS = (None, "test", "validation")


def default_conversion_folder(csv_path: str | os.PathLike) -> Path:
    """Where a CSV's image folders go by default: ``~/.cache/kerasbench/fer2013-from-csv/``
    (``/kaggle/input`` and shared data folders are read-only), one folder per CSV file
    (by its path and size, so a replaced file is converted again)."""
    csv_path = Path(csv_path).expanduser().resolve()
    size = csv_path.stat().st_size if csv_path.exists() else 0
    digest = hashlib.sha1(f"{csv_path}\0{size}".encode()).hexdigest()[:8]
    return Path.home() / ".cache" / "kerasbench" / "fer2013-from-csv" / f"{csv_path.stem}-{digest}"


def prepare_data_folder(
    data_dir: str | os.PathLike | None,
    csv_path: str | os.PathLike | None = None,
    *,
    conversion_folder: str | os.PathLike | None = None,
    public_test_as_validation: bool = False,
) -> str | None:
    """The ``data_dir`` to give ``start_study``: ``data_dir`` itself, or the image folders
    of ``csv_path``.

    ``csv_path`` (the original ``fer2013.csv``: emotion, pixels, Usage) is converted once by
    :func:`kerasbench.studies.fer2013.csv.fer2013_csv_to_folders` into ``conversion_folder``
    (default :func:`default_conversion_folder`); later calls find the finished folder and
    return at once. Training rows go to ``train/``, PublicTest and PrivateTest to ``test/``
    (as in the image-folder form), unless ``public_test_as_validation``. Both None: None,
    which means the embedded demo data.
    """
    if csv_path is None or str(csv_path).strip() == "":
        return None if data_dir is None else os.fspath(data_dir)
    if data_dir is not None and str(data_dir).strip() != "":
        raise ConfigError(
            f"give either data_dir ({data_dir}) or csv_path ({csv_path}), not both: csv_path "
            "is converted into an image folder, which then replaces data_dir"
        )
    from kerasbench.studies.fer2013.csv import fer2013_csv_to_folders

    csv_path = Path(csv_path).expanduser()
    if not csv_path.is_file():
        raise FileNotFoundError(
            f"FER2013 CSV {csv_path} does not exist: pass the path of fer2013.csv (Kaggle "
            "dataset deadskull7/fer2013), or data_dir for the image-folder form (see datasets.md)"
        )
    folder = Path(conversion_folder) if conversion_folder else default_conversion_folder(csv_path)
    return os.fspath(
        fer2013_csv_to_folders(
            csv_path, folder, public_test_as_validation=public_test_as_validation
        )
    )


def load_data(
    context,
    *,
    max_per_class: int | None = None,
    train_total_limit: int | None = None,
    seed: int | None = None,
):
    """The FER2013 index of ``context.data_dir``, the training split optionally subsampled.

    ``max_per_class`` (the name every study uses; here it caps the TRAINING split only)
    keeps at most that many training images per class (classes below it, disgust first,
    keep all of theirs, so the imbalance shrinks);
    ``train_total_limit`` keeps that many training images in all, shared in proportion to
    the class sizes, so the imbalance stays as in FER2013. The test split is never touched.
    ``seed`` (default ``context.seed``) draws the subsample. The index's ``fingerprint()``
    identifies the data of every run. The arguments are checked before the folder is read.
    """
    check_caps(max_per_class, train_total_limit)
    if seed is not None:
        positive_int(seed, "seed", minimum=0)
    return load_index(context.data_dir, max_per_class=max_per_class,
                      train_total_limit=train_total_limit,
                      seed=context.seed if seed is None else seed)


def check_caps(max_per_class, train_total_limit) -> None:
    """Each cap None or a positive int, and not both set."""
    if max_per_class is not None:
        positive_int(max_per_class, "max_per_class")
    if train_total_limit is not None:
        positive_int(train_total_limit, "train_total_limit")
    if max_per_class is not None and train_total_limit is not None:
        raise ConfigError(
            "set max_per_class or train_total_limit, not both (one caps each class, "
            "the other the whole split in proportion to the classes)"
        )


def load_index(
    data_dir: str | os.PathLike,
    *,
    max_per_class: int | None = None,
    train_total_limit: int | None = None,
    seed: int = 42,
):
    """:func:`load_data` on a folder: index it, check it is FER2013-shaped, subsample."""
    from kerasbench.data.index import index_folder

    check_caps(max_per_class, train_total_limit)
    seed = positive_int(seed, "seed", minimum=0)
    index = index_folder(data_dir)
    if "train" not in index.splits or "test" not in index.splits:
        raise ConfigError(
            f"{data_dir} must hold train/ and test/ folders (FER2013's image-folder form); "
            f"found splits {index.splits}"
        )
    if len(index.class_names) != CLASS_COUNT:
        raise ConfigError(
            f"FER2013 has {CLASS_COUNT} emotions, {data_dir} has {len(index.class_names)} class "
            f"folders: {index.class_names}"
        )
    if max_per_class is not None:
        limit = positive_int(max_per_class, "max_per_class")
        index = index.subsample({"train": limit}, seed=seed)
    elif train_total_limit is not None:
        limit = positive_int(train_total_limit, "train_total_limit")
        index = index.subsample({"train": limit}, seed=seed, per_class=False)
    train_counts = index.counts()["train"].drop("total")
    empty = train_counts[train_counts == 0].index.tolist()
    if empty:
        # Neither oversampling nor class weights can make up a class with no image at all.
        raise ConfigError(
            f"no training images left for {empty} (train_total_limit={train_total_limit} is "
            "too small for the rarest class); raise it or use max_per_class"
        )
    return index


def monitoring_index(index, monitor_split: str | None):
    """The index the engine trains on: its per-epoch ``validation`` curve comes from
    ``monitor_split``.

    The paper plots training against TESTING loss and accuracy per epoch (Keras's
    ``validation_data`` was the test set); ``"test"`` does the same by adding a copy of
    the test rows as the ``validation`` split. It is monitoring only: nothing is selected
    on it (no early stopping), and the reported test metrics come from the separate final
    pass. ``"validation"`` uses the data's own validation split, ``None`` none (faster).
    """
    choice(monitor_split, "monitor_split", MONITOR_SPLITS)
    frame = index.frame
    if monitor_split == "validation":
        if "validation" not in index.splits:
            raise ConfigError(
                "monitor_split='validation' but the data has no validation split; use 'test' "
                "(as the paper) or None"
            )
        return index
    without_validation = frame[frame["split"] != "validation"]
    if monitor_split is None:
        return index.with_frame(without_validation)
    monitor = frame[frame["split"] == "test"].assign(split="validation")
    return index.with_frame(pd.concat([without_validation, monitor], ignore_index=True))


def balanced_training_frame(index, method: str | None, seed: int = 42):
    """``(training frame, class_weight)`` exactly as the engine builds them.

    ``"oversample"``: RandomOverSampler(random_state=seed) on the row numbers of the
    training split, so duplicates are index rows (paths), never pixel arrays, and no row of
    another split can enter; ``"class_weight"``: the rows unchanged plus balanced weights.
    """
    from kerasbench.balancing import balance

    return balance(index.split("train"), method, len(index.class_names), seed)


def class_balance_table(index, method: str | None, seed: int = 42) -> pd.DataFrame:
    """Training images per class before and after balancing (and the weights, if any)."""
    from kerasbench.balancing import class_count_table

    before = index.split("train")
    after, class_weight = balanced_training_frame(index, method, seed)
    table = class_count_table(before, after, index.class_names)
    table["share before (%)"] = 100 * table["before"] / table["before"].sum()
    if class_weight is not None:
        table["class weight"] = [class_weight[label] for label in range(len(index.class_names))]
    table.loc["total"] = table.sum(numeric_only=True)
    if class_weight is not None:
        table.loc["total", "class weight"] = np.nan
    return table


def input_check(index, image_size: int, count: int = 8) -> dict:
    """What the models receive: one batch of training images through the pipeline."""
    from kerasbench.pipeline import make_dataset

    frame = index.split("train").head(count)
    images, _ = next(iter(make_dataset(frame, image_size=image_size, channels=3,
                                       batch_size=count, shuffle=False)))
    images = np.asarray(images)
    return {
        "batch shape": tuple(images.shape),
        "dtype": str(images.dtype),
        "value range": (float(images.min()), float(images.max())),
        "3 identical channels (grey replicated)": bool(
            np.array_equal(images[..., 0], images[..., 1])
            and np.array_equal(images[..., 0], images[..., 2])
        ),
    }


def augmentation_examples(path: str, augmentation: Mapping, *, image_size: int,
                          copies: int = 8, epochs: int = 1, seed: int | None = None) -> np.ndarray:
    """``copies`` duplicated rows of one image through the training pipeline (cache, then
    augmentation), for ``epochs`` passes: ``(epochs, copies, h, w, 3)``.

    Oversampled duplicates are rows like these: each should get its own random draw, and a
    new one every epoch.
    """
    from kerasbench.pipeline import Augmentation, make_dataset

    frame = pd.DataFrame({"path": [os.fspath(path)] * copies, "label": [0] * copies})
    dataset = make_dataset(
        frame, image_size=image_size, channels=3, batch_size=copies, shuffle=False,
        augmentation=Augmentation.from_image_data_generator(**augmentation), cache="memory",
        seed=seed,
    )
    passes = []
    for _ in range(epochs):
        images, _labels = next(iter(dataset))
        passes.append(np.asarray(images))
    return np.stack(passes)
