"""core.volume: a landed day's row volume and replayed content against the recent days."""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pytest

from retrain_assets.core.volume import (
    VolumeThresholds,
    content_columns,
    content_hashes,
    hashes_from_bytes,
    hashes_to_bytes,
    judge_replay,
    judge_volume,
    recent_days,
)
from retrain_assets.datasets.taxi import TAXI_TRIPS
from retrain_assets.datasets.taxi.simulator import simulate_day

DAY = "2025-01-08"
RECENT = {"2025-01-05": 950, "2025-01-06": 1000, "2025-01-07": 1100}


def test_recent_days_are_the_calendar_days_before_oldest_first():
    assert recent_days("2025-03-01", 3) == ["2025-02-26", "2025-02-27", "2025-02-28"]


@pytest.mark.parametrize("rows, passed", [(1000, True), (3900, True), (20_000, False),
                                          (260, True), (240, False)])
def test_a_day_fails_beyond_max_ratio_either_way_of_the_recent_median(rows, passed):
    judged = judge_volume(DAY, rows, RECENT, VolumeThresholds(max_ratio=4))
    assert judged.passed is passed
    assert judged.figures["recent_median"] == 1000 and judged.figures["ratio"] == rows / 1000
    assert judged.figures["max_ratio"] == 4
    if not passed:
        assert f"{rows:,} rows is {rows / 1000:.2f}x the median of the 3 stored days" \
            in judged.description
        assert ("more" if rows > 1000 else "fewer") in judged.description
        assert "RETRAIN_ASSETS_VOLUME_MAX_RATIO" in judged.description


def test_without_enough_history_the_volume_is_not_judged_and_says_why():
    judged = judge_volume(DAY, 50_000, {"2025-01-07": 1000}, VolumeThresholds())
    assert judged.passed and "only 1 of the 7 days before it are stored" in judged.description


def day_content(day: str, rows: int):
    frame = simulate_day(date.fromisoformat(day), rows)
    columns = content_columns(list(frame.columns), id_column=TAXI_TRIPS.id_column,
                              time_column=TAXI_TRIPS.time_column)
    return frame, columns


def test_replayed_rows_under_new_ids_and_times_are_counted_by_the_day_they_repeat():
    yesterday, columns = day_content("2025-01-07", 400)
    today, _ = day_content(DAY, 400)
    replayed = yesterday.head(100).assign(trip_id=lambda f: "new-" + f["trip_id"].astype(str),
                                          pickup_at=lambda f: f["pickup_at"] + np.timedelta64(1,
                                                                                            "D"))
    today.iloc[:100] = replayed.to_numpy()
    today.iloc[100] = today.iloc[101]  # and one row twice within the day

    judged = judge_replay(DAY, content_hashes(today, columns),
                          {"2025-01-07": content_hashes(yesterday, columns)},
                          VolumeThresholds(max_replay_share=0.05), content=columns)

    assert not judged.passed
    assert judged.figures["repeated_from_days"] == {"2025-01-07": 100}
    assert judged.figures["repeated_within_day"] == 1
    assert judged.figures["repeated_share"] == pytest.approx(101 / 400)
    assert "101 of 400 rows (25.2%)" in judged.description and "from 2025-01-07" \
        in judged.description


def test_a_fresh_day_repeats_nothing():
    yesterday, columns = day_content("2025-01-07", 2000)
    today, _ = day_content(DAY, 2000)
    judged = judge_replay(DAY, content_hashes(today, columns),
                          {"2025-01-07": content_hashes(yesterday, columns)},
                          VolumeThresholds(), content=columns)
    assert judged.passed and judged.figures["repeated_rows"] == 0


def test_the_content_leaves_out_the_id_and_the_time():
    frame, columns = day_content(DAY, 5)
    assert TAXI_TRIPS.id_column not in columns and TAXI_TRIPS.time_column not in columns
    assert set(columns) == set(frame.columns) - {TAXI_TRIPS.id_column, TAXI_TRIPS.time_column}


def test_hashes_round_trip_through_parquet_bytes():
    frame, columns = day_content(DAY, 300)
    hashes = content_hashes(frame, columns)
    assert hashes.dtype == np.uint32
    assert np.array_equal(hashes_from_bytes(hashes_to_bytes(hashes)), hashes)


@pytest.mark.parametrize("settings, says", [
    ({"max_ratio": 1.0}, "max_ratio must be above 1"),
    ({"max_replay_share": 0.0}, "max_replay_share must be in (0, 1]"),
    ({"min_recent_days": 9}, "min_recent_days (9) <= recent_days (7)"),
])
def test_impossible_thresholds_are_refused_with_what_is_allowed(settings, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        VolumeThresholds(**settings)
