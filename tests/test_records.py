"""RunRecord round trip, schema errors, identity and validity; RunStore; atomic writes."""

import json

import numpy as np
import pytest

from kerasbench.io import write_json_atomic
from kerasbench.records import (
    SCHEMA_VERSION,
    RecordError,
    RunRecord,
    config_hash,
    make_run_id,
)
from kerasbench.store import RunStore, rows_frame, validate_tree


def make_record(**changes) -> RunRecord:
    fields = dict(
        study="toy", experiment="grid", config={"backbone": "resnet50", "image_size": (32, 32),
                                                "learning_rate": 1e-3, "seed": 3},
        dataset_fingerprint="abc123", protocol_version="1", seed=3,
        metrics={"test": {"accuracy": np.float32(0.5), "confusion_matrix": np.eye(2, dtype=int)}},
        durations={"train_s": 1.5, "evaluate_s": 0.25}, history={"loss": [1.0, 0.5]},
        policy={"compute_dtype": "float32"}, demo=True, extra={"class_names": ["a", "b"]},
    )
    fields.update(changes)
    return RunRecord(**fields)


def test_config_hash_ignores_key_order_and_tuple_vs_list():
    assert config_hash({"a": 1, "b": (1, 2)}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_record_has_every_top_level_field_and_round_trips(tmp_path):
    store = RunStore(tmp_path)
    written = store.write(make_record())
    payload = json.loads(store.path(written.run_id).read_text())
    assert {"schema_version", "study", "experiment", "run_id", "config", "config_hash",
            "dataset_fingerprint", "seed", "status", "metrics", "durations", "history",
            "environment", "policy", "demo", "created_at"} <= set(payload)
    assert payload["schema_version"] == SCHEMA_VERSION
    loaded = store.get(written.run_id)
    assert loaded == written
    assert loaded.metrics["test"]["confusion_matrix"] == [[1, 0], [0, 1]]
    assert {"tensorflow", "keras", "device"} <= set(loaded.environment)
    assert loaded.finished


def test_to_row_is_flat_with_shared_column_names():
    row = make_record().to_row()
    assert row["study"] == "toy" and row["demo"] is True and row["seed"] == 3
    assert row["config.backbone"] == "resnet50"
    assert row["config.image_size"] == "[32,32]"  # containers as canonical JSON text
    assert row["metrics.test.accuracy"] == 0.5
    assert "metrics.test.confusion_matrix" not in row  # matrices stay in the record
    assert row["durations.train_s"] == 1.5 and row["policy.compute_dtype"] == "float32"
    assert row["extra.class_names"] if "extra.class_names" in row else True
    frame = rows_frame([make_record(), make_record(seed=4, config={"seed": 4})])
    assert len(frame) == 2 and "metrics.test.accuracy" in frame.columns


def test_run_id_covers_config_data_and_protocol():
    base = make_run_id({"a": 1}, "data-1", "1")
    assert base == make_run_id({"a": 1}, "data-1", "1")
    assert base != make_run_id({"a": 2}, "data-1", "1")
    assert base != make_run_id({"a": 1}, "data-2", "1")
    assert base != make_run_id({"a": 1}, "data-1", "2")
    with pytest.raises(ValueError, match="fingerprint"):
        make_run_id({"a": 1}, "", "1")


def test_a_record_is_finished_only_with_metrics_for_every_evaluated_split():
    assert make_record().finished
    assert not make_record(metrics={}).finished
    assert not make_record(metrics={"test": {}}).finished
    assert not make_record(metrics={"test": {"accuracy": 1.0}},
                           evaluated_splits=["validation", "test"]).finished
    assert not make_record(status="failed").finished


def test_store_treats_empty_metrics_and_failed_runs_as_not_finished(tmp_path):
    store = RunStore(tmp_path)
    empty = store.write(make_record(metrics={}))
    assert store.get(empty.run_id) is not None
    assert store.finished(empty.run_id) is None
    assert store.records() == [] and len(store.records(finished_only=False)) == 1


def test_other_schema_version_names_the_file(tmp_path):
    path = tmp_path / "old.json"
    payload = make_record().to_dict()
    payload["schema_version"] = 1
    path.write_text(json.dumps(payload))
    with pytest.raises(RecordError, match=r"old\.json.*schema version 1"):
        RunRecord.read(path)


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"a": 1}',
                                     '{"schema_version": 2, "study": "x"}'])
def test_a_file_that_is_not_a_record_names_the_file(tmp_path, content):
    path = tmp_path / "records" / "bad.json"
    path.parent.mkdir()
    path.write_text(content)
    with pytest.raises(RecordError, match="bad.json"):
        RunStore(path.parent).records()
    with pytest.raises(RecordError, match="bad.json"):
        validate_tree(tmp_path)


def test_tampered_run_id_is_refused(tmp_path):
    payload = make_record().to_dict()
    payload["run_id"] = "0" * 16
    (tmp_path / "x.json").write_text(json.dumps(payload))
    with pytest.raises(RecordError, match="does not match"):
        RunRecord.read(tmp_path / "x.json")


def test_nan_metrics_become_null(tmp_path):
    store = RunStore(tmp_path)
    record = store.write(make_record(metrics={"test": {"auc": float("nan"), "accuracy": 1.0}}))
    assert json.loads(store.path(record.run_id).read_text())["metrics"]["test"]["auc"] is None


def test_atomic_write_leaves_no_partial_file(tmp_path):
    class Unserialisable:
        pass

    target = tmp_path / "record.json"
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": Unserialisable()})
    assert list(tmp_path.iterdir()) == []


def test_records_filter_by_experiment_and_config(tmp_path):
    store = RunStore(tmp_path)
    store.write(make_record(experiment="a", config={"backbone": "x", "seed": 1}))
    store.write(make_record(experiment="b", config={"backbone": "y", "seed": 1}))
    assert [r.experiment for r in store.records(experiment="b")] == ["b"]
    assert [r.config["backbone"] for r in store.records(backbone="x")] == ["x"]
    assert store.validate() == 2
