"""keras-tuner grid over ResultsStore records: failures raise, interrupted grids resume."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kerasbench.grid import GridTrialError, RecordHyperModel, run_grid
from kerasbench.results import ResultsStore

REPO_ROOT = Path(__file__).resolve().parents[1]


class SimulatedKill(BaseException):
    """Not an Exception: keras-tuner does not catch it, as it cannot catch a SIGKILL."""


class ToyGrid(RecordHyperModel):
    """A grid whose trials compute a number instead of training (milliseconds each)."""

    clear_session_between_trials = False

    def __init__(self, store, *, fail_at=None, sleep=0.0, **kwargs):
        super().__init__({"a": [1, 2, 3], "b": [10, 20]}, store, **kwargs)
        self.fail_at = fail_at
        self.sleep = sleep

    def config_for(self, values):
        return {"toy": True, "a": int(values["a"]), "b": int(values["b"])}

    def build_model(self, values):
        import keras

        inputs = keras.Input(shape=(1,))
        return keras.Model(inputs, keras.layers.Dense(1)(inputs))

    def run_trial(self, values, model):
        if self.fail_at == (values["a"], values["b"]):
            raise ValueError("this configuration is broken on purpose")
        time.sleep(self.sleep)
        score = values["a"] * 100 + values["b"]
        return self.store.write(self.config_for(values),
                                metrics={"validation": {"macro_f1": score / 1000}})


def test_grid_runs_every_configuration_in_order(tmp_path):
    store = ResultsStore(tmp_path / "records")
    outcome = run_grid(ToyGrid(store), directory=tmp_path / "tuner")
    assert [(r["config"]["a"], r["config"]["b"]) for r in outcome.records] == [
        (1, 10), (1, 20), (2, 10), (2, 20), (3, 10), (3, 20)]
    assert len(outcome.computed) == 6 and not outcome.skipped
    assert len(store) == 6
    assert set(outcome.trials.values()) == {"COMPLETED"}


def test_failed_trial_raises_a_clear_error(tmp_path):
    store = ResultsStore(tmp_path / "records")
    with pytest.raises(GridTrialError) as caught:
        run_grid(ToyGrid(store, fail_at=(2, 10)), directory=tmp_path / "tuner")
    message = str(caught.value)
    assert "broken on purpose" in message and "'a': 2" in message and "'b': 10" in message
    # The trials before the failure are kept; rerunning after the fix retries the failed one.
    assert len(store) == 2
    outcome = run_grid(ToyGrid(store), directory=tmp_path / "tuner")
    assert len(store) == 6 and len(outcome.computed) == 4 and len(outcome.skipped) == 2


def test_interrupted_grid_resumes_without_redoing_finished_trials(tmp_path):
    store = ResultsStore(tmp_path / "records")
    seen = []

    def kill_after_three(record):
        seen.append(record["config_hash"])
        if len(seen) == 3:
            raise SimulatedKill()

    with pytest.raises(SimulatedKill):
        run_grid(ToyGrid(store, on_record=kill_after_three), directory=tmp_path / "tuner")
    assert len(store) == 3
    finished = {r["config_hash"]: r["finished_at"] for r in store.records()}

    resumed = ToyGrid(store)
    outcome = run_grid(resumed, directory=tmp_path / "tuner")
    assert outcome.reloaded
    assert len(store) == 6
    # The three finished trials were not computed again (their records are untouched)...
    assert not set(outcome.computed) & set(finished)
    assert {r["config_hash"]: r["finished_at"] for r in store.records()
            if r["config_hash"] in finished} == finished
    # ...and keras-tuner's own project resumed: the interrupted trial, then the rest.
    assert len(outcome.computed) == 3 and len(outcome.skipped) == 1
    assert len(outcome.trials) == 6 and set(outcome.trials.values()) == {"COMPLETED"}


def test_deleted_record_is_run_again(tmp_path):
    store = ResultsStore(tmp_path / "records")
    first = run_grid(ToyGrid(store), directory=tmp_path / "tuner")
    store.path_for(first.records[4]["config"]).unlink()
    outcome = run_grid(ToyGrid(store), directory=tmp_path / "tuner")
    assert len(store) == 6 and len(outcome.computed) == 1 and outcome.restarts == 1


@pytest.mark.slow
def test_killed_process_resumes(tmp_path):
    """A real SIGKILL in the middle of a grid, then a rerun in this process."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_grid import ToyGrid
        from kerasbench.grid import run_grid
        from kerasbench.results import ResultsStore
        run_grid(ToyGrid(ResultsStore({str(tmp_path / 'records')!r}), sleep=1.0),
                 directory={str(tmp_path / 'tuner')!r})
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = tmp_path / "records"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(records.glob("*.json"))) < 2:
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    done = {path.name: json.loads(path.read_text())["finished_at"]
            for path in records.glob("*.json")}
    assert 2 <= len(done) < 6, "the subprocess was not stopped part-way"

    store = ResultsStore(records)
    outcome = run_grid(ToyGrid(store), directory=tmp_path / "tuner")
    assert len(store) == 6
    assert len(outcome.computed) == 6 - len(done)
    for name, finished_at in done.items():
        assert json.loads((records / name).read_text())["finished_at"] == finished_at
