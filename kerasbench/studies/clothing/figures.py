"""Figures of the clothing study, built from the final models' records: the spread of the
final models' test macro F1 over seeds (every seed a point, the 95 % interval a bar, the
paper's value a diamond), the paper's pie charts (parameters, grid-search and
final-training durations, means over seeds), and one test confusion matrix per backbone
(summed over its seeds). Each carries the data note."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kerasbench.records import RunRecord
from kerasbench.studies.clothing.paper import display_name
from kerasbench.studies.clothing.tables import (
    HEADLINE_METRIC,
    backbone_label,
    final_views,
    finals_with_grid_seconds,
    headline,
    paper_values,
)


def _saved(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


def seed_spread(records: Sequence[RunRecord], context, table=None) -> Path:
    """Every seed's test macro F1 per backbone, its 95 % interval and the paper's value."""
    from kerasbench import plots, summaries

    table = headline(records, (HEADLINE_METRIC,)) if table is None else table
    table = table[table["metric"] == HEADLINE_METRIC].set_index("configuration")
    values = summaries.seed_values(final_views(records), HEADLINE_METRIC, label=backbone_label)
    intervals = {label: (table.at[label, "ci_low"], table.at[label, "ci_high"])
                 for label in values}
    seeds = int(table["n_seeds"].max())
    path = context.figure("seed_spread")
    figure = plots.seed_spread(
        values, intervals, path, paper=paper_values(records), metric="test macro F1",
        title=f"final models' test macro F1, {seeds} seed(s) each; bar: 95 % bootstrap "
              "interval over seeds and test images; diamond: the paper",
        note=context.note)
    return _saved(figure, path)


def final_setting(record: RunRecord) -> str:
    """A final model's settings for a title: ``36 px, batch 8, lr 0.01, 5 epochs``."""
    config = record.config
    return (f"{config['image_size']} px, batch {config['batch_size']}, lr "
            f"{config['learning_rate']:g}, {config['epochs']} epoch(s)")


def figures(records: Sequence[RunRecord], context) -> dict[str, Path]:
    """Saved under ``figures/`` and returned by name (an empty dict without finals)."""
    from kerasbench import plots

    finals = finals_with_grid_seconds(records)
    if not finals:
        return {}
    note = context.note
    by_backbone: dict[str, list] = {}
    for record, seconds in finals:
        by_backbone.setdefault(record.config["backbone"], []).append((record, seconds))
    names = {backbone: display_name(backbone) for backbone in by_backbone}
    parameters = {names[b]: runs[0][0].extra["parameters"]["total"]
                  for b, runs in by_backbone.items()}
    grid_time = {names[b]: float(np.mean([seconds for _, seconds in runs]))
                 for b, runs in by_backbone.items()}
    final_time = {names[b]: float(np.mean([r.durations["final_training_s"] for r, _ in runs]))
                  for b, runs in by_backbone.items()}
    made = {"seed_spread": seed_spread(records, context)}
    seeds = max(len(runs) for runs in by_backbone.values())
    over = f", mean over {seeds} seeds" if seeds > 1 else ""
    # A pie needs two backbones; plots.pie_chart draws a bar for one (ylabel).
    for name, values, title, unit in (
            ("parameters_pie", parameters, "total parameters per backbone", "parameters"),
            ("grid_duration_pie", grid_time, f"grid search duration per backbone{over}",
             "seconds"),
            ("final_duration_pie", final_time, f"final training duration per backbone{over}",
             "seconds")):
        path = context.figure(name)
        made[name] = _saved(plots.pie_chart(values, path, title=title, note=note, ylabel=unit),
                            path)
    for backbone, runs in by_backbone.items():
        matrix = np.sum([np.asarray(r.metrics["test"]["confusion_matrix"]) for r, _ in runs],
                        axis=0)
        summed = f", summed over {len(runs)} seeds" if len(runs) > 1 else ""
        path = context.figure(f"confusion_{backbone}")
        made[f"confusion_{backbone}"] = _saved(plots.confusion_matrix(
            matrix.tolist(), runs[0][0].metrics["test"]["class_names"], path,
            title=f"{names[backbone]} ({final_setting(runs[0][0])}): test confusion "
                  f"matrix{summed}", note=note), path)
    return made
