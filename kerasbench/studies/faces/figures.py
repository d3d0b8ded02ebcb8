"""The study's figures, each carrying ``context.note`` and saved under ``figures/``:

- ``seed_spread``: macro F1 per configuration, every seed a point, the 95 % interval a
  bar, the paper's value a marker;
- per training of the first seed, at its longest run: confusion matrix, ROC curve and the
  test pair distances of both kinds with the threshold;
- ``training_curves``: contrastive loss and pair accuracy per epoch of each (optimizer,
  learning rate) of the first seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kerasbench import siamese
from kerasbench.records import RunRecord
from kerasbench.studies.faces.paper import HEADLINE_METRIC
from kerasbench.studies.faces.tables import check_records, headline, paper_values, run_label


def _saved(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _format(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def representative_runs(records: Sequence[RunRecord]) -> list[RunRecord]:
    """Per (optimizer, learning rate): the first seed's longest run."""
    first_seed = min(record.seed for record in records)
    longest: dict[tuple, RunRecord] = {}
    for record in records:
        if record.seed != first_seed:
            continue
        key = (record.config["optimizer"], record.config["learning_rate"])
        if key not in longest or record.config["epochs"] > longest[key].config["epochs"]:
            longest[key] = record
    return list(longest.values())


def seed_spread(records: Sequence[RunRecord], context) -> Path:
    """Every seed's macro F1 per configuration, the interval and the paper's value."""
    from kerasbench import plots, summaries

    table = headline(records).set_index("configuration")
    values = summaries.seed_values(records, HEADLINE_METRIC, label=run_label)
    intervals = {label: (table.at[label, "ci_low"], table.at[label, "ci_high"])
                 for label in values}
    seeds = int(table["n_seeds"].max())
    figure = plots.seed_spread(
        values, intervals, paper=paper_values(records), metric="test macro F1",
        title=f"test macro F1 per configuration, {seeds} seed(s) each; bar: 95 % bootstrap "
              "interval over seeds and test pairs; diamond: the paper",
        note=context.note)
    return _saved(figure, context.figure("seed_spread"))


def run_figures(record: RunRecord, context, split: str = "test") -> dict[str, Path]:
    """Confusion matrix, ROC curve and distance histograms of one run."""
    from kerasbench import plots

    metrics = record.metrics[split]
    config = record.config
    label = f"{run_label(record)} seed {record.seed}"
    stem = (f"{split}_{config['optimizer']}_lr{config['learning_rate']:g}_"
            f"{config['epochs']}ep_seed{record.seed}")
    collapsed = " (COLLAPSED: one answer for every pair)" if metrics.get("collapsed") else ""
    distances = record.extra["pair_distances"][split]
    distance, truth = np.asarray(distances["distance"]), np.asarray(distances["label"])
    made = {
        f"confusion_{stem}": plots.confusion_matrix(
            metrics["confusion_matrix"], list(siamese.PAIR_CLASS_NAMES),
            title=f"{label}{collapsed}", note=context.note),
        f"roc_{stem}": plots.roc_curve(
            metrics["roc_curve"]["fpr"], metrics["roc_curve"]["tpr"], metrics.get("roc_auc"),
            title=f"ROC {label}, EER {_format(metrics.get('eer'))}", note=context.note),
        f"distances_{stem}": plots.distance_histograms(
            distance[truth == siamese.SAME_PERSON], distance[truth == siamese.DIFFERENT_PERSON],
            record.extra.get("threshold"), title=f"{split} pair distances, {label}",
            note=context.note),
    }
    return {name: _saved(figure, context.figure(name)) for name, figure in made.items()}


def training_curves(records: Sequence[RunRecord], context) -> Path:
    """Loss and pair accuracy (threshold margin / 2) per epoch, one panel per training."""
    from kerasbench import plots

    shown = representative_runs(records)
    # Each panel's title carries its settings: optimizer, learning rate, batch, epochs.
    histories = {f"{r.config['optimizer']}, lr {r.config['learning_rate']:g}\n"
                 f"batch {r.config['batch_size']}, {r.config['epochs']} epochs": r.history
                 for r in shown}
    figure = plots.curve_panels(
        histories, note=context.note,
        title=f"contrastive loss and pair accuracy (threshold margin/2) per epoch, "
              f"seed {shown[0].seed}")
    return _saved(figure, context.figure("training_curves"))


def figures(records: Sequence[RunRecord], context) -> dict[str, Path]:
    """Every figure of the study, by name (the PNG's stem) -> path."""
    records = check_records(records)
    paths = {"seed_spread": seed_spread(records, context),
             "training_curves": training_curves(records, context)}
    for record in representative_runs(records):
        paths.update(run_figures(record, context))
    return paths
