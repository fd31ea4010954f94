"""predictions: the champion scores each day's features (batch scoring)."""


import dagster as dg
import pandas as pd

from retrain_assets.adapters.registry import CHAMPION
from retrain_assets.core.frames import TEXT
from retrain_assets.core.ingest import ContractReport, validate_frame
from retrain_assets.core.predictions import predictions_model
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


def unscored_day(day: str) -> ContractReport:
    """A day of a scored range whose features are not stored: reported for that day, with what
    to do, while the range's other days are scored."""
    return ContractReport(
        day=day, files=[], rows_in=0, frame=None,
        problem=f"day {day}: not scored: features[{day}] is not stored (raw_data or features "
                "rejected the day, or it was never ingested; see their contract checks for "
                f"{day}). Fix and land the day again, run ingest_job for {day}, then "
                f"scoring_job for {day}.")


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
        description=f"The champion (MLflow alias `{CHAMPION}`) scores every row of the day; "
                    "the model version used is stored in each row and in the metadata.",
    )
    @retries_only_transient
    def predictions(context: dg.AssetExecutionContext, features: PartitionFrames):
        registry = names.resource(context, "mlflow").registry()
        version = registry.version_for(CHAMPION)
        if version is None:
            raise dg.Failure(f"no champion yet for {registry.model_name!r}: materialize "
                             "candidate_model → evaluation_report → production_model first.",
                             allow_retries=False)
        model = registry.load_model(version, trusted_types(spec))
        frames, results = {}, []
        for day in context.partition_keys:
            if day not in features:
                report = unscored_day(day)
            else:
                try:
                    scored = score_day(model, features[day], spec, version)
                except FeatureMismatchError as exc:  # retrying cannot add the columns
                    raise dg.Failure(f"predictions[{day}]: champion version {version} "
                                     f"cannot score the day: {exc}",
                                     allow_retries=False) from exc
                report = validate_frame(scored, predictions_model(spec.task).to_schema(),
                                         day=day)
            frames[day] = report.frame
            results.append((report, report_metadata(report)))
        add_partition_metadata(context, {day: {
            **stored_day_summary(frame),
            **({"mean_prediction": dg.MetadataValue.float(
                round(float(frame["prediction"].mean()), DIGITS))} if frame is not None else {})}
            for day, frame in frames.items()})
        yield dg.Output(frames, metadata={"model_version": dg.MetadataValue.text(version)})
        yield from contract_results(context, names.predictions, results)

    return [predictions]
