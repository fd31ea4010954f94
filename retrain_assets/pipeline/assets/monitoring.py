"""drift_report: each scored day against the reference stored with the model that scored it."""


import dagster as dg
import pandas as pd

from retrain_assets.adapters.registry import HoldoutMetrics, ModelRegistry
from retrain_assets.core.drift import (
    DatasetReference,
    DriftSummary,
    DriftThresholds,
    PerformanceDecay,
    compare_to_reference,
    performance_decay,
)
from retrain_assets.core.estimation import Calibration, estimate_performance
from retrain_assets.core.metrics import compute_metrics
from retrain_assets.core.plots import drift_over_time
from retrain_assets.core.policy import ESTIMATED_DECAY
from retrain_assets.pipeline.checks import PartitionOutcome, partition_check_results
from retrain_assets.pipeline.metadata import (
    DIGITS,
    add_partition_metadata,
    column_schema,
    feature_drift_table,
    figure,
    table,
)
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import PartitionFrames

NO_FEATURE_DRIFT = "no_feature_drift"
NO_PERFORMANCE_DECAY = "no_performance_decay"
DRIFT_CHECKS = (NO_FEATURE_DRIFT, NO_PERFORMANCE_DECAY)
# A day has one weekday by construction (core.features), so comparing these calendar features
# with a multi-week training reference would flag every single day.
CALENDAR_FEATURES = frozenset({"day_of_week", "is_weekend"})


class DriftReportConfig(dg.Config):
    """Fixed drift thresholds (defaults: `core.drift.DriftThresholds`), editable in the
    launchpad. A champion whose reference is calibrated raises them for small days and for the
    day-to-day movement of its training data (`core.drift.feature_thresholds`)."""

    psi: float = DriftThresholds.psi
    ks_statistic: float = DriftThresholds.ks_statistic
    js_distance: float = DriftThresholds.js_distance
    prediction_shift: float = DriftThresholds.prediction_shift
    metric_decay: float = DriftThresholds.metric_decay
    plot_days: int = 60

    def thresholds(self) -> DriftThresholds:
        return DriftThresholds(psi=self.psi, ks_statistic=self.ks_statistic,
                               js_distance=self.js_distance,
                               prediction_shift=self.prediction_shift,
                               metric_decay=self.metric_decay)


class ChampionBaseline:
    """What a model version was judged by when it was trained: its training reference and
    its holdout metrics (value, chance spread, rows), both read from its MLflow run (cached per
    version within a step)."""

    def __init__(self, registry: ModelRegistry, features: list[str], metric: str):
        self._registry, self._features, self._metric = registry, features, metric
        self._cache: dict[str, tuple[DatasetReference, HoldoutMetrics]] = {}

    def __call__(self, version: str) -> tuple[DatasetReference, HoldoutMetrics]:
        if version not in self._cache:
            stored = self._registry.load_reference(version)
            if stored is None:
                raise dg.Failure(
                    f"model version {version} of {self._registry.model_name!r} has no training "
                    "reference artifact, so drift cannot be measured against it. Retrain "
                    "(training_job) to get a champion that stores one.")
            self._cache[version] = (DatasetReference.from_dict(stored).restricted_to(
                self._features), self._registry.holdout_metrics(version))
        return self._cache[version]


def build_monitoring_assets(project: Project) -> list[dg.AssetsDefinition]:
    spec, names = project.spec, project.names
    metric = spec.primary_metric
    monitored = [f for f in spec.model_features if f not in CALENDAR_FEATURES]
    estimate_trigger = bool(spec.labels and spec.labels.estimate_trigger)

    @dg.asset(
        key=names.drift_report, ins={"features": dg.AssetIn(names.features),
                                     "predictions": dg.AssetIn(names.predictions)},
        partitions_def=project.partitions, backfill_policy=project.backfill_policy,
        group_name=names.of("monitoring"), io_manager_key=names.of("io_manager"),
        required_resource_keys={names.of("mlflow")},
        kinds={"pandas", "scipy", "mlflow"}, tags={"stage": "monitor"},
        owners=["team:ml-platform"],
        check_specs=[
            dg.AssetCheckSpec(
                NO_FEATURE_DRIFT, asset=names.drift_report, partitions_def=project.partitions,
                description="No feature drifted past its PSI / KS / Jensen–Shannon threshold "
                            "and the mean prediction stayed near the training label mean. "
                            "A failure asks drift_retrain_sensor for a retrain."),
            *([dg.AssetCheckSpec(
                ESTIMATED_DECAY, asset=names.drift_report, partitions_def=project.partitions,
                description="The day's ROC AUC estimated before its labels (the champion's "
                            "calibrated probabilities) is not worse than its holdout ROC AUC "
                            "by more than the allowed fraction. A failure asks "
                            "drift_retrain_sensor for a retrain (trigger estimated_decay); "
                            "LabelFeed(estimate_trigger=True).")] if estimate_trigger else []),
            # with a label feed, decay is judged by `performance` once the labels arrive
            *([] if spec.labels else [dg.AssetCheckSpec(
                NO_PERFORMANCE_DECAY, asset=names.drift_report, partitions_def=project.partitions,
                description=f"On labelled days, live {metric} is not worse than the champion's "
                            "holdout metric by more than the allowed fraction (raised on small "
                            "days to what chance alone reaches, measured on the holdout). A "
                            "failure asks drift_retrain_sensor for a retrain.")]),
        ],
        description="Each scored day against the training reference stored with the model "
                    "that scored it (per-feature PSI and KS / Jensen–Shannon, prediction drift "
                    "vs the training label mean)"
                    + ("; the realized metric is `performance`'s, once the day's labels land"
                       if spec.labels else
                       f" and, where labels exist, live {metric} vs that model's holdout metric")
                    + ". Stored: one row per feature.",
    )
    def drift_report(context: dg.AssetExecutionContext, config: DriftReportConfig,
                     features: PartitionFrames, predictions: PartitionFrames):
        thresholds = config.thresholds()
        registry = names.resource(context, "mlflow").registry()
        baseline = ChampionBaseline(registry, monitored, metric)
        calibrations: dict[str, Calibration | None] = {}
        frames, days = {}, []
        for day in context.partition_keys:
            if day not in predictions:
                context.log.warning(f"drift_report[{day}]: no predictions stored for the day; "
                                    "materialize predictions for it first. Skipped.")
                frames[day] = None
                continue
            scored = predictions[day]
            version = str(scored["model_version"].iloc[0])
            reference, holdout = baseline(version)
            summary = compare_to_reference(reference, features[day],
                                           predictions=scored["prediction"],
                                           thresholds=thresholds)
            decay = decay_from_holdout(metric, *realized_metric(scored, spec.task, metric),
                                       holdout, thresholds)
            estimated = None
            if estimate_trigger:
                if version not in calibrations:
                    calibrations[version] = registry.load_calibration(version)
                estimated = estimated_decay(scored, holdout, calibrations[version], thresholds)
            frames[day] = summary.to_frame()
            days.append(DayDrift(day, version, summary, decay, estimated))
        _add_report_metadata(context, days, config)
        yield dg.Output(frames)
        yield from partition_check_results(
            context, names.drift_report, NO_FEATURE_DRIFT,
            [d.feature_outcome() for d in days], what="drifted")
        if not spec.labels:
            yield from partition_check_results(
                context, names.drift_report, NO_PERFORMANCE_DECAY,
                [d.decay_outcome() for d in days], what="decayed")
        if estimate_trigger:
            yield from partition_check_results(
                context, names.drift_report, ESTIMATED_DECAY,
                [d.estimated_outcome() for d in days], what="decayed (estimated)")

    return [drift_report]


def realized_metric(scored: pd.DataFrame, task: str, metric: str) -> tuple[float | None, int]:
    """A day's live metric on its labelled rows (`actual` not missing), and how many there
    are; None when none is labelled, or they are of one class (ROC AUC is NaN)."""
    labelled = scored.dropna(subset=["actual"])
    if labelled.empty:
        return None, 0
    predicted = labelled["predicted_class" if task == "multiclass" else "prediction"]
    live = compute_metrics(task, labelled["actual"], predicted)[metric]
    return (None if live != live else live), len(labelled)


def decay_from_holdout(metric: str, value: float | None, rows: int, holdout: HoldoutMetrics,
                       thresholds: DriftThresholds) -> PerformanceDecay | None:
    """A day's `metric` (live or estimated, on `rows` rows) vs the holdout's, as
    evaluation_report recorded it (versions evaluated before the chance spread was measured
    have the metric only); None without a value or a holdout metric to judge against."""
    if value is None or metric not in holdout.metrics:
        return None
    return performance_decay(metric, value, holdout.metrics[metric], thresholds,
                             noise=holdout.noise.get(metric), rows=rows,
                             holdout_rows=holdout.rows)


def estimated_decay(scored: pd.DataFrame, holdout: HoldoutMetrics,
                    calibration: Calibration | None, thresholds: DriftThresholds
                    ) -> PerformanceDecay | None:
    """The ROC AUC estimated before labels vs the holdout's, judged as the realized one is;
    None without a calibration to estimate it."""
    if calibration is None:
        return None
    estimate = estimate_performance(scored["prediction"], calibration)["roc_auc"]
    if estimate != estimate:  # NaN: the calibration expects one class only
        return None
    return decay_from_holdout("roc_auc", estimate, len(scored), holdout, thresholds)


def decay_metadata(decay: PerformanceDecay, what: str) -> dict[str, dg.MetadataValue]:
    """A decay check's numbers: the decay as `score`, its threshold, and both metrics."""
    return {"score": dg.MetadataValue.float(round(decay.decay, 4)),
            "threshold": dg.MetadataValue.float(round(decay.threshold, 4)),
            f"{what}_{decay.metric}": dg.MetadataValue.float(round(decay.live, 4)),
            f"holdout_{decay.metric}": dg.MetadataValue.float(round(decay.holdout, 4))}


def decay_check_outcome(day: str, version: str, decay: PerformanceDecay, what: str, *,
                        detail: str = "", metadata: dict[str, dg.MetadataValue] | None = None
                        ) -> PartitionOutcome:
    """A judged day's decay check, worded once for every decay check: `what` the day's metric
    is (live, estimated), `detail` what else a reader needs (e.g. the label coverage)."""
    d = decay
    if d.decayed:
        description = (f"{day}: {what} {d.metric} {d.live:.3f} is {d.decay:.0%} worse than "
                       f"model version {version}'s holdout {d.metric} {d.holdout:.3f} "
                       f"(allowed: {d.threshold:.0%}{f'; {detail}' if detail else ''}). "
                       "Retraining is requested by drift_retrain_sensor.")
    else:
        description = (f"{day}: {what} {d.metric} {d.live:.3f} vs holdout {d.holdout:.3f}"
                       f"{f' ({detail})' if detail else ''}")
    return PartitionOutcome(day, not d.decayed, description, {
        "partition": dg.MetadataValue.text(day), "model_version": dg.MetadataValue.text(version),
        **(metadata or {}), **decay_metadata(d, what)})


class DayDrift:
    """One day's drift and decay, turned into check outcomes and metadata."""

    def __init__(self, day: str, version: str, summary: DriftSummary,
                 decay: PerformanceDecay | None, estimated: PerformanceDecay | None = None):
        self.day, self.version, self.summary, self.decay = day, version, summary, decay
        self.estimated = estimated

    @property
    def drifted(self) -> bool:
        return bool(self.summary.drifted_features) or self.summary.prediction_drifted

    def feature_outcome(self) -> PartitionOutcome:
        s = self.summary
        offenders = s.to_frame().query("drifted")
        problems = [f"{r.feature} (PSI {r.psi:.2f} vs {r.psi_threshold:.2f}"
                    + (f", KS {r.ks_statistic:.2f} vs {r.ks_threshold:.2f}"
                       if pd.notna(r.ks_statistic) else
                       f", JS {r.js_distance:.2f} vs {r.js_threshold:.2f}") + ")"
                    for r in offenders.itertuples()]
        if s.prediction_drifted:
            problems.append(f"mean prediction {s.prediction_mean:.3g} is "
                            f"{s.prediction_shift:.0%} away from the training label mean "
                            f"{s.reference_label_mean:.3g} (limit "
                            f"{s.prediction_shift_threshold:.0%} for {s.row_count} rows)")
        metadata = {
            "partition": dg.MetadataValue.text(self.day),
            "model_version": dg.MetadataValue.text(self.version),
            "score": dg.MetadataValue.float(round(s.max_psi, 4)),
            "max_psi": dg.MetadataValue.float(round(s.max_psi, 4)),
            "prediction_shift": dg.MetadataValue.float(round(s.prediction_shift or 0.0, 4)),
            "drifted_features": dg.MetadataValue.json(s.drifted_features),
        }
        if not offenders.empty:
            metadata["offending_features"] = table(offenders.round(4))
        description = (f"{self.day}: drift against model version {self.version}'s training "
                       f"data: {'; '.join(problems)}. Retraining on recent days is requested "
                       "by drift_retrain_sensor." if self.drifted else
                       f"{self.day}: no drift (max PSI {s.max_psi:.3f})")
        return PartitionOutcome(self.day, not self.drifted, description, metadata)

    def decay_outcome(self) -> PartitionOutcome:
        return self._decay_outcome(self.decay, "live", "no labels")

    def estimated_outcome(self) -> PartitionOutcome:
        return self._decay_outcome(self.estimated, "estimated", "no calibration")

    def _decay_outcome(self, d: PerformanceDecay | None, what: str, lacking: str
                       ) -> PartitionOutcome:
        if d is None:
            return PartitionOutcome(self.day, True, f"{self.day}: {lacking} or no holdout "
                                    f"metric for version {self.version}; not evaluated",
                                    {"partition": dg.MetadataValue.text(self.day),
                                     "model_version": dg.MetadataValue.text(self.version)})
        return decay_check_outcome(self.day, self.version, d, what)

    def metadata(self) -> dict[str, dg.MetadataValue]:
        """This day's materialization metadata; the numbers plot over days in the Plots tab.
        The stored table has one row per feature; `rows_scored` is the day's size."""
        stored = self.summary.to_frame()
        metadata = {
            "dagster/row_count": dg.MetadataValue.int(len(stored)),
            "dagster/column_schema": column_schema(stored),
            "rows_scored": dg.MetadataValue.int(self.summary.row_count),
            "model_version": dg.MetadataValue.text(self.version),
            "max_psi": dg.MetadataValue.float(round(self.summary.max_psi, DIGITS)),
            "prediction_shift": dg.MetadataValue.float(
                round(self.summary.prediction_shift or 0.0, DIGITS)),
            "prediction_shift_threshold": dg.MetadataValue.float(
                round(self.summary.prediction_shift_threshold, DIGITS)),
            "drifted_features": dg.MetadataValue.json(self.summary.drifted_features),
            "feature_drift": table(feature_drift_table(stored)),
        }
        if self.decay is not None:
            metadata["metric_decay"] = dg.MetadataValue.float(round(self.decay.decay, DIGITS))
        if self.estimated is not None:
            metadata["estimated_metric_decay"] = dg.MetadataValue.float(
                round(self.estimated.decay, DIGITS))
        return metadata


def _add_report_metadata(context: dg.AssetExecutionContext, days: list[DayDrift],
                         config: DriftReportConfig) -> None:
    """Each day's own numbers on its own event, and the drift-over-time plot on the newest
    day of the run (one copy per run, not one per backfilled day)."""
    by_day = {d.day: d.metadata() for d in days}
    history = _drift_history(context.instance, context.asset_key, days, config.plot_days)
    if days and not history.empty:
        by_day[days[-1].day]["drift_over_time"] = figure(drift_over_time(
            history, psi_threshold=config.psi, decay_threshold=config.metric_decay))
    add_partition_metadata(context, by_day)


def _drift_history(instance: dg.DagsterInstance, drift_report: dg.AssetKey,
                   days: list[DayDrift], plot_days: int) -> pd.DataFrame:
    """Scores of recent drift_report partitions (latest materialization each) plus this run's;
    metric_decay is NaN on days without labels."""
    records = instance.fetch_materializations(drift_report,
                                              limit=4 * plot_days).records
    latest: dict[str, dict] = {}
    for record in records:  # newest first
        event = record.asset_materialization
        if (event is None or event.partition is None or event.partition in latest
                or "max_psi" not in event.metadata):
            continue
        latest[event.partition] = {k: event.metadata[k].value if k in event.metadata else None
                                   for k in ("max_psi", "metric_decay")}
    latest.update({d.day: {"max_psi": d.summary.max_psi,
                           "metric_decay": d.decay.decay if d.decay else None} for d in days})
    frame = pd.DataFrame([{"day": day, **values} for day, values in latest.items()])
    return frame.sort_values("day").tail(plot_days).astype(
        {"max_psi": float, "metric_decay": float}) if not frame.empty else frame
