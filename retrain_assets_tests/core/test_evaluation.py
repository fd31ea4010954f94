import pytest

from retrain_assets.core.evaluation import decide_promotion, split_window

DAYS = [f"2025-01-{d:02d}" for d in range(1, 32)]


def test_holdout_is_the_latest_days_and_training_the_window_before_it():
    window = split_window(DAYS, window_days=14, holdout_days=7)
    assert window.holdout_days == tuple(DAYS[-7:])
    assert window.train_days == tuple(DAYS[-21:-7])
    assert not set(window.train_days) & set(window.holdout_days)


def test_gaps_in_the_window_are_skipped_not_filled():
    available = [d for d in DAYS if d not in ("2025-01-20", "2025-01-21")]
    window = split_window(available, window_days=14, holdout_days=7)
    assert "2025-01-20" not in window.train_days and len(window.train_days) == 12


def test_too_little_data_says_what_to_do():
    with pytest.raises(ValueError, match="Materialize more `features` partitions"):
        split_window(DAYS[:10], window_days=28, holdout_days=7)


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
    marginal = _decide({"rmse": 1.995, "r2": 0.9}, {"rmse": 2.0, "r2": 0.88})
    assert not marginal.blessed
    assert any(r.startswith("FAIL rmse") and "need ≥ +1.00%" in r for r in marginal.reasons)


def test_absolute_thresholds_apply_even_when_better_than_the_champion():
    verdict = _decide({"rmse": 5.0, "r2": 0.3}, {"rmse": 9.0, "r2": 0.1})
    assert not verdict.blessed
    assert any("FAIL r2 0.3 misses min 0.5" in r for r in verdict.reasons)


def test_higher_is_better_metrics_and_missing_values_fail_closed():
    verdict = _decide({"roc_auc": 0.8}, {"roc_auc": 0.7}, primary_metric="roc_auc",
                      absolute_thresholds={"roc_auc": 0.6, "f1": 0.5})
    assert not verdict.blessed and any("f1: candidate has no value" in r for r in verdict.reasons)
