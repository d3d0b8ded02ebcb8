"""Grid search through keras-tuner's ``GridSearch``, with the ResultsStore as the source of truth.

Every trial becomes one tidy record in a :class:`~kerasbench.results.ResultsStore`. A
config whose record exists is never trained again, so a grid stopped part-way (a killed
process, a closed laptop) resumes where it stopped and loses nothing that finished.

keras-tuner 1.4 needs three fixes for that, made here:

- a trial that raises is marked FAILED and ``search()`` carries on (and returns normally
  when every trial fails, e.g. when tensorboard is missing): :class:`ResumableGridSearch`
  raises :class:`GridTrialError` at the first failed trial, with its hyperparameters and
  traceback, and :func:`run_grid` checks again after the search;
- ``GridSearchOracle`` does not save its position in the grid, so a reloaded project
  stops after re-running the interrupted trial: :class:`ResumableGridSearchOracle`
  rebuilds that position from the reloaded trials, so keras-tuner's own project folder
  resumes too (the interrupted trial first, then the rest);
- a reloaded project never retries failed trials, and it thinks it is done when records
  were deleted: :func:`run_grid` then starts keras-tuner's project afresh, which costs
  nothing for configs already in the store.

:class:`RecordHyperModel` is the base for grids whose trials are records;
:class:`FrozenBackboneGrid` is the image size x batch size x learning rate grid of a
frozen backbone with a linear head, on cached features or on images.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras_tuner

from kerasbench.results import ResultsStore, config_hash

__all__ = [
    "FrozenBackboneGrid",
    "GridOutcome",
    "GridTrialError",
    "RecordHyperModel",
    "ResumableGridSearch",
    "ResumableGridSearchOracle",
    "grid_values",
    "run_grid",
]

FAILED_STATUSES = ("FAILED", "INVALID")


class GridTrialError(RuntimeError):
    """A grid trial raised; keras-tuner would only have marked it FAILED and carried on."""


def _describe_failures(trials) -> str:
    lines = []
    for trial in trials:
        message = (trial.message or "no message recorded").strip().splitlines()
        # The traceback's last lines hold the exception; the top is keras-tuner's plumbing.
        tail = "\n      ".join(message[-6:])
        lines.append(f"  - trial {trial.trial_id} {trial.hyperparameters.values} "
                     f"({trial.status}):\n      {tail}")
    return "\n".join(lines)


class ResumableGridSearchOracle(keras_tuner.oracles.GridSearchOracle):
    """``GridSearchOracle`` that finds its place in the grid again after a reload.

    keras-tuner 1.4 keeps the grid position (a linked list of trials in grid order and
    the queue of finished trials to step on from) only in memory. After a reload both
    are rebuilt from the saved trials: every trial is put in grid order and queued, and
    the oracle's own rule (skip a next combination that already exists) fills the gaps.
    """

    def set_state(self, state):
        super().set_state(state)
        ordered_ids = type(self._ordered_ids)()
        trial_ids = sorted(
            self.trials,
            key=functools.cmp_to_key(lambda first, second: self._compare(
                self.trials[first].hyperparameters.values,
                self.trials[second].hyperparameters.values)),
        )
        for trial_id in trial_ids:
            ordered_ids.insert(trial_id)
        self._ordered_ids = ordered_ids
        ongoing = {trial.trial_id for trial in self.ongoing_trials.values()}
        # The ongoing (interrupted) trial is queued when it ends, as in a normal run.
        self._populate_next = [trial_id for trial_id in trial_ids if trial_id not in ongoing]


class ResumableGridSearch(keras_tuner.GridSearch):
    """``keras_tuner.GridSearch`` with :class:`ResumableGridSearchOracle` that raises
    :class:`GridTrialError` as soon as a trial fails (after saving its state)."""

    def __init__(self, hypermodel=None, objective=None, max_trials=None, seed=None,
                 hyperparameters=None, tune_new_entries=True, allow_new_entries=True,
                 max_retries_per_trial=0, max_consecutive_failed_trials=3, **kwargs):
        self.seed = seed
        oracle = ResumableGridSearchOracle(
            objective=objective, max_trials=max_trials, seed=seed,
            hyperparameters=hyperparameters, tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries, max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        # GridSearch.__init__ only builds its own oracle; this one replaces it.
        keras_tuner.Tuner.__init__(self, oracle, hypermodel, **kwargs)

    def _populate_initial_space(self):
        if not isinstance(self.hypermodel, RecordHyperModel):
            super()._populate_initial_space()
            return
        # keras-tuner would also call build() with the default values to discover
        # conditional hyperparameters; a RecordHyperModel declares its whole (flat) space
        # up front, and that build would construct a full backbone for nothing.
        hp = self.oracle.get_space()
        self.hypermodel.declare_hyperparameters(hp)
        self.oracle.update_space(hp)

    def _try_build(self, hp):
        if getattr(self.hypermodel, "clear_session_between_trials", True):
            return super()._try_build(hp)
        # keras-tuner clears the Keras session and runs gc.collect() twice before every
        # build: about a second per trial once TensorFlow is loaded, longer than training
        # a head on cached features. It only pays off when trials build large models.
        import keras

        model = self._build_hypermodel(hp)
        if not isinstance(model, keras.Model):
            raise keras_tuner.errors.FatalTypeError(
                f"HyperModel.build() must return a Keras model, got {type(model).__name__}"
            )
        return model

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if trial.status in FAILED_STATUSES:
            raise GridTrialError(
                "grid trial failed (keras-tuner would have marked it FAILED and gone on):\n"
                + _describe_failures([trial])
            )


class RecordHyperModel(keras_tuner.HyperModel):
    """A keras-tuner HyperModel whose trials are ResultsStore records.

    Subclasses set ``space`` (hyperparameter name -> values, in grid order: the last
    name varies fastest) and implement :meth:`config_for` (values -> the record's config),
    :meth:`build_model` and :meth:`run_trial` (train, write the record, return it). A
    config already in the store is not trained again: ``build`` returns a placeholder and
    ``fit`` returns the stored objective.

    ``on_record(record)`` is called after each newly computed trial (progress printing;
    tests raise from it to simulate a killed process).
    """

    objective_name = "val_macro_f1"
    objective_path = ("metrics", "validation", "macro_f1")
    # keras-tuner's clear_session() + gc.collect() before each build (see
    # ResumableGridSearch._try_build); subclasses whose trials build small models skip it.
    clear_session_between_trials = True

    def __init__(self, space: Mapping[str, Sequence], store: ResultsStore, *,
                 on_record: Callable[[dict], None] | None = None, name: str | None = None):
        super().__init__(name=name)
        if not space:
            raise ValueError("the grid space is empty: give at least one hyperparameter")
        for key, values in space.items():
            values = list(values)
            if not values:
                raise ValueError(f"grid setting {key!r} has no values; give at least one")
            if len(set(values)) != len(values):
                raise ValueError(f"grid setting {key!r} lists a value twice: {values}")
        self.space = {key: list(values) for key, values in space.items()}
        self.store = store
        self.on_record = on_record
        self.computed: list[str] = []
        self.skipped: list[str] = []

    # ----- to implement
    def config_for(self, values: dict) -> dict:
        raise NotImplementedError

    def build_model(self, values: dict):
        raise NotImplementedError

    def run_trial(self, values: dict, model) -> dict:
        raise NotImplementedError

    # ----- keras-tuner protocol
    def declare_hyperparameters(self, hp) -> dict:
        return {key: hp.Choice(key, values, default=values[0])
                for key, values in self.space.items()}

    def build(self, hp):
        values = self.declare_hyperparameters(hp)
        if self.store.has(self.config_for(values)):
            return _placeholder_model()
        return self.build_model(values)

    def fit(self, hp, model, *args, **kwargs):
        values = {key: hp.get(key) for key in self.space}
        config = self.config_for(values)
        record = self.store.get(config)
        if record is not None:
            self.skipped.append(record["config_hash"])
        else:
            record = self.run_trial(values, model)
            self.computed.append(record["config_hash"])
            if self.on_record is not None:
                self.on_record(record)
        return {self.objective_name: float(self.objective_of(record))}

    def objective_of(self, record: dict) -> float:
        value = record
        for part in self.objective_path:
            value = value[part]
        return value

    # ----- the grid
    def grid(self) -> list[dict]:
        """Every combination in grid order (the last setting varies fastest)."""
        combinations = [{}]
        for key, values in self.space.items():
            combinations = [{**combination, key: value}
                            for combination in combinations for value in values]
        return combinations

    def project_name(self) -> str:
        """keras-tuner's project folder name: a hash of the grid and its fixed settings,
        so a changed grid never reloads a stale project."""
        fixed = self.config_for({key: values[0] for key, values in self.space.items()})
        for key in self.space:
            fixed.pop(key, None)
        return f"grid_{config_hash({'space': self.space, 'fixed': fixed})}"


def _placeholder_model():
    """keras-tuner insists that ``build`` return a Keras model; a finished config needs
    none, and building a large backbone only to skip it would cost seconds."""
    import keras

    inputs = keras.Input(shape=(1,))
    return keras.Model(inputs, keras.layers.Dense(1)(inputs), name="already_done")


@dataclass
class GridOutcome:
    """The records of a grid (in grid order) and what this call did."""

    records: list
    computed: list
    skipped: list
    seconds: float
    project_dir: Path
    reloaded: bool
    restarts: int = 0
    trials: dict = field(default_factory=dict)


def grid_values(record: dict, keys: Sequence[str]) -> tuple:
    return tuple(record["config"][key] for key in keys)


def run_grid(hypermodel: RecordHyperModel, *, directory: str | Path, verbose: int = 0,
             project_name: str | None = None) -> GridOutcome:
    """Run (or resume) every configuration of ``hypermodel``'s grid through keras-tuner.

    ``directory`` holds keras-tuner's project folder. Raises :class:`GridTrialError` if a
    trial fails, and RuntimeError if a configuration has no record at the end.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    project_name = project_name or hypermodel.project_name()
    objective = keras_tuner.Objective(hypermodel.objective_name, direction="max")
    start = time.perf_counter()
    restarts = 0
    reloaded = (directory / project_name / "tuner0.json").exists()

    def make_tuner(overwrite: bool):
        return ResumableGridSearch(
            hypermodel, objective=objective, directory=str(directory),
            project_name=project_name, overwrite=overwrite,
        )

    tuner = make_tuner(overwrite=False)
    earlier_failures = [trial for trial in tuner.oracle.trials.values()
                        if trial.status in FAILED_STATUSES]
    if earlier_failures:
        # A reloaded project never retries them; the store keeps every finished config.
        print(f"grid: {len(earlier_failures)} trial(s) failed in an earlier run; retrying them")
        tuner = make_tuner(overwrite=True)
        restarts += 1
    tuner.search(verbose=verbose)
    configs = [hypermodel.config_for(values) for values in hypermodel.grid()]
    missing = [config for config in configs if not hypermodel.store.has(config)]
    if missing:
        # keras-tuner's project says done but records are missing (deleted by hand, or a
        # project folder from another store): the store decides, so run them.
        print(f"grid: {len(missing)} configuration(s) have no record although keras-tuner's "
              "project lists them; running them again")
        tuner = make_tuner(overwrite=True)
        restarts += 1
        tuner.search(verbose=verbose)
    failed = [trial for trial in tuner.oracle.trials.values() if trial.status in FAILED_STATUSES]
    if failed:
        raise GridTrialError(f"{len(failed)} grid trial(s) failed:\n" + _describe_failures(failed))
    missing = [config for config in configs if not hypermodel.store.has(config)]
    if missing:
        raise RuntimeError(
            f"grid finished but {len(missing)} configuration(s) have no record in "
            f"{hypermodel.store.folder}, e.g. {missing[0]}; delete {directory / project_name} "
            "and run again"
        )
    return GridOutcome(
        records=[hypermodel.store.get(config) for config in configs],
        computed=list(hypermodel.computed), skipped=list(hypermodel.skipped),
        seconds=time.perf_counter() - start, project_dir=directory / project_name,
        reloaded=reloaded, restarts=restarts,
        trials={trial_id: trial.status for trial_id, trial in tuner.oracle.trials.items()},
    )


class FrozenBackboneGrid(RecordHyperModel):
    """image size x batch size x learning rate for one frozen backbone with a linear head.

    Each trial trains the head for ``epochs`` with Adam and records validation and test
    metrics. ``feature_cache`` (a :class:`~kerasbench.features.FeatureCache`) trains on
    cached pooled features; ``None`` builds and fits the whole frozen model on images,
    once per trial, as the paper did. Both give the same scores (see
    :func:`kerasbench.features.train_probe`).

    Args:
        index: a DatasetIndex with train, validation and test splits.
        fixed_config: extra settings written into every record's config (study name,
            subsample, ...).
        performance: :func:`~kerasbench.performance.choose_policy` switches (see
            :func:`kerasbench.features.feature_policy`); the policy applied is recorded in
            every row, and switches given are part of the config.
    """

    def __init__(self, index, *, backbone: str, weights, image_sizes: Sequence[int],
                 batch_sizes: Sequence[int], learning_rates: Sequence[float], epochs: int,
                 seed: int, store: ResultsStore, feature_cache=None,
                 fixed_config: Mapping | None = None, interpolation: str = "bilinear",
                 on_record: Callable[[dict], None] | None = None,
                 performance: Mapping | None = None):
        from kerasbench.backbones import get_backbone, resolve_image_size
        from kerasbench.features import frame_fingerprint, weights_descriptor

        spec = get_backbone(backbone)
        for size in image_sizes:
            resolve_image_size(spec, size)
        weights_descriptor(weights, seed)
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"grid epochs must be a positive int, got {epochs!r}")
        super().__init__(
            {"image_size": [int(size) for size in image_sizes],
             "batch_size": [int(batch) for batch in batch_sizes],
             "learning_rate": [float(rate) for rate in learning_rates]},
            store, on_record=on_record, name=f"{spec.name}_grid",
        )
        self.index = index
        self.backbone = spec.name
        self.weights = weights
        self.epochs = int(epochs)
        self.seed = int(seed)
        self.feature_cache = feature_cache
        self.interpolation = interpolation
        self.frames = {split: index.split(split) for split in ("train", "validation", "test")}
        self.class_names = list(index.class_names)
        self.dataset = frame_fingerprint(index.frame)
        self.fixed_config = dict(fixed_config or {})
        self.performance = dict(performance or {})
        self._build_seconds = 0.0
        self._head_model = None
        # Plain trials each build a whole backbone: free the previous one first.
        self.clear_session_between_trials = feature_cache is None

    def config_for(self, values: dict) -> dict:
        return {
            **self.fixed_config,
            "stage": "grid",
            "backbone": self.backbone,
            "weights": self.weights if self.weights is None else str(self.weights),
            "image_size": int(values["image_size"]),
            "batch_size": int(values["batch_size"]),
            "learning_rate": float(values["learning_rate"]),
            "epochs": self.epochs,
            "seed": self.seed,
            "feature_cache": self.feature_cache is not None,
            "optimizer": "adam",
            "head": "logits",
            "interpolation": self.interpolation,
            "dataset": self.dataset,
            # Only switches asked for: the default (the device's policy) keeps the config,
            # and so the records of earlier runs, as they were.
            **({"performance": self.performance} if self.performance else {}),
        }

    def build_model(self, values: dict):
        from kerasbench.features import build_full_classifier, build_head_model, feature_policy

        start = time.perf_counter()
        if self.feature_cache is not None:
            from kerasbench.backbones import get_backbone

            # One head model for the whole grid, reset to its seeded initial state at the
            # start of each trial (features.prepare_head): Keras then traces its training
            # step once instead of once per trial.
            if self._head_model is None:
                self._head_model = build_head_model(get_backbone(self.backbone).feature_dim,
                                                    len(self.class_names), self.seed)
            model = self._head_model
        else:
            model = build_full_classifier(self.backbone, len(self.class_names),
                                          image_size=int(values["image_size"]),
                                          weights=self.weights, seed=self.seed,
                                          policy=feature_policy(self.backbone,
                                                                self.performance))
        self._build_seconds = time.perf_counter() - start
        return model

    def run_trial(self, values: dict, model) -> dict:
        from kerasbench.features import train_probe

        start = time.perf_counter()
        result = train_probe(
            self.frames, self.class_names, backbone=self.backbone, weights=self.weights,
            image_size=int(values["image_size"]), batch_size=int(values["batch_size"]),
            learning_rate=float(values["learning_rate"]), epochs=self.epochs, seed=self.seed,
            cache=self.feature_cache, model=model, evaluate=("validation", "test"),
            validation_each_epoch=True, interpolation=self.interpolation,
            performance=self.performance,
        )
        durations = dict(result.durations)
        durations["build_seconds"] = self._build_seconds + durations.get("build_seconds", 0.0)
        durations["trial_seconds"] = self._build_seconds + (time.perf_counter() - start)
        self._build_seconds = 0.0
        return self.store.write(
            self.config_for(values),
            metrics=result.metrics,
            durations=durations,
            seed=self.seed,
            history=result.history,
            parameters=result.parameters,
            features=result.features,
            path=result.path,
            class_names=self.class_names,
            rows={split: len(frame) for split, frame in self.frames.items()},
            performance=result.performance,
        )
