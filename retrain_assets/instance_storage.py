"""The embedded Dagster instance storage, keeping its SQLite connections open between calls.

Dagster's SQLite storages (runs, schedules, and the event log: an index file plus one file per
run) build a new SQLAlchemy engine and open a new connection for every storage call. So no
compiled statement is ever reused, and closing what is usually the last connection to a WAL
database checkpoints and fsyncs it, on every call. These subclasses keep one engine per file,
whose pool keeps one connection open; everything else — files, layout, schema, migrations,
transactions (one per call, committed at its end), `synchronous=FULL` durability — is Dagster's.

Why subclasses: `storage: custom:` in dagster.yaml is Dagster's public extension point for the
whole storage, but the connection is made inside private classes (`SqliteRunStorage.connect`,
`SqliteScheduleStorage.connect`, `SqliteEventLogStorage._connect`), so they are subclassed here,
in this one module, and pyproject.toml pins the Dagster minor version they were written against.
It is meant to go upstream as the SQLite storages' own behaviour (deploy/README.md).

Safe in every process that opens the instance: engines are per process (a forked child leaves
the ones it inherited alone, unclosed, and opens its own), SQLAlchemy's pool hands each thread its
own connection, and the event log still serializes its calls as Dagster does. Bounded in the
long-lived ones (webserver, daemon, code servers): at most `EVENT_LOG_FILES_KEPT_OPEN` event-log
files keep an engine; the least recently used one is closed.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as db
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

# the index file, the files of the runs a process is working on or watching, and a few more
EVENT_LOG_FILES_KEPT_OPEN = 8


def _sqlite_engine(conn_string: str) -> Engine:
    """An engine whose pool keeps one connection open; a thread that finds it in use gets an
    extra one, closed when returned (closing it is not the file's last close: no checkpoint)."""
    engine = db.create_engine(
        conn_string, poolclass=QueuePool, pool_size=1, max_overflow=-1,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False})

    @db.event.listens_for(engine, "connect")
    def durable(dbapi_connection, _record) -> None:
        # SQLite's default, stated: a commit reaches the disk before it returns
        dbapi_connection.execute("PRAGMA synchronous=FULL")

    return engine


class KeptEngines:
    """This process's engines by SQLite connection string, the `limit` most recently used."""

    def __init__(self, limit: int):
        self._limit = limit
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._inherited: list[Engine] = []

    def __len__(self) -> int:
        return len(self._engines)

    def get(self, conn_string: str) -> Engine:
        with self._lock:
            if self._pid != os.getpid():
                self._forget_inherited()
            engine = self._engines.pop(conn_string, None) or _sqlite_engine(conn_string)
            self._engines[conn_string] = engine
            while len(self._engines) > self._limit:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    @contextmanager
    def transaction(self, conn_string: str) -> Iterator[Connection]:
        """A connection in a transaction committed at the end, as Dagster's `connect` gives."""
        with self.get(conn_string).connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._forget_inherited()
            while self._engines:
                self._engines.popitem()[1].dispose()

    def _forget_inherited(self) -> None:
        """In a forked child: the parent's connections are the parent's, never to be used or
        closed here (SQLite's rule for fork), so they are set aside, still referenced so that
        garbage collection does not close them, and this process opens its own."""
        self._inherited.extend(self._engines.values())
        self._engines.clear()
        self._pid = os.getpid()


class _OneKeptConnection:
    """`connect` and `dispose` of a storage that lives in one SQLite file (`_conn_string`), over
    one kept connection; mixed in before Dagster's class, whose methods these replace."""

    _conn_string: str

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None):
        self._engines = KeptEngines(limit=1)
        super().__init__(conn_string, inst_data)

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with self._engines.transaction(self._conn_string) as conn:
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._engines.dispose()


class KeptConnectionsRunStorage(_OneKeptConnection, SqliteRunStorage):
    """Dagster's SQLite run storage (history/runs.db) over a kept connection."""


class KeptConnectionsScheduleStorage(_OneKeptConnection, SqliteScheduleStorage):
    """Dagster's SQLite schedule storage (schedules/schedules.db) over a kept connection."""


class KeptConnectionsEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log (history/runs/index.db and <run id>.db) over kept
    connections, the most recently used `EVENT_LOG_FILES_KEPT_OPEN` files."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines = KeptEngines(limit=EVENT_LOG_FILES_KEPT_OPEN)
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:  # Dagster serializes its event-log calls; so do we
            engine = self._engines.get(self.conn_string_for_shard(shard))
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def wipe(self) -> None:
        self._engines.dispose()  # its files are deleted: writes must not go to unlinked ones
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self._engines.dispose()


class KeptConnectionsSqliteStorage(DagsterSqliteStorage):
    """The embedded instance storage (`storage: custom:` in dagster.yaml): Dagster's SQLite
    layout under `base_dir`, each file over a kept connection."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # DagsterSqliteStorage.__init__ builds Dagster's own three storages; ours instead
        super(DagsterSqliteStorage, self).__init__()
        self.base_dir = base_dir
        self._run_storage = KeptConnectionsRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = KeptConnectionsEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = KeptConnectionsScheduleStorage.from_local(
            _schedule_directory(base_dir))
        self._inst_data = inst_data

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value
                          ) -> KeptConnectionsSqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
