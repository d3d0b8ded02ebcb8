"""The chief: one KerasTuner oracle per process, served over gRPC by ``Tuner.search`` on a
daemon thread for the life of the process; each phase queues its tasks and waits."""

from __future__ import annotations

import queue
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras_tuner
from keras_tuner.engine.trial import Trial, TrialStatus

from kerasbench.engine.distributed.common import (
    OBJECTIVE,
    ChiefUnavailable,
    address,
    channel_ready,
    number,
)

SENTINEL = "kerasbench-chief"  # a tuner id that keeps KerasTuner's server up between phases


@dataclass
class PhaseState:
    queue: list
    running: dict = field(default_factory=dict)  # task key -> trial id
    completed: set = field(default_factory=set)
    failed: set = field(default_factory=set)
    trials: dict = field(default_factory=dict)  # trial id -> status
    seen: dict = field(default_factory=dict)  # tuner id -> when it last asked or reported
    told: set = field(default_factory=set)  # tuner ids told that the phase has ended

    @property
    def done(self) -> bool:
        """Nothing runs, and nothing is left to start (none starts after a failure)."""
        return not self.running and (not self.queue or bool(self.failed))


@dataclass
class Assignment:
    phase: str
    key: str
    tuner: str
    started: float
    seen: float  # the last heartbeat
    active: bool = True


class RunOracle(keras_tuner.Oracle):
    """A :class:`keras_tuner.Oracle` that hands out queued tasks, phase by phase.

    Trials carry ``phase``, ``task`` and ``chief`` (this oracle's token: a trial handed out
    by an earlier chief process is recognised and ignored). A worker names its phase in its
    tuner id (``tuner0+<phase>``): a phase not opened yet gets IDLE (wait), an ended one
    STOPPED. A running trial whose worker sent no heartbeat for ``lease_seconds`` goes back
    to the queue (KerasTuner would keep it "ongoing" forever). The methods never raise:
    KerasTuner's ``synchronized`` lock would stay held.
    """

    def __init__(self, token: str, lease_seconds: float):
        space = keras_tuner.HyperParameters()
        for name in ("phase", "task", "chief"):
            space.Fixed(name, "")
        super().__init__(objective=keras_tuner.Objective(OBJECTIVE, "max"),
                         hyperparameters=space, allow_new_entries=False,
                         tune_new_entries=False, max_consecutive_failed_trials=2**31)
        self.token, self.lease_seconds = token, float(lease_seconds)
        self.phases: dict[str, PhaseState] = {}
        self.assigned: dict[str, Assignment] = {}
        self.events: queue.Queue = queue.Queue()
        self._asking = ""
        self.tuner_ids.add(SENTINEL)

    @keras_tuner.synchronized
    def open_phase(self, phase: str, keys: Sequence[str]) -> None:
        self.phases[phase] = PhaseState(queue=list(keys))

    @keras_tuner.synchronized
    def snapshot(self, phase: str) -> PhaseState:
        self.expire()
        state = self.phases[phase]
        return PhaseState(list(state.queue), dict(state.running), set(state.completed),
                          set(state.failed), dict(state.trials), dict(state.seen),
                          set(state.told))

    def _seen(self, phase: str, tuner: str) -> None:
        state = self.phases.get(phase)
        if state is not None:
            state.seen[tuner] = time.monotonic()

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        try:
            self.expire()
            self._asking = str(tuner_id).rpartition("+")[2]
            trial = super().create_trial(tuner_id)
            self.tuner_ids.add(SENTINEL)
            self._seen(self._asking, tuner_id)
            if trial.status == TrialStatus.STOPPED and self._asking in self.phases:
                self.phases[self._asking].told.add(tuner_id)
            values = trial.hyperparameters.values
            if trial.status == TrialStatus.RUNNING and trial.trial_id not in self.assigned:
                now = time.monotonic()
                self.assigned[trial.trial_id] = Assignment(values["phase"], values["task"],
                                                           tuner_id, now, now)
                state = self.phases[values["phase"]]
                state.running[values["task"]] = trial.trial_id
                state.trials[trial.trial_id] = TrialStatus.RUNNING
            return trial
        except Exception:  # noqa: BLE001 - answer IDLE rather than break the server
            traceback.print_exc()
            return Trial(self.get_space(), status=TrialStatus.IDLE)

    def populate_space(self, trial_id):
        values = {"phase": self._asking, "task": "", "chief": self.token}
        state = self.phases.get(self._asking)
        if state is None:
            return {"status": TrialStatus.IDLE, "values": values}
        if state.done:
            return {"status": TrialStatus.STOPPED, "values": values}
        if state.queue and not state.failed:
            values["task"] = state.queue.pop(0)
            return {"status": TrialStatus.RUNNING, "values": values}
        return {"status": TrialStatus.IDLE, "values": values}

    @keras_tuner.synchronized
    def get_trial(self, trial_id):
        """``trial_id@token`` is a worker's heartbeat for its running trial."""
        trial_id, _, token = str(trial_id).partition("@")
        trial = self.trials.get(trial_id)
        if trial is None or (token and token != self.token):
            return Trial(self.get_space(), trial_id=trial_id, status=TrialStatus.RUNNING)
        assignment = self.assigned.get(trial_id)
        if token and assignment is not None and assignment.active:
            assignment.seen = time.monotonic()
            self._seen(assignment.phase, assignment.tuner)
        return trial

    @keras_tuner.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        try:
            if trial_id in self.trials:
                return super().update_trial(trial_id, metrics, step=step)
        except Exception:  # noqa: BLE001
            traceback.print_exc()
        return self.get_trial(trial_id)

    @keras_tuner.synchronized
    def end_trial(self, trial):
        try:
            values = trial.hyperparameters.values
            assignment = self.assigned.get(trial.trial_id)
            if (assignment is None or values.get("chief") != self.token
                    or values.get("task") != assignment.key):
                return  # handed out by an earlier chief: the store holds what it did
            super().end_trial(trial)
            self._seen(assignment.phase, assignment.tuner)
            status = self.trials[trial.trial_id].status
            state = self.phases[assignment.phase]
            state.trials[trial.trial_id] = status
            key, was_active = assignment.key, assignment.active
            assignment.active = False
            if state.running.get(key) == trial.trial_id:
                state.running.pop(key)
            elif was_active or status != TrialStatus.COMPLETED or key in state.completed:
                return
            if key in state.queue:  # a late end of a trial given up on: not needed again
                state.queue.remove(key)
            (state.completed if status == TrialStatus.COMPLETED else state.failed).add(key)
            self.events.put(("ended", assignment.phase, key, status, assignment.tuner,
                             time.monotonic() - assignment.started))
        except Exception:  # noqa: BLE001
            traceback.print_exc()

    def expire(self) -> None:
        """Requeue running trials whose worker has been silent for longer than the lease."""
        now = time.monotonic()
        for trial_id, assignment in self.assigned.items():
            if not assignment.active or now - assignment.seen <= self.lease_seconds:
                continue
            assignment.active = False
            if self.ongoing_trials.get(assignment.tuner) is self.trials.get(trial_id):
                self.ongoing_trials.pop(assignment.tuner, None)
            self.tuner_ids.discard(assignment.tuner)
            self.trials[trial_id].status = TrialStatus.INVALID
            state = self.phases.get(assignment.phase)
            if state is not None and state.running.get(assignment.key) == trial_id:
                state.running.pop(assignment.key)
                state.trials[trial_id] = "LOST"
                state.queue.insert(0, assignment.key)
                self.events.put(("lost", assignment.phase, assignment.key, "LOST",
                                 assignment.tuner, now - assignment.seen))


class ServerTuner(keras_tuner.Tuner):
    """What ``search`` needs on the chief: KerasTuner serves the oracle, no trial runs here."""

    def run_trial(self, trial, *args, **kwargs):
        raise RuntimeError("the chief does not run trials")


_ORACLE: list = []
_LOCK = threading.Lock()


def make_oracle(token: str, lease_seconds: float, folder=None) -> tuple[RunOracle, ServerTuner]:
    """A :class:`RunOracle` and the tuner that serves it (KerasTuner's project folder in
    ``folder``, a new temporary folder when ``None``)."""
    oracle = RunOracle(token, lease_seconds)
    folder = folder or tempfile.mkdtemp(prefix="kerasbench-chief-")
    return oracle, ServerTuner(oracle, directory=str(folder), project_name="runs", overwrite=True)


def chief_oracle() -> RunOracle:
    """This process's oracle, started on first use and served until the process ends."""
    with _LOCK:
        if not _ORACLE:
            oracle, tuner = make_oracle(uuid.uuid4().hex[:12], number("KERASBENCH_LEASE_S", 60.0))
            failure: list = []

            def serve():
                try:
                    tuner.search(verbose=0)  # KerasTuner's chief: serves until the process ends
                except BaseException as error:  # noqa: BLE001 - reported below
                    failure.append(error)

            threading.Thread(target=serve, name="kerasbench-oracle", daemon=True).start()
            if not channel_ready(address(), 60.0) or failure:
                raise ChiefUnavailable(f"the chief could not serve KerasTuner's oracle on "
                                       f"{address()}: {failure[0] if failure else 'timeout'}")
            print(f"[chief] KerasTuner oracle serving on {address()}", flush=True)
            _ORACLE.append(oracle)
        return _ORACLE[0]


def serve_phase(phase: str, tasks, pending: Sequence[str], store, reporter, on_ended,
                summary=None) -> dict:
    """Queue ``pending`` task keys and wait until every one has ended; returns the trials'
    statuses. Progress lines and ``on_ended`` follow the trials as workers end them."""
    from kerasbench.engine.execute import RunOutcome

    oracle = chief_oracle()
    by_key = {task.key: task for task in tasks}
    if reporter is not None:
        for task in tasks:
            if task.key not in pending:
                for spec in task.specs:
                    reporter.step(_name(task, spec), skipped=True)
    oracle.open_phase(phase, pending)
    poll, noted = number("KERASBENCH_POLL_S", 0.5), time.monotonic()
    while True:
        try:
            kind, event_phase, key, status, worker, seconds = oracle.events.get(timeout=poll)
        except queue.Empty:
            state = oracle.snapshot(phase)
            if state.done and oracle.events.empty():
                _tell_workers(oracle, phase, poll)
                return state.trials
            if time.monotonic() - noted > 300:
                noted = time.monotonic()
                print(f"[chief] waiting for workers: {len(state.completed)} of {len(pending)} "
                      f"tasks done, {len(state.running)} running, {len(state.queue)} queued",
                      flush=True)
            continue
        if event_phase != phase:
            continue
        task, worker = by_key[key], str(worker).split("+")[0]
        if kind == "lost":
            print(f"[chief] {worker} silent for {seconds:.0f} s: {task.description} goes back "
                  "to the queue", flush=True)
        elif status != TrialStatus.COMPLETED:
            print(f"[chief] {task.description} FAILED on {worker}; no new trial starts",
                  flush=True)
        else:
            for spec in task.specs:
                record = store.finished(spec.run_id)
                if record is None:
                    continue
                if reporter is not None:
                    reporter.step(f"{_name(task, spec)} [{worker}]", seconds=seconds,
                                  summary=summary(record) if summary else "")
                if on_ended is not None:
                    on_ended(RunOutcome(record=record), seconds)


def _tell_workers(oracle: RunOracle, phase: str, poll: float) -> None:
    """Wait (15 s at most) until every worker active in the phase lately has been told it
    ended: the chief may exit right after (the last phase, or a failure), and a worker
    left waiting would only find out after ``KERASBENCH_CHIEF_TIMEOUT``."""
    window, deadline = max(5.0, 10 * poll), time.monotonic() + 15.0
    while time.monotonic() < deadline:
        state, now = oracle.snapshot(phase), time.monotonic()
        if all(tuner in state.told for tuner, seen in state.seen.items() if now - seen < window):
            return
        time.sleep(min(poll, 0.2))


def _name(task, spec) -> str:
    return task.description if task.description and len(task.specs) == 1 else spec.describe()
