"""The engine: one run -> one RunRecord; identity covers the data; failures are recorded
and redone; grouped runs; progress; evaluation in one ordered pass."""

import os
import shutil

import numpy as np
import pytest

from kerasbench.engine import (
    Progress,
    RunSpec,
    TrainResult,
    execute,
    execute_group,
    outputs_to_probabilities,
    predict_frame,
    resolve_config,
    run_classification,
    run_each,
)
from kerasbench.store import RunStore

TINY = {"backbone": "squeezenet1_1", "image_size": 32, "batch_size": 8, "epochs": 2,
        "head": "logits", "trainable": "all", "learning_rate": 1e-3, "seed": 7}


def test_run_writes_a_complete_record_and_skips_on_rerun(tiny_index, tmp_path):
    store = RunStore(tmp_path / "records")
    outcome = run_classification(TINY, tiny_index, store, study="toy", experiment="e1")
    record = outcome.record
    assert not outcome.skipped and record.finished
    assert set(record.metrics) == {"validation", "test"} == set(record.evaluated_splits)
    assert record.metrics["test"]["count"] == 10
    assert len(record.history["loss"]) == 2 and "val_accuracy" in record.history
    assert record.durations["train_s"] > 0 and record.durations["total_s"] >= record.durations["train_s"]
    assert record.policy["compute_dtype"] == "float32"  # CPU: the policy changes nothing
    assert record.extra["parameters"]["total"] > 0
    assert record.dataset_fingerprint == tiny_index.fingerprint()
    # The evaluation pass kept the index order: paths line up with the split's rows.
    assert outcome.predictions["test"].paths == tiny_index.split("test")["path"].tolist()
    again = run_classification(TINY, tiny_index, store, study="toy", experiment="e1")
    assert again.skipped and again.record == record
    assert len(store) == 1


def test_same_config_on_other_data_is_a_new_run(tiny_index, tmp_path):
    from kerasbench.data.index import index_folder

    store = RunStore(tmp_path / "records")
    first = run_classification({**TINY, "epochs": 1}, tiny_index, store)
    other_root = tmp_path / "other"
    shutil.copytree(tiny_index.root, other_root)
    # Same files but one class renamed: other data.
    os.rename(other_root / "train" / "class1", other_root / "train" / "zebra")
    for split in ("validation", "test"):
        os.rename(other_root / split / "class1", other_root / split / "zebra")
    other = run_classification({**TINY, "epochs": 1}, index_folder(other_root), store)
    assert not other.skipped and other.record.run_id != first.record.run_id
    assert other.record.extra["class_names"] == ["class0", "zebra"]
    assert len(store) == 2


def test_a_changed_file_makes_a_new_run(tiny_index, tmp_path):
    from kerasbench.data.index import index_folder

    store = RunStore(tmp_path / "records")
    first = run_classification({**TINY, "epochs": 1}, tiny_index, store)
    changed = tiny_index.split("train")["path"].iloc[0]
    stat = os.stat(changed)
    os.utime(changed, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    second = run_classification({**TINY, "epochs": 1}, index_folder(tiny_index.root), store)
    assert not second.skipped and second.record.run_id != first.record.run_id


def _spec(**config):
    return RunSpec(study="toy", experiment="unit", config={"seed": 1, **config},
                   dataset_fingerprint="fp", protocol_version="1")


def test_a_failed_run_leaves_a_failed_record_and_is_redone(tmp_path):
    store = RunStore(tmp_path)
    spec = _spec(a=1)

    def broken():
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        execute(spec, store, broken)
    failed = store.get(spec.run_id)
    assert failed.status == "failed" and "out of memory" in failed.error
    assert store.finished(spec.run_id) is None
    done = execute(spec, store, lambda: TrainResult(metrics={"test": {"accuracy": 1.0}}))
    assert not done.skipped and done.record.finished


def test_empty_metrics_are_refused_not_recorded_as_finished(tmp_path):
    store = RunStore(tmp_path)
    spec = _spec(a=2)
    with pytest.raises(RuntimeError, match="returned metrics"):
        execute(spec, store, lambda: TrainResult(metrics={"test": {}}))
    assert store.finished(spec.run_id) is None
    calls = []

    def work():
        calls.append(1)
        return TrainResult(metrics={"test": {"accuracy": 0.5}})

    assert not execute(spec, store, work).skipped and calls == [1]
    assert execute(spec, store, work).skipped and calls == [1]


def test_execute_group_trains_once_for_the_unfinished_runs(tmp_path):
    store = RunStore(tmp_path)
    specs = [_spec(epochs=e) for e in (1, 2, 3)]
    seen = []

    def work(needed):
        seen.append([spec.config["epochs"] for spec in needed])
        return {spec.run_id: TrainResult(metrics={"test": {"epochs": spec.config["epochs"]}})
                for spec in needed}

    execute(specs[1], store, lambda: TrainResult(metrics={"test": {"epochs": 2}}))
    outcomes = execute_group(specs, store, work)
    assert seen == [[1, 3]]
    assert [o.skipped for o in outcomes] == [False, True, False]
    assert [o.record.metrics["test"]["epochs"] for o in outcomes] == [1, 2, 3]


def test_run_each_reports_position_and_estimate(tmp_path):
    lines = []
    specs = [_spec(b=value) for value in range(3)]
    execute(specs[0], RunStore(tmp_path), lambda: TrainResult(metrics={"t": {"x": 1}}))
    run_each(specs, RunStore(tmp_path), lambda spec: TrainResult(metrics={"t": {"x": 1}}),
             progress=lines.append)
    assert [line.split("]")[0] for line in lines] == ["[1/3", "[2/3", "[3/3"]
    assert "already finished" in lines[0] and "left" in lines[1]


def test_progress_estimate_counts_trained_runs_only():
    lines = []
    progress = Progress(4, "grid", write=lines.append)
    progress.step("a", skipped=True)
    progress.step("b", seconds=60.0)
    assert "~2:00 left" in lines[-1]


def test_two_seeded_runs_give_identical_metrics(tiny_index, tmp_path):
    first = run_classification(TINY, tiny_index, RunStore(tmp_path / "a")).record
    second = run_classification(TINY, tiny_index, RunStore(tmp_path / "b")).record
    assert first.metrics["test"]["accuracy"] == second.metrics["test"]["accuracy"]
    np.testing.assert_allclose(first.history["loss"], second.history["loss"], rtol=1e-5)


def test_on_cpu_the_default_policy_changes_no_number(tiny_index, tmp_path):
    """The device's default policy and every switch turned off give the same run on a CPU
    (with augmentation, so the augmentation placement switch is exercised too)."""
    config = {**TINY, "augmentation": {"horizontal_flip": True, "rotation_range": 10}}
    store = RunStore(tmp_path)
    default = run_classification(config, tiny_index, store).record
    switched_off = run_classification(
        {**config, "performance": {"mixed_precision": False, "jit_compile": False,
                                   "augment_on_device": False}}, tiny_index, store).record
    assert default.run_id != switched_off.run_id  # two runs, not a skip
    # The same switches; only the recorded reason for the XLA choice differs.
    without_reason = [{k: v for k, v in record.policy.items() if k != "xla_reason"}
                      for record in (default, switched_off)]
    assert without_reason[0] == without_reason[1]
    np.testing.assert_array_equal(default.history["loss"], switched_off.history["loss"])
    assert default.metrics["test"] == switched_off.metrics["test"]


def test_batch_larger_than_training_split_is_capped(tiny_index, tmp_path):
    record = run_classification({**TINY, "batch_size": 256, "epochs": 1}, tiny_index,
                                RunStore(tmp_path)).record
    assert record.extra["batch_size_effective"] == 20


def test_predict_frame_aligns_labels_predictions_and_paths(tiny_index):
    from kerasbench.heads import build_classifier

    model = build_classifier("squeezenet1_1", 2, image_size=32, head="softmax")
    frame = tiny_index.split("test")
    predictions = predict_frame(model, frame, image_size=32, head="softmax", batch_size=3)
    assert predictions.y_true.tolist() == frame["label"].tolist()
    assert predictions.probabilities.shape == (10, 2)
    assert len(predictions.frame()) == 10


def test_unknown_setting_is_rejected():
    with pytest.raises(ValueError, match="learning_rat"):
        resolve_config({"learning_rat": 0.1})


def test_logits_become_probabilities():
    probabilities = outputs_to_probabilities(np.array([[0.0, 0.0], [10.0, 0.0]]), "logits")
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities[0, 0] == pytest.approx(0.5)


def test_cross_entropy_matches_keras():
    import keras

    from kerasbench.engine import cross_entropy

    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 2])
    expected = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    assert cross_entropy(probabilities, labels) == pytest.approx(float(expected), rel=1e-5)
    binary = keras.losses.BinaryCrossentropy()(np.array([[1.0], [0.0]]), np.array([[0.9], [0.3]]))
    assert cross_entropy(np.array([0.9, 0.3]), np.array([1, 0])) == pytest.approx(float(binary), rel=1e-5)


def test_xla_is_turned_off_under_replicas_and_the_record_says_why():
    from kerasbench.engine.fitting import XLA_UNDER_REPLICAS, Distribution
    from kerasbench.performance import choose_policy

    gpu = {"kind": "GPU", "name": "test GPU", "compute_capability": (8, 0)}
    policy = choose_policy("resnet50", device=gpu)
    assert policy.jit_compile
    one = Distribution("none", "none")
    assert one.applied_policy(policy) == (True, policy.to_dict())
    two = Distribution("mirrored", "mirrored", replicas=2)
    jit_compile, applied = two.applied_policy(policy)
    assert jit_compile is False
    assert applied == {**policy.to_dict(), "jit_compile": False, "xla_reason": XLA_UNDER_REPLICAS}
    # A policy without XLA is recorded as it is.
    plain = choose_policy("resnet50", device=gpu, jit_compile=False)
    assert two.applied_policy(plain) == (False, plain.to_dict())
