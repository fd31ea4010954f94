"""Which champion served on a past day (core.point_in_time)."""

from datetime import UTC, datetime

from retrain_assets.core.point_in_time import (
    ChampionMove,
    VersionWindow,
    champions_by_day,
    serving_starts,
)

WINDOWS = {"1": VersionWindow("2025-01-20", "2025-01-28"),
           "2": VersionWindow("2025-03-05", "2025-03-10"),
           "3": VersionWindow("2025-04-01", "2025-04-03")}


def at(day: str, time: str = "10:00") -> datetime:
    return datetime.fromisoformat(f"{day}T{time}:00").replace(tzinfo=UTC)


def test_each_day_is_scored_by_the_champion_of_that_day():
    moves = [ChampionMove(at("2025-01-29"), "1", True), ChampionMove(at("2025-03-12"), "2", True),
             ChampionMove(at("2025-04-04"), "3", True), ChampionMove(at("2025-04-06"), "2", False)]
    served = champions_by_day(["2025-02-01", "2025-03-11", "2025-03-12", "2025-04-05",
                               "2025-04-06", "2025-05-01"], moves, WINDOWS)
    assert {d: s.version for d, s in served.items()} == {
        "2025-02-01": "1", "2025-03-11": "2",  # version 2 was judged through 03-10
        "2025-03-12": "2", "2025-04-05": "3", "2025-04-06": "2", "2025-05-01": "2"}


def test_a_day_before_any_champion_is_reported_not_scored_with_a_later_model():
    served = champions_by_day(["2025-01-10"], [ChampionMove(at("2025-01-29"), "1", True)],
                              WINDOWS)["2025-01-10"]
    assert served.version is None
    assert "no champion was serving on 2025-01-10" in served.problem
    assert "version 1, serves from 2025-01-29" in served.problem
    assert "`champion: today`" in served.problem


def test_replayed_history_places_a_move_by_its_data_not_the_wall_clock():
    """Days of 2025 replayed in 2026: the version judged through 01-28 served from 01-29."""
    moves = [ChampionMove(at("2026-12-03"), "1", True), ChampionMove(at("2026-12-03"), "2", True)]
    assert serving_starts(moves, WINDOWS) == [("2025-01-29", "1"), ("2025-03-11", "2")]
    served = champions_by_day(["2025-01-28", "2025-02-15", "2025-03-20"], moves, WINDOWS)
    assert [s.version for s in served.values()] == [None, "1", "2"]


def test_a_rollback_serves_from_its_own_time_and_never_a_day_it_trained_on():
    moves = [ChampionMove(at("2025-01-29"), "1", True),
             ChampionMove(at("2025-02-01"), "3", False)]  # to a version trained through 04-01
    served = champions_by_day(["2025-01-31", "2025-02-02"], moves, WINDOWS)
    assert served["2025-01-31"].version == "1"
    assert served["2025-02-02"].version is None
    assert "trained on data through 2025-04-01" in served["2025-02-02"].problem
