"""Is a landed day plausible next to the days before it? Row volume and replayed content.

A day can satisfy its contract and still be wrong: exported twice (20x the usual rows), cut
short, or yesterday's trips replayed under new ids. Each stored day keeps a small profile (its
row count and one 32-bit hash per row of its content), so the next days are judged against
recent ones without reading their data again.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from statistics import median

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class VolumeThresholds:
    """When the row-volume and replay checks fail, and whether a failure blocks downstream."""

    max_ratio: float = 4.0  # fail above max_ratio x the recent median, or below median / max_ratio
    max_replay_share: float = 0.05  # fail when more of the day's rows than this repeat content
    recent_days: int = 7  # the calendar days before a day it is compared with
    min_recent_days: int = 3  # fewer stored days than this: not enough history to judge
    blocking: bool = False  # False: WARN and carry on; True: ERROR and stop downstream

    def __post_init__(self) -> None:
        if self.max_ratio <= 1:
            raise ValueError(f"max_ratio must be above 1 (got {self.max_ratio}): it is how many "
                             "times the recent median a day's row count may be")
        if not 0 < self.max_replay_share <= 1:
            raise ValueError(f"max_replay_share must be in (0, 1] (got {self.max_replay_share}); "
                             "1 turns the replay check off")
        if not 1 <= self.min_recent_days <= self.recent_days:
            raise ValueError(f"need 1 <= min_recent_days ({self.min_recent_days}) <= "
                             f"recent_days ({self.recent_days})")


@dataclass(frozen=True)
class LandingRecord:
    """Where a stored day came from, and whether a newer landing of it was rejected."""

    day: str
    rows: int
    run_id: str
    stored_at: str  # ISO time the landing was accepted
    files: tuple[str, ...] = ()
    rejected_landing: Mapping[str, str] | None = None  # run_id, at, problem of a newer landing

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes) -> LandingRecord:
        raw = json.loads(data)
        return cls(**{**raw, "files": tuple(raw["files"])})


@dataclass(frozen=True)
class DayProfile:
    """A stored day as the next days' checks see it."""

    record: LandingRecord
    content_hashes: np.ndarray = field(repr=False)  # uint32, one per stored row


def content_columns(columns: Sequence[str], *, id_column: str, time_column: str) -> list[str]:
    """What a replay keeps: every column but the id (new ids) and the time (a replayed day is
    shifted onto the new day, or its contract would already have rejected it)."""
    return [c for c in columns if c not in (id_column, time_column)]


def content_hashes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """One 32-bit hash per row of the given columns: the top half of pandas' vectorised 64-bit
    row hash. Half the storage, and chance matches stay negligible: against a week of 20,000-row
    days under one row a day (7 x 20,000 / 2**32 per row), far below the replay threshold."""
    full = pd.util.hash_pandas_object(frame[list(columns)], index=False).to_numpy()
    return (full >> np.uint64(32)).astype(np.uint32)


def hashes_to_bytes(hashes: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    pd.DataFrame({"content_hash": hashes}).to_parquet(buffer, index=False)
    return buffer.getvalue()


def hashes_from_bytes(data: bytes) -> np.ndarray:
    return pd.read_parquet(io.BytesIO(data))["content_hash"].to_numpy()


def recent_days(day: str, how_many: int) -> list[str]:
    """The `how_many` calendar days before `day`, oldest first."""
    start = date.fromisoformat(day)
    return [(start - timedelta(days=n)).isoformat() for n in range(how_many, 0, -1)]


@dataclass(frozen=True)
class Judgement:
    """One day's outcome of one check: passed, why (in words), and the numbers behind it."""

    passed: bool
    description: str
    figures: Mapping[str, object]


def judge_volume(day: str, rows: int, recent_rows: Mapping[str, int],
                 thresholds: VolumeThresholds) -> Judgement:
    """Today's row count against the median of the recent stored days."""
    if len(recent_rows) < thresholds.min_recent_days:
        return Judgement(True, f"{day}: {rows:,} rows; only {len(recent_rows)} of the "
                               f"{thresholds.recent_days} days before it are stored (at least "
                               f"{thresholds.min_recent_days} are needed to judge the volume)",
                         {"rows": rows, "recent_days": sorted(recent_rows)})
    typical = float(median(recent_rows.values()))
    ratio = rows / typical if typical else float("inf")
    figures = {"rows": rows, "recent_median": typical, "ratio": round(ratio, 3),
               "max_ratio": thresholds.max_ratio, "recent_days": sorted(recent_rows)}
    within = 1 / thresholds.max_ratio <= ratio <= thresholds.max_ratio
    compared = (f"{day}: {rows:,} rows is {ratio:.2f}x the median of the {len(recent_rows)} "
                f"stored days before it ({typical:,.0f})")
    if within:
        return Judgement(True, f"{compared}, within {thresholds.max_ratio:g}x either way",
                         figures)
    what = "more" if ratio > 1 else "fewer"
    return Judgement(False, f"{compared}: {what} than the {thresholds.max_ratio:g}x allowed. Was "
                            "the day exported twice, cut short, or landed with another day's "
                            "files? Look at the day's files in the landing zone; if the volume "
                            "is real, nothing is wrong (raise RETRAIN_ASSETS_VOLUME_MAX_RATIO if "
                            "such days are normal for this feed).", figures)


def judge_replay(day: str, hashes: np.ndarray, recent: Mapping[str, np.ndarray],
                 thresholds: VolumeThresholds, *, content: Sequence[str]) -> Judgement:
    """The share of today's rows whose content repeats an earlier row of the day or a row of
    the recent stored days."""
    rows, today = len(hashes), pd.Series(hashes)
    within_day = today.duplicated().to_numpy()
    # one hash lookup against all recent days (pandas' isin hashes; numpy's sorts), and which
    # days the repeats came from only for the rows found
    from_recent = today.isin(np.concatenate(list(recent.values()))).to_numpy() if recent \
        else np.zeros(rows, dtype=bool)
    repeats = today[from_recent]
    by_day = {d: n for d, h in recent.items() if (n := int(repeats.isin(h).sum()))}
    seen_before = within_day | from_recent
    share = float(seen_before.mean()) if rows else 0.0
    figures = {"rows": rows, "repeated_rows": int(seen_before.sum()),
               "repeated_share": round(share, 4), "max_replay_share": thresholds.max_replay_share,
               "repeated_within_day": int(within_day.sum()), "repeated_from_days": by_day,
               "compared_days": sorted(recent), "content_columns": list(content)}
    summary = (f"{day}: {int(seen_before.sum()):,} of {rows:,} rows ({share:.1%}) repeat the "
               f"content ({', '.join(content)}) of an earlier row: "
               f"{int(within_day.sum()):,} within the day"
               + "".join(f", {n:,} from {d}" for d, n in sorted(by_day.items())))
    if share <= thresholds.max_replay_share:
        return Judgement(True, f"{summary}; at most {thresholds.max_replay_share:.0%} may",
                         figures)
    return Judgement(False, f"{summary}; more than the {thresholds.max_replay_share:.0%} allowed. "
                            "The same records replayed under new ids, or a day landed twice? "
                            "Compare the day's files with those days' in the landing zone; if "
                            "the repeats are real (coarse values that often coincide), raise "
                            "RETRAIN_ASSETS_REPLAY_MAX_SHARE.", figures)
