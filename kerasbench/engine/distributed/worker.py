"""A worker: KerasTuner's own worker loop (``Tuner.search`` through its gRPC client), one
task per trial, executed here with a heartbeat to the chief."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
import traceback

import keras_tuner
from keras_tuner.engine.trial import Trial, TrialStatus

from kerasbench.engine.distributed.common import (
    OBJECTIVE,
    ChiefUnavailable,
    address,
    channel_ready,
    local,
    number,
    tuner_id,
)


class PollingClient:
    """The worker's oracle: KerasTuner's gRPC client, plus

    - a pause between IDLE answers (KerasTuner's loop would ask again at once);
    - the end of the phase when the store shows every task finished (the chief may have
      moved on, or exited after the last phase);
    - calls that survive a chief restart: an RPC that fails is tried again once a chief
      answers, for at most ``KERASBENCH_CHIEF_TIMEOUT`` seconds without one.
    """

    def __init__(self, client, is_done):
        self.client, self.is_done = client, is_done
        self.poll = number("KERASBENCH_POLL_S", 0.5)
        self.chief_timeout = number("KERASBENCH_CHIEF_TIMEOUT", 600.0)
        self._checked = 0.0

    def __getattr__(self, name):
        return getattr(self.client, name)

    def _phase_over(self) -> bool:
        if time.monotonic() - self._checked < 2.0:
            return False
        self._checked = time.monotonic()
        return self.is_done()

    def _call(self, name, *args, when_over=None, **kwargs):
        import grpc

        missing_since = None
        while True:
            if channel_ready(address(), min(2.0, self.chief_timeout)):
                missing_since = None
                try:
                    return getattr(self.client, name)(*args, **kwargs)
                except grpc.RpcError:
                    pass  # the chief went away during the call
            if self._phase_over():
                return when_over() if when_over is not None else None
            missing_since = missing_since or time.monotonic()
            if time.monotonic() - missing_since > self.chief_timeout:
                raise ChiefUnavailable(f"no chief answered at {address()} for "
                                       f"{self.chief_timeout:.0f} s (KERASBENCH_CHIEF_TIMEOUT)")
            time.sleep(self.poll)

    def create_trial(self, tuner_id):
        def stopped():
            return Trial(keras_tuner.HyperParameters(), status=TrialStatus.STOPPED)

        while True:
            if self._phase_over():
                return stopped()
            trial = self._call("create_trial", tuner_id, when_over=stopped)
            if trial.status != TrialStatus.IDLE:
                return trial
            time.sleep(self.poll)

    def update_trial(self, trial_id, metrics, step=0):
        return self._call("update_trial", trial_id, metrics, step=step,
                          when_over=lambda: Trial(keras_tuner.HyperParameters(),
                                                  trial_id=trial_id))

    def end_trial(self, trial):
        self._call("end_trial", trial)

    def get_trial(self, trial_id):
        return self._call("get_trial", trial_id, when_over=lambda: Trial(
            keras_tuner.HyperParameters(), trial_id=trial_id))


class WorkerTuner(keras_tuner.Tuner):
    """Runs the trials the chief hands out for one phase; ``search`` returns at its end."""

    def __init__(self, *, phase, tasks, is_done, reporter, on_ended, directory):
        from kerasbench.engine.distributed.chief import RunOracle

        super().__init__(RunOracle("", 0.0), directory=directory, project_name="worker",
                         overwrite=True)
        # BaseTuner has wrapped the oracle in KerasTuner's gRPC client (a worker's variables).
        self.tuner_id = f"{tuner_id()}+{phase}"  # the chief reads the phase from it
        self.phase, self.tasks, self.reporter, self.on_ended = phase, tasks, reporter, on_ended
        self.statuses: dict = {}
        self.oracle = PollingClient(self.oracle, is_done)

    def run_trial(self, trial, *args, **kwargs):
        values = trial.hyperparameters.values
        task = self.tasks.get(values.get("task"))
        if values.get("phase") != self.phase or task is None:
            raise keras_tuner.errors.FailedTrialError(f"trial {values} is not of this phase")
        stop = threading.Event()
        beat, client = f"{trial.trial_id}@{values.get('chief')}", self.oracle.client
        interval = max(0.2, number("KERASBENCH_LEASE_S", 60.0) / 6)

        def heartbeat():
            while not stop.wait(interval):
                try:
                    client.get_trial(beat)
                except Exception:  # noqa: BLE001 - the chief may be restarting
                    pass

        threading.Thread(target=heartbeat, name="kerasbench-heartbeat", daemon=True).start()
        start = time.perf_counter()
        local.in_trial = True
        try:
            outcomes = task.run()
        except Exception as error:
            traceback.print_exc()
            self.statuses[trial.trial_id] = TrialStatus.FAILED
            raise keras_tuner.errors.FailedTrialError(
                f"{task.description}: {type(error).__name__}: {error}") from error
        finally:
            stop.set()
            local.in_trial = False
        seconds = time.perf_counter() - start
        self.statuses[trial.trial_id] = TrialStatus.COMPLETED
        for outcome in outcomes:
            if self.reporter is not None:  # a worker sees only its own trials: no totals
                name = (task.description if len(task.specs) == 1 and task.description
                        else outcome.record.experiment)
                what = "already finished" if outcome.skipped else f"done in {seconds:.1f} s"
                self.reporter(f"[{tuner_id()}] {name}: {what}")
            if self.on_ended is not None:
                self.on_ended(outcome, seconds)
        return {OBJECTIVE: 1.0}


def work_phase(phase: str, tasks: dict, is_done, reporter, on_ended) -> dict:
    """Take trials of ``phase`` until the chief says it has ended; their statuses."""
    folder = tempfile.mkdtemp(prefix="kerasbench-worker-")
    try:
        tuner = WorkerTuner(phase=phase, tasks=tasks, is_done=is_done, reporter=reporter,
                            on_ended=on_ended, directory=folder)
        tuner.search()
        return tuner.statuses
    finally:
        shutil.rmtree(folder, ignore_errors=True)
