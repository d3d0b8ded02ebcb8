"""The study's tables, from the scenarios' run records: this run's Tabel 4.2, per-class F1,
parameter counts, and the paper's numbers beside this run's.

The table columns come from the records' flat rows (:meth:`RunRecord.to_row`); per-class
F1 and parameter counts, which are not scalars, from ``record.metrics`` and
``record.extra``. Every table is saved through ``context.save_table`` (CSV with a ``demo``
column, markdown under the data note).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kerasbench.store import rows_frame
from kerasbench.studies.fer2013.paper import (
    PAPER_PARAMETERS,
    PAPER_RESULTS,
    SCENARIOS,
    TABLE_COLUMNS,
)

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


def by_scenario(records: Sequence) -> dict:
    """``{scenario: record}`` in the given order; each scenario at most once."""
    out = {}
    for record in records:
        if record.experiment not in SCENARIOS:
            raise ValueError(f"record {record.run_id} is of experiment {record.experiment!r}, "
                             f"not a scenario of this study ({list(SCENARIOS)})")
        if record.experiment in out:
            raise ValueError(f"two records of scenario {record.experiment}: pass one per "
                             "scenario (the records fer2013.run returned)")
        out[record.experiment] = record
    if not out:
        raise ValueError("no records: run fer2013.run(context, data, planned) first")
    return out


def scenario_table(records: Sequence) -> pd.DataFrame:
    """This run's Tabel 4.2: one row per scenario, the paper's seven columns."""
    by_scenario(records)
    rows = rows_frame(records).set_index("experiment")
    table = pd.DataFrame(index=rows.index, columns=list(TABLE_COLUMNS), dtype=float)
    for column, source in ROW_COLUMNS.items():
        if source in rows.columns:
            table[column] = pd.to_numeric(rows[source], errors="coerce")
    table.insert(0, "model", [SCENARIOS[name].model for name in table.index])
    table.insert(1, "balancing", [value if isinstance(value, str) else "none"
                                  for value in rows["config.balancing"]])
    table.index.name = "scenario"
    return table


def per_class_f1_table(records: Sequence) -> pd.DataFrame:
    """Test F1 per class (columns) for each scenario (rows), with the macro F1."""
    rows = {}
    for name, record in by_scenario(records).items():
        test = record.metrics["test"]
        row = {class_name: values["f1"] for class_name, values in test["per_class"].items()}
        row["macro F1"] = test["macro_f1"]
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    return table


def recorded_parameters(records: Sequence) -> pd.DataFrame:
    """Parameter counts as recorded by each run, beside the paper's totals."""
    rows = {}
    for name, record in by_scenario(records).items():
        model = SCENARIOS[name].model
        counts = record.extra.get("parameters") or {}
        rows[name] = {"model": model, "backbone": record.config.get("backbone"),
                      "total": counts.get("total"), "trainable": counts.get("trainable"),
                      "non-trainable": counts.get("non_trainable"),
                      "paper total": PAPER_PARAMETERS.get(model)}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scenario"
    return table


def tables(records: Sequence, context) -> dict[str, pd.DataFrame]:
    """This run's tables, each saved under ``tables/``: ``scenarios`` (Tabel 4.2),
    ``per_class_f1`` and ``recorded_parameters``."""
    built = {
        "scenarios": scenario_table(records),
        "per_class_f1": per_class_f1_table(records),
        "recorded_parameters": recorded_parameters(records),
    }
    for name, frame in built.items():
        context.save_table(frame, name, index=True)
    return built


def _number(value):
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def paper_side_by_side(records: Sequence) -> pd.DataFrame:
    """The paper's layout: one row per scenario, each quantity as a pair of columns
    ``<quantity> (paper)`` and ``<quantity> (this run)``."""
    this_run = scenario_table(records)
    columns = {}
    for column in TABLE_COLUMNS:
        columns[f"{column} (paper)"] = [PAPER_RESULTS[name][column] for name in this_run.index]
        columns[f"{column} (this run)"] = [_number(value) for value in this_run[column]]
    return pd.DataFrame(columns, index=this_run.index)


def paper_comparison(records: Sequence) -> pd.DataFrame:
    """The paper's value beside this run's for every scenario and quantity (long form:
    index scenario x quantity; columns paper, this run, difference = this run - paper)."""
    from kerasbench import reports

    this_run = scenario_table(records)
    parts = {}
    for name in this_run.index:
        measured = {column: _number(this_run.loc[name, column]) for column in TABLE_COLUMNS}
        parts[name] = reports.compare_with_paper(PAPER_RESULTS[name], measured)
    return pd.concat(parts, names=["scenario", "quantity"])


def compare_with_paper(records: Sequence, context) -> pd.DataFrame:
    """:func:`paper_comparison` (returned, with ``attrs["note"]``), saved as
    ``paper_comparison``, and the same numbers in the paper's layout as ``paper_table``."""
    comparison = paper_comparison(records)
    comparison.attrs["note"] = context.note
    context.save_table(comparison, "paper_comparison", index=True)
    context.save_table(paper_side_by_side(records), "paper_table", index=True)
    return comparison
