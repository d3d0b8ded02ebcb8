"""Tables from the runs' records, in the paper's units, and the comparison with the paper.

Accuracy is in %, precision / recall / F1 are macro averages over the two classes as
fractions (the paper's E2 matrix gives its 0.8956 for all three as macro averages); the
positive class's own precision and recall are shown beside them. Every table is saved
through ``context.save_table`` (CSV with a ``demo`` column, markdown with the data note).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from kerasbench.records import RunRecord
from kerasbench.reports import compare_with_paper as paper_beside_run
from kerasbench.studies.down_syndrome.paper import PAPER_RESULTS


def check_records(records: Sequence[RunRecord]) -> list[RunRecord]:
    """The records as a list; an empty list or an unfinished record is an error."""
    records = list(records)
    if not records:
        raise ValueError("no records: run the experiments first (down_syndrome.run)")
    for record in records:
        if not isinstance(record, RunRecord) or not record.finished:
            raise ValueError(f"expected finished RunRecords from down_syndrome.run, got "
                             f"{getattr(record, 'status', type(record).__name__)!r}")
    return records


def history_value(record: RunRecord, key: str, epoch: int | None) -> float | None:
    """``history[key]`` at 1-based ``epoch`` (None when absent)."""
    values = record.history.get(key)
    if not values or epoch is None or not 1 <= int(epoch) <= len(values):
        return None
    return float(values[int(epoch) - 1])


def _percent(value):
    return None if value is None else 100.0 * value


def experiment_row(record: RunRecord) -> dict:
    """This run's numbers for one experiment, in the paper's units."""
    training, parameters = record.extra.get("training", {}), record.extra.get("parameters", {})
    test = record.metrics["test"]
    positive = record.extra["class_names"][1]
    per_positive = test["per_class"][positive]
    stopped, best = training.get("stopped_epoch"), training.get("best_epoch")
    return {
        "experiment": record.experiment,
        "batch (asked)": record.config["batch_size"],
        "batch (used)": record.extra.get("batch_size_effective"),
        "learning rate": record.config["learning_rate"],
        "epochs run": training.get("epochs_run"),
        "stopped epoch": stopped,
        "best epoch (weights kept)": best,
        "stopped early": training.get("stopped_early"),
        "train acc % at stop": _percent(history_value(record, "accuracy", stopped)),
        "val acc % at stop": _percent(history_value(record, "val_accuracy", stopped)),
        "val acc % at best": _percent(history_value(record, "val_accuracy", best)),
        "test accuracy %": 100.0 * test["accuracy"],
        "precision (macro)": test["macro_precision"],
        "recall (macro)": test["macro_recall"],
        "F1 (macro)": test["macro_f1"],
        f"precision ({positive})": per_positive["precision"],
        f"recall ({positive})": per_positive["recall"],
        "trainable params": parameters.get("trainable"),
        "non-trainable params": parameters.get("non_trainable"),
        "train s": record.durations.get("train_s"),
    }


def experiments_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per experiment (index), with requested and effective batch size, the stop
    and best epochs, accuracies at the stop epoch and the test metrics."""
    rows = [experiment_row(record) for record in check_records(records)]
    return pd.DataFrame(rows).set_index("experiment")


def stop_epoch_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Train / validation accuracy at the epoch each run stopped (and at the best epoch,
    whose weights were kept), beside the paper's."""
    rows = []
    for record in check_records(records):
        row = experiment_row(record)
        reported = PAPER_RESULTS.get(record.experiment, {})
        best = row["best epoch (weights kept)"]
        rows.append({
            "experiment": record.experiment,
            "stopped epoch (paper)": reported.get("stopped_epoch"),
            "stopped epoch": row["stopped epoch"],
            "best epoch": best,
            "train acc % (paper)": reported.get("train_accuracy"),
            "train acc % at stop": row["train acc % at stop"],
            "train acc % at best": _percent(history_value(record, "accuracy", best)),
            "val acc % (paper)": reported.get("validation_accuracy"),
            "val acc % at stop": row["val acc % at stop"],
            "val acc % at best": row["val acc % at best"],
        })
    return pd.DataFrame(rows).set_index("experiment")


def confusion_frame(record: RunRecord, split: str = "test") -> pd.DataFrame:
    """A run's confusion matrix with labelled rows (true) and columns (predicted); the
    positive class is the last row/column and is marked ``(positive)``."""
    metrics = record.metrics[split]
    names = list(metrics["class_names"])
    labels = [f"{name} (positive)" if i == len(names) - 1 else name
              for i, name in enumerate(names)]
    return pd.DataFrame(metrics["confusion_matrix"], index=pd.Index(labels, name="true"),
                        columns=pd.Index(labels, name="predicted"))


def comparison_table(records: Sequence[RunRecord], note: str = "") -> pd.DataFrame:
    """The paper's numbers beside this run's, rows ``(experiment, quantity)``; experiments
    the paper does not have get no paper column values."""
    parts = {}
    for record in check_records(records):
        row = experiment_row(record)
        reported = PAPER_RESULTS.get(record.experiment, {})
        paper = {
            "test accuracy %": reported.get("test_accuracy"),
            "precision (macro)": reported.get("precision"),
            "recall (macro)": reported.get("recall"),
            "F1 (macro)": reported.get("f1"),
            "stopped epoch": reported.get("stopped_epoch"),
            "train acc % at stop": reported.get("train_accuracy"),
            "val acc % at stop": reported.get("validation_accuracy"),
        }
        parts[record.experiment] = paper_beside_run(paper, {key: row[key] for key in paper})
    table = pd.concat(parts, names=["experiment", "quantity"])
    if note:
        table.attrs["note"] = note
    return table


def tables(records: Sequence[RunRecord], context) -> dict[str, pd.DataFrame]:
    """The study's tables from the records, each saved under ``tables/``: ``experiments``,
    ``stop_epoch_accuracy`` and ``confusion_<experiment>_test``."""
    records = check_records(records)
    built = {"experiments": experiments_table(records),
             "stop_epoch_accuracy": stop_epoch_table(records)}
    for record in records:
        built[f"confusion_{record.experiment}_test"] = confusion_frame(record, "test")
    for name, frame in built.items():
        context.save_table(frame, name, index=True)
    return built


def compare_with_paper(records: Sequence[RunRecord], context) -> pd.DataFrame:
    """This run's numbers beside the paper's (rows ``(experiment, quantity)``, columns
    ``paper``, ``this run``, ``difference``), saved as ``tables/compare_with_paper``."""
    table = comparison_table(records, note=context.note)
    context.save_table(table, "compare_with_paper", index=True)
    return table
