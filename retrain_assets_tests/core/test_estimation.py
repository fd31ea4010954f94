"""The confidence-based estimate of a classifier's performance before its labels arrive."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from retrain_assets.core.estimation import Calibration, estimate_performance, fit_calibration

IDENTITY = Calibration((0.0, 1.0), (0.0, 1.0))


def labelled(rng, true_probability):
    return (rng.random(len(true_probability)) < true_probability).astype(int)


def test_with_calibrated_probabilities_the_estimate_is_the_realized_performance():
    rng = np.random.default_rng(0)
    p = rng.beta(2, 3, 40_000)
    y = labelled(rng, p)
    estimate = estimate_performance(p, IDENTITY)
    assert estimate["roc_auc"] == pytest.approx(roc_auc_score(y, p), abs=0.01)
    assert estimate["accuracy"] == pytest.approx(accuracy_score(y, p >= 0.5), abs=0.01)


def test_the_estimate_follows_a_covariate_shift_without_labels():
    """Rows shifted towards confident scores raise AUC; the estimate sees it from the scores."""
    rng = np.random.default_rng(1)
    before, after = rng.beta(2, 2, 20_000), rng.beta(0.5, 0.5, 20_000)
    realized = [roc_auc_score(labelled(rng, p), p) for p in (before, after)]
    estimated = [estimate_performance(p, IDENTITY)["roc_auc"] for p in (before, after)]
    assert realized[1] - realized[0] > 0.1
    assert estimated == pytest.approx(realized, abs=0.015)


def test_the_holdout_calibration_corrects_an_overconfident_model():
    rng = np.random.default_rng(2)
    true_p = rng.beta(2, 5, 30_000)
    raw = true_p ** 0.25  # the model says more than it knows
    holdout, day = slice(0, 10_000), slice(10_000, None)
    y = labelled(rng, true_p)
    calibration = fit_calibration(raw[holdout], y[holdout])
    realized = {"roc_auc": roc_auc_score(y[day], raw[day]),
                "accuracy": accuracy_score(y[day], raw[day] >= 0.5)}
    calibrated = estimate_performance(raw[day], calibration)
    uncalibrated = estimate_performance(raw[day], IDENTITY)
    for metric, value in realized.items():
        assert calibrated[metric] == pytest.approx(value, abs=0.015), metric
        assert abs(uncalibrated[metric] - value) > 0.05, metric


def test_ties_count_as_roc_auc_score_counts_them():
    raw = np.array([0.9, 0.7, 0.7, 0.7, 0.2, 0.2, 0.1])
    certain = Calibration(tuple(raw[::-1]), (0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0))
    labels = (certain.apply(raw) >= 0.5).astype(int)
    assert estimate_performance(raw, certain)["roc_auc"] == pytest.approx(
        roc_auc_score(labels, raw))


def test_calibration_round_trips_through_a_dict_and_refuses_too_few_rows():
    rng = np.random.default_rng(3)
    p = rng.random(500)
    calibration = fit_calibration(p, labelled(rng, p))
    assert Calibration.from_dict(calibration.to_dict()) == calibration
    with pytest.raises(ValueError, match="at least 100 labelled rows of both classes; got 50"):
        fit_calibration(p[:50], labelled(rng, p[:50]))
    with pytest.raises(ValueError, match="classes \\[1.0\\]"):
        fit_calibration(p, np.ones(500))
