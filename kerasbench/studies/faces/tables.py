"""Tables from the runs' records and the comparison with the paper.

The headline metric is macro F1 over the two pair classes ("same", "different"), the
number the paper's per-class tables give (mean of the two F1s). Per configuration
(optimizer, learning rate, epochs) the headline table gives the spread over seeds and a
95 % bootstrap interval over seeds and test pairs (:mod:`kerasbench.summaries`); the
paired table tests the best configuration against the worst on the same test pairs.
Every table is saved through ``context.save_table`` (CSV with a ``demo`` column,
markdown with the data note).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kerasbench import summaries
from kerasbench.records import RunRecord
from kerasbench.studies import base
from kerasbench.studies.faces.paper import (
    HEADLINE_METRIC,
    PAIR_CLASSES,
    PAPER_COLLAPSED,
    PAPER_RESULTS,
    PAPER_SECONDS_PER_VERIFICATION,
    QUANTITIES,
    paper_key,
    paper_macro_f1,
)

# Markdown tables are rounded to the paper's precision (fractions to two places, 0.98);
# the CSV keeps every digit.
MARKDOWN_DECIMALS = 2

RESAMPLES = 2000


def check_records(records: Sequence[RunRecord]) -> list[RunRecord]:
    """The records as a list; none, or an unfinished one, is an error (base.check_records)."""
    return base.check_records(records, "faces")


def run_label(record: RunRecord) -> str:
    """A configuration's label (seeds are grouped under it): ``sgd lr=0.01 50 ep``."""
    config = record.config
    return f"{config['optimizer']} lr={config['learning_rate']:g} {config['epochs']} ep"


def record_paper_key(record: RunRecord) -> tuple | None:
    config = record.config
    return paper_key(config["optimizer"], config["learning_rate"], config.get("paper_epochs"))


def summary_table(records: Sequence[RunRecord], split: str = "test") -> pd.DataFrame:
    """One row per run: threshold, accuracy, per-class P/R/F1, AUC, EER, collapse, times."""
    rows = []
    for record in check_records(records):
        config, metrics = record.config, record.metrics[split]
        row = {"optimizer": config["optimizer"], "learning_rate": config["learning_rate"],
               "epochs": config["epochs"], "seed": record.seed,
               "threshold": record.extra.get("threshold"), "accuracy": metrics["accuracy"],
               "macro_f1": metrics["macro_f1"]}
        for name in PAIR_CLASSES:
            for quantity in QUANTITIES:
                row[f"{name} {quantity}"] = metrics["per_class"][name][quantity]
        row.update({"roc_auc": metrics.get("roc_auc"), "eer": metrics.get("eer"),
                    "collapsed": bool(metrics.get("collapsed")),
                    "diverged": bool(record.extra.get("diverged", False)),
                    "train_s": record.durations.get("train_s"),
                    "verify_pair_s": record.durations.get("verify_pair_s")})
        rows.append(row)
    return pd.DataFrame(rows).set_index(["optimizer", "learning_rate", "epochs", "seed"])


def latency_table(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Verification time per pair (warm, from files) and batch throughput, per training."""
    rows, seen = [], set()
    for record in check_records(records):
        config = record.config
        key = (config["optimizer"], config["learning_rate"], record.seed)
        if key in seen:
            continue
        seen.add(key)
        latency = record.extra.get("latency") or {}
        single = latency.get("single_pair_seconds")
        rows.append({"optimizer": key[0], "learning_rate": key[1], "seed": key[2],
                     "seconds per verification (paper: < 5)": single,
                     "worst of repeats (s)": latency.get("single_pair_seconds_max"),
                     "pairs per second (batch)": latency.get("pairs_per_second"),
                     "under 5 s": (np.inf if single is None else single)
                     < PAPER_SECONDS_PER_VERIFICATION})
    return pd.DataFrame(rows).set_index(["optimizer", "learning_rate", "seed"])


_HEADLINES: dict = {}


def headline(records: Sequence[RunRecord], metric: str = HEADLINE_METRIC) -> pd.DataFrame:
    """:func:`kerasbench.summaries.headline_table` per configuration (label
    :func:`run_label`): ``n_seeds, mean, min, median, max, ci_low, ci_high`` of ``metric``
    on the test pairs (computed once per set of records)."""
    records = check_records(records)
    key = (metric, tuple((record.run_id, record.created_at) for record in records))
    if key not in _HEADLINES:
        _HEADLINES.clear()
        _HEADLINES[key] = summaries.headline_table(records, metric, label=run_label,
                                                   resamples=RESAMPLES)
    return _HEADLINES[key].copy()


def best_and_worst(records: Sequence[RunRecord]) -> tuple[str, str] | None:
    """The best and the worst configuration by mean macro F1, among those trained for the
    most epochs (all configurations when that leaves one); None with one configuration."""
    table = headline(records)
    longest = max(record.config["epochs"] for record in records)
    final = {run_label(record) for record in records if record.config["epochs"] == longest}
    candidates = table[table["configuration"].isin(final)]
    if len(candidates) < 2:
        candidates = table
    if len(candidates) < 2:
        return None
    ordered = candidates.sort_values("mean", ascending=False, kind="stable")["configuration"]
    return ordered.iloc[0], ordered.iloc[-1]


def paired(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Best vs worst configuration (the paper: every setting perfect but Adam at 0.01,
    which collapsed) on the same test pairs: macro F1 (paired bootstrap) and accuracy
    (McNemar); empty with fewer than two configurations."""
    pair = best_and_worst(records)
    if pair is None:
        return summaries.paired_table([], [])
    return pd.concat([summaries.paired_table(records, [pair], metric, label=run_label,
                                             resamples=RESAMPLES)
                      for metric in (HEADLINE_METRIC, "accuracy")], ignore_index=True)


def paper_values(records: Sequence[RunRecord]) -> dict[str, float | None]:
    """Configuration label -> the paper's macro F1, for configurations the paper has."""
    values = {}
    for record in records:
        key = record_paper_key(record)
        if key is not None:
            values[run_label(record)] = paper_macro_f1(key)
    return values


def per_class_detail(records: Sequence[RunRecord], split: str = "test") -> pd.DataFrame:
    """Per configuration: the paper's per-class P/R/F1 and collapse beside this run's
    (means over seeds), the detail of the paper's Tables 2-5."""
    rows = {}
    for label, group in _groups(records).items():
        key = record_paper_key(group[0])
        row = {"paper epochs": group[0].config.get("paper_epochs")}
        for name in PAIR_CLASSES:
            for quantity in QUANTITIES:
                values = [r.metrics[split]["per_class"][name][quantity] for r in group]
                row[f"paper {name} {quantity}"] = (None if key is None
                                                   else PAPER_RESULTS[key][name][quantity])
                row[f"ours {name} {quantity}"] = float(np.mean(values))
        row["paper collapsed"] = None if key is None else bool(PAPER_COLLAPSED[key])
        row["ours collapsed (seeds)"] = sum(bool(r.metrics[split].get("collapsed"))
                                            for r in group)
        rows[label] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("configuration")


def _groups(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    groups: dict[str, list[RunRecord]] = {}
    for record in records:
        groups.setdefault(run_label(record), []).append(record)
    return groups


def tables(records: Sequence[RunRecord], context) -> dict[str, pd.DataFrame]:
    """The study's tables, each saved under ``tables/``: ``headline`` (macro F1 per
    configuration over seeds, with its interval), ``paired`` (best vs worst), ``runs``
    (one row per run), ``latency`` (per training) and ``per_class`` (beside the paper)."""
    records = check_records(records)
    built = {"headline": headline(records), "paired": paired(records),
             "runs": summary_table(records), "latency": latency_table(records),
             "per_class": per_class_detail(records)}
    for name, frame in built.items():
        # Index levels become plain columns in the CSV and the markdown.
        indexed = frame.index.nlevels > 1 or frame.index.name is not None
        context.save_table(frame.reset_index() if indexed else frame, name,
                           decimals=MARKDOWN_DECIMALS)
    return built


def compare_with_paper(records: Sequence[RunRecord], context) -> pd.DataFrame:
    """:func:`kerasbench.summaries.paper_verdicts` of macro F1 per configuration the paper
    reports (``paper, ours_mean, ci_low, ci_high, difference, verdict``), followed by the
    per-class detail of its tables; saved as ``tables/compare_with_paper``. Configurations
    without a paper row (``paper_epochs`` None) are left out."""
    records = check_records(records)
    verdicts = summaries.paper_verdicts(headline(records), paper_values(records),
                                        demo=context.is_demo)
    detail = per_class_detail(records).reset_index()
    table = verdicts.merge(detail, on="configuration", how="left")
    context.save_table(table, "compare_with_paper", decimals=MARKDOWN_DECIMALS)
    return table
