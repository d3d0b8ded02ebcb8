"""``RunRecord``: the one typed record every run of every study writes and reads.

A run is identified by ``run_id`` = hash of (resolved config, dataset fingerprint, study
protocol version): the same settings on other data, on a changed folder or under a
changed protocol are a new run. A record counts as finished only when its status says so
AND it holds metrics for every split the run evaluated, so a half-written or empty record
is redone rather than trusted. Tables and plots read :meth:`RunRecord.to_row` only.
"""

from __future__ import annotations

import datetime as _datetime
import hashlib
import json
import os
import platform
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from kerasbench.io import canonical_json, to_jsonable, write_json_atomic

SCHEMA_VERSION = 2
STATUSES = ("finished", "failed")


class RecordError(ValueError):
    """A file that should be a run record is not one (or is of another schema version)."""


def config_hash(config: dict, length: int = 12) -> str:
    """A short, stable hash of a resolved config (key order and tuple/list do not matter)."""
    if not isinstance(config, dict):
        raise ValueError(f"config must be a dict, got {type(config).__name__}")
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()[:length]


def make_run_id(config: dict, dataset_fingerprint: str, protocol_version: str) -> str:
    """The run's identity: its resolved config, the data it saw and the protocol's version."""
    if not dataset_fingerprint:
        raise ValueError("a run needs a dataset fingerprint (DatasetIndex.fingerprint())")
    payload = {"config": config, "dataset": dataset_fingerprint, "protocol": str(protocol_version)}
    return hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:16]


_ENVIRONMENT: dict | None = None


def environment_info() -> dict:
    """Package versions and the compute device (computed once per process)."""
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        import keras
        import numpy
        import pandas
        import sklearn
        import tensorflow as tf

        from kerasbench import __version__

        gpus = tf.config.list_physical_devices("GPU")
        device = "CPU"
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            device = f"GPU: {details.get('device_name', gpus[0].name)} x{len(gpus)}"
        _ENVIRONMENT = {
            "kerasbench": __version__, "python": platform.python_version(),
            "tensorflow": tf.__version__, "keras": keras.__version__,
            "numpy": numpy.__version__, "scikit_learn": sklearn.__version__,
            "pandas": pandas.__version__, "platform": platform.platform(),
            "device": device, "cpu_count": os.cpu_count(),
        }
    return dict(_ENVIRONMENT)


def _now() -> str:
    return _datetime.datetime.now(_datetime.timezone.utc).isoformat()


@dataclass
class RunRecord:
    """One run. ``metrics`` maps split -> metric name -> value; ``durations`` are seconds,
    named alike in every study (``train_s``, ``evaluate_s``, ``total_s``, others ``*_s``)."""

    study: str
    experiment: str
    config: dict
    dataset_fingerprint: str
    protocol_version: str
    seed: int | None = None
    status: str = "finished"
    metrics: dict = field(default_factory=dict)
    evaluated_splits: list = field(default_factory=list)
    durations: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)
    policy: dict = field(default_factory=dict)
    demo: bool = False
    environment: dict = field(default_factory=dict)
    # Study-specific results that are not metrics (class names, parameter counts, pair
    # distances, thresholds, paths of saved models); in rows as ``extra.<name>`` scalars.
    extra: dict = field(default_factory=dict)
    error: str | None = None
    run_id: str = ""
    config_hash: str = ""
    created_at: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        # Stored exactly as they will read back: plain JSON types (NaN -> None).
        for name in ("config", "metrics", "durations", "history", "policy", "extra"):
            setattr(self, name, to_jsonable(getattr(self, name) or {}))
        expected = make_run_id(self.config, self.dataset_fingerprint, self.protocol_version)
        if self.run_id and self.run_id != expected:
            raise RecordError(f"run_id {self.run_id} does not match its config, data and "
                              f"protocol (expected {expected})")
        self.run_id = expected
        self.config_hash = config_hash(self.config)
        self.created_at = self.created_at or _now()
        self.evaluated_splits = list(self.evaluated_splits or self.metrics)
        self.demo = bool(self.demo)

    @property
    def finished(self) -> bool:
        """Finished = status says so and every evaluated split has non-empty metrics."""
        return (self.status == "finished" and bool(self.evaluated_splits)
                and all(self.metrics.get(split) for split in self.evaluated_splits))

    def metric(self, split: str, name: str, default=None):
        return (self.metrics.get(split) or {}).get(name, default)

    # ------------------------------------------------------------------ serialisation

    def to_dict(self) -> dict:
        return to_jsonable(asdict(self))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def write(self, path: str | os.PathLike) -> Path:
        return write_json_atomic(path, self.to_dict())

    @classmethod
    def from_dict(cls, payload: Any, source: str = "record") -> RunRecord:
        if not isinstance(payload, dict) or "schema_version" not in payload:
            raise RecordError(f"{source} is not a kerasbench run record (no schema_version); "
                              "move it out of the records folder")
        if payload["schema_version"] != SCHEMA_VERSION:
            raise RecordError(
                f"{source} is a run record of schema version {payload['schema_version']}, "
                f"this kerasbench reads version {SCHEMA_VERSION}; delete it (or its folder) "
                "to rerun that configuration, or read it with the kerasbench that wrote it")
        names = {item.name for item in fields(cls)}
        missing = sorted(name for name in ("study", "experiment", "config",
                                           "dataset_fingerprint", "protocol_version")
                         if name not in payload)
        unknown = sorted(set(payload) - names)
        if missing or unknown:
            raise RecordError(f"{source} is not a valid run record: missing {missing}, "
                              f"unknown fields {unknown}")
        try:
            return cls(**payload)
        except (TypeError, ValueError) as error:
            raise RecordError(f"{source} is not a valid run record: {error}") from None

    @classmethod
    def read(cls, path: str | os.PathLike) -> RunRecord:
        path = Path(path)
        try:
            with open(path, encoding="utf-8") as stream:
                payload = json.load(stream)
        except FileNotFoundError:
            raise FileNotFoundError(f"run record {path} does not exist") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise RecordError(f"run record {path} is not valid JSON ({error}); delete it to "
                              "rerun that configuration") from None
        return cls.from_dict(payload, source=f"run record {path}")

    # ------------------------------------------------------------------ the flat row

    def to_row(self) -> dict:
        """The one flat row tables and CSVs are built from. Shared fields have the same
        column names in every study: ``config.<name>``, ``metrics.<split>.<name>``,
        ``durations.<name>``, ``policy.<name>``, ``extra.<name>``; only scalar values
        (lists and matrices stay in the record)."""
        row = {
            "study": self.study, "experiment": self.experiment, "run_id": self.run_id,
            "config_hash": self.config_hash, "dataset_fingerprint": self.dataset_fingerprint,
            "protocol_version": self.protocol_version, "seed": self.seed,
            "status": self.status, "demo": self.demo, "created_at": self.created_at,
            "device": self.environment.get("device"),
        }
        _flatten(row, "config", self.config, keep_containers=True)
        for split, values in self.metrics.items():
            _flatten(row, f"metrics.{split}", values)
        _flatten(row, "durations", self.durations)
        _flatten(row, "policy", self.policy)
        _flatten(row, "extra", self.extra)
        return row


def _flatten(row: dict, prefix: str, values: dict, keep_containers: bool = False) -> None:
    for key, value in (values or {}).items():
        if isinstance(value, (str, int, float, bool)) or value is None:
            row[f"{prefix}.{key}"] = value
        elif keep_containers:
            # A config's lists and dicts are settings: kept as canonical JSON text so the
            # column stays hashable and comparable.
            row[f"{prefix}.{key}"] = canonical_json(value)
