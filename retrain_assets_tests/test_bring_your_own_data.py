"""A user's own dataset — here a churn classifier — runs through unchanged asset code."""

from datetime import date, timedelta

import dagster as dg
import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series
from sklearn.metrics import roc_auc_score

from retrain_assets.core.dataset import DatasetSpec, load_spec
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.project import Project
from retrain_assets_tests.conftest import land_frame


class CustomerDays(pa.DataFrameModel):
    customer_id: Series[str] = pa.Field(unique=True)
    observed_at: Series[pa.DateTime]
    plan: Series[str] = pa.Field(isin=["basic", "plus", "pro"])
    monthly_spend: Series[float] = pa.Field(ge=0)
    support_tickets: Series[int] = pa.Field(ge=0)
    churned: Series[bool]

    class Config:
        strict = True
        coerce = True


CHURN = DatasetSpec(
    name="customer_churn", raw_schema=CustomerDays, time_column="observed_at",
    id_column="customer_id", target="churned", task="classification",
    numeric_features=("monthly_spend", "support_tickets"), categorical_features=("plan",),
    derive_time_features=False,
)


def churn_day(day: date, rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(day.toordinal())
    tickets = rng.poisson(1.5, rows)
    spend = rng.gamma(2, 20, rows)
    plan = rng.choice(["basic", "plus", "pro"], rows)
    logit = -2 + 0.9 * tickets - 0.03 * spend + (plan == "basic") * 1.0
    return pd.DataFrame({
        "customer_id": [f"{day:%Y%m%d}-{i}" for i in range(rows)],
        "observed_at": pd.Timestamp(day) + pd.to_timedelta(rng.integers(0, 86_400, rows), "s"),
        "plan": plan, "monthly_spend": spend.round(2), "support_tickets": tickets,
        "churned": rng.random(rows) < 1 / (1 + np.exp(-logit)),
    })


def test_a_spec_is_loaded_by_dotted_path_and_validated():
    assert load_spec("retrain_assets_tests.test_bring_your_own_data:CHURN") is CHURN
    with pytest.raises(ValueError, match="does not declare: \\['tenure'\\]"):
        DatasetSpec(name="x", raw_schema=CustomerDays, time_column="observed_at",
                    id_column="customer_id", target="churned", task="classification",
                    numeric_features=("tenure",), categorical_features=())


def test_classification_dataset_trains_and_bootstraps_a_champion(home, instance, landing):
    defs = build_definitions(Project(spec=CHURN, start_date="2025-01-01"))
    days = [(date(2025, 1, 1) + timedelta(days=i)) for i in range(16)]
    for day in days:
        land_frame(landing, day.isoformat(), churn_day(day), name="customers.parquet")
    keys = [d.isoformat() for d in days]
    assert run_job(defs, "ingest_job", instance, days=keys).success
    trained = run_job(defs, "training_job", instance, run_config={"ops": {"candidate_model": {
        "config": {"window_days": 16}}}})
    assert trained.success
    report = instance.get_latest_materialization_event(
        dg.AssetKey("evaluation_report")).asset_materialization.metadata
    metrics = {r.data["metric"]: r.data["candidate"] for r in report["metrics"].value.records}
    assert set(metrics) == {"accuracy", "f1", "roc_auc"} and metrics["roc_auc"] > 0.7
    assert defs.resources["mlflow"].registry().version_for("champion") == "1"

    # a new day scored says what its labels will show, estimated from calibrated probabilities
    new = [(days[-1] + timedelta(days=i)) for i in (1, 2)]
    for day in new:
        land_frame(landing, day.isoformat(), churn_day(day), name="customers.parquet")
    new_keys = [d.isoformat() for d in new]
    assert run_job(defs, "ingest_job", instance, days=new_keys).success
    assert run_job(defs, "scoring_job", instance, days=new_keys).success
    for day in new_keys:
        (scored,) = instance.fetch_materializations(dg.AssetRecordsFilter(
            asset_key=dg.AssetKey("predictions"), asset_partitions=[day]), limit=1).records
        estimated = scored.asset_materialization.metadata["estimated_roc_auc"].value
        stored = pd.read_parquet(home / "storage" / "predictions" / f"{day}.parquet")
        realized = roc_auc_score(stored["actual"], stored["prediction"])
        assert abs(estimated - realized) < 0.1, (day, estimated, realized)
