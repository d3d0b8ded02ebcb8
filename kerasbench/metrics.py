"""Classification and verification metrics, computed with scikit-learn from one pass."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn import metrics as sk_metrics


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], class_names: Sequence[str]
) -> dict:
    """Accuracy, macro and weighted precision/recall/F1, per-class metrics and the confusion
    matrix (rows true, columns predicted, in ``class_names`` order)."""
    y_true = np.asarray(y_true).astype(int).ravel()
    y_pred = np.asarray(y_pred).astype(int).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true has {y_true.size} labels but y_pred has {y_pred.size}; they must come "
            "from the same pass over the same split"
        )
    if y_true.size == 0:
        raise ValueError("cannot compute metrics on an empty split")
    labels = list(range(len(class_names)))
    result = {"accuracy": float(sk_metrics.accuracy_score(y_true, y_pred)), "count": int(y_true.size)}
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = sk_metrics.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=average, zero_division=0
        )
        result[f"{average}_precision"] = float(precision)
        result[f"{average}_recall"] = float(recall)
        result[f"{average}_f1"] = float(f1)
    precision, recall, f1, support = sk_metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    result["per_class"] = {
        name: {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    result["confusion_matrix"] = sk_metrics.confusion_matrix(y_true, y_pred, labels=labels).tolist()
    result["class_names"] = list(class_names)
    predicted_classes = np.unique(y_pred)
    # A model that answers one class for everything has "collapsed": report it, don't hide it.
    result["collapsed"] = bool(predicted_classes.size == 1 and len(class_names) > 1)
    return result


def binary_scores(y_true: Sequence[int], scores: Sequence[float]) -> dict:
    """ROC-AUC, ROC curve and equal error rate for scores where higher means class 1."""
    y_true = np.asarray(y_true).astype(int).ravel()
    scores = np.asarray(scores, dtype=float).ravel()
    if np.unique(y_true).size < 2:
        return {"roc_auc": None, "eer": None, "roc_curve": None}
    false_positive, true_positive, thresholds = sk_metrics.roc_curve(y_true, scores)
    false_negative = 1.0 - true_positive
    crossing = int(np.nanargmin(np.abs(false_negative - false_positive)))
    eer = float((false_positive[crossing] + false_negative[crossing]) / 2.0)
    return {
        "roc_auc": float(sk_metrics.roc_auc_score(y_true, scores)),
        "eer": eer,
        "eer_threshold": float(thresholds[crossing]),
        "roc_curve": {
            "fpr": false_positive.tolist(),
            "tpr": true_positive.tolist(),
            "thresholds": np.nan_to_num(thresholds, posinf=1e308).tolist(),
        },
    }


def summary(metrics: dict, keys: Sequence[str] = ("accuracy", "macro_precision", "macro_recall", "macro_f1")) -> dict:
    """The scalar headline numbers of a metrics dict."""
    return {key: metrics[key] for key in keys if key in metrics}
