"""The models of the frozen-backbone protocol: the extractor (backbone + pooling), the
seeded head, the full classifier, and the one ordered forward pass over a frame."""

from __future__ import annotations

import time
import weakref

import numpy as np
import pandas as pd

from kerasbench.engine.feature_keys import feature_policy

HEAD_LAYER_NAME = "predictions"


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
    outputs, labels, seconds = ordered_outputs_shared(
        [model], frame, image_size=image_size, batch_size=batch_size,
        interpolation=interpolation)
    return outputs[0], labels, seconds[0]


def ordered_outputs_shared(models, frame: pd.DataFrame, *, image_size, batch_size: int = 64,
                           interpolation: str = "bilinear"):
    """:func:`ordered_outputs` of several models over one decoding of ``frame``:
    ``([outputs of each model], labels, [seconds of each model])``.

    Each batch is decoded and resized once and handed to every model in turn, so models
    of the same input size (the backbones of one grid image size) share the cost of the
    input pipeline. Every model takes raw 0..255 images and normalises them itself. A
    model's seconds are its own forward calls (tracing included) plus an equal share of
    the rest of the pass (decoding, waiting for the pipeline).
    """
    import tensorflow as tf

    from kerasbench.pipeline import make_dataset

    models = list(models)
    if not models:
        raise ValueError("ordered_outputs_shared needs at least one model")
    has_labels = "label" in frame.columns
    dataset = make_dataset(
        frame, image_size=image_size, batch_size=int(batch_size),
        label_mode="int" if has_labels else None, shuffle=False, interpolation=interpolation,
    )
    outputs: list[list] = [[] for _ in models]
    labels = []
    start = time.perf_counter()
    forwards = [_forward_function(model) for model in models]
    forward_seconds = [0.0] * len(models)
    for batch in dataset:
        images, batch_labels = batch if has_labels else (batch, None)
        count = int(images.shape[0])
        if count < batch_size:
            images = tf.pad(images, [[0, batch_size - count], [0, 0], [0, 0], [0, 0]])
        for position, forward in enumerate(forwards):
            call_start = time.perf_counter()
            outputs[position].append(forward(images)[:count])
            forward_seconds[position] += time.perf_counter() - call_start
        if has_labels:
            labels.append(np.asarray(batch_labels).reshape(-1))
    results = [np.asarray(tf.concat(collected, axis=0), dtype=np.float32) if collected else
               np.zeros((0,) + tuple(model.output.shape[1:]), np.float32)
               for collected, model in zip(outputs, models)]
    shared = (time.perf_counter() - start - sum(forward_seconds)) / len(models)
    seconds = [own + shared for own in forward_seconds]
    if has_labels:
        label_array = np.concatenate(labels).astype(np.int64) if labels else \
            np.zeros(0, np.int64)
        if len(label_array) != len(frame) or not np.array_equal(
            label_array, frame["label"].to_numpy().astype(np.int64)
        ):
            raise RuntimeError("the ordered pass lost the frame's row order; refusing to use it")
    else:
        label_array = np.full(len(frame), -1, dtype=np.int64)
    return results, label_array, seconds


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
