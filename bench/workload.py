"""What the benchmarks work on: simulated days landed as Parquet, and a project home."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from retrain_assets.core.features import build_features
from retrain_assets.core.simulator import simulate_day
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.project import DEFAULT_START_DATE

START = date.fromisoformat(DEFAULT_START_DATE)
SPEC = TAXI_TRIPS


def days(count: int, start: date = START) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range(count)]


def land(landing: Path, day_keys: list[str], rows: int) -> list[Path]:
    """Exactly `rows` simulated trips per day, as `<landing>/<day>/trips.parquet`."""
    files = []
    for day in day_keys:
        path = landing / day / "trips.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        simulate_day(date.fromisoformat(day), rows).to_parquet(path, index=False)
        files.append(path)
    return files


def bare_features(landed: Path, out: Path) -> None:
    """The practical floor of ingest: read → build_features → write, nothing else."""
    build_features(pd.read_parquet(landed), SPEC).to_parquet(out, index=False)


def open_definitions(home: Path, *, floor: bool = False, **project_settings):
    """Point the environment at `home` (as `./tasks` does) and load the code location; `floor`
    loads bench/floor.py's instead (the same assets with no data work)."""
    from retrain_assets.instance import use_home
    from retrain_assets.project import Project

    use_home(home)
    if floor:
        from bench.floor import build_floor_definitions as build
    else:
        from retrain_assets.build import build_definitions as build
    return build(Project(spec=SPEC, **project_settings))
