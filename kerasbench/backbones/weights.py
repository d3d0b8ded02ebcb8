"""Weight files: Keras 2 ``.h5`` files read by layer name, Keras 3 files by topology, and
the ImageNet weights of a registry backbone (Keras's cache folder, download or not).

A file that cannot be loaded into a backbone (another architecture, another input size's
head, a truncated download, something that is not a weights file at all) raises
:class:`WeightsFileError` (a ValueError) naming the file, the backbone and what was
expected: the model's layer and array counts against the file's, and the first array
whose shape differs; never a bare Keras or h5py error.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import keras
import numpy as np

if TYPE_CHECKING:
    from kerasbench.backbones.registry import BackboneSpec

__all__ = [
    "WeightsFileError",
    "describe_weights_mismatch",
    "keras_cache_folder",
    "load_legacy_h5_weights",
    "load_weights_file",
]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK\x03\x04"


class WeightsFileError(ValueError):
    """A weights file does not fit the model it is loaded into, or is not a weights file."""


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
    try:
        if path.suffix in (".h5", ".hdf5") and _is_legacy_h5(path):
            return load_legacy_h5_weights(model, path)
        model.load_weights(str(path))
    except WeightsFileError:
        raise
    except Exception as error:  # noqa: BLE001 - h5py, zipfile and Keras errors alike
        raise weights_error(path, model.name, model, error) from error
    check_loaded(model, path, model.name)
    return model


def check_loaded(model: keras.Model, path: Path, backbone: str) -> None:
    """After a load by topology (Keras 3 files): the file must hold as many arrays as the
    model has weights. Keras only warns ("Skipping nested container ...") for some
    structures it cannot match, leaving those layers at their random initialisation."""
    try:
        with open(path, "rb") as stream:
            is_zip = stream.read(4) == _ZIP_SIGNATURE
        _, arrays, ordered = _saved_arrays(path, is_zip)
    except Exception:  # noqa: BLE001 - it loaded; a layout this check cannot read is fine
        return
    arrays = [item for item in arrays if "seed_generator" not in item[0]]
    if not ordered and len(arrays) != len(model.weights):
        raise weights_error(path, backbone, model, None)


def weights_error(path, backbone: str, model: keras.Model | None,
                  error: BaseException | None) -> WeightsFileError:
    """The error for a weights file that did not load: the file, the backbone, what the
    model expected against what the file holds (:func:`describe_weights_mismatch`)."""
    detail = describe_weights_mismatch(model, path) if model is not None else ""
    cause = f" (the loader said: {type(error).__name__}: {_short(error)})" if error else ""
    return WeightsFileError(
        f"weights file {path} cannot be loaded into backbone {backbone!r}: {detail}{cause}. "
        f"Pass a weights file saved from {backbone!r} (model.save_weights, or a Keras 2 "
        ".h5 with its layer names), or weights=None for a random initialisation."
    )


def _short(error: BaseException, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + " ..."


def describe_weights_mismatch(model: keras.Model, path: str | os.PathLike) -> str:
    """One sentence on why ``path`` does not fit ``model``: not a weights file, an
    unreadable one, or the expected layer/array counts and the first shape that differs."""
    path = Path(path)
    try:
        with open(path, "rb") as stream:
            head = stream.read(8)
    except OSError as error:
        return f"it cannot be read ({error})"
    if not head.startswith(_HDF5_SIGNATURE) and not head.startswith(_ZIP_SIGNATURE):
        return (f"it is not a weights file (neither HDF5 .h5/.weights.h5 nor a .keras "
                f"archive; it starts with {head!r})")
    try:
        saved = _saved_arrays(path, head.startswith(_ZIP_SIGNATURE))
    except Exception as error:  # noqa: BLE001 - a truncated HDF5 or zip file
        return (f"it is a damaged or truncated {'zip' if head.startswith(_ZIP_SIGNATURE) else 'HDF5'} "
                f"file ({type(error).__name__}: {_short(error, 160)}); copy or download it again")
    layers, arrays, ordered = saved
    wanted = [(weight.path, tuple(weight.shape)) for weight in model.weights]
    wanted_layers = sum(1 for layer in _flat_layers(model) if layer.weights)
    counts = (f"the model expects {wanted_layers} layers with weights ({len(wanted)} arrays), "
              f"the file holds {layers} ({len(arrays)} arrays)")
    first = _first_mismatch(wanted, arrays, ordered)
    return counts + (f"; {first}" if first else "")


def _flat_layers(model) -> list:
    out = []
    for layer in getattr(model, "layers", []):
        out.extend(_flat_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return out


def _saved_arrays(path: Path, is_zip: bool) -> tuple[int, list, bool]:
    """(layers with weights, [(name, shape)] in saved order, whether that order is the
    model's topological order, as in a Keras 2 file)."""
    if is_zip:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "model.weights.h5" not in names:
                raise ValueError(f"no model.weights.h5 in the archive (it holds {names[:5]})")
            data = archive.read("model.weights.h5")
        with h5py.File(io.BytesIO(data), "r") as handle:
            return _arrays_in(handle)
    with h5py.File(path, "r") as handle:
        return _arrays_in(handle)


def _arrays_in(handle) -> tuple[int, list, bool]:
    group = handle
    if "layer_names" not in handle.attrs and "model_weights" in handle:
        group = handle["model_weights"]
    if "layer_names" in group.attrs:
        arrays, layers = [], 0
        for layer_name in (_decode(name) for name in group.attrs["layer_names"]):
            names = [_decode(name) for name in group[layer_name].attrs.get("weight_names", [])]
            layers += bool(names)
            arrays.extend((name, tuple(group[layer_name][name].shape)) for name in names)
        return layers, arrays, True
    found = []
    handle.visititems(lambda name, item: found.append((name, tuple(item.shape)))
                      if isinstance(item, h5py.Dataset) else None)
    found.sort(key=lambda item: [int(part) if part.isdigit() else part
                                 for part in re.split(r"(\d+)", item[0])])
    layers = len({name.rsplit("/", 2)[0] for name, _ in found})
    return layers, found, False


def _first_mismatch(wanted: list, arrays: list, ordered: bool) -> str:
    if ordered:
        for index, ((name, shape), (saved_name, saved_shape)) in enumerate(zip(wanted, arrays)):
            if shape != saved_shape:
                return (f"first mismatch at array {index}: the model's {name} has shape "
                        f"{shape}, the file's {saved_name} has {saved_shape}")
        return ""
    available = [shape for _, shape in arrays]
    for name, shape in wanted:
        if shape in available:
            available.remove(shape)
        else:
            return (f"first mismatch: the model's {name} has shape {shape}, which no array "
                    f"left in the file has (its shapes start {[s for _, s in arrays[:4]]})")
    return ""


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


def build_from_file(spec: BackboneSpec, input_shape: tuple, path: Path,
                    hint: str = "") -> keras.Model:
    """``spec.constructor`` with the weights file ``path``; a file that does not load
    raises :class:`WeightsFileError` naming it, the backbone and what was expected."""
    try:
        model = spec.constructor(input_shape=input_shape, weights=str(path), name=spec.name)
        check_loaded(model, path, spec.name)
        return model
    except WeightsFileError as error:
        if not hint:
            raise
        raise WeightsFileError(f"{error} {hint}") from error
    except Exception as error:  # noqa: BLE001 - h5py, zipfile and Keras errors alike
        expected = spec.constructor(input_shape=input_shape, weights=None, name=spec.name)
        message = str(weights_error(path, spec.name, expected, error))
        raise WeightsFileError(f"{message} {hint}".strip()) from error


def _imagenet_base(spec: BackboneSpec, input_shape: tuple) -> keras.Model:
    cache = keras_cache_folder()
    # A folder of weight files (Kaggle: an attached weights data set) comes first.
    weights_dir = os.environ.get("KERASBENCH_WEIGHTS_DIR")
    looked = ""
    if weights_dir and spec.imagenet_file is not None:
        local = Path(weights_dir).expanduser() / spec.imagenet_file
        if local.is_file():
            return build_from_file(spec, input_shape, local, hint=(
                f"It was found in KERASBENCH_WEIGHTS_DIR={weights_dir}: replace it with an "
                "intact copy of the ImageNet file."))
        looked = f" (also looked in KERASBENCH_WEIGHTS_DIR={weights_dir}, which lacks it)"
    if spec.imagenet_download:
        try:
            return spec.constructor(input_shape=input_shape, weights="imagenet", name=spec.name)
        except Exception as error:
            raise FileNotFoundError(
                f"could not get the ImageNet weights of backbone {spec.name!r}: Keras wanted "
                f"the file {spec.imagenet_file!r} in {cache} and could not load or download "
                f"it ({error}){looked}. Copy that file into {cache} (Keras then uses it "
                "without a download) or into the folder KERASBENCH_WEIGHTS_DIR names, or "
                "pass weights=<path to a weights file>."
            ) from error
    if spec.imagenet_file is not None:
        cached = cache / spec.imagenet_file
        if cached.is_file():
            return build_from_file(spec, input_shape, cached, hint=(
                f"It is the ImageNet file in Keras's cache folder {cache}: replace it with "
                "an intact copy."))
        raise FileNotFoundError(
            f"backbone {spec.name!r} has no ImageNet download; weights='imagenet' reads the "
            f"local file {spec.imagenet_file!r} from {cache}, which is missing{looked}. Copy "
            "the file there (or into the folder KERASBENCH_WEIGHTS_DIR names), or pass "
            "weights=<path to the file>."
        )
    raise FileNotFoundError(
        f"backbone {spec.name!r} has no ImageNet weights that Keras can download or "
        "kerasbench knows by name; pass weights=<path to a weights file> whose layer names "
        f"match (see kerasbench.backbones.resnet / .squeezenet), or weights=None"
    )
