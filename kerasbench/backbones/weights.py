"""Weight files: Keras 2 ``.h5`` files read by layer name, Keras 3 files by topology, and
the ImageNet weights of a registry backbone (Keras's cache folder, download or not)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import keras
import numpy as np

if TYPE_CHECKING:
    from kerasbench.backbones.registry import BackboneSpec

__all__ = ["keras_cache_folder", "load_legacy_h5_weights", "load_weights_file"]


def load_weights_file(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """Load a weights file into ``model`` and return the model.

    A Keras 2 ``.h5`` file (one with a ``layer_names`` attribute, at the top or under
    ``model_weights``) is read by layer name with :func:`load_legacy_h5_weights`, which
    is what makes keras-squeezenet's files usable. Anything else (``.weights.h5``,
    ``.keras``) goes to ``model.load_weights``, which matches by topology.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file's layers or weight shapes do not fit the model.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(
            f"weights file not found: {path} (model {model.name!r}); pass the path of an "
            "existing .h5, .weights.h5 or .keras file"
        )
    if path.suffix in (".h5", ".hdf5") and _is_legacy_h5(path):
        return load_legacy_h5_weights(model, path)
    model.load_weights(str(path))
    return model


def _is_legacy_h5(path: Path) -> bool:
    with h5py.File(path, "r") as handle:
        if "layer_names" in handle.attrs:
            return True
        group = handle.get("model_weights")
        return group is not None and "layer_names" in group.attrs


def _decode(value) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _legacy_layer_weights(path: Path) -> Iterator[tuple[str, list[np.ndarray]]]:
    """(layer name, weight arrays in saved order) for each layer of a Keras 2 h5 file."""
    with h5py.File(path, "r") as handle:
        group = handle
        if "layer_names" not in handle.attrs and "model_weights" in handle:
            group = handle["model_weights"]
        for layer_name in (_decode(name) for name in group.attrs["layer_names"]):
            layer_group = group[layer_name]
            weight_names = [_decode(name) for name in layer_group.attrs.get("weight_names", [])]
            if weight_names:
                yield layer_name, [np.asarray(layer_group[name]) for name in weight_names]


def load_legacy_h5_weights(model: keras.Model, path: str | os.PathLike) -> keras.Model:
    """Set ``model``'s weights from a Keras 2 ``.h5`` file, matching layers by name.

    A ``/`` in a saved layer name becomes ``_`` (Keras 3 does not allow ``/``), so
    keras-squeezenet's ``fire2/squeeze1x1`` fills ``fire2_squeeze1x1``. Every layer of the
    model that has weights must be in the file with the same number and shapes of arrays;
    layers of the file that the model lacks (a classifier, when the model has none) are
    ignored. Nothing is set unless everything fits.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: a layer is missing from the file, or its weights differ in count or shape.
    """
    path = Path(os.fspath(path)).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    saved = {name.replace("/", "_"): arrays for name, arrays in _legacy_layer_weights(path)}
    assignments = []
    missing = []
    for layer in model.layers:
        if not layer.weights:
            continue
        if layer.name not in saved:
            missing.append(layer.name)
            continue
        arrays = saved[layer.name]
        expected = [tuple(weight.shape) for weight in layer.weights]
        found = [tuple(array.shape) for array in arrays]
        if expected != found:
            raise ValueError(
                f"weights file {path} does not fit model {model.name!r}: layer "
                f"{layer.name!r} needs weight shapes {expected}, the file has {found}"
            )
        assignments.append((layer, arrays))
    if missing:
        shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
        raise ValueError(
            f"weights file {path} does not fit model {model.name!r}: it has no weights for "
            f"{len(missing)} of the model's layers ({shown}); the file's layers are "
            f"{', '.join(sorted(saved)[:10])}{' ...' if len(saved) > 10 else ''}"
        )
    for layer, arrays in assignments:
        layer.set_weights(arrays)
    return model


# --------------------------------------------------------------------------- ImageNet


def keras_cache_folder() -> Path:
    """Where Keras keeps downloaded weights: ``$KERAS_HOME/models`` or ``~/.keras/models``.

    Mirrors Keras's own choice, including its fall-back to ``/tmp/.keras`` when the home
    folder is not writable.
    """
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]).expanduser() / "models"
    home = Path("~").expanduser()
    base = home if os.access(home, os.W_OK) else Path("/tmp")
    return base / ".keras" / "models"


def _imagenet_base(spec: BackboneSpec, input_shape: tuple) -> keras.Model:
    cache = keras_cache_folder()
    # A folder of weight files (Kaggle: an attached weights data set) comes first.
    weights_dir = os.environ.get("KERASBENCH_WEIGHTS_DIR")
    if weights_dir and spec.imagenet_file is not None:
        local = Path(weights_dir).expanduser() / spec.imagenet_file
        if local.is_file():
            return spec.constructor(input_shape=input_shape, weights=str(local), name=spec.name)
    if spec.imagenet_download:
        try:
            return spec.constructor(input_shape=input_shape, weights="imagenet", name=spec.name)
        except Exception as error:
            raise FileNotFoundError(
                f"could not get the ImageNet weights of backbone {spec.name!r}: Keras wanted "
                f"the file {spec.imagenet_file!r} in {cache} and could not load or download "
                f"it ({error}). Copy that file into {cache} (Keras then uses it without a "
                "download), or pass weights=<path to a weights file>."
            ) from error
    if spec.imagenet_file is not None:
        cached = cache / spec.imagenet_file
        if cached.is_file():
            return spec.constructor(input_shape=input_shape, weights=str(cached), name=spec.name)
        raise FileNotFoundError(
            f"backbone {spec.name!r} has no ImageNet download; weights='imagenet' reads the "
            f"local file {spec.imagenet_file!r} from {cache}, which is missing. Copy the "
            "file there, or pass weights=<path to the file>."
        )
    raise FileNotFoundError(
        f"backbone {spec.name!r} has no ImageNet weights that Keras can download or "
        "kerasbench knows by name; pass weights=<path to a weights file> whose layer names "
        f"match (see kerasbench.backbones.resnet / .squeezenet), or weights=None"
    )
