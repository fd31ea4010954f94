"""What the asset factories are built from: the dataset spec and the daily partitions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, timedelta

import dagster as dg

from retrain_assets.core.champion_health import DEFAULT_CHAMPION_MAX_AGE_DAYS
from retrain_assets.core.dataset import DatasetSpec, load_spec
from retrain_assets.core.features import features_contract_after_raw, features_schema
from retrain_assets.core.labels import raw_contract
from retrain_assets.core.predictions import predictions_model
from retrain_assets.core.volume import VolumeThresholds
from retrain_assets.pipeline.checks import frames_type
from retrain_assets.pipeline.names import Names

DEFAULT_START_DATE = "2025-01-01"
DEFAULT_FRESHNESS_DEADLINE = "0 6 * * *"  # a day is expected by 06:00 UTC the next day
# A backfill longer than this is split into runs of at most this many days, which the run queue
# runs at once (bench/README.md: a year as two runs on two cores beats one run; below about half a
# year the second run's start-up eats the gain).
DAYS_PER_RUN = 183


@dataclass
class Project:
    spec: DatasetSpec
    name: str | None = None  # the model's name in a project of several (see `Names`)
    start_date: str = DEFAULT_START_DATE
    end_date: str | None = None  # the last day with data (included); None: open-ended
    max_days_per_run: int | None = DAYS_PER_RUN  # None: a backfill of any length is one run
    volume: VolumeThresholds = field(default_factory=VolumeThresholds)
    freshness_deadline_cron: str = DEFAULT_FRESHNESS_DEADLINE
    sensor_interval_seconds: int = 15  # how often landing_zone_sensor looks
    # drift_retrain_sensor's tick is a few indexed queries: it can look soon after a landing
    # run's checks (None: min(sensor_interval_seconds, 5))
    retrain_sensor_interval_seconds: int | None = None
    landing_full_rescan: int = 120  # every this many looks, every day folder is listed again
    # champion_fresh warns when the champion trained on data older than this (newest day's view)
    champion_max_age_days: int = DEFAULT_CHAMPION_MAX_AGE_DAYS
    partitions: dg.DailyPartitionsDefinition = field(init=False)

    def __post_init__(self) -> None:
        self.names = Names(self.name)
        self.partitions = daily_partitions(self.start_date, self.end_date)
        self.raw_type = frames_type(raw_contract(self.spec), self.names)
        self.features_schema = features_schema(self.spec)
        self.features_contract = features_contract_after_raw(self.spec)  # what `features` checks
        self.features_type = frames_type(self.features_schema, self.names)
        self.predictions_type = frames_type(predictions_model(self.spec.task), self.names)

    @property
    def backfill_policy(self) -> dg.BackfillPolicy:
        """Runs of at most `max_days_per_run` days, so a long backfill uses more than one core;
        None: one run per backfill, which `dagster asset materialize --partition-range`
        requires (it refuses any other policy)."""
        if self.max_days_per_run is None:
            return dg.BackfillPolicy.single_run()
        return dg.BackfillPolicy.multi_run(max_partitions_per_run=self.max_days_per_run)

    @classmethod
    def from_env(cls) -> Project:
        """RETRAIN_ASSETS_DATASET (built-in name or `package.module:SPEC`, default `taxi`),
        RETRAIN_ASSETS_START_DATE (first daily partition, default 2025-01-01),
        RETRAIN_ASSETS_END_DATE (last daily partition, for a dataset that ends; unset: a
        partition for every day up to yesterday),
        RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_RUN (unset: `DAYS_PER_RUN`; `all`: one run per
        backfill, as the CLI's `--partition-range` needs), and the landed days' checks:
        RETRAIN_ASSETS_VOLUME_MAX_RATIO, RETRAIN_ASSETS_REPLAY_MAX_SHARE,
        RETRAIN_ASSETS_VOLUME_CHECKS_BLOCK (`true`: ERROR and block downstream instead of WARN)
        and RETRAIN_ASSETS_FRESHNESS_DEADLINE_CRON."""
        env = os.environ.get
        chunk = env("RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_RUN") or str(DAYS_PER_RUN)
        if chunk != "all" and not (chunk.isdigit() and int(chunk) > 0):
            raise ValueError(f"RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_RUN is {chunk!r}: set it to "
                             "a number of days (at least 1) or to 'all' (one run per backfill)")
        defaults = VolumeThresholds()
        volume = VolumeThresholds(
            max_ratio=_env_number("RETRAIN_ASSETS_VOLUME_MAX_RATIO", defaults.max_ratio),
            max_replay_share=_env_number("RETRAIN_ASSETS_REPLAY_MAX_SHARE",
                                         defaults.max_replay_share),
            blocking=_env_flag("RETRAIN_ASSETS_VOLUME_CHECKS_BLOCK", defaults.blocking))
        interval = env("RETRAIN_ASSETS_RETRAIN_SENSOR_INTERVAL_SECONDS")
        return cls(spec=load_spec(env("RETRAIN_ASSETS_DATASET", "taxi")),
                   sensor_interval_seconds=int(_env_number(
                       "RETRAIN_ASSETS_SENSOR_INTERVAL_SECONDS", 15)),
                   retrain_sensor_interval_seconds=int(interval) if interval else None,
                   landing_full_rescan=int(_env_number("RETRAIN_ASSETS_LANDING_FULL_RESCAN",
                                                       120)),
                   start_date=env("RETRAIN_ASSETS_START_DATE", DEFAULT_START_DATE),
                   end_date=env("RETRAIN_ASSETS_END_DATE") or None,
                   max_days_per_run=None if chunk == "all" else int(chunk), volume=volume,
                   freshness_deadline_cron=env("RETRAIN_ASSETS_FRESHNESS_DEADLINE_CRON",
                                               DEFAULT_FRESHNESS_DEADLINE))


def daily_partitions(start_date: str, end_date: str | None) -> dg.DailyPartitionsDefinition:
    """One partition per day from `start_date` through `end_date` (both included), or through
    yesterday when `end_date` is None.

    A dataset that ends (a year of history, a finished study) declares its last day, so the UI
    counts, lists and offers only days that can have data, not every day up to today.
    """
    if end_date is None:
        return dg.DailyPartitionsDefinition(start_date=start_date)
    try:
        last = date.fromisoformat(end_date)
    except ValueError:
        raise ValueError(f"end_date {end_date!r} is not a date: write the last "
                         "day with data as YYYY-MM-DD, or unset it for open-ended "
                         "partitions") from None
    if last < date.fromisoformat(start_date):
        raise ValueError(f"end_date {end_date} is before start_date {start_date}: the last "
                         "day with data must be on or after the first")
    # Dagster's end_date is the first day without a partition
    return dg.DailyPartitionsDefinition(start_date=start_date,
                                        end_date=(last + timedelta(days=1)).isoformat())


def _env_number(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number; set it to e.g. {default:g}, or "
                         "unset it for the default") from None


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"{name}={value!r} is not true or false")
    return value.strip().lower() in ("true", "1", "yes")
