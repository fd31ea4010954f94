"""What the benchmarks work on: simulated days landed as Parquet, a project home, and the
shipped code location's taxi model (retrain_assets/defs/taxi), which every product figure runs."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd

from retrain_assets.core.features import build_features
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.datasets.taxi.simulator import simulate_day
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.project import DEFAULT_START_DATE, Project

START = date.fromisoformat(DEFAULT_START_DATE)
SPEC = TAXI_TRIPS
MODEL = "taxi"  # the shipped model whose dataset is SPEC
NAMES = Names(MODEL)


def days(count: int, start: date = START) -> list[str]:
    return [(start + timedelta(days=i)).isoformat() for i in range(count)]


def landing_zone(home: Path) -> Path:
    """The model's landing zone in `home` (the component's default)."""
    return home / MODEL / "landing"


def stored(home: Path, asset: str) -> Path:
    """Where the model stores `asset`'s partitions in `home` (the component's default storage,
    one folder per asset key)."""
    return home / MODEL / "storage" / Path(*NAMES.asset(asset).path)


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


def open_definitions(home: Path, *, floor: bool = False):
    """Point the environment at `home` (as `./tasks` does) and load the shipped code location
    (run its model by NAMES); `floor` loads bench/floor.py's instead (the same model's ingest
    assets with no data work)."""
    from retrain_assets.dev.instance import use_home

    use_home(home)
    if floor:
        from bench.floor import build_floor_definitions

        return build_floor_definitions()
    from retrain_assets.definitions import load_definitions

    return load_definitions()


def shipped_project() -> Project:
    """The model's `Project` as the shipped code location builds it: from its YAML file and the
    environment (start date, backfill split, ...)."""
    import dagster as dg

    import retrain_assets.definitions
    from retrain_assets.pipeline.component import RetrainingPipeline

    tree = dg.ComponentTree.for_project(
        path_within_project=Path(retrain_assets.definitions.__file__).parent)
    project, _ = tree.load_component(MODEL, RetrainingPipeline).project_and_resources(
        tree.defs_module_path / MODEL)
    return project
