"""Statistics against known values: interval coverage, McNemar by hand, paired tests."""

import numpy as np
import pytest

from kerasbench import stats


def _run(y_true, correct, classes=2, seed=0):
    generator = np.random.default_rng(seed)
    wrong = (y_true + generator.integers(1, classes, y_true.size)) % classes
    return stats.Predictions(y_true, np.where(correct, y_true, wrong))


def test_bootstrap_interval_covers_a_known_accuracy_at_the_stated_rate():
    generator = np.random.default_rng(0)
    truth, covered, simulations = 0.7, 0, 150
    for simulation in range(simulations):
        y_true = generator.integers(0, 2, 200)
        run = _run(y_true, generator.random(200) < truth, seed=simulation)
        result = stats.headline([run], "accuracy", resamples=1000, seed=simulation)
        covered += result["ci_low"] <= truth <= result["ci_high"]
    assert 0.89 <= covered / simulations <= 0.99


def test_headline_has_the_shared_columns_and_spread_over_seeds():
    generator = np.random.default_rng(1)
    y_true = generator.integers(0, 3, 300)
    runs = [_run(y_true, generator.random(300) < p, classes=3, seed=i)
            for i, p in enumerate((0.6, 0.7, 0.8))]
    result = stats.headline(runs, "macro_f1", resamples=1000)
    assert tuple(result) == stats.HEADLINE_COLUMNS
    assert result["n_seeds"] == 3 and result["min"] < result["median"] < result["max"]
    # Seeds and images both vary: wider than one seed's image-only interval.
    one = stats.headline(runs[1:2], "macro_f1", resamples=1000)
    assert result["ci_high"] - result["ci_low"] > one["ci_high"] - one["ci_low"]


def test_mcnemar_matches_hand_computed_tables():
    # b = 10 (only A right), c = 3: exact two-sided binomial = 2 * 378 / 8192.
    a = np.array([True] * 10 + [False] * 3 + [True] * 20)
    b = np.array([False] * 10 + [True] * 3 + [True] * 20)
    result = stats.mcnemar(a, b)
    assert (result["b"], result["c"]) == (10, 3)
    assert result["p_value"] == pytest.approx(2 * 378 / 8192)
    # b = 30, c = 15: chi-square with continuity correction (|30-15|-1)^2/45 = 4.3556.
    a = np.array([True] * 30 + [False] * 15)
    result = stats.mcnemar(a, ~a)
    assert result["statistic"] == pytest.approx(196 / 45)
    assert result["p_value"] == pytest.approx(0.036888, abs=1e-5)
    assert stats.mcnemar(a, a)["p_value"] == 1.0


def test_paired_tests_find_a_planted_difference_and_not_an_absent_one():
    generator = np.random.default_rng(2)
    y_true = generator.integers(0, 2, 600)
    base = generator.random(600) < 0.85
    worse = base & (generator.random(600) > 0.12)  # B loses 12 % of A's right answers
    a, b = _run(y_true, base, seed=1), _run(y_true, worse, seed=1)
    planted = stats.compare([a], [b], "accuracy", resamples=1000)
    assert planted["difference"] > 0 and planted["p_value"] < 0.001
    assert planted["ci_low"] > 0
    f1 = stats.compare([a], [b], "macro_f1", resamples=1000)
    assert f1["test"] == "paired bootstrap" and f1["p_value"] < 0.01
    # Same accuracy, independent errors: no difference to find.
    other = _run(y_true, generator.random(600) < 0.85, seed=3)
    absent = stats.compare([a], [other], "accuracy", resamples=1000)
    assert absent["p_value"] > 0.05 and absent["ci_low"] < 0 < absent["ci_high"]


def test_auc_matches_scikit_learn():
    from sklearn.metrics import roc_auc_score

    generator = np.random.default_rng(3)
    y_true = generator.integers(0, 2, 100)
    score = generator.random(100) + 0.3 * y_true
    run = stats.Predictions(y_true, (score > 0.6).astype(int), score)
    assert stats.metric_value("roc_auc", run) == pytest.approx(roc_auc_score(y_true, score))


def test_verdicts():
    assert stats.verdict(0.8, 0.75, 0.85, demo=False) == "within interval"
    assert stats.verdict(0.9, 0.75, 0.85, demo=False) == "paper higher"
    assert stats.verdict(0.7, 0.75, 0.85, demo=False) == "paper lower"
    assert stats.verdict(0.8, 0.75, 0.85, demo=True) == "not comparable: demo data"
    assert stats.verdict(None, 0.75, 0.85, demo=False) == "not comparable: not reported"


def test_runs_on_other_images_are_refused():
    a = stats.Predictions([0, 1, 1], [0, 1, 0])
    b = stats.Predictions([1, 1, 0], [0, 1, 0])
    with pytest.raises(ValueError, match="same test images"):
        stats.compare([a], [b])


def test_several_seeds_use_the_bootstrap_over_seeds_and_images():
    generator = np.random.default_rng(4)
    y_true = generator.integers(0, 2, 300)
    runs_a = [_run(y_true, generator.random(300) < 0.9, seed=i) for i in range(3)]
    runs_b = [_run(y_true, generator.random(300) < 0.7, seed=i) for i in range(3)]
    result = stats.compare(runs_a, runs_b, "accuracy", resamples=500)
    assert result["test"] == "paired bootstrap over seeds and images"
    assert result["difference"] > 0.1 and result["p_value"] < 0.01
    with pytest.raises(ValueError, match="same seeds"):
        stats.compare(runs_a, runs_b[:2])
