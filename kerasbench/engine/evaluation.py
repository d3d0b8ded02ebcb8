"""Evaluation in ONE ordered, unshuffled pass: labels, outputs, probabilities and file
paths come from the same iteration, so metrics can never pair a label with another
image's prediction."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kerasbench import metrics as metric_functions


@dataclass
class SplitPredictions:
    """Everything one evaluation pass produced, aligned row by row with the index split."""

    split: str
    paths: list
    y_true: np.ndarray
    y_pred: np.ndarray
    probabilities: np.ndarray
    seconds: float
    class_names: Sequence[str] = field(default_factory=list)

    def compact(self) -> dict:
        """What a record keeps for intervals and paired tests: labels, predictions and,
        for two classes, the score of class 1 (row-aligned with the split's images)."""
        stored = {"y_true": self.y_true.tolist(), "y_pred": self.y_pred.tolist()}
        probabilities = np.asarray(self.probabilities)
        if probabilities.ndim == 1:
            stored["score"] = probabilities.tolist()
        elif probabilities.shape[1] == 2:
            stored["score"] = probabilities[:, 1].tolist()
        return stored

    def frame(self) -> pd.DataFrame:
        table = pd.DataFrame({"path": self.paths, "true": self.y_true, "predicted": self.y_pred})
        if self.class_names:
            table["true_class"] = [self.class_names[i] for i in self.y_true]
            table["predicted_class"] = [self.class_names[i] for i in self.y_pred]
        probabilities = self.probabilities
        if probabilities.ndim == 1:
            table["probability_class_1"] = probabilities
        else:
            table["confidence"] = probabilities.max(axis=1)
        return table


def outputs_to_probabilities(outputs: np.ndarray, head: str) -> np.ndarray:
    """Model outputs -> class probabilities (N x C), or P(class 1) (N,) for a sigmoid head."""
    outputs = np.asarray(outputs, dtype=np.float64)
    if head == "sigmoid":
        return outputs.reshape(-1)
    if head == "logits":
        shifted = outputs - outputs.max(axis=1, keepdims=True)
        exponentials = np.exp(shifted)
        return exponentials / exponentials.sum(axis=1, keepdims=True)
    if head == "softmax":
        return outputs
    raise ValueError(f"head must be logits, softmax or sigmoid, got {head!r}")


def probabilities_to_labels(probabilities: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    if probabilities.ndim == 1:
        return (probabilities >= threshold).astype(int)
    return probabilities.argmax(axis=1).astype(int)


def predict_frame(
    model,
    frame: pd.DataFrame,
    *,
    image_size,
    head: str,
    channels: int = 3,
    batch_size: int = 64,
    split: str = "",
    class_names: Sequence[str] = (),
) -> SplitPredictions:
    """One ordered, unshuffled pass over ``frame``: labels and outputs from the same batches."""
    from kerasbench.pipeline import make_dataset

    dataset = make_dataset(
        frame, image_size=image_size, channels=channels, batch_size=batch_size,
        label_mode="int", shuffle=False,
    )
    labels, outputs = [], []
    start = time.perf_counter()
    for images, batch_labels in dataset:
        outputs.append(np.asarray(model(images, training=False)))
        labels.append(np.asarray(batch_labels).reshape(-1))
    seconds = time.perf_counter() - start
    y_true = np.concatenate(labels).astype(int)
    if len(y_true) != len(frame) or not np.array_equal(y_true, frame["label"].to_numpy()):
        raise RuntimeError("evaluation pass lost the index order; refusing to report metrics")
    probabilities = outputs_to_probabilities(np.concatenate(outputs), head)
    return SplitPredictions(
        split=split,
        paths=frame["path"].tolist(),
        y_true=y_true,
        y_pred=probabilities_to_labels(probabilities),
        probabilities=probabilities,
        seconds=seconds,
        class_names=list(class_names),
    )


def cross_entropy(probabilities: np.ndarray, y_true: np.ndarray) -> float:
    """Mean cross-entropy of predicted probabilities (binary for a 1-D array), with Keras's
    clipping, so a split's loss comes from the same pass as its predictions."""
    epsilon = 1e-7
    probabilities = np.clip(np.asarray(probabilities, dtype=np.float64), epsilon, 1 - epsilon)
    y_true = np.asarray(y_true).astype(int)
    if probabilities.ndim == 1:
        return float(-np.mean(y_true * np.log(probabilities)
                              + (1 - y_true) * np.log(1 - probabilities)))
    return float(-np.mean(np.log(probabilities[np.arange(len(y_true)), y_true])))


def split_metrics(predictions: SplitPredictions, class_names: Sequence[str]) -> dict:
    result = metric_functions.classification_metrics(
        predictions.y_true, predictions.y_pred, class_names
    )
    result["loss"] = cross_entropy(predictions.probabilities, predictions.y_true)
    if predictions.probabilities.ndim == 1:
        scores = metric_functions.binary_scores(predictions.y_true, predictions.probabilities)
        result["roc_auc"] = scores["roc_auc"]
        result["roc_curve"] = scores["roc_curve"]
    elif len(class_names) == 2:
        scores = metric_functions.binary_scores(predictions.y_true, predictions.probabilities[:, 1])
        result["roc_auc"] = scores["roc_auc"]
    return result


def evaluate_splits(model, index, splits: Sequence[str], *, image_size, head: str,
                    channels: int = 3, batch_size: int = 64) -> tuple[dict, dict, dict]:
    """Evaluate every split of ``splits`` the index has: (metrics, predictions, durations)."""
    class_names = list(index.class_names)
    metrics, predictions, durations = {}, {}, {"evaluate_s": 0.0}
    for split in splits:
        if split not in index.splits:
            continue
        predicted = predict_frame(model, index.split(split), image_size=image_size, head=head,
                                  channels=channels, batch_size=batch_size, split=split,
                                  class_names=class_names)
        predictions[split] = predicted
        metrics[split] = split_metrics(predicted, class_names)
        durations[f"evaluate_{split}_s"] = predicted.seconds
        durations[f"ms_per_image_{split}"] = 1000 * predicted.seconds / max(1, len(predicted.y_true))
        durations["evaluate_s"] += predicted.seconds
    return metrics, predictions, durations
