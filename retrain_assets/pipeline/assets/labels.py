"""labels and performance: a label-fed dataset's late labels per day, and the realized metric
of that day's stored predictions once they arrive (only built for a spec with a `LabelFeed`)."""

from dataclasses import dataclass

import dagster as dg
import pandas as pd
from pydantic import Field

from retrain_assets.adapters.landing import ingest_day
from retrain_assets.adapters.registry import HoldoutMetrics
from retrain_assets.core.drift import DriftThresholds, PerformanceDecay
from retrain_assets.core.estimation import Calibration
from retrain_assets.core.ingest import bad_row_sample
from retrain_assets.core.labels import (
    SAMPLE_IDS,
    LabelMatch,
    label_schema,
    match_labels,
    scored_with_labels,
)
from retrain_assets.pipeline.assets.monitoring import (
    NO_PERFORMANCE_DECAY,
    decay_check_outcome,
    decay_from_holdout,
    decay_metadata,
    realized_metric,
)
from retrain_assets.pipeline.assets.scoring import estimated_metadata
from retrain_assets.pipeline.checks import (
    PartitionOutcome,
    contract_results,
    contract_spec,
    partition_check_results,
    report_metadata,
)
from retrain_assets.pipeline.metadata import DIGITS, add_partition_metadata, stored_day_summary
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import (
    TRANSIENT_RETRY,
    LandingZoneResource,
    ParquetIOManager,
    PartitionFrames,
    retries_only_transient,
)

LABELS_MATCH_FEATURES = "labels_match_features"
# a labels[day] event's count of the day's feature rows with one label: what training can use
LABELLED_ROWS = "labelled_rows"


class PerformanceConfig(dg.Config):
    """How a day's realized metric is judged; unset coverage: the spec's LabelFeed's."""

    metric_decay: float = Field(default=DriftThresholds.metric_decay, description=(
        "live metric may be worse than the holdout's by this fraction (raised on small days)"))
    min_label_coverage: float | None = Field(default=None, description=(
        "a day is judged once this share of its scored rows is labelled; unset: the dataset "
        "spec's labels.min_coverage"))


def match_outcome(day: str, match: LabelMatch | None) -> PartitionOutcome:
    """labels_match_features for one day; None: the day's label files broke their contract."""
    metadata = {"partition": dg.MetadataValue.text(day)}
    if match is None:
        return PartitionOutcome(day, False, f"{day}: not matched: the day's label files broke "
                                "their contract (see the contract check)", metadata)
    metadata.update({
        "label_rows": dg.MetadataValue.int(match.label_rows),
        "feature_rows": dg.MetadataValue.int(match.feature_rows),
        LABELLED_ROWS: dg.MetadataValue.int(match.labelled_rows),
        "label_coverage": dg.MetadataValue.float(round(match.coverage, DIGITS)),
        "duplicate_ids": dg.MetadataValue.int(len(match.duplicate_ids)),
        "unmatched_ids": dg.MetadataValue.int(len(match.unmatched_ids)),
        "duplicate_id_sample": dg.MetadataValue.json(match.duplicate_ids[:SAMPLE_IDS]),
        "unmatched_id_sample": dg.MetadataValue.json(match.unmatched_ids[:SAMPLE_IDS]),
    })
    return PartitionOutcome(day, match.clean, match.describe(), metadata)


@dataclass(frozen=True)
class RealizedDay:
    """One day's realized metric from the labels that arrived so far."""

    day: str
    version: str
    rows: int
    labelled: int
    metric: str
    live: float | None
    decay: PerformanceDecay | None
    min_coverage: float

    @property
    def coverage(self) -> float:
        return self.labelled / self.rows if self.rows else 0.0

    @property
    def judged(self) -> bool:
        return self.decay is not None and self.coverage >= self.min_coverage

    def to_frame(self) -> pd.DataFrame:
        d = self.decay
        return pd.DataFrame([{
            "day": self.day, "model_version": self.version, "rows_scored": self.rows,
            "labelled_rows": self.labelled, "label_coverage": self.coverage,
            "metric": self.metric, "live": self.live, "holdout": d.holdout if d else None,
            "decay": d.decay if d else None, "threshold": d.threshold if d else None,
            "judged": self.judged}]).astype({"live": float, "holdout": float, "decay": float,
                                              "threshold": float})

    def metadata(self) -> dict[str, dg.MetadataValue]:
        metadata = {
            "model_version": dg.MetadataValue.text(self.version),
            "rows_scored": dg.MetadataValue.int(self.rows),
            "labelled_rows": dg.MetadataValue.int(self.labelled),
            "label_coverage": dg.MetadataValue.float(round(self.coverage, DIGITS)),
            "judged": dg.MetadataValue.bool(self.judged),
        }
        if self.live is not None:
            metadata[f"realized_{self.metric}"] = dg.MetadataValue.float(round(self.live,
                                                                               DIGITS))
        if self.decay is not None:
            metadata["metric_decay"] = dg.MetadataValue.float(round(self.decay.decay, DIGITS))
        return metadata

    def outcome(self) -> PartitionOutcome:
        """Decayed only when judged; a day below the coverage is reported, and passes."""
        metadata = {"partition": dg.MetadataValue.text(self.day),
                    "model_version": dg.MetadataValue.text(self.version),
                    "label_coverage": dg.MetadataValue.float(round(self.coverage, DIGITS))}
        covered = f"{self.labelled} of {self.rows} scored rows labelled ({self.coverage:.0%})"
        d = self.decay
        if d is None:
            return PartitionOutcome(self.day, True, f"{self.day}: not judged: {covered}; no "
                                    f"{self.metric} to judge (none of them, labelled rows of "
                                    "one class, or no holdout metric recorded for version "
                                    f"{self.version})", metadata)
        if not self.judged:
            return PartitionOutcome(self.day, True, (
                f"{self.day}: not judged yet: {covered}, below the {self.min_coverage:.0%} "
                f"needed; live {d.metric} {d.live:.3f} vs holdout {d.holdout:.3f} so far. "
                "Judged again when more labels land."), {**metadata, **decay_metadata(d, "live")})
        return decay_check_outcome(self.day, self.version, d, "live", detail=covered,
                                   metadata=metadata)


def realized_day(day: str, predictions: pd.DataFrame, labels: pd.DataFrame, spec,
                 holdout: HoldoutMetrics, thresholds: DriftThresholds,
                 min_coverage: float) -> RealizedDay:
    scored = scored_with_labels(predictions, labels, spec)
    live, labelled = realized_metric(scored, spec.task, spec.primary_metric)
    return RealizedDay(day=day, version=str(predictions["model_version"].iloc[0]),
                       rows=len(scored), labelled=labelled, metric=spec.primary_metric,
                       live=live, decay=decay_from_holdout(spec.primary_metric, live, labelled,
                                                           holdout, thresholds),
                       min_coverage=min_coverage)


def build_label_assets(project: Project) -> list[dg.AssetsDefinition]:
    """labels[day] and performance[day]; none for a dataset whose target lands with its
    features."""
    spec, names = project.spec, project.names
    if spec.labels is None:
        return []
    schema = label_schema(spec)
    metric = spec.primary_metric

    @dg.asset(
        key=names.labels, partitions_def=project.partitions,
        backfill_policy=project.backfill_policy, group_name=names.of("monitoring"),
        kinds={"pandas", "parquet"}, io_manager_key=names.of("io_manager"),
        deps=[names.features],
        required_resource_keys={names.of("labels_zone"), names.of("io_manager")},
        check_specs=[
            contract_spec(names.labels, project.partitions,
                          f"the {schema.name} Pandera schema ({spec.id_column} and "
                          f"{spec.target})"),
            dg.AssetCheckSpec(
                LABELS_MATCH_FEATURES, asset=names.labels, partitions_def=project.partitions,
                description="Every labelled id is one row of that day's features, labelled "
                            "once. Repeated ids (none of their labels is used) and ids no "
                            "feature row has are counted and sampled; a WARN."),
        ],
        tags={"stage": "labels"}, owners=["team:ml-platform"], retry_policy=TRANSIENT_RETRY,
        description=f"The {spec.target} labels of each day (the day they refer to), landed "
                    "later in the label zone and keyed by "
                    f"{spec.id_column}. Files that break the contract are quarantined with a "
                    "note, never deleted; a late file re-materializes its day.",
    )
    @retries_only_transient
    def labels(context: dg.AssetExecutionContext):
        labels_zone: LandingZoneResource = names.resource(context, "labels_zone")
        io_manager: ParquetIOManager = names.resource(context, "io_manager")
        zone = labels_zone.zone()
        days = list(context.partition_keys)
        features = io_manager.stored_partitions(names.features)
        frames, results, outcomes = {}, [], []
        for day in days:
            intake = ingest_day(zone, day, schema, time_column=None, run_id=context.run.run_id)
            report = intake.report
            match = None
            if report.passed:
                ids = features[day][spec.id_column] if day in features else None
                match = match_labels(day, report.frame, ids, spec)
            else:
                context.log.error(report.problem)
            frames[day] = report.frame
            results.append((report, report_metadata(
                report, sample=bad_row_sample(report, intake.frames)
                if not report.passed and intake.frames else None,
                quarantined=intake.quarantined)))
            outcomes.append(match_outcome(day, match))
        add_partition_metadata(context, {o.partition: {**stored_day_summary(frames[o.partition]),
                                                       **o.metadata} for o in outcomes})
        yield dg.Output(frames, metadata={"labels_zone": dg.MetadataValue.path(zone.url)})
        yield from contract_results(context, names.labels, results)
        yield from partition_check_results(context, names.labels, LABELS_MATCH_FEATURES,
                                           outcomes, what="have unmatched or repeated ids",
                                           severity=dg.AssetCheckSeverity.WARN)

    @dg.asset(
        key=names.performance, ins={"predictions": dg.AssetIn(names.predictions),
                                    "labels": dg.AssetIn(names.labels)},
        partitions_def=project.partitions, backfill_policy=project.backfill_policy,
        group_name=names.of("monitoring"), io_manager_key=names.of("io_manager"),
        required_resource_keys={names.of("mlflow")}, kinds={"pandas", "mlflow"},
        tags={"stage": "monitor"}, owners=["team:ml-platform"], retry_policy=TRANSIENT_RETRY,
        check_specs=[dg.AssetCheckSpec(
            NO_PERFORMANCE_DECAY, asset=names.performance, partitions_def=project.partitions,
            description=f"Realized {metric} of the day's stored predictions against the labels "
                        "that arrived is not worse than the scoring version's holdout metric "
                        "by more than the allowed fraction; judged only once the day's label "
                        "coverage reaches the threshold. A failure asks drift_retrain_sensor "
                        "for a retrain (trigger performance_decay).")],
        description=f"Realized {metric} per day: the day's stored predictions joined by id "
                    "with its labels, with the label coverage; recomputed each time more of "
                    "the day's labels land. A binary classifier's day also shows the metrics "
                    "estimated before its labels (`estimated_*`, as predictions does). Stored: "
                    "one row per day.",
    )
    @retries_only_transient
    def performance(context: dg.AssetExecutionContext, config: PerformanceConfig,
                    predictions: PartitionFrames, labels: PartitionFrames):
        registry = names.resource(context, "mlflow").registry()
        thresholds = DriftThresholds(metric_decay=config.metric_decay)
        min_coverage = (spec.labels.min_coverage if config.min_label_coverage is None
                        else config.min_label_coverage)
        holdouts: dict[str, HoldoutMetrics] = {}
        calibrations: dict[str, Calibration | None] = {}
        frames, days, estimated = {}, [], {}
        for day in context.partition_keys:
            if day not in predictions or day not in labels:
                missing = "predictions" if day not in predictions else "labels"
                context.log.warning(f"performance[{day}]: no {missing} stored for the day; "
                                    f"materialize {missing} for {day} first. Skipped.")
                frames[day] = None
                continue
            scored = predictions[day]
            version = str(scored["model_version"].iloc[0])
            if version not in holdouts:
                holdouts[version] = registry.holdout_metrics(version)
                calibrations[version] = registry.load_calibration(version)
            estimated[day] = estimated_metadata(scored, calibrations[version])
            realized = realized_day(day, scored, labels[day], spec, holdouts[version],
                                    thresholds, min_coverage)
            frames[day] = realized.to_frame()
            days.append(realized)
        add_partition_metadata(context, {d.day: {**d.metadata(), **estimated[d.day]}
                                         for d in days})
        yield dg.Output(frames)
        yield from partition_check_results(context, names.performance, NO_PERFORMANCE_DECAY,
                                           [d.outcome() for d in days], what="decayed")

    return [labels, performance]
