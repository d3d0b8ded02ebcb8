"""The protocol's grid: image size x batch size x learning rate of one frozen backbone with
a linear head, each point one engine run (:func:`kerasbench.engine.grid.run_grid`).

Each point trains the head for ``epochs`` with Adam and records validation and test
metrics through :func:`kerasbench.engine.probe.train_probe`. With a
:class:`~kerasbench.engine.feature_cache.FeatureCache` the head trains on cached pooled
features (one head model for the whole grid, reset to its seeded initial state at each
point, so Keras traces its training step once); without one the whole frozen model is
built and fitted on images at every point, as the paper did. Both give the same scores.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from kerasbench.engine.execute import RunSpec
from kerasbench.engine.grid import GridOutcome, run_grid
from kerasbench.errors import ConfigError
from kerasbench.store import RunStore

STUDY = "clothing"
PROTOCOL_VERSION = "1"
GRID_AXES = ("image_size", "batch_size", "learning_rate")
INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5",
                  "gaussian", "mitchellcubic")


def probe_config(*, stage: str, backbone: str, weights, image_size, batch_size, learning_rate,
                 epochs: int, seed: int, feature_cache: bool, interpolation: str,
                 performance: Mapping | None = None) -> dict:
    """The resolved config of one head training: what enters its ``run_id``."""
    return {
        "stage": stage,
        "backbone": backbone,
        "weights": weights if weights is None else str(weights),
        "image_size": None if image_size is None else int(image_size),
        "batch_size": None if batch_size is None else int(batch_size),
        "learning_rate": None if learning_rate is None else float(learning_rate),
        "epochs": int(epochs),
        "seed": int(seed),
        "feature_cache": bool(feature_cache),
        "optimizer": "adam",
        "head": "logits",
        "interpolation": interpolation,
        # Only switches asked for: the default (the device's policy) keeps the config,
        # and so the run's identity, free of them.
        **({"performance": dict(performance)} if performance else {}),
    }


def usable_sizes(backbone: str, image_sizes: Sequence[int]) -> tuple[list[int], list[int]]:
    """``(sizes at or above the backbone's minimum input size, sizes below it)``."""
    from kerasbench.backbones import get_backbone

    minimum = get_backbone(backbone).min_size
    return ([int(size) for size in image_sizes if int(size) >= minimum],
            [int(size) for size in image_sizes if int(size) < minimum])


class FrozenBackboneGrid:
    """The grid of one frozen backbone on ``index`` (train, validation and test splits).

    Args:
        feature_cache: a :class:`~kerasbench.engine.feature_cache.FeatureCache` (train
            on cached features) or ``None`` (fit the whole frozen model on images).
        performance: :func:`~kerasbench.performance.choose_policy` switches (see
            :func:`kerasbench.engine.feature_keys.feature_policy`); the policy applied is
            recorded in every record, and switches given are part of the config.
        demo: whether ``index`` is demo data (recorded in every record).
    """

    def __init__(self, index, *, backbone: str, weights, image_sizes: Sequence[int],
                 batch_sizes: Sequence[int], learning_rates: Sequence[float], epochs: int,
                 seed: int, feature_cache=None, interpolation: str = "bilinear",
                 performance: Mapping | None = None, demo: bool = False):
        from kerasbench.backbones import get_backbone, resolve_image_size
        from kerasbench.engine.feature_keys import weights_descriptor
        from kerasbench.validate import positive_int

        spec = get_backbone(backbone)
        for size in image_sizes:
            resolve_image_size(spec, size)
        weights_descriptor(weights, seed)
        self.backbone = spec.name
        self.feature_dim = spec.feature_dim
        self.space = {"image_size": [int(size) for size in image_sizes],
                      "batch_size": [int(batch) for batch in batch_sizes],
                      "learning_rate": [float(rate) for rate in learning_rates]}
        self.weights = weights
        self.epochs = positive_int(epochs, "grid epochs")
        self.seed = int(seed)
        self.feature_cache = feature_cache
        self.interpolation = interpolation
        self.performance = dict(performance or {})
        self.demo = bool(demo)
        self.frames = {split: index.split(split) for split in ("train", "validation", "test")}
        self.class_names = list(index.class_names)
        self.fingerprint = index.fingerprint()
        self._head_model = None

    def config_for(self, point: Mapping) -> dict:
        return probe_config(stage="grid", backbone=self.backbone, weights=self.weights,
                            epochs=self.epochs, seed=self.seed,
                            feature_cache=self.feature_cache is not None,
                            interpolation=self.interpolation, performance=self.performance,
                            **{axis: point[axis] for axis in GRID_AXES})

    def spec_for(self, point: Mapping) -> RunSpec:
        return RunSpec(study=STUDY, experiment="grid", config=self.config_for(point),
                       dataset_fingerprint=self.fingerprint,
                       protocol_version=PROTOCOL_VERSION, demo=self.demo)

    def work(self, spec: RunSpec, point: Mapping):
        """Train and evaluate one point: a :class:`~kerasbench.engine.probe.ProbeResult`."""
        import keras

        from kerasbench.engine.feature_models import build_head_model
        from kerasbench.engine.probe import train_probe

        start = time.perf_counter()
        model = None
        if self.feature_cache is not None:
            if self._head_model is None:
                self._head_model = build_head_model(self.feature_dim, len(self.class_names),
                                                    self.seed)
            model = self._head_model
        else:
            # Each point builds a whole backbone: free the previous one first.
            keras.backend.clear_session()
        build_seconds = time.perf_counter() - start
        result = train_probe(
            self.frames, self.class_names, backbone=self.backbone, weights=self.weights,
            image_size=int(point["image_size"]), batch_size=int(point["batch_size"]),
            learning_rate=float(point["learning_rate"]), epochs=self.epochs, seed=self.seed,
            cache=self.feature_cache, model=model, evaluate=("validation", "test"),
            validation_each_epoch=True, interpolation=self.interpolation,
            performance=self.performance,
        )
        result.durations["build_s"] = result.durations.get("build_s", 0.0) + build_seconds
        result.extra["rows"] = {split: len(frame) for split, frame in self.frames.items()}
        return result

    def run(self, store: RunStore, *, directory=None, overwrite: bool = False,
            progress=True) -> GridOutcome:
        """Every point (resumable: finished points in ``store`` are skipped)."""
        return run_grid(self.space, self.spec_for, self.work, store, directory=directory,
                        objective=("validation", "macro_f1"), overwrite=overwrite,
                        progress=progress, label=STUDY, describe=("backbone", *GRID_AXES),
                        summary=lambda record: "validation macro F1 "
                        f"{record.metric('validation', 'macro_f1'):.4f}")


def check_grid_configs(configs: Sequence[Mapping]) -> dict:
    """The grid axes' values (in order) of one backbone's planned grid configs, which must
    be their full product and share every other setting."""
    base = {key: value for key, value in configs[0].items() if key not in GRID_AXES}
    for config in configs:
        other = {key: value for key, value in config.items() if key not in GRID_AXES}
        if other != base:
            raise ConfigError(f"planned grid runs of {base['backbone']} differ in more than "
                              f"{list(GRID_AXES)}: {other} vs {base}; plan one grid per backbone")
    axes = {axis: list(dict.fromkeys(config[axis] for config in configs)) for axis in GRID_AXES}
    points = {tuple(config[axis] for axis in GRID_AXES) for config in configs}
    size = len(axes["image_size"]) * len(axes["batch_size"]) * len(axes["learning_rate"])
    if len(points) != len(configs) or len(points) != size:
        raise ConfigError(f"planned grid runs of {base['backbone']} are not the full product "
                          f"of {axes} (each point once); plan them with clothing.configs()")
    return axes


def precompute_features(grids: Sequence[FrozenBackboneGrid], store: RunStore, *,
                        overwrite: bool = False) -> None:
    """Compute the cached features every unfinished grid point will ask for, one image size
    at a time: the backbones of one size share one decoding of the images
    (:meth:`~kerasbench.engine.feature_cache.FeatureCache.features_shared`). Grids without
    a feature cache, and sizes whose points are all finished (unless ``overwrite``), are
    left out."""
    import itertools

    from kerasbench.engine.feature_keys import feature_policy
    from kerasbench.io import canonical_json

    wanted: dict[tuple, list] = {}
    for grid in grids:
        if grid.feature_cache is None:
            continue
        for size in grid.space["image_size"]:
            points = itertools.product([size], grid.space["batch_size"],
                                       grid.space["learning_rate"])
            finished = [store.finished(grid.spec_for(dict(zip(GRID_AXES, point))).run_id)
                        for point in points]
            if not overwrite and all(record is not None for record in finished):
                continue
            # Grids share a pass when they share the cache, the data and every setting
            # the features depend on except the backbone.
            shared = (id(grid.feature_cache), grid.fingerprint, size,
                      canonical_json(grid.weights), grid.seed, grid.interpolation,
                      canonical_json(grid.performance))
            wanted.setdefault(shared, []).append(grid)
    for (_, _, size, *_), group in wanted.items():
        first = group[0]
        backbones = list(dict.fromkeys(grid.backbone for grid in group))
        first.feature_cache.features_shared(
            backbones, weights=first.weights, image_size=size, frames=first.frames,
            seed=first.seed, interpolation=first.interpolation,
            policies={name: feature_policy(name, first.performance) for name in backbones})
