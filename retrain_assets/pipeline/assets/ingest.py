"""raw_data and features: each landed day, held to its contract, turned into model inputs."""


import dataclasses
import enum

import dagster as dg
from pydantic import Field

from retrain_assets.adapters.landing import ingest_day
from retrain_assets.core.features import build_features
from retrain_assets.core.ingest import ContractReport, RowPolicy, bad_row_sample, validate_frame
from retrain_assets.core.labels import raw_contract
from retrain_assets.core.volume import content_columns
from retrain_assets.pipeline.checks import (
    ArrivalLedger,
    arrival_results,
    arrival_specs,
    contract_results,
    contract_spec,
    report_metadata,
)
from retrain_assets.pipeline.metadata import add_partition_metadata, stored_day_summary
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import (
    TRANSIENT_RETRY,
    LandingZoneResource,
    ParquetIOManager,
    PartitionFrames,
    retries_only_transient,
)


class RowPolicyMode(enum.Enum):
    reject_day = "reject_day"
    drop_bad_rows = "drop_bad_rows"


class RawDataConfig(dg.Config):
    """Overrides of the dataset spec's row policy for one (manual) run; unset: the spec's."""

    row_policy: RowPolicyMode | None = Field(
        default=None, description="reject_day or drop_bad_rows; unset: the dataset spec's")
    max_bad_row_fraction: float | None = Field(
        default=None, description="drop_bad_rows only: above this fraction of bad rows the day "
                                  "is rejected; unset: the dataset spec's")

    def policy(self, spec_policy: RowPolicy) -> RowPolicy:
        overrides = {"mode": self.row_policy and self.row_policy.value,
                     "max_bad_row_fraction": self.max_bad_row_fraction}
        return dataclasses.replace(spec_policy, **{name: value for name, value in
                                                   overrides.items() if value is not None})


def build_ingest_assets(project: Project) -> list[dg.AssetsDefinition]:
    spec, names = project.spec, project.names
    contract = raw_contract(spec)  # without a label feed: the raw schema as declared
    # a replayed row repeats what it describes; a label-fed day's files may have no target
    replay_content = content_columns([c for c in contract.columns
                                      if c != spec.target or spec.labels is None],
                                     id_column=spec.id_column, time_column=spec.time_column)

    @dg.asset(
        key=names.raw_data, partitions_def=project.partitions,
        backfill_policy=project.backfill_policy, group_name=names.of("ingestion"),
        kinds={"pandas", "parquet"}, dagster_type=project.raw_type,
        io_manager_key=names.of("io_manager"),
        required_resource_keys={names.of("landing_zone"), names.of("io_manager")},
        check_specs=[contract_spec(names.raw_data, project.partitions,
                                   f"the {spec.raw_schema.__name__} Pandera schema"),
                     *arrival_specs(names.raw_data, project.partitions, project.volume)],
        tags={"stage": "ingest"}, owners=["team:ml-platform"], retry_policy=TRANSIENT_RETRY,
        description=f"{spec.description or spec.name}: each day's landed CSV/Parquet files, "
                    f"validated against {spec.raw_schema.__name__}. Files that break the "
                    "contract are quarantined with a note, never deleted.",
    )
    @retries_only_transient
    def raw_data(context: dg.AssetExecutionContext, config: RawDataConfig):
        landing_zone: LandingZoneResource = names.resource(context, "landing_zone")
        io_manager: ParquetIOManager = names.resource(context, "io_manager")
        zone = landing_zone.zone()
        policy = config.policy(spec.row_policy)
        frames, results = {}, []
        for day in context.partition_keys:
            intake = ingest_day(zone, day, contract,
                                time_column=spec.time_column, time_zone=spec.time_zone,
                                policy=policy, run_id=context.run.run_id)
            if not intake.report.passed:
                context.log.error(intake.report.problem)
            frames[day] = intake.report.frame
            results.append((intake.report, report_metadata(
                intake.report, sample=bad_row_sample(intake.report, intake.frames)
                if not intake.report.passed and intake.frames else None,
                quarantined=intake.quarantined)))
        ledger = ArrivalLedger(io_manager.day_profiles(names.raw_data.to_user_string()),
                               project.volume, content=replay_content, run_id=context.run.run_id)
        arrivals = [ledger.outcomes(report) for report, _ in results]
        add_partition_metadata(context, {day: stored_day_summary(frame)
                                         for day, frame in frames.items()})
        yield dg.Output(frames, metadata={"landing_zone": dg.MetadataValue.path(zone.url)})
        yield from contract_results(context, names.raw_data, results)
        yield from arrival_results(context, names.raw_data, arrivals, project.volume)

    @dg.asset(
        key=names.features, ins={"raw_data": dg.AssetIn(names.raw_data)},
        partitions_def=project.partitions, backfill_policy=project.backfill_policy,
        group_name=names.of("ingestion"), io_manager_key=names.of("io_manager"),
        kinds={"pandas", "parquet"}, dagster_type=project.features_type,
        check_specs=[contract_spec(names.features, project.partitions,
                                   "the features schema")],
        tags={"stage": "features"}, owners=["team:ml-platform"], retry_policy=TRANSIENT_RETRY,
        description="Model inputs for each day, built by core.features.build_features — the "
                    "same function batch scoring uses, so training and serving cannot skew.",
    )
    @retries_only_transient
    def features(context: dg.AssetExecutionContext, raw_data: PartitionFrames):
        frames, results = {}, []
        for day in context.partition_keys:
            if day not in raw_data:
                report = ContractReport(day=day, files=[], rows_in=0, frame=None,
                                        problem=f"raw_data[{day}] was rejected or is missing; "
                                                "fix it upstream first")
            else:
                report = validate_frame(build_features(raw_data[day], spec),
                                        project.features_contract, day=day)
            frames[day] = report.frame
            results.append((report, report_metadata(report)))
        add_partition_metadata(context, {day: stored_day_summary(frame)
                                         for day, frame in frames.items()})
        yield dg.Output(frames)
        yield from contract_results(context, names.features, results)

    return [raw_data, features]


def build_ingest_job(project: Project):
    """The one ingest job definition; bench/floor.py runs it too, so both runs are alike."""
    names = project.names
    return dg.define_asset_job(names.ingest_job, selection=[names.raw_data, names.features],
                               description="Land → validate → features for the selected days.")

