"""Figures built from run records, saved as PNG and returned for display in notebooks."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

if matplotlib.get_backend().lower() not in {"module://matplotlib_inline.backend_inline", "inline"}:
    # Headless runs (make, pytest) must never try to open a window.
    matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def _integer_locator() -> MaxNLocator:
    # min_n_ticks=1: a single epoch (or count) still gets its one whole-number tick.
    return MaxNLocator(integer=True, min_n_ticks=1, steps=[1, 2, 5, 10])


def _integer_ticks(axis, which: str = "x"):
    """Whole-number ticks (epochs, counts): never 0.95 / 1.05 around a single epoch."""
    (axis.xaxis if which == "x" else axis.yaxis).set_major_locator(_integer_locator())


def _finish(figure, path, title: str, note: str):
    # Wrap to the figure's width so long titles and the demo-data note are never cut off.
    characters = max(30, int(figure.get_figwidth() * 13))
    lines = [textwrap.fill(part, characters) for part in (title, note) if part]
    if lines:
        figure.suptitle("\n".join(lines), fontsize=9)
    figure.tight_layout()
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, dpi=110)
    return figure


def training_curves(history: Mapping[str, Sequence[float]], path=None, *, title="",
                    note="", stop_epoch: int | None = None):
    """Loss and accuracy per epoch, train and validation; an optional marker at the epoch
    whose weights were kept (early stopping)."""
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for axis, metric in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = history.get(prefix + metric)
            if values:
                epochs = np.arange(1, len(values) + 1)
                axis.plot(epochs, values, style, marker=".", label=("validation " if prefix else "train ") + metric)
        if stop_epoch:
            axis.axvline(stop_epoch, color="grey", linestyle=":", label=f"kept epoch {stop_epoch}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(metric)
        _integer_ticks(axis, "x")
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    return _finish(figure, path, title, note)


def curve_panels(histories: Mapping[str, Mapping[str, Sequence[float]]], path=None, *,
                 title="", note="", metrics=("loss", "accuracy")):
    """One small panel per setting (columns) and metric (rows) on shared axes, as in the
    papers' sweep figures."""
    labels = list(histories)
    if not labels:
        raise ValueError("curve_panels needs at least one history")
    # At least 4.8 inches wide, so one or two panels still leave room for the title and note.
    figure, axes = plt.subplots(len(metrics), len(labels),
                                figsize=(max(4.8, 2.6 * len(labels)), 2.4 * len(metrics)),
                                sharex=True, sharey="row", squeeze=False)
    for column, label in enumerate(labels):
        history = histories[label]
        for row, metric in enumerate(metrics):
            axis = axes[row][column]
            for prefix, style in (("", "-"), ("val_", "--")):
                values = history.get(prefix + metric)
                if values:
                    axis.plot(np.arange(1, len(values) + 1), values, style, marker=".",
                              label=("validation" if prefix else "train"))
            if row == 0:
                axis.set_title(label, fontsize=9)
            if column == 0:
                axis.set_ylabel(metric)
            if row == len(metrics) - 1:
                axis.set_xlabel("epoch")
            _integer_ticks(axis, "x")
            axis.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    return _finish(figure, path, title, note)


def confusion_matrix(matrix, class_names: Sequence[str], path=None, *, title="", note="",
                     normalize: bool = False):
    """Counts (or row-normalised rates) with rows = true class, columns = predicted."""
    matrix = np.asarray(matrix, dtype=float)
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) if normalize else matrix
    size = max(4.2, 0.45 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    image = axis.imshow(shown, cmap="Blues")
    # Counts get whole-number colour-bar ticks; rates keep the default ones.
    figure.colorbar(image, ax=axis, fraction=0.046,
                    ticks=None if normalize else _integer_locator())
    axis.set_xticks(range(len(class_names)), class_names, rotation=45, ha="right", fontsize=8)
    axis.set_yticks(range(len(class_names)), class_names, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    threshold = (shown.max() + shown.min()) / 2 if shown.size else 0
    for (row, column), value in np.ndenumerate(shown):
        text = f"{value:.2f}" if normalize else f"{int(value)}"
        axis.text(column, row, text, ha="center", va="center", fontsize=7,
                  color="white" if value > threshold else "black")
    return _finish(figure, path, title, note)


def bar_chart(values: Mapping[str, float], path=None, *, title="", note="", ylabel="",
              reference: Mapping[str, float] | None = None, reference_label="paper"):
    """Bars per item; with ``reference``, paired bars (this run beside the paper)."""
    labels = list(values)
    positions = np.arange(len(labels))
    figure, axis = plt.subplots(figsize=(max(4, 1.1 * len(labels) + 2), 3.4))
    width = 0.4 if reference else 0.7
    axis.bar(positions - (width / 2 if reference else 0), [values[k] for k in labels], width,
             label="this run")
    if reference:
        axis.bar(positions + width / 2, [reference.get(k, np.nan) for k in labels], width,
                 label=reference_label)
        axis.legend(fontsize=8)
    axis.set_xticks(positions, labels, rotation=20, ha="right", fontsize=8)
    axis.set_ylabel(ylabel)
    axis.grid(axis="y", alpha=0.3)
    return _finish(figure, path, title, note)


def pie_chart(values: Mapping[str, float], path=None, *, title="", note="", ylabel=""):
    """Shares of a whole; with fewer than two slices a pie says nothing, so a bar chart of
    the value (``ylabel``) is drawn instead."""
    if len(values) < 2:
        return bar_chart(values, path, title=title, note=note, ylabel=ylabel)
    figure, axis = plt.subplots(figsize=(4.2, 4.2))
    axis.pie(list(values.values()), labels=list(values), autopct="%1.1f%%", textprops={"fontsize": 8})
    axis.axis("equal")
    return _finish(figure, path, title, note)


def class_distribution(counts: Mapping[str, Mapping[str, int]] | object, path=None, *,
                       title="class distribution", note=""):
    """Grouped bars: ``counts`` is a DataFrame (rows classes, columns groups such as splits
    or before/after balancing) or a dict of dicts."""
    import pandas as pd

    table = counts if isinstance(counts, pd.DataFrame) else pd.DataFrame(counts)
    figure, axis = plt.subplots(figsize=(max(4.5, 0.7 * len(table) + 2), 3.4))
    table.plot.bar(ax=axis, rot=30)
    axis.set_ylabel("images")
    _integer_ticks(axis, "y")
    axis.set_ylim(0, max(1.0, float(np.nanmax(table.to_numpy(dtype=float)))) * 1.3)
    axis.legend(fontsize=8, loc="upper right", ncol=min(3, table.shape[1]))  # above the bars
    axis.grid(axis="y", alpha=0.3)
    return _finish(figure, path, title, note)


def roc_curve(fpr, tpr, auc: float | None, path=None, *, title="ROC", note=""):
    figure, axis = plt.subplots(figsize=(3.8, 3.6))
    axis.plot(fpr, tpr, label=f"AUC = {auc:.3f}" if auc is not None else "ROC")
    axis.plot([0, 1], [0, 1], ":", color="grey", label="chance")
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.legend(fontsize=8)
    return _finish(figure, path, title, note)


def distance_histograms(same, different, threshold: float | None = None, path=None, *,
                        title="pair distances", note=""):
    figure, axis = plt.subplots(figsize=(5, 3.2))
    bins = np.histogram_bin_edges(np.concatenate([np.ravel(same), np.ravel(different)]), bins=30)
    axis.hist(same, bins=bins, alpha=0.6, label="same person")
    axis.hist(different, bins=bins, alpha=0.6, label="different people")
    if threshold is not None:
        axis.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    axis.set_xlabel("distance")
    axis.set_ylabel("pairs")
    _integer_ticks(axis, "y")
    axis.legend(fontsize=8)
    return _finish(figure, path, title, note)


def image_grid(images, captions: Sequence[str], path=None, *, title="", note="", columns=5):
    """Images (0-255 arrays) with a caption under each, e.g. predictions on sample images."""
    count = len(images)
    rows = max(1, int(np.ceil(count / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.5 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, image, caption in zip(axes.ravel(), images, captions):
        image = np.asarray(image)
        axis.imshow(np.clip(image, 0, 255).astype("uint8").squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
        axis.set_title(caption, fontsize=7)
    return _finish(figure, path, title, note)


def seed_spread(values: Mapping[str, Sequence[float]], intervals: Mapping[str, tuple], path=None,
                *, paper: Mapping[str, float | None] | None = None, metric: str = "",
                title: str = "", note: str = ""):
    """Per configuration: every seed's value as a point, the 95 % interval as a bar, and
    the paper's value as a marker."""
    labels = list(values)
    if not labels:
        raise ValueError("seed_spread needs at least one configuration")
    figure, axis = plt.subplots(figsize=(max(4.5, 0.9 * len(labels) + 2.5), 3.6))
    for position, label in enumerate(labels):
        low, high = intervals[label]
        axis.plot([position, position], [low, high], color="tab:blue", linewidth=6, alpha=0.35,
                  solid_capstyle="butt", label="95 % interval" if position == 0 else None)
        points = list(values[label])
        offsets = np.linspace(-0.08, 0.08, len(points)) if len(points) > 1 else [0.0]
        axis.scatter(position + np.asarray(offsets), points, color="tab:blue", s=18, zorder=3,
                     label="seed" if position == 0 else None)
        reported = (paper or {}).get(label)
        if reported is not None:
            # Hollow, so a seed with the paper's value stays visible inside it.
            axis.scatter([position], [reported], marker="D", facecolors="none",
                         edgecolors="tab:red", linewidths=1.6, s=60, zorder=4,
                         label="paper" if not any(
                             (paper or {}).get(other) is not None for other in labels[:position])
                         else None)
    # Slant the labels when they would run into each other (many, or long ones).
    slanted = len(labels) > 3 or max(len(str(label)) for label in labels) > 16
    axis.set_xticks(range(len(labels)), labels, rotation=20 if slanted else 0,
                    ha="right" if slanted else "center", fontsize=8)
    axis.set_xlim(-0.6, len(labels) - 0.4)
    axis.set_ylabel(metric)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8, loc="best")
    return _finish(figure, path, title, note)
