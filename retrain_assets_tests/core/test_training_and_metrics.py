from dataclasses import replace
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from retrain_assets.core.features import build_features
from retrain_assets.core.metrics import compute_metrics, relative_improvement
from retrain_assets.core.training import (
    FeatureMismatchError,
    Hyperparameters,
    model_inputs,
    predict,
    train_model,
)
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.datasets.taxi.simulator import simulate_day


@pytest.fixture(scope="module")
def frames():
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(8)]
    features = [build_features(simulate_day(d, 400), TAXI_TRIPS) for d in days]
    return pd.concat(features[:7], ignore_index=True), features[7]


def test_pipeline_learns_the_fare_rule(frames):
    train, holdout = frames
    model = train_model(train, TAXI_TRIPS, Hyperparameters(max_iter=100))
    metrics = compute_metrics("regression", holdout["fare_amount"],
                              predict(model, holdout, TAXI_TRIPS))
    assert metrics["r2"] > 0.9
    assert metrics["rmse"] < holdout["fare_amount"].std() * 0.3


def test_pipeline_takes_raw_feature_columns_and_tolerates_unseen_categories(frames):
    train, holdout = frames
    model = train_model(train, TAXI_TRIPS, Hyperparameters(max_iter=20))
    unseen = holdout.assign(pickup_zone="Z99")
    assert predict(model, unseen, TAXI_TRIPS).notna().all()
    assert list(model_inputs(holdout, TAXI_TRIPS).columns) == list(TAXI_TRIPS.model_features)


def test_a_model_whose_columns_are_gone_says_what_to_do_and_a_narrower_one_still_scores(frames):
    """Issue 13: switching derive_time_features off made the old champion fail with a bare
    'columns are missing' error, retried three times."""
    train, holdout = frames
    without_time = replace(TAXI_TRIPS, derive_time_features=False, features_schema=None)
    with_time = train_model(train, TAXI_TRIPS, Hyperparameters(max_iter=10))
    with pytest.raises(FeatureMismatchError, match=r"\['hour', 'day_of_week', 'is_weekend'\]"
                       r".*replace_incompatible_champion.*RETRAIN_ASSETS_MODEL_NAME"):
        predict(with_time, holdout.drop(columns=["hour", "day_of_week", "is_weekend"]),
                without_time)
    narrower = train_model(train, without_time, Hyperparameters(max_iter=10))
    assert predict(narrower, holdout, TAXI_TRIPS).notna().all()


def test_training_on_nothing_says_so():
    with pytest.raises(ValueError, match="empty window"):
        train_model(pd.DataFrame(columns=["fare_amount"]), TAXI_TRIPS, Hyperparameters())


def test_regression_metrics_match_their_definitions():
    actual, predicted = pd.Series([1.0, 2.0, 3.0]), pd.Series([1.0, 2.0, 5.0])
    metrics = compute_metrics("regression", actual, predicted)
    assert metrics["rmse"] == pytest.approx(np.sqrt(4 / 3))
    assert metrics["mae"] == pytest.approx(2 / 3)
    assert metrics["r2"] == pytest.approx(1 - 4 / 2)


def test_classification_metrics_threshold_probabilities_at_one_half():
    metrics = compute_metrics("classification", pd.Series([0, 0, 1, 1]),
                              pd.Series([0.1, 0.6, 0.4, 0.9]))
    assert metrics == {"accuracy": 0.5, "f1": 0.5, "roc_auc": 0.75}


def test_direction_of_better():
    assert relative_improvement("rmse", 9.0, 10.0) == pytest.approx(0.1)
    assert relative_improvement("roc_auc", 0.8, 0.9) < 0
