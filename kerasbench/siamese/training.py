"""Training: :func:`train_siamese` fits once and evaluates at every requested epoch
(:class:`EpochCheckpoints`), so 50/75/100-epoch runs come from one training run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

import keras
import numpy as np


class EpochCheckpoints(keras.callbacks.Callback):
    """Calls ``evaluate(epoch)`` after each requested epoch (1-based) of ONE training run.

    Runs that differ only in their epoch count then share the training: the 100-epoch run's
    first 50 epochs ARE the 50-epoch run (same seed, same batches, same updates), which
    ``tests/test_siamese.py`` checks. ``training_seconds[e]`` is the training time up to
    epoch ``e``, evaluation time excluded, i.e. what a separate ``e``-epoch run would take.
    """

    def __init__(self, epochs: Iterable[int], evaluate: Callable[[int], Any]):
        super().__init__()
        self.epochs = sorted({int(epoch) for epoch in epochs})
        self.evaluate = evaluate
        self.results: dict[int, Any] = {}
        self.training_seconds: dict[int, float] = {}

    def on_train_begin(self, logs=None):
        self._start = time.perf_counter()
        self._evaluation_seconds = 0.0

    def on_epoch_end(self, epoch, logs=None):
        finished = epoch + 1
        if finished not in self.epochs:
            return
        self.training_seconds[finished] = (time.perf_counter() - self._start
                                           - self._evaluation_seconds)
        start = time.perf_counter()
        self.results[finished] = self.evaluate(finished)
        self._evaluation_seconds += time.perf_counter() - start


def train_siamese(model: keras.Model, train_batches, *, epochs: Iterable[int] | int,
                  validation_batches=None, evaluate: Callable[[int], Any] | None = None,
                  verbose: int = 0) -> dict:
    """Fit up to the largest of ``epochs``; call ``evaluate(e)`` after each epoch ``e`` in
    ``epochs``. Returns ``history`` (per epoch), ``checkpoints`` ({epoch: evaluate's
    result}), ``training_seconds`` ({epoch: seconds}) and ``seconds`` (the whole fit)."""
    requested = [epochs] if isinstance(epochs, (int, np.integer)) else list(epochs)
    if not requested or any(isinstance(e, bool) or int(e) != e or e < 1 for e in requested):
        raise ValueError(f"epochs must be positive integers, got {epochs!r}")
    checkpoints = EpochCheckpoints(requested, evaluate if evaluate is not None else (lambda e: None))
    start = time.perf_counter()
    history = model.fit(train_batches, validation_data=validation_batches,
                        epochs=max(checkpoints.epochs), callbacks=[checkpoints],
                        shuffle=False, verbose=verbose)
    seconds = time.perf_counter() - start
    return {
        "history": {key: [float(v) for v in values] for key, values in history.history.items()},
        "checkpoints": checkpoints.results,
        "training_seconds": checkpoints.training_seconds,
        "seconds": seconds,
    }

