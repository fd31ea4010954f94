from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

from retrain_assets.core.dataset import DatasetSpec
from retrain_assets.core.features import build_features, features_schema
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.datasets.taxi.simulator import simulate_day


@pytest.fixture
def raw():
    return simulate_day(date(2025, 3, 8), 300)  # a Saturday


def test_features_hold_to_the_features_schema(raw):
    features = build_features(raw, TAXI_TRIPS)
    features_schema(TAXI_TRIPS).validate(features)
    assert list(TAXI_TRIPS.model_features) == [c for c in features.columns
                                               if c in TAXI_TRIPS.model_features]


def test_time_features_are_derived_from_the_pickup_time(raw):
    features = build_features(raw, TAXI_TRIPS)
    assert (features["hour"] == raw["pickup_at"].dt.hour).all()
    assert (features["day_of_week"] == 5).all()
    assert (features["is_weekend"] == 1.0).all()


def test_time_features_are_opt_in(raw):
    plain = replace(TAXI_TRIPS, derive_time_features=False, features_schema=None)
    assert DatasetSpec.derive_time_features is False
    features = build_features(raw, plain)
    assert not {"hour", "day_of_week", "is_weekend"} & set(features.columns)
    features_schema(plain).validate(features)


def test_building_twice_gives_the_same_frame(raw):
    """Training and scoring both call this function: it must be deterministic."""
    pd.testing.assert_frame_equal(build_features(raw, TAXI_TRIPS), build_features(raw.copy(),
                                                                                   TAXI_TRIPS))


def test_csv_round_trip_gives_the_same_features(raw, tmp_path):
    """A day landed as CSV and as Parquet must become identical model inputs (no skew)."""
    raw.to_csv(tmp_path / "day.csv", index=False)
    raw.to_parquet(tmp_path / "day.parquet", index=False)
    from_csv = TAXI_TRIPS.raw_schema.validate(pd.read_csv(tmp_path / "day.csv"))
    from_parquet = TAXI_TRIPS.raw_schema.validate(pd.read_parquet(tmp_path / "day.parquet"))
    pd.testing.assert_frame_equal(build_features(from_csv, TAXI_TRIPS),
                                  build_features(from_parquet, TAXI_TRIPS))
