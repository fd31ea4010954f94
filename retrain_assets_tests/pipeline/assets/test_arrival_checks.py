"""raw_data's per-day arrival checks: row volume, replayed rows, a superseded stored copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg
import pandas as pd
import pytest
from dagster._core.test_utils import freeze_time

from retrain_assets.core.volume import VolumeThresholds
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.checks import (
    FRESHNESS,
    NO_REPLAYED_ROWS,
    ROW_VOLUME,
    STORED_COPY_CURRENT,
)
from retrain_assets.pipeline.project import Project
from retrain_assets_tests.conftest import (
    SMALL_TRAINING,
    START,
    good_day,
    land,
    land_frame,
)


def day_after(days: int) -> str:
    return (START + timedelta(days=days)).isoformat()


def evaluations(result, check: str) -> dict[str, dg.AssetCheckEvaluation]:
    """The per-day evaluations of one raw_data check in a run."""
    found = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if evaluation.asset_key == dg.AssetKey("raw_data") and evaluation.check_name == check:
                found[evaluation.partition or result.dagster_run.tags.get(
                    "dagster/partition")] = evaluation
    return found


def started(result) -> set[str]:
    return {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}


def test_a_day_with_twenty_times_the_rows_warns_with_the_numbers_and_the_run_carries_on(
        defs, instance, landing):
    history = land(landing, START, 4, rows=100)
    assert run_job(defs, "ingest_job", instance, days=history).success
    big = day_after(4)
    land_frame(landing, big, good_day(big, rows=2000), name="trips.parquet")

    result = run_job(defs, "ingest_job", instance, days=[big])

    assert result.success and "features" in started(result)
    volume = evaluations(result, ROW_VOLUME)[big]
    assert not volume.passed and volume.severity == dg.AssetCheckSeverity.WARN
    figures = {k: v.value for k, v in volume.metadata.items()}
    assert figures["rows"] == 2000 and figures["max_ratio"] == 4.0
    typical = figures["recent_median"]
    assert 60 < typical < 120 and figures["ratio"] == pytest.approx(2000 / typical, rel=1e-3)
    assert f"{big}: 2,000 rows is" in volume.description and "median" in volume.description


def test_every_day_of_a_backfill_gets_its_own_volume_and_replay_result(defs, instance, landing):
    days = land(landing, START, 6, rows=100)
    land_frame(landing, days[5], good_day(days[5], rows=2000), name="trips.parquet")

    result = run_job(defs, "ingest_job", instance, days=days)

    assert result.success
    volume = evaluations(result, ROW_VOLUME)
    assert set(days) <= set(volume)
    assert [d for d in days if not volume[d].passed] == [days[5]]
    assert "only" in volume[days[0]].description  # no history yet: not judged, says why
    assert all(evaluations(result, NO_REPLAYED_ROWS)[d].passed for d in days)


def test_yesterdays_trips_replayed_under_new_ids_are_flagged(defs, instance, landing):
    history = land(landing, START, 4, rows=150)
    assert run_job(defs, "ingest_job", instance, days=history).success
    replayed_day = day_after(4)
    replay = pd.read_parquet(landing.root / history[-1] / "trips.parquet")
    replay["trip_id"] = [f"replay-{i}" for i in range(len(replay))]
    replay["pickup_at"] = pd.to_datetime(replay["pickup_at"]) + timedelta(days=1)
    land_frame(landing, replayed_day, replay, name="trips.parquet")

    result = run_job(defs, "ingest_job", instance, days=[replayed_day])

    assert result.success
    replayed = evaluations(result, NO_REPLAYED_ROWS)[replayed_day]
    assert not replayed.passed and replayed.severity == dg.AssetCheckSeverity.WARN
    figures = {k: v.value for k, v in replayed.metadata.items()}
    assert figures["repeated_share"] == 1.0 and figures["repeated_from_days"] == {
        history[-1]: len(replay)}
    assert "trip_id" not in figures["content_columns"]


def test_blocking_volume_checks_stop_downstream_with_an_error(home, project, instance, landing):
    blocking = build_definitions(Project(spec=project.spec, start_date=project.start_date,
                                         volume=VolumeThresholds(blocking=True)))
    history = land(landing, START, 4, rows=100)
    assert run_job(blocking, "ingest_job", instance, days=history).success
    big = day_after(4)
    land_frame(landing, big, good_day(big, rows=2000), name="trips.parquet")

    result = run_job(blocking, "ingest_job", instance, days=[big])

    assert not result.success and "features" not in started(result)
    volume = evaluations(result, ROW_VOLUME)[big]
    assert not volume.passed and volume.severity == dg.AssetCheckSeverity.ERROR


@pytest.mark.slow
def test_a_rejected_re_land_marks_the_stored_copy_superseded_and_training_lists_it(
        defs, instance, landing):
    days = land(landing, START, 8, rows=100)
    assert run_job(defs, "ingest_job", instance, days=days).success
    first = run_job(defs, "ingest_job", instance, days=[days[2]])
    assert evaluations(first, STORED_COPY_CURRENT)[days[2]].passed
    (landing.root / days[2] / "trips.parquet").unlink()
    land_frame(landing, days[2], good_day(days[2]).drop(columns=["fare_amount"]))

    rejected = run_job(defs, "ingest_job", instance, days=[days[2]])

    assert not rejected.success  # the contract check blocks, as before
    stale = evaluations(rejected, STORED_COPY_CURRENT)[days[2]]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.WARN
    assert f"still an earlier landing (run {first.run_id}" in stale.description
    assert stale.metadata["rejected_in_run"].value == rejected.run_id

    trained = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    candidate, = [m.materialization.metadata for m in trained.get_asset_materialization_events()
                  if m.asset_key == dg.AssetKey("candidate_model")]
    listed = candidate["superseded_days"].value
    assert list(listed) == [days[2]] and rejected.run_id in listed[days[2]]

    assert not (landing.root / days[2] / "trips.csv").exists()  # quarantined
    land_frame(landing, days[2], good_day(days[2]), name="trips.parquet")
    accepted = run_job(defs, "ingest_job", instance, days=[days[2]])
    assert accepted.success and evaluations(accepted, STORED_COPY_CURRENT)[days[2]].passed
    trained = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    candidate, = [m.materialization.metadata for m in trained.get_asset_materialization_events()
                  if m.asset_key == dg.AssetKey("candidate_model")]
    assert candidate["superseded_days"].value == {}


def test_a_missing_newest_day_fails_the_freshness_check_as_a_warning(defs, instance, landing):
    """Dagster's freshness check runs with every ingest run (and from its sensor): at 08:00
    on Jan 5, past the 06:00 deadline, Jan 4 is expected."""
    history = land(landing, START, 4, rows=60)

    def freshness(result) -> dg.AssetCheckEvaluation:
        evaluation, = [e.event_specific_data for e in result.all_events
                       if e.event_type_value == "ASSET_CHECK_EVALUATION"
                       and e.event_specific_data.check_name == FRESHNESS]
        return evaluation

    with freeze_time(datetime(2025, 1, 5, 8, tzinfo=UTC)):
        late = run_job(defs, "ingest_job", instance, days=history[:3])
        on_time = run_job(defs, "ingest_job", instance, days=history[3:])

    assert late.success, "a WARN freshness failure does not fail the run"
    missing = freshness(late)
    assert not missing.passed and missing.severity == dg.AssetCheckSeverity.WARN
    assert history[3] in missing.description
    assert freshness(on_time).passed
    assert any(s.name == "freshness_checks_sensor" for s in defs.sensors)
    spec, = [s for checks in defs.asset_checks for s in checks.check_specs
             if s.name == FRESHNESS]
    assert spec.key == dg.AssetCheckKey(dg.AssetKey("raw_data"), FRESHNESS)
    assert "never landed" in spec.description


def test_the_arrival_settings_come_from_the_environment_and_a_bad_value_names_its_variable(
        monkeypatch):
    monkeypatch.setenv("RETRAIN_ASSETS_VOLUME_MAX_RATIO", "10")
    monkeypatch.setenv("RETRAIN_ASSETS_REPLAY_MAX_SHARE", "0.2")
    monkeypatch.setenv("RETRAIN_ASSETS_VOLUME_CHECKS_BLOCK", "true")
    monkeypatch.setenv("RETRAIN_ASSETS_FRESHNESS_DEADLINE_CRON", "0 9 * * *")
    project = Project.from_env()
    assert project.volume == VolumeThresholds(max_ratio=10, max_replay_share=0.2, blocking=True)
    assert project.freshness_deadline_cron == "0 9 * * *"

    monkeypatch.setenv("RETRAIN_ASSETS_VOLUME_CHECKS_BLOCK", "sometimes")
    with pytest.raises(ValueError, match="RETRAIN_ASSETS_VOLUME_CHECKS_BLOCK='sometimes' is not"):
        Project.from_env()
