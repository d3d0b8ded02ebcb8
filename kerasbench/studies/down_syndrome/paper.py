"""The paper's numbers and what they imply.

M. D. A. Pranatha, G. H. Setiawan, M. A. Maricar (2024), "Utilization of ResNet Architecture
and Transfer Learning Method in the Classification of Faces of Individuals with Down
Syndrome": Table I (the split), Table II (the experiments), Table III and section III (the
results), and its test confusion matrices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

KAGGLE_SLUG = "mervecayli/detection-of-down-syndrome-in-children"
# The folder name Kaggle mounts the data set under (/kaggle/input/<name>).
DATASET_NAME = "detection-of-down-syndrome-in-children"
PAPER_MAX_EPOCHS = 100

# Table II.
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
# Table I: images per class and split.
PAPER_SPLIT_COUNTS = pd.DataFrame(
    {"train": [1053, 1046], "validation": [297, 307], "test": [150, 147]},
    index=pd.Index(list(PAPER_CONFUSION_CLASSES), name="class"),
)


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


def paper_confusion_frame(name: str) -> pd.DataFrame:
    """The paper's confusion matrix of experiment ``name``, labelled like this run's."""
    if name not in PAPER_CONFUSION:
        raise ValueError(f"the paper gives confusion matrices for {sorted(PAPER_CONFUSION)} "
                         f"only (E3's text repeats E1's numbers), not {name!r}")
    labels = [PAPER_CONFUSION_CLASSES[0], f"{PAPER_CONFUSION_CLASSES[1]} (positive)"]
    return pd.DataFrame(PAPER_CONFUSION[name], index=pd.Index(labels, name="true"),
                        columns=pd.Index(labels, name="predicted"))
