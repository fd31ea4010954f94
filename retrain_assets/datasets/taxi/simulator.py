"""A deterministic simulator of taxi-like trips with a known fare rule.

The demo needs data whose truth we know, so drift can be injected on purpose: covariate drift
(trips far longer than the model ever saw) and concept drift (the fare rule itself changes, as
when a city raises its tariff). Same seed and day give the same rows, so runs are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from retrain_assets.core.simulation import day_rng

ZONES = tuple(f"Z{i:02d}" for i in range(1, 21))
AIRPORT_ZONES = ("Z19", "Z20")
PAYMENT_TYPES = ("card", "cash", "app")


@dataclass(frozen=True)
class FareRule:
    """The ground truth: what a trip costs. Concept drift swaps this rule."""

    base: float = 3.0
    per_km: float = 1.75
    per_minute: float = 0.35
    airport_surcharge: float = 5.0
    night_surcharge: float = 1.5
    extra_passenger: float = 0.5


BASELINE_RULE = FareRule()
NEW_TARIFF_RULE = FareRule(base=4.5, per_km=2.6, per_minute=0.45, airport_surcharge=9.0)


@dataclass(frozen=True)
class DayConditions:
    """What the world looks like on one day; the defaults are a normal day."""

    rule: FareRule = BASELINE_RULE
    distance_scale: float = 1.0  # covariate drift: >1 makes trips longer than in training
    airport_share: float = 0.08


def conditions_for(day: date, *, covariate_drift_from: date | None = None,
                   concept_drift_from: date | None = None) -> DayConditions:
    covariate = covariate_drift_from is not None and day >= covariate_drift_from
    concept = concept_drift_from is not None and day >= concept_drift_from
    return DayConditions(
        rule=NEW_TARIFF_RULE if concept else BASELINE_RULE,
        distance_scale=2.5 if covariate else 1.0,
        airport_share=0.3 if covariate else 0.08,
    )


def simulate_day(day: date, rows: int, *, seed: int = 7,
                 conditions: DayConditions = DayConditions()) -> pd.DataFrame:
    """One day of trips; columns match `retrain_assets.datasets.taxi.schema.TaxiTripsRaw`."""
    rng = day_rng(seed, day)
    seconds = np.sort(rng.integers(0, 24 * 3600, size=rows))
    pickup_at = pd.Timestamp(day) + pd.to_timedelta(seconds, unit="s")
    hour = pickup_at.hour.to_numpy()
    is_airport = rng.random(rows) < conditions.airport_share
    pickup_zone = np.where(is_airport, rng.choice(AIRPORT_ZONES, rows),
                           rng.choice(ZONES[:-2], rows))
    dropoff_zone = rng.choice(ZONES, rows)
    distance = rng.gamma(2.0, 2.2, rows) * conditions.distance_scale
    distance = np.where(is_airport, distance + rng.uniform(10, 25, rows), distance)
    distance = np.round(np.clip(distance, 0.2, None), 2)
    rush = np.isin(hour, (7, 8, 9, 16, 17, 18, 19))
    speed_kmh = np.where(rush, 16.0, 28.0) * rng.uniform(0.8, 1.2, rows)
    duration_min = distance / speed_kmh * 60
    passengers = rng.choice([1, 1, 1, 1, 2, 2, 3, 4, 5, 6], rows)
    night = (hour >= 22) | (hour < 5)
    rule = conditions.rule
    fare = (rule.base + rule.per_km * distance + rule.per_minute * duration_min
            + rule.airport_surcharge * is_airport + rule.night_surcharge * night
            + rule.extra_passenger * np.clip(passengers - 2, 0, None)
            + rng.normal(0, 1.0, rows))
    return pd.DataFrame({
        "trip_id": [f"{day:%Y%m%d}-{i:07d}" for i in range(rows)],
        "pickup_at": pickup_at,
        "pickup_zone": pickup_zone,
        "dropoff_zone": dropoff_zone,
        "passenger_count": passengers.astype("int64"),
        "trip_distance_km": distance,
        "payment_type": rng.choice(PAYMENT_TYPES, rows, p=[0.6, 0.25, 0.15]),
        "fare_amount": np.round(np.clip(fare, 2.5, None), 2),
    })



FILE_NAME = "trips"  # a landed day is <day>/trips.<csv|parquet>


def simulated_day(day: date, rows: int, *, seed: int = 7,
                  covariate_drift_from: date | None = None,
                  concept_drift_from: date | None = None) -> pd.DataFrame:
    """A day as the demo and `retrain-assets simulate` land it: from `covariate_drift_from`
    trips are longer with more airport runs; from `concept_drift_from` the new tariff prices
    them."""
    return simulate_day(day, rows, seed=seed, conditions=conditions_for(
        day, covariate_drift_from=covariate_drift_from, concept_drift_from=concept_drift_from))
