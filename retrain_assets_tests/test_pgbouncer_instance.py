"""The Dagster instance on PostgreSQL through PgBouncer (transaction pooling, trust over a Unix
socket), configured by dagster-pgbouncer.yaml and deploy/pgbouncer.ini: a backfill and a
sensor-driven run go through the daemon's own iterations, code server and run workers."""

from __future__ import annotations

import configparser
import logging
import os
import subprocess
import time
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy
import yaml
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.storage.tags import BACKFILL_ID_TAG
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.utils import make_new_backfill_id
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)
from dagster._daemon.sensor import execute_sensor_iteration
from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage
from dagster_postgres.utils import get_conn_string
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2

from retrain_assets.dev.instance import REPO_DAGSTER_YAML
from retrain_assets.dev.services import INI_TEMPLATE, pgbouncer, postgres_server
from retrain_assets_tests.conftest import START, land
from retrain_assets_tests.graphql import FINISHED

REPO = REPO_DAGSTER_YAML.parent
PGBOUNCER_YAML = REPO / "dagster-pgbouncer.yaml"
LOCATION = "retrain_assets"  # workspace.yaml's pinned name
DEADLINE_S = 600  # only so a hung run fails the test, not a speed assertion
LOGGER = logging.getLogger(__name__)


def test_pgbouncer_yaml_reads_the_url_from_env_and_queues_like_the_embedded_one():
    embedded = yaml.safe_load(REPO_DAGSTER_YAML.read_text())
    bounced = yaml.safe_load(PGBOUNCER_YAML.read_text())
    assert bounced["storage"] == {"postgres": {"postgres_url": {"env": "DAGSTER_PGBOUNCER_URL"}}}
    for section in ("run_coordinator", "concurrency"):
        assert bounced[section] == embedded[section], section


def test_pgbouncer_ini_pools_transactions_on_a_trusted_socket_and_resets_the_timeout():
    ini = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=None)
    ini.read_string(INI_TEMPLATE.read_text())
    settings = ini["pgbouncer"]
    assert settings["pool_mode"] == "transaction"
    assert settings["auth_type"] == "trust"
    assert settings["server_reset_query"] == "RESET statement_timeout"
    assert settings["server_reset_query_always"] == "1"


@pytest.fixture
def bounced_instance(home, monkeypatch):
    """DAGSTER_HOME with dagster-pgbouncer.yaml, as `DAGSTER_STORAGE=pgbouncer ./tasks` sets up;
    a fresh PostgreSQL and a PgBouncer in front of it. The code server and run workers the
    tests start inherit the environment."""
    with postgres_server() as server, pgbouncer(server) as bouncer:
        for name, value in bouncer.env().items():
            monkeypatch.setenv(name, value)
        config = home / "dagster" / "dagster.yaml"
        config.unlink()
        # test-only: leaving a workspace waits for its code server's runs, which it checks in
        # PostgreSQL; that server must not outlive the one this fixture stops
        config.write_text(PGBOUNCER_YAML.read_text()
                          + "\ncode_servers:\n  wait_for_local_processes_on_shutdown: true\n")
        with dg.DagsterInstance.from_config(str(config.parent)) as instance:
            yield instance, server, bouncer


def daemon_workspace(instance: dg.DagsterInstance):
    """The code location in its own gRPC server, as the daemon loads it."""
    return create_test_daemon_workspace_context(
        ModuleTarget("retrain_assets.definitions", "defs", str(REPO), LOCATION), instance)


def drive_queue_until_finished(instance, workspace, run_ids: list[str]) -> dict[str, str]:
    """Run the queue daemon's iterations until the runs finish; their statuses."""
    deadline = time.monotonic() + DEADLINE_S
    with QueuedRunCoordinatorDaemon(interval_seconds=1) as queue:
        while True:
            list(queue.run_iteration(workspace))
            statuses = {run_id: instance.get_run_by_id(run_id).status.value
                        for run_id in run_ids}
            if set(statuses.values()) <= FINISHED:
                return statuses
            assert time.monotonic() < deadline, f"runs still not finished: {statuses}"
            time.sleep(0.5)


@pytest.mark.service
def test_backfill_through_pgbouncer_stores_every_day_in_postgres(bounced_instance, shipped):
    instance, server, bouncer = bounced_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    names = shipped.names
    days = land(shipped.landing, START, 3, rows=150)
    served_before = bouncer.transactions_served()

    with daemon_workspace(instance) as workspace:
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=make_new_backfill_id(),
            asset_graph=workspace.create_request_context().asset_graph, partition_names=days,
            asset_selection=[names.raw_data, names.features],
            backfill_timestamp=time.time(), tags={}, dynamic_partitions_store=instance,
            all_partitions=False, title="pgbouncer", description=None, run_config=None)
        instance.add_backfill(backfill)
        deadline = time.monotonic() + DEADLINE_S
        while instance.get_backfill(backfill.backfill_id).status == BulkActionStatus.REQUESTED:
            list(execute_backfill_iteration(workspace, LOGGER))
            runs = instance.get_runs(dg.RunsFilter(tags={BACKFILL_ID_TAG: backfill.backfill_id}))
            drive_queue_until_finished(instance, workspace, [r.run_id for r in runs])
            assert time.monotonic() < deadline, "the backfill did not finish"

    assert instance.get_backfill(backfill.backfill_id).status == \
        BulkActionStatus.COMPLETED_SUCCESS
    runs = dict(server.query("SELECT run_id, status FROM runs"))
    assert runs and set(runs.values()) == {"SUCCESS"}, runs
    materialized = server.query(
        "SELECT asset_key, partition FROM event_logs "
        "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
    for asset in (names.raw_data, names.features):
        assert sorted(p for key, p in materialized if key == asset.to_string()) == days, asset
    # their traffic went through the bouncer (the instance knows no other address)
    assert bouncer.transactions_served() > served_before + 6 * len(days)


@pytest.mark.service
def test_landing_sensor_run_through_pgbouncer(bounced_instance, shipped):
    """The sensor daemon's iterations: a first look at the empty zones, then (past the sensors'
    interval) a new taxi day and its run request; the queue daemon launches the run; its
    materializations and the sensors' ticks are in PostgreSQL."""
    instance, server, _ = bounced_instance
    names = shipped.names
    with daemon_workspace(instance) as workspace:
        list(execute_sensor_iteration(workspace, LOGGER, None, None))
        (day,) = land(shipped.landing, START, 1, rows=150)
        with freeze_time(time.time() + 3600):  # past minimum_interval_seconds
            list(execute_sensor_iteration(workspace, LOGGER, None, None))
        # the landing sensor's run (the freshness checks' own sensors may request some too)
        runs = [r for r in instance.get_runs()
                if r.job_name.endswith(names.of("landing_zone_sensor"))]
        assert [r.tags.get("landing/day") for r in runs] == [day], runs
        assert drive_queue_until_finished(instance, workspace, [runs[0].run_id]) == {
            runs[0].run_id: "SUCCESS"}
        sensor = next(iter(workspace.create_request_context().get_code_location(LOCATION)
                           .get_repositories().values())).get_sensor(names.of("landing_zone_sensor"))
        ticks = instance.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id)

    assert [t.status.value for t in reversed(ticks)] == ["SKIPPED", "SUCCESS"]
    assert ticks[0].run_ids == [runs[0].run_id]
    (stored_ticks,), = server.query("SELECT count(*) FROM job_ticks WHERE type = 'SENSOR'")
    assert stored_ticks >= len(ticks)  # in PostgreSQL, with the other sensors' ticks
    assert instance.get_materialized_partitions(names.raw_data) == {day}


@pytest.mark.service
def test_webserver_statement_timeout_does_not_leak_to_other_clients(bounced_instance):
    """The webserver's `SET statement_timeout` (dagster-io/dagster#33416) runs in a transaction
    of its own; PgBouncer's reset query clears it before the server connection serves anyone
    else, who keeps the role's setting."""
    instance, _, bouncer = bounced_instance
    instance.optimize_for_webserver(statement_timeout=1234, pool_recycle=-1, max_overflow=20)
    instance.get_runs()  # the webserver's engine connects: SET statement_timeout = 1234
    conn = bouncer.connect()  # the next client, given the server connection just released
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            assert cursor.fetchone() == ("0",)
    finally:
        conn.close()


def test_tasks_with_pgbouncer_storage_links_the_pgbouncer_yaml(tmp_path):
    env = {**os.environ, "DAGSTER_STORAGE": "pgbouncer", "RETRAIN_ASSETS_HOME": str(tmp_path)}
    linked = subprocess.run([str(REPO / "tasks"), "run", "sh", "-c",
                             'readlink "$DAGSTER_HOME/dagster.yaml"'],
                            env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(linked) == PGBOUNCER_YAML


def test_helm_values_put_the_pgbouncer_sidecar_in_every_dagster_pod():
    """No cluster here (deploy/README.md): this checks the values agree with themselves — the
    one sidecar and its socket in every pod that opens the instance, and Dagster's connection
    going to that socket."""
    values = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text())
    postgres = values["postgresql"]
    socket_mount = {"name": "pgbouncer-socket", "mountPath": postgres["postgresqlParams"]["host"]}
    sidecar = values["dagsterWebserver"]["extraPrependedInitContainers"][0]
    assert sidecar["restartPolicy"] == "Always"  # a native sidecar: run Jobs still complete
    assert socket_mount in sidecar["volumeMounts"]
    code_server = values["dagster-user-deployments"]["deployments"][0]
    run_pod = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    pods = {"webserver": (values["dagsterWebserver"]["extraPrependedInitContainers"],
                          values["dagsterWebserver"]["volumeMounts"]),
            "daemon": (values["dagsterDaemon"]["extraPrependedInitContainers"],
                       values["dagsterDaemon"]["volumeMounts"]),
            "code server": (code_server["initContainers"], code_server["volumeMounts"]),
            "run": (run_pod["podSpecConfig"]["initContainers"],
                    run_pod["containerConfig"]["volumeMounts"])}
    for pod, (init_containers, mounts) in pods.items():
        assert init_containers == [sidecar], pod
        assert socket_mount in mounts, pod

    url = get_conn_string(username=postgres["postgresqlUsername"], password="from-the-secret",
                          hostname=postgres["postgresqlHost"], port=postgres["service"]["port"],
                          db_name=postgres["postgresqlDatabase"],
                          params=postgres["postgresqlParams"], scheme="postgresql+psycopg2")
    _, connect = PGDialect_psycopg2().create_connect_args(sqlalchemy.make_url(url))
    assert (connect["host"], connect["port"]) == (socket_mount["mountPath"], 6432)
