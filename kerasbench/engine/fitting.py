"""Fitting a Keras model the same way for every kind of run: the same callbacks (epoch
timer, early stopping, any extra ones), the same history format, the same outcome."""

from __future__ import annotations

import time
from collections.abc import Sequence

import keras
import numpy as np

from kerasbench.validate import known_keys


class EpochTimer(keras.callbacks.Callback):
    """Records each epoch's wall time into the history as ``epoch_seconds``."""

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["epoch_seconds"] = time.perf_counter() - self._start


EARLY_STOPPING_SETTINGS = ("monitor", "patience", "min_delta", "restore_best_weights", "mode",
                           "start_from_epoch")


def early_stopping_callback(settings: dict | None):
    """``{"monitor": "val_loss", "patience": 10, "restore_best_weights": True}`` -> callback."""
    if not settings:
        return None
    known_keys(settings, EARLY_STOPPING_SETTINGS, "early_stopping settings")
    options = {"monitor": "val_loss", "patience": 10, "restore_best_weights": True, **settings}
    return keras.callbacks.EarlyStopping(**options)


def standard_callbacks(early_stopping: dict | None = None,
                       extra: Sequence[keras.callbacks.Callback] = ()) -> list:
    """The callbacks every training in the project runs with."""
    callbacks = [EpochTimer()]
    stopper = early_stopping_callback(early_stopping)
    if stopper is not None:
        callbacks.append(stopper)
    return callbacks + list(extra)


def history_dict(history) -> dict:
    return {key: [float(value) for value in values] for key, values in history.items()}


def fit_model(model, train_dataset, validation_dataset=None, *, epochs: int,
              early_stopping: dict | None = None, class_weight=None, verbose: int = 0,
              callbacks: Sequence = (), **fit_options) -> dict:
    """Fit and return the history, training seconds and the early-stopping outcome."""
    all_callbacks = standard_callbacks(early_stopping, callbacks)
    stopper = next((c for c in all_callbacks if isinstance(c, keras.callbacks.EarlyStopping)),
                   None)
    start = time.perf_counter()
    history = model.fit(
        train_dataset, validation_data=validation_dataset, epochs=int(epochs),
        class_weight=class_weight, callbacks=all_callbacks, verbose=verbose,
        shuffle=False,  # the tf.data pipeline (or the caller's order) already shuffles
        **fit_options,
    )
    seconds = time.perf_counter() - start
    values = history_dict(history.history)
    epochs_run = len(next(iter(values.values()))) if values else 0
    outcome = {"history": values, "seconds": seconds, "epochs_run": epochs_run,
               "stopped_early": False, "stopped_epoch": epochs_run, "best_epoch": epochs_run}
    if stopper is not None:
        monitored = values.get(stopper.monitor)
        if monitored:
            better = np.argmax if "acc" in stopper.monitor else np.argmin
            outcome["best_epoch"] = int(better(monitored)) + 1
        outcome["stopped_early"] = epochs_run < epochs
        outcome["restored_best_weights"] = bool(stopper.restore_best_weights)
    return outcome


def epoch_order(rows: int, seed: int, epoch: int) -> np.ndarray:
    """The training rows' order in ``epoch``: one seeded permutation per epoch, shared by
    every path that trains on the same rows (features on the device, images in tf.data)."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(int(rows))


def fit_epochs(model, make_epoch, validation, *, epochs: int, rows: int, seed: int,
               batch_size: int, validation_batch_size: int | None = None,
               verbose: int = 0) -> dict:
    """Fit ``epochs`` epochs in ONE ``fit`` call on the epochs' datasets chained together.

    Epoch ``e`` is ``make_epoch(epoch_order(rows, seed, e))``. With ``steps_per_epoch``
    set, Keras keeps one iterator across epochs, so epoch ``e`` gets exactly its own
    batches; a single call avoids Keras's per-call set-up once per epoch.
    """
    dataset = make_epoch(epoch_order(rows, seed, 0))
    for epoch in range(1, int(epochs)):
        dataset = dataset.concatenate(make_epoch(epoch_order(rows, seed, epoch)))
    outcome = fit_model(model, dataset, validation, epochs=int(epochs), verbose=verbose,
                        steps_per_epoch=-(-int(rows) // int(batch_size)),
                        validation_batch_size=validation_batch_size)
    return outcome["history"]
