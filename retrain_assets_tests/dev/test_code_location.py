"""One code location name everywhere: run history, sensor cursors and ticks, and re-execution
are keyed by it, so `./tasks dev` opening the demo's instance must find the same location."""

from __future__ import annotations

import tomllib
from pathlib import Path

from dagster._core.workspace.load_target import WorkspaceFileTarget

from retrain_assets.dev.demo import CODE_LOCATION, Daemon

REPO = Path(__file__).resolve().parents[2]


def location_names(workspace: Path) -> list[str]:
    """The names Dagster itself gives the workspace's locations (nothing is loaded)."""
    return [origin.location_name for origin in WorkspaceFileTarget([str(workspace)])
            .create_origins()]


def test_dev_the_demo_and_pyproject_name_the_code_location_alike(tmp_path):
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())

    demo_workspace = Daemon(tmp_path, {}).workspace

    assert location_names(REPO / "workspace.yaml") == [CODE_LOCATION]
    assert location_names(demo_workspace) == [CODE_LOCATION]
    assert pyproject["tool"]["dagster"]["code_location_name"] == CODE_LOCATION
    assert pyproject["tool"]["dg"]["project"]["code_location_name"] == CODE_LOCATION
