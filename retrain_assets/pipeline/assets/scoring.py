"""predictions: the champion scores each day's features (batch scoring); a shadow challenger
scores the days after its holdout beside it."""

from datetime import UTC, datetime
from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from retrain_assets.adapters.registry import (
    CHALLENGER,
    CHAMPION,
    ModelRegistry,
    champion_moves,
)
from retrain_assets.core.estimation import Calibration, estimate_performance
from retrain_assets.core.frames import TEXT
from retrain_assets.core.ingest import ContractReport, validate_frame
from retrain_assets.core.point_in_time import ChampionMove, ServedBy, champions_by_day
from retrain_assets.core.predictions import predictions_model
from retrain_assets.core.shadow import CHALLENGER_CLASS, CHALLENGER_PREDICTION, CHALLENGER_VERSION
from retrain_assets.core.training import FeatureMismatchError, predict, trusted_types
from retrain_assets.pipeline.checks import contract_results, contract_spec, report_metadata
from retrain_assets.pipeline.metadata import DIGITS, add_partition_metadata, stored_day_summary
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import (
    TRANSIENT_RETRY,
    PartitionFrames,
    retries_only_transient,
)


def score_day(model, features: pd.DataFrame, spec, version: str) -> pd.DataFrame:
    """Predictions in the task's contract (`core.predictions.predictions_model`): one row per
    input row; multiclass stores the predicted class and its probability."""
    scores = predict(model, features, spec)
    if spec.task == "multiclass":
        return pd.DataFrame({
            "row_id": features[spec.id_column].astype(str),
            "prediction": scores.max(axis=1).to_numpy(),
            "predicted_class": scores.idxmax(axis=1).astype(TEXT).to_numpy(),
            "actual": features[spec.target].astype(TEXT).to_numpy(),
            "model_version": version,
        })
    return pd.DataFrame({
        "row_id": features[spec.id_column].astype(str),
        "prediction": scores.to_numpy(),
        "actual": features[spec.target].astype("float64").to_numpy(),
        "model_version": version,
    })


def estimated_metadata(frame: pd.DataFrame, calibration: Calibration | None
                       ) -> dict[str, dg.MetadataValue]:
    """The day's performance estimated from the champion's calibrated probabilities, before
    its labels arrive (`estimated_roc_auc`, `estimated_accuracy`); none without a calibration
    (regression, multiclass, a version evaluated before calibrations were kept)."""
    if calibration is None or frame.empty:
        return {}
    return {f"estimated_{metric}": dg.MetadataValue.float(round(value, DIGITS))
            for metric, value in estimate_performance(frame["prediction"], calibration).items()
            if value == value}  # NaN: a day the estimate cannot rank (one class expected)


def beside_champion(scored: pd.DataFrame, challenger: pd.DataFrame) -> pd.DataFrame:
    """The challenger's scores of the same rows as `challenger_*` columns of the champion's."""
    columns = {CHALLENGER_PREDICTION: challenger["prediction"].to_numpy()}
    if "predicted_class" in challenger:
        columns[CHALLENGER_CLASS] = challenger["predicted_class"].to_numpy()
    return scored.assign(**columns, **{CHALLENGER_VERSION: challenger["model_version"]
                                       .to_numpy()})


def unscored_day(day: str) -> ContractReport:
    """A day of a scored range whose features are not stored: reported for that day, with what
    to do, while the range's other days are scored."""
    return ContractReport(
        day=day, files=[], rows_in=0, frame=None,
        problem=f"day {day}: not scored: features[{day}] is not stored (raw_data or features "
                "rejected the day, or it was never ingested; see their contract checks for "
                f"{day}). Fix and land the day again, run ingest_job for {day}, then "
                f"scoring_job for {day}.")


class ScoringConfig(dg.Config):
    champion: Literal["served_that_day", "today"] = Field(
        default="served_that_day", description=(
            "served_that_day: each day is scored by the champion that served on it "
            "(promotion_history), never by a model trained on or after it; today: every day "
            "by today's champion"))


def champions_of(registry: ModelRegistry, days: list[str], current: str,
                 config: ScoringConfig) -> dict[str, ServedBy]:
    """Which version scores each day. A champion with no recorded move (the alias was moved
    outside the platform) serves from the day after its holdout."""
    if config.champion == "today":
        return {day: ServedBy(day, current) for day in days}
    moves = champion_moves(registry.history())
    if not moves or moves[-1].version != current:
        moves.append(ChampionMove(at=datetime.now(UTC), version=current, on_merits=True))
    windows = {v: w for v in {m.version for m in moves}
               if (w := registry.version_window(v)) is not None}
    return champions_by_day(days, moves, windows)


def challenger_days(registry: ModelRegistry, days: list[str]) -> tuple[str | None, list[str]]:
    """The challenger and which of `days` it scores: those after its holdout, so it is judged
    only on days it never saw."""
    challenger = registry.version_for(CHALLENGER)
    if challenger is None:
        return None, []
    window = registry.version_window(challenger)
    return challenger, [d for d in days if window is None or d > window.last_judged_day]


def build_scoring_assets(project: Project) -> list[dg.AssetsDefinition]:
    spec, names = project.spec, project.names

    @dg.asset(
        key=names.predictions, ins={"features": dg.AssetIn(names.features)},
        partitions_def=project.partitions, backfill_policy=project.backfill_policy,
        group_name=names.of("monitoring"), io_manager_key=names.of("io_manager"),
        required_resource_keys={names.of("mlflow")},
        kinds={"pandas", "sklearn", "parquet"}, dagster_type=project.predictions_type,
        deps=[names.production_model], tags={"stage": "score"}, owners=["team:ml-platform"],
        retry_policy=TRANSIENT_RETRY,
        check_specs=[contract_spec(names.predictions, project.partitions,
                                   "the Predictions Pandera schema")],
        description=f"The champion (MLflow alias `{CHAMPION}`) of each day scores every row of "
                    "it: a past day is scored by the version that served then "
                    "(promotion_history), unless the run config says `champion: today`. The "
                    "version used is stored in each row and in the day's metadata. While a "
                    f"`{CHALLENGER}` shadows it, the challenger scores the same rows of the days "
                    "after its holdout, beside the champion (`challenger_prediction`, "
                    "`challenger_version`).",
    )
    @retries_only_transient
    def predictions(context: dg.AssetExecutionContext, config: ScoringConfig,
                    features: PartitionFrames):
        registry = names.resource(context, "mlflow").registry()
        current = registry.version_for(CHAMPION)
        if current is None:
            raise dg.Failure(f"no champion yet for {registry.model_name!r}: materialize "
                             "candidate_model → evaluation_report → production_model first.",
                             allow_retries=False)
        served = champions_of(registry, list(context.partition_keys), current, config)
        challenger, shadowed = challenger_days(registry, list(context.partition_keys))
        versions = {s.version for s in served.values()} - {None}
        if shadowed:
            versions.add(challenger)
        models = {v: registry.load_model(v, trusted_types(spec)) for v in versions}
        calibrations = ({v: registry.load_calibration(v) for v in versions}
                        if spec.task == "classification" else {})
        frames, results = {}, []
        for day in context.partition_keys:
            version = served[day].version
            if day not in features:
                report = unscored_day(day)
            elif version is None:
                report = ContractReport(day=day, files=[], rows_in=0, frame=None,
                                        problem=served[day].problem)
            else:
                try:
                    scored = score_day(models[version], features[day], spec, version)
                except FeatureMismatchError as exc:  # retrying cannot add the columns
                    raise dg.Failure(f"predictions[{day}]: champion version {version} "
                                     f"cannot score the day: {exc}",
                                     allow_retries=False) from exc
                if day in shadowed:
                    try:
                        scored = beside_champion(scored, score_day(
                            models[challenger], features[day], spec, challenger))
                    except FeatureMismatchError as exc:  # the champion's scores still count
                        context.log.warning(
                            f"predictions[{day}]: challenger version {challenger} cannot score "
                            f"the day, stored without it: {exc}. Its shadow period runs out "
                            "unless a newer candidate replaces it.")
                report = validate_frame(scored, predictions_model(spec.task).to_schema(),
                                         day=day)
            frames[day] = report.frame
            results.append((report, report_metadata(report)))
        add_partition_metadata(context, {day: {
            **stored_day_summary(frame),
            **({"mean_prediction": dg.MetadataValue.float(
                round(float(frame["prediction"].mean()), DIGITS)),
                "model_version": dg.MetadataValue.text(served[day].version),
                **estimated_metadata(frame, calibrations.get(served[day].version))}
               if frame is not None else {}),
            **({"challenger_version": dg.MetadataValue.text(challenger),
                "challenger_mean_prediction": dg.MetadataValue.float(
                    round(float(frame[CHALLENGER_PREDICTION].mean()), DIGITS))}
               if frame is not None and CHALLENGER_VERSION in frame else {})}
            for day, frame in frames.items()})
        used = sorted({s.version for s in served.values()} - {None}, key=int)
        yield dg.Output(frames, metadata={
            "model_versions": dg.MetadataValue.text(", ".join(used) or "none"),
            "challenger": dg.MetadataValue.text(
                f"version {challenger} on {len(shadowed)} days" if shadowed else "none"),
            "champion": dg.MetadataValue.text(config.champion)})
        yield from contract_results(context, names.predictions, results)

    return [predictions]
