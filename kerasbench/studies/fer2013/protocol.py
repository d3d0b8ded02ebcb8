"""The runs the paper's protocol asks for (:func:`configs`) and running them through the
engine (:func:`run`): one :class:`~kerasbench.records.RunRecord` per scenario S1..S4 and
seed.

Every scenario is one :func:`kerasbench.engine.train_classifier` run per seed
(``seeds=[...]``, :func:`kerasbench.summaries.with_seeds`: the seed is in the config, so in
the run's identity, and adding a seed trains only the new runs; it also seeds
RandomOverSampler's ``random_state``): backbone (fully
trainable) -> GlobalAveragePooling2D -> Dense(7, softmax), Adam, categorical
cross-entropy, the paper's augmentation in the pipeline; S3/S4 oversample the TRAINING
split only (``kerasbench.balancing``, inside the engine). The test split is evaluated once,
unshuffled, after training (its loss included). ``monitor_split`` (in the config, so in the
run's identity) names the split whose per-epoch curve is recorded as ``val_*``. Every
record keeps the per-image test outcomes (``extra["predictions"]["test"]``) that the
intervals and paired tests of :mod:`.tables` are computed from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from kerasbench.data.index import DatasetIndex
from kerasbench.errors import ConfigError
from kerasbench.studies.base import PlannedRun
from kerasbench.studies.fer2013.data import MONITOR_SPLITS, monitoring_index
from kerasbench.studies.fer2013.paper import (
    CLASS_COUNT,
    PAPER_AUGMENTATION,
    PAPER_BACKBONES,
    PAPER_PARAMETERS,
    SCENARIOS,
    STUDY,
)
from kerasbench.summaries import with_seeds
from kerasbench.validate import (
    augmentation_settings,
    choice,
    positive_int,
    positive_number,
    weights_setting,
)

PROTOCOL_VERSION = "1"
BALANCED_METHODS = ("oversample", "class_weight")
# Study settings in a run's config next to the engine's (they enter the run's identity).
STUDY_KEYS = ("monitor_split",)
# The only split the protocol reports; the per-epoch curve is monitoring, not evaluation.
EVALUATED_SPLITS = ("test",)


def configs(
    *,
    scenarios: Sequence[str] = tuple(SCENARIOS),
    backbones: Mapping[str, str] = PAPER_BACKBONES,
    image_size: int = 48,
    batch_size: int = 32,
    epochs: int = 100,
    learning_rate: float = 1e-3,
    augmentation: Mapping | None = PAPER_AUGMENTATION,
    balancing: str = "oversample",
    weights: str | None = "imagenet",
    monitor_split: str | None = "test",
    seeds: Sequence[int] = (42,),
) -> list[PlannedRun]:
    """One planned run per scenario name and seed, in the given order (defaults: the
    paper's, seed 42 its RandomOverSampler's ``random_state``); seeds innermost.

    ``backbones`` maps the paper's model names (``ResNet50``, ``VGG19``) to registry
    names; ``balancing`` is the method of the balanced scenarios S3/S4; ``seeds`` (a list
    such as ``[42, 43, 44]``) seeds each run, RandomOverSampler's ``random_state`` included.
    """
    choice(balancing, "balancing (the method of the balanced scenarios S3/S4)",
           BALANCED_METHODS)
    choice(monitor_split, "monitor_split", MONITOR_SPLITS)
    if isinstance(scenarios, str) or not isinstance(scenarios, Sequence):
        raise ConfigError(f"scenarios must be a list of names from {list(SCENARIOS)}, e.g. "
                          f"[{scenarios!r}], got {scenarios!r} ({type(scenarios).__name__})")
    if not isinstance(backbones, Mapping) or not all(
            isinstance(value, str) for value in backbones.values()):
        raise ConfigError("backbones must map the paper's model names to registry names, "
                          f"e.g. {dict(PAPER_BACKBONES)}, got {backbones!r}")
    weights_setting(weights)
    check_augmentation(augmentation)
    scenarios = list(scenarios)
    unknown = [name for name in scenarios if name not in SCENARIOS]
    if unknown or not scenarios:
        raise ConfigError(f"scenarios must be names from {list(SCENARIOS)}, got {scenarios}")
    if len(set(scenarios)) != len(scenarios):
        raise ConfigError(f"scenarios name a scenario twice: {scenarios}")
    settings = {
        "weights": weights,
        "image_size": positive_int(image_size, "image_size"),
        "channels": 3,
        "batch_size": positive_int(batch_size, "batch_size"),
        "epochs": positive_int(epochs, "epochs"),
        "optimizer": "adam",
        "learning_rate": positive_number(learning_rate, "learning_rate"),
        "head": "softmax",
        "trainable": "full",
        "label_mode": "categorical",
        "augmentation": dict(augmentation) if augmentation else None,
        "monitor_split": monitor_split,
    }
    planned = []
    for name in scenarios:
        scenario = SCENARIOS[name]
        if scenario.model not in backbones:
            raise ConfigError(
                f"scenario {name} needs a backbone for {scenario.model}; backbones maps "
                f"{sorted(backbones)}"
            )
        config = {**settings, "backbone": backbones[scenario.model],
                  "balancing": balancing if scenario.balanced else None}
        planned.append(PlannedRun(experiment=name, config=resolve(config)))
    try:
        return with_seeds(planned, seeds)
    except ValueError as error:
        raise ConfigError(str(error)) from None


def check_augmentation(augmentation: Mapping | None) -> None:
    """ImageDataGenerator-style settings or None / {} (kerasbench.validate)."""
    augmentation_settings(augmentation)


def resolve(config: Mapping) -> dict:
    """A run's full config: the engine's settings with every default filled in, plus the
    study's ``monitor_split`` (default ``"test"``, the paper's curves)."""
    from kerasbench.engine import resolve_config

    config = dict(config)
    monitor_split = choice(config.pop("monitor_split", "test"), "monitor_split", MONITOR_SPLITS)
    return {**resolve_config(config), "monitor_split": monitor_split}


def engine_config(config: Mapping) -> dict:
    """The config without the study's own keys, as :func:`train_classifier` takes it."""
    return {key: value for key, value in config.items() if key not in STUDY_KEYS}


def run(context, data, planned: Sequence[PlannedRun], *, overwrite: bool = False,
        progress=True, verbose: int = 0) -> list:
    """Train and evaluate every planned run (scenario x seed) not yet finished in
    ``context.store()``; returns every planned run's :class:`~kerasbench.records.RunRecord`,
    in order.

    ``data`` is the index from :func:`load_data`; its fingerprint is part of every run's
    identity, so other data (or another subsample) is a new run, and a finished run is
    read back instead of trained again (an interrupted study resumes).
    """
    import keras

    from kerasbench.engine import RunSpec, run_each, train_classifier

    names = [(item.experiment, item.config.get("seed")) for item in planned]
    if len(set(names)) != len(names):
        raise ConfigError("each scenario runs once per seed; planned runs name (scenario, "
                          f"seed) {names}")
    if not isinstance(data, DatasetIndex) or len(data.class_names) != CLASS_COUNT:
        raise ConfigError("data must be the FER2013 index from fer2013.load_data(context) "
                          f"(7 emotions), got {data!r}")
    fingerprint = data.fingerprint()
    specs = [RunSpec(study=STUDY, experiment=item.experiment, config=resolve(item.config),
                     dataset_fingerprint=fingerprint, protocol_version=PROTOCOL_VERSION,
                     demo=context.is_demo)
             for item in planned]
    monitored = {}

    def work(spec):
        split = spec.config["monitor_split"]
        if split not in monitored:
            monitored[split] = monitoring_index(data, split)
        result = train_classifier(engine_config(spec.config), monitored[split],
                                  evaluate=EVALUATED_SPLITS, verbose=verbose)
        final = result.extra.get("final_epoch_metrics", {})
        # The paper's train loss and accuracy: the last epoch's, as Keras reported them.
        result.extra["train_loss"] = final.get("loss")
        result.extra["train_accuracy"] = final.get("accuracy")
        # Per-image test outcomes stay in the record (intervals and paired tests); the
        # probabilities and the model do not: four large models in one process, so keep
        # none of them and free each graph.
        result.extra["predictions"] = {split: predicted.compact()
                                       for split, predicted in result.predictions.items()}
        result.model, result.predictions = None, {}
        keras.backend.clear_session()
        return result

    outcomes = run_each(specs, context.store(), work, overwrite=overwrite, progress=progress,
                        label=STUDY, summary=_summary)
    return [outcome.record for outcome in outcomes]


def _summary(record) -> str:
    test = record.metrics.get("test", {})
    return (f"test accuracy {test.get('accuracy', float('nan')):.4f}, test loss "
            f"{test.get('loss', float('nan')):.4f}, {record.extra.get('train_rows')} "
            "training rows")


def parameter_table(backbones: Mapping[str, str] = PAPER_BACKBONES, *, image_size: int,
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
