"""The paired bootstrap gate and the segment gate (core.gates)."""

import numpy as np
import pandas as pd
import pytest

from retrain_assets.core.evaluation import Verdict, decide_promotion
from retrain_assets.core.gates import (
    ImprovementInterval,
    paired_bootstrap,
    resampled_metric,
    segment_gate,
    with_segment_gate,
)
from retrain_assets.core.metrics import compute_metrics


def _fares(rows: int = 2_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    actual = pd.Series(rng.normal(20, 5, rows))
    return rng, actual, actual + rng.normal(0, 2, rows)


def _gate(actual, candidate, champion, *, min_relative_improvement, interval):
    metrics = {who: compute_metrics("regression", actual, p)
               for who, p in (("candidate", candidate), ("champion", champion))}
    return decide_promotion(metrics["candidate"], metrics["champion"], primary_metric="rmse",
                            absolute_thresholds={}, interval=interval,
                            min_relative_improvement=min_relative_improvement)


def test_a_candidate_inside_the_noise_is_not_promoted():
    """The champion plus a tiny perturbation happens to score a hair better (seed 0): the
    point estimate alone would bless it; its interval straddles zero, so it is not."""
    rng, actual, champion = _fares()
    candidate = champion + rng.normal(0, 0.05, len(actual))
    interval = paired_bootstrap("regression", "rmse", actual, candidate, champion)
    assert interval.low < 0 < interval.high and interval.resamples == 300
    assert _gate(actual, candidate, champion, min_relative_improvement=0.0,
                 interval=None).blessed
    verdict = _gate(actual, candidate, champion, min_relative_improvement=0.0,
                    interval=interval)
    assert not verdict.blessed
    assert any(r.startswith("FAIL rmse") and "90%-confidence bounds [" in r
               and "lower bound need ≥ +0.00%" in r for r in verdict.reasons)
    assert verdict.to_dict()["interval"]["low"] == pytest.approx(interval.low)


def test_a_clearly_better_candidate_is_promoted_and_the_interval_is_reproducible():
    rng, actual, champion = _fares()
    candidate = actual + rng.normal(0, 1.5, len(actual))
    interval = paired_bootstrap("regression", "rmse", actual, candidate, champion)
    assert interval == paired_bootstrap("regression", "rmse", actual, candidate, champion)
    assert 0.05 < interval.low < interval.high
    assert _gate(actual, candidate, champion, min_relative_improvement=0.01,
                 interval=interval).blessed


def test_the_lower_bound_must_be_above_zero_or_with_the_strict_gate_clear_the_margin():
    """By default a lead must be real (lower bound > 0) and at least the margin (point value);
    the strict gate asks the lower bound to clear the margin, except against a champion that
    misses a floor, which is known to fail."""
    interval = ImprovementInterval(low=0.002, high=0.09, confidence=0.9, resamples=300)
    candidate = {"roc_auc": 0.56}
    options = {"primary_metric": "roc_auc", "min_relative_improvement": 0.01,
               "interval": interval}
    default = decide_promotion(candidate, {"roc_auc": 0.53},
                               absolute_thresholds={"roc_auc": 0.5}, **options)
    assert default.blessed
    assert any("lower bound need ≥ +0.00%" in r for r in default.reasons)
    strict = decide_promotion(candidate, {"roc_auc": 0.53}, interval_clears_margin=True,
                              absolute_thresholds={"roc_auc": 0.5}, **options)
    assert not strict.blessed
    assert any("lower bound need ≥ +1.00%" in r for r in strict.reasons)
    failing = decide_promotion(candidate, {"roc_auc": 0.53}, interval_clears_margin=True,
                               absolute_thresholds={"roc_auc": 0.55}, **options)
    assert failing.blessed and failing.below_floor is False
    assert any("lower bound need ≥ +0.00% (the champion misses a floor)" in r
               for r in failing.reasons)
    unsure = ImprovementInterval(low=-0.001, high=0.09, confidence=0.9, resamples=300)
    assert not decide_promotion(candidate, {"roc_auc": 0.53}, primary_metric="roc_auc",
                                min_relative_improvement=0.01, interval=unsure,
                                absolute_thresholds={}).blessed


def test_vectorised_metrics_match_scikit_learn_on_each_resample():
    rng = np.random.default_rng(1)
    actual = pd.Series((rng.random(500) < 0.3).astype(float))
    scores = pd.Series(np.round(np.clip(actual * 0.3 + rng.random(500) * 0.7, 0, 1), 2))
    picked = rng.integers(0, 500, size=(4, 500))
    for metric in ("roc_auc", "accuracy", "rmse", "mae", "r2"):
        task = "regression" if metric in ("rmse", "mae", "r2") else "classification"
        expected = [compute_metrics(task, actual.to_numpy()[row], scores.to_numpy()[row])[metric]
                    for row in picked]
        assert resampled_metric(task, metric, actual, scores, picked) == pytest.approx(expected)


def test_a_segment_that_regresses_blocks_an_otherwise_better_candidate():
    rng, actual, champion = _fares(rows=1_200)
    holdout = pd.DataFrame({"pickup_zone": np.repeat(["airport", "downtown", "tiny"],
                                                     [300, 880, 20])})
    candidate = actual + rng.normal(0, 1, len(actual))  # better everywhere ...
    airport = (holdout["pickup_zone"] == "airport").to_numpy()
    candidate[airport] = actual[airport] + rng.normal(0, 2.5, airport.sum())  # ... but here
    verdict = _gate(actual, candidate, champion, min_relative_improvement=0.01, interval=None)
    assert verdict.blessed
    gate = segment_gate("regression", "rmse", holdout, ["pickup_zone"], actual, candidate,
                        champion, min_rows=100, max_regression=0.05)
    table = gate.table.set_index("segment")
    assert table.loc["airport", "status"] == "REGRESSED" and table.loc["airport", "rows"] == 300
    assert table.loc["downtown", "status"] == "ok"
    assert table.loc["tiny", "status"] == "too few rows"
    gated = with_segment_gate(verdict, gate)
    assert not gated.blessed
    assert any("segment pickup_zone=airport (300 rows)" in r for r in gated.reasons)
    fair = segment_gate("regression", "rmse", holdout, ["pickup_zone"], actual, champion,
                        champion, min_rows=100, max_regression=0.05)
    assert with_segment_gate(verdict, fair).blessed


def test_an_undeclared_segment_column_names_the_columns_there_are():
    _, actual, champion = _fares(rows=10)
    with pytest.raises(ValueError, match=r"\['is_airport'\].*\['pickup_zone'\]"):
        segment_gate("regression", "rmse", pd.DataFrame({"pickup_zone": ["a"] * 10}),
                     ["is_airport"], actual, champion, champion, min_rows=1, max_regression=0.05)


def test_the_interval_survives_the_stored_verdict():
    interval = ImprovementInterval(low=0.02, high=0.05, confidence=0.9, resamples=300)
    verdict = decide_promotion({"rmse": 1.8}, {"rmse": 2.0}, primary_metric="rmse",
                               absolute_thresholds={}, min_relative_improvement=0.01,
                               interval=interval)
    assert Verdict.from_dict(verdict.to_dict()) == verdict
