"""A spec that brings its own estimator trains, is judged, promoted and scores with unchanged
asset code; a model file holding a type its spec does not declare is never loaded."""

from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import pytest

from retrain_assets.core.model import ModelSpec
from retrain_assets.core.training import trusted_types
from retrain_assets.definitions import build_definitions
from retrain_assets.instance import run_job
from retrain_assets.project import Project
from retrain_assets.registry import CHAMPION, UntrustedModelError
from retrain_assets_tests.conftest import land_frame
from retrain_assets_tests.test_bring_your_own_data import CHURN, churn_day

LOGISTIC_CHURN = replace(CHURN, model=ModelSpec("sklearn.linear_model.LogisticRegression",
                                                params={"C": 0.5, "max_iter": 500}))


def test_a_logistic_regression_goes_from_candidate_to_predictions(home, instance, landing):
    defs = build_definitions(Project(spec=LOGISTIC_CHURN, start_date="2025-01-01"))
    keys = [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(10)]
    for key in keys:
        land_frame(landing, key, churn_day(date.fromisoformat(key)), name="customers.parquet")
    assert run_job(defs, "ingest_job", instance, days=keys).success
    assert run_job(defs, "training_job", instance, run_config={"ops": {"candidate_model": {
        "config": {"window_days": 10}}}}).success
    assert run_job(defs, "scoring_job", instance, days=[keys[-1]]).success

    registry = defs.resources["mlflow"].registry()
    assert registry.version_for(CHAMPION) == "1"
    run = registry.client.get_run(registry.client.get_model_version(registry.model_name,
                                                                    "1").run_id)
    assert run.data.params["estimator"] == "sklearn.linear_model.LogisticRegression"
    assert run.data.params["preprocessing"] == "scaled_onehot"
    assert run.data.params["estimator.C"] == "0.5" and "learning_rate" not in run.data.params
    report = instance.get_latest_materialization_event(
        dg.AssetKey("evaluation_report")).asset_materialization.metadata
    assert report["verdict"].value == "blessed"
    metrics = {r.data["metric"]: r.data["candidate"] for r in report["metrics"].value.records}
    assert metrics["roc_auc"] > 0.7
    scored = instance.get_latest_materialization_event(
        dg.AssetKey("predictions")).asset_materialization
    assert scored.partition == keys[-1] and scored.metadata["model_version"].value == "1"
    assert scored.metadata["rows"].value == 300
    champion = registry.load_model("1", trusted_types(LOGISTIC_CHURN))
    assert type(champion.named_steps["model"]).__name__ == "LogisticRegression"

    # The same champion under a spec that does not declare what its preprocessing stores:
    # refused by name, in the registry and in the scoring run, never loaded.
    with pytest.raises(UntrustedModelError, match=r"customer_churn version 1 contains types "
                       r".*the dataset spec does not declare: \['numpy.dtype'\]"):
        registry.load_model("1")
    undeclared = build_definitions(Project(spec=CHURN, start_date="2025-01-01"))
    refused = run_job(undeclared, "scoring_job", instance, days=[keys[-1]])
    assert not refused.success
    (failure,) = [e for e in refused.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "['numpy.dtype']" in message and "ModelSpec(trusted_types=...)" in message
