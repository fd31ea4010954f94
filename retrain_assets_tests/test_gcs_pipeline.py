"""The asset graph with its landing zone and asset storage on GCS (the fake-gcs-server emulator).

Only the environment changes (RETRAIN_ASSETS_LANDING_URL / RETRAIN_ASSETS_STORAGE_URL =
gs://..., RETRAIN_ASSETS_GCP_PROJECT, STORAGE_EMULATOR_HOST); the code location is the real one.
MLflow stays on its embedded store here: MLflow artifacts on GCS are not covered.
"""

from __future__ import annotations

import dagster as dg
import pytest

from retrain_assets.build import GCP_PROJECT_ENV, build_definitions
from retrain_assets.instance import run_job
from retrain_assets.registry import CHAMPION
from retrain_assets.resources import open_store
from retrain_assets_tests.conftest import START, good_day, land, land_frame, training_config

pytestmark = [pytest.mark.service, pytest.mark.slow]


@pytest.fixture
def gcs_defs(home, project, gcs_bucket, monkeypatch):
    monkeypatch.setenv("RETRAIN_ASSETS_LANDING_URL", gcs_bucket.url("landing"))
    monkeypatch.setenv("RETRAIN_ASSETS_STORAGE_URL", gcs_bucket.url("assets"))
    monkeypatch.setenv(GCP_PROJECT_ENV, "retrain-test")
    return build_definitions(project)


def test_ingest_then_training_read_and_write_only_gcs(gcs_defs, gcs_bucket, instance, home):
    days = land(open_store(gcs_bucket.url("landing")), START, 8, rows=150)

    ingest = run_job(gcs_defs, "ingest_job", instance, days=days)
    training = run_job(gcs_defs, "training_job", instance,
                       run_config=training_config(window_days=7, min_train_days=5))

    assert ingest.success and training.success
    blobs = {b.name for b in gcs_bucket.client.list_blobs(gcs_bucket.name, prefix="assets/")}
    for day in days:
        assert {f"assets/raw_data/{day}.parquet", f"assets/features/{day}.parquet"} <= blobs
    assert {f"assets/{asset}/runs/{training.run_id}.json"
            for asset in ("candidate_model", "evaluation_report")} <= blobs
    assert {f"assets/_profiles/raw_data/{day}.json" for day in days} <= blobs
    assert not (home / "storage").exists() and not (home / "landing").exists()
    registry = gcs_defs.resources["mlflow"].registry()
    assert registry.version_for(CHAMPION) == "1"
    raw = instance.get_latest_materialization_event(dg.AssetKey("raw_data")).asset_materialization
    assert raw.metadata["landing_zone"].value == f"gs://{gcs_bucket.name}/landing"


def test_a_bad_file_landed_on_gcs_is_quarantined_there_and_the_day_not_stored(
        gcs_defs, gcs_bucket, instance):
    landing = open_store(gcs_bucket.url("landing"))
    [day] = land(landing, START, 1, rows=50)
    bad = good_day(day, 20).assign(trip_id=lambda f: f["trip_id"] + "-late")
    bad.loc[bad.index[0], "passenger_count"] = 40
    land_frame(landing, day, bad, name="late.csv")

    result = run_job(gcs_defs, "ingest_job", instance, days=[day])

    assert not result.success
    names = {b.name for b in gcs_bucket.client.list_blobs(gcs_bucket.name)}
    assert f"landing/{day}/trips.parquet" in names  # the good file stays put
    assert f"landing/{day}/late.csv" not in names
    assert any(n.startswith(f"landing/_quarantine/{day}/") and n.endswith("/late.csv")
               for n in names)
    assert not any(n.startswith("assets/raw_data/") for n in names)
    [check] = [e.asset_check_evaluation_data for e in result.all_events
               if e.event_type_value == "ASSET_CHECK_EVALUATION"
               and e.asset_check_evaluation_data.asset_key == dg.AssetKey("raw_data")
               and e.asset_check_evaluation_data.check_name == "contract"]
    assert not check.passed
    assert f"gs://{gcs_bucket.name}/landing/_quarantine/{day}/" in check.description
