"""3. Sensor tick cost: the taxi model's landing_zone_sensor with many existing days and one new
one."""

from __future__ import annotations

import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from bench.harness import Figure, Run, benchmark, in_child, value_below
from bench.workload import NAMES, landing_zone

FIRST_DAY = date(1990, 1, 1)
REPO = Path(__file__).resolve().parents[1]
WARM_TICKS = 5


def _land_tiny_days(landing: Path, first: int, count: int) -> None:
    for offset in range(first, first + count):
        folder = landing / (FIRST_DAY + timedelta(days=offset)).isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "trips.csv").write_text("trip_id\n1\n")


def daemon_ticks(home: Path, existing: int) -> tuple[float, float]:
    """Ticks of the real sensor as the sensor daemon asks for them: a gRPC call to the code
    location's server, cursor in, run requests and cursor out. Returns (first tick with a new
    day after the server started, median of the warm ticks after it), each with one new day
    landed among `existing` known ones."""
    import os

    from retrain_assets.dev.instance import use_home
    from retrain_assets.pipeline.dagster_internals import (
        ModuleTarget,
        create_test_daemon_workspace_context,
    )

    os.environ["RETRAIN_ASSETS_START_DATE"] = FIRST_DAY.isoformat()  # for the code server
    use_home(home)  # the homes, in the environment the code server inherits
    _land_tiny_days(landing_zone(home), 0, existing)
    target = ModuleTarget("retrain_assets.definitions", "defs", str(REPO), "retrain_assets")
    with dg.DagsterInstance.get() as instance, \
            create_test_daemon_workspace_context(target, instance) as workspace:
        location = workspace.create_request_context().get_code_location("retrain_assets")
        repository = next(iter(location.get_repositories().values())).handle

        def tick(cursor: str | None):
            started = time.perf_counter()
            data = location.get_sensor_execution_data(
                instance, repository, NAMES.of("landing_zone_sensor"), None, None, cursor, None,
                None)
            return time.perf_counter() - started, data

        _, data = tick(None)  # the first look records the history
        seconds = []
        for new_day in range(existing, existing + 1 + WARM_TICKS):
            _land_tiny_days(landing_zone(home), new_day, 1)
            elapsed, data = tick(data.cursor)
            if len(data.run_requests or []) != 1:
                raise RuntimeError(f"expected one run request for the new day, got "
                                   f"{len(data.run_requests or [])}: {data.skip_message}")
            seconds.append(elapsed)
    return seconds[0], statistics.median(seconds[1:])


def full_listing(home: Path, existing: int) -> float:
    """The naive tick: list every landed file and group by day (what a cursor-less sensor does)."""
    from retrain_assets.adapters.landing import LandingZone
    from retrain_assets.adapters.storage import LocalObjectStore

    _land_tiny_days(landing_zone(home), 0, existing + 1)
    zone = LandingZone(LocalObjectStore(landing_zone(home)))
    started = time.perf_counter()
    zone.files_by_day()
    return time.perf_counter() - started


@benchmark(3, "sensor", "landing_zone_sensor tick with N existing days and 1 new one")
def sensor(run: Run) -> list[Figure]:
    counts = run.sized(full=(100, 1_000, 10_000), quick=(100, 1_000), smoke=(10, 100))
    figures, first_ticks = [], []
    for existing in counts:
        (cold, warm), _ = in_child(daemon_ticks, run.folder(f"tick-{existing}"), existing,
                                   log=run.log)
        print(f"  daemon_ticks: first {cold:.2f} s, warm median {warm:.3f} s", flush=True)
        naive = run.measure(full_listing, run.folder(f"list-{existing}"), existing)
        first_ticks.append(f"{existing:,} days: {cold:.2f} s")
        figures.append(Figure(f"tick, {existing:,} existing days + 1 new", warm,
                              naive.best, "full listing of the zone", "s",
                              value_below(0.5, "s")))
    run.sizes.append(f"{', '.join(f'{c:,}' for c in counts)} existing day folders, one tiny "
                     "file each, plus one new day per tick")
    run.notes += [
        "ours: the real landing_zone_sensor evaluated as the sensor daemon does it, a gRPC call "
        "to the code location's server (cursor in; run requests and cursor out), including its "
        f"champion look-up in MLflow; the figure is the median of {WARM_TICKS} ticks, each with "
        "one new day, in a code server that has ticked before (the daemon's steady state)",
        "the first tick with a new day after a code server starts also opens the MLflow store "
        "(imports and schema check, once per server process): " + "; ".join(first_ticks),
        "baseline: listing every file of the zone (what a cursor-less sensor does each tick)",
        "flatness: compare the tick rows across sizes; the tick lists only changed day folders",
    ]
    return figures
