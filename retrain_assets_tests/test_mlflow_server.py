"""The pipeline against a real `mlflow server` process (SQLite backend, artifacts served by it).

Only MLFLOW_TRACKING_URI changes; runs, registered versions and the champion/previous aliases
must come out as with the embedded store, and the run link in the metadata must open that
server's run.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from datetime import timedelta

import dagster as dg
import pytest
from mlflow import MlflowClient

from retrain_assets.adapters.registry import CHAMPION, PREVIOUS
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.build import build_definitions
from retrain_assets_tests.conftest import START, land, training_config

pytestmark = [pytest.mark.service, pytest.mark.slow]
TRAINING = training_config(window_days=7, min_train_days=5)


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.status == 200
        return json.loads(response.read())


def _train(defs, instance, trigger: str) -> dg.ExecuteInProcessResult:
    result = run_job(defs, "training_job", instance, run_config=TRAINING,
                     tags={"retrain/trigger": trigger})
    assert result.success, [e.message for e in result.all_events if e.is_failure]
    return result


def test_training_twice_with_drift_between_moves_aliases_on_the_server(
        home, project, instance, landing, mlflow_server, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    defs = build_definitions(project)
    model = project.spec.name

    history = land(landing, START, 10, rows=200)
    assert run_job(defs, "ingest_job", instance, days=history).success
    first = _train(defs, instance, "bootstrap")
    drift_start = START + timedelta(days=10)
    drifted = land(landing, drift_start, 8, rows=200, drift_from=drift_start)
    assert run_job(defs, "ingest_job", instance, days=drifted).success
    second = _train(defs, instance, "drift")

    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    assert sorted(v.version for v in client.search_model_versions(f"name='{model}'")) == ["1", "2"]
    assert client.get_model_version_by_alias(model, CHAMPION).version == "2"
    assert client.get_model_version_by_alias(model, PREVIOUS).version == "1"
    alias = _get_json(f"{mlflow_server.url}/api/2.0/mlflow/registered-models/alias?"
                      + urllib.parse.urlencode({"name": model, "alias": CHAMPION}))
    assert alias["model_version"]["version"] == "2"

    champion_run = client.get_run(client.get_model_version(model, "2").run_id)
    assert champion_run.data.tags["dagster_run_id"] == second.run_id
    assert champion_run.data.tags["trigger"] == "drift"
    assert champion_run.data.tags["verdict"] == "blessed"
    assert client.get_run(client.get_model_version(model, "1").run_id).data.tags[
        "dagster_run_id"] == first.run_id
    # artifacts went through the server into its artifact store, not into the client's home
    assert list(mlflow_server.artifacts.rglob("MLmodel"))
    assert not (home / "mlflow" / "artifacts").exists()

    [materialization] = second.asset_materializations_for_node("candidate_model")
    run_url = materialization.metadata["mlflow_run"].value
    base, _, route = run_url.partition("/#/")
    assert base == mlflow_server.url
    assert route == (f"experiments/{champion_run.info.experiment_id}/runs/"
                     f"{champion_run.info.run_id}?workflowType=machine_learning")
    with urllib.request.urlopen(run_url, timeout=30) as page:  # the UI (a single-page app)
        assert page.status == 200 and b"<html" in page.read().lower()
    run_id = materialization.metadata["mlflow_run_id"].value
    run = _get_json(f"{mlflow_server.url}/api/2.0/mlflow/runs/get?run_id={run_id}")
    assert run["run"]["info"]["run_id"] == champion_run.info.run_id
