"""Classifier heads, freezing policies, optimizers and compiling."""

import keras
import numpy as np
import pytest

from kerasbench.backbones import build_backbone, find_backbone, get_backbone, stage_assignments
from kerasbench.heads import (
    OPTIMIZERS,
    build_classifier,
    compile_classifier,
    infer_head,
    make_optimizer,
    parameter_counts,
    set_trainable,
)


@pytest.mark.parametrize(
    "name, num_classes, image_size, expected_total",
    [
        # The clothing paper's totals (backbone -> GAP -> Dense(10)) at its smallest size.
        ("xception", 10, 300, 20_881_970),
        ("densenet201", 10, 300, 18_341_194),
        ("efficientnetb6", 10, 300, 40_983_193),
        ("efficientnetb7", 10, 300, 64_123_297),
        # The FER paper's totals (Dense(7) softmax) at FER's 48x48.
        ("vgg19", 7, 48, 20_027_975),
        ("resnet50", 7, 48, 23_602_055),
        ("resnet34", 2, 32, 21_301_696 + 512 * 2 + 2),
        ("resnet18", 2, 32, 11_186_112 + 512 * 2 + 2),
    ],
)
def test_classifier_parameter_totals(name, num_classes, image_size, expected_total):
    model = build_classifier(name, num_classes, image_size=image_size, head="softmax")
    counts = parameter_counts(model)
    assert counts["total"] == expected_total == model.count_params()
    # Frozen by default: only the output layer trains.
    assert counts["trainable"] == get_backbone(name).feature_dim * num_classes + num_classes


def test_parameter_totals_do_not_depend_on_size():
    small = build_backbone("xception", image_size=71).count_params()
    assert small == build_backbone("xception", image_size=(299, 350)).count_params()


def test_head_layout_and_dtype():
    model = build_classifier(
        "squeezenet1_1", 3, image_size=32, head="logits", hidden_units=8, dropout=0.5
    )
    assert model.name == "squeezenet1_1_classifier"
    assert [layer.name for layer in model.layers] == [
        "image",
        "squeezenet1_1_backbone",
        "avg_pool",
        "hidden",
        "dropout",
        "predictions",
    ]
    assert model.get_layer("predictions").dtype_policy.name == "float32"
    assert model.output.shape == (None, 3)
    assert infer_head(model) == "logits"
    sigmoid = build_classifier("squeezenet1_1", 2, image_size=32, head="sigmoid")
    assert sigmoid.output.shape == (None, 1) and infer_head(sigmoid) == "sigmoid"
    with pytest.raises(ValueError, match="num_classes must be 2"):
        build_classifier("squeezenet1_1", 3, image_size=32, head="sigmoid")
    with pytest.raises(ValueError, match="head"):
        build_classifier("squeezenet1_1", 3, image_size=32, head="relu")


def test_classifier_from_built_backbone():
    backbone = build_backbone("squeezenet1_1", image_size=40, channels=1)
    model = build_classifier(backbone, 4, head="softmax")
    assert model.input.shape == (None, 40, 40, 1)
    assert find_backbone(model)[1] is backbone
    with pytest.raises(ValueError, match="build_backbone"):
        build_classifier(backbone, 4, image_size=64)


def _trainable_backbone_layers(model):
    _, _, base = find_backbone(model)
    return {layer.name for layer in base.layers if layer.trainable_weights}


def test_freezing_policies_resnet18():
    model = build_classifier("resnet18", 5, image_size=32, trainable="frozen")
    spec, backbone, base = find_backbone(model)
    head_params = 512 * 5 + 5
    assert backbone.trainable_weights == []
    assert parameter_counts(model)["trainable"] == head_params

    stage_of = {layer.name: stage for layer, stage in stage_assignments(base, spec)}
    previous = head_params
    for stages in range(1, len(spec.stage_prefixes) + 1):
        trainable, non_trainable = set_trainable(model, stages)
        assert trainable + non_trainable == model.count_params()
        assert trainable > previous
        previous = trainable
        first = len(spec.stage_prefixes) - stages
        names = _trainable_backbone_layers(model)
        assert names and all(stage_of[name] >= first for name in names)
        assert any(stage_of[name] == first for name in names)
        # Every conv of the trainable stages trains; no BatchNormalization ever does.
        for layer in base.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                assert not layer.trainable and not layer.trainable_weights
            elif isinstance(layer, keras.layers.Conv2D):
                assert layer.trainable == (stage_of[layer.name] >= first)

    all_trainable, _ = set_trainable(model, "all")
    # "all" adds the stem, whose only trainable weights are conv1's kernel.
    assert all_trainable == previous + 7 * 7 * 3 * 64
    assert "conv1_conv" in _trainable_backbone_layers(model)
    batch_norms = [
        layer for layer in base.layers if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert batch_norms and not any(layer.trainable for layer in batch_norms)
    assert set_trainable(model, "frozen")[0] == head_params
    assert set_trainable(model, 0)[0] == head_params


def test_freezing_policy_errors():
    model = build_classifier("squeezenet1_1", 2, image_size=32)
    with pytest.raises(ValueError, match="8 stages"):
        set_trainable(model, 9)
    for bad in ("some", True, -1, 1.5):
        with pytest.raises(ValueError):
            set_trainable(model, bad)
    with pytest.raises(ValueError, match="no kerasbench backbone"):
        set_trainable(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), "all")


def test_saved_classifier_predicts_the_same(tmp_path):
    model = build_classifier(
        "resnet18", 3, image_size=32, head="softmax", hidden_units=4, trainable=2
    )
    images = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    before = model.predict(images, verbose=0)
    path = tmp_path / "classifier.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(images, verbose=0), before, rtol=1e-5, atol=1e-6)
    assert parameter_counts(loaded) == parameter_counts(model)
    assert find_backbone(loaded)[0].name == "resnet18" and infer_head(loaded) == "softmax"
    # training=False on the backbone call survives saving: BatchNormalization stays in
    # inference mode even when the whole model is called in training mode.
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(images, training=True)), before, rtol=1e-5, atol=1e-6
    )


def test_make_optimizer():
    assert set(OPTIMIZERS) == {"sgd", "adam", "adamw"}
    sgd = make_optimizer("SGD", 0.01, momentum=0.9)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == 0.9
    assert isinstance(make_optimizer("adam", 1e-3), keras.optimizers.Adam)
    adamw = make_optimizer("adamw", 1e-4, weight_decay=0.05)
    assert isinstance(adamw, keras.optimizers.AdamW)
    assert adamw.weight_decay == pytest.approx(0.05)
    assert float(keras.ops.convert_to_numpy(adamw.learning_rate)) == pytest.approx(1e-4)
    with pytest.raises(ValueError, match="adamw"):
        make_optimizer("rmsprop", 1e-3)
    with pytest.raises(ValueError, match="positive"):
        make_optimizer("adam", 0)


@pytest.mark.parametrize(
    "head, label_mode, loss_class",
    [
        ("logits", "int", keras.losses.SparseCategoricalCrossentropy),
        ("softmax", "int", keras.losses.SparseCategoricalCrossentropy),
        ("softmax", "categorical", keras.losses.CategoricalCrossentropy),
        ("sigmoid", "binary", keras.losses.BinaryCrossentropy),
    ],
)
def test_compile_picks_loss_for_head(head, label_mode, loss_class):
    num_classes = 2
    model = build_classifier("squeezenet1_1", num_classes, image_size=32, head=head)
    compile_classifier(model, "sgd", 0.01, label_mode=label_mode, momentum=0.9)
    assert isinstance(model.loss, loss_class)
    assert model.loss.get_config().get("from_logits", False) == (head == "logits")
    images = np.random.default_rng(3).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    labels = np.array([0, 1, 1, 0])
    if label_mode == "categorical":
        labels = np.eye(num_classes, dtype="float32")[labels]
    elif label_mode == "binary":
        labels = labels.astype("float32")[:, None]
    history = model.fit(images, labels, epochs=1, batch_size=4, verbose=0)
    assert set(history.history) == {"loss", "accuracy"}
    assert np.isfinite(history.history["loss"][0])


def test_compile_errors():
    model = build_classifier("squeezenet1_1", 2, image_size=32, head="sigmoid")
    with pytest.raises(ValueError, match="categorical"):
        compile_classifier(model, label_mode="categorical")
    with pytest.raises(ValueError, match="label_mode"):
        compile_classifier(model, label_mode="onehot")


def test_full_policy_trains_batchnorm_like_the_fer_paper():
    """trainable="full" reproduces the FER paper's Keras split for ResNet50 + Dense(7):
    23,548,935 trainable and 53,120 non-trainable (BatchNorm moving statistics)."""
    import keras

    from kerasbench.heads import build_classifier, parameter_counts

    model = build_classifier("resnet50", 7, image_size=32, head="softmax", trainable="full")
    counts = parameter_counts(model)
    assert (counts["trainable"], counts["non_trainable"]) == (23_548_935, 53_120)
    batchnorm = [layer for layer in model.get_layer("resnet50_backbone").get_layer("resnet50").layers
                 if isinstance(layer, keras.layers.BatchNormalization)]
    assert batchnorm and all(layer.trainable for layer in batchnorm)
