"""Shadow challenger: judging a blessed candidate on live days before it replaces the champion.

A holdout says how a candidate did on the past; a shadow period says how it does on the days
that came after, on the same rows the champion scored. Each labelled live day is one comparison;
the challenger is promoted once it has beaten the champion on `required_wins` of them, retired
once the champion has beaten it on as many, or when the shadow period runs out first.

Wins are counted in total, not in a row: labels arrive late and out of order, and one noisy day
should not wipe out a record that the race's other side (the champion's wins) already bounds.
Days are taken in date order, so the verdict is the same whenever it is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import isnan

import pandas as pd

from retrain_assets.core.metrics import compute_metrics, relative_improvement

PROMOTE, RETIRE, WAIT = "promote", "retire", "wait"
# prediction columns of the challenger, stored beside the champion's in predictions[day]
CHALLENGER_PREDICTION = "challenger_prediction"
CHALLENGER_CLASS = "challenger_predicted_class"
CHALLENGER_VERSION = "challenger_version"


@dataclass(frozen=True)
class DayComparison:
    """Champion and challenger on the labelled rows of one live day (the same rows for both)."""

    day: str
    rows: int
    champion: float
    challenger: float

    def outcome(self, metric: str) -> str:
        """`win` (the challenger is better), `loss`, or `tie` (equal, or not measurable)."""
        if isnan(self.champion) or isnan(self.challenger):
            return "tie"
        better = relative_improvement(metric, self.challenger, self.champion)
        return "win" if better > 0 else "loss" if better < 0 else "tie"


@dataclass(frozen=True)
class ShadowVerdict:
    decision: str  # PROMOTE | RETIRE | WAIT
    reason: str
    wins: int
    losses: int
    labelled_days: int


def compare_day(day: str, labelled: pd.DataFrame, *, task: str, metric: str,
                challenger_version: str) -> DayComparison | None:
    """The comparison on one day's labelled rows that `challenger_version` scored, or None when
    it has none. `labelled` holds the day's stored predictions with their labels (`actual`):
    stored with them, or joined from a label feed (`core.labels.scored_with_labels`)."""
    if CHALLENGER_VERSION not in labelled:
        return None
    scored = labelled[(labelled[CHALLENGER_VERSION] == challenger_version)
                      & labelled["actual"].notna()]
    if scored.empty:
        return None
    champion_column, challenger_column = (("predicted_class", CHALLENGER_CLASS)
                                          if task == "multiclass"
                                          else ("prediction", CHALLENGER_PREDICTION))
    values = [compute_metrics(task, scored["actual"], scored[column])
              for column in (champion_column, challenger_column)]
    if metric not in values[0]:
        raise ValueError(f"the shadow comparison measures {metric!r}, which stored "
                         f"{task} predictions cannot give (they give {sorted(values[0])}); set "
                         "the dataset spec's primary_metric to one of those")
    return DayComparison(day=day, rows=len(scored), champion=values[0][metric],
                         challenger=values[1][metric])


def shadow_verdict(days: Sequence[DayComparison], *, metric: str, required_wins: int,
                   max_days: int, elapsed_days: int) -> ShadowVerdict:
    """Promote, retire or keep waiting, from the labelled live days so far.

    `elapsed_days`: live days it shadowed so far (days after its holdout scored since its
    shadow began, labelled or not, with its predictions or without them when it could not
    score them); after `max_days` of them without a decision it is retired, so a challenger
    never shadows forever.
    """
    wins = losses = 0
    ordered = sorted(days, key=lambda d: d.day)
    for count, comparison in enumerate(ordered, start=1):
        outcome = comparison.outcome(metric)
        wins, losses = wins + (outcome == "win"), losses + (outcome == "loss")
        if wins >= required_wins:
            return ShadowVerdict(PROMOTE, (
                f"beat the champion on {wins} of {count} labelled live days ({metric}; "
                f"{required_wins} needed), through {comparison.day}"), wins, losses, count)
        if losses >= required_wins:
            return ShadowVerdict(RETIRE, (
                f"the champion beat it on {losses} of {count} labelled live days ({metric}), "
                f"through {comparison.day}; it won {wins}"), wins, losses, count)
    if elapsed_days >= max_days:
        return ShadowVerdict(RETIRE, (
            f"shadow period over: {elapsed_days} live days (max {max_days}), "
            f"{wins} wins of {required_wins} needed on {len(ordered)} labelled days"),
            wins, losses, len(ordered))
    return ShadowVerdict(WAIT, (
        f"{wins} wins, {losses} losses on {len(ordered)} labelled live days; {required_wins} "
        f"wins needed, retired after {max_days} live days ({elapsed_days} so far)"),
        wins, losses, len(ordered))


def live_comparisons(frames: Mapping[str, pd.DataFrame], *, task: str, metric: str,
                     challenger_version: str) -> list[DayComparison]:
    """The comparison of every day among `frames` (stored predictions by day) that
    `challenger_version` scored and that has labelled rows, in date order."""
    comparisons = (compare_day(day, frames[day], task=task, metric=metric,
                               challenger_version=challenger_version) for day in sorted(frames))
    return [c for c in comparisons if c is not None]
