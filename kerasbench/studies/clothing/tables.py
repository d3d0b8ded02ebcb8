"""Tables of the clothing study, built from run records (``record.to_row()`` rows, the
records' metrics, durations and extra): the grid's runs, the paper's Table I shape with
the paper beside this run, the grid maxima, the feature scale, the parameters, the final
models and the comparison with the paper's final table.

Records of experiment ``grid`` are taken in the order given (grid order, as
:func:`kerasbench.studies.clothing.run` returns them); a study run holds one grid per
backbone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kerasbench.records import RunRecord
from kerasbench.reports import compare_with_paper as paper_beside_run
from kerasbench.store import rows_frame
from kerasbench.studies.clothing.finals import best_grid_record
from kerasbench.studies.clothing.paper import (
    PAPER_FINAL,
    PAPER_GRID_BEST,
    display_name,
    paper_table_one,
)

TABLE_ONE_INDEX = ["image_size", "batch_size", "learning_rate"]


def of_experiment(records: Sequence[RunRecord], experiment: str) -> list[RunRecord]:
    return [record for record in records if record.experiment == experiment]


def grid_by_backbone(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    grids: dict[str, list[RunRecord]] = {}
    for record in of_experiment(records, "grid"):
        grids.setdefault(record.config["backbone"], []).append(record)
    return grids


def grid_seconds(records: Sequence[RunRecord]) -> float:
    """What a backbone's grid cost: every run's time, with each distinct feature file
    counted once at the time it took to compute (so a grid that read features from an
    earlier run's cache is not reported as free, nor charged twice)."""
    total, computed = 0.0, {}
    for record in records:
        total += record.durations.get("total_s", 0.0) - record.durations.get("feature_s", 0.0)
        for entry in (record.extra.get("features") or {}).values():
            computed[entry["key"]] = entry.get("compute_seconds", 0.0)
    return total + sum(computed.values())


def grid_trials(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per grid run (from the records' flat rows), with its demo flag."""
    grid = of_experiment(records, "grid")
    if not grid:
        return pd.DataFrame()
    columns = {
        "config.backbone": "backbone", "config.image_size": "image_size",
        "config.batch_size": "batch_size", "config.learning_rate": "learning_rate",
        "metrics.validation.macro_f1": "val_macro_f1",
        "metrics.validation.accuracy": "val_accuracy",
        "metrics.test.macro_f1": "test_macro_f1", "durations.total_s": "total_s",
        "config.feature_cache": "feature_cache", "run_id": "run_id", "demo": "demo",
    }
    return rows_frame(grid)[list(columns)].rename(columns=columns)


def best_configurations(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Per backbone, the grid run with the highest VALIDATION macro F1 (the first in grid
    order on ties), and what its grid cost."""
    rows = []
    for backbone, grid in grid_by_backbone(records).items():
        best = best_grid_record(grid)
        rows.append({
            "backbone": backbone,
            **{key: best.config[key] for key in TABLE_ONE_INDEX},
            "validation macro F1 %": 100 * best.metric("validation", "macro_f1"),
            "test macro F1 %": 100 * best.metric("test", "macro_f1"),
            "grid search s": grid_seconds(grid),
        })
    return pd.DataFrame(rows).set_index("backbone")


def table_one(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The paper's Table I shape: one row per (image size, batch, lr) of this run's grid,
    one validation macro F1 (%) column per backbone, and the paper's value beside it
    where the paper ran that configuration. Sizes a backbone skipped stay empty."""
    grids = grid_by_backbone(records)
    every = [record for grid in grids.values() for record in grid]
    values = {key: list(dict.fromkeys(r.config[key] for r in every)) for key in TABLE_ONE_INDEX}
    index = pd.MultiIndex.from_product([values[key] for key in TABLE_ONE_INDEX],
                                       names=TABLE_ONE_INDEX)
    paper = paper_table_one()
    table = pd.DataFrame(index=index)
    for backbone, grid in grids.items():
        scores = {tuple(r.config[key] for key in TABLE_ONE_INDEX):
                  100 * r.metric("validation", "macro_f1") for r in grid}
        name = display_name(backbone)
        table[f"{name} F1 % (this run)"] = [scores.get(key, np.nan) for key in index]
        if backbone in paper.columns:
            table[f"{name} F1 % (paper)"] = [paper[backbone].get(key, np.nan)
                                             if key in paper.index else np.nan for key in index]
    return table.round(2)


def grid_maxima(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Each backbone's best grid configuration, this run beside the paper's."""
    rows = []
    for backbone, row in best_configurations(records).iterrows():
        paper = PAPER_GRID_BEST.get(backbone, {})
        rows.append({
            "backbone": display_name(backbone),
            "best (size, batch, lr) this run": (
                f"({int(row['image_size'])}, {int(row['batch_size'])}, "
                f"{row['learning_rate']:g})"),
            "validation F1 % this run": round(row["validation macro F1 %"], 2),
            "best (size, batch, lr) paper": (
                f"({paper['image_size']}, {paper['batch_size']}, {paper['learning_rate']:g})"
                if paper else None),
            "F1 % paper": paper.get("f1"),
        })
    return pd.DataFrame(rows).set_index("backbone")


def feature_scale(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Standard deviation of the pooled training features per backbone and image size
    (cached path only). Randomly initialised EfficientNets and Xception give features
    around 1e-6, on which a linear head stays at chance; ImageNet features are near 1."""
    rows = {}
    for record in of_experiment(records, "grid"):
        train = (record.extra.get("features") or {}).get("train") or {}
        if "std" in train:
            rows[(display_name(record.config["backbone"]), record.config["image_size"])] = (
                train["std"])
    table = pd.Series(rows, name="pooled feature std (train)", dtype=float)
    if len(table):
        table.index.names = ["backbone", "image_size"]
    return table.to_frame()


def parameters(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Parameters of backbone + GlobalAveragePooling2D + Dense per backbone, beside the
    paper's totals (the counts do not depend on the weights or the image size)."""
    rows, seen = [], set()
    for record in records:
        backbone = record.config["backbone"]
        counts = record.extra.get("parameters")
        if backbone in seen or not counts:
            continue
        seen.add(backbone)
        rows.append({
            "backbone": display_name(backbone),
            "backbone parameters": int(counts["total"]) - int(counts["head"]),
            "head parameters (Dense)": int(counts["head"]),
            "total parameters": int(counts["total"]),
            "paper total": PAPER_FINAL.get(backbone, {}).get("total parameters"),
        })
    return pd.DataFrame(rows).set_index("backbone") if rows else pd.DataFrame()


def final_quantities(record: RunRecord, grid_search_seconds: float) -> dict:
    """This run's numbers of the paper's final table, for one final record."""
    return {
        "precision %": 100 * record.metric("test", "macro_precision"),
        "recall %": 100 * record.metric("test", "macro_recall"),
        "F1 %": 100 * record.metric("test", "macro_f1"),
        "total parameters": int(record.extra["parameters"]["total"]),
        "final training s": record.durations["final_training_s"],
        "grid search s": grid_search_seconds,
    }


def finals_with_grid_seconds(records: Sequence[RunRecord]) -> list[tuple[RunRecord, float]]:
    grids = grid_by_backbone(records)
    return [(record, grid_seconds(grids.get(record.config["backbone"], [])))
            for record in of_experiment(records, "final")]


def final_models(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The paper's final table shape: quantities as rows, one column per backbone."""
    columns = {}
    for record, seconds in finals_with_grid_seconds(records):
        values = final_quantities(record, seconds)
        config = record.config
        columns[display_name(config["backbone"])] = {
            **{key: round(values[key], 2) for key in ("precision %", "recall %", "F1 %")},
            "accuracy %": round(100 * record.metric("test", "accuracy"), 2),
            "total parameters": values["total parameters"],
            "final training s": round(values["final training s"], 1),
            "grid search s": round(values["grid search s"], 1),
            "best (size, batch, lr)": (f"({config['image_size']}, {config['batch_size']}, "
                                       f"{config['learning_rate']:g})"),
        }
    return pd.DataFrame(columns)


def comparison(records: Sequence[RunRecord], note: str = "") -> pd.DataFrame:
    """Paper vs this run with the difference, one block of rows per final model."""
    blocks = []
    for record, seconds in finals_with_grid_seconds(records):
        backbone = record.config["backbone"]
        this_run = final_quantities(record, seconds)
        paper = PAPER_FINAL.get(backbone, dict.fromkeys(this_run))
        block = paper_beside_run(paper, this_run).reset_index()
        block.insert(0, "backbone", display_name(backbone))
        blocks.append(block)
    if not blocks:
        return pd.DataFrame(columns=["paper", "this run", "difference"])
    table = pd.concat(blocks, ignore_index=True).set_index(["backbone", "quantity"])
    for column in ("paper", "this run", "difference"):
        table[column] = pd.to_numeric(table[column], errors="coerce").round(2)
    if note:
        table.attrs["note"] = note
    return table


def tables(records: Sequence[RunRecord], context) -> dict[str, pd.DataFrame]:
    """Every table of the study, saved under ``tables/`` (CSV with a ``demo`` column,
    markdown with the data note) and returned by name."""
    made = {
        "grid_trials": (grid_trials(records), False),
        "table_1_grid_f1": (table_one(records), True),
        "grid_maxima": (grid_maxima(records), True),
        "feature_scale": (feature_scale(records), True),
        "parameters": (parameters(records), True),
        "final_models": (final_models(records), True),
        "paper_table_1": (paper_table_one(), True),
    }
    for name, (frame, index) in made.items():
        if not frame.empty:
            context.save_table(frame, name, index=index)
    return {name: frame for name, (frame, _) in made.items()}


def compare_with_paper(records: Sequence[RunRecord], context) -> pd.DataFrame:
    """The paper's final numbers (test precision, recall and F1 in %, total parameters,
    final training and grid-search seconds) beside this run's, with this run minus the
    paper; saved as ``comparison_with_paper``."""
    table = comparison(records, note=context.note)
    if not table.empty:
        context.save_table(table, "comparison_with_paper", index=True)
    return table
