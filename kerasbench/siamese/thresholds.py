"""Distances and decisions: embeddings, pair distances, thresholds, pair scores.

:func:`embed_images` and :func:`pair_distances` give the distances the model gives;
:func:`choose_threshold` picks the distance threshold on held-out (or training) pairs;
:func:`evaluate_pairs` scores pairs with it (per-class P/R/F1, confusion matrix, ROC with
score = -distance, equal error rate, collapse).

Open-set identification threshold: the nearest of N gallery entries is closer than a
single pair's distance, so the one-to-one threshold accepts too many strangers against a
gallery. :func:`choose_identification_threshold` picks a separate threshold from genuine
(own gallery entry) and impostor (nearest gallery entry) distances.
"""

from __future__ import annotations

import math
import weakref

import keras
import numpy as np

from kerasbench.siamese.layers_and_loss import (
    DIFFERENT_PERSON,
    DISTANCE_EPSILON,
    PAIR_CLASS_NAMES,
    SAME_PERSON,
)

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
