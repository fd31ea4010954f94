"""The code location: `dagster dev` loads `defs` from here (see workspace.yaml)."""

from __future__ import annotations

import os

import dagster as dg

from retrain_assets.assets.deployment import production_model, rollback_job
from retrain_assets.assets.ingest import build_ingest_assets
from retrain_assets.assets.scoring import build_scoring_assets
from retrain_assets.assets.training import build_training_assets
from retrain_assets.project import Project
from retrain_assets.resources import (
    LandingZoneResource,
    MlflowResource,
    ParquetIOManager,
    project_home,
)


def default_resources(project: Project) -> dict:
    """Embedded defaults under RETRAIN_ASSETS_HOME; each location can be overridden by env."""
    home = project_home()
    gcs_project = os.environ.get("RETRAIN_ASSETS_GCP_PROJECT")
    return {
        "landing_zone": LandingZoneResource(
            url=os.environ.get("RETRAIN_ASSETS_LANDING_URL", str(home / "landing")),
            gcs_project=gcs_project),
        "io_manager": ParquetIOManager(
            url=os.environ.get("RETRAIN_ASSETS_STORAGE_URL", str(home / "storage")),
            gcs_project=gcs_project),
        "mlflow": MlflowResource(
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI",
                                        f"sqlite:///{home / 'mlflow' / 'mlflow.db'}"),
            artifact_location=os.environ.get("RETRAIN_ASSETS_MLFLOW_ARTIFACTS",
                                             str(home / "mlflow" / "artifacts")),
            model_name=os.environ.get("RETRAIN_ASSETS_MODEL_NAME", project.spec.name),
            ui_url=os.environ.get("RETRAIN_ASSETS_MLFLOW_UI_URL")),
    }


def build_jobs(project: Project) -> list:
    return [
        dg.define_asset_job("ingest_job", selection=["raw_data", "features"],
                            partitions_def=project.partitions,
                            description="Land → validate → features for the selected days."),
        dg.define_asset_job("training_job",
                            selection=["candidate_model", "evaluation_report",
                                       "production_model"],
                            description="Train a candidate, evaluate it against the champion "
                                        "and promote it only if blessed."),
        dg.define_asset_job("scoring_job", selection=["predictions"],
                            partitions_def=project.partitions,
                            description="Score the selected days with the current champion."),
        rollback_job,
    ]


def build_definitions(project: Project | None = None,
                      resources: dict | None = None) -> dg.Definitions:
    project = project or Project.from_env()
    return dg.Definitions(
        assets=[*build_ingest_assets(project), *build_training_assets(project),
                production_model, *build_scoring_assets(project)],
        jobs=build_jobs(project),
        resources=resources or default_resources(project),
        # Steps run one after another in the run's own process: our graphs are chains, and a
        # process per step (the multiprocess default) re-imports the code location each time,
        # which cost more than the work itself in backfills (see bench/RESULTS.md).
        executor=dg.in_process_executor,
    )


defs = build_definitions()
