"""What an ML engineer finds in MLflow after a training run, and the links between the two UIs."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pandas as pd

from retrain_assets.adapters.registry import ModelRegistry
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.component import RetrainingPipeline
from retrain_assets_tests.conftest import SMALL_TRAINING, START, land


def _metadata(result, asset: str) -> dict:
    event, = [e for e in result.get_asset_materialization_events()
              if e.asset_key == dg.AssetKey(asset)]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_a_training_run_links_both_ways_and_logs_its_evaluation_after_a_transient_failure(
        home, project, instance, landing, monkeypatch, tmp_path):
    monkeypatch.setenv("RETRAIN_ASSETS_DAGSTER_UI_URL", "http://dagster.example/")
    monkeypatch.setenv("RETRAIN_ASSETS_MLFLOW_UI_URL", "http://mlflow.example")
    defs = build_definitions(project)
    real, failures = ModelRegistry.log_evaluation, [OSError("tracking server restarting")]

    def log_evaluation(self, *args, **kwargs):
        if failures:
            raise failures.pop()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ModelRegistry, "log_evaluation", log_evaluation)
    assert run_job(defs, "ingest_job", instance, days=land(landing, START, 8, rows=120)).success
    result = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    assert result.success
    assert [e.step_key for e in result.all_events
            if e.event_type_value == "STEP_UP_FOR_RETRY"] == ["evaluation_report"]

    registry = defs.resources["mlflow"].registry()
    run_id = registry.client.get_model_version(registry.model_name, "1").run_id
    run = registry.client.get_run(run_id)
    tags = run.data.tags
    assert tags["mlflow.source.name"] == "dagster:training_job/candidate_model"
    assert tags["dagster_run_id"] == result.run_id
    assert tags["dagster_run_url"] == f"http://dagster.example/runs/{result.run_id}"
    assert f"http://dagster.example/runs/{result.run_id}" in tags["mlflow.note.content"]

    page = (f"http://mlflow.example/#/experiments/{run.info.experiment_id}/runs/{run_id}"
            "?workflowType=machine_learning")
    for asset in ("candidate_model", "evaluation_report"):
        metadata = _metadata(result, asset)
        assert (metadata["mlflow_run"], metadata["mlflow_run_id"],
                metadata["mlflow_experiment_id"]) == (page, run_id, run.info.experiment_id)

    assert sorted(a.path for a in registry.client.list_artifacts(run_id, "evaluation")) == [
        "evaluation/metrics.csv", "evaluation/per_day.csv",
        "evaluation/predicted_vs_actual.png", "evaluation/verdict.json"]
    local = Path(registry.client.download_artifacts(run_id, "evaluation", str(tmp_path)))
    assert (local / "predicted_vs_actual.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = pd.read_csv(local / "metrics.csv")
    assert table.columns.tolist() == ["metric", "candidate"]  # the first has no champion
    assert table.set_index("metric")["candidate"]["rmse"] == run.data.metrics["holdout_rmse"]
    assert run.data.metrics["blessed"] == 1.0


def test_mlflow_links_back_to_the_dagster_ui_the_alerts_link_to(tmp_path):
    pipeline = RetrainingPipeline.resolve_from_yaml(
        "dataset: taxi\noutcome_alerts: {dagster_ui_url: 'https://dagster.example.com'}\n")
    _, resources = pipeline.project_and_resources(tmp_path / "taxi")
    assert resources["taxi_mlflow"].dagster_run_url("r1") == "https://dagster.example.com/runs/r1"
