"""Siamese verification: an embedding network, a distance layer, contrastive loss, pairs.

Every public name is re-exported here (``from kerasbench import siamese; siamese.X``).
One concern per module, in the order a study uses them:

- :mod:`~kerasbench.siamese.layers_and_loss`: the label convention (``SAME_PERSON = 1``,
  ``DIFFERENT_PERSON = 0``, ``PAIR_CLASS_NAMES``), ``DISTANCE_EPSILON`` and the registered
  Keras objects :class:`EuclideanDistance`, :class:`ContrastiveLoss`, :class:`PairAccuracy`.
- :mod:`~kerasbench.siamese.model`: :func:`build_embedding_network` (SqueezeNet branch),
  :func:`build_siamese_model`, :func:`compile_siamese`, :func:`squeezenet_backbone_name`,
  :func:`as_image_shape`.
- :mod:`~kerasbench.siamese.pairs`: :func:`sample_pairs`, :func:`write_pairs`,
  :func:`read_pairs`, :func:`load_or_sample_pairs`, :class:`PairBatches`.
- :mod:`~kerasbench.siamese.thresholds`: :func:`embed_images`, :func:`pair_distances`,
  :func:`predict_same`, :func:`choose_threshold` (``THRESHOLD_CRITERIA``),
  :func:`choose_identification_threshold`, :func:`evaluate_pairs`.
- :mod:`~kerasbench.siamese.verifier`: :class:`FaceVerifier` (save/load),
  :class:`Gallery`, :class:`Verification`, :class:`Identification`, ``UNKNOWN``,
  :func:`identification_distances`, :func:`identification_threshold_from_people`,
  :func:`identification_summary`, :func:`measure_latency`.

Training (one fit evaluated at several epoch counts, :class:`EpochCheckpoints`,
:func:`train_siamese`) is the engine's Siamese path: :mod:`kerasbench.engine.siamese`.
"""

from __future__ import annotations

from kerasbench.siamese.layers_and_loss import (
    DIFFERENT_PERSON,
    DISTANCE_EPSILON,
    PAIR_CLASS_NAMES,
    SAME_PERSON,
    ContrastiveLoss,
    EuclideanDistance,
    PairAccuracy,
)
from kerasbench.siamese.model import (
    as_image_shape,
    build_embedding_network,
    build_siamese_model,
    compile_siamese,
    squeezenet_backbone_name,
)
from kerasbench.siamese.pairs import (
    PAIR_COLUMNS,
    PairBatches,
    load_or_sample_pairs,
    read_pairs,
    sample_pairs,
    write_pairs,
)
from kerasbench.siamese.thresholds import (
    THRESHOLD_CRITERIA,
    choose_identification_threshold,
    choose_threshold,
    embed_images,
    evaluate_pairs,
    pair_distances,
    predict_same,
)
from kerasbench.siamese.verifier import (
    EMBEDDING_FILE,
    UNKNOWN,
    VERIFIER_FILE,
    VERIFIER_FORMAT,
    FaceVerifier,
    Gallery,
    Identification,
    Verification,
    identification_distances,
    identification_summary,
    identification_threshold_from_people,
    measure_latency,
)

__all__ = [
    "DIFFERENT_PERSON",
    "DISTANCE_EPSILON",
    "EMBEDDING_FILE",
    "PAIR_CLASS_NAMES",
    "PAIR_COLUMNS",
    "SAME_PERSON",
    "THRESHOLD_CRITERIA",
    "UNKNOWN",
    "VERIFIER_FILE",
    "VERIFIER_FORMAT",
    "ContrastiveLoss",
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
    "write_pairs",
]
