"""This run beside the paper: the verdict on each headline number
(:func:`compare_with_paper`), the paper's qualitative findings (:func:`findings_table`) and
the levels read off its curves (:func:`paper_levels`).

The paper prints no test accuracy or ROC AUC (its results are curves), so every headline
verdict is ``not comparable: not reported`` on real data; what the paper does claim, which
learning rate is best, is tested by the paired comparison
(:func:`~kerasbench.studies.covid_xray.headline.paired`) and read in the findings."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from kerasbench import summaries
from kerasbench.records import RunRecord
from kerasbench.reports import compare_with_paper as comparison_table
from kerasbench.studies.covid_xray.headline import HEADLINE_METRICS, headline
from kerasbench.studies.covid_xray.paper import (
    PAPER_FINDINGS,
    PAPER_HEADLINE,
    PAPER_LR_SWEEP_BATCH_SIZE,
    PAPER_NUMBERS,
)
from kerasbench.studies.covid_xray.protocol import format_learning_rate as _lr
from kerasbench.studies.covid_xray.tables import MARKDOWN_DECIMALS


def _rows_for(table: pd.DataFrame, column: str, values: Sequence) -> pd.DataFrame:
    wanted = [value for value in table[column] if any(math.isclose(value, v) for v in values)]
    return table[table[column].isin(wanted)]


def _verdict(condition) -> str:
    return "n.a." if condition is None else ("yes" if condition else "no")


def _best_learning_rates(lr_table: pd.DataFrame):
    if not len(lr_table):
        return "learning-rate sweep not run", None
    ranked = lr_table.sort_values("best_val_loss")
    best = ranked.iloc[0]
    middle = _rows_for(lr_table, "learning_rate", (1e-4, 1e-5))
    shows = (f"best lr by lowest validation loss: {_lr(best['learning_rate'])} "
             f"({best['best_val_loss']:.3f}); ranking: "
             + ", ".join(_lr(v) for v in ranked["learning_rate"]))
    if len(middle):
        shows += "; share of epochs with validation loss < 0.2: " + ", ".join(
            f"{_lr(r.learning_rate)} {r.val_loss_share_under_0_2:.0%}" for r in middle.itertuples())
    agrees = (any(math.isclose(best["learning_rate"], v) for v in (1e-4, 1e-5))
              if len(middle) else None)
    return shows, agrees


def _high_rates_unstable(lr_table: pd.DataFrame, window: int):
    high = _rows_for(lr_table, "learning_rate", (1e-2, 1e-3))
    rest = lr_table.drop(index=high.index)
    if not (len(high) and len(rest)):
        return "needs lr 1e-2 or 1e-3 and at least one other rate", None
    epochs_used = min(window, int(lr_table["epochs_run"].max()))
    shows = (f"std of validation loss over the last {epochs_used} epochs: "
             + ", ".join(f"{_lr(r.learning_rate)} {r.val_loss_std_last:.3f} "
                         f"(max {r.max_val_loss:.2f})" for r in high.itertuples())
             + f" vs mean {rest['val_loss_std_last'].mean():.3f} for the other rates; "
             f"mean final train accuracy {high['final_train_accuracy'].mean():.3f}")
    return shows, bool(high["val_loss_std_last"].mean() > rest["val_loss_std_last"].mean())


def _low_rates_worse(lr_table: pd.DataFrame):
    low = _rows_for(lr_table, "learning_rate", (1e-6, 1e-7))
    middle = _rows_for(lr_table, "learning_rate", (1e-4, 1e-5))
    if not (len(low) and len(middle)):
        return "needs lr 1e-6 or 1e-7 and lr 1e-4 or 1e-5", None
    shows = "final validation loss: " + ", ".join(
        f"{_lr(r.learning_rate)} {r.final_val_loss:.3f}"
        for r in pd.concat([middle, low]).itertuples())
    return shows, bool(low["final_val_loss"].mean() > middle["final_val_loss"].mean())


def _best_batch_size(batch_table: pd.DataFrame):
    if not len(batch_table):
        return "batch-size sweep not run", None
    ranked = batch_table.sort_values("best_val_loss")
    shows = ("lowest validation loss per batch size: "
             + ", ".join(f"{int(r.batch_size)}: {r.best_val_loss:.3f}"
                         for r in batch_table.itertuples())
             + f"; best batch {int(ranked.iloc[0]['batch_size'])}")
    agrees = (int(ranked.iloc[0]["batch_size"]) == PAPER_LR_SWEEP_BATCH_SIZE
              if PAPER_LR_SWEEP_BATCH_SIZE in set(batch_table["batch_size"]) else None)
    return shows, agrees


def _larger_batches_spike(batch_table: pd.DataFrame, spike_rise: float):
    if len(batch_table) <= 1:
        return "needs at least two batch sizes", None
    smallest = batch_table["batch_size"].min()
    small = batch_table[batch_table["batch_size"] == smallest]
    larger = batch_table[batch_table["batch_size"] > smallest]
    shows = (f"validation-loss spikes (rise > {spike_rise} in one epoch) per batch size: "
             + ", ".join(f"{int(r.batch_size)}: {r.val_loss_spikes} (max {r.max_val_loss:.2f})"
                         for r in batch_table.itertuples()))
    # A spike is a one-epoch jump; a peak at least spike_rise above the smallest batch's
    # highest point counts too, since the paper reads "very high points" off whole curves.
    more_spikes = larger["val_loss_spikes"].mean() > small["val_loss_spikes"].mean()
    higher_peak = larger["max_val_loss"].max() - small["max_val_loss"].max() > spike_rise
    shows += "; larger batches " + (
        "spike more" if more_spikes
        else f"peak more than {spike_rise} higher" if higher_peak
        else "neither spike more nor peak higher")
    return shows, bool(more_spikes or higher_peak)


def per_setting(table: pd.DataFrame) -> pd.DataFrame:
    """A sweep table with one row per panel: the numeric columns' means over its seeds."""
    if table.index.is_unique:
        return table
    numeric = table.select_dtypes("number").drop(columns="seed", errors="ignore")
    return numeric.groupby(level=0, sort=False).mean()


def findings_table(lr_table: pd.DataFrame, batch_table: pd.DataFrame,
                   samples: pd.DataFrame | None = None, *, window: int = 5,
                   spike_rise: float = 0.2) -> pd.DataFrame:
    """The paper's qualitative findings beside what this run's numbers show.

    Columns: ``finding from the paper``, ``what this run shows`` (computed from the sweep
    tables; with several seeds, from each panel's means over its seeds), ``agrees`` (yes /
    no / n.a. when the settings needed were not run).
    """
    lr_table, batch_table = per_setting(lr_table), per_setting(batch_table)
    found = {
        "best_learning_rates": _best_learning_rates(lr_table),
        "high_learning_rates_unstable": _high_rates_unstable(lr_table, window),
        "low_learning_rates_worse": _low_rates_worse(lr_table),
        "best_batch_size": _best_batch_size(batch_table),
        "larger_batches_spike": _larger_batches_spike(batch_table, spike_rise),
    }
    if samples is not None and len(samples):
        column = next(name for name in samples.columns if name.startswith("P("))
        positive = column[2:-1]
        by_class = samples.groupby("true_class")[column].mean()
        found["sample_predictions"] = (
            f"this run's sigmoid output is P({positive}) (label 1 = {positive}); mean over the "
            "samples: "
            + ", ".join(f"{name} images {value:.3g}" for name, value in by_class.items()),
            None)
    return pd.DataFrame([{"finding from the paper": PAPER_FINDINGS[key],
                          "what this run shows": shows, "agrees": _verdict(agrees)}
                         for key, (shows, agrees) in found.items()])


def paper_values(lr_table: pd.DataFrame, samples: pd.DataFrame | None,
                 class_names: Sequence[str]) -> dict:
    """This run's values for :data:`PAPER_NUMBERS` (None where the setting was not run).

    The paper's scores are P(normal); this run's P(positive_class) is turned into P(normal)
    when ``normal`` is the negative class, so the two columns mean the same thing.
    ``class_names`` is ``[negative, positive]``."""

    def lr_value(rates, column, reduce=np.mean):
        rows = _rows_for(lr_table, "learning_rate", rates)
        return float(reduce(rows[column])) if len(rows) else None

    values = {
        "max validation loss, lr 1e-2 (read off the curve)": lr_value((1e-2,), "max_val_loss"),
        "max validation loss, lr 1e-3 (read off the curve)": lr_value((1e-3,), "max_val_loss"),
        "typical loss, lr 1e-4 and 1e-5 (upper level, read off)": lr_value(
            (1e-4, 1e-5), "final_val_loss"),
        "typical loss, lr 1e-6 and 1e-7 (read off)": lr_value((1e-6, 1e-7), "final_val_loss"),
        "P(normal), sample normal image": None,
        "P(normal), sample covid image": None,
    }
    negative, positive = class_names
    normal = next((name for name in class_names if name.casefold() == "normal"), None)
    covid = next((name for name in class_names if name.casefold() == "covid"), None)
    if samples is not None and len(samples) and normal and covid:
        probability = samples[f"P({positive})"]
        p_normal = probability if positive == normal else 1.0 - probability
        values["P(normal), sample normal image"] = float(
            p_normal[samples["true_class"] == normal].mean())
        values["P(normal), sample covid image"] = float(
            p_normal[samples["true_class"] == covid].mean())
    return values


def paper_levels(lr_table: pd.DataFrame, samples: pd.DataFrame | None,
                 class_names: Sequence[str]) -> pd.DataFrame:
    """One row per number in :data:`PAPER_NUMBERS` (levels read off the paper's curves and
    its two sample scores): the paper's, this run's and the difference."""
    return comparison_table(PAPER_NUMBERS, paper_values(lr_table, samples, class_names))


def compare_with_paper(records: Sequence[RunRecord], context) -> pd.DataFrame:
    """:func:`kerasbench.summaries.paper_verdicts` of test accuracy and ROC AUC per
    setting: ``configuration, metric, paper, ours_mean, ci_low, ci_high, difference,
    verdict``; saved as ``tables/compare_with_paper``. The paper reports neither number
    (``paper`` is empty), so the verdict says so; its curve levels and findings are the
    ``paper_levels`` and ``findings`` tables of :func:`~kerasbench.studies.covid_xray.tables`."""
    table = headline(records)
    parts = []
    for metric in HEADLINE_METRICS:
        rows = table[table["metric"] == metric]
        reported = {label: PAPER_HEADLINE.get((label, metric)) for label in rows["configuration"]}
        parts.append(summaries.paper_verdicts(rows, reported, demo=context.is_demo))
    verdicts = pd.concat(parts, ignore_index=True)
    context.save_table(verdicts, "compare_with_paper", decimals=MARKDOWN_DECIMALS)
    return verdicts
