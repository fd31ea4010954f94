"""Time-based retraining: a weekly training_job, off by default (drift and volume usually
trigger retrains sooner; turn this on in the UI when a fixed cadence is wanted too)."""

from __future__ import annotations

import dagster as dg

from retrain_assets.pipeline.project import Project
from retrain_assets.pipeline.sensors import TRIGGER


def build_weekly_retrain_schedule(project: Project) -> dg.ScheduleDefinition:
    names = project.names
    return dg.ScheduleDefinition(
        name=names.of("weekly_retrain_schedule"), job_name=names.training_job,
        cron_schedule="0 3 * * 1", execution_timezone="UTC",
        default_status=dg.DefaultScheduleStatus.STOPPED, tags={TRIGGER: "schedule"},
        description="Every Monday 03:00 UTC: train a candidate on the latest window, evaluate "
                    "it against the champion, promote only if blessed. Stopped by default.",
    )
