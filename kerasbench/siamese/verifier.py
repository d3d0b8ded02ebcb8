"""Use: :class:`FaceVerifier` (``verify(a, b)`` -> distance, decision, threshold;
save/load), :class:`Gallery` enrollment and :meth:`FaceVerifier.identify` (nearest person
or ``UNKNOWN``), open-set identification helpers, and :func:`measure_latency`.

:func:`identification_threshold_from_people` computes genuine and impostor gallery
distances on a folder-per-person set (seeded enrolled / stranger splits) so the open-set
threshold is chosen on people a test never sees.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import keras
import numpy as np
import pandas as pd

from kerasbench.io import atomic_path, read_json, write_json_atomic
from kerasbench.siamese.layers_and_loss import DIFFERENT_PERSON, DISTANCE_EPSILON, SAME_PERSON
from kerasbench.siamese.thresholds import (
    choose_identification_threshold,
    embed_images,
    pair_distances,
    predict_same,
)

UNKNOWN = "unknown"
VERIFIER_FILE = "verifier.json"
EMBEDDING_FILE = "embedding.keras"
VERIFIER_FORMAT = 1


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
        """Write ``embedding.keras`` then ``verifier.json`` into ``folder``, each atomically
        (a temporary file renamed over the old one), so a killed save leaves the previous
        verifier, or none, but never half of one."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(folder / EMBEDDING_FILE) as temporary:
            self.embedding_model.save(temporary)
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
        """Read a folder written by :meth:`save`. A missing, corrupt or truncated file
        raises an error that names it, the step that writes it and what to do."""
        folder = Path(folder)
        settings_path, model_path = folder / VERIFIER_FILE, folder / EMBEDDING_FILE
        for path in (settings_path, model_path):
            if not path.exists():
                raise FileNotFoundError(f"{path} not found: a saved verifier folder holds "
                                        f"{VERIFIER_FILE} and {EMBEDDING_FILE}, both written "
                                        f"by {_SAVE_STEP}; {_REDO}")
        settings = read_json(settings_path, what="verifier settings file",
                             hint=f"it is written by {_SAVE_STEP}; {_REDO}")
        if not isinstance(settings, dict) or settings.get("format") != VERIFIER_FORMAT:
            found = settings.get("format") if isinstance(settings, dict) else settings
            raise ValueError(f"{settings_path} has format {found!r}; this kerasbench reads "
                             f"format {VERIFIER_FORMAT} (written by {_SAVE_STEP}); {_REDO}")
        if not _is_number(settings.get("threshold")):
            raise ValueError(f"{settings_path} has no numeric 'threshold' (found "
                             f"{settings.get('threshold')!r}); it is written by "
                             f"{_SAVE_STEP}; {_REDO}")
        try:
            model = keras.saving.load_model(model_path, compile=False)
        except Exception as error:  # noqa: BLE001 - zipfile, h5py and Keras errors alike
            raise ValueError(
                f"embedding model {model_path} cannot be loaded ({type(error).__name__}: "
                f"{error}); the file is truncated or not a Keras model. It is written by "
                f"{_SAVE_STEP}; {_REDO}") from error
        return cls(model, settings["threshold"], metadata=settings.get("metadata"),
                   identification_threshold=settings.get("identification_threshold"))


_SAVE_STEP = ("FaceVerifier.save(folder) (the faces study calls it for each trained run, "
              "save_verifiers='final' or 'all')")
_REDO = ("save the verifier again (rerun the step that trained it) or copy the folder again "
         "from where it was saved")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


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

        # One enrolled person is a valid gallery (min_classes=1).
        index = index_folder(people, validation_fraction=0.0, test_fraction=0.0,
                             check_images=False, on_cross_split_duplicate="ignore",
                             min_classes=1)
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
