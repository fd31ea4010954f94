"""What a contract report puts in the event log: landed values cut short and shown as written."""

import re

import pandas as pd

from retrain_assets.core.ingest import apply_contract, bad_row_sample, read_landed_file
from retrain_assets.datasets.taxi.schema import TaxiTripsRaw
from retrain_assets.pipeline.checks import markdown_literal, report_metadata
from retrain_assets_tests.conftest import good_day

DAY = "2025-02-03"
HOSTILE = "<img src=x onerror=alert(1)> **bold** [link](http://x) `code` _em_ # heading"


def _rejected_day(value: str):
    raw = good_day(DAY, rows=3).astype({"payment_type": object})
    raw.loc[1, "payment_type"] = value
    name = f"{DAY}/trips.csv"
    frames = {name: read_landed_file(name, raw.to_csv(index=False).encode())}
    report = apply_contract(frames, TaxiTripsRaw.to_schema(), day=DAY, time_column="pickup_at")
    assert not report.passed
    return report, bad_row_sample(report, frames)


def _unescaped(markdown: str) -> str:
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def test_the_problem_renders_landed_markdown_and_html_as_written():
    report, sample = _rejected_day(HOSTILE)
    problem = report_metadata(report, sample=sample)["problem"].value
    assert _unescaped(problem) == report.problem  # the same text once rendered
    assert not re.search(r"(?<!\\)[<>*_\[\]`#]", problem), problem  # nothing left to interpret
    assert markdown_literal("a\\b") == "a\\\\b"


def test_long_landed_values_are_cut_short_in_the_sample_and_the_summary():
    report, sample = _rejected_day("z" * 2_000_000)
    metadata = report_metadata(report, sample=sample)
    cells = [str(value) for record in metadata["bad_rows_sample"].value.records
             for value in record.data.values()]
    assert max(map(len, cells)) < 200 and any("(2000000 characters)" in c for c in cells)
    examples = [r.data["examples"] for r in metadata["failures_by_check"].value.records]
    assert max(map(len, examples)) < 200
    assert len(metadata["problem"].value) < 2_000


def test_long_landed_column_names_are_cut_short_in_the_sample():
    sample = pd.DataFrame({"n" * 5_000: ["v"], "_row": [1]})
    report, _ = _rejected_day("nope")
    table = report_metadata(report, sample=sample)["bad_rows_sample"].value
    assert [len(c.name) for c in table.schema.columns][0] < 100


def test_a_long_unexpected_column_name_is_cut_short_everywhere():
    raw = good_day(DAY, rows=2).assign(**{"x" * 100_000: 1})
    report = apply_contract({"f.parquet": raw}, TaxiTripsRaw.to_schema(), day=DAY,
                            time_column="pickup_at")
    metadata = report_metadata(report)
    assert "(100000 characters)" in report.problem and len(report.problem) < 1_000
    assert max(map(len, metadata["failing_columns"].value)) < 100
