"""The COVID X-ray study on the new study shape: data arrangement, the sweeps' configs and
seeds, curves -> numbers, the headline / paired comparison / verdicts over seeds, the verbs
on a tiny seeded run, and parity with the pre-refactor code."""

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kerasbench import summaries
from kerasbench.engine import RunSpec
from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord
from kerasbench.stats import HEADLINE_COLUMNS
from kerasbench.store import RunStore
from kerasbench.studies import covid_xray
from kerasbench.studies.base import PlannedRun, check_study_module, start_study
from kerasbench.studies.covid_xray import compare
from kerasbench.studies.covid_xray.figures import report_note, sweep_figure
from kerasbench.studies.covid_xray.tables import sweep_table
from kerasbench.summaries import paired_reading as reading

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
    with pytest.raises(FileNotFoundError, match="nowhere"):
        covid_xray.prepare_data(tmp_path / "nowhere", tmp_path / "out", seed=1)


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
    # YAML 1.1 reads 1e-4 as a string: refused with a hint (a string rate would otherwise be
    # a run of its own), see test_configs_name_a_setting_of_the_wrong_type.
    with pytest.raises(ConfigError, match="1e-4"):
        covid_xray.configs(learning_rates=["1e-4"], image_size=75)


def test_every_panel_runs_once_per_seed():
    planned = covid_xray.configs(image_size=75, learning_rates=[1e-3, 1e-4], batch_sizes=[5, 10],
                                 seeds=[0, 1, 2])
    assert [(plan.experiment, plan.config["learning_rate"], plan.config["batch_size"],
             plan.config["seed"]) for plan in planned[:4]] == [
        ("learning_rate", 1e-3, 5, 0), ("learning_rate", 1e-3, 5, 1),
        ("learning_rate", 1e-3, 5, 2), ("learning_rate", 1e-4, 5, 0)]
    assert len(planned) == 4 * 3
    settings = covid_xray.settings_table(planned)
    assert len(settings) == 4 and (settings["seeds"] == "0, 1, 2").all()
    assert settings["run"].tolist() == [1, 2, 2, 3]  # lr 1e-4 batch 5 is in both sweeps
    for bad in (3, [], [0, 0], [-1]):
        with pytest.raises(ValueError, match="seeds"):
            covid_xray.configs(image_size=75, seeds=bad)


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


def _records(histories, planned=None, probabilities=None):
    """RunRecords as the engine would write them, one per planned panel; ``probabilities``
    maps (learning rate, batch size, seed) to P(covid) of the four test images."""
    planned = planned or covid_xray.configs(image_size=75)
    records = []
    for plan in planned:
        key = (plan.config["learning_rate"], plan.config["batch_size"])
        labels = [1, 1, 0, 0]
        probability = (probabilities or {}).get((*key, plan.config["seed"]), [0.8, 0.8, 0.3, 0.3])
        predicted = [int(value >= 0.5) for value in probability]
        test = {"accuracy": 1.0, "roc_auc": 1.0, "confusion_matrix": [[2, 0], [0, 2]],
                "class_names": ["normal", "covid"],
                "per_class": {name: {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2}
                              for name in ("normal", "covid")}}
        records.append(RunRecord(
            study="covid_xray", experiment=plan.experiment, config=plan.config,
            dataset_fingerprint="f" * 16, protocol_version="1", seed=plan.config["seed"],
            metrics={"test": test}, history=_history(histories[key]),
            durations={"train_s": 1.0, "total_s": 1.5},
            extra={"class_names": ["normal", "covid"],
                   "predictions": {"test": {"y_true": labels, "y_pred": predicted,
                                            "score": probability}},
                   "test_predictions": {"path": ["c/1.png", "c/2.png", "n/1.png", "n/2.png"],
                                        "label": labels,
                                        "probability_positive": probability}}))
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


# --------------------------------------------------------------------------- seeds and verdicts


def _seeded_records():
    """Two seeds of lr 1e-3 / 1e-4 / 1e-5 at batch 5 and batch 10 at lr 1e-4, with test
    outcomes planted: lr 1e-4 gets all four images right, 1e-5 three, 1e-3 and batch 10 two."""
    planned = covid_xray.configs(image_size=75, learning_rates=[1e-3, 1e-4, 1e-5],
                                 batch_sizes=[5, 10], seeds=[0, 1])
    histories = {key: [0.5, 0.4, 0.3] for key in ((1e-3, 5), (1e-4, 5), (1e-5, 5), (1e-4, 10))}
    probabilities = {}
    for seed in (0, 1):
        probabilities[(1e-3, 5, seed)] = [0.8, 0.4, 0.6, 0.3]
        probabilities[(1e-5, 5, seed)] = [0.8, 0.4 + 0.05 * seed, 0.3, 0.3]
        probabilities[(1e-4, 10, seed)] = [0.4, 0.45, 0.3, 0.3]
    return _records(histories, planned, probabilities)


def _plain_context(tmp_path, is_demo):
    from kerasbench.studies.base import StudyContext

    return StudyContext(study="covid_xray", profile="test", output_dir=tmp_path, data_dir=tmp_path,
                        is_demo=is_demo, data_description="four images", seed=0)


def test_headline_has_the_shared_columns_one_row_per_setting_and_metric():
    records = _seeded_records()
    headline = covid_xray.headline(records)
    assert list(headline.columns) == ["configuration", "metric", "seeds", *HEADLINE_COLUMNS]
    labels = ["lr 1e-3, batch 5", "lr 1e-4, batch 5", "lr 1e-5, batch 5", "lr 1e-4, batch 10"]
    assert headline["configuration"].tolist() == labels * 2  # the shared setting once
    assert headline["metric"].tolist() == ["accuracy"] * 4 + ["roc_auc"] * 4
    assert (headline["n_seeds"] == 2).all() and (headline["seeds"] == "0, 1").all()
    accuracy = headline[headline["metric"] == "accuracy"].set_index("configuration")
    assert accuracy["mean"].tolist() == pytest.approx([0.5, 1.0, 0.75, 0.5])
    assert (headline["ci_low"] <= headline["mean"] + 1e-12).all()
    assert (headline["mean"] <= headline["ci_high"] + 1e-12).all()
    assert (headline["min"] <= headline["median"]).all()
    assert (headline["median"] <= headline["max"]).all()
    assert covid_xray.learning_rate_ranking(records) == labels[1:3] + labels[:1]


def test_paired_compares_the_best_learning_rate_with_the_next_best():
    records = _seeded_records()
    paired = covid_xray.paired(records)
    assert list(paired.columns) == list(summaries.paired_table([], []).columns)
    assert paired["metric"].tolist() == ["accuracy", "roc_auc"]
    assert (paired["a"] == "lr 1e-4, batch 5").all() and (paired["b"] == "lr 1e-5, batch 5").all()
    assert paired.loc[0, "difference"] == pytest.approx(0.25) and (paired["n_seeds"] == 2).all()
    # Two seeds a side: the paired bootstrap over seeds and images for both metrics.
    assert (paired["test"] == "paired bootstrap over seeds and images").all()
    assert ((paired["p_value"] > 0) & (paired["p_value"] <= 1)).all()
    assert (paired["ci_low"] <= paired["difference"]).all()
    sentences = covid_xray.paired_sentences(paired)
    assert len(sentences) == 2 and sentences[0].startswith("lr 1e-4, batch 5 vs lr 1e-5, batch 5")
    assert "no difference these test images can show" in sentences[0]
    assert reading(0.01, 0.1, 0.3, 0.05) == "a difference at the 5% level"
    assert reading(0.25, -0.75, -0.125, 0.05).startswith("inconclusive")
    # One learning rate: nothing to pair.
    alone = _records(PAPER_LIKE, covid_xray.configs(image_size=75, learning_rates=[1e-4]))
    assert covid_xray.paired(alone).empty


def test_verdicts_say_the_paper_reports_no_test_numbers(tmp_path):
    records = _seeded_records()
    columns = ["configuration", "metric", "paper", "ours_mean", "ci_low", "ci_high", "difference",
               "verdict"]
    demo = covid_xray.compare_with_paper(records, _plain_context(tmp_path / "demo", True))
    assert list(demo.columns) == columns and len(demo) == 8
    assert (demo["verdict"] == "not comparable: demo data").all()
    real = covid_xray.compare_with_paper(records, _plain_context(tmp_path / "real", False))
    assert (real["verdict"] == "not comparable: not reported").all() and real["paper"].isna().all()
    sentences = summaries.verdict_sentences(real)
    assert len(sentences) == 8 and all("reports no number" in sentence for sentence in sentences)
    saved = pd.read_csv(tmp_path / "real" / "tables" / "compare_with_paper.csv")
    assert not saved["demo"].any() and "verdict" in saved.columns


def test_tables_over_seeds_keep_one_row_per_panel_and_seed(tmp_path):
    records = _seeded_records()
    built = covid_xray.tables(records, _plain_context(tmp_path, True), sample_per_class=1)
    assert set(built) == {"headline", "paired", "learning_rate_sweep", "batch_size_sweep",
                          "sample_predictions", "findings", "paper_levels"}
    sweep = built["learning_rate_sweep"]
    assert sweep.index.tolist() == ["lr 1e-3", "lr 1e-3", "lr 1e-4", "lr 1e-4", "lr 1e-5", "lr 1e-5"]
    assert sweep["seed"].tolist() == [0, 1] * 3
    # The findings read each panel once (means over its seeds).
    assert built["findings"].loc[0, "what this run shows"].count("1e-4") == 2
    assert list(built["paper_levels"].columns) == ["paper", "this run", "difference"]
    assert (tmp_path / "tables" / "headline.csv").exists()


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
        hidden_units=8, trainable="frozen", epochs=2, augmentation=None, seeds=[42],
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
    assert set(result) == {"headline", "paired", "learning_rate_sweep", "batch_size_sweep",
                           "sample_predictions", "findings", "paper_levels"}
    # Every record carries its per-image test outcomes, which the headline is computed from.
    for record in records:
        stored = record.extra["predictions"]["test"]
        assert len(stored["y_true"]) == len(stored["y_pred"]) == len(stored["score"]) == 6
    headline = result["headline"]
    assert set(HEADLINE_COLUMNS) <= set(headline.columns) and (headline["n_seeds"] == 1).all()
    assert headline["configuration"].tolist() == ["lr 1e-3, batch 4", "lr 1e-3, batch 8"] * 2
    accuracy = headline[headline["metric"] == "accuracy"].set_index("configuration")
    assert accuracy.loc["lr 1e-3, batch 8", "mean"] == pytest.approx(1 / 3)
    assert accuracy.loc["lr 1e-3, batch 8", "ci_low"] <= 1 / 3 <= accuracy.loc["lr 1e-3, batch 8",
                                                                                "ci_high"]
    assert result["paired"].empty  # one learning rate: no pair to compare
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

    levels = result["paper_levels"]
    assert list(levels.columns) == ["paper", "this run", "difference"]
    assert levels.loc["P(normal), sample covid image", "this run"] is not None

    comparison = covid_xray.compare_with_paper(records, context)
    assert list(comparison.columns) == ["configuration", "metric", "paper", "ours_mean", "ci_low",
                                        "ci_high", "difference", "verdict"]
    assert (comparison["verdict"] == "not comparable: demo data").all() and len(comparison) == 4

    paths = covid_xray.figures(records, context, **SAMPLE)
    assert set(paths) == {"seed_spread", "seed_spread_roc_auc", "learning_rate_sweep",
                          "batch_size_sweep", "sample_predictions", "sample_setting_confusion"}
    assert all(path.exists() for path in paths.values())
    rows = RunStore(context.store().folder).frame()
    assert set(rows["experiment"]) == {"learning_rate", "batch_size"}


@pytest.mark.slow
def test_adding_a_seed_trains_only_the_new_run(tiny_run):
    context, data, planned, records, _ = tiny_run
    # lr 1e-3 at batch 4 is in both sweeps: one run per seed; seed 42 ran in tiny_run.
    settings = dict(learning_rates=[1e-3], lr_sweep_batch_size=4, batch_sizes=[4],
                    batch_sweep_learning_rate=1e-3, backbone="resnet18", weights=None,
                    image_size=32, hidden_units=8, trainable="frozen", epochs=2,
                    augmentation=None, positive_class="covid")
    lines = []
    both = covid_xray.run(context, data, covid_xray.configs(**settings, seeds=[42, 43]),
                          progress=lines.append)
    assert len(lines) == 2 and "already finished" in lines[0] and "done in" in lines[1]
    assert [record.seed for record in both] == [42, 43, 42, 43]
    assert both[0].created_at == records[0].created_at  # seed 42 is the earlier record
    assert both[1].run_id not in {record.run_id for record in records}
    headline = covid_xray.headline(both)
    assert headline["configuration"].tolist() == ["lr 1e-3, batch 4"] * 2
    assert (headline["n_seeds"] == 2).all() and (headline["seeds"] == "42, 43").all()


# --------------------------------------------------------------------------- typed settings

TINY = {"backbone": "resnet18", "image_size": 32, "learning_rates": [1e-3], "batch_sizes": [5]}


@pytest.mark.parametrize("options, message", [
    ({"batch_sizes": "16"}, r"batch_sizes must be a list of integers.*got '16'"),
    ({"batch_sizes": 8}, r"batch_sizes must be a list of integers, e\.g\. \[8\]"),
    ({"image_size": "32"}, r"image_size must be an int or a \(height, width\) pair of ints, "
                           r"got '32'"),
    ({"epochs": "1"}, r"epochs must be an integer >= 1, got '1'"),
    ({"learning_rates": "0.01"}, r"learning_rates must be numbers, got '0\.01'"),
    ({"learning_rates": ["0.01"]}, r"learning_rates must be numbers.*without quotes"),
    ({"learning_rates": ["1e-4"]}, r"0\.0001 rather than 1e-4"),
    ({"batch_sweep_learning_rate": "0.0001"},
     r"batch_sweep_learning_rate must be a number, got '0\.0001' \(text\)"),
    ({"lr_sweep_batch_size": "5"}, r"lr_sweep_batch_size must be an integer >= 1, got '5'"),
    ({"hidden_units": "16"}, r"hidden_units must be an integer >= 1, got '16'"),
    ({"weights": 3}, r"weights must be None, 'imagenet' or a weights file path, got 3 \(int\)"),
    ({"positive_class": 1}, r"positive_class must name a class folder"),
    ({"augmentation": {"rotation": 20}}, r"augmentation: unknown augmentation argument"),
    ({"augmentation": {"zoom_range": "0.2"}}, r"augmentation: zoom_range must be a number"),
    ({"trainable": -1}, r"trainable \(the number of last stages trained\) must be an integer"),
])
def test_configs_name_a_setting_of_the_wrong_type(options, message):
    with pytest.raises(ConfigError, match=message):
        covid_xray.configs(**{**TINY, **options})


@pytest.mark.parametrize("options, message", [
    ({"max_per_class": 10}, "max_per_class must be a mapping"),
    ({"max_per_class": {"train": "10"}}, r"max_per_class\['train'\] must be an integer"),
    ({"validation_fraction": "0.1"}, r"validation_fraction must be a number, got '0\.1'"),
    ({"classes": "COVID"}, "classes must be None or a list of two class folder names"),
    ({"exclude_folders": "masks"}, "exclude_folders must be a list of folder names"),
    ({"seed": "42"}, r"seed must be an integer >= 0, got '42'"),
])
def test_load_data_checks_its_arguments_before_reading_the_folder(tmp_path, options, message):
    from types import SimpleNamespace

    context = SimpleNamespace(data_dir=tmp_path / "absent", seed=0, output_dir=tmp_path)
    with pytest.raises(ConfigError, match=message):
        covid_xray.load_data(context, **options)


def test_sweep_panels_have_whole_epoch_ticks_and_their_setting_as_title(tmp_path):
    histories = {"lr 1e-3, batch 5": _history([0.5]), "lr 1e-4, batch 5": _history([0.4])}
    figure = sweep_figure(histories, tmp_path / "sweep.png", title="sweep", note="n")
    figure.canvas.draw()
    for axis in figure.axes:
        low, high = axis.get_xlim()
        ticks = [tick for tick in axis.get_xticks() if low <= tick <= high]
        assert ticks == [1.0]  # one epoch: one tick at 1, not 0.95 / 1.0 / 1.05
    assert [axis.get_title() for axis in figure.axes[:2]] == list(histories)
