"""The gates that know uncertainty: how sure a candidate's lead over the champion is, and
whether it holds in every segment of the holdout.

Both models score the same holdout rows, so their difference is measured on paired rows: a
bootstrap resamples rows (not models), and the spread of candidate-minus-champion over the
resamples is what chance alone could have produced. A candidate inside that noise is not better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from retrain_assets.core.evaluation import ImprovementInterval, Verdict
from retrain_assets.core.metrics import LOWER_IS_BETTER, compute_metrics, relative_improvement

DEFAULT_CONFIDENCE = 0.9
DEFAULT_RESAMPLES = 300
RESAMPLED_VALUES = 2_000_000  # values drawn at once: bounds memory on a large holdout


def paired_bootstrap(task: str, metric: str, actual: pd.Series,
                     candidate: pd.Series | pd.DataFrame, champion: pd.Series | pd.DataFrame,
                     *, confidence: float = DEFAULT_CONFIDENCE,
                     resamples: int = DEFAULT_RESAMPLES, seed: int = 0
                     ) -> ImprovementInterval | None:
    """The bounds of the candidate's relative improvement on `metric`, both models scored
    on the same resampled rows each time. None when the rows cannot say (fewer than two, or a
    metric undefined on every resample, e.g. ROC AUC of one class)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence is {confidence}: give a share between 0 and 1, e.g. 0.9")
    rows = len(actual)
    if rows < 2:
        return None
    rng = np.random.default_rng(seed)
    chunk = max(1, RESAMPLED_VALUES // rows)
    draws = []
    for start in range(0, resamples, chunk):
        picked = rng.integers(0, rows, size=(min(chunk, resamples - start), rows))
        ours = resampled_metric(task, metric, actual, candidate, picked)
        theirs = resampled_metric(task, metric, actual, champion, picked)
        delta = theirs - ours if metric in LOWER_IS_BETTER else ours - theirs
        draws.append(delta / np.maximum(np.abs(theirs), 1e-12))
    improvements = np.concatenate(draws)
    improvements = improvements[np.isfinite(improvements)]
    if improvements.size < 2:
        return None
    low, high = np.quantile(improvements, [1 - confidence, confidence])
    return ImprovementInterval(low=float(low), high=float(high), confidence=confidence,
                               resamples=int(improvements.size))


def resampled_metric(task: str, metric: str, actual: pd.Series,
                     predicted: pd.Series | pd.DataFrame, picked: np.ndarray) -> np.ndarray:
    """`metric` on each row of `picked` (resamples × row positions): vectorised for the
    metrics the platform gates on most, scikit-learn per resample for the rest."""
    if task != "multiclass":
        y = np.asarray(actual, dtype="float64")
        p = np.asarray(predicted, dtype="float64")
        if metric in ("rmse", "mae", "r2"):
            error = (y - p)[picked]
            if metric == "mae":
                return np.abs(error).mean(axis=1)
            if metric == "rmse":
                return np.sqrt((error ** 2).mean(axis=1))
            truth = y[picked]
            spread = ((truth - truth.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                return 1 - (error ** 2).sum(axis=1) / spread
        if metric == "accuracy":
            return ((p >= 0.5) == (y == 1))[picked].mean(axis=1)
        if metric == "roc_auc":
            return _roc_auc(y[picked], p[picked])
    return np.array([compute_metrics(task, _take(actual, row), _take(predicted, row))[metric]
                     for row in picked])


def _roc_auc(truth: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """ROC AUC per row, as the Mann-Whitney statistic on tie-averaged ranks; NaN for a row
    with one class."""
    from scipy.stats import rankdata

    ranks = rankdata(scores, axis=1)
    positives = truth.sum(axis=1)
    negatives = truth.shape[1] - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = ((ranks * truth).sum(axis=1) - positives * (positives + 1) / 2) \
            / (positives * negatives)
    return np.where((positives > 0) & (negatives > 0), auc, np.nan)


def _take(values, positions):
    if isinstance(values, pd.DataFrame):
        return values.iloc[positions].reset_index(drop=True)
    return np.asarray(values)[positions]


@dataclass(frozen=True)
class SegmentGate:
    """Segments of declared columns, each scored for both models on its holdout rows."""

    table: pd.DataFrame  # column, segment, rows, candidate, champion, change, status
    failures: tuple[str, ...]


def segment_gate(task: str, metric: str, holdout: pd.DataFrame, columns: Sequence[str],
                 actual: pd.Series, candidate, champion, *, min_rows: int,
                 max_regression: float) -> SegmentGate:
    """No segment (a value of a declared column) with at least `min_rows` holdout rows may be
    worse for the candidate than for the champion by more than `max_regression` (relative)."""
    missing = [c for c in columns if c not in holdout.columns]
    if missing:
        raise ValueError(f"segment column(s) {missing} are not columns of the holdout rows; "
                         f"declare segments among {sorted(holdout.columns)}")
    rows, failures = [], []
    for column in columns:
        for value, index in holdout.groupby(column, observed=True, dropna=False).indices.items():
            row = {"column": column, "segment": str(value), "rows": len(index),
                   "candidate": None, "champion": None, "change": None, "status": "too few rows"}
            if len(index) >= min_rows:
                ours = compute_metrics(task, _take(actual, index), _take(candidate, index))[metric]
                theirs = compute_metrics(task, _take(actual, index),
                                         _take(champion, index))[metric]
                change = relative_improvement(metric, ours, theirs)
                regressed = bool(np.isfinite(change)) and change < -max_regression
                row.update(candidate=round(ours, 4), champion=round(theirs, 4),
                           change=round(change, 4), status="REGRESSED" if regressed else "ok")
                if regressed:
                    failures.append(
                        f"FAIL segment {column}={value} ({len(index)} rows): {metric} "
                        f"{ours:.4g} vs champion {theirs:.4g} ({change:+.2%}, allowed down to "
                        f"{-max_regression:+.2%}). The candidate is worse for these rows; "
                        "look at them before promoting it by hand")
            rows.append(row)
    table = pd.DataFrame(rows, columns=["column", "segment", "rows", "candidate", "champion",
                                        "change", "status"])
    return SegmentGate(table=table, failures=tuple(failures))


def with_segment_gate(verdict: Verdict, gate: SegmentGate) -> Verdict:
    """The verdict with the segment gate applied: not blessed when any segment regressed."""
    checked = int((gate.table["status"] != "too few rows").sum())
    summary = (f"ok   segments: none of {checked} segment(s) with enough rows regressed"
               if not gate.failures else None)
    blessed = verdict.blessed and not gate.failures
    return replace(verdict, blessed=blessed, below_floor=verdict.below_floor and blessed,
                   reasons=(*verdict.reasons, *(gate.failures or (summary,))))
