"""The raw-data contract on frames and bytes (the full bad-input corpus is in test_bad_inputs)."""

import io

import pandas as pd
import pytest

from retrain_assets.core.ingest import (
    RowPolicy,
    UnreadableFile,
    apply_contract,
    bad_row_sample,
    read_landed_file,
)
from retrain_assets.schemas import TaxiTripsRaw
from retrain_assets_tests.conftest import good_day

DAY = "2025-02-03"
SCHEMA = TaxiTripsRaw.to_schema()


def _check(frames, policy=RowPolicy()):
    return apply_contract(frames, SCHEMA, day=DAY, time_column="pickup_at", policy=policy)


def test_a_good_day_passes_and_is_coerced_to_the_contract_types():
    raw = good_day(DAY)
    as_csv = pd.read_csv(io.StringIO(raw.to_csv(index=False)))  # timestamps arrive as text
    report = _check({"2025-02-03/trips.csv": as_csv})
    assert report.passed and len(report.frame) == len(raw)
    assert pd.api.types.is_datetime64_any_dtype(report.frame["pickup_at"])


def test_negative_fares_reject_the_day_naming_file_column_and_remedy():
    raw = good_day(DAY)
    raw.loc[[3, 7], "fare_amount"] = -5.0
    frames = {"2025-02-03/trips.csv": raw}
    report = _check(frames)
    assert not report.passed and report.frame is None
    assert report.failing_columns == ["fare_amount"]
    assert "2025-02-03/trips.csv" in report.problem
    assert "2 of 200 rows" in report.problem and "land the day again" in report.problem
    sample = bad_row_sample(report, frames)
    assert list(sample["_row"]) == [4, 8] and set(sample["fare_amount"]) == {-5.0}


def test_a_bad_row_is_located_in_the_file_it_came_from_when_a_day_has_several():
    morning, evening = good_day(DAY).iloc[:120], good_day(DAY).iloc[120:].copy()
    evening.iloc[2, evening.columns.get_loc("fare_amount")] = -1.0
    frames = {f"{DAY}/morning.csv": morning, f"{DAY}/evening.csv": evening}
    report = _check(frames)
    assert f"{DAY}/evening.csv line 4 (data row 3): fare_amount" in report.problem
    sample = bad_row_sample(report, frames)
    assert sample[["_file", "_row"]].values.tolist() == [[f"{DAY}/evening.csv", 3]]


def test_drop_policy_keeps_good_rows_below_the_threshold_and_counts_the_rest():
    raw = good_day(DAY)
    raw.loc[5, "passenger_count"] = 40
    report = _check({"f.csv": raw}, RowPolicy("drop_bad_rows", max_bad_row_fraction=0.01))
    assert report.passed and report.rows_dropped == 1 and len(report.frame) == 199
    raw.loc[:9, "passenger_count"] = 40
    too_many = _check({"f.csv": raw}, RowPolicy("drop_bad_rows", max_bad_row_fraction=0.01))
    assert not too_many.passed and "drop_bad_rows policy" in too_many.problem


def test_rows_from_another_day_break_the_contract():
    raw = good_day(DAY)
    raw.loc[0, "pickup_at"] = pd.Timestamp("2025-02-04 00:30")
    report = _check({"f.csv": raw})
    assert not report.passed and "within_partition_day(2025-02-03)" in report.problem


def test_each_day_is_checked_against_its_own_day_and_the_schema_is_left_as_it_was():
    checks_before = list(SCHEMA.columns["pickup_at"].checks)
    assert _check({"f.csv": good_day(DAY)}).passed
    next_day = "2025-02-04"
    report = apply_contract({"f.csv": good_day(next_day)}, SCHEMA, day=next_day,
                            time_column="pickup_at")
    assert report.passed, report.problem  # not held to 2025-02-03 as well
    assert SCHEMA.columns["pickup_at"].checks == checks_before


def test_unreadable_bytes_are_reported_without_being_parsed_as_anything_else():
    with pytest.raises(UnreadableFile, match="0 bytes"):
        read_landed_file("d/trips.csv", b"")
    with pytest.raises(UnreadableFile, match="cannot be parsed as parquet"):
        read_landed_file("d/trips.parquet", b"PAR1 not really")
    with pytest.raises(UnreadableFile, match="unsupported file type"):
        read_landed_file("d/trips.pkl", b"\x80\x04K\x01.")
