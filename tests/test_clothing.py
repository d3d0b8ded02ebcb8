"""The clothing study: the paper's tables as data, table shapes, grid time, open-set answers."""

import numpy as np
import pandas as pd
import pytest

from kerasbench.studies import clothing
from kerasbench.studies.common import StudyContext


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


def fake_record(backbone, size, batch, rate, f1, *, seconds=10.0, feature_seconds=4.0,
                key="k"):
    return {
        "config_hash": f"{backbone}{size}{batch}{rate}",
        "config": {"backbone": backbone, "image_size": size, "batch_size": batch,
                   "learning_rate": rate, "feature_cache": True},
        "metrics": {"validation": {"macro_f1": f1, "accuracy": f1},
                    "test": {"macro_f1": f1 / 2, "accuracy": f1}},
        "durations": {"trial_seconds": seconds, "feature_seconds": feature_seconds},
        "features": {"train": {"key": f"{key}{size}", "compute_seconds": 30.0}},
    }


@pytest.fixture
def grid_run():
    sizes, batches, rates = [300, 400], [32, 48], [0.01, 0.001]
    records = {}
    for offset, backbone in enumerate(["xception", "squeezenet1_1"]):
        records[backbone] = [
            fake_record(backbone, size, batch, rate, 0.5 + 0.01 * index + offset / 10)
            for index, (size, batch, rate) in enumerate(
                (s, b, r) for s in sizes for b in batches for r in rates)
        ]
    return clothing.GridRun(records=records, outcomes={},
                            image_sizes={b: sizes for b in records},
                            skipped_sizes={b: [] for b in records})


def test_table_one_shape(grid_run):
    table = clothing.table_one(grid_run, image_sizes=[300, 400], batch_sizes=[32, 48],
                               learning_rates=[0.01, 0.001])
    assert table.shape == (8, 3)  # xception with the paper beside it, squeezenet alone
    assert list(table.columns) == ["Xception F1 % (this run)", "Xception F1 % (paper)",
                                   "squeezenet1_1 F1 % (this run)"]
    assert table.loc[(300, 32, 0.01), "Xception F1 % (this run)"] == 50.0
    assert table.loc[(400, 48, 0.01), "Xception F1 % (paper)"] == 90.19
    assert table.index.names == ["image_size", "batch_size", "learning_rate"]


def test_table_one_leaves_sizes_a_backbone_skipped_empty(grid_run):
    table = clothing.table_one(grid_run, image_sizes=[32, 300, 400], batch_sizes=[32, 48],
                               learning_rates=[0.01, 0.001])
    assert table.shape == (12, 3)
    assert table.loc[32, "Xception F1 % (this run)"].isna().all()


def test_best_configuration_is_by_validation_f1_first_on_ties(grid_run):
    records = grid_run.records["xception"]
    for record in records:
        record["metrics"]["validation"]["macro_f1"] = 0.7
    records[0]["metrics"]["test"]["macro_f1"] = 0.1  # the test split must not matter
    best = clothing.best_configurations(grid_run)
    assert best.loc["xception", ["image_size", "batch_size", "learning_rate"]].tolist() == [
        300, 32, 0.01]


def test_grid_seconds_counts_each_feature_file_once(grid_run):
    records = grid_run.records["xception"]
    # 8 trials x (10 - 4) s of head work + 2 feature files (one per size) x 30 s.
    assert clothing.grid_seconds(records) == pytest.approx(8 * 6 + 2 * 30)


def test_sizes_below_a_backbones_minimum_are_left_out():
    assert clothing._sizes_for("xception", [32, 48, 72]) == ([72], [32, 48])
    assert clothing._sizes_for("densenet201", [32, 48]) == ([32, 48], [])


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


def test_comparison_and_final_tables():
    record = {
        "metrics": {"test": {"macro_precision": 0.5, "macro_recall": 0.4, "macro_f1": 0.45,
                             "accuracy": 0.5}},
        "parameters": {"total": 20_881_970},
        "durations": {"final_training_seconds": 12.0},
        "config": {"batch_size": 32, "learning_rate": 0.01},
    }
    finals = {"xception": clothing.FinalModel("xception", record, None, 80, 100.0),
              "squeezenet1_1": clothing.FinalModel("squeezenet1_1", record, None, 64, 50.0)}
    comparison = clothing.comparison_table(finals, note="demo")
    assert comparison.shape == (12, 3)
    assert list(comparison.columns) == ["paper", "this run", "difference"]
    row = comparison.loc[("Xception", "F1 %")]
    assert row["paper"] == 91.10 and row["this run"] == 45.0
    assert row["difference"] == pytest.approx(45.0 - 91.10)
    assert comparison.loc[("Xception", "total parameters"), "difference"] == 0
    assert pd.isna(comparison.loc[("squeezenet1_1", "F1 %"), "paper"])
    table = clothing.final_table(finals)
    assert list(table.columns) == ["Xception", "squeezenet1_1"]
    assert table.loc["total parameters", "Xception"] == 20_881_970


def test_study_end_to_end_on_tiny_demo_data(tmp_path):
    """Grid, resume, final model and out-of-distribution answers on a tiny demo set."""
    from kerasbench.data.demo import make_clothing
    from kerasbench.data.index import index_folder

    data = make_clothing(tmp_path / "clothing", per_class=(4, 2, 2), image_size=32)
    index = index_folder(data)
    context = StudyContext(study="clothing", profile="test", output_dir=tmp_path / "out",
                           data_dir=data, is_demo=True, data_description="demo", seed=3)
    settings = {"backbones": ["squeezenet1_1"], "image_sizes": [32], "batch_sizes": [4, 8],
                "learning_rates": [0.01], "epochs": 1, "weights": None, "seed": 3,
                "verbose": False}
    grid = clothing.run_grids(context, index, **settings)
    assert len(grid.records["squeezenet1_1"]) == 2
    # every row says which performance policy produced it (CPU: float32, no XLA)
    assert grid.records["squeezenet1_1"][0]["performance"]["compute_dtype"] == "float32"
    again = clothing.run_grids(context, index, **settings)
    assert len(again.outcomes["squeezenet1_1"].computed) == 0  # all recorded already

    finals = clothing.train_finals(context, index, grid, final_epochs=2, weights=None, seed=3,
                                   verbose=False)
    final = finals["squeezenet1_1"]
    assert final.record["config"]["epochs"] == 2 and final.record["config"]["stage"] == "final"
    assert final.record["parameters"]["total"] == 722_496 + 5130
    assert len(final.record["history"]["val_loss"]) == 2
    assert final.record["performance"]["jit_compile"] is False
    # A rerun puts the saved head back instead of training again, with the same answers.
    reloaded = clothing.train_finals(context, index, grid, final_epochs=2, weights=None,
                                     seed=3, verbose=False)["squeezenet1_1"]
    assert not reloaded.retrained
    folder = clothing.demo_ood_folder(tmp_path / "ood")
    first = clothing.ood_table(finals, folder, class_names=index.class_names, threshold=0.0)
    second = clothing.ood_table({"squeezenet1_1": reloaded}, folder,
                                class_names=index.class_names, threshold=0.0)
    pd.testing.assert_frame_equal(first, second)
    assert "unknown" not in set(first["squeezenet1_1 answer"])
