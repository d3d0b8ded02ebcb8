"""kerasbench.studies.faces: splits, pairs on disk, the verbs on tiny data, identity,
shared-epoch training, seeds and intervals, parity with the code before the refactor."""

import hashlib
import json
import os
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import shared_path, shared_weights

from kerasbench import siamese, summaries
from kerasbench.engine.siamese import resolve_config
from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord
from kerasbench.stats import HEADLINE_COLUMNS
from kerasbench.studies import faces
from kerasbench.studies.base import PlannedRun, StudyContext, check_study_module
from kerasbench.studies.faces.paper import paper_macro_f1
from kerasbench.studies.faces.protocol import run_config

IMAGE_SIZE = 40
# The tiny seeded run of /work/baseline/capture.py: 8 synthetic people x 5 images, split by
# person (4 train, 2 validation, 2 test), Adam 1e-3, one training evaluated at 1 and 2 epochs.
DATA = {"image_size": IMAGE_SIZE, "test_fraction": 0.25, "validation_fraction": 0.25,
        "evaluation_pairs_per_person": 6}
GRID = {"optimizers": ["adam"], "learning_rates": [0.001], "epochs": [1, 2],
        "paper_epochs": [50, 100], "seeds": [3], "embedding_dim": 16, "pairs_per_person": 4,
        "batch_size": 16, "augmentation": {"horizontal_flip": True}}


def _context(output_dir, data_dir, seed=3):
    return StudyContext(study="faces", profile="test", output_dir=output_dir, data_dir=data_dir,
                        is_demo=True, data_description="demo", seed=seed)


@pytest.fixture(scope="module")
def face_folder(tmp_path_factory):
    return faces.make_demo_data(tmp_path_factory.mktemp("faces") / "people", people=8,
                                images_per_person=5, image_size=IMAGE_SIZE)


@pytest.fixture(scope="module")
def study(face_folder, tmp_path_factory):
    """The verbs in the notebook's order: one training evaluated after epochs 1 and 2."""
    context = _context(tmp_path_factory.mktemp("run"), face_folder)
    data = faces.load_data(context, **DATA)
    planned = faces.configs(**GRID)
    lines = []
    records = faces.run(context, data, planned, latency_repeats=1, progress=lines.append)
    return context, data, planned, records, lines


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
    with pytest.raises(ConfigError, match="leave two to train"):
        faces.split_by_person(_frame(people=5), test_fraction=0.4, validation_fraction=0.4, seed=0)
    with pytest.raises(ConfigError, match="test_fraction"):
        faces.split_by_person(_frame(), test_fraction=1.5, validation_fraction=0.1, seed=0)


def test_split_by_image_puts_every_person_in_every_split():
    frame = faces.split_by_image(_frame(per=10), test_fraction=0.2, validation_fraction=0.2, seed=0)
    counts = pd.crosstab(frame["class_name"], frame["split"])
    assert (counts[["train", "validation", "test"]] == [6, 2, 2]).all().all()
    with pytest.raises(ConfigError, match="too few"):
        faces.split_by_image(_frame(per=4), test_fraction=0.2, validation_fraction=0.2, seed=0)


def test_load_data_decodes_once_and_keeps_evaluation_pairs(face_folder, study, tmp_path):
    context, data, *_ = study
    assert set(data.splits) == {"train", "validation", "test"}
    assert data.threshold_split == "validation" and data.image_size == (IMAGE_SIZE, IMAGE_SIZE)
    assert data.settings == {"image_size": IMAGE_SIZE, "split": "person", "test_fraction": 0.25,
                             "validation_fraction": 0.25, "evaluation_pairs_per_person": 6,
                             "split_seed": 3}
    people = data.people
    assert not set(people["train"]) & (set(people["test"]) | set(people["validation"]))
    test = data.splits["test"]
    assert test.images.shape == (len(test.frame), IMAGE_SIZE, IMAGE_SIZE, 3)
    assert test.images.dtype == np.float32 and test.images.max() <= 255
    counts = faces.dataset_counts(data)
    assert counts.loc["test", "evaluation pairs"] == 2 * 6
    assert counts.loc["test", "same-person pairs"] == counts.loc["test", "different-person pairs"]
    assert faces.images_per_person(data).to_numpy().sum() == 8 * 5
    files = data.pair_files
    assert set(files) == {"validation", "test"}
    assert all(path.parent == context.output_dir / "pairs" and path.exists()
               for path in files.values())
    # A second load reuses the saved pairs; other settings get their own file.
    again = faces.load_data(context, **DATA)
    pd.testing.assert_frame_equal(again.pairs["test"], data.pairs["test"])
    assert again.fingerprint() == data.fingerprint()
    other = faces.load_data(context, **DATA, seed=4)
    assert other.pair_files["test"] != files["test"] and other.fingerprint() != data.fingerprint()
    # Without validation people the threshold comes from fixed training pairs.
    no_validation = faces.load_faces(face_folder, image_size=IMAGE_SIZE, test_fraction=0.25,
                                     validation_fraction=0.0, seed=3,
                                     evaluation_pairs_per_person=6, pairs_dir=tmp_path)
    assert no_validation.threshold_split == "train" and "train" in no_validation.pairs
    images, captions = faces.pair_examples(data, per_label=2)
    assert len(images) == len(captions) == 8


def test_demo_data_is_byte_identical_to_before(tmp_path):
    # sha256 of make_faces(people=2, images_per_person=2, image_size=32, seed=1), recorded
    # from 98fb060, before the refactor.
    expected = {
        "DEMO_DATA.txt": "077ec4250fd5b2a30bd40f61ba5262e84810c22ab5a642868501f6a9e2ec479c",
        "s1/1.pgm": "1bda265bf3055d0f816fe6f4b3c659d46cd3b4b108b8a04db9e4618d5d8f26d7",
        "s1/2.pgm": "27e6e32696cca6cdfe4de6de444966fe00841c5e73694cd4019e79f6718853fa",
        "s2/1.pgm": "cf1b0643f95cd1206511a5a36f441ebccf5d83c266d8c5c0e362cdd2574f5d5f",
        "s2/2.pgm": "faa653568f0fa3b357dfc3c9f4e7728ca911ce2330f28ada7fdd681f553a16b3",
    }
    root = faces.make_demo_data(tmp_path / "f", people=2, images_per_person=2, image_size=32,
                                seed=1)
    written = {path.relative_to(root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
               for path in sorted(root.rglob("*")) if path.is_file()}
    assert written == expected
    assert faces.make_demo_data.demo_name == "faces"


# --------------------------------------------------------------------------- configs


def test_the_study_has_every_verb_and_the_grid_runs_once_per_seed():
    check_study_module(faces)
    planned = faces.configs(seeds=[0, 1, 2])
    assert len(planned) == 2 * 2 * 3 * 3
    assert [run.config["seed"] for run in planned[:3]] == [0, 1, 2]
    first = planned[0].config
    assert (first["optimizer"], first["learning_rate"], first["epochs"],
            first["paper_epochs"]) == ("sgd", 0.01, 50, 50)
    unmapped = faces.configs(epochs=[1], paper_epochs=None, optimizers=["adam"],
                             learning_rates=[0.01])
    assert len(unmapped) == 1 and unmapped[0].config["paper_epochs"] is None
    with pytest.raises(ConfigError, match="same length"):
        faces.configs(epochs=[1, 2], paper_epochs=[50, 75, 100])
    with pytest.raises(ConfigError, match="optimizers"):
        faces.configs(optimizers=["rmsprop"])
    with pytest.raises(ConfigError, match="threshold_criterion"):
        faces.configs(threshold_criterion="f1")
    with pytest.raises(ValueError, match="seeds"):
        faces.configs(seeds=3)


def test_engine_config_refuses_typos():
    with pytest.raises(ConfigError, match="unknown Siamese run settings"):
        resolve_config({"margn": 1.0})
    with pytest.raises(ConfigError, match="split"):
        resolve_config({"split": "random"})
    assert resolve_config({"squeezenet_version": "squeezenet1_1"})["squeezenet_version"] == "1.1"


# --------------------------------------------------------------------------- the run


def test_same_numbers_as_before_the_refactor(study):
    """Recorded from 98fb060, before the refactor (/work/baseline/values.json, "faces"):
    faces.train_and_evaluate on the same data, config and seed."""
    *_, records, _ = study
    one, two = records
    expected = {
        1: {"test": {"accuracy": 0.75, "macro_f1": 0.7333333333333334, "roc_auc": 1.0,
                     "eer": 0.0, "threshold": 0.5708092337952916,
                     "confusion_matrix": [[3, 3], [0, 6]]},
            "validation": {"accuracy": 0.8333333333333334, "roc_auc": 0.888888888888889,
                           "confusion_matrix": [[4, 2], [0, 6]]},
            "loss": [0.27789604663848877], "val_loss": [0.18411123752593994],
            "accuracy": [0.5625],
            "distance": [0.31281240153013434, 0.23056626586128662, 0.19827140077212846,
                         0.7114957770938174, 0.442373560094982, 0.6619153422091352,
                         0.26889181612728347, 0.24499907235083082, 0.3241448705244775,
                         0.5657706492854644, 0.5994536086231841, 0.5172111050547175]},
        2: {"test": {"accuracy": 0.9166666666666666, "macro_f1": 0.916083916083916,
                     "roc_auc": 0.9722222222222223, "eer": 0.16666666666666663,
                     "threshold": 0.2532805717469067, "confusion_matrix": [[6, 0], [1, 5]]},
            "validation": {"accuracy": 0.75, "roc_auc": 0.5833333333333333,
                           "confusion_matrix": [[6, 0], [3, 3]]},
            "loss": [0.27789604663848877, 0.17189115285873413],
            "val_loss": [0.18411123752593994, 0.27764976024627686],
            "accuracy": [0.5625, 0.75],
            "distance": [0.15646493420675306, 0.3547197215335059, 0.14484582931345413,
                         0.8934685702915207, 0.3454313752003149, 0.7858538665059436,
                         0.1705474559554459, 0.15326613860892352, 0.1930446811622479,
                         0.5486626529260229, 0.5377749900923064, 0.554206655967687]},
    }
    for record in (one, two):
        values = expected[record.config["epochs"]]
        for split in ("test", "validation"):
            for name, value in values[split].items():
                if name == "confusion_matrix":
                    assert record.metrics[split][name] == value
                else:
                    assert record.metrics[split][name] == pytest.approx(value, rel=1e-6, abs=1e-9)
        for name in ("loss", "val_loss", "accuracy"):
            np.testing.assert_allclose(record.history[name], values[name], rtol=1e-6)
        np.testing.assert_allclose(record.extra["pair_distances"]["test"]["distance"],
                                   values["distance"], rtol=1e-6)
        assert record.extra["pair_distances"]["test"]["label"] == [1, 1, 1, 0, 0, 0] * 2
        assert record.extra["split_people"] == {"train": ["s1", "s4", "s5", "s6"],
                                                "validation": ["s2", "s3"], "test": ["s7", "s8"]}
        assert record.extra["parameters"]["total"] == 743632
        assert record.extra["threshold"] == values["test"]["threshold"]


def test_records_are_run_records_with_what_the_tables_need(study):
    context, data, planned, records, lines = study
    assert context.store().validate() == 2
    assert len(lines) == 1 and "adam lr=0.001 seed=3 (epochs 1/2): done" in lines[0]
    assert [r.config["epochs"] for r in records] == [1, 2]
    for record in records:
        assert isinstance(record, RunRecord) and record.finished and record.demo
        assert record.study == "faces" and record.seed == 3
        assert record.dataset_fingerprint == data.fingerprint()
        assert record.evaluated_splits == ["validation", "test"]
        assert {"train_s", "evaluate_s", "total_s", "verify_pair_s"} <= set(record.durations)
        # The performance policy is in every record; on a CPU every switch is off.
        assert record.policy["compute_dtype"] == "float32" and record.policy["jit_compile"] is False
        assert record.extra["trained_in_run_of_epochs"] == 2
        # Per-pair test outcomes for kerasbench.stats: y_pred is the decision at the
        # threshold, the score is -distance.
        stored = record.extra["predictions"]["test"]
        distance = np.asarray(record.extra["pair_distances"]["test"]["distance"])
        assert stored["y_true"] == data.pairs["test"]["label"].tolist()
        assert stored["y_pred"] == (distance <= record.extra["threshold"]).astype(int).tolist()
        np.testing.assert_allclose(stored["score"], -distance)
        row = record.to_row()
        assert row["metrics.test.macro_f1"] == record.metrics["test"]["macro_f1"]
        assert row["config.epochs"] == record.config["epochs"] and row["extra.threshold_split"]
    one, two = records
    assert len(one.history["loss"]) == 1 and len(two.history["loss"]) == 2
    assert "val_loss" in two.history and "epoch_seconds" in two.history
    assert one.durations["train_s"] <= two.durations["train_s"]
    # Only the longest run's verifier is saved by default, with its threshold.
    assert one.extra["verifier_dir"] is None
    saved = json.loads((context.output_dir / "models" / two.run_id / "verifier.json").read_text())
    assert saved["threshold"] == pytest.approx(two.extra["threshold"])


def test_rerun_skips_and_changed_data_is_a_new_run(study, face_folder, tmp_path):
    context, data, planned, records, _ = study
    lines = []
    again = faces.run(context, data, planned, latency_repeats=1, progress=lines.append)
    assert [r.run_id for r in again] == [r.run_id for r in records]
    assert [r.created_at for r in again] == [r.created_at for r in records]
    assert "already finished" in lines[0]
    # The folder copied elsewhere (modification times kept) is the same data...
    copy = tmp_path / "copy"
    shutil.copytree(face_folder, copy)
    moved = faces.load_data(_context(context.output_dir, copy), **DATA)
    assert moved.fingerprint() == data.fingerprint()
    # ...a rewritten file is other data: every run is a new one, nothing is reused.
    touched = copy / "s7" / "1.pgm"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 10**9))
    changed = faces.load_data(_context(context.output_dir, copy), **DATA)
    assert changed.fingerprint() != data.fingerprint()
    configs = [run_config(item, changed) for item in planned]
    assert configs == [record.config for record in records]  # same settings, other data
    store = context.store()
    for record in records:
        other = RunRecord(study="faces", experiment=record.experiment, config=record.config,
                          dataset_fingerprint=changed.fingerprint(),
                          protocol_version=faces.PROTOCOL_VERSION)
        assert other.run_id != record.run_id and store.finished(other.run_id) is None
    with pytest.raises(ConfigError, match="disagree with the data"):
        run_config(PlannedRun("grid", {**planned[0].config, "image_size": 64}),
                                  data)


def test_one_training_equals_separate_runs(study, tmp_path):
    """The shared run stopped after epoch 1 to evaluate and went on; a separate 2-epoch
    run with the same seed must give the same record numbers."""
    context, data, _, (one_epoch, two_epochs), _ = study
    alone_context = _context(tmp_path, context.data_dir)
    (alone,) = faces.run(alone_context, data, faces.configs(**{**GRID, "epochs": [2],
                                                                 "paper_epochs": [100]}),
                         latency_repeats=1, save_verifiers="none", progress=False)
    assert alone.run_id == two_epochs.run_id
    np.testing.assert_allclose(alone.extra["pair_distances"]["test"]["distance"],
                               two_epochs.extra["pair_distances"]["test"]["distance"],
                               rtol=1e-5, atol=1e-6)
    assert alone.extra["threshold"] == pytest.approx(two_epochs.extra["threshold"], rel=1e-5)
    np.testing.assert_allclose(alone.history["loss"], two_epochs.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(alone.history["loss"][:1], one_epoch.history["loss"], rtol=1e-5)
    assert alone.metrics["test"]["confusion_matrix"] == two_epochs.metrics["test"]["confusion_matrix"]


# --------------------------------------------------------------------------- tables, figures, paper


def test_tables_headline_paired_and_paper_verdicts(study):
    context, _, _, records, _ = study
    built = faces.tables(records, context)
    assert set(built) == {"headline", "paired", "runs", "latency", "per_class"}
    headline = built["headline"]
    assert list(headline["configuration"]) == ["adam lr=0.001 1 ep", "adam lr=0.001 2 ep"]
    assert set(HEADLINE_COLUMNS) <= set(headline.columns) and (headline["n_seeds"] == 1).all()
    for (_, row), record in zip(headline.iterrows(), records):
        assert row["mean"] == pytest.approx(record.metrics["test"]["macro_f1"])
        assert row["ci_low"] <= row["mean"] <= row["ci_high"]
    paired = built["paired"]
    assert list(paired["metric"]) == ["macro_f1", "accuracy"]
    assert (paired["a"] == "adam lr=0.001 2 ep").all() and (paired["b"] == "adam lr=0.001 1 ep").all()
    assert paired["test"].iloc[1].startswith("McNemar") and (paired["p_value"] <= 1).all()
    assert list(built["runs"].index) == [("adam", 0.001, 1, 3), ("adam", 0.001, 2, 3)]
    assert {"same precision", "different f1", "roc_auc", "eer", "collapsed"} <= set(built["runs"])
    assert len(built["latency"]) == 1
    saved = pd.read_csv(context.table("headline.csv"))
    assert saved["demo"].all() and context.note in context.table("headline.md").read_text()

    comparison = faces.compare_with_paper(records, context)
    assert list(comparison.columns[:8]) == ["configuration", "metric", "paper", "ours_mean",
                                            "ci_low", "ci_high", "difference", "verdict"]
    assert (comparison["verdict"] == "not comparable: demo data").all()
    row = comparison.set_index("configuration").loc["adam lr=0.001 2 ep"]
    assert row["paper"] == 1.0 and row["paper epochs"] == 100
    assert row["ours same f1"] == records[1].metrics["test"]["per_class"]["same"]["f1"]
    assert row["paper different precision"] == 1.0 and not row["paper collapsed"]
    sentences = summaries.verdict_sentences(comparison)
    assert len(sentences) == 2 and "synthetic demo data" in sentences[0]
    assert pd.read_csv(context.table("compare_with_paper.csv"))["demo"].all()


def test_figures_carry_the_note_and_exist(study):
    context, _, _, records, _ = study
    paths = faces.figures(records, context)
    assert {"seed_spread", "training_curves", "confusion_test_adam_lr0.001_2ep_seed3",
            "roc_test_adam_lr0.001_2ep_seed3", "distances_test_adam_lr0.001_2ep_seed3"} == set(paths)
    assert all(path.exists() and path.stat().st_size > 1000 for path in paths.values())


def test_paper_numbers_cover_the_grid():
    assert len(faces.PAPER_RESULTS) == 12
    assert faces.PAPER_RESULTS[("adam", 0.01, 75)]["same"]["f1"] == 0.0
    assert faces.PAPER_RESULTS[("sgd", 0.01, 100)]["different"]["precision"] == 0.97
    assert sum(faces.PAPER_COLLAPSED.values()) == 3
    assert paper_macro_f1(("adam", 0.01, 50)) == pytest.approx(0.335)


def test_attendance(study):
    _, data, _, records, _ = study
    verifier = siamese.FaceVerifier.load(records[-1].extra["verifier_dir"])
    assert faces.best_record(records).run_id in {r.run_id for r in records}
    summary, probes = faces.attendance_check(verifier, data, gallery_images=2)
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
    strict, _ = faces.attendance_check(stored, data, gallery_images=2, calibration_splits=())
    assert strict["identification threshold"] == 1e-6
    assert strict["identification strangers rejected"] == 1.0


# --------------------------------------------------------------------------- seeds, real data


@pytest.mark.slow
def test_adding_a_seed_trains_only_the_new_runs(study):
    context, data, _, records, _ = study
    lines = []
    both = faces.run(context, data, faces.configs(**{**GRID, "seeds": [3, 4]}), latency_repeats=1,
                     progress=lines.append)
    assert [(r.config["epochs"], r.seed) for r in both] == [(1, 3), (1, 4), (2, 3), (2, 4)]
    assert [both[0].run_id, both[2].run_id] == [r.run_id for r in records]
    assert "already finished" in lines[0] and "done in" in lines[1]
    headline = faces.headline(both)
    assert (headline["n_seeds"] == 2).all() and list(headline["seeds"]) == ["3, 4", "3, 4"]
    assert (headline["min"] <= headline["median"]).all() and (headline["median"] <= headline["max"]).all()
    assert faces.paired(both)["n_seeds"].tolist() == [2, 2]


@pytest.mark.slow
def test_orl_faces_pretrained_squeezenet_beats_chance(tmp_path):
    """The real check: ORL faces split by person, SqueezeNet 1.1 with the shared ImageNet
    weights, a CPU-sized run; the test ROC-AUC must be well above chance (0.5)."""
    folder = shared_path("orl-faces")
    weights = shared_weights("squeezenet_v1.1_imagenet_notop.h5")
    context = StudyContext(study="faces", profile="test", output_dir=tmp_path, data_dir=folder,
                           is_demo=False, data_description="ORL faces", seed=0)
    data = faces.load_data(context, image_size=64, test_fraction=0.2, validation_fraction=0.1,
                           evaluation_pairs_per_person=10)
    assert faces.dataset_counts(data).loc["test", "people"] == 8
    planned = faces.configs(optimizers=["adam"], learning_rates=[1e-4], epochs=[2],
                            paper_epochs=None, seeds=[0], squeezenet_version="1.1",
                            weights=str(weights), embedding_dim=64, pairs_per_person=10)
    (record,) = faces.run(context, data, planned, latency_repeats=1, progress=False)
    assert record.metrics["test"]["roc_auc"] > 0.8


# --------------------------------------------------------------------------- typed settings

TINY = {"optimizers": ["sgd"], "learning_rates": [0.01], "epochs": [1], "paper_epochs": [50]}


@pytest.mark.parametrize("options, message", [
    ({"batch_size": "16"}, r"batch_size must be an integer >= 1, got '16'"),
    ({"batch_size": [16]}, r"batch_size must be an integer >= 1, got \[16\]"),
    ({"epochs": "1"}, r"epochs must be a list of integers.*got '1'"),
    ({"epochs": 1}, r"epochs must be a list of integers, e\.g\. \[1\]"),
    ({"learning_rates": "0.01"}, r"learning_rates must be a list of numbers.*got '0\.01'"),
    ({"learning_rates": ["0.01"]}, r"learning_rates\[0\] must be a number, got '0\.01' \(str\)"),
    ({"margin": "1.0"}, r"margin must be a number, got '1\.0' \(str\)"),
    ({"l2_normalize": "no"}, r"l2_normalize must be true or false, got 'no' \(str\)"),
    ({"embedding_dim": "32"}, r"embedding_dim must be an integer >= 1, got '32'"),
    ({"pairs_per_person": 4.5}, r"pairs_per_person must be an integer >= 1, got 4\.5"),
    ({"squeezenet_version": 1.0}, r"squeezenet_version must be text.*got 1\.0 \(float\)"),
    ({"weights": 3}, r"weights must be None, 'imagenet' or a weights file path, got 3 \(int\)"),
    ({"augmentation": ["flip"]}, r"augmentation must be a dict.*got \['flip'\] \(list\)"),
    ({"augmentation": {"flip": True}}, r"augmentation: unknown augmentation argument 'flip'"),
])
def test_configs_name_a_setting_of_the_wrong_type(options, message):
    with pytest.raises(ConfigError, match=message):
        faces.configs(**{**TINY, **options})


@pytest.mark.parametrize("options, message", [
    ({"image_size": "32"}, r"image_size must be an integer \(e\.g\. 64\) or \[height, width\], "
                           r"got '32' \(str\)"),
    ({"image_size": [32]}, r"image_size must be an integer.*got \[32\] \(list\)"),
    ({"image_size": [32, "32"]}, r"image_size\[1\] must be an integer >= 1, got '32'"),
    ({"image_size": 0}, r"image_size must be an integer >= 1, got 0"),
    ({"test_fraction": "0.25"}, r"test_fraction must be a number, got '0\.25' \(str\)"),
    ({"validation_fraction": 1.5}, r"validation_fraction must be below 1"),
    ({"evaluation_pairs_per_person": "6"},
     r"evaluation_pairs_per_person must be an integer >= 1, got '6'"),
    ({"split": "people"}, r"split must be one of \['person', 'image'\]"),
    ({"seed": "3"}, r"seed must be an integer >= 0, got '3'"),
])
def test_load_data_checks_its_arguments_before_reading_the_folder(tmp_path, options, message):
    context = _context(tmp_path / "out", tmp_path / "absent")
    with pytest.raises(ConfigError, match=message):
        faces.load_data(context, **options)
