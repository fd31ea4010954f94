"""Reading a day's landed files and holding them to the data contract.

Pure functions over bytes and frames, so every kind of bad input can be tested without Dagster.
Files are parsed as CSV or Parquet only: nothing that lands is ever unpickled or executed.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pandera.errors as pa_errors
import pandera.pandas as pa

READERS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
SAMPLE_ROWS = 10


class UnreadableFile(ValueError):
    """A landed file that cannot be parsed at all (corrupt, truncated, wrong format, encoding)."""


def file_format(name: str) -> str | None:
    lowered = name.lower()
    return next((fmt for suffix, fmt in READERS.items() if lowered.endswith(suffix)), None)


def read_landed_file(name: str, data: bytes) -> pd.DataFrame:
    """Parse one landed file into a frame of raw values, or raise `UnreadableFile` saying why."""
    fmt = file_format(name)
    if fmt is None:
        raise UnreadableFile(f"{name}: unsupported file type; land .csv or .parquet files")
    if not data:
        raise UnreadableFile(f"{name}: the file is empty (0 bytes)")
    try:
        if fmt == "csv":
            return pd.read_csv(io.BytesIO(data), encoding="utf-8", encoding_errors="strict",
                               low_memory=False)
        return pd.read_parquet(io.BytesIO(data))
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{name}: not valid UTF-8 text (byte {exc.start}); re-export the file as UTF-8"
        ) from exc
    except Exception as exc:  # pandas/pyarrow raise many types for corrupt input
        raise UnreadableFile(f"{name}: cannot be parsed as {fmt} ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no detail'})") from exc


@dataclass(frozen=True)
class RowPolicy:
    """What to do with a day in which some rows break the contract."""

    mode: Literal["reject_day", "drop_bad_rows"] = "reject_day"
    max_bad_row_fraction: float = 0.01  # drop_bad_rows only: above this the day is rejected


@dataclass
class ContractReport:
    """The outcome of holding one day to the contract; `frame` is what may be stored."""

    day: str
    files: list[str]
    rows_in: int
    frame: pd.DataFrame | None
    failure_cases: pd.DataFrame = field(default_factory=pd.DataFrame)
    rows_dropped: int = 0
    problem: str | None = None

    @property
    def passed(self) -> bool:
        return self.problem is None

    @property
    def failing_columns(self) -> list[str]:
        if self.failure_cases.empty:
            return []
        return sorted({str(c) for c in self.failure_cases["column"].dropna()})

    def failure_summary(self) -> pd.DataFrame:
        """One row per (column, check): how many rows failed and a few offending values."""
        if self.failure_cases.empty:
            return pd.DataFrame(columns=["column", "check", "failures", "examples"])
        cases = self.failure_cases.assign(column=self.failure_cases["column"].fillna("<table>"))
        return (cases.groupby(["column", "check"], sort=True)
                .agg(failures=("failure_case", "size"),
                     examples=("failure_case", lambda s: ", ".join(map(str, s.head(3)))))
                .reset_index())

    def describe_failures(self) -> str:
        return "; ".join(
            f"{row.column}: {row.check} failed for {row.failures} value(s) (e.g. {row.examples})"
            for row in self.failure_summary().itertuples())


def _concat_files(frames: dict[str, pd.DataFrame], day: str) -> tuple[pd.DataFrame, pd.Series]:
    """Stack the day's files, remembering which file each row came from."""
    column_sets = {name: tuple(frame.columns) for name, frame in frames.items()}
    if len(set(map(frozenset, column_sets.values()))) > 1:
        detail = "; ".join(f"{name}: {list(cols)}" for name, cols in column_sets.items())
        raise UnreadableFile(
            f"the files landed for {day} do not share one set of columns ({detail}); "
            "land files of one schema per day"
        )
    combined = pd.concat(frames.values(), ignore_index=True)
    origin = pd.Series([name for name, frame in frames.items() for _ in range(len(frame))],
                       dtype="string")
    return combined, origin


def _with_day_check(schema: pa.DataFrameSchema, time_column: str,
                    day: str) -> pa.DataFrameSchema:
    """The schema plus a check that every timestamp falls on the partition's day."""
    start = pd.Timestamp(day)
    within_day = pa.Check(lambda times: (times >= start) & (times < start + pd.Timedelta(days=1)),
                          name=f"within_partition_day({day})", ignore_na=True)
    column = schema.columns[time_column]
    return schema.update_column(time_column, checks=[*column.checks, within_day])


def apply_contract(frames: dict[str, pd.DataFrame], schema: pa.DataFrameSchema, *, day: str,
                   time_column: str, policy: RowPolicy = RowPolicy()) -> ContractReport:
    """Validate a day's files against the schema (lazily, to report every problem at once)."""
    files = list(frames)
    combined, origin = _concat_files(frames, day)
    report = ContractReport(day=day, files=files, rows_in=len(combined), frame=None)
    if combined.empty:
        report.problem = (f"{', '.join(files)} has a header but no rows; a day with no trips "
                          "is almost always a broken export. Re-export the day and land it again.")
        return report
    day_schema = _with_day_check(schema, time_column, day)
    try:
        report.frame = day_schema.validate(combined, lazy=True)
        return report
    except pa_errors.SchemaErrors as exc:
        failures = exc.failure_cases

    failures = failures.assign(file=origin.reindex(failures["index"]).to_numpy())
    report.failure_cases = failures.reset_index(drop=True)
    bad_rows = pd.Index(failures["index"].dropna().astype(int).unique())
    table_level = failures["index"].isna().any()
    fraction = len(bad_rows) / len(combined)
    if policy.mode == "drop_bad_rows" and not table_level \
            and fraction <= policy.max_bad_row_fraction:
        report.frame = day_schema.validate(combined.drop(index=bad_rows), lazy=True)
        report.rows_dropped = len(bad_rows)
        return report

    where = ", ".join(sorted({str(f) for f in failures["file"].dropna()}) or files)
    scope = ("the table itself (missing/extra columns or types)" if table_level
             else f"{len(bad_rows)} of {len(combined)} rows ({fraction:.1%})")
    allowed = (f" (more than the {policy.max_bad_row_fraction:.1%} the drop_bad_rows policy "
               "allows)" if policy.mode == "drop_bad_rows" and not table_level else "")
    report.problem = (f"day {day}: {scope} break the contract in {where}{allowed}: "
                      f"{report.describe_failures()}. Fix the export and land the day again.")
    return report


def validate_frame(frame: pd.DataFrame, schema: pa.DataFrameSchema, *, day: str) -> ContractReport:
    """Hold a frame we produced (features, predictions) to its schema; same report as raw data."""
    report = ContractReport(day=day, files=[], rows_in=len(frame), frame=None)
    try:
        report.frame = schema.validate(frame, lazy=True)
    except pa_errors.SchemaErrors as exc:
        report.failure_cases = exc.failure_cases.reset_index(drop=True)
        report.problem = (f"day {day}: {schema.name or 'schema'} violated: "
                          f"{report.describe_failures()}")
    return report


def bad_row_sample(report: ContractReport, frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A few offending rows, as they arrived, with the file and row number they came from."""
    if report.failure_cases.empty:  # e.g. files that disagree on columns: no row to point at
        return pd.DataFrame()
    cases = report.failure_cases.dropna(subset=["index"]).drop_duplicates("index")
    if cases.empty:
        return pd.DataFrame()
    combined, origin = _concat_files(frames, report.day)
    sample = combined.loc[cases["index"].astype(int).head(SAMPLE_ROWS)]
    offsets = origin.groupby(origin, sort=False).cumcount()
    return sample.assign(_file=origin.loc[sample.index].to_numpy(),
                         _row=(offsets.loc[sample.index] + 1).to_numpy(),
                         _failed=cases.set_index("index").loc[sample.index, "check"].to_numpy())
