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
from retrain_assets.datasets.taxi.schema import TaxiTripsRaw
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


def _csv(frame: pd.DataFrame, name: str = f"{DAY}/trips.csv") -> dict[str, pd.DataFrame]:
    """The frame as it lands: written to CSV and read back by the landing reader."""
    return {name: read_landed_file(name, frame.to_csv(index=False).encode())}


def _parquet(frame: pd.DataFrame, name: str = f"{DAY}/trips.parquet") -> dict[str, pd.DataFrame]:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return {name: read_landed_file(name, buffer.getvalue())}


def _with_times(texts: list[str]) -> pd.DataFrame:
    raw = good_day(DAY, rows=len(texts)).astype({"pickup_at": object})
    raw["pickup_at"] = texts
    return raw


def test_utc_offsets_are_refused_as_written_when_the_spec_has_no_time_zone():
    """Converting them would shift every hour feature while the day still passed."""
    raw = _with_times(["2025-02-03T10:00:00+05:00", "2025-02-03T11:00:00Z",
                       "2025-02-03T12:00:00"])
    report = _check(_csv(raw))
    assert not report.passed and "2 of 3 rows" in report.problem
    assert "2025-02-03T10:00:00+05:00, 2025-02-03T11:00:00Z" in report.problem
    assert "strip the offsets, or set time_zone" in report.problem
    assert report.failure_cases["row"].tolist() == [1, 2]


def test_a_time_zone_aware_parquet_column_is_refused_when_the_spec_has_no_time_zone():
    raw = good_day(DAY, rows=3).assign(pickup_at=lambda f: f["pickup_at"].dt.tz_localize("UTC"))
    report = _check(_parquet(raw))
    assert not report.passed and "all 3 rows break" in report.problem
    assert str(raw.loc[0, "pickup_at"]) in report.problem and "time_zone" in report.problem


def test_with_a_time_zone_offsets_become_its_wall_time_and_its_days_are_the_partitions():
    """New York is UTC-5 in February: 03:30Z is 22:30 of the day before there."""
    raw = _with_times(["2025-02-03T10:00:00+05:00", "2025-02-03T15:30:00Z",
                       "2025-02-03T08:15:00"])
    report = _check_in_zone(_csv(raw), "America/New_York")
    assert report.passed, report.problem
    assert report.frame["pickup_at"].tolist() == [
        pd.Timestamp("2025-02-03 00:00"), pd.Timestamp("2025-02-03 10:30"),
        pd.Timestamp("2025-02-03 08:15")]  # naive values are New York wall time already
    late = _check_in_zone(_csv(_with_times(["2025-02-03T03:30:00Z"])), "America/New_York")
    assert not late.passed and "within_partition_day(2025-02-03)" in late.problem
    assert "2025-02-03T03:30:00Z" in late.problem  # as written, not the converted 22:30


def test_with_a_time_zone_an_aware_parquet_column_becomes_its_wall_time():
    raw = good_day(DAY, rows=2).assign(
        pickup_at=pd.to_datetime(["2025-02-03 14:00", "2025-02-04 04:59"]).tz_localize("UTC"))
    report = _check_in_zone(_parquet(raw), "America/New_York")
    assert report.passed, report.problem
    assert report.frame["pickup_at"].tolist() == [pd.Timestamp("2025-02-03 09:00"),
                                                  pd.Timestamp("2025-02-03 23:59")]


def _check_in_zone(frames, time_zone: str, policy=RowPolicy()):
    return apply_contract(frames, SCHEMA, day=DAY, time_column="pickup_at", time_zone=time_zone,
                          policy=policy)


def test_iso_8601_of_mixed_precision_is_valid_and_only_non_iso_values_fail_as_written():
    """What isoformat() writes: whole seconds next to fractional ones, T or a space."""
    texts = ["2025-02-03T02:58:01", "2025-02-03T02:58:01.250000", "2025-02-03 04:00",
             "03/02/2025 05:00", "2025-02-03T06:00:00.5"]
    report = _check(_csv(_with_times(texts)), RowPolicy("drop_bad_rows", 0.5))
    assert report.passed and report.rows_dropped == 1 and len(report.frame) == 4
    assert report.frame["pickup_at"].tolist()[:2] == [pd.Timestamp("2025-02-03 02:58:01"),
                                                      pd.Timestamp("2025-02-03 02:58:01.25")]
    assert report.failure_cases["failure_case"].tolist() == ["03/02/2025 05:00"]
    assert "ISO-8601" in report.failure_cases["check"].iloc[0]


@pytest.mark.parametrize("lands", ["parquet column of True", "csv column of true/false",
                                   "csv text True among numbers"])
def test_booleans_are_not_numbers(lands):
    raw = good_day(DAY, rows=4)
    if lands == "parquet column of True":
        frames = _parquet(raw.assign(trip_distance_km=True))
    elif lands == "csv column of true/false":
        frames = _csv(raw.assign(trip_distance_km=[True, False, True, None]))
    else:
        frames = _csv(raw.astype({"trip_distance_km": object}).assign(
            trip_distance_km=["True", "2.5", "False", "3"]))
    report = _check(frames)
    assert not report.passed and report.failing_columns == ["trip_distance_km"]
    cases = report.failure_cases
    as_numbers = cases.loc[cases["check"].str.startswith("parse as float64"), "failure_case"]
    assert len(as_numbers) and set(as_numbers.astype(str)) <= {"True", "False"}


@pytest.mark.parametrize("fraction", [1.0, 1.5, -0.1])
def test_a_row_policy_may_not_allow_dropping_every_row(fraction):
    with pytest.raises(ValueError, match="at least 0 and below 1"):
        RowPolicy("drop_bad_rows", max_bad_row_fraction=fraction)
    with pytest.raises(ValueError, match="'reject_day' or 'drop_bad_rows'"):
        RowPolicy("drop_rows")


def test_a_day_whose_every_row_fails_is_never_stored_even_when_dropping_rows():
    raw = good_day(DAY, rows=5).assign(fare_amount=-1.0)
    report = _check({"f.parquet": raw}, RowPolicy("drop_bad_rows", max_bad_row_fraction=0.99))
    assert not report.passed and report.frame is None and report.rows_dropped == 0
    assert "all 5 rows break" in report.problem and "empty day" in report.problem


def test_values_are_quoted_as_written_once_each():
    raw = good_day(DAY, rows=5).astype({"passenger_count": object, "fare_amount": object,
                                         "pickup_at": object})
    raw.loc[0, "passenger_count"] = "1e20"  # wrapped to -9223372036854775808 by coercion
    raw.loc[1, "passenger_count"] = None  # one empty integer: one failure, not three
    raw.loc[2, "fare_amount"] = "n/a"  # read as NaN, then quoted as "nan"
    raw.loc[3, "pickup_at"] = "2025-02-04T00:30:00"  # re-formatted by parsing
    report = _check(_csv(raw))
    cases = report.failure_cases.set_index("row").sort_index()
    assert cases.index.tolist() == [1, 2, 3, 4]
    assert cases.loc[1, "check"] == "parse as int64 (whole number within int64)"
    assert float(cases.loc[1, "failure_case"]) == 1e20
    assert cases.loc[2, "check"] == "not_nullable" and "(empty)" in report.problem
    assert cases.loc[3, ["check", "failure_case"]].tolist() == ["not_nullable", "n/a"]
    assert cases.loc[4, "failure_case"] == "2025-02-04T00:30:00"
    assert "-9223372036854775808" not in report.problem and "nan" not in report.problem


def test_csv_positions_name_the_line_and_the_data_row_parquet_the_row():
    raw = good_day(DAY, rows=6)
    raw.loc[4, "fare_amount"] = -1.0
    assert "trips.csv line 6 (data row 5): fare_amount" in _check(_csv(raw)).problem
    assert "trips.parquet row 5: fare_amount" in _check(_parquet(raw)).problem
    text = raw.to_csv(index=False).splitlines()
    text[3] += ",extra"
    with pytest.raises(UnreadableFile, match=r"line 4 \(data row 3\) has 9 fields"):
        read_landed_file("d/trips.csv", "\n".join(text).encode())
    with pytest.raises(UnreadableFile, match=r"byte 0xfc on line 3 \(data row 2\)"):
        read_landed_file("d/trips.csv", "\n".join(text[:2] + ["Zürich"]).encode("latin-1"))


def test_another_delimiter_is_named():
    text = good_day(DAY, rows=3).to_csv(index=False, sep=";", decimal=",")
    with pytest.raises(UnreadableFile, match="semicolon-delimited"):
        read_landed_file("d/trips.csv", text.encode())


@pytest.mark.parametrize("cut", ["mid-row", "inside a quoted field"])
def test_a_csv_cut_off_is_called_truncated(cut):
    raw = good_day(DAY, rows=3).assign(payment_type="card, visa")  # quoted by the writer
    data = raw.to_csv(index=False).encode()
    data = data[:-30] if cut == "mid-row" else data[:data.rindex(b"visa")]
    with pytest.raises(UnreadableFile, match="truncated"):
        read_landed_file("d/trips.csv", data)


def test_a_last_line_without_a_line_end_is_not_truncated_when_complete():
    data = good_day(DAY, rows=3).to_csv(index=False).rstrip("\n").encode()
    assert len(read_landed_file("d/trips.csv", data)) == 3
    spans_lines = good_day(DAY, rows=2).assign(fare_amount=["1", "two\nlines"])  # last column
    data = spans_lines.to_csv(index=False).rstrip("\n").encode()
    assert read_landed_file("d/trips.csv", data).iloc[-1, -1] == "two\nlines"


def test_long_landed_values_are_cut_short_in_the_message():
    raw = good_day(DAY, rows=3).astype({"fare_amount": object})
    raw.loc[1, "fare_amount"] = "9" * 50 + "x" * 2_000_000
    report = _check(_csv(raw))
    assert "(2000050 characters)" in report.problem and len(report.problem) < 1_000
