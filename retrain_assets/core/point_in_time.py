"""Point-in-time scoring: which champion served on a past day.

A backfill of predictions must show what the platform would have said that day, so each day is
scored by the champion of that day, never by a model that trained on the day or after it.

A champion move's wall-clock time is when it started serving. A version promoted on its merits
was judged on data through its last holdout day, so it serves the days after that at the
latest: with replayed or simulated history (days older than the clock), the data's own time
places the move where the wall clock cannot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass(frozen=True)
class ChampionMove:
    """The alias `champion` moved to `version` at `at`: promoted or approved on its merits
    (`on_merits`), or rolled back to."""

    at: datetime
    version: str
    on_merits: bool


@dataclass(frozen=True)
class VersionWindow:
    """The last day a version trained on and the last day it was judged on (its holdout)."""

    last_train_day: str
    last_judged_day: str


@dataclass(frozen=True)
class ServedBy:
    """Day `day` is scored by `version`, or not at all, `problem` saying why and what to do."""

    day: str
    version: str | None
    problem: str | None = None


def serving_starts(moves: Sequence[ChampionMove],
                   windows: Mapping[str, VersionWindow]) -> list[tuple[str, str]]:
    """(first day served, version) per move, in order: the move's UTC date, or for a version
    on its merits the day after its holdout when that is earlier; never before the move
    before it."""
    starts: list[tuple[str, str]] = []
    for move in moves:
        start = move.at.date()
        window = windows.get(move.version)
        if move.on_merits and window is not None:
            start = min(start, date.fromisoformat(window.last_judged_day) + timedelta(days=1))
        if starts:
            start = max(start, date.fromisoformat(starts[-1][0]))
        starts.append((start.isoformat(), move.version))
    return starts


def champions_by_day(days: Sequence[str], moves: Sequence[ChampionMove],
                     windows: Mapping[str, VersionWindow]) -> dict[str, ServedBy]:
    """The champion that served each of `days`. A day before the first champion, or one its
    champion trained on, is not scored: a later model would score it with hindsight."""
    starts = serving_starts(moves, windows)
    served = {}
    for day in days:
        before = [(start, version) for start, version in starts if start <= day]
        if not before:
            first = (f"the first champion, version {starts[0][1]}, serves from {starts[0][0]}"
                     if starts else "there is no champion yet")
            served[day] = ServedBy(day, None, (
                f"day {day}: not scored: no champion was serving on {day} ({first}); a later "
                f"model would score it with hindsight. To score it with today's champion "
                f"anyway, run scoring_job for {day} with config `champion: today`."))
            continue
        version = before[-1][1]
        window = windows.get(version)
        if window is not None and day <= window.last_train_day:
            served[day] = ServedBy(day, None, (
                f"day {day}: not scored: version {version} served on {day} but trained on "
                f"data through {window.last_train_day}, which includes the day. To score it "
                f"with today's champion anyway, run scoring_job for {day} with config "
                "`champion: today`."))
            continue
        served[day] = ServedBy(day, version)
    return served
