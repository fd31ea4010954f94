"""Shared fixtures: an isolated project home, Dagster instance and code location per test."""

from __future__ import annotations

import io
import socket
from datetime import date

import dagster as dg
import pandas as pd
import pytest

from retrain_assets.core.simulator import simulate_day
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.definitions import build_definitions
from retrain_assets.instance import use_home
from retrain_assets.project import Project
from retrain_assets.simulate import SimulationPlan, land_days
from retrain_assets.storage import LocalObjectStore

START = date(2025, 1, 1)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh RETRAIN_ASSETS_HOME + DAGSTER_HOME; environment restored after the test."""
    for name in ("RETRAIN_ASSETS_HOME", "DAGSTER_HOME", "MLFLOW_TRACKING_URI",
                 "RETRAIN_ASSETS_LANDING_URL", "RETRAIN_ASSETS_STORAGE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RETRAIN_ASSETS_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    use_home(tmp_path)
    return tmp_path


@pytest.fixture
def project() -> Project:
    return Project(spec=TAXI_TRIPS, start_date=START.isoformat())


@pytest.fixture
def defs(home, project) -> dg.Definitions:
    return build_definitions(project)


@pytest.fixture
def instance(home):
    with dg.DagsterInstance.get() as instance:
        yield instance


@pytest.fixture
def landing(home) -> LocalObjectStore:
    return LocalObjectStore(home / "landing")


def land(store, start: date, days: int, *, rows: int = 300, drift_from: date | None = None,
         seed: int = 7) -> list[str]:
    """Land simulated days; returns their partition keys."""
    plan = SimulationPlan(start=start, days=days, mean_rows=rows, seed=seed,
                          concept_drift_from=drift_from)
    land_days(store, plan)
    return [d.isoformat() for d in plan.dates()]


def land_frame(store, day: str, frame: pd.DataFrame, name: str = "trips.csv") -> str:
    buffer = io.BytesIO()
    if name.endswith(".parquet"):
        frame.to_parquet(buffer, index=False)
    else:
        frame.to_csv(buffer, index=False)
    key = f"{day}/{name}"
    store.write_bytes(key, buffer.getvalue())
    return key


def good_day(day: str, rows: int = 200) -> pd.DataFrame:
    return simulate_day(date.fromisoformat(day), rows)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for services tests start)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
