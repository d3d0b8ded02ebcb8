import numpy as np
import pandas as pd
import pytest

from kerasbench import metrics, reports
from kerasbench.balancing import balance, class_count_table, class_weights, oversample_frame


def test_classification_metrics_per_class_and_confusion():
    result = metrics.classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 2], ["a", "b", "c"])
    assert result["accuracy"] == pytest.approx(0.8)
    assert result["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [0, 0, 1]]
    assert result["per_class"]["b"]["precision"] == pytest.approx(2 / 3)
    assert result["macro_recall"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert result["collapsed"] is False


def test_collapse_is_reported():
    result = metrics.classification_metrics([0, 1, 1, 0], [0, 0, 0, 0], ["different", "same"])
    assert result["collapsed"] is True
    assert result["per_class"]["same"]["f1"] == 0.0


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="same pass"):
        metrics.classification_metrics([0, 1], [0], ["a", "b"])


def test_binary_scores_auc_and_eer():
    result = metrics.binary_scores([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert result["roc_auc"] == pytest.approx(0.75)
    assert 0 <= result["eer"] <= 0.5
    perfect = metrics.binary_scores([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert perfect["roc_auc"] == 1.0 and perfect["eer"] == 0.0


def test_compare_with_paper_difference():
    table = reports.compare_with_paper({"f1": 0.9, "time": None}, {"f1": 0.8, "time": 3.0})
    assert table.loc["f1", "difference"] == pytest.approx(-0.1)
    assert table.loc["time", "difference"] is None or pd.isna(table.loc["time", "difference"])


def test_save_table_writes_csv_and_markdown_with_note(tmp_path):
    paths = reports.save_table(pd.DataFrame({"a": [1]}), tmp_path / "t", note=reports.DEMO_NOTE)
    assert paths["csv"].exists()
    assert "DEMO DATA" in paths["markdown"].read_text()


def test_save_table_adds_a_demo_column_to_the_csv(tmp_path):
    paths = reports.save_table(pd.DataFrame({"a": [1]}), tmp_path / "t", index=False, demo=True)
    assert pd.read_csv(paths["csv"]).to_dict("records") == [{"a": 1, "demo": True}]


def test_markdown_is_flat_and_rounded_while_the_csv_keeps_every_digit(tmp_path):
    rows = pd.MultiIndex.from_tuples([("E1", "accuracy"), ("E1", "lr")],
                                     names=["experiment", "quantity"])
    columns = pd.MultiIndex.from_tuples([("this run", "mean"), ("paper", "")])
    frame = pd.DataFrame([[0.8361234, 0.8362], [0.0000157, 1e-4]], index=rows, columns=columns)
    paths = reports.save_table(frame, tmp_path / "t", index=True, decimals=3)
    markdown = paths["markdown"].read_text()
    assert "('" not in markdown and "experiment" in markdown and "this run mean" in markdown
    assert "0.836 " in markdown and "1.57e-05" in markdown and "0.0001" in markdown
    assert "0.8361234" in paths["csv"].read_text()
    assert reports.display_number(0.0123, 2) == 0.0123 and reports.display_number(0.6637, 2) == 0.66
    assert reports.display_number(7, 2) == 7 and reports.display_number(True, 2) is True


def _frame(labels):
    return pd.DataFrame({"path": [f"f{i}.png" for i in range(len(labels))], "label": labels,
                         "split": "train"})


def test_oversampling_works_on_rows_and_is_seeded():
    frame = _frame([0] * 6 + [1] * 2 + [2] * 1)
    first, second = oversample_frame(frame, seed=42), oversample_frame(frame, seed=42)
    assert first["label"].value_counts().to_dict() == {0: 6, 1: 6, 2: 6}
    pd.testing.assert_frame_equal(first, second)
    # every row is an original row (the index is resampled, not pixels)
    assert set(first["path"]) <= set(frame["path"])


def test_oversampling_refuses_other_splits():
    frame = _frame([0, 1]).assign(split=["train", "test"])
    with pytest.raises(ValueError, match="training split only"):
        oversample_frame(frame)


def test_class_weights_and_balance_dispatch():
    weights = class_weights([0, 0, 0, 1], 2)
    assert weights[1] == pytest.approx(3 * weights[0])
    frame = _frame([0, 0, 1])
    balanced, weight = balance(frame, "class_weight", 2)
    assert balanced is frame and weight is not None
    with pytest.raises(ValueError, match="balancing"):
        balance(frame, "smote", 2)
    table = class_count_table(frame, oversample_frame(frame), ["a", "b"])
    assert table.loc["b"].tolist() == [1, 2]


def test_roc_for_single_class_is_none():
    assert metrics.binary_scores([1, 1], [0.2, 0.3])["roc_auc"] is None
    assert np.isfinite(metrics.binary_scores([0, 1], [0.2, 0.3])["roc_auc"])
