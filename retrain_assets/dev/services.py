"""A throwaway PostgreSQL 15 server for tests: Debian's binaries, a temp data dir, loopback only."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from retrain_assets_tests.services import free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
INSTALL_HINT = ("PostgreSQL 15 server binaries not found in {bin} — install them with "
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
        pytest.fail(INSTALL_HINT.format(bin=PG_BIN), pytrace=False)
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
            pytest.fail(f"PostgreSQL failed: {' '.join(exc.cmd)}\n{exc.stderr}\n{server_log}",
                        pytrace=False)

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
