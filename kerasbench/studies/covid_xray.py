"""COVID-19 chest X-ray study: InceptionV3 + ReLU dense + one sigmoid unit, learning-rate
and batch-size sweeps (studies.md section 5).

The protocol, as the notebook ``notebooks/covid_xray.ipynb`` runs it:

1. :func:`prepare_data`: index the folder, keep two classes arranged so that
   ``positive_class`` is label 1 (the sigmoid output is P(positive_class)), carve a
   validation split out of ``train`` when the data has none, and subsample a fixed number
   of images per class and split (the paper: 500 / 100 / 100). The subsample is saved
   under ``<output_dir>/splits/`` and reused by every later run with the same settings.
2. :func:`sweep_settings` / :func:`distinct_runs`: the learning-rate sweep (at one batch
   size) and the batch-size sweep (at one learning rate). The setting both share (the
   paper's lr 1e-4, batch 5) is ONE configuration, trained once; the results store finds
   it by its config hash for the second sweep.
3. :func:`run_sweeps`: every distinct configuration through
   :func:`kerasbench.runs.run_classification`, plus a CSV of its test probabilities so
   sample predictions can be shown without keeping models.
4. :func:`sweep_table`, :func:`findings_table`, :func:`sample_predictions`: the curves as
   numbers, the paper's qualitative findings beside this run's, and P(positive_class) on
   sample test images.
"""

from __future__ import annotations

import hashlib
import math
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.data.index import (
    IMAGE_EXTENSIONS,
    SPLIT_ALIASES,
    SPLITS,
    DatasetIndex,
    index_folder,
)
from kerasbench.data.selection import ensure_validation_split, select_binary
from kerasbench.results import ResultsStore, config_hash, write_json_atomic

STUDY = "covid_xray"
PAPER = "Covid X-ray classification with InceptionV3: comparing Adam learning rates and batch sizes (seed 004)"

PAPER_LEARNING_RATES = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7)
PAPER_LR_SWEEP_BATCH_SIZE = 5
PAPER_BATCH_SIZES = (5, 10, 15)
PAPER_BATCH_SWEEP_LEARNING_RATE = 1e-4
PAPER_EPOCHS = 20
PAPER_PER_CLASS_COUNTS = {"train": 500, "validation": 100, "test": 100}
# ImageDataGenerator names AND meanings (shear in degrees), as the paper describes them.
PAPER_AUGMENTATION = {
    "rotation_range": 20,
    "zoom_range": 0.2,
    "shear_range": 0.2,
    "width_shift_range": 0.2,
    "height_shift_range": 0.2,
}
DEFAULT_BACKBONE = "inceptionv3"
DEFAULT_IMAGE_SIZE = 299
DEFAULT_POSITIVE_CLASS = "covid"
# The paper names a ReLU dense layer but not its width; 128 is a common choice for a head
# on a 2048-d InceptionV3 embedding and keeps it small.
DEFAULT_HIDDEN_UNITS = 128

LEARNING_RATE_SWEEP = "learning_rate"
BATCH_SIZE_SWEEP = "batch_size"
SWEEPS = (LEARNING_RATE_SWEEP, BATCH_SIZE_SWEEP)


# --------------------------------------------------------------------------- data


@dataclass
class StudyData:
    """The data a sweep trains on, and where its subsample is kept."""

    index: DatasetIndex  # the subsample: two classes, positive_class is label 1
    full: DatasetIndex  # the same two classes before subsampling
    positive_class: str
    subsample_file: Path
    reused: bool  # True when the subsample was read back from subsample_file
    dataset: str  # short identifier written into every run config

    @property
    def negative_class(self) -> str:
        return self.index.class_names[0]

    def counts(self) -> pd.DataFrame:
        """Images per class and split: the full two-class data beside the subsample."""
        full, used = self.full.counts(), self.index.counts()
        table = pd.concat({"available": full, "used": used}, axis=1)
        # Flat "available train" / "used train" titles read well in markdown and CSV.
        table.columns = [f"{group} {split}" for group, split in table.columns]
        return table


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


def check_per_class_counts(per_class_counts: Mapping | None) -> dict:
    """``{"train": n, "validation": n, "test": n}`` (None values keep a split whole)."""
    counts = dict(per_class_counts or {})
    unknown = set(counts) - set(SPLITS)
    if unknown:
        raise ValueError(
            f"per_class_counts has unknown splits {sorted(unknown)}; use {list(SPLITS)}"
        )
    for split, value in counts.items():
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1
        ):
            raise ValueError(
                f"per_class_counts[{split!r}] must be a positive int or None, got {value!r}"
            )
    return {split: (None if counts.get(split) is None else int(counts[split])) for split in SPLITS}


def dataset_root(data_dir) -> Path:
    """``data_dir``, or the one sub-folder inside it when there is no other sub-folder and
    no image beside it (other files, e.g. a README, are allowed).

    Kaggle mounts a data set as ``/kaggle/input/<slug>/`` and the Radiography Database
    puts everything in ``COVID-19_Radiography_Dataset/`` under it; indexing the slug
    folder would see one class. A split folder (``train/``) is never descended into, and
    only a folder that itself holds class or split folders is.
    """
    root = Path(data_dir)
    if not root.is_dir():
        return root
    visible = [entry for entry in root.iterdir() if not entry.name.startswith((".", "__MACOSX"))]
    folders = [entry for entry in visible if entry.is_dir()]
    images_here = [entry for entry in visible if entry.suffix.lower() in IMAGE_EXTENSIONS]
    if len(folders) == 1 and not images_here and folders[0].name.lower() not in SPLIT_ALIASES:
        inner = [entry for entry in folders[0].iterdir() if entry.is_dir()]
        # Descend only when the inner folder has sub-folders (classes or splits) itself.
        if len(inner) >= 2 or any(entry.name.lower() in SPLIT_ALIASES for entry in inner):
            print(f"{root} holds only {folders[0].name}/: using that folder")
            return folders[0]
    return root


def _file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def prepare_data(
    data_dir,
    output_dir,
    *,
    positive_class: str = DEFAULT_POSITIVE_CLASS,
    classes: Sequence[str] | None = None,
    per_class_counts: Mapping | None = None,
    seed: int = 42,
    validation_fraction: float = 0.1,
    test_fraction: float = 0.1,
    exclude_folders: Sequence[str] = ("masks",),
    check_images: bool | str = True,
) -> StudyData:
    """Index ``data_dir``, keep two classes (``positive_class`` = label 1), subsample per
    class and split, and save the subsample (reused on the next run with these settings).

    ``data_dir`` holds ``train/ [validation/] test/<class>/...`` or ``<class>/...`` (then a
    seeded split is made and saved as ``splits/split-*.csv``). ``per_class_counts``
    defaults to the paper's 500 / 100 / 100.
    """
    counts = check_per_class_counts(
        PAPER_PER_CLASS_COUNTS if per_class_counts is None else per_class_counts
    )
    splits_dir = Path(output_dir) / "splits"
    splits_dir.mkdir(parents=True, exist_ok=True)
    split_file = (
        splits_dir / f"split-seed{seed}-validation{validation_fraction}-test{test_fraction}.csv"
    )
    root = dataset_root(data_dir)
    has_split_folders = root.is_dir() and any(
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
        raise ValueError(f"{data_dir} has no test split; the sweeps report test metrics")
    # A fixed number per class when one is asked for (the paper's 100), else a share.
    if counts["validation"] is None:
        full = ensure_validation_split(full, seed=seed, fraction=validation_fraction)
    else:
        full = ensure_validation_split(full, seed=seed, per_class=counts["validation"])

    settings = {
        "data": str(full.root),
        "class_names": full.class_names,
        "per_class_counts": counts,
        "seed": int(seed),
        "validation_fraction": validation_fraction,
        "test_fraction": test_fraction,
        "exclude_folders": sorted(exclude_folders or ()),
    }
    key = config_hash(settings, length=10)
    subsample_file = splits_dir / f"subsample-{key}.csv"
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
    if (
        list(subsample.class_names) != list(full.class_names)
        or subsample.class_names[1] != full.class_names[1]
    ):
        raise ValueError(f"{subsample_file} does not match classes {full.class_names}; delete it")
    dataset = f"{Path(full.root).name}:{_file_digest(subsample_file)}"
    return StudyData(
        index=subsample,
        full=full,
        positive_class=full.class_names[1],
        subsample_file=subsample_file,
        reused=reused,
        dataset=dataset,
    )


# --------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class SweepSetting:
    """One panel of one sweep: which sweep, and the (learning rate, batch size) it trains."""

    sweep: str
    learning_rate: float
    batch_size: int

    @property
    def key(self) -> tuple[float, int]:
        """The configuration this setting trains; shared between sweeps when equal."""
        return (self.learning_rate, self.batch_size)

    @property
    def label(self) -> str:
        if self.sweep == LEARNING_RATE_SWEEP:
            return f"lr {format_learning_rate(self.learning_rate)}"
        return f"batch {self.batch_size}"


def format_learning_rate(value: float) -> str:
    return f"{value:.0e}".replace("e-0", "e-")


def as_learning_rate(value) -> float:
    """A positive float; YAML 1.1 reads ``1e-4`` (no dot) as a string, so strings that
    parse as numbers are accepted too."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"learning rate must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(number) or number <= 0:
        raise ValueError(f"learning rate must be a positive number, got {value!r}")
    return number


def as_batch_size(value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"batch size must be a positive int, got {value!r}")
    return int(value)


def sweep_settings(
    learning_rates: Sequence = PAPER_LEARNING_RATES,
    lr_sweep_batch_size: int = PAPER_LR_SWEEP_BATCH_SIZE,
    batch_sizes: Sequence[int] = PAPER_BATCH_SIZES,
    batch_sweep_learning_rate=PAPER_BATCH_SWEEP_LEARNING_RATE,
) -> list[SweepSetting]:
    """Every panel of both sweeps, learning-rate sweep first, in the given orders."""
    rates = [as_learning_rate(value) for value in learning_rates]
    sizes = [as_batch_size(value) for value in batch_sizes]
    for name, values in (("learning_rates", rates), ("batch_sizes", sizes)):
        if len(set(values)) != len(values):
            raise ValueError(f"{name} lists a value twice: {values}")
    lr_batch = as_batch_size(lr_sweep_batch_size)
    batch_lr = as_learning_rate(batch_sweep_learning_rate)
    return [SweepSetting(LEARNING_RATE_SWEEP, rate, lr_batch) for rate in rates] + [
        SweepSetting(BATCH_SIZE_SWEEP, batch_lr, size) for size in sizes
    ]


def distinct_runs(settings: Sequence[SweepSetting]) -> list[tuple[float, int]]:
    """The (learning rate, batch size) pairs to train, each once, in first-seen order."""
    return list(dict.fromkeys(setting.key for setting in settings))


def base_config(
    *,
    backbone: str = DEFAULT_BACKBONE,
    weights=None,
    image_size=DEFAULT_IMAGE_SIZE,
    hidden_units: int | None = DEFAULT_HIDDEN_UNITS,
    trainable="frozen",
    epochs: int = PAPER_EPOCHS,
    augmentation: Mapping | None = PAPER_AUGMENTATION,
    seed: int = 42,
    positive_class: str = DEFAULT_POSITIVE_CLASS,
    dataset: str = "",
) -> dict:
    """The settings every run of the sweeps shares (Adam, binary cross-entropy through the
    sigmoid head, positive class as label 1). ``augmentation`` defaults to the paper's;
    ``None`` or ``{}`` trains without."""
    from kerasbench.backbones import get_backbone, resolve_image_size

    spec = get_backbone(backbone)
    resolve_image_size(spec, image_size)  # fails here, before any training, if too small
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    return {
        "study": STUDY,
        "dataset": dataset,
        "positive_class": positive_class,
        "backbone": spec.name,
        "weights": weights,
        "image_size": list(image_size) if isinstance(image_size, (tuple, list)) else image_size,
        "hidden_units": hidden_units,
        "trainable": trainable,
        "head": "sigmoid",
        "label_mode": "binary",
        "optimizer": "adam",
        "epochs": int(epochs),
        "augmentation": dict(augmentation) if augmentation else None,
        "seed": int(seed),
    }


def run_config(base: Mapping, learning_rate: float, batch_size: int) -> dict:
    """One configuration of the sweeps. The sweep name is deliberately NOT part of it, so
    the shared setting has one config hash and is trained once."""
    return {
        **base,
        "learning_rate": as_learning_rate(learning_rate),
        "batch_size": as_batch_size(batch_size),
    }


# --------------------------------------------------------------------------- training


@dataclass
class SweepResults:
    """Records of every distinct configuration, and where their test predictions are."""

    records: dict  # (learning_rate, batch_size) -> record
    predictions: dict  # (learning_rate, batch_size) -> CSV path of test probabilities
    trained: list = field(default_factory=list)  # keys trained now (the rest were reused)

    def record(self, setting: SweepSetting) -> dict:
        return self.records[setting.key]

    def predictions_file(self, learning_rate, batch_size) -> Path:
        """The test-probability CSV of one trained configuration."""
        key = (as_learning_rate(learning_rate), as_batch_size(batch_size))
        if key not in self.predictions:
            trained = ", ".join(
                f"lr {format_learning_rate(lr)} batch {size}" for lr, size in self.predictions
            )
            raise ValueError(
                f"lr {format_learning_rate(key[0])} batch {key[1]} is not one of the settings run "
                f"({trained}); pick sample_learning_rate / sample_batch_size from the sweeps"
            )
        return self.predictions[key]


def predictions_path(folder, config: Mapping) -> Path:
    return Path(folder) / f"{config_hash(config)}.csv"


def save_predictions(split_predictions, positive_class: str, path) -> Path:
    """Test paths, labels and P(positive_class) of one run, as CSV."""
    table = pd.DataFrame(
        {
            "path": split_predictions.paths,
            "label": np.asarray(split_predictions.y_true, dtype=int),
            "probability_positive": np.asarray(
                split_predictions.probabilities, dtype=float
            ).reshape(-1),
        }
    )
    table["positive_class"] = positive_class
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    table.to_csv(temporary, index=False)
    temporary.replace(path)
    return path


def run_sweeps(
    data: StudyData,
    store: ResultsStore,
    base: Mapping,
    settings: Sequence[SweepSetting],
    *,
    predictions_dir,
    verbose: int = 0,
    report: Callable[[str], None] | None = print,
    run=None,
) -> SweepResults:
    """Train every distinct configuration of ``settings`` once (records already in
    ``store`` are reused) and keep its test probabilities under ``predictions_dir``."""
    if run is None:
        from kerasbench.runs import run_classification as run
    if base.get("positive_class") != data.positive_class:
        raise ValueError(
            f"the run config says positive_class={base.get('positive_class')!r} but the data "
            f"has {data.positive_class!r} as label 1; build both from the same positive_class"
        )
    records, predictions, trained = {}, {}, []
    keys = distinct_runs(settings)
    for number, (learning_rate, batch_size) in enumerate(keys, start=1):
        config = run_config(base, learning_rate, batch_size)
        path = predictions_path(predictions_dir, config)
        # A record without its prediction file (deleted, or written by an older version)
        # is retrained so that every setting can show sample predictions.
        result = run(
            config,
            data.index,
            store,
            overwrite=store.has(config) and not path.exists(),
            verbose=verbose,
        )
        if not result.skipped:
            save_predictions(result.predictions["test"], data.positive_class, path)
            trained.append((learning_rate, batch_size))
        records[(learning_rate, batch_size)] = result.record
        predictions[(learning_rate, batch_size)] = path
        if report is not None:
            history = result.record.get("history", {})
            validation_loss = history.get("val_loss") or [float("nan")]
            report(
                f"[{number}/{len(keys)}] lr {format_learning_rate(learning_rate)} batch "
                f"{batch_size}: "
                + (
                    "reused record"
                    if result.skipped
                    else f"trained in {result.record['durations']['training_seconds']:.0f} s"
                )
                + f", final validation loss {validation_loss[-1]:.3f}, test accuracy "
                f"{result.record['metrics']['test']['accuracy']:.3f}"
            )
    return SweepResults(records=records, predictions=predictions, trained=trained)


# --------------------------------------------------------------------------- curves -> numbers


def curve_numbers(
    history: Mapping[str, Sequence[float]], *, window: int = 5, spike_rise: float = 0.2
) -> dict:
    """One history's curves as numbers.

    final_* is the last epoch; best_* the lowest loss / highest accuracy and, for the
    validation loss, its epoch (1-based). ``val_loss_std_last`` is the standard deviation
    of the validation loss over the last ``window`` epochs (the instability the paper reads
    off its curves); ``val_loss_spikes`` counts epochs whose validation loss rose by more
    than ``spike_rise`` over the epoch before (its "very high points").
    """
    if window < 1:
        raise ValueError(f"window must be at least 1 epoch, got {window}")
    numbers = {}
    for prefix, name in (("", "train"), ("val_", "val")):
        loss = np.asarray(history.get(prefix + "loss") or [], dtype=float)
        accuracy = np.asarray(history.get(prefix + "accuracy") or [], dtype=float)
        numbers[f"final_{name}_loss"] = float(loss[-1]) if loss.size else None
        numbers[f"best_{name}_loss"] = float(np.nanmin(loss)) if loss.size else None
        numbers[f"final_{name}_accuracy"] = float(accuracy[-1]) if accuracy.size else None
        numbers[f"best_{name}_accuracy"] = float(np.nanmax(accuracy)) if accuracy.size else None
    validation = np.asarray(history.get("val_loss") or [], dtype=float)
    if validation.size:
        last = validation[-min(window, validation.size) :]
        numbers["best_val_loss_epoch"] = int(np.nanargmin(validation)) + 1
        numbers["max_val_loss"] = float(np.nanmax(validation))
        numbers["val_loss_std_last"] = float(np.nanstd(last))
        numbers["val_loss_spikes"] = int(np.sum(np.diff(validation) > spike_rise))
        numbers["val_loss_share_under_0_2"] = float(np.mean(validation < 0.2))
    else:
        numbers.update(
            {
                "best_val_loss_epoch": None,
                "max_val_loss": None,
                "val_loss_std_last": None,
                "val_loss_spikes": None,
                "val_loss_share_under_0_2": None,
            }
        )
    numbers["epochs_run"] = int(len(history.get("loss") or []))
    return numbers


def sweep_table(
    results: SweepResults,
    settings: Sequence[SweepSetting],
    sweep: str,
    *,
    window: int = 5,
    spike_rise: float = 0.2,
) -> pd.DataFrame:
    """One row per setting of ``sweep``: the curves as numbers, test metrics of the
    positive class (label 1) and the training time."""
    if sweep not in SWEEPS:
        raise ValueError(f"sweep must be one of {SWEEPS}, got {sweep!r}")
    rows = []
    for setting in (s for s in settings if s.sweep == sweep):
        record = results.record(setting)
        positive = record["config"]["positive_class"]
        test = record["metrics"]["test"]
        per_class = test["per_class"][positive]
        row = {
            "setting": setting.label,
            "learning_rate": setting.learning_rate,
            "batch_size": setting.batch_size,
        }
        row.update(curve_numbers(record["history"], window=window, spike_rise=spike_rise))
        row.update(
            {
                "positive_class": positive,
                "test_accuracy": test["accuracy"],
                "test_precision": per_class["precision"],
                "test_recall": per_class["recall"],
                "test_f1": per_class["f1"],
                "test_roc_auc": test.get("roc_auc"),
                "training_seconds": record["durations"]["training_seconds"],
                "config_hash": record["config_hash"],
            }
        )
        rows.append(row)
    return pd.DataFrame(rows).set_index("setting")


def histories(results: SweepResults, settings: Sequence[SweepSetting], sweep: str) -> dict:
    """``{panel label: history}`` of one sweep, for :func:`kerasbench.plots.curve_panels`."""
    return {
        setting.label: results.record(setting)["history"]
        for setting in settings
        if setting.sweep == sweep
    }


def sweep_figure(
    histories_by_panel: Mapping[str, Mapping[str, Sequence[float]]],
    path=None,
    *,
    title: str = "",
    note: str = "",
    loss_limit: float | None = 2.0,
):
    """The paper's sweep figure: :func:`kerasbench.plots.curve_panels`, one panel per
    setting on shared axes, with the loss axis stopped at ``loss_limit``.

    One diverged run (a loss of thousands at lr 1e-2) would otherwise flatten every
    other panel of the shared row; its panel says how high it went instead.
    """
    from kerasbench.plots import curve_panels

    highest = {
        label: max(
            [value for key in ("loss", "val_loss") for value in (history.get(key) or [])] or [0.0]
        )
        for label, history in histories_by_panel.items()
    }
    clipped = loss_limit is not None and max(highest.values(), default=0.0) > loss_limit
    if clipped:
        title = f"{title} (loss axis stops at {loss_limit:g})" if title else ""
    figure = curve_panels(histories_by_panel, None, title=title, note=note)
    if clipped:
        loss_axes = figure.axes[: len(histories_by_panel)]  # first row: loss (row-major)
        loss_axes[0].set_ylim(0.0, loss_limit)
        for axis, label in zip(loss_axes, histories_by_panel):
            if highest[label] > loss_limit:
                axis.text(
                    0.5,
                    0.9,
                    f"off scale: max {highest[label]:.3g}",
                    transform=axis.transAxes,
                    ha="center",
                    fontsize=7,
                    color="red",
                )
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
    return figure


# --------------------------------------------------------------------------- the paper


# What the paper reports, read off its curves (it prints no table of numbers).
PAPER_FINDINGS = {
    "best_learning_rates": (
        "lr 1e-4 and 1e-5 are best: train and validation loss mostly under 0.2, accuracy near 1"
    ),
    "high_learning_rates_unstable": (
        "lr 1e-2 and 1e-3: accuracy near 1 but the loss swings, reaching about 0.8 (1e-2) "
        "and almost 1 (1e-3)"
    ),
    "low_learning_rates_worse": "lr 1e-6 and 1e-7: loss mostly around 0.2-0.3, worse than 1e-4 / 1e-5",
    "best_batch_size": "batch 5 is best (loss near 0, under 0.2)",
    "larger_batches_spike": "batch 10 and 15: the loss has very high points (spikes)",
    "sample_predictions": (
        "two test images (lr 1e-4, batch 5): a normal one scored 0.996 and a covid one 0.0000157, "
        "so the paper's sigmoid output was P(normal): its class 1 was 'normal' (alphabetical "
        "folder order)"
    ),
}
PAPER_NUMBERS = {
    "max validation loss, lr 1e-2 (read off the curve)": 0.8,
    "max validation loss, lr 1e-3 (read off the curve)": 1.0,
    "typical loss, lr 1e-4 and 1e-5 (upper level, read off)": 0.2,
    "typical loss, lr 1e-6 and 1e-7 (read off)": 0.25,
    "P(normal), sample normal image": 0.996,
    "P(normal), sample covid image": 0.0000157,
}


def _rows_for(table: pd.DataFrame, column: str, values: Sequence) -> pd.DataFrame:
    wanted = [value for value in table[column] if any(math.isclose(value, v) for v in values)]
    return table[table[column].isin(wanted)]


def _format(value, digits: int = 3) -> str:
    return (
        "n.a."
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.{digits}f}"
    )


def _verdict(condition) -> str:
    return "n.a." if condition is None else ("yes" if condition else "no")


def findings_table(
    lr_table: pd.DataFrame,
    batch_table: pd.DataFrame,
    samples: pd.DataFrame | None = None,
    *,
    positive_class: str = "covid",
    window: int = 5,
    spike_rise: float = 0.2,
) -> pd.DataFrame:
    """The paper's qualitative findings beside what this run's numbers show.

    Columns: ``finding from the paper``, ``what this run shows`` (computed from the sweep
    tables), ``agrees`` (yes / no / n.a. when the settings needed were not run).
    """
    rows = []

    def add(key, shows, agrees):
        rows.append(
            {
                "finding from the paper": PAPER_FINDINGS[key],
                "what this run shows": shows,
                "agrees": _verdict(agrees),
            }
        )

    ranked = lr_table.sort_values("best_val_loss") if len(lr_table) else lr_table
    if len(ranked):
        best = ranked.iloc[0]
        middle = _rows_for(lr_table, "learning_rate", (1e-4, 1e-5))
        shows = (
            f"best lr by lowest validation loss: {format_learning_rate(best['learning_rate'])} "
            f"({best['best_val_loss']:.3f}); ranking: "
            + ", ".join(format_learning_rate(v) for v in ranked["learning_rate"])
        )
        if len(middle):
            shows += "; share of epochs with validation loss < 0.2: " + ", ".join(
                f"{format_learning_rate(r.learning_rate)} {r.val_loss_share_under_0_2:.0%}"
                for r in middle.itertuples()
            )
        agrees = (
            any(math.isclose(best["learning_rate"], v) for v in (1e-4, 1e-5))
            if len(middle)
            else None
        )
    else:
        shows, agrees = "learning-rate sweep not run", None
    add("best_learning_rates", shows, agrees)

    high = _rows_for(lr_table, "learning_rate", (1e-2, 1e-3))
    rest = lr_table.drop(index=high.index)
    if len(high) and len(rest):
        epochs_used = min(window, int(lr_table["epochs_run"].max()))
        shows = (
            f"std of validation loss over the last {epochs_used} epochs: "
            + ", ".join(
                f"{format_learning_rate(r.learning_rate)} {r.val_loss_std_last:.3f} "
                f"(max {r.max_val_loss:.2f})"
                for r in high.itertuples()
            )
            + f" vs mean {rest['val_loss_std_last'].mean():.3f} for the other rates; "
            f"mean final train accuracy {high['final_train_accuracy'].mean():.3f}"
        )
        agrees = bool(high["val_loss_std_last"].mean() > rest["val_loss_std_last"].mean())
    else:
        shows, agrees = "needs lr 1e-2 or 1e-3 and at least one other rate", None
    add("high_learning_rates_unstable", shows, agrees)

    low = _rows_for(lr_table, "learning_rate", (1e-6, 1e-7))
    middle = _rows_for(lr_table, "learning_rate", (1e-4, 1e-5))
    if len(low) and len(middle):
        shows = "final validation loss: " + ", ".join(
            f"{format_learning_rate(r.learning_rate)} {r.final_val_loss:.3f}"
            for r in pd.concat([middle, low]).itertuples()
        )
        agrees = bool(low["final_val_loss"].mean() > middle["final_val_loss"].mean())
    else:
        shows, agrees = "needs lr 1e-6 or 1e-7 and lr 1e-4 or 1e-5", None
    add("low_learning_rates_worse", shows, agrees)

    if len(batch_table):
        ranked = batch_table.sort_values("best_val_loss")
        shows = (
            "lowest validation loss per batch size: "
            + ", ".join(
                f"{int(r.batch_size)}: {r.best_val_loss:.3f}" for r in batch_table.itertuples()
            )
            + f"; best batch {int(ranked.iloc[0]['batch_size'])}"
        )
        paper_best = PAPER_LR_SWEEP_BATCH_SIZE
        agrees = (
            int(ranked.iloc[0]["batch_size"]) == paper_best
            if paper_best in set(batch_table["batch_size"])
            else None
        )
    else:
        shows, agrees = "batch-size sweep not run", None
    add("best_batch_size", shows, agrees)

    if len(batch_table) > 1:
        smallest = batch_table["batch_size"].min()
        small, larger = (
            batch_table[batch_table["batch_size"] == smallest],
            batch_table[batch_table["batch_size"] > smallest],
        )
        shows = (
            f"validation-loss spikes (rise > {spike_rise} in one epoch) per batch size: "
            + ", ".join(
                f"{int(r.batch_size)}: {r.val_loss_spikes} (max {r.max_val_loss:.2f})"
                for r in batch_table.itertuples()
            )
        )
        # A spike is a one-epoch jump; a peak at least spike_rise above batch 5's highest
        # point counts too, since the paper reads "very high points" off whole curves.
        more_spikes = larger["val_loss_spikes"].mean() > small["val_loss_spikes"].mean()
        higher_peak = larger["max_val_loss"].max() - small["max_val_loss"].max() > spike_rise
        agrees = bool(more_spikes or higher_peak)
        shows += "; larger batches " + (
            "spike more"
            if more_spikes
            else f"peak more than {spike_rise} higher"
            if higher_peak
            else "neither spike more nor peak higher"
        )
    else:
        shows, agrees = "needs at least two batch sizes", None
    add("larger_batches_spike", shows, agrees)

    if samples is not None and len(samples):
        column = f"P({positive_class})"
        by_class = samples.groupby("true_class")[column].mean()
        shows = (
            f"this run's sigmoid output is P({positive_class}) (label 1 = {positive_class}); "
            "mean over the samples: "
            + ", ".join(f"{name} images {value:.3g}" for name, value in by_class.items())
        )
        add("sample_predictions", shows, None)
    return pd.DataFrame(rows)


def paper_comparison(
    lr_table: pd.DataFrame, samples: pd.DataFrame | None, positive_class: str, negative_class: str
) -> dict:
    """This run's values for :data:`PAPER_NUMBERS` (None where the setting was not run).

    The paper's scores are P(normal); this run's P(positive_class) is turned into P(normal)
    when ``normal`` is the negative class, so the two columns mean the same thing."""

    def lr_value(rates, column, reduce=np.mean):
        rows = _rows_for(lr_table, "learning_rate", rates)
        return float(reduce(rows[column])) if len(rows) else None

    values = {
        "max validation loss, lr 1e-2 (read off the curve)": lr_value((1e-2,), "max_val_loss"),
        "max validation loss, lr 1e-3 (read off the curve)": lr_value((1e-3,), "max_val_loss"),
        "typical loss, lr 1e-4 and 1e-5 (upper level, read off)": lr_value(
            (1e-4, 1e-5), "final_val_loss"
        ),
        "typical loss, lr 1e-6 and 1e-7 (read off)": lr_value((1e-6, 1e-7), "final_val_loss"),
        "P(normal), sample normal image": None,
        "P(normal), sample covid image": None,
    }
    normal = next(
        (name for name in (positive_class, negative_class) if name.casefold() == "normal"), None
    )
    covid = next(
        (name for name in (positive_class, negative_class) if name.casefold() == "covid"), None
    )
    if samples is not None and len(samples) and normal and covid:
        probability = samples[f"P({positive_class})"]
        p_normal = probability if positive_class == normal else 1.0 - probability
        values["P(normal), sample normal image"] = float(
            p_normal[samples["true_class"] == normal].mean()
        )
        values["P(normal), sample covid image"] = float(
            p_normal[samples["true_class"] == covid].mean()
        )
    return values


# --------------------------------------------------------------------------- sample predictions


def sample_predictions(
    predictions_csv, class_names: Sequence[str], *, per_class: int = 2, seed: int = 42
) -> pd.DataFrame:
    """``per_class`` test images of each class (seeded choice) with P(positive_class),
    the predicted class (threshold 0.5) and whether it is right. ``class_names`` is
    ``[negative, positive]``."""
    path = Path(predictions_csv)
    if not path.exists():
        raise FileNotFoundError(f"no test predictions at {path}; rerun the sweeps to write them")
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, got {per_class}")
    table = pd.read_csv(path)
    positive = class_names[1]
    if set(table["positive_class"]) != {positive}:
        raise ValueError(f"{path} holds P({set(table['positive_class'])}), not P({positive})")
    chosen = []
    for label in (1, 0):
        rows = np.flatnonzero(table["label"].to_numpy() == label)
        generator = np.random.default_rng([int(seed), 11, label])
        take = min(per_class, len(rows))
        chosen.extend(sorted(rows[generator.choice(len(rows), size=take, replace=False)]))
    picked = table.iloc[chosen].reset_index(drop=True)
    probability = picked["probability_positive"].to_numpy(dtype=float)
    predicted = (probability >= 0.5).astype(int)
    return pd.DataFrame(
        {
            "path": picked["path"],
            "true_class": [class_names[label] for label in picked["label"]],
            f"P({positive})": probability,
            "predicted_class": [class_names[label] for label in predicted],
            "correct": predicted == picked["label"].to_numpy(),
        }
    )


def sample_captions(samples: pd.DataFrame, positive_class: str) -> list[str]:
    column = f"P({positive_class})"
    return [
        f"true: {row['true_class']}\nP({positive_class})={row[column]:.3g}"
        for _, row in samples.iterrows()
    ]


def sample_prediction_grid(
    samples: pd.DataFrame,
    positive_class: str,
    *,
    image_size,
    path=None,
    title: str = "",
    note: str = "",
):
    """The sample images with ``P(positive_class)=...`` under each (plots.image_grid)."""
    from kerasbench.pipeline import load_image
    from kerasbench.plots import image_grid

    images = [load_image(image_path, image_size) for image_path in samples["path"]]
    columns = min(5, max(1, len(images)))
    # A few images make a narrow figure; wrap the long data note so it is not cut off
    # (image_grid makes each column 2.2 inches wide; about 9 characters fit per inch).
    note = textwrap.fill(note, width=max(40, int(2.2 * columns * 9))) if note else note
    return image_grid(
        images,
        sample_captions(samples, positive_class),
        path,
        title=title,
        note=note,
        columns=columns,
    )


def report_note(context_note: str, positive_class: str) -> str:
    """The line every table and figure of this study carries: the data note, and which
    class the sigmoid output (label 1) is."""
    label = f"label 1 = positive class = {positive_class}; sigmoid output = P({positive_class})"
    return f"{context_note} | {label}" if context_note else label


def model_summary(config: Mapping) -> pd.DataFrame:
    """Parameter counts of the classifier one configuration builds (no training)."""
    import keras

    from kerasbench.heads import build_classifier, parameter_counts

    model = build_classifier(
        config["backbone"],
        2,
        image_size=config["image_size"],
        weights=config["weights"],
        head="sigmoid",
        hidden_units=config["hidden_units"],
        trainable=config["trainable"],
    )
    counts = parameter_counts(model)
    layers = [
        (layer.name, type(layer).__name__, int(layer.count_params())) for layer in model.layers
    ]
    table = pd.DataFrame(layers, columns=["layer", "type", "parameters"]).set_index("layer")
    table.attrs["counts"] = counts
    del model
    keras.backend.clear_session()
    return table


def settings_table(settings: Sequence[SweepSetting]) -> pd.DataFrame:
    """Every panel of both sweeps and the configuration it trains (shared ones marked)."""
    keys = distinct_runs(settings)
    uses = {key: [s.sweep for s in settings if s.key == key] for key in keys}
    return pd.DataFrame(
        [
            {
                "sweep": s.sweep,
                "panel": s.label,
                "learning_rate": s.learning_rate,
                "batch_size": s.batch_size,
                "run": keys.index(s.key) + 1,
                "shared by both sweeps": len(uses[s.key]) > 1,
            }
            for s in settings
        ]
    )


__all__ = [
    "BATCH_SIZE_SWEEP",
    "LEARNING_RATE_SWEEP",
    "PAPER_AUGMENTATION",
    "PAPER_FINDINGS",
    "PAPER_NUMBERS",
    "StudyData",
    "SweepResults",
    "SweepSetting",
    "base_config",
    "curve_numbers",
    "distinct_runs",
    "drop_folders",
    "findings_table",
    "histories",
    "model_summary",
    "paper_comparison",
    "prepare_data",
    "report_note",
    "run_config",
    "run_sweeps",
    "sample_prediction_grid",
    "sample_predictions",
    "settings_table",
    "sweep_settings",
    "sweep_table",
]
