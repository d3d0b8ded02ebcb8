"""Data of the COVID X-ray study: two classes (``positive_class`` = label 1), a validation
split carved out of ``train`` when the data has none, and a seeded subsample of at most
``max_per_class`` images per class and split (the paper: 500 / 100 / 100).

The subsample is saved under ``<output_dir>/splits/`` and reused by every later run with
the same settings; its index fingerprint is the runs' ``dataset_fingerprint``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from kerasbench.data.index import SPLIT_ALIASES, SPLITS, DatasetIndex, index_folder
from kerasbench.data.selection import ensure_validation_split, select_binary
from kerasbench.data.sources import find_dataset_root
from kerasbench.errors import ConfigError
from kerasbench.io import write_json_atomic
from kerasbench.records import config_hash
from kerasbench.studies.covid_xray.paper import PAPER_MAX_PER_CLASS
from kerasbench.validate import fraction, known_keys, positive_int

DEFAULT_POSITIVE_CLASS = "covid"


@dataclass
class CovidData:
    """The data the sweeps train on, and where its subsample is kept."""

    index: DatasetIndex  # the subsample: two classes, positive_class is label 1
    full: DatasetIndex  # the same two classes before subsampling
    positive_class: str
    subsample_file: Path
    reused: bool  # True when the subsample was read back from subsample_file

    @property
    def negative_class(self) -> str:
        return self.index.class_names[0]

    @property
    def fingerprint(self) -> str:
        """The subsample's fingerprint: every run's ``dataset_fingerprint``."""
        return self.index.fingerprint()

    def counts(self) -> pd.DataFrame:
        """Images per class and split: the full two-class data beside the subsample."""
        table = pd.concat({"available": self.full.counts(), "used": self.index.counts()}, axis=1)
        # Flat "available train" / "used train" titles read well in markdown and CSV.
        table.columns = [f"{group} {split}" for group, split in table.columns]
        return table


def check_max_per_class(max_per_class: Mapping | None) -> dict:
    """``{"train": n, "validation": n, "test": n}``; a missing split or ``None`` keeps the
    split whole, and ``max_per_class=None`` keeps every image."""
    if max_per_class is None:
        return dict.fromkeys(SPLITS)
    if not isinstance(max_per_class, Mapping):
        raise ConfigError("max_per_class must be a mapping such as {'train': 500, "
                          "'validation': 100, 'test': 100} or None, "
                          f"got {max_per_class!r}")
    known_keys(max_per_class, SPLITS, "max_per_class splits")
    return {split: None if max_per_class.get(split) is None
            else positive_int(max_per_class[split], f"max_per_class[{split!r}]")
            for split in SPLITS}


def drop_folders(index: DatasetIndex, folders: Sequence[str]) -> DatasetIndex:
    """Rows whose path (below the root) has none of ``folders`` as a folder name.

    The COVID-19 Radiography Database keeps ``<class>/images/`` and ``<class>/masks/``
    side by side, and the index reads class folders recursively, so the lung masks would
    otherwise become training images.
    """
    folders = set(folders or ())
    if not folders:
        return index
    root = Path(index.root)

    def keep(path: str) -> bool:
        try:
            parts = Path(path).relative_to(root).parts[:-1]
        except ValueError:
            parts = Path(path).parts[:-1]
        return not folders.intersection(parts)

    mask = index.frame["path"].map(keep)
    dropped = int((~mask).sum())
    if dropped:
        print(f"left out {dropped} images inside folders named {sorted(folders)}")
    return index.with_frame(index.frame[mask])


def prepare_data(
    data_dir,
    output_dir,
    *,
    seed: int,
    positive_class: str = DEFAULT_POSITIVE_CLASS,
    classes: Sequence[str] | None = None,
    max_per_class: Mapping | None = PAPER_MAX_PER_CLASS,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    exclude_folders: Sequence[str] = ("masks",),
    check_images: bool | str = True,
) -> CovidData:
    """Index ``data_dir``, keep two classes (``positive_class`` = label 1), subsample per
    class and split, and save the subsample under ``<output_dir>/splits/``.

    ``data_dir`` holds ``train/ [validation/] test/<class>/...`` or ``<class>/...`` (then a
    seeded split is made and saved as ``splits/split-*.csv``).
    """
    counts = check_max_per_class(max_per_class)
    seed = positive_int(seed, "seed", minimum=0)
    fraction(validation_fraction, "validation_fraction")
    fraction(test_fraction, "test_fraction")
    if not isinstance(positive_class, str) or not positive_class:
        raise ConfigError(f"positive_class must name a class folder, got {positive_class!r}")
    if classes is not None and (isinstance(classes, str) or not isinstance(classes, Sequence)
                                or not all(isinstance(name, str) for name in classes)):
        raise ConfigError(f"classes must be None or a list of two class folder names, e.g. "
                          f"['COVID', 'Normal'], got {classes!r}")
    if exclude_folders is not None and (
            isinstance(exclude_folders, str) or not isinstance(exclude_folders, Sequence)
            or not all(isinstance(name, str) for name in exclude_folders)):
        raise ConfigError(f"exclude_folders must be a list of folder names, e.g. ['masks'], "
                          f"got {exclude_folders!r}")
    splits_dir = Path(output_dir) / "splits"
    splits_dir.mkdir(parents=True, exist_ok=True)
    split_file = (
        splits_dir / f"split-seed{seed}-validation{validation_fraction}-test{test_fraction}.csv"
    )
    # Kaggle mounts the Radiography Database as /kaggle/input/<slug>/COVID-19_Radiography_Dataset/.
    root = find_dataset_root(data_dir)
    has_split_folders = any(
        entry.is_dir() and entry.name.lower() in SPLIT_ALIASES for entry in root.iterdir()
    )
    index = index_folder(
        root,
        # Only a folder of class folders is split here; split folders are used as they are.
        split_file=None if has_split_folders else split_file,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        check_images=check_images,
    )
    index = drop_folders(index, exclude_folders)
    full = select_binary(index, positive_class, classes)
    if "test" not in full.splits:
        raise ConfigError(f"{data_dir} has no test split; the sweeps report test metrics. "
                          "Add a test/ folder, or give one folder per class (split here)")
    # A fixed number per class when one is asked for (the paper's 100), else a share.
    if counts["validation"] is None:
        full = ensure_validation_split(full, seed=seed, fraction=validation_fraction)
    else:
        full = ensure_validation_split(full, seed=seed, per_class=counts["validation"])

    settings = {
        "data": str(full.root),
        "class_names": full.class_names,
        "per_class_counts": counts,
        "seed": seed,
        "validation_fraction": validation_fraction,
        "test_fraction": test_fraction,
        "exclude_folders": sorted(exclude_folders or ()),
    }
    subsample_file = splits_dir / f"subsample-{config_hash(settings, length=10)}.csv"
    reused = subsample_file.exists()
    if reused:
        subsample = DatasetIndex.from_csv(subsample_file, full.root, class_names=full.class_names)
        print(f"reusing the subsample in {subsample_file}")
    else:
        subsample = full.subsample(
            per_split={split: counts[split] for split in full.splits}, seed=seed
        )
        subsample.to_csv(subsample_file)
        write_json_atomic(subsample_file.with_suffix(".json"), settings)
        print(f"wrote the subsample to {subsample_file}")
    return CovidData(index=subsample, full=full, positive_class=full.class_names[1],
                     subsample_file=subsample_file, reused=reused)


def load_data(context, **options) -> CovidData:
    """The study's data from ``context.data_dir`` (the demo set when the notebook gave no
    folder), subsample kept under ``context.output_dir``; ``options`` are
    :func:`prepare_data`'s (``positive_class``, ``classes``, ``max_per_class``,
    ``validation_fraction``, ``test_fraction``, ``exclude_folders``, ``check_images``)."""
    options.setdefault("seed", context.seed)
    return prepare_data(context.data_dir, context.output_dir, **options)
