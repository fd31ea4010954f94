"""Choosing the rows a candidate trains and is judged on, and deciding whether it is blessed.

The gate follows TFX's Evaluator: absolute thresholds every model must meet, and a change
threshold against the baseline (the champion) measured on the same holdout rows. The verdict
keeps its reasons, because "not promoted" without a why is useless at 3 a.m.

The holdout is sized in rows, not days: the latest rows of the window. After a detected change
it is cut from the rows since the change, so the candidate trains on part of the new world and
both models are judged on the rest of it, which neither trained on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retrain_assets.core.metrics import LOWER_IS_BETTER, compute_metrics, relative_improvement


@dataclass(frozen=True)
class TrainingWindow:
    """Rows a candidate trains on, and the later rows it is judged on (never trained on).

    Rows are ordered by day, then by time within the day. The holdout is the latest
    `holdout_rows` of them; it starts inside `holdout_days[0]`, which training may share.
    Training is every earlier row of `train_days`; it starts at `change_day` when the rows
    since the change were enough to train on alone.
    """

    train_days: tuple[str, ...]
    holdout_days: tuple[str, ...]
    train_rows: int
    holdout_rows: int
    change_day: str | None = None
    trains_from_change: bool = False

    @property
    def trained_from(self) -> str | None:
        """The change day training started at, or None when it did not start at a change."""
        return self.change_day if self.trains_from_change else None

    @property
    def train_range(self) -> str:
        return f"{self.train_days[0]}..{self.train_days[-1]}"

    @property
    def holdout_range(self) -> str:
        return f"{self.holdout_days[0]}..{self.holdout_days[-1]}"


@dataclass(frozen=True)
class WindowSettings:
    """How much history a candidate sees and how much of the newest data judges it.

    The holdout is `holdout_fraction` of the window's rows, at least `min_holdout_rows`. With a
    known `change_day` it is at most half of the rows since the change (once there are
    `2 * min_holdout_rows` of them), and training starts at the change once the rest holds
    `min_rows_after_change` rows: after an abrupt change, rows of the old world only teach
    the model the relationship that no longer holds.
    """

    window_days: int = 28
    holdout_fraction: float = 0.05
    min_holdout_rows: int = 250
    min_train_days: int = 7
    min_rows_after_change: int = 1_000


def window_days(available_days: Sequence[str], days: int) -> list[str]:
    """The available days among the `days` calendar days that end with the newest one."""
    if not available_days:
        return []
    newest = max(available_days)
    start = (date.fromisoformat(newest) - timedelta(days=days - 1)).isoformat()
    return sorted(d for d in set(available_days) if d >= start)


def split_window(day_rows: Mapping[str, int], settings: WindowSettings = WindowSettings(), *,
                 change_day: str | None = None) -> TrainingWindow:
    """Split the newest `window_days` calendar days (rows per day given) into training and
    holdout rows; see `WindowSettings` for the rule."""
    if change_day:
        try:
            change_day = date.fromisoformat(change_day).isoformat()
        except ValueError as exc:
            raise ValueError(f"change_day {change_day!r} is not a date; write it as YYYY-MM-DD "
                             "(the first day of the new data) or leave it empty") from exc
    window = window_days([d for d, n in day_rows.items() if n > 0], settings.window_days)
    if not window:
        raise ValueError("no materialized `features` rows to train on. Materialize `features` "
                         "partitions first (a backfill of the landed days).")
    total = sum(day_rows[d] for d in window)
    holdout = max(settings.min_holdout_rows, math.ceil(settings.holdout_fraction * total))
    after_change = sum(day_rows[d] for d in window if change_day and d >= change_day)
    if after_change >= 2 * settings.min_holdout_rows:
        holdout = min(holdout, after_change // 2)
    from_change = (settings.min_rows_after_change > 0
                   and after_change - holdout >= settings.min_rows_after_change)
    train_from = change_day if from_change else window[0]
    holdout_days, left = [], holdout
    for day in reversed(window):
        if left <= 0:
            break
        holdout_days.insert(0, day)
        left -= day_rows[day]
    train_days = [d for d in window if d >= train_from
                  and (d < holdout_days[0] or (d == holdout_days[0] and left < 0))]
    train_rows = sum(day_rows[d] for d in window if d >= train_from) - holdout
    if train_rows <= 0 or (not from_change and len(train_days) < settings.min_train_days):
        raise ValueError(
            f"not enough data to train: {len(window)} materialized feature day(s) "
            f"({window[0]}..{window[-1]}, {total} rows) in the {settings.window_days}-day window; "
            f"after a {holdout}-row holdout {len(train_days)} training day(s) remain, need "
            f"{settings.min_train_days}. Materialize more `features` partitions (a backfill) or "
            "lower min_train_days / min_holdout_rows / holdout_fraction in the run config."
        )
    return TrainingWindow(train_days=tuple(train_days), holdout_days=tuple(holdout_days),
                          train_rows=train_rows, holdout_rows=holdout, change_day=change_day,
                          trains_from_change=from_change)


def in_row_order(frames: Mapping[str, pd.DataFrame], days: Sequence[str],
                 time_column: str) -> pd.DataFrame:
    """The rows of `days`, by day and then by time within the day (the order the split uses)."""
    return pd.concat([_by_time(frames[d], time_column) for d in sorted(days)], ignore_index=True)


def _by_time(frame: pd.DataFrame, time_column: str) -> pd.DataFrame:
    """Most days are stored in time order already; checking is cheaper than sorting."""
    if frame[time_column].is_monotonic_increasing:
        return frame
    return frame.sort_values(time_column, kind="stable")


def training_rows(frames: Mapping[str, pd.DataFrame], window: TrainingWindow,
                  time_column: str) -> pd.DataFrame:
    """The rows `window` trains on, from the frames of its days."""
    rows = in_row_order(frames, sorted({*window.train_days, *window.holdout_days}), time_column)
    return rows.iloc[:len(rows) - window.holdout_rows].reset_index(drop=True)


def holdout_rows(frames: Mapping[str, pd.DataFrame], holdout_days: Sequence[str], count: int,
                 time_column: str) -> pd.DataFrame:
    """The latest `count` rows of `holdout_days`: the rows a window holds out."""
    rows = in_row_order(frames, holdout_days, time_column)
    return rows.iloc[len(rows) - count:].reset_index(drop=True)


def metric_noise(task: str, metric: str, actual: pd.Series,
                 predicted: pd.Series | pd.DataFrame, *,
                 resamples: int = 200, max_rows: int = 20_000,
                 seed: int = 0) -> float | None:
    """How much `metric` moves by chance from one sample of rows to another.

    The bootstrap standard deviation of the metric, relative to its value and scaled to a
    single row (× √n): a sample of m rows then spreads by about `noise / √m`. Being per row, it
    is estimated on at most `max_rows` of the rows. Stored with a blessed model, it lets
    monitoring tell a small day's bad luck from decay. None when the rows cannot say (fewer
    than two, or a metric of zero).
    """
    rng = np.random.default_rng(seed)
    if task == "multiclass":  # labels, and a frame of class probabilities taken by position
        y, p = np.asarray(actual).astype(str), predicted.reset_index(drop=True)
    else:
        y, p = np.asarray(actual, dtype="float64"), np.asarray(predicted, dtype="float64")
    if y.size > max_rows:
        kept = rng.choice(y.size, size=max_rows, replace=False)
        y, p = y[kept], _rows(p, kept)
    value = compute_metrics(task, y, p)[metric] if y.size >= 2 else 0.0
    if y.size < 2 or not np.isfinite(value) or value == 0:
        return None
    draws = []
    for _ in range(resamples):
        picked = rng.integers(0, y.size, size=y.size)
        draws.append(compute_metrics(task, y[picked], _rows(p, picked))[metric])
    spread = np.array(draws)[np.isfinite(draws)]
    return float(spread.std() / abs(value) * np.sqrt(y.size)) if spread.size >= 2 else None


def _rows(values, positions):
    return values.iloc[positions] if isinstance(values, pd.DataFrame) else values[positions]


@dataclass(frozen=True)
class ImprovementInterval:
    """One-sided confidence bounds of the candidate's relative improvement over the champion
    (positive = candidate better), from `resamples` paired bootstrap resamples: with
    `confidence` the improvement is at least `low` (and at most `high`). One-sided, because
    the gate asks one question: is the candidate better?"""

    low: float
    high: float
    confidence: float
    resamples: int

    def describe(self) -> str:
        return (f"{self.confidence:.0%}-confidence bounds [{self.low:+.2%}, {self.high:+.2%}] "
                f"over {self.resamples} paired resamples")


@dataclass(frozen=True)
class Verdict:
    blessed: bool
    reasons: tuple[str, ...]
    primary_metric: str
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    improvement: float | None  # relative, on the primary metric; positive = candidate better
    below_floor: bool = False  # blessed under a floor it misses, because the champion misses it too
    interval: ImprovementInterval | None = None  # of `improvement`, from paired resamples

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> Verdict:
        interval = data.get("interval")
        return cls(**{**data, "reasons": tuple(data["reasons"]),
                      "interval": None if interval is None else ImprovementInterval(**interval)})


@dataclass(frozen=True)
class EvaluationReport:
    """A candidate judged against the champion of the time on the same holdout rows: what
    evaluation_report stores (as JSON, `to_dict`) and production_model acts on."""

    candidate_version: str
    candidate_run_id: str
    champion_version: str | None  # the champion the verdict was measured against
    holdout_days: tuple[str, ...]
    holdout_rows: int
    metrics: dict[str, dict[str, float]]  # "candidate" (and "champion") -> metric -> value
    verdict: Verdict

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> EvaluationReport:
        return cls(**{**data, "holdout_days": tuple(data["holdout_days"]),
                      "verdict": Verdict.from_dict(data["verdict"])})


def _meets(metric: str, value: float, bound: float) -> bool:
    return value <= bound if metric in LOWER_IS_BETTER else value >= bound


def _missing(value: float | None) -> bool:
    return value is None or math.isnan(value)


def decide_promotion(candidate: Mapping[str, float], champion: Mapping[str, float] | None, *,
                     primary_metric: str, absolute_thresholds: Mapping[str, float],
                     min_relative_improvement: float,
                     replace_failing_champion: bool = True,
                     interval: ImprovementInterval | None = None,
                     interval_clears_margin: bool = False) -> Verdict:
    """Blessed only if the candidate beats the champion on the primary metric by at least
    `min_relative_improvement` and meets every absolute threshold. Given the `interval` of
    that improvement (`core.gates.paired_bootstrap`), its lower bound must be above zero: a
    lead chance alone could produce is no lead. With `interval_clears_margin` the lower bound
    must clear the margin itself — stricter, and slower to follow a change, since small
    post-change holdouts give wide intervals (bench/README.md); against a champion that misses
    a floor (with `replace_failing_champion`) zero is still enough there, as keeping a model
    known to fail costs more than the margin protects.

    A floor stops garbage, not recovery: with `replace_failing_champion`, a floor the candidate
    misses is tolerated when the champion misses it too on the same rows and the candidate is
    no worse there. Such a verdict is flagged `below_floor`, since keeping the worse model
    serving helps no one.
    """
    reasons: list[str] = []
    blessed, tolerated = True, []
    for metric, bound in sorted(absolute_thresholds.items()):
        value = candidate.get(metric)
        held = None if champion is None else champion.get(metric)
        word = "max" if metric in LOWER_IS_BETTER else "min"
        if _missing(value):
            blessed = False
            reasons.append(f"FAIL {metric}: candidate has no value (threshold {word} {bound})")
        elif _meets(metric, value, bound):
            reasons.append(f"ok   {metric} {value:.4g} meets {word} {bound:.4g}")
        elif (replace_failing_champion and not _missing(held) and not _meets(metric, held, bound)
              and relative_improvement(metric, value, held) >= 0):
            tolerated.append(metric)
            reasons.append(f"below_floor {metric} {value:.4g} misses {word} {bound:.4g}, but the "
                           f"champion scores {held:.4g} on the same rows")
        else:
            blessed = False
            reasons.append(f"FAIL {metric} {value:.4g} misses {word} {bound:.4g}")

    improvement = None
    if champion is None:
        reasons.append("ok   no champion yet: the candidate bootstraps the first champion"
                       if blessed else "no champion yet, and the candidate cannot bootstrap one")
    else:
        cand, champ = candidate.get(primary_metric), champion.get(primary_metric)
        if _missing(cand) or _missing(champ):
            blessed = False
            reasons.append(f"FAIL {primary_metric} missing for candidate or champion; "
                           "cannot compare on the same holdout")
        else:
            improvement = relative_improvement(primary_metric, cand, champ)
            compared = (f"{primary_metric} {cand:.4g} vs champion {champ:.4g} "
                        f"({improvement:+.2%}, need ≥ {min_relative_improvement:+.2%})")
            sure = True
            if interval is not None:
                failing = replace_failing_champion and any(
                    not _missing(champion.get(m)) and not _meets(m, champion[m], bound)
                    for m, bound in absolute_thresholds.items())
                bar = min_relative_improvement if interval_clears_margin and not failing \
                    else 0.0
                sure = interval.low >= bar
                compared += (f"; {interval.describe()}, lower bound need ≥ {bar:+.2%}"
                             + (" (the champion misses a floor)"
                                if failing and interval_clears_margin else ""))
            if improvement >= min_relative_improvement and sure:
                reasons.append(f"ok   {compared}")
            else:
                blessed = False
                reasons.append(f"FAIL {compared}")
    below_floor = blessed and bool(tolerated)
    if below_floor:
        reasons.append(f"ok   below_floor: the champion misses {', '.join(tolerated)} too; the "
                       "better candidate replaces it (replace_failing_champion)")
    return Verdict(
        blessed=blessed, reasons=tuple(reasons), primary_metric=primary_metric,
        candidate_metrics=dict(candidate),
        champion_metrics=dict(champion) if champion is not None else None,
        improvement=improvement, below_floor=below_floor,
        interval=interval if champion is not None else None,
    )
