"""Classifiers trained on images: one configuration -> one :class:`TrainResult`.

This is the engine's path for the image-classification studies (FER2013, Down syndrome,
COVID X-ray, the clothing final models): seed, build the datasets from the index
(oversampling the training split only), build and compile the model under the device's
performance policy, fit with the standard callbacks, evaluate each split in one ordered
pass. :func:`run_classification` wraps it in the engine's record-keeping.

``distribution`` (:func:`kerasbench.engine.fitting.resolve_distribution`) places the
training on one device, on every GPU (``MirroredStrategy``) or on a multi-worker cluster;
``batch_size`` is the GLOBAL batch (the papers' numbers), split over the replicas, and
the record's ``extra["distribution"]`` says how. The default ``"auto"`` never enters the
resolved config (so run identities are unchanged); another value does, like any setting.
"""

from __future__ import annotations

from collections.abc import Sequence

from kerasbench.engine.evaluation import evaluate_splits
from kerasbench.engine.execute import RunOutcome, RunSpec, TrainResult, execute
from kerasbench.engine.fitting import (
    check_distribution,
    fit_model,
    resolve_distribution,
)
from kerasbench.store import RunStore
from kerasbench.validate import known_keys

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
    # None picks the device's best. The resolved policy is recorded in every record.
    "performance": None,
    # "auto" (MirroredStrategy when more than one GPU is visible, else one device),
    # "none", "mirrored" or "multi_worker" (TF_CONFIG). "auto" is left out of the resolved
    # config, so the default does not change any run's identity.
    "distribution": "auto",
    "seed": 42,
}
# Labels a study may add to a config (they enter the run's identity, not the training).
LABEL_KEYS = ("dataset", "study", "experiment", "positive_class")


def resolve_config(config: dict) -> dict:
    """The config with every default filled in; unknown keys are an error (typos would
    otherwise silently create a new, different run)."""
    known_keys(config, [*DEFAULT_CONFIG, *LABEL_KEYS], "run settings")
    resolved = {**DEFAULT_CONFIG, **config}
    if check_distribution(resolved.pop("distribution")) != "auto":
        resolved["distribution"] = config["distribution"]
    if resolved["augmentation"] is not None and not isinstance(resolved["augmentation"], dict):
        raise ValueError("augmentation must be a dict of ImageDataGenerator-style settings or None")
    return resolved


def train_classifier(config: dict, index, *,
                     evaluate: Sequence[str] = ("validation", "test"),
                     verbose: int = 0) -> TrainResult:
    """Train one resolved configuration on ``index`` and evaluate ``evaluate`` splits."""
    from kerasbench.balancing import balance
    from kerasbench.heads import build_classifier, compile_classifier, parameter_counts
    from kerasbench.performance import choose_policy, with_device_augmentation
    from kerasbench.pipeline import Augmentation, make_dataset
    from kerasbench.seeding import set_seed

    config = resolve_config(config)
    distribution = resolve_distribution(config.get("distribution", "auto"))
    seed = set_seed(config["seed"])
    class_names = list(index.class_names)
    head = config["head"]
    train_frame = index.split("train")
    train_frame, class_weight = balance(train_frame, config["balancing"], len(class_names), seed)
    # A batch larger than the training split is capped (it would be one partial batch anyway),
    # and the effective size is recorded so nobody mistakes it for the requested one. It is
    # the global batch: each of the strategy's replicas computes its share of it.
    batch_size = min(int(config["batch_size"]), len(train_frame))
    label_mode = "binary" if head == "sigmoid" else config["label_mode"]
    augmentation = (Augmentation.from_image_data_generator(**config["augmentation"])
                    if config["augmentation"] else None)
    size = config["image_size"]
    policy = choose_policy(config["backbone"],
                           image_size=max(size) if isinstance(size, (list, tuple)) else size,
                           **(config["performance"] or {}))
    host_augmentation = None if policy.augment_on_device else augmentation
    common = {"image_size": config["image_size"], "channels": config["channels"],
              "label_mode": label_mode, "num_classes": len(class_names)}
    train_dataset = distribution.prepare(make_dataset(
        train_frame, batch_size=batch_size, shuffle=True, seed=seed,
        augmentation=host_augmentation, cache="memory", **common))
    validation_dataset = None
    if "validation" in index.splits:
        validation_dataset = distribution.prepare(make_dataset(
            index.split("validation"), batch_size=batch_size, shuffle=False, cache="memory",
            **common))
    jit_compile, applied = distribution.applied_policy(policy)
    # Model, device augmentation, optimizer and metrics: all in the strategy's scope.
    with policy.scope(), distribution.scope():
        model = build_classifier(
            config["backbone"], len(class_names), image_size=config["image_size"],
            weights=config["weights"], head=head, hidden_units=config["hidden_units"],
            dropout=config["dropout"], trainable=config["trainable"],
            channels=config["channels"],
        )
        if policy.augment_on_device and augmentation is not None:
            model = with_device_augmentation(model, augmentation, jit_compile)
        compile_classifier(model, optimizer=config["optimizer"],
                           learning_rate=config["learning_rate"],
                           weight_decay=config["weight_decay"], head=head, label_mode=label_mode)
    model.jit_compile = jit_compile
    outcome = fit_model(model, train_dataset, validation_dataset, epochs=config["epochs"],
                        early_stopping=config["early_stopping"], class_weight=class_weight,
                        verbose=verbose)
    metrics, predictions, durations = evaluate_splits(
        model, index, evaluate, image_size=config["image_size"], head=head,
        channels=config["channels"], batch_size=max(batch_size, 32))
    history = outcome["history"]
    return TrainResult(
        metrics=metrics,
        history=history,
        durations={"train_s": outcome["seconds"], **durations},
        policy=applied,
        extra={
            "final_epoch_metrics": {key: values[-1] for key, values in history.items() if values},
            "training": {key: value for key, value in outcome.items()
                         if key not in ("history", "seconds")},
            "parameters": parameter_counts(model),
            "batch_size_effective": batch_size,
            "distribution": distribution.describe(batch_size),
            "train_rows": len(train_frame),
            "class_names": class_names,
        },
        model=model,
        predictions=predictions,
    )


def classification_spec(config: dict, index, *, study: str, experiment: str,
                        protocol_version: str, demo: bool = False) -> RunSpec:
    return RunSpec(study=study, experiment=experiment, config=resolve_config(config),
                   dataset_fingerprint=index.fingerprint(), protocol_version=protocol_version,
                   demo=demo)


def run_classification(config: dict, index, store: RunStore, *, study: str = "classification",
                       experiment: str = "default", protocol_version: str = "1",
                       demo: bool = False, evaluate: Sequence[str] = ("validation", "test"),
                       overwrite: bool = False, verbose: int = 0) -> RunOutcome:
    """Train one configuration on ``index`` unless ``store`` already holds it finished."""
    spec = classification_spec(config, index, study=study, experiment=experiment,
                               protocol_version=protocol_version, demo=demo)
    return execute(spec, store, lambda: train_classifier(spec.config, index, evaluate=evaluate,
                                                         verbose=verbose),
                   overwrite=overwrite)
