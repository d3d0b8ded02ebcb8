"""The protocol: the paper's three experiments as engine configs, and running them.

Each experiment runs once per seed (``seeds``; the seed is in the config, so adding a seed
trains only the new runs). Each run is one :func:`kerasbench.engine.train_classifier` run:
the backbone with
its last ``trainable_stages`` stages retrained (BatchNormalization frozen everywhere), a
dense softmax head, AdamW with decoupled weight decay, the training batches augmented
(random resized crop, horizontal flip), and early stopping on a validation quantity that
restores the best epoch's weights (the engine's standard callbacks, from the config's
``early_stopping``). The engine owns identity, skipping finished runs, timing and records.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from kerasbench.engine import RunSpec, resolve_config, run_each, train_classifier
from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord
from kerasbench.studies.base import PlannedRun
from kerasbench.studies.down_syndrome.paper import PAPER_EXPERIMENTS, PAPER_MAX_EPOCHS
from kerasbench.summaries import check_seeds, with_seeds
from kerasbench.validate import (
    choice,
    known_keys,
    positive_int,
    positive_number,
    weights_setting,
)

STUDY = "down_syndrome"
# Bump when a change to the protocol changes what a run with the same config computes.
PROTOCOL_VERSION = "1"

# torchvision's RandomResizedCrop defaults (area 8-100 %, aspect ratio 3/4-4/3), the common
# practice the paper's "random resize crop" most likely followed, and a horizontal flip.
DEFAULT_AUGMENTATION = {
    "random_resized_crop": {"scale": [0.08, 1.0], "ratio": [3.0 / 4.0, 4.0 / 3.0]},
    "horizontal_flip": True,
}
EXPERIMENT_KEYS = ("name", "batch_size", "learning_rate")


def check_experiments(experiments: Iterable[Mapping]) -> list[dict]:
    """The experiments as ``[{"name", "batch_size", "learning_rate"}, ...]``, checked;
    names must be unique because records and tables are keyed by them."""
    if isinstance(experiments, (Mapping, str)) or not isinstance(experiments, Iterable):
        raise ConfigError(
            "experiments must be a list of dicts such as "
            f"[{{'name': 'E1', 'batch_size': 32, 'learning_rate': 1e-4}}], got {experiments!r}"
        )
    checked = []
    for position, experiment in enumerate(experiments):
        if not isinstance(experiment, Mapping):
            raise ConfigError(f"experiments[{position}] must be a dict, got {experiment!r}")
        known_keys(experiment, EXPERIMENT_KEYS, f"keys in experiments[{position}]")
        missing = [key for key in EXPERIMENT_KEYS if key not in experiment]
        if missing:
            raise ConfigError(f"experiments[{position}] lacks {missing}; each experiment "
                              f"needs {list(EXPERIMENT_KEYS)}")
        name = str(experiment["name"])
        checked.append({
            "name": name,
            "batch_size": positive_int(experiment["batch_size"], f"experiment {name} batch_size"),
            "learning_rate": positive_number(experiment["learning_rate"],
                                             f"experiment {name} learning_rate"),
        })
    if not checked:
        raise ConfigError("experiments is empty: give at least one experiment")
    names = [item["name"] for item in checked]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"experiment names must be unique; repeated: {repeated}")
    return checked


def augmentation_settings(augmentation: Mapping | None) -> dict | None:
    """Checked, JSON-ready augmentation settings (ImageDataGenerator names plus
    ``random_resized_crop``); None or an empty dict means no augmentation."""
    if not augmentation:
        return None
    if not isinstance(augmentation, Mapping):
        raise ConfigError(f"augmentation must be a dict of settings or None, got {augmentation!r}")
    from kerasbench.pipeline import Augmentation

    settings = dict(augmentation)
    crop = settings.get("random_resized_crop")
    if isinstance(crop, Mapping):
        settings["random_resized_crop"] = {key: [float(v) for v in value]
                                           for key, value in crop.items()}
    # Building it checks every name and range with the augmentation's own messages.
    Augmentation(**settings)
    return settings


def describe_augmentation(augmentation: Mapping | None) -> list[str]:
    """One line per active augmentation layer (training only; evaluation is never augmented)."""
    from kerasbench.pipeline import Augmentation

    settings = augmentation_settings(augmentation)
    if settings is None:
        return ["(no augmentation)"]
    return Augmentation(**settings).describe()


def early_stopping_settings(patience: int, monitor: str = "val_loss") -> dict:
    """Early stopping on a validation quantity that keeps the best epoch's weights."""
    patience = positive_int(patience, "patience", minimum=0)
    if not isinstance(monitor, str) or not monitor.startswith("val_"):
        raise ConfigError(f"monitor must be a validation quantity (val_loss or val_accuracy), "
                          f"got {monitor!r}")
    return {"monitor": str(monitor), "patience": patience, "restore_best_weights": True}


def _trainable(trainable_stages):
    if isinstance(trainable_stages, str):
        return choice(trainable_stages, "trainable_stages", ("frozen", "all"))
    return positive_int(trainable_stages, "trainable_stages", minimum=0)


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
) -> dict:
    """The resolved engine config of one experiment: AdamW with decoupled weight decay, a
    dense softmax head (sparse cross-entropy on int labels, the same loss as categorical
    cross-entropy on one-hot labels), the last ``trainable_stages`` stages retrained, early
    stopping with the best weights restored."""
    (experiment,) = check_experiments([experiment])
    return resolve_config({
        "experiment": experiment["name"],
        "backbone": str(backbone),
        "weights": None if weights is None else str(weights),
        "image_size": positive_int(image_size, "image_size"),
        "batch_size": experiment["batch_size"],
        "learning_rate": experiment["learning_rate"],
        "epochs": positive_int(max_epochs, "max_epochs"),
        "optimizer": "adamw",
        "weight_decay": (None if weight_decay is None
                         else positive_number(weight_decay, "weight_decay", allow_zero=True)),
        "head": "softmax",
        "trainable": _trainable(trainable_stages),
        "augmentation": augmentation_settings(augmentation),
        "early_stopping": early_stopping_settings(patience, monitor),
        "seed": positive_int(seed, "seed", minimum=0),
    })


def configs(
    *,
    experiments: Iterable[Mapping] = PAPER_EXPERIMENTS,
    backbone: str = "resnet50",
    weights="imagenet",
    image_size: int = 224,
    trainable_stages=1,
    max_epochs: int = PAPER_MAX_EPOCHS,
    patience: int = 10,
    monitor: str = "val_loss",
    weight_decay: float | None = 0.01,
    augmentation: Mapping | None = DEFAULT_AUGMENTATION,
    seeds: Sequence[int] = (42,),
) -> list[PlannedRun]:
    """One planned run per experiment and seed, seeds innermost (defaults: the paper's
    protocol with ResNet50, one seed; ``seeds`` is a list such as ``[42, 43, 44]``)."""
    seeds = check_seeds(seeds)
    if not isinstance(backbone, str):
        raise ConfigError(f"backbone must be a registry name (text), got {backbone!r} "
                          f"({type(backbone).__name__})")
    weights_setting(weights)
    settings = dict(backbone=backbone, weights=weights, image_size=image_size,
                    trainable_stages=trainable_stages, max_epochs=max_epochs, patience=patience,
                    monitor=monitor, weight_decay=weight_decay, augmentation=augmentation,
                    seed=seeds[0])
    planned = [PlannedRun(experiment["name"], experiment_config(experiment, **settings))
               for experiment in check_experiments(experiments)]
    return with_seeds(planned, seeds)


def run_summary(record: RunRecord) -> str:
    """One progress line per run: batch asked / used, parameters, epochs, stop and best."""
    training, parameters = record.extra.get("training", {}), record.extra.get("parameters", {})
    asked, used = record.config["batch_size"], record.extra.get("batch_size_effective")
    return (f"batch {asked} -> {used} used, trainable {parameters.get('trainable', 0):,} / "
            f"non-trainable {parameters.get('non_trainable', 0):,} parameters; "
            f"{training.get('epochs_run')} epochs run, stopped at {training.get('stopped_epoch')}"
            f"{' (early)' if training.get('stopped_early') else ''}, "
            f"best {training.get('best_epoch')}")


def run(context, data, planned, *, overwrite: bool = False, progress=True,
        verbose: int = 0) -> list[RunRecord]:
    """Train and evaluate every planned run not finished yet (``overwrite`` redoes them) on
    the index ``data`` (:func:`load_data`); returns every planned run's record, in order.
    Each run's per-image test outcomes are in ``record.extra["predictions"]``."""
    if not hasattr(data, "fingerprint") or not hasattr(data, "split"):
        raise ConfigError(f"data must be the DatasetIndex from down_syndrome.load_data, got "
                          f"{type(data).__name__}")
    planned = list(planned)
    if not planned or not all(isinstance(item, PlannedRun) for item in planned):
        raise ConfigError("planned must be the non-empty list from down_syndrome.configs(...)")
    fingerprint = data.fingerprint()
    specs = [RunSpec(study=STUDY, experiment=item.experiment, config=resolve_config(item.config),
                     dataset_fingerprint=fingerprint, protocol_version=PROTOCOL_VERSION,
                     demo=context.is_demo)
             for item in planned]
    outcomes = run_each(
        specs, context.store(),
        lambda spec: train_classifier(spec.config, data, verbose=verbose),
        overwrite=overwrite, progress=progress, label=STUDY, summary=run_summary)
    return [outcome.record for outcome in outcomes]
