"""Down syndrome faces: ResNet transfer learning in three batch-size / learning-rate runs.

Paper: M. D. A. Pranatha, G. H. Setiawan, M. A. Maricar (2024), "Utilization of ResNet
Architecture and Transfer Learning Method in the Classification of Faces of Individuals with
Down Syndrome". Protocol (``shared/studies.md`` section 4):

- data: Kaggle ``mervecayli/detection-of-down-syndrome-in-children``, 3,000 photos of
  children, two classes; the paper's split is train 1046 / 1053, validation 307 / 297, test
  147 / 150 (down syndrome / healthy), i.e. about 70 / 20 / 10 %;
- augmentation: resize to 224x224, random resized crop, random horizontal flip (training
  only);
- model: ResNet34 pretrained on ImageNet, early layers frozen, last layers retrained, a dense
  softmax head; AdamW (decoupled weight decay); up to 100 epochs with early stopping on
  validation (the runs stopped at epochs 30, 56, 58);
- experiments: E1 batch 32, lr 1e-4; E2 batch 128, lr 1e-3; E3 batch 256, lr 1e-3.

Keras Applications has no ResNet34, so the study runs ResNet50 (ImageNet) by default and the
registry's ResNet34 (``kerasbench.architectures``) is there for users who bring weights.

Labels: the study orders the two classes as ``[negative, positive]``, so the positive class
(the paper's "down syndrome") is label 1, as in the paper's confusion matrices (0 healthy,
1 down syndrome) and as ``docs/architecture.md`` asks of binary studies.

Every loop of the notebook lives here: loading and relabelling the data, the experiment
runs, the tables beside the paper, and the figures.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.data.index import SPLITS, DatasetIndex, index_folder
from kerasbench.data.selection import ensure_validation_split, select_binary

STUDY = "down_syndrome"
KAGGLE_SLUG = "mervecayli/detection-of-down-syndrome-in-children"
# The folder name Kaggle mounts the data set under (/kaggle/input/<name>).
DATASET_NAME = "detection-of-down-syndrome-in-children"
DEMO_DATASET = "down_syndrome"
PAPER_MAX_EPOCHS = 100

PAPER_EXPERIMENTS = (
    {"name": "E1", "batch_size": 32, "learning_rate": 1e-4},
    {"name": "E2", "batch_size": 128, "learning_rate": 1e-3},
    {"name": "E3", "batch_size": 256, "learning_rate": 1e-3},
)

# Table III (test accuracy in %, the other three as fractions) and the text of section III
# (training / validation accuracy in % at the epoch each run stopped).
PAPER_RESULTS = {
    "E1": {"test_accuracy": 82.83, "precision": 0.8362, "recall": 0.8350, "f1": 0.8348,
           "train_accuracy": 98.7, "validation_accuracy": 81.2, "stopped_epoch": 30},
    "E2": {"test_accuracy": 87.88, "precision": 0.8956, "recall": 0.8956, "f1": 0.8956,
           "train_accuracy": 97.37, "validation_accuracy": 86.40, "stopped_epoch": 56},
    "E3": {"test_accuracy": 80.47, "precision": 0.8272, "recall": 0.8249, "f1": 0.8247,
           "train_accuracy": 88.80, "validation_accuracy": 67.33, "stopped_epoch": 58},
}

# The paper's test confusion matrices, rows true and columns predicted, in the paper's label
# order (0 healthy, 1 down syndrome). E3's text repeats E1's numbers word for word, so it is
# left out rather than copied.
PAPER_CONFUSION_CLASSES = ("healthy", "down syndrome")
PAPER_CONFUSION = {
    "E1": [[118, 32], [20, 127]],
    "E2": [[134, 16], [15, 132]],
}
PAPER_SPLIT_COUNTS = pd.DataFrame(
    {"train": [1053, 1046], "validation": [297, 307], "test": [150, 147]},
    index=pd.Index(list(PAPER_CONFUSION_CLASSES), name="class"),
)

# torchvision's RandomResizedCrop defaults (area 8-100 %, aspect ratio 3/4-4/3), the common
# practice the paper's "random resize crop" most likely followed, and a horizontal flip.
DEFAULT_AUGMENTATION = {
    "random_resized_crop": {"scale": [0.08, 1.0], "ratio": [3.0 / 4.0, 4.0 / 3.0]},
    "horizontal_flip": True,
}

_EXPERIMENT_KEYS = {"name": "name", "batch_size": "batch_size", "batch": "batch_size",
                    "learning_rate": "learning_rate", "lr": "learning_rate"}


# --------------------------------------------------------------------------- settings


def check_experiments(experiments: Iterable[Mapping]) -> list[dict]:
    """The experiments as ``[{"name", "batch_size", "learning_rate"}, ...]``.

    Each item needs a name, a batch size (``batch_size`` or ``batch``) and a learning rate
    (``learning_rate`` or ``lr``); names must be unique because records and tables are
    keyed by them.
    """
    if isinstance(experiments, Mapping) or isinstance(experiments, str):
        raise ValueError(
            "experiments must be a list of dicts such as "
            "[{'name': 'E1', 'batch_size': 32, 'learning_rate': 1e-4}]"
        )
    checked = []
    for position, experiment in enumerate(experiments):
        if not isinstance(experiment, Mapping):
            raise ValueError(f"experiment {position} must be a dict, got {experiment!r}")
        unknown = sorted(set(experiment) - set(_EXPERIMENT_KEYS))
        if unknown:
            raise ValueError(
                f"experiment {position} has unknown keys {unknown}; use name, batch_size "
                "(or batch) and learning_rate (or lr)"
            )
        item = {}
        for key, value in experiment.items():
            canonical = _EXPERIMENT_KEYS[key]
            if canonical in item:
                raise ValueError(f"experiment {position} gives {canonical} twice")
            item[canonical] = value
        missing = [key for key in ("name", "batch_size", "learning_rate") if key not in item]
        if missing:
            raise ValueError(f"experiment {position} lacks {missing}")
        batch_size = item["batch_size"]
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(f"experiment {item['name']!r}: batch_size must be a positive int, "
                             f"got {batch_size!r}")
        learning_rate = item["learning_rate"]
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float)) \
                or not learning_rate > 0:
            raise ValueError(f"experiment {item['name']!r}: learning_rate must be a positive "
                             f"number, got {learning_rate!r}")
        checked.append({"name": str(item["name"]), "batch_size": int(batch_size),
                        "learning_rate": float(learning_rate)})
    if not checked:
        raise ValueError("experiments is empty: give at least one experiment")
    names = [item["name"] for item in checked]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"experiment names must be unique; repeated: {duplicates}")
    return checked


def augmentation_settings(augmentation: Mapping | None) -> dict | None:
    """Checked, JSON-ready augmentation settings (ImageDataGenerator names plus
    ``random_resized_crop``); None or an empty dict means no augmentation."""
    if not augmentation:
        return None
    from kerasbench.augment import Augmentation

    if not isinstance(augmentation, Mapping):
        raise ValueError(f"augmentation must be a dict of settings or None, got {augmentation!r}")
    settings = {key: value for key, value in augmentation.items()}
    crop = settings.get("random_resized_crop")
    if isinstance(crop, Mapping):
        settings["random_resized_crop"] = {key: [float(v) for v in value]
                                           for key, value in crop.items()}
    # Building it validates every name and range with the augment module's own messages.
    Augmentation(**settings)
    return settings


def describe_augmentation(augmentation: Mapping | None) -> list[str]:
    """One line per active augmentation layer (training only; evaluation is never augmented)."""
    from kerasbench.augment import Augmentation

    settings = augmentation_settings(augmentation)
    if settings is None:
        return ["(no augmentation)"]
    return Augmentation(**settings).describe()


def early_stopping_settings(patience: int, monitor: str = "val_loss") -> dict:
    """Early stopping on a validation quantity that keeps the best epoch's weights."""
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 0:
        raise ValueError(f"patience must be an int >= 0, got {patience!r}")
    if not str(monitor).startswith("val_"):
        raise ValueError(
            f"monitor must be a validation quantity (val_loss or val_accuracy), got {monitor!r}"
        )
    return {"monitor": str(monitor), "patience": int(patience), "restore_best_weights": True}


def experiment_config(
    experiment: Mapping,
    *,
    backbone: str,
    weights,
    image_size: int,
    trainable_stages,
    max_epochs: int,
    patience: int,
    weight_decay: float | None,
    augmentation: Mapping | None,
    seed: int,
    monitor: str = "val_loss",
    dataset=None,
    positive_class: str | None = None,
) -> dict:
    """The ``run_classification`` config of one experiment: AdamW with decoupled weight
    decay, a dense softmax head, the last ``trainable_stages`` stages retrained, early
    stopping with the best weights restored."""
    (experiment,) = check_experiments([experiment])
    if isinstance(max_epochs, bool) or not isinstance(max_epochs, (int, np.integer)) \
            or max_epochs < 1:
        raise ValueError(f"max_epochs must be a positive int, got {max_epochs!r}")
    config = {
        "study": STUDY,
        "experiment": experiment["name"],
        "backbone": backbone,
        "weights": None if weights is None else str(weights),
        "image_size": int(image_size),
        "batch_size": experiment["batch_size"],
        "learning_rate": experiment["learning_rate"],
        "epochs": int(max_epochs),
        "optimizer": "adamw",
        "weight_decay": None if weight_decay is None else float(weight_decay),
        # The paper's head is a dense softmax layer; sparse cross-entropy on int labels is
        # the same loss as categorical cross-entropy on one-hot labels.
        "head": "softmax",
        "trainable": trainable_stages,
        "augmentation": augmentation_settings(augmentation),
        "early_stopping": early_stopping_settings(patience, monitor),
        "seed": int(seed),
    }
    if dataset is not None:
        config["dataset"] = dataset
    if positive_class is not None:
        config["positive_class"] = positive_class
    return config


# --------------------------------------------------------------------------- data


def find_class_root(folder: str | os.PathLike) -> Path:
    """Step down through wrapper folders (a folder whose only visible entry is one folder),
    as archives often add one (``data/<name>/<class>/...``); returns the folder that holds
    the split or class folders."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"dataset folder {folder} does not exist; download the Kaggle data set "
            f"{KAGGLE_SLUG} and pass its folder as data_dir (see datasets.md)"
        )
    for _ in range(5):
        entries = [entry for entry in folder.iterdir() if not entry.name.startswith(".")
                   and entry.name != "__MACOSX"]
        if len(entries) == 1 and entries[0].is_dir():
            folder = entries[0]
        else:
            break
    return folder


def load_index(
    data_dir: str | os.PathLike,
    *,
    positive_class: str,
    classes: Sequence[str] | None = None,
    per_class: Mapping[str, int | None] | None = None,
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
      images held out, stratified and seeded
      (:func:`kerasbench.data.selection.ensure_validation_split`).
    - ``classes`` picks two classes of a larger data set; ``per_class`` keeps at most that
      many images per class in each named split (``{"train": 150, "test": 50}``), seeded.
    """
    root = find_class_root(data_dir)
    index = index_folder(root, split_file=split_file, validation_fraction=validation_fraction,
                         test_fraction=test_fraction, seed=int(seed))
    index = select_binary(index, positive_class, classes)
    index = ensure_validation_split(index, seed=int(seed), fraction=validation_fraction)
    if per_class:
        index = index.subsample(dict(per_class), seed=int(seed), per_class=True)
    missing = [split for split in SPLITS if split not in index.splits]
    if missing:
        raise ValueError(f"the study needs train, validation and test images; {root} gives "
                         f"none for {missing}")
    return index


def dataset_description(index: DatasetIndex, source_description: str) -> dict:
    """What the runs were trained on, stored in every config so a changed data set (other
    classes, other subsample) never reuses old records."""
    counts = index.frame["split"].value_counts()
    return {
        "source": str(source_description),
        "classes": list(index.class_names),
        "images": {split: int(counts.get(split, 0)) for split in SPLITS},
    }


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
    from kerasbench.augment import Augmentation
    from kerasbench.pipeline import load_image

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


# --------------------------------------------------------------------------- model


def parameter_count_table(backbone: str, *, image_size: int, num_classes: int = 2,
                          stages: Iterable[int] | None = None) -> pd.DataFrame:
    """Trainable / non-trainable parameters of the classifier for each number N of
    retrained last stages (0 = backbone frozen). Counts do not depend on the weights, so
    the model is built once with random weights and re-frozen for each N."""
    from kerasbench.backbones import get_backbone
    from kerasbench.heads import build_classifier, set_trainable

    spec = get_backbone(backbone)
    model = build_classifier(spec.name, num_classes, image_size=image_size, weights=None,
                             head="softmax", trainable="frozen")
    stage_count = len(spec.stage_prefixes)
    stages = range(stage_count + 1) if stages is None else stages
    rows = []
    for count in stages:
        # heads.set_trainable does not re-enable layers an earlier, smaller N froze one by
        # one (going from N=1 to N=2 leaves conv4 frozen); freezing the whole backbone
        # first resets them.
        set_trainable(model, "frozen")
        trainable, non_trainable = set_trainable(model, int(count))
        retrained = [prefix.rstrip("_") for prefix in spec.stage_prefixes[stage_count - count:]]
        rows.append({"trainable_stages": int(count),
                     "retrained": ", ".join(retrained) if count else "(head only)",
                     "trainable": trainable, "non_trainable": non_trainable,
                     "total": trainable + non_trainable})
    return pd.DataFrame(rows).set_index("trainable_stages")


# --------------------------------------------------------------------------- runs


def run_experiments(
    experiments: Iterable[Mapping],
    index: DatasetIndex,
    store,
    *,
    overwrite: bool = False,
    verbose: int = 0,
    **settings,
) -> list:
    """Train and evaluate every experiment (``run_classification``) and return the
    ``RunResult`` of each, in order. ``settings`` are :func:`experiment_config`'s keyword
    arguments. A finished experiment already in ``store`` is reused (``overwrite=False``),
    so an interrupted notebook resumes."""
    from kerasbench.runs import run_classification

    results = []
    for experiment in check_experiments(experiments):
        config = experiment_config(experiment, **settings)
        result = run_classification(config, index, store, overwrite=overwrite, verbose=verbose)
        print(run_summary_line(result.record, skipped=result.skipped))
        results.append(result)
    return results


def run_summary_line(record: Mapping, skipped: bool = False) -> str:
    """One printed line per run: batch asked / used, parameters, epochs, time."""
    config, training = record["config"], record.get("training", {})
    parameters = record.get("parameters", {})
    seconds = record.get("durations", {}).get("training_seconds")
    return (
        f"{config.get('experiment')}: batch {config['batch_size']} -> "
        f"{record.get('batch_size_effective')} used, lr {config['learning_rate']:g}, "
        f"trainable {parameters.get('trainable', 0):,} / non-trainable "
        f"{parameters.get('non_trainable', 0):,} parameters; "
        f"{training.get('epochs_run')} epochs run, stopped at {training.get('stopped_epoch')}"
        f"{' (early)' if training.get('stopped_early') else ''}, best {training.get('best_epoch')}"
        + (f", {seconds:.0f} s" if seconds is not None else "")
        + (" [reused record]" if skipped else "")
    )


def history_value(record: Mapping, key: str, epoch: int | None) -> float | None:
    """``history[key]`` at 1-based ``epoch`` (None when absent)."""
    values = (record.get("history") or {}).get(key)
    if not values or epoch is None or not 1 <= int(epoch) <= len(values):
        return None
    return float(values[int(epoch) - 1])


def _percent(value):
    return None if value is None else 100.0 * value


def experiment_row(record: Mapping) -> dict:
    """This run's numbers for one experiment, in the paper's units (accuracy in %, precision
    / recall / F1 as fractions, macro averages as in sklearn's report; see the notebook)."""
    config, training = record["config"], record.get("training", {})
    test = record["metrics"]["test"]
    positive = record["class_names"][1]
    per_positive = test["per_class"][positive]
    stopped, best = training.get("stopped_epoch"), training.get("best_epoch")
    return {
        "experiment": config.get("experiment"),
        "batch (asked)": config["batch_size"],
        "batch (used)": record.get("batch_size_effective"),
        "learning rate": config["learning_rate"],
        "epochs run": training.get("epochs_run"),
        "stopped epoch": stopped,
        "best epoch (weights kept)": best,
        "stopped early": training.get("stopped_early"),
        "train acc % at stop": _percent(history_value(record, "accuracy", stopped)),
        "val acc % at stop": _percent(history_value(record, "val_accuracy", stopped)),
        "val acc % at best": _percent(history_value(record, "val_accuracy", best)),
        "test accuracy %": 100.0 * test["accuracy"],
        "precision (macro)": test["macro_precision"],
        "recall (macro)": test["macro_recall"],
        "F1 (macro)": test["macro_f1"],
        f"precision ({positive})": per_positive["precision"],
        f"recall ({positive})": per_positive["recall"],
        "trainable params": record.get("parameters", {}).get("trainable"),
        "non-trainable params": record.get("parameters", {}).get("non_trainable"),
        "training s": record.get("durations", {}).get("training_seconds"),
    }


def experiments_table(records: Sequence[Mapping]) -> pd.DataFrame:
    """One row per experiment (index), with requested and effective batch size, the stop
    and best epochs, accuracies at the stop epoch and the test metrics."""
    if not records:
        raise ValueError("no records: run the experiments first")
    return pd.DataFrame([experiment_row(record) for record in records]).set_index("experiment")


def paper_results_table() -> pd.DataFrame:
    """The paper's Table III and stop-epoch numbers, one row per experiment."""
    rows = []
    for experiment in PAPER_EXPERIMENTS:
        reported = PAPER_RESULTS[experiment["name"]]
        rows.append({"experiment": experiment["name"], "batch": experiment["batch_size"],
                     "learning rate": experiment["learning_rate"],
                     "stopped epoch": reported["stopped_epoch"],
                     "train acc % at stop": reported["train_accuracy"],
                     "val acc % at stop": reported["validation_accuracy"],
                     "test accuracy %": reported["test_accuracy"],
                     "precision": reported["precision"], "recall": reported["recall"],
                     "F1": reported["f1"]})
    return pd.DataFrame(rows).set_index("experiment")


def comparison_table(records: Sequence[Mapping], note: str = "") -> pd.DataFrame:
    """The paper's numbers beside this run's (``reports.compare_with_paper``), rows
    ``(experiment, quantity)``; experiments the paper does not have get no paper column."""
    from kerasbench.reports import compare_with_paper

    parts = {}
    for record in records:
        row = experiment_row(record)
        name = row["experiment"]
        reported = PAPER_RESULTS.get(name, {})
        paper = {
            "test accuracy %": reported.get("test_accuracy"),
            "precision (macro)": reported.get("precision"),
            "recall (macro)": reported.get("recall"),
            "F1 (macro)": reported.get("f1"),
            "stopped epoch": reported.get("stopped_epoch"),
            "train acc % at stop": reported.get("train_accuracy"),
            "val acc % at stop": reported.get("validation_accuracy"),
        }
        this_run = {key: row[key] for key in paper}
        parts[name] = compare_with_paper(paper, this_run, note=note)
    table = pd.concat(parts, names=["experiment", "quantity"])
    if note:
        table.attrs["note"] = note
    return table


def stop_epoch_table(records: Sequence[Mapping]) -> pd.DataFrame:
    """Train / validation accuracy at the epoch each run stopped (and at the best epoch,
    whose weights were kept), beside the paper's."""
    rows = []
    for record in records:
        row = experiment_row(record)
        reported = PAPER_RESULTS.get(row["experiment"], {})
        best = record.get("training", {}).get("best_epoch")
        rows.append({
            "experiment": row["experiment"],
            "stopped epoch (paper)": reported.get("stopped_epoch"),
            "stopped epoch": row["stopped epoch"],
            "best epoch": best,
            "train acc % (paper)": reported.get("train_accuracy"),
            "train acc % at stop": row["train acc % at stop"],
            "train acc % at best": _percent(history_value(record, "accuracy", best)),
            "val acc % (paper)": reported.get("validation_accuracy"),
            "val acc % at stop": row["val acc % at stop"],
            "val acc % at best": row["val acc % at best"],
        })
    return pd.DataFrame(rows).set_index("experiment")


def confusion_metrics(matrix, class_names: Sequence[str]) -> dict:
    """Accuracy (%) and macro precision / recall / F1 implied by a confusion matrix (rows
    true, columns predicted), plus the recall of the last (positive) class."""
    from kerasbench.metrics import classification_metrics

    matrix = np.asarray(matrix, dtype=int)
    true = np.repeat(np.arange(matrix.shape[0]), matrix.sum(axis=1))
    predicted = np.concatenate([np.repeat(np.arange(matrix.shape[1]), row) for row in matrix])
    result = classification_metrics(true, predicted, list(class_names))
    positive = list(class_names)[-1]
    return {"test accuracy %": 100.0 * result["accuracy"],
            "precision (macro)": result["macro_precision"],
            "recall (macro)": result["macro_recall"], "F1 (macro)": result["macro_f1"],
            f"recall ({positive})": result["per_class"][positive]["recall"],
            "images": result["count"]}


def paper_consistency_table() -> pd.DataFrame:
    """What the paper's own confusion matrices imply, beside what its Table III reports:
    they disagree (E1: 245 of 297 right is 82.49 %, not 82.83 %; E2's matrix gives 89.56 %,
    which is its reported precision / recall / F1, not its reported accuracy 87.88 %)."""
    rows = []
    for name, matrix in PAPER_CONFUSION.items():
        implied = confusion_metrics(matrix, PAPER_CONFUSION_CLASSES)
        reported = PAPER_RESULTS[name]
        rows.append({"experiment": name,
                     "accuracy % (reported)": reported["test_accuracy"],
                     "accuracy % (from matrix)": implied["test accuracy %"],
                     "precision (reported)": reported["precision"],
                     "precision macro (from matrix)": implied["precision (macro)"],
                     "recall (reported)": reported["recall"],
                     "recall macro (from matrix)": implied["recall (macro)"],
                     "F1 (reported)": reported["f1"],
                     "F1 macro (from matrix)": implied["F1 (macro)"],
                     "images in matrix": implied["images"]})
    return pd.DataFrame(rows).set_index("experiment")


def confusion_frame(record: Mapping, split: str = "test") -> pd.DataFrame:
    """A run's confusion matrix with labelled rows (true) and columns (predicted); the
    positive class is the last row/column and is marked ``(positive)``."""
    metrics = record["metrics"][split]
    names = list(metrics["class_names"])
    labels = [f"{name} (positive)" if i == len(names) - 1 else name
              for i, name in enumerate(names)]
    return pd.DataFrame(metrics["confusion_matrix"], index=pd.Index(labels, name="true"),
                        columns=pd.Index(labels, name="predicted"))


def paper_confusion_frame(name: str) -> pd.DataFrame:
    """The paper's confusion matrix of experiment ``name``, labelled like ours."""
    if name not in PAPER_CONFUSION:
        raise ValueError(f"the paper gives confusion matrices for {sorted(PAPER_CONFUSION)} "
                         f"only (E3's text repeats E1's numbers), not {name!r}")
    labels = [PAPER_CONFUSION_CLASSES[0], f"{PAPER_CONFUSION_CLASSES[1]} (positive)"]
    return pd.DataFrame(PAPER_CONFUSION[name], index=pd.Index(labels, name="true"),
                        columns=pd.Index(labels, name="predicted"))


# --------------------------------------------------------------------------- figures


def _fit_title(figure, path, width: float = 7.0):
    """Widen a small figure so that its title and the data note fit, then save it again:
    ``plots`` sizes confusion matrices and bar charts for their contents only, and a long
    note line is cut off at both sides."""
    current_width, current_height = figure.get_size_inches()
    figure.set_size_inches(max(current_width, width), current_height + 0.6)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    return figure


def plot_confusion_matrices(records: Sequence[Mapping], context, split: str = "test") -> list:
    """One confusion-matrix figure per experiment, the positive class in the title."""
    from kerasbench import plots

    figures = []
    for record in records:
        name = record["config"].get("experiment")
        names = list(record["metrics"][split]["class_names"])
        title = (f"{name} {split} confusion matrix (rows true, columns predicted)\n"
                 f"positive class = {names[-1]} (label 1)")
        path = context.figure(f"confusion_{name}_{split}")
        figure = plots.confusion_matrix(record["metrics"][split]["confusion_matrix"], names,
                                        path, title=title, note=context.note)
        figures.append(_fit_title(figure, path))
    return figures


def plot_paper_confusion_matrices(context) -> list:
    """The paper's E1 and E2 test confusion matrices (0 healthy, 1 down syndrome)."""
    from kerasbench import plots

    figures = []
    for name, matrix in PAPER_CONFUSION.items():
        title = (f"paper {name} test confusion matrix (rows true, columns predicted)\n"
                 f"positive class = {PAPER_CONFUSION_CLASSES[1]} (label 1)")
        path = context.figure(f"paper_confusion_{name}")
        figure = plots.confusion_matrix(matrix, list(PAPER_CONFUSION_CLASSES), path,
                                        title=title, note="numbers from the paper")
        figures.append(_fit_title(figure, path))
    return figures


def plot_test_accuracy_vs_paper(records: Sequence[Mapping], context):
    """Test accuracy per experiment, this run's bars beside the paper's."""
    from kerasbench import plots

    this_run = {record["config"].get("experiment"): 100.0 * record["metrics"]["test"]["accuracy"]
                for record in records}
    paper = {name: PAPER_RESULTS[name]["test_accuracy"] for name in this_run
             if name in PAPER_RESULTS}
    path = context.figure("test_accuracy_vs_paper")
    figure = plots.bar_chart(this_run, path, reference=paper, ylabel="test accuracy %",
                             title="test accuracy per experiment", note=context.note)
    return _fit_title(figure, path)


def plot_training_curves(records: Sequence[Mapping], context) -> list:
    """Loss and accuracy per epoch for each experiment, with the epoch whose weights were
    kept (best) and the epoch training stopped at both marked."""
    from kerasbench import plots

    figures = []
    for record in records:
        name = record["config"].get("experiment")
        training = record.get("training", {})
        best, stopped = training.get("best_epoch"), training.get("stopped_epoch")
        reported = PAPER_RESULTS.get(name, {}).get("stopped_epoch")
        asked, used = record["config"]["batch_size"], record.get("batch_size_effective")
        batch = f"batch {asked}" + (f" (used {used})" if used != asked else "")
        title = (f"{name}: {batch}, lr {record['config']['learning_rate']:g}; stopped at epoch "
                 f"{stopped}" + (f" (paper: {reported})" if reported else ""))
        path = context.figure(f"curves_{name}")
        figure = plots.training_curves(record["history"], None, title=title,
                                       note=context.note, stop_epoch=best)
        if stopped and stopped != best:
            for axis in figure.axes:
                axis.axvline(stopped, color="red", linestyle="--", alpha=0.6,
                             label=f"stopped at epoch {stopped}")
                axis.legend(fontsize=8)
        figure.savefig(path, dpi=110)
        figures.append(figure)
    return figures


def plot_curve_panels(records: Sequence[Mapping], context):
    """All experiments side by side on shared axes (one column per experiment)."""
    from kerasbench import plots

    histories = {record["config"].get("experiment"): record["history"] for record in records}
    return plots.curve_panels(histories, context.figure("curves_all"),
                              title="training (solid) and validation (dashed)",
                              note=context.note)


# --------------------------------------------------------------------------- outputs


def save_tables(tables: Mapping[str, pd.DataFrame], context) -> dict:
    """Write each table as CSV and markdown under ``tables/``, each with the data note."""
    from kerasbench.reports import save_table

    return {name: save_table(table, context.table(name), note=context.note)
            for name, table in tables.items()}
