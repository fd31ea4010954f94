"""The landing zone: where each day's files arrive, and where bad ones are quarantined.

Layout: `<zone>/<YYYY-MM-DD>/<any name>.csv|.parquet` (one folder per day) or
`<zone>/<YYYY-MM-DD>.csv|.parquet`. Quarantined files move to
`<zone>/_quarantine/<day>/<stamp>/<their path in the zone>` with a `QUARANTINE_NOTE.json` of why
(rows dropped under a drop_bad_rows policy are written there as `dropped_rows.csv`), so nothing a
user gave us is ever deleted or overwritten.
"""

from __future__ import annotations

import itertools
import json
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd

from retrain_assets.adapters.storage import ObjectStore, StoredObject, join_url
from retrain_assets.core.ingest import (
    ContractReport,
    RowPolicy,
    UnreadableFile,
    apply_contract,
    file_format,
    read_landed_file,
)

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


def why_not_read(key: str) -> str:
    """Why a file under a day is not a landing file, said so the user can act on it."""
    name = key.rsplit("/", 1)[-1]
    if name.startswith("."):
        return f"{key} (hidden: its name starts with '.')"
    stem, _, suffix = name.rpartition(".")
    if stem and file_format(stem) is not None:
        return f"{key} (a compressed or re-suffixed file, .{suffix}: decompress it to " \
               f"{stem.rsplit('/', 1)[-1]})"
    return f"{key} (not a .csv or .parquet file)"


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

    def nothing_to_read(self, day: str) -> str:
        """The problem of a day with no landing file: what is there instead, and what to do."""
        found = [why_not_read(o.key) for o in self.store.list(day) if day_of(o.key) == day
                 and not is_landing_file(o.key)] + self.store.unlisted(day)
        there = (f"found only {'; '.join(found)}" if found
                 else "nothing is there (no folder or file named for the day)")
        return (f"no .csv or .parquet files landed for {day} under {self.uri(day)}/: {there}. "
                f"Land the day's data there as regular, uncompressed .csv or .parquet files "
                f"(copy a linked file itself in), then re-run raw_data for {day} (or pick a day "
                "that has data).")

    def quarantine(self, day: str, objects: list[StoredObject], reason: str, *,
                   run_id: str | None = None, kept: dict[str, bytes] | None = None,
                   what_to_do: str | None = None) -> list[str]:
        """Move the day's files aside, each under its own path in the zone (so `north/trips.csv`
        and `south/trips.csv` cannot meet), and write any rows we removed (`kept`: name ->
        bytes) beside a note saying why; returns their new locations. Nothing is ever deleted
        or replaced: the folder is claimed by creating its note, and moves refuse taken names."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        note = {"day": day, "reason": reason, "files": [o.key for o in objects],
                "written": sorted(kept or {}), "quarantined_at": stamp, "dagster_run_id": run_id,
                "what_to_do": what_to_do or (
                    f"Fix the files and land them again under {self.uri(day)}/ ; the "
                    "landing-zone sensor or a re-run of raw_data picks them up.")}
        folder = self._claim_folder(day, stamp, json.dumps(note, indent=2).encode())
        moved = []
        for obj in objects:
            target = f"{folder}/{obj.key}"
            self.store.move(obj.key, target)
            moved.append(self.uri(target))
        for name, data in (kept or {}).items():
            self.store.create_bytes(f"{folder}/{name}", data)
            moved.append(self.uri(f"{folder}/{name}"))
        return moved

    def _claim_folder(self, day: str, stamp: str, note: bytes) -> str:
        """A quarantine folder no other quarantine uses: its note is created only where none
        exists, so a second quarantine of the day in the same microsecond gets `<stamp>-2`."""
        base = f"{QUARANTINE}/{day}/{stamp}"
        for folder in itertools.chain([base], (f"{base}-{n}" for n in itertools.count(2))):
            try:
                self.store.create_bytes(f"{folder}/{NOTE}", note)
                return folder
            except FileExistsError:
                continue


def ingest_day(zone: LandingZone, day: str, schema, *, time_column: str | None,
               time_zone: str | None = None, policy: RowPolicy = RowPolicy(),
               run_id: str | None = None) -> DayIntake:
    """Read and validate everything landed for `day`; quarantine whatever made it fail.

    Unreadable files and files that break the contract are moved to quarantine (the day is
    rejected); rows dropped under a drop_bad_rows policy are written there as a CSV.
    """
    files = zone.files_for(day)
    if not files:
        return DayIntake(ContractReport(day=day, files=[], rows_in=0, frame=None,
                                        problem=zone.nothing_to_read(day)), {}, [])
    frames, unreadable, denied = {}, [], []
    for obj in files:
        try:
            frames[obj.key] = read_landed_file(obj.key, zone.read(obj))
        except UnreadableFile as exc:
            unreadable.append((obj, str(exc)))
        except PermissionError:
            denied.append(obj.key)
    if unreadable or denied:
        reason = " ".join(message for _, message in unreadable)
        moved = zone.quarantine(day, [obj for obj, _ in unreadable], reason, run_id=run_id) \
            if unreadable else []
        problems = [f"unreadable file(s): {reason} Moved to quarantine: {', '.join(moved)}."
                    ] if unreadable else []
        if denied:
            problems.append(
                f"permission denied reading {', '.join(zone.uri(key) for key in denied)}: the "
                "process running Dagster may not read it (left in place). Grant it read access "
                "(e.g. `chmod a+r`, or a storage role on the bucket); the landing-zone sensor "
                f"runs the day again once it can read the file, or re-run raw_data for {day}.")
        report = ContractReport(day=day, files=[o.key for o in files], rows_in=0, frame=None,
                                problem=f"day {day}: {' '.join(problems)}")
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
