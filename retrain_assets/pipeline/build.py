"""Building the code location's Definitions: assets, checks, jobs, sensors and resources."""

from __future__ import annotations

import os

import dagster as dg

from retrain_assets.pipeline.alerts import OutcomeAlerts, outcome_alert_sensor
from retrain_assets.pipeline.assets.deployment import (
    PromotionPolicy,
    approve_job,
    production_model,
    rollback_job,
)
from retrain_assets.pipeline.assets.ingest import build_ingest_assets, build_ingest_job
from retrain_assets.pipeline.assets.monitoring import build_monitoring_assets
from retrain_assets.pipeline.assets.scoring import build_scoring_assets
from retrain_assets.pipeline.assets.training import build_training_assets
from retrain_assets.pipeline.checks import build_freshness_checks, build_freshness_sensor
from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.resources import (
    LandingZoneResource,
    MlflowResource,
    ParquetIOManager,
    project_home,
)
from retrain_assets.pipeline.schedules import weekly_retrain_schedule
from retrain_assets.pipeline.sensors import FailureAlerts, RetrainPolicy, build_sensors

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
    (a gs://bucket/prefix URL puts it on Google Cloud Storage)."""
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
    return {
        **({"gcs": gcs} if gcs is not None else {}),
        "landing_zone": LandingZoneResource(url=landing_url, gcs=gcs),
        "io_manager": ParquetIOManager(url=storage_url, gcs=gcs),
        "mlflow": MlflowResource(
            tracking_uri=tracking_uri,
            # A tracking server chooses (and serves) its own artifact store; only the embedded
            # store needs a local folder.
            artifact_location=os.environ.get(
                "RETRAIN_ASSETS_MLFLOW_ARTIFACTS",
                None if tracking_uri.startswith(("http://", "https://"))
                else str(home / "mlflow" / "artifacts")),
            model_name=os.environ.get("RETRAIN_ASSETS_MODEL_NAME", project.spec.name),
            ui_url=os.environ.get("RETRAIN_ASSETS_MLFLOW_UI_URL")),
        "retrain_policy": RetrainPolicy.from_env(),
        "alerts": FailureAlerts.from_env(),
        "outcome_alerts": OutcomeAlerts.from_env(),
        "promotion": PromotionPolicy.from_env(),
    }


def build_jobs(project: Project) -> list:
    return [
        build_ingest_job(project),
        dg.define_asset_job("training_job",
                            selection=["candidate_model", "evaluation_report",
                                       "production_model", "promotion_history"],
                            description="Train a candidate, evaluate it against the champion "
                                        "and promote it only if blessed (in `approve` mode: "
                                        "park it for approve_job). A candidate that is not "
                                        "blessed ends the run green, champion unchanged."),
        dg.define_asset_job("scoring_job", selection=["predictions"],
                            partitions_def=project.partitions,
                            description="Score the selected days with the current champion."),
        rollback_job,
        approve_job,
    ]


def build_definitions(project: Project | None = None,
                      resources: dict | None = None) -> dg.Definitions:
    project = project or Project.from_env()
    freshness = build_freshness_checks("raw_data", project.freshness_deadline_cron)
    return dg.Definitions(
        assets=[*build_ingest_assets(project), *build_training_assets(project),
                production_model, *build_scoring_assets(project),
                *build_monitoring_assets(project)],
        asset_checks=freshness,
        jobs=build_jobs(project),
        sensors=[*build_sensors(), outcome_alert_sensor, build_freshness_sensor(freshness)],
        schedules=[weekly_retrain_schedule],
        resources=resources or default_resources(project),
        # Steps run one after another in the run's own process: our graphs are chains, and a
        # process per step (the multiprocess default) re-imports the code location each time,
        # which cost more than the work itself in backfills (see bench/RESULTS.md).
        executor=dg.in_process_executor,
    )
