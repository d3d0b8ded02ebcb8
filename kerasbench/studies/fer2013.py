"""FER2013 study: ResNet50 vs VGG19, with and without oversampling (``shared/studies.md`` §3).

The protocol, called by ``notebooks/fer2013.ipynb``:

- data: FER2013 as image folders (``train/ test/<emotion>/``), or the original
  ``fer2013.csv`` converted once into that form (:func:`prepare_data_folder`); 48x48 grey
  images are fed to the ImageNet backbones as 3 identical channels at ``image_size``;
- augmentation: ImageDataGenerator settings rotation 15, shifts 0.15, shear 0.15 (IDG's
  unit: degrees), zoom 0.15, horizontal flip (:data:`PAPER_AUGMENTATION`), drawn per image
  and per epoch after the cache, so oversampled duplicates are augmented independently;
- balancing: imbalanced-learn ``RandomOverSampler(random_state=seed)`` on the ROWS of the
  training split of the index (:func:`balanced_training_frame`), or class weights;
- models: backbone (fully trainable) -> GlobalAveragePooling2D -> Dense(7, softmax), Adam,
  categorical cross-entropy;
- scenarios S1 ResNet50 unbalanced, S2 VGG19 unbalanced, S3 ResNet50 balanced, S4 VGG19
  balanced (:data:`SCENARIOS`), one results record each (:func:`run_scenarios`);
- outputs: the paper's table beside this run's (:func:`paper_comparison`), per-class F1
  (:func:`per_class_f1_table`), curves, confusion matrices and training-time bars
  (:func:`save_figures`).

Every training and evaluation step is the shared engine :func:`kerasbench.runs.run_classification`;
this module chooses the settings, adds the test loss and builds the study's tables.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.errors import ConfigError

STUDY = "fer2013"
DEMO_DATASET = "fer"
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

# Where each number comes from in a record (precision/recall: macro averages, see the notebook).
_RECORD_PATHS = {
    "training time (s)": "durations.training_seconds",
    "train loss": "final_epoch_metrics.loss",
    "test loss": "metrics.test.loss",
    "train accuracy": "final_epoch_metrics.accuracy",
    "test accuracy": "metrics.test.accuracy",
    "precision": "metrics.test.macro_precision",
    "recall": "metrics.test.macro_recall",
}

MONITOR_SPLITS = (None, "test", "validation")
BALANCED_METHODS = ("oversample", "class_weight")
# Keras clips probabilities to [epsilon, 1 - epsilon] in its cross-entropy; the test loss
# computed here from the predicted probabilities does the same, so it matches evaluate().


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


# --------------------------------------------------------------------------- data


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
    """The ``data_dir`` to index: ``data_dir`` itself, or the image folders of ``csv_path``.

    ``csv_path`` (the original ``fer2013.csv``: emotion, pixels, Usage) is converted once by
    :func:`kerasbench.data.sources.fer2013_csv_to_folders` into ``conversion_folder``
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
    from kerasbench.data.sources import fer2013_csv_to_folders

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


def load_index(
    data_dir: str | os.PathLike,
    *,
    train_per_class_limit: int | None = None,
    train_total_limit: int | None = None,
    seed: int = 42,
):
    """Index the FER2013 folders and optionally subsample the TRAINING split for CPU runs.

    ``train_per_class_limit`` keeps at most that many training images per class (classes
    below it, disgust first, keep all of theirs, so the imbalance shrinks);
    ``train_total_limit`` keeps that many training images in all, shared in proportion to
    the class sizes, so the imbalance stays as in FER2013. The test split is never touched.
    """
    from kerasbench.data.index import index_folder

    if train_per_class_limit is not None and train_total_limit is not None:
        raise ConfigError(
            "set train_per_class_limit or train_total_limit, not both (one caps each class, "
            "the other the whole split in proportion to the classes)"
        )
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
    if train_per_class_limit is not None:
        index = index.subsample({"train": int(train_per_class_limit)}, seed=seed)
    elif train_total_limit is not None:
        index = index.subsample({"train": int(train_total_limit)}, seed=seed, per_class=False)
    train_counts = index.counts()["train"].drop("total")
    empty = train_counts[train_counts == 0].index.tolist()
    if empty:
        # Neither oversampling nor class weights can make up a class with no image at all.
        raise ConfigError(
            f"no training images left for {empty} (train_total_limit={train_total_limit} is "
            "too small for the rarest class); raise it or use train_per_class_limit"
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
    if monitor_split not in MONITOR_SPLITS:
        raise ConfigError(f"monitor_split must be one of {MONITOR_SPLITS}, got {monitor_split!r}")
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
    from kerasbench.augment import Augmentation
    from kerasbench.pipeline import make_dataset

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


# --------------------------------------------------------------------------- models


def parameter_table(backbones: Mapping[str, str], *, image_size: int,
                    head_classes: int = CLASS_COUNT) -> pd.DataFrame:
    """Parameters of each model as trained here, beside the paper's totals.

    Built with random weights (counts do not depend on the weights, and nothing is
    downloaded). The models are fully trainable as in the paper's Keras code
    (``trainable="full"``: BatchNormalization scale/offset train too), so ResNet50's split
    is the paper's 23,548,935 trainable / 53,120 non-trainable (moving statistics).
    """
    import keras

    from kerasbench.heads import build_classifier, parameter_counts

    rows = []
    for model_name, backbone in backbones.items():
        model = build_classifier(backbone, head_classes, image_size=image_size, weights=None,
                                 head="softmax", trainable="full")
        counts = parameter_counts(model)
        paper = PAPER_PARAMETERS.get(model_name)
        rows.append({
            "model": model_name,
            "backbone": backbone,
            "total": counts["total"],
            "trainable": counts["trainable"],
            "non-trainable": counts["non_trainable"],
            "paper total": paper,
            "matches paper": None if paper is None else counts["total"] == paper,
        })
        del model
        # Both models together are ~45M parameters; free the graph before the next one.
        keras.backend.clear_session()
    return pd.DataFrame(rows).set_index("model")


# --------------------------------------------------------------------------- runs


def scenario_configs(
    scenarios: Sequence[str],
    backbones: Mapping[str, str],
    *,
    image_size: int,
    batch_size: int,
    epochs: int,
    learning_rate: float,
    augmentation: Mapping | None,
    balancing: str,
    weights,
    seed: int,
    dataset: str,
) -> dict[str, dict]:
    """One ``run_classification`` config per scenario name, in the given order."""
    if balancing not in BALANCED_METHODS:
        raise ConfigError(
            f"balancing (the method of the balanced scenarios S3/S4) must be one of "
            f"{BALANCED_METHODS}, got {balancing!r}"
        )
    unknown = [name for name in scenarios if name not in SCENARIOS]
    if unknown or not scenarios:
        raise ConfigError(f"scenarios must be names from {list(SCENARIOS)}, got {list(scenarios)}")
    configs = {}
    for name in scenarios:
        scenario = SCENARIOS[name]
        if scenario.model not in backbones:
            raise ConfigError(
                f"scenario {name} needs a backbone for {scenario.model}; backbones maps "
                f"{sorted(backbones)}"
            )
        configs[name] = {
            "study": STUDY,
            "experiment": name,
            "dataset": dataset,
            "backbone": backbones[scenario.model],
            "weights": weights,
            "image_size": int(image_size),
            "channels": 3,
            "batch_size": int(batch_size),
            "epochs": int(epochs),
            "optimizer": "adam",
            "learning_rate": float(learning_rate),
            "head": "softmax",
            "trainable": "full",
            "label_mode": "categorical",
            "augmentation": dict(augmentation) if augmentation else None,
            "balancing": balancing if scenario.balanced else None,
            "seed": int(seed),
        }
    return configs


def run_scenarios(
    index,
    store,
    configs: Mapping[str, dict],
    *,
    monitor_split: str | None = "test",
    overwrite: bool = False,
    verbose: int = 0,
    log: Callable[[str], None] | None = print,
) -> dict[str, dict]:
    """Train and evaluate every scenario; returns ``{scenario: record}`` in config order.

    Oversampling (or class weights) is applied by the engine to the training split only;
    the test split is evaluated once, unshuffled (the engine records its loss).
    Finished scenarios already in ``store`` are reused (an interrupted run resumes).
    """
    import keras

    from kerasbench.runs import run_classification

    training_index = monitoring_index(index, monitor_split)
    records = {}
    for name, config in configs.items():
        result = run_classification(config, training_index, store, evaluate_splits=("test",),
                                    overwrite=overwrite, verbose=verbose)
        record = result.record
        records[name] = record
        if log is not None:
            test = record["metrics"]["test"]
            status = "reused from the store" if result.skipped else (
                f"{record['durations']['training_seconds']:.1f} s training")
            log(f"{SCENARIOS[name].label}: test accuracy {test['accuracy']:.4f}, test loss "
                f"{test.get('loss', float('nan')):.4f}, {record['train_rows']} training rows, "
                f"{status}")
        del result
        # Four large models in one process: release each before building the next.
        keras.backend.clear_session()
    return records


# --------------------------------------------------------------------------- tables


def _pick(record: Mapping, dotted: str):
    from kerasbench.reports import pick

    return pick(record, dotted)


def scenario_table(records: Mapping[str, dict]) -> pd.DataFrame:
    """This run's Tabel 4.2: one row per scenario, the paper's seven columns."""
    rows = {}
    for name, record in records.items():
        rows[name] = {column: _pick(record, path) for column, path in _RECORD_PATHS.items()}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(TABLE_COLUMNS))
    table.insert(0, "model", [SCENARIOS[name].model for name in table.index])
    table.insert(1, "balancing", [records[name]["config"].get("balancing") or "none"
                                  for name in table.index])
    table.index.name = "scenario"
    return table


def paper_comparison(records: Mapping[str, dict], note: str = "") -> pd.DataFrame:
    """The paper's value beside this run's for every scenario and quantity (long form:
    index scenario x quantity; columns paper, this run, difference)."""
    from kerasbench.reports import compare_with_paper

    this_run = scenario_table(records)
    parts = {}
    for name in this_run.index:
        measured = {column: _number(this_run.loc[name, column]) for column in TABLE_COLUMNS}
        parts[name] = compare_with_paper(PAPER_RESULTS[name], measured)
    table = pd.concat(parts, names=["scenario", "quantity"])
    if note:
        table.attrs["note"] = note
    return table


def paper_side_by_side(records: Mapping[str, dict]) -> pd.DataFrame:
    """The same numbers in the paper's layout: one row per scenario, each quantity as a
    pair of columns ``<quantity> (paper)`` and ``<quantity> (this run)``."""
    this_run = scenario_table(records)
    columns = {}
    for column in TABLE_COLUMNS:
        columns[f"{column} (paper)"] = [PAPER_RESULTS[name][column] for name in this_run.index]
        columns[f"{column} (this run)"] = [_number(value) for value in this_run[column]]
    return pd.DataFrame(columns, index=this_run.index)


def _number(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def per_class_f1_table(records: Mapping[str, dict]) -> pd.DataFrame:
    """Test F1 per class (columns) for each scenario (rows), with the macro F1."""
    rows = {}
    for name, record in records.items():
        test = record["metrics"]["test"]
        row = {class_name: values["f1"] for class_name, values in test["per_class"].items()}
        row["macro F1"] = test["macro_f1"]
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    return table


def recorded_parameters(records: Mapping[str, dict]) -> pd.DataFrame:
    """Parameter counts as recorded by each run, beside the paper's totals."""
    rows = {}
    for name, record in records.items():
        model = SCENARIOS[name].model
        counts = record.get("parameters") or {}
        rows[name] = {"model": model, "total": counts.get("total"),
                      "trainable": counts.get("trainable"),
                      "non-trainable": counts.get("non_trainable"),
                      "paper total": PAPER_PARAMETERS.get(model)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    return table


# --------------------------------------------------------------------------- figures


def _relabel_curves(figure, path, monitor_label: str) -> None:
    """Name the dashed per-epoch curves after the split they really come from (plots.py
    calls them "validation"), mark every point (a one-epoch curve is otherwise invisible
    in ``curve_panels``) and save the figure again."""
    for axis in figure.axes:
        for line in axis.get_lines():
            line.set_marker(".")
            label = line.get_label()
            if label.startswith("validation"):
                line.set_label(label.replace("validation", monitor_label, 1))
        if axis.get_legend() is not None:
            axis.legend(fontsize=7)
    figure.savefig(path, dpi=110)


def save_figures(records: Mapping[str, dict], context, *, monitor_split: str | None = "test",
                 show: bool = False) -> dict[str, Path]:
    """Curves per scenario (and all together), confusion matrices, training-time bars.

    ``monitor_split`` names the dashed per-epoch curves (the split :func:`run_scenarios`
    monitored). Every figure carries ``context.note``; returns ``{figure name: path}``.
    """
    import matplotlib.pyplot as plt

    from kerasbench import plots

    note = context.note
    monitor_label = f"{monitor_split} (monitored)" if monitor_split else "validation"
    paths = {}

    def keep(name, figure):
        paths[name] = context.figure(name)
        if not show:
            plt.close(figure)

    histories = {}
    for name, record in records.items():
        label = SCENARIOS[name].label
        histories[label] = record.get("history") or {}
        figure = plots.training_curves(histories[label], context.figure(f"curves_{name}"),
                                       title=label, note=note)
        _relabel_curves(figure, context.figure(f"curves_{name}"), monitor_label)
        keep(f"curves_{name}", figure)
        test = record["metrics"]["test"]
        keep(f"confusion_{name}", plots.confusion_matrix(
            test["confusion_matrix"], test["class_names"], context.figure(f"confusion_{name}"),
            title=f"{label}: test confusion matrix", note=note))
    figure = plots.curve_panels(histories, context.figure("curves_all"),
                                title="loss and accuracy per epoch and scenario", note=note)
    _relabel_curves(figure, context.figure("curves_all"), monitor_label)
    keep("curves_all", figure)
    seconds = {SCENARIOS[name].label: record["durations"]["training_seconds"]
               for name, record in records.items()}
    keep("training_time", plots.bar_chart(seconds, context.figure("training_time"),
                                          title="training time, this run", note=note,
                                          ylabel="seconds"))
    paper_seconds = {SCENARIOS[name].label: PAPER_RESULTS[name]["training time (s)"]
                     for name in records}
    keep("training_time_paper", plots.bar_chart(
        paper_seconds, context.figure("training_time_paper"),
        title="training time reported by the paper (100 epochs, full FER2013, GPU)",
        ylabel="seconds"))
    return paths
