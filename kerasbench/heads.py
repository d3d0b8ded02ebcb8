"""Classifier heads on registry backbones, freezing policies, optimizers and compiling.

A classifier is ``image -> <name>_backbone(training=False) -> avg_pool -> [hidden]
[dropout] -> predictions``. The backbone is always called with ``training=False``: the
Keras transfer-learning guide's rule, so BatchNormalization keeps its ImageNet statistics
whether the base is frozen, partly or fully trainable; and every BatchNormalization layer
is also kept ``trainable=False`` so that its scale and offset stay fixed.

Changing what is trainable only takes effect for training after compiling again::

    model = build_classifier("resnet50", 10, image_size=224, weights="imagenet")
    compile_classifier(model, "adam", 1e-3)
    model.fit(...)                      # head only
    set_trainable(model, 2)             # conv4 and conv5 as well
    compile_classifier(model, "adam", 1e-5)
    model.fit(...)
"""

from __future__ import annotations

import keras
import numpy as np

from kerasbench.backbones import build_backbone, find_backbone, get_backbone, stage_assignments

HEADS = ("logits", "softmax", "sigmoid")
LABEL_MODES = ("int", "categorical", "binary")
OPTIMIZERS = ("adam", "adamw", "sgd")
_HEAD_ACTIVATION = {"logits": None, "softmax": "softmax", "sigmoid": "sigmoid"}
OUTPUT_LAYER = "predictions"


def build_classifier(
    backbone,
    num_classes: int,
    *,
    image_size=None,
    weights=None,
    head: str = "logits",
    hidden_units: int | None = None,
    hidden_activation: str = "relu",
    dropout: float = 0.0,
    trainable="frozen",
    channels: int = 3,
) -> keras.Model:
    """An image classifier: backbone -> global average pooling -> dense output.

    Args:
        backbone: a registry name (``"resnet50"``), or a model from
            ``backbones.build_backbone`` (then ``image_size``, ``weights`` and ``channels``
            must be left at their defaults).
        num_classes: number of classes; must be 2 for ``head="sigmoid"``.
        image_size: int or ``(height, width)``; ``None`` for the backbone's default size.
        weights: ``None``, ``"imagenet"`` or a weights file path, for the backbone.
        head: ``"logits"`` (``Dense(num_classes)``, no activation), ``"softmax"``
            (``Dense(num_classes, softmax)``) or ``"sigmoid"`` (``Dense(1, sigmoid)``, the
            probability of class 1).
        hidden_units: if set, a ``Dense(hidden_units, hidden_activation)`` layer named
            ``hidden`` before the output.
        dropout: if above 0, a ``Dropout(dropout)`` right before the output layer.
        trainable: ``"frozen"``, ``"all"``, an int N (the last N stages of the backbone),
            or ``"full"`` (see :func:`set_trainable`). Only ``"full"`` calls the backbone
            without ``training=False``, so its BatchNormalization layers train and use
            batch statistics: training from scratch, or the FER paper's full fine-tuning.
        channels: 3 for RGB, 1 for grey input (repeated to RGB inside the model).

    Returns:
        A ``keras.Model`` named ``<backbone>_classifier`` with input ``image`` (raw 0..255
        pixels) and output layer ``predictions`` (float32, whatever the dtype policy).
        ``infer_head(model)`` and ``find_backbone(model)`` recover the head and backbone,
        also from a saved and reloaded model.
    """
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ValueError(f"num_classes must be an int, got {num_classes!r}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    if head == "sigmoid" and num_classes != 2:
        raise ValueError(
            f"head='sigmoid' is a single probability for binary problems; num_classes must "
            f"be 2, got {num_classes} (use head='softmax' or 'logits')"
        )
    if hidden_units is not None and (
        isinstance(hidden_units, bool)
        or not isinstance(hidden_units, (int, np.integer))
        or hidden_units < 1
    ):
        raise ValueError(f"hidden_units must be a positive int or None, got {hidden_units!r}")
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")

    if isinstance(backbone, keras.Model):
        if image_size is not None or weights is not None or channels != 3:
            raise ValueError(
                "pass image_size, weights and channels to build_backbone, not to "
                "build_classifier, when giving an already built backbone model"
            )
        spec, backbone_model, _ = find_backbone(backbone)
    else:
        spec = get_backbone(backbone)
        backbone_model = build_backbone(
            spec.name, image_size=image_size, weights=weights, channels=channels
        )

    inputs = keras.Input(shape=backbone_model.input.shape[1:], dtype="float32", name="image")
    # training=False keeps BatchNormalization in inference mode even when the base is
    # unfrozen for fine-tuning; it is stored in the graph, so it survives saving.
    if trainable == "full":
        features = backbone_model(inputs)
    else:
        features = backbone_model(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(features)
    if hidden_units is not None:
        x = keras.layers.Dense(int(hidden_units), activation=hidden_activation, name="hidden")(x)
    if dropout > 0:
        x = keras.layers.Dropout(float(dropout), name="dropout")(x)
    units = 1 if head == "sigmoid" else int(num_classes)
    # float32 output keeps the loss numerically sound under a mixed_float16 policy.
    outputs = keras.layers.Dense(
        units, activation=_HEAD_ACTIVATION[head], dtype="float32", name=OUTPUT_LAYER
    )(x)
    model = keras.Model(inputs, outputs, name=f"{spec.name}_classifier")
    set_trainable(model, trainable)
    return model


def infer_head(model: keras.Model) -> str:
    """``"logits"``, ``"softmax"`` or ``"sigmoid"`` from the model's ``predictions`` layer."""
    try:
        layer = model.get_layer(OUTPUT_LAYER)
    except ValueError as error:
        raise ValueError(
            f"model {model.name!r} has no {OUTPUT_LAYER!r} layer; pass head= explicitly"
        ) from error
    activation = layer.get_config().get("activation")
    if isinstance(activation, dict):
        activation = activation.get("config", {}).get("name", activation.get("class_name"))
    by_activation = {"linear": "logits", None: "logits", "softmax": "softmax"}
    if activation == "sigmoid" and layer.units == 1:
        return "sigmoid"
    if activation in by_activation:
        return by_activation[activation]
    raise ValueError(
        f"cannot tell the head of model {model.name!r} from its output activation "
        f"{activation!r}; pass head= explicitly"
    )


def _check_policy(policy, stage_count: int):
    if isinstance(policy, str):
        if policy not in ("frozen", "all", "full"):
            raise ValueError(
                f"trainable policy must be 'frozen', 'all', 'full' or an int number of "
                f"stages, got {policy!r}"
            )
        return policy
    if isinstance(policy, bool) or not isinstance(policy, (int, np.integer)):
        raise ValueError(
            f"trainable policy must be 'frozen', 'all' or an int number of stages, got {policy!r}"
        )
    if not 0 <= policy <= stage_count:
        raise ValueError(
            f"trainable={policy}: the backbone has {stage_count} stages; use 0..{stage_count}"
        )
    return int(policy)


def set_trainable(model: keras.Model, policy) -> tuple[int, int]:
    """Apply a freezing policy to the backbone in ``model`` and return the new counts.

    ``model`` is a classifier from :func:`build_classifier` or a model from
    ``build_backbone``; the head's layers are left as they are.

    Policies:
        ``"frozen"``: the whole backbone is ``trainable=False``.
        ``"all"``: every backbone layer is trainable except BatchNormalization.
        ``N`` (int): the last N stages (``spec.stage_prefixes``) are trainable except
            their BatchNormalization layers; the stem and earlier stages are frozen. 0 is
            the same as ``"frozen"``; the number of stages is the same as ``"all"``.
        ``"full"``: every layer trainable, BatchNormalization included. Build the model
            with ``trainable="full"`` for BatchNormalization to also run in training mode;
            applied later to a model built otherwise, its BatchNormalization parameters
            train but the layers keep inference-mode statistics.

    Keras reads ``trainable`` when compiling, so compile the model again after calling
    this, before training on.

    Returns:
        ``(trainable_params, non_trainable_params)`` of ``model``.
    """
    spec, backbone_model, base = find_backbone(model)
    policy = _check_policy(policy, len(spec.stage_prefixes))
    # Keras passes a model's trainable flag on to its layers only when the flag changes,
    # so a layer frozen by an earlier policy stays frozen under `model.trainable = True`
    # if the model already was; hence every layer is set one by one.
    backbone_model.trainable = True
    for layer in _all_layers(backbone_model):
        layer.trainable = True
    if policy == "frozen" or policy == 0:
        backbone_model.trainable = False
    elif policy == "full":
        pass
    else:
        first_trainable = -1 if policy == "all" else len(spec.stage_prefixes) - policy
        for layer, stage in stage_assignments(base, spec):
            if stage < first_trainable:
                layer.trainable = False
        for layer in _all_layers(backbone_model):
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.trainable = False
    counts = parameter_counts(model)
    return counts["trainable"], counts["non_trainable"]


def _all_layers(model: keras.Model):
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)


def _count(weights) -> int:
    return int(sum(int(np.prod(weight.shape)) for weight in weights))


def parameter_counts(model: keras.Model) -> dict[str, int]:
    """``{"total", "trainable", "non_trainable"}`` parameter counts, as Keras reports them."""
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    return {
        "total": trainable + non_trainable,
        "trainable": trainable,
        "non_trainable": non_trainable,
    }


def make_optimizer(name: str, learning_rate, weight_decay: float | None = None, **options):
    """A Keras optimizer by name.

    Args:
        name: ``"sgd"``, ``"adam"`` or ``"adamw"`` (case-insensitive).
        learning_rate: a positive float or a ``keras.optimizers.schedules`` schedule.
        weight_decay: decoupled weight decay. For ``"adamw"`` ``None`` keeps Keras's
            default (0.004; PyTorch's AdamW default is 0.01). For ``"sgd"`` and
            ``"adam"`` Keras applies it the same decoupled way when given.
        **options: passed to the optimizer, e.g. ``momentum=0.9`` or ``nesterov=True``
            for SGD, ``beta_1`` for Adam, ``clipnorm``.
    """
    key = str(name).strip().lower()
    classes = {
        "sgd": keras.optimizers.SGD,
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
    }
    if key not in classes:
        raise ValueError(f"unknown optimizer {name!r}; known optimizers: {', '.join(OPTIMIZERS)}")
    if not isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        if isinstance(learning_rate, bool) or not np.isscalar(learning_rate):
            raise ValueError(f"learning_rate must be a number, got {learning_rate!r}")
        if not float(learning_rate) > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
        learning_rate = float(learning_rate)
    if weight_decay is not None:
        if not float(weight_decay) >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        options["weight_decay"] = float(weight_decay)
    return classes[key](learning_rate=learning_rate, **options)


def _loss_and_metric(head: str, label_mode: str):
    if head == "sigmoid":
        if label_mode == "categorical":
            raise ValueError(
                "head='sigmoid' takes 0/1 labels (label_mode 'binary' or 'int'), "
                "not one-hot 'categorical' labels"
            )
        return keras.losses.BinaryCrossentropy(), keras.metrics.BinaryAccuracy(name="accuracy")
    from_logits = head == "logits"
    if label_mode == "categorical":
        return (
            keras.losses.CategoricalCrossentropy(from_logits=from_logits),
            keras.metrics.CategoricalAccuracy(name="accuracy"),
        )
    return (
        keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        keras.metrics.SparseCategoricalAccuracy(name="accuracy"),
    )


def compile_classifier(
    model: keras.Model,
    optimizer="adam",
    learning_rate=1e-3,
    weight_decay: float | None = None,
    head: str | None = None,
    label_mode: str = "int",
    **optimizer_options,
) -> keras.Model:
    """Compile ``model`` with the loss that fits its head and labels; returns the model.

    Losses:
        ``label_mode="int"`` (integer class ids, the pipeline's default): logits ->
        ``SparseCategoricalCrossentropy(from_logits=True)``, softmax ->
        ``SparseCategoricalCrossentropy()``. ``label_mode="categorical"`` (one-hot labels):
        the same with ``CategoricalCrossentropy``, which is the loss the papers name;
        both give the same values. A sigmoid head takes 0/1 labels (``"binary"`` or
        ``"int"``) with ``BinaryCrossentropy()``.

    The metric is named ``accuracy`` in every case, so histories have ``accuracy`` and
    ``val_accuracy``.

    Args:
        model: a classifier from :func:`build_classifier` (or any model with a
            ``predictions`` layer, or pass ``head``).
        optimizer: a name for :func:`make_optimizer`, or a ``keras.optimizers.Optimizer``
            (then ``learning_rate``, ``weight_decay`` and options are not used).
        head: ``None`` to read it from the model (:func:`infer_head`).
        label_mode: ``"int"``, ``"categorical"`` or ``"binary"``.
        **optimizer_options: passed to :func:`make_optimizer` (``momentum=0.9``).
    """
    if label_mode not in LABEL_MODES:
        raise ValueError(f"label_mode must be one of {LABEL_MODES}, got {label_mode!r}")
    head = infer_head(model) if head is None else head
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    loss, metric = _loss_and_metric(head, label_mode)
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        optimizer = make_optimizer(optimizer, learning_rate, weight_decay, **optimizer_options)
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])
    return model


# docs/architecture.md calls it compile_model.
compile_model = compile_classifier
