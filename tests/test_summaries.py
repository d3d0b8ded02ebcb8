"""Seed tables, paired comparisons, verdicts and the spread figure, from RunRecords."""

import numpy as np
import pytest

from kerasbench import summaries
from kerasbench.records import RunRecord
from kerasbench.studies.base import PlannedRun


def _record(experiment, seed, accuracy, y_true):
    generator = np.random.default_rng(seed + 100 * len(experiment))
    correct = generator.random(y_true.size) < accuracy
    y_pred = np.where(correct, y_true, 1 - y_true)
    return RunRecord(study="toy", experiment=experiment, config={"lr": 0.1, "seed": seed},
                     dataset_fingerprint="fp", protocol_version="1", seed=seed,
                     metrics={"test": {"accuracy": float(correct.mean())}},
                     extra={"predictions": {"test": {"y_true": y_true.tolist(),
                                                     "y_pred": y_pred.tolist()}}})


@pytest.fixture
def records():
    y_true = np.random.default_rng(0).integers(0, 2, 400)
    return ([_record("good", seed, 0.9, y_true) for seed in (0, 1, 2)]
            + [_record("poor", seed, 0.7, y_true) for seed in (0, 1, 2)])


def test_with_seeds_repeats_each_run_per_seed():
    planned = summaries.with_seeds([PlannedRun("a", {"lr": 1, "seed": 42})], [0, 1, 2])
    assert [run.config["seed"] for run in planned] == [0, 1, 2]
    for bad in (3, "0,1", [], [1, 1], [-1]):
        with pytest.raises(ValueError, match="seeds"):
            summaries.with_seeds([], bad)


def test_headline_table_groups_seeds_by_configuration(records):
    table = summaries.headline_table(records, "accuracy", resamples=500)
    assert list(table.columns[-7:]) == ["n_seeds", "mean", "min", "median", "max", "ci_low",
                                        "ci_high"]
    good = table.set_index("configuration").loc["good"]
    assert good["n_seeds"] == 3 and good["seeds"] == "0, 1, 2"
    assert good["ci_low"] < good["mean"] < good["ci_high"]
    assert 0.85 < good["mean"] < 0.95


def test_paired_table_and_verdicts(records):
    paired = summaries.paired_table(records, [("good", "poor")], "accuracy", resamples=500)
    assert paired.loc[0, "difference"] > 0.1 and paired.loc[0, "p_value"] < 0.01
    assert paired.loc[0, "test"] == "paired bootstrap over seeds and images"
    one_seed = summaries.paired_table([r for r in records if r.seed == 0], [("good", "poor")],
                                      "accuracy", resamples=500)
    assert one_seed.loc[0, "test"].startswith("McNemar") and one_seed.loc[0, "p_value"] < 1e-6
    headline = summaries.headline_table(records, resamples=500)
    verdicts = summaries.paper_verdicts(headline, {"good": 0.9, "poor": 0.99}, demo=False)
    assert dict(zip(verdicts["configuration"], verdicts["verdict"])) == {
        "good": "within interval", "poor": "paper higher"}
    demo = summaries.paper_verdicts(headline, {"good": 0.9}, demo=True)
    assert demo["verdict"].tolist() == ["not comparable: demo data"]
    sentences = summaries.verdict_sentences(verdicts)
    assert len(sentences) == 2 and "consistent with the paper" in sentences[0]


def test_spread_figure_renders(records, tmp_path):
    from kerasbench import plots

    headline = summaries.headline_table(records, resamples=200)
    intervals = {row.configuration: (row.ci_low, row.ci_high) for row in headline.itertuples()}
    figure = plots.seed_spread(summaries.seed_values(records), intervals, tmp_path / "s.png",
                               paper={"good": 0.9}, metric="accuracy", title="spread",
                               note="DEMO")
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert len(figure.axes[0].collections) >= 3


def test_records_without_predictions_name_the_run():
    record = RunRecord(study="toy", experiment="x", config={"seed": 0},
                       dataset_fingerprint="fp", protocol_version="1",
                       metrics={"test": {"accuracy": 1.0}})
    with pytest.raises(ValueError, match="per-image"):
        summaries.headline_table([record])
