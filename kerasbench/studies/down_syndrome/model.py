"""The model the protocol trains: a ResNet with its last stages retrained and a softmax head.

"Early layers frozen, last layers retrained" is read as the last ``trainable_stages`` ResNet
stages (``conv5_`` is the last); BatchNormalization stays frozen and in inference mode
everywhere (:func:`kerasbench.heads.set_trainable`).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def parameter_count_table(backbone: str, *, image_size: int, num_classes: int = 2,
                          stages: Iterable[int] | None = None) -> pd.DataFrame:
    """Trainable / non-trainable parameters of the classifier for each number N of
    retrained last stages (0 = backbone frozen). Counts do not depend on the weights, so
    the model is built once with random weights and re-frozen for each N."""
    from kerasbench.backbones import get_backbone
    from kerasbench.heads import build_classifier, set_trainable

    spec = get_backbone(backbone)
    model = build_classifier(spec.name, num_classes, image_size=image_size, weights=None,
                             head="softmax", trainable="frozen")
    stage_count = len(spec.stage_prefixes)
    rows = []
    for count in range(stage_count + 1) if stages is None else stages:
        trainable, non_trainable = set_trainable(model, int(count))
        retrained = [prefix.rstrip("_") for prefix in spec.stage_prefixes[stage_count - count:]]
        rows.append({"trainable_stages": int(count),
                     "retrained": ", ".join(retrained) if count else "(head only)",
                     "trainable": trainable, "non_trainable": non_trainable,
                     "total": trainable + non_trainable})
    return pd.DataFrame(rows).set_index("trainable_stages")
