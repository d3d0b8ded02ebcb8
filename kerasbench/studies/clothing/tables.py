"""Tables of the clothing study, built from run records (``record.to_row()`` rows, the
records' metrics, durations and extra): the headline (the final models' test macro F1 and
accuracy per backbone over seeds, with 95 % intervals), the paired comparison of the best
backbone with each other one, the grid's runs, the paper's Table I shape with the paper
beside this run, the grid maxima, the feature scale, the parameters, the final models and
the paper's final table beside this run's.

Records of experiment ``grid`` are taken in the order given (grid order, as
:func:`kerasbench.studies.clothing.run` returns them); a study run holds one grid per
backbone and seed (or per backbone, with ``grid_per_seed=False``).

A backbone's final models of several seeds are one configuration: the grid point each
seed's grid chose (image size, batch size, learning rate) is an outcome of that seed's
protocol, not a setting, so it is left out of the configuration the seeds are grouped by.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kerasbench import stats, summaries
from kerasbench.records import RunRecord
from kerasbench.reports import compare_with_paper as paper_beside_run
from kerasbench.store import rows_frame
from kerasbench.studies.clothing.finals import best_grid_record, grid_seed
from kerasbench.studies.clothing.grid import GRID_AXES
from kerasbench.studies.clothing.paper import (
    PAPER_FINAL,
    PAPER_GRID_BEST,
    display_name,
    paper_table_one,
)

# Markdown tables are rounded to the paper's precision (percentages to two places, so
# fractions to four); the CSV keeps every digit.
MARKDOWN_DECIMALS = 4

TABLE_ONE_INDEX = ["image_size", "batch_size", "learning_rate"]
HEADLINE_METRIC = "macro_f1"  # the paper's headline: test macro F1 of the final models
HEADLINE_METRICS = (HEADLINE_METRIC, "accuracy")
RESAMPLES = stats.DEFAULT_RESAMPLES
# Not part of a final model's configuration across seeds (see the module docstring).
CHOSEN_KEYS = (*GRID_AXES, "grid_seed")


def of_experiment(records: Sequence[RunRecord], experiment: str) -> list[RunRecord]:
    return [record for record in records if record.experiment == experiment]


def grid_by_backbone(records: Sequence[RunRecord]) -> dict[str, list[RunRecord]]:
    """Every grid record of each backbone (all seeds)."""
    grids: dict[str, list[RunRecord]] = {}
    for record in of_experiment(records, "grid"):
        grids.setdefault(record.config["backbone"], []).append(record)
    return grids


def grid_by_seed(records: Sequence[RunRecord]) -> dict[tuple, list[RunRecord]]:
    """Each grid: ``(backbone, seed) -> its records`` in grid order."""
    grids: dict[tuple, list[RunRecord]] = {}
    for record in of_experiment(records, "grid"):
        grids.setdefault((record.config["backbone"], record.config["seed"]), []).append(record)
    return grids


def several_seeds(records: Sequence[RunRecord]) -> bool:
    return len({record.config.get("seed") for record in records}) > 1


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
        "config.seed": "seed", "metrics.validation.macro_f1": "val_macro_f1",
        "metrics.validation.accuracy": "val_accuracy",
        "metrics.test.macro_f1": "test_macro_f1", "durations.total_s": "total_s",
        "config.feature_cache": "feature_cache", "run_id": "run_id", "demo": "demo",
    }
    return rows_frame(grid)[list(columns)].rename(columns=columns)


def best_configurations(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Per backbone and grid seed, the grid run with the highest VALIDATION macro F1 (the
    first in grid order on ties), and what its grid cost."""
    rows = []
    for (backbone, seed), grid in grid_by_seed(records).items():
        best = best_grid_record(grid)
        rows.append({
            "backbone": backbone, "seed": seed,
            **{key: best.config[key] for key in TABLE_ONE_INDEX},
            "validation macro F1 %": 100 * best.metric("validation", "macro_f1"),
            "test macro F1 %": 100 * best.metric("test", "macro_f1"),
            "grid search s": grid_seconds(grid),
        })
    return pd.DataFrame(rows).set_index("backbone")


def table_one(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The paper's Table I shape: one row per (image size, batch, lr) of this run's grid,
    one validation macro F1 (%) column per backbone (the mean over its grid seeds), and
    the paper's value beside it where the paper ran that configuration. Sizes a backbone
    skipped stay empty."""
    grids = grid_by_backbone(records)
    every = [record for grid in grids.values() for record in grid]
    values = {key: list(dict.fromkeys(r.config[key] for r in every)) for key in TABLE_ONE_INDEX}
    index = pd.MultiIndex.from_product([values[key] for key in TABLE_ONE_INDEX],
                                       names=TABLE_ONE_INDEX)
    paper = paper_table_one()
    table = pd.DataFrame(index=index)
    for backbone, grid in grids.items():
        per_point: dict[tuple, list[float]] = {}
        for r in grid:
            per_point.setdefault(tuple(r.config[key] for key in TABLE_ONE_INDEX), []).append(
                100 * r.metric("validation", "macro_f1"))
        scores = {key: float(np.mean(values)) for key, values in per_point.items()}
        name = display_name(backbone)
        table[f"{name} F1 % (this run)"] = [scores.get(key, np.nan) for key in index]
        if backbone in paper.columns:
            table[f"{name} F1 % (paper)"] = [paper[backbone].get(key, np.nan)
                                             if key in paper.index else np.nan for key in index]
    return table.round(2)


def grid_maxima(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Each backbone's best grid configuration (one row per grid seed), this run beside
    the paper's."""
    rows = []
    for backbone, row in best_configurations(records).iterrows():
        paper = PAPER_GRID_BEST.get(backbone, {})
        rows.append({
            "backbone": display_name(backbone), "seed": int(row["seed"]),
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
    (cached path only; the mean over seeds, which differ only with random weights).
    Randomly initialised EfficientNets and Xception give features around 1e-6, on which a
    linear head stays at chance; ImageNet features are near 1."""
    found: dict[tuple, dict] = {}
    for record in of_experiment(records, "grid"):
        train = (record.extra.get("features") or {}).get("train") or {}
        if "std" in train:
            key = (display_name(record.config["backbone"]), record.config["image_size"])
            found.setdefault(key, {})[record.config["seed"]] = train["std"]
    rows = {key: float(np.mean(list(values.values()))) for key, values in found.items()}
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
    """Each final record with what the grid it was chosen from cost."""
    grids = grid_by_seed(records)
    return [(record, grid_seconds(grids.get((record.config["backbone"],
                                             grid_seed(record.config)), [])))
            for record in of_experiment(records, "final")]


def final_label(record: RunRecord, with_seed: bool) -> str:
    name = display_name(record.config["backbone"])
    return f"{name} seed {record.config['seed']}" if with_seed else name


def final_models(records: Sequence[RunRecord]) -> pd.DataFrame:
    """The paper's final table shape: quantities as rows, one column per final model
    (per backbone, and per seed when there are several)."""
    columns = {}
    finals = finals_with_grid_seconds(records)
    with_seed = several_seeds([record for record, _ in finals])
    for record, seconds in finals:
        values = final_quantities(record, seconds)
        config = record.config
        columns[final_label(record, with_seed)] = {
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
    """The paper's final table beside this run's with the difference, one block of rows
    per backbone (this run: the mean over its final models' seeds)."""
    per_backbone: dict[str, list[dict]] = {}
    for record, seconds in finals_with_grid_seconds(records):
        per_backbone.setdefault(record.config["backbone"], []).append(
            final_quantities(record, seconds))
    blocks = []
    for backbone, quantities in per_backbone.items():
        this_run = {key: float(np.mean([values[key] for values in quantities]))
                    for key in quantities[0]}
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


# --------------------------------------------------------------------------- seeds


@dataclass(frozen=True)
class FinalView:
    """A final record as :mod:`kerasbench.summaries` groups it: its configuration without
    the grid point its seed's grid chose (:data:`CHOSEN_KEYS`), so one backbone's finals
    of every seed are one configuration."""

    experiment: str
    config: dict
    seed: int | None
    extra: dict
    run_id: str


def final_views(records: Sequence[RunRecord]) -> list[FinalView]:
    return [FinalView(record.experiment,
                      {key: value for key, value in record.config.items()
                       if key not in CHOSEN_KEYS},
                      record.seed, record.extra, record.run_id)
            for record in of_experiment(records, "final")]


def backbone_label(record) -> str:
    """A final model's configuration label: the paper's spelling of its backbone."""
    return display_name(record.config["backbone"])


def headline(records: Sequence[RunRecord], metrics: Sequence[str] = HEADLINE_METRICS, *,
             resamples: int = RESAMPLES) -> pd.DataFrame:
    """The final models' test ``metrics`` per backbone over seeds
    (:func:`kerasbench.summaries.headline_table`): ``configuration, metric, seeds, n_seeds,
    mean, min, median, max, ci_low, ci_high``; macro F1 rows first, then accuracy."""
    views = final_views(records)
    if not views:
        return summaries.headline_table([], HEADLINE_METRIC)
    return pd.concat([summaries.headline_table(views, metric, label=backbone_label,
                                               resamples=resamples)
                      for metric in metrics], ignore_index=True)


def best_backbone(table: pd.DataFrame, metric: str = HEADLINE_METRIC) -> str | None:
    """The configuration with the highest mean ``metric`` (the first on ties)."""
    rows = table[table["metric"] == metric]
    if rows.empty:
        return None
    return rows.loc[rows["mean"].idxmax(), "configuration"]


def paired(records: Sequence[RunRecord], *, table: pd.DataFrame | None = None,
           resamples: int = RESAMPLES) -> pd.DataFrame:
    """The best backbone (by mean test macro F1, as the paper ranks them) against each
    other one, on the same test images: macro F1 (paired bootstrap) and accuracy
    (McNemar), seeds paired by position. Empty with fewer than two backbones. The best is
    chosen on the test split these comparisons use, so a small p-value says the gap is
    unlikely to be test-image noise, not that the ranking would hold on new data."""
    table = headline(records, resamples=resamples) if table is None else table
    best = best_backbone(table)
    others = [name for name in dict.fromkeys(table["configuration"]) if name != best]
    if best is None or not others:
        return summaries.paired_table([], [])
    views = final_views(records)
    pairs = [(best, other) for other in others]
    return pd.concat([summaries.paired_table(views, pairs, metric, label=backbone_label,
                                             resamples=resamples)
                      for metric in HEADLINE_METRICS], ignore_index=True)


def paper_values(records: Sequence[RunRecord], metric: str = HEADLINE_METRIC) -> dict:
    """Configuration label -> the paper's test value of ``metric`` as a fraction (its
    final table's F1 % / 100; None for accuracy, which it shows only as a chart, and for
    backbones it did not run)."""
    values = {}
    for record in of_experiment(records, "final"):
        paper = PAPER_FINAL.get(record.config["backbone"])
        values[backbone_label(record)] = (paper["F1 %"] / 100 if paper and metric == "macro_f1"
                                          else None)
    return values


def verdicts(records: Sequence[RunRecord], *, demo: bool,
             table: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`kerasbench.summaries.paper_verdicts` per backbone and headline metric:
    ``configuration, metric, paper, ours_mean, ci_low, ci_high, difference, verdict``."""
    table = headline(records) if table is None else table
    parts = [summaries.paper_verdicts(table[table["metric"] == metric].reset_index(drop=True),
                                      paper_values(records, metric), demo=demo)
             for metric in HEADLINE_METRICS]
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- verbs


def tables(records: Sequence[RunRecord], context) -> dict[str, pd.DataFrame]:
    """Every table of the study, saved under ``tables/`` (CSV with a ``demo`` column,
    markdown with the data note) and returned by name: ``headline`` (test macro F1 and
    accuracy of the final models per backbone over seeds, with 95 % intervals),
    ``paired`` (the best backbone against each other one), the grid's tables, the final
    models and ``comparison_detail`` (the paper's final table beside this run's)."""
    table = headline(records)
    made = {
        "headline": (table, False),
        "paired": (paired(records, table=table), False),
        "grid_trials": (grid_trials(records), False),
        "table_1_grid_f1": (table_one(records), True),
        "grid_maxima": (grid_maxima(records), True),
        "feature_scale": (feature_scale(records), True),
        "parameters": (parameters(records), True),
        "final_models": (final_models(records), True),
        "comparison_detail": (comparison(records, note=context.note), True),
        "paper_table_1": (paper_table_one(), True),
    }
    for name, (frame, index) in made.items():
        if not frame.empty:
            context.save_table(frame, name, index=index, decimals=MARKDOWN_DECIMALS)
    return {name: frame for name, (frame, _) in made.items()}


def compare_with_paper(records: Sequence[RunRecord], context) -> pd.DataFrame:
    """The paper's test macro F1 of each final model beside this run's mean over seeds and
    its 95 % interval, with the difference and a verdict (``within interval``, ``paper
    higher``, ``paper lower``, ``not comparable: demo data`` / ``not reported``); then
    the same for accuracy, which the paper reports only as a chart. Saved as
    ``comparison_with_paper``; the paper's other final numbers (precision, recall,
    parameters, durations) are in the ``comparison_detail`` table."""
    table = verdicts(records, demo=context.is_demo)
    if not table.empty:
        context.save_table(table, "comparison_with_paper", decimals=MARKDOWN_DECIMALS)
    return table
