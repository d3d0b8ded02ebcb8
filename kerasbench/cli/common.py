"""What the sub-commands share: the data root, the weights folders, study selection and
plain-text tables. Nothing here imports TensorFlow."""

from __future__ import annotations

import os
import sys
from pathlib import Path

KAGGLE_INPUT = Path("/kaggle/input")
WEIGHT_SUFFIXES = (".h5", ".hdf5", ".keras")
_MAX_DEPTH = 4  # how deep a weights folder is searched (Kaggle datasets nest a folder or two)


# --------------------------------------------------------------------------- data


def data_root(explicit: str | None = None) -> Path | None:
    """``--data-root``, else ``$KERASBENCH_DATA_ROOT``, else ``/kaggle/input`` if it exists."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("KERASBENCH_DATA_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    return KAGGLE_INPUT if KAGGLE_INPUT.is_dir() else None


def export_data_root(explicit: str | None = None) -> Path | None:
    """Make the data root the first place datasets are looked up by name, here and in the
    notebook kernels this process starts (``kerasbench.data.sources`` reads ``DATA_DIR``
    first). An explicit ``--data-root`` wins over a ``DATA_DIR`` already set."""
    root = data_root(explicit)
    if root is not None and (explicit or not os.environ.get("DATA_DIR")):
        os.environ["DATA_DIR"] = str(root)
    return root


# --------------------------------------------------------------------------- weights


def keras_cache_folder() -> Path:
    """Where Keras keeps downloaded weights. Mirrors
    :func:`kerasbench.backbones.weights.keras_cache_folder` (a test checks they agree)
    without importing Keras, so the command line starts fast."""
    if "KERAS_HOME" in os.environ:
        return Path(os.environ["KERAS_HOME"]).expanduser() / "models"
    home = Path("~").expanduser()
    base = home if os.access(home, os.W_OK) else Path("/tmp")
    return base / ".keras" / "models"


def weights_folders() -> list[tuple[Path, str]]:
    """(folder, why) in look-up order: ``$KERASBENCH_WEIGHTS_DIR``, then Keras's cache."""
    folders = []
    env = os.environ.get("KERASBENCH_WEIGHTS_DIR")
    if env:
        folders.append((Path(env).expanduser(), "KERASBENCH_WEIGHTS_DIR"))
    folders.append((keras_cache_folder(), "Keras cache"))
    return folders


def _walk_files(folder: Path):
    if not folder.is_dir():
        return
    base_depth = len(folder.parts)
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        if len(Path(dirpath).parts) - base_depth >= _MAX_DEPTH:
            dirnames[:] = []
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            yield Path(dirpath) / name


def find_weight_file(name: str) -> tuple[Path | None, list[str]]:
    """The first file called ``name`` in :func:`weights_folders` (searched a few levels
    deep), and the places looked at."""
    looked = []
    for folder, why in weights_folders():
        looked.append(f"{folder} ({why})")
        direct = folder / name
        if direct.is_file():
            return direct, looked
        for path in _walk_files(folder):
            if path.name == name:
                return path, looked
    return None, looked


def link_weights_into_cache(log=print) -> list[Path]:
    """Symlink every weight file of ``$KERASBENCH_WEIGHTS_DIR`` that Keras's cache lacks
    into the cache, so ``weights="imagenet"`` finds it without a download (Keras looks
    only in its cache). Returns the links made."""
    env = os.environ.get("KERASBENCH_WEIGHTS_DIR")
    if not env:
        return []
    source = Path(env).expanduser()
    if not source.is_dir():
        log(f"KERASBENCH_WEIGHTS_DIR={source} is not a folder; no weight files linked")
        return []
    cache = keras_cache_folder()
    made = []
    for path in _walk_files(source):
        if not path.name.endswith(WEIGHT_SUFFIXES) or (cache / path.name).exists():
            continue
        try:
            cache.mkdir(parents=True, exist_ok=True)
            (cache / path.name).symlink_to(path.resolve())
        except OSError as error:
            log(f"could not link {path} into {cache}: {error}")
            continue
        made.append(cache / path.name)
    if made:
        log(f"linked {len(made)} weight file(s) from {source} into {cache}: "
            + ", ".join(link.name for link in made))
    return made


# --------------------------------------------------------------------------- studies


def available_studies() -> list[str]:
    """Registered studies with a notebook; none is an error."""
    from kerasbench.cli import CommandError
    from kerasbench.notebook_runner import list_studies, notebooks_dir

    studies = list_studies()
    if not studies:
        raise CommandError(
            f"no study notebooks found in {notebooks_dir()} (set KERASBENCH_NOTEBOOKS, or "
            "reinstall kerasbench: the wheel carries the notebooks as package data)")
    return studies


def check_study(name: str) -> str:
    from kerasbench.cli import CommandError

    studies = available_studies()
    if name not in studies:
        raise CommandError(f"unknown study {name!r}; studies: {', '.join(studies)}")
    return name


def tensorflow_missing() -> str | None:
    """A message when TensorFlow cannot be imported here (e.g. after ``--no-deps``)."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is not None:
        return None
    return ("TensorFlow is not installed in this environment "
            f"({sys.executable}). Install it: pip install tensorflow-cpu (CPU) or "
            "pip install 'tensorflow[and-cuda]' (NVIDIA GPU), or reinstall kerasbench "
            "without KERASBENCH_TENSORFLOW=keep")


def table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Rows as a plain-text table (tabulate's ``simple`` format)."""
    from tabulate import tabulate

    if not rows:
        return "(none)"
    columns = columns or list(rows[0])
    return tabulate([[row.get(column, "") for column in columns] for row in rows],
                    headers=columns, tablefmt="simple", disable_numparse=True)
