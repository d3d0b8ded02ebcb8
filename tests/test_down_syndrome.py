"""The Down syndrome study: settings and seeds, data, freezing, early stopping, the verbs on
a tiny demo run (headline, paired table, verdicts), identity of runs, and the numbers
recorded before the refactor."""

import dataclasses

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from kerasbench import summaries
from kerasbench.errors import ConfigError
from kerasbench.stats import HEADLINE_COLUMNS
from kerasbench.studies import down_syndrome
from kerasbench.studies.down_syndrome import protocol

# --------------------------------------------------------------------------- settings


def test_study_module_has_every_verb():
    from kerasbench.studies.base import STUDIES, check_study_module

    check_study_module(down_syndrome)
    assert STUDIES["down_syndrome"].module is down_syndrome
    assert down_syndrome.PROTOCOL_VERSION == "1"


def test_configs_default_to_the_paper_protocol():
    from kerasbench.engine import resolve_config

    planned = down_syndrome.configs()
    assert [item.experiment for item in planned] == ["E1", "E2", "E3"]
    assert [(item.config["batch_size"], item.config["learning_rate"]) for item in planned] == [
        (32, 1e-4), (128, 1e-3), (256, 1e-3)]
    config = planned[1].config
    assert resolve_config(config) == config  # resolved, and no unknown keys for the engine
    assert config["experiment"] == "E2" and config["epochs"] == 100
    assert config["optimizer"] == "adamw" and config["weight_decay"] == 0.01
    assert config["head"] == "softmax" and config["trainable"] == 1
    assert config["backbone"] == "resnet50" and config["weights"] == "imagenet"
    assert config["early_stopping"] == {"monitor": "val_loss", "patience": 10,
                                        "restore_best_weights": True}
    assert config["augmentation"]["random_resized_crop"] == {
        "scale": [0.08, 1.0], "ratio": [0.75, pytest.approx(4 / 3)]}
    assert config["augmentation"]["horizontal_flip"] is True
    assert config["seed"] == 42


def test_configs_run_each_experiment_once_per_seed():
    planned = down_syndrome.configs(seeds=[0, 1, 2])
    assert [(item.experiment, item.config["seed"]) for item in planned[:4]] == [
        ("E1", 0), ("E1", 1), ("E1", 2), ("E2", 0)]
    assert len(planned) == 9
    for bad in (0, [], [1, 1], ["a"]):
        with pytest.raises(ValueError, match="seeds"):
            down_syndrome.configs(seeds=bad)


@pytest.mark.parametrize("experiments, message", [
    ([{"name": "E1", "batch_size": 32, "learning_rate": "1e-4"}], "learning_rate"),
    ([{"name": "E1", "batch_size": 0, "learning_rate": 1e-4}], "batch_size"),
    ([{"name": "E1", "batch_size": 32}], "lacks"),
    ([{"name": "E1", "batch_size": 32, "learning_rate": 1e-4, "epochs": 3}], "unknown"),
    ([{"name": "E1", "batch_size": 32, "learning_rate": 1e-4}] * 2, "unique"),
    ([], "empty"),
    ({"name": "E1", "batch_size": 32, "learning_rate": 1e-4}, "list of dicts"),
])
def test_configs_reject_bad_experiments(experiments, message):
    with pytest.raises(ConfigError, match=message):
        down_syndrome.configs(experiments=experiments)


def test_configs_check_the_other_settings():
    with pytest.raises(ConfigError, match="validation quantity"):
        down_syndrome.configs(monitor="loss")
    with pytest.raises(ConfigError, match="max_epochs"):
        down_syndrome.configs(max_epochs=0)
    with pytest.raises(ConfigError, match="trainable_stages"):
        down_syndrome.configs(trainable_stages="some")
    with pytest.raises(ConfigError, match="patience"):
        down_syndrome.configs(patience=-1)


def test_augmentation_settings_are_checked():
    assert protocol.augmentation_settings(None) is None
    assert protocol.augmentation_settings({}) is None
    with pytest.raises(ValueError):
        protocol.augmentation_settings({"random_resized_crop": {"scale": [0.0, 1.0]}})
    lines = down_syndrome.describe_augmentation(down_syndrome.DEFAULT_AUGMENTATION)
    assert any("RandomResizedCrop" in line for line in lines)
    assert any("horizontal" in line for line in lines)


# --------------------------------------------------------------------------- data


def _write_images(folder, count, value):
    folder.mkdir(parents=True)
    for number in range(count):
        pixels = np.full((8, 8, 3), value + number, dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{number}.png")


def test_load_index_splits_a_flat_download_behind_a_wrapper_folder(tmp_path):
    # Like an unpacked archive: wrapper/<class>/ with the data set's own folder names.
    root = tmp_path / "download" / "wrapper"
    _write_images(root / "downSyndrome", 20, 0)
    _write_images(root / "healty", 20, 100)
    split_file = tmp_path / "split.csv"
    index = down_syndrome.load_index(tmp_path / "download", positive_class="down_syndrome",
                                     seed=1, split_file=split_file)
    assert index.class_names == ["healty", "downSyndrome"]
    assert (index.frame["label"] == (index.frame["class_name"] == "downSyndrome")).all()
    counts = index.counts()
    assert counts.loc["total", ["train", "validation", "test"]].tolist() == [28, 8, 4]
    assert split_file.exists()
    again = down_syndrome.load_index(tmp_path / "download", positive_class="downSyndrome",
                                     seed=99, split_file=split_file)
    assert again.frame.equals(index.frame)  # the saved split wins over a new seed
    smaller = down_syndrome.load_index(tmp_path / "download", positive_class="down_syndrome",
                                       split_file=split_file, max_per_class={"train": 5})
    assert smaller.counts().loc["downSyndrome", "train"] == 5
    assert smaller.fingerprint() != index.fingerprint()  # other data, other runs


def test_load_index_holds_validation_out_of_train_folders(tmp_path):
    # Split folders without validation/ (like FER2013): validation_fraction of each class's
    # training images becomes the validation split; the positive class is still label 1.
    _write_images(tmp_path / "train" / "Down Syndrome", 10, 0)
    _write_images(tmp_path / "train" / "healthy", 10, 50)
    _write_images(tmp_path / "test" / "Down Syndrome", 3, 100)
    _write_images(tmp_path / "test" / "healthy", 3, 150)
    index = down_syndrome.load_index(tmp_path, positive_class="down_syndrome",
                                     validation_fraction=0.2, seed=0)
    assert index.class_names == ["healthy", "Down Syndrome"]
    counts = index.counts()
    assert counts.loc["Down Syndrome", ["train", "validation", "test"]].tolist() == [8, 2, 3]
    assert counts.loc["healthy", ["train", "validation", "test"]].tolist() == [8, 2, 3]


def test_load_index_explains_a_missing_folder_and_bad_fractions(tmp_path):
    with pytest.raises(FileNotFoundError, match="mervecayli/detection-of-down-syndrome"):
        down_syndrome.load_index(tmp_path / "nothing", positive_class="down_syndrome")
    with pytest.raises(ConfigError, match="test_fraction"):
        down_syndrome.load_index(tmp_path, test_fraction=1.5)


def _digest(folder):
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(path for path in folder.rglob("*") if path.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def test_demo_data_is_the_old_generators_bytes(tmp_path, monkeypatch):
    from kerasbench.studies.base import start_study
    from kerasbench.studies.down_syndrome.demo import draw_child

    options = {"per_class": (2, 1, 1), "image_size": 16}
    folder = down_syndrome.make_demo_data(tmp_path / "new", seed=3, **options)
    # Recorded from 98fb060, before the refactor: make_down_syndrome(folder, seed=3,
    # per_class=(2, 1, 1), image_size=16), every file's relative path and bytes (marker too).
    assert _digest(folder) == "71fe5b5ad1c198bdda5fd9ae26ed31e482eb7ac34004e1df6c62918502a9474d"

    # draw_child draws the set's faces: PNG keeps the pixels, so they can be compared.
    folder = down_syndrome.make_demo_data(tmp_path / "png", seed=3, fmt="png", **options)
    for label, name in enumerate(("down_syndrome", "healthy")):
        rng = np.random.default_rng([3, 4, label, 0])  # make_binary's stream of the train split
        for number in range(2):
            saved = np.asarray(Image.open(folder / "train" / name / f"{name}_{number:04d}.png"))
            np.testing.assert_array_equal(draw_child(label == 0, 16, rng), saved)

    # data_dir=None: the demo set is made under KERASBENCH_DEMO_DIR in the old folder name.
    monkeypatch.setenv("KERASBENCH_DEMO_DIR", str(tmp_path / "cache"))
    context = start_study("down_syndrome", profile="test", output_dir=tmp_path / "out",
                          data_dir=None, demo_generator=down_syndrome.make_demo_data, seed=0,
                          demo_options=options)
    assert context.is_demo and context.data_dir.name.startswith("down_syndrome-")
    index = down_syndrome.load_data(context)
    assert index.class_names == ["healthy", "down_syndrome"]
    assert (context.output_dir / "index_used.csv").exists()
    images, captions = down_syndrome.augmentation_examples(
        index.split("train"), down_syndrome.DEFAULT_AUGMENTATION, image_size=16, count=1, seed=0)
    assert [image.shape for image in images] == [(16, 16, 3)] * 4
    assert captions == ["healthy\nresized", "healthy\naugmented",
                        "down_syndrome\nresized", "down_syndrome\naugmented"]


# --------------------------------------------------------------------------- freezing


def _batch_norm_layers(model):
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        elif isinstance(layer, keras.Model):
            found.extend(_batch_norm_layers(layer))
    return found


def test_partial_unfreezing_keeps_batch_norm_frozen_through_a_training_step():
    from kerasbench.backbones import find_backbone
    from kerasbench.heads import build_classifier, compile_classifier

    model = build_classifier("resnet18", 2, image_size=32, head="softmax", trainable=1)
    compile_classifier(model, "adamw", 1e-2, weight_decay=0.01, head="softmax")
    _, _, base = find_backbone(model)
    batch_norms = _batch_norm_layers(model)
    assert len(batch_norms) == 20  # stem + 2 per block x 8 blocks + 3 shortcut projections
    assert all(not layer.trainable for layer in batch_norms)
    before = {layer.name: [np.array(w) for w in layer.weights] for layer in batch_norms}
    early_kernel = np.array(base.get_layer("conv2_block1_1_conv").kernel)
    late_kernel = np.array(base.get_layer("conv5_block2_2_conv").kernel)

    images = np.random.default_rng(0).uniform(0, 255, (8, 32, 32, 3)).astype("float32")
    labels = np.array([0, 1] * 4)
    model.train_on_batch(images, labels)

    for layer in batch_norms:
        for old, new in zip(before[layer.name], layer.weights):
            # gamma, beta, moving mean and moving variance all unchanged
            np.testing.assert_array_equal(old, np.array(new), err_msg=layer.name)
    np.testing.assert_array_equal(early_kernel, np.array(base.get_layer("conv2_block1_1_conv").kernel))
    assert not np.allclose(late_kernel, np.array(base.get_layer("conv5_block2_2_conv").kernel))


def test_trainable_parameter_counts_per_number_of_stages():
    from kerasbench.backbones import find_backbone, get_backbone
    from kerasbench.heads import build_classifier

    table = down_syndrome.parameter_count_table("resnet18", image_size=32)
    assert table.index.tolist() == [0, 1, 2, 3, 4]
    head = 512 * 2 + 2
    assert table.loc[0, "trainable"] == head
    assert (table["total"] == 11_186_112 + head).all()
    assert table["trainable"].is_monotonic_increasing and table["trainable"].is_unique

    # Independent count: the non-BatchNorm weights of the last N stages, by layer name.
    model = build_classifier("resnet18", 2, image_size=32, head="softmax")
    _, _, base = find_backbone(model)
    prefixes = get_backbone("resnet18").stage_prefixes
    for count in range(1, 5):
        retrained = prefixes[len(prefixes) - count:]
        expected = head + sum(
            int(np.prod(weight.shape))
            for layer in base.layers
            if layer.name.startswith(retrained)
            and not isinstance(layer, keras.layers.BatchNormalization)
            for weight in layer.weights
        )
        assert table.loc[count, "trainable"] == expected, count
    assert table.loc[2, "retrained"] == "conv4, conv5"


# --------------------------------------------------------------------------- early stopping


def test_early_stopping_settings_restore_the_best_epoch():
    import tensorflow as tf

    from kerasbench.engine import fit_model

    # One weight w, starting at 0; mean absolute error against 10 moves it by exactly +1 per
    # SGD step (lr 1), one step per epoch, so after epoch e, w = e. Validation targets 3.4,
    # so validation loss is |e - 3.4|: 2.4, 1.4, 0.4 (best, epoch 3), 0.6, 1.6 -> with
    # patience 2 training stops after epoch 5 and must hand back w = 3.
    inputs = keras.Input(shape=(1,))
    outputs = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mae",
                  metrics=["accuracy"])
    ones = np.ones((4, 1), dtype="float32")
    train = tf.data.Dataset.from_tensor_slices((ones, np.full((4, 1), 10.0, "float32"))).batch(4)
    validation = tf.data.Dataset.from_tensor_slices((ones, np.full((4, 1), 3.4, "float32"))).batch(4)

    outcome = fit_model(model, train, validation, epochs=20,
                        early_stopping=protocol.early_stopping_settings(patience=2))
    assert outcome["history"]["val_loss"] == pytest.approx([2.4, 1.4, 0.4, 0.6, 1.6], abs=1e-5)
    assert outcome["epochs_run"] == 5 and outcome["stopped_epoch"] == 5
    assert outcome["best_epoch"] == 3 and outcome["stopped_early"] is True
    assert float(np.array(model.weights[0]).item()) == pytest.approx(3.0)


# --------------------------------------------------------------------------- a tiny study

# The run of /work/baseline/capture.py (run_down_syndrome) without augmentation: the demo
# faces at 6/3/3 per class and 32 px, ResNet18 from random weights, conv5 retrained, two
# experiments, two epochs, patience 1, AdamW weight decay 0.01, seed 0. (With augmentation the
# numbers differ from 98fb060 since kerasbench.pipeline draws one stateless seed per batch.)
TINY_EXPERIMENTS = [{"name": "E1", "batch_size": 4, "learning_rate": 1e-3},
                    {"name": "E2", "batch_size": 128, "learning_rate": 1e-3}]
TINY_SETTINGS = dict(backbone="resnet18", weights=None, image_size=32, trainable_stages=1,
                     max_epochs=2, patience=1, weight_decay=0.01, augmentation=None, seeds=[0])


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    from kerasbench.studies.base import start_study

    folder = down_syndrome.make_demo_data(tmp_path_factory.mktemp("data") / "faces", seed=0,
                                          per_class=(6, 3, 3), image_size=32)
    context = start_study("down_syndrome", profile="test",
                          output_dir=tmp_path_factory.mktemp("out"), data_dir=folder,
                          demo_generator=down_syndrome.make_demo_data, seed=0)
    data = down_syndrome.load_data(context, positive_class="down_syndrome")
    planned = down_syndrome.configs(experiments=TINY_EXPERIMENTS, **TINY_SETTINGS)
    records = down_syndrome.run(context, data, planned, progress=False)
    return context, data, planned, records


# Recorded from 98fb060, before the refactor (down_syndrome.run_experiments with the settings
# above, on the CPU): per experiment, the metrics of each evaluated split, the per-image
# scores, the Keras history and the early-stopping outcome.
BASELINE = {
    "E1": {
        "metrics": {
            "validation": {"accuracy": 1.0, "loss": 0.40604970274621005,
                           "macro_precision": 1.0, "macro_recall": 1.0,
                           "macro_f1": 1.0, "roc_auc": 1.0,
                           "confusion_matrix": [[3, 0], [0, 3]]},
            "test": {"accuracy": 0.6666666666666666, "loss": 0.6671686764910407,
                     "macro_precision": 0.6666666666666666, "macro_recall": 0.6666666666666666,
                     "macro_f1": 0.6666666666666666, "roc_auc": 0.888888888888889,
                     "confusion_matrix": [[2, 1], [1, 2]]},
        },
        "history": {
            "accuracy": [0.3333333432674408, 0.5833333134651184],
            "loss": [1.1027932167053223, 0.539177656173706],
            "val_accuracy": [0.8333333134651184, 1.0],
            "val_loss": [0.4824567139148712, 0.4060497283935547],
        },
        # P(down_syndrome) per image, in index order.
        "score": {
            "validation": [0.07534489780664444, 0.3097461760044098, 0.3879389464855194,
                           0.5201163291931152, 0.6532090902328491, 0.6591634154319763],
            "test": [0.5022016167640686, 0.1271057426929474, 0.13364088535308838,
                     0.6430750489234924, 0.5284283757209778, 0.14274245500564575],
        },
        "training": {"epochs_run": 2, "stopped_early": False, "stopped_epoch": 2,
                     "best_epoch": 2, "restored_best_weights": True},
        "batch_size_effective": 4,
    },
    "E2": {
        "metrics": {
            "validation": {"accuracy": 0.5, "loss": 0.8840403902344756,
                           "macro_precision": 0.25, "macro_recall": 0.5,
                           "macro_f1": 0.3333333333333333, "roc_auc": 1.0,
                           "confusion_matrix": [[3, 0], [3, 0]]},
            "test": {"accuracy": 0.5, "loss": 1.1615462513915318,
                     "macro_precision": 0.25, "macro_recall": 0.5,
                     "macro_f1": 0.3333333333333333, "roc_auc": 0.6666666666666667,
                     "confusion_matrix": [[3, 0], [3, 0]]},
        },
        "history": {
            "accuracy": [0.25, 0.5],
            "loss": [0.7236184477806091, 1.0836483240127563],
            "val_accuracy": [0.5, 0.5],
            "val_loss": [0.8840405344963074, 1.1427829265594482],
        },
        # P(down_syndrome) per image, in index order.
        "score": {
            "validation": [0.015783175826072693, 0.049058184027671814, 0.07288387417793274,
                           0.20185570418834686, 0.14220276474952698, 0.19955787062644958],
            "test": [0.1702454835176468, 0.018553221598267555, 0.03374297171831131,
                     0.16967716813087463, 0.26612013578414917, 0.026464950293302536],
        },
        "training": {"epochs_run": 2, "stopped_early": False, "stopped_epoch": 2,
                     "best_epoch": 1, "restored_best_weights": True},
        "batch_size_effective": 12,
    },
}
BASELINE_PARAMETERS = {"non_trainable": 2797504, "total": 11187138, "trainable": 8389634}


def test_tiny_study_matches_the_numbers_before_the_refactor(tiny_study):
    _, data, _, records = tiny_study
    assert data.counts().loc["total", ["train", "validation", "test"]].tolist() == [12, 6, 6]
    for record in records:
        expected = BASELINE[record.experiment]
        for split, values in expected["metrics"].items():
            measured = record.metrics[split]
            assert measured["confusion_matrix"] == values["confusion_matrix"]
            for name, value in values.items():
                if name != "confusion_matrix":
                    assert measured[name] == pytest.approx(value, rel=1e-6), (
                        record.experiment, split, name)
            assert record.extra["predictions"][split]["score"] == pytest.approx(
                expected["score"][split], rel=1e-6), (record.experiment, split)
        history = {key: values for key, values in record.history.items()
                   if key != "epoch_seconds"}
        assert history.keys() == expected["history"].keys()
        for key, values in expected["history"].items():
            assert history[key] == pytest.approx(values, rel=1e-6), (record.experiment, key)
        assert record.extra["batch_size_effective"] == expected["batch_size_effective"]
        assert record.extra["training"] == expected["training"]
        assert record.extra["parameters"] == BASELINE_PARAMETERS
        assert record.extra["class_names"] == ["healthy", "down_syndrome"]


def test_tiny_study_records_are_valid_and_a_rerun_skips_them(tiny_study):
    from kerasbench.records import RunRecord

    context, data, planned, records = tiny_study
    assert [record.experiment for record in records] == ["E1", "E2"]
    store = context.store()
    assert store.validate() == 2
    for record in records:
        assert isinstance(record, RunRecord) and record.finished
        assert record.study == "down_syndrome" and record.demo is True
        assert record.protocol_version == down_syndrome.PROTOCOL_VERSION
        assert record.dataset_fingerprint == data.fingerprint()
        assert record.seed == 0 and set(record.evaluated_splits) == {"validation", "test"}
        assert {"train_s", "evaluate_s", "total_s"} <= set(record.durations)
        assert RunRecord.read(store.path(record.run_id)).to_dict() == record.to_dict()
    lines = []
    again = down_syndrome.run(context, data, planned, progress=lines.append)
    assert [record.to_dict() for record in again] == [record.to_dict() for record in records]
    assert len(lines) == 2 and all("already finished" in line for line in lines)


def test_tiny_study_keeps_the_best_epoch_and_evaluates_its_weights(tiny_study):
    *_, records = tiny_study
    for record in records:
        training, val_loss = record.extra["training"], record.history["val_loss"]
        assert training["epochs_run"] == len(val_loss) == training["stopped_epoch"]
        assert training["best_epoch"] == int(np.argmin(val_loss)) + 1
        # Validation metrics come from the restored best weights: its loss is that epoch's.
        assert record.metrics["validation"]["loss"] == pytest.approx(
            val_loss[training["best_epoch"] - 1], rel=1e-4)


def test_tiny_study_tables_have_one_row_per_experiment_and_say_demo(tiny_study):
    context, _, _, records = tiny_study
    tables = down_syndrome.tables(records, context)
    assert set(tables) == {"headline", "paired", "experiments", "stop_epoch_accuracy",
                           "paper_detail", "confusion_E1_test", "confusion_E2_test"}
    table = tables["experiments"]
    assert table.index.tolist() == ["E1", "E2"] and table["seed"].tolist() == [0, 0]
    for column in ("batch (asked)", "batch (used)", "stopped epoch", "best epoch (weights kept)",
                   "train acc % at stop", "val acc % at stop", "test accuracy %",
                   "precision (macro)", "recall (macro)", "F1 (macro)",
                   "recall (down_syndrome)", "trainable params", "non-trainable params",
                   "train s"):
        assert column in table.columns, column
    # E2 asks for 128 images per batch but the training split has 12: capped and shown.
    assert table.loc["E2", "batch (asked)"] == 128 and table.loc["E2", "batch (used)"] == 12
    assert table.loc["E1", "batch (used)"] == 4
    assert table.loc["E1", "trainable params"] == 8_389_634  # conv5 + head of ResNet18
    assert tables["stop_epoch_accuracy"].shape == (2, 10)
    assert tables["stop_epoch_accuracy"].loc["E1", "val acc % (paper)"] == 81.2
    confusion = tables["confusion_E1_test"]
    assert confusion.index.tolist() == ["healthy", "down_syndrome (positive)"]
    assert int(confusion.to_numpy().sum()) == 6

    saved = pd.read_csv(context.tables_dir / "experiments.csv")
    assert saved["demo"].all() and saved["experiment"].tolist() == ["E1", "E2"]
    assert (context.tables_dir / "experiments.md").read_text().startswith(f"_{context.note}_")

    detail = tables["paper_detail"]
    assert detail.index.names == ["experiment", "quantity"]
    assert detail.shape == (2 * 7, 3)
    assert detail.loc[("E2", "test accuracy %"), "paper"] == 87.88
    assert detail.loc[("E2", "test accuracy %"), "this run"] == pytest.approx(50.0)


def test_tiny_study_headline_paired_and_verdicts(tiny_study):
    context, _, _, records = tiny_study
    headline = down_syndrome.headline(records)
    assert list(headline.columns) == ["configuration", "metric", "seeds", *HEADLINE_COLUMNS]
    assert headline["configuration"].tolist() == ["E1", "E2"]
    assert (headline["metric"] == "accuracy").all() and (headline["n_seeds"] == 1).all()
    assert headline["mean"].tolist() == pytest.approx([4 / 6, 3 / 6])  # BASELINE test accuracy
    assert (headline["ci_low"] <= headline["mean"]).all()
    assert (headline["mean"] <= headline["ci_high"]).all()

    paired = down_syndrome.paired(records)
    assert list(paired.columns) == list(summaries.paired_table([], []).columns)
    assert paired[["a", "b"]].values.tolist() == [["E1", "E2"]]
    assert paired.loc[0, "difference"] == pytest.approx(1 / 6)
    assert paired.loc[0, "test"].startswith("McNemar") and 0 < paired.loc[0, "p_value"] <= 1
    (sentence,) = down_syndrome.paired_sentences(paired)
    assert sentence.startswith("E1 vs E2 (accuracy, 1 seed(s)): +0.167")

    comparison = down_syndrome.compare_with_paper(records, context)
    assert list(comparison.columns) == ["configuration", "metric", "paper", "ours_mean", "ci_low",
                                        "ci_high", "difference", "verdict"]
    assert comparison["paper"].tolist() == pytest.approx([0.8283, 0.8788])
    assert (comparison["verdict"] == "not comparable: demo data").all()
    assert pd.read_csv(context.tables_dir / "compare_with_paper.csv")["demo"].all()
    # The same numbers called real data: the paper's accuracy against this run's interval.
    real = dataclasses.replace(context, is_demo=False, output_dir=context.output_dir / "real")
    verdicts = down_syndrome.compare_with_paper(records, real).set_index("configuration")
    for name, row in verdicts.iterrows():
        expected = ("within interval" if row["ci_low"] <= row["paper"] <= row["ci_high"]
                    else "paper higher" if row["paper"] > row["ci_high"] else "paper lower")
        assert row["verdict"] == expected, name
    assert len(summaries.verdict_sentences(verdicts.reset_index())) == 2


def test_tiny_study_figures(tiny_study):
    context, _, _, records = tiny_study
    paths = down_syndrome.figures(records, context)
    assert {"confusion_E1_test", "confusion_E2_test", "curves_E1", "curves_E2", "curves_all",
            "seed_spread", "paper_confusion_E1", "paper_confusion_E2"} == set(paths)
    assert all(path.exists() and path.parent == context.figures_dir for path in paths.values())


def test_verbs_refuse_what_they_cannot_use(tiny_study):
    context, data, planned, _ = tiny_study
    with pytest.raises(ValueError, match="no records"):
        down_syndrome.tables([], context)
    with pytest.raises(ConfigError, match="configs"):
        down_syndrome.run(context, data, [], progress=False)
    with pytest.raises(ConfigError, match="DatasetIndex"):
        down_syndrome.run(context, data.frame, planned, progress=False)


# --------------------------------------------------------------------------- the paper


def test_paper_confusion_matrices_and_their_disagreement_with_table_three():
    table = down_syndrome.paper_consistency_table()
    assert table.loc["E1", "accuracy % (from matrix)"] == pytest.approx(100 * 245 / 297)
    assert table.loc["E2", "accuracy % (from matrix)"] == pytest.approx(100 * 266 / 297)
    # E2's matrix gives the reported 0.8956 as macro averages.
    for column in ("precision macro (from matrix)", "recall macro (from matrix)",
                   "F1 macro (from matrix)"):
        assert table.loc["E2", column] == pytest.approx(0.8956, abs=1e-4)
    frame = down_syndrome.paper_confusion_frame("E1")
    assert frame.loc["healthy", "healthy"] == 118
    assert frame.loc["down syndrome (positive)", "down syndrome (positive)"] == 127
    with pytest.raises(ValueError, match="E3"):
        down_syndrome.paper_confusion_frame("E3")
    assert down_syndrome.paper_results_table().shape == (3, 9)


def test_adding_a_seed_trains_only_the_new_run(tiny_study):
    context, data, _, records = tiny_study
    lines = []
    planned = down_syndrome.configs(experiments=TINY_EXPERIMENTS[:1],
                                    **{**TINY_SETTINGS, "seeds": [0, 1]})
    both = down_syndrome.run(context, data, planned, progress=lines.append)
    assert len(lines) == 2 and "already finished" in lines[0] and "already" not in lines[1]
    assert [record.seed for record in both] == [0, 1]
    assert both[0].to_dict() == records[0].to_dict()
    headline = down_syndrome.headline(both)
    assert headline["n_seeds"].tolist() == [2] and headline["seeds"].tolist() == ["0, 1"]
    # Tables and figures take several seeds per experiment; per-run views show the lowest.
    assert down_syndrome.tables(both, context)["experiments"]["seed"].tolist() == [0, 1]
    assert down_syndrome.representative_runs(both) == [both[0]]


# --------------------------------------------------------------------------- typed settings

TINY = {"backbone": "resnet18", "weights": None, "image_size": 32}
E1 = {"name": "E1", "batch_size": 16, "learning_rate": 0.01}


@pytest.mark.parametrize("options, message", [
    ({"experiments": [{**E1, "batch_size": "16"}]},
     r"experiment E1 batch_size must be an integer >= 1, got '16'"),
    ({"experiments": [{**E1, "learning_rate": "0.01"}]},
     r"experiment E1 learning_rate must be a number, got '0\.01' \(str\)"),
    ({"experiments": E1}, r"experiments must be a list of dicts"),
    ({"image_size": "32"}, r"image_size must be an integer >= 1, got '32'"),
    ({"max_epochs": "1"}, r"max_epochs must be an integer >= 1, got '1'"),
    ({"patience": "2"}, r"patience must be an integer >= 0, got '2'"),
    ({"weight_decay": "0.01"}, r"weight_decay must be a number, got '0\.01' \(str\)"),
    ({"trainable_stages": 1.5}, r"trainable_stages must be an integer >= 0, got 1\.5"),
    ({"backbone": 3}, r"backbone must be a registry name \(text\), got 3 \(int\)"),
    ({"weights": 3}, r"weights must be None, 'imagenet' or a weights file path, got 3 \(int\)"),
    ({"monitor": 3}, r"monitor must be a validation quantity"),
])
def test_configs_name_a_setting_of_the_wrong_type(options, message):
    with pytest.raises(ConfigError, match=message):
        down_syndrome.configs(**{"experiments": [E1], **TINY, **options})


@pytest.mark.parametrize("options, message", [
    ({"max_per_class": 8}, r"max_per_class must be None or a dict.*got 8 \(int\)"),
    ({"max_per_class": {"train": "8"}}, r"max_per_class\['train'\] must be an integer"),
    ({"max_per_class": {"training": 8}}, "unknown max_per_class splits"),
    ({"validation_fraction": "0.2"}, r"validation_fraction must be a number, got '0\.2'"),
    ({"positive_class": 1}, "positive_class must name a class folder"),
    ({"classes": "happy"}, "classes must be None or a list of two class folder names"),
])
def test_load_data_checks_its_arguments_before_reading_the_folder(tmp_path, options, message):
    from types import SimpleNamespace

    context = SimpleNamespace(data_dir=tmp_path / "absent", seed=0, output_dir=tmp_path)
    with pytest.raises(ConfigError, match=message):
        down_syndrome.load_data(context, **options)
