"""The study's figures: confusion matrices (the positive class named), training curves with
the stop and best epochs marked, test accuracy beside the paper's, and the paper's own
confusion matrices. Every figure carries ``context.note`` and is saved under ``figures/``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kerasbench.records import RunRecord
from kerasbench.studies.down_syndrome.paper import (
    PAPER_CONFUSION,
    PAPER_CONFUSION_CLASSES,
    PAPER_RESULTS,
)
from kerasbench.studies.down_syndrome.tables import check_records


def _saved(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def confusion_matrices(records: Sequence[RunRecord], context, split: str = "test") -> dict:
    """One confusion-matrix figure per experiment, the positive class in the title."""
    from kerasbench import plots

    paths = {}
    for record in records:
        names = list(record.metrics[split]["class_names"])
        title = (f"{record.experiment} {split} confusion matrix (rows true, columns predicted); "
                 f"positive class = {names[-1]} (label 1)")
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
        title = (f"paper {name} test confusion matrix (rows true, columns predicted); "
                 f"positive class = {PAPER_CONFUSION_CLASSES[1]} (label 1)")
        path = context.figure(f"paper_confusion_{name}")
        figure = plots.confusion_matrix(matrix, list(PAPER_CONFUSION_CLASSES), title=title,
                                        note="numbers from the paper")
        paths[path.stem] = _saved(figure, path)
    return paths


def accuracy_vs_paper(records: Sequence[RunRecord], context) -> Path:
    """Test accuracy per experiment, this run's bars beside the paper's."""
    from kerasbench import plots

    this_run = {record.experiment: 100.0 * record.metrics["test"]["accuracy"]
                for record in records}
    paper = {name: PAPER_RESULTS[name]["test_accuracy"] for name in this_run
             if name in PAPER_RESULTS}
    figure = plots.bar_chart(this_run, reference=paper, ylabel="test accuracy %",
                             title="test accuracy per experiment", note=context.note)
    return _saved(figure, context.figure("test_accuracy_vs_paper"))


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
        title = (f"{record.experiment}: {batch}, lr {record.config['learning_rate']:g}; "
                 f"stopped at epoch {stopped}" + (f" (paper: {reported})" if reported else ""))
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

    histories = {record.experiment: record.history for record in records}
    figure = plots.curve_panels(histories, title="training (solid) and validation (dashed)",
                                note=context.note)
    return _saved(figure, context.figure("curves_all"))


def figures(records: Sequence[RunRecord], context) -> dict[str, Path]:
    """Every figure of the study, by name (the PNG's stem) -> path."""
    records = check_records(records)
    paths = {}
    paths.update(confusion_matrices(records, context))
    paths.update(training_curves(records, context))
    paths["curves_all"] = curve_panels(records, context)
    paths["test_accuracy_vs_paper"] = accuracy_vs_paper(records, context)
    paths.update(paper_confusion_matrices(context))
    return paths
