"""The protocol: which runs it asks for (:func:`configs`) and running them (:func:`run`).

Each backbone (EfficientNetB6, EfficientNetB7, DenseNet201, Xception; any registry name
works) is frozen, called with ``training=False``, followed by GlobalAveragePooling2D and a
``Dense(10)`` of logits, trained with Adam on sparse categorical cross-entropy from logits
(the same loss as the paper's categorical one on one-hot labels), without augmentation.

- experiment ``grid``: image size x batch size x learning rate (the paper: {300, 400,
  500} x {32, 48, 64} x {0.01, 0.001, 0.0001}, 2 epochs each), one run per point,
  through KerasTuner's grid search (:mod:`kerasbench.studies.clothing.grid`);
- experiment ``final``: per backbone, the best grid configuration by VALIDATION macro F1
  retrained for the final epochs (the paper: 5) and reported on test
  (:mod:`kerasbench.studies.clothing.finals`).

Seeds (``seeds=[...]``, :func:`kerasbench.summaries.with_seeds`): every run's config holds
its seed, so adding a seed trains only the new seed's runs. With ``grid_per_seed=True``
(the default) each seed repeats the whole protocol: its own grid, its own choice of the
best point on validation and its own final model, so the spread over seeds covers the
choice of hyperparameters as well as the training of the final model (what the paper's
single number is an outcome of). With ``grid_per_seed=False`` the grid runs once, with
the first seed, and every seed retrains the final model from that grid's best point
(config key ``grid_seed`` in the other seeds' finals): a third of the grid's cost with three seeds, and a spread that
covers the final training only. (With random weights, ``weights=None``, the backbone
itself depends on the seed, so a shared grid only makes sense with fixed weights.)

With ``feature_cache=True`` the pooled features of each (backbone, weights, image size,
split) are computed once and every run trains its head on them; ``False`` fits the whole
frozen model on images in every run, as the paper did. Both give the same scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from kerasbench.engine import distributed
from kerasbench.engine.execute import run_each
from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord
from kerasbench.studies.base import PlannedRun
from kerasbench.studies.clothing.finals import (
    best_grid_record,
    final_config,
    final_spec,
    head_weights_path,
    head_weights_usable,
    matching_grid,
    train_final,
)
from kerasbench.studies.clothing.grid import (
    GRID_AXES,
    INTERPOLATIONS,
    FrozenBackboneGrid,
    check_grid_configs,
    precompute_features,
    probe_config,
    usable_sizes,
)
from kerasbench.studies.clothing.paper import PAPER_BACKBONES, PAPER_GRID
from kerasbench.summaries import check_seeds, with_seeds
from kerasbench.validate import (
    choice,
    positive_int,
    positive_int_list,
    positive_number_list,
)

EXPERIMENTS = ("grid", "final")


def configs(*, backbones: Sequence[str] = PAPER_BACKBONES,
            image_sizes: Sequence[int] = PAPER_GRID["image_sizes"],
            batch_sizes: Sequence[int] = PAPER_GRID["batch_sizes"],
            learning_rates: Sequence[float] = PAPER_GRID["learning_rates"],
            grid_epochs: int = PAPER_GRID["grid_epochs"],
            final_epochs: int = PAPER_GRID["final_epochs"], weights="imagenet",
            seeds: Sequence[int] = (42,), grid_per_seed: bool = True,
            feature_cache: bool = True, interpolation: str = "bilinear",
            performance: Mapping | None = None) -> list[PlannedRun]:
    """The runs of the protocol (the defaults are the paper's, with one seed): every
    backbone's grid points (experiment ``grid``, in grid order, once per seed, or once
    with the first seed when ``grid_per_seed`` is False), then one ``final`` run per
    backbone and seed whose image size, batch size and learning rate are ``None`` until
    :func:`run` takes them from the best point of that seed's grid (of the first seed's
    with ``grid_per_seed=False``, recorded as ``grid_seed``).

    Image sizes below a backbone's minimum input size (Xception: 71) are left out of its
    grid, with a printed note; a backbone left with no size is an error.
    """
    from kerasbench.backbones import get_backbone
    from kerasbench.engine.feature_keys import weights_descriptor

    if (isinstance(backbones, (str, Mapping)) or not isinstance(backbones, Sequence)
            or not backbones):
        raise ConfigError(f"backbones must be a non-empty list of registry names, e.g. "
                          f"['xception'], got {backbones!r}")
    if not all(isinstance(name, str) for name in backbones):
        raise ConfigError(f"backbones must be registry names (text), got {list(backbones)!r}")
    names = [get_backbone(name).name for name in backbones]
    if len(set(names)) != len(names):
        raise ConfigError(f"backbones lists a backbone twice: {list(backbones)}")
    # The values as given: list("16") would be ["1", "6"], and list(8) a bare TypeError.
    image_sizes = positive_int_list(image_sizes, "image_sizes")
    batch_sizes = positive_int_list(batch_sizes, "batch_sizes")
    learning_rates = positive_number_list(learning_rates, "learning_rates")
    for name, value in (("grid_per_seed", grid_per_seed), ("feature_cache", feature_cache)):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r} "
                              f"({type(value).__name__})")
    for name, values in (("image_sizes", image_sizes), ("batch_sizes", batch_sizes),
                         ("learning_rates", learning_rates)):
        if len(set(values)) != len(values):
            raise ConfigError(f"{name} lists a value twice: {values}")
    try:
        seeds = check_seeds(seeds)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    grid_seeds = seeds if grid_per_seed else seeds[:1]
    shared = {"weights": weights, "seed": seeds[0],
              "feature_cache": bool(feature_cache),
              "interpolation": choice(interpolation, "interpolation", INTERPOLATIONS),
              "performance": performance}
    try:  # None, "imagenet" or an existing weights file
        weights_descriptor(weights, seeds[0])
    except ValueError as error:
        raise ConfigError(str(error)) from None
    grid_epochs = positive_int(grid_epochs, "grid_epochs")
    final_epochs = positive_int(final_epochs, "final_epochs")
    grid, finals = [], []
    for backbone in names:
        sizes, too_small = usable_sizes(backbone, image_sizes)
        if too_small:
            print(f"{backbone}: image sizes {too_small} are below its minimum input size; "
                  f"its grid uses {sizes}")
        if not sizes:
            raise ConfigError(f"no image size in {image_sizes} fits backbone {backbone!r} (its "
                              "minimum is larger); add a larger size to image_sizes")
        points = [PlannedRun("grid", probe_config(
            stage="grid", backbone=backbone, image_size=size, batch_size=batch,
            learning_rate=rate, epochs=grid_epochs, **shared))
            for size in sizes for batch in batch_sizes for rate in learning_rates]
        for seed in grid_seeds:  # one whole grid per seed, each in grid order
            grid += with_seeds(points, [seed])
        final = PlannedRun("final", probe_config(
            stage="final", backbone=backbone, image_size=None, batch_size=None,
            learning_rate=None, epochs=final_epochs, **shared))
        for planned_final in with_seeds([final], seeds):
            if not grid_per_seed and planned_final.config["seed"] != seeds[0]:
                # Chosen from the first seed's grid (the first seed's own final is the
                # same run either way, so it keeps its identity).
                planned_final = PlannedRun("final", {**planned_final.config,
                                                     "grid_seed": seeds[0]})
            finals.append(planned_final)
    return grid + finals


def feature_cache_for(context, planned: Sequence[PlannedRun], folder=None, verbose=0):
    """The :class:`FeatureCache` the planned runs share (None when none uses it):
    ``folder``, else ``<output_dir>/feature_cache``."""
    from kerasbench.engine.feature_cache import FeatureCache

    if not any(run.config.get("feature_cache") for run in planned):
        return None
    folder = Path(folder) if folder else context.output_dir / "feature_cache"
    return FeatureCache(folder, verbose=bool(verbose))


def run(context, data, planned: Sequence[PlannedRun], *, overwrite: bool = False,
        progress=True, verbose: int = 0, feature_cache_dir=None) -> list[RunRecord]:
    """Train what is not finished yet: every backbone's grid (resumable, through
    KerasTuner), then its final model. Returns the records of the grid runs (grid
    order), then of the final runs. ``feature_cache_dir``: where cached features are
    kept (shared between runs); ``<output_dir>/feature_cache`` when None."""
    unknown = sorted({run.experiment for run in planned} - set(EXPERIMENTS))
    if unknown:
        raise ConfigError(f"the clothing protocol has experiments {list(EXPERIMENTS)}, "
                          f"not {unknown}")
    cache = feature_cache_for(context, planned, feature_cache_dir, verbose)
    grids: dict[tuple, list] = {}
    for entry in planned:
        if entry.experiment == "grid":
            key = (entry.config["backbone"], entry.config["seed"])
            grids.setdefault(key, []).append(entry.config)
    backbone_grids = []
    for (backbone, _seed), grid_configs in grids.items():
        axes = check_grid_configs(grid_configs)
        first = grid_configs[0]
        backbone_grids.append(FrozenBackboneGrid(
            data, backbone=backbone, weights=first["weights"],
            image_sizes=axes["image_size"], batch_sizes=axes["batch_size"],
            learning_rates=axes["learning_rate"], epochs=first["epochs"], seed=first["seed"],
            feature_cache=cache if first["feature_cache"] else None,
            interpolation=first["interpolation"], performance=first.get("performance"),
            demo=context.is_demo))
    if not distributed.active():
        # One process does every point: decode each image size once for all backbones.
        # (Workers compute, and share through the cache folder, what their trials need.)
        precompute_features(backbone_grids, context.store("grid"), overwrite=overwrite)
    grid_records: list[RunRecord] = []
    for grid in backbone_grids:
        outcome = grid.run(context.store("grid"), directory=context.output_dir / "tuner",
                           overwrite=overwrite, progress=progress)
        grid_records += outcome.records
        if verbose:
            print(f"{grid.backbone} seed {grid.seed}: {len(outcome.outcomes)} grid runs, "
                  f"{len(outcome.computed)} trained now, {len(outcome.skipped)} already finished, "
                  f"{outcome.seconds:.1f} s", flush=True)
    return grid_records + run_finals(context, data, planned, grid_records, cache=cache,
                                     overwrite=overwrite, progress=progress)


def run_finals(context, data, planned: Sequence[PlannedRun], grid_records, *, cache,
               overwrite: bool = False, progress=True) -> list[RunRecord]:
    """Each planned final, configured from the best of its backbone's grid records."""
    specs = []
    store = context.store("final")
    for entry in planned:
        if entry.experiment != "final":
            continue
        candidates = matching_grid(entry.config, grid_records)
        if not candidates:
            raise ConfigError(f"the final run of {entry.config['backbone']} (seed "
                              f"{entry.config['seed']}) has no grid runs to choose from; "
                              "plan them together with clothing.configs()")
        config = final_config(entry.config, best_grid_record(candidates))
        if any(config[axis] is None for axis in GRID_AXES):
            raise ConfigError(f"final config {config} lacks {list(GRID_AXES)}")
        spec = final_spec(config, data, context.is_demo)
        head = head_weights_path(context.output_dir, spec.run_id)
        if store.finished(spec.run_id) is not None and not head_weights_usable(head):
            # The record is only useful with its head: train the model again.
            print(f"{config['backbone']}: the final model's head weights {head} are missing "
                  "or damaged; training it again")
            store.path(spec.run_id).unlink(missing_ok=True)
        specs.append(spec)
    outcomes = run_each(
        specs, store,
        lambda spec: train_final(spec, data, cache=cache, output_dir=context.output_dir),
        overwrite=overwrite, progress=progress, label="clothing",
        summary=lambda record: f"test macro F1 {record.metric('test', 'macro_f1'):.4f}")
    return [outcome.record for outcome in outcomes]
