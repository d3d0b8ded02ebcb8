"""The label convention and the registered Keras objects of the Siamese model.

- **Label convention** (one, used everywhere): ``SAME_PERSON = 1``, ``DIFFERENT_PERSON = 0``.
  ``PAIR_CLASS_NAMES[label]`` names a label, so per-class tables read "different" / "same"
  (the paper's "False" / "True").
- :class:`EuclideanDistance` (epsilon-safe distance layer), :class:`ContrastiveLoss` and
  :class:`PairAccuracy`: registered Keras objects (``kerasbench>ClassName``, no Lambda
  layers), so a trained model saves to ``.keras`` and loads back.
"""

from __future__ import annotations

import keras
from keras import ops

SAME_PERSON = 1
DIFFERENT_PERSON = 0
# Indexed by label: PAIR_CLASS_NAMES[SAME_PERSON] == "same".
PAIR_CLASS_NAMES = ("different", "same")
# sqrt(max(sum of squares, epsilon)): below epsilon the max is constant, so the gradient at
# zero distance is 0 instead of the 0/0 (NaN) of sqrt at 0. Keras's fuzz factor.
DISTANCE_EPSILON = 1e-7


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
