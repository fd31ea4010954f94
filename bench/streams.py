"""Simulated daily streams for the retraining-policy benchmark: a dataset, a drift kind and a
daily volume give every day's labelled features, the same for every policy replayed on them.

Each stream is `HISTORY_DAYS` of history (the first champion's window and holdout) followed by
the scored days. A day's rows depend only on the dataset, the day, the volume and the day's
`World`: every kind leaves the world normal before its change day, so streams of one dataset and
volume share their history and pre-change days row for row (and the models fitted on them; see
`bench.policy.Lab`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from retrain_assets.core.dataset import DatasetSpec
from retrain_assets.core.features import build_features
from retrain_assets.core.simulation import daily_row_count, day_rng
from retrain_assets.datasets.churn import CUSTOMER_CHURN
from retrain_assets.datasets.churn.simulator import (
    BASELINE_CHURN_RULE,
    PRICE_WAR_RULE,
    USAGE_DROP,
    ChurnConditions,
    simulate_churn_day,
)
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.datasets.taxi.simulator import (
    BASELINE_RULE,
    NEW_TARIFF_RULE,
    conditions_for,
    simulate_day,
)

START = date(2025, 1, 6)
HISTORY_DAYS = 35
"""More than TrainingConfig's default window (28 days), so the first champion's is full."""
RAMP_DAYS = 30  # a gradual change reaches the new rule after this many days
SEASON_DAYS = 21  # a recurring change: the new rule for a season, then the old one, and so on
NOISY_LABEL_SHARE = 0.5  # on the spike day, this share of the labels is shuffled among itself

KINDS = ("no drift", "abrupt covariate", "abrupt concept", "gradual concept",
         "recurring concept", "label-noise spike")


@dataclass(frozen=True)
class World:
    """What one day looks like: inputs shifted or not, how far the label rule has moved to its
    new form (0 = old, 1 = new), and the share of labels scrambled (a broken label feed)."""

    covariate: bool = False
    concept: float = 0.0
    label_noise: float = 0.0


def blend(old, new, weight: float):
    """The rule `weight` of the way from `old` to `new` (dataclasses of numbers)."""
    return type(old)(**{f.name: (1 - weight) * getattr(old, f.name)
                        + weight * getattr(new, f.name) for f in dataclasses.fields(old)})


def taxi_day(day: date, rows: int, seed: int, world: World) -> pd.DataFrame:
    """Covariate drift as the demo injects it (longer trips, more airport runs); concept drift
    moves the fare rule towards the new tariff."""
    conditions = conditions_for(day, covariate_drift_from=day if world.covariate else None)
    rule = blend(BASELINE_RULE, NEW_TARIFF_RULE, world.concept)
    return simulate_day(day, rows, seed=seed, conditions=dataclasses.replace(conditions, rule=rule))


def churn_day(day: date, rows: int, seed: int, world: World) -> pd.DataFrame:
    """Covariate drift: usage drops (same rule); concept drift moves towards the price war."""
    return simulate_churn_day(day, rows, seed=seed, conditions=ChurnConditions(
        rule=blend(BASELINE_CHURN_RULE, PRICE_WAR_RULE, world.concept),
        usage_scale=USAGE_DROP if world.covariate else 1.0))


@dataclass(frozen=True)
class Dataset:
    name: str
    spec: DatasetSpec
    simulate: Callable[[date, int, int, World], pd.DataFrame]
    seed: int


TAXI = Dataset("taxi", TAXI_TRIPS, taxi_day, seed=7)
CHURN = Dataset("churn", CUSTOMER_CHURN, churn_day, seed=11)


@dataclass(frozen=True)
class Stream:
    """One dataset under one drift kind at about `rows` rows a day (weekends are quieter), its
    labels arriving `label_delay_days` after its features (the history is labelled from the
    start)."""

    dataset: Dataset
    kind: str
    rows: int
    scored_days: int
    change_at: int  # index of the scored day on which the change starts
    label_delay_days: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown drift kind {self.kind!r}; choose one of {KINDS}")

    @property
    def label(self) -> str:
        late = f", labels {self.label_delay_days} days late" if self.label_delay_days else ""
        return f"{self.dataset.name} {self.rows:,}/day, {self.kind}{late}"

    @property
    def days(self) -> list[str]:
        return [(START + timedelta(days=i)).isoformat()
                for i in range(HISTORY_DAYS + self.scored_days)]

    def labelled_days(self, scored_index: int) -> list[str]:
        """The days whose labels have arrived once scored day `scored_index` is scored: the
        history and every scored day at least `label_delay_days` old."""
        return self.days[:HISTORY_DAYS + max(0, scored_index + 1 - self.label_delay_days)]

    def arrived(self, scored_index: int) -> str | None:
        """The scored day whose labels arrive on scored day `scored_index` (None: none yet)."""
        since = scored_index - self.label_delay_days
        return self.days[HISTORY_DAYS + since] if since >= 0 else None

    def world(self, scored_index: int) -> World:
        """The world on a day, by its index among the scored days (history days are < 0)."""
        since = scored_index - self.change_at
        if since < 0 or self.kind == "no drift":
            return World()
        return {
            "abrupt covariate": World(covariate=True),
            "abrupt concept": World(concept=1.0),
            "gradual concept": World(concept=min(1.0, (since + 1) / RAMP_DAYS)),
            "recurring concept": World(concept=float(since // SEASON_DAYS % 2 == 0)),
            "label-noise spike": World(label_noise=NOISY_LABEL_SHARE if since == 0 else 0.0),
        }[self.kind]

    @property
    def changes(self) -> tuple[int, ...]:
        """Scored-day indexes where the label rule or the inputs change (the recovery figure
        starts from each); a label-noise spike changes neither."""
        if self.kind in ("no drift", "label-noise spike"):
            return ()
        if self.kind == "recurring concept":
            return tuple(range(self.change_at, self.scored_days, SEASON_DAYS))
        return (self.change_at,)

    def world_of(self, day: str) -> World:
        return self.world((date.fromisoformat(day) - START).days - HISTORY_DAYS)

    def features(self, day: str) -> pd.DataFrame:
        """The day's labelled features, as the features asset stores them."""
        when, world = date.fromisoformat(day), self.world_of(day)
        seed = self.dataset.seed
        raw = self.dataset.simulate(when, daily_row_count(when, self.rows, seed=seed), seed,
                                    world)
        frame = build_features(raw, self.dataset.spec)
        if world.label_noise:
            scramble_labels(frame, self.dataset.spec.target, world.label_noise,
                            day_rng(seed + 2, when))
        return frame


def scramble_labels(frame: pd.DataFrame, target: str, share: float,
                    rng: np.random.Generator) -> None:
    """Shuffle the labels of a random `share` of the rows among themselves, in place: the
    day's label mean stays, its rows' labels become noise (a bad join in the label feed)."""
    rows = np.flatnonzero(rng.random(len(frame)) < share)
    column = frame.columns.get_loc(target)
    frame.iloc[rows, column] = frame.iloc[rng.permutation(rows), column].to_numpy()
