"""Metadata and plots as a person reads them: rounded numbers, limits next to values, scales
that fit what they show."""

from __future__ import annotations

import math

import pandas as pd

from retrain_assets.core.plots import drift_over_time
from retrain_assets.pipeline.metadata import feature_drift_table, table


def test_tables_show_floats_rounded_and_leave_other_columns_as_they_are():
    shown = table(pd.DataFrame({"metric": ["rmse"], "candidate": [4.123456789012345],
                                "rows": [1200]})).value
    (record,) = shown.records
    assert record.data == {"metric": "rmse", "candidate": 4.1235, "rows": 1200}


def test_the_drift_table_puts_each_statistic_next_to_its_limit():
    features = pd.DataFrame({
        "feature": ["trip_distance_km", "pickup_zone"], "kind": ["numeric", "categorical"],
        "psi": [0.31, 0.05], "ks_statistic": [0.2, None], "ks_pvalue": [0.0, None],
        "js_distance": [None, 0.04], "null_fraction": [0.0, 0.0],
        "reference_null_fraction": [0.0, 0.0], "drifted": [True, False],
        "psi_threshold": [0.2, 0.25], "ks_threshold": [0.15, None],
        "js_threshold": [None, 0.1]})
    shown = feature_drift_table(features)
    assert list(shown.columns) == ["feature", "drifted", "psi", "psi_limit", "test", "distance",
                                   "distance_limit", "null_fraction"]
    assert shown.iloc[0][["test", "distance", "distance_limit"]].tolist() == ["KS", 0.2, 0.15]
    assert shown.iloc[1][["test", "distance", "distance_limit"]].tolist() == ["JS", 0.04, 0.1]


def test_drift_over_time_draws_metric_decay_on_its_own_axis():
    history = pd.DataFrame({"day": ["2025-06-01", "2025-06-02", "2025-06-03"],
                            "max_psi": [0.05, 0.4, 1.6], "metric_decay": [0.1, math.nan, 21.0]})
    fig = drift_over_time(history, psi_threshold=0.2, decay_threshold=0.25)
    psi_axis, decay_axis = fig.axes
    assert psi_axis.get_ylim()[1] < 5 < 21 <= decay_axis.get_ylim()[1]
    assert "PSI" in psi_axis.get_ylabel() and "decay" in decay_axis.get_ylabel()
