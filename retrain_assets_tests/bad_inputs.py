"""A generated corpus of bad day files: every way a landed day can be wrong.

Each `BadInput` is the set of files a careless export might land for one day, plus what a user
must read in the resulting error: the file it names and the problem it describes. Tests land
these through the real landing zone and assert on the user-visible outcome.
"""

from __future__ import annotations

import io
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from retrain_assets.datasets.taxi.simulator import simulate_day

ROWS = 60


@dataclass(frozen=True)
class BadInput:
    kind: str
    files: dict[str, bytes]  # file name under <day>/ -> bytes
    problem: tuple[str, ...]  # fragments the error message must contain, besides the file name
    offending: tuple[str, ...]  # the files that must end up in quarantine
    unreadable: bool = False  # fails while reading (the asset) rather than in the contract

    def land(self, store, day: str) -> list[str]:
        keys = []
        for name, data in self.files.items():
            store.write_bytes(f"{day}/{name}", data)
            keys.append(f"{day}/{name}")
        return keys


def good(day: str, rows: int = ROWS) -> pd.DataFrame:
    return simulate_day(date.fromisoformat(day), rows, seed=11)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _one(kind, name, data, problem, *, unreadable=False) -> BadInput:
    return BadInput(kind, {name: data}, tuple(problem), (name,), unreadable)


def missing_column(day):
    return _one("missing_column", "trips.csv", csv_bytes(good(day).drop(columns="fare_amount")),
                ["fare_amount", "missing"])


def extra_column(day):
    return _one("extra_column", "trips.csv",
                csv_bytes(good(day).assign(tip_amount=1.0)), ["tip_amount", "unexpected"])


def wrong_dtype(day):
    # passengers as fractions: coercing to int would silently truncate 2.5 to 2
    frame = good(day).assign(passenger_count=lambda f: f["passenger_count"] + 0.5)
    return _one("wrong_dtype", "trips.parquet", parquet_bytes(frame),
                ["passenger_count", "int64"])


def unparsable_numbers(day):
    frame = good(day).astype({"fare_amount": object, "trip_distance_km": object})
    frame.loc[3, "fare_amount"] = "12,50"  # a decimal comma, quoted by the CSV writer
    frame.loc[5, "trip_distance_km"] = "n/a km"
    return _one("unparsable_numbers", "trips.csv", csv_bytes(frame),
                ["fare_amount: parse as float64", "12,50", "trip_distance_km", "n/a km",
                 "row 4", "row 6"])


def malformed_csv_row(day):
    lines = csv_bytes(good(day)).decode().splitlines()
    lines[4] += ",12,50"  # an unquoted decimal comma adds fields to line 5
    return _one("malformed_csv_row", "trips.csv", ("\n".join(lines) + "\n").encode(),
                ["line 5 (data row 4) has 10 fields but the header has 8"], unreadable=True)


def negative_target(day):
    frame = good(day)
    frame.loc[[4, 9], "fare_amount"] = -12.0
    return _one("negative_target", "trips.parquet", parquet_bytes(frame),
                ["fare_amount", "greater_than_or_equal_to(0", "-12.0"])


def absurd_target(day):
    frame = good(day)
    frame.loc[7, "fare_amount"] = 1e9
    return _one("absurd_target", "trips.parquet", parquet_bytes(frame),
                ["fare_amount", "less_than_or_equal_to(1000", "1000000000"])


def null_flood(day):
    frame = good(day)
    rng = np.random.default_rng(0)
    for column in ("pickup_zone", "trip_distance_km", "fare_amount"):
        frame.loc[rng.random(len(frame)) < 0.4, column] = None
    return _one("null_flood", "trips.csv", csv_bytes(frame), ["not_nullable", "fare_amount"])


def all_null_column(day):
    return _one("all_null_column", "trips.csv",
                csv_bytes(good(day).assign(payment_type=None)),
                ["payment_type", "entirely empty"])


def duplicate_rows(day):
    frame = good(day)
    return _one("duplicate_rows", "trips.parquet",
                parquet_bytes(pd.concat([frame, frame.head(5)], ignore_index=True)),
                ["trip_id", "unique"])


def rows_outside_day(day):
    frame = good(day)
    frame.loc[:2, "pickup_at"] -= pd.Timedelta(days=3)
    return _one("rows_outside_day", "trips.parquet", parquet_bytes(frame),
                ["pickup_at", f"within_partition_day({day})"])


def header_only(day):
    return _one("header_only", "trips.csv", csv_bytes(good(day).head(0)), ["header but no rows"])


def zero_bytes(day):
    return _one("zero_bytes", "trips.csv", b"", ["empty (0 bytes)"], unreadable=True)


def truncated_parquet(day):
    data = parquet_bytes(good(day))
    return _one("truncated_parquet", "trips.parquet", data[: len(data) // 2],
                ["cannot be parsed as parquet"], unreadable=True)


def binary_garbage_csv(day):
    garbage = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    return _one("binary_garbage_csv", "trips.csv", b"\x89PNG\r\n\x1a\n\x00\x00" + garbage,
                ["not a text file"], unreadable=True)


def non_utf8_text(day):
    text = csv_bytes(good(day)).decode().replace("Z03", "Zürich-3", 3)
    return _one("non_utf8_text", "trips.csv", text.encode("latin-1"),
                ["not valid UTF-8", "line"], unreadable=True)


def mixed_schemas_across_files(day):
    frame = good(day)
    return BadInput("mixed_schemas_across_files", {
        "part-0.parquet": parquet_bytes(frame.iloc[:30]),
        "part-1.csv": csv_bytes(frame.iloc[30:].rename(columns={"fare_amount": "fare"})),
    }, ("do not share one set of columns", "fare"), ("part-0.parquet", "part-1.csv"))


def mixed_schemas_across_row_groups(day):
    """A Parquet dataset written in two parts whose types disagree, as a bad Spark export."""
    frame = good(day)
    first = frame.iloc[:30].reset_index(drop=True)
    second = frame.iloc[30:].reset_index(drop=True).astype({"passenger_count": "string"})
    return BadInput("mixed_schemas_across_row_groups", {
        "part-0.parquet": parquet_bytes(first),
        "part-1.parquet": parquet_bytes(second),
    }, ("passenger_count", "types differ"), ("part-0.parquet", "part-1.parquet"))


def same_name_in_two_folders(day):
    """Two regions' exports, each named trips.csv in its own folder, both with a bad row: both
    must reach quarantine intact (a flat quarantine folder let one replace the other)."""
    def region(name: str, offset: int) -> bytes:
        frame = good(day).iloc[offset:offset + 30].reset_index(drop=True)
        frame.loc[1, "fare_amount"] = -7.0
        return csv_bytes(frame)

    return BadInput("same_name_in_two_folders", {
        "north/trips.csv": region("north", 0), "south/trips.csv": region("south", 30),
    }, ("fare_amount", "-7.0"), ("north/trips.csv", "south/trips.csv"))


def very_wide(day):
    frame = good(day)
    wide = pd.concat([frame, pd.DataFrame(
        np.zeros((len(frame), 3000)), columns=[f"c{i}" for i in range(3000)])], axis=1)
    return _one("very_wide", "trips.parquet", parquet_bytes(wide),
                ["3000 unexpected columns", "c0"])


def very_long(day):
    """A long day whose one bad row is deep inside it: the message must point at that row."""
    frame = pd.concat([good(day)] * 500, ignore_index=True)
    frame["trip_id"] = [f"{day}-{i}" for i in range(len(frame))]
    frame.loc[29_876, "trip_distance_km"] = -3.0
    return _one("very_long", "trips.parquet", parquet_bytes(frame),
                ["trip_distance_km", "row 29877"])


def utc_offsets_in_csv(day):
    """Times written with an offset: converting them would shift every hour feature, so a spec
    without a time_zone refuses them, quoting them as written."""
    frame = good(day).astype({"pickup_at": object})
    frame["pickup_at"] = good(day)["pickup_at"].dt.strftime("%Y-%m-%dT%H:%M:%S+05:00")
    first = frame.loc[0, "pickup_at"]
    return _one("utc_offsets_in_csv", "trips.csv", csv_bytes(frame),
                ["pickup_at", "UTC offset", "time_zone", first, f"all {ROWS} rows"])


def time_zone_aware_parquet(day):
    frame = good(day).assign(pickup_at=lambda f: f["pickup_at"].dt.tz_localize("UTC"))
    return _one("time_zone_aware_parquet", "trips.parquet", parquet_bytes(frame),
                ["pickup_at", "UTC offset", "time_zone", str(frame.loc[0, "pickup_at"])])


def non_iso_timestamp_among_mixed_precision(day):
    """Whole and fractional seconds side by side (what `isoformat()` writes) are valid ISO-8601;
    only the one US-style date breaks the contract."""
    frame = good(day).astype({"pickup_at": object})
    frame["pickup_at"] = [t.isoformat() for t in good(day)["pickup_at"]
                          + pd.to_timedelta(np.arange(ROWS) % 2 * 250, unit="ms")]
    us_style = pd.Timestamp(f"{day} 10:00").strftime("%m/%d/%Y 10:00")
    frame.loc[8, "pickup_at"] = us_style
    return _one("non_iso_timestamp_among_mixed_precision", "trips.csv", csv_bytes(frame),
                ["pickup_at", "ISO-8601", us_style, f"1 of {ROWS} rows", "data row 9"])


def boolean_distance_parquet(day):
    return _one("boolean_distance_parquet", "trips.parquet",
                parquet_bytes(good(day).assign(trip_distance_km=True)),
                ["trip_distance_km", "not true/false", "True"])


def boolean_text_in_numeric_csv(day):
    frame = good(day).astype({"fare_amount": object})
    frame.loc[[2, 3], "fare_amount"] = ["True", "False"]
    return _one("boolean_text_in_numeric_csv", "trips.csv", csv_bytes(frame),
                ["fare_amount", "parse as float64", "True", "False", f"2 of {ROWS} rows"])


def every_row_bad(day):
    """Under drop_bad_rows, dropping every row would store an empty day: never."""
    return _one("every_row_bad", "trips.parquet",
                parquet_bytes(good(day).assign(passenger_count=0)),
                ["passenger_count", f"all {ROWS} rows break"])


def semicolon_delimited(day):
    text = csv_bytes(good(day)).decode().replace(",", ";").replace(".", ",")
    return _one("semicolon_delimited", "trips.csv", text.encode(),
                ["semicolon-delimited", "commas"], unreadable=True)


def truncated_csv(day):
    data = csv_bytes(good(day))
    return _one("truncated_csv", "trips.csv", data[:-20],
                ["truncated", f"line {ROWS + 1} (data row {ROWS})"], unreadable=True)


def pickle_payload(day, marker: Path):
    """A pickle that would create `marker` if anything ever unpickled it."""
    return BadInput("pickle_payload", {
        "trips.parquet": pickle.dumps(_CreatesMarker(str(marker))),
        "trips.csv": pickle.dumps(_CreatesMarker(str(marker))),
    }, ("cannot be parsed",), ("trips.parquet", "trips.csv"), unreadable=True)


class _CreatesMarker:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "a"))


CORPUS: dict[str, Callable[[str], BadInput]] = {f.__name__: f for f in (
    missing_column, extra_column, wrong_dtype, unparsable_numbers, malformed_csv_row,
    negative_target, absurd_target, null_flood, all_null_column, duplicate_rows,
    rows_outside_day, header_only, zero_bytes, truncated_parquet, binary_garbage_csv, non_utf8_text,
    mixed_schemas_across_files, mixed_schemas_across_row_groups, very_wide, very_long,
    utc_offsets_in_csv, time_zone_aware_parquet, non_iso_timestamp_among_mixed_precision,
    boolean_distance_parquet, boolean_text_in_numeric_csv, every_row_bad, semicolon_delimited,
    truncated_csv,
    same_name_in_two_folders,
)}



def deny_reading(monkeypatch, path: Path) -> None:
    """Make a landed file unreadable, as `chmod 000` does for anyone but root. Root reads any
    file, so under root (CI containers) the OS's answer to everyone else is played back: a file
    with no read bit is not readable and reading it raises PermissionError, until it gets one."""
    path.chmod(0)
    if os.geteuid() != 0:
        return

    def no_read_bit(target) -> bool:
        return Path(target) == path and not path.stat().st_mode & 0o444

    real_access, real_read_bytes = os.access, Path.read_bytes
    monkeypatch.setattr(os, "access", lambda target, mode, **kwargs: (
        False if no_read_bit(target) else real_access(target, mode, **kwargs)))

    def read_bytes(self: Path) -> bytes:
        if no_read_bit(self):
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
