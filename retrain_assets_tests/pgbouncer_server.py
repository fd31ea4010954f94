"""A throwaway PgBouncer in front of a test PostgreSQL: Debian's `pgbouncer`, configured from the
shipped deploy/pgbouncer.ini (transaction pooling, trust over a Unix socket), a temp folder."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2
import pytest

from retrain_assets_tests.postgres_server import PostgresServer
from retrain_assets_tests.services import STARTUP_TIMEOUT_S, _log_tail, _stop, free_port

PGBOUNCER = Path(os.environ.get("PGBOUNCER", "/usr/sbin/pgbouncer"))
INSTALL_HINT = ("PgBouncer not found at {path} — install it with `apt-get install -y pgbouncer` "
                "(or set PGBOUNCER to the binary)")
INI_TEMPLATE = Path(__file__).resolve().parents[1] / "deploy" / "pgbouncer.ini"


@dataclass(frozen=True)
class PgBouncer:
    socket_dir: Path
    port: int
    db_name: str
    username: str

    def url(self) -> str:
        """The SQLAlchemy URL dagster-pgbouncer.yaml reads: no password, the socket folder as
        host (libpq finds `.s.PGSQL.<port>` in it)."""
        return (f"postgresql+psycopg2://{quote(self.username)}@/{quote(self.db_name)}"
                f"?host={quote(str(self.socket_dir))}&port={self.port}")

    def env(self) -> dict[str, str]:
        return {"DAGSTER_PGBOUNCER_URL": self.url()}

    def connect(self, db_name: str | None = None):
        """A psycopg2 connection through the bouncer (`pgbouncer`: its admin console)."""
        return psycopg2.connect(host=str(self.socket_dir), port=self.port,
                                dbname=db_name or self.db_name, user=self.username)

    def transactions_served(self) -> int:
        """Transactions PgBouncer has passed to the database so far (SHOW STATS)."""
        conn = self.connect("pgbouncer")
        try:
            conn.autocommit = True  # the admin console takes no transactions
            with conn.cursor() as cursor:
                cursor.execute("SHOW STATS")
                columns = [c.name for c in cursor.description]
                rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
        finally:
            conn.close()
        return sum(row["total_xact_count"] for row in rows if row["database"] == self.db_name)


@contextmanager
def pgbouncer(server: PostgresServer) -> Iterator[PgBouncer]:
    """PgBouncer on a Unix socket in a temp folder, pooling `server`'s database; stopped and
    removed on exit. It refuses to run as root, so as root it runs as the `postgres` user."""
    if not PGBOUNCER.is_file():
        pytest.fail(INSTALL_HINT.format(path=PGBOUNCER), pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="retrain-pgbouncer-"))
    bouncer = PgBouncer(socket_dir=base, port=free_port(), db_name=server.db_name,
                        username=server.username)
    auth_file, log = base / "userlist.txt", base / "pgbouncer.log"
    auth_file.write_text(f'"{server.username}" "{server.password}"\n')
    auth_file.chmod(0o600)
    ini = base / "pgbouncer.ini"
    ini.write_text(INI_TEMPLATE.read_text().format(
        db_name=server.db_name, pg_host=server.host, pg_port=server.port, listen_addr="",
        port=bouncer.port,
        socket_dir=base, auth_file=auth_file, admin_user=server.username, log_file=log,
        pid_file=base / "pgbouncer.pid"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (base, auth_file, ini):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        as_user = ["-u", "postgres"]
    process = subprocess.Popen([str(PGBOUNCER), *as_user, str(ini)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_ready(bouncer, process, log)
        yield bouncer
    finally:
        _stop(process)
        shutil.rmtree(base, ignore_errors=True)


def _wait_until_ready(bouncer: PgBouncer, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"pgbouncer exited with code {process.returncode} before it was ready; "
                        f"its log ({log}):\n{_log_tail(log)}", pytrace=False)
        try:
            bouncer.connect().close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"pgbouncer did not accept a connection within {STARTUP_TIMEOUT_S}s "
                            f"({exc}); its log ({log}):\n{_log_tail(log)}", pytrace=False)
        time.sleep(0.1)
