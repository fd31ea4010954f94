"""Noticing what changed in the landing zone since the last look, without re-listing it all.

A landing zone grows by a day at a time for years, so the landing-zone sensor must not list every
file on every tick. What is cheap depends on where the files live:

- **Local disk** (`ObjectStore.top_entries`): landing a file creates or renames a directory
  entry, which updates the mtime of the folder it lands in. One `scandir` of the zone's root (one
  entry per day, no file reads) shows which day folders changed; only those are listed. This
  holds for anything that writes by create/rename (our simulator, `rsync`, `mv`, most copy
  tools). An in-place overwrite of an existing file (`cp` onto it) changes the file but not its
  folder, so it is caught by the full rescan every `full_rescan_every` looks.
- **GCS** (no top entries: `ObjectStore.list_from`): there are no folders, but object names are
  listed in lexicographic order and days are ISO dates, so listing from the newest day already
  seen (`start_offset`) returns only the new days plus that last one. Rewritten older days (a
  new object generation) are caught by the full rescan.

Each day is summarised by a fingerprint of its files' keys and versions (mtime+size locally,
generation on GCS) and of any file this process may not read: a new fingerprint means the day is
new, was rewritten, or became readable.

Two kinds of day are listed on every look, because nothing in their folder changes when what held
them back goes away: a day that is not a partition (yet) — held back, not recorded as seen, so it
is requested once its partition exists — and a day with a file the process may not read (a
`chmod` touches neither the file's version nor its folder).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from retrain_assets.adapters.landing import QUARANTINE, LandingZone, day_of, is_landing_file
from retrain_assets.adapters.storage import ObjectStore, StoredObject, TopEntry


@dataclass
class WatchState:
    """What the last look saw; stored as the sensor cursor (JSON)."""

    days: dict[str, str] = field(default_factory=dict)  # day -> fingerprint of its files
    folders: dict[str, int] = field(default_factory=dict)  # local: top entry -> its stamp
    reported: list[str] = field(default_factory=list)  # malformed names already reported
    looks: int = 0
    held: dict[str, str] = field(default_factory=dict)  # day that is no partition -> fingerprint
    unreadable: list[str] = field(default_factory=list)  # days with a file we may not read

    def to_dict(self) -> dict:
        # not dataclasses.asdict: it deep-copies every entry, ~0.1 s a tick at 10,000 days
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict) -> WatchState:
        return cls(**data)


@dataclass
class Changes:
    changed: dict[str, str]  # day -> new fingerprint (the day is new or rewritten)
    malformed: list[str]  # names newly found that carry no valid day (or unsupported files)
    state: WatchState
    listed_days: int  # how many days had their files listed this look (the cost)
    held: list[str] = field(default_factory=list)  # days newly held back: not partitions


def fingerprint(objects: list[StoredObject]) -> str:
    lines = sorted(f"{o.key}\t{o.version}" + ("" if o.readable else "\tunreadable")
                   for o in objects)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def _ignored(name: str) -> bool:
    return name == QUARANTINE or name.startswith(".")


def look(zone: LandingZone, state: WatchState, *, full_rescan_every: int = 120,
         is_partition: Callable[[str], bool] = lambda day: True) -> Changes:
    """The days that are new or were rewritten since `state`, and the new state. A new or
    rewritten day that `is_partition` refuses is held back instead (see the module notes)."""
    full = state.looks % max(1, full_rescan_every) == 0
    store = zone.store
    recheck = {*state.held, *state.unreadable}
    entries = store.top_entries()
    if entries is not None:
        candidates, folders, malformed = _stamped_candidates(store, entries, state, full,
                                                             recheck)
    else:
        candidates, malformed = _listed_candidates(store, state, full, recheck)
        folders = {}
    changed, held, listed = {}, dict(state.held), 0
    unreadable = set(state.unreadable)
    for day, objects in candidates.items():
        listed += 1
        landed = [o for o in objects if is_landing_file(o.key)]
        malformed += [o.key for o in objects if not is_landing_file(o.key)
                      and not o.key.rsplit("/", 1)[-1].startswith(".")]
        held.pop(day, None)
        unreadable.discard(day)
        if not all(o.readable for o in landed):
            unreadable.add(day)
        if not landed or fingerprint(landed) == state.days.get(day):
            continue
        if is_partition(day):
            changed[day] = fingerprint(landed)
        else:
            held[day] = fingerprint(landed)
    new = [name for name in dict.fromkeys(malformed) if name not in state.reported]
    return Changes(changed=changed, malformed=new, listed_days=listed,
                   held=sorted(day for day in held if held[day] != state.held.get(day)),
                   state=WatchState(
                       days={**state.days, **changed}, folders=folders,
                       reported=[*state.reported, *new], looks=state.looks + 1, held=held,
                       unreadable=sorted(unreadable)))


def _stamped_candidates(store: ObjectStore, entries: list[TopEntry], state: WatchState,
                        full: bool, recheck: set[str]):
    """Days whose top entry (folder or flat file) changed stamp, and the `recheck` days; only
    those days' entries are listed (on a full rescan, every day's)."""
    folders, changed_days, malformed = {}, set(), []
    by_stem = defaultdict(list)  # "<day>" and "<day>.csv" -> the top entries a day is made of
    for entry in entries:
        if _ignored(entry.name):
            continue
        folders[entry.name] = entry.stamp
        by_stem[entry.name if entry.is_folder else entry.name.rsplit(".", 1)[0]].append(entry)
        if not full and state.folders.get(entry.name) == entry.stamp:
            continue
        day = day_of(f"{entry.name}/" if entry.is_folder else entry.name)
        if day is None:
            malformed.append(entry.name + ("/" if entry.is_folder else ""))
        else:  # its unchanged entries belong to the day's fingerprint too: all are listed
            changed_days.add(day)
    candidates = {day: [obj for entry in by_stem[day] for obj in _objects(store, entry)
                        if day_of(obj.key) == day] for day in changed_days | recheck}
    return candidates, folders, malformed


def _objects(store: ObjectStore, entry: TopEntry) -> list[StoredObject]:
    """A top entry's files: a day folder's contents, or the flat file itself (none if it is
    not a file the store lists, e.g. a symbolic link)."""
    if entry.is_folder:
        return store.list(f"{entry.name}/")
    try:
        return [store.stat(entry.name)]
    except FileNotFoundError:
        return []


def _listed_candidates(store: ObjectStore, state: WatchState, full: bool, recheck: set[str]):
    """Objects from the newest day already seen on (`list_from`: one request on GCS), and the
    `recheck` days before it; on a full rescan, everything."""
    if state.days and not full:
        newest = max(state.days)
        objects = [*store.list_from(newest),
                   *(o for day in sorted(recheck) if day < newest for o in store.list(day))]
    else:
        objects = store.list()
    by_day: dict[str, list[StoredObject]] = {day: [] for day in recheck}
    malformed = []
    for obj in objects:
        if _ignored(obj.key.split("/", 1)[0]):
            continue
        day = day_of(obj.key)
        if day is None:
            malformed.append(obj.key)
        else:
            by_day.setdefault(day, []).append(obj)
    return by_day, malformed
