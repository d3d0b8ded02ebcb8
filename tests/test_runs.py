import numpy as np
import pytest

from kerasbench.results import ResultsStore
from kerasbench.runs import (
    outputs_to_probabilities,
    predict_frame,
    resolve_config,
    run_classification,
)

TINY = {"backbone": "squeezenet1_1", "image_size": 32, "batch_size": 8, "epochs": 2,
        "head": "logits", "trainable": "all", "learning_rate": 1e-3, "seed": 7}


def test_run_writes_a_complete_record_and_skips_on_rerun(tiny_index, tmp_path):
    store = ResultsStore(tmp_path / "records")
    result = run_classification(TINY, tiny_index, store)
    record = result.record
    assert not result.skipped
    assert set(record["metrics"]) == {"validation", "test"}
    assert record["metrics"]["test"]["count"] == 10
    assert len(record["history"]["loss"]) == 2 and "val_accuracy" in record["history"]
    assert record["durations"]["training_seconds"] > 0
    assert record["performance"]["compute_dtype"] == "float32"  # CPU: policy changes nothing
    assert record["parameters"]["total"] > 0
    # evaluation pass kept the index order: paths line up with the split's rows
    assert result.predictions["test"].paths == tiny_index.split("test")["path"].tolist()
    again = run_classification(TINY, tiny_index, store)
    assert again.skipped and again.record == record
    assert len(store) == 1


def test_two_seeded_runs_give_identical_metrics(tiny_index, tmp_path):
    first = run_classification(TINY, tiny_index, ResultsStore(tmp_path / "a")).record
    second = run_classification(TINY, tiny_index, ResultsStore(tmp_path / "b")).record
    assert first["metrics"]["test"]["accuracy"] == second["metrics"]["test"]["accuracy"]
    np.testing.assert_allclose(first["history"]["loss"], second["history"]["loss"], rtol=1e-5)


def test_on_cpu_the_default_policy_changes_no_number(tiny_index, tmp_path):
    """The device's default policy and every switch turned off give the same run on a CPU
    (with augmentation, so the augmentation placement switch is exercised too)."""
    config = {**TINY, "augmentation": {"horizontal_flip": True, "rotation_range": 10}}
    store = ResultsStore(tmp_path)
    default = run_classification(config, tiny_index, store).record
    switched_off = run_classification(
        {**config, "performance": {"mixed_precision": False, "jit_compile": False,
                                   "augment_on_device": False}}, tiny_index, store).record
    assert default["config_hash"] != switched_off["config_hash"]  # two runs, not a skip
    assert default["performance"] == switched_off["performance"]
    np.testing.assert_array_equal(default["history"]["loss"], switched_off["history"]["loss"])
    assert default["metrics"]["test"] == switched_off["metrics"]["test"]


def test_batch_larger_than_training_split_is_capped(tiny_index, tmp_path):
    record = run_classification({**TINY, "batch_size": 256, "epochs": 1}, tiny_index,
                                ResultsStore(tmp_path)).record
    assert record["batch_size_effective"] == 20


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

    from kerasbench.runs import cross_entropy

    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 2])
    expected = keras.losses.SparseCategoricalCrossentropy()(labels, probabilities)
    assert cross_entropy(probabilities, labels) == pytest.approx(float(expected), rel=1e-5)
    binary = keras.losses.BinaryCrossentropy()(np.array([[1.0], [0.0]]), np.array([[0.9], [0.3]]))
    assert cross_entropy(np.array([0.9, 0.3]), np.array([1, 0])) == pytest.approx(float(binary), rel=1e-5)
