"""The COVID X-ray study protocol: data arrangement, sweep settings, curves -> numbers."""

import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kerasbench.data.demo import make_binary
from kerasbench.data.index import DatasetIndex
from kerasbench.results import ResultsStore
from kerasbench.runs import RunResult, SplitPredictions
from kerasbench.studies import covid_xray

COUNTS = {"train": 5, "validation": 3, "test": 3}


@pytest.fixture(scope="module")
def xray_folder(tmp_path_factory):
    """Tiny demo covid/normal set in split folders (8/4/4 per class, 32 px)."""
    folder = tmp_path_factory.mktemp("xray") / "covid"
    return make_binary(folder, layout="split", per_class=(8, 4, 4), image_size=32)


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


# --------------------------------------------------------------------------- data


def test_subsample_counts_per_class_and_saved_then_reused(xray_folder, tmp_path):
    data = covid_xray.prepare_data(xray_folder, tmp_path, per_class_counts=COUNTS, seed=3)
    counts = data.index.counts()
    for split, wanted in COUNTS.items():
        assert counts.loc["covid", split] == wanted and counts.loc["normal", split] == wanted
    assert data.subsample_file.exists() and data.subsample_file.parent == tmp_path / "splits"
    assert not data.reused

    again = covid_xray.prepare_data(xray_folder, tmp_path, per_class_counts=COUNTS, seed=3)
    assert again.reused and again.subsample_file == data.subsample_file
    pd.testing.assert_frame_equal(again.index.frame, data.index.frame)
    assert again.dataset == data.dataset

    other = covid_xray.prepare_data(xray_folder, tmp_path, per_class_counts=COUNTS, seed=4)
    assert other.subsample_file != data.subsample_file
    assert set(other.index.frame["path"]) != set(data.index.frame["path"])


def test_missing_validation_split_is_carved_from_train(tmp_path):
    folder = _write_images(
        tmp_path / "data", {"train": {"happy": 12, "sad": 12}, "test": {"happy": 4, "sad": 4}}
    )
    data = covid_xray.prepare_data(
        folder,
        tmp_path / "out",
        positive_class="sad",
        per_class_counts={"train": 6, "validation": 3, "test": 2},
        seed=0,
    )
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
    data = covid_xray.prepare_data(
        folder.parent,
        tmp_path / "out",
        positive_class="covid",
        per_class_counts={"train": 4, "validation": 1, "test": 1},
        seed=1,
    )
    assert not any("/masks/" in path for path in data.full.frame["path"])
    assert data.full.root == folder.resolve()  # the slug folder was descended into
    assert data.index.class_names == ["Normal", "COVID"]  # "covid" found case-insensitively
    assert list((tmp_path / "out" / "splits").glob("split-*.csv")), "flat layout split not saved"


# --------------------------------------------------------------------------- settings


def test_paper_settings_share_one_configuration():
    settings = covid_xray.sweep_settings()
    assert len(settings) == 9
    keys = covid_xray.distinct_runs(settings)
    assert len(keys) == 8 and (1e-4, 5) in keys
    base = covid_xray.base_config(image_size=75)
    shared = [
        covid_xray.run_config(base, s.learning_rate, s.batch_size)
        for s in settings
        if s.key == (1e-4, 5)
    ]
    assert len(shared) == 2 and shared[0] == shared[1]
    # YAML 1.1 reads 1e-4 as a string; it still means the same configuration.
    assert covid_xray.sweep_settings(["1e-4"], 5, [5], 0.0001)[0].key == (1e-4, 5)
    with pytest.raises(ValueError, match="positive number"):
        covid_xray.sweep_settings([0.0])
    with pytest.raises(ValueError, match="at least 75"):
        covid_xray.base_config(image_size=64)


def _history(validation_loss, train_loss=None, accuracy=0.9):
    validation_loss = list(validation_loss)
    return {
        "loss": list(train_loss or validation_loss),
        "accuracy": [accuracy] * len(validation_loss),
        "val_loss": validation_loss,
        "val_accuracy": [accuracy] * len(validation_loss),
    }


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


def fake_run(histories, calls):
    """Stands in for run_classification: writes a record with the given history."""

    def run(config, index, store, *, overwrite=False, verbose=0):
        if store.has(config) and not overwrite:
            return RunResult(record=store.get(config), skipped=True)
        calls.append((config["learning_rate"], config["batch_size"]))
        test = index.split("test")
        y_true = test["label"].to_numpy()
        probabilities = np.where(y_true == 1, 0.8, 0.3)
        predictions = SplitPredictions(
            "test",
            test["path"].tolist(),
            y_true,
            (probabilities > 0.5).astype(int),
            probabilities,
            0.0,
            index.class_names,
        )
        from kerasbench.runs import split_metrics

        metrics = {"test": split_metrics(predictions, index.class_names)}
        record = store.write(
            config,
            metrics=metrics,
            durations={"training_seconds": 1.0},
            history=_history(histories[(config["learning_rate"], config["batch_size"])]),
            class_names=index.class_names,
        )
        return RunResult(record=record, predictions={"test": predictions})

    return run


@pytest.fixture()
def paper_like_sweep(xray_folder, tmp_path):
    data = covid_xray.prepare_data(xray_folder, tmp_path, per_class_counts=COUNTS, seed=0)
    store = ResultsStore(tmp_path / "records")
    settings = covid_xray.sweep_settings()
    base = covid_xray.base_config(
        image_size=75, positive_class=data.positive_class, dataset=data.dataset
    )
    calls = []
    results = covid_xray.run_sweeps(
        data,
        store,
        base,
        settings,
        predictions_dir=tmp_path / "predictions",
        run=fake_run(PAPER_LIKE, calls),
        report=None,
    )
    return data, store, settings, results, calls, base


def test_shared_setting_is_trained_once_and_reused(paper_like_sweep, tmp_path):
    data, store, settings, results, calls, base = paper_like_sweep
    assert len(calls) == 8 and len(store) == 8
    lr_setting = next(s for s in settings if s.sweep == "learning_rate" and s.key == (1e-4, 5))
    batch_setting = next(s for s in settings if s.sweep == "batch_size" and s.key == (1e-4, 5))
    assert results.record(lr_setting) is results.record(batch_setting)
    rerun_calls = []
    again = covid_xray.run_sweeps(
        data,
        store,
        base,
        settings,
        predictions_dir=tmp_path / "predictions",
        run=fake_run(PAPER_LIKE, rerun_calls),
        report=None,
    )
    assert rerun_calls == [] and again.trained == []


def test_curve_numbers():
    numbers = covid_xray.curve_numbers(_history([0.5, 0.2, 0.6, 0.1]), window=2, spike_rise=0.2)
    assert numbers["best_val_loss"] == pytest.approx(0.1) and numbers["best_val_loss_epoch"] == 4
    assert numbers["final_val_loss"] == pytest.approx(0.1) and numbers[
        "max_val_loss"
    ] == pytest.approx(0.6)
    assert numbers["val_loss_std_last"] == pytest.approx(np.std([0.6, 0.1]))
    assert numbers["val_loss_spikes"] == 1  # 0.2 -> 0.6
    assert numbers["val_loss_share_under_0_2"] == pytest.approx(0.25)


def test_findings_table_is_computed_from_histories(paper_like_sweep):
    data, store, settings, results, calls, base = paper_like_sweep
    lr_table = covid_xray.sweep_table(results, settings, "learning_rate", window=4)
    batch_table = covid_xray.sweep_table(results, settings, "batch_size", window=4)
    assert list(lr_table.index) == [
        "lr 1e-2",
        "lr 1e-3",
        "lr 1e-4",
        "lr 1e-5",
        "lr 1e-6",
        "lr 1e-7",
    ]
    assert list(batch_table.index) == ["batch 5", "batch 10", "batch 15"]
    assert (lr_table["positive_class"] == "covid").all()
    assert lr_table.loc["lr 1e-4", "test_recall"] == 1.0  # positive (label 1) images all found
    findings = covid_xray.findings_table(lr_table, batch_table, positive_class="covid", window=4)
    assert findings["agrees"].tolist() == ["yes"] * 5
    assert "1e-4 (0.060)" in findings.loc[0, "what this run shows"]

    # The opposite curves make every finding disagree.
    flipped = {key: list(reversed(values)) for key, values in PAPER_LIKE.items()}
    flipped[(1e-2, 5)] = [0.05] * 6
    flipped[(1e-3, 5)] = [0.06] * 6
    flipped[(1e-4, 5)] = [0.5, 0.6, 0.55, 0.6, 0.5, 0.6]
    flipped[(1e-6, 5)] = [0.01] * 6
    flipped[(1e-7, 5)] = [0.02] * 6
    flipped[(1e-4, 10)] = [0.1] * 6
    flipped[(1e-4, 15)] = [0.2] * 6
    records = {
        key: {**results.records[key], "history": _history(values)}
        for key, values in flipped.items()
    }
    flipped_results = covid_xray.SweepResults(records=records, predictions=results.predictions)
    findings = covid_xray.findings_table(
        covid_xray.sweep_table(flipped_results, settings, "learning_rate", window=4),
        covid_xray.sweep_table(flipped_results, settings, "batch_size", window=4),
        window=4,
    )
    assert findings["agrees"].tolist() == ["no"] * 5


def test_sample_predictions_show_probability_of_positive_class(paper_like_sweep):
    data, store, settings, results, calls, base = paper_like_sweep
    samples = covid_xray.sample_predictions(
        results.predictions[(1e-4, 5)], data.index.class_names, per_class=2
    )
    assert samples["true_class"].tolist() == ["covid", "covid", "normal", "normal"]
    assert samples["P(covid)"].tolist() == [0.8, 0.8, 0.3, 0.3] and samples["correct"].all()
    captions = covid_xray.sample_captions(samples, "covid")
    assert all("P(covid)=" in caption for caption in captions)
    compared = covid_xray.paper_comparison(
        covid_xray.sweep_table(results, settings, "learning_rate"), samples, "covid", "normal"
    )
    # The paper's scores are P(normal); this run's P(covid) is turned around to match.
    assert math.isclose(compared["P(normal), sample normal image"], 0.7)
    assert math.isclose(compared["P(normal), sample covid image"], 0.2)
    assert "label 1 = positive class = covid" in covid_xray.report_note("DEMO", "covid")


def test_positive_class_mismatch_between_config_and_data_is_refused(paper_like_sweep, tmp_path):
    data, store, settings, results, calls, base = paper_like_sweep
    with pytest.raises(ValueError, match="positive_class"):
        covid_xray.run_sweeps(
            data,
            store,
            {**base, "positive_class": "normal"},
            settings,
            predictions_dir=tmp_path,
            run=fake_run(PAPER_LIKE, []),
            report=None,
        )


# --------------------------------------------------------------------------- real training


def test_tiny_sweep_writes_records(xray_folder, tmp_path):
    data = covid_xray.prepare_data(
        xray_folder,
        tmp_path,
        positive_class="normal",
        per_class_counts={"train": 4, "validation": 2, "test": 2},
        seed=0,
    )
    # Both sweeps consist of the one shared setting: two panels, one training run.
    settings = covid_xray.sweep_settings([1e-3], 4, [4], 1e-3)
    base = covid_xray.base_config(
        backbone="resnet18",
        image_size=32,
        hidden_units=8,
        epochs=1,
        augmentation=None,
        positive_class=data.positive_class,
        dataset=data.dataset,
    )
    store = ResultsStore(tmp_path / "records")
    results = covid_xray.run_sweeps(
        data, store, base, settings, predictions_dir=tmp_path / "predictions", report=None
    )
    assert len(store) == 1 and results.trained == [(1e-3, 4)]
    record = store.records()[0]
    assert record["config"]["positive_class"] == "normal" and record["class_names"] == [
        "covid",
        "normal",
    ]
    assert set(record["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert record["metrics"]["test"]["roc_auc"] is not None
    table = covid_xray.sweep_table(results, settings, "batch_size")
    assert table.loc["batch 4", "positive_class"] == "normal"
    samples = covid_xray.sample_predictions(
        results.predictions[(1e-3, 4)], data.index.class_names, per_class=1
    )
    assert "P(normal)" in samples.columns and isinstance(DatasetIndex, type)


def test_sweep_figure_stops_the_loss_axis_for_a_diverged_run(tmp_path):
    histories = {"lr 1e-2": _history([0.7, 10000.0, 5000.0]), "lr 1e-4": _history([0.7, 0.5, 0.3])}
    figure = covid_xray.sweep_figure(
        histories, tmp_path / "sweep.png", title="lr", note="n", loss_limit=2.0
    )
    loss_axis = figure.axes[0]
    assert loss_axis.get_ylim() == (0.0, 2.0)
    assert any("off scale" in text.get_text() for text in loss_axis.texts)
    assert (tmp_path / "sweep.png").exists()
    calm = covid_xray.sweep_figure({"lr 1e-4": _history([0.7, 0.5])}, loss_limit=2.0)
    assert not calm.axes[0].texts
