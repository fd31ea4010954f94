"""3. Sensor tick cost: landing_zone_sensor with many existing days and one new one."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg

from bench.harness import Figure, Run, benchmark, value_below

FIRST_DAY = date(1990, 1, 1)


def _land_tiny_days(landing: Path, first: int, count: int) -> None:
    for offset in range(first, first + count):
        folder = landing / (FIRST_DAY + timedelta(days=offset)).isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "trips.csv").write_text("trip_id\n1\n")


def _tick(defs: dg.Definitions, cursor: str | None):
    """Evaluate the real sensor once; returns (seconds, result)."""
    sensor = defs.resolve_sensor_def("landing_zone_sensor")
    needed = {key: defs.resources[key] for key in ("landing_zone", "mlflow")}
    with dg.build_sensor_context(instance=dg.DagsterInstance.get(), cursor=cursor,
                                 resources=needed, definitions=defs) as context:
        started = time.perf_counter()
        result = sensor(context)
        return time.perf_counter() - started, result


def sensor_tick(home: Path, existing: int) -> float:
    """One tick of the real sensor after one new day lands among `existing` known days."""
    from bench.workload import open_definitions

    defs = open_definitions(home, start_date=FIRST_DAY.isoformat())
    _land_tiny_days(home / "landing", 0, existing)
    _, first = _tick(defs, None)  # the first look records the history
    _land_tiny_days(home / "landing", existing, 1)
    seconds, result = _tick(defs, first.cursor)
    requests = list(getattr(result, "run_requests", None) or [])
    if len(requests) != 1:
        raise RuntimeError(f"expected one run request for the new day, got {len(requests)}")
    return seconds


def full_listing(home: Path, existing: int) -> float:
    """The naive tick: list every landed file and group by day (what a cursor-less sensor does)."""
    from retrain_assets.landing import LandingZone
    from retrain_assets.storage import LocalObjectStore

    _land_tiny_days(home / "landing", 0, existing + 1)
    zone = LandingZone(LocalObjectStore(home / "landing"))
    started = time.perf_counter()
    zone.files_by_day()
    return time.perf_counter() - started


@benchmark(3, "sensor", "landing_zone_sensor tick with N existing days and 1 new one")
def sensor(run: Run) -> list[Figure]:
    counts = (100, 1_000) if run.quick else (100, 1_000, 10_000)
    figures = []
    for existing in counts:
        ours = run.measure(sensor_tick, run.folder(f"tick-{existing}"), existing)
        naive = run.measure(full_listing, run.folder(f"list-{existing}"), existing)
        figures.append(Figure(f"tick, {existing:,} existing days + 1 new", ours.best,
                              naive.best, "full listing of the zone", "s",
                              value_below(0.5, "s")))
    run.sizes.append(f"{', '.join(f'{c:,}' for c in counts)} existing day folders, one tiny "
                     "file each, plus one new day")
    run.notes += [
        "ours: one evaluation of the real landing_zone_sensor (build_sensor_context with the "
        "code location's resources, cursor from the previous tick), including its champion "
        "look-up in MLflow; the baseline lists every file of the zone",
        "flatness: compare the tick rows across sizes; the tick lists only changed day folders",
    ]
    return figures
