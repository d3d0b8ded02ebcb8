"""A grid killed part-way resumes where it stopped: every finished record stays exactly as
it was (bytes and modification time), nothing finished is redone, a half-written record
never appears, and a damaged record is named instead of being trusted or skipped."""

import pytest
import robustness_helpers

from kerasbench.engine.execute import RunSpec, TrainResult, execute_group, run_each
from kerasbench.records import RecordError
from kerasbench.store import RunStore


@pytest.fixture
def helpers():
    return robustness_helpers


def _specs(count=5):
    return [RunSpec(study="toy", experiment="grid", config={"lr": 0.1 * (i + 1), "seed": i},
                    dataset_fingerprint="f" * 16, protocol_version="1") for i in range(count)]


def _work(calls, kill_at=None, exception=KeyboardInterrupt):
    def work(spec):
        calls.append(spec.run_id)
        if kill_at is not None and len(calls) == kill_at:
            raise exception("stopped")
        return TrainResult(metrics={"test": {"accuracy": spec.config["lr"]}})
    return work


@pytest.mark.parametrize("kill_at", [1, 3, 5])
def test_a_grid_killed_mid_run_resumes_without_losing_or_changing_a_record(tmp_path, helpers,
                                                                           kill_at):
    store, specs, calls = RunStore(tmp_path / "records"), _specs(), []
    with pytest.raises(KeyboardInterrupt):
        run_each(specs, store, _work(calls, kill_at=kill_at), progress=False)
    finished = helpers.snapshot(store.folder)
    assert len(finished) == kill_at - 1  # the interrupted run left nothing behind

    rerun = []
    outcomes = run_each(specs, store, _work(rerun), progress=False)
    assert rerun == [spec.run_id for spec in specs[kill_at - 1:]]  # only the unfinished
    assert [outcome.skipped for outcome in outcomes] == [True] * (kill_at - 1) + \
        [False] * (len(specs) - kill_at + 1)
    after = helpers.snapshot(store.folder)
    assert {name: after[name] for name in finished} == finished  # byte- and mtime-identical
    assert len(store.records()) == len(specs)


def test_a_failed_run_is_recorded_and_redone_leaving_the_others(tmp_path, helpers):
    store, specs, calls = RunStore(tmp_path / "records"), _specs(3), []
    with pytest.raises(RuntimeError):
        run_each(specs, store, _work(calls, kill_at=2, exception=RuntimeError), progress=False)
    failed = store.get(specs[1].run_id)
    assert failed.status == "failed" and "RuntimeError: stopped" in failed.error
    first = helpers.snapshot(store.folder)[f"{specs[0].run_id}.json"]
    rerun = []
    run_each(specs, store, _work(rerun), progress=False)
    assert rerun == [specs[1].run_id, specs[2].run_id]
    assert helpers.snapshot(store.folder)[f"{specs[0].run_id}.json"] == first
    assert store.get(specs[1].run_id).finished


def test_a_killed_group_resumes_its_unfinished_runs(tmp_path, helpers):
    store, specs = RunStore(tmp_path / "records"), _specs(4)
    execute_group(specs[:2], store, lambda needed: {
        s.run_id: TrainResult(metrics={"test": {"accuracy": 1.0}}) for s in needed})
    before = helpers.snapshot(store.folder)

    def killed(needed):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        execute_group(specs, store, killed)
    assert helpers.snapshot(store.folder) == before
    asked = []

    def work(needed):
        asked.extend(s.run_id for s in needed)
        return {s.run_id: TrainResult(metrics={"test": {"accuracy": 0.5}}) for s in needed}

    execute_group(specs, store, work)
    assert asked == [s.run_id for s in specs[2:]]
    after = helpers.snapshot(store.folder)
    assert {name: after[name] for name in before} == before


def test_a_record_write_killed_half_way_leaves_no_file(tmp_path, monkeypatch):
    import json

    store, specs = RunStore(tmp_path / "records"), _specs(2)
    run_each(specs[:1], store, _work([]), progress=False)
    real_dump = json.dump

    def killed(payload, stream, **kwargs):
        stream.write('{"schema_version": 2, "status": "fini')
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", killed)
    with pytest.raises(KeyboardInterrupt):
        run_each(specs, store, _work([]), progress=False)
    monkeypatch.setattr(json, "dump", real_dump)
    assert sorted(p.name for p in store.folder.iterdir()) == [f"{specs[0].run_id}.json"]
    assert store.validate() == 1


@pytest.mark.parametrize("damage", [b"", b'{"schema_version": 2, "stat', b"\xff\xfe garbage"])
def test_a_damaged_record_is_named_not_trusted(tmp_path, damage):
    store, specs = RunStore(tmp_path / "records"), _specs(2)
    run_each(specs, store, _work([]), progress=False)
    path = store.path(specs[1].run_id)
    path.write_bytes(damage)
    with pytest.raises(RecordError, match=rf"run record {path} is not valid JSON.*delete it"):
        run_each(specs, store, _work([]), progress=False)
