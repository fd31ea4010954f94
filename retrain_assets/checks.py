"""Asset checks: the Pandera contract per partition, and the promotion gate.

Checks run inside the asset's own step (`check_specs`) so each day is validated once, where the
data is, and a blocking failure stops that run's downstream assets before they read bad data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import dagster as dg
import pandas as pd
from dagster_pandera import pandera_schema_to_dagster_type

from retrain_assets.core.ingest import ContractReport, shorten
from retrain_assets.metadata import table

CONTRACT = "contract"
CANDIDATE_BLESSED = "candidate_blessed"


def frames_type(schema) -> dg.DagsterType:
    """The Pandera schema as the Dagster type of a `{partition: DataFrame}` output.

    Per-day assets return one frame per partition so a backfill can write many days in one run;
    the schema shows in the UI (via dagster-pandera). A `None` frame is a rejected day, already
    reported by the contract check. Every stored frame was validated against this same schema
    by the asset's contract check, so the type check confirms the shape (a frame with the
    schema's columns) instead of validating every row a second time.
    """
    per_frame = pandera_schema_to_dagster_type(schema)
    declared = set((schema.to_schema() if isinstance(schema, type) else schema).columns)

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
            missing, extra = sorted(declared - set(frame.columns)), \
                sorted(set(frame.columns) - declared)
            if missing or extra:
                return dg.TypeCheck(False, description=(
                    f"partition {day}: columns differ from {per_frame.unique_name} "
                    f"(missing {missing}, unexpected {extra})"))
        return dg.TypeCheck(True)

    return dg.DagsterType(type_check_fn=check_each_partition, name=per_frame.unique_name,
                          description=per_frame.description, metadata=per_frame.metadata)


def contract_spec(asset: str, partitions_def: dg.PartitionsDefinition,
                  what: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(CONTRACT, asset=asset, blocking=True, partitions_def=partitions_def,
                             description=f"Every partition of {asset} satisfies {what}; a failing "
                                         "day blocks everything downstream of it in the run.")


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


def contract_results(context: dg.AssetExecutionContext, asset: str,
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


def partition_check_results(context: dg.AssetExecutionContext, asset: str, check_name: str,
                            outcomes: Sequence[PartitionOutcome], *, what: str,
                            blocking: bool = False) -> Iterator[dg.AssetCheckResult]:
    """One check result per partition.

    A single-day run records it directly. A backfill run covering many days logs one evaluation
    per day, then a summary result for the run, because Dagster ties a step's own check output
    to the whole range. `what` says what a failing day did, e.g. "break the contract".
    """
    if context.has_partition_key:
        (outcome,) = outcomes
        yield dg.AssetCheckResult(check_name=check_name, passed=outcome.passed,
                                  metadata=dict(outcome.metadata),
                                  description=outcome.description)
        return
    for outcome in outcomes:
        context.log_event(dg.AssetCheckEvaluation(
            asset_key=dg.AssetKey(asset), check_name=check_name, passed=outcome.passed,
            metadata=dict(outcome.metadata), partition=outcome.partition, blocking=blocking,
            description=outcome.description))
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
                                   [o.partition for o in outcomes if o.passed])
        if failed else f"all {len(outcomes)} days pass {check_name}")


def _range_failure(asset: str, what: str, failed: Sequence[PartitionOutcome],
                   passed: Sequence[str]) -> str:
    """Why a range run's check failed, and how to carry on with the days that were fine.

    A failing blocking check fails the whole step, so nothing downstream is materialized for
    any day of the range: Dagster records a step's materializations for every day it covers,
    and recording them for a rejected day would claim data that does not exist.
    """
    total = len(failed) + len(passed)
    carry_on = (f" The other {len(passed)} day(s) ({', '.join(passed)}) passed and were "
                f"stored, but nothing downstream of {asset} ran in this run: materialize them "
                "on their own, or fix the rejected days and re-run the range." if passed else "")
    return (f"{len(failed)} of {total} days {what} ({', '.join(o.partition for o in failed)})."
            f"{carry_on} " + " | ".join(o.description for o in failed[:5])
            + (f" | … and {len(failed) - 5} more (see by_partition)" if len(failed) > 5 else ""))
