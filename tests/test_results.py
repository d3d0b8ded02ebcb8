import json

import numpy as np
import pytest

from kerasbench.results import ResultsStore, config_hash, records_frame, write_json_atomic


def test_config_hash_ignores_key_order_and_tuple_vs_list():
    assert config_hash({"a": 1, "b": (1, 2)}) == config_hash({"b": [1, 2], "a": 1})
    assert config_hash({"a": 1}) != config_hash({"a": 2})


def test_record_round_trips(tmp_path):
    store = ResultsStore(tmp_path)
    config = {"backbone": "resnet50", "image_size": (32, 32), "learning_rate": 1e-3, "seed": 3}
    metrics = {"test": {"accuracy": np.float32(0.5), "confusion_matrix": np.eye(2, dtype=int)}}
    written = store.write(config, metrics=metrics, durations={"training_seconds": 1.5},
                          history={"loss": [1.0, 0.5]})
    assert store.has(config)
    loaded = store.get(config)
    assert loaded == written
    assert loaded["config_hash"] == config_hash(config)
    assert loaded["metrics"]["test"]["confusion_matrix"] == [[1, 0], [0, 1]]
    assert loaded["seed"] == 3
    assert {"tensorflow", "keras", "device"} <= set(loaded["environment"])
    frame = records_frame(store.records())
    assert frame.loc[0, "config.backbone"] == "resnet50"
    assert frame.loc[0, "durations.training_seconds"] == 1.5


def test_overwrite_false_keeps_existing_record(tmp_path):
    store = ResultsStore(tmp_path)
    store.write({"a": 1}, metrics={"x": 1})
    kept = store.write({"a": 1}, metrics={"x": 2}, overwrite=False)
    assert kept["metrics"] == {"x": 1}
    assert len(store) == 1


def test_nan_metrics_become_null(tmp_path):
    store = ResultsStore(tmp_path)
    record = store.write({"a": 1}, metrics={"auc": float("nan")})
    assert json.loads(store.path_for({"a": 1}).read_text())["metrics"]["auc"] is None
    assert record["metrics"]["auc"] is None


def test_atomic_write_leaves_no_partial_file(tmp_path):
    class Unserialisable:
        pass

    target = tmp_path / "record.json"
    with pytest.raises(TypeError):
        write_json_atomic(target, {"bad": Unserialisable()})
    assert list(tmp_path.iterdir()) == []


def test_corrupt_record_names_the_file(tmp_path):
    store = ResultsStore(tmp_path)
    store.path_for({"a": 1}).write_text("{not json")
    with pytest.raises(ValueError, match="delete it"):
        store.get({"a": 1})


def test_reserved_extra_fields_rejected(tmp_path):
    with pytest.raises(ValueError, match="reserved"):
        ResultsStore(tmp_path).write({"a": 1}, metrics={}, config_hash="x")


def test_records_filter(tmp_path):
    store = ResultsStore(tmp_path)
    store.write({"backbone": "a"}, metrics={})
    store.write({"backbone": "b"}, metrics={})
    assert [r["config"]["backbone"] for r in store.records({"backbone": "b"})] == ["b"]
