"""candidate_model and evaluation_report: train on a trailing window, judge on the latest rows."""

from dataclasses import asdict, fields, replace

import dagster as dg
import pandas as pd

from retrain_assets.adapters.registry import CHAMPION, HoldoutMetrics, ModelRef, RunLink, RunOrigin
from retrain_assets.core.drift import build_reference
from retrain_assets.core.estimation import holdout_calibration
from retrain_assets.core.evaluation import (
    EvaluationReport,
    Verdict,
    WindowSettings,
    decide_promotion,
    holdout_rows,
    metric_noise,
    split_window,
    training_rows,
    window_days,
)
from retrain_assets.core.frames import as_timestamps
from retrain_assets.core.gates import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    paired_bootstrap,
    segment_gate,
    with_segment_gate,
)
from retrain_assets.core.labels import labelled_frames
from retrain_assets.core.metrics import compute_metrics
from retrain_assets.core.plots import predicted_vs_actual
from retrain_assets.core.training import (
    FeatureMismatchError,
    Hyperparameters,
    model_inputs,
    model_params,
    predict,
    train_model,
    trusted_types,
)
from retrain_assets.pipeline.checks import CANDIDATE_BLESSED, markdown_literal, superseded_days
from retrain_assets.pipeline.metadata import DIGITS, data_uri, image, png_bytes, table
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import (
    TRANSIENT_RETRY,
    MlflowResource,
    ParquetIOManager,
    PartitionFrames,
    retries_only_transient,
)


class TrainingConfig(dg.Config):
    """Editable in the launchpad; every value is logged as an MLflow param. The defaults are
    `core.evaluation.WindowSettings`'s (window and holdout) and `core.training.Hyperparameters`'
    (the built-in model), so a run with no config trains as the core does."""

    window_days: int = WindowSettings.window_days
    holdout_fraction: float = WindowSettings.holdout_fraction
    min_holdout_rows: int = WindowSettings.min_holdout_rows
    min_train_days: int = WindowSettings.min_train_days
    min_rows_after_change: int = WindowSettings.min_rows_after_change
    change_day: str = ""  # YYYY-MM-DD where the data changed (drift_retrain_sensor sets it)
    learning_rate: float = Hyperparameters.learning_rate
    max_iter: int = Hyperparameters.max_iter
    max_leaf_nodes: int = Hyperparameters.max_leaf_nodes
    min_samples_leaf: int = Hyperparameters.min_samples_leaf
    l2_regularization: float = Hyperparameters.l2_regularization
    random_state: int = Hyperparameters.random_state

    def hyperparameters(self) -> Hyperparameters:
        return Hyperparameters(**{f.name: getattr(self, f.name) for f in fields(Hyperparameters)})

    def window_settings(self) -> WindowSettings:
        return WindowSettings(**{f.name: getattr(self, f.name) for f in fields(WindowSettings)})


class EvaluationConfig(dg.Config):
    min_relative_improvement: float = 0.01
    absolute_thresholds: dict[str, float] = {}  # merged over the dataset spec's thresholds
    # a champion below a floor on the holdout is replaced by a candidate that beats it
    replace_failing_champion: bool = True
    # a champion that cannot score today's features (the spec changed) is not compared with;
    # the candidate is judged on the absolute thresholds alone
    replace_incompatible_champion: bool = False
    # the lower bound of a paired bootstrap interval of the improvement must be above zero
    # (interval_clears_margin: above min_relative_improvement)
    confidence: float = DEFAULT_CONFIDENCE
    interval_clears_margin: bool = False
    bootstrap_resamples: int = DEFAULT_RESAMPLES
    # segment gates: holdout columns (e.g. pickup_zone) whose values are segments; a segment of
    # at least segment_min_rows rows may not be worse than the champion by more than the share
    segment_columns: list[str] = []
    segment_min_rows: int = 200
    segment_max_regression: float = 0.05


def concat_days(frames: PartitionFrames, days) -> pd.DataFrame:
    missing = [d for d in days if d not in frames]
    if missing:
        raise dg.Failure(f"features partitions {missing} are not stored; materialize them first",
                         allow_retries=False)
    return pd.concat([frames[d] for d in days], ignore_index=True)


def trainable_frames(features: PartitionFrames, labels: PartitionFrames | None,
                     window: int, spec) -> tuple[dict[str, pd.DataFrame], int]:
    """The newest `window` calendar days of features a model may learn from, and how many
    unlabelled rows of those days were left out. With a label feed: only days whose labels
    are stored, and in them only rows with a label (the rest would teach it nothing, or worse,
    a missing target read as a class)."""
    if labels is None:
        return {d: features[d] for d in window_days(list(features), window)}, 0
    days = window_days([d for d in features if d in labels], window)
    frames, unlabelled = labelled_frames(features, labels, days, spec)
    if not any(len(frame) for frame in frames.values()):
        raise ValueError(
            f"no labelled rows to train on: of {len(list(features))} stored features day(s), "
            f"{len(days)} have stored labels, holding no label for any of their ids. Land the "
            "days' label files in the label zone (materialize labels for them), then train.")
    return frames, unlabelled


def build_training_assets(project: Project) -> list[dg.AssetsDefinition]:
    spec, names = project.spec, project.names
    all_days = dg.AssetIn(names.features, partition_mapping=dg.AllPartitionMapping())
    # a label-fed model also reads every day's labels; the function takes them as **labels
    labelled = {"labels": dg.AssetIn(names.labels, partition_mapping=dg.AllPartitionMapping())
                } if spec.labels else {}

    @dg.asset(
        key=names.candidate_model, ins={"features": all_days, **labelled},
        group_name=names.of("training"), kinds={"sklearn", "mlflow"},
        io_manager_key=names.of("io_manager"),
        required_resource_keys={names.of("mlflow"), names.of("io_manager")},
        tags={"stage": "train"}, owners=["team:ml-platform"], pool="training",
        retry_policy=TRANSIENT_RETRY,
        description="Trains a scikit-learn Pipeline (preprocessing inside) on the trailing "
                    "window of `features` days before the holdout, logs it to MLflow with "
                    "signature, input example and lineage tags, and registers a new version.",
    )
    @retries_only_transient
    def candidate_model(context: dg.AssetExecutionContext, config: TrainingConfig,
                        features: PartitionFrames, **labels: PartitionFrames
                        ) -> dg.Output[dict]:
        mlflow: MlflowResource = names.resource(context, "mlflow")
        io_manager: ParquetIOManager = names.resource(context, "io_manager")
        settings = config.window_settings()
        try:
            frames, unlabelled = trainable_frames(features, labels.get("labels"),
                                                  settings.window_days, spec)
            window = split_window({d: len(f) for d, f in frames.items()}, settings,
                                  change_day=config.change_day or None)
        except ValueError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from exc
        if unlabelled:
            context.log.info(f"left out {unlabelled} row(s) of the window whose labels have not "
                             "arrived (or were given more than once)")
        train = training_rows(frames, window, spec.time_column)
        superseded = superseded_days(io_manager.day_profiles(names.raw_data.to_user_string()),
                                     window.train_days)
        if superseded:
            context.log.warning(f"trained on {len(superseded)} day(s) whose newest landing was "
                                f"rejected, from their earlier copies: {superseded}")
        hyperparameters = config.hyperparameters()
        model = train_model(train, spec, hyperparameters)
        reference = build_reference(train, list(spec.model_numeric_features),
                                    list(spec.categorical_features),
                                    # a mean label (prediction drift) needs numeric labels
                                    label=None if spec.task == "multiclass" else train[spec.target],
                                    days=train[spec.time_column].dt.floor("D"))
        tags = {"dataset": spec.name,
                "trigger": context.run.tags.get("retrain/trigger", "manual"),
                **{k: v for k, v in context.run.tags.items() if k.startswith("retrain/")}}
        origin = RunOrigin(job=context.run.job_name, asset=names.candidate_model.to_user_string(),
                           run_id=context.run.run_id,
                           run_url=mlflow.dagster_run_url(context.run.run_id))
        registry = mlflow.registry()
        ref = registry.log_candidate(
            model, inputs=model_inputs(train, spec), origin=origin,
            params={**model_params(spec, hyperparameters), **asdict(settings),
                    "task": spec.task, "holdout_rows": window.holdout_rows,
                    "change_day": window.change_day or "none",
                    "trains_from_change": window.trains_from_change,
                    "unlabelled_rows_left_out": unlabelled},
            metrics={"train_rows": len(train), "train_days": len(window.train_days)},
            tags=tags, train_days=window.train_days, holdout_days=window.holdout_days,
            reference=reference.to_dict(), trusted_types=trusted_types(spec),
            trained_from_change=window.trained_from)
        return dg.Output(ref.to_dict(), metadata={
            "model_version": dg.MetadataValue.text(ref.version),
            **mlflow_run_metadata(registry.run_link(ref.run_id)),
            "train_days": dg.MetadataValue.text(window.train_range),
            "holdout_days": dg.MetadataValue.text(window.holdout_range),
            "train_rows": dg.MetadataValue.int(len(train)),
            "holdout_rows": dg.MetadataValue.int(window.holdout_rows),
            "change_day": dg.MetadataValue.text(window.change_day or "none"),
            "trains_from_change": dg.MetadataValue.bool(window.trains_from_change),
            "hyperparameters": dg.MetadataValue.json(model_params(spec, hyperparameters)),
            "superseded_days": dg.MetadataValue.json(superseded),
            "unlabelled_rows_left_out": dg.MetadataValue.int(unlabelled),
        })

    @dg.asset(
        key=names.evaluation_report,
        ins={"features": all_days, "candidate_model": dg.AssetIn(names.candidate_model),
             **labelled},
        group_name=names.of("training"), kinds={"sklearn", "mlflow"},
        io_manager_key=names.of("io_manager"), required_resource_keys={names.of("mlflow")},
        tags={"stage": "evaluate"}, owners=["team:ml-platform"], retry_policy=TRANSIENT_RETRY,
        check_specs=[dg.AssetCheckSpec(
            CANDIDATE_BLESSED, asset=names.evaluation_report,
            description="The candidate meets the absolute thresholds and beats the champion on "
                        "the same holdout by the configured margin. Not blessed is a WARN, not "
                        "an error: production_model keeps the champion and the run succeeds.")],
        description="Scores the candidate and the current champion on the same holdout rows "
                    "(the latest rows, which the candidate never trained on) and gives a "
                    "blessed / not blessed verdict with its reasons, as TFX's Evaluator does.",
    )
    @retries_only_transient
    def evaluation_report(context: dg.AssetExecutionContext, config: EvaluationConfig,
                          candidate_model: dict, features: PartitionFrames,
                          **labels: PartitionFrames):
        registry = names.resource(context, "mlflow").registry()
        candidate = ModelRef.from_dict(candidate_model)
        frames = {d: concat_days(features, [d]) for d in candidate.holdout_days}
        if "labels" in labels:  # judged on the rows it held out: the labelled ones
            frames = labelled_frames(frames, labels["labels"], candidate.holdout_days, spec)[0]
        holdout = holdout_rows(frames, candidate.holdout_days,
                               candidate.params.get("holdout_rows", sum(map(len, frames.values()))),
                               spec.time_column)
        champion_version = registry.version_for(CHAMPION)
        trusted = trusted_types(spec)
        scores = {"candidate": predict(registry.load_model(candidate.version, trusted), holdout,
                                       spec)}
        notes = []
        if champion_version is not None:
            try:
                scores["champion"] = predict(registry.load_model(champion_version, trusted),
                                             holdout, spec)
            except FeatureMismatchError as exc:
                if not config.replace_incompatible_champion:
                    raise dg.Failure(f"champion version {champion_version} cannot be compared "
                                     f"with the candidate: {exc}", allow_retries=False) from exc
                notes.append(f"note champion version {champion_version} cannot score today's "
                             "features (replace_incompatible_champion): judged on the "
                             "absolute thresholds alone")
        actual = holdout[spec.target]
        metrics = {who: compute_metrics(spec.task, actual, s) for who, s in scores.items()}
        compared = "champion" in scores
        verdict = decide_promotion(
            metrics["candidate"], metrics.get("champion"), primary_metric=spec.primary_metric,
            absolute_thresholds={**spec.thresholds, **config.absolute_thresholds},
            min_relative_improvement=config.min_relative_improvement,
            replace_failing_champion=config.replace_failing_champion,
            interval_clears_margin=config.interval_clears_margin,
            interval=paired_bootstrap(
                spec.task, spec.primary_metric, actual, scores["candidate"], scores["champion"],
                confidence=config.confidence, resamples=config.bootstrap_resamples)
            if compared else None)
        segments = None
        if compared and config.segment_columns:
            try:
                segments = segment_gate(
                    spec.task, spec.primary_metric, holdout, config.segment_columns, actual,
                    scores["candidate"], scores["champion"], min_rows=config.segment_min_rows,
                    max_regression=config.segment_max_regression)
            except ValueError as exc:
                raise dg.Failure(f"evaluation_report config segment_columns: {exc}",
                                 allow_retries=False) from exc
            verdict = with_segment_gate(verdict, segments)
        verdict = replace(verdict, reasons=(*notes, *verdict.reasons))
        noise = metric_noise(spec.task, spec.primary_metric, actual, scores["candidate"])
        calibration = holdout_calibration(spec.task, scores["candidate"], actual)
        per_day = _per_day_metrics(holdout, scores, spec)
        metric_table = pd.DataFrame(metrics).rename_axis("metric").reset_index()
        png = png_bytes(predicted_vs_actual(actual, scores, spec.task))
        registry.log_evaluation(
            candidate, HoldoutMetrics(metrics["candidate"], rows=len(holdout),
                                      noise={spec.primary_metric: noise} if noise else {}),
            verdict, plots={"predicted_vs_actual": png},
            tables={"metrics": metric_table, "per_day": per_day,
                    **({"segments": segments.table} if segments is not None else {})},
            calibration=calibration and calibration.to_dict())
        report = EvaluationReport(
            candidate_version=candidate.version, candidate_run_id=candidate.run_id,
            champion_version=champion_version, holdout_days=candidate.holdout_days,
            holdout_rows=len(holdout), metrics=metrics, verdict=verdict)
        plot = data_uri(png)
        yield dg.Output(report, metadata={
            "verdict": dg.MetadataValue.text(verdict_label(verdict)),
            **verdict_numbers(metrics, spec.primary_metric, verdict),
            "holdout_rows": dg.MetadataValue.int(len(holdout)),
            "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in verdict.reasons)),
            "candidate_version": dg.MetadataValue.text(candidate.version),
            "champion_version": dg.MetadataValue.text(champion_version or "none"),
            "metrics": table(metric_table),
            "per_day": table(per_day),
            **interval_numbers(verdict),
            **({"segments": table(segments.table)} if segments is not None else {}),
            "predicted_vs_actual": image(plot, "predicted vs actual"),
            **mlflow_run_metadata(registry.run_link(candidate.run_id)),
        })
        yield dg.AssetCheckResult(
            check_name=CANDIDATE_BLESSED, passed=verdict.blessed,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in
                                                              verdict.reasons)),
                      "improvement": dg.MetadataValue.float(verdict.improvement or 0.0)},
            description=verdict_markdown(verdict, candidate.version, plot))

    return [candidate_model, evaluation_report]


def mlflow_run_metadata(link: RunLink) -> dict[str, dg.MetadataValue]:
    """The MLflow run's page, and its ids as plain text: metadata is fixed when recorded, and
    the page's address follows `mlflow_ui_url` as it was then; the ids find the run after
    the UI moved."""
    return {"mlflow_run": dg.MetadataValue.url(link.url),
            "mlflow_run_id": dg.MetadataValue.text(link.run_id),
            "mlflow_experiment_id": dg.MetadataValue.text(link.experiment_id)}


def verdict_label(verdict: Verdict) -> str:
    if not verdict.blessed:
        return "NOT blessed"
    return "blessed (below_floor)" if verdict.below_floor else "blessed"


def verdict_numbers(metrics: dict[str, dict[str, float]], primary: str,
                    verdict: Verdict) -> dict[str, dg.MetadataValue]:
    """The primary metric of both models and the improvement as numbers, so the asset's Plots
    tab draws candidate vs champion over successive evaluations."""
    numbers = {f"{who}_{primary}": dg.MetadataValue.float(round(values[primary], DIGITS))
               for who, values in metrics.items()}
    if verdict.improvement is not None:
        numbers["improvement"] = dg.MetadataValue.float(round(verdict.improvement, DIGITS))
    return numbers


def interval_numbers(verdict: Verdict) -> dict[str, dg.MetadataValue]:
    """The improvement's confidence interval as numbers, so the Plots tab draws it too."""
    if verdict.interval is None:
        return {}
    return {"improvement_low": dg.MetadataValue.float(round(verdict.interval.low, DIGITS)),
            "improvement_high": dg.MetadataValue.float(round(verdict.interval.high, DIGITS)),
            "confidence": dg.MetadataValue.float(verdict.interval.confidence)}


def verdict_markdown(verdict: Verdict, candidate_version: str, plot_uri: str) -> str:
    """The check result's description: the verdict, its reasons and the holdout plot.

    A description is rendered as Markdown in place on the check's page; a metadata Markdown
    value longer than 1,000 characters (any image) only opens from "[Show Markdown]".
    """
    reasons = "\n".join(f"- {markdown_literal(r)}" for r in verdict.reasons)
    return (f"**Candidate version {candidate_version}: {verdict_label(verdict)}**\n\n"
            f"{reasons}\n\n![predicted vs actual on the holdout]({plot_uri})")


def _per_day_metrics(holdout: pd.DataFrame, scores: dict[str, pd.Series], spec) -> pd.DataFrame:
    days = as_timestamps(holdout[spec.time_column]).dt.strftime("%Y-%m-%d")
    rows = []
    for day, index in holdout.groupby(days).groups.items():
        row = {"day": day, "rows": len(index)}
        for who, predicted in scores.items():
            day_metrics = compute_metrics(spec.task, holdout.loc[index, spec.target],
                                          predicted.loc[index])
            row[f"{who}_{spec.primary_metric}"] = round(day_metrics[spec.primary_metric], 4)
        rows.append(row)
    return pd.DataFrame(rows)
