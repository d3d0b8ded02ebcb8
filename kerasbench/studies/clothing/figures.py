"""Figures of the clothing study, built from the final models' records: the paper's pie
charts (parameters, grid-search and final-training durations), test macro F1 beside the
paper's, and one test confusion matrix per final model. Each carries the data note."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kerasbench.records import RunRecord
from kerasbench.studies.clothing.paper import PAPER_FINAL, display_name
from kerasbench.studies.clothing.tables import finals_with_grid_seconds


def _saved(figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    plt.close(figure)
    return path


def figures(records: Sequence[RunRecord], context) -> dict[str, Path]:
    """Saved under ``figures/`` and returned by name (an empty dict without finals)."""
    from kerasbench import plots

    finals = finals_with_grid_seconds(records)
    if not finals:
        return {}
    note = context.note
    names = {record.run_id: display_name(record.config["backbone"]) for record, _ in finals}
    parameters = {names[r.run_id]: r.extra["parameters"]["total"] for r, _ in finals}
    grid_time = {names[r.run_id]: seconds for r, seconds in finals}
    final_time = {names[r.run_id]: r.durations["final_training_s"] for r, _ in finals}
    f1 = {names[r.run_id]: 100 * r.metric("test", "macro_f1") for r, _ in finals}
    paper_f1 = {names[r.run_id]: PAPER_FINAL[r.config["backbone"]]["F1 %"]
                for r, _ in finals if r.config["backbone"] in PAPER_FINAL}
    made = {}
    for name, values, title in (("parameters_pie", parameters, "total parameters"),
                                ("grid_duration_pie", grid_time, "grid search duration (s)"),
                                ("final_duration_pie", final_time,
                                 "final training duration (s)")):
        path = context.figure(name)
        made[name] = _saved(plots.pie_chart(values, path, title=title, note=note), path)
    path = context.figure("test_f1_bar")
    made["test_f1_bar"] = _saved(plots.bar_chart(
        f1, path, ylabel="macro F1 %", title="test macro F1 of the final models",
        reference=paper_f1 or None, note=note), path)
    for record, _ in finals:
        backbone = record.config["backbone"]
        test = record.metrics["test"]
        path = context.figure(f"confusion_{backbone}")
        made[f"confusion_{backbone}"] = _saved(plots.confusion_matrix(
            test["confusion_matrix"], test["class_names"], path,
            title=f"{display_name(backbone)}: test confusion matrix", note=note), path)
    return made
