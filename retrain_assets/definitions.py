"""The code location: `dagster dev` loads `defs` from here (see workspace.yaml)."""

from __future__ import annotations

import os

import dagster as dg

from retrain_assets.alerts import OutcomeAlerts, build_outcome_alert_sensor
from retrain_assets.assets.deployment import (
    PromotionPolicy,
    build_approve_job,
    build_production_model,
    build_rollback_job,
)
from retrain_assets.assets.ingest import build_ingest_assets, build_ingest_job
from retrain_assets.assets.monitoring import build_monitoring_assets
from retrain_assets.assets.scoring import build_scoring_assets
from retrain_assets.assets.training import build_training_assets
from retrain_assets.checks import build_freshness_checks, build_freshness_sensor
from retrain_assets.project import Project
from retrain_assets.resources import (
    LandingZoneResource,
    MlflowResource,
    ParquetIOManager,
    project_home,
)
from retrain_assets.schedules import build_weekly_retrain_schedule
from retrain_assets.sensors import FailureAlerts, RetrainPolicy, build_sensors

GCP_PROJECT_ENV = "RETRAIN_ASSETS_GCP_PROJECT"


def gcs_resource() -> dg.ConfigurableResource:
    """The GCS client settings shared by every gs:// location: a dagster-gcp GCSResource. The
    project is read from RETRAIN_ASSETS_GCP_PROJECT at run time (an EnvVar, so its value never
    lands in the code location's snapshot); credentials come from the environment, never from
    config."""
    from dagster_gcp import GCSResource  # only setups with a gs:// location import it

    if os.environ.get(GCP_PROJECT_ENV):
        return GCSResource(project=dg.EnvVar(GCP_PROJECT_ENV))
    return GCSResource()


def default_resources(project: Project) -> dict:
    """Embedded defaults under RETRAIN_ASSETS_HOME; each location can be overridden by env
    (a gs://bucket/prefix URL puts it on Google Cloud Storage). Keyed by `project.names`."""
    home = project_home()
    landing_url = os.environ.get("RETRAIN_ASSETS_LANDING_URL", str(home / "landing"))
    storage_url = os.environ.get("RETRAIN_ASSETS_STORAGE_URL", str(home / "storage"))
    # Only a gs:// location (or a GCP project setting) brings in the GCS client: building it
    # needs Google credentials, which a local setup does not have.
    uses_gcs = any(url.startswith("gs://") for url in (landing_url, storage_url)) \
        or bool(os.environ.get(GCP_PROJECT_ENV))
    gcs = gcs_resource() if uses_gcs else None
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI",
                                  f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    names = project.names
    return {
        **({"gcs": gcs} if gcs is not None else {}),
        names.of("landing_zone"): LandingZoneResource(url=landing_url, gcs=gcs),
        names.of("io_manager"): ParquetIOManager(url=storage_url, gcs=gcs),
        names.of("mlflow"): MlflowResource(
            tracking_uri=tracking_uri,
            # A tracking server chooses (and serves) its own artifact store; only the embedded
            # store needs a local folder.
            artifact_location=os.environ.get(
                "RETRAIN_ASSETS_MLFLOW_ARTIFACTS",
                None if tracking_uri.startswith(("http://", "https://"))
                else str(home / "mlflow" / "artifacts")),
            model_name=os.environ.get("RETRAIN_ASSETS_MODEL_NAME", project.spec.name),
            ui_url=os.environ.get("RETRAIN_ASSETS_MLFLOW_UI_URL")),
        names.of("retrain_policy"): RetrainPolicy.from_env(),
        names.of("alerts"): FailureAlerts.from_env(),
        names.of("outcome_alerts"): OutcomeAlerts.from_env(),
        names.of("promotion"): PromotionPolicy.from_env(),
    }


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
    ]


def build_definitions(project: Project | None = None,
                      resources: dict | None = None) -> dg.Definitions:
    """One pipeline's definitions: its assets, checks, jobs, sensors and schedule, named by
    `project.names`, with `resources` (default: `default_resources`) under those names."""
    project = project or Project.from_env()
    freshness = build_freshness_checks(project.names.raw_data, project.freshness_deadline_cron)
    jobs = build_jobs(project)
    return dg.Definitions(
        assets=[*build_ingest_assets(project), *build_training_assets(project),
                build_production_model(project), *build_scoring_assets(project),
                *build_monitoring_assets(project)],
        asset_checks=freshness,
        jobs=jobs,
        sensors=[*build_sensors(project, jobs), build_outcome_alert_sensor(project),
                 build_freshness_sensor(freshness,
                                        name=project.names.of("freshness_checks_sensor"))],
        schedules=[build_weekly_retrain_schedule(project)],
        resources=resources or default_resources(project),
        # Steps run one after another in the run's own process: our graphs are chains, and a
        # process per step (the multiprocess default) re-imports the code location each time,
        # which cost more than the work itself in backfills (see bench/RESULTS.md).
        executor=dg.in_process_executor,
    )


defs = build_definitions()
