"""The asset graph materialized for real: temporary instance, MLflow store and landing zone."""

from datetime import timedelta

import dagster as dg
import mlflow
import pytest
import yaml

from retrain_assets.dev.instance import REPO_DAGSTER_YAML, run_job
from retrain_assets.pipeline.checks import CANDIDATE_BLESSED, CONTRACT
from retrain_assets.pipeline.project import DAYS_PER_RUN, Project
from retrain_assets_tests.conftest import START, good_day, land, land_frame


def _registry(defs):
    return defs.resources["mlflow"].registry()


def _check_evaluations(instance, asset: str, check: str) -> list[dg.AssetCheckEvaluation]:
    records = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey(asset), check), limit=1000)
    return [r.event.dagster_event.event_specific_data for r in records if r.event]


def _materialized(result, asset: str) -> list[str]:
    return sorted(e.partition or "" for e in result.get_asset_materialization_events()
                  if e.asset_key == dg.AssetKey(asset))


def _metadata(instance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


@pytest.mark.slow
def test_champion_lifecycle_bootstrap_reject_promote_rollback(defs, instance, landing):
    registry = _registry(defs)
    history = land(landing, START, 35)
    ingest = run_job(defs, "ingest_job", instance, days=history)
    assert ingest.success and _materialized(ingest, "features") == history
    passed = {e.partition for e in _check_evaluations(instance, "raw_data", CONTRACT) if e.passed}
    assert passed >= set(history), "each day gets its own contract evaluation"

    # 1. the first candidate bootstraps the champion
    first = run_job(defs, "training_job", instance, tags={"retrain/trigger": "bootstrap"})
    assert first.success, "first training run failed"
    assert registry.version_for("champion") == "1"
    report = _metadata(instance, "evaluation_report")
    assert report["verdict"] == "blessed" and report["champion_version"] == "none"
    run = mlflow.MlflowClient(registry.tracking_uri).get_run(
        registry.client.get_model_version(registry.model_name, "1").run_id)
    assert run.data.tags["dagster_run_id"] == first.run_id
    assert run.data.tags["trigger"] == "bootstrap"
    # the 28-day window; the latest 5% of its rows (≥ 250) held out, from inside the 34th day
    assert run.data.tags["train_days"] == f"{history[7]}..{history[33]}"
    assert run.data.tags["holdout_days"] == f"{history[33]}..{history[34]}"
    assert run.data.params["window_days"] == "28" and "holdout_rmse" in run.data.metrics
    model_info = mlflow.models.get_model_info(f"models:/{registry.model_name}/1")
    assert model_info.signature is not None and model_info.saved_input_example_info is not None

    # 2. a worse candidate (crippled hyperparameters) is not promoted: an outcome, not a failure
    worse = run_job(defs, "training_job", instance, run_config={"ops": {
        "candidate_model": {"config": {"max_iter": 2, "learning_rate": 0.01}}}})
    assert worse.success
    assert registry.version_for("champion") == "1"
    assert _materialized(worse, "production_model") == []
    gate = _check_evaluations(instance, "evaluation_report", CANDIDATE_BLESSED)[0]
    assert not gate.passed and "FAIL" in gate.description
    assert gate.severity == dg.AssetCheckSeverity.WARN

    # 3. after the fare rule changes, a retrained candidate beats the stale champion
    drifted = land(landing, START + timedelta(days=35), 10, drift_from=START + timedelta(days=35))
    assert run_job(defs, "ingest_job", instance, days=drifted).success
    better = run_job(defs, "training_job", instance, tags={"retrain/trigger": "drift"})
    assert better.success
    assert registry.version_for("champion") == "3" and registry.version_for("previous") == "1"
    assert _metadata(instance, "production_model")["model_version"] == "3"
    assert _metadata(instance, "production_model")["rollback_to"] == "1"

    # 4. batch scoring records the version it used: a past day by the champion that served on
    # it (v3 was judged on this day, so v1 served it), or by today's champion when asked
    scored = run_job(defs, "scoring_job", instance, days=[drifted[-1]])
    assert scored.success and _metadata(instance, "predictions")["model_version"] == "1"
    today = run_job(defs, "scoring_job", instance, days=[drifted[-1]], run_config={
        "ops": {"predictions": {"config": {"champion": "today"}}}})
    assert today.success and _metadata(instance, "predictions")["model_version"] == "3"

    # 5. rollback walks the history back to 1 and the UI's production_model follows
    rollback = run_job(defs, "rollback_job", instance)
    assert rollback.success
    assert registry.version_for("champion") == "1" and registry.version_for("previous") is None
    assert _metadata(instance, "production_model")["model_version"] == "1"
    assert _metadata(instance, "promotion_history")["records"] == 3


def test_schema_violating_day_is_blocked_with_its_reason(defs, instance, landing, home):
    bad_day, good = "2025-01-05", "2025-01-06"
    frame = good_day(bad_day)
    frame.loc[[2, 9], "fare_amount"] = -12.5
    land_frame(landing, bad_day, frame)
    land_frame(landing, good, good_day(good))

    blocked = run_job(defs, "ingest_job", instance, days=[bad_day])
    assert not blocked.success
    assert _materialized(blocked, "features") == []
    evaluation = next(e for e in _check_evaluations(instance, "raw_data", CONTRACT)
                      if e.partition == bad_day)
    assert not evaluation.passed
    assert evaluation.metadata["failing_columns"].value == ["fare_amount"]
    assert "2025-01-05/trips.csv" in evaluation.description
    assert "2 of 200 rows" in evaluation.description
    assert evaluation.metadata["bad_rows_sample"].value.records[0].data["fare_amount"] == -12.5

    notes = list((home / "landing" / "_quarantine" / bad_day).glob("*/QUARANTINE_NOTE.json"))
    assert len(notes) == 1 and (notes[0].parent / bad_day / "trips.csv").is_file()
    assert not (home / "landing" / bad_day / "trips.csv").exists()

    assert run_job(defs, "ingest_job", instance, days=[good]).success


def test_backfill_range_checks_each_day_and_stores_the_good_ones(defs, instance, landing, home):
    days = land(landing, START, 4, rows=100)
    broken = good_day(days[2], rows=100).drop(columns=["payment_type"])
    (home / "landing" / days[2] / "trips.parquet").unlink()
    land_frame(landing, days[2], broken)

    result = run_job(defs, "ingest_job", instance, days=days)
    assert not result.success  # the blocking check fails the range's raw_data step
    by_day = {e.partition: e.passed for e in _check_evaluations(instance, "raw_data", CONTRACT)
              if e.partition}
    assert by_day == {days[0]: True, days[1]: True, days[2]: False, days[3]: True}
    stored = sorted(p.stem for p in (home / "storage" / "raw_data").glob("*.parquet"))
    assert stored == [days[0], days[1], days[3]]


def test_definitions_are_described_grouped_and_backfill_in_few_runs(defs, project):
    graph = defs.resolve_asset_graph()
    groups = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.description, f"{key} has no description"
        assert node.kinds, f"{key} has no kinds"
        groups[key.to_user_string()] = node.group_name
    assert groups == {"raw_data": "ingestion", "features": "ingestion",
                      "candidate_model": "training", "evaluation_report": "training",
                      "production_model": "deployment", "promotion_history": "deployment",
                      "shadow_report": "deployment", "predictions": "monitoring",
                      "drift_report": "monitoring"}
    for name in ("raw_data", "features", "predictions"):
        policy = graph.get(dg.AssetKey(name)).backfill_policy
        assert policy == dg.BackfillPolicy.multi_run(DAYS_PER_RUN), name
    assert {"ingest_job", "training_job", "scoring_job", "rollback_job", "approve_job",
            "shadow_decision_job"} <= {
        job.name for job in defs.jobs}


def test_backfill_can_be_chunked_for_very_large_days(monkeypatch):
    monkeypatch.setenv("RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_RUN", "31")
    assert Project.from_env().backfill_policy.max_partitions_per_run == 31


def test_the_run_queue_starts_the_runs_of_a_years_backfill_together():
    runs = yaml.safe_load(REPO_DAGSTER_YAML.read_text())["concurrency"]["runs"]
    assert runs["max_concurrent_runs"] >= -(-365 // DAYS_PER_RUN) == 2
    assert "dagster/backfill" not in {limit["key"] for limit in runs["tag_concurrency_limits"]}


def test_backfill_in_one_run_as_the_cli_range_needs_or_a_clear_error(monkeypatch):
    monkeypatch.setenv("RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_RUN", "all")
    assert Project.from_env().backfill_policy == dg.BackfillPolicy.single_run()
    monkeypatch.setenv("RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_RUN", "a month")
    with pytest.raises(ValueError, match="is 'a month': set it to a number of days"):
        Project.from_env()
