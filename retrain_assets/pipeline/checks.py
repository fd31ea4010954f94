"""Asset checks: the Pandera contract per partition, each landed day's volume, replays and
supersession, the landing's freshness, and the promotion gate.

Checks run inside the asset's own step (`check_specs`) so each day is validated once, where the
data is, and a blocking failure stops that run's downstream assets before they read bad data.
The freshness check is Dagster's own, evaluated by its sensor.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import dagster as dg
import pandas as pd
from dagster_pandera import pandera_schema_to_dagster_type

from retrain_assets.core.ingest import ContractReport, shorten
from retrain_assets.core.volume import (
    DayProfile,
    Judgement,
    LandingRecord,
    VolumeThresholds,
    content_hashes,
    judge_replay,
    judge_volume,
    recent_days,
)
from retrain_assets.pipeline.dagster_internals import AssetCheckEvaluationTargetMaterializationData
from retrain_assets.pipeline.metadata import table
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.resources import DayProfiles

CONTRACT = "contract"
CANDIDATE_BLESSED = "candidate_blessed"
ROW_VOLUME = "row_volume"
NO_REPLAYED_ROWS = "no_replayed_rows"
STORED_COPY_CURRENT = "stored_copy_current"
FRESHNESS = "freshness_check"  # the name Dagster's freshness checks carry


def frames_type(schema, names: Names) -> dg.DagsterType:
    """The Pandera schema as the Dagster type of a `{partition: DataFrame}` output, named for
    its pipeline (a code location holds one type per name).

    Per-day assets return one frame per partition so a backfill can write many days in one run;
    the schema shows in the UI (via dagster-pandera). A `None` frame is a rejected day, already
    reported by the contract check. Every stored frame was validated against this same schema
    by the asset's contract check, so the type check confirms the shape (a frame with the
    schema's columns, its optional ones possibly absent) instead of validating every row a
    second time.
    """
    per_frame = pandera_schema_to_dagster_type(schema)
    columns = (schema.to_schema() if isinstance(schema, type) else schema).columns
    declared = set(columns)
    required = {name for name, column in columns.items() if column.required}

    def check_each_partition(context, value) -> dg.TypeCheck:
        if not isinstance(value, Mapping):
            return dg.TypeCheck(False, description=f"expected {{partition: DataFrame}}, "
                                                   f"got {type(value).__name__}")
        for day, frame in value.items():
            if frame is None:
                continue
            if not isinstance(frame, pd.DataFrame):
                return dg.TypeCheck(False, description=f"partition {day}: expected a DataFrame, "
                                                       f"got {type(frame).__name__}")
            missing, extra = sorted(required - set(frame.columns)), \
                sorted(set(frame.columns) - declared)
            if missing or extra:
                return dg.TypeCheck(False, description=(
                    f"partition {day}: columns differ from {per_frame.unique_name} "
                    f"(missing {missing}, unexpected {extra})"))
        return dg.TypeCheck(True)

    return dg.DagsterType(type_check_fn=check_each_partition, name=names.of(per_frame.unique_name),
                          description=per_frame.description, metadata=per_frame.metadata)


def contract_spec(asset: dg.AssetKey, partitions_def: dg.PartitionsDefinition,
                  what: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(CONTRACT, asset=asset, blocking=True, partitions_def=partitions_def,
                             description=f"Every partition of {asset.to_user_string()} "
                                         f"satisfies {what}; a failing day blocks everything "
                                         "downstream of it in the run.")


def markdown_literal(text: str) -> str:
    """Text shown as written in Markdown: every ASCII punctuation mark backslash-escaped, so
    `*`, `_`, `[link](…)` or `<img>` from a landed file renders as those characters."""
    return re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", text)


def shown_cells(sample: pd.DataFrame) -> pd.DataFrame:
    """Landed rows for the UI with long text values and column names cut short: the event log
    keeps every metadata value, and one landed field can be megabytes."""
    def cut(value):
        return shorten(value) if isinstance(value, str) else value

    text = [name for name, dtype in sample.dtypes.items() if dtype.kind not in "biufcmM"]
    return sample.assign(**{name: sample[name].map(cut) for name in text}).rename(
        columns=lambda name: shorten(str(name)))


def report_metadata(report: ContractReport, *, sample: pd.DataFrame | None = None,
                    quarantined: Sequence[str] = ()) -> dict[str, dg.MetadataValue]:
    metadata: dict[str, dg.MetadataValue] = {
        "partition": dg.MetadataValue.text(report.day),
        "rows_in": dg.MetadataValue.int(report.rows_in),
        "rows_stored": dg.MetadataValue.int(0 if report.frame is None else len(report.frame)),
        "rows_dropped": dg.MetadataValue.int(report.rows_dropped),
    }
    if report.files:
        metadata["files"] = dg.MetadataValue.json(report.files)
    if not report.passed:
        metadata["problem"] = dg.MetadataValue.md(markdown_literal(report.problem))
        metadata["failing_columns"] = dg.MetadataValue.json(report.failing_columns)
    if not report.failure_cases.empty:
        metadata["failures_by_check"] = table(report.failure_summary())
    if sample is not None and not sample.empty:
        metadata["bad_rows_sample"] = table(shown_cells(sample))
    if quarantined:
        metadata["quarantined_to"] = dg.MetadataValue.json(list(quarantined))
    return metadata


def contract_results(context: dg.AssetExecutionContext, asset: dg.AssetKey,
                     results: Sequence[tuple[ContractReport, dict[str, dg.MetadataValue]]]
                     ) -> Iterator[dg.AssetCheckResult]:
    """One `contract` check result per partition (see `partition_check_results`)."""
    yield from partition_check_results(context, asset, CONTRACT, [
        PartitionOutcome(report.day, report.passed,
                         report.problem or f"{report.day}: contract holds", metadata)
        for report, metadata in results], what="break the contract", blocking=True)


@dataclass(frozen=True)
class PartitionOutcome:
    """One partition's result for one check."""

    partition: str
    passed: bool
    description: str
    metadata: Mapping[str, dg.MetadataValue]


def partition_check_results(context: dg.AssetExecutionContext, asset: dg.AssetKey, check_name: str,
                            outcomes: Sequence[PartitionOutcome], *, what: str,
                            blocking: bool = False,
                            severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
                            ) -> Iterator[dg.AssetCheckResult]:
    """One check result per partition.

    A single-day run records it directly. A backfill run covering many days logs one evaluation
    per day, then a summary result for the run, because Dagster ties a step's own check output
    to the whole range. Each day's evaluation points at that day's materialization in this run
    (call this after yielding the asset's Output), which is how the UI knows the result is the
    day's current one rather than "Missing". `what` says what a failing day did, e.g. "break
    the contract".
    """
    if context.has_partition_key:
        (outcome,) = outcomes
        yield dg.AssetCheckResult(check_name=check_name, passed=outcome.passed,
                                  metadata=dict(outcome.metadata),
                                  description=outcome.description, severity=severity)
        return
    targets = run_materializations(context.instance, asset, context.run.run_id,
                                   [o.partition for o in outcomes])
    for outcome in outcomes:
        context.log_event(dg.AssetCheckEvaluation(
            asset_key=asset, check_name=check_name, passed=outcome.passed,
            metadata=dict(outcome.metadata), partition=outcome.partition, blocking=blocking,
            description=outcome.description, severity=severity,
            target_materialization_data=targets.get(outcome.partition)))
    failed = [o for o in outcomes if not o.passed]
    summary = pd.DataFrame({"partition": [o.partition for o in outcomes],
                            "passed": [o.passed for o in outcomes],
                            "problem": [o.description if not o.passed else ""
                                        for o in outcomes]})
    yield dg.AssetCheckResult(
        check_name=check_name, passed=not failed,
        metadata={"partitions_checked": len(outcomes), "partitions_failed": len(failed),
                  "by_partition": table(summary, max_rows=400)},
        description=_range_failure(asset, what, failed,
                                   [o.partition for o in outcomes if o.passed], blocking)
        if failed else f"all {len(outcomes)} days pass {check_name}", severity=severity)


def run_materializations(instance: dg.DagsterInstance, asset: dg.AssetKey, run_id: str,
                         partitions: Sequence[str],
                         ) -> dict[str, AssetCheckEvaluationTargetMaterializationData]:
    """The materialization `run_id` recorded for each of `partitions` of `asset`, as the target
    a check evaluation links to (what Dagster itself looks up for a single-partition result)."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=list(partitions)),
        limit=len(partitions)).records  # newest first: this run's, unless one came since
    return {record.partition_key: AssetCheckEvaluationTargetMaterializationData(
                storage_id=record.storage_id, run_id=run_id, timestamp=record.timestamp)
            for record in reversed(records) if record.run_id == run_id}


def _range_failure(asset: dg.AssetKey, what: str, failed: Sequence[PartitionOutcome],
                   passed: Sequence[str], blocking: bool) -> str:
    """Why a range run's check failed, and (for a blocking check) how to carry on with the days
    that were fine.

    A failing blocking check fails the whole step, so nothing downstream is materialized for
    any day of the range: Dagster records a step's materializations for every day it covers,
    and recording them for a rejected day would claim data that does not exist.
    """
    total = len(failed) + len(passed)
    carry_on = (f" The other {len(passed)} day(s) ({', '.join(passed)}) passed and were "
                f"stored, but nothing downstream of {asset.to_user_string()} ran in this run: "
                "materialize them on their own, or fix the rejected days and re-run the range."
                if passed and blocking else "")
    return (f"{len(failed)} of {total} days {what} ({', '.join(o.partition for o in failed)})."
            f"{carry_on} " + " | ".join(o.description for o in failed[:5])
            + (f" | … and {len(failed) - 5} more (see by_partition)" if len(failed) > 5 else ""))


def arrival_specs(asset: dg.AssetKey, partitions_def: dg.PartitionsDefinition,
                  thresholds: VolumeThresholds) -> list[dg.AssetCheckSpec]:
    """Per-day checks that a landed day is plausible next to the recent ones, and that what is
    stored for it is its newest landing."""
    warn_or_block = ("a failing day stops everything downstream of it in the run"
                     if thresholds.blocking else "a failing day is a warning; the run carries on")
    return [
        dg.AssetCheckSpec(
            ROW_VOLUME, asset=asset, partitions_def=partitions_def, blocking=thresholds.blocking,
            description=f"The day's row count is within {thresholds.max_ratio:g}x (either way) "
                        f"of the median of the {thresholds.recent_days} stored days before it; "
                        f"{warn_or_block}."),
        dg.AssetCheckSpec(
            NO_REPLAYED_ROWS, asset=asset, partitions_def=partitions_def,
            blocking=thresholds.blocking,
            description=f"At most {thresholds.max_replay_share:.0%} of the day's rows repeat "
                        "the content (every column but the id and the time) of another row of "
                        f"the day or of the {thresholds.recent_days} days before it, as "
                        f"replayed records under new ids would; {warn_or_block}."),
        dg.AssetCheckSpec(
            STORED_COPY_CURRENT, asset=asset, partitions_def=partitions_def,
            description="What is stored for the day is its newest landing. Warns when a newer "
                        "landing was rejected while an earlier one's data is still stored: "
                        "features, scoring and retrains keep using that older copy until the "
                        "day is landed again and accepted."),
    ]


class ArrivalLedger:
    """Judges each landed day against the recent stored days and records it.

    Days are taken in order and every profile read or written is kept, so a backfill reads each
    stored day's profile at most once and later days of the range see the earlier ones.
    """

    def __init__(self, profiles: DayProfiles, thresholds: VolumeThresholds, *,
                 content: Sequence[str], run_id: str):
        self._profiles, self._thresholds = profiles, thresholds
        self._content, self._run_id = list(content), run_id
        self._seen: dict[str, DayProfile | None] = {}

    def _profile(self, day: str) -> DayProfile | None:
        if day not in self._seen:
            self._seen[day] = self._profiles.profile(day)
        return self._seen[day]

    def outcomes(self, report: ContractReport) -> dict[str, PartitionOutcome]:
        """This day's outcome for each arrival check; records an accepted day's profile, or a
        rejected landing against the earlier copy still stored."""
        day, now = report.day, datetime.now(UTC).isoformat(timespec="seconds")
        if report.frame is None:
            return self._rejected(report, now)
        hashes = content_hashes(report.frame, self._content)
        recent = {d: p for d in recent_days(day, self._thresholds.recent_days)
                  if (p := self._profile(d)) is not None}
        volume = judge_volume(day, len(report.frame), {d: p.record.rows
                                                        for d, p in recent.items()},
                              self._thresholds)
        replay = judge_replay(day, hashes, {d: p.content_hashes for d, p in recent.items()},
                              self._thresholds, content=self._content)
        record = LandingRecord(day=day, rows=len(report.frame), run_id=self._run_id,
                               stored_at=now, files=tuple(report.files))
        self._seen[day] = DayProfile(record, hashes)
        self._profiles.write(self._seen[day])
        return {ROW_VOLUME: _outcome(day, volume), NO_REPLAYED_ROWS: _outcome(day, replay),
                STORED_COPY_CURRENT: PartitionOutcome(
                    day, True, f"{day}: the stored copy is this landing (run {self._run_id})",
                    {"stored_from_run": dg.MetadataValue.text(self._run_id)})}

    def _rejected(self, report: ContractReport, now: str) -> dict[str, PartitionOutcome]:
        day = report.day
        not_judged = PartitionOutcome(day, True, f"{day}: not judged: the landing was rejected "
                                                 "(see the contract check)", {})
        outcomes = {ROW_VOLUME: not_judged, NO_REPLAYED_ROWS: not_judged}
        if not self._profiles.is_stored(day):
            outcomes[STORED_COPY_CURRENT] = PartitionOutcome(
                day, True, f"{day}: nothing is stored for the day, so no older copy is in use",
                {})
            return outcomes
        earlier = self._profiles.record(day)
        rejected = {"run_id": self._run_id, "at": now, "problem": report.problem or ""}
        if earlier is not None:
            self._profiles.write_record(replace(earlier, rejected_landing=rejected))
        source = (f"an earlier landing (run {earlier.run_id}, accepted {earlier.stored_at}, "
                  f"{earlier.rows:,} rows)" if earlier else "an earlier landing")
        outcomes[STORED_COPY_CURRENT] = PartitionOutcome(
            day, False,
            f"{day}: the newest landing was rejected, so the data stored for the day is still "
            f"{source}; features, scoring and retrains keep using it. Fix the day's files and "
            "land them again (the contract check says what was wrong) to replace it.",
            {"stored_from_run": dg.MetadataValue.text(earlier.run_id if earlier else "unknown"),
             "stored_at": dg.MetadataValue.text(earlier.stored_at if earlier else "unknown"),
             "rejected_in_run": dg.MetadataValue.text(self._run_id)})
        return outcomes


def _outcome(day: str, judgement: Judgement) -> PartitionOutcome:
    return PartitionOutcome(day, judgement.passed, judgement.description, {
        "partition": dg.MetadataValue.text(day),
        **{name: dg.MetadataValue.json(value) if isinstance(value, list | dict)
           else value for name, value in judgement.figures.items()}})


def arrival_results(context: dg.AssetExecutionContext, asset: dg.AssetKey,
                    outcomes: Sequence[Mapping[str, PartitionOutcome]],
                    thresholds: VolumeThresholds) -> Iterator[dg.AssetCheckResult]:
    """One result per day for each arrival check (see `partition_check_results`)."""
    severity = dg.AssetCheckSeverity.ERROR if thresholds.blocking else dg.AssetCheckSeverity.WARN
    for check_name, what, blocking, check_severity in (
            (ROW_VOLUME, "have an unusual row count", thresholds.blocking, severity),
            (NO_REPLAYED_ROWS, "repeat recent rows' content", thresholds.blocking, severity),
            (STORED_COPY_CURRENT, "keep an older copy after a rejected landing", False,
             dg.AssetCheckSeverity.WARN)):
        yield from partition_check_results(
            context, asset, check_name, [day[check_name] for day in outcomes], what=what,
            blocking=blocking, severity=check_severity)


def superseded_days(profiles: DayProfiles, days: Sequence[str]) -> dict[str, str]:
    """The days whose newest landing was rejected while an earlier copy stays stored, with
    when and in which run it was rejected."""
    records = {day: profiles.record(day) for day in days}
    return {day: f"newest landing rejected in run {r.rejected_landing['run_id']} at "
                 f"{r.rejected_landing['at']}; trained on the copy from run {r.run_id}"
            for day, r in records.items() if r is not None and r.rejected_landing}


def build_freshness_checks(asset: dg.AssetKey,
                           deadline_cron: str) -> list[dg.AssetChecksDefinition]:
    """Dagster's check that the newest daily partition has been materialized once
    `deadline_cron` has passed (a day that never landed shows here), as a WARN asset check.

    Dagster marks this factory superseded by FreshnessPolicy; a policy's result shows as the
    asset's freshness state, not as an asset check with a per-run history, which is what we
    want users to see, so its warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=dg.SupersessionWarning,
                                message="Function `build_time_partition_freshness_checks`")
        (checks,) = dg.build_time_partition_freshness_checks(
            assets=[asset], deadline_cron=deadline_cron, severity=dg.AssetCheckSeverity.WARN)
    description = (f"The newest complete day of {asset.to_user_string()} has been materialized "
                   f"once its deadline (cron `{deadline_cron}`, UTC) has passed; warns when a "
                   "day never landed or was not ingested. Evaluated with every ingest run and "
                   "by the pipeline's freshness_checks_sensor.")
    return [dg.AssetChecksDefinition.create(  # the same check, with a description that says it
        keys_by_input_name=checks.keys_by_input_name, node_def=checks.node_def,
        check_specs_by_output_name={name: spec._replace(description=description)
                                    for name, spec in checks.check_specs_by_output_name.items()},
        can_subset=True)]


def build_freshness_sensor(checks: Sequence[dg.AssetChecksDefinition],
                           name: str = "freshness_checks_sensor") -> dg.SensorDefinition:
    """Dagster's sensor that evaluates the freshness checks between ingest runs (every 10
    minutes, only when a result could have changed), so a day that never lands is noticed."""
    with warnings.catch_warnings():  # superseded like the checks (build_freshness_checks)
        warnings.filterwarnings("ignore", category=dg.SupersessionWarning,
                                message="Function `build_sensor_for_freshness_checks`")
        return dg.build_sensor_for_freshness_checks(
            freshness_checks=checks, minimum_interval_seconds=600, name=name,
            default_status=dg.DefaultSensorStatus.RUNNING)
