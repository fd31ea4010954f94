"""production_model's health checks: the alias matches the recorded champion, and the champion
is fresh. Evaluated with every training run that moves the champion and hourly by a schedule."""

import dagster as dg

from retrain_assets.adapters.registry import CHAMPION
from retrain_assets.core.champion_health import alias_health, staleness
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


def build_champion_checks(project: Project) -> list[dg.AssetChecksDefinition]:
    names = project.names
    max_age = project.champion_max_age_days

    @dg.asset_check(
        asset=names.production_model, name=CHAMPION_ALIAS_MATCHES,
        required_resource_keys={names.of("mlflow")}, blocking=False,
        description=f"The MLflow alias `{CHAMPION}` points at the version production_model last "
                    "recorded; fails naming both when it was moved outside the platform.")
    def champion_alias_matches(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        alias = names.resource(context, "mlflow").registry().version_for(CHAMPION)
        recorded = recorded_champion(context.instance, names.production_model)
        health = alias_health(recorded, alias, CHAMPION)
        return dg.AssetCheckResult(
            passed=health.passed, description=health.description,
            metadata={"alias_version": dg.MetadataValue.text(alias or "none"),
                      "recorded_version": dg.MetadataValue.text(recorded or "none")})

    @dg.asset_check(
        asset=names.production_model, name=CHAMPION_FRESH,
        required_resource_keys={names.of("mlflow")}, blocking=False,
        description=f"WARN when the champion trained on data more than {max_age} days older "
                    "than the newest features day (champion_max_age_days).")
    def champion_fresh(context: dg.AssetCheckExecutionContext) -> dg.AssetCheckResult:
        registry = names.resource(context, "mlflow").registry()
        version = registry.version_for(CHAMPION)
        days = context.instance.get_materialized_partitions(names.features)
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

    return [champion_alias_matches, champion_fresh]


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
