"""Heads trained on a frozen backbone (the linear probe), in one of two ways that are the
same computation:

- ``cache`` given (the fast path): the head alone, ``Input(feature_dim) -> Dense``, is
  fitted on cached features, on the device, one compiled call per epoch
  (:mod:`kerasbench.engine.device_loop`);
- ``cache=None`` (the plain path): the whole frozen model ``image -> backbone -> average
  pooling -> Dense`` is fitted on decoded images, as the paper did.

Both paths build the head with the same seeded initialiser, feed the training rows in the
same order (one seeded permutation of row indices per epoch) and evaluate in one ordered
pass, so their scores agree (to float round-off).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from kerasbench.engine.execute import TrainResult
from kerasbench.engine.feature_cache import FeatureCache
from kerasbench.engine.feature_keys import feature_policy
from kerasbench.engine.feature_models import (
    HEAD_LAYER_NAME,
    build_full_classifier,
    build_head_model,
    classifier_from_extractor,
    compile_head,
    ordered_outputs,
    prepare_head,
)
from kerasbench.engine.fitting import Distribution, epoch_order, fit_epochs, resolve_distribution


@dataclass
class ProbeResult(TrainResult):
    """One trained head (a :class:`TrainResult`): the Keras model that was fitted, the
    full image classifier (built on demand for the cached path), history, metrics and
    predictions per split, and how the features were obtained.

    A head model passed in by a grid is reset by the grid's next trial: take what is
    needed from a result (metrics, ``full_model()``) before running the next one.
    """

    features: dict = field(default_factory=dict)
    parameters: dict = field(default_factory=dict)
    path: str = ""
    full_model_factory: object = None
    _full_model: object = None

    @property
    def performance(self) -> dict:
        return self.policy

    def full_model(self):
        """``image -> backbone -> avg_pool -> predictions`` with the trained head."""
        if self._full_model is None:
            self._full_model = self.full_model_factory()
        return self._full_model


def train_probe(frames: Mapping[str, pd.DataFrame], class_names: Sequence[str], *,
                backbone: str, weights, image_size, batch_size: int, learning_rate: float,
                epochs: int, seed: int, cache: FeatureCache | None = None, model=None,
                evaluate: Sequence[str] = ("validation", "test"),
                validation_each_epoch: bool = True, interpolation: str = "bilinear",
                evaluation_batch_size: int = 64,
                performance: Mapping | None = None,
                distribution: str = "auto") -> ProbeResult:
    """Train the head on ``frames["train"]`` and evaluate ``evaluate`` splits.

    Args:
        frames: split name -> index frame; needs ``train``, plus ``validation`` for
            ``validation_each_epoch`` and every split in ``evaluate``.
        class_names: the index's class names (label ``i`` is ``class_names[i]``).
        backbone, weights, image_size, seed: the frozen backbone (``weights=None`` is a
            random initialisation fixed by ``seed``).
        batch_size, learning_rate, epochs: the training settings (Adam).
        cache: a :class:`FeatureCache` for the fast path; ``None`` for the plain path.
        model: an already built model to train (a head model for the cached path, a full
            classifier for the plain path), e.g. the one keras-tuner asked a HyperModel to
            build; built here when ``None``.
        validation_each_epoch: report validation loss/accuracy per epoch in the history,
            as the paper's ``fit(..., validation_data=...)`` did.
        performance: :func:`~kerasbench.performance.choose_policy` switches for
            :func:`feature_policy`; both paths compute under the same policy. The cached
            path trains the head with :func:`kerasbench.engine.device_loop.fit_head_on_device`
            (features on the device, one compiled call per epoch).
        distribution: :func:`~kerasbench.engine.fitting.resolve_distribution` setting. The
            plain path builds, compiles and fits the frozen model in the strategy's scope
            (``batch_size`` is the global batch). The cached path computes features and
            trains the linear head on one device (a head on pooled features is too small
            to gain from replicas); the record's ``distribution`` says so.
    """
    from kerasbench.engine.evaluation import (
        SplitPredictions,
        outputs_to_probabilities,
        split_metrics,
    )
    from kerasbench.heads import parameter_counts

    if "train" not in frames:
        raise ValueError("train_probe needs a 'train' frame in frames")
    needed = set(evaluate) | ({"validation"} if validation_each_epoch else set())
    absent = sorted(needed - set(frames))
    if absent:
        raise ValueError(f"train_probe: frames lacks {absent}, which evaluate/validation need")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    class_names = list(class_names)
    num_classes = len(class_names)
    train_frame = frames["train"]
    rows = len(train_frame)
    # A batch larger than the training split would be one short batch anyway.
    batch_size = int(min(int(batch_size), rows))
    durations: dict = {}
    feature_info: dict = {}
    policy = feature_policy(backbone, performance)
    strategy = resolve_distribution(distribution)
    applied = policy.to_dict()  # the plain path may turn XLA off under replicas
    start = time.perf_counter()

    if cache is not None:
        from kerasbench.engine.device_loop import fit_head_on_device

        wanted = {split: frames[split] for split in ["train", *sorted(needed - {"train"})]}
        feature_start = time.perf_counter()
        features = cache.features(backbone, weights=weights, image_size=image_size,
                                  frames=wanted, seed=seed, interpolation=interpolation,
                                  policy=policy)
        durations["feature_s"] = time.perf_counter() - feature_start
        durations["feature_compute_s"] = sum(f.compute_seconds for f in features.values())
        # The scale is a diagnostic: randomly initialised deep backbones (EfficientNet,
        # Xception) give pooled features near zero, on which a head cannot learn.
        feature_info = {split: {"key": f.key, "hit": f.hit, "seconds": f.seconds,
                                "compute_seconds": f.compute_seconds,
                                "std": float(f.features.std())}
                        for split, f in features.items()}
        feature_dim = features["train"].feature_dim
        build_start = time.perf_counter()
        if model is None:
            model = build_head_model(feature_dim, num_classes, seed)
        durations["build_s"] = time.perf_counter() - build_start
        prepare_head(model, learning_rate)
        validation = None
        if validation_each_epoch:
            validation = (features["validation"].features, features["validation"].labels)
        fit_start = time.perf_counter()
        history = fit_head_on_device(
            model, features["train"].features, features["train"].labels, epochs=epochs,
            batch_size=batch_size, order_of_epoch=lambda epoch: epoch_order(rows, seed, epoch),
            validation=validation,
        )
        durations["train_s"] = time.perf_counter() - fit_start

        def outputs_of(split):
            # A direct call: a Dense layer needs no compiled predict function, and
            # tracing one per trial would only add time.
            logits = model(features[split].features, training=False)
            return np.asarray(logits), features[split].labels

        head_layer = model.get_layer(HEAD_LAYER_NAME)
        head_parameters = parameter_counts(model)

        def factory():
            extractor = cache.extractor(backbone, weights=weights, image_size=image_size,
                                        seed=seed, policy=policy)
            return classifier_from_extractor(extractor, head_layer)

        path = "cached features"
    else:
        from kerasbench.pipeline import make_dataset

        build_start = time.perf_counter()
        jit_compile, applied = strategy.applied_policy(policy)
        with strategy.scope():
            if model is None:
                model = build_full_classifier(backbone, num_classes, image_size=image_size,
                                              weights=weights, seed=seed, policy=policy)
            compile_head(model, learning_rate, jit_compile=jit_compile)
        durations["build_s"] = time.perf_counter() - build_start
        size = tuple(model.input.shape[1:3])

        def make_train(order):
            return strategy.prepare(make_dataset(
                train_frame.iloc[order].reset_index(drop=True), image_size=size,
                batch_size=batch_size, label_mode="int", shuffle=False,
                interpolation=interpolation))

        validation = None
        if validation_each_epoch:
            validation = strategy.prepare(make_dataset(
                frames["validation"], image_size=size, batch_size=batch_size,
                label_mode="int", shuffle=False, interpolation=interpolation))
        fit_start = time.perf_counter()
        history = fit_epochs(model, make_train, validation, epochs=epochs, rows=rows,
                              seed=seed, batch_size=batch_size, validation_batch_size=None)
        durations["train_s"] = time.perf_counter() - fit_start

        def outputs_of(split):
            outputs, labels, _ = ordered_outputs(model, frames[split], image_size=size,
                                                 batch_size=evaluation_batch_size,
                                                 interpolation=interpolation)
            return outputs, labels

        head_parameters = None

        def factory():
            return model

        path = "plain images"

    metrics, predictions = {}, {}
    for split in evaluate:
        split_start = time.perf_counter()
        logits, labels = outputs_of(split)
        probabilities = outputs_to_probabilities(logits, "logits")
        predicted = SplitPredictions(
            split=split, paths=frames[split]["path"].tolist(), y_true=labels.astype(int),
            y_pred=probabilities.argmax(axis=1).astype(int), probabilities=probabilities,
            seconds=time.perf_counter() - split_start, class_names=class_names,
        )
        predictions[split] = predicted
        metrics[split] = split_metrics(predicted, class_names)
        durations[f"evaluate_{split}_s"] = predicted.seconds
        durations["evaluate_s"] = durations.get("evaluate_s", 0.0) + predicted.seconds
    durations["total_s"] = time.perf_counter() - start

    if cache is not None:
        from kerasbench.backbones import get_backbone

        spec = get_backbone(backbone)
        parameters = backbone_parameter_count(backbone)
        parameters = {
            "total": parameters + head_parameters["total"],
            "trainable": head_parameters["trainable"],
            "non_trainable": parameters,
            "head": head_parameters["total"],
            "feature_dim": spec.feature_dim,
        }
    else:
        counts = parameter_counts(model)
        parameters = {**counts, "head": counts["trainable"],
                      "feature_dim": int(model.get_layer(HEAD_LAYER_NAME).kernel.shape[0])}
    return ProbeResult(model=model, history=history, metrics=metrics, predictions=predictions,
                       durations=durations, features=feature_info, parameters=parameters,
                       path=path, full_model_factory=factory,
                       policy=_describe_policy(applied, cache),
                       extra={"features": feature_info, "parameters": parameters,
                              "path": path, "class_names": class_names,
                              "distribution": _describe_distribution(strategy, cache,
                                                                     batch_size)})


# Backbone parameter counts do not depend on the image size or the weights' values, and
# building a large backbone only to count them costs seconds: count once per name.
_BACKBONE_PARAMETERS: dict = {}


def backbone_parameter_count(backbone: str) -> int:
    """Parameters of a registry backbone (without pooling or head), counted once per
    process on a randomly initialised copy at its minimum input size."""
    from kerasbench.backbones import build_backbone, get_backbone

    spec = get_backbone(backbone)
    if spec.name not in _BACKBONE_PARAMETERS:
        model = build_backbone(spec.name, image_size=spec.min_size, weights=None)
        _BACKBONE_PARAMETERS[spec.name] = int(model.count_params())
    return _BACKBONE_PARAMETERS[spec.name]


def _describe_distribution(strategy, cache: FeatureCache | None, batch_size: int) -> dict:
    """What the record says about devices: the cached path runs on one device."""
    if cache is not None:
        strategy = Distribution(strategy.setting, "none",
                                reason="cached features: extraction and head on one device")
    return strategy.describe(batch_size)


def _describe_policy(applied: dict, cache: FeatureCache | None) -> dict:
    """The policy :func:`train_probe` applied (``applied``: its dict), for results rows,
    plus how features and head were computed."""
    described = dict(applied)
    if cache is not None:
        described["feature_batch_size"] = cache.batch_size
        described["head_training"] = "device loop"  # kerasbench.engine.device_loop
    else:
        described["head_training"] = "keras fit on images"
    return described
