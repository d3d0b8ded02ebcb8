"""The engine's Siamese path: ONE training of a pair model, evaluated at several epochs.

Runs that differ only in their epoch count (the faces grid's 50 / 75 / 100 epochs) share
one training: :func:`train_pair_runs` builds and compiles the pair model under the
device's performance policy, fits it with the engine's standard callbacks
(:func:`kerasbench.engine.fitting.fit_model`) plus :class:`EpochCheckpoints`, and after
each requested epoch chooses the decision threshold on the threshold split's pairs and
scores every evaluation split at it. It returns ``{run_id: TrainResult}``, one per epoch
count, each as a separate run of that many epochs would have given (same seed, same
batches, same updates), for :func:`kerasbench.engine.execute_group`;
:func:`run_pair_group` wraps the two.

The data object is the study's (``kerasbench.studies.faces.FacesData``); the engine reads
``splits[name].images`` / ``.person_labels`` / ``.paths``, ``pairs[name]`` (``index_a``,
``index_b``, ``label``), ``threshold_split``, ``image_size`` and ``pair_files``.
Per-pair test outcomes go to ``extra["predictions"][split]`` (``y_true`` = pair label,
1 = same person; ``y_pred`` = the decision; ``score`` = -distance) for
:mod:`kerasbench.stats`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np

from kerasbench.engine.execute import RunOutcome, RunSpec, TrainResult, execute_group
from kerasbench.engine.fitting import check_distribution, fit_model, resolve_distribution
from kerasbench.errors import ConfigError
from kerasbench.store import RunStore
from kerasbench.validate import choice, known_keys

DEFAULT_CONFIG = {
    "squeezenet_version": "1.0",
    "weights": None,
    "image_size": 224,
    "embedding_dim": 128,
    "l2_normalize": True,
    "margin": 1.0,
    "optimizer": "sgd",
    "learning_rate": 0.01,
    "epochs": 1,
    "batch_size": 32,
    "pairs_per_person": 20,
    "augmentation": None,
    "threshold_criterion": "balanced_accuracy",
    # Switches for kerasbench.performance.choose_policy ({"mixed_precision": False, ...});
    # None picks the device's best. The resolved policy is recorded in every record.
    "performance": None,
    # tf.distribute for the training (kerasbench.engine.fitting.resolve_distribution);
    # "auto" (MirroredStrategy over several GPUs) stays out of the run's identity.
    "distribution": "auto",
    "seed": 42,
    # How the data was split and paired (recorded for identity; set from the data).
    "split": "person",
    "test_fraction": 0.2,
    "validation_fraction": 0.1,
    "evaluation_pairs_per_person": 20,
    "split_seed": 42,
}
# Labels a study may add (they enter the run's identity, not the training).
LABEL_KEYS = ("dataset", "study", "experiment", "paper_epochs")
SAVE_VERIFIERS = ("all", "final", "none")


def resolve_config(config: dict) -> dict:
    """Defaults filled in and checked; unknown keys are an error (a typo would be a
    silently different run)."""
    from kerasbench.siamese import THRESHOLD_CRITERIA, squeezenet_backbone_name

    known_keys(config, [*DEFAULT_CONFIG, *LABEL_KEYS], "Siamese run settings")
    resolved = {**DEFAULT_CONFIG, **config}
    choice(resolved["split"], "split", ("person", "image"))
    choice(resolved["threshold_criterion"], "threshold_criterion", THRESHOLD_CRITERIA)
    if resolved["augmentation"] is not None and not isinstance(resolved["augmentation"], dict):
        raise ConfigError("augmentation must be a dict of ImageDataGenerator-style settings "
                          f"or None, got {resolved['augmentation']!r}")
    resolved["squeezenet_version"] = squeezenet_backbone_name(
        resolved["squeezenet_version"]).replace("squeezenet", "").replace("_", ".")
    resolved["optimizer"] = str(resolved["optimizer"]).lower()
    resolved["learning_rate"] = float(resolved["learning_rate"])
    resolved["epochs"] = int(resolved["epochs"])
    if resolved["weights"] is not None:
        resolved["weights"] = str(resolved["weights"])
    if check_distribution(resolved.pop("distribution")) != "auto":
        resolved["distribution"] = config["distribution"]
    return resolved


def training_key(config: dict) -> dict:
    """What one training shares: the config without its epoch count and labels."""
    return {key: value for key, value in config.items()
            if key != "epochs" and key not in LABEL_KEYS}


# --------------------------------------------------------------------------- training


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
    """Fit up to the largest of ``epochs`` with the engine's standard callbacks and call
    ``evaluate(e)`` after each epoch ``e`` in ``epochs``. Returns ``history`` (per epoch),
    ``checkpoints`` ({epoch: evaluate's result}), ``training_seconds`` ({epoch: seconds})
    and ``seconds`` (the whole fit)."""
    requested = [epochs] if isinstance(epochs, (int, np.integer)) else list(epochs)
    if not requested or any(isinstance(e, bool) or int(e) != e or e < 1 for e in requested):
        raise ConfigError(f"epochs must be positive integers, got {epochs!r}")
    checkpoints = EpochCheckpoints(requested, evaluate if evaluate is not None else (lambda e: None))
    outcome = fit_model(model, train_batches, validation_batches,
                        epochs=max(checkpoints.epochs), callbacks=[checkpoints], verbose=verbose)
    return {"history": outcome["history"], "checkpoints": checkpoints.results,
            "training_seconds": checkpoints.training_seconds, "seconds": outcome["seconds"]}


# --------------------------------------------------------------------------- evaluation


def finite_distances(distances) -> tuple[np.ndarray, bool]:
    """A diverged model gives NaN/inf distances; score them as "very far" and say so."""
    distances = np.asarray(distances, dtype=float)
    finite = np.isfinite(distances)
    if finite.all():
        return distances, False
    ceiling = float(distances[finite].max() * 2 + 1) if finite.any() else 1e6
    return np.where(finite, distances, ceiling), True


def score_split(embedding_model, part, pairs) -> np.ndarray:
    """Distances of ``pairs`` of one split: each image embedded once, a pair's distance
    then two rows of the embedding table."""
    from kerasbench import siamese

    embeddings = siamese.embed_images(embedding_model, part.images)
    return siamese.pair_distances(embeddings, pairs["index_a"], pairs["index_b"])


def evaluate_checkpoint(embedding_model, data, criterion: str) -> dict:
    """Threshold from the threshold split's pairs, then every evaluation split scored at it:
    ``threshold``, ``threshold_split``, ``metrics``, ``distances``, ``predictions``,
    ``diverged``."""
    from kerasbench import siamese

    chooser = data.threshold_split
    distances, diverged = finite_distances(score_split(embedding_model, data.splits[chooser],
                                                       data.pairs[chooser]))
    labels = data.pairs[chooser]["label"].to_numpy()
    threshold = siamese.choose_threshold(distances, labels, criterion)
    result = {"threshold": threshold, "threshold_split": chooser, "metrics": {},
              "distances": {}, "predictions": {}, "diverged": diverged}
    for name, pairs in data.pairs.items():
        if name == chooser:
            split_distances = distances
        else:
            split_distances, split_diverged = finite_distances(
                score_split(embedding_model, data.splits[name], pairs))
            result["diverged"] = result["diverged"] or split_diverged
        truth = pairs["label"].astype(int).to_numpy()
        result["metrics"][name] = siamese.evaluate_pairs(split_distances, truth, threshold)
        result["distances"][name] = {"distance": split_distances.tolist(),
                                     "label": truth.tolist()}
        result["predictions"][name] = {
            "y_true": truth.tolist(),
            "y_pred": siamese.predict_same(split_distances, threshold).tolist(),
            "score": (-split_distances).tolist()}
    return result


# --------------------------------------------------------------------------- runs


def _check_group(specs: Sequence[RunSpec], data) -> dict:
    from kerasbench.siamese import as_image_shape

    if not specs:
        raise ValueError("no Siamese runs to train")
    shared = training_key(specs[0].config)
    for spec in specs[1:]:
        if training_key(spec.config) != shared:
            raise ValueError("one Siamese training serves runs that differ only in epochs; "
                             f"{spec.describe()} differs from {specs[0].describe()} otherwise")
    if as_image_shape(shared["image_size"]) != tuple(data.image_size):
        raise ConfigError(f"the config's image_size {shared['image_size']} differs from the "
                          f"data's {tuple(data.image_size)}: load the data at that size")
    if "train" not in data.splits or "test" not in data.pairs:
        raise ConfigError("Siamese runs need a train split and test pairs; "
                          f"the data has splits {sorted(data.splits)}, pairs {sorted(data.pairs)}")
    return shared


def train_pair_runs(specs: Sequence[RunSpec], data, *, models_dir=None,
                    save_verifiers: str = "final", latency_repeats: int = 10,
                    verbose: int = 0) -> dict[str, TrainResult]:
    """ONE training for ``specs`` (same config but ``epochs``), evaluated after each of
    their epoch counts: ``{run_id: TrainResult}``.

    ``save_verifiers``: ``"all"`` (a :class:`kerasbench.siamese.FaceVerifier` folder per
    run), ``"final"`` (the longest run only) or ``"none"``; folders are
    ``models_dir/<run_id>/``.
    """
    from kerasbench import siamese
    from kerasbench.heads import parameter_counts
    from kerasbench.performance import choose_policy
    from kerasbench.pipeline import Augmentation
    from kerasbench.seeding import set_seed

    choice(save_verifiers, "save_verifiers", SAVE_VERIFIERS)
    config = _check_group(specs, data)
    by_epoch = {spec.config["epochs"]: spec for spec in specs}
    setup_start = time.perf_counter()
    distribution = resolve_distribution(config.get("distribution", "auto"))
    seed = set_seed(config["seed"])
    policy = choose_policy(siamese.squeezenet_backbone_name(config["squeezenet_version"]),
                           image_size=max(data.image_size), **(config["performance"] or {}))
    jit_compile, applied = distribution.applied_policy(policy)
    # Networks, optimizer and metrics are built in the strategy's scope; the batch size
    # is global (each replica computes its share of every batch of pairs).
    with distribution.scope():
        embedding = siamese.build_embedding_network(
            config["squeezenet_version"], image_size=data.image_size,
            weights=config["weights"], embedding_dim=config["embedding_dim"],
            l2_normalize=config["l2_normalize"], policy=policy)
    augmentation = None
    if config["augmentation"]:
        augmentation = Augmentation.from_image_data_generator(
            **{"seed": seed, **config["augmentation"]})
    # Augmentation runs in one place: inside the model (on the device) or in the batches.
    in_model, in_batches = ((augmentation, None) if policy.augment_on_device
                            else (None, augmentation))
    with distribution.scope():
        model = siamese.build_siamese_model(embedding, augmentation=in_model,
                                            xla_compatible=jit_compile)
        siamese.compile_siamese(model, optimizer=config["optimizer"],
                                learning_rate=config["learning_rate"],
                                margin=config["margin"], jit_compile=jit_compile)
    train = data.splits["train"]
    train_batches = siamese.PairBatches(
        train.images, person_labels=train.person_labels,
        pairs_per_person=config["pairs_per_person"], batch_size=config["batch_size"],
        shuffle=True, seed=seed, augmentation=in_batches)
    validation_batches = None
    if "validation" in data.pairs:
        validation_batches = siamese.PairBatches(
            data.splits["validation"].images, data.pairs["validation"],
            batch_size=max(config["batch_size"], 64))
    setup_seconds = time.perf_counter() - setup_start
    last = max(by_epoch)

    def evaluate(epoch: int) -> dict:
        start = time.perf_counter()
        result = evaluate_checkpoint(embedding, data, config["threshold_criterion"])
        result["evaluation_seconds"] = time.perf_counter() - start
        spec = by_epoch[epoch]
        if models_dir is not None and (save_verifiers == "all" or
                                       (save_verifiers == "final" and epoch == last)):
            folder = Path(models_dir) / spec.run_id
            siamese.FaceVerifier(embedding, result["threshold"], metadata={
                "config": spec.config, "run_id": spec.run_id,
                "threshold_split": result["threshold_split"],
                "threshold_criterion": config["threshold_criterion"]}).save(folder)
            result["verifier_dir"] = str(folder)
        return result

    outcome = train_siamese(model, train_batches, epochs=sorted(by_epoch),
                            validation_batches=validation_batches, evaluate=evaluate,
                            verbose=verbose)
    test = data.splits["test"]
    verifier = siamese.FaceVerifier(embedding, outcome["checkpoints"][last]["threshold"])
    latency = siamese.measure_latency(verifier, test.paths[0], test.paths[1],
                                      batch_images=test.images, repeats=latency_repeats)
    counts = parameter_counts(embedding)
    results = {}
    for epoch, spec in by_epoch.items():
        checkpoint = outcome["checkpoints"][epoch]
        train_seconds = outcome["training_seconds"][epoch]
        metrics = checkpoint["metrics"]
        results[spec.run_id] = TrainResult(
            metrics=metrics,
            history={key: values[:epoch] for key, values in outcome["history"].items()},
            durations={"train_s": train_seconds, "evaluate_s": checkpoint["evaluation_seconds"],
                       "setup_s": setup_seconds, "verify_pair_s": latency["single_pair_seconds"],
                       # What a separate run of this many epochs would have taken.
                       "total_s": setup_seconds + train_seconds
                       + checkpoint["evaluation_seconds"]},
            policy=applied,
            extra={
                "distribution": distribution.describe(config["batch_size"]),
                "threshold": checkpoint["threshold"],
                "threshold_split": checkpoint["threshold_split"],
                "diverged": checkpoint["diverged"],
                "predictions": checkpoint["predictions"],
                "pair_distances": checkpoint["distances"],
                "pair_files": {name: str(path) for name, path in
                               getattr(data, "pair_files", {}).items()},
                "latency": latency,
                "parameters": counts,
                "trained_in_run_of_epochs": last,
                "verifier_dir": checkpoint.get("verifier_dir"),
                "split_people": getattr(data, "split_people", None),
            },
            evaluated_splits=list(metrics),
            model=embedding if epoch == last else None,
        )
    return results


def run_pair_group(specs: Sequence[RunSpec], store: RunStore, data, *, overwrite: bool = False,
                   **options) -> list[RunOutcome]:
    """:func:`kerasbench.engine.execute_group` of one training: the epoch counts already
    finished in ``store`` are not redone; ``options`` go to :func:`train_pair_runs`."""
    return execute_group(specs, store, lambda needed: train_pair_runs(needed, data, **options),
                         overwrite=overwrite)
