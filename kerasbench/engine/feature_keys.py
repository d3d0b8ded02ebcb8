"""What the pooled features of a frozen backbone depend on, hashed into the cache key.

With a frozen backbone (called with ``training=False``) and no augmentation, the pooled
features of an image depend only on the backbone, its weights, the image size, the resize
interpolation, the compute precision and the image itself; :func:`feature_key_inputs`
lists exactly these, so a cache entry is never served for anything else.

The images enter by the file list: every row's path and label and each file's size and
modification time (ns), in row order (:func:`frame_fingerprint`; one ``stat`` per file). A
file replaced, touched, added, removed, relabelled or reordered gives another key. Opt in
to ``content_hash=True`` (or set ``KERASBENCH_CONTENT_HASH=1``) to also hash every file's
bytes (sha256, :func:`kerasbench.data.fingerprint.frame_fingerprint`): it catches a file
rewritten in place with the same size whose modification time was kept or reset (``cp
-p``, ``rsync -a`` from an edited copy, some sync tools, archive extraction), at the cost of
reading every image once per key. Keys made without it are unchanged.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from kerasbench.io import canonical_json

# Bump when the stored layout or the way features are computed changes: old files are then
# simply never looked up again.
FEATURE_FORMAT_VERSION = 1


def frame_fingerprint(frame: pd.DataFrame) -> str:
    """A hash of the rows of an index frame: path, label, file size and modification time,
    in row order. A file replaced, touched, relabelled, added, removed or reordered gives
    another fingerprint."""
    if not isinstance(frame, pd.DataFrame) or "path" not in frame.columns:
        raise ValueError(
            "frame must be a DataFrame with a 'path' column (e.g. DatasetIndex.split('train'))"
        )
    digest = hashlib.sha256()
    labels = frame["label"].tolist() if "label" in frame.columns else [None] * len(frame)
    for path, label in zip(frame["path"].tolist(), labels):
        path = os.fspath(path)
        try:
            stat = os.stat(path)
        except OSError as error:
            raise FileNotFoundError(
                f"image file {path} of the frame does not exist ({error}); rebuild the index"
            ) from None
        digest.update(f"{path}\0{label}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def weights_descriptor(weights, seed: int | None) -> dict:
    """What identifies a backbone's weights: ImageNet, a file (path, size, mtime), or a
    random initialisation, which is only reproducible from its seed."""
    if weights is None:
        if seed is None:
            raise ValueError(
                "weights=None (random initialisation) needs a seed: the features depend on it"
            )
        return {"kind": "random", "seed": int(seed)}
    if isinstance(weights, str) and weights.lower() == "imagenet":
        return {"kind": "imagenet"}
    if isinstance(weights, (str, os.PathLike)):
        path = Path(os.fspath(weights)).expanduser().resolve()
        if not path.is_file():
            raise FileNotFoundError(f"weights file {path} does not exist")
        stat = path.stat()
        return {"kind": "file", "path": str(path), "size": stat.st_size,
                "mtime_ns": stat.st_mtime_ns}
    raise ValueError(f"weights must be None, 'imagenet' or a file path, got {weights!r}")


CONTENT_HASH_VARIABLE = "KERASBENCH_CONTENT_HASH"


def content_hash_default() -> bool:
    """``True`` when ``KERASBENCH_CONTENT_HASH`` is set to 1/true/yes/on."""
    value = os.environ.get(CONTENT_HASH_VARIABLE, "").strip().lower()
    return value in ("1", "true", "yes", "on")


def content_fingerprint(frame: pd.DataFrame) -> str:
    """The sha256 of every file's bytes of ``frame`` with its path and label, in row order
    (:func:`kerasbench.data.fingerprint.frame_fingerprint` with ``content_hash=True``)."""
    from kerasbench.data.fingerprint import frame_fingerprint as data_fingerprint

    labels = frame["label"].tolist() if "label" in frame.columns else [None] * len(frame)
    table = pd.DataFrame({"path": [os.fspath(p) for p in frame["path"].tolist()],
                          "label": labels, "split": [""] * len(frame)})
    return data_fingerprint(table, root=None, content_hash=True)


def feature_key_inputs(backbone: str, *, weights, image_size, frame: pd.DataFrame,
                       seed: int | None, interpolation: str = "bilinear",
                       channels: int = 3, policy=None, content_hash: bool = False) -> dict:
    """Everything the pooled features of ``frame`` depend on, as a JSON-ready dict.

    ``policy`` (a :class:`~kerasbench.performance.PerformancePolicy`; the device's
    :func:`feature_policy` when ``None``) enters through its compute dtype and XLA switch:
    bfloat16 features differ from float32 ones in the third significant digit.
    ``content_hash=True`` adds ``"content"``, the sha256 of every file's bytes (see the
    module docstring); without it the dict, and so the key, is what it always was."""
    import keras

    from kerasbench.backbones import get_backbone, resolve_image_size

    spec = get_backbone(backbone)
    height, width = resolve_image_size(spec, image_size)
    inputs = {
        "format": FEATURE_FORMAT_VERSION,
        "backbone": spec.name,
        "weights": weights_descriptor(weights, seed),
        "image_size": [height, width],
        "channels": int(channels),
        "interpolation": interpolation,
        "preprocessing": spec.preprocessing,
        "pooling": "global_average",
        "compute": _compute_settings(policy or feature_policy(spec.name)),
        # Keras defines the architectures, the random initialisers and the preprocessing.
        "keras": keras.__version__,
        "rows": len(frame),
        "index": frame_fingerprint(frame),
    }
    if content_hash:
        inputs["content"] = content_fingerprint(frame)
    return inputs


def _compute_settings(policy) -> dict:
    return {"dtype": policy.compute_dtype, "jit_compile": bool(policy.jit_compile)}


def feature_policy(backbone: str, performance: Mapping | None = None):
    """The performance policy of the feature-cache path for ``backbone`` on this device.

    ``performance`` holds :func:`~kerasbench.performance.choose_policy` switches. Mixed
    precision follows the device (bfloat16/float16 on a GPU, float32 on a CPU). XLA is off
    unless asked for: the forward pass runs once per (backbone, image size, split), so
    compiling each of those graphs (DenseNet201's first XLA call takes 13 s at 32 px on this
    project's CPU, against 6 s without XLA) can cost more than it saves, and the head's loop
    has a dynamic last batch. Augmentation never applies: features are taken of unaugmented images.
    """
    from kerasbench.performance import choose_policy

    settings = {"jit_compile": False, **dict(performance or {})}
    settings["augment_on_device"] = False
    return choose_policy(backbone, **settings)


def feature_key(backbone: str, **inputs) -> str:
    """The cache key: a hash of :func:`feature_key_inputs` (same arguments)."""
    described = feature_key_inputs(backbone, **inputs)
    return hashlib.sha256(canonical_json(described).encode("utf-8")).hexdigest()[:24]


def _hash(inputs: dict) -> str:
    return hashlib.sha256(canonical_json(inputs).encode("utf-8")).hexdigest()[:24]


