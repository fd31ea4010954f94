"""One pipeline's Definitions: its assets, checks, jobs, sensors and schedule, and the resources
they use under the pipeline's names. The `RetrainingPipeline` component builds one per model;
tests and scripts can build one directly."""

from __future__ import annotations

import functools
import os

import dagster as dg

from retrain_assets.pipeline.alerts import OutcomeAlerts, build_outcome_alert_sensor
from retrain_assets.pipeline.assets.deployment import (
    PromotionPolicy,
    build_approve_job,
    build_production_model,
    build_rollback_job,
)
from retrain_assets.pipeline.assets.ingest import build_ingest_assets, build_ingest_job
from retrain_assets.pipeline.assets.labels import build_label_assets
from retrain_assets.pipeline.assets.monitoring import build_monitoring_assets
from retrain_assets.pipeline.assets.scoring import build_scoring_assets
from retrain_assets.pipeline.assets.shadow import (
    build_shadow_decision_job,
    build_shadow_report,
    build_shadow_sensor,
)
from retrain_assets.pipeline.assets.training import build_training_assets
from retrain_assets.pipeline.checks import build_freshness_checks, build_freshness_sensor
from retrain_assets.pipeline.health import build_champion_checks, build_champion_health_schedule
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import (
    LandingZoneResource,
    MlflowResource,
    ParquetIOManager,
    project_home,
)
from retrain_assets.pipeline.schedules import build_weekly_retrain_schedule
from retrain_assets.pipeline.sensors import FailureAlerts, RetrainPolicy, build_sensors

GCP_PROJECT_ENV = "RETRAIN_ASSETS_GCP_PROJECT"


@functools.cache
def gcs_resource() -> dg.ConfigurableResource:
    """The GCS client settings shared by every gs:// location: a dagster-gcp GCSResource. The
    project is read from RETRAIN_ASSETS_GCP_PROJECT at run time (an EnvVar, so its value never
    lands in the code location's snapshot); credentials come from the environment, never from
    config. One object for every pipeline, as Definitions.merge requires of a shared key."""
    from dagster_gcp import GCSResource  # only setups with a gs:// location import it

    if os.environ.get(GCP_PROJECT_ENV):
        return GCSResource(project=dg.EnvVar(GCP_PROJECT_ENV))
    return GCSResource()


def default_tracking_uri() -> str:
    """MLflow's own MLFLOW_TRACKING_URI, else the embedded store under RETRAIN_ASSETS_HOME."""
    return os.environ.get("MLFLOW_TRACKING_URI",
                          f"sqlite:///{project_home() / 'mlflow' / 'mlflow.db'}")


def default_artifact_location(tracking_uri: str) -> str | None:
    """A tracking server chooses (and serves) its own artifact store; only the embedded store
    needs a local folder."""
    if tracking_uri.startswith(("http://", "https://")):
        return None
    return str(project_home() / "mlflow" / "artifacts")


def pipeline_resources(project: Project, *, landing_url: str, storage_url: str,
                       tracking_uri: str, artifact_location: str | None, model_name: str,
                       experiment: str, mlflow_ui_url: str | None, retrain_policy: RetrainPolicy,
                       failure_alerts: FailureAlerts, outcome_alerts: OutcomeAlerts,
                       promotion: PromotionPolicy, labels_url: str | None = None) -> dict:
    """Everything one pipeline's definitions use, keyed by `project.names`. Only a gs://
    location (or a GCP project setting) brings in the GCS client: building it needs Google
    credentials, which a local setup does not have. MLflow runs link back to the Dagster UI
    the alerts link to: one address, set once. `labels_url`: the label zone of a dataset with
    a label feed (unused without one)."""
    labels_url = labels_url if project.spec.labels else None
    uses_gcs = any(url.startswith("gs://") for url in (landing_url, storage_url, labels_url)
                   if url) \
        or bool(os.environ.get(GCP_PROJECT_ENV))
    gcs = gcs_resource() if uses_gcs else None
    names = project.names
    return {
        **({"gcs": gcs} if gcs is not None else {}),
        names.of("landing_zone"): LandingZoneResource(url=landing_url, gcs=gcs),
        **({names.of("labels_zone"): LandingZoneResource(url=labels_url, gcs=gcs)}
           if labels_url else {}),
        names.of("io_manager"): ParquetIOManager(url=storage_url, gcs=gcs),
        names.of("mlflow"): MlflowResource(
            tracking_uri=tracking_uri, artifact_location=artifact_location,
            model_name=model_name, experiment=experiment, ui_url=mlflow_ui_url,
            dagster_ui_url=failure_alerts.dagster_ui_url or outcome_alerts.dagster_ui_url),
        names.of("retrain_policy"): retrain_policy,
        names.of("alerts"): failure_alerts,
        names.of("outcome_alerts"): outcome_alerts,
        names.of("promotion"): promotion,
    }


def default_resources(project: Project) -> dict:
    """A single pipeline's resources from the environment (RETRAIN_ASSETS_HOME and the
    variables the README lists): how tests and scripts build one without a component."""
    home, env = project_home(), os.environ.get
    tracking_uri = default_tracking_uri()
    return pipeline_resources(
        project, landing_url=env("RETRAIN_ASSETS_LANDING_URL", str(home / "landing")),
        labels_url=env("RETRAIN_ASSETS_LABELS_URL", str(home / "labels")),
        storage_url=env("RETRAIN_ASSETS_STORAGE_URL", str(home / "storage")),
        tracking_uri=tracking_uri,
        artifact_location=env("RETRAIN_ASSETS_MLFLOW_ARTIFACTS",
                              default_artifact_location(tracking_uri)),
        model_name=env("RETRAIN_ASSETS_MODEL_NAME", project.spec.name),
        experiment="retrain_assets", mlflow_ui_url=env("RETRAIN_ASSETS_MLFLOW_UI_URL"),
        retrain_policy=RetrainPolicy.from_env(), failure_alerts=FailureAlerts.from_env(),
        outcome_alerts=OutcomeAlerts.from_env(), promotion=PromotionPolicy.from_env())


def build_jobs(project: Project) -> list:
    names = project.names
    return [
        build_ingest_job(project),
        dg.define_asset_job(names.training_job,
                            selection=[names.candidate_model, names.evaluation_report,
                                       names.production_model, names.promotion_history],
                            description="Train a candidate, evaluate it against the champion "
                                        "and promote it only if blessed (in `approve` mode: "
                                        "park it for approve_job). A candidate that is not "
                                        "blessed ends the run green, champion unchanged."),
        dg.define_asset_job(names.scoring_job, selection=[names.predictions],
                            description="Score the selected days with the current champion."),
        build_rollback_job(project),
        build_approve_job(project),
        build_shadow_decision_job(project),
    ]


def build_definitions(project: Project | None = None,
                      resources: dict | None = None) -> dg.Definitions:
    """One pipeline's definitions: its assets, checks, jobs, sensors and schedule, named by
    `project.names`, with `resources` (default: `default_resources`) under those names."""
    project = project or Project.from_env()
    freshness = build_freshness_checks(project.names.raw_data, project.freshness_deadline_cron)
    jobs = build_jobs(project)
    health_job, health_schedule = build_champion_health_schedule(project)
    return dg.Definitions(
        assets=[*build_ingest_assets(project), *build_training_assets(project),
                build_production_model(project), build_shadow_report(project),
                *build_scoring_assets(project),
                *build_monitoring_assets(project), *build_label_assets(project)],
        asset_checks=[*freshness, *build_champion_checks(project)],
        jobs=[*jobs, health_job],
        sensors=[*build_sensors(project, jobs), build_outcome_alert_sensor(project),
                 build_shadow_sensor(project),
                 build_freshness_sensor(freshness,
                                        name=project.names.of("freshness_checks_sensor"))],
        schedules=[build_weekly_retrain_schedule(project), health_schedule],
        resources=resources or default_resources(project),
        # Steps run one after another in the run's own process: our graphs are chains, and a
        # process per step (the multiprocess default) re-imports the code location each time,
        # which cost more than the work itself in backfills (see bench/RESULTS.md).
        executor=dg.in_process_executor,
    )

