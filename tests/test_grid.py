"""The engine's grid (KerasTuner's public API over a RunStore): every point once, in grid
order; failures raise naming the point; interrupted grids resume; the store decides."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from kerasbench.engine import RunSpec, TrainResult, execute
from kerasbench.engine.grid import GridTrialError, grid_points, run_grid
from kerasbench.errors import ConfigError
from kerasbench.store import RunStore

REPO_ROOT = Path(__file__).resolve().parents[1]
SPACE = {"a": [1, 2, 3], "b": [10, 20]}


class SimulatedKill(BaseException):
    """Not an Exception: neither KerasTuner nor the engine catches it, as with a SIGKILL."""


def toy_spec(point):
    return RunSpec(study="toy", experiment="grid", config={"a": point["a"], "b": point["b"]},
                   dataset_fingerprint="toy-data", protocol_version="1")


class ToyWork:
    """Trials that compute a number instead of training (milliseconds each)."""

    def __init__(self, *, fail_at=None, sleep=0.0, kill_after=None):
        self.fail_at, self.sleep, self.kill_after = fail_at, sleep, kill_after
        self.calls = []

    def __call__(self, spec, point):
        if self.kill_after is not None and len(self.calls) == self.kill_after:
            raise SimulatedKill()
        self.calls.append((point["a"], point["b"]))
        if self.fail_at == (point["a"], point["b"]):
            raise ValueError("this configuration is broken on purpose")
        time.sleep(self.sleep)
        return TrainResult(metrics={"validation": {"macro_f1": (point["a"] * 100 + point["b"])
                                                   / 1000}})


def grid(store, work, **options):
    return run_grid(SPACE, toy_spec, work, store, progress=False, **options)


def created(store):
    return {record.run_id: record.created_at for record in store.records()}


def test_grid_points_are_in_grid_order_and_checked():
    assert [(p["a"], p["b"]) for p in grid_points(SPACE)] == [
        (1, 10), (1, 20), (2, 10), (2, 20), (3, 10), (3, 20)]
    with pytest.raises(ConfigError, match="twice"):
        grid_points({"a": [1, 1]})
    with pytest.raises(ConfigError, match="no values"):
        grid_points({"a": []})
    with pytest.raises(ConfigError, match="empty"):
        grid_points({})


def test_grid_runs_every_point_in_order_under_executes_run_id(tmp_path):
    store = RunStore(tmp_path / "records")
    lines = []
    outcome = run_grid(SPACE, toy_spec, ToyWork(), store, directory=tmp_path / "tuner",
                       progress=lines.append)
    assert [(r.config["a"], r.config["b"]) for r in outcome.records] == [
        (1, 10), (1, 20), (2, 10), (2, 20), (3, 10), (3, 20)]
    assert len(outcome.computed) == 6 and not outcome.skipped and len(store) == 6
    assert set(outcome.trials.values()) == {"COMPLETED"}
    assert len(lines) == 6 and lines[0].startswith("[1/6]")
    # The same run executed on its own has the same identity, so it is not redone.
    alone = execute(toy_spec({"a": 2, "b": 20}), store, lambda: pytest.fail("rerun"))
    assert alone.skipped and alone.record.run_id == outcome.records[3].run_id
    assert all(record.finished for record in store.records())


def test_failed_point_raises_naming_its_settings(tmp_path):
    store = RunStore(tmp_path / "records")
    with pytest.raises(GridTrialError) as caught:
        grid(store, ToyWork(fail_at=(2, 10)))
    message = str(caught.value)
    assert "'a': 2" in message and "'b': 10" in message and "broken on purpose" in message
    # The points before it are kept, the failed one left a failed record; a rerun after the
    # fix runs the failed point and the rest, and nothing finished.
    assert len(store.records()) == 2 and len(store) == 3
    work = ToyWork()
    outcome = grid(store, work)
    assert work.calls == [(2, 10), (2, 20), (3, 10), (3, 20)]
    assert len(outcome.computed) == 4 and len(outcome.skipped) == 2
    assert len(store.records()) == 6


def test_interrupted_grid_resumes_without_redoing_finished_points(tmp_path):
    store = RunStore(tmp_path / "records")
    with pytest.raises(SimulatedKill):
        grid(store, ToyWork(kill_after=3), directory=tmp_path / "tuner")
    finished = created(store)
    assert len(finished) == 3
    work = ToyWork()
    outcome = grid(store, work, directory=tmp_path / "tuner")
    assert work.calls == [(2, 20), (3, 10), (3, 20)]
    assert sorted(outcome.skipped) == sorted(finished) and len(outcome.computed) == 3
    assert {k: v for k, v in created(store).items() if k in finished} == finished
    assert len(store.records()) == 6


def test_deleted_record_is_run_again_and_overwrite_redoes_all(tmp_path):
    store = RunStore(tmp_path / "records")
    first = grid(store, ToyWork())
    store.path(first.records[4].run_id).unlink()
    work = ToyWork()
    outcome = grid(store, work)
    assert work.calls == [(3, 10)] and outcome.computed == [first.records[4].run_id]
    assert len(store) == 6
    redo = ToyWork()
    grid(store, redo, overwrite=True)
    assert len(redo.calls) == 6


def test_an_empty_metrics_record_is_not_finished(tmp_path):
    store = RunStore(tmp_path / "records")
    first = grid(store, ToyWork())
    path = store.path(first.records[0].run_id)
    payload = json.loads(path.read_text())
    payload["metrics"] = {"validation": {}}
    path.write_text(json.dumps(payload))
    work = ToyWork()
    grid(store, work)
    assert work.calls == [(1, 10)]


@pytest.mark.slow
def test_killed_process_resumes(tmp_path):
    """A real SIGKILL in the middle of a grid, then a rerun in this process."""
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_grid import ToyWork, grid
        from kerasbench.store import RunStore
        grid(RunStore({str(tmp_path / 'records')!r}), ToyWork(sleep=1.0),
             directory={str(tmp_path / 'tuner')!r})
    """)
    process = subprocess.Popen([sys.executable, "-c", script], cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    records = tmp_path / "records"
    deadline = time.time() + 180
    while time.time() < deadline and len(list(records.glob("*.json"))) < 2:
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    store = RunStore(records)
    done = created(store)
    assert 2 <= len(done) < 6, "the subprocess was not stopped part-way"

    work = ToyWork()
    outcome = grid(store, work, directory=tmp_path / "tuner")
    assert len(store.records()) == 6
    assert len(outcome.computed) == 6 - len(done) == len(work.calls)
    assert {k: v for k, v in created(store).items() if k in done} == done
