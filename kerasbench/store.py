"""``RunStore``: a folder of run records, one ``<run_id>.json`` each.

The store is the source of truth for what has been run: a grid or sweep asks it whether a
run is finished before training, so a stopped study resumes where it stopped and redoes
nothing. Records are written atomically; a file that is not a record is an error that
names it rather than a silently skipped or silently trusted run.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from kerasbench.records import RecordError, RunRecord, environment_info

__all__ = ["RunStore", "rows_frame", "validate_tree"]


class RunStore:
    """Run records of one study (or one part of it) in ``folder``."""

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, run_id: str) -> Path:
        return self.folder / f"{run_id}.json"

    def get(self, run_id: str) -> RunRecord | None:
        path = self.path(run_id)
        return RunRecord.read(path) if path.exists() else None

    def finished(self, run_id: str) -> RunRecord | None:
        """The record when the run finished with metrics for every evaluated split."""
        record = self.get(run_id)
        return record if record is not None and record.finished else None

    def write(self, record: RunRecord) -> RunRecord:
        if not isinstance(record, RunRecord):
            raise TypeError(f"RunStore.write takes a RunRecord, got {type(record).__name__}")
        if not record.environment:
            record.environment = environment_info()
        record.write(self.path(record.run_id))
        return record

    def records(self, *, experiment: str | None = None, finished_only: bool = True,
                **config_values) -> list[RunRecord]:
        """Records oldest first; optionally one experiment and given config values."""
        records = []
        for path in sorted(self.folder.glob("*.json")):
            record = RunRecord.read(path)
            if finished_only and not record.finished:
                continue
            if experiment is not None and record.experiment != experiment:
                continue
            if any(record.config.get(key) != value for key, value in config_values.items()):
                continue
            records.append(record)
        return sorted(records, key=lambda record: record.created_at)

    def frame(self, **filters) -> pd.DataFrame:
        return rows_frame(self.records(**filters))

    def validate(self) -> int:
        """Read every file in the folder as a record (raises naming the first bad one)."""
        count = 0
        for path in sorted(self.folder.glob("*.json")):
            record = RunRecord.read(path)
            if path.stem != record.run_id:
                raise RecordError(f"run record {path} holds run {record.run_id}; its file "
                                  "name must be its run_id")
            count += 1
        return count

    def __len__(self) -> int:
        return len(list(self.folder.glob("*.json")))


def rows_frame(records: Iterable[RunRecord]) -> pd.DataFrame:
    """One flat row per record (:meth:`RunRecord.to_row`)."""
    return pd.DataFrame([record.to_row() for record in records])


def validate_tree(root: str | os.PathLike) -> int:
    """Validate every ``records/**.json`` under ``root`` (e.g. ``results/``)."""
    count = 0
    for path in sorted(Path(root).rglob("*.json")):
        if "records" in path.relative_to(root).parts:
            RunRecord.read(path)
            count += 1
    return count
