"""The study's figures, from the scenarios' run records: loss and accuracy curves per
scenario and together, test confusion matrices, and training-time bars (this run's and the
paper's). Every figure carries ``context.note``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kerasbench.studies.fer2013.paper import PAPER_RESULTS, SCENARIOS
from kerasbench.studies.fer2013.tables import by_scenario


def _relabel_curves(figure, path, monitor_label: str) -> None:
    """Name the dashed per-epoch curves after the split they really come from (plots.py
    calls them "validation"), mark every point (a one-epoch curve is otherwise invisible
    in ``curve_panels``) and save the figure again."""
    for axis in figure.axes:
        for line in axis.get_lines():
            line.set_marker(".")
            label = line.get_label()
            if label.startswith("validation"):
                line.set_label(label.replace("validation", monitor_label, 1))
        if axis.get_legend() is not None:
            axis.legend(fontsize=7)
    figure.savefig(path, dpi=110)


def _monitor_label(records: Sequence) -> str:
    """What the dashed ``val_*`` curves show: the split the runs monitored."""
    splits = {record.config.get("monitor_split") for record in records}
    if len(splits) == 1:
        (split,) = splits
        return f"{split} (monitored)" if split else "validation"
    return "monitored"


def figures(records: Sequence, context, *, show: bool = False) -> dict[str, Path]:
    """Curves per scenario (``curves_S1`` ...) and all together (``curves_all``), test
    confusion matrices (``confusion_S1`` ...), training time (``training_time``) and the
    paper's (``training_time_paper``); returns ``{figure name: path}``.

    ``show=False`` closes each figure after saving it (a notebook displays the files).
    """
    import matplotlib.pyplot as plt

    from kerasbench import plots

    scenarios = by_scenario(records)
    note = context.note
    monitor_label = _monitor_label(records)
    paths = {}

    def keep(name, figure):
        paths[name] = context.figure(name)
        if not show:
            plt.close(figure)

    histories = {}
    for name, record in scenarios.items():
        label = SCENARIOS[name].label
        histories[label] = record.history or {}
        path = context.figure(f"curves_{name}")
        figure = plots.training_curves(histories[label], path, title=label, note=note)
        _relabel_curves(figure, path, monitor_label)
        keep(f"curves_{name}", figure)
        test = record.metrics["test"]
        keep(f"confusion_{name}", plots.confusion_matrix(
            test["confusion_matrix"], test["class_names"], context.figure(f"confusion_{name}"),
            title=f"{label}: test confusion matrix", note=note))
    path = context.figure("curves_all")
    figure = plots.curve_panels(histories, path, note=note,
                                title="loss and accuracy per epoch and scenario")
    _relabel_curves(figure, path, monitor_label)
    keep("curves_all", figure)
    seconds = {SCENARIOS[name].label: record.durations["train_s"]
               for name, record in scenarios.items()}
    keep("training_time", plots.bar_chart(seconds, context.figure("training_time"),
                                          title="training time, this run", note=note,
                                          ylabel="seconds"))
    paper_seconds = {SCENARIOS[name].label: PAPER_RESULTS[name]["training time (s)"]
                     for name in scenarios}
    # The paper's own numbers, labelled as such, beside the note on this run's data.
    paper_note = "the paper's numbers (Tabel 4.2)" + (f"; this run: {note}" if note else "")
    keep("training_time_paper", plots.bar_chart(
        paper_seconds, context.figure("training_time_paper"),
        title="training time reported by the paper (100 epochs, full FER2013, GPU)",
        note=paper_note, ylabel="seconds"))
    return paths
