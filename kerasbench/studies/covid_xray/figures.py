"""The paper's figures: one panel per setting of each sweep (loss and accuracy per epoch on
shared axes, the lowest seed's runs), sample test images with P(positive_class), and the
sample setting's test confusion matrix; and the spread over seeds of test accuracy and ROC
AUC per setting (every seed a point, the 95 % interval a bar). Every figure carries the
data note and which class is label 1."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

from kerasbench.records import RunRecord
from kerasbench.studies.covid_xray.headline import (
    HEADLINE_METRICS,
    check_records,
    distinct_runs,
    headline,
    setting_label,
)
from kerasbench.studies.covid_xray.paper import PAPER_HEADLINE, PAPER_SAMPLE_SETTING
from kerasbench.studies.covid_xray.protocol import (
    BATCH_SIZE_SWEEP,
    LEARNING_RATE_SWEEP,
    SWEEPS,
    format_learning_rate,
)
from kerasbench.studies.covid_xray.tables import (
    find_record,
    positive_class,
    sample_predictions,
    sweep_records,
)


def report_note(context_note: str, positive: str) -> str:
    """The line every figure of this study carries: the data note, and which class the
    sigmoid output (label 1) is."""
    label = f"label 1 = positive class = {positive}; sigmoid output = P({positive})"
    return f"{context_note} | {label}" if context_note else label


def sweep_figure(histories: Mapping[str, Mapping[str, Sequence[float]]], path=None, *,
                 title: str = "", note: str = "", loss_limit: float | None = 2.0):
    """:func:`kerasbench.plots.curve_panels`, one panel per setting on shared axes, with
    the loss axis stopped at ``loss_limit``.

    One diverged run (a loss of thousands at lr 1e-2) would otherwise flatten every other
    panel of the shared row; its panel says how high it went instead.
    """
    from kerasbench.plots import curve_panels

    highest = {
        label: max([value for key in ("loss", "val_loss") for value in (history.get(key) or [])]
                   or [0.0])
        for label, history in histories.items()
    }
    clipped = loss_limit is not None and max(highest.values(), default=0.0) > loss_limit
    if clipped:
        title = f"{title} (loss axis stops at {loss_limit:g})" if title else ""
    figure = curve_panels(histories, None, title=title, note=note)
    if clipped:
        loss_axes = figure.axes[: len(histories)]  # first row: loss (row-major)
        loss_axes[0].set_ylim(0.0, loss_limit)
        for axis, label in zip(loss_axes, histories):
            if highest[label] > loss_limit:
                axis.text(0.5, 0.9, f"off scale: max {highest[label]:.3g}",
                          transform=axis.transAxes, ha="center", fontsize=7, color="red")
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
    return figure


def sample_prediction_grid(samples, image_root, *, image_size, path=None, title: str = "",
                           note: str = ""):
    """The sample images (paths relative to ``image_root``) with ``P(positive)=...`` under
    each (:func:`kerasbench.plots.image_grid`)."""
    from kerasbench.pipeline import load_image
    from kerasbench.plots import image_grid

    column = next(name for name in samples.columns if name.startswith("P("))
    images = [load_image(Path(image_root) / image_path, image_size)
              for image_path in samples["path"]]
    captions = [f"true: {row['true_class']}\n{column}={row[column]:.3g}"
                for _, row in samples.iterrows()]
    columns = min(5, max(1, len(images)))
    # A few images make a narrow figure; wrap the long data note so it is not cut off
    # (image_grid makes each column 2.2 inches wide; about 9 characters fit per inch).
    note = textwrap.fill(note, width=max(40, int(2.2 * columns * 9))) if note else note
    return image_grid(images, captions, path, title=title, note=note, columns=columns)


METRIC_NAMES = {"accuracy": "test accuracy", "roc_auc": "test ROC AUC"}


def seed_spread(records: Sequence[RunRecord], metric: str, path, *, note: str = ""):
    """:func:`kerasbench.plots.seed_spread` of ``metric`` per setting: every seed's value,
    the 95 % interval over seeds and test images, and the paper's value (it reports none)."""
    from kerasbench import plots, summaries

    table = headline(records)
    table = table[table["metric"] == metric].set_index("configuration")
    values = summaries.seed_values(distinct_runs(records), metric, label=setting_label)
    intervals = {label: (table.at[label, "ci_low"], table.at[label, "ci_high"])
                 for label in values}
    paper = {label: PAPER_HEADLINE.get((label, metric)) for label in values}
    seeds = int(table["n_seeds"].max())
    reported = ("diamond: the paper" if any(v is not None for v in paper.values())
                else "the paper reports no test numbers")
    return plots.seed_spread(
        values, intervals, path, paper=paper, metric=METRIC_NAMES[metric],
        title=f"{METRIC_NAMES[metric]} per setting, {seeds} seed(s) each; bar: 95 % "
              f"bootstrap interval; {reported}", note=note)


def figures(records: Sequence[RunRecord], context, *, loss_axis_limit: float | None = 2.0,
            sample_learning_rate: float = PAPER_SAMPLE_SETTING[0],
            sample_batch_size: int = PAPER_SAMPLE_SETTING[1],
            sample_per_class: int = 2) -> dict[str, Path]:
    """Every figure of the study under ``figures/``: ``seed_spread`` (test accuracy) and
    ``seed_spread_roc_auc``, ``learning_rate_sweep``, ``batch_size_sweep`` (for each sweep
    that ran; the lowest seed's runs), ``sample_predictions`` and
    ``sample_setting_confusion``; returns name -> PNG path."""
    import matplotlib.pyplot as plt

    from kerasbench import plots
    from kerasbench.data.sources import find_dataset_root

    records = check_records(records)
    positive = positive_class(records[0])
    note = report_note(context.note, positive)
    paths = {}
    for metric in HEADLINE_METRICS:
        name = "seed_spread" if metric == "accuracy" else f"seed_spread_{metric}"
        paths[name] = context.figure(name)
        plt.close(seed_spread(records, metric, paths[name], note=note))
    first_seed = min(record.seed for record in records)
    titles = {LEARNING_RATE_SWEEP: "learning-rate sweep", BATCH_SIZE_SWEEP: "batch-size sweep"}
    for sweep in SWEEPS:
        chosen = [record for record in sweep_records(records, sweep) if record.seed == first_seed]
        if not chosen:
            continue
        paths[f"{sweep}_sweep"] = context.figure(f"{sweep}_sweep")
        # Every panel's title gives its whole setting (learning rate and batch size).
        plt.close(sweep_figure({setting_label(r): r.history for r in chosen},
                               paths[f"{sweep}_sweep"], loss_limit=loss_axis_limit, note=note,
                               title=f"{titles[sweep]}: loss and accuracy per epoch "
                                     f"(seed {first_seed})"))
    record = find_record(records, sample_learning_rate, sample_batch_size)
    setting = (f"lr {format_learning_rate(float(sample_learning_rate))}, batch "
               f"{sample_batch_size}, seed {record.seed}")
    samples = sample_predictions(records, sample_learning_rate=sample_learning_rate,
                                 sample_batch_size=sample_batch_size,
                                 sample_per_class=sample_per_class, seed=context.seed)
    paths["sample_predictions"] = context.figure("sample_predictions")
    image_root = find_dataset_root(context.data_dir, quiet=True).resolve()
    plt.close(sample_prediction_grid(samples, image_root, image_size=record.config["image_size"],
                                     path=paths["sample_predictions"], note=note,
                                     title=f"test images, {setting}"))
    test = record.metrics["test"]
    paths["sample_setting_confusion"] = context.figure("sample_setting_confusion")
    plt.close(plots.confusion_matrix(test["confusion_matrix"], test["class_names"],
                                     paths["sample_setting_confusion"], note=note,
                                     title=f"test confusion matrix, {setting}"))
    return paths
