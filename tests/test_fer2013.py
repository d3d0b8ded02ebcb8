"""FER2013 study protocol: balancing on the index, augmentation of duplicates, tables, runs."""

import itertools

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kerasbench.data.index import DatasetIndex, index_folder
from kerasbench.errors import ConfigError
from kerasbench.results import ResultsStore
from kerasbench.studies import fer2013 as study

CLASSES = ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
# Imbalanced like FER2013: disgust rare, happy the largest class.
TRAIN_COUNTS = {"angry": 3, "disgust": 1, "fear": 3, "happy": 4, "neutral": 3, "sad": 3, "surprise": 2}


def _fake_index(test_per_class=2):
    """An index of file names only: balancing never opens a file."""
    rows = []
    for label, name in enumerate(CLASSES):
        for split, count in (("train", TRAIN_COUNTS[name]), ("test", test_per_class)):
            rows += [{"path": f"/data/{split}/{name}/{i}.png", "label": label, "class_name": name,
                      "split": split} for i in range(count)]
    return DatasetIndex(frame=pd.DataFrame(rows), class_names=CLASSES, root="/data")


def _write_image_folders(root, rng):
    """FER-like folders of 48x48 grey PNGs with structure (so augmentation shows)."""
    ramp = np.add.outer(np.arange(48), 2 * np.arange(48)).astype(float)
    for label, name in enumerate(CLASSES):
        for split, count in (("train", TRAIN_COUNTS[name]), ("test", 1)):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = (ramp * (label + 1) + rng.integers(0, 60, (48, 48))) % 256
                Image.fromarray(pixels.astype(np.uint8), mode="L").save(folder / f"{i}.png")
    return root


def _write_fer_csv(path, rng):
    """A miniature fer2013.csv: emotion codes in FER2013's order, 2304 pixels, Usage."""
    from kerasbench.data.sources import FER2013_CLASSES

    lines = ["emotion,pixels,Usage"]
    for code, name in enumerate(FER2013_CLASSES):
        for usage, count in (("Training", TRAIN_COUNTS[name]), ("PublicTest", 1), ("PrivateTest", 1)):
            for _ in range(count):
                pixels = " ".join(str(v) for v in rng.integers(0, 256, 48 * 48))
                lines.append(f"{code},{pixels},{usage}")
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- balancing


def test_oversampling_duplicates_training_rows_of_the_index_only():
    index = _fake_index()
    original = index.frame.copy()
    balanced, class_weight = study.balanced_training_frame(index, "oversample", seed=42)

    assert class_weight is None
    train_paths = set(index.split("train")["path"])
    test_paths = set(index.split("test")["path"])
    # Rows of the index (same columns, file paths), from the training split and nowhere else.
    assert list(balanced.columns) == list(index.frame.columns)
    assert set(balanced["split"]) == {"train"}
    assert set(balanced["path"]) == train_paths
    assert not set(balanced["path"]) & test_paths
    # Every class brought up to the largest one (happy, 4) by duplicating its own rows.
    assert balanced["class_name"].value_counts().to_dict() == {name: 4 for name in CLASSES}
    assert (balanced.groupby("path")["class_name"].nunique() == 1).all()
    # The index itself, test rows included, is untouched.
    pd.testing.assert_frame_equal(index.frame, original)
    # Seeded: the same rows every time.
    again, _ = study.balanced_training_frame(index, "oversample", seed=42)
    pd.testing.assert_frame_equal(balanced, again)


def test_monitoring_copy_of_the_test_split_never_enters_training():
    index = _fake_index()
    monitored = study.monitoring_index(index, "test")
    pd.testing.assert_frame_equal(monitored.split("train"), index.split("train"))
    assert set(monitored.split("validation")["path"]) == set(index.split("test")["path"])
    balanced, _ = study.balanced_training_frame(monitored, "oversample", seed=42)
    assert not set(balanced["path"]) & set(index.split("test")["path"])
    assert study.monitoring_index(index, None).splits == ["train", "test"]
    with pytest.raises(ConfigError, match="no validation split"):
        study.monitoring_index(index, "validation")


def test_class_balance_table_before_after_and_class_weights():
    index = _fake_index()
    table = study.class_balance_table(index, "oversample", seed=42)
    assert table.loc["disgust", "before"] == 1 and table.loc["disgust", "after"] == 4
    assert table.loc["total", "before"] == sum(TRAIN_COUNTS.values())
    assert table.loc["total", "after"] == 4 * len(CLASSES)

    weighted = study.class_balance_table(index, "class_weight", seed=42)
    assert (weighted.loc[CLASSES, "before"] == weighted.loc[CLASSES, "after"]).all()
    # Rarer classes weigh more: disgust (1 image) most, happy (4) least.
    weights = weighted.loc[CLASSES, "class weight"]
    assert weights.idxmax() == "disgust" and weights.idxmin() == "happy"


# --------------------------------------------------------------------------- augmentation


def test_duplicated_rows_get_independent_augmentation_draws(tmp_path):
    from kerasbench.pipeline import make_dataset

    index = index_folder(_write_image_folders(tmp_path / "fer", np.random.default_rng(0)))
    balanced, _ = study.balanced_training_frame(index, "oversample", seed=42)
    disgust_rows = np.flatnonzero(balanced["class_name"].to_numpy() == "disgust")
    assert balanced.loc[disgust_rows, "path"].nunique() == 1 and len(disgust_rows) == 4

    # As the engine feeds training: decode, cache, then augment per image; unshuffled here so
    # the duplicated rows' positions are known.
    dataset = make_dataset(balanced, image_size=32, batch_size=len(balanced), shuffle=False,
                           augmentation=study.PAPER_AUGMENTATION, cache="memory",
                           label_mode="categorical", num_classes=len(CLASSES))
    first_epoch = np.asarray(next(iter(dataset))[0])[disgust_rows]
    second_epoch = np.asarray(next(iter(dataset))[0])[disgust_rows]
    for a, b in itertools.combinations(range(len(disgust_rows)), 2):
        assert not np.allclose(first_epoch[a], first_epoch[b]), "duplicates augmented alike"
    for copy in range(len(disgust_rows)):
        assert not np.allclose(first_epoch[copy], second_epoch[copy]), "same draw every epoch"

    examples = study.augmentation_examples(balanced.loc[disgust_rows[0], "path"],
                                           study.PAPER_AUGMENTATION, image_size=32, copies=3,
                                           epochs=2, seed=1)
    assert examples.shape == (2, 3, 32, 32, 3)
    assert not np.allclose(examples[0, 0], examples[0, 1])


def test_grey_images_reach_the_models_as_three_channels(tmp_path):
    index = index_folder(_write_image_folders(tmp_path / "fer", np.random.default_rng(0)))
    check = study.input_check(index, 40, count=4)
    assert check["batch shape"] == (4, 40, 40, 3)
    assert check["3 identical channels (grey replicated)"]


# --------------------------------------------------------------------------- data sources


def test_csv_is_converted_once_into_image_folders(tmp_path, capsys):
    csv_path = _write_fer_csv(tmp_path / "fer2013.csv", np.random.default_rng(1))
    folder = study.prepare_data_folder(None, csv_path, conversion_folder=tmp_path / "folders")
    assert study.prepare_data_folder(None, csv_path, conversion_folder=tmp_path / "folders") == folder
    assert capsys.readouterr().out.count("wrote") == 1  # the second call found the folders

    index = study.load_index(folder)
    counts = index.counts()
    assert index.class_names == CLASSES  # folder names, sorted; codes never leak through
    assert counts.loc["disgust", "train"] == 1 and counts.loc["happy", "test"] == 2
    subsampled = study.load_index(folder, train_per_class_limit=2)
    assert subsampled.counts().loc["happy", "train"] == 2
    assert subsampled.counts().loc["happy", "test"] == 2  # the test split is never cut

    with pytest.raises(ConfigError, match="either data_dir"):
        study.prepare_data_folder(folder, csv_path)
    with pytest.raises(FileNotFoundError, match="fer2013.csv"):
        study.prepare_data_folder(None, tmp_path / "missing.csv")
    assert study.prepare_data_folder(None, None) is None


# --------------------------------------------------------------------------- tables


def _fake_record(name, accuracy):
    scenario = study.SCENARIOS[name]
    per_class = {c: {"precision": 0.5, "recall": 0.5, "f1": 0.1 * i, "support": 2}
                 for i, c in enumerate(CLASSES)}
    return {
        "config": {"experiment": name, "balancing": "oversample" if scenario.balanced else None},
        "metrics": {"test": {"accuracy": accuracy, "loss": 1.5, "macro_precision": 0.4,
                             "macro_recall": 0.3, "macro_f1": 0.35, "per_class": per_class,
                             "class_names": CLASSES}},
        "durations": {"training_seconds": 12.0},
        "final_epoch_metrics": {"loss": 0.9, "accuracy": 0.7},
        "parameters": {"total": study.PAPER_PARAMETERS[scenario.model], "trainable": 1,
                       "non_trainable": 0},
    }


def test_scenario_tables_have_the_papers_shape():
    records = {name: _fake_record(name, 0.5 + i / 10) for i, name in enumerate(study.SCENARIOS)}
    table = study.scenario_table(records)
    assert table.shape == (4, 2 + len(study.TABLE_COLUMNS))
    assert list(table.index) == ["S1", "S2", "S3", "S4"]
    assert list(table.columns[2:]) == list(study.TABLE_COLUMNS)
    assert table.loc["S4", "test accuracy"] == pytest.approx(0.8)
    assert list(table["balancing"]) == ["none", "none", "oversample", "oversample"]

    comparison = study.paper_comparison(records)
    assert comparison.shape == (4 * len(study.TABLE_COLUMNS), 3)
    assert comparison.loc[("S4", "test accuracy"), "paper"] == pytest.approx(0.7158)
    assert comparison.loc[("S4", "test accuracy"), "difference"] == pytest.approx(0.8 - 0.7158)
    assert pd.isna(comparison.loc[("S2", "train accuracy"), "paper"])  # garbled in the scan

    side = study.paper_side_by_side(records)
    assert side.shape == (4, 2 * len(study.TABLE_COLUMNS))
    assert side.loc["S1", "training time (s) (paper)"] == pytest.approx(2121.9)

    f1 = study.per_class_f1_table(records)
    assert f1.shape == (4, len(CLASSES) + 1)
    assert f1.loc["S3", "disgust"] == pytest.approx(0.1)
    assert (study.recorded_parameters(records)["total"]
            == study.recorded_parameters(records)["paper total"]).all()


def test_test_loss_matches_keras_categorical_cross_entropy():
    import keras

    from kerasbench.runs import cross_entropy

    rng = np.random.default_rng(3)
    logits = rng.normal(size=(20, 7)) * 3
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    probabilities[0] = np.eye(7)[1]  # a confident wrong answer exercises Keras's clipping
    labels = rng.integers(0, 7, 20)
    labels[0] = 0
    expected = keras.losses.CategoricalCrossentropy()(np.eye(7)[labels], probabilities)
    assert cross_entropy(probabilities, labels) == pytest.approx(float(expected), rel=1e-5)


def test_scenario_configs_follow_the_paper():
    configs = study.scenario_configs(
        ["S1", "S2", "S3", "S4"], study.PAPER_BACKBONES, image_size=48, batch_size=32,
        epochs=100, learning_rate=1e-3, augmentation=study.PAPER_AUGMENTATION,
        balancing="oversample", weights="imagenet", seed=42, dataset="fer2013")
    assert [c["backbone"] for c in configs.values()] == ["resnet50", "vgg19", "resnet50", "vgg19"]
    assert [c["balancing"] for c in configs.values()] == [None, None, "oversample", "oversample"]
    for config in configs.values():
        assert (config["head"], config["trainable"], config["label_mode"]) == (
            "softmax", "full", "categorical")
        assert config["optimizer"] == "adam" and config["augmentation"]["shear_range"] == 0.15
    with pytest.raises(ConfigError, match="scenarios"):
        study.scenario_configs(["S5"], study.PAPER_BACKBONES, image_size=48, batch_size=32,
                               epochs=1, learning_rate=1e-3, augmentation=None,
                               balancing="oversample", weights=None, seed=42, dataset="x")
    with pytest.raises(ConfigError, match="balancing"):
        study.scenario_configs(["S3"], study.PAPER_BACKBONES, image_size=48, batch_size=32,
                               epochs=1, learning_rate=1e-3, augmentation=None,
                               balancing="smote", weights=None, seed=42, dataset="x")


def test_models_have_the_papers_parameter_counts():
    table = study.parameter_table(study.PAPER_BACKBONES, image_size=32)
    assert table.loc["ResNet50", "total"] == 23_602_055
    assert table.loc["VGG19", "total"] == 20_027_975
    assert table["matches paper"].all()


# --------------------------------------------------------------------------- protocol


def test_protocol_on_tiny_data_writes_four_records(tmp_path):
    csv_path = _write_fer_csv(tmp_path / "fer2013.csv", np.random.default_rng(2))
    folder = study.prepare_data_folder(None, csv_path, conversion_folder=tmp_path / "folders")
    index = study.load_index(folder)
    store = ResultsStore(tmp_path / "records")
    # Small registry backbones stand in for ResNet50 and VGG19 so the test stays fast; the
    # protocol is the same.
    configs = study.scenario_configs(
        list(study.SCENARIOS), {"ResNet50": "resnet18", "VGG19": "squeezenet1_1"},
        image_size=32, batch_size=8, epochs=1, learning_rate=1e-3,
        augmentation=study.PAPER_AUGMENTATION, balancing="oversample", weights=None, seed=42,
        dataset="tiny csv")
    records = study.run_scenarios(index, store, configs, monitor_split="test", log=None)

    assert len(store) == 4 and list(records) == ["S1", "S2", "S3", "S4"]
    test_rows = len(index.split("test"))
    for name, record in records.items():
        assert record["metrics"]["test"]["count"] == test_rows
        assert record["metrics"]["test"]["loss"] > 0
        assert "val_loss" in record["history"]  # the per-epoch test curve
        balanced = study.SCENARIOS[name].balanced
        assert record["train_rows"] == (4 * 7 if balanced else sum(TRAIN_COUNTS.values()))
    table = study.scenario_table(records)
    assert table.shape == (4, 9) and table[list(study.TABLE_COLUMNS)].notna().all().all()

    # Resumes: finished scenarios are read back, test loss included.
    again = study.run_scenarios(index, store, configs, monitor_split="test", log=None)
    assert again["S3"]["metrics"]["test"]["loss"] == records["S3"]["metrics"]["test"]["loss"]


def test_a_training_subsample_that_empties_a_class_is_refused(tmp_path):
    folder = _write_image_folders(tmp_path / "fer", np.random.default_rng(0))
    kept = study.load_index(folder, train_total_limit=14)  # proportional: imbalance kept
    assert kept.counts().loc["total", "train"] == 14
    with pytest.raises(ConfigError, match="disgust"):
        study.load_index(folder, train_total_limit=7)
    with pytest.raises(ConfigError, match="not both"):
        study.load_index(folder, train_per_class_limit=2, train_total_limit=14)
