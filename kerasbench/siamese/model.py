"""The Siamese model: embedding network, two shared branches, compilation.

:func:`build_embedding_network` (the registry's SqueezeNet, global average pooling, an
optional linear projection, optional L2 normalisation) and :func:`build_siamese_model` (two
inputs, ONE shared embedding network, :class:`EuclideanDistance`); :func:`compile_siamese`
adds :class:`ContrastiveLoss` and :class:`PairAccuracy`.

Default: ``l2_normalize=True``. Embeddings then lie on the unit sphere, distances are in
[0, 2], and the default ``margin=1.0`` means "different people at least a radius apart"
whatever the backbone's activation scale; a margin without normalisation must be tuned
to the feature scale, which changes with weights and image size.
"""

from __future__ import annotations

import os

import keras
import numpy as np

from kerasbench.siamese.layers_and_loss import ContrastiveLoss, EuclideanDistance, PairAccuracy


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

    ``augmentation`` (a :class:`kerasbench.pipeline.Augmentation`) puts its layers in front
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
