"""The headline and the paired comparison, over seeds (:mod:`kerasbench.summaries`).

Headline: test accuracy and ROC AUC of P(positive_class) per setting (learning rate,
batch size), with the shared columns ``n_seeds, mean, min, median, max, ci_low, ci_high``:
the spread over seeds and a 95 % bootstrap interval over seeds and test images. A setting
in both sweeps is one row: its runs are the same runs.

Paired comparison: the paper concludes that lr 1e-4 and 1e-5 are best; this tests the
best learning rate of the learning-rate sweep (highest mean test accuracy, then ROC AUC)
against the next best on the same test images: accuracy with McNemar's test (one seed) or
the paired bootstrap over seeds and images (several), ROC AUC with the paired bootstrap.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kerasbench import summaries
from kerasbench.records import RunRecord
from kerasbench.studies import base
from kerasbench.studies.covid_xray.protocol import LEARNING_RATE_SWEEP, format_learning_rate

HEADLINE_METRICS = ("accuracy", "roc_auc")
RESAMPLES = 2000
# Every run of one setting carries this experiment name for grouping, whichever sweep
# trained or returned it (the config alone says which setting it is).
_SETTING = "setting"


def setting_label(record: RunRecord) -> str:
    """A setting's label, its seeds grouped under it: ``lr 1e-4, batch 5``."""
    config = record.config
    return f"lr {format_learning_rate(config['learning_rate'])}, batch {config['batch_size']}"


def check_records(records: Sequence[RunRecord]) -> list[RunRecord]:
    """The records as a list; none, or an unfinished one, is an error (base.check_records)."""
    return base.check_records(records, "covid_xray")


def distinct_runs(records: Sequence[RunRecord]) -> list[RunRecord]:
    """Each run once (a setting in both sweeps comes back twice from :func:`run`), in
    order, all under one experiment name so that a setting's seeds group together."""
    seen: dict[str, RunRecord] = {}
    for record in check_records(records):
        seen.setdefault(record.run_id, dataclasses.replace(record, experiment=_SETTING))
    return list(seen.values())


_CACHE: dict = {}


def headline(records: Sequence[RunRecord]) -> pd.DataFrame:
    """:func:`kerasbench.summaries.headline_table` of test accuracy, then of test ROC AUC,
    one row per setting and metric (computed once per set of records)."""
    runs = distinct_runs(records)
    key = tuple((record.run_id, record.created_at) for record in runs)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = pd.concat(
            [summaries.headline_table(runs, metric, label=setting_label, resamples=RESAMPLES)
             for metric in HEADLINE_METRICS], ignore_index=True)
    return _CACHE[key].copy()


def learning_rate_ranking(records: Sequence[RunRecord]) -> list[str]:
    """The learning-rate sweep's settings, best first: mean test accuracy, then mean ROC
    AUC (a setting without one last), then the sweep's order."""
    sweep = {setting_label(record) for record in check_records(records)
             if record.experiment == LEARNING_RATE_SWEEP}
    table = headline(records)
    means = {(row.configuration, row.metric): row.mean for row in table.itertuples()}
    labels = [label for label in dict.fromkeys(table["configuration"]) if label in sweep]

    def key(label):
        auc = means.get((label, "roc_auc"), np.nan)
        return -means[(label, "accuracy")], -(auc if np.isfinite(auc) else -np.inf)

    return sorted(labels, key=key)


def paired(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The best learning rate vs the next best (:func:`learning_rate_ranking`) on the same
    test images: accuracy (McNemar with one seed, else the paired bootstrap over seeds and
    images) and ROC AUC (paired bootstrap); no rows with fewer than two learning rates."""
    ranking = learning_rate_ranking(records)
    if len(ranking) < 2:
        return summaries.paired_table([], [])
    pair = [(ranking[0], ranking[1])]
    runs = distinct_runs(records)
    return pd.concat([summaries.paired_table(runs, pair, metric, label=setting_label,
                                             resamples=RESAMPLES)
                      for metric in HEADLINE_METRICS], ignore_index=True)


def paired_sentences(table: pd.DataFrame, level: float = 0.05) -> list[str]:
    """One sentence per row of :func:`paired` (see :func:`kerasbench.summaries.paired_sentences`)."""
    return summaries.paired_sentences(table, level)

