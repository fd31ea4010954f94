"""The registry owns its MLflow records: an evaluation written and read back by version."""

import pytest

from retrain_assets.adapters.registry import HoldoutMetrics, ModelRef, ModelRegistry


@pytest.fixture
def registry(home) -> ModelRegistry:
    return ModelRegistry(tracking_uri=f"sqlite:///{home / 'mlflow.db'}", experiment="evaluated",
                         model_name="judged", ui_url="http://mlflow.example")


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


def test_an_evaluation_is_read_back_by_version_with_its_verdict_on_run_and_version(registry,
                                                                                  home):
    candidate = _trained(registry, home)
    registry.log_evaluation(candidate, HoldoutMetrics({"rmse": 2.5, "mae": 1.5}, rows=400,
                                                      noise={"rmse": 0.8}),
                            blessed=False, reasons=["FAIL rmse", "ok   mae"])

    assert registry.holdout_metrics(candidate.version) == HoldoutMetrics(
        {"rmse": 2.5, "mae": 1.5}, rows=400, noise={"rmse": 0.8})
    tags = registry.run_tags(candidate.version)
    assert tags["verdict"] == "not blessed" and tags["trigger"] == "drift"
    version_tags = registry.client.get_model_version("judged", candidate.version).tags
    assert version_tags["verdict"] == "not blessed: FAIL rmse; ok   mae"
    experiment = registry.client.get_run(candidate.run_id).info.experiment_id
    assert registry.run_url_of(candidate.version) == (
        f"http://mlflow.example/#/experiments/{experiment}/runs/{candidate.run_id}")


def test_a_version_never_evaluated_has_no_holdout_metrics(registry, home):
    candidate = _trained(registry, home)
    registry.client.log_metric(candidate.run_id, "train_rows", 10)  # not a holdout metric
    assert registry.holdout_metrics(candidate.version) == HoldoutMetrics({})
