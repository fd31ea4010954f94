"""Metrics per task, and which direction is better for each.

scikit-learn is imported when metrics are computed: it takes seconds, and every run imports this
module with the code location.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})
METRICS_BY_TASK = {  # what compute_metrics reports, so a threshold on anything else is a typo
    "regression": ("rmse", "mae", "r2"),
    "classification": ("accuracy", "f1", "roc_auc"),
    "multiclass": ("f1_macro", "accuracy", "log_loss"),
}


def compute_metrics(task: str, actual: pd.Series, predicted: pd.Series | pd.DataFrame
                    ) -> dict[str, float]:
    """Regression: RMSE, MAE, R². Classification (predicted = P(1)): accuracy, F1, ROC AUC.
    Multiclass (predicted = one probability column per class): macro F1, accuracy, log loss;
    given only the predicted classes (a Series, as stored predictions hold), log loss is left
    out."""
    from sklearn import metrics as skm

    if task == "multiclass":
        return _multiclass_metrics(skm, actual, predicted)
    y_true = np.asarray(actual, dtype="float64")
    y_pred = np.asarray(predicted, dtype="float64")
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on zero rows")
    if task == "regression":
        return {
            "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
            "mae": float(skm.mean_absolute_error(y_true, y_pred)),
            "r2": float(skm.r2_score(y_true, y_pred)),
        }
    labels = (y_pred >= 0.5).astype(int)
    auc = (float(skm.roc_auc_score(y_true, y_pred)) if len(np.unique(y_true)) == 2
           else float("nan"))
    return {
        "accuracy": float(skm.accuracy_score(y_true, labels)),
        "f1": float(skm.f1_score(y_true, labels, zero_division=0)),
        "roc_auc": auc,
    }


def _multiclass_metrics(skm, actual, predicted) -> dict[str, float]:
    y_true = np.asarray(actual).astype(str)
    if len(y_true) == 0:
        raise ValueError("cannot compute metrics on zero rows")
    if isinstance(predicted, pd.Series):
        labels = np.asarray(predicted).astype(str)
        classes = sorted(set(y_true) | set(labels))
    else:
        classes = [str(c) for c in predicted.columns]
        probabilities = predicted.to_numpy(dtype="float64")
        labels = np.asarray(classes)[probabilities.argmax(axis=1)]
    metrics = {
        "f1_macro": float(skm.f1_score(y_true, labels, labels=classes, average="macro",
                                       zero_division=0)),
        "accuracy": float(skm.accuracy_score(y_true, labels)),
    }
    if not isinstance(predicted, pd.Series):
        metrics["log_loss"] = float(skm.log_loss(y_true, probabilities, labels=classes))
    return metrics


def relative_improvement(metric: str, candidate: float, baseline: float) -> float:
    """Positive when the candidate is better, as a fraction of the baseline."""
    delta = baseline - candidate if metric in LOWER_IS_BETTER else candidate - baseline
    return delta / max(abs(baseline), 1e-12)
