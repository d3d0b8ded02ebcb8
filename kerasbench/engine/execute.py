"""Run a described run once: look it up, train and evaluate it, write its ``RunRecord``.

A study describes each run as a :class:`RunSpec` (study, experiment, resolved config,
dataset fingerprint, protocol version) and hands the engine a ``work`` function that
trains and evaluates it and returns a :class:`TrainResult`. The engine owns everything
around that: identity (``run_id``), skipping finished runs, timing, writing the finished
or failed record, and progress. A run that raises leaves a ``failed`` record (with the
error) and the exception propagates; the next attempt redoes it.

With KerasTuner's distributed variables set (:mod:`kerasbench.engine.distributed`),
:func:`execute`, :func:`execute_group`, :func:`run_each` and :func:`run_groups` hand
their runs to the workers as trials (a worker executes them here, as in one process) and
return every record once all have ended; the signatures and results are the same.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kerasbench.engine.progress import make_progress
from kerasbench.records import RunRecord, config_hash, make_run_id
from kerasbench.store import RunStore


@dataclass
class RunSpec:
    """What a run is: who asks (study, experiment), with what (config), on what data."""

    study: str
    experiment: str
    config: dict
    dataset_fingerprint: str
    protocol_version: str
    demo: bool = False

    @property
    def seed(self):
        return self.config.get("seed")

    @property
    def run_id(self) -> str:
        return make_run_id(self.config, self.dataset_fingerprint, self.protocol_version)

    def describe(self, keys: Sequence[str] | None = None) -> str:
        shown = keys if keys is not None else [key for key, value in self.config.items()
                                               if isinstance(value, (int, float, str))
                                               and key != "dataset"]
        settings = " ".join(f"{key}={self.config.get(key)}" for key in shown)
        return f"{self.experiment} {settings}".strip()


@dataclass
class TrainResult:
    """What a training function returns to the engine; the first five enter the record."""

    metrics: dict
    history: dict = field(default_factory=dict)
    durations: dict = field(default_factory=dict)
    policy: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    evaluated_splits: list | None = None
    # Not stored: the trained model and per-split predictions, for the caller.
    model: Any = None
    predictions: dict = field(default_factory=dict)


@dataclass
class RunOutcome:
    record: RunRecord
    skipped: bool = False
    model: Any = None
    predictions: dict = field(default_factory=dict)
    result: TrainResult | None = None


def make_record(spec: RunSpec, result: TrainResult, *, total_seconds: float | None = None
                ) -> RunRecord:
    durations = dict(result.durations)
    extra = dict(result.extra)
    compact = {split: predicted.compact() for split, predicted in result.predictions.items()
               if hasattr(predicted, "compact")}
    if compact and "predictions" not in extra:
        # Per-image outcomes: what seed intervals and paired tests are computed from.
        extra["predictions"] = compact
    if total_seconds is not None:
        durations["total_s"] = total_seconds
    return RunRecord(
        study=spec.study, experiment=spec.experiment, config=spec.config,
        dataset_fingerprint=spec.dataset_fingerprint, protocol_version=spec.protocol_version,
        seed=spec.seed, status="finished", metrics=result.metrics,
        evaluated_splits=list(result.evaluated_splits or result.metrics),
        durations=durations, history=result.history, policy=result.policy, demo=spec.demo,
        extra=extra,
    )


def failed_record(spec: RunSpec, error: BaseException, seconds: float) -> RunRecord:
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return RunRecord(
        study=spec.study, experiment=spec.experiment, config=spec.config,
        dataset_fingerprint=spec.dataset_fingerprint, protocol_version=spec.protocol_version,
        seed=spec.seed, status="failed", demo=spec.demo, durations={"total_s": seconds},
        error=text[-4000:],
    )


def _distributed():
    """The distributed module when this call must go through the chief and its workers."""
    from kerasbench.engine import distributed

    return distributed if distributed.active() else None


def _writes_record(result: TrainResult) -> bool:
    """False in a multi-worker training's non-chief process: one record per run."""
    return bool((result.extra.get("distribution") or {}).get("writes_records", True))


def execute(spec: RunSpec, store: RunStore, work: Callable[[], TrainResult], *,
            overwrite: bool = False) -> RunOutcome:
    """Run ``work`` for ``spec`` unless ``store`` holds it finished (``overwrite`` redoes).
    Distributed, one worker runs it and every process gets its record (no model)."""
    distributed = _distributed()
    if distributed is not None:
        return run_each([spec], store, lambda _: work(), overwrite=overwrite,
                        progress=False)[0]
    return execute_here(spec, store, work, overwrite=overwrite)


def execute_here(spec: RunSpec, store: RunStore, work: Callable[[], TrainResult], *,
                 overwrite: bool = False) -> RunOutcome:
    """:func:`execute` in this process, whatever the distributed settings."""
    if not overwrite:
        existing = store.finished(spec.run_id)
        if existing is not None:
            return RunOutcome(record=existing, skipped=True)
    start = time.perf_counter()
    try:
        result = work()
    except Exception as error:
        store.write(failed_record(spec, error, time.perf_counter() - start))
        raise
    if not isinstance(result, TrainResult):
        raise TypeError(f"a run's work must return a TrainResult, got {type(result).__name__}")
    record = make_record(spec, result, total_seconds=time.perf_counter() - start)
    if _writes_record(result):
        store.write(record)
    if not record.finished:
        raise RuntimeError(f"run {spec.run_id} ({spec.describe()}) evaluated "
                           f"{record.evaluated_splits} but returned metrics for "
                           f"{sorted(k for k, v in record.metrics.items() if v)}")
    return RunOutcome(record=record, model=result.model, predictions=result.predictions,
                      result=result)


def execute_group(specs: Sequence[RunSpec], store: RunStore,
                  work: Callable[[list[RunSpec]], dict[str, TrainResult]], *,
                  overwrite: bool = False) -> list[RunOutcome]:
    """Several runs produced by ONE training (e.g. one Siamese training evaluated at
    several epoch counts): ``work(needed)`` returns ``{run_id: TrainResult}`` for the
    specs not yet finished. Outcomes come back in ``specs`` order. Distributed, the group
    is one trial (see :func:`run_groups` to spread several groups over workers)."""
    if _distributed() is not None:
        return run_groups([specs], store, work, overwrite=overwrite, progress=False)[0]
    return execute_group_here(specs, store, work, overwrite=overwrite)


def execute_group_here(specs: Sequence[RunSpec], store: RunStore,
                       work: Callable[[list[RunSpec]], dict[str, TrainResult]], *,
                       overwrite: bool = False) -> list[RunOutcome]:
    """:func:`execute_group` in this process, whatever the distributed settings."""
    outcomes: dict[str, RunOutcome] = {}
    needed = []
    for spec in specs:
        existing = None if overwrite else store.finished(spec.run_id)
        if existing is not None:
            outcomes[spec.run_id] = RunOutcome(record=existing, skipped=True)
        else:
            needed.append(spec)
    if needed:
        start = time.perf_counter()
        try:
            results = work(needed)
        except Exception as error:
            for spec in needed:
                store.write(failed_record(spec, error, time.perf_counter() - start))
            raise
        seconds = time.perf_counter() - start
        for spec in needed:
            if spec.run_id not in results:
                raise RuntimeError(f"grouped work returned no result for {spec.describe()}")
            result = results[spec.run_id]
            total = result.durations.get("total_s", seconds)
            record = make_record(spec, result, total_seconds=total)
            if _writes_record(result):
                store.write(record)
            outcomes[spec.run_id] = RunOutcome(record=record, model=result.model,
                                               predictions=result.predictions, result=result)
    return [outcomes[spec.run_id] for spec in specs]


def run_each(specs: Sequence[RunSpec], store: RunStore, work: Callable[[RunSpec], TrainResult],
             *, overwrite: bool = False, progress=True, label: str = "",
             summary: Callable[[RunRecord], str] | None = None) -> list[RunOutcome]:
    """:func:`execute` every spec in order, with one progress line per run.

    Distributed (KerasTuner's variables set), each distinct run is one trial for the
    workers; the chief and every worker return all the outcomes (records read from the
    store, without models or predictions) once every run has ended, and raise
    :class:`~kerasbench.engine.distributed.RunsFailed` if one failed.
    """
    reporter = make_progress(progress, len(specs), label or (specs[0].study if specs else ""))
    distributed = _distributed()
    if distributed is not None:
        unique = list({spec.run_id: spec for spec in specs}.values())
        tasks = [distributed.Task(
            key=spec.run_id, specs=[spec], description=spec.describe(),
            run=lambda spec=spec: [execute_here(spec, store, lambda: work(spec),
                                                overwrite=overwrite)])
            for spec in unique]
        phase = distributed.run_tasks(tasks, store, label=label or "run_each",
                                      overwrite=overwrite, reporter=reporter,
                                      summary=summary)
        return [phase.outcomes[spec.run_id] for spec in specs]
    outcomes = []
    for spec in specs:
        start = time.perf_counter()
        outcome = execute_here(spec, store, lambda spec=spec: work(spec), overwrite=overwrite)
        outcomes.append(outcome)
        if reporter is not None:
            reporter.step(spec.describe(), skipped=outcome.skipped,
                          seconds=time.perf_counter() - start,
                          summary=summary(outcome.record) if summary else "")
    return outcomes


def run_groups(groups: Sequence[Sequence[RunSpec]], store: RunStore,
               work: Callable[[list[RunSpec]], dict[str, TrainResult]], *,
               overwrite: bool = False, progress=True, label: str = "",
               describe: Callable[[list[RunSpec]], str] | None = None,
               summary: Callable[[list[RunRecord]], str] | None = None,
               ) -> list[list[RunOutcome]]:
    """:func:`execute_group` for each group in order (one training per group); outcomes
    per group. Distributed, each group is one trial, so groups train on several workers
    at once (a loop of :func:`execute_group` calls would run them one after another).

    Progress: one line per group here (``describe(group)``, then ``summary(records)``);
    distributed, the chief prints one line per run as trials end."""
    groups = [list(group) for group in groups]
    specs = [spec for group in groups for spec in group]
    distributed = _distributed()
    if distributed is None:
        reporter = make_progress(progress, len(groups),
                                 label or (specs[0].study if specs else ""))
        results = []
        for group in groups:
            start = time.perf_counter()
            outcomes = execute_group_here(group, store, work, overwrite=overwrite)
            if reporter is not None:
                records = [outcome.record for outcome in outcomes]
                reporter.step(describe(group) if describe else group[0].describe(),
                              skipped=all(outcome.skipped for outcome in outcomes),
                              seconds=time.perf_counter() - start,
                              summary=summary(records) if summary else "")
            results.append(outcomes)
        return results
    reporter = make_progress(progress, len(specs), label or (specs[0].study if specs else ""))
    tasks = [distributed.Task(
        key=config_hash({"group": [spec.run_id for spec in group]}, length=16), specs=group,
        description=describe(group) if describe else (group[0].describe() if group else ""),
        run=lambda group=group: execute_group_here(group, store, work, overwrite=overwrite))
        for group in groups]
    phase = distributed.run_tasks(tasks, store, label=label or "run_groups",
                                  overwrite=overwrite, reporter=reporter,
                                  summary=(lambda record: summary([record])) if summary else None)
    return [[phase.outcomes[spec.run_id] for spec in group] for group in groups]
