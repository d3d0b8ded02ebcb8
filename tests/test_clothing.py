"""The clothing study: the paper's tables as data, the verbs on the test profile, run
identity and resumption, seeds (identity, headline, paired comparison, verdicts), tables
built from records, open-set answers, and the same numbers as before the refactor."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from kerasbench import summaries
from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord, make_run_id
from kerasbench.stats import HEADLINE_COLUMNS
from kerasbench.studies import clothing
from kerasbench.studies.base import check_study_module, start_study
from kerasbench.studies.clothing.grid import usable_sizes
from kerasbench.studies.clothing.tables import (
    best_configurations,
    comparison,
    final_models,
    grid_seconds,
    grid_trials,
    headline,
    paired,
    table_one,
    verdicts,
)

PROFILE = Path(__file__).resolve().parents[1] / "notebooks" / "profiles" / "clothing"


def test_the_study_exposes_every_verb():
    check_study_module(clothing)
    assert clothing.PROTOCOL_VERSION == "1"
    assert clothing.make_demo_data.demo_name == "clothing"


def test_paper_table_one_is_the_seed_table():
    table = clothing.paper_table_one()
    assert table.shape == (27, 4)
    assert list(table.columns) == list(clothing.PAPER_BACKBONES)
    assert table.loc[(300, 32, 0.01)].tolist() == [85.59, 84.53, 83.55, 84.61]
    assert table.loc[(500, 64, 0.0001)].tolist() == [43.62, 51.30, 11.27, 28.76]
    # The maxima the paper's text states are the maxima of its table.
    for backbone, best in clothing.PAPER_GRID_BEST.items():
        assert table[backbone].max() == best["f1"]
        assert table[backbone].idxmax() == (best["image_size"], best["batch_size"],
                                            best["learning_rate"])
    # "Every backbone does worst at lr 0.0001."
    worst = table.groupby(level="learning_rate").max()
    assert (worst.loc[0.0001] < worst.loc[0.001]).all()


# --------------------------------------------------------------------------- configs


def test_configs_plan_each_backbones_grid_then_its_final():
    planned = clothing.configs(backbones=["xception", "squeezenet1_1"], image_sizes=[32, 72],
                               batch_sizes=[8, 16], learning_rates=[0.01, 0.001],
                               grid_epochs=1, final_epochs=2, weights=None, seeds=[3])
    grid = [run for run in planned if run.experiment == "grid"]
    finals = [run for run in planned if run.experiment == "final"]
    # Xception's minimum input is 71 px: its grid has the 72 px size only.
    assert len(grid) == 4 + 8 and [run.config["backbone"] for run in finals] == [
        "xception", "squeezenet1_1"]
    assert [(r.config["image_size"], r.config["batch_size"], r.config["learning_rate"])
            for r in grid[4:7]] == [(32, 8, 0.01), (32, 8, 0.001), (32, 16, 0.01)]
    assert finals[0].config["image_size"] is None and finals[0].config["epochs"] == 2
    assert "performance" not in grid[0].config and grid[0].config["stage"] == "grid"
    assert clothing.configs()[0].config["weights"] == "imagenet"  # the paper's by default
    assert len(clothing.configs()) == 4 * 27 + 4
    assert {run.config["seed"] for run in planned} == {3}


def run_ids(planned):
    return {make_run_id(run.config, "data", "1"): run for run in planned}


def test_seeds_are_in_the_identity_and_adding_one_plans_only_its_runs():
    options = dict(backbones=["squeezenet1_1", "densenet201"], image_sizes=[32],
                   batch_sizes=[8, 16], learning_rates=[0.01], weights="imagenet")
    one = run_ids(clothing.configs(seeds=[0], **options))
    # A grid per seed (the default): seed 1 adds its own grids and finals, nothing else.
    two = clothing.configs(seeds=[0, 1], **options)
    assert len(two) == 2 * len(one) and set(one) <= set(run_ids(two))
    added = [run for key, run in run_ids(two).items() if key not in one]
    assert {run.config["seed"] for run in added} == {1}
    assert [run.experiment for run in added].count("final") == 2
    # Each seed's grid is in grid order, before the finals.
    assert [(run.config["backbone"], run.config["seed"]) for run in two[:8:2]] == [
        ("squeezenet1_1", 0), ("squeezenet1_1", 1), ("densenet201", 0), ("densenet201", 1)]
    # One shared grid: adding a seed adds only that seed's final models (one per backbone),
    # chosen from the first seed's grid; the first seed's runs are the same runs as above.
    shared = run_ids(clothing.configs(seeds=[0, 1], grid_per_seed=False, **options))
    added = [run for key, run in shared.items() if key not in one]
    assert set(one) <= set(shared) and len(added) == 2
    assert all(run.experiment == "final" and run.config["seed"] == 1
               and run.config["grid_seed"] == 0 for run in added)
    for bad in (0, [], [1, 1], "0"):
        with pytest.raises(ConfigError, match="seeds"):
            clothing.configs(seeds=bad, **options)


def test_configs_refuse_bad_settings():
    with pytest.raises(ConfigError, match="backbones"):
        clothing.configs(backbones=[])
    with pytest.raises(ConfigError, match="no image size"):
        clothing.configs(backbones=["xception"], image_sizes=[32])
    with pytest.raises(ConfigError, match="twice"):
        clothing.configs(backbones=["squeezenet1_1"], batch_sizes=[8, 8])
    with pytest.raises(ConfigError, match="interpolation"):
        clothing.configs(backbones=["squeezenet1_1"], interpolation="cubic")
    with pytest.raises(ConfigError, match="grid_epochs"):
        clothing.configs(backbones=["squeezenet1_1"], grid_epochs=0)


def test_sizes_below_a_backbones_minimum_are_left_out():
    assert usable_sizes("xception", [32, 48, 72]) == ([72], [32, 48])
    assert usable_sizes("densenet201", [32, 48]) == ([32, 48], [])


# --------------------------------------------------------------------------- tables


def record(experiment, backbone, size, batch, rate, f1, *, seconds=10.0, feature_seconds=4.0,
           extra=None, seed=42, **durations):
    config = {"stage": experiment, "backbone": backbone, "image_size": size,
              "batch_size": batch, "learning_rate": rate, "feature_cache": True, "seed": seed}
    return RunRecord(
        study="clothing", experiment=experiment, config=config, dataset_fingerprint="data",
        protocol_version="1", seed=seed,
        metrics={"validation": {"macro_f1": f1, "accuracy": f1},
                 "test": {"macro_f1": f1 / 2, "accuracy": f1, "macro_precision": 0.5,
                          "macro_recall": 0.4}},
        durations={"total_s": seconds, "feature_s": feature_seconds, **durations},
        extra=extra or {"features": {"train": {"key": f"k{size}", "compute_seconds": 30.0}},
                        "parameters": {"total": 20_881_970, "head": 20_490}},
    )


@pytest.fixture
def grid_records():
    sizes, batches, rates = [300, 400], [32, 48], [0.01, 0.001]
    return [record("grid", backbone, size, batch, rate, 0.5 + 0.01 * index + offset / 10)
            for offset, backbone in enumerate(["xception", "squeezenet1_1"])
            for index, (size, batch, rate) in enumerate(
                (s, b, r) for s in sizes for b in batches for r in rates)]


def test_table_one_shape(grid_records):
    table = table_one(grid_records)
    assert table.shape == (8, 3)  # xception with the paper beside it, squeezenet alone
    assert list(table.columns) == ["Xception F1 % (this run)", "Xception F1 % (paper)",
                                   "squeezenet1_1 F1 % (this run)"]
    assert table.loc[(300, 32, 0.01), "Xception F1 % (this run)"] == 50.0
    assert table.loc[(400, 48, 0.01), "Xception F1 % (paper)"] == 90.19
    assert table.index.names == ["image_size", "batch_size", "learning_rate"]


def test_table_one_leaves_sizes_a_backbone_skipped_empty(grid_records):
    extra = [record("grid", "squeezenet1_1", 32, batch, rate, 0.3)
             for batch in (32, 48) for rate in (0.01, 0.001)]
    table = table_one(extra + grid_records)
    assert table.shape == (12, 3)
    assert table.loc[32, "Xception F1 % (this run)"].isna().all()
    assert (table.loc[32, "squeezenet1_1 F1 % (this run)"] == 30.0).all()


def test_best_configuration_is_by_validation_f1_first_on_ties(grid_records):
    for item in grid_records[:8]:
        item.metrics["validation"]["macro_f1"] = 0.7
    grid_records[0].metrics["test"]["macro_f1"] = 0.1  # the test split must not matter
    best = best_configurations(grid_records)
    assert best.loc["xception", ["image_size", "batch_size", "learning_rate"]].tolist() == [
        300, 32, 0.01]
    assert clothing.best_grid_record(grid_records[:8]) is grid_records[0]


def test_grid_seconds_counts_each_feature_file_once(grid_records):
    # 8 runs x (10 - 4) s of head work + 2 feature files (one per size) x 30 s.
    assert grid_seconds(grid_records[:8]) == pytest.approx(8 * 6 + 2 * 30)


def test_comparison_and_final_tables(grid_records):
    finals = [record("final", "xception", 400, 48, 0.01, 0.9, final_training_s=12.0),
              record("final", "squeezenet1_1", 300, 32, 0.01, 0.9, final_training_s=12.0)]
    finals[0].metrics["test"]["macro_f1"] = 0.45
    records = grid_records + finals
    compared = comparison(records, note="demo")
    assert compared.shape == (12, 3)
    assert list(compared.columns) == ["paper", "this run", "difference"]
    row = compared.loc[("Xception", "F1 %")]
    assert row["paper"] == 91.10 and row["this run"] == 45.0
    assert row["difference"] == pytest.approx(45.0 - 91.10)
    assert compared.loc[("Xception", "total parameters"), "difference"] == 0
    assert compared.loc[("Xception", "grid search s"), "this run"] == 108.0
    assert pd.isna(compared.loc[("squeezenet1_1", "F1 %"), "paper"])
    table = final_models(records)
    assert list(table.columns) == ["Xception", "squeezenet1_1"]
    assert table.loc["total parameters", "Xception"] == 20_881_970
    assert table.loc["best (size, batch, lr)", "Xception"] == "(400, 48, 0.01)"
    trials = grid_trials(records)
    assert len(trials) == 16 and "demo" in trials.columns and not trials["demo"].any()


# --------------------------------------------------------------------------- open set


def test_open_set_answers():
    names = ["dress", "hat", "shoes"]
    probabilities = np.array([[0.9, 0.05, 0.05], [0.4, 0.35, 0.25], [0.2, 0.2, 0.6]])
    assert clothing.open_set_answers(probabilities, names, None) == ["dress", "dress", "shoes"]
    assert clothing.open_set_answers(probabilities, names, 0.5) == ["dress", "unknown", "shoes"]
    assert clothing.open_set_answers(probabilities, names, 1.0) == ["unknown"] * 3
    with pytest.raises(ValueError, match="unknown_threshold"):
        clothing.open_set_answers(probabilities, names, 1.5)
    with pytest.raises(ValueError, match="probabilities"):
        clothing.open_set_answers(probabilities[:, :2], names, 0.5)


def test_demo_ood_photos_and_predictions(tmp_path):
    import keras

    from kerasbench.data.index import natural_sorted

    folder = clothing.demo_ood_folder(tmp_path / "ood")
    photos = natural_sorted(path.name for path in folder.iterdir())
    assert "china.jpg" in photos and "flower.jpg" in photos
    inputs = keras.Input((32, 32, 3))
    pooled = keras.layers.GlobalAveragePooling2D()(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3)(pooled))
    names = ["dress", "hat", "shoes"]
    table = clothing.predict_folder(model, folder, image_size=32, class_names=names,
                                    threshold=1.0)
    assert list(table["image"]) == photos
    assert set(table["predicted"]) <= set(names)
    assert (table["answer"] == "unknown").all()
    assert table["probability"].between(0, 1).all()
    with pytest.raises(FileNotFoundError, match="ood_dir"):
        clothing.predict_folder(model, tmp_path / "absent", image_size=32, class_names=names)


# --------------------------------------------------------------------------- the verbs


def start(tmp_path, monkeypatch, *, seed, demo_options, profile="test"):
    monkeypatch.setenv("KERASBENCH_DEMO_DIR", str(tmp_path / "demo"))
    return start_study("clothing", profile=profile, output_dir=tmp_path / "out", data_dir=None,
                       demo_generator=clothing.make_demo_data, seed=seed,
                       demo_options=demo_options)


def profile_configs(settings, **changes):
    options = {key: settings[key] for key in (
        "backbones", "image_sizes", "batch_sizes", "learning_rates", "grid_epochs",
        "final_epochs", "weights", "seeds", "grid_per_seed", "feature_cache", "interpolation")}
    return clothing.configs(**{**options, **changes})


HEADLINE_FRAME = ["configuration", "metric", "seeds", *HEADLINE_COLUMNS]
PAIRED_FRAME = ["a", "b", "metric", "n_seeds", "difference", "ci_low", "ci_high", "p_value",
                "test"]
VERDICT_FRAME = ["configuration", "metric", "paper", "ours_mean", "ci_low", "ci_high",
                 "difference", "verdict"]


def test_verbs_on_the_test_profile(tmp_path, monkeypatch):
    """Every verb on the test profile's settings (on a smaller demo set), then a rerun
    that trains nothing, a lost final head that is trained again identically, and a
    second seed that trains only the new seed's runs."""
    settings = yaml.safe_load((PROFILE / "test.yaml").read_text())
    assert settings["seeds"] == [42] and len(settings["backbones"]) == 2
    for name in ("demo", "paper"):
        other = yaml.safe_load((PROFILE / f"{name}.yaml").read_text())
        assert other["seeds"] == ([42, 43, 44] if name == "paper" else [42])
        assert other["grid_per_seed"] is True
    context = start(tmp_path, monkeypatch, seed=settings["seed"],
                    demo_options={"per_class": (6, 2, 2), "image_size": 32})
    assert context.is_demo and "DEMO" in context.note
    data = clothing.load_data(context, max_per_class=settings["max_per_class"])
    assert data.counts().loc["total", "total"] == 10 * (6 + 2 + 2)
    planned = profile_configs(settings)
    assert [run.experiment for run in planned] == ["grid"] * 8 + ["final"] * 2
    lines = []
    records = clothing.run(context, data, planned, progress=lines.append)
    assert len(records) == 10 and len(lines) == 10
    assert all(isinstance(r, RunRecord) and r.finished and r.demo for r in records)
    for item, run in zip(records[:8], planned[:8]):
        assert item.run_id == make_run_id(run.config, data.fingerprint(), "1")
    assert context.store("grid").validate() == 8 and context.store("final").validate() == 2
    grid_best = clothing.best_grid_record(records[:4])
    final = records[8]
    assert final.experiment == "final" and final.config["epochs"] == settings["final_epochs"]
    assert final.config["backbone"] == "squeezenet1_1" and final.seed == 42
    assert final.config["image_size"] == grid_best.config["image_size"]
    assert final.config["batch_size"] == grid_best.config["batch_size"]
    assert final.extra["parameters"]["total"] == 722_496 + 5130
    assert len(final.history["val_loss"]) == settings["final_epochs"]
    assert final.policy["jit_compile"] is False and final.policy["compute_dtype"] == "float32"
    assert final.durations["final_training_s"] >= final.durations["train_s"]
    assert {"feature_s", "train_s", "evaluate_s", "total_s"} <= set(records[0].durations)
    # Every run keeps its per-image test outcomes (what intervals and paired tests use).
    for item in records:
        stored = item.extra["predictions"]["test"]
        assert len(stored["y_true"]) == len(stored["y_pred"]) == 20

    again = []
    rerun = clothing.run(context, data, planned, progress=again.append)
    assert all("already finished" in line for line in again)
    assert [(r.run_id, r.created_at) for r in rerun] == [(r.run_id, r.created_at)
                                                         for r in records]

    made = clothing.tables(records, context)
    assert made["grid_trials"]["demo"].all() and len(made["grid_trials"]) == 8
    assert set(made["grid_trials"]["seed"]) == {42}
    assert made["table_1_grid_f1"].shape == (4, 2)
    assert list(made["final_models"].columns) == ["squeezenet1_1", "squeezenet1_0"]
    table = made["headline"]
    assert list(table.columns) == HEADLINE_FRAME
    assert list(table["metric"]) == ["macro_f1"] * 2 + ["accuracy"] * 2
    assert (table["n_seeds"] == 1).all() and (table["seeds"] == "42").all()
    assert (table["ci_low"] <= table["mean"]).all() and (table["mean"] <= table["ci_high"]).all()
    assert table["mean"].tolist()[:2] == pytest.approx(
        [r.metric("test", "macro_f1") for r in records[8:]])
    pairs = made["paired"]
    assert list(pairs.columns) == PAIRED_FRAME and len(pairs) == 2
    assert list(pairs["metric"]) == ["macro_f1", "accuracy"]
    assert pairs["test"].iloc[0] == "paired bootstrap" and "McNemar" in pairs["test"].iloc[1]
    assert pairs["p_value"].between(0, 1).all()
    assert (pairs["a"] == table.loc[table["metric"] == "macro_f1"]
            .sort_values("mean", ascending=False)["configuration"].iloc[0]).all()
    for name in ("grid_trials", "table_1_grid_f1", "final_models", "parameters", "headline",
                 "paired", "comparison_detail"):
        assert pd.read_csv(context.table(f"{name}.csv"))["demo"].all()
        assert "DEMO" in context.table(f"{name}.md").read_text()
    assert made["comparison_detail"].shape == (12, 3)
    figures = clothing.figures(records, context)
    assert {"seed_spread", "parameters_pie", "confusion_squeezenet1_1"} <= set(figures)
    assert all(path.exists() for path in figures.values())
    compared = clothing.compare_with_paper(records, context)
    assert list(compared.columns) == VERDICT_FRAME and len(compared) == 4
    assert (compared["verdict"] == "not comparable: demo data").all()
    assert compared["paper"].isna().all()  # the paper ran neither SqueezeNet
    saved = pd.read_csv(context.table("comparison_with_paper.csv"))
    assert saved["demo"].all() and "verdict" in saved.columns
    sentences = summaries.verdict_sentences(compared)
    assert len(sentences) == 4 and all("synthetic demo data" in line for line in sentences)

    folder = clothing.demo_ood_folder(tmp_path / "ood")
    first = clothing.ood_table(records, context, folder, threshold=0.0)
    assert "unknown" not in set(first["squeezenet1_1 answer"])
    assert clothing.ood_figure(context, folder, first).exists()
    # A lost head: the final model is trained again (deterministically), nothing else.
    (context.output_dir / "models" / f"{final.run_id}-head.npz").unlink()
    lines = []
    retrained = clothing.run(context, data, planned, progress=lines.append)
    assert [("already finished" in line) for line in lines] == [True] * 8 + [False, True]
    assert retrained[8].run_id == final.run_id
    second = clothing.ood_table(retrained, context, folder, threshold=0.0, save=False)
    pd.testing.assert_frame_equal(first, second)

    # A second seed with the grid shared: only the new seed's final models train.
    planned = profile_configs(settings, seeds=[42, 43], grid_per_seed=False)
    lines = []
    records = clothing.run(context, data, planned, progress=lines.append)
    assert [("already finished" in line) for line in lines] == [True] * 8 + [True, False] * 2
    assert [r.seed for r in records[8:]] == [42, 43, 42, 43]
    table = headline(records)
    assert (table["n_seeds"] == 2).all() and (table["seeds"] == "42, 43").all()
    assert len(table) == 4  # the seeds of a backbone are one configuration
    assert (paired(records, table=table)["n_seeds"] == 2).all()
    assert len(verdicts(records, demo=True, table=table)) == 4
    made = clothing.tables(records, context)
    assert list(made["final_models"].columns) == [
        "squeezenet1_1 seed 42", "squeezenet1_1 seed 43", "squeezenet1_0 seed 42",
        "squeezenet1_0 seed 43"]
    assert clothing.figures(records, context)["seed_spread"].exists()
    assert list(clothing.ood_table(records, context, folder, threshold=0.0,
                                   save=False).columns) == list(first.columns)


# --------------------------------------------------------------------------- seeds


def predicted(y_true, wrong, *, classes=10):
    y_pred = np.array(y_true)
    y_pred[wrong] = (y_pred[wrong] + 1) % classes
    return y_pred.tolist()


def final_record(backbone, seed, y_pred, y_true, size):
    return record("final", backbone, size, 32, 0.01, 0.9, seed=seed, final_training_s=5.0,
                  extra={"parameters": {"total": 1, "head": 1},
                         "predictions": {"test": {"y_true": y_true, "y_pred": y_pred}}})


def test_headline_paired_and_verdicts_over_seeds():
    """A perfect Xception against a DenseNet201 right on about 60 % of the test images,
    two seeds each whose grids chose different image sizes."""
    y_true = (np.arange(200) % 10).tolist()
    rng = np.random.default_rng(0)
    records = [final_record("xception", seed, list(y_true), y_true, size)
               for seed, size in ((42, 300), (43, 400))]
    records += [final_record("densenet201", seed,
                             predicted(y_true, rng.random(200) < 0.4), y_true, size)
                for seed, size in ((42, 500), (43, 300))]
    table = headline(records, resamples=300)
    assert list(table.columns) == HEADLINE_FRAME and len(table) == 4
    assert (table["n_seeds"] == 2).all() and (table["seeds"] == "42, 43").all()
    xception = table[(table["configuration"] == "Xception") & (table["metric"] == "accuracy")]
    assert xception[["mean", "min", "max", "ci_low", "ci_high"]].values.tolist() == [[1.0] * 5]
    pairs = paired(records, table=table, resamples=300)
    assert list(pairs.columns) == PAIRED_FRAME
    assert pairs[["a", "b"]].values.tolist() == [["Xception", "DenseNet201"]] * 2
    assert (pairs["difference"] > 0.3).all() and (pairs["ci_low"] > 0).all()
    assert (pairs["p_value"] < 0.01).all()
    judged = verdicts(records, demo=False, table=table).set_index(["configuration", "metric"])
    assert list(judged.columns) == VERDICT_FRAME[2:]
    assert judged.loc[("Xception", "macro_f1"), "paper"] == pytest.approx(0.911)
    assert judged.loc[("Xception", "macro_f1"), "verdict"] == "paper lower"
    assert judged.loc[("DenseNet201", "macro_f1"), "verdict"] == "paper higher"
    assert judged.loc[("Xception", "macro_f1"), "difference"] == pytest.approx(1 - 0.911)
    assert (judged.xs("accuracy", level="metric")["verdict"]
            == "not comparable: not reported").all()
    assert (verdicts(records, demo=True, table=table)["verdict"]
            == "not comparable: demo data").all()
    # The paper's other final numbers, this run's as means over seeds.
    detail = comparison(records)
    assert detail.loc[("Xception", "F1 %"), "this run"] == pytest.approx(45.0)
    assert detail.loc[("Xception", "final training s"), "this run"] == 5.0


# --------------------------------------------------------------------------- parity

# Recorded from 98fb060, before the refactor (/work/baseline/capture.py, study clothing):
# demo data per_class (4, 2, 2) at 32 px, squeezenet1_1 with random weights (seed 1), 32 px,
# batch 8, lr 0.01, 2 epochs; train_probe on cached features and on images, and the
# one-point grid both ways, all gave these same numbers.
BASELINE_HISTORY = {
    "loss": [2.318314790725708, 2.3012259006500244],
    "accuracy": [0.10000000149011612, 0.10000000149011612],
    "val_loss": [2.3029682636260986, 2.305644989013672],
    "val_accuracy": [0.10000000149011612, 0.05000000074505806],
}
BASELINE_METRICS = {
    "validation": {"loss": 2.3056450466553633, "accuracy": 0.05,
                   "macro_f1": 0.011764705882352941, "macro_precision": 0.006666666666666666},
    "test": {"loss": 2.30418548480415, "accuracy": 0.1, "macro_f1": 0.02222222222222222,
             "macro_precision": 0.0125},
}
BASELINE_TEST_PROBABILITIES_ROW_0 = [
    0.10975303686436055, 0.11090497211244574, 0.09405236769306591, 0.08744720363599998,
    0.09546476511149393, 0.10763865335824795, 0.1008882083810363, 0.11276194705909748,
    0.08184271979045044, 0.0992461259938018]
BASELINE_FEATURE_STD = {"train": 0.008210971020162106, "validation": 0.008379940874874592,
                        "test": 0.008074679411947727}
BASELINE_PARAMETERS = {"feature_dim": 512, "head": 5130, "non_trainable": 722496,
                       "total": 727626, "trainable": 5130}


def assert_baseline(metrics, history):
    for name, values in BASELINE_HISTORY.items():
        np.testing.assert_allclose(history[name], values, rtol=1e-6, err_msg=name)
    for split, expected in BASELINE_METRICS.items():
        for name, value in expected.items():
            np.testing.assert_allclose(metrics[split][name], value, rtol=1e-6,
                                       err_msg=f"{split} {name}")


def test_same_numbers_as_before_the_refactor(tmp_path, monkeypatch):
    from kerasbench.engine.feature_cache import FeatureCache
    from kerasbench.engine.probe import train_probe

    context = start(tmp_path, monkeypatch, seed=1, profile="baseline",
                    demo_options={"per_class": (4, 2, 2), "image_size": 32})
    data = clothing.load_data(context)
    frames = {split: data.split(split) for split in ("train", "validation", "test")}
    probe = dict(backbone="squeezenet1_1", weights=None, image_size=32, batch_size=8,
                 learning_rate=0.01, epochs=2, seed=1, evaluate=("validation", "test"),
                 validation_each_epoch=True, interpolation="bilinear",
                 evaluation_batch_size=64, performance=None)
    cached = train_probe(frames, data.class_names,
                         cache=FeatureCache(tmp_path / "probe_cache", verbose=False), **probe)
    plain = train_probe(frames, data.class_names, cache=None, **probe)
    for result in (cached, plain):
        assert_baseline(result.metrics, result.history)
        np.testing.assert_allclose(result.predictions["test"].probabilities[0],
                                   BASELINE_TEST_PROBABILITIES_ROW_0, rtol=1e-6)
    assert cached.parameters == BASELINE_PARAMETERS
    for split, value in BASELINE_FEATURE_STD.items():
        np.testing.assert_allclose(cached.extra["features"][split]["std"], value, rtol=1e-6)
    for feature_cache in (True, False):
        planned = clothing.configs(backbones=["squeezenet1_1"], image_sizes=[32],
                                   batch_sizes=[8], learning_rates=[0.01], grid_epochs=2,
                                   final_epochs=2, weights=None, seeds=[1],
                                   feature_cache=feature_cache)
        (grid,) = clothing.run(context, data, [run for run in planned
                                                if run.experiment == "grid"], progress=False)
        assert grid.config["feature_cache"] is feature_cache
        assert_baseline(grid.metrics, grid.history)


# --------------------------------------------------------------------------- typed settings

TINY = {"backbones": ["squeezenet1_1"], "image_sizes": [36], "batch_sizes": [8],
        "learning_rates": [0.01], "weights": None}


@pytest.mark.parametrize("options, message", [
    ({"batch_sizes": "16"}, r"batch_sizes must be a list of integers.*got '16'"),
    ({"batch_sizes": 8}, r"batch_sizes must be a list of integers, e\.g\. \[8\]"),
    ({"image_sizes": "32"}, r"image_sizes must be a list of integers.*got '32'"),
    ({"image_sizes": 36}, r"image_sizes must be a list of integers, e\.g\. \[36\]"),
    ({"grid_epochs": "1"}, r"grid_epochs must be an integer >= 1, got '1'"),
    ({"final_epochs": "1"}, r"final_epochs must be an integer >= 1, got '1'"),
    ({"learning_rates": "0.01"}, r"learning_rates must be a list of numbers.*got '0\.01'"),
    ({"learning_rates": ["0.01"]}, r"learning_rates\[0\] must be a number, got '0\.01' \(str\)"),
    ({"learning_rates": 0.01}, r"learning_rates must be a list of numbers"),
    ({"grid_per_seed": "no"}, r"grid_per_seed must be true or false, got 'no' \(str\)"),
    ({"feature_cache": 1}, r"feature_cache must be true or false, got 1 \(int\)"),
    ({"backbones": [3]}, r"backbones must be registry names"),
    ({"weights": 3}, r"weights must be None, 'imagenet' or a file path, got 3"),
])
def test_configs_name_a_setting_of_the_wrong_type(options, message):
    # The cases: "16" used to train batch 1 and 6, 8 a bare TypeError.
    with pytest.raises(ConfigError, match=message):
        clothing.configs(**{**TINY, **options})


@pytest.mark.parametrize("max_per_class, message", [
    ("6", "max_per_class must be None, an int or a mapping"),
    ({"train": "6"}, r"max_per_class\['train'\] must be an integer"),
    ({"training": 6}, "unknown max_per_class splits"),
])
def test_load_data_checks_the_cap_before_reading_the_folder(tmp_path, max_per_class, message):
    from types import SimpleNamespace

    context = SimpleNamespace(data_dir=tmp_path / "absent", seed=0, output_dir=tmp_path)
    with pytest.raises(ConfigError, match=message):
        clothing.load_data(context, max_per_class=max_per_class)


def test_one_backbone_gets_a_bar_not_a_one_slice_pie(tmp_path):
    from matplotlib.patches import Wedge

    from kerasbench import plots

    figure = plots.pie_chart({"xception": 312.5}, tmp_path / "one.png", title="grid time",
                             ylabel="seconds")
    assert not [patch for patch in figure.axes[0].patches if isinstance(patch, Wedge)]
    assert figure.axes[0].get_ylabel() == "seconds" and (tmp_path / "one.png").exists()
    figure = plots.pie_chart({"a": 1.0, "b": 3.0}, title="two")
    assert len([patch for patch in figure.axes[0].patches if isinstance(patch, Wedge)]) == 2
