"""A resumable grid of engine runs, walked by KerasTuner through its public API.

Each point of the grid (one value per setting, the last setting varying fastest) is one
:class:`~kerasbench.engine.execute.RunSpec`, executed by :func:`~kerasbench.engine.execute`
into a :class:`~kerasbench.store.RunStore`, so a trial's record has the same ``run_id``
as the same run executed on its own. KerasTuner's
:class:`keras_tuner.oracles.GridSearchOracle` proposes the points; :class:`GridTuner`, a
:class:`keras_tuner.Tuner` whose ``run_trial`` executes a point, reports the objective.

The store, not KerasTuner's project folder, is the source of truth for what is done:

- a point whose record is finished is skipped (in microseconds) and never trained again;
- a point whose record was deleted (or is failed, or incomplete) is run again;
- a grid stopped part-way (an exception, a killed process) resumes where it stopped:
  every call starts KerasTuner's project afresh (``overwrite=True``) and the finished
  points are skipped, so no KerasTuner internals are needed to find the place again;
- a point that raises stops the grid with a :class:`GridTrialError` naming its settings
  (KerasTuner would otherwise mark the trial failed and carry on); its failed record
  stays in the store, and the next call runs it again.

With KerasTuner's distributed variables set (:mod:`kerasbench.engine.distributed`) the
points are trials of the chief's oracle, run by the workers; the chief and the workers
return the same :class:`GridOutcome` (records read from the shared store) once every
point has ended, and a failed point raises :class:`GridTrialError` everywhere.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import keras_tuner

from kerasbench.engine.execute import RunOutcome, RunSpec, TrainResult, execute_here
from kerasbench.engine.progress import make_progress
from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord, config_hash
from kerasbench.store import RunStore

__all__ = ["GridOutcome", "GridTrialError", "GridTuner", "grid_points", "run_grid"]

SETTING_TYPES = (bool, int, float, str)


class GridTrialError(keras_tuner.errors.FatalRuntimeError):
    """A grid point raised. A KerasTuner ``FatalError``, so the search stops at once."""


def check_space(space: Mapping[str, Sequence]) -> dict[str, list]:
    """``{setting: [values...]}`` with at least one setting, each with distinct values of
    one plain type (KerasTuner's ``Choice`` takes bool, int, float or str)."""
    if not isinstance(space, Mapping) or not space:
        raise ConfigError("the grid space is empty: give at least one setting and its values")
    checked = {}
    for name, values in space.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ConfigError(f"grid setting {name!r} must be a list of values, got {values!r}")
        values = list(values)
        if not values:
            raise ConfigError(f"grid setting {name!r} has no values; give at least one")
        kinds = {type(value) for value in values}
        if len(kinds) != 1 or not issubclass(kinds.pop(), SETTING_TYPES):
            raise ConfigError(f"grid setting {name!r} needs values of one type among bool, "
                              f"int, float and str, got {values!r}")
        if len(set(values)) != len(values):
            raise ConfigError(f"grid setting {name!r} lists a value twice: {values}")
        checked[str(name)] = values
    return checked


def grid_points(space: Mapping[str, Sequence]) -> list[dict]:
    """Every combination in grid order: the last setting varies fastest."""
    points = [{}]
    for name, values in check_space(space).items():
        points = [{**point, name: value} for point in points for value in values]
    return points


@dataclass
class GridOutcome:
    """What a grid call produced: one outcome per point in grid order, and what it did."""

    outcomes: list[RunOutcome]
    points: list[dict]
    computed: list[str] = field(default_factory=list)  # run_ids trained in this call
    skipped: list[str] = field(default_factory=list)  # run_ids already finished
    seconds: float = 0.0
    trials: dict = field(default_factory=dict)  # KerasTuner trial id -> status

    @property
    def records(self) -> list[RunRecord]:
        return [outcome.record for outcome in self.outcomes]


class GridTuner(keras_tuner.Tuner):
    """A :class:`keras_tuner.Tuner` whose trial is one engine run (no hypermodel).

    ``run_trial`` maps the trial's hyperparameters to a grid point, executes its spec
    through :func:`~kerasbench.engine.execute` and returns the record's objective.
    """

    def __init__(self, oracle, *, space: dict, spec_for: Callable[[dict], RunSpec],
                 work: Callable[[RunSpec, dict], TrainResult], store: RunStore,
                 objective: tuple[str, str], rerun_finished: bool = False, on_outcome=None,
                 **kwargs):
        super().__init__(oracle, hypermodel=None, **kwargs)
        self.space = space
        self.spec_for = spec_for
        self.work = work
        self.store = store
        self.objective_path = objective
        self.rerun_finished = rerun_finished
        self.on_outcome = on_outcome
        self.outcomes: dict[str, tuple[dict, RunOutcome]] = {}

    def point_of(self, trial) -> dict:
        """The trial's values as the grid's own objects (KerasTuner may convert them)."""
        values = trial.hyperparameters.values
        point = {}
        for name, options in self.space.items():
            value = values[name]
            matches = [option for option in options if option == value]
            point[name] = matches[0] if matches else value
        return point

    def run_trial(self, trial, *args, **kwargs):
        point = self.point_of(trial)
        spec = self.spec_for(dict(point))
        start = time.perf_counter()
        try:
            outcome = execute_here(spec, self.store, lambda: self.work(spec, dict(point)),
                                   overwrite=self.rerun_finished)
        except Exception as error:
            raise GridTrialError(
                f"grid point {point} ({spec.describe()}, run {spec.run_id}) failed: "
                f"{type(error).__name__}: {error}; its failed record is in "
                f"{self.store.path(spec.run_id)}, and the next call runs it again"
            ) from error
        # Only the record is kept: a point's trained model and predictions (a whole
        # frozen backbone on the plain path) are freed before the next point.
        self.outcomes[spec.run_id] = (point, RunOutcome(record=outcome.record,
                                                        skipped=outcome.skipped))
        if self.on_outcome is not None:
            self.on_outcome(outcome, time.perf_counter() - start)
        split, name = self.objective_path
        value = outcome.record.metric(split, name)
        if value is None:
            raise GridTrialError(f"grid point {point} finished without the objective "
                                 f"metrics[{split!r}][{name!r}]; its record holds "
                                 f"{sorted(outcome.record.metrics.get(split) or {})}")
        return {f"{split}_{name}": float(value)}


def run_grid(space: Mapping[str, Sequence], spec_for: Callable[[dict], RunSpec],
             work: Callable[[RunSpec, dict], TrainResult], store: RunStore, *,
             directory: str | Path | None = None, objective: tuple[str, str] = (
                 "validation", "macro_f1"), direction: str = "max", overwrite: bool = False,
             progress=True, label: str = "", describe: Sequence[str] | None = None,
             summary: Callable[[RunRecord], str] | None = None,
             on_outcome: Callable[[RunOutcome, float], None] | None = None) -> GridOutcome:
    """Run (or resume) every point of ``space`` through KerasTuner's grid search.

    Args:
        space: setting -> values, in grid order (the last setting varies fastest).
        spec_for: grid point (``{setting: value}``) -> its :class:`RunSpec`.
        work: ``(spec, point) -> TrainResult``, called only for points not finished.
        store: where the records go (and are looked up).
        directory: KerasTuner's project folder goes here (rewritten by every call: the
            store decides what is done); a temporary folder when ``None``. Distributed,
            the chief's oracle keeps its own temporary folder.
        objective: ``(split, metric)`` of the record reported to KerasTuner.
        overwrite: run every point again even when its record is finished.
        progress, label, summary: as for :func:`~kerasbench.engine.run_each` (one line
            per point); ``describe`` names the config keys the line shows (default: every
            scalar setting).
        on_outcome: called with each point's outcome and seconds (e.g. progress, tests).

    Raises:
        GridTrialError: a point raised (the message names its settings).
    """
    space = check_space(space)
    points = grid_points(space)
    specs = [spec_for(dict(point)) for point in points]
    by_run, spec_of = {}, {spec.run_id: spec for spec in specs}
    for point, spec in zip(points, specs):
        if spec.run_id in by_run:
            raise ConfigError(f"grid points {by_run[spec.run_id]} and {point} describe the same "
                              "run (same config and data): a setting of the grid does not "
                              "enter the run's config")
        by_run[spec.run_id] = point
    reporter = make_progress(progress, len(points), label or (specs[0].study if specs else ""))
    computed, skipped = [], []

    def after_trial(outcome: RunOutcome, seconds: float) -> None:
        (skipped if outcome.skipped else computed).append(outcome.record.run_id)
        if reporter is not None:
            reporter.step(spec_of[outcome.record.run_id].describe(describe),
                          skipped=outcome.skipped, seconds=seconds,
                          summary=summary(outcome.record) if summary else "")
        if on_outcome is not None:
            on_outcome(outcome, seconds)

    from kerasbench.engine import distributed

    project_name = "grid_" + config_hash({"space": space, "first": specs[0].config,
                                          "data": specs[0].dataset_fingerprint})
    start = time.perf_counter()
    if distributed.active():
        tasks = [distributed.Task(
            key=spec.run_id, specs=[spec], description=spec.describe(describe),
            run=lambda spec=spec, point=point: [execute_here(
                spec, store, lambda: work(spec, dict(point)), overwrite=overwrite)])
            for point, spec in zip(points, specs)]
        try:
            phase = distributed.run_tasks(tasks, store, label=project_name, overwrite=overwrite,
                                          reporter=reporter, on_ended=on_outcome,
                                          summary=summary)
        except distributed.RunsFailed as error:
            raise GridTrialError(f"grid points {[by_run[run_id] for run_id in error.failed]} "
                                 f"did not finish: {error}") from error
        return GridOutcome(outcomes=[phase.outcomes[spec.run_id] for spec in specs],
                           points=points, computed=phase.computed, skipped=phase.skipped,
                           seconds=time.perf_counter() - start, trials=phase.trials)

    hyperparameters = keras_tuner.HyperParameters()
    for name, values in space.items():
        hyperparameters.Choice(name, values, default=values[0])
    objective_name = f"{objective[0]}_{objective[1]}"
    oracle = keras_tuner.oracles.GridSearchOracle(
        objective=keras_tuner.Objective(objective_name, direction=direction),
        hyperparameters=hyperparameters, allow_new_entries=False, tune_new_entries=False,
    )
    folder = (contextlib.nullcontext(directory) if directory is not None
              else tempfile.TemporaryDirectory(prefix="kerasbench-grid-"))
    with folder as project_folder:
        tuner = GridTuner(oracle, space=space, spec_for=spec_for, work=work, store=store,
                          objective=tuple(objective), rerun_finished=overwrite,
                          on_outcome=after_trial, directory=str(project_folder),
                          project_name=project_name, overwrite=True)
        tuner.search(verbose=0)
        trials = {trial_id: trial.status for trial_id, trial in tuner.oracle.trials.items()}
    outcomes = {run_id: outcome for run_id, (_, outcome) in tuner.outcomes.items()}
    missing = [by_run[spec.run_id] for spec in specs if spec.run_id not in outcomes]
    if missing:
        raise RuntimeError(f"KerasTuner's grid search ended without visiting {missing}; "
                           "run the grid again (finished points are skipped)")
    return GridOutcome(outcomes=[outcomes[spec.run_id] for spec in specs], points=points,
                       computed=computed, skipped=skipped,
                       seconds=time.perf_counter() - start, trials=trials)
