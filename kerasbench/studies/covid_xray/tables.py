"""The sweeps as numbers: one row per panel and seed (the curves turned into numbers, test
metrics of the positive class, time), P(positive_class) on sample test images, and the
headline and paired comparison over seeds (:mod:`~kerasbench.studies.covid_xray.headline`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from kerasbench.errors import ConfigError
from kerasbench.records import RunRecord
from kerasbench.studies.covid_xray.headline import check_records, headline, paired
from kerasbench.studies.covid_xray.paper import PAPER_SAMPLE_SETTING
from kerasbench.studies.covid_xray.protocol import SWEEPS, format_learning_rate, panel_label
from kerasbench.validate import choice, positive_int

CURVE_COLUMNS = (
    "final_train_loss", "best_train_loss", "final_train_accuracy", "best_train_accuracy",
    "final_val_loss", "best_val_loss", "final_val_accuracy", "best_val_accuracy",
    "best_val_loss_epoch", "max_val_loss", "val_loss_std_last", "val_loss_spikes",
    "val_loss_share_under_0_2", "epochs_run",
)

# Markdown tables are rounded to the paper's precision (three places; its small numbers,
# 0.0000157, keep three significant digits); the CSV keeps every digit.
MARKDOWN_DECIMALS = 3
SWEEP_COLUMNS = ("learning_rate", "batch_size", "seed", *CURVE_COLUMNS, "positive_class",
                 "test_accuracy", "test_precision", "test_recall", "test_f1", "test_roc_auc",
                 "train_s", "run_id")


def positive_class(record: RunRecord) -> str:
    """The class a run's sigmoid output scores (label 1), spelled as in the data."""
    return record.extra.get("class_names", [None, record.config["positive_class"]])[1]


def curve_numbers(history: Mapping[str, Sequence[float]], *, window: int = 5,
                  spike_rise: float = 0.2) -> dict:
    """One history's curves as numbers.

    final_* is the last epoch; best_* the lowest loss / highest accuracy and, for the
    validation loss, its epoch (1-based). ``val_loss_std_last`` is the standard deviation
    of the validation loss over the last ``window`` epochs (the instability the paper reads
    off its curves); ``val_loss_spikes`` counts epochs whose validation loss rose by more
    than ``spike_rise`` over the epoch before (its "very high points").
    """
    window = positive_int(window, "instability_window")
    numbers = {}
    for prefix, name in (("", "train"), ("val_", "val")):
        loss = np.asarray(history.get(prefix + "loss") or [], dtype=float)
        accuracy = np.asarray(history.get(prefix + "accuracy") or [], dtype=float)
        numbers[f"final_{name}_loss"] = float(loss[-1]) if loss.size else None
        numbers[f"best_{name}_loss"] = float(np.nanmin(loss)) if loss.size else None
        numbers[f"final_{name}_accuracy"] = float(accuracy[-1]) if accuracy.size else None
        numbers[f"best_{name}_accuracy"] = float(np.nanmax(accuracy)) if accuracy.size else None
    validation = np.asarray(history.get("val_loss") or [], dtype=float)
    numbers.update(dict.fromkeys(("best_val_loss_epoch", "max_val_loss", "val_loss_std_last",
                                  "val_loss_spikes", "val_loss_share_under_0_2")))
    if validation.size:
        last = validation[-min(window, validation.size):]
        numbers["best_val_loss_epoch"] = int(np.nanargmin(validation)) + 1
        numbers["max_val_loss"] = float(np.nanmax(validation))
        numbers["val_loss_std_last"] = float(np.nanstd(last))
        numbers["val_loss_spikes"] = int(np.sum(np.diff(validation) > spike_rise))
        numbers["val_loss_share_under_0_2"] = float(np.mean(validation < 0.2))
    numbers["epochs_run"] = int(len(history.get("loss") or []))
    return numbers


def sweep_records(records: Sequence[RunRecord], sweep: str) -> list[RunRecord]:
    choice(sweep, "sweep", SWEEPS)
    return [record for record in records if record.experiment == sweep]


def sweep_table(records: Sequence[RunRecord], sweep: str, *, window: int = 5,
                spike_rise: float = 0.2) -> pd.DataFrame:
    """One row per panel of ``sweep`` and seed (index: ``lr 1e-4`` / ``batch 5``, repeated
    for each seed): the curves as numbers, test metrics of the positive class (label 1)
    and the training time."""
    rows = []
    for record in sweep_records(records, sweep):
        positive = positive_class(record)
        test = record.metrics["test"]
        per_class = test["per_class"][positive]
        rows.append({
            "setting": panel_label(sweep, record.config),
            "learning_rate": record.config["learning_rate"],
            "batch_size": record.config["batch_size"],
            "seed": record.seed,
            **curve_numbers(record.history, window=window, spike_rise=spike_rise),
            "positive_class": positive,
            "test_accuracy": test["accuracy"],
            "test_precision": per_class["precision"],
            "test_recall": per_class["recall"],
            "test_f1": per_class["f1"],
            "test_roc_auc": test.get("roc_auc"),
            "train_s": record.durations.get("train_s"),
            "run_id": record.run_id,
        })
    return pd.DataFrame(rows, columns=["setting", *SWEEP_COLUMNS]).set_index("setting")


def find_record(records: Sequence[RunRecord], learning_rate: float, batch_size: int) -> RunRecord:
    """The record of the setting (``learning_rate``, ``batch_size``) with the lowest seed."""
    matching = [record for record in records
                if np.isclose(record.config["learning_rate"], float(learning_rate))
                and record.config["batch_size"] == batch_size]
    if matching:
        return min(matching, key=lambda record: record.seed)
    trained = sorted({(record.config["learning_rate"], record.config["batch_size"])
                      for record in records}, reverse=True)
    raise ConfigError(
        f"lr {format_learning_rate(float(learning_rate))} batch {batch_size} is not one of the "
        "settings run (" + ", ".join(f"lr {format_learning_rate(lr)} batch {size}"
                                     for lr, size in trained)
        + "); pick sample_learning_rate / sample_batch_size from the sweeps")


def sample_predictions(records: Sequence[RunRecord], *,
                       sample_learning_rate: float = PAPER_SAMPLE_SETTING[0],
                       sample_batch_size: int = PAPER_SAMPLE_SETTING[1],
                       sample_per_class: int = 2, seed: int = 42) -> pd.DataFrame:
    """``sample_per_class`` test images of each class (seeded choice) of one setting (its
    lowest seed's run) with P(positive_class), the predicted class (threshold 0.5) and
    whether it is right; paths are relative to the data root."""
    per_class = positive_int(sample_per_class, "sample_per_class")
    record = find_record(records, sample_learning_rate, sample_batch_size)
    class_names = record.extra["class_names"]
    table = pd.DataFrame(record.extra["test_predictions"])
    chosen = []
    for label in (1, 0):
        rows = np.flatnonzero(table["label"].to_numpy() == label)
        generator = np.random.default_rng([int(seed), 11, label])
        take = min(per_class, len(rows))
        chosen.extend(sorted(rows[generator.choice(len(rows), size=take, replace=False)]))
    picked = table.iloc[chosen].reset_index(drop=True)
    probability = picked["probability_positive"].to_numpy(dtype=float)
    predicted = (probability >= 0.5).astype(int)
    return pd.DataFrame({
        "path": picked["path"],
        "true_class": [class_names[label] for label in picked["label"]],
        f"P({class_names[1]})": probability,
        "predicted_class": [class_names[label] for label in predicted],
        "correct": predicted == picked["label"].to_numpy(),
    })


def tables(records: Sequence[RunRecord], context, *, window: int = 5, spike_rise: float = 0.2,
           **sample) -> dict[str, pd.DataFrame]:
    """The study's tables, each saved under ``tables/`` (CSV with a ``demo`` column,
    markdown with the data note):

    - ``headline``: test accuracy and ROC AUC per setting over seeds, with the 95 % interval;
    - ``paired``: the best learning rate vs the next best on the same test images;
    - ``learning_rate_sweep``, ``batch_size_sweep``: the curves as numbers, per panel and seed;
    - ``sample_predictions``: P(positive_class) on sample test images;
    - ``findings``: the paper's qualitative findings beside this run's numbers;
    - ``paper_levels``: the levels read off the paper's curves beside this run's.

    ``sample``: :func:`sample_predictions`'s ``sample_learning_rate`` /
    ``sample_batch_size`` / ``sample_per_class``."""
    from kerasbench.studies.covid_xray.compare import findings_table, paper_levels

    records = check_records(records)
    result = {"headline": headline(records), "paired": paired(records)}
    result.update({f"{sweep}_sweep": sweep_table(records, sweep, window=window,
                                                 spike_rise=spike_rise)
                   for sweep in SWEEPS})
    result["sample_predictions"] = sample_predictions(records, seed=context.seed, **sample)
    result["findings"] = findings_table(
        result["learning_rate_sweep"], result["batch_size_sweep"], result["sample_predictions"],
        window=window, spike_rise=spike_rise)
    result["paper_levels"] = paper_levels(result["learning_rate_sweep"],
                                          result["sample_predictions"],
                                          records[0].extra["class_names"])
    for name, frame in result.items():
        context.save_table(frame, name, index=name.endswith("_sweep") or name == "paper_levels",
                           decimals=MARKDOWN_DECIMALS)
    return result
