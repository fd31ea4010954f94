"""The Dagster instance on a real PostgreSQL server, configured by dagster-postgres.yaml."""

from __future__ import annotations

import time

import dagster as dg
import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import WorkspaceFileTarget
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster_graphql.test.utils import execute_dagster_graphql
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

from retrain_assets.dev.instance import REPO_DAGSTER_YAML, run_job
from retrain_assets.dev.services import postgres_server
from retrain_assets_tests.conftest import SMALL_TRAINING, START, land
from retrain_assets_tests.graphql import FINISHED, LAUNCH_RUN, execution_params, launched_run_id

REPO = REPO_DAGSTER_YAML.parent
POSTGRES_YAML = REPO / "dagster-postgres.yaml"


def test_postgres_yaml_reads_the_connection_from_env_and_queues_like_the_embedded_one():
    embedded = yaml.safe_load(REPO_DAGSTER_YAML.read_text())
    postgres = yaml.safe_load(POSTGRES_YAML.read_text())
    assert postgres["concurrency"] == embedded["concurrency"]
    connection = postgres["storage"]["postgres"]["postgres_db"]
    assert connection.pop("scheme") == "postgresql+psycopg2"
    assert connection == {field: {"env": f"DAGSTER_PG_{var}"} for field, var in (
        ("hostname", "HOST"), ("port", "PORT"), ("db_name", "DB"),
        ("username", "USERNAME"), ("password", "PASSWORD"))}


@pytest.fixture
def pg():
    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_instance(home, pg, monkeypatch):
    """DAGSTER_HOME with dagster-postgres.yaml, as `DAGSTER_STORAGE=postgres ./tasks` sets up."""
    for name, value in pg.env().items():
        monkeypatch.setenv(name, value)
    config = home / "dagster" / "dagster.yaml"
    config.unlink()
    # test-only: leaving a workspace waits for its code server, which checks finished runs in
    # PostgreSQL — it must not outlive the server this fixture stops
    config.write_text(POSTGRES_YAML.read_text()
                      + "\ncode_servers:\n  wait_for_local_processes_on_shutdown: true\n")
    with dg.DagsterInstance.from_config(str(config.parent)) as instance:
        yield instance


@pytest.mark.service
def test_materializations_checks_and_runs_are_stored_in_postgres(pg_instance, pg, defs,
                                                                   landing):
    instance = pg_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    days = land(landing, START, 5, rows=200)

    one_day = run_job(defs, "ingest_job", instance, days=days[:1])
    backfill = run_job(defs, "ingest_job", instance, days=days[1:])
    training = run_job(defs, "training_job", instance, run_config=SMALL_TRAINING)
    assert one_day.success and backfill.success
    assert training.output_for_node("candidate_model")["version"] == "1"

    runs = dict(pg.query("SELECT run_id, status FROM runs"))
    assert runs == {one_day.run_id: "SUCCESS", backfill.run_id: "SUCCESS",
                    training.run_id: runs[training.run_id]}
    materialized = pg.query(
        "SELECT asset_key, partition FROM event_logs "
        "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
    for asset in ("raw_data", "features"):
        assert sorted(p for key, p in materialized if key == f'["{asset}"]') == days
    assert ('["candidate_model"]', None) in materialized
    checks = pg.query("SELECT partition, execution_status, run_id FROM asset_check_executions "
                      "WHERE asset_key = '[\"raw_data\"]' AND check_name = 'contract'")
    assert sorted((p, status) for p, status, _ in checks if p) == [
        (day, "SUCCEEDED") for day in days]
    # a range run also records one summary result for the whole range
    assert [(status, run) for p, status, run in checks if p is None] == [
        ("SUCCEEDED", backfill.run_id)]
    # and Dagster reads it back from there
    assert instance.get_materialized_partitions(dg.AssetKey("raw_data")) == set(days)


def wait_for_runs(instance: dg.DagsterInstance, run_ids: list[str],
                  deadline_s: float = 600) -> dict[str, str]:
    """Poll until the runs finish; a generous deadline only so a hung run fails the test."""
    deadline = time.monotonic() + deadline_s
    while True:
        statuses = {run_id: instance.get_run_by_id(run_id).status.value for run_id in run_ids}
        if set(statuses.values()) <= FINISHED:
            return statuses
        assert time.monotonic() < deadline, f"runs still not finished: {statuses}"
        time.sleep(1)


@pytest.mark.service
@pytest.mark.slow
def test_run_queue_starts_one_retraining_run_at_a_time(pg_instance, pg, shipped):
    """Runs launched as in the UI are queued in PostgreSQL; the daemon's dequeue honours the
    `retrain/trigger` limit of 1 while other runs go ahead. The launched runs load the shipped
    code location (workspace.yaml), so the days before are ingested through its taxi model."""
    instance, names = pg_instance, shipped.names
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    days = land(shipped.landing, START, 6, rows=200)
    assert run_job(shipped.defs, names.ingest_job, instance, days=days[:5]).success

    with WorkspaceProcessContext(instance, WorkspaceFileTarget([str(REPO / "workspace.yaml")])
                                 ) as workspace:
        request = workspace.create_request_context()
        location, = request.code_location_names

        def launch(job: str, **kwargs) -> str:
            result = execute_dagster_graphql(request, LAUNCH_RUN, {
                "executionParams": execution_params(location, job, **kwargs)})
            return launched_run_id(result.data)

        drift = launch(names.training_job, tags={"retrain/trigger": "drift"},
                       run_config=shipped.small_training)
        schedule = launch(names.training_job, tags={"retrain/trigger": "schedule"},
                          run_config=shipped.small_training)
        ingest = launch(names.ingest_job, partition=days[5], run_config={})
        assert dict(pg.query("SELECT run_id, status FROM runs WHERE run_id IN (%s, %s, %s)",
                             drift, schedule, ingest)) == {
            drift: "QUEUED", schedule: "QUEUED", ingest: "QUEUED"}

        daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
        list(daemon.run_iteration(workspace))
        statuses = {run: instance.get_run_by_id(run).status.value
                    for run in (drift, schedule, ingest)}
        assert statuses[ingest] != "QUEUED"
        assert sorted([statuses[drift], statuses[schedule]]).count("QUEUED") == 1, statuses
        first, second = (drift, schedule) if statuses[schedule] == "QUEUED" else (
            schedule, drift)

        assert wait_for_runs(instance, [first, ingest]) == {first: "SUCCESS", ingest: "SUCCESS"}
        assert instance.get_run_by_id(second).status.value == "QUEUED"
        list(daemon.run_iteration(workspace))
        wait_for_runs(instance, [second])

    (first_end,), = pg.query("SELECT end_time FROM runs WHERE run_id = %s", first)
    (second_start,), = pg.query("SELECT start_time FROM runs WHERE run_id = %s", second)
    assert second_start >= first_end
    assert instance.get_materialized_partitions(names.raw_data) == set(days)


@pytest.mark.service
def test_landing_sensor_runs_against_postgres_state(pg_instance, defs, landing):
    """The landing-zone sensor reads run state from PostgreSQL: a new day → one request, and once
    that run is recorded there, the same files ask for nothing more."""
    sensor = defs.resolve_sensor_def("landing_zone_sensor")

    needed = {key: defs.resources[key] for key in ("landing_zone", "mlflow")}

    def tick(cursor):
        with dg.build_sensor_context(instance=pg_instance, cursor=cursor, definitions=defs,
                                     resources=needed) as context:
            return sensor(context)

    cursor = tick(None).cursor
    (day,) = land(landing, START, 1, rows=150)
    result = tick(cursor)
    assert [r.partition_key for r in result.run_requests] == [day]
    request = result.run_requests[0]
    run = run_job(defs, "ingest_job", pg_instance, days=[day],
                  tags={**request.tags, "dagster/run_key": request.run_key})
    assert run.success
    assert pg_instance.get_run_by_id(run.run_id).tags["landing/day"] == day
    assert tick(result.cursor).run_requests == []
