"""The protocol: the paper's grid as planned runs, and running them through the engine.

Grid: optimizer x learning rate x epochs, once per seed (``seeds``). Runs that differ only
in their epoch count share ONE training evaluated after each requested epoch (the engine's
Siamese path, ``kerasbench.engine`` ``train_pair_runs`` through ``run_groups``, so that
several trainings run on several workers at once); every epoch count is its own run
and record, whose config says its own ``epochs``, exactly as a separate run would.

Decisions where the paper is silent: the decision **threshold** is chosen on held-out
*validation* people to maximise balanced accuracy and applied unchanged to the test pairs
(with no validation split, on a fixed set of training pairs); **training pairs** are
balanced, seeded and redrawn every epoch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kerasbench.engine.execute import RunSpec, run_groups
from kerasbench.engine.siamese import SAVE_VERIFIERS, resolve_config, train_pair_runs, training_key
from kerasbench.errors import ConfigError
from kerasbench.io import canonical_json
from kerasbench.records import RunRecord
from kerasbench.studies.base import PlannedRun
from kerasbench.studies.faces.paper import PAPER_EPOCHS
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

STUDY = "faces"
EXPERIMENT = "grid"
# Bump when a change to the protocol changes what a run with the same config computes.
PROTOCOL_VERSION = "1"
# Settings the data decides (load_data); run() copies them into every config.
DATA_KEYS = ("image_size", "split", "test_fraction", "validation_fraction",
             "evaluation_pairs_per_person", "split_seed")


def configs(
    *,
    optimizers: Sequence[str] = ("sgd", "adam"),
    learning_rates: Sequence[float] = (0.01, 0.001),
    epochs: Sequence[int] = PAPER_EPOCHS,
    paper_epochs: Sequence[int] | None = PAPER_EPOCHS,
    seeds: Sequence[int] = (42,),
    squeezenet_version: str = "1.0",
    weights=None,
    embedding_dim: int | None = 128,
    l2_normalize: bool = True,
    margin: float = 1.0,
    batch_size: int = 32,
    pairs_per_person: int = 20,
    augmentation: Mapping | None = None,
    threshold_criterion: str = "balanced_accuracy",
    performance: Mapping | None = None,
) -> list[PlannedRun]:
    """One planned run per optimizer x learning rate x epochs x seed (grid order, seeds
    innermost). ``epochs[i]`` stands for the paper's ``paper_epochs[i]`` (a demo trains a
    few epochs where the paper trained 50 / 75 / 100); ``paper_epochs=None`` compares
    nothing with the paper. The data's settings (image size, split) come from
    :func:`load_data` at :func:`run` time."""
    from kerasbench import siamese

    check_settings(squeezenet_version=squeezenet_version, weights=weights,
                   l2_normalize=l2_normalize, augmentation=augmentation)
    if isinstance(optimizers, str) or not isinstance(optimizers, Sequence) or not optimizers:
        raise ConfigError(f"optimizers must be a non-empty list such as ['sgd', 'adam'], "
                          f"got {optimizers!r}")
    optimizers = [choice(str(name).lower(), "optimizers[...]", ("sgd", "adam"))
                  for name in optimizers]
    learning_rates = positive_number_list(learning_rates, "learning_rates")
    epochs = positive_int_list(epochs, "epochs")
    if len(set(epochs)) != len(epochs):
        raise ConfigError(f"epochs must be distinct, got {epochs}")
    stands_for = [None] * len(epochs)
    if paper_epochs is not None:
        stands_for = positive_int_list(paper_epochs, "paper_epochs")
        if len(stands_for) != len(epochs):
            raise ConfigError(f"epochs {epochs} and paper_epochs {stands_for} must have the "
                              "same length (each run epoch stands for one paper epoch)")
    if embedding_dim is not None:
        embedding_dim = positive_int(embedding_dim, "embedding_dim")
    shared = {
        "squeezenet_version": siamese.squeezenet_backbone_name(squeezenet_version)
        .replace("squeezenet", "").replace("_", "."),
        "weights": None if weights is None else str(weights),
        "embedding_dim": embedding_dim, "l2_normalize": bool(l2_normalize),
        "margin": positive_number(margin, "margin"),
        "batch_size": positive_int(batch_size, "batch_size"),
        "pairs_per_person": positive_int(pairs_per_person, "pairs_per_person"),
        "augmentation": None if not augmentation else dict(augmentation),
        "threshold_criterion": threshold_criterion,
        "performance": None if performance is None else dict(performance),
    }
    planned = []
    for optimizer in optimizers:
        for learning_rate in learning_rates:
            for epoch, paper_epoch in zip(epochs, stands_for):
                config = {**shared, "optimizer": optimizer, "learning_rate": learning_rate,
                          "epochs": epoch, "paper_epochs": paper_epoch}
                resolve_config(config)  # checks every setting now, not at run time
                planned.append(PlannedRun(EXPERIMENT, config))
    return with_seeds(planned, seeds)


def check_settings(*, squeezenet_version, weights, l2_normalize, augmentation) -> None:
    """The settings :func:`configs` passes on unchanged: each of its type, named."""
    if not isinstance(squeezenet_version, str):
        raise ConfigError(f"squeezenet_version must be text, '1.0' or '1.1', got "
                          f"{squeezenet_version!r} ({type(squeezenet_version).__name__})")
    weights_setting(weights)
    if not isinstance(l2_normalize, bool):
        raise ConfigError(f"l2_normalize must be true or false, got {l2_normalize!r} "
                          f"({type(l2_normalize).__name__})")
    augmentation_settings(augmentation)


def run_config(planned: PlannedRun, data) -> dict:
    """A planned run's resolved config on ``data``: the data's settings filled in."""
    conflicts = {key: (planned.config[key], data.settings[key]) for key in DATA_KEYS
                 if key in planned.config and planned.config[key] != data.settings[key]}
    if conflicts:
        raise ConfigError(f"planned settings {conflicts} (planned, data) disagree with the "
                          "data: set them in load_data")
    return resolve_config({**planned.config, **{key: data.settings[key] for key in DATA_KEYS}})


def _describe(specs: Sequence[RunSpec]) -> str:
    config = specs[0].config
    epochs = "/".join(str(spec.config["epochs"]) for spec in specs)
    return (f"{config['optimizer']} lr={config['learning_rate']:g} seed={config['seed']} "
            f"(epochs {epochs})")


def _summary(records: Sequence[RunRecord]) -> str:
    parts = []
    for record in records:
        test = record.metrics["test"]
        auc = test.get("roc_auc")
        parts.append(f"{record.config['epochs']} ep: F1 {test['macro_f1']:.3f} "
                     f"AUC {'n/a' if auc is None else format(auc, '.3f')}"
                     f"{' COLLAPSED' if test.get('collapsed') else ''}")
    return ", ".join(parts)


def run(context, data, planned: Sequence[PlannedRun], *, overwrite: bool = False,
        progress=True, verbose: int = 0, save_verifiers: str = "final",
        latency_repeats: int = 10) -> list[RunRecord]:
    """Train and evaluate every planned run not finished yet (``overwrite`` redoes them):
    one training per (optimizer, learning rate, seed), evaluated at each of its epoch
    counts, one progress line per training. Returns every planned run's record, in order.

    ``save_verifiers``: ``"final"`` keeps a :class:`~kerasbench.siamese.FaceVerifier`
    (embedding + threshold) of each training's longest run under ``models/<run_id>/``,
    ``"all"`` one per run, ``"none"`` none. ``latency_repeats``: timed single-pair
    verifications per training.
    """
    if not all(hasattr(data, name) for name in ("fingerprint", "splits", "pairs", "settings")):
        raise ConfigError(f"data must be the FacesData from faces.load_data, got "
                          f"{type(data).__name__}")
    planned = list(planned)
    if not planned or not all(isinstance(item, PlannedRun) for item in planned):
        raise ConfigError("planned must be the non-empty list from faces.configs(...)")
    choice(save_verifiers, "save_verifiers", SAVE_VERIFIERS)
    latency_repeats = positive_int(latency_repeats, "latency_repeats")
    fingerprint = data.fingerprint()
    specs = [RunSpec(study=STUDY, experiment=item.experiment, config=run_config(item, data),
                     dataset_fingerprint=fingerprint, protocol_version=PROTOCOL_VERSION,
                     demo=context.is_demo) for item in planned]
    run_ids = [spec.run_id for spec in specs]
    if len(set(run_ids)) != len(run_ids):
        raise ConfigError("planned holds the same run twice (same settings and seed)")
    groups: dict[str, list[RunSpec]] = {}
    for spec in specs:
        groups.setdefault(canonical_json(training_key(spec.config)), []).append(spec)
    # One group per training (its epoch counts); distributed, each group is one trial.
    ordered = [sorted(group, key=lambda spec: spec.config["epochs"]) for group in groups.values()]
    options = {"models_dir": context.output_dir / "models", "save_verifiers": save_verifiers,
               "latency_repeats": latency_repeats, "verbose": verbose}
    outcomes = run_groups(ordered, context.store(),
                          lambda needed: train_pair_runs(needed, data, **options),
                          overwrite=overwrite, progress=progress, label=STUDY,
                          describe=_describe, summary=_summary)
    done = {outcome.record.run_id: outcome.record for group in outcomes for outcome in group}
    return [done[run_id] for run_id in run_ids]
