"""Tables built from run records: pandas DataFrames saved as CSV and markdown."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

DEMO_NOTE = "DEMO DATA (synthetic, drawn by the study's demo generator) - not comparable to the paper"


def data_note(is_demo: bool, dataset: str = "") -> str:
    """The line every table and figure carries about the data it was made from."""
    return DEMO_NOTE if is_demo else f"data: {dataset}" if dataset else ""


def display_number(value, decimals: int):
    """``value`` rounded to ``decimals`` places, but a number too small for them (a
    learning rate of 1e-5, a p-value of 0.0003 at 2 places) keeps three significant
    digits instead of becoming 0. Anything but a float is returned as it is."""
    if isinstance(value, (bool, int, np.integer)) or not isinstance(value, (float, np.floating)):
        return value
    if not np.isfinite(value) or value == 0:
        return value
    magnitude = int(np.floor(np.log10(abs(float(value)))))
    return round(float(value), 2 - magnitude if magnitude < 1 - decimals else decimals)


def flat_frame(frame: pd.DataFrame, index: bool = True) -> tuple[pd.DataFrame, bool]:
    """``(frame, index)`` with no tuple left for a markdown table: MultiIndex columns are
    joined with spaces, MultiIndex rows become columns (unnamed levels ``level 1`` ...)."""
    frame = frame.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" ".join(str(part) for part in parts if str(part) != "").strip()
                         for parts in frame.columns]
    if index and isinstance(frame.index, pd.MultiIndex):
        frame.index.names = [name if name is not None else f"level {position + 1}"
                             for position, name in enumerate(frame.index.names)]
        frame, index = frame.reset_index(), False
    return frame, index


def save_table(frame: pd.DataFrame, path: str | Path, note: str = "", index: bool = True,
               demo: bool | None = None, decimals: int | None = None) -> dict:
    """Write ``frame`` as ``<path>.csv`` and ``<path>.md`` (the note above the table), both
    atomically. ``demo`` (True/False) adds a ``demo`` column to the CSV, so a CSV read on
    its own still says whether it came from demo data. The markdown is flat (no tuple
    indices, :func:`flat_frame`) and, with ``decimals``, rounded for reading
    (:func:`display_number`); the CSV keeps every digit."""
    from kerasbench.io import write_csv_atomic, write_text_atomic

    path = Path(path)
    csv_frame = frame.reset_index() if index else frame.copy()
    if demo is not None:
        csv_frame["demo"] = bool(demo)
    csv_path = write_csv_atomic(path.with_suffix(".csv"), csv_frame, index=False)
    shown, shown_index = flat_frame(frame, index)
    if decimals is not None:
        shown = shown.map(lambda value: display_number(value, decimals))
    markdown = shown.to_markdown(index=shown_index)
    markdown_path = write_text_atomic(path.with_suffix(".md"),
                                      (f"_{note}_\n\n" if note else "") + markdown + "\n")
    return {"csv": csv_path, "markdown": markdown_path}


def compare_with_paper(
    paper: Mapping[str, float | None],
    this_run: Mapping[str, float | None],
    *,
    note: str = "",
) -> pd.DataFrame:
    """One row per quantity: the paper's value, this run's, and this run minus the paper."""
    rows = []
    for key in dict.fromkeys([*paper, *this_run]):
        reported, measured = paper.get(key), this_run.get(key)
        difference = None
        if isinstance(reported, (int, float)) and isinstance(measured, (int, float)):
            difference = measured - reported
        rows.append({"quantity": key, "paper": reported, "this run": measured,
                     "difference": difference})
    table = pd.DataFrame(rows).set_index("quantity")
    if note:
        table.attrs["note"] = note
    return table


def confusion_frame(metrics: Mapping) -> pd.DataFrame:
    """The confusion matrix of one split, labelled (rows true, columns predicted)."""
    names = metrics["class_names"]
    return pd.DataFrame(
        metrics["confusion_matrix"],
        index=pd.Index(names, name="true"),
        columns=pd.Index(names, name="predicted"),
    )


def pick(record: Mapping, dotted: str, default=None):
    """``pick(record, "metrics.test.macro_f1")`` -> nested value, or ``default``."""
    value = record
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return default
        value = value[part]
    return value
