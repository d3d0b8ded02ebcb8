"""Pairs: sampling, the pairs CSV, and pair batches.

:func:`sample_pairs` draws balanced same/different pairs (seeded);
:func:`load_or_sample_pairs` keeps evaluation pairs in a CSV (``path_a, path_b, label``)
so every run scores the same pairs. :class:`PairBatches` builds pair batches by index
from images decoded once into memory.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from kerasbench.io import write_csv_atomic
from kerasbench.siamese.layers_and_loss import DIFFERENT_PERSON, SAME_PERSON

PAIR_COLUMNS = ("path_a", "path_b", "label")


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
    return write_csv_atomic(path, table)


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
    as :class:`kerasbench.pipeline.Augmentation`) is applied to both images of each pair,
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
    def output_signature(self):
        """The batches' ``tf.TensorSpec`` structure, known without drawing a batch (for
        the ``tf.data`` pass of ``kerasbench.engine.fitting.fit_replicated``)."""
        import tensorflow as tf

        image = tf.TensorSpec((None, *self.images.shape[1:]), tf.float32)
        return (image, image), tf.TensorSpec((None,), tf.float32)

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
