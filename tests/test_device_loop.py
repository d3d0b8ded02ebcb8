"""The device-resident head loop computes what Keras's fit computes, and the feature cache's
performance policy (precision in the key, recorded in rows, float32 on a CPU)."""

import keras
import numpy as np
import pytest

from kerasbench.engine.device_loop import fit_head_on_device
from kerasbench.engine.feature_cache import FeatureCache
from kerasbench.engine.feature_keys import feature_key_inputs, feature_policy
from kerasbench.engine.feature_models import build_head_model, compile_head
from kerasbench.engine.fitting import EpochTimer, epoch_order, standard_callbacks
from kerasbench.engine.probe import train_probe

ROWS, DIM, CLASSES = 37, 12, 4  # 37 rows: every batch size below leaves a short last batch


@pytest.fixture
def data():
    generator = np.random.default_rng(0)
    features = generator.normal(size=(ROWS, DIM)).astype("float32")
    labels = generator.integers(0, CLASSES, size=ROWS).astype("int64")
    validation = (generator.normal(size=(11, DIM)).astype("float32"),
                  generator.integers(0, CLASSES, size=11).astype("int64"))
    return features, labels, validation


def keras_fit_history(features, labels, validation, *, epochs, batch_size, seed,
                      callbacks=()):
    """The reference: Keras's fit over the same per-epoch row orders."""
    import tensorflow as tf

    model = build_head_model(DIM, CLASSES, seed=3)
    compile_head(model, 0.05)
    epochs_data = [tf.data.Dataset.from_tensor_slices(
        (features[order], labels[order].astype("int32"))).batch(batch_size)
        for order in (epoch_order(ROWS, seed, epoch) for epoch in range(epochs))]
    dataset = epochs_data[0]
    for more in epochs_data[1:]:
        dataset = dataset.concatenate(more)
    history = model.fit(dataset, epochs=epochs, steps_per_epoch=-(-ROWS // batch_size),
                        validation_data=(validation[0], validation[1].astype("int32")),
                        validation_batch_size=len(validation[1]), shuffle=False, verbose=0,
                        callbacks=list(callbacks))
    return model, history.history


@pytest.mark.parametrize("batch_size", [1, 8, 37])
def test_device_loop_equals_keras_fit(data, batch_size):
    features, labels, validation = data
    reference, expected = keras_fit_history(features, labels, validation, epochs=3,
                                            batch_size=batch_size, seed=5)
    model = build_head_model(DIM, CLASSES, seed=3)
    compile_head(model, 0.05)
    history = fit_head_on_device(model, features, labels, epochs=3, batch_size=batch_size,
                                 order_of_epoch=lambda epoch: epoch_order(ROWS, 5, epoch),
                                 validation=validation)
    assert set(history) == {"loss", "accuracy", "val_loss", "val_accuracy", "epoch_seconds"}
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history[name], expected[name], rtol=1e-5, atol=1e-6,
                                   err_msg=name)
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert all(seconds > 0 for seconds in history["epoch_seconds"])


class StopAfter(keras.callbacks.Callback):
    """Records every callback call and its logs; stops training after ``epochs`` epochs."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs, self.calls = epochs, []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", None))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, {k: v for k, v in logs.items()
                                                if k != "epoch_seconds"}))
        if epoch + 1 >= self.epochs:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.calls.append(("train_end", None))


def test_device_loop_runs_the_callbacks_as_keras_fit_does(data):
    """Extra callbacks see the same calls and logs, and stopping works the same way."""
    features, labels, validation = data
    theirs = StopAfter(2)
    _, expected = keras_fit_history(features, labels, validation, epochs=5, batch_size=8,
                                    seed=5, callbacks=[theirs])
    ours = StopAfter(2)
    model = build_head_model(DIM, CLASSES, seed=3)
    compile_head(model, 0.05)
    history = fit_head_on_device(model, features, labels, epochs=5, batch_size=8,
                                 order_of_epoch=lambda epoch: epoch_order(ROWS, 5, epoch),
                                 validation=validation,
                                 callbacks=standard_callbacks(extra=[ours]))
    assert len(history["loss"]) == len(expected["loss"]) == 2
    assert [call[:2] for call in ours.calls] == [call[:2] for call in theirs.calls]
    for mine, reference in zip(ours.calls, theirs.calls):
        if mine[0] == "epoch_end":
            assert set(mine[2]) == set(reference[2])
            for name, value in reference[2].items():
                np.testing.assert_allclose(mine[2][name], value, rtol=1e-5, atol=1e-6)
    assert len(history["epoch_seconds"]) == 2  # the standard EpochTimer ran
    assert any(isinstance(callback, EpochTimer) for callback in standard_callbacks())


def test_device_loop_early_stopping_equals_keras_fit(data):
    """The standard early stopping (restoring the best weights) stops at the same epoch
    with the same weights as under Keras's fit."""
    features, labels, validation = data
    settings = {"monitor": "val_loss", "patience": 1, "restore_best_weights": True}
    reference, expected = keras_fit_history(
        features, labels, validation, epochs=30, batch_size=4, seed=5,
        callbacks=[keras.callbacks.EarlyStopping(**settings)])
    model = build_head_model(DIM, CLASSES, seed=3)
    compile_head(model, 0.05)
    history = fit_head_on_device(model, features, labels, epochs=30, batch_size=4,
                                 order_of_epoch=lambda epoch: epoch_order(ROWS, 5, epoch),
                                 validation=validation,
                                 callbacks=standard_callbacks(early_stopping=settings))
    assert len(history["val_loss"]) == len(expected["val_loss"]) < 30  # it stopped early
    np.testing.assert_allclose(history["val_loss"], expected["val_loss"], rtol=1e-5, atol=1e-6)
    for ours, theirs in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_device_loop_without_validation_and_bad_input(data):
    features, labels, _ = data
    model = build_head_model(DIM, CLASSES, seed=3)
    with pytest.raises(ValueError, match="compiled"):
        fit_head_on_device(model, features, labels, epochs=1, batch_size=4,
                           order_of_epoch=lambda epoch: np.arange(ROWS))
    compile_head(model, 0.05)
    with pytest.raises(ValueError, match="labels"):
        fit_head_on_device(model, features, labels[:-1], epochs=1, batch_size=4,
                           order_of_epoch=lambda epoch: np.arange(ROWS))
    history = fit_head_on_device(model, features, labels, epochs=2, batch_size=4,
                                 order_of_epoch=lambda epoch: np.arange(ROWS))
    assert set(history) == {"loss", "accuracy", "epoch_seconds"}
    assert history["loss"][1] < history["loss"][0]  # it trains


# --------------------------------------------------------------------------- policy

BACKBONE, SIZE = "squeezenet1_1", 32


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    from kerasbench.data.index import index_folder
    from kerasbench.studies.clothing import make_demo_data

    root = make_demo_data(tmp_path_factory.mktemp("data") / "clothing", per_class=(3, 2, 2),
                         image_size=32)
    return index_folder(root)


def test_cpu_feature_policy_is_float32_without_xla():
    policy = feature_policy(BACKBONE)
    assert policy.compute_dtype == "float32" and not policy.jit_compile
    assert not policy.augment_on_device
    # The switches pass through, except augmentation, which features never see.
    forced = feature_policy(BACKBONE, {"mixed_precision": True, "augment_on_device": True})
    assert forced.compute_dtype == "bfloat16" and not forced.augment_on_device


def test_precision_is_part_of_the_key(index):
    train = index.split("train")
    settings = {"weights": None, "image_size": SIZE, "frame": train, "seed": 1}
    plain = feature_key_inputs(BACKBONE, policy=feature_policy(BACKBONE), **settings)
    mixed = feature_key_inputs(BACKBONE, policy=feature_policy(
        BACKBONE, {"mixed_precision": True}), **settings)
    assert plain["compute"] == {"dtype": "float32", "jit_compile": False}
    assert mixed["compute"]["dtype"] == "bfloat16"
    assert feature_key_inputs(BACKBONE, **settings) == plain  # no policy: the device's


def test_bfloat16_features_stay_close_to_float32(index, tmp_path):
    """bfloat16 keeps 8 bits of mantissa: features agree to about 1 % of their scale, and
    the two precisions are stored as separate cache entries."""
    frames = {"train": index.split("train")}
    cache = FeatureCache(tmp_path / "cache", verbose=False)
    settings = {"weights": None, "image_size": SIZE, "frames": frames, "seed": 1}
    plain = cache.features(BACKBONE, policy=feature_policy(BACKBONE), **settings)["train"]
    mixed = cache.features(BACKBONE, policy=feature_policy(BACKBONE, {"mixed_precision": True}),
                           **settings)["train"]
    assert cache.misses == 2 and plain.key != mixed.key
    # Computed by a bfloat16 extractor, not served by the memoised float32 one.
    assert not np.array_equal(mixed.features, plain.features)
    assert mixed.features.dtype == np.float32 and mixed.features.shape == plain.features.shape
    scale = float(np.abs(plain.features).max())
    assert float(np.abs(mixed.features - plain.features).max()) <= 0.03 * scale
    assert mixed.meta["inputs"]["compute"]["dtype"] == "bfloat16"


def test_probe_records_the_policy_it_applied(index, tmp_path):
    frames = {split: index.split(split) for split in ("train", "validation", "test")}
    settings = {"backbone": BACKBONE, "weights": None, "image_size": SIZE, "batch_size": 4,
                "learning_rate": 0.01, "epochs": 1, "seed": 1}
    cached = train_probe(frames, index.class_names,
                         cache=FeatureCache(tmp_path / "cache", batch_size=8, verbose=False),
                         **settings)
    assert cached.performance["head_training"] == "device loop"
    assert cached.performance["feature_batch_size"] == 8
    assert cached.performance["compute_dtype"] == "float32"  # a CPU
    plain = train_probe(frames, index.class_names, cache=None, **settings)
    assert plain.performance["head_training"] == "keras fit on images"


def test_feature_cache_batch_size_auto_follows_the_device(tmp_path):
    from kerasbench.performance import device_description

    cache = FeatureCache(tmp_path / "cache", verbose=False)
    expected = (FeatureCache.GPU_BATCH_SIZE if device_description()["kind"] == "GPU"
                else FeatureCache.CPU_BATCH_SIZE)
    assert cache.batch_size == expected
    with pytest.raises(ValueError, match="batch_size"):
        FeatureCache(tmp_path / "cache", batch_size="large")
