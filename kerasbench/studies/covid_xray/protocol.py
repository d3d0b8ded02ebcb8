"""The sweeps: which runs the protocol asks for (:func:`configs`) and running them through
the engine (:func:`run`).

Two experiments, one per sweep: ``learning_rate`` (every rate at one batch size) and
``batch_size`` (every batch size at one rate), each panel once per seed (``seeds``; the
seed is in the config, so adding a seed trains only the new runs). A setting in both
sweeps (the paper's lr 1e-4 / batch 5) has one config per seed, so one ``run_id``: it is
trained once, by the sweep that comes first, and :func:`run` returns its record under
each sweep's name.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from kerasbench.data.selection import match_class_name
from kerasbench.engine import RunSpec, TrainResult, resolve_config, run_each, train_classifier
from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord
from kerasbench.studies.base import PlannedRun
from kerasbench.studies.covid_xray.paper import (
    PAPER_AUGMENTATION,
    PAPER_BACKBONE,
    PAPER_BATCH_SIZES,
    PAPER_BATCH_SWEEP_LEARNING_RATE,
    PAPER_EPOCHS,
    PAPER_IMAGE_SIZE,
    PAPER_LEARNING_RATES,
    PAPER_LR_SWEEP_BATCH_SIZE,
)
from kerasbench.summaries import with_seeds
from kerasbench.validate import (
    augmentation_settings,
    choice,
    positive_int,
    positive_int_list,
    positive_number,
    positive_number_list,
    weights_setting,
)

STUDY = "covid_xray"
PROTOCOL_VERSION = "1"
LEARNING_RATE_SWEEP = "learning_rate"
BATCH_SIZE_SWEEP = "batch_size"
SWEEPS = (LEARNING_RATE_SWEEP, BATCH_SIZE_SWEEP)
# The paper names a ReLU dense layer but not its width; 128 is a common choice for a head
# on a 2048-d InceptionV3 embedding and keeps it small.
DEFAULT_HIDDEN_UNITS = 128


def format_learning_rate(value: float) -> str:
    return f"{value:.0e}".replace("e-0", "e-")


def panel_label(experiment: str, config: Mapping) -> str:
    """The panel title of one setting: ``lr 1e-4`` in the learning-rate sweep, ``batch 5``
    in the batch-size sweep."""
    if experiment == LEARNING_RATE_SWEEP:
        return f"lr {format_learning_rate(config['learning_rate'])}"
    return f"batch {config['batch_size']}"


def _learning_rates(values, name: str) -> list[float]:
    # Text is refused, not converted: "0.01" would otherwise be a run of its own. YAML 1.1
    # reads 1e-4 (no dot) as text, hence the hint.
    texts = [value for value in (values if isinstance(values, (list, tuple)) else [values])
             if isinstance(value, str)]
    if texts:
        raise ConfigError(f"{name} must be numbers, got {values!r} (text: {texts!r}); write "
                          "them without quotes and with a decimal point, 0.0001 rather than "
                          "1e-4, which YAML reads as text")
    rates = positive_number_list(values, name)
    if not all(math.isfinite(rate) for rate in rates):
        raise ConfigError(f"{name} must be finite numbers, got {values!r}")
    return rates


def _learning_rate(value, name: str) -> float:
    if isinstance(value, str):
        raise ConfigError(f"{name} must be a number, got {value!r} (text); write it without "
                          "quotes and with a decimal point, 0.0001 rather than 1e-4, which "
                          "YAML reads as text")
    rate = positive_number(value, name)
    if not math.isfinite(rate):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return rate


def _unique(values: list, name: str) -> list:
    if len(set(values)) != len(values):
        raise ConfigError(f"{name} lists a value twice: {values}; give each setting once")
    return values


def configs(
    *,
    learning_rates: Sequence[float] = PAPER_LEARNING_RATES,
    lr_sweep_batch_size: int = PAPER_LR_SWEEP_BATCH_SIZE,
    batch_sizes: Sequence[int] = PAPER_BATCH_SIZES,
    batch_sweep_learning_rate: float = PAPER_BATCH_SWEEP_LEARNING_RATE,
    backbone: str = PAPER_BACKBONE,
    weights=None,
    image_size=PAPER_IMAGE_SIZE,
    hidden_units: int | None = DEFAULT_HIDDEN_UNITS,
    trainable="frozen",
    epochs: int = PAPER_EPOCHS,
    augmentation: Mapping | None = PAPER_AUGMENTATION,
    seeds: Sequence[int] = (42,),
    positive_class: str = "covid",
) -> list[PlannedRun]:
    """Every panel of both sweeps, learning-rate sweep first, in the given orders, once
    per seed (seeds innermost; ``seeds`` is a list such as ``[42, 43, 44]``).

    Every run: ``backbone`` -> ReLU dense (``hidden_units``) -> one sigmoid unit, Adam,
    binary cross-entropy, label 1 = ``positive_class``. ``augmentation`` defaults to the
    paper's; ``None`` or ``{}`` trains without. Nothing about the sweep enters a config,
    so a setting in both sweeps is one run.
    """
    from kerasbench.backbones import get_backbone, resolve_image_size

    check_settings(weights=weights, positive_class=positive_class, augmentation=augmentation,
                   trainable=trainable)
    rates = _unique(_learning_rates(learning_rates, "learning_rates"), "learning_rates")
    sizes = _unique(positive_int_list(batch_sizes, "batch_sizes"), "batch_sizes")
    lr_batch = positive_int(lr_sweep_batch_size, "lr_sweep_batch_size")
    batch_rate = _learning_rate(batch_sweep_learning_rate, "batch_sweep_learning_rate")
    spec = get_backbone(backbone)
    try:  # fails here, before any training, when the size is too small for the backbone
        resolve_image_size(spec, image_size)
    except ValueError as error:
        raise ConfigError(str(error) if "image_size" in str(error)
                          else f"image_size: {error}") from None
    if hidden_units is not None:
        positive_int(hidden_units, "hidden_units")
    base = {
        "positive_class": positive_class,
        "backbone": spec.name,
        "weights": weights,
        "image_size": list(image_size) if isinstance(image_size, (tuple, list)) else image_size,
        "hidden_units": hidden_units,
        "trainable": trainable,
        "head": "sigmoid",
        "label_mode": "binary",
        "optimizer": "adam",
        "epochs": positive_int(epochs, "epochs"),
        "augmentation": dict(augmentation) if augmentation else None,
    }
    panels = [(LEARNING_RATE_SWEEP, rate, lr_batch) for rate in rates]
    panels += [(BATCH_SIZE_SWEEP, batch_rate, size) for size in sizes]
    planned = [PlannedRun(sweep, resolve_config({**base, "learning_rate": rate,
                                                 "batch_size": size}))
               for sweep, rate, size in panels]
    return with_seeds(planned, seeds)


def check_settings(*, weights, positive_class, augmentation, trainable) -> None:
    """The settings :func:`configs` passes on as they are: each of its type, named."""
    weights_setting(weights)
    if not isinstance(positive_class, str) or not positive_class:
        raise ConfigError(f"positive_class must name a class folder (text), got "
                          f"{positive_class!r}")
    if isinstance(trainable, int) and not isinstance(trainable, bool):
        positive_int(trainable, "trainable (the number of last stages trained)", minimum=0)
    else:
        choice(trainable, "trainable", ("frozen", "all", "full"))
    augmentation_settings(augmentation)


def settings_table(planned: Sequence[PlannedRun]) -> pd.DataFrame:
    """Every panel of both sweeps (one row, whatever the seeds), its seeds and the setting
    it trains (``run`` numbers the settings; one shared by both sweeps is marked and
    trained once per seed)."""
    panels: dict[tuple, dict] = {}
    for plan in planned:
        key = (plan.experiment, plan.config["learning_rate"], plan.config["batch_size"])
        panels.setdefault(key, {"plan": plan, "seeds": []})["seeds"].append(plan.config["seed"])
    settings = list(dict.fromkeys(key[1:] for key in panels))
    sweeps_of = {setting: {key[0] for key in panels if key[1:] == setting}
                 for setting in settings}
    return pd.DataFrame([
        {"sweep": key[0], "panel": panel_label(key[0], value["plan"].config),
         "learning_rate": key[1], "batch_size": key[2],
         "seeds": ", ".join(str(seed) for seed in value["seeds"]),
         "run": settings.index(key[1:]) + 1, "shared by both sweeps": len(sweeps_of[key[1:]]) > 1}
        for key, value in panels.items()
    ])


def model_summary(config: Mapping) -> pd.DataFrame:
    """Layers and parameter counts of the classifier one configuration builds (no
    training); the totals are in ``table.attrs["counts"]``."""
    import keras

    from kerasbench.heads import build_classifier, parameter_counts

    model = build_classifier(
        config["backbone"], 2, image_size=config["image_size"], weights=config["weights"],
        head="sigmoid", hidden_units=config["hidden_units"], trainable=config["trainable"],
    )
    layers = [(layer.name, type(layer).__name__, int(layer.count_params()))
              for layer in model.layers]
    table = pd.DataFrame(layers, columns=["layer", "type", "parameters"]).set_index("layer")
    table.attrs["counts"] = parameter_counts(model)
    del model
    keras.backend.clear_session()
    return table


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def train_sweep_run(config: dict, index, *, verbose: int = 0) -> TrainResult:
    """One setting through :func:`kerasbench.engine.train_classifier`, with the test
    images' P(positive_class) kept in ``extra["test_predictions"]`` (paths relative to
    the data root) for the sample predictions."""
    result = train_classifier(config, index, evaluate=("validation", "test"), verbose=verbose)
    test = result.predictions["test"]
    root = Path(index.root)
    result.extra["test_predictions"] = {
        "path": [_relative(path, root) for path in test.paths],
        "label": [int(label) for label in test.y_true],
        "probability_positive": [float(p) for p in test.probabilities.reshape(-1)],
    }
    return result


def _summary(record: RunRecord) -> str:
    validation_loss = (record.history.get("val_loss") or [float("nan")])[-1]
    return (f"final validation loss {validation_loss:.3f}, "
            f"test accuracy {record.metric('test', 'accuracy', float('nan')):.3f}")


def run(context, data, planned: Sequence[PlannedRun], *, overwrite: bool = False,
        progress=True, verbose: int = 0) -> list[RunRecord]:
    """Train every planned setting not finished yet (one :func:`kerasbench.engine.run_each`
    per sweep, a progress line per run); returns one record per planned run, in order."""
    for plan in planned:
        choice(plan.experiment, "experiment", SWEEPS)
        named = plan.config.get("positive_class")
        if match_class_name(named, data.index.class_names, "positive_class") != data.positive_class:
            raise ConfigError(
                f"the run config says positive_class={named!r} but the data has "
                f"{data.positive_class!r} as label 1; pass the same positive_class to "
                "load_data and configs")
    store = context.store()
    fingerprint = data.fingerprint
    specs = [RunSpec(STUDY, plan.experiment, resolve_config(plan.config), fingerprint,
                     PROTOCOL_VERSION, demo=context.is_demo) for plan in planned]
    done: dict[str, RunRecord] = {}
    for sweep in SWEEPS:
        # A setting already run for the other sweep in this call is not run again.
        todo = list({spec.run_id: spec for spec in specs
                     if spec.experiment == sweep and spec.run_id not in done}.values())
        outcomes = run_each(
            todo, store, lambda spec: train_sweep_run(spec.config, data.index, verbose=verbose),
            overwrite=overwrite, progress=progress, label=STUDY,
            summary=_summary)
        done.update((outcome.record.run_id, outcome.record) for outcome in outcomes)
    return [done[spec.run_id] if done[spec.run_id].experiment == spec.experiment
            else dataclasses.replace(done[spec.run_id], experiment=spec.experiment)
            for spec in specs]
