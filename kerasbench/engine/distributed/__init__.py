"""Runs spread over processes and machines with KerasTuner's distributed mode.

Set KerasTuner's own variables and every :func:`~kerasbench.engine.run_each`,
:func:`~kerasbench.engine.execute_group`, :func:`~kerasbench.engine.grid.run_grid` and
:func:`~kerasbench.engine.execute` call becomes one *phase*: a list of tasks (one run, or
one grouped training) that a chief hands out to workers as KerasTuner trials over gRPC.

- ``KERASTUNER_ORACLE_IP`` / ``KERASTUNER_ORACLE_PORT``: where the chief listens;
- ``KERASTUNER_TUNER_ID``: ``chief`` for the chief, any other name (``tuner0``, ...) for a
  worker. Unset: one process, exactly as before. ``KERASBENCH_DISTRIBUTED=0`` ignores them.

Every process runs the same study code. The chief holds one :class:`keras_tuner.Oracle`
(:class:`~.chief.RunOracle`, served by KerasTuner's ``Tuner.search`` for the life of the
process); at each phase it queues the tasks its :class:`~kerasbench.store.RunStore` does
not hold finished, and waits. Workers run KerasTuner's worker loop: take a trial, execute
its runs through :func:`~kerasbench.engine.execute` (the record is written once, by that
worker, under the single-process ``run_id``, in the shared store), report, take the next.
When every task has ended, the chief *and* the workers return all the phase's records,
read from the store, so the code after ``run()`` computes the same next phase everywhere.
Only the chief goes on to tables and figures: study code checks :func:`is_worker`.

Failures: a worker silent for ``KERASBENCH_LEASE_S`` seconds (default 60; workers send a
heartbeat every sixth of it) loses its trial, which goes back to the queue (KerasTuner's
own chief never reassigns a dead worker's trial and waits for it forever). A run that
raises leaves its failed record; no new trial starts, and once the running ones end the
chief and the workers raise :class:`RunsFailed`. A restarted chief starts again from the
store (finished runs are never redone) and workers reconnect by themselves; a worker
waits at most ``KERASBENCH_CHIEF_TIMEOUT`` seconds (default 600) for an unreachable chief.
:func:`launch_local_workers` starts a chief and N workers on 127.0.0.1 (``docs/scaling.md``).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kerasbench.engine.distributed.common import (
    ID_VARIABLE,
    IP_VARIABLE,
    PORT_VARIABLE,
    ChiefUnavailable,
    RunsFailed,
    local,
    role,
    tuner_id,
)
from kerasbench.engine.distributed.launch import free_port, launch_local_workers, visible_gpus

__all__ = ["ID_VARIABLE", "IP_VARIABLE", "PORT_VARIABLE", "ChiefUnavailable", "PhaseResult",
           "RunsFailed", "Task", "WorkerFinished", "active", "free_port", "is_chief",
           "is_worker", "launch_local_workers", "role", "run_tasks", "stop_if_worker",
           "tuner_id", "visible_gpus"]


def is_worker() -> bool:
    """True in a worker process: it trains its trials, and must not build tables, figures
    or anything else the chief writes (see ``docs/scaling.md`` for notebooks)."""
    return role() == "worker"


def is_chief() -> bool:
    return role() == "chief"


class WorkerFinished(Exception):  # noqa: N818 - a signal, not an error
    """Raised by :func:`stop_if_worker` in a worker: its part of the study is done."""


def stop_if_worker() -> None:
    """In a notebook, right after the cell that calls the study's ``run(...)``: a worker
    stops there (raises :class:`WorkerFinished`, which the notebook runner counts as
    success for a worker); the chief and a single process carry on to tables and figures."""
    if is_worker():
        raise WorkerFinished(f"worker {tuner_id()} has run its trials; the chief builds "
                             "the tables and figures")


def active() -> bool:
    """Distributed mode is on (and this is not a worker already executing a trial)."""
    return role() is not None and not getattr(local, "in_trial", False)


@dataclass
class Task:
    """One trial: the runs ``specs`` that ``run()`` produces here (a list of
    :class:`~kerasbench.engine.RunOutcome`, through ``execute`` or ``execute_group``)."""

    key: str
    specs: list
    run: Callable[[], list]
    description: str = ""


@dataclass
class PhaseResult:
    outcomes: dict  # run_id -> RunOutcome, every run of the phase (records from the store)
    computed: list = field(default_factory=list)  # run_ids not finished when the phase began
    skipped: list = field(default_factory=list)  # run_ids finished before
    trials: dict = field(default_factory=dict)  # KerasTuner trial id -> status (seen here)
    seconds: float = 0.0


def _unfinished(task: Task, store, overwrite: bool) -> bool:
    return overwrite or any(store.finished(spec.run_id) is None for spec in task.specs)


def run_tasks(tasks: Sequence[Task], store, *, label: str = "", overwrite: bool = False,
              reporter=None, on_ended: Callable | None = None,
              summary: Callable | None = None) -> PhaseResult:
    """Run ``tasks`` as one phase over the chief and its workers (see the module doc).

    Every process calls this with the same tasks (same keys, same order). ``reporter``: a
    :class:`~kerasbench.engine.Progress` (lines on the chief as trials end; a worker
    prints one line per trial of its own). ``on_ended(outcome, seconds)``: called for each
    run a trial produced (on the chief as trials end, on a worker for its own trials).
    ``summary(record) -> str`` ends the chief's progress lines.

    Raises:
        RunsFailed: some runs did not finish (a run raised); on the chief and every worker.
        ChiefUnavailable: a worker found no chief for ``KERASBENCH_CHIEF_TIMEOUT`` seconds.
    """
    from kerasbench.engine.execute import RunOutcome

    tasks = list(tasks)
    keys = [task.key for task in tasks]
    if len(set(keys)) != len(keys):
        raise ValueError("distributed tasks need distinct keys")
    start = time.perf_counter()
    phase = hashlib.sha256("\n".join([label, *keys]).encode()).hexdigest()[:16]
    pending = [task.key for task in tasks if _unfinished(task, store, overwrite)]
    by_key = {task.key: task for task in tasks}
    trials: dict = {}
    if pending and is_chief():
        from kerasbench.engine.distributed.chief import serve_phase

        trials = serve_phase(phase, tasks, pending, store, reporter, on_ended, summary)
    elif pending:
        from kerasbench.engine.distributed.worker import work_phase

        def is_done() -> bool:
            return not overwrite and not any(_unfinished(task, store, False) for task in tasks)

        write = getattr(reporter, "_write", None) if reporter is not None else None
        trials = work_phase(phase, by_key, is_done, write, on_ended)
    outcomes, missing = {}, []
    for task in tasks:
        for spec in task.specs:
            record = store.finished(spec.run_id)
            if record is None:
                missing.append(spec)
            else:
                outcomes[spec.run_id] = RunOutcome(record=record, skipped=task.key not in pending)
    if missing:
        details = []
        for spec in missing[:3]:
            record = store.get(spec.run_id)
            error = (record.error or "").strip().splitlines()[-1:] if record is not None else []
            details.append(f"{spec.describe()} (run {spec.run_id}"
                           f"{': ' + error[0] if error else ', not started'})")
        raise RunsFailed(f"{label or 'distributed runs'}: {len(missing)} run(s) did not finish: "
                         + "; ".join(details) + ". Their failed records are in "
                         f"{store.folder}; the next call runs them again.",
                         [spec.run_id for spec in missing])
    computed = [spec.run_id for key in pending for spec in by_key[key].specs]
    skipped = [run_id for run_id in outcomes if run_id not in set(computed)]
    return PhaseResult(outcomes, computed, skipped, trials, time.perf_counter() - start)
