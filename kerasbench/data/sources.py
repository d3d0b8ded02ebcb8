"""Where data lives: the shared data root, dataset look-up and the demo fallback.

Look-up order for a dataset given by name (:func:`resolve_dataset`): ``$DATA_DIR/<name>``,
``$KERASBENCH_DATA/<name>`` (default ``../shared/data`` next to the repository, when it
exists), then Kaggle's ``/kaggle/input/<name>``, for the name and each candidate name.
``"demo"`` gives the embedded synthetic data set instead (:mod:`kerasbench.data.demo`),
and the returned :class:`DataSource` says so, so that tables can label such results.

The FER2013 CSV reader and converter live with their study:
:mod:`kerasbench.studies.fer2013.csv`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from kerasbench.errors import ConfigError, DatasetError

__all__ = [
    "DATASETS_DOC",
    "DataSource",
    "data_root",
    "find_dataset_root",
    "repo_root",
    "resolve_dataset",
]

DATASETS_DOC = "datasets.md"
# A module attribute rather than a constant in the code so tests can point it elsewhere.
KAGGLE_INPUT = Path("/kaggle/input")


# --------------------------------------------------------------------------- roots


def repo_root() -> Path:
    """The folder holding the ``kerasbench`` package (the repository in a source checkout)."""
    return Path(__file__).resolve().parents[2]


def data_root() -> Path | None:
    """``$KERASBENCH_DATA`` if set, else ``../shared/data`` beside the repository if it
    exists, else ``None`` (a fresh machine without the shared data)."""
    env = os.environ.get("KERASBENCH_DATA")
    if env:
        return Path(env).expanduser()
    shared = repo_root().parent / "shared" / "data"
    return shared if shared.is_dir() else None


class DataSource(NamedTuple):
    """A resolved dataset folder; ``is_demo`` marks the synthetic stand-in data."""

    path: Path
    is_demo: bool
    description: str


def _demo_source(demo, demo_base, demo_options: dict | None) -> DataSource:
    from kerasbench.data.demo import demo_folder, demo_name

    path = demo_folder(demo, demo_base, options=demo_options)
    name = demo_name(demo) if callable(demo) else demo
    return DataSource(path, True, f"synthetic demo data ({name}), not the real data set")


def _existing_source(path: Path) -> DataSource:
    from kerasbench.data.demo import is_demo_folder

    path = path.expanduser().resolve()
    if is_demo_folder(path):
        return DataSource(path, True, f"synthetic demo data at {path}, not the real data set")
    return DataSource(path, False, f"data at {path}")


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith((".", "~"))


def resolve_dataset(
    name_or_path: str | os.PathLike | None,
    *,
    demo: str | None = None,
    candidates: Iterable[str] = (),
    demo_options: dict | None = None,
    demo_base: str | os.PathLike | None = None,
) -> DataSource:
    """Find a dataset folder and say whether it is real or demo data.

    Args:
        name_or_path: an existing folder (used as is; a folder made by
            :mod:`kerasbench.data.demo` is reported as demo data); a dataset name looked
            up under ``$DATA_DIR``, ``$KERASBENCH_DATA`` (see :func:`data_root`) and
            ``/kaggle/input``, together with ``candidates``; ``None`` or ``"demo"`` for the
            synthetic set named by ``demo``; or ``"auto"``: look ``candidates`` up and fall
            back to the demo set, with a printed note, when none is found.
        demo: the demo generator standing in for this set (a study's ``make_demo_data``).
        candidates: further names (or relative paths such as ``"slug/inner"``) to look
            up, e.g. the Kaggle slug of the same data.
        demo_options: keyword arguments for the demo generator (``per_class=...``); other
            options get their own demo folder.
        demo_base: where demo sets are generated (default ``$KERASBENCH_DEMO_DIR`` or
            ``~/.cache/kerasbench/demo``).

    Raises:
        FileNotFoundError: nothing found; the message lists every place looked at.
    """
    text = None if name_or_path is None else os.fspath(name_or_path).strip()
    if text is None or text == "" or text.lower() == "demo":
        if demo is None:
            raise ConfigError(
                "resolve_dataset: no data folder given and no demo generator (a study's "
                "make_demo_data) to stand in; pass a data folder or demo=<generator>"
            )
        return _demo_source(demo, demo_base, demo_options)
    auto = text.lower() == "auto"
    if not auto:
        path = Path(text).expanduser()
        if path.is_dir():
            return _existing_source(path)
        if path.exists():
            raise DatasetError(f"{path} is a file, not a dataset folder: pass its folder")
        if path.is_absolute() or _looks_like_path(text):
            raise FileNotFoundError(
                f"dataset folder {path} does not exist: check the path, or pass a dataset "
                f"name, or 'demo' for synthetic demo data (see {DATASETS_DOC})"
            )

    names = ([] if auto else [text]) + [str(c) for c in candidates]
    looked = []
    for base, why in _search_bases():
        for name in dict.fromkeys(names):
            candidate = Path(name) if Path(name).is_absolute() else base / name
            looked.append(f"{candidate} ({why})")
            if candidate.is_dir():
                return _existing_source(candidate)
    if auto and demo is not None:
        print(
            f"resolve_dataset: no copy of {', '.join(names) or 'the data set'} found; "
            f"using synthetic demo data ({demo})"
        )
        return _demo_source(demo, demo_base, demo_options)
    where = "\n".join(f"  - {item}" for item in looked) or "  (no names to look for)"
    raise FileNotFoundError(
        f"dataset {', '.join(names) or text!r} not found. Looked in:\n{where}\n"
        "Pass the folder path, set KERASBENCH_DATA (or DATA_DIR) to the folder that holds "
        f"it, or pass 'demo' for synthetic demo data. See {DATASETS_DOC} for where to get "
        "each data set."
    )


def _search_bases() -> list:
    bases = []
    for variable in ("DATA_DIR", "KERASBENCH_DATA_ROOT"):
        env = os.environ.get(variable)
        if env:
            bases.append((Path(env).expanduser(), variable))
    root = data_root()
    if root is not None:
        why = "KERASBENCH_DATA" if os.environ.get("KERASBENCH_DATA") else "shared data"
        bases.append((root, why))
    bases.append((Path(KAGGLE_INPUT), "Kaggle input"))
    return bases


def find_dataset_root(folder: str | os.PathLike, *, quiet: bool = False,
                      max_depth: int = 5) -> Path:
    """Step down through wrapper folders to the folder that holds the split or class
    folders: archives and Kaggle mounts often add one or two (``/kaggle/input/<slug>/
    <Name>/<class>/...``). A folder is stepped into when it is the only visible entry
    beside no images (other files, e.g. a README, are allowed), is not a split folder
    (``train/``, ``val/``...), and itself holds folders. Prints the step unless ``quiet``.
    """
    from kerasbench.data.scan import IMAGE_EXTENSIONS, SPLIT_ALIASES

    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist: check the path (see "
                                f"{DATASETS_DOC} for where to get each data set)")
    for _ in range(max_depth):
        visible = [entry for entry in root.iterdir()
                   if not entry.name.startswith((".", "__MACOSX"))]
        folders = [entry for entry in visible if entry.is_dir()]
        images_here = [entry for entry in visible if entry.suffix.lower() in IMAGE_EXTENSIONS]
        if len(folders) != 1 or images_here or folders[0].name.lower() in SPLIT_ALIASES:
            break
        if not any(entry.is_dir() for entry in folders[0].iterdir()):
            break  # a lone class folder: leave it for the index to report
        if not quiet:
            print(f"{root} holds only {folders[0].name}/: using that folder")
        root = folders[0]
    return root
