"""Performance estimated before labels arrive (confidence-based, CBPE-style), for binary
classification.

A classifier's calibrated probability is the chance its row is positive, so a day's expected
confusion matrix, and with it ROC AUC and accuracy, follows from the probabilities alone. The
calibration is fitted on the model's holdout (isotonic: monotone, so it keeps the model's
ranking) and kept as a small table, so applying it needs neither scikit-learn nor a pickle.
The estimate is right while the relation between features and label holds (covariate shift);
a concept change is what only realized performance shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_CALIBRATION_ROWS = 100  # fewer holdout rows make the isotonic steps noise


@dataclass(frozen=True)
class Calibration:
    """A monotone map from the model's raw probability to the observed positive rate."""

    raw: tuple[float, ...]
    calibrated: tuple[float, ...]

    def apply(self, probabilities) -> np.ndarray:
        return np.interp(np.asarray(probabilities, dtype="float64"), self.raw, self.calibrated)

    def to_dict(self) -> dict[str, list[float]]:
        return {"raw": list(self.raw), "calibrated": list(self.calibrated)}

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        return cls(tuple(map(float, data["raw"])), tuple(map(float, data["calibrated"])))


def fit_calibration(probabilities, labels) -> Calibration:
    """Isotonic calibration of P(1) on labelled rows (the model's holdout)."""
    from sklearn.isotonic import IsotonicRegression

    p = np.asarray(probabilities, dtype="float64")
    y = np.asarray(labels, dtype="float64")
    if len(p) < MIN_CALIBRATION_ROWS or len(np.unique(y)) < 2:
        raise ValueError(
            f"calibrating needs at least {MIN_CALIBRATION_ROWS} labelled rows of both classes; "
            f"got {len(p)} rows with classes {sorted(set(y.tolist()))}")
    isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(p, y)
    return Calibration(tuple(map(float, isotonic.X_thresholds_)),
                       tuple(map(float, isotonic.y_thresholds_)))


def holdout_calibration(task: str, probabilities, labels) -> Calibration | None:
    """The calibration the estimate needs, for a binary classifier whose holdout can give one
    (None otherwise: regression, multiclass, or too few rows of a class)."""
    if task != "classification":
        return None
    try:
        return fit_calibration(probabilities, labels)
    except ValueError:
        return None


def estimate_performance(probabilities, calibration: Calibration) -> dict[str, float]:
    """Expected ROC AUC and accuracy (threshold 0.5 on the raw probability) of unlabelled rows.

    Each row counts as `q` of a positive and `1 − q` of a negative, q its calibrated
    probability; rows are ranked by the raw probability, ties together, as roc_auc_score does.
    """
    raw = np.asarray(probabilities, dtype="float64")
    if len(raw) == 0:
        raise ValueError("cannot estimate performance on zero rows")
    q = calibration.apply(raw)
    accuracy = float(np.mean(np.where(raw >= 0.5, q, 1.0 - q)))
    positives, negatives = q.sum(), (1.0 - q).sum()
    if positives <= 0 or negatives <= 0:
        return {"roc_auc": float("nan"), "accuracy": accuracy}
    order = np.argsort(-raw, kind="stable")
    ranked, q_ranked = raw[order], q[order]
    last_of_tie = np.r_[ranked[1:] != ranked[:-1], True]
    tpr = np.r_[0.0, np.cumsum(q_ranked)[last_of_tie] / positives]
    fpr = np.r_[0.0, np.cumsum(1.0 - q_ranked)[last_of_tie] / negatives]
    return {"roc_auc": float(np.trapezoid(tpr, fpr)), "accuracy": accuracy}
