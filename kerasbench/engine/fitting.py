"""Fitting a Keras model the same way for every kind of run: the same callbacks (epoch
timer, early stopping, any extra ones), the same history format, the same outcome; and
on which devices (:func:`resolve_distribution`: one device, ``MirroredStrategy`` over the
GPUs, or ``MultiWorkerMirroredStrategy`` across machines)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

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
    if _replicas(model) > 1 and not fit_options:
        history = fit_replicated(model, train_dataset, validation_dataset, epochs=int(epochs),
                                 callbacks=all_callbacks, class_weight=class_weight)
    else:
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


def _replicas(model) -> int:
    """Replicas of the strategy ``model`` was built under (1 without one)."""
    import tensorflow as tf

    strategy = getattr(model, "distribute_strategy", None)
    if not isinstance(strategy, (tf.distribute.MirroredStrategy,
                                 tf.distribute.MultiWorkerMirroredStrategy)):
        return 1
    return int(strategy.num_replicas_in_sync)


def _replicated(strategy, step):
    """One distributed step over the next batch; per-replica results averaged."""
    import tensorflow as tf

    @tf.function
    def function(iterator):
        outputs = strategy.run(step, args=(next(iterator),))
        return {key: strategy.reduce("MEAN", value, axis=None) for key, value in outputs.items()}

    return function


def _passes(strategy, dataset):
    """``(steps per epoch, distributed dataset)``; each epoch is one pass (iterator)."""
    steps = int(dataset.cardinality())
    if steps < 0:
        raise ValueError("training under a strategy needs datasets of known length")
    return steps, strategy.experimental_distribute_dataset(dataset)


def _py_dataset_signature(batches):
    """The ``tf.TensorSpec`` structure of a ``keras.utils.PyDataset``'s batches: its
    ``output_signature`` when it has one (reading a batch to find it could draw random
    augmentation), else that of its first batch."""
    import tensorflow as tf

    signature = getattr(batches, "output_signature", None)
    if signature is not None:
        return signature
    return tf.nest.map_structure(
        lambda array: tf.TensorSpec((None, *np.shape(array)[1:]),
                                    tf.as_dtype(np.asarray(array).dtype)), batches[0])


def _py_dataset_pass(strategy, batches):
    """``(steps, distributed dataset)`` of one epoch of a ``keras.utils.PyDataset``: its
    batches in order, as ``fit`` reads them on one device (the caller then calls its
    ``on_epoch_end``)."""
    import tensorflow as tf

    steps = len(batches)
    signature = _py_dataset_signature(batches)
    flat = tf.nest.flatten(signature)

    def read(number):
        return tf.nest.flatten(batches[int(number)])

    def element(number):
        parts = tf.py_function(read, [number], [spec.dtype for spec in flat])
        for part, spec in zip(parts, flat):
            part.set_shape(spec.shape)
        return tf.nest.pack_sequence_as(signature, parts)

    # A map over batch numbers, in order, one at a time: lazy (one batch in memory), and
    # deterministic (a generator-backed dataset gave other batches now and then under
    # MirroredStrategy).
    dataset = tf.data.Dataset.range(steps).map(element)
    return steps, strategy.experimental_distribute_dataset(dataset)


def _run_epoch(function, steps, distributed, *, keep_in_step: bool = False) -> dict:
    iterator, logs = iter(distributed), {}
    for _ in range(steps):
        logs = function(iterator)
    if keep_in_step:
        # Keras's fit on one device starts one more pass at the end of each epoch (its
        # epoch iterator renews itself once it has seen every batch, and the next epoch
        # starts its own): as many passes keep tf.data's per-pass reshuffles - the epochs'
        # orders - the same as on one device.
        iter(distributed)
    return {key: float(value) for key, value in logs.items()}


def fit_replicated(model, train_dataset, validation_dataset=None, *, epochs: int,
                   callbacks: Sequence = (), class_weight=None):
    """``model.fit`` for a model built under a multi-replica strategy (datasets: tf.data,
    or ``keras.utils.PyDataset`` such as the Siamese pair batches): Keras's own
    ``train_step`` / ``test_step`` run by the strategy, one step per global batch, with
    the same callbacks and history. Not ``fit`` itself, which under a strategy (Keras 3.15,
    TensorFlow backend) first draws a batch from a fresh pass for a symbolic build - moving
    tf.data's per-epoch shuffle one epoch along, so results differ from one device - and
    which fails outright under MultiWorkerMirroredStrategy (keras-team/keras#20585: the
    input batch is reduced across workers, and scalar logs averaged over axis 0). Loss,
    metrics and optimizer are built first, outside a replica context."""
    import tensorflow as tf

    strategy = model.distribute_strategy
    py_datasets = [isinstance(data, keras.utils.PyDataset)
                   for data in (train_dataset, validation_dataset)]
    if class_weight and py_datasets[0]:
        raise ValueError("class_weight under a strategy needs a tf.data training dataset")
    if class_weight:
        weights = tf.constant([float(class_weight[i]) for i in range(len(class_weight))])

        def weighted(x, y):
            one_hot = y.shape.rank == 2 and (y.shape[-1] or 1) > 1
            labels = tf.argmax(y, axis=-1) if one_hot else tf.reshape(y, [-1])
            return x, y, tf.gather(weights, tf.cast(labels, tf.int32))

        train_dataset = train_dataset.map(weighted)
    # A batch of zeros of the input's shape (taking a real batch would start a pass over
    # the data and move tf.data's per-epoch shuffle along).
    spec = (_py_dataset_signature(train_dataset) if py_datasets[0]
            else train_dataset.element_spec)
    x, y = tf.nest.map_structure(lambda part: tf.zeros([1, *part.shape[1:]], part.dtype),
                                 tuple(spec[:2]))
    with strategy.scope():
        y_pred = model(x, training=False)
        model.compute_loss(x=x, y=y, y_pred=y_pred)
        model.compute_metrics(x, y, y_pred, sample_weight=None)
        model.optimizer.build(model.trainable_variables)
    model.reset_metrics()
    if py_datasets[0]:
        # Keras's fit on one device builds its metrics from the first batch of a pass it
        # then ends (Trainer._symbolic_build): a PyDataset's epoch 0 is drawn, one batch
        # read, and never trained on. The same here, so both train on the same batches.
        train_dataset[0]
        train_dataset.on_epoch_end()
    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList([*callbacks, history], model=model,
                                                 epochs=epochs, verbose=0)
    train_step = _replicated(strategy, model.train_step)
    test_step = _replicated(strategy, model.test_step)
    train = None if py_datasets[0] else _passes(strategy, train_dataset)
    validation = None
    if validation_dataset is not None and not py_datasets[1]:
        validation = _passes(strategy, validation_dataset)
    model.stop_training = False
    callback_list.on_train_begin()
    for epoch in range(int(epochs)):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        if py_datasets[0]:
            logs = _run_epoch(train_step, *_py_dataset_pass(strategy, train_dataset))
            train_dataset.on_epoch_end()
        else:
            logs = _run_epoch(train_step, *train, keep_in_step=True)
        if validation_dataset is not None:
            model.reset_metrics()
            passes = (_py_dataset_pass(strategy, validation_dataset) if py_datasets[1]
                      else validation)
            logs.update({f"val_{key}": value
                         for key, value in _run_epoch(test_step, *passes).items()})
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end()
    return history


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


# --------------------------------------------------------------------------- devices

DISTRIBUTIONS = ("auto", "none", "mirrored", "multi_worker")
# Keras 3 on TensorFlow cannot compile a MirroredStrategy training step with XLA
# (keras-team/keras#20763: "merge_call called while defining a new graph"; on logical CPU
# devices XLA cannot reach the other replica's variables): XLA is off when replicas > 1.
XLA_UNDER_REPLICAS = "XLA off: Keras cannot compile a multi-replica step (keras-team/keras#20763)"
_STRATEGIES: dict = {}


@dataclass
class Distribution:
    """How one training uses the devices: ``kind`` none / mirrored / multi_worker, the
    strategy (``None`` for none) and its replicas; the batch size in configs is global."""

    setting: str
    kind: str
    strategy: object = None
    replicas: int = 1
    reason: str = ""

    def scope(self):
        """Build, compile (optimizer, metrics) and wrap models inside this block."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()

    @property
    def writes_records(self) -> bool:
        """False in a multi-worker cluster's non-chief processes (one record per run)."""
        if self.kind != "multi_worker":
            return True
        return bool(self.strategy.extended.should_checkpoint)

    def allows_xla(self) -> bool:
        return self.replicas == 1 and self.kind != "multi_worker"

    def applied_policy(self, policy) -> tuple[bool, dict]:
        """``(jit_compile, policy as recorded)`` of a training under this distribution:
        the policy's XLA switch unless the replicas rule it out (the record says why)."""
        applied = policy.to_dict()
        jit_compile = bool(policy.jit_compile) and self.allows_xla()
        if policy.jit_compile and not jit_compile:
            applied.update(jit_compile=False, xla_reason=XLA_UNDER_REPLICAS)
        return jit_compile, applied

    def prepare(self, dataset):
        """A multi-worker dataset is sharded by batches (every worker builds the same
        seeded pipeline from the same files; file sharding would need one file per shard)."""
        if self.kind != "multi_worker" or dataset is None:
            return dataset
        import tensorflow as tf

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA)
        return dataset.with_options(options)

    def describe(self, global_batch: int) -> dict:
        """What the record says: strategy, replicas, and the global and per-replica batch."""
        return {"setting": self.setting, "kind": self.kind,
                "strategy": type(self.strategy).__name__ if self.strategy else None,
                "replicas": self.replicas, "global_batch": int(global_batch),
                "per_replica_batch": -(-int(global_batch) // self.replicas),
                "writes_records": self.writes_records, "reason": self.reason}


def check_distribution(setting) -> str:
    if setting not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {list(DISTRIBUTIONS)}, got {setting!r}")
    return setting


def strategy_for(kind: str):
    """One strategy per kind per process (a MultiWorkerMirroredStrategy can be made only
    once, before TensorFlow runs anything: call this first thing in such a program)."""
    import tensorflow as tf

    if kind not in _STRATEGIES:
        if kind == "mirrored":
            gpus = tf.config.list_logical_devices("GPU")
            cpus = tf.config.list_logical_devices("CPU")
            devices = [d.name for d in gpus] if gpus else [d.name for d in cpus]
            _STRATEGIES[kind] = tf.distribute.MirroredStrategy(devices)
        elif kind == "multi_worker":
            if not os.environ.get("TF_CONFIG"):
                raise ValueError("distribution 'multi_worker' needs TF_CONFIG (the cluster "
                                 "and this task); see docs/scaling.md")
            try:
                _STRATEGIES[kind] = tf.distribute.MultiWorkerMirroredStrategy()
            except (RuntimeError, ValueError) as error:
                raise RuntimeError(
                    "MultiWorkerMirroredStrategy must be created before TensorFlow runs "
                    "anything: call kerasbench.engine.fitting.strategy_for('multi_worker') "
                    f"at the start of the program ({error})") from error
        else:
            raise ValueError(f"no strategy for distribution kind {kind!r}")
    return _STRATEGIES[kind]


def resolve_distribution(setting: str = "auto") -> Distribution:
    """``"auto"``: MirroredStrategy when more than one GPU is visible, else none (the
    environment variable ``KERASBENCH_DISTRIBUTION`` may name another setting for
    ``"auto"``, e.g. ``none`` or ``multi_worker``); ``"none"``; ``"mirrored"`` (every GPU,
    or every logical CPU device when there is no GPU); ``"multi_worker"`` (TF_CONFIG)."""
    import tensorflow as tf

    setting = check_distribution(setting)
    kind, reason = setting, "asked for"
    if setting == "auto":
        override = os.environ.get("KERASBENCH_DISTRIBUTION", "").strip()
        if override and override != "auto":
            kind, reason = check_distribution(override), "KERASBENCH_DISTRIBUTION"
        else:
            gpus = len(tf.config.list_physical_devices("GPU"))
            kind = "mirrored" if gpus > 1 else "none"
            reason = f"auto: {gpus} GPU(s) visible"
    if kind == "none":
        return Distribution(setting, "none", reason=reason)
    strategy = strategy_for(kind)
    if kind == "mirrored" and strategy.num_replicas_in_sync == 1:
        return Distribution(setting, "none", reason="mirrored on one device: no strategy")
    return Distribution(setting, kind, strategy, int(strategy.num_replicas_in_sync), reason)
