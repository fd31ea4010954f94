"""Ingest without repeated or slow work: features reads the raw days its own run just stored
from memory, the features contract leaves the id's uniqueness to the raw contract, and CSV
landings are read by pyarrow (pandas still reads, and words, anything pyarrow would read
differently)."""

from __future__ import annotations

import io

import dagster as dg
import pandas as pd
import pytest

from retrain_assets.adapters.storage import LocalObjectStore
from retrain_assets.core.features import build_features, features_contract_after_raw
from retrain_assets.core.frames import TEXT, read_parquet
from retrain_assets.core.ingest import read_landed_file, validate_frame
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.dev.instance import run_job
from retrain_assets.pipeline import resources
from retrain_assets_tests.conftest import START, good_day, land_frame


@pytest.fixture
def stored_frames_read(monkeypatch) -> list[int]:
    """The rows of every frame the IO manager reads back from storage."""
    reads = []

    def reading(data: bytes) -> pd.DataFrame:
        frame = read_parquet(data)
        reads.append(len(frame))
        return frame

    monkeypatch.setattr(resources, "read_parquet", reading)
    return reads


def test_features_reads_the_raw_days_of_its_own_run_from_memory_and_they_are_still_stored(
        defs, instance, landing, home, stored_frames_read):
    days = [START.isoformat(), "2025-01-02"]
    for day in days:
        land_frame(landing, day, good_day(day, rows=120))

    result = run_job(defs, "ingest_job", instance, days=days)

    assert result.success
    assert stored_frames_read == []  # ingest_job loads nothing but raw_data
    for day in days:  # stored, and the features are what the stored raw day gives
        stored_raw = read_parquet((home / "storage" / "raw_data" / f"{day}.parquet").read_bytes())
        stored_features = read_parquet(
            (home / "storage" / "features" / f"{day}.parquet").read_bytes())
        pd.testing.assert_frame_equal(stored_features, build_features(stored_raw, TAXI_TRIPS))


def test_features_in_a_later_run_reads_raw_data_from_storage(defs, instance, landing,
                                                              stored_frames_read):
    day = START.isoformat()
    land_frame(landing, day, good_day(day, rows=50))
    assert run_job(defs, "ingest_job", instance, days=[day]).success
    stored_frames_read.clear()

    again = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, partition_key=day, asset_selection=[dg.AssetKey("features")])

    assert again.success
    assert stored_frames_read == [50]  # raw_data's one day


def test_a_handed_over_frame_is_let_go_once_read(tmp_path, stored_frames_read):
    store = LocalObjectStore(tmp_path)
    day = good_day(START.isoformat(), rows=20)
    store.write_bytes("raw_data/d.parquet", day.to_parquet(index=False))
    frames = resources.PartitionFrames(store, "raw_data", ["d"], {"d": day})

    assert frames["d"] is day and stored_frames_read == []
    pd.testing.assert_frame_equal(frames["d"], read_parquet(day.to_parquet(index=False)))
    assert stored_frames_read == [20]


def test_the_features_contract_after_raw_leaves_only_the_id_uniqueness_to_the_raw_contract():
    contract = features_contract_after_raw(TAXI_TRIPS)
    full = TAXI_TRIPS.features_schema.to_schema()
    features = build_features(good_day(START.isoformat(), rows=30), TAXI_TRIPS)

    assert TAXI_TRIPS.raw_schema.to_schema().columns["trip_id"].unique
    assert not contract.columns["trip_id"].unique
    assert {n: c for n, c in contract.columns.items() if n != "trip_id"} == \
        {n: c for n, c in full.columns.items() if n != "trip_id"}
    broken = features.assign(fare_amount=-1.0)
    assert not validate_frame(broken, contract, day="d").passed  # every other rule still holds


def test_a_plain_csv_is_read_by_pyarrow_as_pandas_would_read_it_with_text_as_arrow_strings():
    data = (b"trip_id,pickup_at,passenger_count,fare_amount,note,paid\n"
            b"t1,2025-01-01 08:00:00,1,12.5,n/a,true\n"
            b't2,2025-01-01T09:30:00,2,,"two, quoted\nlines",false\n')

    frame = read_landed_file("2025-01-01/trips.csv", data)
    as_pandas = pd.read_csv(io.BytesIO(data), keep_default_na=False, na_values=[""])

    assert frame["trip_id"].dtype == TEXT and frame["note"].dtype == TEXT  # not Python objects
    assert frame["pickup_at"].tolist() == ["2025-01-01 08:00:00", "2025-01-01T09:30:00"]
    pd.testing.assert_frame_equal(frame, as_pandas, check_dtype=False)
    assert frame.dtypes.drop(["trip_id", "pickup_at", "note"]).equals(
        as_pandas.dtypes.drop(["trip_id", "pickup_at", "note"]))


def test_a_csv_pyarrow_would_read_differently_is_read_by_pandas_as_before():
    duplicate_names = b"trip_id,fare,fare\nt1,1.0,2.0\n"
    late_text_in_numbers = b"trip_id,fare\n" + b"".join(
        f"t{i},{i}.5\n".encode() for i in range(200_000)) + b"t-last,n/a\n"

    assert list(read_landed_file("d/a.csv", duplicate_names).columns) == \
        ["trip_id", "fare", "fare.1"]
    late = read_landed_file("d/b.csv", late_text_in_numbers)
    assert late["fare"].iloc[-1] == "n/a" and late["fare"].iloc[0] == "0.5"
