"""Tables from the runs' records, in the paper's units, and the comparison with the paper.

The headline is test accuracy per experiment over seeds (:mod:`kerasbench.summaries`): the
shared columns ``n_seeds, mean, min, median, max, ci_low, ci_high`` as fractions, the
interval a 95 % bootstrap over seeds and test images; the paired table tests E1 vs E2,
E1 vs E3 and E2 vs E3 on the same test images (McNemar with one seed, the paired bootstrap
over seeds and images with several); the verdict puts the paper's
accuracy beside the interval. The per-run tables keep the paper's units: accuracy in %,
precision / recall / F1 macro averages over the two classes as fractions (the paper's E2
matrix gives its 0.8956 for all three as macro averages), the positive class's own
precision and recall beside them. Every table is saved through ``context.save_table``
(CSV with a ``demo`` column, markdown with the data note).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import pandas as pd

from kerasbench import summaries
from kerasbench.records import RunRecord
from kerasbench.reports import compare_with_paper as paper_beside_run
from kerasbench.studies import base
from kerasbench.studies.down_syndrome.paper import PAPER_RESULTS

# Markdown tables are rounded to the paper's precision (Table III: precision, recall and
# F1 to four places); the CSV keeps every digit.
MARKDOWN_DECIMALS = 4

HEADLINE_METRIC = "accuracy"
RESAMPLES = 2000


def check_records(records: Sequence[RunRecord]) -> list[RunRecord]:
    """The records as a list; none, or an unfinished one, is an error (base.check_records)."""
    return base.check_records(records, "down_syndrome")


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
        "seed": record.seed,
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


def by_experiment(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """The records of each experiment, in order of appearance, lowest seed first."""
    groups: dict[str, list[RunRecord]] = {}
    for record in check_records(records):
        groups.setdefault(record.experiment, []).append(record)
    return {name: sorted(group, key=lambda record: record.seed) for name, group in groups.items()}


def representative_runs(records: Sequence[RunRecord]) -> list[RunRecord]:
    """Each experiment's run with the lowest seed (for confusion matrices and curves)."""
    return [group[0] for group in by_experiment(records).values()]


def experiments_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per run (index: experiment, one row per seed), with requested and effective
    batch size, the stop and best epochs, accuracies at the stop epoch and the test
    metrics."""
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
            "seed": record.seed,
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


def paper_detail(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The paper's numbers beside this run's (means over each experiment's seeds), rows
    ``(experiment, quantity)``; experiments the paper does not have get no paper values."""
    parts = {}
    for name, group in by_experiment(records).items():
        rows = [experiment_row(record) for record in group]
        reported = PAPER_RESULTS.get(name, {})
        paper = {
            "test accuracy %": reported.get("test_accuracy"),
            "precision (macro)": reported.get("precision"),
            "recall (macro)": reported.get("recall"),
            "F1 (macro)": reported.get("f1"),
            "stopped epoch": reported.get("stopped_epoch"),
            "train acc % at stop": reported.get("train_accuracy"),
            "val acc % at stop": reported.get("validation_accuracy"),
        }
        ours = {key: _mean([row[key] for row in rows]) for key in paper}
        parts[name] = paper_beside_run(paper, ours)
    return pd.concat(parts, names=["experiment", "quantity"])


def _mean(values):
    values = [value for value in values if value is not None]
    return float(np.mean(values)) if values else None


_HEADLINES: dict = {}


def headline(records: Sequence[RunRecord]) -> pd.DataFrame:
    """:func:`kerasbench.summaries.headline_table` of test accuracy per experiment:
    ``n_seeds, mean, min, median, max, ci_low, ci_high`` (fractions; computed once per set
    of records)."""
    records = check_records(records)
    key = tuple((record.run_id, record.created_at) for record in records)
    if key not in _HEADLINES:
        _HEADLINES.clear()
        _HEADLINES[key] = summaries.headline_table(records, HEADLINE_METRIC, resamples=RESAMPLES)
    return _HEADLINES[key].copy()


def paired(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Every pair of experiments in order (the paper's E1 vs E2, E1 vs E3, E2 vs E3): the
    difference in test accuracy, its 95 % interval and the p-value on the same test images
    (McNemar with one seed; with several, seeds paired in order and the paired bootstrap
    over seeds and images)."""
    names = list(by_experiment(records))
    return summaries.paired_table(check_records(records), list(combinations(names, 2)),
                                  HEADLINE_METRIC, resamples=RESAMPLES)


def paired_sentences(table: pd.DataFrame, level: float = 0.05) -> list[str]:
    """One sentence per row of :func:`paired` (see :func:`kerasbench.summaries.paired_sentences`)."""
    return summaries.paired_sentences(table, level)


def paper_values(records: Sequence[RunRecord]) -> dict[str, float]:
    """Experiment -> the paper's test accuracy as a fraction (its Table III gives %)."""
    return {name: PAPER_RESULTS[name]["test_accuracy"] / 100.0
            for name in by_experiment(records) if name in PAPER_RESULTS}


def tables(records: Sequence[RunRecord], context) -> dict[str, pd.DataFrame]:
    """The study's tables from the records, each saved under ``tables/``: ``headline``
    (test accuracy per experiment over seeds), ``paired`` (the experiments against each
    other), ``experiments`` and ``stop_epoch_accuracy`` (one row per run),
    ``paper_detail`` (the paper's Table III and stop epochs beside this run's means) and
    ``confusion_<experiment>_test`` (each experiment's lowest seed)."""
    records = check_records(records)
    built = {"headline": headline(records), "paired": paired(records),
             "experiments": experiments_table(records),
             "stop_epoch_accuracy": stop_epoch_table(records),
             "paper_detail": paper_detail(records)}
    for record in representative_runs(records):
        built[f"confusion_{record.experiment}_test"] = confusion_frame(record, "test")
    for name, frame in built.items():
        context.save_table(frame, name, index=name not in ("headline", "paired"),
                           decimals=MARKDOWN_DECIMALS)
    return built


def compare_with_paper(records: Sequence[RunRecord], context) -> pd.DataFrame:
    """:func:`kerasbench.summaries.paper_verdicts` of test accuracy per experiment the
    paper reports: ``configuration, metric, paper, ours_mean, ci_low, ci_high, difference,
    verdict`` (fractions), saved as ``tables/compare_with_paper``; the paper's other
    numbers are in the ``paper_detail`` table of :func:`tables`."""
    verdicts = summaries.paper_verdicts(headline(records), paper_values(records),
                                        demo=context.is_demo)
    context.save_table(verdicts, "compare_with_paper", decimals=MARKDOWN_DECIMALS)
    return verdicts

