"""Choosing the holdout and deciding whether a candidate is blessed.

The gate follows TFX's Evaluator: absolute thresholds every model must meet, and a change
threshold against the baseline (the champion) measured on the same holdout. The verdict keeps
its reasons, because "not promoted" without a why is useless at 3 a.m.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, timedelta

from retrain_assets.core.metrics import LOWER_IS_BETTER, relative_improvement


@dataclass(frozen=True)
class TrainingWindow:
    """Days a candidate trains on, and the later days it is judged on (never trained on)."""

    train_days: tuple[str, ...]
    holdout_days: tuple[str, ...]

    @property
    def train_range(self) -> str:
        return f"{self.train_days[0]}..{self.train_days[-1]}"

    @property
    def holdout_range(self) -> str:
        return f"{self.holdout_days[0]}..{self.holdout_days[-1]}"


def split_window(available_days: Sequence[str], *, window_days: int, holdout_days: int,
                 min_train_days: int = 7) -> TrainingWindow:
    """Holdout = the latest `holdout_days` available days; training = the available days among
    the `window_days` calendar days before the holdout starts."""
    days = sorted(set(available_days))
    if len(days) < holdout_days + min_train_days:
        raise ValueError(
            f"need at least {holdout_days + min_train_days} materialized days of features "
            f"({holdout_days} holdout + {min_train_days} training), found {len(days)}"
            + (f" ({days[0]}..{days[-1]})" if days else "")
            + ". Materialize more `features` partitions (a backfill) or lower "
            "holdout_days/min_train_days in the run config."
        )
    holdout = tuple(days[-holdout_days:])
    holdout_start = date.fromisoformat(holdout[0])
    window_start = (holdout_start - timedelta(days=window_days)).isoformat()
    train = tuple(d for d in days[:-holdout_days] if d >= window_start)
    if len(train) < min_train_days:
        raise ValueError(
            f"only {len(train)} materialized feature days fall in the {window_days}-day window "
            f"before the holdout ({window_start}..{holdout[0]}, exclusive); need "
            f"{min_train_days}. Backfill the missing `features` partitions."
        )
    return TrainingWindow(train_days=train, holdout_days=holdout)


@dataclass(frozen=True)
class Verdict:
    blessed: bool
    reasons: tuple[str, ...]
    primary_metric: str
    candidate_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None
    improvement: float | None  # relative, on the primary metric; positive = candidate better

    def to_dict(self) -> dict:
        return asdict(self)


def _meets(metric: str, value: float, bound: float) -> bool:
    return value <= bound if metric in LOWER_IS_BETTER else value >= bound


def decide_promotion(candidate: Mapping[str, float], champion: Mapping[str, float] | None, *,
                     primary_metric: str, absolute_thresholds: Mapping[str, float],
                     min_relative_improvement: float) -> Verdict:
    """Blessed only if every absolute threshold holds and, when there is a champion, the
    candidate beats it on the primary metric by at least `min_relative_improvement`."""
    reasons: list[str] = []
    blessed = True
    for metric, bound in sorted(absolute_thresholds.items()):
        value = candidate.get(metric)
        word = "max" if metric in LOWER_IS_BETTER else "min"
        if value is None or math.isnan(value):
            blessed = False
            reasons.append(f"FAIL {metric}: candidate has no value (threshold {word} {bound})")
        elif _meets(metric, value, bound):
            reasons.append(f"ok   {metric} {value:.4g} meets {word} {bound:.4g}")
        else:
            blessed = False
            reasons.append(f"FAIL {metric} {value:.4g} misses {word} {bound:.4g}")

    improvement = None
    if champion is None:
        reasons.append("ok   no champion yet: the candidate bootstraps the first champion"
                       if blessed else "no champion yet, and the candidate cannot bootstrap one")
    else:
        cand, champ = candidate.get(primary_metric), champion.get(primary_metric)
        if cand is None or champ is None or math.isnan(cand) or math.isnan(champ):
            blessed = False
            reasons.append(f"FAIL {primary_metric} missing for candidate or champion; "
                           "cannot compare on the same holdout")
        else:
            improvement = relative_improvement(primary_metric, cand, champ)
            compared = (f"{primary_metric} {cand:.4g} vs champion {champ:.4g} "
                        f"({improvement:+.2%}, need ≥ {min_relative_improvement:+.2%})")
            if improvement >= min_relative_improvement:
                reasons.append(f"ok   {compared}")
            else:
                blessed = False
                reasons.append(f"FAIL {compared}")
    return Verdict(
        blessed=blessed, reasons=tuple(reasons), primary_metric=primary_metric,
        candidate_metrics=dict(candidate),
        champion_metrics=dict(champion) if champion is not None else None,
        improvement=improvement,
    )
