"""Run a described run once: look it up, train and evaluate it, write its ``RunRecord``.

A study describes each run as a :class:`RunSpec` (study, experiment, resolved config,
dataset fingerprint, protocol version) and hands the engine a ``work`` function that
trains and evaluates it and returns a :class:`TrainResult`. The engine owns everything
around that: identity (``run_id``), skipping finished runs, timing, writing the finished
or failed record, and progress. A run that raises leaves a ``failed`` record (with the
error) and the exception propagates; the next attempt redoes it.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from kerasbench.engine.progress import make_progress
from kerasbench.records import RunRecord, make_run_id
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


def execute(spec: RunSpec, store: RunStore, work: Callable[[], TrainResult], *,
            overwrite: bool = False) -> RunOutcome:
    """Run ``work`` for ``spec`` unless ``store`` holds it finished (``overwrite`` redoes)."""
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
    record = store.write(make_record(spec, result, total_seconds=time.perf_counter() - start))
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
    specs not yet finished. Outcomes come back in ``specs`` order."""
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
            record = store.write(make_record(spec, result, total_seconds=total))
            outcomes[spec.run_id] = RunOutcome(record=record, model=result.model,
                                               predictions=result.predictions, result=result)
    return [outcomes[spec.run_id] for spec in specs]


def run_each(specs: Sequence[RunSpec], store: RunStore, work: Callable[[RunSpec], TrainResult],
             *, overwrite: bool = False, progress=True, label: str = "",
             summary: Callable[[RunRecord], str] | None = None) -> list[RunOutcome]:
    """:func:`execute` every spec in order, with one progress line per run."""
    reporter = make_progress(progress, len(specs), label or (specs[0].study if specs else ""))
    outcomes = []
    for spec in specs:
        start = time.perf_counter()
        outcome = execute(spec, store, lambda spec=spec: work(spec), overwrite=overwrite)
        outcomes.append(outcome)
        if reporter is not None:
            reporter.step(spec.describe(), skipped=outcome.skipped,
                          seconds=time.perf_counter() - start,
                          summary=summary(outcome.record) if summary else "")
    return outcomes
