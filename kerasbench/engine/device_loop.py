"""Training a head on cached features with the features kept on the device.

Keras's ``fit`` on a ``tf.data`` pipeline copies every batch from host memory to the
accelerator and returns to Python after every step (or every ``steps_per_execution``
steps). For a head on cached features each step is a few microseconds of arithmetic, so
that overhead is the whole cost. :func:`fit_head_on_device` instead copies the features and
labels to the device once, and runs each epoch as ONE compiled call: batches are gathered
on the device from a seeded row order, the model's optimizer applies the gradients, and the
epoch's loss and accuracy (and the validation loss and accuracy) come back to the host once
per epoch.

It computes what ``model.fit`` computes for the same row order and batch size: the batch
loss is the mean sparse categorical cross-entropy of the batch; the epoch's loss is the
batch-size-weighted mean of its batch losses and its accuracy the fraction of correct
training predictions (both taken in training mode, as Keras reports them); validation
loss and accuracy are taken over the whole validation split after the epoch.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable

import numpy as np

__all__ = ["fit_head_on_device", "to_device"]

# One traced epoch function per model: the grid reuses one head model across trials.
_EPOCH_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _device_name() -> str:
    import tensorflow as tf

    return "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"


def to_device(array, dtype=None):
    """``array`` as a tensor resident on the accelerator (the CPU when there is none)."""
    import tensorflow as tf

    with tf.device(_device_name()):
        return tf.identity(tf.convert_to_tensor(array, dtype=dtype))


def _epoch_function(model):
    function = _EPOCH_FUNCTIONS.get(model)
    if function is None:
        function = _make_epoch_function(model)
        _EPOCH_FUNCTIONS[model] = function
    return function


def _make_epoch_function(model):
    import keras
    import tensorflow as tf

    per_example_loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                  reduction=None)

    def loss_and_correct(features, labels, training):
        logits = tf.cast(model(features, training=training), tf.float32)
        losses = per_example_loss(labels, logits)
        predicted = tf.argmax(logits, axis=-1, output_type=labels.dtype)
        correct = tf.reduce_sum(tf.cast(tf.equal(predicted, labels), tf.float32))
        return losses, correct

    # Batch size is a tensor so that every batch size of a grid shares one trace; the
    # last batch of an epoch is shorter, hence dynamic shapes and no XLA here. Indices and
    # labels are int64: TensorFlow keeps int32 tensors of GPU ops in host memory.
    @tf.function(reduce_retracing=True)
    def run_epoch(features, labels, order, batch_size, validation_features,
                  validation_labels, with_validation: bool):
        rows = tf.shape(order, out_type=tf.int64)[0]
        steps = (rows + batch_size - 1) // batch_size
        loss_sum = tf.constant(0.0)
        correct_sum = tf.constant(0.0)
        for step in tf.range(steps):
            start = step * batch_size
            rows_of_batch = order[start:tf.minimum(start + batch_size, rows)]
            batch_features = tf.gather(features, rows_of_batch)
            batch_labels = tf.gather(labels, rows_of_batch)
            with tf.GradientTape() as tape:
                losses, correct = loss_and_correct(batch_features, batch_labels, True)
                loss = tf.reduce_mean(losses)
                if model.losses:
                    loss += tf.add_n(model.losses)
            gradients = tape.gradient(loss, model.trainable_variables)
            model.optimizer.apply(gradients, model.trainable_variables)
            loss_sum += loss * tf.cast(tf.shape(rows_of_batch, out_type=tf.int64)[0], tf.float32)
            correct_sum += correct
        count = tf.cast(rows, tf.float32)
        results = {"loss": loss_sum / count, "accuracy": correct_sum / count}
        if with_validation:
            losses, correct = loss_and_correct(validation_features, validation_labels, False)
            validation_count = tf.cast(tf.shape(validation_labels, out_type=tf.int64)[0],
                                       tf.float32)
            results["val_loss"] = tf.reduce_mean(losses)
            results["val_accuracy"] = correct / validation_count
        return results

    return run_epoch


def fit_head_on_device(model, features: np.ndarray, labels: np.ndarray, *, epochs: int,
                       batch_size: int, order_of_epoch: Callable[[int], np.ndarray],
                       validation: tuple[np.ndarray, np.ndarray] | None = None,
                       callbacks=None) -> dict:
    """Train the compiled ``model`` (its optimizer; cross-entropy from logits) for
    ``epochs`` epochs; epoch ``e`` visits the training rows in ``order_of_epoch(e)``.

    Returns the history as ``fit`` would: ``loss``, ``accuracy``, ``val_loss``,
    ``val_accuracy`` (with ``validation``) and ``epoch_seconds``, one value per epoch.

    ``callbacks`` (default: the engine's :func:`~kerasbench.engine.fitting.standard_callbacks`)
    see the same ``on_train_begin`` / ``on_epoch_begin`` / ``on_epoch_end`` calls and
    logs as under ``fit``; one that sets ``model.stop_training`` ends the loop.
    """
    import keras
    import tensorflow as tf

    from kerasbench.engine.fitting import standard_callbacks

    if getattr(model, "optimizer", None) is None:
        raise ValueError("fit_head_on_device needs a compiled model (model.compile(...))")
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    if len(features) != len(labels):
        raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    device_features = to_device(np.asarray(features, dtype=np.float32))
    device_labels = to_device(np.asarray(labels, dtype=np.int64))
    if validation is not None:
        validation_features = to_device(np.asarray(validation[0], dtype=np.float32))
        validation_labels = to_device(np.asarray(validation[1], dtype=np.int64))
    else:
        validation_features = tf.zeros((0, device_features.shape[1]), tf.float32)
        validation_labels = tf.zeros((0,), tf.int64)
    run_epoch = _epoch_function(model)
    step_batch = tf.constant(int(batch_size), tf.int64)
    history: dict[str, list[float]] = {}
    callback_list = keras.callbacks.CallbackList(
        standard_callbacks() if callbacks is None else list(callbacks), model=model)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(int(epochs)):
        callback_list.on_epoch_begin(epoch)
        start = time.perf_counter()
        order = to_device(np.asarray(order_of_epoch(epoch), dtype=np.int64))
        results = run_epoch(device_features, device_labels, order, step_batch,
                            validation_features, validation_labels, validation is not None)
        # The one host round trip of the epoch.
        values = {name: float(value) for name, value in results.items()}
        values["epoch_seconds"] = time.perf_counter() - start
        callback_list.on_epoch_end(epoch, values)
        for name, value in values.items():
            history.setdefault(name, []).append(value)
        if model.stop_training:
            break
    callback_list.on_train_end()
    return history
