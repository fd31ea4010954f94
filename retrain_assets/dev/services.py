"""Throwaway local services for tests and benchmarks: PostgreSQL 15 (Debian's binaries, a temp
data dir, loopback only) and PgBouncer in front of it, always stopped and removed afterwards.

A service that cannot start raises `ServiceError` quoting its log's tail, instead of hanging.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2

STARTUP_TIMEOUT_S = 300  # a limit on waiting for readiness (busy CI), not a speed assertion


class ServiceError(RuntimeError):
    """A local service is missing or did not start; the message says what to install or shows
    its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for services tests start)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def stop_service(process: subprocess.Popen) -> None:
    """Terminate the service and anything it spawned (mlflow server runs worker processes)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        process.wait()
    except ProcessLookupError:
        pass


# --- PostgreSQL ---

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
POSTGRES_INSTALL_HINT = ("PostgreSQL 15 server binaries not found in {bin} — install them with "
                         "`apt-get install -y postgresql-15` (or set PG_BIN to their folder)")


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    db_name: str
    username: str
    password: str

    def env(self) -> dict[str, str]:
        """The DAGSTER_PG_* variables dagster-postgres.yaml reads."""
        return {"DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port),
                "DAGSTER_PG_DB": self.db_name, "DAGSTER_PG_USERNAME": self.username,
                "DAGSTER_PG_PASSWORD": self.password}

    def query(self, sql: str, *params) -> list[tuple]:
        with psycopg2.connect(host=self.host, port=self.port, dbname=self.db_name,
                              user=self.username, password=self.password) as conn, \
                conn.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()


@contextmanager
def postgres_server(db_name: str = "dagster", *, durable: bool = False
                    ) -> Iterator[PostgresServer]:
    """initdb + pg_ctl start with password auth on 127.0.0.1:<free port>; stopped and removed
    on exit. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
    Tests run it with fsync off; `durable` keeps PostgreSQL's defaults (for benchmarks)."""
    if not (PG_BIN / "initdb").is_file():
        raise ServiceError(POSTGRES_INSTALL_HINT.format(bin=PG_BIN))
    as_user: list[str] = []
    owner = None
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        owner = pwd.getpwnam("postgres")
    # not under pytest's tmp_path: its root-only parent folders would lock the postgres user out
    base = Path(tempfile.mkdtemp(prefix="retrain-pg-"))
    if owner:
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log = base / "data", base / "server.log"
    server = PostgresServer(host="127.0.0.1", port=free_port(), db_name=db_name,
                            username="dagster", password="test-only-password")
    pwfile = base / "pwfile"
    pwfile.write_text(server.password + "\n")
    if owner:
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)

    def pg(*args: str) -> None:
        try:
            subprocess.run([*as_user, *args], check=True, capture_output=True, text=True)
        except subprocess.CalledProcessError as exc:
            server_log = log.read_text() if log.exists() else ""
            raise ServiceError(f"PostgreSQL failed: {' '.join(exc.cmd)}\n{exc.stderr}\n"
                               f"{server_log}") from exc

    ctl = [str(PG_BIN / "pg_ctl"), "-D", str(data)]
    try:
        pg(str(PG_BIN / "initdb"), "-D", str(data), "-U", server.username,
           f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--no-sync")
        options = (f"-c listen_addresses={server.host} -p {server.port} "
                   f"-c unix_socket_directories={base}" + ("" if durable else " -c fsync=off"))
        pg(*ctl, "-l", str(log), "-o", options, "-w", "start")
        conn = psycopg2.connect(host=server.host, port=server.port, dbname="postgres",
                                user=server.username, password=server.password)
        try:
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{db_name}"')
        finally:
            conn.close()
        yield server
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([*as_user, *ctl, "-m", "fast", "-w", "stop"], capture_output=True,
                           check=False)
        shutil.rmtree(base, ignore_errors=True)


# --- PgBouncer ---

PGBOUNCER = Path(os.environ.get("PGBOUNCER", "/usr/sbin/pgbouncer"))
PGBOUNCER_INSTALL_HINT = ("PgBouncer not found at {path} — install it with "
                          "`apt-get install -y pgbouncer` (or set PGBOUNCER to the binary)")
INI_TEMPLATE = Path(__file__).resolve().parents[2] / "deploy" / "pgbouncer.ini"


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
        raise ServiceError(PGBOUNCER_INSTALL_HINT.format(path=PGBOUNCER))
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
        stop_service(process)
        shutil.rmtree(base, ignore_errors=True)


def _wait_until_ready(bouncer: PgBouncer, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        if process.poll() is not None:
            raise ServiceError(f"pgbouncer exited with code {process.returncode} before it was "
                               f"ready; its log ({log}):\n{log_tail(log)}")
        try:
            bouncer.connect().close()
            return
        except psycopg2.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ServiceError(f"pgbouncer did not accept a connection within "
                                   f"{STARTUP_TIMEOUT_S}s ({exc}); its log ({log}):\n"
                                   f"{log_tail(log)}") from exc
        time.sleep(0.1)
