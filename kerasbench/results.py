"""Run records: one tidy JSON file per run, keyed by a hash of its resolved config.

A record holds the resolved ``config``, its ``config_hash``, ``metrics``, ``durations``
(seconds), the ``seed``, the software ``environment`` and a timestamp, plus any extra
fields a study adds (history, per-class metrics). Tables and plots are built from these
files, never from notebook state, so a rerun or a resumed grid sees every finished run.
"""

from __future__ import annotations

import contextlib
import datetime as _datetime
import hashlib
import json
import math
import os
import platform
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

RECORD_VERSION = 1


def _to_jsonable(value: Any) -> Any:
    """Convert NumPy scalars/arrays, paths and tuples so records serialise losslessly."""
    if isinstance(value, dict):
        return {str(key): _to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(item) for item in value]
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return _to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        # JSON has no NaN/inf; None keeps the file standard and the column numeric in pandas.
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def canonical_json(config: dict) -> str:
    return json.dumps(_to_jsonable(config), sort_keys=True, separators=(",", ":"))


def config_hash(config: dict, length: int = 12) -> str:
    """A short, stable hash of a resolved config (key order and tuple/list do not matter)."""
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict, got {type(config).__name__}")
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()[:length]


def environment_info() -> dict:
    """Package versions and the compute device, recorded in every run."""
    import keras
    import sklearn
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    device = "CPU"
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"GPU: {details.get('device_name', gpus[0].name)} x{len(gpus)}"
    from kerasbench import __version__

    return {
        "kerasbench": __version__,
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit_learn": sklearn.__version__,
        "pandas": pd.__version__,
        "platform": platform.platform(),
        "device": device,
        "cpu_count": os.cpu_count(),
    }


@contextlib.contextmanager
def atomic_output(path: Path, mode: str = "w"):
    """Open a temporary file in ``path``'s folder for writing, then rename it over ``path``:
    a killed process never leaves a half-written file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, payload: dict) -> None:
    with atomic_output(path) as stream:
        json.dump(_to_jsonable(payload), stream, indent=2, sort_keys=True)


class ResultsStore:
    """A folder of run records, one ``<config_hash>.json`` per finished run."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._environment: dict | None = None

    def path_for(self, config: dict) -> Path:
        return self.folder / f"{config_hash(config)}.json"

    def has(self, config: dict) -> bool:
        return self.path_for(config).exists()

    def get(self, config: dict) -> dict | None:
        path = self.path_for(config)
        return self._read(path) if path.exists() else None

    def write(
        self,
        config: dict,
        *,
        metrics: dict,
        durations: dict | None = None,
        seed: int | None = None,
        overwrite: bool = True,
        **extra: Any,
    ) -> dict:
        """Write one run's record and return it. ``overwrite=False`` keeps an existing one."""
        path = self.path_for(config)
        if path.exists() and not overwrite:
            return self._read(path)
        if self._environment is None:
            self._environment = environment_info()
        record = {
            "record_version": RECORD_VERSION,
            "config_hash": config_hash(config),
            "config": _to_jsonable(config),
            "metrics": _to_jsonable(metrics),
            "durations": _to_jsonable(durations or {}),
            "seed": seed if seed is not None else config.get("seed"),
            "environment": self._environment,
            "finished_at": _datetime.datetime.now(_datetime.timezone.utc).isoformat(),
        }
        reserved = set(record) & set(extra)
        if reserved:
            raise ValueError(f"extra record fields clash with reserved names: {sorted(reserved)}")
        record.update(_to_jsonable(extra))
        write_json_atomic(path, record)
        return record

    @staticmethod
    def _read(path: Path) -> dict:
        try:
            with open(path, encoding="utf-8") as stream:
                return json.load(stream)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"results record {path} is not valid JSON ({error}); delete it to rerun that "
                "configuration"
            ) from error

    def records(self, where: dict | None = None) -> list[dict]:
        """All records, oldest first; ``where`` keeps those whose config has these values."""
        records = [self._read(path) for path in sorted(self.folder.glob("*.json"))]
        if where:
            records = [
                record
                for record in records
                if all(record["config"].get(key) == value for key, value in where.items())
            ]
        return sorted(records, key=lambda record: record.get("finished_at", ""))

    def frame(self, where: dict | None = None) -> pd.DataFrame:
        return records_frame(self.records(where))

    def __len__(self) -> int:
        return len(list(self.folder.glob("*.json")))


def records_frame(records: Iterable[dict]) -> pd.DataFrame:
    """Flatten records into one row each: config.*, metrics.*, durations.* columns plus
    config_hash and seed. Nested lists (histories, matrices) stay as objects."""
    rows = []
    for record in records:
        row = {"config_hash": record.get("config_hash"), "seed": record.get("seed")}
        for section in ("config", "metrics", "durations"):
            for key, value in (record.get(section) or {}).items():
                row[f"{section}.{key}"] = value
        row["device"] = (record.get("environment") or {}).get("device")
        rows.append(row)
    return pd.DataFrame(rows)
