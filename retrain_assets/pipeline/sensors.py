"""The automated loop: new data is scored and monitored, drift asks for a retrain, failures alert.

- `landing_zone_sensor`: a day that appears (or is rewritten) in the landing zone gets one run
  of raw_data → features → predictions → drift_report for exactly that partition; a day that is
  not a partition (yet) is held back with a warning and never blocks the others.
- `drift_retrain_sensor`: a failed drift/decay check, a change the champion did not train
  from, enough new rows since the last training, or (before any champion) enough days of
  features asks for one `training_job` run, tagged with why. A failure that arrives while a
  retrain may not start is deferred, not dropped (`core.policy`).
- `run_failure_alert`: every failed run is reported with its failed steps, to the log and, when
  `SLACK_BOT_TOKEN` is set, to Slack.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import dagster as dg
from pydantic import Field

from retrain_assets.adapters.landing_watch import WatchState, look
from retrain_assets.adapters.registry import CHAMPION
from retrain_assets.core.dataset import LabelFeed
from retrain_assets.core.evaluation import WindowSettings, window_days
from retrain_assets.core.labels import labelled_rows_gained
from retrain_assets.core.policy import (
    CHANGE_FOLLOW_UP,
    ESTIMATED_DECAY,
    CheckResult,
    DriftAsk,
    FollowUp,
    OpenChange,
    RetrainRequest,
    change_follow_up,
    drift_held_back,
    first_champion_due,
    open_change,
    retrain_request,
    standing_failures,
)
from retrain_assets.pipeline.assets.labels import LABELLED_ROWS
from retrain_assets.pipeline.assets.monitoring import DRIFT_CHECKS, NO_PERFORMANCE_DECAY
from retrain_assets.pipeline.assets.training import EvaluationConfig, TrainingConfig
from retrain_assets.pipeline.dagster_internals import (
    AssetCheckExecutionRecordStatus,
    get_current_datetime,
)
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import (
    LandingZoneResource,
    MlflowResource,
    ParquetIOManager,
)

log = logging.getLogger(__name__)

TRIGGER = "retrain/trigger"  # dagster.yaml limits runs carrying this tag to one at a time
# retrains monitoring asked for: by failed checks, or by a change no champion trained from yet
MONITORING_TRIGGERS = ("drift", "performance_decay", CHANGE_FOLLOW_UP)
INGEST_ASSETS = ("raw_data", "features")
SCORING_ASSETS = ("predictions", "drift_report")
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
             dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


DEFAULT_MIN_INTERVAL_SECONDS = 600
DEFAULT_BOOTSTRAP_DAYS = 14


class RetrainPolicy(dg.ConfigurableResource):
    """When drift_retrain_sensor may ask for a retrain (env: RETRAIN_ASSETS_RETRAIN_*)."""

    min_interval_seconds: int = Field(
        default=DEFAULT_MIN_INTERVAL_SECONDS,
        description="No retrain for failed checks or an open change sooner than this after "
                    "the previous one monitoring asked for; they wait for its end")
    bootstrap_days: int = Field(
        default=DEFAULT_BOOTSTRAP_DAYS,
        description="With no champion yet, train the first one once this many days of "
                    "features exist, and again each new day until one is blessed (0 = off)")
    min_new_rows: int = Field(
        default=200_000, description="Retrain once this many new feature rows (a label-fed "
                                     "model's: labelled rows, the only ones it trains on) "
                                     "arrived since the last training (0 turns the "
                                     "data-volume trigger off)")

    training: TrainingConfig = Field(
        default_factory=TrainingConfig,
        description="candidate_model's settings for the retrains this policy requests, e.g. "
                    "window_days: 56 (unset values: TrainingConfig's defaults)")
    evaluation: EvaluationConfig = Field(
        default_factory=EvaluationConfig,
        description="evaluation_report's settings for those retrains, e.g. segment_columns: "
                    "[pickup_zone] (unset values: EvaluationConfig's defaults)")

    @classmethod
    def from_env(cls) -> RetrainPolicy:
        env = os.environ.get
        return cls(min_interval_seconds=int(env("RETRAIN_ASSETS_RETRAIN_MIN_INTERVAL_SECONDS",
                                                DEFAULT_MIN_INTERVAL_SECONDS)),
                   bootstrap_days=int(env("RETRAIN_ASSETS_RETRAIN_BOOTSTRAP_DAYS",
                                          DEFAULT_BOOTSTRAP_DAYS)),
                   min_new_rows=int(env("RETRAIN_ASSETS_RETRAIN_MIN_NEW_ROWS", 200_000)),
                   training=TrainingConfig(**json.loads(
                       env("RETRAIN_ASSETS_RETRAIN_TRAINING_CONFIG", "{}"))))

    def window_settings(self) -> WindowSettings:
        """The window rule of the retrains this policy requests."""
        return self.training.window_settings()

    def run_config(self, names: Names, change_day: str | None = None) -> dict:
        """Run config of a requested retrain: the settings that differ from TrainingConfig's
        defaults; `change_day` lets its window follow the change."""
        values = {**self.training.model_dump(exclude_defaults=True),
                  **({"change_day": change_day} if change_day else {})}
        gate = self.evaluation.model_dump(exclude_defaults=True)
        ops = {**({names.op(names.candidate_model): {"config": values}} if values else {}),
               **({names.op(names.evaluation_report): {"config": gate}} if gate else {})}
        return {"ops": ops} if ops else {}


# ---------------------------------------------------------------------------------------------
# landing_zone_sensor


def landing_run_request(names: Names, day: str, fingerprint: str, *,
                        with_scoring: bool, labelled: bool = False) -> dg.RunRequest:
    """One run for one landed day. The run key is the day plus its files' fingerprint, so a
    re-evaluated tick (daemon restarted before the cursor was saved) asks for the same run and
    Dagster drops the duplicate, while a rewritten day gets a new key. A scored day whose
    labels arrived first (`labelled`) gets its realized performance in the same run."""
    assets = (INGEST_ASSETS + (SCORING_ASSETS if with_scoring else ())
              + (("performance",) if with_scoring and labelled else ()))
    return dg.RunRequest(run_key=f"{day}@{fingerprint}", partition_key=day,
                         asset_selection=[names.asset(a) for a in assets],
                         tags={"landing/fingerprint": fingerprint, "landing/day": day})


def hold_reasons(days: list[str], first: str, last: str | None, today: str, *,
                 end: str | None = None) -> list[str]:
    """Why landed days are not partitions, and what happens or what to do: one sentence per
    kind (too early, past the dataset's declared last day `end`, today, later), however many
    days a zone holds of each."""
    beyond = [day for day in days if end is not None and day > end]
    early = [day for day in days if day < first]
    later = [day for day in days if first <= day and day != today and day not in beyond]
    reasons = []
    if early:
        reasons.append(f"{_days(early)} before the first partition {first}: to ingest "
                       f"{'it' if len(early) == 1 else 'them'}, set the model's start_date "
                       f"to {early[0]} or earlier (or move {'it' if len(early) == 1 else 'them'}"
                       " out of the zone)")
    if beyond:
        them = "it" if len(beyond) == 1 else "them"
        reasons.append(f"{_days(beyond)} after the dataset's last day {end} "
                       f"(end_date): to ingest {them}, set the model's end_date to "
                       f"{beyond[-1]} or later, or unset it")
    if today in days and first <= today and today not in beyond:
        reasons.append(f"{today} is today (UTC): its partition exists from 00:00 UTC tomorrow, "
                       "when it is ingested")
    if later:
        reasons.append(f"{_days(later)} after the last partition {last or '(none yet)'}: "
                       f"ingested once {'its' if len(later) == 1 else 'their'} partition exists; "
                       "if a date is wrong, rename the folder")
    return reasons


def landing_summary(changed: dict[str, str], before: WatchState, *, with_scoring: bool) -> str:
    """What a tick that requests runs found, in words: which days are new, which rewritten,
    and what runs for them."""
    new = sorted(day for day in changed if day not in before.days)
    rewritten = sorted(day for day in changed if day in before.days)
    found = "; ".join(part for part in (
        f"new: {', '.join(new)}" if new else "",
        f"rewritten (files changed since they were ingested): {', '.join(rewritten)}"
        if rewritten else "") if part)
    runs = ("raw_data → features → predictions → drift_report" if with_scoring else
            "raw_data → features (no champion yet: predictions and drift_report start once "
            "production_model has one)")
    return f"{found}. One run per day of {runs}."


def landing_cursor(state: WatchState) -> str:
    """The landing sensor's cursor: compact JSON led by a sentence saying what it holds."""
    days = sorted(state.days)
    seen = f"{len(days)} day(s) seen ({days[0]}..{days[-1]})" if days else "no day seen yet"
    held = f", held back: {', '.join(sorted(state.held))}" if state.held else ""
    return json.dumps({"summary": f"{seen}{held}; look {state.looks}", **state.to_dict()},
                      separators=(",", ":"))


def landing_state(cursor: str) -> WatchState:
    data = json.loads(cursor)
    data.pop("summary", None)
    return WatchState.from_dict(data)


def partition_bounds(project: Project) -> tuple[str, str | None, str | None]:
    """The first and the last partition key now (None before the first day ends), and the
    dataset's declared last day (Project.end_date; Dagster's end excludes its day). Keys are
    ISO dates: they compare as strings."""
    partitions = project.partitions
    end = (partitions.end - timedelta(days=1)).strftime(partitions.fmt) \
        if partitions.end else None
    return (partitions.start.strftime(partitions.fmt), partitions.get_last_partition_key(),
            end)


def _days(days: list[str]) -> str:
    return f"{days[0]} is" if len(days) == 1 else \
        f"{len(days)} days ({days[0]}..{days[-1]}) are"


def build_landing_zone_sensor(project: Project) -> dg.SensorDefinition:
    names = project.names

    @dg.sensor(
        name=names.of("landing_zone_sensor"),
        minimum_interval_seconds=project.sensor_interval_seconds,
        target=dg.AssetSelection.assets(*(names.asset(a) for a in INGEST_ASSETS +
                                          SCORING_ASSETS + (
                                              ("performance",) if project.spec.labels else ()))),
        # the io manager tells which days' labels are stored, for a label-fed model only
        required_resource_keys={names.of("landing_zone"), names.of("mlflow"),
                                *([names.of("io_manager")] if project.spec.labels else [])},
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="A new or rewritten day in the landing zone → one run of raw_data → "
                    "features (→ predictions → drift_report once a champion exists; → "
                    "performance for a label-fed day whose labels are in) for that "
                    "partition. Days already landed when the sensor first looks are history: "
                    "backfill them. Malformed names are reported once and skipped; a day that "
                    "is not a partition (today's, a future or too early date, or one after "
                    "the dataset's declared last day) is held back with one warning, saying "
                    "what takes it.",
    )
    def landing_zone_sensor(context: dg.SensorEvaluationContext, **_on_context):
        landing_zone: LandingZoneResource = names.resource(context, "landing_zone")
        mlflow: MlflowResource = names.resource(context, "mlflow")
        zone = landing_zone.zone()
        first_look = context.cursor is None
        state = WatchState() if first_look else landing_state(context.cursor)
        changes, cursor, held = look_at_zone(context, project, zone, state, "landing zone")
        for name in changes.malformed:
            context.log.warning(
                f"landing zone {zone.url}: skipped {name!r}: a landed file must be "
                "<YYYY-MM-DD>/<name>.csv|.parquet or <YYYY-MM-DD>.csv|.parquet. Rename or "
                "move it; it is reported only once.")
        skipped = (f"; skipped malformed name(s): {', '.join(changes.malformed)}"
                   if changes.malformed else "")
        if first_look:
            days = sorted(changes.changed)
            history = (f"{len(days)} day(s) already landed ({days[0]}..{days[-1]}) are "
                       "history: backfill them (the UI, or `RETRAIN_ASSETS_BACKFILL_MAX_DAYS_PER_"
                       "RUN=all dagster asset materialize --select "
                       f"{names.raw_data.to_user_string()},"
                       f"{names.features.to_user_string()} --partition-range "
                       f"{days[0]}...{days[-1]}`)"
                       if days else "no day that is a partition has landed yet")
            return dg.SensorResult(cursor=cursor, skip_reason=dg.SkipReason(
                f"first look at {zone.url}: {history}{held}; from now on each new or "
                f"rewritten day gets a run{skipped}"))
        if not changes.changed:
            return dg.SensorResult(cursor=cursor, skip_reason=dg.SkipReason(
                f"no new or rewritten day in {zone.url} ({len(changes.state.days)} day(s) "
                f"landed so far){held}{skipped}"))
        with_scoring = mlflow.registry().version_for(CHAMPION) is not None
        # stored, not materialized: a day whose label files broke their contract is
        # materialized with nothing stored, and performance would have nothing to judge
        labelled = (names.resource(context, "io_manager").stored_partitions(names.labels)
                    if project.spec.labels and with_scoring else ())
        context.log.info(landing_summary(changes.changed, state, with_scoring=with_scoring))
        return dg.SensorResult(cursor=cursor, run_requests=[
            landing_run_request(names, day, fp, with_scoring=with_scoring,
                                labelled=day in labelled)
            for day, fp in sorted(changes.changed.items())])

    return landing_zone_sensor


def look_at_zone(context: dg.SensorEvaluationContext, project: Project, zone, state: WatchState,
                 what: str):
    """One look at a zone of daily files for this model's partitions: the changes, the new
    cursor, and the days held back so far (as a tick message suffix); newly held days are
    logged once."""
    first, last, end = partition_bounds(project)
    changes = look(zone, state, full_rescan_every=project.landing_full_rescan,
                   is_partition=lambda day: last is not None and first <= day <= last)
    today = get_current_datetime().date().isoformat()
    for reason in hold_reasons(changes.held, first, last, today, end=end):
        context.log.warning(f"{what} {zone.url}: held back {reason}.")
    held = "".join(f"; held back {reason}" for reason in hold_reasons(
        sorted(changes.state.held), first, last, today, end=end))
    return changes, landing_cursor(changes.state), held


def build_labels_sensor(project: Project) -> dg.SensorDefinition:
    """Label files are watched like feature files (`landing_watch.look`), in their own zone and
    with their own cursor, so a late label file never re-runs its day's ingestion."""
    names = project.names

    @dg.sensor(
        name=names.of("labels_sensor"),
        minimum_interval_seconds=project.sensor_interval_seconds,
        target=dg.AssetSelection.assets(names.labels, names.performance),
        required_resource_keys={names.of("labels_zone"), names.of("io_manager")},
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="A new or rewritten day in the label zone → one run of labels (→ "
                    "performance once the day's predictions are stored) for the day the labels "
                    "refer to, so "
                    "a late file updates that day's realized metric. Days already there when "
                    "the sensor first looks are history: backfill them.",
    )
    def labels_sensor(context: dg.SensorEvaluationContext, **_on_context):
        zone = names.resource(context, "labels_zone").zone()
        first_look = context.cursor is None
        state = WatchState() if first_look else landing_state(context.cursor)
        changes, cursor, _ = look_at_zone(context, project, zone, state, "label zone")
        for name in changes.malformed:
            context.log.warning(f"label zone {zone.url}: skipped {name!r}: a label file must "
                                "be <YYYY-MM-DD>/<name>.csv|.parquet or "
                                "<YYYY-MM-DD>.csv|.parquet, named for the day its labels "
                                "refer to. Rename or move it; it is reported only once.")
        if first_look or not changes.changed:
            days = sorted(changes.changed if first_look else changes.state.days)
            seen = f"{len(days)} labelled day(s)" + (f" ({days[0]}..{days[-1]})" if days else "")
            return dg.SensorResult(cursor=cursor, skip_reason=dg.SkipReason(
                f"first look at {zone.url}: {seen} already there are history: backfill "
                f"{names.labels.to_user_string()} for them" if first_look else
                f"no new or rewritten labelled day in {zone.url} ({seen} so far)"))
        # stored, not materialized: a day scoring skipped (e.g. one its champion trained on)
        # is materialized with nothing stored, and performance would have nothing to judge
        io_manager: ParquetIOManager = names.resource(context, "io_manager")
        scored = io_manager.stored_partitions(names.predictions)
        unscored = sorted(day for day in changes.changed if day not in scored)
        context.log.info(f"labels landed for {', '.join(sorted(changes.changed))}: one run "
                         f"per day of labels → performance" + (
                             f" (labels only for {', '.join(unscored)}: no predictions are "
                             "stored for them; materialize performance once they are "
                             "scored)" if unscored else ""))
        return dg.SensorResult(cursor=cursor, run_requests=[
            dg.RunRequest(run_key=f"labels:{day}@{fp}", partition_key=day,
                          asset_selection=[names.labels, *([names.performance]
                                                           if day in scored else [])],
                          tags={"labels/fingerprint": fp, "labels/day": day})
            for day, fp in sorted(changes.changed.items())])

    return labels_sensor


# ---------------------------------------------------------------------------------------------
# drift_retrain_sensor


RECENT_RESULTS = 100  # per check and tick: enough to see the days around the newest failures
SEEN_LIMIT = 1_000


def recent_check_results(instance: dg.DagsterInstance, names: Names, *,
                         label_feed: LabelFeed | None = None) -> list[CheckResult]:
    """The latest evaluations of the monitoring checks, passed and failed, newest first:
    drift_report's, and with a label feed the decay check of `performance` instead of
    drift_report's (a day is judged on its realized metric once its labels arrive), plus
    drift_report's estimated decay when the feed asks for it as a trigger.

    Reads only the latest few executions of each check (an indexed query, on SQLite and
    PostgreSQL alike). Ids rather than a high-water mark tell new from seen: a check planned
    earlier by a slower run can be evaluated after a later one.
    """
    results = []
    estimated = (ESTIMATED_DECAY,) if label_feed and label_feed.estimate_trigger else ()
    for check_name in (*DRIFT_CHECKS, *estimated):
        asset = (names.performance if label_feed and check_name == NO_PERFORMANCE_DECAY
                 else names.drift_report)
        records = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(asset, check_name), limit=RECENT_RESULTS,
            status={AssetCheckExecutionRecordStatus.SUCCEEDED,
                    AssetCheckExecutionRecordStatus.FAILED})
        for record in records:
            if record.event is None:
                continue
            evaluation = record.event.dagster_event.event_specific_data
            score, version = (evaluation.metadata.get(k) for k in ("score", "model_version"))
            results.append(CheckResult(
                check=check_name, partition=record.partition or "",
                passed=record.status == AssetCheckExecutionRecordStatus.SUCCEEDED,
                execution_id=record.id, score=None if score is None else float(score.value),
                model_version=None if version is None else str(version.value),
                description=evaluation.description or "", asset=asset.path[-1]))
    return results


def last_training_storage_id(instance: dg.DagsterInstance, names: Names) -> int | None:
    records = instance.fetch_materializations(names.candidate_model, limit=1).records
    return records[0].storage_id if records else None


def rows_since_last_training(instance: dg.DagsterInstance, names: Names, *,
                             label_feed: bool = False) -> int:
    """Rows a retrain could newly train on since the latest candidate_model materialization:
    the feature rows materialized after it, or for a label-fed model the rows labelled since
    (`core.labels.labelled_rows_gained`), as candidate_model trains on labelled rows only."""
    after = last_training_storage_id(instance, names)
    if not label_feed:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=names.features, after_storage_id=after),
            limit=10_000).records
        return rows_in(records)
    now = latest_counts(instance, dg.AssetRecordsFilter(
        asset_key=names.labels, after_storage_id=after), LABELLED_ROWS)
    before = latest_counts(instance, dg.AssetRecordsFilter(
        asset_key=names.labels, asset_partitions=list(now), before_storage_id=after),
        LABELLED_ROWS, days=len(now)) if after is not None and now else {}
    return labelled_rows_gained(now, before)


def rows_in(records) -> int:
    """Rows of `features` materialization records: each day's event carries its own count."""
    return sum(int(value.value) for record in records
               if (value := record.asset_materialization.metadata.get("dagster/row_count"))
               is not None)


def latest_counts(instance: dg.DagsterInstance, records: dg.AssetRecordsFilter, key: str, *,
                  days: int | None = None) -> dict[str, int]:
    """Each partition's `key` count on its latest materialization among `records` (that
    records one); stops once it has `days` of them."""
    counts: dict[str, int] = {}
    cursor = None
    while True:  # newest first: the first record of a day is its latest
        page = instance.fetch_materializations(records, limit=1_000, cursor=cursor)
        for record in page.records:
            event = record.asset_materialization
            if event.partition not in counts and key in event.metadata:
                counts[event.partition] = int(event.metadata[key].value)
        if not page.has_more or len(counts) == days:
            return counts
        cursor = page.cursor


def trainable_days(instance: dg.DagsterInstance, names: Names, *,
                   label_feed: bool = False) -> set[str]:
    """The days a retrain could train on: those of `features`, and for a label-fed model
    whose labels are in too (as candidate_model's `trainable_frames`)."""
    days = instance.get_materialized_partitions(names.features)
    return days & instance.get_materialized_partitions(names.labels) if label_feed else days


def rows_by_day(instance: dg.DagsterInstance, names: Names, days: list[str], *,
                label_feed: bool = False) -> dict[str, int]:
    """Rows a retrain would train on of each of `days`: their feature rows, or for a
    label-fed model their labelled rows."""
    if not days:
        return {}
    asset, key = ((names.labels, LABELLED_ROWS) if label_feed
                  else (names.features, "dagster/row_count"))
    return latest_counts(instance, dg.AssetRecordsFilter(asset_key=asset, asset_partitions=days),
                         key, days=len(days))


def window_rows(instance: dg.DagsterInstance, names: Names, settings: WindowSettings, *,
                label_feed: bool = False) -> dict[str, int]:
    """Rows per day a retrain's window would train on now (of the newest trainable days)."""
    window = window_days(list(trainable_days(instance, names, label_feed=label_feed)),
                         settings.window_days)
    return rows_by_day(instance, names, window, label_feed=label_feed)


def debounce_reason(instance: dg.DagsterInstance, training_job: str, min_interval_seconds: int,
                    now: float) -> str | None:
    """Why a retrain for failed checks may not start now, or None when it may.

    The interval counts from the last retrain monitoring asked for: a manual or data-volume
    training does not hold failures back (if it replaced the champion, the failures it
    answered are cleared instead; see `core.policy.standing_failures`).
    """
    in_flight = instance.get_run_records(
        dg.RunsFilter(job_name=training_job, statuses=IN_FLIGHT), limit=1)
    if in_flight:
        return f"training run {in_flight[0].dagster_run.run_id} is still queued or running"
    last = instance.get_run_records(
        dg.RunsFilter(job_name=training_job, tags={TRIGGER: list(MONITORING_TRIGGERS)}),
        limit=1)
    if last:
        waited = now - last[0].create_timestamp.timestamp()
        if waited < min_interval_seconds:
            return (f"the last retrain for failed checks started {waited:.0f}s ago; the minimum "
                    f"interval is {min_interval_seconds}s")
    return None


def retrain_run_request(names: Names, policy: RetrainPolicy, trigger: str, key: str,
                        tags: dict[str, str], change_day: str | None = None) -> dg.RunRequest:
    return dg.RunRequest(run_key=f"retrain:{key}", tags={TRIGGER: trigger, **tags},
                         run_config=policy.run_config(names, change_day))


@dataclass(frozen=True)
class RetrainCursor:
    """What drift_retrain_sensor remembers between ticks: the check executions it has taken in,
    the failures still owed a retrain, the open change (younger than the training window) and
    the last retrain feature drift alone asked for. Stored as JSON a person can read on the sensor's
    page: a summary sentence, the seen execution ids as ranges ("1-79,81-120"), each pending
    failure, the open change and the last drift ask."""

    seen: tuple[int, ...] = ()
    pending: tuple[CheckResult, ...] = ()
    change: OpenChange | None = None
    drift_ask: DriftAsk | None = None

    def to_json(self) -> str:
        seen = sorted(set(self.seen))[-SEEN_LIMIT:]
        owed = ", ".join(f"{p.check}[{p.partition}]" for p in self.pending)
        summary = (f"{len(self.pending)} failure(s) waiting for a retrain: {owed}" if owed
                   else "no failure waiting for a retrain") + \
            f"; {len(seen)} check execution(s) taken in" + \
            (f"; {self.change.summary()}" if self.change else "") + \
            (f"; {self.drift_ask.summary()}" if self.drift_ask else "")
        return json.dumps({"summary": summary, "seen": id_ranges(seen),
                           "pending": [p.to_dict() for p in self.pending],
                           "change": self.change.to_dict() if self.change else None,
                           "drift_ask": self.drift_ask.to_dict() if self.drift_ask else None},
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> RetrainCursor:
        if not text:
            return cls()
        data = json.loads(text)
        if isinstance(data, list):  # before deferral, the cursor was the seen ids alone
            return cls(seen=tuple(data))
        seen = data["seen"]  # a list of ids before the cursor was made readable
        change = data.get("change")  # absent before changes were followed up
        drift_ask = data.get("drift_ask")  # absent before drift retrains were held back
        return cls(seen=tuple(seen if isinstance(seen, list) else ids_in(seen)),
                   pending=tuple(CheckResult.from_dict(p) for p in data["pending"]),
                   change=OpenChange.from_dict(change) if change else None,
                   drift_ask=DriftAsk.from_dict(drift_ask) if drift_ask else None)


def id_ranges(ids: list[int]) -> str:
    """Sorted ids as runs of consecutive ids: [1, 2, 3, 7] → "1-3,7"."""
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def ids_in(ranges: str) -> list[int]:
    """The inverse of `id_ranges`."""
    ids = []
    for part in filter(None, ranges.split(",")):
        first, _, last = part.partition("-")
        ids.extend(range(int(first), int(last or first) + 1))
    return ids


def build_drift_retrain_sensor(project: Project) -> dg.SensorDefinition:
    names = project.names
    interval = project.retrain_sensor_interval_seconds or min(project.sensor_interval_seconds, 5)

    @dg.sensor(
        name=names.of("drift_retrain_sensor"), job_name=names.training_job,
        minimum_interval_seconds=interval,
        required_resource_keys={names.of("retrain_policy"), names.of("mlflow")},
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="A failed drift or performance check on drift_report, enough new "
                    "rows since the last training, or (no champion yet) enough days of "
                    "features → one training_job run (candidate → "
                    "evaluation → promotion if blessed) whose window follows the change. "
                    "Debounced, not dropped: while a training run is queued or running, or "
                    "within the policy's minimum interval after the last retrain for failed "
                    "checks, failures wait in the cursor and ask once it may start, unless a "
                    "later pass or a new champion answered them. A change stays open until "
                    "the training window lies after it: while a champion blessed after it "
                    "began but trained mostly before it serves, a follow-up "
                    "(retrain/trigger change_follow_up) is asked for once the rows since the "
                    "change can train a candidate alone; then, on a later day, each time "
                    "they doubled (a champion trained from the change learnt from the rows "
                    "there were then). Feature drift alone that persists while "
                    "the champion its last retrain measured still serves asks again once the "
                    "rows since the change doubled. Run tags say why "
                    "(retrain/trigger, checks, partition, change_day, score).",
    )
    def drift_retrain_sensor(context: dg.SensorEvaluationContext, **_on_context):
        retrain_policy: RetrainPolicy = names.resource(context, "retrain_policy")
        mlflow: MlflowResource = names.resource(context, "mlflow")
        instance = context.instance
        remembered = RetrainCursor.from_json(context.cursor)
        recent = recent_check_results(instance, names, label_feed=project.spec.labels)
        taken = RetrainCursor(seen=(*remembered.seen, *(r.execution_id for r in recent)),
                              change=remembered.change, drift_ask=remembered.drift_ask)
        failing = bool(remembered.pending) or any(
            not r.passed and r.execution_id not in remembered.seen for r in recent)
        champion = mlflow.registry().version_for(CHAMPION) if failing else None
        standing = standing_failures(remembered.pending, recent, seen=set(remembered.seen),
                                     champion=champion)
        change_note = ""
        label_feed = project.spec.labels is not None
        if standing:
            request = retrain_request(standing, recent)
            since = sum(rows_by_day(instance, names, [
                d for d in trainable_days(instance, names, label_feed=label_feed)
                if d >= request.change_day], label_feed=label_feed).values())
            held = drift_held_back(request, remembered.drift_ask, champion, since)
            if not held:
                return _answer_failures(context, names, retrain_policy, request, taken, replace(
                    taken, drift_ask=DriftAsk.after(request, remembered.drift_ask, champion,
                                                    since),
                    change=open_change(taken.change, request.change_day, request.newest_day,
                                       since)))
            change_note = f"; {held}"
        if taken.change is not None:
            settings = retrain_policy.window_settings()
            follow_up = change_follow_up(taken.change, mlflow.registry().champion_window(),
                                         window_rows(instance, names, settings,
                                                     label_feed=label_feed), settings)
            if follow_up.due:
                return _follow_up(context, names, retrain_policy, follow_up, taken)
            taken = replace(taken, change=follow_up.change)
            change_note += f"; {follow_up.reason}"
        rows = (rows_since_last_training(instance, names, label_feed=label_feed)
                if retrain_policy.min_new_rows > 0 else 0)
        if retrain_policy.min_new_rows > 0 and rows >= retrain_policy.min_new_rows:
            return _data_volume(instance, names, retrain_policy, rows, taken)
        days = _first_champion_due(instance, names, mlflow, retrain_policy,
                                   label_feed=label_feed)
        if days is not None:
            return _bootstrap(instance, names, retrain_policy, days, taken)
        volume = (f"{rows:,} of the {retrain_policy.min_new_rows:,} new "
                  f"{'labelled' if label_feed else 'feature'} rows a data-volume retrain "
                  "needs have arrived since the last training"
                  if retrain_policy.min_new_rows > 0 else "the data-volume trigger is off")
        return dg.SensorResult(cursor=taken.to_json(), skip_reason=dg.SkipReason(
            f"no retrain needed: no drift or decay check failure is waiting; {volume}"
            f"{change_note}"))

    return drift_retrain_sensor


def _answer_failures(context: dg.SensorEvaluationContext, names: Names, policy: RetrainPolicy,
                     request: RetrainRequest, taken: RetrainCursor,
                     asked: RetrainCursor) -> dg.SensorResult:
    """One retrain for the standing failures (`asked`: the cursor once it is asked for), or,
    while one may not start, keep them pending (`taken`)."""
    standing = request.failures
    blocked = debounce_reason(context.instance, names.training_job, policy.min_interval_seconds,
                              time.time())
    if blocked:
        deferred = ", ".join(f"{f.check}[{f.partition}]" for f in standing)
        return dg.SensorResult(cursor=replace(taken, pending=standing).to_json(),
                               skip_reason=dg.SkipReason(
            f"deferred ({deferred}): {blocked}; the retrain follows once it may start, if "
            "these checks still fail"))
    tags = request.tags()
    context.log.info(f"retrain requested for {tags['retrain/checks']} (change from "
                     f"{request.change_day}): {standing[-1].description}")
    key = f"{request.trigger}:{max(f.execution_id for f in standing)}"
    return dg.SensorResult(cursor=asked.to_json(), run_requests=[
        retrain_run_request(names, policy, request.trigger, key, tags,
                            change_day=request.change_day)])


def _follow_up(context: dg.SensorEvaluationContext, names: Names, policy: RetrainPolicy,
               follow_up: FollowUp, taken: RetrainCursor) -> dg.SensorResult:
    """A retrain that trains from the open change, or, while one may not start, a wait (the
    next tick decides again)."""
    blocked = debounce_reason(context.instance, names.training_job,
                              policy.min_interval_seconds, time.time())
    if blocked:
        return dg.SensorResult(cursor=taken.to_json(), skip_reason=dg.SkipReason(
            f"follow-up deferred: {follow_up.reason}; {blocked}"))
    context.log.info(f"retrain requested: {follow_up.reason}")
    key = f"{CHANGE_FOLLOW_UP}:{follow_up.change.day}:{follow_up.newest_day}"
    return dg.SensorResult(cursor=replace(taken, change=follow_up.asked()).to_json(),
                           run_requests=[retrain_run_request(
                               names, policy, CHANGE_FOLLOW_UP, key, follow_up.tags(),
                               change_day=follow_up.change.day)])


def _data_volume(instance: dg.DagsterInstance, names: Names, policy: RetrainPolicy, rows: int,
                 taken: RetrainCursor) -> dg.SensorResult:
    blocked = debounce_reason(instance, names.training_job, 0, time.time())
    if blocked:
        return dg.SensorResult(cursor=taken.to_json(),
                               skip_reason=dg.SkipReason(f"data volume: {blocked}"))
    since = last_training_storage_id(instance, names) or 0
    batch = rows // policy.min_new_rows
    return dg.SensorResult(cursor=taken.to_json(), run_requests=[retrain_run_request(
        names, policy, "data_volume", f"volume:after-{since}:{batch}",
        {"retrain/new_rows": str(rows), "retrain/min_new_rows": str(policy.min_new_rows)})])


def _first_champion_due(instance: dg.DagsterInstance, names: Names, mlflow: MlflowResource,
                        policy: RetrainPolicy, *, label_feed: bool = False) -> int | None:
    """The days of features there are when the first champion is due, else None. With a label
    feed only days whose labels arrived count: the others have nothing to train on yet."""
    if policy.bootstrap_days <= 0:
        return None
    registry = mlflow.registry()
    waiting = registry.pending_approval()
    # a first candidate awaiting approval (`approve` mode) answers the bootstrap until it expires
    has_champion = registry.version_for(CHAMPION) is not None or (
        waiting is not None and waiting.expires_at > datetime.now(UTC))
    days = 0 if has_champion else len(trainable_days(instance, names, label_feed=label_feed))
    return days if first_champion_due(has_champion, days, policy.bootstrap_days) else None


def _bootstrap(instance: dg.DagsterInstance, names: Names, policy: RetrainPolicy, days: int,
               cursor: RetrainCursor) -> dg.SensorResult:
    blocked = debounce_reason(instance, names.training_job, 0, time.time())
    if blocked:
        return dg.SensorResult(cursor=cursor.to_json(),
                               skip_reason=dg.SkipReason(f"first champion: {blocked}"))
    run = retrain_run_request(names, policy, "bootstrap", f"bootstrap:{days}",
                              {"retrain/days_with_features": str(days)})
    return dg.SensorResult(cursor=cursor.to_json(), run_requests=[run])


# ---------------------------------------------------------------------------------------------
# failure alerting


class FailureAlerts(dg.ConfigurableResource):
    """Where failed runs are reported: always the log; Slack too when a token is configured
    (`SLACK_BOT_TOKEN`, read through dg.EnvVar, never logged)."""

    slack_token: str | None = None
    slack_channel: str = "#ml-alerts"
    dagster_ui_url: str | None = Field(
        default=None, description="Base URL of the Dagster UI, for the run link in alerts")

    @classmethod
    def from_env(cls) -> FailureAlerts:
        url = os.environ.get("RETRAIN_ASSETS_DAGSTER_UI_URL")
        if not os.environ.get("SLACK_BOT_TOKEN"):
            return cls(dagster_ui_url=url)
        return cls(slack_token=dg.EnvVar("SLACK_BOT_TOKEN"), dagster_ui_url=url,
                   slack_channel=os.environ.get("RETRAIN_ASSETS_SLACK_CHANNEL", "#ml-alerts"))

    def send(self, text: str, logger: logging.Logger | dg.DagsterLogManager = log) -> None:
        logger.error(text)
        if self.slack_token:
            from dagster_slack import SlackResource

            SlackResource(token=self.slack_token).get_client().chat_postMessage(
                channel=self.slack_channel, text=text)


def failure_text(run: dg.DagsterRun, step_errors: dict[str, str], run_url: str | None) -> str:
    """The alert: which run, which job, which steps failed and why (first line of each)."""
    steps = "\n".join(f"• step `{step}`: {error.strip().splitlines()[0] if error else '?'}"
                      for step, error in step_errors.items()) or "• no step failed (the run " \
                                                                  "itself failed to start)"
    trigger = run.tags.get(TRIGGER)
    why = f" (triggered by {trigger})" if trigger else ""
    where = f"\n{run_url}" if run_url else ""
    return f":red_circle: run {run.run_id} of `{run.job_name}` failed{why}\n{steps}{where}"


def build_run_failure_alert(project: Project, jobs: list) -> dg.SensorDefinition:
    """Reports every failed run of this pipeline's `jobs`: to the log, and to Slack when its
    alerts resource has a token."""
    names = project.names

    def run_failure_alert(context: dg.RunStatusSensorContext, **_on_context) -> None:
        failure = context.for_run_failure()
        alerts: FailureAlerts = names.resource(context, "alerts")
        errors = {event.step_key: event.event_specific_data.error.message
                  for event in failure.get_step_failure_events()
                  if event.step_key and event.event_specific_data.error}
        base = alerts.dagster_ui_url
        url = f"{base.rstrip('/')}/runs/{context.dagster_run.run_id}" if base else None
        alerts.send(failure_text(context.dagster_run, errors, url), context.log)

    return dg.RunStatusSensorDefinition(
        name=names.of("run_failure_alert"), run_status=dg.DagsterRunStatus.FAILURE,
        run_status_sensor_fn=run_failure_alert, monitored_jobs=jobs,
        default_status=dg.DefaultSensorStatus.RUNNING,
        required_resource_keys={names.of("alerts")},
        description="Reports every failed run and its failed steps: to the log, and to Slack "
                    "when SLACK_BOT_TOKEN is set.")


def build_sensors(project: Project, jobs: list) -> list[dg.SensorDefinition]:
    return [build_landing_zone_sensor(project), build_drift_retrain_sensor(project),
            build_run_failure_alert(project, jobs),
            *([build_labels_sensor(project)] if project.spec.labels else [])]
