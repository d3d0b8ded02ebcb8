"""On-disk feature cache for frozen backbones, and the linear-probe training built on it.

With a frozen backbone (called with ``training=False``) and no augmentation, the pooled
features of an image depend only on the backbone, its weights, the image size, the
resize interpolation and the image itself. A grid over batch size and learning rate at
one image size therefore needs ONE forward pass over each split, not one per trial and
epoch. :class:`FeatureCache` computes the pooled features of a split once, in an ordered
unshuffled pass, stores them on disk (``.npz`` arrays + ``.json`` meta, both written
atomically) under a key that hashes every input they depend on (see :func:`feature_key`),
and hands them to later trials, runs and processes.

:func:`train_probe` trains the protocol's head (a ``Dense(num_classes)`` on the pooled
features, Adam, sparse categorical cross-entropy from logits) in one of two ways that
are the same computation:

- ``cache`` given (the fast path): the head alone, ``Input(feature_dim) -> Dense``, is
  fitted on cached features;
- ``cache=None`` (the plain path): the whole frozen model ``image -> backbone -> average
  pooling -> Dense`` is fitted on decoded images, as the paper did.

Both paths build the head with the same seeded initialiser, feed the training rows in the
same order (one seeded permutation of row indices per epoch, mapped to features or to
images) and evaluate in one ordered pass, so their scores agree (to float round-off).
The cached path's head trains on features held on the device, one compiled call per epoch
(:mod:`kerasbench.device_loop`); both paths run under one performance policy
(:func:`feature_policy`), whose compute dtype is part of the cache key.
"""

from __future__ import annotations

import collections
import datetime as _datetime
import hashlib
import json
import os
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from kerasbench.results import atomic_output, canonical_json, write_json_atomic

__all__ = [
    "FEATURE_FORMAT_VERSION",
    "FeatureCache",
    "ProbeResult",
    "SplitFeatures",
    "backbone_parameter_count",
    "build_extractor",
    "build_full_classifier",
    "build_head_layer",
    "build_head_model",
    "classifier_from_extractor",
    "compile_head",
    "epoch_order",
    "feature_key",
    "feature_key_inputs",
    "feature_policy",
    "frame_fingerprint",
    "ordered_outputs",
    "prepare_head",
    "train_probe",
    "weights_descriptor",
]

# Bump when the stored layout or the way features are computed changes: old files are then
# simply never looked up again.
FEATURE_FORMAT_VERSION = 1
HEAD_LAYER_NAME = "predictions"


# --------------------------------------------------------------------------- keys


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A hash of the rows of an index frame: path, label, file size and modification time,
    in row order. A file replaced, touched, relabelled, added, removed or reordered gives
    another fingerprint."""
    if not isinstance(frame, pd.DataFrame) or "path" not in frame.columns:
        raise ValueError(
            "frame must be a DataFrame with a 'path' column (e.g. DatasetIndex.split('train'))"
        )
    digest = hashlib.sha256()
    labels = frame["label"].tolist() if "label" in frame.columns else [None] * len(frame)
    for path, label in zip(frame["path"].tolist(), labels):
        path = os.fspath(path)
        try:
            stat = os.stat(path)
        except OSError as error:
            raise FileNotFoundError(
                f"image file {path} of the frame does not exist ({error}); rebuild the index"
            ) from None
        digest.update(f"{path}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def weights_descriptor(weights, seed: int | None) -> dict:
    """What identifies a backbone's weights: ImageNet, a file (path, size, mtime), or a
    random initialisation, which is only reproducible from its seed."""
    if weights is None:
        if seed is None:
            raise ValueError(
                "weights=None (random initialisation) needs a seed: the features depend on it"
            )
        return {"kind": "random", "seed": int(seed)}
    if isinstance(weights, str) and weights.lower() == "imagenet":
        return {"kind": "imagenet"}
    if isinstance(weights, (str, os.PathLike)):
        path = Path(os.fspath(weights)).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist")
        stat = path.stat()
        return {"kind": "file", "path": str(path), "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns}
    raise ValueError(f"weights must be None, 'imagenet' or a file path, got {weights!r}")


def feature_key_inputs(backbone: str, *, weights, image_size, frame: pd.DataFrame,
                       seed: int | None, interpolation: str = "bilinear",
                       channels: int = 3, policy=None) -> dict:
    """Everything the pooled features of ``frame`` depend on, as a JSON-ready dict.

    ``policy`` (a :class:`~kerasbench.performance.PerformancePolicy`; the device's
    :func:`feature_policy` when ``None``) enters through its compute dtype and XLA switch:
    bfloat16 features differ from float32 ones in the third significant digit."""
    import keras

    from kerasbench.backbones import get_backbone, resolve_image_size

    spec = get_backbone(backbone)
    height, width = resolve_image_size(spec, image_size)
    return {
        "format": FEATURE_FORMAT_VERSION,
        "backbone": spec.name,
        "weights": weights_descriptor(weights, seed),
        "image_size": [height, width],
        "channels": int(channels),
        "interpolation": interpolation,
        "preprocessing": spec.preprocessing,
        "pooling": "global_average",
        "compute": _compute_settings(policy or feature_policy(spec.name)),
        # Keras defines the architectures, the random initialisers and the preprocessing.
        "keras": keras.__version__,
        "rows": len(frame),
        "index": frame_fingerprint(frame),
    }


def _compute_settings(policy) -> dict:
    return {"dtype": policy.compute_dtype, "jit_compile": bool(policy.jit_compile)}


def feature_policy(backbone: str, performance: Mapping | None = None):
    """The performance policy of the feature-cache path for ``backbone`` on this device.

    ``performance`` holds :func:`~kerasbench.performance.choose_policy` switches. Mixed
    precision follows the device (bfloat16/float16 on a GPU, float32 on a CPU). XLA is off
    unless asked for: the forward pass runs once per (backbone, image size, split), so
    compiling each of those graphs (DenseNet201's first XLA call takes 13 s at 32 px on this
    project's CPU, against 6 s without XLA) can cost more than it saves, and the head's loop
    has a dynamic last batch. Augmentation never applies: features are taken of unaugmented images.
    """
    from kerasbench.performance import choose_policy

    settings = {"jit_compile": False, **dict(performance or {})}
    settings["augment_on_device"] = False
    return choose_policy(backbone, **settings)


def feature_key(backbone: str, **inputs) -> str:
    """The cache key: a hash of :func:`feature_key_inputs` (same arguments)."""
    described = feature_key_inputs(backbone, **inputs)
    return hashlib.sha256(canonical_json(described).encode("utf-8")).hexdigest()[:24]


# --------------------------------------------------------------------------- models


def build_extractor(backbone: str, image_size, weights=None, seed: int = 0, policy=None):
    """``image (0..255) -> backbone(training=False) -> GlobalAveragePooling2D``, frozen.

    Built under ``policy`` (the device's :func:`feature_policy` when ``None``): the
    backbone computes in its compute dtype and the pooling, in float32, hands float32
    features on.

    Keras is reseeded with ``seed`` first, so that ``weights=None`` gives the same random
    backbone every time (in this process and in any other): the feature cache and the
    plain path both rely on it. The model's layers are ``image``, ``<name>_backbone``
    and ``avg_pool``, the same names ``heads.build_classifier`` uses.
    """
    import keras

    from kerasbench.backbones import build_backbone, get_backbone, resolve_image_size

    spec = get_backbone(backbone)
    height, width = resolve_image_size(spec, image_size)
    policy = policy or feature_policy(spec.name)
    keras.utils.set_random_seed(int(seed))
    with policy.scope():
        backbone_model = build_backbone(spec.name, image_size=(height, width),
                                        weights=weights)
        backbone_model.trainable = False
        inputs = keras.Input(shape=(height, width, 3), dtype="float32", name="image")
        features = backbone_model(inputs, training=False)
        pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool", dtype="float32")(features)
        model = keras.Model(inputs, pooled, name=f"{spec.name}_extractor")
    # Set explicitly: Keras would XLA-compile predict on a GPU ("auto"), and the cached
    # and plain paths must compile the same way to compute the same features.
    model.jit_compile = bool(policy.jit_compile)
    return model


def build_head_layer(num_classes: int, seed: int):
    """The protocol's head: ``Dense(num_classes)`` logits with a SEEDED Glorot-uniform
    kernel, so the cached and plain paths start from identical weights."""
    import keras

    return keras.layers.Dense(
        int(num_classes),
        kernel_initializer=keras.initializers.GlorotUniform(seed=int(seed)),
        bias_initializer="zeros",
        dtype="float32",
        name=HEAD_LAYER_NAME,
    )


def build_head_model(feature_dim: int, num_classes: int, seed: int):
    """``Input(feature_dim) -> Dense(num_classes)``: what the cached path trains."""
    import keras

    inputs = keras.Input(shape=(int(feature_dim),), dtype="float32", name="features")
    outputs = build_head_layer(num_classes, seed)(inputs)
    return keras.Model(inputs, outputs, name="head")


def classifier_from_extractor(extractor, head_layer):
    """``image -> backbone -> avg_pool -> head_layer`` reusing ``head_layer`` (and its
    trained weights): the full model of a head trained on cached features."""
    import keras

    outputs = head_layer(extractor.output)
    name = extractor.name.replace("_extractor", "_classifier")
    model = keras.Model(extractor.input, outputs, name=name)
    model.jit_compile = extractor.jit_compile
    return model


def build_full_classifier(backbone: str, num_classes: int, *, image_size, weights=None,
                          seed: int = 0, policy=None):
    """The plain path's model: frozen backbone + average pooling + seeded Dense logits,
    under the same ``policy`` as the cached path's extractor."""
    extractor = build_extractor(backbone, image_size, weights=weights, seed=seed,
                                policy=policy)
    return classifier_from_extractor(extractor, build_head_layer(num_classes, seed))


# Initial weights of head models that prepare_head compiled, to reset them between trials.
_INITIAL_HEAD_WEIGHTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def prepare_head(model, learning_rate: float) -> None:
    """Compile a head model for a new trial, or reset one compiled here before.

    A reset puts back the model's initial (seeded) weights, zeroes Adam's step count and
    moments and sets the learning rate: the same state as a freshly built and compiled
    model, but Keras keeps its traced training and evaluation functions, which would
    otherwise be traced again for every trial (about a second each; longer than
    training a head on cached features).
    """
    initial = _INITIAL_HEAD_WEIGHTS.get(model)
    if initial is None:
        compile_head(model, learning_rate)
        _INITIAL_HEAD_WEIGHTS[model] = [np.array(weight) for weight in model.get_weights()]
        return
    model.set_weights(initial)
    for variable in model.optimizer.variables:
        variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
    model.optimizer.learning_rate.assign(float(learning_rate))


def compile_head(model, learning_rate: float, jit_compile: bool = False) -> None:
    """Adam(learning_rate), sparse categorical cross-entropy from logits, accuracy."""
    import keras

    from kerasbench.heads import make_optimizer

    model.compile(
        optimizer=make_optimizer("adam", learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")],
        # Off by default: XLA would compile each trial's graph again (slow on CPU) and
        # may round differently from an uncompiled extraction pass.
        jit_compile=bool(jit_compile),
    )


# --------------------------------------------------------------------------- ordered pass


def ordered_outputs(model, frame: pd.DataFrame, *, image_size, batch_size: int = 64,
                    interpolation: str = "bilinear") -> tuple[np.ndarray, np.ndarray, float]:
    """Run ``model`` over ``frame`` in row order: ``(outputs, labels, seconds)``.

    Labels come from the same batches as the outputs and are checked against the frame.
    The last, short batch is padded to ``batch_size`` so the compiled predict function is
    traced once (a second batch shape would trace a large backbone again, seconds each).
    Images go from the pipeline to the model as tensors (no NumPy copy on the way), and
    the outputs stay where the model computed them until the pass is over.
    """
    import tensorflow as tf

    from kerasbench.pipeline import make_dataset

    has_labels = "label" in frame.columns
    dataset = make_dataset(
        frame, image_size=image_size, batch_size=int(batch_size),
        label_mode="int" if has_labels else None, shuffle=False, interpolation=interpolation,
    )
    outputs, labels = [], []
    start = time.perf_counter()
    forward = _forward_function(model)
    for batch in dataset:
        images, batch_labels = batch if has_labels else (batch, None)
        count = int(images.shape[0])
        if count < batch_size:
            images = tf.pad(images, [[0, batch_size - count], [0, 0], [0, 0], [0, 0]])
        outputs.append(forward(images)[:count])
        if has_labels:
            labels.append(np.asarray(batch_labels).reshape(-1))
    result = np.asarray(tf.concat(outputs, axis=0), dtype=np.float32) if outputs else \
        np.zeros((0,) + tuple(model.output.shape[1:]), np.float32)
    seconds = time.perf_counter() - start
    if has_labels:
        label_array = np.concatenate(labels).astype(np.int64)
        if len(label_array) != len(frame) or not np.array_equal(
            label_array, frame["label"].to_numpy().astype(np.int64)
        ):
            raise RuntimeError("the ordered pass lost the frame's row order; refusing to use it")
    else:
        label_array = np.full(len(frame), -1, dtype=np.int64)
    return result, label_array, seconds


_FORWARD_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _forward_function(model):
    """``model(images, training=False)`` compiled once per model, with the model's XLA
    setting; the result stays a tensor on the device."""
    import tensorflow as tf

    function = _FORWARD_FUNCTIONS.get(model)
    if function is None:
        def forward(images):
            return tf.cast(model(images, training=False), tf.float32)

        function = tf.function(forward, jit_compile=bool(model.jit_compile))
        _FORWARD_FUNCTIONS[model] = function
    return function


# --------------------------------------------------------------------------- cache


@dataclass
class SplitFeatures:
    """Pooled features of one split, row ``i`` being row ``i`` of the split's frame."""

    split: str
    features: np.ndarray
    labels: np.ndarray
    key: str
    hit: bool
    seconds: float
    compute_seconds: float
    path: Path | None = None
    meta: dict = field(default_factory=dict)

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[1])


class FeatureCache:
    """Pooled backbone features on disk, keyed by everything they depend on.

    Args:
        folder: where ``<backbone>-<h>x<w>-<split>-<key>.npz`` and ``.json`` files go.
            Any folder works; share one between runs to reuse features across them.
        batch_size: images per forward pass when computing features; ``"auto"`` takes
            ``GPU_BATCH_SIZE`` on a GPU (large batches keep it busy; a frozen forward pass
            keeps no activations for a backward pass) and ``CPU_BATCH_SIZE`` on a CPU.
        keep_extractors: built extractor models kept in memory (building and tracing a
            large backbone costs seconds; the final model and out-of-distribution
            predictions reuse them).
        keep_in_memory: feature arrays kept in memory after loading or computing.
        verbose: print one line per computed split.

    ``hits`` and ``misses`` count splits read from disk or memory versus computed.

    Every method that computes features takes the ``policy`` they are computed under (a
    :class:`~kerasbench.performance.PerformancePolicy`, see :func:`feature_policy`; the
    device's default when ``None``); its compute dtype is part of the key.
    """

    CPU_BATCH_SIZE = 64
    GPU_BATCH_SIZE = 256

    def __init__(self, folder: str | os.PathLike, *, batch_size: int | str = "auto",
                 keep_extractors: int = 2, keep_in_memory: int = 12, verbose: bool = True):
        if batch_size == "auto":
            from kerasbench.performance import device_description

            on_gpu = device_description()["kind"] == "GPU"
            batch_size = self.GPU_BATCH_SIZE if on_gpu else self.CPU_BATCH_SIZE
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
                or batch_size < 1:
            raise ValueError(
                f"FeatureCache batch_size must be a positive int or 'auto', got {batch_size!r}")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.batch_size = int(batch_size)
        self.keep_extractors = int(keep_extractors)
        self.keep_in_memory = int(keep_in_memory)
        self.verbose = verbose
        self.hits = 0
        self.misses = 0
        self._extractors: collections.OrderedDict = collections.OrderedDict()
        self._memory: collections.OrderedDict = collections.OrderedDict()

    # ----- naming
    def key(self, backbone: str, *, weights, image_size, frame, seed, interpolation="bilinear",
            policy=None):
        return feature_key(backbone, weights=weights, image_size=image_size, frame=frame,
                           seed=seed, interpolation=interpolation, policy=policy)

    def _paths(self, inputs: dict, split: str, key: str) -> tuple[Path, Path]:
        height, width = inputs["image_size"]
        stem = f"{inputs['backbone']}-{height}x{width}-{split}-{key}"
        return self.folder / f"{stem}.npz", self.folder / f"{stem}.json"

    def contains(self, backbone: str, *, weights, image_size, frame, split: str, seed,
                 interpolation="bilinear", policy=None) -> bool:
        inputs = feature_key_inputs(backbone, weights=weights, image_size=image_size,
                                    frame=frame, seed=seed, interpolation=interpolation,
                                    policy=policy)
        key = _hash(inputs)
        return key in self._memory or self._read(*self._paths(inputs, split, key), key) is not None

    # ----- extractors
    def extractor(self, backbone: str, *, weights, image_size, seed: int, policy=None):
        """The (memoised) frozen extractor for these settings."""
        from kerasbench.backbones import get_backbone, resolve_image_size

        spec = get_backbone(backbone)
        size = resolve_image_size(spec, image_size)
        policy = policy or feature_policy(spec.name)
        memo_key = canonical_json({"backbone": spec.name, "size": list(size),
                                   "weights": weights_descriptor(weights, seed),
                                   "compute": _compute_settings(policy)})
        if memo_key in self._extractors:
            self._extractors.move_to_end(memo_key)
            return self._extractors[memo_key]
        model = build_extractor(spec.name, size, weights=weights, seed=seed, policy=policy)
        if self.keep_extractors > 0:
            self._extractors[memo_key] = model
            while len(self._extractors) > self.keep_extractors:
                self._extractors.popitem(last=False)
        return model

    def forget_extractors(self) -> None:
        self._extractors.clear()

    # ----- features
    def features(self, backbone: str, *, weights, image_size, frames: Mapping[str, pd.DataFrame],
                 seed: int, interpolation: str = "bilinear",
                 policy=None) -> dict[str, SplitFeatures]:
        """Features of every split in ``frames`` (name -> index frame): from memory, from
        disk, or computed now (one extractor for all missing splits) and stored."""
        from kerasbench.backbones import get_backbone

        policy = policy or feature_policy(backbone)
        out, missing = {}, {}
        for split, frame in frames.items():
            start = time.perf_counter()
            inputs = feature_key_inputs(backbone, weights=weights, image_size=image_size,
                                        frame=frame, seed=seed, interpolation=interpolation,
                                        policy=policy)
            key = _hash(inputs)
            if key in self._memory:
                self._memory.move_to_end(key)
                cached = self._memory[key]
                out[split] = _replace(cached, split=split, hit=True,
                                      seconds=time.perf_counter() - start)
                self.hits += 1
                continue
            array_path, meta_path = self._paths(inputs, split, key)
            loaded = self._read(array_path, meta_path, key)
            if loaded is not None:
                features, labels, meta = loaded
                _check_labels(labels, frame, array_path)
                result = SplitFeatures(split, features, labels, key, True,
                                       time.perf_counter() - start,
                                       float(meta.get("compute_seconds", 0.0)), array_path, meta)
                self._remember(result)
                out[split] = result
                self.hits += 1
                continue
            missing[split] = (frame, inputs, key, array_path, meta_path)
        if missing:
            extractor = self.extractor(backbone, weights=weights, image_size=image_size,
                                       seed=seed, policy=policy)
            size = tuple(next(iter(missing.values()))[1]["image_size"])
            # One ordered pass over all missing splits: one short (padded) last batch
            # instead of one per split.
            columns = ["path", "label"] if all(
                "label" in item[0].columns for item in missing.values()) else ["path"]
            joined = pd.concat([item[0][columns] for item in missing.values()],
                               ignore_index=True)
            start = time.perf_counter()
            features, labels, _ = ordered_outputs(extractor, joined, image_size=size,
                                                  batch_size=self.batch_size,
                                                  interpolation=interpolation)
            total_seconds = time.perf_counter() - start
            offset = 0
            for split, (frame, inputs, key, array_path, meta_path) in missing.items():
                rows = len(frame)
                split_features = features[offset:offset + rows]
                split_labels = labels[offset:offset + rows]
                offset += rows
                # The pass is shared; each split is charged its share of rows.
                compute_seconds = total_seconds * rows / max(len(joined), 1)
                meta = {
                    "key": key,
                    "split": split,
                    "inputs": inputs,
                    "shape": list(split_features.shape),
                    "dtype": str(split_features.dtype),
                    "compute_seconds": compute_seconds,
                    "batch_size": self.batch_size,
                    "created": _datetime.datetime.now(_datetime.timezone.utc).isoformat(),
                }
                _write_arrays_atomic(array_path, features=split_features, labels=split_labels)
                # The meta file is written last: its presence marks a complete entry.
                write_json_atomic(meta_path, meta)
                result = SplitFeatures(split, split_features, split_labels, key, False,
                                       compute_seconds, compute_seconds, array_path, meta)
                self._remember(result)
                out[split] = result
                self.misses += 1
            if self.verbose:
                height, width = size
                shapes = ", ".join(f"{split} {out[split].features.shape[0]}"
                                   for split in missing)
                print(f"features: {get_backbone(backbone).name} {height}x{width}: {shapes} "
                      f"images x {features.shape[1]} in {total_seconds:.1f}s")
        return {split: out[split] for split in frames}

    def _remember(self, result: SplitFeatures) -> None:
        if self.keep_in_memory <= 0:
            return
        self._memory[result.key] = result
        self._memory.move_to_end(result.key)
        while len(self._memory) > self.keep_in_memory:
            self._memory.popitem(last=False)

    def forget_memory(self) -> None:
        """Drop in-memory arrays (the files stay); the next request reads the disk."""
        self._memory.clear()

    @staticmethod
    def _read(array_path: Path, meta_path: Path, key: str):
        if not meta_path.exists() or not array_path.exists():
            return None
        try:
            with open(meta_path, encoding="utf-8") as stream:
                meta = json.load(stream)
            with np.load(array_path, allow_pickle=False) as arrays:
                features = np.asarray(arrays["features"], dtype=np.float32)
                labels = np.asarray(arrays["labels"], dtype=np.int64)
        except (OSError, ValueError, KeyError) as error:
            print(f"features: ignoring unreadable cache entry {array_path} ({error}); "
                  "computing it again")
            return None
        if meta.get("key") != key or list(features.shape) != meta.get("shape"):
            print(f"features: ignoring cache entry {array_path} whose meta does not match; "
                  "computing it again")
            return None
        return features, labels, meta


def _hash(inputs: dict) -> str:
    return hashlib.sha256(canonical_json(inputs).encode("utf-8")).hexdigest()[:24]


def _replace(result: SplitFeatures, **changes) -> SplitFeatures:
    values = dict(result.__dict__)
    values.update(changes)
    return SplitFeatures(**values)


def _check_labels(labels: np.ndarray, frame: pd.DataFrame, where: Path) -> None:
    if "label" in frame.columns and not np.array_equal(
        labels, frame["label"].to_numpy().astype(np.int64)
    ):
        raise ValueError(
            f"feature cache entry {where} holds other labels than the frame; delete the file "
            "to compute it again"
        )


def _write_arrays_atomic(path: Path, **arrays) -> None:
    with atomic_output(path, "wb") as stream:
        np.savez(stream, **arrays)


# --------------------------------------------------------------------------- training


def epoch_order(rows: int, seed: int, epoch: int) -> np.ndarray:
    """The training rows' order in ``epoch``: one seeded permutation, shared by both paths."""
    return np.random.default_rng([int(seed), int(epoch)]).permutation(int(rows))


@dataclass
class ProbeResult:
    """One trained head: the Keras model that was fitted, the full image classifier (built
    on demand for the cached path), history, metrics and predictions per split.

    A head model passed in by a grid is reset by the grid's next trial: take what is
    needed from a result (metrics, ``full_model()``) before running the next one.
    """

    model: object
    history: dict
    metrics: dict
    predictions: dict
    durations: dict
    features: dict
    parameters: dict
    path: str
    performance: dict = field(default_factory=dict)
    full_model_factory: object = None
    _full_model: object = None

    def full_model(self):
        """``image -> backbone -> avg_pool -> predictions`` with the trained head."""
        if self._full_model is None:
            self._full_model = self.full_model_factory()
        return self._full_model


def _fit_epochs(model, make_epoch, validation, *, epochs: int, rows: int, seed: int,
                batch_size: int, validation_batch_size: int | None) -> dict:
    """Fit ``epochs`` epochs in ONE ``fit`` call on the epochs' datasets chained together.

    Epoch ``e`` is ``make_epoch(epoch_order(rows, seed, e))``. With ``steps_per_epoch``
    set, Keras keeps one iterator across epochs, so epoch ``e`` gets exactly its own
    batches; a single call avoids Keras's per-call set-up once per epoch.
    """
    from kerasbench.runs import EpochTimer

    dataset = make_epoch(epoch_order(rows, seed, 0))
    for epoch in range(1, int(epochs)):
        dataset = dataset.concatenate(make_epoch(epoch_order(rows, seed, epoch)))
    fitted = model.fit(
        dataset, validation_data=validation, validation_batch_size=validation_batch_size,
        epochs=int(epochs), steps_per_epoch=-(-int(rows) // int(batch_size)),
        callbacks=[EpochTimer()], shuffle=False, verbose=0,
    )
    return {name: [float(value) for value in values] for name, values in fitted.history.items()}


def train_probe(frames: Mapping[str, pd.DataFrame], class_names: Sequence[str], *,
                backbone: str, weights, image_size, batch_size: int, learning_rate: float,
                epochs: int, seed: int, cache: FeatureCache | None = None, model=None,
                evaluate: Sequence[str] = ("validation", "test"),
                validation_each_epoch: bool = True, interpolation: str = "bilinear",
                evaluation_batch_size: int = 64,
                performance: Mapping | None = None) -> ProbeResult:
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
            path trains the head with :func:`kerasbench.device_loop.fit_head_on_device`
            (features on the device, one compiled call per epoch).
    """
    from kerasbench.heads import parameter_counts
    from kerasbench.runs import SplitPredictions, outputs_to_probabilities, split_metrics

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
    start = time.perf_counter()

    if cache is not None:
        from kerasbench.device_loop import fit_head_on_device

        wanted = {split: frames[split] for split in ["train", *sorted(needed - {"train"})]}
        feature_start = time.perf_counter()
        features = cache.features(backbone, weights=weights, image_size=image_size,
                                  frames=wanted, seed=seed, interpolation=interpolation,
                                  policy=policy)
        durations["feature_seconds"] = time.perf_counter() - feature_start
        durations["feature_compute_seconds"] = sum(f.compute_seconds for f in features.values())
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
        durations["build_seconds"] = time.perf_counter() - build_start
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
        durations["training_seconds"] = time.perf_counter() - fit_start

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
        if model is None:
            model = build_full_classifier(backbone, num_classes, image_size=image_size,
                                          weights=weights, seed=seed, policy=policy)
        durations["build_seconds"] = time.perf_counter() - build_start
        compile_head(model, learning_rate, jit_compile=policy.jit_compile)
        size = tuple(model.input.shape[1:3])

        def make_train(order):
            return make_dataset(train_frame.iloc[order].reset_index(drop=True),
                                image_size=size, batch_size=batch_size, label_mode="int",
                                shuffle=False, interpolation=interpolation)

        validation = None
        if validation_each_epoch:
            validation = make_dataset(frames["validation"], image_size=size,
                                      batch_size=batch_size, label_mode="int", shuffle=False,
                                      interpolation=interpolation)
        fit_start = time.perf_counter()
        history = _fit_epochs(model, make_train, validation, epochs=epochs, rows=rows,
                              seed=seed, batch_size=batch_size, validation_batch_size=None)
        durations["training_seconds"] = time.perf_counter() - fit_start

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
        durations[f"{split}_seconds"] = predicted.seconds
    durations["total_seconds"] = time.perf_counter() - start

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
                       performance=_describe_policy(policy, cache))


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


def _describe_policy(policy, cache: FeatureCache | None) -> dict:
    """The policy :func:`train_probe` applied, for results rows, plus how features and
    head were computed."""
    described = policy.to_dict()
    if cache is not None:
        described["feature_batch_size"] = cache.batch_size
        described["head_training"] = "device loop"  # kerasbench.device_loop
    else:
        described["head_training"] = "keras fit on images"
    return described

