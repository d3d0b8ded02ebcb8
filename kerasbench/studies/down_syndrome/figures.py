"""The study's figures: the spread of test accuracy over seeds beside the paper's value
(``seed_spread``), and, for each experiment's lowest seed, confusion matrices (the positive
class named) and training curves with the stop and best epochs marked; and the paper's own
confusion matrices. Every figure carries ``context.note`` and is saved under ``figures/``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kerasbench.records import RunRecord
from kerasbench.studies.down_syndrome.paper import (
    PAPER_CONFUSION,
    PAPER_CONFUSION_CLASSES,
    PAPER_EXPERIMENTS,
    PAPER_RESULTS,
)
from kerasbench.studies.down_syndrome.tables import (
    HEADLINE_METRIC,
    check_records,
    headline,
    paper_values,
    representative_runs,
)


def _saved(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def setting(experiment: str, batch_size, learning_rate) -> str:
    """An experiment's settings for a title: ``E1 (batch 32, lr 0.0001)``."""
    return f"{experiment} (batch {batch_size}, lr {learning_rate:g})"


def record_setting(record: RunRecord) -> str:
    return setting(record.experiment, record.config["batch_size"],
                   record.config["learning_rate"])


def confusion_matrices(records: Sequence[RunRecord], context, split: str = "test") -> dict:
    """One confusion-matrix figure per experiment, the positive class in the title."""
    from kerasbench import plots

    paths = {}
    for record in records:
        names = list(record.metrics[split]["class_names"])
        title = (f"{record_setting(record)}, seed {record.seed}: {split}; "
                 f"label 1 = {names[-1]}")
        path = context.figure(f"confusion_{record.experiment}_{split}")
        figure = plots.confusion_matrix(record.metrics[split]["confusion_matrix"], names,
                                        title=title, note=context.note)
        paths[path.stem] = _saved(figure, path)
    return paths


def paper_confusion_matrices(context) -> dict:
    """The paper's E1 and E2 test confusion matrices (0 healthy, 1 down syndrome)."""
    from kerasbench import plots

    paths = {}
    for name, matrix in PAPER_CONFUSION.items():
        settings = {item["name"]: item for item in PAPER_EXPERIMENTS}[name]
        title = (f"paper {setting(name, settings['batch_size'], settings['learning_rate'])}: "
                 f"test; label 1 = {PAPER_CONFUSION_CLASSES[1]}")
        path = context.figure(f"paper_confusion_{name}")
        figure = plots.confusion_matrix(matrix, list(PAPER_CONFUSION_CLASSES), title=title,
                                        note="numbers from the paper")
        paths[path.stem] = _saved(figure, path)
    return paths


def seed_spread(records: Sequence[RunRecord], context) -> Path:
    """Test accuracy per experiment: every seed a point, the 95 % interval a bar, the
    paper's value a diamond."""
    from kerasbench import plots, summaries

    table = headline(records).set_index("configuration")
    values = summaries.seed_values(records, HEADLINE_METRIC)
    intervals = {name: (table.at[name, "ci_low"], table.at[name, "ci_high"]) for name in values}
    seeds = int(table["n_seeds"].max())
    figure = plots.seed_spread(
        values, intervals, paper=paper_values(records), metric="test accuracy",
        title=f"test accuracy per experiment, {seeds} seed(s) each; bar: 95 % bootstrap "
              "interval; diamond: the paper", note=context.note)
    return _saved(figure, context.figure("seed_spread"))


def training_curves(records: Sequence[RunRecord], context) -> dict:
    """Loss and accuracy per epoch for each experiment, with the epoch whose weights were
    kept (best, grey dotted) and the epoch training stopped at (red dashed) marked."""
    from kerasbench import plots

    paths = {}
    for record in records:
        training = record.extra.get("training", {})
        best, stopped = training.get("best_epoch"), training.get("stopped_epoch")
        reported = PAPER_RESULTS.get(record.experiment, {}).get("stopped_epoch")
        asked, used = record.config["batch_size"], record.extra.get("batch_size_effective")
        batch = f"batch {asked}" + (f" (used {used})" if used != asked else "")
        title = (f"{record.experiment} seed {record.seed}: {batch}, "
                 f"lr {record.config['learning_rate']:g}, at most {record.config['epochs']} "
                 f"epochs; stopped at epoch {stopped}"
                 + (f" (paper: {reported})" if reported else ""))
        figure = plots.training_curves(record.history, title=title, note=context.note,
                                       stop_epoch=best)
        if stopped and stopped != best:
            for axis in figure.axes:
                axis.axvline(stopped, color="red", linestyle="--", alpha=0.6,
                             label=f"stopped at epoch {stopped}")
                axis.legend(fontsize=8)
        path = context.figure(f"curves_{record.experiment}")
        paths[path.stem] = _saved(figure, path)
    return paths


def curve_panels(records: Sequence[RunRecord], context) -> Path:
    """All experiments side by side on shared axes (one column per experiment)."""
    from kerasbench import plots

    histories = {f"{record.experiment}, seed {record.seed}\nbatch {record.config['batch_size']}, "
                 f"lr {record.config['learning_rate']:g}": record.history for record in records}
    figure = plots.curve_panels(histories, note=context.note,
                                title="loss and accuracy per epoch: training (solid) and "
                                      "validation (dashed)")
    return _saved(figure, context.figure("curves_all"))


def figures(records: Sequence[RunRecord], context) -> dict[str, Path]:
    """Every figure of the study, by name (the PNG's stem) -> path: ``seed_spread`` over
    all runs; confusion matrices and curves of each experiment's lowest seed."""
    records = check_records(records)
    shown = representative_runs(records)
    paths = {"seed_spread": seed_spread(records, context)}
    paths.update(confusion_matrices(shown, context))
    paths.update(training_curves(shown, context))
    paths["curves_all"] = curve_panels(shown, context)
    paths.update(paper_confusion_matrices(context))
    return paths
