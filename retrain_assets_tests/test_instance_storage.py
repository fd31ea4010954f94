"""The embedded instance storage keeps its SQLite connections and loses nothing for it: many
calls on one connection per file, a bounded number of files open, threads and forked processes
sharing one instance, and (slow) the webserver, daemon and run workers of `dagster dev` with
concurrent runs and a run worker killed mid-run."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections import Counter
from contextlib import closing
from pathlib import Path

import dagster as dg
import pytest

from retrain_assets.instance_storage import (
    EVENT_LOG_FILES_KEPT_OPEN,
    KeptConnectionsEventLogStorage,
    KeptConnectionsRunStorage,
    KeptConnectionsScheduleStorage,
)

ASSET = dg.AssetKey("probe")


@pytest.fixture
def connects(monkeypatch) -> Counter:
    """SQLite connections opened from now on, by file name."""
    opened: Counter = Counter()
    connect = sqlite3.connect

    def counting(database, *args, **kwargs):
        opened[Path(str(database)).name] += 1
        return connect(database, *args, **kwargs)

    monkeypatch.setattr(sqlite3, "connect", counting)
    monkeypatch.setattr(sqlite3.dbapi2, "connect", counting)  # SQLAlchemy's pysqlite uses this
    return opened


def materializations(instance: dg.DagsterInstance) -> list[dg.EventLogRecord]:
    return instance.fetch_materializations(ASSET, limit=10_000).records


def integrity(dagster_home: Path) -> dict[str, str]:
    """PRAGMA integrity_check of every SQLite file of the instance, by file name."""
    checked = {}
    for path in sorted(dagster_home.rglob("*.db")):
        with closing(sqlite3.connect(path)) as conn:
            checked[path.name] = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return checked


def test_the_embedded_instance_keeps_connections_for_all_three_storages(instance):
    assert isinstance(instance.run_storage, KeptConnectionsRunStorage)
    assert isinstance(instance.event_log_storage, KeptConnectionsEventLogStorage)
    assert isinstance(instance.schedule_storage, KeptConnectionsScheduleStorage)


def test_storage_calls_reuse_the_connections_the_first_ones_opened(instance, connects):
    def calls(i: int) -> None:
        instance.report_runless_asset_event(dg.AssetMaterialization(ASSET, metadata={"i": i}))
        instance.report_engine_event(f"engine event {i}", run_id="a-run", job_name="probe")
        instance.get_runs(limit=1)
        instance.all_instigator_state()

    calls(0)
    opened_first = set(connects)
    connects.clear()
    for i in range(1, 30):
        calls(i)

    assert "a-run.db" in opened_first  # a new file is opened on first use, then kept
    # Dagster's own SQLite storages open a connection per call: here over a hundred
    assert connects == Counter()
    assert len(materializations(instance)) == 30
    assert len(instance.all_logs("a-run")) == 30


def test_the_event_log_keeps_a_bounded_number_of_run_files_open(instance):
    runs = [f"run-{i}" for i in range(EVENT_LOG_FILES_KEPT_OPEN + 3)]
    for run_id in runs:
        instance.report_engine_event(f"hello from {run_id}", run_id=run_id, job_name="probe")

    assert len(instance.event_log_storage._engines) == EVENT_LOG_FILES_KEPT_OPEN
    for run_id in runs:  # the closed ones reopen and read back
        assert [e.dagster_event.message for e in instance.all_logs(run_id)] == [
            f"hello from {run_id}"]


def test_threads_writing_and_reading_at_once_lose_nothing(instance, home):
    writers, each = 6, 40
    start = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        start.wait()
        try:
            for i in range(each):
                instance.report_runless_asset_event(
                    dg.AssetMaterialization(ASSET, metadata={"worker": worker, "i": i}))
                instance.report_engine_event(f"{worker}/{i}", run_id="shared-run",
                                            job_name="probe")
        except BaseException as exc:  # noqa: BLE001 — reported by the assertion below
            errors.append(exc)

    def read() -> None:
        start.wait()
        try:
            for _ in range(each):
                materializations(instance)
                instance.get_runs(limit=5)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    threads.append(threading.Thread(target=read))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(materializations(instance)) == writers * each
    assert len(instance.all_logs("shared-run")) == writers * each
    assert set(integrity(home / "dagster").values()) == {"ok"}


def _write_from_forked_child(instance: dg.DagsterInstance, connects: Counter) -> None:
    before = connects["index.db"]
    for i in range(20):
        instance.report_runless_asset_event(dg.AssetMaterialization(ASSET, metadata={"child": i}))
    if connects["index.db"] == before:  # it wrote on the connection it inherited
        raise SystemExit(3)


def test_a_forked_process_opens_its_own_connections_and_both_writers_keep_their_events(
        instance, home, connects):
    instance.report_runless_asset_event(dg.AssetMaterialization(ASSET))  # the parent's is open
    child = multiprocessing.get_context("fork").Process(
        target=_write_from_forked_child, args=(instance, connects))
    child.start()
    for i in range(20):
        instance.report_runless_asset_event(dg.AssetMaterialization(ASSET, metadata={"parent": i}))
    child.join(timeout=60)

    assert child.exitcode == 0
    assert len(materializations(instance)) == 41
    assert set(integrity(home / "dagster").values()) == {"ok"}


CHATTY_LOCATION = '''
import os
from pathlib import Path

import dagster as dg

REPORTED = Path(os.environ["RETRAIN_ASSETS_HOME"]) / "reported"


class Chatter(dg.Config):
    events: int


@dg.op
def chatter(context, config: Chatter):
    """Materializes `events` times; a number is reported once its event is stored (a yielded
    event is stored before the op resumes)."""
    REPORTED.mkdir(exist_ok=True)
    (REPORTED / f"{context.run_id}.pid").write_text(str(os.getpid()))
    (REPORTED / f"{context.run_id}.storage").write_text(
        type(context.instance.event_log_storage).__name__)
    with open(REPORTED / f"{context.run_id}.log", "a") as reported:
        for i in range(config.events):
            yield dg.AssetMaterialization("chatter", metadata={"i": i})
            reported.write(f"{i}\\n")
            reported.flush()
    yield dg.Output(None)


@dg.job(executor_def=dg.in_process_executor)  # the op runs in the run worker itself
def chatty():
    chatter()


defs = dg.Definitions(jobs=[chatty])
'''


def _wait(condition, what: str, timeout: float = 240) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}", pytrace=False)
        time.sleep(0.5)


@pytest.mark.slow
def test_dagster_dev_with_concurrent_runs_and_a_killed_run_worker_loses_no_reported_event(
        home, tmp_path):
    import os
    import signal

    from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
    from dagster_graphql import DagsterGraphQLClient

    from retrain_assets_tests.dagster_dev import dagster_dev

    (tmp_path / "chatty.py").write_text(CHATTY_LOCATION)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - python_file: {tmp_path / 'chatty.py'}\n")
    reported = home / "reported"
    finishing, finished_events = [], 150

    with dagster_dev(tmp_path / "dagster-dev.log", workspace=workspace) as url:
        client = DagsterGraphQLClient("127.0.0.1", port_number=int(url.rsplit(":", 1)[1]))
        submit = lambda events: client.submit_job_execution(  # noqa: E731
            "chatty", run_config={"ops": {"chatter": {"config": {"events": events}}}})
        killed = submit(1_000_000)
        finishing = [submit(finished_events) for _ in range(2)]
        # the daemon launches them (queued run coordinator); killed once it has stored enough
        _wait(lambda: (reported / f"{killed}.log").is_file()
              and len((reported / f"{killed}.log").read_text().split()) >= 100,
              "the long run to report 100 stored events")
        os.kill(int((reported / f"{killed}.pid").read_text()), signal.SIGKILL)
        # the webserver answers (reading the instance) while the other runs write
        _wait(lambda: all(client.get_run_status(run_id) == dg.DagsterRunStatus.SUCCESS
                          for run_id in finishing), "the two other runs to succeed")

    def numbers(records) -> list[int]:
        return [r.event_log_entry.asset_materialization.metadata["i"].value for r in records]

    with dg.DagsterInstance.get() as instance:
        index = instance.fetch_materializations(dg.AssetKey("chatter"), limit=10_000,
                                                ascending=True).records
        for run_id in [killed, *finishing]:
            reported_numbers = [int(n) for n in (reported / f"{run_id}.log").read_text().split()]
            in_run_file = numbers(instance.get_records_for_run(
                run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=10_000).records)
            in_index = numbers(r for r in index if r.run_id == run_id)
            # every reported event in the run's file and in the index (a kill between the two
            # writes of one event may leave the run's file one event ahead, as in Dagster's own)
            assert in_run_file[:len(reported_numbers)] == reported_numbers, run_id
            assert in_index[:len(reported_numbers)] == reported_numbers, run_id
            if run_id in finishing:
                assert in_index == in_run_file == list(range(finished_events)), run_id
            assert (reported / f"{run_id}.storage").read_text() == \
                KeptConnectionsEventLogStorage.__name__  # what the run workers wrote through
    assert set(integrity(home / "dagster").values()) == {"ok"}
    # Dagster's own SQLite storage reads the same files
    assert {r.run_id for r in DagsterSqliteStorage.from_local(
        str(home / "dagster")).run_storage.get_runs()} == {killed, *finishing}
