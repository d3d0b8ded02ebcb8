"""The study's tables, from the scenarios' run records (one per scenario and seed): the
headline (test accuracy and macro F1 per scenario over seeds, with 95 % intervals), the
oversampling effect (S3 vs S1, S4 vs S2, paired on the same test images), this run's
Tabel 4.2, per-class F1, parameter counts, and the paper's numbers beside this run's.

The headline and paired tables come from the per-image test outcomes every record keeps
(:mod:`kerasbench.summaries`); Tabel 4.2's columns from the records' flat rows
(:meth:`RunRecord.to_row`), averaged over seeds; per-class F1 and parameter counts, which
are not scalars, from ``record.metrics`` and ``record.extra``. Every table is saved through
``context.save_table`` (CSV with a ``demo`` column, markdown under the data note).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kerasbench import summaries
from kerasbench.store import rows_frame
from kerasbench.studies.fer2013.paper import (
    PAPER_PARAMETERS,
    PAPER_RESULTS,
    SCENARIOS,
    TABLE_COLUMNS,
)

# Markdown tables are rounded to the paper's precision (Tabel 4.2: accuracies and losses to
# four places); the CSV keeps every digit.
MARKDOWN_DECIMALS = 4

# Where each quantity of Tabel 4.2 is in a record's flat row (precision and recall: macro
# averages over the 7 classes; train loss/accuracy: the last epoch's, as Keras reported).
ROW_COLUMNS = {
    "training time (s)": "durations.train_s",
    "train loss": "extra.train_loss",
    "test loss": "metrics.test.loss",
    "train accuracy": "extra.train_accuracy",
    "test accuracy": "metrics.test.accuracy",
    "precision": "metrics.test.macro_precision",
    "recall": "metrics.test.macro_recall",
}

# The headline metrics: the paper's test accuracy (Tabel 4.2), and macro F1 over the seven
# emotions, where oversampling (the rare disgust class) should show; the paper reports no F1.
HEADLINE_METRICS = ("accuracy", "macro_f1")
PAPER_HEADLINE = {"accuracy": "test accuracy", "macro_f1": None}
# The paper's conclusion is about oversampling: balanced minus unbalanced, per model.
OVERSAMPLING_PAIRS = (("S3", "S1"), ("S4", "S2"))
# Bootstrap resamples of the intervals and the paired bootstrap (seeded, kerasbench.stats).
RESAMPLES = 2000


def scenario_label(record) -> str:
    """A scenario's label in the headline, paired and verdict tables: ``S4 VGG19 balanced``."""
    return SCENARIOS[record.experiment].label


def by_scenario(records: Sequence) -> dict[str, list]:
    """``{scenario: [records, by seed]}`` in the order scenarios first appear.

    One record per scenario and seed, and the seeds of a scenario must share every other
    setting (the records one :func:`fer2013.run` returned).
    """
    out: dict[str, list] = {}
    for record in records:
        if record.experiment not in SCENARIOS:
            raise ValueError(f"record {record.run_id} is of experiment {record.experiment!r}, "
                             f"not a scenario of this study ({list(SCENARIOS)})")
        out.setdefault(record.experiment, []).append(record)
    if not out:
        raise ValueError("no records: run fer2013.run(context, data, planned) first")
    for name, group in out.items():
        seeds = [record.seed for record in group]
        repeated = sorted({seed for seed in seeds if seeds.count(seed) > 1}, key=str)
        if repeated:
            raise ValueError(f"two records of scenario {name} with seed {repeated[0]}: pass one "
                             "per scenario and seed (the records fer2013.run returned)")
        if len({summaries.configuration_key(record) for record in group}) > 1:
            raise ValueError(f"the records of scenario {name} differ in more than the seed; "
                             "pass the records of one fer2013.run")
        group.sort(key=lambda record: (record.seed is None, record.seed))
    return out


def scenario_table(records: Sequence) -> pd.DataFrame:
    """This run's Tabel 4.2: one row per scenario, the paper's seven columns (means over
    the seeds; ``n_seeds`` says how many)."""
    groups = by_scenario(records)
    rows = rows_frame(records)
    values = pd.DataFrame({"scenario": rows["experiment"]})
    for column, source in ROW_COLUMNS.items():
        values[column] = (pd.to_numeric(rows[source], errors="coerce")
                          if source in rows.columns else np.nan)
    table = values.groupby("scenario", sort=False)[list(TABLE_COLUMNS)].mean()
    table = table.reindex(list(groups))
    table.insert(0, "model", [SCENARIOS[name].model for name in table.index])
    table.insert(1, "balancing", [_balancing(groups[name][0]) for name in table.index])
    table.insert(2, "n_seeds", [len(groups[name]) for name in table.index])
    table.index.name = "scenario"
    return table


def _balancing(record) -> str:
    value = record.config.get("balancing")
    return value if isinstance(value, str) else "none"


def per_class_f1_table(records: Sequence) -> pd.DataFrame:
    """Test F1 per class (columns) for each scenario (rows), with the macro F1; means over
    the seeds."""
    rows = {}
    for name, group in by_scenario(records).items():
        per_seed = []
        for record in group:
            test = record.metrics["test"]
            row = {class_name: values["f1"] for class_name, values in test["per_class"].items()}
            row["macro F1"] = test["macro_f1"]
            per_seed.append(row)
        rows[name] = pd.DataFrame(per_seed).mean().to_dict()
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    return table


def recorded_parameters(records: Sequence) -> pd.DataFrame:
    """Parameter counts as recorded by each scenario's runs (the same for every seed),
    beside the paper's totals."""
    rows = {}
    for name, group in by_scenario(records).items():
        model = SCENARIOS[name].model
        counts = group[0].extra.get("parameters") or {}
        rows[name] = {"model": model, "backbone": group[0].config.get("backbone"),
                      "total": counts.get("total"), "trainable": counts.get("trainable"),
                      "non-trainable": counts.get("non_trainable"),
                      "paper total": PAPER_PARAMETERS.get(model)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    return table


_HEADLINES: dict = {}


def _records_key(records: Sequence) -> tuple:
    return tuple((record.run_id, record.created_at) for record in records)


def headline(records: Sequence) -> pd.DataFrame:
    """:func:`kerasbench.summaries.headline_table` of test accuracy, then of test macro F1,
    per scenario (label :func:`scenario_label`): ``configuration, metric, seeds, n_seeds,
    mean, min, median, max, ci_low, ci_high``; the interval is a bootstrap over the test
    images (one seed) or over seeds and test images together (several). Computed once per
    set of records."""
    groups = by_scenario(records)
    ordered = [record for group in groups.values() for record in group]
    key = _records_key(ordered)
    if key not in _HEADLINES:
        _HEADLINES.clear()
        _HEADLINES[key] = pd.concat(
            [summaries.headline_table(ordered, metric, label=scenario_label,
                                      resamples=RESAMPLES) for metric in HEADLINE_METRICS],
            ignore_index=True)
    return _HEADLINES[key].copy()


PAIRED_EXTRA = ["comparison", "paper difference"]


def paired(records: Sequence) -> pd.DataFrame:
    """The oversampling effect, balanced minus unbalanced on the same test images, per
    model: S3 - S1 (ResNet50) and S4 - S2 (VGG19), for test accuracy and macro F1:
    ``difference`` with its 95 % interval and p-value (:func:`kerasbench.stats.compare`:
    McNemar for accuracy with one seed, the paired bootstrap otherwise; runs paired seed by
    seed, on the seeds both scenarios ran), and the paper's difference (its Tabel 4.2; no
    F1 there). Empty when no pair was run."""
    groups = by_scenario(records)
    columns = [*PAIRED_EXTRA, *summaries.paired_table([], []).columns]
    parts = []
    for metric in HEADLINE_METRICS:
        for balanced, unbalanced in OVERSAMPLING_PAIRS:
            if balanced not in groups or unbalanced not in groups:
                continue
            common = ({r.seed for r in groups[balanced]} & {r.seed for r in groups[unbalanced]})
            if not common:
                raise ValueError(f"{balanced} and {unbalanced} share no seed: a paired "
                                 "comparison needs runs of the same seeds")
            chosen = [r for name in (balanced, unbalanced) for r in groups[name]
                      if r.seed in common]
            pair = (SCENARIOS[balanced].label, SCENARIOS[unbalanced].label)
            table = summaries.paired_table(chosen, [pair], metric, label=scenario_label,
                                           resamples=RESAMPLES)
            quantity = PAPER_HEADLINE[metric]
            table.insert(0, "comparison", f"oversampling, {SCENARIOS[balanced].model}: "
                                          f"{balanced} - {unbalanced}")
            table.insert(1, "paper difference", None if quantity is None else
                         PAPER_RESULTS[balanced][quantity] - PAPER_RESULTS[unbalanced][quantity])
            parts.append(table)
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True)[columns]


def paired_sentences(table: pd.DataFrame, *, demo: bool = False) -> list[str]:
    """One sentence per row of :func:`paired`: the oversampling effect and whether the
    paired test tells it apart from no effect (p < 0.05); on ``demo`` data, that it says
    nothing about the paper."""
    sentences = []
    for _, row in table.iterrows():
        effect = (f"{row['comparison']} ({row['metric']}, {row['n_seeds']} seed(s)): "
                  f"{row['difference']:+.3f} (95 % interval {row['ci_low']:+.3f} to "
                  f"{row['ci_high']:+.3f}, {row['test']} p = {row['p_value']:.3g})")
        if row["p_value"] >= 0.05:
            verdict = "no difference this run can tell from chance"
        else:
            verdict = ("oversampling helped" if row["difference"] > 0 else
                       "oversampling hurt") + " on these test images (p < 0.05)"
        paper = row["paper difference"]
        if demo:
            verdict += " (synthetic demo data: the code runs, nothing about the paper)"
        elif paper is not None and not pd.isna(paper):
            inside = row["ci_low"] <= paper <= row["ci_high"]
            verdict += (f"; the paper's {paper:+.4f} (one run each, no interval) lies "
                        f"{'within' if inside else 'outside'} this interval")
        sentences.append(f"{effect}: {verdict}.")
    return sentences


def tables(records: Sequence, context) -> dict[str, pd.DataFrame]:
    """This run's tables, each saved under ``tables/``: ``headline`` (test accuracy and
    macro F1 per scenario over seeds, with 95 % intervals), ``paired`` (the oversampling
    effect, S3 - S1 and S4 - S2), ``scenarios`` (Tabel 4.2, means over seeds),
    ``per_class_f1`` and ``recorded_parameters``."""
    built = {
        "headline": headline(records),
        "paired": paired(records),
        "scenarios": scenario_table(records),
        "per_class_f1": per_class_f1_table(records),
        "recorded_parameters": recorded_parameters(records),
    }
    for name, frame in built.items():
        context.save_table(frame, name, index=frame.index.name is not None,
                           decimals=MARKDOWN_DECIMALS)
    return built


def _number(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def paper_side_by_side(records: Sequence) -> pd.DataFrame:
    """The paper's layout: one row per scenario, each quantity as a pair of columns
    ``<quantity> (paper)`` and ``<quantity> (this run)`` (this run: means over seeds)."""
    this_run = scenario_table(records)
    columns = {}
    for column in TABLE_COLUMNS:
        columns[f"{column} (paper)"] = [PAPER_RESULTS[name][column] for name in this_run.index]
        columns[f"{column} (this run)"] = [_number(value) for value in this_run[column]]
    return pd.DataFrame(columns, index=this_run.index)


def paper_comparison(records: Sequence) -> pd.DataFrame:
    """The paper's value beside this run's (mean over seeds) for every scenario and
    quantity of Tabel 4.2 (long form: index scenario x quantity; columns paper, this run,
    difference = this run - paper)."""
    from kerasbench import reports

    this_run = scenario_table(records)
    parts = {}
    for name in this_run.index:
        measured = {column: _number(this_run.loc[name, column]) for column in TABLE_COLUMNS}
        parts[name] = reports.compare_with_paper(PAPER_RESULTS[name], measured)
    return pd.concat(parts, names=["scenario", "quantity"])


def paper_values(records: Sequence, metric: str) -> dict[str, float | None]:
    """Scenario label -> the paper's value of headline ``metric`` (None: not reported)."""
    quantity = PAPER_HEADLINE[metric]
    return {SCENARIOS[name].label: None if quantity is None else PAPER_RESULTS[name][quantity]
            for name in by_scenario(records)}


def _paper_detail(label: str, metric: str) -> str:
    name = label.split()[0]
    if PAPER_HEADLINE[metric] is not None:
        return f"Tabel 4.2 {PAPER_HEADLINE[metric]}"
    reported = PAPER_RESULTS[name]
    return (f"not reported (Tabel 4.2 gives macro precision {reported['precision']:.2f} and "
            f"recall {reported['recall']:.2f} only)")


def verdicts(records: Sequence, *, demo: bool) -> pd.DataFrame:
    """:func:`kerasbench.summaries.paper_verdicts` of each headline metric per scenario:
    ``configuration, metric, paper, ours_mean, ci_low, ci_high, difference, verdict`` and
    ``paper detail`` (where the paper's number comes from)."""
    table = headline(records)
    parts = [summaries.paper_verdicts(table[table["metric"] == metric].reset_index(drop=True),
                                      paper_values(records, metric), demo=demo)
             for metric in HEADLINE_METRICS]
    combined = pd.concat(parts, ignore_index=True)
    combined["paper detail"] = [_paper_detail(label, metric) for label, metric
                                in zip(combined["configuration"], combined["metric"])]
    return combined


def compare_with_paper(records: Sequence, context) -> pd.DataFrame:
    """The paper's headline numbers beside this run's intervals (:func:`verdicts`: test
    accuracy and macro F1 per scenario, with the verdict ``within interval`` / ``paper
    higher`` / ``paper lower`` / ``not comparable: ...``), returned with
    ``attrs["note"]`` and saved as ``compare_with_paper``. The rest of Tabel 4.2 beside
    this run's means is saved as ``paper_comparison`` (long form, :func:`paper_comparison`)
    and ``paper_table`` (the paper's layout, :func:`paper_side_by_side`)."""
    table = verdicts(records, demo=context.is_demo)
    table.attrs["note"] = context.note
    context.save_table(table, "compare_with_paper", decimals=MARKDOWN_DECIMALS)
    for name, frame in (("paper_comparison", paper_comparison(records)),
                        ("paper_table", paper_side_by_side(records))):
        context.save_table(frame, name, index=True, decimals=MARKDOWN_DECIMALS)
    return table
