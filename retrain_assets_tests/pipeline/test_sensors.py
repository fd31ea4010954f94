"""Sensors evaluated against real instance state (a SQLite instance and a landing folder)."""

import dataclasses
import os
from datetime import UTC, datetime, timedelta

import dagster as dg
import pytest
from dagster._core.test_utils import freeze_time
from dagster._core.utils import make_new_run_id

from retrain_assets.adapters.landing import LandingZone
from retrain_assets.adapters.landing_watch import WatchState, look
from retrain_assets.adapters.storage import ObjectStore
from retrain_assets.core.ingest import RowPolicy
from retrain_assets.core.policy import CheckResult, DriftAsk, OpenChange
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline.assets.training import TrainingConfig
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.checks import CONTRACT
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.sensors import (
    FailureAlerts,
    RetrainCursor,
    RetrainPolicy,
    failure_text,
    hold_reasons,
    landing_summary,
)
from retrain_assets_tests.bad_inputs import deny_reading
from retrain_assets_tests.conftest import START, good_day, land, land_frame, sensor_tick


def tick(defs, instance, name: str, cursor: str | None, **resources) -> dg.SensorResult:
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                 resources={**defs.resources, **resources}) as context:
        return defs.resolve_sensor_def(name)(context)


# --- landing_zone_sensor ---------------------------------------------------------------------


def landing_tick(defs, instance, cursor):
    return tick(defs, instance, "landing_zone_sensor", cursor)


def test_first_look_records_history_and_asks_for_a_backfill(defs, instance, landing):
    land(landing, START, 3)
    result = landing_tick(defs, instance, None)
    assert result.run_requests == []
    assert "3 day(s) already landed (2025-01-01..2025-01-03)" in result.skip_reason.skip_message
    assert "backfill" in result.skip_reason.skip_message
    assert landing_tick(defs, instance, result.cursor).run_requests == []


def test_each_new_day_gets_exactly_one_run_for_its_partition(defs, instance, landing):
    cursor = landing_tick(defs, instance, None).cursor
    days = land(landing, START, 2)
    result = landing_tick(defs, instance, cursor)
    assert [r.partition_key for r in result.run_requests] == days
    assert len({r.run_key for r in result.run_requests}) == 2
    # no champion yet: ingestion only
    assert result.run_requests[0].asset_selection == [dg.AssetKey("raw_data"),
                                                      dg.AssetKey("features")]
    # the same files again: nothing
    again = landing_tick(defs, instance, result.cursor)
    assert again.run_requests == []
    assert "no new or rewritten day" in again.skip_reason.skip_message


def test_rewritten_day_gets_one_new_run(defs, instance, landing):
    cursor = landing_tick(defs, instance, None).cursor
    (day,) = land(landing, START, 1)
    first = landing_tick(defs, instance, cursor)
    land_frame(landing, day, good_day(day, rows=50), name="trips.parquet")  # rewrite
    second = landing_tick(defs, instance, first.cursor)
    assert [r.partition_key for r in second.run_requests] == [day]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def test_malformed_names_are_reported_once_and_skipped(defs, instance, landing, capfd):
    cursor = landing_tick(defs, instance, None).cursor
    land_frame(landing, "2025-13-45", good_day("2025-01-01", rows=5))  # no such date
    land_frame(landing, "2025-01-02", good_day("2025-01-02", rows=5), name="notes.txt")
    (landing.root / "trips_final.csv").write_text("a,b\n1,2\n")
    (day,) = land(landing, START, 1)
    capfd.readouterr()
    result = landing_tick(defs, instance, cursor)
    assert [r.partition_key for r in result.run_requests] == [day]
    logged = capfd.readouterr().err
    for name in ("'2025-13-45/'", "'trips_final.csv'", "'2025-01-02/notes.txt'"):
        assert f"skipped {name}: a landed file must be <YYYY-MM-DD>/" in logged
    quiet = landing_tick(defs, instance, result.cursor)
    assert quiet.run_requests == []
    assert "skipped" not in capfd.readouterr().err  # reported once


def test_quarantine_is_ignored(defs, instance, landing):
    cursor = landing_tick(defs, instance, None).cursor
    land_frame(landing, "_quarantine/2025-01-01/20250101T000000Z", good_day("2025-01-01"))
    assert landing_tick(defs, instance, cursor).run_requests == []


def test_restart_replays_the_same_run_keys_and_misses_nothing(defs, instance, landing):
    """The daemon died after requesting runs but before saving the cursor, and a day landed
    while it was down: the replayed tick asks for the same run keys (Dagster drops duplicates
    by run key), and the day that landed meanwhile is requested too."""
    saved = landing_tick(defs, instance, None).cursor
    (first,) = land(landing, START, 1)
    before_crash = landing_tick(defs, instance, saved)  # its cursor is never saved
    (second,) = land(landing, START.replace(day=2), 1)
    after_restart = landing_tick(defs, instance, saved)
    keys = {r.partition_key: r.run_key for r in after_restart.run_requests}
    assert keys == {first: before_crash.run_requests[0].run_key, second: keys[second]}


def evaluate_landing_tick(defs, instance, cursor):
    """A tick as the daemon evaluates it: Dagster resolves each RunRequest against the target's
    partitions and rejects the whole tick if one names a partition that does not exist."""
    with dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs,
                                 resources=defs.resources) as context:
        return defs.resolve_sensor_def("landing_zone_sensor").evaluate_tick(context)


def run_as_requested(defs, instance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    """Execute a sensor's RunRequest as the daemon would launch it: the asset job, with the
    request's partition, assets, tags and run config (none), nothing else."""
    assert request.job_name is None  # an asset selection: the code location's asset job
    return defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=request.partition_key, tags=request.tags,
        asset_selection=request.asset_selection, run_config=request.run_config,
        raise_on_error=False)


def test_days_that_are_not_partitions_are_held_back_and_block_no_other_day(
        defs, instance, landing, capfd):
    today = datetime.now(UTC).date()
    held = {
        "2024-12-20": "is before the first partition 2025-01-01: to ingest it, set "
                      "the model's start_date to 2024-12-20 or earlier",
        today.isoformat(): "is today (UTC): its partition exists from 00:00 UTC tomorrow, "
                           "when it is ingested",
        (today + timedelta(days=30)).isoformat():
            f"is after the last partition {today - timedelta(days=1)}: ingested once its "
            "partition exists; if a date is wrong, rename the folder",
    }
    cursor = evaluate_landing_tick(defs, instance, None).cursor
    for day in held:
        land_frame(landing, day, good_day(day, rows=20))
    (in_range,) = land(landing, START.replace(day=5), 1, rows=20)
    capfd.readouterr()

    tick = evaluate_landing_tick(defs, instance, cursor)

    assert [r.partition_key for r in tick.run_requests] == [in_range]
    logged = capfd.readouterr().err
    for day, reason in held.items():
        assert logged.count(f"held back {day} {reason}") == 1, logged
    quiet = evaluate_landing_tick(defs, instance, tick.cursor)
    assert quiet.run_requests == []
    assert "held back" in quiet.skip_message and "held back" not in capfd.readouterr().err
    # today's partition appears at midnight: the day was never recorded as seen, so it runs
    with freeze_time(datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)):
        midnight = evaluate_landing_tick(defs, instance, quiet.cursor)
    assert [r.partition_key for r in midnight.run_requests] == [today.isoformat()]
    # the start date moves back (the setting the warning named): the early day runs too
    earlier = build_definitions(Project(spec=TAXI_TRIPS, start_date="2024-12-01"))
    moved = evaluate_landing_tick(earlier, instance, quiet.cursor)
    assert "2024-12-20" in [r.partition_key for r in moved.run_requests]


def test_held_back_days_of_a_kind_are_explained_in_one_sentence():
    early = [f"2024-12-{d:02d}" for d in range(1, 31)]

    reasons = hold_reasons([*early, "2026-12-03", "2027-01-01"], first="2025-01-01",
                           last="2026-12-02", today="2026-12-03")

    assert reasons == [
        "30 days (2024-12-01..2024-12-30) are before the first partition 2025-01-01: to ingest "
        "them, set the model's start_date to 2024-12-01 or earlier (or move them out of the "
        "zone)",
        "2026-12-03 is today (UTC): its partition exists from 00:00 UTC tomorrow, when it is "
        "ingested",
        "2027-01-01 is after the last partition 2026-12-02: ingested once its partition "
        "exists; if a date is wrong, rename the folder"]


def test_days_after_a_declared_last_day_say_which_setting_takes_them():
    reasons = hold_reasons(["2026-01-01", "2026-01-02", "2026-12-03"], first="2025-01-01",
                           last="2025-12-31", today="2026-12-03", end="2025-12-31")
    assert reasons == [
        "3 days (2026-01-01..2026-12-03) are after the dataset's last day 2025-12-31 "
        "(end_date): to ingest them, set the model's end_date to 2026-12-03 "
        "or later, or unset it"]


def test_a_dataset_that_ends_has_no_partitions_past_its_last_day(home, instance, landing):
    defs = build_definitions(Project(spec=TAXI_TRIPS, start_date=START.isoformat(),
                                     end_date="2025-01-03"))
    partitions = defs.resolve_assets_def("raw_data").partitions_def
    assert partitions.get_partition_keys() == ["2025-01-01", "2025-01-02", "2025-01-03"]
    cursor = landing_tick(defs, instance, None).cursor
    land(landing, START, 4, rows=20)
    result = landing_tick(defs, instance, cursor)
    assert [r.partition_key for r in result.run_requests] == ["2025-01-01", "2025-01-02",
                                                              "2025-01-03"]
    assert "end_date" in landing_tick(defs, instance,
                                                 result.cursor).skip_reason.skip_message


def test_the_landing_cursor_leads_with_what_it_holds(defs, instance, landing):
    land(landing, START, 3, rows=20)
    cursor = landing_tick(defs, instance, None).cursor
    assert cursor.startswith('{"summary":"3 day(s) seen (2025-01-01..2025-01-03); look 1"')
    assert ", " not in cursor.split('"days"')[1]  # compact
    assert landing_tick(defs, instance, cursor).run_requests == []  # read back


def test_first_look_names_only_days_that_are_partitions_for_the_backfill(defs, instance,
                                                                          landing):
    land(landing, START, 3, rows=20)
    land_frame(landing, "2024-12-31", good_day("2024-12-31", rows=20))

    message = evaluate_landing_tick(defs, instance, None).skip_message

    assert "3 day(s) already landed (2025-01-01..2025-01-03)" in message
    assert "--partition-range 2025-01-01...2025-01-03" in message
    assert "held back 2024-12-31 is before the first partition 2025-01-01: to ingest it, set " \
           "the model's start_date" in message


def test_a_day_with_an_unreadable_file_runs_again_once_it_can_be_read(defs, instance, landing,
                                                                      monkeypatch):
    cursor = evaluate_landing_tick(defs, instance, None).cursor
    (day,) = land(landing, START, 1, rows=20)
    path = landing.root / day / "trips.parquet"
    deny_reading(monkeypatch, path)

    (request,) = evaluate_landing_tick(defs, instance, cursor).run_requests
    result = run_as_requested(defs, instance, request)

    (check,) = [e for e in result.get_asset_check_evaluations()
                if e.check_name == CONTRACT and e.partition == day]
    assert not check.passed
    assert f"permission denied reading {path}" in check.description
    assert "Grant it read access" in check.description
    assert [e for e in result.all_events if e.event_type_value == "STEP_RESTARTED"] == []
    quiet = evaluate_landing_tick(defs, instance, evaluate_landing_tick(
        defs, instance, cursor).cursor)
    assert quiet.run_requests == []  # still unreadable: nothing new to run
    path.chmod(0o644)  # the fix changes neither the file's version nor its folder
    (again,) = evaluate_landing_tick(defs, instance, quiet.cursor).run_requests
    assert again.partition_key == day and again.run_key != request.run_key
    assert run_as_requested(defs, instance, again).success


def test_a_sensor_requested_run_applies_the_datasets_row_policy(home, instance, landing):
    spec = dataclasses.replace(TAXI_TRIPS, row_policy=RowPolicy("drop_bad_rows", 0.05))
    defs = build_definitions(Project(spec=spec, start_date=START.isoformat()))
    cursor = evaluate_landing_tick(defs, instance, None).cursor
    day = START.isoformat()
    frame = good_day(day, rows=100)
    frame.loc[3, "fare_amount"] = -1.0
    land_frame(landing, day, frame)

    (request,) = evaluate_landing_tick(defs, instance, cursor).run_requests
    result = run_as_requested(defs, instance, request)

    assert result.success
    stored = [m for m in result.get_asset_materialization_events()
              if m.asset_key == dg.AssetKey("raw_data")]
    assert stored[0].materialization.metadata["dagster/row_count"].value == 99
    assert (home / "storage" / "raw_data" / f"{day}.parquet").is_file()


def test_a_look_lists_only_changed_days(landing):
    zone = LandingZone(landing)
    land(landing, START, 20, rows=5)
    state = look(zone, WatchState()).state
    land(landing, START.replace(day=21), 1, rows=5)
    changes = look(zone, state)
    assert list(changes.changed) == ["2025-01-21"]
    assert changes.listed_days == 1  # one folder listed, not twenty-one


def test_a_look_reads_each_folder_once_however_many_days_there_are(landing, monkeypatch):
    """Listing a day must not scan the whole zone: with a folder per day for years that made the
    first look quadratic (over a minute at 10,000 days, past the sensor's 60 s limit)."""
    zone = LandingZone(landing)
    land(landing, START, 20, rows=5)
    (landing.root / "2025-01-10.csv").write_text("flat file beside the day's folder\n")
    scanned: list[str] = []
    real_scandir = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path: scanned.append(str(path)) or
                        real_scandir(path))
    first = look(zone, WatchState())
    assert len(first.changed) == 20
    assert len(scanned) == 21 and len(set(scanned)) == 21  # the root, then each folder once
    scanned.clear()
    land(landing, START.replace(day=21), 1, rows=5)
    assert list(look(zone, first.state).changed) == ["2025-01-21"]
    # the root once (not again to find the day's entries: ~50 ms at 10,000 days), then its folder
    assert scanned == [str(landing.root), str(landing.root / "2025-01-21")]


def test_a_flat_file_beside_a_day_folder_is_part_of_that_day(landing):
    zone = LandingZone(landing)
    (day,) = land(landing, START, 1, rows=5)
    state = look(zone, WatchState()).state
    (landing.root / f"{day}.csv").write_text("trip_id\n1\n")
    changes = look(zone, state)
    assert list(changes.changed) == [day]
    assert changes.changed[day] != state.days[day]


class InterfaceOnly:
    """A store seen only through the ObjectStore interface (no local paths, no GCS client)."""

    def __init__(self, store):
        self._store, self.url = store, store.url

    def __getattr__(self, name):
        if name not in ObjectStore.__dict__:
            raise AttributeError(f"{name} is not part of the ObjectStore interface")
        return getattr(self._store, name)


def test_a_look_needs_only_the_store_interface_and_still_lists_only_changed_days(landing):
    zone = LandingZone(InterfaceOnly(landing))
    land(landing, START, 3, rows=5)
    (landing.root / "2025-01-04.csv").write_text("trip_id\n1\n")
    first = look(zone, WatchState())
    assert sorted(first.changed) == ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"]
    land(landing, START.replace(day=5), 1, rows=5)
    changes = look(zone, first.state)
    assert list(changes.changed) == ["2025-01-05"] and changes.listed_days == 1


def test_in_place_overwrite_is_caught_by_the_periodic_full_rescan(landing):
    zone = LandingZone(landing)
    (day,) = land(landing, START, 1, rows=5)
    state = look(zone, WatchState(), full_rescan_every=2).state
    folder = landing.root / day
    folder_mtime = folder.stat().st_mtime_ns
    path = folder / "trips.parquet"
    path.write_bytes(path.read_bytes() + b"")  # rewrite in place: file changes, folder not
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    os.utime(folder, ns=(folder_mtime, folder_mtime))
    state = look(zone, state, full_rescan_every=2)
    assert state.changed == {}  # cheap look: folder unchanged
    rescan = look(zone, state.state, full_rescan_every=2)
    assert list(rescan.changed) == [day]


# --- drift_retrain_sensor --------------------------------------------------------------------


def fail_check(instance, day: str, check: str = "no_feature_drift", score: float = 0.9):
    instance.report_runless_asset_event(dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("drift_report"), check_name=check, passed=False, partition=day,
        metadata={"score": dg.MetadataValue.float(score)},
        description=f"{day}: trip_distance_km drifted"))


def retrain_tick(defs, instance, cursor, **policy):
    return tick(defs, instance, "drift_retrain_sensor", cursor,
                retrain_policy=RetrainPolicy(**{"min_interval_seconds": 0, "min_new_rows": 0,
                                                "bootstrap_days": 0, **policy}))


def start_training_run(defs, instance, status: dg.DagsterRunStatus) -> dg.DagsterRun:
    return instance.add_run(dg.DagsterRun(job_name="training_job", run_id=make_new_run_id(),
                                          status=status, tags={"retrain/trigger": "drift"}))


def test_failed_drift_check_asks_for_one_tagged_retrain(defs, instance):
    fail_check(instance, "2025-02-10", score=1.5)
    fail_check(instance, "2025-02-10", check="no_performance_decay", score=0.6)
    result = retrain_tick(defs, instance, None)
    (request,) = result.run_requests
    assert request.tags["retrain/trigger"] == "drift"
    assert request.tags["retrain/check"] == "drift_report:no_feature_drift"
    assert request.tags["retrain/partition"] == "2025-02-10"
    assert request.tags["retrain/score"] == "1.5000"
    assert request.tags["retrain/failed_checks"] == "2"
    assert retrain_tick(defs, instance, result.cursor).run_requests == []  # not new any more


def test_performance_decay_alone_is_its_own_trigger(defs, instance):
    fail_check(instance, "2025-02-11", check="no_performance_decay", score=0.4)
    (request,) = retrain_tick(defs, instance, None).run_requests
    assert request.tags["retrain/trigger"] == "performance_decay"


def test_passing_checks_ask_for_nothing(defs, instance):
    instance.report_runless_asset_event(dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("drift_report"), check_name="no_feature_drift", passed=True,
        partition="2025-02-10"))
    assert retrain_tick(defs, instance, None).run_requests == []


@pytest.mark.parametrize("status", [dg.DagsterRunStatus.NOT_STARTED,
                                    dg.DagsterRunStatus.STARTED])
def test_no_second_retrain_while_one_is_in_flight(defs, instance, status):
    run = start_training_run(defs, instance, status)
    fail_check(instance, "2025-02-12")
    result = retrain_tick(defs, instance, None)
    assert result.run_requests == []
    assert run.run_id in result.skip_reason.skip_message
    instance.report_run_failed(run)  # the retrain ended; a later failing day asks again
    fail_check(instance, "2025-02-13")
    (request,) = retrain_tick(defs, instance, result.cursor).run_requests
    assert request.tags["retrain/partition"] == "2025-02-13"


def test_minimum_interval_between_retrains(defs, instance):
    start_training_run(defs, instance, dg.DagsterRunStatus.SUCCESS)
    fail_check(instance, "2025-02-12")
    blocked = retrain_tick(defs, instance, None, min_interval_seconds=3600)
    assert blocked.run_requests == []
    assert "minimum interval is 3600s" in blocked.skip_reason.skip_message
    fail_check(instance, "2025-02-13")
    assert len(retrain_tick(defs, instance, blocked.cursor).run_requests) == 1


def test_a_failure_during_the_minimum_interval_is_deferred_not_dropped(defs, instance):
    """Issue 13: a failure inside the interval was never acted on, even when it still failed
    after the interval ended."""
    start_training_run(defs, instance, dg.DagsterRunStatus.SUCCESS)
    fail_check(instance, "2025-02-12")
    blocked = retrain_tick(defs, instance, None, min_interval_seconds=3600)
    assert blocked.run_requests == []
    assert "deferred (no_feature_drift[2025-02-12])" in blocked.skip_reason.skip_message
    still = retrain_tick(defs, instance, blocked.cursor, min_interval_seconds=3600)
    assert still.run_requests == []  # still within the interval: still remembered
    # the interval is over (the same instance, a policy whose interval has passed); nothing new
    (request,) = retrain_tick(defs, instance, still.cursor).run_requests
    assert request.tags["retrain/partition"] == "2025-02-12"
    assert request.tags["retrain/checks"] == "no_feature_drift: 2025-02-12"
    assert request.run_config["ops"]["candidate_model"]["config"]["change_day"] == "2025-02-12"


def test_a_deferred_failure_answered_by_a_later_pass_asks_for_nothing(defs, instance):
    start_training_run(defs, instance, dg.DagsterRunStatus.SUCCESS)
    fail_check(instance, "2025-02-12")
    blocked = retrain_tick(defs, instance, None, min_interval_seconds=3600)
    instance.report_runless_asset_event(dg.AssetCheckEvaluation(
        asset_key=dg.AssetKey("drift_report"), check_name="no_feature_drift", passed=True,
        partition="2025-02-13"))
    assert retrain_tick(defs, instance, blocked.cursor).run_requests == []


def test_a_manual_training_does_not_hold_failed_checks_back(defs, instance):
    instance.add_run(dg.DagsterRun(job_name="training_job", run_id=make_new_run_id(),
                                   status=dg.DagsterRunStatus.SUCCESS))
    fail_check(instance, "2025-02-12")
    assert len(retrain_tick(defs, instance, None, min_interval_seconds=3600).run_requests) == 1


def test_the_retrain_is_told_where_the_change_began(defs, instance):
    for day in ("2025-02-10", "2025-02-11", "2025-02-12"):
        fail_check(instance, day)
    (request,) = retrain_tick(defs, instance, None).run_requests
    assert request.tags["retrain/change_day"] == "2025-02-10"
    assert request.run_config == {"ops": {"candidate_model": {"config": {
        "change_day": "2025-02-10"}}}}


def test_a_cursor_from_before_deferral_is_read_as_seen_checks(defs, instance):
    fail_check(instance, "2025-02-12")
    (execution_id,) = [r.id for r in instance.event_log_storage.get_asset_check_execution_history(
        dg.AssetCheckKey(dg.AssetKey("drift_report"), "no_feature_drift"), limit=5)]
    assert retrain_tick(defs, instance, f"[{execution_id}]").run_requests == []


def test_the_first_champion_is_trained_once_enough_days_of_features_exist(defs, instance):
    for day in range(1, 14):
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key="features", partition=f"2025-01-{day:02d}"))
    assert retrain_tick(defs, instance, None, bootstrap_days=14).run_requests == []
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key="features", partition="2025-01-14"))
    (request,) = retrain_tick(defs, instance, None, bootstrap_days=14).run_requests
    assert request.tags["retrain/trigger"] == "bootstrap"
    assert request.tags["retrain/days_with_features"] == "14"


def test_a_champion_blessed_partway_into_a_change_gets_a_retrain_that_trains_from_it(
        defs, instance, landing):
    """Issue 13: the retrain asked for on the change's first day could not train from it (too
    few new rows) but was blessed; judged on rows after the change, its checks then passed and
    nothing asked again. The open change asks once the rows since it can train a candidate."""
    from retrain_assets.dev.instance import run_job

    change = START + timedelta(days=7)
    days = land(landing, START, 11, rows=120, drift_from=change)
    policy = {"training": TrainingConfig(min_train_days=3, max_iter=30, min_holdout_rows=100,
                                         min_rows_after_change=200)}
    registry = defs.resources["mlflow"].registry()
    assert run_job(defs, "ingest_job", instance, days=days[:8]).success
    fail_check(instance, days[7], check="no_performance_decay")
    asked = retrain_tick(defs, instance, None, **policy)
    (request,) = asked.run_requests
    assert request.tags["retrain/change_day"] == days[7]
    assert run_job(defs, "training_job", instance, tags=request.tags,
                   run_config=request.run_config).success
    partway = registry.champion_window()
    assert (partway.holdout_end, partway.trained_from) == (days[7], None)

    same_day = retrain_tick(defs, instance, asked.cursor, **policy)
    assert same_day.run_requests == []
    assert "a retrain saw the data through 2025-01-08" in same_day.skip_reason.skip_message
    opened = RetrainCursor.from_json(same_day.cursor).change
    assert (opened.day, opened.asked_through) == ("2025-01-08", "2025-01-08")
    assert opened.asked_rows > 0  # the rows since the change the decay retrain saw
    assert run_job(defs, "ingest_job", instance, days=days[8:9]).success
    waiting = retrain_tick(defs, instance, same_day.cursor, **policy)
    assert waiting.run_requests == []
    assert "rows since it are not yet enough to train from it (200 besides the holdout)" \
        in waiting.skip_reason.skip_message
    assert run_job(defs, "ingest_job", instance, days=days[9:10]).success
    deferred = retrain_tick(defs, instance, waiting.cursor, **policy, min_interval_seconds=3600)
    assert deferred.run_requests == [] and deferred.cursor == waiting.cursor
    assert deferred.skip_reason.skip_message.startswith("follow-up deferred: ")
    assert "minimum interval is 3600s" in deferred.skip_reason.skip_message
    due = retrain_tick(defs, instance, deferred.cursor, **policy)
    (follow_up,) = due.run_requests
    assert follow_up.tags["retrain/trigger"] == "change_follow_up"
    assert follow_up.tags["retrain/change_day"] == days[7]
    assert follow_up.tags["retrain/partition"] == days[9]
    assert follow_up.tags["retrain/champion"] == partway.version
    assert follow_up.run_config["ops"]["candidate_model"]["config"]["change_day"] == days[7]
    assert retrain_tick(defs, instance, due.cursor, **policy).run_requests == []  # same day

    assert run_job(defs, "training_job", instance, tags=follow_up.tags,
                   run_config=follow_up.run_config).success
    champion = registry.champion_window()
    assert champion.version != partway.version and champion.trained_from == days[7]
    assert run_job(defs, "ingest_job", instance, days=days[10:]).success
    refresh = retrain_tick(defs, instance, due.cursor, **policy)
    assert refresh.run_requests == []  # open until the window lies after it, rows not doubled
    assert f"champion version {champion.version} trained from it on the rows there were then" \
        in refresh.skip_reason.skip_message
    assert "the next waits for twice as many" in refresh.skip_reason.skip_message


def test_persistent_drift_the_champion_held_up_on_asks_again_once_the_rows_doubled(
        defs, instance, landing):
    """Issue 13: moved inputs the champion handles asked for a retrain every day (churn's usage
    drop: 30 runs in 30 days, 28 candidates no better). Held back until the rows since the
    change doubled; a decay failure still asks at once."""
    days = land(landing, START, 16, rows=120)
    registry = defs.resources["mlflow"].registry()
    assert run_job(defs, "ingest_job", instance, days=days[:9]).success
    assert run_job(defs, "training_job", instance, run_config={"ops": {"candidate_model": {
        "config": {"min_train_days": 3, "min_holdout_rows": 100, "max_iter": 30}}}}).success
    champion = registry.version_for("champion")
    fail_check(instance, days[7])
    fail_check(instance, days[8])
    (first,) = retrain_tick(defs, instance, None).run_requests
    assert first.tags["retrain/change_day"] == days[7]
    asked = RetrainCursor.from_json(retrain_tick(defs, instance, None).cursor).drift_ask
    rows = asked.rows_since
    assert asked == DriftAsk(champion, days[7], rows) and rows > 0

    # the retrain's candidate was not blessed (the champion still serves); the inputs stay moved
    cursor = RetrainCursor(seen=(), drift_ask=asked).to_json()
    assert run_job(defs, "ingest_job", instance, days=days[9:10]).success
    fail_check(instance, days[9])
    held = retrain_tick(defs, instance, cursor)
    assert held.run_requests == []
    assert f"feature drift since {days[7]} held back" in held.skip_reason.skip_message
    assert f"asks at {2 * rows:,} rows" in held.skip_reason.skip_message
    assert "measured champion version" in held.cursor

    fail_check(instance, days[9], check="no_performance_decay")
    (decay,) = retrain_tick(defs, instance, held.cursor).run_requests
    assert decay.tags["retrain/trigger"] == "performance_decay"

    assert run_job(defs, "ingest_job", instance, days=days[10:]).success
    for day in days[10:]:
        fail_check(instance, day)
    (again,) = retrain_tick(defs, instance, held.cursor).run_requests
    assert again.tags["retrain/trigger"] == "drift"
    assert again.tags["retrain/change_day"] == days[7]


def report_rows(instance, asset: str, rows: int):
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key=asset, metadata={"dagster/row_count": dg.MetadataValue.int(rows)}))


def test_data_volume_trigger_counts_rows_since_the_last_training(defs, instance):
    report_rows(instance, "features", 600)
    assert retrain_tick(defs, instance, None, min_new_rows=1_000).run_requests == []
    report_rows(instance, "features", 500)
    (request,) = retrain_tick(defs, instance, None, min_new_rows=1_000).run_requests
    assert request.tags["retrain/trigger"] == "data_volume"
    assert request.tags["retrain/new_rows"] == "1100"
    report_rows(instance, "candidate_model", 0)  # a training happened: the count restarts
    report_rows(instance, "features", 700)
    assert retrain_tick(defs, instance, None, min_new_rows=1_000).run_requests == []


# --- failure alerting ------------------------------------------------------------------------


def test_failed_run_is_reported_with_its_step_to_the_log(defs, instance, capfd):
    # predictions of a day never ingested fails its step: a real failed run in the instance
    result = dg.materialize(defs.assets, selection=["predictions"], partition_key="2025-01-01",
                            instance=instance, resources=defs.resources, raise_on_error=False)
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = instance.get_records_for_run(
        result.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert failure, "the run should have a RUN_FAILURE event"
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert", dagster_event=failure[0].event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=run,
        resources={"alerts": FailureAlerts()}).for_run_failure()
    capfd.readouterr()
    defs.resolve_sensor_def("run_failure_alert")(context)
    message = capfd.readouterr().err
    assert f"run {result.run_id} of `__ephemeral_asset_job__` failed" in message
    assert "step `predictions`" in message
    assert "features[2025-01-01] has no stored data" in message


def test_the_daemon_tick_of_run_failure_alert_pages_slack_about_a_failed_run(defs, instance,
                                                                            slack):
    alerts = {"alerts": FailureAlerts(slack_token="xoxb-test", slack_channel="#ml-alerts")}
    started = sensor_tick(defs, "run_failure_alert", instance, alerts)  # starts from now
    failed = run_job(defs, "rollback_job", instance, run_config={
        "ops": {"rollback_champion": {"config": {"to": "7"}}}})
    assert not failed.success

    tick = sensor_tick(defs, "run_failure_alert", instance, alerts, started.cursor)

    (reaction,) = tick.dagster_run_reactions
    assert reaction.error is None, reaction.error.to_string()
    assert reaction.dagster_run.run_id == failed.run_id
    assert [m["channel"] for m in slack] == ["#ml-alerts"]
    assert f"run {failed.run_id} of `rollback_job` failed (triggered by rollback)" \
        in slack[0]["text"]
    assert "step `rollback_champion`" in slack[0]["text"]


def test_slack_message_names_run_step_and_trigger_without_leaking_the_token(monkeypatch):
    sent = []

    class FakeClient:
        def chat_postMessage(self, **kwargs):
            sent.append(kwargs)

    import dagster_slack

    monkeypatch.setattr(dagster_slack.SlackResource, "get_client", lambda self: FakeClient())
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-secret-token")
    monkeypatch.setenv("RETRAIN_ASSETS_SLACK_CHANNEL", "#retrain")
    run = dg.DagsterRun(job_name="training_job", run_id="abc123",
                        tags={"retrain/trigger": "drift"})
    text = failure_text(run, {"candidate_model": "features partitions missing\ntrace"}, None)
    alerts = FailureAlerts.from_env()
    alerts.send(text)
    assert sent == [{"channel": "#retrain", "text": text}]
    assert "run abc123 of `training_job` failed (triggered by drift)" in text
    assert "step `candidate_model`: features partitions missing" in text
    assert "trace" not in text and "xoxb" not in text


class FakeGCS:
    """Just enough of google.cloud.storage.Client: lexicographic listing with start_offset."""

    def __init__(self):
        self.blobs, self.listed = {}, []

    def bucket(self, name):
        return name

    def land(self, name: str, generation: int = 1):
        from types import SimpleNamespace

        self.blobs[name] = SimpleNamespace(name=name, size=10, updated=None,
                                           generation=generation)

    def list_blobs(self, bucket, prefix="", start_offset=None):
        found = [b for n, b in sorted(self.blobs.items())
                 if n.startswith(prefix) and (start_offset is None or n >= start_offset)]
        self.listed.append(len(found))
        return found


def test_gcs_look_lists_from_the_newest_day_seen_and_rescans_for_rewrites():
    from retrain_assets.adapters.storage import GCSObjectStore

    client = FakeGCS()
    for i in range(1, 21):
        client.land(f"zone/2025-01-{i:02d}/trips.parquet")
    zone = LandingZone(GCSObjectStore(client, "gs://bucket/zone"))
    state = look(zone, WatchState(), full_rescan_every=3).state
    client.land("zone/2025-01-21/trips.parquet")
    client.land("zone/2025-01-03/trips.parquet", generation=2)  # an old day rewritten
    cheap = look(zone, state, full_rescan_every=3)
    assert list(cheap.changed) == ["2025-01-21"]
    assert client.listed[-1] == 2  # the newest day seen and the new one, not 21 objects
    rescan = look(zone, look(zone, cheap.state, full_rescan_every=3).state,
                  full_rescan_every=3)
    assert list(rescan.changed) == ["2025-01-03"]


def test_gcs_look_relists_a_held_day_older_than_the_newest_seen():
    """A held-back day before the newest day seen is outside the cheap `start_offset` listing;
    it is listed on its own each look, so it runs once it is a partition."""
    from retrain_assets.adapters.storage import GCSObjectStore

    client = FakeGCS()
    for i in range(1, 6):
        client.land(f"zone/2025-01-{i:02d}/trips.parquet")
    zone = LandingZone(GCSObjectStore(client, "gs://bucket/zone"))
    first = look(zone, WatchState(), is_partition=lambda day: day != "2025-01-02")
    assert "2025-01-02" not in first.changed and first.held == ["2025-01-02"]
    again = look(zone, first.state, is_partition=lambda day: day != "2025-01-02")
    assert again.changed == {} and again.held == []  # still held, warned once
    now_a_partition = look(zone, again.state)
    assert list(now_a_partition.changed) == ["2025-01-02"]
    assert now_a_partition.state.held == {}


def test_the_retrain_cursor_reads_as_ranges_and_a_summary():
    pending = CheckResult("no_feature_drift", "2025-06-15", False, execution_id=81, score=0.4)
    cursor = RetrainCursor(seen=(1, 2, 3, 7, 8, 81), pending=(pending,))
    text = cursor.to_json()
    assert '"seen":"1-3,7-8,81"' in text
    assert text.startswith('{"summary":"1 failure(s) waiting for a retrain: '
                           'no_feature_drift[2025-06-15]; 6 check execution(s) taken in"')
    assert RetrainCursor.from_json(text) == cursor
    followed = RetrainCursor(seen=(1,), change=OpenChange("2025-06-10", "2025-06-12"))
    assert "; change from 2025-06-10 open (a retrain for it saw the data through 2025-06-12)" \
        in followed.to_json()
    assert RetrainCursor.from_json(followed.to_json()) == followed
    # cursors written before: a list of ids, or ids under "seen"
    assert RetrainCursor.from_json("[79, 80]").seen == (79, 80)
    assert RetrainCursor.from_json('{"seen": [79, 80], "pending": []}').seen == (79, 80)


def test_a_tick_that_requests_runs_says_what_landed_in_words():
    before = WatchState(days={"2025-01-01": "aaaa"})
    summary = landing_summary({"2025-01-01": "bbbb", "2025-01-02": "cccc"}, before,
                              with_scoring=False)
    assert summary == ("new: 2025-01-02; rewritten (files changed since they were ingested): "
                       "2025-01-01. One run per day of raw_data → features (no champion yet: "
                       "predictions and drift_report start once production_model has one).")
