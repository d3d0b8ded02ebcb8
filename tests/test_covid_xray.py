"""The COVID X-ray study on the new study shape: data arrangement, the sweeps' configs,
curves -> numbers, the verbs on a tiny seeded run, and parity with the pre-refactor code."""

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kerasbench.engine import RunSpec
from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord
from kerasbench.store import RunStore
from kerasbench.studies import covid_xray
from kerasbench.studies.base import PlannedRun, check_study_module, start_study
from kerasbench.studies.covid_xray import compare
from kerasbench.studies.covid_xray.figures import report_note, sweep_figure
from kerasbench.studies.covid_xray.tables import sweep_table

MAX_PER_CLASS = {"train": 5, "validation": 3, "test": 3}


@pytest.fixture(scope="module")
def xray_folder(tmp_path_factory):
    """Tiny demo covid/normal set in split folders (8/4/4 per class, 32 px)."""
    folder = tmp_path_factory.mktemp("xray") / "covid"
    return covid_xray.make_demo_data(folder, per_class=(8, 4, 4), image_size=32)


def _context(data_dir, output_dir, seed=0):
    return start_study("covid_xray", profile="test", output_dir=output_dir, data_dir=data_dir,
                       demo_generator=covid_xray.make_demo_data, seed=seed)


def _noise(generator, shape=(8, 8, 3)):
    # Distinct random pixels, so no two files are byte-identical (the index warns then).
    return Image.fromarray(generator.integers(0, 256, shape, dtype=np.uint8))


def _write_images(folder, per_split):
    generator = np.random.default_rng(0)
    for split, classes in per_split.items():
        for name, count in classes.items():
            target = folder / split / name
            target.mkdir(parents=True, exist_ok=True)
            for number in range(count):
                _noise(generator).save(target / f"{number}.png")
    return folder


def _digest(folder):
    """One sha256 over every file's relative path and bytes."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------- shape and demo


def test_study_exposes_the_verbs():
    check_study_module(covid_xray)
    assert covid_xray.PROTOCOL_VERSION == "1"


def test_demo_data_is_the_old_covid_set_byte_for_byte(tmp_path):
    from kerasbench.data.demo import demo_folder, demo_name

    # Digests recorded from 98fb060, before the refactor: make_covid(folder, seed=3,
    # per_class=(2, 1, 1), image_size=24) (marker file included), and _draw_xray(abnormal,
    # 32, np.random.default_rng([5, abnormal])) as raw uint8 bytes.
    folder = covid_xray.make_demo_data(tmp_path / "new", seed=3, per_class=(2, 1, 1),
                                       image_size=24)
    assert _digest(folder) == "ed0773751830b80b23a6e1024ed3cb8cedd6103bb7ec4e05aa1fdd70a0b4f47b"
    drawings = {True: "c1be2ea8efa26377c7a477c0d10a9eaa64216b68811e2ebdd0371f40907dfc97",
                False: "875c1fc9c6f67742e4e239f76680ee21dabe49a689856cbb2ad4dcc9ff96c99a"}
    for abnormal, expected in drawings.items():
        image = covid_xray.demo.draw_xray(abnormal, 32, np.random.default_rng([5, int(abnormal)]))
        assert hashlib.sha256(image.tobytes()).hexdigest() == expected
    # The cached demo folder keeps its old name.
    assert demo_name(covid_xray.make_demo_data) == "covid"
    assert demo_folder(covid_xray.make_demo_data, tmp_path / "cache", create=False).name == "covid"


# --------------------------------------------------------------------------- data


def test_subsample_counts_per_class_and_saved_then_reused(xray_folder, tmp_path):
    context = _context(xray_folder, tmp_path, seed=3)
    data = covid_xray.load_data(context, max_per_class=MAX_PER_CLASS)
    counts = data.index.counts()
    for split, wanted in MAX_PER_CLASS.items():
        assert counts.loc["covid", split] == wanted and counts.loc["normal", split] == wanted
    assert data.subsample_file.exists() and data.subsample_file.parent == tmp_path / "splits"
    assert not data.reused and data.index.class_names == ["normal", "covid"]

    again = covid_xray.load_data(context, max_per_class=MAX_PER_CLASS)
    assert again.reused and again.subsample_file == data.subsample_file
    pd.testing.assert_frame_equal(again.index.frame, data.index.frame)
    assert again.fingerprint == data.fingerprint

    other = covid_xray.load_data(context, max_per_class=MAX_PER_CLASS, seed=4)
    assert other.subsample_file != data.subsample_file
    assert other.fingerprint != data.fingerprint
    assert list(data.counts().columns)[:2] == ["available train", "available validation"]


def test_per_class_cap_and_fractions_are_checked(xray_folder, tmp_path):
    context = _context(xray_folder, tmp_path)
    for bad, name in (({"train": 0}, "max_per_class\\['train'\\]"),
                      ({"train": True}, "max_per_class\\['train'\\]"),
                      ({"training": 5}, "max_per_class splits"),
                      (500, "max_per_class must be a mapping")):
        with pytest.raises(ConfigError, match=name):
            covid_xray.load_data(context, max_per_class=bad)
    with pytest.raises(ConfigError, match="validation_fraction"):
        covid_xray.load_data(context, validation_fraction=1.5)
    whole = covid_xray.load_data(context, max_per_class=None)
    assert whole.index.counts().loc["covid", "train"] == 8


def test_missing_validation_split_is_carved_from_train(tmp_path):
    folder = _write_images(
        tmp_path / "data", {"train": {"happy": 12, "sad": 12}, "test": {"happy": 4, "sad": 4}}
    )
    data = covid_xray.prepare_data(folder, tmp_path / "out", seed=0, positive_class="sad",
                                   max_per_class={"train": 6, "validation": 3, "test": 2})
    counts = data.index.counts()
    assert counts.loc["sad", "validation"] == 3 and counts.loc["happy", "train"] == 6
    assert set(data.index.split("validation")["path"]).isdisjoint(data.index.split("train")["path"])
    assert data.full.counts().loc["sad", "train"] == 9  # 12 minus the 3 moved to validation


def test_masks_folders_are_left_out(tmp_path):
    # Kaggle layout: /kaggle/input/<slug>/COVID-19_Radiography_Dataset/<class>/{images,masks}/
    folder = tmp_path / "slug" / "COVID-19_Radiography_Dataset"
    generator = np.random.default_rng(1)
    for name in ("COVID", "Normal"):
        for sub in ("images", "masks"):
            target = folder / name / sub
            target.mkdir(parents=True)
            for number in range(10):
                _noise(generator, (8, 8)).save(target / f"{name}-{number}.png")
    (folder / "COVID.metadata.xlsx").write_bytes(b"not an image")
    data = covid_xray.prepare_data(folder.parent, tmp_path / "out", seed=1, positive_class="covid",
                                   max_per_class={"train": 4, "validation": 1, "test": 1})
    assert not any("/masks/" in path for path in data.full.frame["path"])
    assert data.full.root == folder.resolve()  # the slug folder was descended into
    assert data.index.class_names == ["Normal", "COVID"]  # "covid" found case-insensitively
    assert list((tmp_path / "out" / "splits").glob("split-*.csv")), "flat layout split not saved"


# --------------------------------------------------------------------------- configs


def test_paper_settings_share_one_configuration():
    planned = covid_xray.configs(image_size=75)
    assert len(planned) == 9 and all(isinstance(plan, PlannedRun) for plan in planned)
    assert [plan.experiment for plan in planned] == ["learning_rate"] * 6 + ["batch_size"] * 3
    shared = [plan.config for plan in planned
              if (plan.config["learning_rate"], plan.config["batch_size"]) == (1e-4, 5)]
    assert len(shared) == 2 and shared[0] == shared[1]
    assert shared[0]["head"] == "sigmoid" and shared[0]["seed"] == 42
    settings = covid_xray.settings_table(planned)
    assert settings["run"].max() == 8 and settings["shared by both sweeps"].sum() == 2
    # YAML 1.1 reads 1e-4 as a string; it still means the same configuration.
    assert covid_xray.configs(learning_rates=["1e-4"], image_size=75)[0].config == shared[0]


@pytest.mark.parametrize("options, message", [
    ({"learning_rates": [0.0]}, "learning_rates\\[0\\] must be > 0"),
    ({"learning_rates": [1e-3, 1e-3]}, "learning_rates lists a value twice"),
    ({"learning_rates": 1e-3}, "learning_rates must be a list"),
    ({"batch_sizes": [5, 0]}, "batch_sizes\\[1\\]"),
    ({"lr_sweep_batch_size": 2.5}, "lr_sweep_batch_size"),
    ({"epochs": 0}, "epochs"),
    ({"image_size": 64}, "at least 75"),
    ({"trainable": "some"}, "trainable"),
])
def test_bad_settings_name_the_setting(options, message):
    with pytest.raises(ConfigError, match=message):
        covid_xray.configs(**options)


# --------------------------------------------------------------------------- curves -> numbers


def _history(validation_loss, train_loss=None, accuracy=0.9):
    validation_loss = list(validation_loss)
    accuracies = [accuracy] * len(validation_loss)
    return {"loss": list(train_loss or validation_loss), "accuracy": accuracies,
            "val_loss": validation_loss, "val_accuracy": accuracies}


# Histories shaped like the paper's figures: 1e-4/1e-5 low, 1e-2/1e-3 swinging, 1e-6/1e-7
# around 0.25, batch 10/15 spiking.
PAPER_LIKE = {
    (1e-2, 5): [0.3, 0.8, 0.2, 0.7, 0.25, 0.6],
    (1e-3, 5): [0.3, 0.9, 0.15, 1.0, 0.2, 0.5],
    (1e-4, 5): [0.3, 0.15, 0.1, 0.08, 0.07, 0.06],
    (1e-5, 5): [0.35, 0.2, 0.15, 0.12, 0.1, 0.09],
    (1e-6, 5): [0.5, 0.35, 0.3, 0.28, 0.27, 0.26],
    (1e-7, 5): [0.6, 0.45, 0.35, 0.3, 0.3, 0.29],
    (1e-4, 10): [0.3, 0.2, 0.6, 0.15, 0.12, 0.5],
    (1e-4, 15): [0.3, 0.25, 0.7, 0.2, 0.6, 0.18],
}


def _records(histories, planned=None):
    """RunRecords as the engine would write them, one per planned panel."""
    planned = planned or covid_xray.configs(image_size=75)
    records = []
    for plan in planned:
        key = (plan.config["learning_rate"], plan.config["batch_size"])
        labels = [1, 1, 0, 0]
        probabilities = [0.8, 0.8, 0.3, 0.3]
        test = {"accuracy": 1.0, "roc_auc": 1.0, "confusion_matrix": [[2, 0], [0, 2]],
                "class_names": ["normal", "covid"],
                "per_class": {name: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
                              for name in ("normal", "covid")}}
        records.append(RunRecord(
            study="covid_xray", experiment=plan.experiment, config=plan.config,
            dataset_fingerprint="f" * 16, protocol_version="1", seed=42,
            metrics={"test": test}, history=_history(histories[key]),
            durations={"train_s": 1.0, "total_s": 1.5},
            extra={"class_names": ["normal", "covid"],
                   "test_predictions": {"path": ["c/1.png", "c/2.png", "n/1.png", "n/2.png"],
                                        "label": labels,
                                        "probability_positive": probabilities}}))
    return records


def test_curve_numbers():
    numbers = covid_xray.curve_numbers(_history([0.5, 0.2, 0.6, 0.1]), window=2, spike_rise=0.2)
    assert numbers["best_val_loss"] == pytest.approx(0.1) and numbers["best_val_loss_epoch"] == 4
    assert numbers["final_val_loss"] == pytest.approx(0.1)
    assert numbers["max_val_loss"] == pytest.approx(0.6)
    assert numbers["val_loss_std_last"] == pytest.approx(np.std([0.6, 0.1]))
    assert numbers["val_loss_spikes"] == 1  # 0.2 -> 0.6
    assert numbers["val_loss_share_under_0_2"] == pytest.approx(0.25)
    with pytest.raises(ConfigError, match="instability_window"):
        covid_xray.curve_numbers(_history([0.5]), window=0)


def test_findings_are_computed_from_the_records():
    records = _records(PAPER_LIKE)
    lr_table = sweep_table(records, "learning_rate", window=4)
    batch_table = sweep_table(records, "batch_size", window=4)
    assert list(lr_table.index) == [f"lr 1e-{power}" for power in range(2, 8)]
    assert list(batch_table.index) == ["batch 5", "batch 10", "batch 15"]
    assert (lr_table["positive_class"] == "covid").all() and (lr_table["train_s"] == 1.0).all()
    findings = compare.findings_table(lr_table, batch_table, window=4)
    assert findings["agrees"].tolist() == ["yes"] * 5
    assert "1e-4 (0.060)" in findings.loc[0, "what this run shows"]

    # The opposite curves make every finding disagree.
    flipped = {key: list(reversed(values)) for key, values in PAPER_LIKE.items()}
    flipped.update({(1e-2, 5): [0.05] * 6, (1e-3, 5): [0.06] * 6,
                    (1e-4, 5): [0.5, 0.6, 0.55, 0.6, 0.5, 0.6], (1e-6, 5): [0.01] * 6,
                    (1e-7, 5): [0.02] * 6, (1e-4, 10): [0.1] * 6, (1e-4, 15): [0.2] * 6})
    records = _records(flipped)
    findings = compare.findings_table(sweep_table(records, "learning_rate", window=4),
                                      sweep_table(records, "batch_size", window=4),
                                      window=4)
    assert findings["agrees"].tolist() == ["no"] * 5


def test_sample_predictions_show_probability_of_positive_class():
    records = _records(PAPER_LIKE)
    samples = covid_xray.sample_predictions(records, sample_per_class=2)
    assert samples["true_class"].tolist() == ["covid", "covid", "normal", "normal"]
    assert samples["P(covid)"].tolist() == [0.8, 0.8, 0.3, 0.3] and samples["correct"].all()
    lr_table = sweep_table(records, "learning_rate")
    values = compare.paper_values(lr_table, samples, ["normal", "covid"])
    # The paper's scores are P(normal); this run's P(covid) is turned around to match.
    assert math.isclose(values["P(normal), sample normal image"], 0.7)
    assert math.isclose(values["P(normal), sample covid image"], 0.2)
    assert math.isclose(values["max validation loss, lr 1e-3 (read off the curve)"], 1.0)
    with pytest.raises(ConfigError, match="sample_learning_rate"):
        covid_xray.sample_predictions(records, sample_learning_rate=0.5)
    assert "label 1 = positive class = covid" in report_note("DEMO", "covid")


def test_sweep_figure_stops_the_loss_axis_for_a_diverged_run(tmp_path):
    histories = {"lr 1e-2": _history([0.7, 10000.0, 5000.0]), "lr 1e-4": _history([0.7, 0.5, 0.3])}
    figure = sweep_figure(histories, tmp_path / "sweep.png", title="lr", note="n",
                                  loss_limit=2.0)
    loss_axis = figure.axes[0]
    assert loss_axis.get_ylim() == (0.0, 2.0)
    assert any("off scale" in text.get_text() for text in loss_axis.texts)
    assert (tmp_path / "sweep.png").exists()
    calm = sweep_figure({"lr 1e-4": _history([0.7, 0.5])}, loss_limit=2.0)
    assert not calm.axes[0].texts


def test_positive_class_mismatch_between_configs_and_data_is_refused(xray_folder, tmp_path):
    context = _context(xray_folder, tmp_path)
    data = covid_xray.load_data(context, max_per_class=MAX_PER_CLASS)
    planned = covid_xray.configs(image_size=75, positive_class="normal")
    with pytest.raises(ConfigError, match="positive_class"):
        covid_xray.run(context, data, planned)


# --------------------------------------------------------------------------- a tiny real run

# The tiny seeded run of /work/baseline/capture.py (covid_xray): demo set (8/4/4 per class,
# 32 px, seed 0), subsample 6/3/3 per class (seed 0), ResNet18 random weights, frozen,
# 8 hidden units, 2 epochs, no augmentation, model seed 42; lr 1e-3 at batch 4 (in both
# sweeps) and batch 8, on the CPU. Values recorded from 98fb060, before the refactor.
BASELINE = {
    (1e-3, 4): {
        "history": {"loss": [0.7425773739814758, 0.7064110636711121],
                    "accuracy": [0.3333333432674408, 0.4166666567325592],
                    "val_loss": [0.7514073252677917, 0.747321367263794],
                    "val_accuracy": [0.3333333432674408, 0.1666666716337204]},
        "validation": {"accuracy": 0.16666666666666666, "loss": 0.7473213132514375,
                       "roc_auc": 0.11111111111111112, "confusion_matrix": [[0, 3], [2, 1]]},
        "test": {"accuracy": 0.5, "loss": 0.691724502938024, "roc_auc": 0.4444444444444445,
                 "confusion_matrix": [[2, 1], [2, 1]]},
        "test_probability_positive": [0.4984557330608368, 0.5333406329154968,
                                      0.43255239725112915, 0.5032715797424316,
                                      0.4844704866409302, 0.48665639758110046],
        "val_loss_std_last": 0.0020429790019989014,
    },
    (1e-3, 8): {
        "history": {"loss": [0.7551868557929993, 0.7130429148674011],
                    "accuracy": [0.5, 0.4166666567325592],
                    "val_loss": [0.7553874850273132, 0.7543880939483643],
                    "val_accuracy": [0.3333333432674408, 0.3333333432674408]},
        "validation": {"accuracy": 0.3333333333333333, "loss": 0.7543880550694516,
                       "roc_auc": 0.11111111111111112, "confusion_matrix": [[2, 1], [3, 0]]},
        "test": {"accuracy": 0.3333333333333333, "loss": 0.6966481852270453,
                 "roc_auc": 0.4444444444444445, "confusion_matrix": [[2, 1], [3, 0]]},
        "test_probability_positive": [0.4576288163661957, 0.501297116279602,
                                      0.3862901031970978, 0.47387322783470154,
                                      0.43397387862205505, 0.4481979310512543],
        "val_loss_std_last": 0.0004996955394744873,
    },
}
BASELINE_PARAMETERS = {"non_trainable": 11186112, "total": 11190225, "trainable": 4113}
SAMPLE = {"sample_learning_rate": 1e-3, "sample_batch_size": 4, "sample_per_class": 1}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("tiny")
    folder = covid_xray.make_demo_data(work / "covid", seed=0, per_class=(8, 4, 4), image_size=32)
    context = _context(folder, work / "out", seed=0)
    data = covid_xray.load_data(context, positive_class="covid",
                                max_per_class={"train": 6, "validation": 3, "test": 3})
    planned = covid_xray.configs(
        learning_rates=[1e-3], lr_sweep_batch_size=4, batch_sizes=[4, 8],
        batch_sweep_learning_rate=1e-3, backbone="resnet18", weights=None, image_size=32,
        hidden_units=8, trainable="frozen", epochs=2, augmentation=None, seed=42,
        positive_class="covid")
    lines = []
    records = covid_xray.run(context, data, planned, progress=lines.append)
    return context, data, planned, records, lines


@pytest.mark.slow
def test_tiny_run_matches_the_pre_refactor_numbers(tiny_run):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("the baseline was recorded on the CPU (float32, no XLA)")
    context, data, planned, records, lines = tiny_run
    assert [(r.experiment, r.config["batch_size"]) for r in records] == [
        ("learning_rate", 4), ("batch_size", 4), ("batch_size", 8)]
    for record in records:
        expected = BASELINE[(record.config["learning_rate"], record.config["batch_size"])]
        history = {key: values for key, values in record.history.items() if key != "epoch_seconds"}
        assert history.keys() == expected["history"].keys()
        for key, values in expected["history"].items():
            np.testing.assert_allclose(history[key], values, rtol=1e-6)
        for split in ("validation", "test"):
            for name in ("accuracy", "loss", "roc_auc"):
                assert record.metrics[split][name] == pytest.approx(expected[split][name], rel=1e-6)
            assert record.metrics[split]["confusion_matrix"] == expected[split]["confusion_matrix"]
        np.testing.assert_allclose(record.extra["test_predictions"]["probability_positive"],
                                   expected["test_probability_positive"], rtol=1e-6)
        assert record.extra["parameters"] == BASELINE_PARAMETERS
        assert record.extra["class_names"] == ["normal", "covid"]
        numbers = covid_xray.curve_numbers(record.history)
        assert numbers["val_loss_std_last"] == pytest.approx(expected["val_loss_std_last"],
                                                             rel=1e-6)


@pytest.mark.slow
def test_tiny_run_records_and_identity(tiny_run):
    context, data, planned, records, lines = tiny_run
    store = context.store()
    assert len(store) == 2 and store.validate() == 2  # the shared setting was trained once
    assert records[0].run_id == records[1].run_id
    assert all(isinstance(record, RunRecord) and record.finished for record in records)
    assert all(record.dataset_fingerprint == data.fingerprint for record in records)
    assert all(record.durations["train_s"] > 0 and "total_s" in record.durations
               for record in records)
    assert len(lines) == 2 and all("done in" in line for line in lines)
    # The file keeps the sweep that trained it; run() returns it under each sweep's name.
    assert RunRecord.read(store.path(records[0].run_id)).experiment == "learning_rate"

    rerun_lines = []
    again = covid_xray.run(context, data, planned, progress=rerun_lines.append)
    assert [r.created_at for r in again] == [r.created_at for r in records]
    assert all("already finished" in line for line in rerun_lines) and len(store) == 2

    # Other data with the same settings is a new run, not the earlier record.
    other = covid_xray.load_data(context, positive_class="covid", seed=1,
                                 max_per_class={"train": 6, "validation": 3, "test": 3})
    assert other.fingerprint != data.fingerprint
    specs_ids = {RunSpec("covid_xray", p.experiment, p.config, other.fingerprint,
                                  "1").run_id for p in planned}
    assert specs_ids.isdisjoint({record.run_id for record in records})


@pytest.mark.slow
def test_tiny_run_tables_figures_and_comparison(tiny_run):
    context, data, planned, records, lines = tiny_run
    result = covid_xray.tables(records, context, **SAMPLE)
    assert set(result) == {"learning_rate_sweep", "batch_size_sweep", "sample_predictions",
                           "findings"}
    batch = result["batch_size_sweep"]
    assert list(batch.index) == ["batch 4", "batch 8"]
    assert batch.loc["batch 8", "test_accuracy"] == pytest.approx(1 / 3)
    assert batch.loc["batch 4", "test_recall"] == pytest.approx(1 / 3)  # covid = label 1
    assert list(result["learning_rate_sweep"].index) == ["lr 1e-3"]
    for name in result:
        csv = pd.read_csv(context.table(name).with_suffix(".csv"))
        assert csv["demo"].all()  # the folder was made by the demo generator
        assert context.table(name).with_suffix(".md").exists()
    assert "P(covid)" in result["sample_predictions"].columns

    comparison = covid_xray.compare_with_paper(records, context, **SAMPLE)
    assert isinstance(comparison, pd.DataFrame)
    assert list(comparison.columns) == ["paper", "this run", "difference"]
    assert comparison.loc["P(normal), sample covid image", "this run"] is not None

    paths = covid_xray.figures(records, context, **SAMPLE)
    assert set(paths) == {"learning_rate_sweep", "batch_size_sweep", "sample_predictions",
                          "sample_setting_confusion"}
    assert all(path.exists() for path in paths.values())
    rows = RunStore(context.store().folder).frame()
    assert set(rows["experiment"]) == {"learning_rate", "batch_size"}
