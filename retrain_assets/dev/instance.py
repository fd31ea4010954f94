"""Running the code location in-process against a project-local Dagster instance."""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

REPO_DAGSTER_YAML = Path(__file__).resolve().parents[2] / "dagster.yaml"
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def use_home(home: Path) -> Path:
    """Point RETRAIN_ASSETS_HOME and DAGSTER_HOME at `home`; returns the Dagster home.

    The repository's dagster.yaml is linked in, so the instance is configured exactly as
    `dagster dev` sees it when started by `./tasks dev`.
    """
    home = home.resolve()
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    config = dagster_home / "dagster.yaml"
    if REPO_DAGSTER_YAML.is_file() and not config.exists():
        config.symlink_to(REPO_DAGSTER_YAML)
    os.environ["RETRAIN_ASSETS_HOME"] = str(home)
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    return dagster_home


def run_job(defs: dg.Definitions, job: str, instance: dg.DagsterInstance, *,
            days: list[str] | None = None, tags: dict[str, str] | None = None,
            run_config: dict | None = None) -> dg.ExecuteInProcessResult:
    """Execute a job in-process; `days` becomes one partition or one partition range."""
    tags = dict(tags or {})
    partition_key = None
    if days and len(days) == 1:
        partition_key = days[0]
    elif days:
        tags.update({RANGE_START: min(days), RANGE_END: max(days)})
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=partition_key, tags=tags, run_config=run_config,
        raise_on_error=False)
