"""The RetrainingPipeline component: the shipped project's models, and a third one added the way
a user adds one — a YAML file and a spec file in the defs folder, no platform code."""

from __future__ import annotations

import shutil
import textwrap
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from retrain_assets.adapters.registry import CHAMPION
from retrain_assets.adapters.storage import LocalObjectStore
from retrain_assets.dev.instance import run_job
from retrain_assets.dev.simulate import encode_frame
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.component import RetrainingPipeline
from retrain_assets.pipeline.names import Names

SHIPPED_DEFS = Path(__file__).resolve().parents[2] / "retrain_assets" / "defs"

FRAUD_SPEC = '''
import pandera.pandas as pa
from pandera.typing import Series

from retrain_assets.core.dataset import DatasetSpec


class Payments(pa.DataFrameModel):
    payment_id: Series[str] = pa.Field(unique=True)
    paid_at: Series[pa.DateTime]
    amount: Series[float] = pa.Field(ge=0)
    merchant: Series[str] = pa.Field(isin=["grocery", "travel", "online"])
    is_fraud: Series[bool]

    class Config:
        strict = True
        coerce = True


FRAUD = DatasetSpec(
    name="card_fraud", raw_schema=Payments, time_column="paid_at", id_column="payment_id",
    target="is_fraud", task="classification", numeric_features=("amount",),
    categorical_features=("merchant",), absolute_thresholds={"roc_auc": 0.6})
'''

FRAUD_YAML = """
type: retrain_assets.pipeline.component.RetrainingPipeline
attributes:
  dataset: spec.py:FRAUD
  start_date: "2025-01-01"
  retrain:
    training: {window_days: 14, min_train_days: 5, max_iter: 40}
"""


def payments(day: date, rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(day.toordinal())
    amount = rng.gamma(2.0, 40.0, rows)
    merchant = rng.choice(["grocery", "travel", "online"], rows)
    risk = -3 + 0.015 * amount + 1.2 * (merchant == "online")
    return pd.DataFrame({
        "payment_id": [f"{day:%Y%m%d}-{i}" for i in range(rows)],
        "paid_at": pd.Timestamp(day) + pd.to_timedelta(rng.integers(0, 86400, rows), unit="s"),
        "amount": amount.round(2), "merchant": merchant,
        "is_fraud": rng.random(rows) < 1 / (1 + np.exp(-risk))})


@pytest.fixture
def project_with_fraud(tmp_path, monkeypatch) -> Path:
    """A dg project whose defs folder holds the shipped models' YAML files plus a fraud model:
    its YAML and its spec file, nothing else."""
    root = tmp_path / "models_project"
    (root / "models_project").mkdir(parents=True)
    (root / "models_project" / "__init__.py").write_text("")
    shutil.copytree(SHIPPED_DEFS, root / "models_project" / "defs")
    fraud = root / "models_project" / "defs" / "fraud"
    fraud.mkdir()
    (fraud / "defs.yaml").write_text(FRAUD_YAML)
    (fraud / "spec.py").write_text(textwrap.dedent(FRAUD_SPEC))
    (root / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.dg]
        directory_type = "project"
        [tool.dg.project]
        root_module = "models_project"
        """))
    monkeypatch.syspath_prepend(str(root))
    return root


def load(root: Path) -> dg.Definitions:
    tree = dg.ComponentTree.for_project(path_within_project=root)
    return tree.build_defs(tree.defs_module_path)


def test_the_shipped_project_loads_two_pipelines_that_share_nothing():
    from retrain_assets.definitions import load_definitions

    defs = load_definitions()
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    for model in ("taxi", "churn"):
        assert {f"{model}/raw_data", f"{model}/candidate_model", f"{model}/production_model",
                f"{model}/drift_report"} <= keys
        assert defs.resolve_job_def(f"{model}_training_job")
        assert defs.resolve_sensor_def(f"{model}_drift_retrain_sensor")
    assert {k for k in keys if not k.startswith(("taxi/", "churn/"))} == set()
    taxi, churn = (defs.resources[f"{m}_mlflow"] for m in ("taxi", "churn"))
    assert (taxi.model_name, churn.model_name) == ("taxi_trips", "customer_churn")
    assert defs.resources["taxi_landing_zone"].url != defs.resources["churn_landing_zone"].url
    assert defs.resources["taxi_io_manager"].url != defs.resources["churn_io_manager"].url
    graph = defs.resolve_asset_graph()
    assert graph.get(dg.AssetKey(["churn", "raw_data"])).group_name == "churn_ingestion"


def test_a_third_model_is_a_yaml_file_and_a_spec(home, instance, project_with_fraud):
    defs = load(project_with_fraud)
    assert {"taxi_training_job", "churn_training_job", "fraud_training_job"} <= {
        job.name for job in defs.resolve_all_job_defs()}
    landing = LocalObjectStore(home / "fraud" / "landing")  # the component's default
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(10)]
    for day in days:
        landing.write_bytes(f"{day}/payments.parquet",
                            encode_frame(payments(day), "parquet"))
    keys = [day.isoformat() for day in days]

    assert run_job(defs, "fraud_ingest_job", instance, days=keys).success
    policy = defs.resources["fraud_retrain_policy"]  # the YAML's training settings
    trained = run_job(defs, "fraud_training_job", instance,
                      run_config=policy.run_config(Names("fraud")))

    assert trained.success
    registry = defs.resources["fraud_mlflow"].registry()
    assert registry.model_name == "card_fraud"
    assert registry.version_for(CHAMPION) == "1"
    promoted = instance.fetch_materializations(
        dg.AssetKey(["fraud", "production_model"]), limit=1).records[0]
    assert promoted.asset_materialization.metadata["model_version"].value == "1"
    # the other models saw none of it
    for model in ("taxi", "churn"):
        assert defs.resources[f"{model}_mlflow"].registry().version_for(CHAMPION) is None
        assert not instance.fetch_materializations(dg.AssetKey([model, "raw_data"]),
                                                   limit=1).records


def test_a_secret_in_the_yaml_is_refused():
    with pytest.raises(Exception, match="SLACK_BOT_TOKEN"):
        RetrainingPipeline.resolve_from_yaml(
            "dataset: taxi\nfailure_alerts: {slack_token: xoxb-123}\n")


def test_a_bad_setting_names_the_field():
    with pytest.raises(Exception, match="min_interval_seconds"):
        RetrainingPipeline.resolve_from_yaml(
            "dataset: taxi\nretrain: {min_interval_seconds: soon}\n")


def test_an_unknown_alert_kind_in_the_yaml_is_refused_naming_it():
    with pytest.raises(Exception, match=r"unknown kinds \['promoted'\]"):
        RetrainingPipeline.resolve_from_yaml(
            "dataset: taxi\noutcome_alerts:\n  routes: [{kinds: [promoted], "
            "slack_channel: '#x'}]\n")


def test_secrets_reach_the_resources_as_env_vars_never_as_values(monkeypatch, home):
    from retrain_assets.definitions import load_definitions

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-not-for-the-ui")
    monkeypatch.setenv("RETRAIN_ASSETS_SMTP_PASSWORD", "hunter2")
    defs = load_definitions()
    failures = defs.resources["churn_alerts"]._convert_to_config_dictionary()
    outcomes = defs.resources["churn_outcome_alerts"]._convert_to_config_dictionary()
    assert failures["slack_token"] == {"env": "SLACK_BOT_TOKEN"}
    assert outcomes["slack_token"] == {"env": "SLACK_BOT_TOKEN"}
    assert outcomes["smtp_password"] == {"env": "RETRAIN_ASSETS_SMTP_PASSWORD"}
    assert "xoxb-not-for-the-ui" not in repr(failures) + repr(outcomes)
    assert "hunter2" not in repr(outcomes)


def test_an_end_date_before_the_start_names_both_settings(tmp_path):
    pipeline = RetrainingPipeline.resolve_from_yaml(
        "dataset: taxi\nstart_date: '2025-03-01'\nend_date: '2025-02-01'\n")
    with pytest.raises(ValueError, match="end_date 2025-02-01 is before start_date 2025-03-01"):
        pipeline.project_and_resources(tmp_path / "taxi")


def test_a_label_fed_model_watches_its_label_zone_and_a_plain_one_has_none(home, tmp_path):
    fed = RetrainingPipeline.resolve_from_yaml(
        f"dataset: churn_late_labels\nlabels_url: {tmp_path / 'late'}\n")
    project, resources = fed.project_and_resources(tmp_path / "churn_late")
    assert resources["churn_late_labels_zone"].url == str(tmp_path / "late")
    defs = build_definitions(project, resources)
    assert defs.resolve_sensor_def("churn_late_labels_sensor")
    assert defs.resolve_assets_def(dg.AssetKey(["churn_late", "performance"]))

    plain = RetrainingPipeline.resolve_from_yaml(f"dataset: churn\nlabels_url: {tmp_path}\n")
    _, resources = plain.project_and_resources(tmp_path / "churn")
    assert "churn_labels_zone" not in resources
