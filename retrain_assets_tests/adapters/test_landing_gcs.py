"""The landing zone and its quarantine on GCS (fake-gcs-server emulator, started by the tests)."""

from __future__ import annotations

import json

import pytest

from retrain_assets.adapters.landing import LandingZone, ingest_day
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.pipeline.resources import open_store
from retrain_assets_tests.conftest import good_day, land_frame

pytestmark = pytest.mark.service
DAY = "2025-01-03"


@pytest.fixture
def zone(gcs_bucket) -> LandingZone:
    return LandingZone(open_store(gcs_bucket.url("feeds/taxi")))


def _ingest(zone: LandingZone, day: str = DAY):
    return ingest_day(zone, day, TAXI_TRIPS.raw_schema.to_schema(),
                      time_column=TAXI_TRIPS.time_column, run_id="run-123")


def test_files_are_grouped_by_day_and_a_rewrite_is_a_new_version(zone):
    land_frame(zone.store, "2025-01-01", good_day("2025-01-01", 20))
    land_frame(zone.store, "2025-01-02", good_day("2025-01-02", 20), name="part-1.parquet")
    zone.store.write_bytes("2025-01-02/README.txt", b"not data")
    zone.store.write_bytes("_quarantine/2025-01-01/x/old.csv", b"quarantined")
    first = {day: [o.version for o in objs] for day, objs in zone.files_by_day().items()}

    land_frame(zone.store, "2025-01-01", good_day("2025-01-01", 25))

    by_day = zone.files_by_day()
    assert {day: [o.key for o in objs] for day, objs in by_day.items()} == {
        "2025-01-01": ["2025-01-01/trips.csv"], "2025-01-02": ["2025-01-02/part-1.parquet"]}
    assert by_day["2025-01-01"][0].version != first["2025-01-01"][0]
    assert by_day["2025-01-02"][0].version == first["2025-01-02"][0]


def test_a_good_day_on_gcs_passes_its_contract(zone):
    land_frame(zone.store, DAY, good_day(DAY, 50))

    intake = _ingest(zone)

    assert intake.report.passed, intake.report.problem
    assert len(intake.report.frame) == 50
    assert intake.quarantined == []


def test_a_bad_file_on_gcs_is_quarantined_with_a_note_never_deleted(zone, gcs_bucket):
    land_frame(zone.store, DAY, good_day(DAY, 30), name="morning.csv")
    bad = good_day(DAY, 30).assign(trip_id=lambda f: f["trip_id"] + "-b")
    bad.loc[bad.index[:3], "fare_amount"] = -5.0
    land_frame(zone.store, DAY, bad, name="evening.csv")
    original = zone.store.read_bytes(f"{DAY}/evening.csv")

    intake = _ingest(zone)

    assert not intake.report.passed
    assert "fare_amount" in intake.report.problem
    [moved] = intake.quarantined
    prefix = f"gs://{gcs_bucket.name}/feeds/taxi/_quarantine/{DAY}/"
    assert moved.startswith(prefix) and moved.endswith("/evening.csv")
    assert moved in intake.report.problem  # the message says where the file went
    key = moved[len(zone.url) + 1:]
    assert zone.store.read_bytes(key) == original  # moved intact, nothing deleted
    assert [o.key for o in zone.files_for(DAY)] == [f"{DAY}/morning.csv"]
    assert key.endswith(f"/{DAY}/evening.csv")  # under its path in the zone
    folder = "/".join(key.split("/")[:3])  # _quarantine/<day>/<stamp>
    note = json.loads(zone.store.read_bytes(f"{folder}/QUARANTINE_NOTE.json"))
    assert note["files"] == [f"{DAY}/evening.csv"]
    assert note["dagster_run_id"] == "run-123"
    assert "fare_amount" in note["reason"]
    assert f"gs://{gcs_bucket.name}/feeds/taxi/{DAY}" in note["what_to_do"]
