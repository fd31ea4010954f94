"""Reading a day's landed files and holding them to the data contract.

Pure functions over bytes and frames, so every kind of bad input can be tested without Dagster.
Files are parsed as CSV or Parquet only: nothing that lands is ever unpickled or executed.
"""

from __future__ import annotations

import copy
import csv
import io
import re
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.csv as arrow_csv

from retrain_assets.core.frames import AS_TEXT, TEXT, read_parquet, vectorised

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
SAMPLE_ROWS = 10
PARQUET_MAGIC = b"PAR1"
PICKLE_PROTOCOLS = range(2, 6)
OTHER_DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
SHOWN_CHARACTERS = 40  # of one landed value in a message: a field may be megabytes long


class UnreadableFile(ValueError):
    """A landed file that cannot be parsed at all (corrupt, truncated, wrong format, encoding)."""


def file_format(name: str) -> str | None:
    lowered = name.lower()
    return next((fmt for suffix, fmt in READERS.items() if lowered.endswith(suffix)), None)


def _first_bytes(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data[:8])


def _sniff(name: str, fmt: str, data: bytes) -> None:
    """Refuse, by their first bytes, files that are not what their name says; nothing is
    handed to a parser that could execute it (a pickle is recognised, never loaded)."""
    if not data:
        raise UnreadableFile(f"{name}: the file is empty (0 bytes); the export or upload "
                             "probably failed. Land the complete file again.")
    if data[0] == 0x80 and len(data) > 1 and data[1] in PICKLE_PROTOCOLS:
        raise UnreadableFile(f"{name}: cannot be parsed as {fmt}: it is a Python pickle, which "
                             "is never loaded (unpickling runs code). Export the day as CSV or "
                             "Parquet and land it again.")
    if fmt == "parquet":
        if not data.startswith(PARQUET_MAGIC):
            raise UnreadableFile(f"{name}: cannot be parsed as parquet: it does not start with "
                                 f"the Parquet marker PAR1 (first bytes: {_first_bytes(data)}). "
                                 "Land a real Parquet file (or rename it if it is a CSV).")
        if not data.endswith(PARQUET_MAGIC):
            raise UnreadableFile(f"{name}: cannot be parsed as parquet: the file is truncated "
                                 f"(no Parquet footer after {len(data)} bytes); the upload was "
                                 "probably cut off. Land the complete file again.")
    elif b"\x00" in data[:8192]:
        raise UnreadableFile(f"{name}: not a text file: it holds binary data (NUL bytes; first "
                             f"bytes: {_first_bytes(data)}), so it cannot be CSV. Export the "
                             "day as CSV (or name a Parquet file .parquet) and land it again.")


def _decode_text(name: str, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UnreadableFile(
            f"{name}: not valid UTF-8 text: byte 0x{data[exc.start]:02x} on {csv_line(line)} "
            "(probably Latin-1 or Windows-1252). Re-export the file as UTF-8 and land it again."
        ) from exc


def csv_line(line: int) -> str:
    """A CSV position the one way every message says it: the file's line (the header is line
    1, as an editor counts) and the data row it holds (as `_row` and the contract count)."""
    return f"line {line} (the header)" if line == 1 else f"line {line} (data row {line - 1})"


def _refuse_other_delimiter(name: str, text: str) -> None:
    """A header without commas but full of `;` (or tabs, `|`) is a file in another dialect:
    read with commas it would be one column, or break on the first decimal comma."""
    header = text.split("\n", 1)[0]
    if "," in header:
        return
    for delimiter, called in OTHER_DELIMITERS.items():
        if delimiter in header:
            raise UnreadableFile(
                f"{name}: the header line has no commas but {header.count(delimiter)} {called} "
                f"characters ({_short(header)}): the file is {called}-delimited, not "
                "comma-separated (a spreadsheet export in a locale with decimal commas?). Export "
                "it with commas between fields and points as the decimal mark, and land it again.")


def _refuse_truncated(name: str, text: str, frame: pd.DataFrame) -> None:
    """A last line without a line end and with fewer fields than the header was cut off:
    pandas fills the missing fields with nulls, which would blame the data for a broken upload.
    (A last row whose quoted field spans lines has its fields parsed, not null: not refused.)"""
    if not text or text.endswith(("\n", "\r")) or frame.empty:
        return
    last = text.rsplit("\n", 1)[-1]
    fields, columns = len(next(csv.reader([last]), [])), len(frame.columns)
    if fields < columns and frame.iloc[-1, fields:].isna().all():
        line = text.count("\n") + 1
        raise UnreadableFile(
            f"{name}: the file is truncated: its last line, {csv_line(line)}, has {fields} of "
            f"the header's {columns} fields and no line end, so the export or upload was cut "
            "off mid-row. Land the complete file again.")


def read_landed_file(name: str, data: bytes) -> pd.DataFrame:
    """Parse one landed file into a frame of raw values, or raise `UnreadableFile` saying why.

    In a CSV only an empty field is missing: `n/a` or `NA` stay text as written, so a message
    quotes them (see `MISSING_MARKERS` for how numeric and time columns read them).
    """
    fmt = file_format(name)
    if fmt is None:
        raise UnreadableFile(f"{name}: unsupported file type; land .csv or .parquet files")
    _sniff(name, fmt, data)
    if fmt == "parquet":
        try:
            return read_parquet(data)
        except Exception as exc:  # pyarrow raises many types for corrupt input
            raise _cannot_parse(name, fmt, exc) from exc
    text = _decode_text(name, data)
    _refuse_other_delimiter(name, text)
    frame = _read_plain_csv(data)
    if frame is not None:
        return frame
    try:
        frame = pd.read_csv(io.StringIO(text), low_memory=False, keep_default_na=False,
                            na_values=[""])
    except pd.errors.ParserError as exc:
        raise UnreadableFile(f"{name}: cannot be parsed as csv: {_parser_problem(exc)}") from exc
    except Exception as exc:  # pandas raises many types for corrupt input
        raise _cannot_parse(name, fmt, exc) from exc
    _refuse_truncated(name, text, frame)
    return frame


def _read_plain_csv(data: bytes) -> pd.DataFrame | None:
    """pyarrow's CSV reader (several times faster than pandas') for a well-formed CSV, read as
    pandas would read it: numbers and booleans typed, only an empty field missing, times and
    dates left as written (the contract parses them), text as `TEXT`. None for anything else
    — a file pyarrow refuses, duplicate or empty column names, a column with no value — so
    pandas reads it and `read_landed_file` words any problem as it always has."""
    parse = arrow_csv.ParseOptions(newlines_in_values=True)
    missing = dict(null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True)
    try:
        # pyarrow types every column from the first block; it would parse times and dates
        with arrow_csv.open_csv(io.BytesIO(data), parse_options=parse,
                                convert_options=arrow_csv.ConvertOptions(**missing)) as first:
            as_written = {column.name: arrow.string() for column in first.schema
                          if _parsed_as_time(column.type)}
        table = arrow_csv.read_csv(io.BytesIO(data), parse_options=parse,
                                   convert_options=arrow_csv.ConvertOptions(
                                       **missing, column_types=as_written))
    except arrow.ArrowException:
        return None
    names = table.column_names
    if len(set(names)) != len(names) or not all(names) or table.num_rows == 0 \
            or any(arrow.types.is_null(column.type) for column in table.schema):
        return None
    return table.to_pandas(types_mapper=AS_TEXT)


def _parsed_as_time(kind: arrow.DataType) -> bool:
    return arrow.types.is_timestamp(kind) or arrow.types.is_date(kind) \
        or arrow.types.is_time(kind)


def _cannot_parse(name: str, fmt: str, exc: Exception) -> UnreadableFile:
    detail = str(exc).splitlines()[0] if str(exc) else "no detail"
    return UnreadableFile(f"{name}: cannot be parsed as {fmt} ({type(exc).__name__}: {detail}). "
                          "Re-export the file and land it again.")


def _parser_problem(exc: pd.errors.ParserError) -> str:
    message = str(exc)
    match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    if match:
        return (f"{csv_line(int(match[2]))} has {match[3]} fields but the header has {match[1]} "
                "(an unquoted comma, such as a decimal comma?). Quote fields that contain commas "
                "and land the file again.")
    if "EOF inside string" in message:
        return ("the file is truncated: it ends inside a quoted field, so the export or upload "
                "was cut off. Land the complete file again.")
    return f"{message.splitlines()[0]}. Re-export the file and land it again."


@dataclass(frozen=True)
class RowPolicy:
    """What to do with a day in which some rows break the contract."""

    mode: Literal["reject_day", "drop_bad_rows"] = "reject_day"
    max_bad_row_fraction: float = 0.01  # drop_bad_rows only: above this the day is rejected

    def __post_init__(self) -> None:
        if self.mode not in ("reject_day", "drop_bad_rows"):
            raise ValueError(f"row policy mode must be 'reject_day' or 'drop_bad_rows', got "
                             f"{self.mode!r}")
        if not 0 <= self.max_bad_row_fraction < 1:
            raise ValueError(
                f"max_bad_row_fraction must be at least 0 and below 1 (the share of a day's rows "
                f"that may be dropped, e.g. 0.01 for 1%), got {self.max_bad_row_fraction!r}: a "
                "day whose every row is dropped would be stored empty.")


TABLE_CHECKS = {"column_in_dataframe": "missing column", "column_in_schema": "unexpected column"}


@dataclass
class ContractReport:
    """The outcome of holding one day to the contract; `frame` is what may be stored.

    `failure_cases` has one row per failed value (pandera's columns plus `file` and `row`, the
    1-based data row within that file); `dropped_rows` holds the rows a drop_bad_rows policy
    removed, as they arrived, so they can be kept rather than lost.
    """

    day: str
    files: list[str]
    rows_in: int
    frame: pd.DataFrame | None
    failure_cases: pd.DataFrame = field(default_factory=pd.DataFrame)
    rows_dropped: int = 0
    problem: str | None = None
    dropped_rows: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def passed(self) -> bool:
        return self.problem is None

    @property
    def failing_columns(self) -> list[str]:
        if self.failure_cases.empty:
            return []
        table = self.failure_cases["check"].isin(TABLE_CHECKS)
        return sorted({str(c) for c in self.failure_cases.loc[~table, "column"].dropna()}
                      | {shorten(str(c)) for c in self.failure_cases.loc[table, "failure_case"]})

    def failure_summary(self) -> pd.DataFrame:
        """One row per (column, check): how many rows failed and a few offending values."""
        if self.failure_cases.empty:
            return pd.DataFrame(columns=["column", "check", "failures", "examples"])
        cases = self.failure_cases.assign(column=self.failure_cases["column"].fillna("<table>"))
        return (cases.groupby(["column", "check"], sort=True)
                .agg(failures=("failure_case", "size"),
                     examples=("failure_case", lambda s: ", ".join(
                         _short(v) for v in s.drop_duplicates().head(3))))
                .reset_index())

    def describe_failures(self) -> str:
        """The failures in words: missing/unexpected columns by name, then per column."""
        parts = []
        cases = self.failure_cases
        for check, what in TABLE_CHECKS.items():
            names = sorted(map(_short, cases.loc[cases["check"] == check, "failure_case"]),
                           key=_natural) if not cases.empty else []
            if names:
                shown = ", ".join(names[:10]) + (", …" if len(names) > 10 else "")
                parts.append(f"{len(names)} {what}{'s' if len(names) > 1 else ''}: {shown}")
        for row in self.failure_summary().itertuples():
            if row.check in TABLE_CHECKS:
                continue
            if row.check == "not_nullable" and row.failures == self.rows_in:
                parts.append(f"{row.column} is entirely empty (null in all {row.failures} rows)")
            else:
                parts.append(f"{row.column}: {row.check} failed for {row.failures} value(s) "
                             f"(e.g. {row.examples})")
        return "; ".join(parts)

    def locate_failures(self) -> str:
        """Where the first bad rows are, so a person can open the file at that row."""
        if self.failure_cases.empty or "row" not in self.failure_cases:
            return ""
        rows = (self.failure_cases.dropna(subset=["row"]).drop_duplicates(["file", "row"])
                .sort_values(["file", "row"]))
        if rows.empty:
            return ""
        shown = ", ".join(f"{position(r.file, int(r.row))}: {r.column}"
                          for r in rows.head(3).itertuples())
        return f" First bad rows: {shown}."


def position(file: str, row: int) -> str:
    """Where a data row (1-based, the header not counted) is: in a CSV also its line."""
    return f"{file} {csv_line(row + 1)}" if file_format(file) == "csv" else f"{file} row {row}"


def shorten(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """Landed text cut short for a message or the UI: a field may be megabytes long."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _short(value) -> str:
    """A landed value for a message, as written; an empty one says so."""
    return "(empty)" if pd.api.types.is_scalar(value) and pd.isna(value) else shorten(str(value))


def _natural(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _concat_files(frames: dict[str, pd.DataFrame], day: str) -> tuple[pd.DataFrame, pd.Series]:
    """Stack the day's files, remembering which file each row came from.

    The parts of one day must agree on their columns, and Parquet parts (which declare their
    types) on the types too: a day stitched from two schemas is a broken export, not data.
    """
    (first, reference), *others = frames.items()
    for name, frame in others:
        lacks = [c for c in reference.columns if c not in frame.columns]
        adds = [c for c in frame.columns if c not in reference.columns]
        if lacks or adds:
            raise UnreadableFile(
                f"the files landed for {day} do not share one set of columns: {name} lacks "
                f"{lacks} and adds {adds} compared with {first}. Land the day again as files of "
                "one schema.")
    parquet = {name: frame.dtypes for name, frame in frames.items()
               if file_format(name) == "parquet"}
    if len(parquet) > 1:
        (first, types), *others = parquet.items()
        for name, other in others:
            differ = [f"{c} is {types[c]} in {first} but {other[c]} in {name}"
                      for c in types.index if str(types[c]) != str(other[c])]
            if differ:
                raise UnreadableFile(
                    f"the Parquet files landed for {day} disagree on column types (types differ: "
                    f"{'; '.join(differ)}). Re-export the day with one schema and land it again.")
    combined = pd.concat(frames.values(), ignore_index=True)
    # categorical: a million file names as Python strings cost ~0.1 s on every day
    origin = pd.Series(pd.Categorical.from_codes(
        np.repeat(np.arange(len(frames)), [len(frame) for frame in frames.values()]),
        categories=list(frames)))
    return combined, origin


def _row_in_file(origin: pd.Series) -> pd.Series:
    """Each row's 1-based data row within the file it came from."""
    return origin.groupby(origin, sort=False, observed=True).cumcount() + 1


# What pandas reads as missing in a CSV. Read as text (so a message can quote them), they are
# missing in a numeric or time column, which cannot hold them as values; a text column keeps them.
MISSING_MARKERS = ("#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                   "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
# an ISO-8601 UTC offset (Z, ±hh, ±hhmm, ±hh:mm) after a time of day
UTC_OFFSET = r"[T ]\d{2}(?::?\d{2}){0,2}(?:[.,]\d+)?\s*(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"
OFFSET_REFUSED = ("local time without a UTC offset (the dataset spec sets no time_zone: strip "
                  "the offsets, or set time_zone to the zone to convert them to)")

Failures = list[tuple[pd.Series, str]]  # (which values failed, the check they failed), disjoint


def _parse_values(frame: pd.DataFrame, schema: pa.DataFrameSchema, time_zone: str | None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numbers and timestamps parsed value by value, before the schema sees them.

    So one bad value fails its own row, once, quoted as written (and can be dropped), instead of
    failing the column or showing what coercion made of it: a fractional or out-of-range count
    is an error rather than truncated or wrapped around, and an empty value in a column that
    may not be empty is one `not_nullable` failure. Columns that arrive typed as declared
    (Parquet) are not parsed.
    """
    parsed, cases = frame.copy(deep=False), []  # columns are replaced, never changed in place
    for name, column in schema.columns.items():
        if name not in frame.columns:
            continue
        raw, kind = frame[name], np.dtype(column.dtype.type).kind
        if kind not in "iufMb" or _typed_as_declared(raw, kind):
            continue  # not parsed here, or already of the declared type: nothing to parse
        missing = _missing(raw)
        values, failures = (_parse_numbers(raw, missing, np.dtype(column.dtype.type))
                            if kind in "iuf" else _parse_booleans(raw, missing) if kind == "b"
                            else _parse_timestamps(raw, missing, column.dtype, time_zone))
        if not column.nullable:
            failures.insert(0, (missing, "not_nullable"))
        for bad, check in failures:
            if bad.any():
                cases.append(pd.DataFrame({"schema_context": "Column", "column": name,
                                           "check": check, "failure_case": raw[bad],
                                           "index": raw.index[bad]}))
        parsed[name] = values
    return parsed, (pd.concat(cases, ignore_index=True) if cases else pd.DataFrame())


def _typed_as_declared(raw: pd.Series, kind: str) -> bool:
    if kind == "b":
        return pd.api.types.is_bool_dtype(raw) and not raw.hasnans
    if kind == "M":  # a time-zone-aware column still needs the time-zone rule
        return raw.dtype.kind == "M" and not isinstance(raw.dtype, pd.DatetimeTZDtype)
    return raw.dtype.kind in ("iu" if kind in "iu" else "iuf")


def _missing(raw: pd.Series) -> pd.Series:
    """Empty, or a marker that means empty (`MISSING_MARKERS`)."""
    if raw.dtype.kind in "biufcmM":
        return raw.isna()
    return raw.isna() | raw.isin(MISSING_MARKERS)


def _parse_numbers(raw: pd.Series, missing: pd.Series, dtype: np.dtype
                   ) -> tuple[pd.Series, Failures]:
    whole = dtype.kind in "iu"
    number = f"{'whole ' if whole else ''}number"
    if pd.api.types.is_bool_dtype(raw) or (
            raw.dtype == object and pd.api.types.infer_dtype(raw, skipna=True) == "boolean"):
        # a column of true/false is not a column of 1/0: the export wrote the wrong field
        return (pd.Series(np.nan, index=raw.index),
                [(~missing, f"parse as {dtype} ({number}, not true/false)")])
    values = pd.to_numeric(raw.where(~missing), errors="coerce")
    bad = ~missing & values.isna()
    if whole:  # a float beyond the integer type would wrap around when coerced
        info = np.iinfo(dtype)
        bad |= values.notna() & ((values % 1 != 0) | (values < float(info.min))
                                 | (values >= float(info.max)))
        number += f" within {dtype}"
    return values.where(~bad), [(bad, f"parse as {dtype} ({number})")]


BOOLEAN_TEXT = {"true": True, "false": False, "1": True, "0": False}


def _boolean(value) -> bool | None:
    """A number 1 or 0 (a 0/1 column read as floats), or the text true/false/1/0."""
    if isinstance(value, int | float | np.number) and not isinstance(value, bool | np.bool_):
        return bool(value) if value in (0, 1) else None
    return BOOLEAN_TEXT.get(str(value).strip().lower())


def _parse_booleans(raw: pd.Series, missing: pd.Series) -> tuple[pd.Series, Failures]:
    """true/false or 1/0 (any case; 1.0/0.0 as numbers); anything else fails its row, where
    coercion would read every non-empty text, "no" included, as true."""
    values = raw.where(~missing).map(
        lambda value: _boolean(value) if pd.notna(value) else None)
    bad = ~missing & values.isna()
    return values.astype("boolean"), [(bad, "parse as bool (true/false or 1/0)")]


def _parse_timestamps(raw: pd.Series, missing: pd.Series, dtype, time_zone: str | None
                      ) -> tuple[pd.Series, Failures]:
    """ISO-8601 text (any precision, `T` or space) to naive wall-clock time, by the spec's
    time-zone rule: without `time_zone` a value with a UTC offset is refused; with one, it is
    converted to that zone's wall time, and naive values are taken as that zone's already."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):  # a time-zone-aware Parquet column
        if time_zone is None:
            return pd.Series(pd.NaT, index=raw.index), [(~missing, OFFSET_REFUSED)]
        return raw.dt.tz_convert(time_zone).dt.tz_localize(None), []
    text = raw.where(~missing)
    text_format = getattr(dtype, "to_datetime_kwargs", {}).get("format", "ISO8601")
    values = _naive_timestamps(text, text_format)
    refused = pd.Series(False, index=raw.index)
    if values is None:  # some values carry a UTC offset
        offset = text.astype(TEXT).str.contains(UTC_OFFSET).fillna(False).astype(bool)
        values = _naive_timestamps(text.where(~offset), text_format)
        if time_zone is None:
            refused = offset
        else:
            aware = pd.to_datetime(text.where(offset), format=text_format, utc=True,
                                   errors="coerce", cache=False)
            values = values.where(~offset, aware.dt.tz_convert(time_zone).dt.tz_localize(None))
    unparsable = text.notna() & ~refused & values.isna()
    expected = ("ISO-8601 timestamp (such as 2025-01-31 14:05:00)" if text_format == "ISO8601"
                else f"timestamp in the format {text_format}")
    return values, [(refused, OFFSET_REFUSED), (unparsable, f"parse as {expected}")]


def _naive_timestamps(text: pd.Series, text_format: str) -> pd.Series | None:
    """The values as naive timestamps (unparsable ones NaT), or None if some carry an offset.

    pandas parses offset values as time-zone-aware and, mixed with naive ones, warns (a future
    version raises); either way this says "there are offsets", which the caller resolves.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        try:
            values = pd.to_datetime(text, format=text_format, errors="coerce", cache=False)
        except ValueError:
            return None
    return values if pd.api.types.is_datetime64_dtype(values) and not isinstance(
        values.dtype, pd.DatetimeTZDtype) else None


def _with_day_check(schema: pa.DataFrameSchema, time_column: str,
                    day: str) -> pa.DataFrameSchema:
    """The schema plus a check that every timestamp falls on the partition's day."""
    start = pd.Timestamp(day)
    within_day = pa.Check(lambda times: (times >= start) & (times < start + pd.Timedelta(days=1)),
                          name=f"within_partition_day({day})", ignore_na=True)
    column = schema.columns[time_column]
    # a shallow copy with one column replaced: `update_column` deep-copies the whole schema,
    # which cost more per day (~5 ms) than the day's checks; no schema is changed in place
    day_schema = copy.copy(schema)
    day_schema.columns = {**schema.columns,
                          time_column: column.update_checks([*column.checks, within_day])}
    return day_schema


def _failures(schema: pa.DataFrameSchema, frame: pd.DataFrame
              ) -> tuple[pd.DataFrame | None, pd.DataFrame]:
    """Validate lazily (every problem at once): the valid frame, or the failure cases."""
    try:
        return schema.validate(frame, lazy=True), pd.DataFrame()
    except pa_errors.SchemaErrors as exc:
        return None, exc.failure_cases


def _as_written(cases: pd.DataFrame, raw: pd.DataFrame) -> pd.DataFrame:
    """Pandera's failure cases with each value as it arrived: pandera reports it after parsing
    (a timestamp re-formatted), but a person searches the file for what was written."""
    if cases.empty:
        return cases
    located = cases["index"].notna() & cases["column"].isin(raw.columns)
    written = cases["failure_case"].astype(object)
    for column, group in cases[located].groupby("column"):
        written.loc[group.index] = raw[column].reindex(group["index"].astype(int)).to_numpy()
    return cases.assign(failure_case=written)


def _annotate(rows: pd.DataFrame, origin: pd.Series, cases: pd.DataFrame) -> pd.DataFrame:
    """Rows as they arrived, with the file and 1-based row they came from and what failed."""
    checks = cases.dropna(subset=["index"]).assign(index=lambda c: c["index"].astype(int))
    failed = checks.groupby("index").apply(
        lambda c: "; ".join(f"{col}: {chk}" for col, chk in zip(c["column"], c["check"],
                                                                 strict=True)),
        include_groups=False)
    return rows.assign(_file=origin.loc[rows.index].to_numpy(),
                       _row=_row_in_file(origin).loc[rows.index].to_numpy(),
                       _failed=failed.reindex(rows.index).to_numpy())


def apply_contract(frames: dict[str, pd.DataFrame], schema: pa.DataFrameSchema, *, day: str,
                   time_column: str | None, time_zone: str | None = None,
                   policy: RowPolicy = RowPolicy()) -> ContractReport:
    """Validate a day's files against the schema, reporting every problem at once.

    Timestamps become naive wall-clock times by the spec's `time_zone` rule (see
    `_parse_timestamps`), so the day a row falls on is a day in that zone.
    """
    files = list(frames)
    combined, origin = _concat_files(frames, day)
    report = ContractReport(day=day, files=files, rows_in=len(combined), frame=None)
    if combined.empty:
        report.problem = (f"day {day}: {', '.join(files)} has a header but no rows; a day with "
                          "no trips is almost always a broken export. Re-export the day and land "
                          "it again.")
        return report
    day_schema = (vectorised(schema) if time_column is None  # e.g. label files: id + target
                  else _with_day_check(vectorised(schema), time_column, day))
    parsed, parse_failures = _parse_values(combined, schema, time_zone)
    checkable = (parsed if parse_failures.empty  # dropping nothing would still copy the frame
                 else parsed.drop(index=pd.Index(parse_failures["index"])))
    report.frame, failures = _failures(day_schema, checkable)
    if report.frame is not None and parse_failures.empty:
        return report
    failures = pd.concat([parse_failures, _as_written(failures, combined)], ignore_index=True)
    rows = failures["index"]
    report.failure_cases = failures.assign(
        file=origin.reindex(rows).to_numpy(), row=_row_in_file(origin).reindex(rows).to_numpy())
    bad_rows = pd.Index(rows.dropna().astype(int).unique())
    table_level = rows.isna().any()
    fraction = len(bad_rows) / len(combined)
    every_row = len(bad_rows) == len(combined)
    if policy.mode == "drop_bad_rows" and not table_level and not every_row \
            and fraction <= policy.max_bad_row_fraction:
        report.frame = day_schema.validate(parsed.drop(index=bad_rows), lazy=True)
        report.rows_dropped = len(bad_rows)
        report.dropped_rows = _annotate(combined.loc[bad_rows], origin, report.failure_cases)
        return report

    report.frame = None
    where = ", ".join(sorted({str(f) for f in report.failure_cases["file"].dropna()}) or files)
    scope = ("the table itself (its columns) breaks" if table_level
             else f"all {len(combined)} rows break" if every_row
             else f"{len(bad_rows)} of {len(combined)} rows ({fraction:.1%}) break")
    allowed = ("" if policy.mode != "drop_bad_rows" or table_level
               else " (dropping them would leave an empty day, which is never stored)"
               if every_row else f" (more than the {policy.max_bad_row_fraction:.1%} the "
               "drop_bad_rows policy allows)")
    report.problem = (f"day {day}: {scope} the contract in {where}{allowed}: "
                      f"{report.describe_failures()}.{report.locate_failures()} Fix the export "
                      "and land the day again.")
    return report


def validate_frame(frame: pd.DataFrame, schema: pa.DataFrameSchema, *, day: str) -> ContractReport:
    """Hold a frame we produced (features, predictions) to its schema; same report as raw data."""
    report = ContractReport(day=day, files=[], rows_in=len(frame), frame=None)
    report.frame, failures = _failures(vectorised(schema), frame)
    if report.frame is None:
        report.failure_cases = failures.reset_index(drop=True)
        report.problem = (f"day {day}: {schema.name or 'schema'} violated: "
                          f"{report.describe_failures()}")
    return report


def bad_row_sample(report: ContractReport, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A few offending rows, as they arrived, with the file and row number they came from."""
    if report.failure_cases.empty:
        return pd.DataFrame()
    indexes = report.failure_cases["index"].dropna().astype(int).unique()[:SAMPLE_ROWS]
    if not len(indexes):
        return pd.DataFrame()
    combined, origin = _concat_files(frames, report.day)
    return _annotate(combined.loc[indexes], origin, report.failure_cases)
