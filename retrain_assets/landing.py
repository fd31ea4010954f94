"""The landing zone: where each day's files arrive, and where bad ones are quarantined.

Layout: `<zone>/<YYYY-MM-DD>/<any name>.csv|.parquet` (one folder per day) or
`<zone>/<YYYY-MM-DD>.csv|.parquet`. Quarantined files move to `<zone>/_quarantine/<day>/<stamp>/`
with a `QUARANTINE_NOTE.json` of why (rows dropped under a drop_bad_rows policy are written there
as `dropped_rows.csv`), so nothing a user gave us is ever deleted.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd

from retrain_assets.core.ingest import (
    ContractReport,
    RowPolicy,
    UnreadableFile,
    apply_contract,
    file_format,
    read_landed_file,
)
from retrain_assets.storage import ObjectStore, StoredObject, join_url

QUARANTINE = "_quarantine"
NOTE = "QUARANTINE_NOTE.json"
DROPPED_ROWS = "dropped_rows.csv"
_DAY = re.compile(r"(\d{4}-\d{2}-\d{2})")


def day_of(key: str) -> str | None:
    """The partition a landed file belongs to, or None if its name carries no valid date."""
    first = key.split("/", 1)[0]
    candidate = first if "/" in key else first.rsplit(".", 1)[0]
    match = _DAY.fullmatch(candidate)
    if match is None:
        return None
    try:
        date.fromisoformat(match.group(1))
    except ValueError:
        return None
    return match.group(1)


def is_landing_file(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return not key.startswith(f"{QUARANTINE}/") and not name.startswith(".") \
        and file_format(name) is not None


@dataclass
class DayIntake:
    """A day read from the landing zone: its contract report, the frames as parsed, and where
    any rejected files went."""

    report: ContractReport
    frames: dict[str, pd.DataFrame]
    quarantined: list[str]


class LandingZone:
    def __init__(self, store: ObjectStore):
        self.store = store

    @property
    def url(self) -> str:
        return self.store.url

    def uri(self, key: str) -> str:
        return join_url(self.store.url, key)

    def files_by_day(self) -> dict[str, list[StoredObject]]:
        days: dict[str, list[StoredObject]] = defaultdict(list)
        for obj in self.store.list():
            day = day_of(obj.key)
            if day is not None and is_landing_file(obj.key):
                days[day].append(obj)
        return dict(sorted(days.items()))

    def files_for(self, day: str) -> list[StoredObject]:
        return [o for o in self.store.list(day) if day_of(o.key) == day
                and is_landing_file(o.key)]

    def read(self, obj: StoredObject) -> bytes:
        return self.store.read_bytes(obj.key)

    def quarantine(self, day: str, objects: list[StoredObject], reason: str, *,
                   run_id: str | None = None, kept: dict[str, bytes] | None = None,
                   what_to_do: str | None = None) -> list[str]:
        """Move the day's files aside, and write any rows we removed (`kept`: name -> bytes),
        with a note saying why; returns their new locations. Nothing is ever deleted."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        folder = f"{QUARANTINE}/{day}/{stamp}"
        moved = []
        for obj in objects:
            target = f"{folder}/{obj.key.rsplit('/', 1)[-1]}"
            self.store.move(obj.key, target)
            moved.append(self.uri(target))
        for name, data in (kept or {}).items():
            self.store.write_bytes(f"{folder}/{name}", data)
            moved.append(self.uri(f"{folder}/{name}"))
        note = {"day": day, "reason": reason, "files": [o.key for o in objects],
                "written": sorted(kept or {}), "quarantined_at": stamp, "dagster_run_id": run_id,
                "what_to_do": what_to_do or (
                    f"Fix the files and land them again under {self.uri(day)}/ ; the "
                    "landing-zone sensor or a re-run of raw_data picks them up.")}
        self.store.write_bytes(f"{folder}/{NOTE}", json.dumps(note, indent=2).encode())
        return moved


def ingest_day(zone: LandingZone, day: str, schema, *, time_column: str,
               time_zone: str | None = None, policy: RowPolicy = RowPolicy(),
               run_id: str | None = None) -> DayIntake:
    """Read and validate everything landed for `day`; quarantine whatever made it fail.

    Unreadable files and files that break the contract are moved to quarantine (the day is
    rejected); rows dropped under a drop_bad_rows policy are written there as a CSV.
    """
    files = zone.files_for(day)
    if not files:
        return DayIntake(ContractReport(
            day=day, files=[], rows_in=0, frame=None,
            problem=f"no .csv or .parquet files landed for {day} under {zone.uri(day)}/. Land "
                    "the day's files there (or pick a day that has data)."), {}, [])
    frames, unreadable = {}, []
    for obj in files:
        try:
            frames[obj.key] = read_landed_file(obj.key, zone.read(obj))
        except UnreadableFile as exc:
            unreadable.append((obj, str(exc)))
    if unreadable:
        reason = " ".join(message for _, message in unreadable)
        moved = zone.quarantine(day, [obj for obj, _ in unreadable], reason, run_id=run_id)
        report = ContractReport(
            day=day, files=[o.key for o in files], rows_in=0, frame=None,
            problem=f"day {day}: unreadable file(s): {reason} Moved to quarantine: "
                    f"{', '.join(moved)}.")
        return DayIntake(report, frames, moved)
    try:
        report = apply_contract(frames, schema, day=day, time_column=time_column,
                                time_zone=time_zone, policy=policy)
    except UnreadableFile as exc:  # the day's files disagree on their columns or types
        report = ContractReport(day=day, files=list(frames), rows_in=0, frame=None,
                                problem=f"day {day}: {exc}")
    if report.passed:
        if not report.rows_dropped:
            return DayIntake(report, frames, [])
        moved = zone.quarantine(
            day, [], f"{report.rows_dropped} of {report.rows_in} rows broke the contract and "
                     f"were dropped under the drop_bad_rows policy: {report.describe_failures()}",
            run_id=run_id, kept={DROPPED_ROWS: report.dropped_rows.to_csv(index=False).encode()},
            what_to_do=f"The rest of {day} was stored. Fix these rows and land them again in a "
                       f"new file under {zone.uri(day)}/ if they matter.")
        return DayIntake(report, frames, moved)
    named = set(report.failure_cases["file"].dropna()) if not report.failure_cases.empty else set()
    offending = [o for o in files if o.key in named] or files
    moved = zone.quarantine(day, offending, report.problem, run_id=run_id)
    report.problem += f" The offending file(s) were moved to quarantine: {', '.join(moved)}."
    return DayIntake(report, frames, moved)
