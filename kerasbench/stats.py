"""Spread, confidence intervals and paired tests for runs evaluated on the same test images.

Every study reports, per configuration, the metric's spread over seeds and a 95 % interval:

- one seed: a percentile bootstrap over the test images;
- several seeds: a two-level bootstrap: each resample draws seeds with replacement AND
  test images with replacement (the same images for every drawn seed), and takes the mean
  over the drawn seeds, so the interval covers both sources of variation.

Paired comparisons use the SAME test images for both sides. With one seed a side:
McNemar's test for accuracy (exact binomial below 25 discordant pairs, chi-square with
continuity correction above) and a paired bootstrap over images for F1 / AUC. With
several seeds (paired by position) every metric uses the paired bootstrap over seeds AND
images, since pooling seeds into one McNemar table would treat repeated runs on the same
images as independent. The bootstrap's interval is the difference's percentile interval;
its two-sided p-value is the share of centred bootstrap differences at least as far from
zero as the observed one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from kerasbench.validate import choice, positive_int

HEADLINE_COLUMNS = ("n_seeds", "mean", "min", "median", "max", "ci_low", "ci_high")
VERDICTS = ("within interval", "paper higher", "paper lower", "not comparable: demo data",
            "not comparable: not reported")
DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class Predictions:
    """One run's test-set outputs, row-aligned with the test images."""

    y_true: np.ndarray
    y_pred: np.ndarray
    score: np.ndarray | None = None  # P(class 1) for binary tasks, for AUC

    def __post_init__(self):
        object.__setattr__(self, "y_true", np.asarray(self.y_true).astype(int).ravel())
        object.__setattr__(self, "y_pred", np.asarray(self.y_pred).astype(int).ravel())
        if self.score is not None:
            object.__setattr__(self, "score", np.asarray(self.score, dtype=float).ravel())
        if self.y_true.shape != self.y_pred.shape:
            raise ValueError(f"{self.y_true.size} labels but {self.y_pred.size} predictions")

    @property
    def correct(self) -> np.ndarray:
        return self.y_true == self.y_pred

    @classmethod
    def from_record(cls, record, split: str = "test") -> Predictions:
        stored = (record.extra.get("predictions") or {}).get(split)
        if not stored:
            raise ValueError(f"run {record.run_id} ({record.experiment}) stored no per-image "
                             f"predictions for {split!r}; rerun it with this kerasbench")
        return cls(stored["y_true"], stored["y_pred"], stored.get("score"))


# --------------------------------------------------------------------------- metrics


def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray, classes: int) -> float:
    matrix = np.bincount(y_true * classes + y_pred, minlength=classes * classes)
    matrix = matrix.reshape(classes, classes)
    true_positive = np.diag(matrix).astype(float)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)
    f1 = np.divide(2 * true_positive, denominator, out=np.zeros(classes), where=denominator > 0)
    return float(f1.mean())


def _roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    positives = y_true == 1
    count_positive, count_negative = int(positives.sum()), int((~positives).sum())
    if count_positive == 0 or count_negative == 0:
        return float("nan")
    ranks = scipy_stats.rankdata(score)
    return float((ranks[positives].sum() - count_positive * (count_positive + 1) / 2)
                 / (count_positive * count_negative))


METRICS = ("accuracy", "macro_f1", "roc_auc")


def metric_value(name: str, predictions: Predictions, rows: np.ndarray | None = None,
                 classes: int | None = None) -> float:
    """``name`` of ``predictions`` restricted to ``rows`` (all rows when None)."""
    y_true, y_pred = predictions.y_true, predictions.y_pred
    score = predictions.score
    if rows is not None:
        y_true, y_pred = y_true[rows], y_pred[rows]
        score = None if score is None else score[rows]
    if name == "accuracy":
        return float(np.mean(y_true == y_pred))
    if name == "macro_f1":
        count = classes or int(max(y_true.max(initial=0), y_pred.max(initial=0)) + 1)
        return _macro_f1(y_true, y_pred, count)
    if name == "roc_auc":
        if score is None:
            raise ValueError("roc_auc needs scores (P(class 1)) in the predictions")
        return _roc_auc(y_true, score)
    raise ValueError(f"metric must be one of {METRICS}, got {name!r}")


def _check_runs(runs: Sequence[Predictions], what: str = "runs") -> np.ndarray:
    if not runs:
        raise ValueError(f"{what}: no runs to summarise")
    reference = runs[0].y_true
    for run in runs[1:]:
        if not np.array_equal(run.y_true, reference):
            raise ValueError(f"{what}: the runs were not evaluated on the same test images in "
                             "the same order; intervals and paired tests need that")
    return reference


def _classes(runs: Sequence[Predictions]) -> int:
    return int(max(max(run.y_true.max(initial=0), run.y_pred.max(initial=0)) for run in runs) + 1)


# --------------------------------------------------------------------------- intervals


def bootstrap_distribution(runs: Sequence[Predictions], metric: str = "accuracy", *,
                           resamples: int = DEFAULT_RESAMPLES, seed: int = 0) -> np.ndarray:
    """The metric over ``resamples`` bootstrap draws (seeds and images, as described above)."""
    resamples = positive_int(resamples, "resamples")
    choice(metric, "metric", METRICS)
    y_true = _check_runs(runs)
    classes = _classes(runs)
    generator = np.random.default_rng(seed)
    images, seeds = y_true.size, len(runs)
    values = np.empty(resamples)
    for draw in range(resamples):
        rows = generator.integers(0, images, images)
        drawn = generator.integers(0, seeds, seeds) if seeds > 1 else [0]
        values[draw] = np.mean([metric_value(metric, runs[s], rows, classes) for s in drawn])
    return values


def spread(values: Sequence[float]) -> dict:
    values = np.asarray(values, dtype=float)
    return {"n_seeds": int(values.size), "mean": float(values.mean()), "min": float(values.min()),
            "median": float(np.median(values)), "max": float(values.max())}


def headline(runs: Sequence[Predictions], metric: str = "accuracy", *,
             resamples: int = DEFAULT_RESAMPLES, confidence: float = 0.95, seed: int = 0) -> dict:
    """``n_seeds, mean, min, median, max, ci_low, ci_high`` of ``metric`` over ``runs``
    (one run per seed of one configuration)."""
    classes = _classes(runs)
    per_seed = [metric_value(metric, run, classes=classes) for run in runs]
    distribution = bootstrap_distribution(runs, metric, resamples=resamples, seed=seed)
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(distribution, [tail, 100 - tail])
    return {**spread(per_seed), "ci_low": float(low), "ci_high": float(high)}


# --------------------------------------------------------------------------- paired tests


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """McNemar's test on paired right/wrong outcomes (``b``: only A right, ``c``: only B)."""
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if correct_a.shape != correct_b.shape:
        raise ValueError("McNemar needs the two models' outcomes on the same images")
    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(~correct_a & correct_b))
    discordant = only_a + only_b
    if discordant == 0:
        return {"b": 0, "c": 0, "statistic": 0.0, "p_value": 1.0, "method": "no discordant pairs"}
    if discordant < 25:
        p_value = float(scipy_stats.binomtest(only_a, discordant, 0.5).pvalue)
        return {"b": only_a, "c": only_b, "statistic": float(min(only_a, only_b)),
                "p_value": min(1.0, p_value), "method": "exact binomial"}
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    return {"b": only_a, "c": only_b, "statistic": float(statistic),
            "p_value": float(scipy_stats.chi2.sf(statistic, 1)),
            "method": "chi-square, continuity corrected"}


def paired_bootstrap(runs_a: Sequence[Predictions], runs_b: Sequence[Predictions],
                     metric: str = "macro_f1", *, resamples: int = DEFAULT_RESAMPLES,
                     confidence: float = 0.95, seed: int = 0) -> dict:
    """Difference A - B of ``metric`` on the same resampled images (seeds paired by
    position), its percentile interval and a two-sided bootstrap p-value."""
    resamples = positive_int(resamples, "resamples")
    y_true = _check_runs([*runs_a, *runs_b], "paired comparison")
    if len(runs_a) != len(runs_b):
        raise ValueError("a paired comparison pairs runs seed by seed: give both sides the "
                         f"same seeds (got {len(runs_a)} and {len(runs_b)} runs)")
    classes = _classes([*runs_a, *runs_b])
    generator = np.random.default_rng(seed)
    images, seeds = y_true.size, len(runs_a)
    observed = (np.mean([metric_value(metric, run, classes=classes) for run in runs_a])
                - np.mean([metric_value(metric, run, classes=classes) for run in runs_b]))
    differences = np.empty(resamples)
    for draw in range(resamples):
        rows = generator.integers(0, images, images)
        drawn = generator.integers(0, seeds, seeds) if seeds > 1 else [0]
        a = np.mean([metric_value(metric, runs_a[s], rows, classes) for s in drawn])
        b = np.mean([metric_value(metric, runs_b[s], rows, classes) for s in drawn])
        differences[draw] = a - b
    tail = (1 - confidence) / 2 * 100
    low, high = np.nanpercentile(differences, [tail, 100 - tail])
    # Draws where the metric is undefined (AUC with one class drawn) carry no evidence.
    defined = differences[np.isfinite(differences)]
    if defined.size == 0:
        return {"difference": float(observed), "ci_low": float("nan"),
                "ci_high": float("nan"), "p_value": float("nan"), "test": "paired bootstrap"}
    centred = defined - defined.mean()
    p_value = float(np.mean(np.abs(centred) >= abs(observed) - 1e-12))
    return {"difference": float(observed), "ci_low": float(low), "ci_high": float(high),
            "p_value": max(p_value, 1.0 / (resamples + 1)), "test": "paired bootstrap"}


def compare(runs_a: Sequence[Predictions], runs_b: Sequence[Predictions],
            metric: str = "accuracy", **options) -> dict:
    """A vs B: the difference with its interval (paired bootstrap) and the p-value of the
    test the data calls for (McNemar for accuracy with one seed a side, the paired
    bootstrap otherwise)."""
    result = paired_bootstrap(runs_a, runs_b, metric, **options)
    if metric == "accuracy" and len(runs_a) == 1:
        tested = mcnemar(runs_a[0].correct, runs_b[0].correct)
        result.update(p_value=tested["p_value"], test=f"McNemar ({tested['method']})",
                      discordant_a=tested["b"], discordant_b=tested["c"])
    elif len(runs_a) > 1:
        result["test"] = "paired bootstrap over seeds and images"
    return result


# --------------------------------------------------------------------------- verdicts


def verdict(paper: float | None, ci_low: float, ci_high: float, *, demo: bool) -> str:
    """How the paper's number sits against this run's interval."""
    if demo:
        return "not comparable: demo data"
    if paper is None or not np.isfinite(paper):
        return "not comparable: not reported"
    if ci_low <= paper <= ci_high:
        return "within interval"
    return "paper higher" if paper > ci_high else "paper lower"
