"""The registry owns its MLflow records: an evaluation written and read back by version, runs
that say where they came from and link back to it, an experiment that opens as machine
learning."""

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.entities import ViewType
from sklearn.linear_model import LinearRegression

from retrain_assets.adapters.registry import (
    EXPERIMENT_KIND_TAG,
    HoldoutMetrics,
    ModelRef,
    ModelRegistry,
    RunOrigin,
)
from retrain_assets.core.estimation import Calibration
from retrain_assets.core.evaluation import ImprovementInterval, Verdict

NOT_BLESSED = Verdict(
    blessed=False, reasons=("FAIL rmse", "ok   mae"), primary_metric="rmse",
    candidate_metrics={"rmse": 2.5, "mae": 1.5}, champion_metrics={"rmse": 2.4, "mae": 1.6},
    improvement=-0.04, interval=ImprovementInterval(low=-0.09, high=0.01, confidence=0.9,
                                                    resamples=200))


@pytest.fixture
def registry(home) -> ModelRegistry:
    return ModelRegistry(tracking_uri=f"sqlite:///{home / 'mlflow.db'}", experiment="evaluated",
                         model_name="judged", ui_url="http://mlflow.example",
                         artifact_location=str(home / "artifacts"))


def _trained(registry: ModelRegistry, home) -> ModelRef:
    """A registered version with a run of its own, as log_candidate leaves one."""
    client = registry.client
    run = client.create_run(registry._activate(), tags={"trigger": "drift"})
    client.create_registered_model(registry.model_name)
    version = client.create_model_version(registry.model_name, source=str(home / "model"),
                                          run_id=run.info.run_id).version
    return ModelRef(name=registry.model_name, version=str(version), run_id=run.info.run_id,
                    run_url="", train_days=("2025-01-01",), holdout_days=("2025-01-02",),
                    train_rows=10)


def _evaluate(registry: ModelRegistry, candidate: ModelRef) -> None:
    registry.log_evaluation(
        candidate, HoldoutMetrics({"rmse": 2.5, "mae": 1.5}, rows=400, noise={"rmse": 0.8}),
        NOT_BLESSED, plots={"predicted_vs_actual": b"\x89PNG not really"},
        tables={"metrics": pd.DataFrame({"metric": ["rmse", "mae"], "candidate": [2.5, 1.5],
                                         "champion": [2.4, 1.6]})})


def test_an_evaluation_is_read_back_by_version_with_its_verdict_on_run_and_version(registry,
                                                                                  home):
    candidate = _trained(registry, home)
    _evaluate(registry, candidate)

    assert registry.holdout_metrics(candidate.version) == HoldoutMetrics(
        {"rmse": 2.5, "mae": 1.5}, rows=400, noise={"rmse": 0.8})
    tags = registry.run_tags(candidate.version)
    assert tags["verdict"] == "not blessed" and tags["trigger"] == "drift"
    version_tags = registry.client.get_model_version("judged", candidate.version).tags
    assert version_tags["verdict"] == "not blessed: FAIL rmse; ok   mae"
    experiment = registry.client.get_run(candidate.run_id).info.experiment_id
    assert registry.run_url_of(candidate.version) == (
        f"http://mlflow.example/#/experiments/{experiment}/runs/{candidate.run_id}"
        "?workflowType=machine_learning")


def test_an_evaluation_leaves_its_numbers_tables_and_plot_on_the_run_once_when_retried(
        registry, home, tmp_path):
    candidate = _trained(registry, home)
    _evaluate(registry, candidate)
    _evaluate(registry, candidate)  # a retried step logs again

    metrics = registry.client.get_run(candidate.run_id).data.metrics
    assert {k: metrics[k] for k in ("blessed", "improvement", "improvement_low",
                                    "improvement_high", "improvement_confidence",
                                    "champion_holdout_rmse")} == {
        "blessed": 0.0, "improvement": -0.04, "improvement_low": -0.09,
        "improvement_high": 0.01, "improvement_confidence": 0.9, "champion_holdout_rmse": 2.4}
    assert sorted(a.path for a in registry.client.list_artifacts(
        candidate.run_id, "evaluation")) == [
        "evaluation/metrics.csv", "evaluation/predicted_vs_actual.png", "evaluation/verdict.json"]
    folder = tmp_path / "downloaded"
    folder.mkdir()
    local = Path(registry.client.download_artifacts(candidate.run_id, "evaluation", str(folder)))
    table = pd.read_csv(local / "metrics.csv")
    assert table.to_dict("list") == {"metric": ["rmse", "mae"], "candidate": [2.5, 1.5],
                                     "champion": [2.4, 1.6]}, "one copy, not appended twice"
    assert (local / "predicted_vs_actual.png").read_bytes() == b"\x89PNG not really"
    verdict = json.loads((local / "verdict.json").read_text())
    assert verdict["reasons"] == ["FAIL rmse", "ok   mae"]
    assert verdict["interval"]["low"] == -0.09


def test_a_classifier_s_holdout_calibration_is_read_back_by_version(registry, home):
    candidate = _trained(registry, home)
    _evaluate(registry, candidate)
    assert registry.load_calibration(candidate.version) is None, "a regressor keeps none"

    kept = {"raw": [0.1, 0.9], "calibrated": [0.05, 0.8]}
    registry.log_evaluation(candidate, HoldoutMetrics({"roc_auc": 0.8}, rows=400), NOT_BLESSED,
                            plots={}, tables={}, calibration=kept)
    assert registry.load_calibration(candidate.version) == Calibration.from_dict(kept)


def test_the_experiment_opens_as_machine_learning_unless_its_kind_was_chosen(home):
    uri = f"sqlite:///{home / 'mlflow.db'}"
    client = ModelRegistry(tracking_uri=uri, experiment="created", model_name="m").client
    client.create_experiment("created before the tag")
    client.create_experiment("chosen", tags={EXPERIMENT_KIND_TAG: "genai_development"})
    for name in ("created", "created before the tag", "chosen"):
        ModelRegistry(tracking_uri=uri, experiment=name, model_name="m")._activate()

    assert {e.name: e.tags.get(EXPERIMENT_KIND_TAG)
            for e in client.search_experiments(view_type=ViewType.ALL)} == {
        "Default": None, "created": "custom_model_development",
        "created before the tag": "custom_model_development", "chosen": "genai_development"}


def test_a_trained_run_names_its_dagster_job_and_asset_and_links_back(registry):
    inputs = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]})
    model = LinearRegression().fit(inputs, inputs["x"] * 2)
    origin = RunOrigin(job="taxi_training_job", asset="taxi/candidate_model", run_id="r-123",
                       run_url="http://dagster.example/runs/r-123")
    ref = registry.log_candidate(model, inputs=inputs, params={"alpha": 1}, metrics={},
                                 tags={"trigger": "drift"}, origin=origin,
                                 train_days=("2025-01-01", "2025-01-07"),
                                 holdout_days=("2025-01-07", "2025-01-08"))

    run = registry.client.get_run(ref.run_id)
    tags = run.data.tags
    assert (tags["mlflow.source.name"], tags["mlflow.source.type"]) == (
        "dagster:taxi_training_job/taxi/candidate_model", "JOB")
    assert (tags["dagster_run_id"], tags["dagster_run_url"], tags["trigger"]) == (
        "r-123", "http://dagster.example/runs/r-123", "drift")
    assert "[r-123](http://dagster.example/runs/r-123)" in tags["mlflow.note.content"]
    assert run.info.run_name == "train 2025-01-01..2025-01-07"
    assert ref.run_url == registry.run_url(ref.run_id)


def test_without_a_dagster_ui_address_a_run_still_names_the_dagster_run():
    tags = RunOrigin(job="training_job", asset="candidate_model", run_id="r-9").tags()
    assert "dagster_run_url" not in tags and tags["dagster_run_id"] == "r-9"
    assert tags["mlflow.note.content"] == (
        "Logged by the asset `candidate_model` in Dagster run `r-9` of job `training_job`.")


def test_a_version_never_evaluated_has_no_holdout_metrics(registry, home):
    candidate = _trained(registry, home)
    registry.client.log_metric(candidate.run_id, "train_rows", 10)  # not a holdout metric
    assert registry.holdout_metrics(candidate.version) == HoldoutMetrics({})
