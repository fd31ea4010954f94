"""A spec that brings its own estimator trains, is judged, promoted and scores with unchanged
asset code; a model file holding a type its spec does not declare is never loaded."""

from dataclasses import replace
from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from retrain_assets.adapters.registry import CHAMPION, UntrustedModelError
from retrain_assets.adapters.storage import LocalObjectStore
from retrain_assets.core.dataset import DatasetSpec
from retrain_assets.core.frames import read_parquet
from retrain_assets.core.model import ModelSpec
from retrain_assets.core.training import trusted_types
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.project import Project
from retrain_assets_tests.conftest import land_frame
from retrain_assets_tests.test_bring_your_own_data import CHURN, churn_day

LOGISTIC_CHURN = replace(CHURN, model=ModelSpec("sklearn.linear_model.LogisticRegression",
                                                params={"C": 0.5, "max_iter": 500}))

TODAYS_CHAMPION = {"ops": {"predictions": {"config": {"champion": "today"}}}}


def test_a_logistic_regression_goes_from_candidate_to_predictions(home, instance, landing):
    defs = build_definitions(Project(spec=LOGISTIC_CHURN, start_date="2025-01-01"))
    keys = [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(10)]
    for key in keys:
        land_frame(landing, key, churn_day(date.fromisoformat(key)), name="customers.parquet")
    assert run_job(defs, "ingest_job", instance, days=keys).success
    assert run_job(defs, "training_job", instance, run_config={"ops": {"candidate_model": {
        "config": {"window_days": 10}}}}).success
    # the model was judged on the last day: scoring it there is asked for explicitly
    assert run_job(defs, "scoring_job", instance, days=[keys[-1]],
                   run_config=TODAYS_CHAMPION).success

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
    assert scored.metadata["dagster/row_count"].value == 300
    champion = registry.load_model("1", trusted_types(LOGISTIC_CHURN))
    assert type(champion.named_steps["model"]).__name__ == "LogisticRegression"

    # The same champion under a spec that does not declare what its preprocessing stores:
    # refused by name, in the registry and in the scoring run, never loaded.
    with pytest.raises(UntrustedModelError, match=r"customer_churn version 1 contains types "
                       r".*the dataset spec does not declare: \['numpy.dtype'\]"):
        registry.load_model("1")
    undeclared = build_definitions(Project(spec=CHURN, start_date="2025-01-01"))
    refused = run_job(undeclared, "scoring_job", instance, days=[keys[-1]],
                      run_config=TODAYS_CHAMPION)
    assert not refused.success
    (failure,) = [e for e in refused.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message
    assert "['numpy.dtype']" in message and "ModelSpec(trusted_types=...)" in message
    assert not instance.get_records_for_run(
        refused.run_id, of_type=dg.DagsterEventType.STEP_UP_FOR_RETRY).records


class TicketDays(pa.DataFrameModel):
    ticket_id: Series[str] = pa.Field(unique=True)
    opened_at: Series[pa.DateTime]
    words: Series[float] = pa.Field(ge=0)
    channel: Series[str] = pa.Field(isin=["mail", "chat", "phone"])
    team: Series[str] = pa.Field(isin=["billing", "tech", "sales"])

    class Config:
        strict = True
        coerce = True


ROUTING = DatasetSpec(
    name="ticket_routing", raw_schema=TicketDays, time_column="opened_at", id_column="ticket_id",
    target="team", task="multiclass", numeric_features=("words",),
    categorical_features=("channel",), absolute_thresholds={"f1_macro": 0.5},
)


def ticket_day(day: date, rows: int = 300) -> pd.DataFrame:
    """Long tickets go to tech, chats to sales, the rest to billing (with some noise)."""
    rng = np.random.default_rng(day.toordinal())
    words = rng.gamma(2, 50, rows).round()
    channel = rng.choice(["mail", "chat", "phone"], rows)
    team = np.where(words > 150, "tech", np.where(channel == "chat", "sales", "billing"))
    noisy = rng.random(rows) < 0.1
    team[noisy] = rng.choice(["billing", "tech", "sales"], noisy.sum())
    return pd.DataFrame({
        "ticket_id": [f"{day:%Y%m%d}-{i}" for i in range(rows)],
        "opened_at": pd.Timestamp(day) + pd.to_timedelta(rng.integers(0, 86_400, rows), "s"),
        "words": words, "channel": channel, "team": team})


def test_a_multiclass_dataset_is_gated_on_macro_f1_and_scores_a_class(home, instance, landing):
    defs = build_definitions(Project(spec=ROUTING, start_date="2025-01-01"))
    keys = [(date(2025, 1, 1) + timedelta(days=i)).isoformat() for i in range(8)]
    for key in keys:
        land_frame(landing, key, ticket_day(date.fromisoformat(key)), name="tickets.csv")
    assert run_job(defs, "ingest_job", instance, days=keys).success
    assert run_job(defs, "training_job", instance, run_config={"ops": {"candidate_model": {
        "config": {"window_days": 8, "min_train_days": 5, "max_iter": 30}}}}).success
    report = instance.get_latest_materialization_event(
        dg.AssetKey("evaluation_report")).asset_materialization.metadata
    assert report["verdict"].value == "blessed"
    new_day = "2025-01-09"
    land_frame(landing, new_day, ticket_day(date(2025, 1, 9)), name="tickets.csv")
    scored_day = dg.materialize(
        defs.assets, selection=["raw_data", "features", "predictions", "drift_report"],
        partition_key=new_day, instance=instance, resources=defs.resources)
    decay = next(e for e in scored_day.get_asset_check_evaluations()
                 if e.check_name == "no_performance_decay")
    assert decay.passed and decay.metadata["live_f1_macro"].value > 0.8
    metrics = {r.data["metric"]: r.data["candidate"] for r in report["metrics"].value.records}
    assert set(metrics) == {"f1_macro", "accuracy", "log_loss"}
    assert metrics["f1_macro"] > 0.8 and metrics["log_loss"] < 0.6
    assert "candidate_f1_macro" in report["per_day"].value.records[0].data
    stored = LocalObjectStore(defs.resources["io_manager"].url)
    scored = read_parquet(stored.read_bytes(f"predictions/{new_day}.parquet"))
    assert len(scored) == 300 and set(scored["predicted_class"]) == {"billing", "tech", "sales"}
    assert (scored["predicted_class"] == scored["actual"]).mean() > 0.8
    assert scored["prediction"].between(1 / 3, 1).all()  # the most likely of three classes
