from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from retrain_assets.core.evaluation import (
    WindowSettings,
    decide_promotion,
    holdout_rows,
    metric_noise,
    split_window,
    training_rows,
)

DAYS = [f"2025-01-{d:02d}" for d in range(1, 32)]


def per_day(days, rows: int = 1_000) -> dict[str, int]:
    return {d: rows for d in days}


def frames_for(day_rows: dict[str, int]) -> dict[str, pd.DataFrame]:
    """Rows of each day in reverse time order, so the split has to sort them."""
    return {day: pd.DataFrame({
        "at": pd.Timestamp(day) + pd.to_timedelta(range(n - 1, -1, -1), "s"),
        "row": [f"{day}#{i:05d}" for i in range(n - 1, -1, -1)]}) for day, n in day_rows.items()}


def test_holdout_is_the_latest_rows_and_training_every_earlier_row_of_the_window():
    rows = per_day(DAYS)
    window = split_window(rows, WindowSettings(window_days=14, holdout_fraction=0.05))
    assert window.holdout_rows == 700  # 5% of the 14 days' 14,000 rows
    assert window.holdout_days == tuple(DAYS[-1:]) and window.train_days == tuple(DAYS[-14:])
    frames = frames_for(rows)
    train = training_rows(frames, window, "at")
    held = holdout_rows(frames, window.holdout_days, window.holdout_rows, "at")
    assert len(train) == window.train_rows == 13_300 and len(held) == 700
    assert train["at"].max() < held["at"].min()  # the holdout is later than every trained row
    assert not set(train["row"]) & set(held["row"])


def test_small_days_hold_out_at_least_the_minimum_rows_across_days():
    window = split_window(per_day(DAYS, 100), WindowSettings(window_days=28, min_train_days=7))
    assert window.holdout_rows == 250
    assert window.holdout_days == tuple(DAYS[-3:])  # half of the third-latest day, two whole


def test_gaps_in_the_window_are_skipped_not_filled():
    available = per_day(d for d in DAYS if d not in ("2025-01-20", "2025-01-21"))
    window = split_window(available, WindowSettings(window_days=14))
    assert "2025-01-20" not in window.train_days and len(window.train_days) == 12


def test_too_little_data_says_what_to_do():
    with pytest.raises(ValueError, match="Materialize more `features` partitions"):
        split_window(per_day(DAYS[:5]), WindowSettings())


def test_a_change_day_that_is_not_a_date_says_how_to_write_it():
    with pytest.raises(ValueError, match=r"change_day '2\.3\.2025' is not a date.*YYYY-MM-DD"):
        split_window(per_day(DAYS), change_day="2.3.2025")


def drifted_history(new_days: int, rows: int = 1_000) -> tuple[dict[str, int], str]:
    """60 days, then `new_days` days from the change on; returns rows per day and the change."""
    days = [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(60 + new_days)]
    return per_day(days, rows), days[60]


@pytest.mark.parametrize("new_days", [1, 2])
def test_after_a_change_the_candidate_trains_on_new_rows_and_is_judged_on_later_new_ones(
        new_days):
    """Issue 13: a 7-day holdout swallowed every drifted day, so no candidate ever saw one."""
    rows, change = drifted_history(new_days)
    window = split_window(rows, change_day=change)
    frames = frames_for(rows)
    train = training_rows(frames, window, "at")
    held = holdout_rows(frames, window.holdout_days, window.holdout_rows, "at")
    new_world = pd.Timestamp(change)
    assert (train["at"] >= new_world).sum() >= 500  # it has seen the new world
    assert (held["at"] >= new_world).all()  # and both models are judged on it alone
    assert not set(train["row"]) & set(held["row"])


def test_the_default_holdout_leaves_new_rows_to_train_on_without_knowing_the_change():
    rows, change = drifted_history(2)
    window = split_window(rows)
    assert window.train_days[-1] >= change and not window.trains_from_change


def test_training_starts_at_the_change_once_the_new_world_alone_is_enough():
    rows, change = drifted_history(1)
    early = split_window(rows, change_day=change)
    assert not early.trains_from_change and early.train_days[0] < change
    rows, change = drifted_history(2)
    late = split_window(rows, change_day=change)
    assert late.trains_from_change and late.train_days[0] == change
    assert late.train_rows >= WindowSettings.min_rows_after_change


def _decide(candidate, champion, **kwargs):
    options = {"primary_metric": "rmse", "absolute_thresholds": {"r2": 0.5},
               "min_relative_improvement": 0.01, **kwargs}
    return decide_promotion(candidate, champion, **options)


def test_first_model_bootstraps_the_champion_when_it_meets_the_thresholds():
    verdict = _decide({"rmse": 2.0, "r2": 0.9}, None)
    assert verdict.blessed and "bootstraps" in verdict.reasons[-1]
    assert not _decide({"rmse": 2.0, "r2": 0.2}, None).blessed


def test_candidate_must_beat_the_champion_by_the_margin():
    better = _decide({"rmse": 1.8, "r2": 0.9}, {"rmse": 2.0, "r2": 0.88})
    assert better.blessed and better.improvement == pytest.approx(0.1)
    assert not better.below_floor
    marginal = _decide({"rmse": 1.995, "r2": 0.9}, {"rmse": 2.0, "r2": 0.88})
    assert not marginal.blessed
    assert any(r.startswith("FAIL rmse") and "need ≥ +1.00%" in r for r in marginal.reasons)


def test_absolute_thresholds_stop_a_candidate_when_the_champion_meets_them():
    verdict = _decide({"rmse": 5.0, "r2": 0.3}, {"rmse": 4.0, "r2": 0.6})
    assert not verdict.blessed
    assert any("FAIL r2 0.3 misses min 0.5" in r for r in verdict.reasons)


def test_a_collapsing_champion_is_replaced_by_a_better_candidate_below_the_floor():
    """Issue 13: a floor of 0.9 refused candidates at R² 0.8 while the champion scored -0.6."""
    candidate, champion = {"rmse": 4.0, "r2": 0.8}, {"rmse": 11.0, "r2": -0.6}
    verdict = _decide(candidate, champion, absolute_thresholds={"r2": 0.9})
    assert verdict.blessed and verdict.below_floor
    assert any(r.startswith("below_floor r2 0.8 misses min 0.9") and "-0.6" in r
               for r in verdict.reasons)
    strict = _decide(candidate, champion, absolute_thresholds={"r2": 0.9},
                     replace_failing_champion=False)
    assert not strict.blessed and not strict.below_floor
    # it must still beat the champion by the change threshold on the same rows
    assert not _decide({"rmse": 10.95, "r2": -0.58}, champion).blessed
    # and garbage that is worse than the champion on the floor metric stays out
    assert not _decide({"rmse": 10.0, "r2": -0.7}, champion).blessed


def test_higher_is_better_metrics_and_missing_values_fail_closed():
    verdict = _decide({"roc_auc": 0.8}, {"roc_auc": 0.7}, primary_metric="roc_auc",
                      absolute_thresholds={"roc_auc": 0.6, "f1": 0.5})
    assert not verdict.blessed and any("f1: candidate has no value" in r for r in verdict.reasons)


def test_metric_noise_is_the_bootstrap_spread_scaled_to_one_row():
    rng = np.random.default_rng(0)
    actual = pd.Series(rng.normal(20, 5, 2_000))
    predicted = actual + rng.normal(0, 2, 2_000)
    noise = metric_noise("regression", "rmse", actual, predicted)
    # for normal errors RMSE's relative standard error is 1 / sqrt(2n): noise ≈ 0.71
    assert noise == pytest.approx(2 ** -0.5, rel=0.15)
    assert metric_noise("regression", "rmse", actual[:1], predicted[:1]) is None
