"""The study's figures, from the scenarios' run records: the spread over seeds of the
headline metrics (every seed a point, the 95 % interval a bar, the paper's value a
diamond), loss and accuracy curves per scenario and together and test confusion matrices
(of each scenario's first seed), and training-time bars (this run's mean over seeds, and
the paper's). Every figure carries ``context.note``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kerasbench.studies.fer2013.paper import PAPER_RESULTS, SCENARIOS
from kerasbench.studies.fer2013.tables import (
    by_scenario,
    headline,
    paper_values,
    scenario_label,
)

METRIC_NAMES = {"accuracy": "test accuracy", "macro_f1": "test macro F1"}


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


def seed_spread(records: Sequence, metric: str, path, *, note: str = ""):
    """:func:`kerasbench.plots.seed_spread` of ``metric`` per scenario: every seed's
    value, the 95 % interval, and the paper's value where it reports one."""
    from kerasbench import plots, summaries

    table = headline(records)
    table = table[table["metric"] == metric].set_index("configuration")
    values = summaries.seed_values(records, metric, label=scenario_label)
    intervals = {label: (table.at[label, "ci_low"], table.at[label, "ci_high"])
                 for label in values}
    reported = {label: value for label, value in paper_values(records, metric).items()
                if value is not None}
    seeds = int(table["n_seeds"].max())
    marker = "; diamond: the paper" if reported else "; the paper reports none"
    over = "seeds and test images" if seeds > 1 else "test images"
    return plots.seed_spread(
        values, intervals, path, paper=reported, metric=METRIC_NAMES[metric],
        title=f"{METRIC_NAMES[metric]} per scenario, {seeds} seed(s) each; bar: 95 % "
              f"bootstrap interval over {over}{marker}",
        note=note)


def run_settings(record) -> str:
    """A run's training settings for a title: ``batch 32, lr 0.001, 100 epochs``."""
    config = record.config
    parts = []
    if config.get("batch_size") is not None:
        parts.append(f"batch {config['batch_size']}")
    if config.get("learning_rate") is not None:
        parts.append(f"lr {config['learning_rate']:g}")
    if config.get("epochs") is not None:
        parts.append(f"{config['epochs']} epoch{'s' if config['epochs'] != 1 else ''}")
    return ", ".join(parts)


def figures(records: Sequence, context, *, show: bool = False) -> dict[str, Path]:
    """The spread over seeds of test accuracy (``seed_spread``, with the paper's values)
    and of macro F1 (``seed_spread_macro_f1``), curves per scenario (``curves_S1`` ...)
    and all together (``curves_all``), test confusion matrices (``confusion_S1`` ...; both
    of each scenario's first seed), training time (``training_time``, mean over seeds) and
    the paper's (``training_time_paper``); returns ``{figure name: path}``.

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

    for metric in ("accuracy", "macro_f1"):
        name = "seed_spread" if metric == "accuracy" else f"seed_spread_{metric}"
        keep(name, seed_spread(records, metric, context.figure(name), note=note))
    several = any(len(group) > 1 for group in scenarios.values())
    histories = {}
    for name, group in scenarios.items():
        record = group[0]
        label = SCENARIOS[name].label + (f" (seed {record.seed})" if several else "")
        # Each panel's title carries the run's settings.
        settings = run_settings(record)
        label = f"{label}\n{settings}" if settings else label
        histories[label] = record.history or {}
        path = context.figure(f"curves_{name}")
        one_line = label.replace("\n", ": ")
        figure = plots.training_curves(histories[label], path, title=one_line, note=note)
        _relabel_curves(figure, path, monitor_label)
        keep(f"curves_{name}", figure)
        test = record.metrics["test"]
        keep(f"confusion_{name}", plots.confusion_matrix(
            test["confusion_matrix"], test["class_names"], context.figure(f"confusion_{name}"),
            title=f"{one_line}; test confusion matrix", note=note))
    path = context.figure("curves_all")
    figure = plots.curve_panels(histories, path, note=note,
                                title="loss and accuracy per epoch and scenario")
    _relabel_curves(figure, path, monitor_label)
    keep("curves_all", figure)
    seconds = {SCENARIOS[name].label: sum(record.durations["train_s"] for record in group)
               / len(group) for name, group in scenarios.items()}
    keep("training_time", plots.bar_chart(
        seconds, context.figure("training_time"), note=note, ylabel="seconds",
        title="training time, this run" + (" (mean over seeds)" if several else "")))
    paper_seconds = {SCENARIOS[name].label: PAPER_RESULTS[name]["training time (s)"]
                     for name in scenarios}
    # The paper's own numbers, labelled as such, beside the note on this run's data.
    paper_note = "the paper's numbers (Tabel 4.2)" + (f"; this run: {note}" if note else "")
    keep("training_time_paper", plots.bar_chart(
        paper_seconds, context.figure("training_time_paper"),
        title="training time reported by the paper (100 epochs, full FER2013, GPU)",
        note=paper_note, ylabel="seconds"))
    return paths
