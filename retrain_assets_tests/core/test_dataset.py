"""Spec mistakes fail when the spec is loaded, saying what to change, not after training."""

from dataclasses import replace

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from retrain_assets.core.metrics import METRICS_BY_TASK, compute_metrics
from retrain_assets.datasets.taxi import TAXI_TRIPS


class WithHour(pa.DataFrameModel):
    trip_id: Series[str]
    pickup_at: Series[pa.DateTime]
    hour: Series[float]
    fare_amount: Series[float]


@pytest.mark.parametrize("role, column", [("target", "fare_amount"), ("id_column", "trip_id"),
                                          ("time_column", "pickup_at")])
def test_a_column_with_another_role_may_not_be_a_feature(role, column):
    """The target as a feature scored holdout R² 0.9999 and was promoted: a leak."""
    with pytest.raises(ValueError, match=f"'{column}' is the {role} and is also listed as a "
                                         f"feature.*Remove '{column}' from numeric_features"):
        replace(TAXI_TRIPS, numeric_features=(*TAXI_TRIPS.numeric_features, column))


def test_a_feature_listed_twice_is_refused():
    with pytest.raises(ValueError, match=r"\['pickup_zone'\] are listed more than once"):
        replace(TAXI_TRIPS, categorical_features=("pickup_zone", "pickup_zone"))


def test_a_feature_named_like_a_derived_time_feature_is_refused_while_they_are_derived():
    spec = dict(name="hours", raw_schema=WithHour, time_column="pickup_at", id_column="trip_id",
                target="fare_amount", task="regression", numeric_features=("hour",),
                categorical_features=())
    with pytest.raises(ValueError, match="also the derived time features"):
        replace(TAXI_TRIPS, **spec, derive_time_features=True)
    assert replace(TAXI_TRIPS, **spec, derive_time_features=False).model_features == ("hour",)


def test_an_unknown_threshold_key_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"\['R2'\].*valid keys are \['rmse', 'mae', 'r2'\]"):
        replace(TAXI_TRIPS, absolute_thresholds={"R2": 0.5})
    with pytest.raises(ValueError, match="roc_auc"):  # a classification metric on regression
        replace(TAXI_TRIPS, absolute_thresholds={"roc_auc": 0.6})


def test_the_valid_threshold_keys_are_what_compute_metrics_reports():
    actual, predicted = pd.Series([0.0, 1.0, 1.0]), pd.Series([0.2, 0.7, 0.9])
    probabilities = pd.DataFrame({"0.0": [0.8, 0.3, 0.1], "1.0": [0.2, 0.7, 0.9]})
    for task, names in METRICS_BY_TASK.items():
        scores = probabilities if task == "multiclass" else predicted
        assert tuple(compute_metrics(task, actual, scores)) == names


def test_the_time_zone_is_an_iana_name_checked_at_load():
    assert replace(TAXI_TRIPS, time_zone="America/New_York").time_zone == "America/New_York"
    with pytest.raises(ValueError, match=r"not an IANA time zone name \(did you mean "
                                         r"\['America/New_York'"):
        replace(TAXI_TRIPS, time_zone="America/NewYork")
    with pytest.raises(ValueError, match="not an IANA time zone name"):
        replace(TAXI_TRIPS, time_zone="+05:00")
