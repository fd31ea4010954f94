from datetime import date

import numpy as np

from retrain_assets.datasets.taxi.schema import TaxiTripsRaw
from retrain_assets.datasets.taxi.simulator import (
    BASELINE_RULE,
    NEW_TARIFF_RULE,
    DayConditions,
    conditions_for,
    simulate_day,
)

DAY = date(2025, 3, 4)


def test_same_seed_and_day_give_identical_rows():
    assert simulate_day(DAY, 500, seed=3).equals(simulate_day(DAY, 500, seed=3))
    assert not simulate_day(DAY, 500, seed=3).equals(simulate_day(DAY, 500, seed=4))


def test_simulated_day_satisfies_the_raw_contract_and_stays_on_its_day():
    frame = simulate_day(DAY, 2_000)
    TaxiTripsRaw.validate(frame)
    assert (frame["pickup_at"].dt.date == DAY).all()
    assert frame["trip_id"].is_unique


def test_concept_drift_changes_the_fare_rule_not_the_inputs():
    normal = simulate_day(DAY, 4_000)
    drifted = simulate_day(DAY, 4_000, conditions=DayConditions(rule=NEW_TARIFF_RULE))
    assert normal["trip_distance_km"].equals(drifted["trip_distance_km"])
    assert drifted["fare_amount"].mean() > normal["fare_amount"].mean() * 1.3


def test_covariate_drift_makes_trips_longer_than_training_ever_saw():
    conditions = conditions_for(DAY, covariate_drift_from=DAY)
    assert conditions.rule == BASELINE_RULE and conditions.distance_scale > 1
    normal = simulate_day(DAY, 4_000)
    drifted = simulate_day(DAY, 4_000, conditions=conditions)
    assert drifted["trip_distance_km"].median() > 2 * normal["trip_distance_km"].median()


def test_drift_starts_on_its_day_and_not_before():
    start = date(2025, 2, 1)
    assert conditions_for(date(2025, 1, 31), concept_drift_from=start).rule == BASELINE_RULE
    assert conditions_for(start, concept_drift_from=start).rule == NEW_TARIFF_RULE


def test_fare_follows_the_known_rule_up_to_noise():
    frame = simulate_day(DAY, 3_000)
    # longer trips cost more: the ground truth is monotone in distance on average
    by_distance = frame.groupby(np.digitize(frame["trip_distance_km"], [2, 5, 10, 20]))
    means = by_distance["fare_amount"].mean().to_numpy()
    assert (np.diff(means) > 0).all()
