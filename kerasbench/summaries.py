"""Seeds, spread and the paper-vs-ours verdict, built from run records.

A study's configurations each run once per seed (:func:`with_seeds`); the seed is part of
the config and so of the run's identity, so adding a seed reruns only the new runs.
:func:`headline_table` groups records by configuration (everything but the seed) and
gives the shared columns of :data:`kerasbench.stats.HEADLINE_COLUMNS`;
:func:`paired_table` tests the differences the papers draw conclusions from;
:func:`paper_verdicts` puts the paper's number beside this run's interval.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from kerasbench import stats
from kerasbench.errors import ConfigError
from kerasbench.io import canonical_json
from kerasbench.studies.base import PlannedRun
from kerasbench.validate import positive_int

Label = Callable[[object], str]


def check_seeds(seeds) -> list[int]:
    """A non-empty list of distinct non-negative ints (``seeds: [0, 1, 2]``)."""
    if isinstance(seeds, (int, str, bytes)) or not isinstance(seeds, Sequence) or not seeds:
        raise ConfigError(f"seeds must be a non-empty list of integers, e.g. [0, 1, 2]; "
                          f"got {seeds!r}")
    checked = [positive_int(seed, f"seeds[{i}]", minimum=0) for i, seed in enumerate(seeds)]
    if len(set(checked)) != len(checked):
        raise ConfigError(f"seeds must be distinct, got {seeds!r}")
    return checked


def with_seeds(planned: Sequence[PlannedRun], seeds) -> list[PlannedRun]:
    """Every planned run once per seed (the seed replaces the config's ``seed``)."""
    seeds = check_seeds(seeds)
    return [PlannedRun(run.experiment, {**run.config, "seed": seed})
            for run in planned for seed in seeds]


def configuration_key(record) -> str:
    """What identifies a configuration across seeds: experiment + config without seed."""
    config = {key: value for key, value in record.config.items() if key != "seed"}
    return canonical_json({"experiment": record.experiment, "config": config})


def group_by_configuration(records: Sequence) -> dict[str, list]:
    groups: dict[str, list] = {}
    for record in records:
        groups.setdefault(configuration_key(record), []).append(record)
    for group in groups.values():
        group.sort(key=lambda record: (record.seed is None, record.seed))
    return groups


def _default_label(record) -> str:
    return record.experiment


def headline_table(records: Sequence, metric: str = "accuracy", *, split: str = "test",
                   label: Label = _default_label, resamples: int = stats.DEFAULT_RESAMPLES,
                   seed: int = 0) -> pd.DataFrame:
    """One row per configuration: ``configuration``, ``metric``, ``seeds`` and the shared
    columns ``n_seeds, mean, min, median, max, ci_low, ci_high``."""
    rows = []
    for group in group_by_configuration(records).values():
        runs = [stats.Predictions.from_record(record, split) for record in group]
        summary = stats.headline(runs, metric, resamples=resamples, seed=seed)
        rows.append({"configuration": label(group[0]), "metric": metric,
                     "seeds": ", ".join(str(record.seed) for record in group), **summary})
    columns = ["configuration", "metric", "seeds", *stats.HEADLINE_COLUMNS]
    return pd.DataFrame(rows, columns=columns)


def seed_values(records: Sequence, metric: str = "accuracy", *, split: str = "test",
                label: Label = _default_label) -> dict[str, list[float]]:
    """Every seed's value of ``metric`` per configuration label (for the spread figure)."""
    values: dict[str, list[float]] = {}
    for group in group_by_configuration(records).values():
        runs = [stats.Predictions.from_record(record, split) for record in group]
        classes = stats._classes(runs)
        values[label(group[0])] = [stats.metric_value(metric, run, classes=classes)
                                   for run in runs]
    return values


def paired_table(records: Sequence, pairs: Sequence[tuple[str, str]], metric: str = "accuracy",
                 *, split: str = "test", label: Label = _default_label,
                 resamples: int = stats.DEFAULT_RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """A vs B for each ``(label_a, label_b)``: difference, its 95 % interval, the p-value
    (McNemar for accuracy, paired bootstrap otherwise) on the same test images."""
    by_label: dict[str, list] = {}
    for group in group_by_configuration(records).values():
        by_label[label(group[0])] = group
    rows = []
    for first, second in pairs:
        missing = [name for name in (first, second) if name not in by_label]
        if missing:
            raise ValueError(f"paired comparison: no runs labelled {missing}; "
                             f"labels present: {sorted(by_label)}")
        runs_a = [stats.Predictions.from_record(r, split) for r in by_label[first]]
        runs_b = [stats.Predictions.from_record(r, split) for r in by_label[second]]
        seeds = min(len(runs_a), len(runs_b))
        result = stats.compare(runs_a[:seeds], runs_b[:seeds], metric, resamples=resamples,
                               seed=seed)
        rows.append({"a": first, "b": second, "metric": metric, "n_seeds": seeds,
                     "difference": result["difference"], "ci_low": result["ci_low"],
                     "ci_high": result["ci_high"], "p_value": result["p_value"],
                     "test": result["test"]})
    return pd.DataFrame(rows, columns=["a", "b", "metric", "n_seeds", "difference", "ci_low",
                                       "ci_high", "p_value", "test"])


def paper_verdicts(headline: pd.DataFrame, paper: Mapping[str, float | None], *,
                   demo: bool) -> pd.DataFrame:
    """``configuration, metric, paper, ours_mean, ci_low, ci_high, difference, verdict``
    for each configuration the paper reports (``paper``: configuration label -> value)."""
    rows = []
    for _, row in headline.iterrows():
        if row["configuration"] not in paper:
            continue
        reported = paper[row["configuration"]]
        rows.append({
            "configuration": row["configuration"], "metric": row["metric"], "paper": reported,
            "ours_mean": row["mean"], "ci_low": row["ci_low"], "ci_high": row["ci_high"],
            "difference": None if reported is None else row["mean"] - reported,
            "verdict": stats.verdict(reported, row["ci_low"], row["ci_high"], demo=demo),
        })
    return pd.DataFrame(rows, columns=["configuration", "metric", "paper", "ours_mean",
                                       "ci_low", "ci_high", "difference", "verdict"])


def verdict_sentences(verdicts: pd.DataFrame) -> list[str]:
    """One sentence per headline: what the evidence supports."""
    sentences = []
    for _, row in verdicts.iterrows():
        interval = f"{row['ours_mean']:.3f} (95 % interval {row['ci_low']:.3f}-{row['ci_high']:.3f})"
        name = f"{row['configuration']} ({row['metric']})"
        if row["verdict"] == "not comparable: demo data":
            sentences.append(f"{name}: {interval} on synthetic demo data, which says the code "
                             "runs, not whether the paper's number holds.")
        elif row["verdict"] == "within interval":
            sentences.append(f"{name}: the paper's {row['paper']:.3f} lies within this run's "
                             f"{interval}: consistent with the paper.")
        elif row["verdict"] == "paper higher":
            sentences.append(f"{name}: the paper's {row['paper']:.3f} is above this run's "
                             f"{interval}: not reproduced at this setting.")
        elif row["verdict"] == "paper lower":
            sentences.append(f"{name}: the paper's {row['paper']:.3f} is below this run's "
                             f"{interval}: this run does better.")
        else:
            sentences.append(f"{name}: {interval}; the paper reports no number to compare.")
    return sentences


def paired_reading(p_value: float, ci_low: float, ci_high: float, level: float = 0.05) -> str:
    """What a paired row supports: the test and the interval agree, or they do not (few
    discordant images: the interval can exclude 0 while an exact test cannot reject)."""
    excludes_zero = ci_low > 0 or ci_high < 0
    if p_value < level and excludes_zero:
        return f"a difference at the {level:.0%} level"
    if p_value >= level and not excludes_zero:
        return "no difference these test images can show"
    return (f"inconclusive: the test's p-value and the interval disagree at the {level:.0%} "
            "level (too few images where the two differ)")


def paired_sentences(table: pd.DataFrame, level: float = 0.05) -> list[str]:
    """One sentence per row of :func:`paired_table`: the difference, its interval, the
    p-value and whether these test images tell the two apart at ``level``."""
    sentences = []
    for row in table.itertuples():
        told = paired_reading(row.p_value, row.ci_low, row.ci_high, level)
        sentences.append(
            f"{row.a} vs {row.b} ({row.metric}, {row.n_seeds} seed(s)): "
            f"{row.difference:+.3f} (95 % interval {row.ci_low:+.3f} to {row.ci_high:+.3f}), "
            f"{row.test} p = {row.p_value:.3g}: {told}.")
    return sentences
