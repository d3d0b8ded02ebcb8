"""The Down syndrome study: settings, data handling, freezing, early stopping and tables."""

import keras
import numpy as np
import pytest
from PIL import Image

from kerasbench.studies import down_syndrome

# --------------------------------------------------------------------------- settings


def test_check_experiments_normalises_aliases():
    checked = down_syndrome.check_experiments(
        [{"name": "E1", "batch": 32, "lr": 1e-4}, {"name": "E2", "batch_size": 128,
                                                   "learning_rate": 0.001}]
    )
    assert checked == [{"name": "E1", "batch_size": 32, "learning_rate": 1e-4},
                       {"name": "E2", "batch_size": 128, "learning_rate": 0.001}]
    assert down_syndrome.check_experiments(down_syndrome.PAPER_EXPERIMENTS)[2] == {
        "name": "E3", "batch_size": 256, "learning_rate": 1e-3}


@pytest.mark.parametrize("experiments, message", [
    ([{"name": "E1", "batch_size": 32, "learning_rate": "1e-4"}], "learning_rate"),
    ([{"name": "E1", "batch_size": 0, "learning_rate": 1e-4}], "batch_size"),
    ([{"name": "E1", "batch_size": 32}], "lacks"),
    ([{"name": "E1", "batch_size": 32, "learning_rate": 1e-4, "epochs": 3}], "unknown keys"),
    ([{"name": "E1", "batch_size": 32, "learning_rate": 1e-4}] * 2, "unique"),
    ([], "empty"),
])
def test_check_experiments_rejects_bad_items(experiments, message):
    with pytest.raises(ValueError, match=message):
        down_syndrome.check_experiments(experiments)


def test_experiment_config_is_adamw_softmax_with_restoring_early_stopping():
    from kerasbench.runs import resolve_config

    config = down_syndrome.experiment_config(
        {"name": "E2", "batch_size": 128, "learning_rate": 1e-3}, backbone="resnet50",
        weights="imagenet", image_size=224, trainable_stages=1, max_epochs=100, patience=10,
        weight_decay=0.01, augmentation=down_syndrome.DEFAULT_AUGMENTATION, seed=42,
        positive_class="down_syndrome",
    )
    resolved = resolve_config(config)  # no unknown keys for the shared engine
    assert resolved["optimizer"] == "adamw" and resolved["weight_decay"] == 0.01
    assert resolved["head"] == "softmax" and resolved["trainable"] == 1
    assert resolved["early_stopping"] == {"monitor": "val_loss", "patience": 10,
                                          "restore_best_weights": True}
    assert resolved["augmentation"]["random_resized_crop"] == {
        "scale": [0.08, 1.0], "ratio": [0.75, pytest.approx(4 / 3)]}
    assert resolved["augmentation"]["horizontal_flip"] is True
    with pytest.raises(ValueError, match="validation"):
        down_syndrome.early_stopping_settings(5, monitor="loss")


def test_augmentation_settings_are_checked():
    assert down_syndrome.augmentation_settings(None) is None
    assert down_syndrome.augmentation_settings({}) is None
    with pytest.raises(ValueError):
        down_syndrome.augmentation_settings({"random_resized_crop": {"scale": [0.0, 1.0]}})
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
                                       split_file=split_file, per_class={"train": 5})
    assert smaller.counts().loc["downSyndrome", "train"] == 5


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


def test_load_index_explains_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="mervecayli/detection-of-down-syndrome"):
        down_syndrome.load_index(tmp_path / "nothing", positive_class="down_syndrome")


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
    # Going from fewer to more stages on one model must give the same counts as fresh models.
    assert table.loc[2, "retrained"] == "conv4, conv5"


# --------------------------------------------------------------------------- early stopping


def test_early_stopping_restores_the_best_epoch_and_records_it():
    import tensorflow as tf

    from kerasbench.runs import fit_model

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
                        early_stopping=down_syndrome.early_stopping_settings(patience=2))
    assert outcome["history"]["val_loss"] == pytest.approx([2.4, 1.4, 0.4, 0.6, 1.6], abs=1e-5)
    assert outcome["epochs_run"] == 5 and outcome["stopped_epoch"] == 5
    assert outcome["best_epoch"] == 3 and outcome["stopped_early"] is True
    assert float(np.array(model.weights[0]).item()) == pytest.approx(3.0)

    record = {"history": outcome["history"], "training": outcome}
    assert down_syndrome.history_value(record, "val_loss", 3) == pytest.approx(0.4, abs=1e-5)
    assert down_syndrome.history_value(record, "val_loss", 6) is None


# --------------------------------------------------------------------------- a tiny study


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    from kerasbench.data.demo import make_down_syndrome
    from kerasbench.results import ResultsStore
    from kerasbench.studies.common import StudyContext

    folder = tmp_path_factory.mktemp("down_syndrome_data")
    make_down_syndrome(folder / "faces", per_class=(6, 3, 3), image_size=32)
    index = down_syndrome.load_index(folder / "faces", positive_class="down_syndrome")
    output = tmp_path_factory.mktemp("down_syndrome_out")
    context = StudyContext(study="down_syndrome", profile="test", output_dir=output,
                           data_dir=folder / "faces", is_demo=True, data_description="demo",
                           seed=0)
    experiments = [{"name": "E1", "batch_size": 4, "learning_rate": 1e-3},
                   {"name": "E2", "batch_size": 128, "learning_rate": 1e-3}]
    results = down_syndrome.run_experiments(
        experiments, index, ResultsStore(output / "records"), backbone="resnet18",
        weights=None, image_size=32, trainable_stages=1, max_epochs=3, patience=1,
        weight_decay=0.01, augmentation=down_syndrome.DEFAULT_AUGMENTATION, seed=0,
        positive_class="down_syndrome",
        dataset=down_syndrome.dataset_description(index, "tiny demo"),
    )
    return index, context, results


def test_tiny_study_tables_have_one_row_per_experiment(tiny_study):
    index, _, results = tiny_study
    records = [result.record for result in results]
    table = down_syndrome.experiments_table(records)
    assert table.index.tolist() == ["E1", "E2"]
    for column in ("batch (asked)", "batch (used)", "stopped epoch", "best epoch (weights kept)",
                   "train acc % at stop", "val acc % at stop", "test accuracy %",
                   "precision (macro)", "recall (macro)", "F1 (macro)",
                   "recall (down_syndrome)", "trainable params", "non-trainable params"):
        assert column in table.columns, column
    # E2 asks for 128 images per batch but the training split has 12: capped and shown.
    assert table.loc["E2", "batch (asked)"] == 128 and table.loc["E2", "batch (used)"] == 12
    assert table.loc["E1", "batch (used)"] == 4
    assert table.loc["E1", "trainable params"] == 8_389_634  # conv5 + head of ResNet18

    comparison = down_syndrome.comparison_table(records, note="demo")
    assert comparison.index.names == ["experiment", "quantity"]
    assert comparison.shape == (2 * 7, 3)
    assert comparison.loc[("E2", "test accuracy %"), "paper"] == 87.88
    stops = down_syndrome.stop_epoch_table(records)
    assert stops.shape == (2, 9)
    assert stops.loc["E1", "val acc % (paper)"] == 81.2


def test_tiny_study_records_stop_and_best_epoch_and_keeps_best_weights(tiny_study):
    from kerasbench.pipeline import make_dataset

    index, _, results = tiny_study
    for result in results:
        record, training = result.record, result.record["training"]
        val_loss = record["history"]["val_loss"]
        assert training["epochs_run"] == len(val_loss) == training["stopped_epoch"]
        assert training["best_epoch"] == int(np.argmin(val_loss)) + 1
        # The returned model holds the best epoch's weights: its validation loss is that
        # epoch's, not the last one's.
        validation = make_dataset(index.split("validation"), image_size=32, batch_size=64)
        loss = result.model.evaluate(validation, verbose=0, return_dict=True)["loss"]
        assert loss == pytest.approx(val_loss[training["best_epoch"] - 1], rel=1e-4)
        assert record["class_names"] == ["healthy", "down_syndrome"]


def test_tiny_study_figures_name_the_positive_class(tiny_study):
    import matplotlib.pyplot as plt

    _, context, results = tiny_study
    records = [result.record for result in results]
    figures = down_syndrome.plot_confusion_matrices(records, context)
    assert "positive class = down_syndrome" in figures[0]._suptitle.get_text()
    down_syndrome.plot_training_curves(records, context)
    down_syndrome.plot_paper_confusion_matrices(context)
    names = {path.name for path in context.figures_dir.glob("*.png")}
    assert {"confusion_E1_test.png", "curves_E2.png", "paper_confusion_E2.png"} <= names
    frame = down_syndrome.confusion_frame(records[0])
    assert frame.index.tolist() == ["healthy", "down_syndrome (positive)"]
    assert int(frame.to_numpy().sum()) == 6
    plt.close("all")


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
