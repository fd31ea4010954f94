"""bad_row_sample when a day failed for its files, not for any row in them."""

from __future__ import annotations

import pandas as pd

from retrain_assets.core.ingest import ContractReport, bad_row_sample
from retrain_assets_tests.conftest import good_day


def test_a_day_rejected_without_failure_cases_has_an_empty_sample():
    """e.g. files of one day that disagree on their columns (landing.ingest_day)."""
    day = "2025-01-01"
    frames = {f"{day}/a.csv": good_day(day, 5),
              f"{day}/b.csv": pd.DataFrame({"trip_id": ["x"], "surprise": [1]})}
    report = ContractReport(day=day, files=list(frames), rows_in=0, frame=None,
                            problem=f"day {day}: files disagree on their columns")

    assert bad_row_sample(report, frames).empty
