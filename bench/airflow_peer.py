"""6. A peer: the backfill's bare per-day work as a daily Airflow DAG with catchup, timed in the
same run as our backfill and the bare loop over the same landed files.

Airflow is installed by the benchmark into its own pinned environment
(bench/airflow-peer-requirements.txt, cached under ~/.cache), never into the product's lock, and
run as `airflow standalone` runs it: LocalExecutor, SQLite metadata database, scheduler,
dag-processor and api-server (Airflow 3 tasks report through its execution API).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing, contextmanager
from pathlib import Path

from bench.backfill import bare_loop, daemon_backfill
from bench.harness import Figure, Run, benchmark, times_faster_than_baseline
from bench.workload import START, days, land, landing_zone

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = Path(__file__).with_name("airflow-peer-requirements.txt")
AIRFLOW_VERSION = next(line.split("==")[1] for line in REQUIREMENTS.read_text().splitlines()
                       if line.startswith("apache-airflow=="))
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "retrain-assets-bench"
DAG_ID = "bare_features_daily"
STARTUP_TIMEOUT_S = 600  # a limit on waiting for Airflow to come up (busy CI), not a measure
RUN_TIMEOUT_S = 3600

# The DAG: one task per day doing exactly bench.workload.bare_features (read the landed Parquet,
# build_features, write Parquet), with the product's own function and dataset spec.
DAG_SOURCE = '''\
from datetime import datetime, timezone

from airflow.sdk import dag, task

LANDING, OUT = {landing!r}, {out!r}


@dag(dag_id={dag_id!r}, schedule="@daily", catchup=True, is_paused_upon_creation=True,
     start_date=datetime({first.year}, {first.month}, {first.day}, tzinfo=timezone.utc),
     end_date=datetime({last.year}, {last.month}, {last.day}, tzinfo=timezone.utc))
def bare_features_daily():
    @task
    def features(ds=None):
        import pandas as pd

        from retrain_assets.core.features import build_features
        from retrain_assets.datasets.taxi import TAXI_TRIPS

        frame = pd.read_parquet(f"{{LANDING}}/{{ds}}/trips.parquet")
        build_features(frame, TAXI_TRIPS).to_parquet(f"{{OUT}}/{{ds}}.parquet", index=False)

    features()


bare_features_daily()
'''


def airflow_environment() -> tuple[Path, float]:
    """The cached virtualenv for REQUIREMENTS (created on first use) and the seconds its
    install took now (0 when it was already there)."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    python_version = f"{sys.version_info[0]}{sys.version_info[1]}"
    venv = CACHE / f"airflow-{AIRFLOW_VERSION}-py{python_version}-{digest}"
    python = venv / "bin" / "python"
    if (venv / "installed").is_file():
        return python, 0.0
    shutil.rmtree(venv, ignore_errors=True)
    uv = shutil.which("uv") or shutil.which("uv", path=str(REPO / ".tools" / "bin"))
    if uv is None:
        raise RuntimeError("the Airflow peer benchmark installs Airflow with uv, which is neither "
                           "on PATH nor in .tools/bin: run it through ./tasks (which installs "
                           "uv), or leave it out with --only")
    started = time.perf_counter()
    for command in ([uv, "venv", "--quiet", "--python", sys.executable, str(venv)],
                    [uv, "pip", "install", "--quiet", "--python", str(python), "--compile-bytecode",
                     "-r", str(REQUIREMENTS)]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"installing Airflow {AIRFLOW_VERSION} into {venv} failed "
                               f"({' '.join(command[:3])}):\n{done.stderr[-3000:]}")
    (venv / "installed").write_text(AIRFLOW_VERSION + "\n")
    return python, time.perf_counter() - started


def airflow_backfill(python: str, home: str, landing: str, day_keys: list[str]) -> float:
    """`airflow standalone` on a fresh AIRFLOW_HOME with the DAG paused; once its DAG is parsed,
    unpause it (the same row update `airflow dags unpause` makes) and time until every daily run
    has succeeded. Start-up and parsing are not timed (as our backfill's code server start is
    not)."""
    from datetime import date

    airflow_home, out = Path(home), Path(home) / "out"
    (airflow_home / "dags").mkdir(parents=True, exist_ok=True)
    out.mkdir(exist_ok=True)
    (airflow_home / "dags" / f"{DAG_ID}.py").write_text(DAG_SOURCE.format(
        landing=landing, out=str(out), dag_id=DAG_ID, first=date.fromisoformat(day_keys[0]),
        last=date.fromisoformat(day_keys[-1])))
    database = airflow_home / "airflow.db"
    with standalone(Path(python), airflow_home) as (process, log):
        def parsed() -> bool:
            return _query(database, "SELECT count(*) FROM dag WHERE dag_id = ?", DAG_ID) == [(1,)]

        wait_for(parsed, STARTUP_TIMEOUT_S, "the DAG to be parsed", process, log)
        started = time.perf_counter()
        _execute(database, "UPDATE dag SET is_paused = 0 WHERE dag_id = ?", DAG_ID)

        def finished() -> bool:
            states = dict(_query(database, "SELECT state, count(*) FROM dag_run WHERE dag_id = ? "
                                           "GROUP BY state", DAG_ID))
            if states.get("failed"):
                raise RuntimeError(f"Airflow DAG runs failed: {states}; "
                                   f"{failed_task_log(airflow_home)}")
            return states.get("success", 0) >= len(day_keys)

        wait_for(finished, RUN_TIMEOUT_S, f"{len(day_keys)} DAG runs to succeed", process, log)
        seconds = time.perf_counter() - started
    written = sorted(p.stem for p in out.glob("*.parquet"))
    if written != day_keys:
        raise RuntimeError(f"the Airflow DAG wrote {len(written)} days, expected {len(day_keys)} "
                           f"({day_keys[0]}..{day_keys[-1]}); its runs did other days")
    return seconds


def failed_task_log(airflow_home: Path) -> str:
    """The end of the newest task log that records an error (the scratch folder holding it is
    gone once the benchmark ends)."""
    logs = sorted((airflow_home / "logs").rglob("*.log"), key=lambda p: p.stat().st_mtime)
    failed = [p for p in logs if "error" in p.read_text(errors="replace").lower()]
    if not failed:
        return f"no task log records an error under {airflow_home / 'logs'}"
    tail = "\n".join(failed[-1].read_text(errors="replace").splitlines()[-30:])
    return f"the end of {failed[-1]}:\n{tail}"


@contextmanager
def standalone(python: Path, airflow_home: Path):
    """`airflow standalone` in its own process group on a free port; yields the process and
    its log's path."""
    from retrain_assets.dev.services import free_port

    port = free_port()
    env = {**os.environ, "AIRFLOW_HOME": str(airflow_home),
           "AIRFLOW__CORE__DAGS_FOLDER": str(airflow_home / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
           "PYTHONPATH": str(REPO),  # the task imports the product's build_features
           "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("VIRTUAL_ENV", None)
    log = airflow_home / "standalone.log"
    with log.open("ab") as out:
        process = subprocess.Popen([str(python.parent / "airflow"), "standalone"], env=env,
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process, log
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen,
             log: Path) -> None:
    """Poll `condition` until true; Airflow exiting or the timeout fails with its log's end."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except sqlite3.OperationalError:  # the database or its tables not created yet
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            why = (f"airflow standalone exited with code {process.returncode}"
                   if process.returncode is not None else f"timed out after {timeout:.0f} s")
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
            raise RuntimeError(f"{why} waiting for {what}; the end of {log}:\n{tail}")
        time.sleep(0.2)


def _query(database: Path, sql: str, *params) -> list[tuple]:
    with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as conn:
        return conn.execute(sql, params).fetchall()


def _execute(database: Path, sql: str, *params) -> None:
    with closing(sqlite3.connect(database, timeout=30)) as conn, conn:
        conn.execute(sql, params)


@benchmark(6, "peer", "the backfill's bare per-day work as an Airflow daily DAG with catchup")
def peer(run: Run) -> list[Figure]:
    count, rows = run.sized(full=(365, 20_000), quick=(4, 2_000), smoke=(2, 500))
    python, install_seconds = airflow_environment()
    home = run.folder("home")
    day_keys = days(count, START)
    files = land(landing_zone(home), day_keys, rows)
    ours = run.measure(daemon_backfill, home, day_keys)
    floor = run.measure(bare_loop, files, run.folder("bare"))
    airflow = run.measure(airflow_backfill, str(python), str(run.folder("airflow")),
                          str(landing_zone(home)), day_keys, repeats=1)
    run.sizes.append(f"{count} daily partitions × {rows:,} rows landed as Parquet")
    run.notes += [
        f"peer: Apache Airflow {AIRFLOW_VERSION} as `airflow standalone` runs it (LocalExecutor, "
        "SQLite, scheduler + dag-processor + api-server, Airflow's defaults otherwise), a "
        f"@daily DAG with catchup over the {count} days, one task per day doing the bare "
        "loop's work (read the landed Parquet, the product's build_features, write Parquet) "
        "with the product lock's pandas, pyarrow and pandera; timed from unpausing the parsed "
        "DAG to every DAG run succeeded. It has no validation, no stored raw copy and no "
        "per-day check records, which our backfill has",
        "ours: the backfill benchmark's route (an asset backfill run by the backfill and run "
        "queue daemons' iterations, one run); baseline: the pandas loop over the same files",
        f"Airflow's own environment: bench/airflow-peer-requirements.txt in {CACHE}; "
        + (f"installed in this run in {install_seconds:.0f} s (not timed in any figure)"
           if install_seconds else "already cached"),
    ]
    return [
        Figure(f"backfill of {count} days", ours.best, airflow.best,
               f"Airflow {AIRFLOW_VERSION} daily DAG with catchup", "s",
               times_faster_than_baseline(1)),
        Figure(f"Airflow {AIRFLOW_VERSION}: the same days as a daily DAG with catchup",
               airflow.best, floor.best, "bare pandas loop", "s", None),
    ]
