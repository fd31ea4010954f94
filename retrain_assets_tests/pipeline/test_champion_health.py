"""production_model's health checks: champion_alias_matches and champion_fresh."""

import dataclasses

import dagster as dg

from retrain_assets.adapters.registry import CHAMPION
from retrain_assets.core.champion_health import alias_health, staleness
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.build import build_definitions
from retrain_assets_tests.conftest import SMALL_TRAINING, START, champion_from, land


def evaluations(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_the_checks_run_with_the_promotion_and_catch_a_hand_moved_alias(defs, instance,
                                                                        landing, project):
    days = land(landing, START, 8, rows=120)
    assert run_job(defs, "ingest_job", instance, days=days).success
    promoted = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    assert evaluations(promoted)["champion_alias_matches"].passed  # with the promotion
    assert evaluations(promoted)["champion_fresh"].passed
    registry = defs.resources["mlflow"].registry()
    assert run_job(defs, "training_job", instance, run_config=SMALL_TRAINING).success
    recorded = registry.version_for(CHAMPION)
    other = "1" if recorded == "2" else "2"
    registry.client.set_registered_model_alias(registry.model_name, CHAMPION, other)

    result = run_job(defs, "champion_health_job", instance)
    alias = evaluations(result)["champion_alias_matches"]
    assert not alias.passed
    assert f"points at version {other}, but production_model last recorded version " \
           f"{recorded}" in alias.description
    assert evaluations(result)["champion_fresh"].passed  # trained a day before the newest

    strict = build_definitions(dataclasses.replace(project, champion_max_age_days=0))
    fresh = evaluations(run_job(strict, "champion_health_job", instance))["champion_fresh"]
    assert not fresh.passed and fresh.severity.value == "WARN"
    assert "trained on data through 2025-01-0" in fresh.description
    assert "run training_job" in fresh.description


def test_health_descriptions_name_both_versions_and_the_days():
    assert alias_health("3", "3", CHAMPION).passed
    moved = alias_health("3", "5", CHAMPION)
    assert not moved.passed
    assert "version 5" in moved.description and "version 3" in moved.description
    assert "rollback_job" in moved.description
    stale = staleness("4", "2025-01-01", "2025-03-01", 30)
    assert not stale.passed and "59 days before the newest data day 2025-03-01" in stale.description
    assert staleness("4", "2025-02-01", "2025-03-01", 30).passed


def test_a_rollback_run_evaluates_the_checks_against_the_version_it_rolled_back_to(
        defs, instance, landing):
    champion_from(defs, instance, landing)
    assert run_job(defs, "training_job", instance, run_config=SMALL_TRAINING).success
    registry = defs.resources["mlflow"].registry()
    other = "1" if registry.version_for(CHAMPION) == "2" else "2"  # whether or not 2 was blessed

    rollback = run_job(defs, "rollback_job", instance, run_config={
        "ops": {"rollback_champion": {"config": {"to": other, "reason": "2 misbehaves"}}}})

    assert rollback.success and registry.version_for(CHAMPION) == other
    assert evaluations(rollback).keys() == {"champion_alias_matches", "champion_fresh"}
    (latest,) = instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("production_model"), "champion_alias_matches"), limit=1)
    assert latest.run_id == rollback.run_id, "the Checks tab shows the rollback's own result"
    alias = latest.event.dagster_event.asset_check_evaluation_data
    assert alias.passed
    assert f"alias `champion` points at version {other}, the version production_model last " \
           "recorded" in alias.description
    rolled_back = instance.fetch_materializations(dg.AssetKey("production_model"),
                                                  limit=1).records[0]
    assert rolled_back.run_id == rollback.run_id
    assert alias.target_materialization_data.storage_id == rolled_back.storage_id
