"""Multiclass: its own task, with its own metric keys, gate metric and target encoding."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from retrain_assets.core.evaluation import metric_noise
from retrain_assets.core.features import target_values
from retrain_assets.core.metrics import compute_metrics, relative_improvement
from retrain_assets_tests.test_bring_your_own_model import ROUTING

ACTUAL = pd.Series(["a", "b", "c", "a"])
PROBABILITIES = pd.DataFrame({"a": [0.7, 0.2, 0.1, 0.4], "b": [0.2, 0.6, 0.1, 0.5],
                              "c": [0.1, 0.2, 0.8, 0.1]})


def test_probabilities_give_macro_f1_accuracy_and_log_loss():
    metrics = compute_metrics("multiclass", ACTUAL, PROBABILITIES)
    # predicted a, b, c, b: class a recall 1/2 (f1 2/3), b precision 1/2 (f1 2/3), c f1 1
    assert metrics["f1_macro"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert metrics["accuracy"] == 0.75
    assert metrics["log_loss"] == pytest.approx(-np.mean(np.log([0.7, 0.6, 0.8, 0.4])))
    assert relative_improvement("log_loss", 0.4, 0.5) > 0  # lower is better


def test_stored_predicted_classes_give_the_gate_metric_without_log_loss():
    metrics = compute_metrics("multiclass", ACTUAL, pd.Series(["a", "b", "c", "b"]))
    assert metrics == {"f1_macro": pytest.approx((2 / 3 + 2 / 3 + 1) / 3), "accuracy": 0.75}


def test_a_class_missing_from_a_day_scores_zero_for_it_instead_of_failing():
    metrics = compute_metrics("multiclass", pd.Series(["a", "a"]), PROBABILITIES.head(2))
    assert metrics["accuracy"] == 0.5 and metrics["f1_macro"] == pytest.approx((2 / 3) / 3)


def test_the_spec_gates_on_macro_f1_and_refuses_binary_metric_keys():
    assert ROUTING.primary_metric == "f1_macro"
    assert ROUTING.thresholds == {"f1_macro": 0.5}
    with pytest.raises(ValueError, match=r"names metric\(s\) \['roc_auc'\] that a multiclass "
                                         r"model does not report; valid keys are "
                                         r"\['f1_macro', 'accuracy', 'log_loss'\]"):
        replace(ROUTING, absolute_thresholds={"roc_auc": 0.6})
    with pytest.raises(ValueError, match=r"task must be one of \['regression', "
                                         r"'classification', 'multiclass'\]"):
        replace(ROUTING, task="multi-class")


def test_labels_stay_text_and_the_chance_spread_resamples_rows_of_the_frame():
    assert list(target_values(pd.Series(["tech", "sales"]), ROUTING)) == ["tech", "sales"]
    rng = np.random.default_rng(0)
    actual = pd.Series(rng.choice(["a", "b", "c"], 400))
    probabilities = pd.DataFrame(rng.dirichlet([1, 1, 1], 400), columns=["a", "b", "c"],
                                 index=range(100, 500))  # positions, not labels, are resampled
    noise = metric_noise("multiclass", "f1_macro", actual, probabilities, resamples=50)
    assert noise is not None and noise > 0
