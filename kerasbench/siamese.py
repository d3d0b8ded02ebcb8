"""Siamese verification: an embedding network, a distance layer, contrastive loss, pairs.

The pieces, in the order a study uses them:

- **Label convention** (one, used everywhere): ``SAME_PERSON = 1``, ``DIFFERENT_PERSON = 0``.
  ``PAIR_CLASS_NAMES[label]`` names a label, so per-class tables read "different" / "same"
  (the paper's "False" / "True").
- **Model**: :func:`build_embedding_network` (the registry's SqueezeNet, global average
  pooling, an optional linear projection, optional L2 normalisation) and
  :func:`build_siamese_model` (two inputs, ONE shared embedding network,
  :class:`EuclideanDistance`). :class:`ContrastiveLoss` and :class:`PairAccuracy` are
  registered Keras objects, so a trained model saves to ``.keras`` and loads back.
- **Pairs**: :func:`sample_pairs` draws balanced same/different pairs (seeded);
  :func:`load_or_sample_pairs` keeps evaluation pairs in a CSV (``path_a, path_b, label``)
  so every run scores the same pairs. :class:`PairBatches` builds pair batches by index
  from images decoded once into memory.
- **Training**: :func:`train_siamese` fits once and evaluates at every requested epoch
  (:class:`EpochCheckpoints`), so 50/75/100-epoch runs come from one training run.
- **Decision**: :func:`choose_threshold` picks the distance threshold on held-out (or
  training) pairs; :func:`evaluate_pairs` scores pairs with it (per-class P/R/F1,
  confusion matrix, ROC with score = -distance, equal error rate, collapse).
- **Use**: :class:`FaceVerifier` (``verify(a, b)`` -> distance, decision, threshold;
  save/load), :class:`Gallery` enrollment and :meth:`FaceVerifier.identify` (nearest
  person or ``UNKNOWN``), and :func:`measure_latency`.
- **Open-set identification threshold**: the nearest of N gallery entries is closer than a
  single pair's distance, so the one-to-one threshold accepts too many strangers against a
  gallery. :func:`choose_identification_threshold` picks a separate threshold from genuine
  (own gallery entry) and impostor (nearest gallery entry) distances;
  :func:`identification_threshold_from_people` computes those on a folder-per-person set
  (seeded enrolled / stranger splits) so the threshold is chosen on people a test never sees.

Default: ``l2_normalize=True``. Embeddings then lie on the unit sphere, distances are in
[0, 2], and the default ``margin=1.0`` means "different people at least a radius apart"
whatever the backbone's activation scale; a margin without normalisation must be tuned
to the feature scale, which changes with weights and image size.
"""

from __future__ import annotations

import math
import os
import time
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import keras
import numpy as np
import pandas as pd
from keras import ops

__all__ = [
    "DIFFERENT_PERSON",
    "DISTANCE_EPSILON",
    "PAIR_CLASS_NAMES",
    "SAME_PERSON",
    "UNKNOWN",
    "ContrastiveLoss",
    "EpochCheckpoints",
    "EuclideanDistance",
    "FaceVerifier",
    "Gallery",
    "Identification",
    "PairAccuracy",
    "PairBatches",
    "Verification",
    "as_image_shape",
    "build_embedding_network",
    "build_siamese_model",
    "choose_identification_threshold",
    "choose_threshold",
    "compile_siamese",
    "embed_images",
    "evaluate_pairs",
    "identification_distances",
    "identification_summary",
    "identification_threshold_from_people",
    "load_or_sample_pairs",
    "measure_latency",
    "pair_distances",
    "predict_same",
    "read_pairs",
    "sample_pairs",
    "squeezenet_backbone_name",
    "train_siamese",
    "write_pairs",
]

SAME_PERSON = 1
DIFFERENT_PERSON = 0
# Indexed by label: PAIR_CLASS_NAMES[SAME_PERSON] == "same".
PAIR_CLASS_NAMES = ("different", "same")
UNKNOWN = "unknown"
# sqrt(max(sum of squares, epsilon)): below epsilon the max is constant, so the gradient at
# zero distance is 0 instead of the 0/0 (NaN) of sqrt at 0. Keras's fuzz factor.
DISTANCE_EPSILON = 1e-7
PAIR_COLUMNS = ("path_a", "path_b", "label")
VERIFIER_FILE = "verifier.json"
EMBEDDING_FILE = "embedding.keras"
VERIFIER_FORMAT = 1


# --------------------------------------------------------------------------- Keras objects


@keras.saving.register_keras_serializable(package="kerasbench")
class EuclideanDistance(keras.layers.Layer):
    """Euclidean distance between two embedding batches, shape ``(batch, 1)``.

    ``sqrt(max(sum((a - b)^2), epsilon))``: epsilon keeps the gradient finite when the two
    embeddings coincide (a same-person pair of identical images, or a collapsed model).
    It computes in float32 under a mixed-precision policy too (``dtype`` defaults to
    float32): epsilon (1e-7) is below bfloat16's resolution near 1.
    """

    def __init__(self, epsilon: float = DISTANCE_EPSILON, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        epsilon = float(epsilon)
        if not epsilon > 0:
            raise ValueError(f"epsilon must be > 0 (it keeps sqrt's gradient finite), got {epsilon}")
        self.epsilon = epsilon

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError(
                "EuclideanDistance takes a list of two embedding tensors [a, b], got "
                f"{type(inputs).__name__}"
            )
        first, second = inputs
        squared = ops.sum(ops.square(first - second), axis=-1, keepdims=True)
        return ops.sqrt(ops.maximum(squared, self.epsilon))

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], 1)

    def get_config(self):
        config = super().get_config()
        config["epsilon"] = self.epsilon
        return config


@keras.saving.register_keras_serializable(package="kerasbench")
class ContrastiveLoss(keras.losses.Loss):
    """Contrastive loss on distances: ``y d^2 + (1 - y) max(margin - d, 0)^2``, averaged.

    ``y`` is ``SAME_PERSON`` (1) or ``DIFFERENT_PERSON`` (0) and ``y_pred`` the distance
    (any shape with one value per pair). Same-person pairs are pulled to distance 0;
    different-person pairs cost nothing once they are ``margin`` apart.
    """

    def __init__(self, margin: float = 1.0, name: str = "contrastive_loss",
                 reduction: str = "sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        margin = float(margin)
        if not margin > 0:
            raise ValueError(f"margin must be > 0, got {margin}")
        self.margin = margin

    def call(self, y_true, y_pred):
        distance = ops.cast(ops.reshape(y_pred, (-1,)), "float32")
        same = ops.cast(ops.reshape(y_true, (-1,)), distance.dtype)
        pull = same * ops.square(distance)
        push = (1.0 - same) * ops.square(ops.relu(self.margin - distance))
        return pull + push

    def get_config(self):
        config = super().get_config()
        config["margin"] = self.margin
        return config


@keras.saving.register_keras_serializable(package="kerasbench")
class PairAccuracy(keras.metrics.Metric):
    """Share of pairs on the right side of a FIXED distance threshold (for training curves).

    The threshold used for reporting is chosen after training (:func:`choose_threshold`);
    this metric only tracks progress, with ``threshold = margin / 2`` by default in
    :func:`compile_siamese` (halfway between "pulled together" and "pushed to the margin").
    """

    def __init__(self, threshold: float = 0.5, name: str = "accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.threshold = float(threshold)
        self.correct = self.add_variable(shape=(), initializer="zeros", name="correct")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        distance = ops.reshape(ops.cast(y_pred, self.dtype), (-1,))
        same = ops.reshape(ops.cast(y_true, self.dtype), (-1,))
        predicted_same = ops.cast(distance <= self.threshold, self.dtype)
        correct = ops.cast(ops.equal(predicted_same, same), self.dtype)
        weight = ops.ones_like(correct)
        if sample_weight is not None:
            weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1,)) * weight
        self.correct.assign_add(ops.sum(correct * weight))
        self.count.assign_add(ops.sum(weight))

    def result(self):
        return ops.divide_no_nan(self.correct, self.count)

    def reset_state(self):
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self):
        config = super().get_config()
        config["threshold"] = self.threshold
        return config


# --------------------------------------------------------------------------- model


def squeezenet_backbone_name(version: str | float) -> str:
    """``"1.0"``, ``1.0``, ``"1_0"`` or ``"squeezenet1_0"`` -> the registry name."""
    text = str(version).strip().lower().replace("squeezenet", "").replace("_", ".")
    if text in ("1", "1.0", "10"):
        return "squeezenet1_0"
    if text in ("1.1", "11"):
        return "squeezenet1_1"
    raise ValueError(
        f"squeezenet_version must be '1.0' (the paper's) or '1.1' (the one with ImageNet "
        f"weights available offline), got {version!r}"
    )


def as_image_shape(image_size) -> tuple[int, int]:
    """``64`` or ``(height, width)`` -> ``(height, width)`` as ints."""
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        return int(image_size), int(image_size)
    if isinstance(image_size, (list, tuple)) and len(image_size) == 2:
        return int(image_size[0]), int(image_size[1])
    raise ValueError(f"image_size must be an int or (height, width), got {image_size!r}")


def build_embedding_network(
    squeezenet_version: str = "1.0",
    *,
    image_size=224,
    weights: str | os.PathLike | None = None,
    embedding_dim: int | None = 128,
    l2_normalize: bool = True,
    name: str = "embedding",
    policy=None,
) -> keras.Model:
    """Raw 0-255 RGB image -> embedding vector.

    SqueezeNet from the backbone registry (its preprocessing is inside it) -> global
    average pooling -> optional ``Dense(embedding_dim)`` -> optional L2 normalisation.

    The paper puts a 1x1 convolution before the pooling "to adjust the channels"; with no
    activation, a 1x1 convolution followed by average pooling equals average pooling
    followed by a Dense layer (both linear), and the Dense form does the work once per image
    instead of once per pixel. ``embedding_dim=None`` keeps fire9's 512 pooled channels.
    ``l2_normalize`` defaults to True (see the module docstring for why).

    Built under ``policy`` (a :class:`kerasbench.performance.PerformancePolicy`; float32
    when ``None``): the SqueezeNet computes in the policy's dtype, the pooling, projection
    and normalisation in float32, so embeddings and distances are float32.
    """
    import contextlib

    from kerasbench.backbones import build_backbone

    height, width = as_image_shape(image_size)
    if embedding_dim is not None and (
        isinstance(embedding_dim, bool) or not isinstance(embedding_dim, (int, np.integer))
        or embedding_dim < 1
    ):
        raise ValueError(f"embedding_dim must be a positive int or None, got {embedding_dim!r}")
    with contextlib.nullcontext() if policy is None else policy.scope():
        backbone = build_backbone(squeezenet_backbone_name(squeezenet_version),
                                  image_size=(height, width), weights=weights)
        inputs = keras.Input(shape=(height, width, 3), name="image")
        features = backbone(inputs)
        embedding = keras.layers.GlobalAveragePooling2D(name="average_pool",
                                                        dtype="float32")(features)
        if embedding_dim is not None:
            embedding = keras.layers.Dense(int(embedding_dim), name="projection",
                                           dtype="float32")(embedding)
        if l2_normalize:
            embedding = keras.layers.UnitNormalization(axis=-1, name="l2_normalize",
                                                       dtype="float32")(embedding)
        return keras.Model(inputs, embedding, name=name)


def build_siamese_model(embedding_network: keras.Model, name: str = "siamese", *,
                        augmentation=None, xla_compatible: bool = False) -> keras.Model:
    """Two image inputs, one shared embedding network, Euclidean distance out ``(batch, 1)``.

    ``augmentation`` (a :class:`kerasbench.augment.Augmentation`) puts its layers in front
    of the embedding in both branches, so augmentation runs where the model runs (the GPU);
    each image of a pair gets its own random transform, in training only. Give it here OR
    to the training :class:`PairBatches`, not both.
    """
    shape = tuple(embedding_network.input_shape[1:])
    first = keras.Input(shape=shape, name="image_a")
    second = keras.Input(shape=shape, name="image_b")
    branch_a, branch_b = first, second
    if augmentation is not None:
        augment = augmentation.as_sequential(xla_compatible=xla_compatible)
        branch_a, branch_b = augment(first), augment(second)
    # Calling the SAME model object twice is what shares the weights between the branches.
    distance = EuclideanDistance(name="distance")([embedding_network(branch_a),
                                                    embedding_network(branch_b)])
    return keras.Model([first, second], distance, name=name)


def compile_siamese(model: keras.Model, *, optimizer: str = "sgd", learning_rate: float = 1e-3,
                    margin: float = 1.0, accuracy_threshold: float | None = None,
                    jit_compile: bool = False) -> keras.Model:
    """Compile with :class:`ContrastiveLoss` and a :class:`PairAccuracy` for the curves."""
    from kerasbench.heads import make_optimizer

    threshold = margin / 2.0 if accuracy_threshold is None else float(accuracy_threshold)
    model.compile(
        # Plain SGD (no momentum) and Adam with Keras defaults: the paper names nothing more.
        optimizer=make_optimizer(optimizer, learning_rate),
        loss=ContrastiveLoss(margin=margin),
        metrics=[PairAccuracy(threshold=threshold, name="accuracy")],
        jit_compile=bool(jit_compile),
    )
    return model


# --------------------------------------------------------------------------- pairs


def sample_pairs(person_labels: Sequence, pairs_per_person: int, seed) -> pd.DataFrame:
    """Balanced pairs of image positions: per person, ``pairs_per_person / 2`` same-person
    pairs (two different images of that person) and as many different-person pairs (one of
    its images with a random image of a random other person).

    Returns a DataFrame ``index_a, index_b, label`` (positions into ``person_labels``).
    Same pairs are drawn without repetition while the person has enough distinct pairs.
    ``seed`` is anything ``numpy.random.default_rng`` takes (an int, or a list such as
    ``[seed, epoch]``).
    """
    labels = np.asarray(person_labels)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError("person_labels must be a non-empty 1-D sequence (one entry per image)")
    if isinstance(pairs_per_person, bool) or not isinstance(pairs_per_person, (int, np.integer)):
        raise ValueError(f"pairs_per_person must be an int, got {pairs_per_person!r}")
    if pairs_per_person < 2 or pairs_per_person % 2:
        raise ValueError(
            f"pairs_per_person must be an even number >= 2 (half same, half different, so the "
            f"pairs are balanced), got {pairs_per_person}"
        )
    people = pd.unique(labels)
    if len(people) < 2:
        raise ValueError("pairs need at least two people (different-person pairs)")
    rows_of = {person: np.flatnonzero(labels == person) for person in people}
    thin = [str(person) for person, rows in rows_of.items() if len(rows) < 2]
    if thin:
        raise ValueError(
            f"people {thin[:10]} have fewer than 2 images in this split, so no same-person "
            "pair can be made; give them more images, split by person, or hold out a larger "
            "fraction"
        )
    rng = np.random.default_rng(seed)
    half = int(pairs_per_person) // 2
    first, second, pair_labels = [], [], []
    for person in people:
        rows = rows_of[person]
        first_same, second_same = _same_pairs(rows, half, rng)
        # Uniform over other PEOPLE (then over their images), so a person with many images
        # does not dominate the different pairs.
        other_people = [other for other in people if other != person]
        chosen_people = rng.integers(0, len(other_people), size=half)
        anchors = rng.choice(rows, size=half, replace=True)
        partners = np.array([rng.choice(rows_of[other_people[i]]) for i in chosen_people],
                            dtype=int)
        first.extend(first_same)
        second.extend(second_same)
        pair_labels.extend([SAME_PERSON] * half)
        first.extend(anchors.tolist())
        second.extend(partners.tolist())
        pair_labels.extend([DIFFERENT_PERSON] * half)
    return pd.DataFrame({"index_a": np.asarray(first, dtype=int),
                         "index_b": np.asarray(second, dtype=int),
                         "label": np.asarray(pair_labels, dtype=int)})


def _same_pairs(rows: np.ndarray, count: int, rng: np.random.Generator):
    upper_a, upper_b = np.triu_indices(len(rows), k=1)
    available = len(upper_a)
    if count <= available:
        chosen = rng.choice(available, size=count, replace=False)
    else:
        # Fewer distinct pairs than asked: use each once, then repeat at random.
        chosen = np.concatenate([rng.permutation(available),
                                 rng.integers(0, available, size=count - available)])
    first, second = rows[upper_a[chosen]], rows[upper_b[chosen]]
    # Random order inside a pair, so "a" is not always the lower-numbered file.
    swap = rng.random(count) < 0.5
    first, second = np.where(swap, second, first), np.where(swap, first, second)
    return first.tolist(), second.tolist()


def write_pairs(pairs: pd.DataFrame, paths: Sequence[str], path, root=None) -> Path:
    """Write ``path_a, path_b, label`` (file paths relative to ``root`` where possible) for
    pairs given as positions ``index_a, index_b`` into ``paths``. Atomic (write + rename)."""
    path = Path(path)
    paths = list(paths)
    table = pd.DataFrame({
        "path_a": [_relative(paths[i], root) for i in pairs["index_a"]],
        "path_b": [_relative(paths[i], root) for i in pairs["index_b"]],
        "label": pairs["label"].astype(int).to_numpy(),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    table.to_csv(temporary, index=False)
    os.replace(temporary, path)
    return path


def read_pairs(path, paths: Sequence[str], root=None, person_labels: Sequence | None = None
               ) -> pd.DataFrame:
    """Read a pairs CSV back as ``path_a, path_b, label, index_a, index_b`` for the images
    ``paths`` (absolute). Every listed file must be among ``paths``, and with
    ``person_labels`` every label must agree with the two images' people."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"pairs file {path} does not exist")
    table = pd.read_csv(path)
    missing = [column for column in PAIR_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(f"pairs file {path} lacks columns {missing}; it needs {list(PAIR_COLUMNS)}")
    position = {os.path.normpath(str(p)): i for i, p in enumerate(paths)}

    def locate(listed):
        full = listed if root is None or os.path.isabs(listed) else os.path.join(str(root), listed)
        return position.get(os.path.normpath(full))

    index_a = [locate(p) for p in table["path_a"].astype(str)]
    index_b = [locate(p) for p in table["path_b"].astype(str)]
    unknown = [p for p, i in zip([*table["path_a"], *table["path_b"]], [*index_a, *index_b])
               if i is None]
    if unknown:
        raise ValueError(
            f"pairs file {path} names {len(unknown)} images that are not in this split "
            f"(e.g. {unknown[:3]}); it was made for other data or another split. Delete it to "
            "sample new pairs (scores made with the old pairs are then not comparable)"
        )
    labels = table["label"].astype(int).to_numpy()
    if not set(np.unique(labels)) <= {SAME_PERSON, DIFFERENT_PERSON}:
        raise ValueError(f"pairs file {path}: labels must be {SAME_PERSON} (same person) or "
                         f"{DIFFERENT_PERSON} (different people)")
    index_a, index_b = np.asarray(index_a, dtype=int), np.asarray(index_b, dtype=int)
    if person_labels is not None:
        people = np.asarray(person_labels)
        truth = np.where(people[index_a] == people[index_b], SAME_PERSON, DIFFERENT_PERSON)
        wrong = np.flatnonzero(truth != labels)
        if wrong.size:
            raise ValueError(f"pairs file {path}: rows {wrong[:10].tolist()} have labels that "
                             "disagree with the images' person folders")
    return pd.DataFrame({"path_a": table["path_a"].astype(str), "path_b": table["path_b"].astype(str),
                         "label": labels, "index_a": index_a, "index_b": index_b})


def load_or_sample_pairs(path, paths: Sequence[str], person_labels: Sequence, *,
                         pairs_per_person: int, seed, root=None) -> tuple[pd.DataFrame, bool]:
    """The pairs in ``path`` if it exists (checked against ``paths``/``person_labels``),
    else freshly sampled pairs written there. Returns ``(pairs, created)``."""
    path = Path(path)
    if path.exists():
        return read_pairs(path, paths, root=root, person_labels=person_labels), False
    pairs = sample_pairs(person_labels, pairs_per_person, seed)
    write_pairs(pairs, paths, path, root=root)
    return read_pairs(path, paths, root=root, person_labels=person_labels), True


def _relative(path: str, root) -> str:
    if root is None:
        return str(path)
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


class PairBatches(keras.utils.PyDataset):
    """Pair batches ``((images_a, images_b), labels)`` gathered by index from ``images``.

    Either fixed ``pairs`` (evaluation) or, with ``person_labels`` and
    ``pairs_per_person``, new balanced pairs every epoch drawn with seed ``[seed, epoch]``
    (training: more distinct pairs over the run than a fixed set). With ``shuffle`` the
    order is a permutation seeded by ``[seed, epoch]`` too, so batch ``i`` of epoch ``e``
    does not depend on how many epochs the run will last. ``augmentation`` (a callable such
    as :class:`kerasbench.augment.Augmentation`) is applied to both images of each pair,
    independently, with ``training=True``: give it to training batches only.
    """

    def __init__(self, images: np.ndarray, pairs: pd.DataFrame | None = None, *,
                 person_labels: Sequence | None = None, pairs_per_person: int | None = None,
                 batch_size: int = 32, shuffle: bool = False, seed: int = 0,
                 augmentation: Callable | None = None):
        # One thread, no multiprocessing: batches must come in order for reproducible runs,
        # and the images already sit in memory, so workers would only add copying.
        super().__init__(workers=1, use_multiprocessing=False)
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(f"images must be a (n, height, width, channels) array, got {images.shape}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if (pairs is None) == (person_labels is None):
            raise ValueError("give either fixed pairs or person_labels (+ pairs_per_person) "
                             "to sample pairs each epoch, not both")
        self.images = images
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.augmentation = augmentation
        self.person_labels = None if person_labels is None else np.asarray(person_labels)
        self.pairs_per_person = pairs_per_person
        if self.person_labels is not None and len(self.person_labels) != len(images):
            raise ValueError(f"person_labels has {len(self.person_labels)} entries for "
                             f"{len(images)} images")
        self.fixed_pairs = None if pairs is None else _pair_arrays(pairs, len(images))
        self.epoch = 0
        self._prepare_epoch()

    def _prepare_epoch(self) -> None:
        if self.fixed_pairs is not None:
            index_a, index_b, labels = self.fixed_pairs
        else:
            sampled = sample_pairs(self.person_labels, self.pairs_per_person, [self.seed, self.epoch])
            index_a, index_b, labels = _pair_arrays(sampled, len(self.images))
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch, 1]).permutation(len(labels))
            index_a, index_b, labels = index_a[order], index_b[order], labels[order]
        self.index_a, self.index_b, self.labels = index_a, index_b, labels

    @property
    def num_pairs(self) -> int:
        return len(self.labels)

    @property
    def num_batches(self) -> int:
        return math.ceil(len(self.labels) / self.batch_size)

    def __len__(self) -> int:
        return self.num_batches

    def __getitem__(self, batch_number: int):
        if not 0 <= batch_number < self.num_batches:
            raise IndexError(f"batch {batch_number} out of range 0..{self.num_batches - 1}")
        window = slice(batch_number * self.batch_size, (batch_number + 1) * self.batch_size)
        first = self.images[self.index_a[window]]
        second = self.images[self.index_b[window]]
        if self.augmentation is not None:
            first = np.asarray(self.augmentation(first, training=True), dtype=np.float32)
            second = np.asarray(self.augmentation(second, training=True), dtype=np.float32)
        labels = self.labels[window].astype(np.float32)
        return (first.astype(np.float32, copy=False), second.astype(np.float32, copy=False)), labels

    def on_epoch_end(self):
        self.epoch += 1
        if self.fixed_pairs is None or self.shuffle:
            self._prepare_epoch()


def _pair_arrays(pairs: pd.DataFrame, image_count: int):
    for column in ("index_a", "index_b", "label"):
        if column not in pairs.columns:
            raise ValueError(f"pairs need columns index_a, index_b, label; {column} is missing")
    index_a = pairs["index_a"].to_numpy(dtype=int)
    index_b = pairs["index_b"].to_numpy(dtype=int)
    labels = pairs["label"].to_numpy(dtype=int)
    if len(labels) == 0:
        raise ValueError("no pairs given")
    for values in (index_a, index_b):
        if values.min() < 0 or values.max() >= image_count:
            raise ValueError(f"pair indices must be in 0..{image_count - 1}")
    return index_a, index_b, labels


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


# --------------------------------------------------------------------------- scoring


# One compiled inference function per embedding model, traced once for any batch size:
# Keras's predict/predict_on_batch retrace for every new batch shape (a verification pair,
# a validation set, the last partial batch), which costs more than the inference itself.
_INFERENCE_FUNCTIONS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _inference_function(embedding_model: keras.Model):
    function = _INFERENCE_FUNCTIONS.get(embedding_model)
    if function is None:
        import tensorflow as tf

        shape = (None, *tuple(embedding_model.input_shape[1:]))

        def infer(images):
            return embedding_model(images, training=False)

        function = tf.function(infer, input_signature=[tf.TensorSpec(shape, tf.float32)])
        _INFERENCE_FUNCTIONS[embedding_model] = function
    return function


def embed_images(embedding_model: keras.Model, images: np.ndarray, batch_size: int = 64
                 ) -> np.ndarray:
    """Embeddings of 0-255 images ``(n, h, w, 3)``, in order (inference mode)."""
    images = np.asarray(images, dtype=np.float32)
    if len(images) == 0:
        return np.zeros((0, int(embedding_model.output_shape[-1])), dtype=np.float32)
    function = _inference_function(embedding_model)
    parts = [np.asarray(function(images[start:start + batch_size]))
             for start in range(0, len(images), batch_size)]
    return np.concatenate(parts).astype(np.float32, copy=False)


def pair_distances(embeddings: np.ndarray, index_a, index_b,
                   epsilon: float = DISTANCE_EPSILON) -> np.ndarray:
    """The distance :class:`EuclideanDistance` gives, for pairs of rows of ``embeddings``."""
    embeddings = np.asarray(embeddings, dtype=np.float64)
    difference = embeddings[np.asarray(index_a, dtype=int)] - embeddings[np.asarray(index_b, dtype=int)]
    return np.sqrt(np.maximum(np.sum(difference**2, axis=-1), epsilon))


def predict_same(distances, threshold: float) -> np.ndarray:
    """``SAME_PERSON`` where distance <= threshold, else ``DIFFERENT_PERSON``."""
    return np.where(np.asarray(distances, dtype=float) <= float(threshold),
                    SAME_PERSON, DIFFERENT_PERSON).astype(int)


THRESHOLD_CRITERIA = ("balanced_accuracy", "accuracy")


def choose_threshold(distances, labels, criterion: str = "balanced_accuracy") -> float:
    """The distance threshold that maximises ``criterion`` on these pairs.

    Candidates are the midpoints between consecutive distinct distances, plus one below the
    smallest and one above the largest; a pair is "same" when distance <= threshold. Among
    equally good candidates the middle one is kept, the widest-margin choice.
    """
    if criterion not in THRESHOLD_CRITERIA:
        raise ValueError(f"criterion must be one of {THRESHOLD_CRITERIA}, got {criterion!r}")
    distances = np.asarray(distances, dtype=float).ravel()
    labels = np.asarray(labels).astype(int).ravel()
    if distances.shape != labels.shape or distances.size == 0:
        raise ValueError("distances and labels must be non-empty and of equal length")
    if not np.all(np.isfinite(distances)):
        raise ValueError("distances contain NaN or infinity; the model diverged")
    same, different = np.sort(distances[labels == SAME_PERSON]), np.sort(distances[labels == DIFFERENT_PERSON])
    if same.size == 0 or different.size == 0:
        raise ValueError("choosing a threshold needs both same-person and different-person pairs")
    values = np.unique(distances)
    candidates = np.concatenate([[values[0] / 2.0], (values[:-1] + values[1:]) / 2.0,
                                 [values[-1] * 1.5 + 1e-6]])
    same_accepted = np.searchsorted(same, candidates, side="right")
    different_accepted = np.searchsorted(different, candidates, side="right")
    true_positive_rate = same_accepted / same.size
    true_negative_rate = 1.0 - different_accepted / different.size
    if criterion == "balanced_accuracy":
        score = (true_positive_rate + true_negative_rate) / 2.0
    else:
        score = (same_accepted + different.size - different_accepted) / distances.size
    best = np.flatnonzero(np.isclose(score, score.max(), rtol=0, atol=1e-12))
    return float(candidates[best[len(best) // 2]])


def choose_identification_threshold(genuine_distances, impostor_distances,
                                    target: str | float = "balanced_accuracy") -> float:
    """The open-set identification threshold: a probe is accepted (named) when its distance
    to the nearest gallery entry is <= threshold.

    ``genuine_distances``: probes of enrolled people, distance to their OWN gallery entry
    (should be accepted). ``impostor_distances``: probes of strangers, distance to their
    NEAREST gallery entry (should be rejected). ``target``:

    - ``"balanced_accuracy"`` (or ``"accuracy"``): maximise it over accept-known vs
      reject-unknown, with :func:`choose_threshold`'s candidates and tie rule;
    - a number in [0, 1]: a target false-accept rate; the largest threshold that accepts at
      most that share of impostors (midway below the first impostor it must reject).
    """
    genuine = np.asarray(genuine_distances, dtype=float).ravel()
    impostor = np.asarray(impostor_distances, dtype=float).ravel()
    if genuine.size == 0 or impostor.size == 0:
        raise ValueError("choosing an identification threshold needs genuine and impostor distances")
    if isinstance(target, str):
        distances = np.concatenate([genuine, impostor])
        labels = np.concatenate([np.full(genuine.size, SAME_PERSON), np.full(impostor.size, DIFFERENT_PERSON)])
        return choose_threshold(distances, labels, target)
    rate = float(target)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a false-accept-rate target must be in [0, 1], got {target!r}")
    everything = np.concatenate([genuine, impostor])
    if not np.all(np.isfinite(everything)):
        raise ValueError("distances contain NaN or infinity; the model diverged")
    impostor = np.sort(impostor)
    allowed = int(math.floor(rate * impostor.size + 1e-9))
    if allowed >= impostor.size:
        return float(everything.max() * 1.5 + 1e-6)
    first_rejected = impostor[allowed]
    below = everything[everything < first_rejected]
    return float((below.max() + first_rejected) / 2.0 if below.size else first_rejected / 2.0)


def evaluate_pairs(distances, labels, threshold: float) -> dict:
    """Scores of pairs at ``threshold``: ``classification_metrics`` over
    ``PAIR_CLASS_NAMES`` (per-class P/R/F1, confusion matrix, ``collapsed``) plus ROC-AUC,
    ROC curve and equal error rate with score = -distance, and mean distances per class."""
    from kerasbench.metrics import binary_scores, classification_metrics

    distances = np.asarray(distances, dtype=float).ravel()
    labels = np.asarray(labels).astype(int).ravel()
    predictions = predict_same(distances, threshold)
    result = classification_metrics(labels, predictions, PAIR_CLASS_NAMES)
    scores = binary_scores(labels, -distances)
    result["roc_auc"] = scores["roc_auc"]
    result["eer"] = scores["eer"]
    # binary_scores thresholds scores (-distance); report the EER point as a distance.
    result["eer_distance"] = None if scores.get("eer_threshold") is None else -scores["eer_threshold"]
    result["roc_curve"] = scores["roc_curve"]
    result["threshold"] = float(threshold)
    for label in (SAME_PERSON, DIFFERENT_PERSON):
        chosen = distances[labels == label]
        result[f"mean_distance_{PAIR_CLASS_NAMES[label]}"] = (
            float(chosen.mean()) if chosen.size else None)
    return result


# --------------------------------------------------------------------------- verifier


class Verification(NamedTuple):
    """One verification: ``distance, decision, threshold = verifier.verify(a, b)``."""

    distance: float
    decision: int  # SAME_PERSON or DIFFERENT_PERSON
    threshold: float

    @property
    def same_person(self) -> bool:
        return self.decision == SAME_PERSON


class Identification(NamedTuple):
    """The nearest enrolled person, or ``UNKNOWN`` when even that one is beyond the threshold."""

    name: str
    distance: float
    nearest: str
    threshold: float

    @property
    def known(self) -> bool:
        return self.name != UNKNOWN


@dataclass
class Gallery:
    """Enrolled embeddings: ``names[i]`` is the person of ``embeddings[i]``.

    ``method="mean"``: one row per person, the mean of their embeddings (re-normalised to
    unit length when the verifier normalises, so gallery distances are on the threshold's
    scale). ``method="nearest"``: every enrolled image's embedding is kept and a probe
    takes its nearest one.
    """

    names: list
    embeddings: np.ndarray
    method: str = "mean"
    images_per_person: dict = field(default_factory=dict)

    @property
    def people(self) -> list:
        return list(dict.fromkeys(self.names))

    def __len__(self) -> int:
        return len(self.people)


class FaceVerifier:
    """An embedding model plus the decision threshold chosen for it.

    Images are file paths or 0-255 arrays (``(h, w)`` grey, ``(h, w, 1|3)``, or a batch);
    arrays of another size are resized (bilinear), grey is repeated to three channels.
    ``save(folder)`` writes ``embedding.keras`` and ``verifier.json`` (threshold, image
    size, label convention and how the threshold was chosen); ``FaceVerifier.load(folder)``
    reads them back.

    ``threshold`` is the one-to-one verification threshold (``verify``).
    ``identification_threshold`` (optional, saved in ``verifier.json``) is the open-set
    threshold ``identify`` applies to the distance to the NEAREST gallery entry (see
    :func:`choose_identification_threshold`); ``None`` falls back to ``threshold``, which
    accepts more strangers against a gallery than against a single pair.
    """

    def __init__(self, embedding_model: keras.Model, threshold: float, *,
                 metadata: Mapping | None = None, identification_threshold: float | None = None):
        threshold = float(threshold)
        if not math.isfinite(threshold):
            raise ValueError(f"threshold must be a finite distance, got {threshold}")
        if identification_threshold is not None:
            identification_threshold = float(identification_threshold)
            if not math.isfinite(identification_threshold):
                raise ValueError("identification_threshold must be a finite distance or None, "
                                 f"got {identification_threshold}")
        self.embedding_model = embedding_model
        self.threshold = threshold
        self.identification_threshold = identification_threshold
        shape = embedding_model.input_shape
        self.image_size = (int(shape[1]), int(shape[2]))
        self.metadata = dict(metadata or {})

    @property
    def open_set_threshold(self) -> float:
        """The threshold ``identify`` uses: ``identification_threshold``, else ``threshold``."""
        return self.threshold if self.identification_threshold is None else self.identification_threshold

    @property
    def l2_normalize(self) -> bool:
        return any(isinstance(layer, keras.layers.UnitNormalization)
                   for layer in self.embedding_model.layers)

    # -- images

    def prepare(self, images) -> np.ndarray:
        """Paths or arrays -> a float32 batch ``(n, height, width, 3)`` at ``image_size``."""
        if isinstance(images, (str, os.PathLike)):
            return self._prepare_one(images)[None]
        if isinstance(images, np.ndarray) and images.ndim == 4:
            if tuple(images.shape[1:3]) == self.image_size and images.shape[-1] == 3:
                return images.astype(np.float32, copy=False)
            return np.stack([self._prepare_one(image) for image in images])
        if isinstance(images, np.ndarray):
            return self._prepare_one(images)[None]
        if isinstance(images, (list, tuple)):
            if not images:
                raise ValueError("no images given")
            return np.stack([self._prepare_one(image) for image in images])
        raise ValueError(f"images must be paths or arrays, got {type(images).__name__}")

    def _prepare_one(self, image) -> np.ndarray:
        if isinstance(image, (str, os.PathLike)):
            from kerasbench.pipeline import load_image

            if not os.path.isfile(image):
                raise FileNotFoundError(f"image file {image} does not exist")
            return np.asarray(load_image(image, self.image_size, channels=3), dtype=np.float32)
        array = np.asarray(image, dtype=np.float32)
        if array.ndim == 2:
            array = array[..., None]
        if array.ndim != 3 or array.shape[-1] not in (1, 3):
            raise ValueError(f"an image array must be (h, w), (h, w, 1) or (h, w, 3), got {array.shape}")
        if array.shape[-1] == 1:
            array = np.repeat(array, 3, axis=-1)
        if tuple(array.shape[:2]) != self.image_size:
            import tensorflow as tf

            # The same resize as kerasbench.pipeline.load_image (bilinear, antialiased,
            # clipped), so an array and the file it came from give the same embedding.
            resized = tf.image.resize(array, self.image_size, method="bilinear", antialias=True)
            array = tf.clip_by_value(resized, 0.0, 255.0).numpy()
        return array.astype(np.float32, copy=False)

    # -- verification

    def embed(self, images, batch_size: int = 64) -> np.ndarray:
        return embed_images(self.embedding_model, self.prepare(images), batch_size=batch_size)

    def distance(self, image_a, image_b) -> float:
        embeddings = self.embed([image_a, image_b])
        return float(pair_distances(embeddings, [0], [1])[0])

    def verify(self, image_a, image_b) -> Verification:
        """Distance, decision (``SAME_PERSON``/``DIFFERENT_PERSON``) and the threshold."""
        distance = self.distance(image_a, image_b)
        return Verification(distance, int(predict_same([distance], self.threshold)[0]),
                            self.threshold)

    # -- enrollment and identification

    def enroll(self, people, method: str = "mean") -> Gallery:
        """Build a :class:`Gallery` from a folder of person folders, a mapping
        ``{name: [images]}``, or a DataFrame with ``path`` and ``class_name`` columns."""
        if method not in ("mean", "nearest"):
            raise ValueError(f"method must be 'mean' or 'nearest', got {method!r}")
        groups = _people_groups(people)
        return _gallery_from_embeddings({name: self.embed(list(images)) for name, images in groups.items()},
                                        method, self.l2_normalize)

    def identify(self, probe, gallery: Gallery) -> Identification:
        """The nearest enrolled person, or ``UNKNOWN`` beyond :attr:`open_set_threshold`
        (``identification_threshold`` when set, else the verification ``threshold``)."""
        return self.identify_many([probe], gallery)[0]

    def identify_many(self, probes, gallery: Gallery) -> list[Identification]:
        if not len(gallery.names):
            raise ValueError("the gallery is empty: enroll at least one person first")
        embeddings = self.embed(probes if isinstance(probes, (list, tuple)) else [probes])
        distances = _distance_matrix(embeddings, gallery.embeddings)
        nearest = distances.argmin(axis=1)
        threshold = self.open_set_threshold
        results = []
        for row, column in enumerate(nearest):
            distance = float(distances[row, column])
            name = gallery.names[column]
            decided = name if distance <= threshold else UNKNOWN
            results.append(Identification(decided, distance, name, threshold))
        return results

    # -- persistence

    def save(self, folder) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.embedding_model.save(folder / EMBEDDING_FILE)
        from kerasbench.results import write_json_atomic

        write_json_atomic(folder / VERIFIER_FILE, {
            "format": VERIFIER_FORMAT,
            "threshold": self.threshold,
            "identification_threshold": self.identification_threshold,
            "image_size": list(self.image_size),
            "labels": {"same_person": SAME_PERSON, "different_person": DIFFERENT_PERSON},
            "decision": "same person when distance <= threshold; identify names the nearest "
                        "enrolled person when distance <= identification_threshold "
                        "(null: threshold)",
            "metadata": self.metadata,
        })
        return folder

    @classmethod
    def load(cls, folder) -> FaceVerifier:
        import json

        folder = Path(folder)
        settings_path, model_path = folder / VERIFIER_FILE, folder / EMBEDDING_FILE
        for path in (settings_path, model_path):
            if not path.exists():
                raise FileNotFoundError(f"{path} not found: a saved verifier folder holds "
                                        f"{VERIFIER_FILE} and {EMBEDDING_FILE}")
        settings = json.loads(settings_path.read_text(encoding="utf-8"))
        if settings.get("format") != VERIFIER_FORMAT:
            raise ValueError(f"{settings_path} has format {settings.get('format')!r}; this "
                             f"kerasbench reads format {VERIFIER_FORMAT}")
        model = keras.saving.load_model(model_path, compile=False)
        return cls(model, settings["threshold"], metadata=settings.get("metadata"),
                   identification_threshold=settings.get("identification_threshold"))


def _distance_matrix(probes: np.ndarray, gallery: np.ndarray) -> np.ndarray:
    differences = np.asarray(probes, np.float64)[:, None, :] - np.asarray(gallery, np.float64)[None]
    return np.sqrt(np.maximum((differences**2).sum(axis=-1), DISTANCE_EPSILON))


def _gallery_from_embeddings(groups: Mapping, method: str, l2_normalize: bool) -> Gallery:
    """{name: (n, d) embeddings} -> :class:`Gallery` (``mean``: one re-normalised row each)."""
    names, embeddings, counts = [], [], {}
    for name, vectors in groups.items():
        vectors = np.asarray(vectors)
        counts[name] = len(vectors)
        if method == "mean":
            vectors = vectors.mean(axis=0, keepdims=True)
            if l2_normalize:
                vectors = vectors / max(float(np.linalg.norm(vectors)), 1e-12)
        names.extend([name] * len(vectors))
        embeddings.append(vectors)
    return Gallery(names=names, embeddings=np.concatenate(embeddings).astype(np.float32),
                   method=method, images_per_person=counts)


def identification_distances(verifier: FaceVerifier, people, *, enrolled_fraction: float = 0.5,
                             gallery_images: int = 3, method: str = "mean", rounds: int = 5,
                             seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Genuine and impostor gallery distances on a folder-per-person set (seeded).

    ``people``: a folder of person folders, ``{name: [images]}`` or a DataFrame with
    ``path`` and ``class_name`` (as :meth:`FaceVerifier.enroll`). Each of ``rounds`` rounds
    enrolls a random ``enrolled_fraction`` of the people (at least one, leaving at least one
    stranger) with ``gallery_images`` random images each; their other images are genuine
    probes (distance to their OWN gallery entry, nearest own image for ``method="nearest"``)
    and every image of the other people is an impostor probe (distance to the NEAREST gallery
    entry). People with at most ``gallery_images`` images are only ever strangers. Every
    image is embedded once. Returns ``(genuine, impostor)``.
    """
    if method not in ("mean", "nearest"):
        raise ValueError(f"method must be 'mean' or 'nearest', got {method!r}")
    if rounds < 1 or gallery_images < 1:
        raise ValueError("rounds and gallery_images must be >= 1")
    groups = _people_groups(people)
    embedded = {name: verifier.embed(list(images)) for name, images in groups.items()}
    names = list(embedded)
    can_enroll = [name for name in names if len(embedded[name]) > gallery_images]
    if not can_enroll or len(names) < 2:
        raise ValueError(f"need at least two people, one with more than gallery_images="
                         f"{gallery_images} images; got {len(names)} people, "
                         f"{len(can_enroll)} with enough images")
    count = min(max(1, int(round(enrolled_fraction * len(names)))), len(names) - 1, len(can_enroll))
    rng = np.random.default_rng(seed)
    genuine, impostor = [], []
    for _ in range(rounds):
        enrolled = list(rng.choice(can_enroll, size=count, replace=False))
        gallery_rows, probes = {}, {}
        for name in enrolled:
            order = rng.permutation(len(embedded[name]))
            gallery_rows[name] = embedded[name][order[:gallery_images]]
            probes[name] = embedded[name][order[gallery_images:]]
        gallery = _gallery_from_embeddings(gallery_rows, method, verifier.l2_normalize)
        gallery_names = np.asarray(gallery.names)
        for name in enrolled:
            genuine.append(_distance_matrix(probes[name], gallery.embeddings[gallery_names == name]).min(axis=1))
        strangers = [embedded[name] for name in names if name not in enrolled]
        impostor.append(_distance_matrix(np.concatenate(strangers), gallery.embeddings).min(axis=1))
    return np.concatenate(genuine), np.concatenate(impostor)


def identification_threshold_from_people(verifier: FaceVerifier, people, *,
                                         target: str | float = "balanced_accuracy",
                                         **options) -> float:
    """:func:`choose_identification_threshold` on :func:`identification_distances` of
    ``people`` (``options``: enrolled_fraction, gallery_images, method, rounds, seed). Use
    people the evaluation never sees (validation or training people), then set
    ``verifier.identification_threshold`` to the result."""
    genuine, impostor = identification_distances(verifier, people, **options)
    return choose_identification_threshold(genuine, impostor, target)


def _people_groups(people) -> dict:
    if isinstance(people, (str, os.PathLike)):
        from kerasbench.data.index import index_folder

        index = index_folder(people, validation_fraction=0.0, test_fraction=0.0,
                             check_images=False, on_cross_split_duplicate="ignore")
        people = index.frame
    if isinstance(people, pd.DataFrame):
        for column in ("path", "class_name"):
            if column not in people.columns:
                raise ValueError(f"an enrollment table needs 'path' and 'class_name' columns; "
                                 f"{column} is missing")
        groups = {str(name): list(rows["path"]) for name, rows in people.groupby("class_name", sort=False)}
    elif isinstance(people, Mapping):
        groups = {str(name): list(images) for name, images in people.items()}
    else:
        raise ValueError("enroll takes a folder of person folders, a {name: [images]} mapping "
                         f"or a DataFrame with path and class_name, got {type(people).__name__}")
    empty = [name for name, images in groups.items() if not images]
    if not groups or empty:
        raise ValueError(f"every enrolled person needs at least one image; empty: {empty}")
    if UNKNOWN in groups:
        raise ValueError(f"{UNKNOWN!r} is the answer for strangers and cannot be a person's name")
    return groups


def identification_summary(true_names: Sequence[str], results: Sequence[Identification],
                           enrolled: Iterable[str]) -> dict:
    """Open-set identification (attendance) scores.

    For probes of enrolled people: ``identification_rate`` (right name), ``misidentified``
    (another enrolled name) and ``false_rejections`` (called unknown). For probes of
    strangers: ``rejection_rate`` (called unknown) and ``false_accepts``.
    """
    enrolled = set(enrolled)
    if len(true_names) != len(results):
        raise ValueError("true_names and results must have one entry per probe")
    known = [(truth, result) for truth, result in zip(true_names, results) if truth in enrolled]
    strangers = [result for truth, result in zip(true_names, results) if truth not in enrolled]
    summary = {"known_probes": len(known), "stranger_probes": len(strangers)}
    if known:
        summary["identification_rate"] = float(np.mean([r.name == t for t, r in known]))
        summary["misidentified"] = float(np.mean([r.name not in (t, UNKNOWN) for t, r in known]))
        summary["false_rejections"] = float(np.mean([r.name == UNKNOWN for _, r in known]))
    if strangers:
        summary["rejection_rate"] = float(np.mean([r.name == UNKNOWN for r in strangers]))
        summary["false_accepts"] = float(np.mean([r.name != UNKNOWN for r in strangers]))
    return summary


def measure_latency(verifier: FaceVerifier, image_a, image_b, *, batch_images: np.ndarray | None = None,
                    repeats: int = 10, batch_size: int = 64) -> dict:
    """Warm single-pair verification time and batch throughput.

    ``single_pair_seconds``: median over ``repeats`` of ``verifier.verify(a, b)`` after one
    warm-up call (with paths this includes decoding both files; the paper's "< 5 s per
    verification" claim is about this number). ``pairs_per_second``: pairs scored per second
    when ``batch_images`` (prepared 0-255 arrays, taken as consecutive pairs) are embedded
    in batches of ``batch_size`` and their distances computed.
    """
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    verifier.verify(image_a, image_b)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        verifier.verify(image_a, image_b)
        timings.append(time.perf_counter() - start)
    result = {"single_pair_seconds": float(np.median(timings)),
              "single_pair_seconds_max": float(np.max(timings)), "repeats": int(repeats)}
    if batch_images is not None:
        images = np.asarray(batch_images, dtype=np.float32)
        count = (len(images) // 2) * 2
        if count < 2:
            raise ValueError("batch_images needs at least two images (one pair)")
        images = images[:count]
        embed_images(verifier.embedding_model, images[: min(batch_size, count)], batch_size)
        start = time.perf_counter()
        embeddings = embed_images(verifier.embedding_model, images, batch_size=batch_size)
        pair_distances(embeddings, np.arange(0, count, 2), np.arange(1, count, 2))
        seconds = time.perf_counter() - start
        result["batch_pairs"] = count // 2
        result["pairs_per_second"] = float((count // 2) / max(seconds, 1e-9))
    return result
