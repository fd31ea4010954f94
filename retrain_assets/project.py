"""What the asset factories are built from: the dataset spec and the daily partitions."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import dagster as dg

from retrain_assets.checks import frames_type
from retrain_assets.core.dataset import DatasetSpec, load_spec
from retrain_assets.core.features import features_contract_after_raw, features_schema
from retrain_assets.schemas import Predictions

DEFAULT_START_DATE = "2025-01-01"
# A backfill longer than this is split into runs of at most this many days, which the run queue
# runs at once (bench/README.md: a year as two runs on two cores beats one run; below about half a
# year the second run's start-up eats the gain).
DAYS_PER_RUN = 183


@dataclass
class Project:
    spec: DatasetSpec
    start_date: str = DEFAULT_START_DATE
    max_days_per_run: int | None = DAYS_PER_RUN  # None: a backfill of any length is one run
    partitions: dg.DailyPartitionsDefinition = field(init=False)

    def __post_init__(self) -> None:
        self.partitions = dg.DailyPartitionsDefinition(start_date=self.start_date)
        self.raw_type = frames_type(self.spec.raw_schema)
        self.features_schema = features_schema(self.spec)
        self.features_contract = features_contract_after_raw(self.spec)  # what `features` checks
        self.features_type = frames_type(self.features_schema)
        self.predictions_type = frames_type(Predictions)

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
        RETRAIN_ASSETS_START_DATE (first daily partition, default 2025-01-01) and
        RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_RUN (unset: `DAYS_PER_RUN`; `all`: one run per
        backfill, as the CLI's `--partition-range` needs)."""
        chunk = os.environ.get("RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_RUN") or str(DAYS_PER_RUN)
        if chunk != "all" and not (chunk.isdigit() and int(chunk) > 0):
            raise ValueError(f"RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_RUN is {chunk!r}: set it to "
                             "a number of days (at least 1) or to 'all' (one run per backfill)")
        return cls(spec=load_spec(os.environ.get("RETRAIN_ASSETS_DATASET", "taxi")),
                   start_date=os.environ.get("RETRAIN_ASSETS_START_DATE", DEFAULT_START_DATE),
                   max_days_per_run=None if chunk == "all" else int(chunk))
