"""kerasbench.studies.faces: splits, pairs on disk, shared-epoch training, tables, real data."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import shared_path, shared_weights

from kerasbench import siamese
from kerasbench.results import ResultsStore
from kerasbench.studies import faces
from kerasbench.studies.common import StudyContext

IMAGE_SIZE = 40
# Tiny, fast settings: 6 synthetic people (4 train, 2 validation... see split below).
CONFIG = {"image_size": IMAGE_SIZE, "embedding_dim": 16, "pairs_per_person": 4,
          "evaluation_pairs_per_person": 6, "test_fraction": 0.25, "validation_fraction": 0.25,
          "batch_size": 16, "augmentation": {"horizontal_flip": True}, "seed": 3}


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory):
    from kerasbench.data.demo import make_faces

    return make_faces(tmp_path_factory.mktemp("faces") / "people", people=8,
                      images_per_person=5, image_size=IMAGE_SIZE)


def _load(folder, pairs_dir, **overrides):
    options = {"image_size": IMAGE_SIZE, "test_fraction": 0.25, "validation_fraction": 0.25,
               "seed": 3, "evaluation_pairs_per_person": 6, "pairs_dir": pairs_dir}
    options.update(overrides)
    return faces.load_faces(folder, **options)


@pytest.fixture(scope="module")
def face_data(face_folder, tmp_path_factory):
    return _load(face_folder, tmp_path_factory.mktemp("pairs"))


@pytest.fixture(scope="module")
def grid_run(face_data, tmp_path_factory):
    """One training run evaluated after epochs 1 and 2."""
    folder = tmp_path_factory.mktemp("run")
    store = ResultsStore(folder / "records")
    records = faces.run_grid(CONFIG, face_data, store, optimizers=["adam"],
                             learning_rates=[0.001], epochs=[1, 2], models_dir=folder / "models",
                             latency_repeats=1, progress=None)
    return folder, store, records


# --------------------------------------------------------------------------- splits and data


def _frame(people=10, per=4):
    return pd.DataFrame({"path": [f"/d/s{p}/{i}.pgm" for p in range(people) for i in range(per)],
                         "class_name": [f"s{p}" for p in range(people) for _ in range(per)]})


def test_split_by_person_keeps_identities_apart_and_is_seeded():
    frame = faces.split_by_person(_frame(), test_fraction=0.2, validation_fraction=0.1, seed=1)
    people = frame.groupby("split")["class_name"].unique()
    assert len(people["test"]) == 2 and len(people["validation"]) == 2 and len(people["train"]) == 6
    assert frame.groupby("class_name")["split"].nunique().max() == 1
    again = faces.split_by_person(_frame(), test_fraction=0.2, validation_fraction=0.1, seed=1)
    pd.testing.assert_frame_equal(frame, again)
    other = faces.split_by_person(_frame(), test_fraction=0.2, validation_fraction=0.1, seed=2)
    assert not frame["split"].equals(other["split"])
    with pytest.raises(ValueError, match="leave two to train"):
        faces.split_by_person(_frame(people=5), test_fraction=0.4, validation_fraction=0.4, seed=0)


def test_split_by_image_puts_every_person_in_every_split():
    frame = faces.split_by_image(_frame(per=10), test_fraction=0.2, validation_fraction=0.2, seed=0)
    counts = pd.crosstab(frame["class_name"], frame["split"])
    assert (counts[["train", "validation", "test"]] == [6, 2, 2]).all().all()
    with pytest.raises(ValueError, match="too few"):
        faces.split_by_image(_frame(per=4), test_fraction=0.2, validation_fraction=0.2, seed=0)


def test_load_faces_decodes_once_and_keeps_evaluation_pairs(face_folder, face_data, tmp_path):
    assert set(face_data.splits) == {"train", "validation", "test"}
    assert face_data.threshold_split == "validation"
    people = face_data.people
    assert not set(people["train"]) & (set(people["test"]) | set(people["validation"]))
    test = face_data.splits["test"]
    assert test.images.shape == (len(test.frame), IMAGE_SIZE, IMAGE_SIZE, 3)
    assert test.images.dtype == np.float32 and test.images.max() <= 255
    counts = faces.dataset_counts(face_data)
    assert counts.loc["test", "evaluation pairs"] == 2 * 6
    assert counts.loc["test", "same-person pairs"] == counts.loc["test", "different-person pairs"]
    files = face_data.pair_files
    assert set(files) == {"validation", "test"} and all(path.exists() for path in files.values())
    # A second load reuses the saved pairs; other settings get their own file.
    again = _load(face_folder, files["test"].parent)
    pd.testing.assert_frame_equal(again.pairs["test"], face_data.pairs["test"])
    other = _load(face_folder, files["test"].parent, seed=4)
    assert other.pair_files["test"] != files["test"]
    # Without validation people the threshold comes from fixed training pairs.
    no_validation = _load(face_folder, tmp_path, validation_fraction=0.0)
    assert no_validation.threshold_split == "train" and "train" in no_validation.pairs


def test_resolve_config_refuses_typos():
    with pytest.raises(ValueError, match="unknown faces settings"):
        faces.resolve_config({"margn": 1.0})
    with pytest.raises(ValueError, match="split"):
        faces.resolve_config({"split": "random"})
    assert faces.resolve_config({"squeezenet_version": "squeezenet1_1"})["squeezenet_version"] == "1.1"


# --------------------------------------------------------------------------- shared-epoch training


def test_one_run_evaluated_at_epochs_equals_separate_runs(face_data, grid_run, tmp_path):
    """The shared run stopped after epoch 1 to evaluate (and to save nothing) and went on; a
    separate 2-epoch run with the same seed must end with the same model and scores, and
    its first epoch must be the shared run's 1-epoch record."""
    _, _, (one_epoch, two_epochs) = grid_run
    (alone,) = faces.train_and_evaluate(CONFIG, face_data, ResultsStore(tmp_path / "alone"),
                                        optimizer="adam", learning_rate=0.001, epochs=[2],
                                        latency_repeats=1)
    assert alone["config_hash"] == two_epochs["config_hash"]
    np.testing.assert_allclose(alone["pair_distances"]["test"]["distance"],
                               two_epochs["pair_distances"]["test"]["distance"],
                               rtol=1e-5, atol=1e-6)
    assert alone["threshold"] == pytest.approx(two_epochs["threshold"], rel=1e-5, abs=1e-6)
    np.testing.assert_allclose(alone["history"]["loss"], two_epochs["history"]["loss"], rtol=1e-5)
    np.testing.assert_allclose(alone["history"]["loss"][:1], one_epoch["history"]["loss"],
                               rtol=1e-5)
    assert alone["metrics"]["test"]["confusion_matrix"] == \
        two_epochs["metrics"]["test"]["confusion_matrix"]


def test_records_hold_what_the_tables_need(grid_run):
    folder, store, records = grid_run
    assert len(store) == 2 and [r["config"]["epochs"] for r in records] == [1, 2]
    record = records[-1]
    # The performance policy is in every row; on a CPU every switch is off.
    assert record["performance"]["compute_dtype"] == "float32"
    assert record["performance"]["jit_compile"] is False
    test = record["metrics"]["test"]
    assert set(test["per_class"]) == {"same", "different"}
    assert test["threshold"] == record["threshold"] and record["threshold_split"] == "validation"
    assert 0 <= test["roc_auc"] <= 1 and test["eer"] is not None and "collapsed" in test
    assert len(record["history"]["loss"]) == 2 and len(records[0]["history"]["loss"]) == 1
    assert "val_loss" in record["history"]
    assert record["durations"]["single_pair_seconds"] > 0
    # Only the longest run's verifier is saved by default, with its threshold.
    assert records[0]["verifier_dir"] is None
    saved = json.loads((folder / "models" / record["config_hash"] / "verifier.json").read_text())
    assert saved["threshold"] == pytest.approx(record["threshold"])
    # A rerun finds both records and trains nothing.
    again = faces.run_grid(CONFIG, None, store, optimizers=["adam"], learning_rates=[0.001],
                           epochs=[1, 2], progress=None)
    assert [r["config_hash"] for r in again] == [r["config_hash"] for r in records]


def test_tables_and_paper_comparison(grid_run):
    _, _, records = grid_run
    summary = faces.summary_table(records)
    assert list(summary.index) == [("adam", 0.001, 1), ("adam", 0.001, 2)]
    assert {"same precision", "different f1", "roc_auc", "eer", "collapsed"} <= set(summary.columns)
    comparison = faces.paper_comparison(records, [1, 2], [50, 100], note="demo")
    block = comparison.loc[("adam", 0.001, 100, 2)]
    assert block.loc["same f1", "paper"] == 1.0
    assert block.loc["same f1", "this run"] == records[1]["metrics"]["test"]["per_class"]["same"]["f1"]
    assert comparison.attrs["note"] == "demo"
    with pytest.raises(ValueError, match="same length"):
        faces.paper_comparison(records, [1, 2], [50, 75, 100])
    assert len(faces.latency_table(records)) == 1


def test_paper_numbers_cover_the_grid():
    assert len(faces.PAPER_RESULTS) == 12
    assert faces.PAPER_RESULTS[("adam", 0.01, 75)]["same"]["f1"] == 0.0
    assert faces.PAPER_RESULTS[("sgd", 0.01, 100)]["different"]["precision"] == 0.97
    assert sum(faces.PAPER_COLLAPSED.values()) == 3


def test_figures_and_attendance(grid_run, face_data, tmp_path):
    _, _, records = grid_run
    context = StudyContext(study="faces", profile="test", output_dir=tmp_path, data_dir=tmp_path,
                           is_demo=True, data_description="demo", seed=0)
    saved = faces.run_figures(records, context)
    for paths in saved.values():
        assert all(path.exists() for path in paths.values())
    verifier = siamese.FaceVerifier.load(records[-1]["verifier_dir"])
    summary, probes = faces.attendance_check(verifier, face_data, gallery_images=2)
    assert summary["enrolled_people"] == 1 and summary["stranger_people"] == 1
    assert summary["known_probes"] == 3 and summary["stranger_probes"] == 5
    assert len(probes) == 8 and set(probes["enrolled"]) == {True, False}
    # The identification threshold is chosen on the other (train/validation) people and both
    # thresholds' results are reported on the same test probes.
    assert summary["calibration_people"] > 0 and "test" not in summary["calibration_splits"]
    assert summary["identification threshold"] == summary["threshold"]
    for label in ("verification", "identification"):
        assert 0.0 <= summary[f"{label} known accepted"] <= 1.0
        assert 0.0 <= summary[f"{label} strangers rejected"] <= 1.0
    assert "answer_verification" in probes.columns
    stored = siamese.FaceVerifier(verifier.embedding_model, verifier.threshold,
                                  identification_threshold=1e-6)
    strict, _ = faces.attendance_check(stored, face_data, gallery_images=2, calibration_splits=())
    assert strict["identification threshold"] == 1e-6 and strict["identification strangers rejected"] == 1.0


# --------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_orl_faces_pretrained_squeezenet_beats_chance(tmp_path):
    """The real check: ORL faces split by person, SqueezeNet 1.1 with the shared ImageNet
    weights, a CPU-sized run; the test ROC-AUC must be well above chance (0.5)."""
    folder = shared_path("orl-faces")
    weights = shared_weights("squeezenet_v1.1_imagenet_notop.h5")
    config = {"squeezenet_version": "1.1", "weights": str(weights), "image_size": 64,
              "embedding_dim": 64, "pairs_per_person": 10, "evaluation_pairs_per_person": 10,
              "split": "person", "test_fraction": 0.2, "validation_fraction": 0.1, "seed": 0}
    data = faces.load_faces(folder, image_size=64, test_fraction=0.2, validation_fraction=0.1,
                            seed=0, evaluation_pairs_per_person=10, pairs_dir=tmp_path)
    assert faces.dataset_counts(data).loc["test", "people"] == 8
    (record,) = faces.train_and_evaluate(config, data, ResultsStore(tmp_path / "records"),
                                         optimizer="adam", learning_rate=1e-4, epochs=[2],
                                         latency_repeats=1)
    assert record["metrics"]["test"]["roc_auc"] > 0.8
