"""The landing zone's own promises: quarantine never collides or overwrites (locally and on GCS),
an unreadable file is a contract failure rather than a crash, and an empty day says what is
there instead."""

from __future__ import annotations

import json

import pytest

from retrain_assets.adapters import landing
from retrain_assets.adapters.landing import NOTE, QUARANTINE, LandingZone, ingest_day
from retrain_assets.adapters.storage import LocalObjectStore
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.pipeline.resources import open_store
from retrain_assets_tests.bad_inputs import csv_bytes, deny_reading, good

DAY = "2025-01-05"


@pytest.fixture(params=["local", pytest.param("gcs", marks=pytest.mark.service)])
def zone(request, tmp_path) -> LandingZone:
    if request.param == "local":
        return LandingZone(LocalObjectStore(tmp_path / "landing"))
    return LandingZone(open_store(request.getfixturevalue("gcs_bucket").url("feeds/taxi")))


def ingest(zone: LandingZone, day: str = DAY):
    return ingest_day(zone, day, TAXI_TRIPS.raw_schema.to_schema(),
                      time_column=TAXI_TRIPS.time_column, run_id="run-1")


def bad_part(region: str) -> bytes:
    frame = good(DAY).assign(trip_id=lambda f: f["trip_id"] + f"-{region}")
    frame.loc[frame.index[:2], "fare_amount"] = -1.0
    return csv_bytes(frame)


def test_same_named_files_of_two_folders_are_both_quarantined_intact(zone):
    north, south = bad_part("north"), bad_part("south")
    zone.store.write_bytes(f"{DAY}/north/trips.csv", north)
    zone.store.write_bytes(f"{DAY}/south/trips.csv", south)

    intake = ingest(zone)

    assert not intake.report.passed
    (folder,) = {o.key.split("/")[2] for o in zone.store.list(f"{QUARANTINE}/{DAY}/")}
    quarantined = f"{QUARANTINE}/{DAY}/{folder}"
    assert zone.store.read_bytes(f"{quarantined}/{DAY}/north/trips.csv") == north
    assert zone.store.read_bytes(f"{quarantined}/{DAY}/south/trips.csv") == south
    assert sorted(intake.quarantined) == [zone.uri(f"{quarantined}/{DAY}/{region}/trips.csv")
                                          for region in ("north", "south")]
    note = json.loads(zone.store.read_bytes(f"{quarantined}/{NOTE}"))
    assert sorted(note["files"]) == [f"{DAY}/north/trips.csv", f"{DAY}/south/trips.csv"]
    assert zone.files_for(DAY) == []


def test_two_quarantines_of_a_day_in_the_same_microsecond_get_their_own_folders(
        zone, monkeypatch):
    class FrozenClock:
        @staticmethod
        def now(tz):
            from datetime import datetime

            return datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=tz)

    monkeypatch.setattr(landing, "datetime", FrozenClock)
    zone.store.write_bytes(f"{DAY}/trips.csv", b"first")
    first = zone.quarantine(DAY, zone.files_for(DAY), "first reason")
    zone.store.write_bytes(f"{DAY}/trips.csv", b"second")
    second = zone.quarantine(DAY, zone.files_for(DAY), "second reason")

    stamp = "20260102T030405678901Z"
    assert first == [zone.uri(f"{QUARANTINE}/{DAY}/{stamp}/{DAY}/trips.csv")]
    assert second == [zone.uri(f"{QUARANTINE}/{DAY}/{stamp}-2/{DAY}/trips.csv")]
    for folder, data, reason in ((stamp, b"first", "first reason"),
                                 (f"{stamp}-2", b"second", "second reason")):
        assert zone.store.read_bytes(f"{QUARANTINE}/{DAY}/{folder}/{DAY}/trips.csv") == data
        note = json.loads(zone.store.read_bytes(f"{QUARANTINE}/{DAY}/{folder}/{NOTE}"))
        assert note["reason"] == reason


def test_an_unreadable_file_is_a_contract_failure_left_in_place(tmp_path, monkeypatch):
    store = LocalObjectStore(tmp_path / "landing")
    store.write_bytes(f"{DAY}/trips.csv", csv_bytes(good(DAY)))
    deny_reading(monkeypatch, tmp_path / "landing" / DAY / "trips.csv")

    intake = ingest(LandingZone(store))

    problem = intake.report.problem or ""
    assert not intake.report.passed
    assert f"permission denied reading {store.url}/{DAY}/trips.csv" in problem
    assert "Grant it read access" in problem and f"re-run raw_data for {DAY}" in problem
    assert intake.quarantined == [] and store.list(QUARANTINE) == []  # the file is fine
    (tmp_path / "landing" / DAY / "trips.csv").chmod(0o644)
    assert ingest(LandingZone(store)).report.passed


def test_a_day_without_landing_files_says_what_is_there_instead(tmp_path):
    root = tmp_path / "landing"
    store = LocalObjectStore(root)
    store.write_bytes("2025-01-05/trips.csv.gz", b"\x1f\x8b compressed")
    store.write_bytes("2025-01-05/.trips.csv", b"hidden")
    (root / "elsewhere.csv").write_text("a,b\n1,2\n")
    (root / "2025-01-05" / "linked.csv").symlink_to(root / "elsewhere.csv")
    (root / "2025-01-06").mkdir()

    problem = ingest(LandingZone(store)).report.problem
    assert problem.startswith(f"no .csv or .parquet files landed for 2025-01-05 under "
                              f"{root}/2025-01-05/: found only ")
    for found in ("2025-01-05/trips.csv.gz (a compressed or re-suffixed file, .gz: decompress "
                  "it to trips.csv)", "2025-01-05/.trips.csv (hidden: its name starts with '.')",
                  "2025-01-05/linked.csv (a symbolic link, which is never followed)"):
        assert found in problem
    assert "then re-run raw_data for 2025-01-05" in problem
    assert "2025-01-06/ (an empty folder)" in ingest(LandingZone(store), "2025-01-06").report \
        .problem
    assert "nothing is there (no folder or file named for the day)" in ingest(
        LandingZone(store), "2025-01-07").report.problem



@pytest.mark.service
def test_on_gcs_a_day_without_landing_files_names_what_is_there(gcs_bucket):
    zone = LandingZone(open_store(gcs_bucket.url("feeds/taxi")))
    zone.store.write_bytes("2025-01-05/trips.csv.gz", b"\x1f\x8b compressed")

    assert "found only 2025-01-05/trips.csv.gz (a compressed or re-suffixed file, .gz: " \
           "decompress it to trips.csv)" in ingest(zone).report.problem


def test_on_gcs_an_empty_folder_placeholder_is_named():
    """The Cloud Console's "create folder" makes a `<day>/` object; fake-gcs-server does not keep
    such names, so a listing fake stands in for the bucket."""
    from types import SimpleNamespace

    from retrain_assets.adapters.storage import GCSObjectStore

    class Client:
        def bucket(self, name):
            return name

        def list_blobs(self, bucket, prefix=""):
            names = ["zone/2025-01-06/", "zone/2025-01-07/", "zone/2025-01-07/trips.csv.gz"]
            return [SimpleNamespace(name=n) for n in names if n.startswith(prefix)]

    store = GCSObjectStore(Client(), "gs://feeds/zone")
    assert store.unlisted("2025-01-06") == ["2025-01-06/ (an empty folder)"]
    assert store.unlisted("2025-01-07") == []  # not empty: its object is named instead
