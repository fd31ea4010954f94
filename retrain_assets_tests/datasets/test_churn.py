from datetime import date

import numpy as np
import pytest

from retrain_assets.core.dataset import load_spec
from retrain_assets.core.features import build_features, features_schema
from retrain_assets.core.ingest import apply_contract, read_landed_file, validate_frame
from retrain_assets.datasets.churn import CUSTOMER_CHURN
from retrain_assets.datasets.churn.simulator import (
    PRICE_WAR_RULE,
    USAGE_DROP,
    ChurnConditions,
    simulate_churn_day,
)
from retrain_assets.dev.simulate import encode_frame

DAY = date(2025, 3, 4)


def test_same_seed_and_day_give_identical_rows():
    assert simulate_churn_day(DAY, 500, seed=3).equals(simulate_churn_day(DAY, 500, seed=3))
    assert not simulate_churn_day(DAY, 500, seed=3).equals(simulate_churn_day(DAY, 500, seed=4))


@pytest.mark.parametrize("file_format", ["csv", "parquet"])
def test_a_landed_day_passes_the_raw_and_features_contracts(file_format):
    landed = read_landed_file(f"customers.{file_format}",
                              encode_frame(simulate_churn_day(DAY, 2_000), file_format))
    report = apply_contract({f"customers.{file_format}": landed},
                            CUSTOMER_CHURN.raw_schema.to_schema(), day=DAY.isoformat(),
                            time_column=CUSTOMER_CHURN.time_column)
    assert report.passed, report.problem
    assert report.frame["churned"].dtype == bool and report.frame["churned"].any()
    features = build_features(report.frame, CUSTOMER_CHURN)
    checked = validate_frame(features, features_schema(CUSTOMER_CHURN), day=DAY.isoformat())
    assert checked.passed, checked.problem
    assert (features["observed_at"].dt.date == DAY).all()


def test_the_spec_is_a_complete_classification_model_and_a_builtin():
    assert load_spec("churn") is CUSTOMER_CHURN
    assert CUSTOMER_CHURN.task == "classification"
    assert CUSTOMER_CHURN.primary_metric == "roc_auc"
    assert CUSTOMER_CHURN.thresholds == {"roc_auc": 0.65}
    # the snapshot's time of day carries no signal, so no derived time features
    assert CUSTOMER_CHURN.model_features == (
        "tenure_months", "monthly_spend", "support_tickets", "usage_hours",
        "plan", "contract", "region")


def churn_rate_by(frame, column, bins):
    return frame.groupby(np.digitize(frame[column], bins))["churned"].mean().to_numpy()


def test_churn_follows_the_known_rule():
    frame = simulate_churn_day(DAY, 40_000)
    assert 0.08 < frame["churned"].mean() < 0.2
    assert (np.diff(churn_rate_by(frame, "support_tickets", [1, 2, 3])) > 0).all()
    assert (np.diff(churn_rate_by(frame, "usage_hours", [10, 20, 30])) < 0).all()
    by_contract = frame.groupby("contract")["churned"].mean()
    assert by_contract["annual"] < by_contract["monthly"] / 2


def test_concept_drift_changes_the_rule_not_the_inputs():
    normal = simulate_churn_day(DAY, 40_000)
    drifted = simulate_churn_day(DAY, 40_000, conditions=ChurnConditions(rule=PRICE_WAR_RULE))
    inputs = normal.columns.drop("churned")
    assert normal[inputs].equals(drifted[inputs])
    # before, usage protects and spend barely matters; in the price war, the other way round
    assert churn_rate_by(normal, "usage_hours", [20])[0] > 1.5 * churn_rate_by(
        normal, "usage_hours", [20])[1]
    assert churn_rate_by(drifted, "monthly_spend", [60])[1] > 2 * churn_rate_by(
        drifted, "monthly_spend", [60])[0]
    assert churn_rate_by(drifted, "usage_hours", [20])[0] < 1.2 * churn_rate_by(
        drifted, "usage_hours", [20])[1]


def test_covariate_drift_shifts_usage_under_the_same_rule():
    conditions = ChurnConditions(usage_scale=USAGE_DROP)
    normal = simulate_churn_day(DAY, 20_000)
    drifted = simulate_churn_day(DAY, 20_000, conditions=conditions)
    assert drifted["usage_hours"].median() < 0.6 * normal["usage_hours"].median()
    assert normal["plan"].equals(drifted["plan"])
    assert drifted["churned"].mean() > normal["churned"].mean()  # less use, more churn
