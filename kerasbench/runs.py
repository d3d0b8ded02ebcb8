"""Train and evaluate one configuration, and turn it into one tidy results record.

``run_classification`` is the shared engine of the classification studies: it seeds,
builds the datasets from the index, builds and compiles the model, trains (optionally with
early stopping), evaluates each split in ONE pass (labels, predictions, scores and file
paths come from the same iteration) and writes the record. A config already in the store
is skipped unless ``overwrite=True``, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import pandas as pd

from kerasbench import metrics as metric_functions
from kerasbench.results import ResultsStore

DEFAULT_CONFIG = {
    "backbone": "resnet50",
    "weights": None,
    "image_size": 224,
    "channels": 3,
    "batch_size": 32,
    "epochs": 1,
    "optimizer": "adam",
    "learning_rate": 1e-3,
    "weight_decay": None,
    "head": "softmax",
    "hidden_units": None,
    "dropout": 0.0,
    "trainable": "frozen",
    "label_mode": "int",
    "augmentation": None,
    "balancing": None,
    "early_stopping": None,
    # Switches for kerasbench.performance.choose_policy ({"mixed_precision": False, ...});
    # None picks the device's best. The resolved policy is recorded in every row.
    "performance": None,
    "seed": 42,
}


def resolve_config(config: dict) -> dict:
    """The config with every default filled in; unknown keys are an error (typos would
    otherwise silently create a new, different run)."""
    unknown = set(config) - set(DEFAULT_CONFIG) - {"dataset", "study", "experiment", "positive_class"}
    if unknown:
        raise ValueError(
            f"unknown run settings {sorted(unknown)}; known settings: {sorted(DEFAULT_CONFIG)} "
            "plus dataset, study, experiment, positive_class"
        )
    resolved = {**DEFAULT_CONFIG, **config}
    if resolved["augmentation"] is not None and not isinstance(resolved["augmentation"], dict):
        raise ValueError("augmentation must be a dict of ImageDataGenerator-style settings or None")
    return resolved


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


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's wall time into the history as ``epoch_seconds``."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


def early_stopping_callback(settings: dict | None):
    """``{"monitor": "val_loss", "patience": 10, "restore_best_weights": True}`` -> callback."""
    if not settings:
        return None
    allowed = {"monitor", "patience", "min_delta", "restore_best_weights", "mode", "start_from_epoch"}
    unknown = set(settings) - allowed
    if unknown:
        raise ValueError(f"unknown early_stopping settings {sorted(unknown)}; allowed: {sorted(allowed)}")
    options = {"monitor": "val_loss", "patience": 10, "restore_best_weights": True, **settings}
    return keras.callbacks.EarlyStopping(**options)


def fit_model(model, train_dataset, validation_dataset, *, epochs, early_stopping=None,
              class_weight=None, verbose=0) -> dict:
    """Fit and return history, timing and the early-stopping outcome."""
    callbacks = [EpochTimer()]
    stopper = early_stopping_callback(early_stopping)
    if stopper is not None:
        callbacks.append(stopper)
    start = time.perf_counter()
    history = model.fit(
        train_dataset, validation_data=validation_dataset, epochs=epochs,
        class_weight=class_weight, callbacks=callbacks, verbose=verbose,
        shuffle=False,  # the tf.data pipeline already shuffles the training split
    )
    seconds = time.perf_counter() - start
    history_dict = {key: [float(value) for value in values] for key, values in history.history.items()}
    epochs_run = len(next(iter(history_dict.values()))) if history_dict else 0
    outcome = {"history": history_dict, "seconds": seconds, "epochs_run": epochs_run,
               "stopped_early": False, "stopped_epoch": epochs_run, "best_epoch": epochs_run}
    if stopper is not None:
        monitored = history_dict.get(stopper.monitor)
        if monitored:
            better = np.argmax if "acc" in stopper.monitor else np.argmin
            outcome["best_epoch"] = int(better(monitored)) + 1
        outcome["stopped_early"] = epochs_run < epochs
        outcome["restored_best_weights"] = bool(stopper.restore_best_weights)
    return outcome


@dataclass
class RunResult:
    record: dict
    model: object = None
    predictions: dict = field(default_factory=dict)
    skipped: bool = False


def run_classification(
    config: dict,
    index,
    store: ResultsStore,
    *,
    evaluate_splits: Sequence[str] = ("validation", "test"),
    overwrite: bool = False,
    verbose: int = 0,
) -> RunResult:
    """Train one configuration on ``index`` and write its record to ``store``."""
    from kerasbench.augment import Augmentation
    from kerasbench.balancing import balance
    from kerasbench.heads import build_classifier, compile_classifier, parameter_counts
    from kerasbench.performance import choose_policy, with_device_augmentation
    from kerasbench.pipeline import make_dataset
    from kerasbench.seeding import set_seed

    config = resolve_config(config)
    if not overwrite and store.has(config):
        return RunResult(record=store.get(config), skipped=True)

    seed = set_seed(config["seed"])
    class_names = list(index.class_names)
    head = config["head"]
    train_frame = index.split("train")
    train_frame, class_weight = balance(train_frame, config["balancing"], len(class_names), seed)
    # A batch larger than the training split is capped (it would be one partial batch anyway),
    # and the effective size is recorded so nobody mistakes it for the requested one.
    batch_size = min(int(config["batch_size"]), len(train_frame))
    label_mode = "binary" if head == "sigmoid" else config["label_mode"]
    augmentation = (
        Augmentation.from_image_data_generator(**config["augmentation"])
        if config["augmentation"] else None
    )
    policy = choose_policy(config["backbone"], **(config["performance"] or {}))
    host_augmentation = None if policy.augment_on_device else augmentation
    common = {"image_size": config["image_size"], "channels": config["channels"],
              "label_mode": label_mode, "num_classes": len(class_names)}
    train_dataset = make_dataset(
        train_frame, batch_size=batch_size, shuffle=True, seed=seed,
        augmentation=host_augmentation, cache="memory", **common,
    )
    validation_dataset = None
    if "validation" in index.splits:
        validation_dataset = make_dataset(
            index.split("validation"), batch_size=batch_size, shuffle=False, cache="memory",
            **common,
        )

    with policy.scope():
        model = build_classifier(
            config["backbone"], len(class_names), image_size=config["image_size"],
            weights=config["weights"], head=head, hidden_units=config["hidden_units"],
            dropout=config["dropout"], trainable=config["trainable"],
            channels=config["channels"],
        )
    if policy.augment_on_device and augmentation is not None:
        model = with_device_augmentation(model, augmentation, policy.jit_compile)
    compile_classifier(
        model, optimizer=config["optimizer"], learning_rate=config["learning_rate"],
        weight_decay=config["weight_decay"], head=head, label_mode=label_mode,
    )
    model.jit_compile = policy.jit_compile
    outcome = fit_model(
        model, train_dataset, validation_dataset, epochs=config["epochs"],
        early_stopping=config["early_stopping"], class_weight=class_weight, verbose=verbose,
    )

    metrics, predictions, durations = {}, {}, {"training_seconds": outcome["seconds"]}
    for split in evaluate_splits:
        if split not in index.splits:
            continue
        split_predictions = predict_frame(
            model, index.split(split), image_size=config["image_size"], head=head,
            channels=config["channels"], batch_size=max(batch_size, 32), split=split,
            class_names=class_names,
        )
        predictions[split] = split_predictions
        metrics[split] = split_metrics(split_predictions, class_names)
        durations[f"{split}_evaluation_seconds"] = split_predictions.seconds
        durations[f"{split}_ms_per_image"] = 1000 * split_predictions.seconds / max(
            1, len(split_predictions.y_true)
        )
    history = outcome["history"]
    final = {key: values[-1] for key, values in history.items() if values}
    record = store.write(
        config,
        metrics=metrics,
        durations=durations,
        seed=seed,
        history=history,
        final_epoch_metrics=final,
        training={key: value for key, value in outcome.items() if key not in ("history", "seconds")},
        parameters=parameter_counts(model),
        performance=policy.to_dict(),
        batch_size_effective=batch_size,
        train_rows=len(train_frame),
        class_names=class_names,
    )
    return RunResult(record=record, model=model, predictions=predictions)
