"""Shared fixtures: an isolated project home, Dagster instance and code location per test."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from retrain_assets.adapters.storage import LocalObjectStore
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.datasets.taxi.simulator import simulate_day
from retrain_assets.dev.instance import use_home
from retrain_assets.dev.simulate import SimulationPlan, encode_frame, land_days
from retrain_assets.pipeline.build import build_definitions
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.project import Project

START = date(2025, 1, 1)
pytest_plugins = ["retrain_assets_tests.services"]  # gcs_emulator, gcs_bucket, mlflow_server


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh RETRAIN_ASSETS_HOME + DAGSTER_HOME; environment restored after the test."""
    for name in ("RETRAIN_ASSETS_HOME", "DAGSTER_HOME", "MLFLOW_TRACKING_URI",
                 "RETRAIN_ASSETS_LANDING_URL", "RETRAIN_ASSETS_STORAGE_URL",
                 "RETRAIN_ASSETS_GCP_PROJECT", "RETRAIN_ASSETS_MLFLOW_ARTIFACTS",
                 "RETRAIN_ASSETS_MLFLOW_UI_URL"):
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


@dataclass(frozen=True)
class Shipped:
    """The shipped code location's taxi model, as a daemon, `dagster dev` or a workspace loads
    it: a test that runs some jobs in-process and lets those load the rest must use these
    definitions and names, so both sides share one landing zone, storage and registry."""

    defs: dg.Definitions
    names: Names
    landing: LocalObjectStore
    storage: Path

    @property
    def small_training(self) -> dict:
        """SMALL_TRAINING for this model's training job."""
        return training_config(names=self.names, **SMALL_TRAINING_SETTINGS)


def load_shipped() -> Shipped:
    """The shipped taxi model (landing and storage under `$RETRAIN_ASSETS_HOME/taxi/`); call
    it after setting any RETRAIN_ASSETS_* variable the code location reads, as the processes
    started after it will."""
    from retrain_assets.definitions import load_definitions

    defs, names = load_definitions(), Names("taxi")
    return Shipped(defs, names, LocalObjectStore(defs.resources[names.of("landing_zone")].url),
                   Path(defs.resources[names.of("io_manager")].url))


@pytest.fixture
def shipped(home) -> Shipped:
    return load_shipped()


@pytest.fixture
def instance(home):
    with dg.DagsterInstance.get() as instance:
        yield instance


@pytest.fixture
def slack(monkeypatch) -> list[dict]:
    """Every message the alerts send to Slack (dagster-slack's client, faked), in order."""
    sent = []

    class FakeClient:
        def chat_postMessage(self, **kwargs):
            sent.append(kwargs)

    import dagster_slack

    monkeypatch.setattr(dagster_slack.SlackResource, "get_client", lambda self: FakeClient())
    return sent


def sensor_tick(defs: dg.Definitions, sensor: str, instance: dg.DagsterInstance,
                resources: dict, cursor: str | None = None):
    """One evaluation of `sensor` as the daemon runs it: its cursor carried in and out, its
    resources by key (not as keywords, as a direct call would hand them)."""
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources)
    return defs.resolve_sensor_def(sensor).evaluate_tick(context)


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
    key = f"{day}/{name}"
    store.write_bytes(key, encode_frame(frame, name.rsplit(".", 1)[-1]))
    return key


def good_day(day: str, rows: int = 200) -> pd.DataFrame:
    return simulate_day(date.fromisoformat(day), rows)


def training_config(*, names: Names = Names(), window_days: int = 7, min_train_days: int = 5,
                    max_iter: int = 50) -> dict:
    """Run config for training_job on a few days of data (the defaults want four weeks)."""
    return {"ops": {names.op(names.candidate_model): {"config": {
        "window_days": window_days, "min_train_days": min_train_days, "max_iter": max_iter}}}}


SMALL_TRAINING_SETTINGS = {"min_train_days": 3, "max_iter": 30}
SMALL_TRAINING = training_config(**SMALL_TRAINING_SETTINGS)


def champion_from(defs, instance, store, start: date = START, days: int = 8) -> str:
    """Land, ingest and train on a few small days so a champion exists; returns its version."""
    from retrain_assets.adapters.registry import CHAMPION
    from retrain_assets.dev.instance import run_job

    keys = land(store, start, days, rows=120)
    assert run_job(defs, "ingest_job", instance, days=keys).success
    assert run_job(defs, "training_job", instance, run_config=SMALL_TRAINING).success
    version = defs.resources["mlflow"].registry().version_for(CHAMPION)
    assert version is not None
    return version


