"""production_model's health checks: the alias matches the recorded champion, and the champion
is fresh. Evaluated with every training run that moves the champion, in the rollback and
approval runs that move it, and hourly by a schedule."""

import dagster as dg

from retrain_assets.adapters.registry import CHAMPION, ModelRegistry
from retrain_assets.core.champion_health import alias_health, staleness
from retrain_assets.pipeline.dagster_internals import AssetCheckEvaluationTargetMaterializationData
from retrain_assets.pipeline.names import Names
from retrain_assets.pipeline.project import Project

CHAMPION_ALIAS_MATCHES = "champion_alias_matches"
CHAMPION_FRESH = "champion_fresh"


def recorded_champion(instance: dg.DagsterInstance, key: dg.AssetKey) -> str | None:
    """The version production_model's latest materialization says serves."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    version = event.asset_materialization.metadata.get("model_version")
    return None if version is None else str(version.value)


def alias_matches(instance: dg.DagsterInstance, registry: ModelRegistry,
                  names: Names) -> dg.AssetCheckResult:
    alias = registry.version_for(CHAMPION)
    recorded = recorded_champion(instance, names.production_model)
    health = alias_health(recorded, alias, CHAMPION)
    return dg.AssetCheckResult(
        passed=health.passed, description=health.description,
        metadata={"alias_version": dg.MetadataValue.text(alias or "none"),
                  "recorded_version": dg.MetadataValue.text(recorded or "none")})


def champion_freshness(instance: dg.DagsterInstance, registry: ModelRegistry, names: Names,
                       max_age: int) -> dg.AssetCheckResult:
    version = registry.version_for(CHAMPION)
    days = instance.get_materialized_partitions(names.features)
    window = registry.version_window(version) if version else None
    if window is None or not days:
        return dg.AssetCheckResult(passed=True, description=(
            "no champion yet" if version is None else
            f"champion version {version}: no training window or features days to compare"))
    health = staleness(version, window.last_train_day, max(days), max_age)
    return dg.AssetCheckResult(
        passed=health.passed, severity=dg.AssetCheckSeverity.WARN,
        description=health.description,
        metadata={"model_version": dg.MetadataValue.text(version),
                  "last_train_day": dg.MetadataValue.text(window.last_train_day),
                  "newest_data_day": dg.MetadataValue.text(max(days)),
                  "max_age_days": dg.MetadataValue.int(max_age)})


def build_champion_checks(project: Project) -> list[dg.AssetChecksDefinition]:
    names = project.names
    max_age = project.champion_max_age_days

    @dg.asset_check(
        asset=names.production_model, name=CHAMPION_ALIAS_MATCHES,
        required_resource_keys={names.of("mlflow")}, blocking=False,
        description=f"The MLflow alias `{CHAMPION}` points at the version production_model last "
                    "recorded; fails naming both when it was moved outside the platform.")
    def champion_alias_matches(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        return alias_matches(context.instance, names.resource(context, "mlflow").registry(),
                             names)

    @dg.asset_check(
        asset=names.production_model, name=CHAMPION_FRESH,
        required_resource_keys={names.of("mlflow")}, blocking=False,
        description=f"WARN when the champion trained on data more than {max_age} days older "
                    "than the newest features day (champion_max_age_days).")
    def champion_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        return champion_freshness(context.instance, names.resource(context, "mlflow").registry(),
                                  names, max_age)

    return [champion_alias_matches, champion_fresh]


def log_champion_health(context: dg.OpExecutionContext, project: Project,
                        registry: ModelRegistry) -> None:
    """Evaluate both checks in an op that just moved the alias and recorded production_model
    (rollback, approval): op jobs cannot select asset checks, and without this the Checks tab
    would describe the previous champion until the hourly schedule. Each result points at the
    materialization this run recorded, as a check run with the asset's step would."""
    names = project.names
    instance = context.instance
    latest = instance.fetch_materializations(names.production_model, limit=1).records
    target = AssetCheckEvaluationTargetMaterializationData(
        storage_id=latest[0].storage_id, run_id=latest[0].run_id,
        timestamp=latest[0].timestamp) if latest else None
    results = {CHAMPION_ALIAS_MATCHES: alias_matches(instance, registry, names),
               CHAMPION_FRESH: champion_freshness(instance, registry, names,
                                                  project.champion_max_age_days)}
    for check_name, result in results.items():
        context.log_event(dg.AssetCheckEvaluation(
            asset_key=names.production_model, check_name=check_name, passed=result.passed,
            metadata=result.metadata, severity=result.severity, description=result.description,
            blocking=False, target_materialization_data=target))


def build_champion_health_schedule(project: Project) -> tuple[object, dg.ScheduleDefinition]:
    """A job of the two checks alone (an unresolved asset job) and its hourly schedule, so a
    hand-moved alias or an ageing champion shows between training runs."""
    names = project.names
    job = dg.define_asset_job(
        names.of("champion_health_job"),
        selection=dg.AssetSelection.checks_for_assets(names.production_model),
        description="Evaluate production_model's champion_alias_matches and champion_fresh.")
    return job, dg.ScheduleDefinition(
        name=names.of("champion_health_schedule"), job=job, cron_schedule="5 * * * *",
        execution_timezone="UTC", default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Hourly: is the MLflow alias the recorded champion, and is it fresh?")
