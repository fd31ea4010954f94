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
