"""`RetrainingPipeline`: one model's retraining loop from one YAML file.

Each `defs/<model>/defs.yaml` names a dataset spec and holds the model's settings; the component
builds that model's assets (under the key prefix `<model>/`), checks, jobs, sensors, schedule and
resources (under `<model>_...` keys), so models share a code location and never share state.
Adding a model is a spec plus a YAML file, no platform code.

Values that differ per environment come from `{{ env('NAME', 'default') }}` in the YAML;
secrets never appear in it: the Slack token and SMTP password are read through `dg.EnvVar`.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import Field, model_validator

from retrain_assets.core.champion_health import DEFAULT_CHAMPION_MAX_AGE_DAYS
from retrain_assets.core.dataset import DatasetSpec, load_spec
from retrain_assets.core.ingest import RowPolicy
from retrain_assets.core.volume import VolumeThresholds
from retrain_assets.pipeline.alerts import OutcomeAlerts
from retrain_assets.pipeline.assets.deployment import PromotionPolicy
from retrain_assets.pipeline.build import (
    build_definitions,
    default_artifact_location,
    default_tracking_uri,
    pipeline_resources,
)
from retrain_assets.pipeline.project import (
    DAYS_PER_RUN,
    DEFAULT_FRESHNESS_DEADLINE,
    DEFAULT_START_DATE,
    Project,
)
from retrain_assets.pipeline.resources import project_home
from retrain_assets.pipeline.sensors import FailureAlerts, RetrainPolicy

SECRETS = {"slack_token": "SLACK_BOT_TOKEN", "smtp_password": "RETRAIN_ASSETS_SMTP_PASSWORD"}


class RowPolicySettings(dg.Model):
    mode: Literal["reject_day", "drop_bad_rows"] = Field(
        description="reject_day: a day with any bad row is quarantined whole; drop_bad_rows: "
                    "bad rows are dropped (and kept aside) while they stay under the fraction")
    max_bad_row_fraction: float = Field(
        default=RowPolicy.max_bad_row_fraction,
        description="drop_bad_rows only: above this share of bad rows the day is rejected")


class VolumeSettings(dg.Model):
    max_ratio: float = Field(default=VolumeThresholds.max_ratio, description=(
        "row_volume fails above this many times the median of the 7 days before, or below "
        "the median divided by it"))
    max_replay_share: float = Field(default=VolumeThresholds.max_replay_share, description=(
        "no_replayed_rows fails when more of a day's rows than this repeat recent days' rows"))
    blocking: bool = Field(default=VolumeThresholds.blocking, description=(
        "true: those two checks are ERROR and stop the day's downstream assets; false: WARN"))


class RetrainingPipeline(dg.Component, dg.Resolvable, dg.Model):
    """One model's retraining loop: landed days → contract-checked features → a candidate
    trained and judged against the champion on the same rows → the MLflow alias `champion`,
    with batch scoring, drift monitoring and the sensors that close the loop."""

    dataset: str = Field(description=(
        "The dataset spec: a built-in name (taxi, churn), `package.module:SPEC`, or "
        "`file.py:SPEC` for a spec file next to this YAML"))
    name: str | None = Field(default=None, description=(
        "The model's name: its assets' key prefix and the prefix of its jobs, sensors, groups "
        "and resources (default: the name of this YAML's folder)"))
    model_name: str | None = Field(default=None, description=(
        "MLflow registered model (and experiment) name; default: the spec's name"))
    start_date: str = Field(default=DEFAULT_START_DATE,
                            description="The first daily partition (YYYY-MM-DD)")
    end_date: str | None = Field(default=None, description=(
        "The last day with data, for a dataset that ends; unset: a partition for every day up "
        "to yesterday"))
    backfill_max_days_per_run: int | Literal["all"] = Field(default=DAYS_PER_RUN, description=(
        "A longer backfill is split into runs of this many days; `all`: one run per backfill, "
        "as `dagster asset materialize --partition-range` needs"))
    landing_url: str | None = Field(default=None, description=(
        "Where the model's days land: a folder or gs://bucket/prefix (default: "
        "$RETRAIN_ASSETS_HOME/<name>/landing)"))
    labels_url: str | None = Field(default=None, description=(
        "Where the labels of a dataset with a label feed land, one folder per day they refer "
        "to: a folder or gs://bucket/prefix (default: $RETRAIN_ASSETS_HOME/<name>/labels)"))
    storage_url: str | None = Field(default=None, description=(
        "Where its Parquet partitions and day profiles are stored: a folder or "
        "gs://bucket/prefix (default: $RETRAIN_ASSETS_HOME/<name>/storage)"))
    mlflow_tracking_uri: str | None = Field(default=None, description=(
        "MLflow tracking store / registry (default: $MLFLOW_TRACKING_URI, else SQLite under "
        "$RETRAIN_ASSETS_HOME/mlflow)"))
    mlflow_artifact_location: str | None = Field(default=None, description=(
        "Artifact root of a new experiment (default: a folder under $RETRAIN_ASSETS_HOME for "
        "the embedded store; the server's own for an http(s) tracking URI)"))
    mlflow_ui_url: str | None = Field(default=None, description=(
        "Base URL of the MLflow UI, for run links in the Dagster UI"))
    row_policy: RowPolicySettings | None = Field(default=None, description=(
        "What to do with a day in which some rows break the contract; unset: the spec's"))
    volume: VolumeSettings = Field(default_factory=VolumeSettings,
                                   description="raw_data's row_volume and no_replayed_rows checks")
    freshness_deadline_cron: str = Field(default=DEFAULT_FRESHNESS_DEADLINE, description=(
        "When a day is due (cron, UTC): freshness_check warns once it passes without the day"))
    sensor_interval_seconds: int = Field(default=15, description=(
        "How often landing_zone_sensor looks at the landing zone"))
    retrain_sensor_interval_seconds: int | None = Field(default=None, description=(
        "How often drift_retrain_sensor looks (default: min(sensor_interval_seconds, 5))"))
    landing_full_rescan: int = Field(default=120, description=(
        "Every this many looks, every day folder is listed again (late files in old days)"))
    champion_max_age_days: int = Field(default=DEFAULT_CHAMPION_MAX_AGE_DAYS, description=(
        "production_model's champion_fresh check warns when the champion trained on data more "
        "than this many days older than the newest features day"))
    retrain: RetrainPolicy = Field(default_factory=RetrainPolicy, description=(
        "When drift_retrain_sensor asks for a retrain, and the training settings it uses"))
    promotion: PromotionPolicy = Field(default_factory=PromotionPolicy, description=(
        "auto: a blessed candidate becomes champion at once; approve: it waits for "
        "approve_job; shadow: it becomes the challenger, promoted after shadow_days labelled "
        "live wins"))
    outcome_alerts: OutcomeAlerts = Field(default_factory=OutcomeAlerts, description=(
        "Routes for outcomes (drift, not blessed, promotion, ...) to Slack and e-mail"))
    failure_alerts: FailureAlerts = Field(default_factory=FailureAlerts, description=(
        "Where failed runs are reported (the log, and Slack when SLACK_BOT_TOKEN is set)"))

    @model_validator(mode="after")
    def _no_secret_in_yaml(self) -> RetrainingPipeline:
        for settings in (self.outcome_alerts, self.failure_alerts):
            for field, variable in SECRETS.items():
                if getattr(settings, field, None) is not None:
                    raise ValueError(
                        f"{field} must not be written in the YAML (it would show in the UI): "
                        f"export {variable} instead; it is read through dg.EnvVar")
        return self

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return build_definitions(*self.project_and_resources(context.path))

    def project_and_resources(self, folder: Path) -> tuple[Project, dict]:
        """The pipeline this YAML describes, for a YAML file in `folder`."""
        name = self.name or folder.name
        spec = self.spec(folder)
        project = Project(
            spec=spec, name=name, start_date=self.start_date, end_date=self.end_date,
            max_days_per_run=None if self.backfill_max_days_per_run == "all"
            else self.backfill_max_days_per_run,
            volume=VolumeThresholds(**self.volume.model_dump()),
            freshness_deadline_cron=self.freshness_deadline_cron,
            sensor_interval_seconds=self.sensor_interval_seconds,
            retrain_sensor_interval_seconds=self.retrain_sensor_interval_seconds,
            landing_full_rescan=self.landing_full_rescan,
            champion_max_age_days=self.champion_max_age_days)
        home = project_home() / name
        tracking_uri = self.mlflow_tracking_uri or default_tracking_uri()
        model_name = self.model_name or spec.name
        return project, pipeline_resources(
            project, landing_url=self.landing_url or str(home / "landing"),
            labels_url=self.labels_url or str(home / "labels"),
            storage_url=self.storage_url or str(home / "storage"), tracking_uri=tracking_uri,
            artifact_location=self.mlflow_artifact_location
            or default_artifact_location(tracking_uri),
            model_name=model_name, experiment=model_name, mlflow_ui_url=self.mlflow_ui_url,
            retrain_policy=self.retrain, promotion=self.promotion,
            outcome_alerts=_with_secrets(self.outcome_alerts),
            failure_alerts=_with_secrets(self.failure_alerts))

    def spec(self, folder: Path) -> DatasetSpec:
        spec = load_spec(self.dataset, base=folder)
        if self.row_policy is not None:
            spec = dataclasses.replace(spec, row_policy=RowPolicy(**self.row_policy.model_dump()))
        return spec


def _with_secrets(settings: dg.ConfigurableResource) -> dg.ConfigurableResource:
    """The settings plus each secret they have a field for that is set in the environment, as
    an EnvVar: its value never enters config, so never the UI."""
    secrets = {field: dg.EnvVar(variable) for field, variable in SECRETS.items()
               if field in type(settings).model_fields and os.environ.get(variable)}
    return type(settings)(**{**settings.model_dump(), **secrets}) if secrets else settings
